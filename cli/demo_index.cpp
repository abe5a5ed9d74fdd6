#include "demo_index.hpp"

#include "logger.hpp"

#include <concurry/concurry.hpp>

#include <boost/program_options.hpp>
#include <fcntl.h>
#include <spdlog/fmt/fmt.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <iostream>
#include <limits>
#include <mutex>
#include <optional>
#include <string_view>
#include <system_error>
#include <thread>
#include <unordered_map>

namespace concurry::cli {

namespace {

namespace fs = std::filesystem;
namespace po = boost::program_options;

// ---------------------------------------------------------------------------------------------
// Reading files

/// How much content the binary check looks at.
constexpr std::size_t sniff_bytes = 8192;
/// Content with more control bytes than this share of the sniffed part counts as binary.
constexpr double max_control_share = 0.3;
/// How often one read may be interrupted by a signal before the file counts as unreadable.
constexpr int max_interrupts = 16;

/// Closes a file descriptor at the end of its scope.
class fd_closer {
public:
  explicit fd_closer(int fd) noexcept : fd_{fd} {}
  fd_closer(const fd_closer&) = delete;
  fd_closer& operator=(const fd_closer&) = delete;
  ~fd_closer() { ::close(fd_); }

private:
  int fd_;
};

std::string errno_message(int err) {
  if (err == ELOOP)
    return "is a symbolic link";
  return std::error_code{err, std::generic_category()}.message();
}

std::string too_large_message() {
  return fmt::format("larger than {} MiB", max_file_bytes >> 20);
}

/// Reads the rest of `fd` into `out`. Returns why it failed, or nothing.
std::optional<std::string> read_all(int fd, std::uint64_t size_hint, std::string& out) {
  // One byte more than the expected size, so that the end shows without growing the buffer.
  out.resize(std::min(size_hint, max_file_bytes) + 1);
  std::size_t used = 0;
  // Each round reads bytes (at most max_file_bytes + 1 in all), counts an interruption, or ends.
  for (int interrupted = 0; interrupted < max_interrupts;) {
    if (used == out.size()) {
      if (used > max_file_bytes)
        return too_large_message();
      out.resize(std::min<std::uint64_t>(out.size() * 2, max_file_bytes + 1));
    }
    auto n = ::read(fd, out.data() + used, out.size() - used);
    if (n > 0) {
      used += static_cast<std::size_t>(n);
    } else if (n == 0) {
      out.resize(used);
      return std::nullopt;
    } else if (errno == EINTR) {
      ++interrupted;
    } else {
      return errno_message(errno);
    }
  }
  return "interrupted too often";
}

/// True when `n` bytes at `p` are all NUL: padding after the last gzip member, as gzip allows.
bool is_padding(const Bytef* p, uInt n) {
  return std::all_of(p, p + n, [](Bytef b) { return b == 0; });
}

/// Gunzips `in` (one or more gzip members) into `out`. Returns why it failed, or nothing.
std::optional<std::string> gunzip(std::string_view in, std::string& out) {
  constexpr std::size_t chunk = 64 * 1024;
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 32) != Z_OK) // 15: largest window; +32: gzip or zlib header
    return "cannot start zlib";
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size()); // in.size() <= max_file_bytes < 4 GiB
  out.clear();
  std::optional<std::string> failure;
  // Every round produces output, consumes input or ends, and both are bounded.
  const std::size_t max_rounds = in.size() + max_file_bytes / chunk + 2;
  for (std::size_t round = 0;; ++round) {
    if (round == max_rounds) {
      failure = "gzip data does not end";
      break;
    }
    if (out.size() > max_file_bytes) {
      failure = too_large_message() + " after gunzipping";
      break;
    }
    auto old_size = out.size();
    out.resize(old_size + chunk);
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + old_size);
    zs.avail_out = static_cast<uInt>(chunk);
    int rc = inflate(&zs, Z_NO_FLUSH);
    out.resize(old_size + chunk - zs.avail_out);
    if (rc == Z_STREAM_END && is_padding(zs.next_in, zs.avail_in))
      break;
    if (rc == Z_STREAM_END) {
      inflateReset(&zs); // another gzip member follows
    } else if (rc == Z_BUF_ERROR || (rc == Z_OK && zs.avail_in == 0 && zs.avail_out != 0)) {
      failure = "truncated gzip data";
      break;
    } else if (rc != Z_OK) {
      failure = std::string{"corrupt gzip data: "} + (zs.msg ? zs.msg : "unknown zlib error");
      break;
    }
  }
  inflateEnd(&zs);
  if (failure)
    out.clear();
  return failure;
}

