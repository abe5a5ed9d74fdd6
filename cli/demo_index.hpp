// `concurry demo index`: the user guide's three-pool pipeline on real files. Readers load files
// (gunzipping `.gz`), tokenizers count their words, and one writer stores the counts in SQLite;
// each stage hands its result to the next from the completion callback of its future.
#pragma once

#include "command.hpp"

#include <concurry/concurry.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace concurry::cli {

/// What became of reading one file.
enum class read_status : std::uint8_t {
  ok,         ///< `text` holds the content (gunzipped for `.gz` files)
  unreadable, ///< cannot be opened or read, corrupt or truncated gzip data, or too large
  binary,     ///< a NUL byte or mostly control bytes in the first 8 KiB of content
};

/// One file as a reader returns it.
struct file_data {
  std::string path;
  std::string text;        ///< the content; empty unless `status` is ok
  std::uint64_t bytes = 0; ///< bytes read from disk (before gunzipping)
  read_status status = read_status::ok;
  std::string reason; ///< why the file was skipped; empty when `status` is ok
};
CONCURRY_TYPE(file_data, path, text, bytes, status, reason)

/// Words with their number of occurrences. A tokenizer returns them sorted by word;
/// `sqlite_writer::top_words` returns them by count, highest first.
using word_counts = std::vector<std::pair<std::string, std::uint64_t>>;

/// One file after the tokenizer (and after the writer, which empties `counts` once it stored
/// them): what the next stage and the final report need, whether it was counted or skipped.
struct counted_file {
  std::string path;
  std::uint64_t bytes = 0;      ///< bytes read from disk
  std::uint64_t text_bytes = 0; ///< bytes of text counted
  read_status status = read_status::ok;
  std::string reason; ///< why the file was skipped; empty when `status` is ok
  word_counts counts;
};
CONCURRY_TYPE(counted_file, path, bytes, text_bytes, status, reason, counts)

/// The largest file content a reader accepts, on disk and after gunzipping; larger files are
/// skipped as unreadable, so that a few huge files (or a gzip bomb) cannot exhaust memory.
inline constexpr std::uint64_t max_file_bytes = std::uint64_t{64} << 20;

/// A worker that reads files. Expected failures (permissions, I/O errors, corrupt gzip data,
/// binary content) come back as a status with a reason, not as exceptions.
///
/// Does not: follow a symlink (the path itself must be a regular file).
class file_reader : public concurry::worker<file_reader> {
public:
  /// Reads the regular file at `path`, gunzipping it when the name ends in `.gz`.
  file_data read(std::string path);
};
CONCURRY_WORKER(file_reader, (), read)

/// A worker that counts words: maximal runs of ASCII letters, lowercased, 2 to 32 letters long
/// (longer runs are dropped). Every other byte, digits and non-ASCII bytes included, separates
/// words.
class tokenizer : public concurry::worker<tokenizer> {
public:
  /// The words of `data.text` with their counts, sorted by word.
  word_counts count(file_data data);

  /// `data` counted, as the writer takes it; a skipped file passes through without counts.
  counted_file count_file(file_data data);
};
CONCURRY_WORKER(tokenizer, (), count, count_file)

/// A worker that owns one SQLite connection and stores word counts per file, one transaction
/// per file. Run it in a pool of one worker: the connection serves one thread.
///
/// Schema: `files(id, path UNIQUE, bytes, words)` and `counts(file_id, word, count)`.
class sqlite_writer : public concurry::worker<sqlite_writer> {
public:
  /// Opens (or creates) the database at `db_path` and its tables. Throws std::runtime_error,
  /// naming the path, when it cannot be opened, is read-only or is not a database.
  explicit sqlite_writer(std::string db_path);
  ~sqlite_writer() override;

  /// Stores the counts of the file at `path` with its size in `bytes`, replacing whatever an
  /// earlier run stored for that path. Throws std::runtime_error, naming the path, when the
  /// transaction fails; nothing of it is then stored.
  void store(std::string path, std::uint64_t bytes, word_counts counts);

  /// Stores a counted file as `store` does and returns it without its counts; a skipped file
  /// passes through untouched.
  counted_file store_file(counted_file file);

  /// The `n` words with the highest total count over every file in the database, highest
  /// first, ties by word.
  word_counts top_words(std::uint64_t n);

private:
  struct statement_closer {
    void operator()(sqlite3_stmt* s) const noexcept;
  };
  struct database_closer {
    void operator()(sqlite3* db) const noexcept;
  };
  using statement = std::unique_ptr<sqlite3_stmt, statement_closer>;

  statement prepare(const char* sql);

  std::string db_path_;
  std::unique_ptr<sqlite3, database_closer> db_;
  statement begin_;
  statement commit_;
  statement rollback_;
  statement upsert_file_;
  statement delete_counts_;
  statement insert_count_;
  statement top_words_;
};
CONCURRY_WORKER(sqlite_writer, (std::string), store, store_file, top_words)

/// The settings of one run of the job.
struct demo_index_options {
  /// The trees to index. Regular files only; symlinks inside them are skipped.
  std::vector<std::filesystem::path> dirs = {"/usr/share/common-licenses", "/usr/share/doc"};
  std::filesystem::path db_path = "concurry-index.db";
  std::size_t readers = 8;
  std::size_t tokenizers = 0; ///< 0: the number of cores
  /// Where the tokenizers run: in child processes (process mode: CPU-bound work, isolated from
  /// the client) or on threads.
  concurry::mode tokenizer_mode = concurry::mode::process;
  std::size_t top = 20;            ///< how many words the report lists
  std::size_t max_in_flight = 256; ///< files read but not yet stored or skipped, at most
  bool progress = false;           ///< show a progress bar of the files on stderr
};

/// What one run of the job did. Byte counts are bytes read from disk.
struct demo_index_report {
  word_counts top_words; ///< over the whole database, not only this run
  std::uint64_t files_total = 0;
  std::uint64_t files_indexed = 0;
  std::uint64_t bytes_read = 0;         ///< of every file read, skipped ones included
  std::uint64_t bytes_indexed = 0;      ///< of indexed files
  std::uint64_t text_bytes_indexed = 0; ///< the same after gunzipping
  std::uint64_t skipped_unreadable = 0;
  std::uint64_t skipped_binary = 0;
  std::chrono::duration<double> elapsed{};       ///< from the walk until the last file was done
  std::chrono::duration<double> query_elapsed{}; ///< of the top-words query
  pool_stats reader_stats;
  pool_stats tokenizer_stats;
  pool_stats writer_stats;
};

/// The job failed: a directory is missing, the database cannot be opened, or a file's counts
/// could not be stored. The message says which and names the path.
class demo_index_error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// Runs the job: walks `options.dirs`, indexes every regular file, then queries the top words.
/// Returns once every file was stored or skipped and the pools have stopped. Throws
/// `demo_index_error` on failure, after every call made so far has finished.
demo_index_report run_demo_index(const demo_index_options& options);

/// Prints the report for people: top words, totals, throughput, skipped files, pool statistics.
void print_report(std::ostream& os, const demo_index_report& report);

/// The entry point of `concurry demo index [options]`.
int demo_index_command(const command_args& args);

} // namespace concurry::cli
