// Benchmark: 1,000 concurrent calls that each sleep 100 ms, made at once, in one run:
//
//   - concurry's asyncio worker (one worker), whose coroutine method co_awaits
//     concurry::sleep(100 ms): the calls interleave on one event-loop thread;
//   - a concurry thread pool of 24 whose plain method blocks in std::this_thread::sleep_for;
//   - the same thread pool calling the coroutine method: in thread mode each call runs to its end
//     on its worker thread, so this row differs from the asyncio row by the mode alone;
//   - the floor of threads: a std::thread per call, each sleeping 100 ms;
//   - the peer: Python's asyncio.gather of asyncio.sleep(0.1) (bench/python_asyncio.py);
//   - the asyncio worker and Python asyncio again with 10,000 calls, to show how they scale.
//
// Each variant runs in a child process of its own (this binary again, with --variant <name>), so
// that its figures are its own: the wall time from the first call to the last result; the peak
// of the process's threads, sampled every millisecond from /proc/self/status by a thread of the
// child (which counts itself), next to the threads before the pool was made; the peak resident
// memory (VmHWM, read at the end) next to the resident memory before the pool. Prints a table
// and the ratios of the asyncio worker to the others. Exits 0 unless something broke: a wrong
// result, an exception, a child that failed, or a hung child (killed after its time limit; the
// whole run ends with exit 3 past its own) — a slow result is no failure.
//
// Usage: asyncio_bench [--quick] [--no-python]

#include "child_process.hpp"
#include "peer_measure.hpp"

#include <concurry/concurry.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#ifndef CONCURRY_BENCH_PYTHON_SCRIPT
#error "CONCURRY_BENCH_PYTHON_SCRIPT must name bench/python_asyncio.py (bench/CMakeLists.txt)"
#endif

namespace bench {

/// Two ways to sleep through a call; each returns its argument `x` after `ms` milliseconds.
class sleeper : public concurry::worker<sleeper> {
public:
  /// Suspends: in asyncio mode the loop runs the other calls meanwhile.
  concurry::task<int> nap(int x, int ms) {
    co_await concurry::sleep(std::chrono::milliseconds{ms});
    co_return x;
  }
  /// Blocks its thread.
  int block(int x, int ms) {
    std::this_thread::sleep_for(std::chrono::milliseconds{ms});
    return x;
  }
};
CONCURRY_WORKER(sleeper, (), nap, block)

} // namespace bench

namespace {

using namespace std::chrono_literals;
using bench_child::kill_live_children;
using peer_measure::clock_type;
using peer_measure::fixed;
using peer_measure::grouped;

/// How long every call sleeps.
constexpr std::chrono::milliseconds nap_time{100};

/// The workers of the thread pool.
constexpr std::size_t pool_workers = 24;

/// The argument that makes this binary the child that runs one variant.
constexpr std::string_view variant_flag = "--variant";

double megabytes(long kb) {
  return static_cast<double>(kb) / 1024;
}

/// A count with thousands separators: 10000 -> "10,000".
std::string count(std::size_t n) {
  return grouped(static_cast<double>(n));
}

// ---------------------------------------------------------------------------------------------
// Configuration

struct bench_config {
  bool quick = false;
  bool python = true;
  std::size_t calls = 1'000;
  /// The calls of the scaling rows (asyncio and Python asyncio); 0 for none.
  std::size_t large_calls = 10'000;
  /// Past this a child's calls fail; its watchdog and the parent's deadline
  /// (a little later each) kill a child that hangs anyway.
  std::chrono::seconds child_limit{60};
  // Past this the whole run ends (exit 3): a hung child must not hang CI.
  std::chrono::seconds hard_limit{300};
};

bench_config quick_config() {
  bench_config c;
  c.quick = true;
  c.calls = 200;
  c.large_calls = 0;
  c.child_limit = 15s;
  c.hard_limit = 50s;
  return c;
}

// ---------------------------------------------------------------------------------------------
// The child: one variant, measured in a process of its own

/// What /proc/self/status says of this process now; -1 for a field it does not show.
struct process_status {
  long threads = -1;
  long rss_kb = -1;
  long peak_rss_kb = -1;
};

process_status read_status() {
  process_status out;
  std::FILE* file = std::fopen("/proc/self/status", "r");
  if (file == nullptr)
    return out;
  char line[256];
  // Bounded by the file, some 60 lines.
  while (std::fgets(line, sizeof line, file) != nullptr) {
    long value = 0;
    if (std::sscanf(line, "Threads: %ld", &value) == 1)
      out.threads = value;
    else if (std::sscanf(line, "VmRSS: %ld kB", &value) == 1)
      out.rss_kb = value;
    else if (std::sscanf(line, "VmHWM: %ld kB", &value) == 1)
      out.peak_rss_kb = value;
  }
  std::fclose(file);
  return out;
}

/// Samples the process's thread count every millisecond, on a thread of its own (counted), from
/// construction until `stop`, and keeps the peak.
class thread_sampler {
public:
  thread_sampler() : thread_{[this](std::stop_token stop) { sample(stop); }} {}
  thread_sampler(const thread_sampler&) = delete;
  thread_sampler& operator=(const thread_sampler&) = delete;