bool is_text_control(unsigned char c) {
  // Whitespace, backspace (overstrike in old manuals) and escape (terminal colours) are text.
  static constexpr std::string_view text_controls = "\t\n\v\f\r\b\x1b";
  if (c == 0x7f)
    return true;
  return c < 0x20 && text_controls.find(static_cast<char>(c)) == std::string_view::npos;
}

/// Why `text` looks binary, or nothing when it looks like text.
std::optional<std::string> binary_reason(std::string_view text) {
  auto head = text.substr(0, sniff_bytes);
  if (head.find('\0') != std::string_view::npos)
    return "NUL byte in the first 8 KiB";
  auto controls = std::count_if(head.begin(), head.end(), [](char c) {
    return is_text_control(static_cast<unsigned char>(c));
  });
  if (static_cast<double>(controls) > max_control_share * static_cast<double>(head.size()))
    return "mostly control bytes in the first 8 KiB";
  return std::nullopt;
}

file_data skipped(file_data data, read_status status, std::string reason) {
  data.status = status;
  data.reason = std::move(reason);
  data.text.clear();
  data.text.shrink_to_fit();
  return data;
}

// ---------------------------------------------------------------------------------------------
// Counting words

constexpr std::size_t min_word_length = 2;
constexpr std::size_t max_word_length = 32;

bool is_ascii_letter(char c) {
  auto lower = static_cast<unsigned char>(c) | 0x20u;
  return lower >= 'a' && lower <= 'z';
}

// ---------------------------------------------------------------------------------------------
// SQLite

constexpr const char* schema_sql = R"sql(
  PRAGMA journal_mode = WAL;
  PRAGMA synchronous = NORMAL;
  CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    bytes INTEGER NOT NULL,
    words INTEGER NOT NULL
  );
  CREATE TABLE IF NOT EXISTS counts (
    file_id INTEGER NOT NULL REFERENCES files (id),
    word TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (file_id, word)
  ) WITHOUT ROWID;
)sql";

constexpr const char* upsert_file_sql =
    "INSERT INTO files (path, bytes, words) VALUES (?1, ?2, ?3) "
    "ON CONFLICT (path) DO UPDATE SET bytes = excluded.bytes, words = excluded.words "
    "RETURNING id";

constexpr const char* top_words_sql = "SELECT word, SUM(count) AS total FROM counts GROUP BY word "
                                      "ORDER BY total DESC, word LIMIT ?1";

/// How long a writer waits for another process that holds the database lock.
constexpr int busy_timeout_ms = 5000;

sqlite3_int64 to_sql(std::uint64_t n) {
  return static_cast<sqlite3_int64>(
      std::min<std::uint64_t>(n, std::numeric_limits<sqlite3_int64>::max()));
}

/// Steps `s` once and resets it; throws with SQLite's message unless it gave a row or finished.
/// Returns column 0 of the row it gave, or 0.
sqlite3_int64 step_once(sqlite3* db, sqlite3_stmt* s) {
  int rc = sqlite3_step(s);
  sqlite3_int64 first_column = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    std::string message = sqlite3_errmsg(db);
    sqlite3_reset(s);
    throw std::runtime_error{message};
  }
  sqlite3_reset(s);
  return first_column;
}

