// Tests of `concurry demo index`: the tokenizer, and whole runs of the three-pool pipeline over a
// small tree of text, gzipped, binary and unreadable files.

#include "demo_index.hpp"

#include <doctest/doctest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace {

namespace cli = concurry::cli;
namespace fs = std::filesystem;

/// A temporary tree of files to index and a database to index it into, removed at the end.
class index_fixture {
public:
  index_fixture() {
    // mkdtemp replaces the trailing six X characters.
    std::string pattern =
        (fs::temp_directory_path() / "concurry-demo-").string() + std::string(6, 'X');
    if (::mkdtemp(pattern.data()) == nullptr)
      throw std::runtime_error{"mkdtemp failed"};
    root_ = pattern;
    fs::create_directory(tree());
    options.dirs = {tree()};
    options.db_path = root_ / "index.db";
    options.readers = 3;
    options.tokenizers = 2;
  }
  index_fixture(const index_fixture&) = delete;
  index_fixture& operator=(const index_fixture&) = delete;
  ~index_fixture() {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  [[nodiscard]] fs::path tree() const { return root_ / "tree"; }
  [[nodiscard]] fs::path root() const { return root_; }

  void write(const std::string& name, const std::string& content) const {
    fs::create_directories((tree() / name).parent_path());
    std::ofstream{tree() / name, std::ios::binary} << content;
  }

  void write_gz(const std::string& name, const std::string& content) const {
    fs::create_directories((tree() / name).parent_path());
    gzFile f = gzopen((tree() / name).c_str(), "wb");
    REQUIRE(f != nullptr);
    REQUIRE(gzwrite(f, content.data(), static_cast<unsigned>(content.size())) ==
            static_cast<int>(content.size()));
    REQUIRE(gzclose(f) == Z_OK);
  }

  void write_unreadable(const std::string& name, const std::string& content) const {
    write(name, content);
    fs::permissions(tree() / name, fs::perms::none);
  }

  cli::demo_index_report index() const { return cli::run_demo_index(options); }

  /// The count of `word` that the database holds for file `name` of the tree; 0 when none.
  [[nodiscard]] std::int64_t count_of(const std::string& name, const std::string& word) const {
    return query_int("SELECT count FROM counts JOIN files ON files.id = counts.file_id "
                     "WHERE files.path = ?1 AND counts.word = ?2",
                     {(tree() / name).string(), word});
  }

  [[nodiscard]] std::int64_t file_rows() const {
    return query_int("SELECT COUNT(*) FROM files", {});
  }

  /// Runs `sql` on the database; it must succeed.
  void execute(const std::string& sql) const {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(options.db_path.c_str(), &db) == SQLITE_OK);
    int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
    sqlite3_close(db);
    REQUIRE(rc == SQLITE_OK);
  }

  cli::demo_index_options options;

private:
  /// The integer in the first column of the first row of `sql` with `params` bound; 0 for none.
  std::int64_t query_int(const char* sql, const std::vector<std::string>& params) const {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open_v2(options.db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) ==
            SQLITE_OK);
    sqlite3_stmt* s = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, sql, -1, &s, nullptr) == SQLITE_OK);
    for (std::size_t i = 0; i < params.size(); ++i)
      sqlite3_bind_text(s, static_cast<int>(i + 1), params[i].c_str(), -1, SQLITE_TRANSIENT);
    std::int64_t result = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_finalize(s);
    sqlite3_close(db);
    return result;
  }

  fs::path root_;
};

/// "f<i>.txt"
std::string numbered_file(int i) {
  std::string name = "f";
  name += std::to_string(i);
  name += ".txt";
  return name;
}

bool is_root() {
  return ::geteuid() == 0;
}

} // namespace

TEST_CASE("the tokenizer counts lowercase ASCII words of 2 to 32 letters") {
  std::string long_word(33, 'q');
  std::string longest_word(32, 'w');
  cli::file_data data;
  data.text = "The cat, the CAT; a x1y don't " + long_word + " " + longest_word + " caf\xc3\xa9";
  auto counts = cli::tokenizer{}.count(data);
  CHECK(counts ==
        cli::word_counts{{"caf", 1}, {"cat", 2}, {"don", 1}, {"the", 2}, {longest_word, 1}});
}