  /// Ends the sampling; returns the most threads seen.
  long stop() {
    thread_.request_stop();
    if (thread_.joinable())
      thread_.join();
    return peak_;
  }

private:
  void sample(const std::stop_token& stop) {
    // Bounded by stop(), which the child's watchdog backs up.
    while (!stop.stop_requested()) {
      peak_ = std::max(peak_.load(), read_status().threads);
      std::this_thread::sleep_for(1ms);
    }
  }

  std::atomic<long> peak_{0};
  std::jthread thread_; // last: it uses the member above
};

/// Makes `calls` calls at once with `call(x)` (a concurry::future<int> that should give x), then
/// waits for every result until `deadline`; returns the seconds from the first call to the last
/// result. Throws on a wrong result and past the deadline.
template <class Call>
double time_calls(std::size_t calls, clock_type::time_point deadline, Call call) {
  std::vector<concurry::future<int>> futures;
  futures.reserve(calls);
  const auto start = clock_type::now();
  for (std::size_t i = 0; i < calls; ++i)
    futures.push_back(call(static_cast<int>(i)));
  for (std::size_t i = 0; i < calls; ++i) {
    const auto left = std::max(clock_type::duration::zero(), deadline - clock_type::now());
    int value = -1;
    try {
      value = futures[i].result(left);
    } catch (const concurry::timeout_error&) {
      throw std::runtime_error("call " + std::to_string(i) + " of " + std::to_string(calls) +
                               " was not done within the time limit");
    }
    if (value != static_cast<int>(i))
      throw std::runtime_error("call " + std::to_string(i) + " returned " + std::to_string(value));
  }
  return std::chrono::duration<double>(clock_type::now() - start).count();
}

/// A std::thread per call, each sleeping; the seconds from the first thread's start to the last
/// one's end. Throws when a thread cannot be started (the started ones are joined first).
double time_thread_per_call(std::size_t calls) {
  std::vector<int> values(calls, -1);
  std::vector<std::jthread> threads;
  threads.reserve(calls);
  const auto start = clock_type::now();
  for (std::size_t i = 0; i < calls; ++i)
    threads.emplace_back([&values, i] {
      std::this_thread::sleep_for(nap_time);
      values[i] = static_cast<int>(i);
    });
  for (auto& t : threads)
    t.join();
  const auto seconds = std::chrono::duration<double>(clock_type::now() - start).count();
  for (std::size_t i = 0; i < calls; ++i)
    if (values[i] != static_cast<int>(i))
      throw std::runtime_error("thread " + std::to_string(i) + " did not set its value");
  return seconds;
}

/// Runs variant `name` with `calls` calls; the wall time in seconds. The pool is made, used and
/// stopped here, so that its threads and memory fall between the caller's two looks at them.
double run_variant(std::string_view name, std::size_t calls, std::chrono::seconds limit) {
  const auto deadline = clock_type::now() + limit;
  const int ms = static_cast<int>(nap_time.count());
  if (name == "thread-per-call")
    return time_thread_per_call(calls);
  const bool asyncio = name == "asyncio";
  if (!asyncio && name != "thread24" && name != "thread24-coroutine")
    throw std::invalid_argument("no variant named " + std::string{name});
  auto pool =
      asyncio
          ? bench::sleeper::options().mode(concurry::mode::asyncio).init()
          : bench::sleeper::options().mode(concurry::mode::thread).max_workers(pool_workers).init();
  double seconds = 0;
  if (name == "thread24")
    seconds = time_calls(
        calls, deadline, [&](int x) { return pool.call(&bench::sleeper::block, x, ms); });
  else
    seconds =
        time_calls(calls, deadline, [&](int x) { return pool.call(&bench::sleeper::nap, x, ms); });
  pool.stop();
  return seconds;
}

/// The child's side: `asyncio_bench --variant <name> <calls> <time limit in s>`. Prints one
/// "result ..." line (or "failed <why>") on stdout; exits 0 when the calls gave their values.
int run_variant_child(int argc, char** argv) {
  concurry::runtime rt{argc, argv};
  if (argc != 5) {
    std::printf("failed the child needs --variant <name> <calls> <time limit in s>\n");
    return 2;
  }
  const std::string_view name = argv[2];
  const auto calls = static_cast<std::size_t>(std::stoul(argv[3]));
  const std::chrono::seconds limit{std::stol(argv[4])};
  // After the calls' own deadline, so that a late call fails with its error first.
  peer_measure::watchdog guard{limit + 10s, "asyncio_bench (child)"};
  try {
    thread_sampler sampler;
    const auto before = read_status();
    const double seconds = run_variant(name, calls, limit);
    const long threads_peak = sampler.stop();
    const auto after = read_status();
    std::printf("result variant=%.*s calls=%zu wall_s=%.6f threads_before=%ld threads_peak=%ld "
                "rss_before_kb=%ld rss_peak_kb=%ld\n",
                static_cast<int>(name.size()),
                name.data(),
                calls,
                seconds,
                before.threads,
                threads_peak,
                before.rss_kb,
                after.peak_rss_kb);
    return 0;
  } catch (const std::exception& e) {
    // The parent reads lines of up to 256 characters; the whole message goes to stderr.
    std::printf("failed %.200s\n", e.what());
    std::fprintf(stderr, "asyncio_bench --variant %s: %s\n", argv[2], e.what());
    return 1;
  }
}

// ---------------------------------------------------------------------------------------------
// The parent: runs each variant as a child and reads its line

/// One row of the table.
struct variant_figures {
  std::string name;
  std::size_t calls = 0;
  /// The least the calls can take: one sleep per round of calls that can run at once.
  double floor_s = NAN;
  bool measured = false;
  std::string failure; ///< what went wrong when not measured
  double wall_s = NAN;
  long threads_before = -1;
  long threads_peak = -1;
  long rss_before_kb = -1;
  long rss_peak_kb = -1;