void check_bind(sqlite3* db, int rc) {
  if (rc != SQLITE_OK)
    throw std::runtime_error{sqlite3_errmsg(db)};
}

// ---------------------------------------------------------------------------------------------
// The walk

void check_dirs(const std::vector<fs::path>& dirs) {
  for (const auto& dir : dirs) {
    std::error_code ec;
    auto st = fs::status(dir, ec);
    if (st.type() == fs::file_type::not_found)
      throw demo_index_error{fmt::format("directory not found: {}", dir.string())};
    if (ec)
      throw demo_index_error{
          fmt::format("cannot access directory {}: {}", dir.string(), ec.message())};
    if (st.type() != fs::file_type::directory)
      throw demo_index_error{fmt::format("not a directory: {}", dir.string())};
  }
}

/// The regular files under `dirs` as absolute paths, sorted and without duplicates. Symlinks
/// inside the trees are skipped, not followed; unreadable subdirectories are skipped too.
std::vector<std::string> collect_files(const std::vector<fs::path>& dirs) {
  std::vector<std::string> files;
  std::uint64_t symlinks = 0;
  for (const auto& dir : dirs) {
    auto root = fs::absolute(dir).lexically_normal();
    std::error_code ec;
    fs::recursive_directory_iterator it{root, fs::directory_options::skip_permission_denied, ec};
    // Each step visits a new entry of a finite tree: the iterator does not follow symlinks.
    for (; !ec && it != fs::recursive_directory_iterator{}; it.increment(ec)) {
      std::error_code entry_ec; // an entry that vanished meanwhile is just not indexed
      auto type = it->symlink_status(entry_ec).type();
      if (type == fs::file_type::regular)
        files.push_back(it->path().string());
      else if (type == fs::file_type::symlink)
        ++symlinks;
    }
    if (ec)
      throw demo_index_error{fmt::format("cannot walk {}: {}", root.string(), ec.message())};
  }
  std::sort(files.begin(), files.end());
  files.erase(std::unique(files.begin(), files.end()), files.end());
  logger().debug("walked directories files={} symlinks_skipped={}", files.size(), symlinks);
  return files;
}

// ---------------------------------------------------------------------------------------------
// The pipeline

/// The message of the exception in `e`.
std::string error_message(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    return ex.what();
  } catch (...) {
    return "unknown error";
  }
}

/// Counters of a run, as the report sees them.
struct progress_counts {
  std::uint64_t files_total = 0;
  std::uint64_t files_indexed = 0;
  std::uint64_t bytes_read = 0;
  std::uint64_t bytes_indexed = 0;
  std::uint64_t text_bytes_indexed = 0;
  std::uint64_t skipped_unreadable = 0;
  std::uint64_t skipped_binary = 0;
};

/// The bookkeeping of one run. The main thread takes a slot per file before reading it; the
/// completion callbacks (on worker threads) give it back when the file is stored, skipped or
/// failed, and count it on the progress bar. Thread-safe.
class pipeline_tracker {
public:
  pipeline_tracker(std::uint64_t files_total, std::size_t max_in_flight, progress_bar::options bar)
      : max_in_flight_{std::max<std::size_t>(max_in_flight, 1)}, progress_{std::move(bar)} {
    counts_.files_total = files_total;
  }

  /// Waits for a free slot and takes it. False, taking none, once a file failed.
  bool acquire_slot() {
    std::unique_lock lock{mutex_};
    changed_.wait(lock, [&] { return in_flight_ < max_in_flight_ || failures_ > 0; });
    if (failures_ > 0)
      return false;
    ++in_flight_;
    return true;
  }

  /// Waits until every slot taken was given back.
  void wait_idle() {
    std::unique_lock lock{mutex_};
    changed_.wait(lock, [&] { return in_flight_ == 0; });
  }

  void add_read(std::uint64_t bytes) {
    std::lock_guard lock{mutex_};
    counts_.bytes_read += bytes;
  }