TEST_CASE("an index run stores text and gzipped files and skips binary and unreadable ones") {
  index_fixture f;
  f.write("a.txt", "apple banana apple");
  f.write_gz("sub/b.txt.gz", "Banana cherry");
  f.write("sub/image.bin", std::string("GIF89a\0\0\x01", 9) + "apple");
  f.write("broken.gz", "this is not gzip data");
  f.write_unreadable("locked.txt", "apple");
  fs::create_symlink(f.tree() / "a.txt", f.tree() / "link.txt");

  auto report = f.index();

  // Root reads a file whatever its mode, so the locked file counts as unreadable only for others.
  std::uint64_t locked_readable = is_root() ? 1 : 0;
  CHECK(report.files_total == 5);
  CHECK(report.files_indexed == 2 + locked_readable);
  CHECK(report.skipped_binary == 1);
  CHECK(report.skipped_unreadable == 2 - locked_readable);
  CHECK(f.count_of("a.txt", "apple") == 2);
  CHECK(f.count_of("sub/b.txt.gz", "banana") == 1);
  CHECK(f.count_of("link.txt", "apple") == 0);
}

TEST_CASE("the tokenizers run in child processes by default, or on threads when asked") {
  index_fixture f;
  f.write("a.txt", "apple banana apple");
  auto in_processes = f.index();
  CHECK(in_processes.tokenizer_stats.mode == concurry::mode::process);
  CHECK(f.count_of("a.txt", "apple") == 2);
  f.options.tokenizer_mode = concurry::mode::thread;
  auto on_threads = f.index();
  CHECK(on_threads.tokenizer_stats.mode == concurry::mode::thread);
  CHECK(f.count_of("a.txt", "apple") == 2);
}

TEST_CASE("a rerun replaces a file's counts instead of adding to them") {
  index_fixture f;
  f.write("a.txt", "apple banana apple");
  f.write_gz("b.txt.gz", "cherry cherry");
  f.index();

  f.write("a.txt", "apple");
  auto report = f.index();

  CHECK(f.count_of("a.txt", "apple") == 1);
  CHECK(f.count_of("a.txt", "banana") == 0);
  CHECK(f.count_of("b.txt.gz", "cherry") == 2);
  CHECK(f.file_rows() == 2);
  CHECK(report.top_words == cli::word_counts{{"cherry", 2}, {"apple", 1}});
}

TEST_CASE("a run with more files than the in-flight bound indexes every file") {
  index_fixture f;
  for (int i = 0; i < 50; ++i)
    f.write(numbered_file(i), "word");
  f.options.max_in_flight = 4;

  auto report = f.index();

  CHECK(report.files_indexed == 50);
  CHECK(report.top_words == cli::word_counts{{"word", 50}});
}

TEST_CASE("a missing directory fails the run with an error that names it") {
  index_fixture f;
  auto missing = f.root() / "no-such-dir";
  f.options.dirs = {f.tree(), missing};

  CHECK_THROWS_WITH_AS(f.index(),
                       doctest::Contains(("directory not found: " + missing.string()).c_str()),
                       cli::demo_index_error);
  CHECK_FALSE(fs::exists(f.options.db_path));
}

TEST_CASE("a database in a missing directory fails the run with an error that names it") {
  index_fixture f;
  f.write("a.txt", "apple");
  f.options.db_path = f.root() / "no-such-dir" / "index.db";

  CHECK_THROWS_WITH_AS(
      f.index(),
      doctest::Contains(("cannot open database " + f.options.db_path.string()).c_str()),
      cli::demo_index_error);
}

TEST_CASE("a failed store fails the run after every call in flight finished") {
  index_fixture f;
  for (int i = 0; i < 300; ++i)
    f.write(numbered_file(i), "word");
  f.index();
  f.execute(
      "CREATE TRIGGER refuse BEFORE INSERT ON counts BEGIN SELECT RAISE(ABORT, 'refused'); END");

  CHECK_THROWS_WITH_AS(f.index(), doctest::Contains("refused"), cli::demo_index_error);
  CHECK(f.count_of("f0.txt", "word") == 1); // the failed transaction left the old counts
}

TEST_CASE("the command exits with 2 for a wrong command line and 1 for a failed run") {
  index_fixture f;
  auto db = (f.root() / "index.db").string();

  CHECK(cli::demo_index_command({"--no-such-option"}) == cli::exit_usage);
  CHECK(cli::demo_index_command({"--readers", "0", "--db", db}) == cli::exit_usage);
  CHECK(cli::demo_index_command({"positional"}) == cli::exit_usage);
  CHECK(cli::demo_index_command({"--db", ""}) == cli::exit_usage);
  CHECK(cli::demo_index_command({"--dir", (f.root() / "missing").string(), "--db", db}) ==
        cli::exit_failure);
}