  [[nodiscard]] long threads_added() const { return threads_peak - threads_before; }
};

/// How to run one child: the row it fills and its command line.
struct child_run {
  std::string name;
  std::size_t calls = 0;
  /// Calls that can sleep at once: the floor is ceil(calls / concurrency) sleeps.
  std::size_t concurrency = 1;
  /// The tag of the child's lines that are no result line, echoed as progress.
  std::string tag;
  std::string program;
  std::vector<std::string> args; ///< argv[0] first
  /// Past this the child is killed and the row fails.
  std::chrono::seconds limit{0};
};

/// The "key=value" fields of a line.
std::map<std::string, std::string, std::less<>> parse_fields(std::string_view line) {
  std::map<std::string, std::string, std::less<>> out;
  // Bounded by the line.
  while (!line.empty()) {
    const auto end = std::min(line.find(' '), line.size());
    const auto field = line.substr(0, end);
    line.remove_prefix(std::min(end + 1, line.size()));
    const auto eq = field.find('=');
    if (eq != std::string_view::npos)
      out.emplace(field.substr(0, eq), field.substr(eq + 1));
  }
  return out;
}

/// Fills `row` from a "result ..." line; throws when a field is missing or no number.
void read_result_line(std::string_view line, variant_figures& row) {
  const auto fields = parse_fields(line);
  auto number = [&fields](std::string_view key) {
    const auto it = fields.find(key);
    if (it == fields.end())
      throw std::runtime_error("the result line has no " + std::string{key});
    return std::stod(it->second);
  };
  row.wall_s = number("wall_s");
  row.threads_before = std::lround(number("threads_before"));
  row.threads_peak = std::lround(number("threads_peak"));
  row.rss_before_kb = std::lround(number("rss_before_kb"));
  row.rss_peak_kb = std::lround(number("rss_peak_kb"));
  row.measured = true;
}

/// Runs the child of `run` to its end and returns its row; a failure becomes a row that says
/// what failed. The child is killed after `run.limit` and reaped either way.
variant_figures run_child(const child_run& run) {
  variant_figures row;
  row.name = run.name;
  row.calls = run.calls;
  const auto rounds = (run.calls + run.concurrency - 1) / run.concurrency;
  row.floor_s = std::chrono::duration<double>(nap_time).count() * static_cast<double>(rounds);
  std::printf("running %s, %s calls ...\n", run.name.c_str(), count(run.calls).c_str());
  std::fflush(stdout);
  try {
    auto [out_read, out_write] = bench_child::make_pipe();
    auto [in_read, in_write] = bench_child::make_pipe();
    auto child = bench_child::spawn_child(run.program, run.args, in_read.get(), out_write.get());
    in_read.reset();
    in_write.reset();
    out_write.reset();

    // Bounded by the deadline; the child's own watchdog ends it sooner.
    std::string failure;
    const auto deadline = clock_type::now() + run.limit;
    while (clock_type::now() < deadline) {
      auto line = bench_child::read_line(
          out_read.get(),
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now()));
      if (!line)
        break;
      if (line->rfind("result ", 0) == 0)
        read_result_line(*line, row);
      else if (line->rfind("failed ", 0) == 0)
        failure = line->substr(7);
      else
        std::printf("  %s: %s\n", run.tag.c_str(), line->c_str());
    }

    // The verdict: a clean exit and a result line.
    const bool timed_out = clock_type::now() >= deadline;
    if (!child.end(/*grace=*/2000ms) && failure.empty())
      failure = timed_out ? "killed after " + std::to_string(run.limit.count()) + " s"
                          : "the child failed (see its error above)";
    if (failure.empty() && !row.measured)
      failure = "the child printed no result line";
    if (!failure.empty())
      throw std::runtime_error(failure);
  } catch (const std::exception& e) {
    row.measured = false;
    row.failure = e.what();
    std::printf("  FAILED: %s\n", e.what());
    std::fflush(stdout);
    return row;
  }
  std::printf("  wall %.3f s; threads %ld at peak, %ld before; peak RSS %.1f MB\n",
              row.wall_s,
              row.threads_peak,
              row.threads_before,
              static_cast<double>(row.rss_peak_kb) / 1024);
  std::fflush(stdout);
  return row;
}