  void finish_indexed(std::uint64_t bytes, std::uint64_t text_bytes) {
    std::lock_guard lock{mutex_};
    ++counts_.files_indexed;
    counts_.bytes_indexed += bytes;
    counts_.text_bytes_indexed += text_bytes;
    release_slot();
  }

  void finish_skipped(const std::string& path, read_status status, const std::string& reason) {
    logger().debug("skipped file path={} reason={}", path, reason);
    std::lock_guard lock{mutex_};
    if (status == read_status::binary)
      ++counts_.skipped_binary;
    else
      ++counts_.skipped_unreadable;
    release_slot();
  }

  void finish_failed(std::string message) {
    logger().debug("failed file error={}", message);
    std::lock_guard lock{mutex_};
    if (failures_++ == 0)
      first_failure_ = std::move(message);
    release_slot();
  }

  /// Also called directly when a file's calls could not even be made.
  void finish_failed(const std::string& path, const std::exception_ptr& e) {
    auto what = error_message(e);
    // The writer's own messages already name the file.
    finish_failed(what.find(path) == std::string::npos ? path + ": " + what : what);
  }

  [[nodiscard]] progress_counts counts() const {
    std::lock_guard lock{mutex_};
    return counts_;
  }

  /// The first failure, with how many others followed it; empty when none failed.
  [[nodiscard]] std::string failure() const {
    std::lock_guard lock{mutex_};
    if (failures_ <= 1)
      return first_failure_;
    return fmt::format("{} (and {} more files failed)", first_failure_, failures_ - 1);
  }

  /// The bar that counts finished files; the caller ends it once the run is over.
  progress_bar& progress() noexcept { return progress_; }

private:
  void release_slot() {
    --in_flight_;
    // Counted before the slot is free, so that wait_idle() returns to a bar that counted every
    // file; a redraw under the lock happens at most every tenth of a second.
    progress_.update(1);
    changed_.notify_all();
  }

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  const std::size_t max_in_flight_;
  std::size_t in_flight_ = 0;
  std::uint64_t failures_ = 0;
  std::string first_failure_;
  progress_counts counts_;
  progress_bar progress_;
};

/// What the feeding loop needs. Copies share the tracker and the pools.
struct stages {
  std::shared_ptr<pipeline_tracker> tracker;
  handle<tokenizer> tokenizers;
  handle<sqlite_writer> writer;
};

/// Accounts for one file once the last stage is done with it (on a worker thread): exactly one
/// finish_* of the tracker, whatever happened.
void on_done(const stages& s, const std::string& path, const future<counted_file>& done) {
  try {
    counted_file file = done.result();
    s.tracker->add_read(file.bytes);
    if (file.status == read_status::ok)
      s.tracker->finish_indexed(file.bytes, file.text_bytes);
    else
      s.tracker->finish_skipped(file.path, file.status, file.reason);
  } catch (...) {
    s.tracker->finish_failed(path, std::current_exception());
  }
}

/// Feeds every file into the pipeline, at most `max_in_flight` at a time, and waits until each
/// is done. Stops feeding at the first failure. The three calls of a file go out at once: each
/// stage takes the future of the one before, and runs when its value is there.
void feed_pipeline(const std::vector<std::string>& files,
                   pool<file_reader>& readers,
                   const stages& s) {
  for (const auto& path : files) {
    if (!s.tracker->acquire_slot())
      break;
    try {
      auto read = readers.call(&file_reader::read, path);
      auto counted = s.tokenizers.call(&tokenizer::count_file, read);
      auto stored = s.writer.call(&sqlite_writer::store_file, counted);
      stored.add_done_callback(
          [s, path](const future<counted_file>& done) { on_done(s, path, done); });
    } catch (...) {
      s.tracker->finish_failed(path, std::current_exception());
    }
  }
  s.tracker->wait_idle();
}

// ---------------------------------------------------------------------------------------------
// The command

std::size_t default_tokenizers() {
  return std::max(1u, std::thread::hardware_concurrency());
}

po::options_description demo_index_description() {
  po::options_description desc{"options"};
  auto add = desc.add_options();
  add("dir",
      po::value<std::vector<std::string>>()->composing()->value_name("D"),
      "index the files under D; may be given several times (default: /usr/share/common-licenses "
      "and /usr/share/doc)");
  add("db",
      po::value<std::string>()->default_value("concurry-index.db")->value_name("FILE"),
      "the SQLite database to write; counts of files indexed before are replaced");
  add("readers", po::value<int>()->default_value(8)->value_name("N"), "file reader workers");
  add("tokenizers",
      po::value<int>()->default_value(static_cast<int>(default_tokenizers()))->value_name("N"),
      "tokenizer workers (default: the number of cores)");
  add("tokenizer-mode",
      po::value<std::string>()->default_value("process")->value_name("MODE"),
      "where the tokenizers run: process (child processes) or thread");
  add("top", po::value<int>()->default_value(20)->value_name("N"), "how many top words to print");
  add("progress",
      po::bool_switch(),
      "show a progress bar on stderr even when it is not a terminal (then as sparse lines)");
  add("verbose,v", po::bool_switch(), "log debug messages to stderr");
  add("help,h", "print this help and exit");
  return desc;
}

void print_demo_index_usage(std::ostream& os, const po::options_description& desc) {
  os << "usage: concurry demo index [options]\n\n"
        "Indexes the words of the text files under some directories into a SQLite database\n"
        "through three worker pools (readers, tokenizers, one writer), then prints the words\n"
        "with the highest counts in the whole database.\n\n"
     << desc;
}

int int_option(const po::variables_map& vm, const char* name, int min, int max) {
  int value = vm[name].as<int>();
  if (value < min || value > max)
    throw po::error{fmt::format("--{} must be between {} and {}", name, min, max)};
  return value;
}

/// The options of the command line, or nothing when it asks for help.
std::optional<demo_index_options> parse_demo_index(const command_args& args,
                                                   const po::options_description& desc) {
  po::variables_map vm;
  // No positional options: without this, Boost ignores stray words instead of rejecting them.
  po::positional_options_description no_positionals;
  po::store(po::command_line_parser(args).options(desc).positional(no_positionals).run(), vm);
  po::notify(vm);
  if (vm.count("help"))
    return std::nullopt;
  demo_index_options options;
  if (vm.count("dir")) {
    const auto& dirs = vm["dir"].as<std::vector<std::string>>();
    options.dirs.assign(dirs.begin(), dirs.end());
  }
  options.db_path = vm["db"].as<std::string>();
  // SQLite reads an empty name as "a temporary database": the counts would vanish unseen.
  if (options.db_path.empty())
    throw po::error{"--db needs a file name"};
  options.readers = static_cast<std::size_t>(int_option(vm, "readers", 1, 256));
  options.tokenizers = static_cast<std::size_t>(int_option(vm, "tokenizers", 1, 256));
  options.top = static_cast<std::size_t>(int_option(vm, "top", 0, 100000));
  {
    auto name = vm["tokenizer-mode"].as<std::string>();
    try {
      options.tokenizer_mode = concurry::parse_mode(name);
    } catch (const concurry::config_error&) {
      options.tokenizer_mode = concurry::mode::asyncio; // refused just below
    }
    if (options.tokenizer_mode != concurry::mode::process &&
        options.tokenizer_mode != concurry::mode::thread)
      throw po::error{"--tokenizer-mode must be process or thread, not '" + name + "'"};
  }
  options.progress = vm["progress"].as<bool>() || ::isatty(STDERR_FILENO) == 1;
  if (vm["verbose"].as<bool>())
    logger().set_level(spdlog::level::debug);
  return options;
}

} // namespace

// -----------------------------------------------------------------------------------------------
// Workers