/// The row of variant `variant` of this binary, with `calls` calls.
variant_figures bench_variant(const bench_config& cfg,
                              const std::string& name,
                              const std::string& variant,
                              std::size_t calls,
                              std::size_t concurrency) {
  return run_child({.name = name,
                    .calls = calls,
                    .concurrency = concurrency,
                    .tag = variant,
                    .program = "/proc/self/exe",
                    .args = {"asyncio_bench",
                             std::string{variant_flag},
                             variant,
                             std::to_string(calls),
                             std::to_string(cfg.child_limit.count())},
                    .limit = cfg.child_limit + 20s});
}

/// The row of python_asyncio.py with `calls` calls; a failed row when python3 cannot be found.
variant_figures bench_python(const bench_config& cfg, std::size_t calls) {
  const std::string python = bench_child::find_in_path("python3");
  if (python.empty()) {
    std::printf("python3 is not on PATH: Python asyncio is skipped\n");
    variant_figures row;
    row.name = "Python asyncio";
    row.calls = calls;
    row.failure = "python3 is not on PATH";
    return row;
  }
  return run_child({.name = "Python asyncio",
                    .calls = calls,
                    .concurrency = calls,
                    .tag = "python",
                    .program = python,
                    .args = {"python3",
                             CONCURRY_BENCH_PYTHON_SCRIPT,
                             "--calls",
                             std::to_string(calls),
                             "--sleep-ms",
                             std::to_string(nap_time.count()),
                             "--time-limit",
                             std::to_string(cfg.child_limit.count())},
                    .limit = cfg.child_limit + 20s});
}

// ---------------------------------------------------------------------------------------------
// Output