file_data file_reader::read(std::string path) {
  file_data data;
  data.path = std::move(path);

  // Open without following a symlink, and without blocking should the path be a FIFO by now.
  int fd = ::open(data.path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0)
    return skipped(std::move(data), read_status::unreadable, errno_message(errno));
  fd_closer closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0)
    return skipped(std::move(data), read_status::unreadable, errno_message(errno));
  if (!S_ISREG(st.st_mode))
    return skipped(std::move(data), read_status::unreadable, "not a regular file");
  if (static_cast<std::uint64_t>(st.st_size) > max_file_bytes)
    return skipped(std::move(data), read_status::unreadable, too_large_message());

  // Read, and gunzip.
  std::string raw;
  if (auto failure = read_all(fd, static_cast<std::uint64_t>(st.st_size), raw))
    return skipped(std::move(data), read_status::unreadable, *failure);
  data.bytes = raw.size();
  if (data.path.ends_with(".gz")) {
    if (auto failure = gunzip(raw, data.text))
      return skipped(std::move(data), read_status::unreadable, *failure);
  } else {
    data.text = std::move(raw);
  }

  if (auto reason = binary_reason(data.text))
    return skipped(std::move(data), read_status::binary, *reason);
  return data;
}

counted_file tokenizer::count_file(file_data data) {
  counted_file out;
  out.path = data.path;
  out.bytes = data.bytes;
  out.status = data.status;
  out.reason = data.reason;
  if (data.status == read_status::ok) {
    out.text_bytes = data.text.size();
    out.counts = count(std::move(data));
  }
  return out;
}

word_counts tokenizer::count(file_data data) {
  std::string& text = data.text;
  std::unordered_map<std::string_view, std::uint64_t> counts;
  std::size_t i = 0;
  while (i < text.size()) {
    if (!is_ascii_letter(text[i])) {
      ++i;
      continue;
    }
    std::size_t start = i;
    for (; i < text.size() && is_ascii_letter(text[i]); ++i)
      text[i] = static_cast<char>(text[i] | 0x20);
    std::size_t length = i - start;
    if (length >= min_word_length && length <= max_word_length)
      ++counts[std::string_view{text}.substr(start, length)];
  }
  word_counts out;
  out.reserve(counts.size());
  for (const auto& [word, n] : counts)
    out.emplace_back(std::string{word}, n);
  std::sort(out.begin(), out.end());
  return out;
}

void sqlite_writer::statement_closer::operator()(sqlite3_stmt* s) const noexcept {
  sqlite3_finalize(s);
}

void sqlite_writer::database_closer::operator()(sqlite3* db) const noexcept {
  sqlite3_close_v2(db);
}