void print_table(const std::vector<variant_figures>& rows) {
  constexpr int name_w = 38;
  const std::string rule(name_w + 96, '-');
  std::printf("\n%s\n", rule.c_str());
  std::printf("%-*s | %7s | %7s | %7s | %7s | %6s | %6s | %11s | %9s | %8s\n",
              name_w,
              "variant",
              "calls",
              "floor s",
              "wall s",
              "threads",
              "before",
              "added",
              "peak RSS MB",
              "before MB",
              "added MB");
  std::printf("%s\n", rule.c_str());
  for (const auto& r : rows) {
    if (!r.measured) {
      std::printf("%-*s | %7s | FAILED: %s\n",
                  name_w,
                  r.name.c_str(),
                  count(r.calls).c_str(),
                  r.failure.c_str());
      continue;
    }
    std::printf("%-*s | %7s | %7.3f | %7.3f | %7ld | %6ld | %6ld | %11.1f | %9.1f | %8.1f\n",
                name_w,
                r.name.c_str(),
                count(r.calls).c_str(),
                r.floor_s,
                r.wall_s,
                r.threads_peak,
                r.threads_before,
                r.threads_added(),
                megabytes(r.rss_peak_kb),
                megabytes(r.rss_before_kb),
                megabytes(r.rss_peak_kb - r.rss_before_kb));
  }
  std::printf("%s\n", rule.c_str());
  std::printf("floor s: the least the calls can take, one sleep per round of calls that can sleep "
              "at once.\n"
              "wall s: from the first call to the last result.\n"
              "threads: the most the process had, sampled every ms by a thread of its own (which "
              "counts);\n"
              "  before: before the pool was made (main, the sampler, and in the C++ rows "
              "concurry's runtime);\n"
              "  added: threads - before.\n"
              "peak RSS: the process's peak resident memory (VmHWM; Python: ru_maxrss);\n"
              "  before: resident memory before the pool; added: peak - before.\n");
}

/// "40.12x <better>" when `ours` is at most `theirs`, else "1.20x <worse>"; "n/a" when either is
/// not positive.
std::string compare(double ours, double theirs, const char* better, const char* worse) {
  if (!(ours > 0) || !(theirs > 0))
    return "n/a";
  return ours <= theirs ? fixed(theirs / ours, 2) + "x " + better
                        : fixed(ours / theirs, 2) + "x " + worse;
}

std::string compare(long ours, long theirs, const char* better, const char* worse) {
  return compare(static_cast<double>(ours), static_cast<double>(theirs), better, worse);
}

/// Prints how `ours` compares to `theirs`: wall time, threads and peak memory; SKIPPED when
/// either was not measured.
void print_ratios(const variant_figures* ours, const variant_figures* theirs, const char* label) {
  if (ours == nullptr || theirs == nullptr) {
    std::printf("%s: SKIPPED (not measured)\n", label);
    return;
  }
  const auto& a = *ours;
  const auto& b = *theirs;
  const auto wall = compare(a.wall_s, b.wall_s, "faster", "slower");
  const auto peak = compare(a.threads_peak, b.threads_peak, "fewer", "more");
  const auto added = compare(a.threads_added(), b.threads_added(), "fewer", "more");
  const auto memory = compare(a.rss_peak_kb, b.rss_peak_kb, "less", "more");
  std::printf("%s, %s calls:\n", label, count(a.calls).c_str());
  std::printf("  wall time  %s (%.3f s vs %.3f s)\n", wall.c_str(), a.wall_s, b.wall_s);
  std::printf("  threads    %s at peak (%ld vs %ld); added: %s (%ld vs %ld)\n",
              peak.c_str(),
              a.threads_peak,
              b.threads_peak,
              added.c_str(),
              a.threads_added(),
              b.threads_added());
  std::printf("  peak RSS   memory ratio %.2f: %s (%.1f MB vs %.1f MB)\n",
              static_cast<double>(a.rss_peak_kb) / static_cast<double>(b.rss_peak_kb),
              memory.c_str(),
              megabytes(a.rss_peak_kb),
              megabytes(b.rss_peak_kb));
}

/// The measured row named `name` with `calls` calls; null when there is none.
const variant_figures*
find_row(const std::vector<variant_figures>& rows, std::string_view name, std::size_t calls) {
  for (const auto& r : rows)
    if (r.measured && r.name == name && r.calls == calls)
      return &r;
  return nullptr;
}

/// How wall time and peak memory grow from the row `small` to the row `large` (more calls).
void print_scaling(const variant_figures* small, const variant_figures* large, const char* label) {
  if (small == nullptr || large == nullptr) {
    std::printf("%s: SKIPPED (not measured)\n", label);
    return;
  }
  const long more_kb = large->rss_peak_kb - small->rss_peak_kb;
  const auto more_calls = static_cast<double>(large->calls - small->calls);
  std::printf("%s, %s calls against %s: wall time %.2fx (%.3f s vs %.3f s); peak RSS +%.1f MB, "
              "%.2f KB per added call; threads %ld vs %ld\n",
              label,
              count(large->calls).c_str(),
              count(small->calls).c_str(),
              large->wall_s / small->wall_s,
              large->wall_s,
              small->wall_s,
              megabytes(more_kb),
              static_cast<double>(more_kb) / more_calls,
              large->threads_peak,
              small->threads_peak);
}

void print_usage() {
  std::printf("usage: asyncio_bench [--quick] [--no-python]\n"
              "  --quick      200 calls and no 10,000-call rows, for a CI smoke run\n"
              "  --no-python  skip Python's asyncio\n");
}

/// The row names.
constexpr const char* asyncio_row = "concurry asyncio worker (1)";
constexpr const char* thread_row = "concurry thread pool (24)";
constexpr const char* thread_coroutine_row = "concurry thread pool (24), coroutine";
constexpr const char* thread_per_call_row = "std::thread per call";
constexpr const char* python_row = "Python asyncio";

} // namespace

int main(int argc, char** argv) try {
  // A variant's child makes its own runtime, first thing; the parent needs none.
  if (argc > 1 && argv[1] == variant_flag)
    return run_variant_child(argc, argv);

  bench_config cfg;
  bool python = true;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--quick") {
      cfg = quick_config();
    } else if (arg == "--no-python") {
      python = false;
    } else {
      return peer_measure::answer_other_argument("asyncio_bench", arg, print_usage);
    }
  }
  cfg.python = python;
  peer_measure::watchdog guard{cfg.hard_limit, "asyncio_bench", kill_live_children};
  std::printf("asyncio_bench: concurry %s, %u hardware threads%s\n"
              "%s calls made at once, each sleeping %lld ms; every variant in a child process of "
              "its own\n\n",
              concurry::version(),
              std::thread::hardware_concurrency(),
              cfg.quick ? ", --quick" : "",
              count(cfg.calls).c_str(),
              static_cast<long long>(nap_time.count()));
  std::fflush(stdout);

  // The variants, then the scaling rows.
  const auto start = clock_type::now();
  const std::size_t n = cfg.calls;
  std::vector<variant_figures> rows;
  rows.push_back(bench_variant(cfg, asyncio_row, "asyncio", n, n));
  rows.push_back(bench_variant(cfg, thread_row, "thread24", n, pool_workers));
  rows.push_back(bench_variant(cfg, thread_coroutine_row, "thread24-coroutine", n, pool_workers));
  rows.push_back(bench_variant(cfg, thread_per_call_row, "thread-per-call", n, n));
  if (cfg.python)
    rows.push_back(bench_python(cfg, n));
  const std::size_t large = cfg.large_calls;
  if (large > 0) {
    rows.push_back(bench_variant(cfg, asyncio_row, "asyncio", large, large));
    if (cfg.python)
      rows.push_back(bench_python(cfg, large));
  }
  const auto seconds = std::chrono::duration<double>(clock_type::now() - start).count();

  // The table and the ratios.
  print_table(rows);
  const auto* asyncio = find_row(rows, asyncio_row, n);
  std::printf("\n");
  print_ratios(asyncio, find_row(rows, thread_row, n), "asyncio worker vs thread pool (24)");
  print_ratios(asyncio,
               find_row(rows, thread_coroutine_row, n),
               "asyncio worker vs thread pool (24) calling the coroutine");
  print_ratios(
      asyncio, find_row(rows, thread_per_call_row, n), "asyncio worker vs thread per call");
  if (cfg.python) {
    print_ratios(asyncio, find_row(rows, python_row, n), "asyncio worker vs Python asyncio");
    if (large > 0)
      print_ratios(find_row(rows, asyncio_row, large),
                   find_row(rows, python_row, large),
                   "asyncio worker vs Python asyncio");
  } else {
    std::printf("asyncio worker vs Python asyncio: SKIPPED (--no-python)\n");
  }
  if (large > 0) {
    print_scaling(asyncio, find_row(rows, asyncio_row, large), "asyncio worker");
    if (cfg.python)
      print_scaling(find_row(rows, python_row, n), find_row(rows, python_row, large), "Python");
  }
  std::printf("\ntotal %.1f s\n", seconds);

  // A C++ variant that failed is a crash; Python's absence is reported above but fails nothing.
  const bool failed = std::any_of(rows.begin(), rows.end(), [](const variant_figures& r) {
    return !r.measured && r.name != python_row;
  });
  return failed ? 1 : 0;
} catch (const std::exception& e) {
  kill_live_children();
  std::fprintf(stderr, "asyncio_bench: %s\n", e.what());
  return 1;
}