sqlite_writer::sqlite_writer(std::string db_path) : db_path_{std::move(db_path)} {
  auto fail = [&](const std::string& why) {
    throw std::runtime_error{fmt::format("cannot open database {}: {}", db_path_, why)};
  };

  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(db_path_.c_str(),
                           &db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  db_.reset(db); // closes it on every path, failed opens included
  if (rc != SQLITE_OK)
    fail(db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  if (sqlite3_db_readonly(db, "main") == 1)
    fail("the database is read-only");
  sqlite3_busy_timeout(db, busy_timeout_ms);
  char* message = nullptr;
  if (sqlite3_exec(db, schema_sql, nullptr, nullptr, &message) != SQLITE_OK) {
    std::string why = message ? message : sqlite3_errmsg(db);
    sqlite3_free(message);
    fail(why);
  }

  begin_ = prepare("BEGIN IMMEDIATE");
  commit_ = prepare("COMMIT");
  rollback_ = prepare("ROLLBACK");
  upsert_file_ = prepare(upsert_file_sql);
  delete_counts_ = prepare("DELETE FROM counts WHERE file_id = ?1");
  insert_count_ = prepare("INSERT INTO counts (file_id, word, count) VALUES (?1, ?2, ?3)");
  top_words_ = prepare(top_words_sql);
  logger().debug("opened database path={}", db_path_);
}

sqlite_writer::~sqlite_writer() = default;

sqlite_writer::statement sqlite_writer::prepare(const char* sql) {
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v3(db_.get(), sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK)
    throw std::runtime_error{
        fmt::format("cannot open database {}: {}", db_path_, sqlite3_errmsg(db_.get()))};
  return statement{s};
}

counted_file sqlite_writer::store_file(counted_file file) {
  if (file.status == read_status::ok) {
    store(file.path, file.bytes, std::move(file.counts));
    file.counts.clear();
  }
  return file;
}

void sqlite_writer::store(std::string path, std::uint64_t bytes, word_counts counts) {
  auto* db = db_.get();
  std::uint64_t words = 0;
  for (const auto& entry : counts)
    words += entry.second;
  try {
    step_once(db, begin_.get());
    auto* upsert = upsert_file_.get();
    check_bind(
        db,
        sqlite3_bind_text(upsert, 1, path.data(), static_cast<int>(path.size()), SQLITE_STATIC));
    check_bind(db, sqlite3_bind_int64(upsert, 2, to_sql(bytes)));
    check_bind(db, sqlite3_bind_int64(upsert, 3, to_sql(words)));
    auto file_id = step_once(db, upsert);

    // Replace, not add to, what an earlier run stored for this file.
    check_bind(db, sqlite3_bind_int64(delete_counts_.get(), 1, file_id));
    step_once(db, delete_counts_.get());
    auto* insert = insert_count_.get();
    check_bind(db, sqlite3_bind_int64(insert, 1, file_id));
    for (const auto& [word, n] : counts) {
      check_bind(
          db,
          sqlite3_bind_text(insert, 2, word.data(), static_cast<int>(word.size()), SQLITE_STATIC));
      check_bind(db, sqlite3_bind_int64(insert, 3, to_sql(n)));
      step_once(db, insert);
    }
    step_once(db, commit_.get());
  } catch (const std::exception& e) {
    if (sqlite3_get_autocommit(db) == 0) {
      sqlite3_step(rollback_.get());
      sqlite3_reset(rollback_.get());
    }
    throw std::runtime_error{fmt::format("cannot store {} in {}: {}", path, db_path_, e.what())};
  }
}

word_counts sqlite_writer::top_words(std::uint64_t n) {
  auto* db = db_.get();
  auto* s = top_words_.get();
  check_bind(db, sqlite3_bind_int64(s, 1, to_sql(n)));
  word_counts out;
  int rc = SQLITE_ROW;
  // LIMIT ?1 bounds the rows.
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    const auto* word = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
    out.emplace_back(word ? word : "", static_cast<std::uint64_t>(sqlite3_column_int64(s, 1)));
  }
  std::string message = rc == SQLITE_DONE ? "" : sqlite3_errmsg(db);
  sqlite3_reset(s);
  if (rc != SQLITE_DONE)
    throw std::runtime_error{fmt::format("cannot query {}: {}", db_path_, message)};
  return out;
}

// -----------------------------------------------------------------------------------------------
// The job

demo_index_report run_demo_index(const demo_index_options& options) {
  auto start = std::chrono::steady_clock::now();
  check_dirs(options.dirs);

  // The writer first: a database that cannot be opened fails the run before any work.
  pool<sqlite_writer> writer;
  try {
    writer =
        sqlite_writer::options().mode(mode::thread).max_workers(1).init(options.db_path.string());
  } catch (const std::exception& e) {
    throw demo_index_error{e.what()};
  }
  auto files = collect_files(options.dirs);
  auto tokenizer_count = options.tokenizers == 0 ? default_tokenizers() : options.tokenizers;
  auto tokenizers =
      tokenizer::options().mode(options.tokenizer_mode).max_workers(tokenizer_count).init();
  auto readers = file_reader::options().mode(mode::thread).max_workers(options.readers).init();

  // Every file through the three pools, counted on a bar when asked for.
  progress_bar::options bar;
  bar.description = "indexing";
  bar.total = files.size();
  bar.unit = "files";
  bar.disable = !options.progress;
  stages s{std::make_shared<pipeline_tracker>(files.size(), options.max_in_flight, std::move(bar)),
           tokenizers.ref(),
           writer.ref()};
  feed_pipeline(files, readers, s);
  if (auto failure = s.tracker->failure(); !failure.empty()) {
    s.tracker->progress().failure();
    throw demo_index_error{failure};
  }
  s.tracker->progress().success();

  // The report, then the pools stop (the writer's connection closes).
  demo_index_report report;
  auto indexed = std::chrono::steady_clock::now();
  report.elapsed = indexed - start;
  auto top = writer.call(&sqlite_writer::top_words, std::uint64_t{options.top});
  if (auto e = top.exception())
    throw demo_index_error{error_message(e)};
  report.top_words = top.result();
  report.query_elapsed = std::chrono::steady_clock::now() - indexed;
  auto counts = s.tracker->counts();
  report.files_total = counts.files_total;
  report.files_indexed = counts.files_indexed;
  report.bytes_read = counts.bytes_read;
  report.bytes_indexed = counts.bytes_indexed;
  report.text_bytes_indexed = counts.text_bytes_indexed;
  report.skipped_unreadable = counts.skipped_unreadable;
  report.skipped_binary = counts.skipped_binary;
  report.reader_stats = readers.stats();
  report.tokenizer_stats = tokenizers.stats();
  report.writer_stats = writer.stats();
  readers.stop();
  tokenizers.stop();
  writer.stop();
  return report;
}

void print_report(std::ostream& os, const demo_index_report& r) {
  auto seconds = std::max(r.elapsed.count(), 1e-9);
  auto mb = [](std::uint64_t bytes) { return static_cast<double>(bytes) / 1e6; };
  os << fmt::format("top {} words in the database:\n", r.top_words.size());
  for (const auto& [word, n] : r.top_words)
    os << fmt::format("  {:<32} {:>12}\n", word, n);
  os << fmt::format("files indexed: {} of {}\n", r.files_indexed, r.files_total);
  os << fmt::format("bytes processed: {} read ({:.1f} MB), {} of text indexed ({:.1f} MB)\n",
                    r.bytes_read,
                    mb(r.bytes_read),
                    r.text_bytes_indexed,
                    mb(r.text_bytes_indexed));
  os << fmt::format("elapsed: {:.2f} s indexing, {:.2f} s querying the top words\n",
                    seconds,
                    r.query_elapsed.count());
  os << fmt::format("throughput: {:.1f} MB/s read, {:.0f} files/s\n",
                    mb(r.bytes_read) / seconds,
                    static_cast<double>(r.files_indexed + r.skipped_unreadable + r.skipped_binary) /
                        seconds);
  auto skipped = r.skipped_unreadable + r.skipped_binary;
  os << fmt::format("skipped {} file{}: {} unreadable, {} binary\n",
                    skipped,
                    skipped == 1 ? "" : "s",
                    r.skipped_unreadable,
                    r.skipped_binary);
  os << "pool file_reader: " << r.reader_stats << '\n';
  os << "pool tokenizer: " << r.tokenizer_stats << '\n';
  os << "pool sqlite_writer: " << r.writer_stats << '\n';
}

int demo_index_command(const command_args& args) {
  auto desc = demo_index_description();
  std::optional<demo_index_options> options;
  try {
    options = parse_demo_index(args, desc);
  } catch (const po::error& e) {
    std::cerr << "concurry: error: " << e.what() << "\n\n";
    print_demo_index_usage(std::cerr, desc);
    return exit_usage;
  }
  if (!options) {
    print_demo_index_usage(std::cout, desc);
    return exit_ok;
  }
  try {
    print_report(std::cout, run_demo_index(*options));
    return exit_ok;
  } catch (const std::exception& e) {
    logger().error("{}", e.what());
    return exit_failure;
  }
}

} // namespace concurry::cli
