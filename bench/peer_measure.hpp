// What the peer benchmarks (thread_pool_bench, process_pool_bench, cluster_bench) share: the
// figures of one peer, the sequential and the pipelined measurement (generic over how a peer
// starts a call and waits for it), the runner that turns a failed peer into a row, the parser of
// the Python peers' result lines, number formatting, the table of ratios to concurry, the answer
// to an unknown argument and the watchdog. Each benchmark keeps its own peers and verdicts.
//
// Every peer runs the same call, x + 1, under a method name the benchmark chooses.

#pragma once

#include <concurry/version.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace peer_measure {

using clock_type = std::chrono::steady_clock;

/// How one peer is measured: the calls of each phase and how long a phase may take.
struct measure_config {
  /// The measured method, named in the error of a wrong result.
  const char* method = "";
  std::size_t seq_warmup = 0;
  std::size_t seq_calls = 0;
  std::size_t pipe_warmup = 0;
  std::size_t pipe_calls = 0;
  /// Calls in flight in a pipelined run.
  std::size_t window = 1;
  /// Timed pipelined runs; the figure is their median.
  std::size_t repeats = 1;
  /// Sequential calls between two looks at the clock for the phase limit.
  std::size_t seq_check_every = 1;
  /// A phase past its limit is cut short and marked, so one slow peer cannot eat the run.
  std::chrono::seconds phase_limit{0};
};

/// One row of a benchmark's table.
struct peer_figures {
  std::string name;
  bool measured = false;
  double seq_p50_us = NAN;
  double seq_p99_us = NAN;
  double pipelined_calls_per_s = NAN;
  std::vector<double> runs;
  bool truncated = false;
  std::string failure; ///< what went wrong when not measured
};

/// Nearest-rank percentile of sorted values (bench_peer.py uses the same definition).
inline double percentile(const std::vector<double>& sorted, double q) {
  if (sorted.empty())
    return NAN;
  auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  rank = std::clamp<std::size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

inline double median(std::vector<double> values) {
  if (values.empty())
    return NAN;
  std::sort(values.begin(), values.end());
  const auto n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

/// Throws when `value` is not what `method(x)` should return, x + 1.
inline void check_result(const std::string& name, const char* method, int x, int value) {
  if (value != x + 1)
    throw std::runtime_error(name + ": " + method + "(" + std::to_string(x) + ") returned " +
                             std::to_string(value));
}

// ---------------------------------------------------------------------------------------------
// The two measurements, generic over a peer: `submit(int) -> F` starts a call and `get(F&) -> int`
// waits for its result.

struct sequential_figures {
  double p50_us = NAN;
  double p99_us = NAN;
  bool truncated = false;
};

inline sequential_figures summarize(std::vector<double> latencies_us, bool truncated) {
  std::sort(latencies_us.begin(), latencies_us.end());
  return {percentile(latencies_us, 0.50), percentile(latencies_us, 0.99), truncated};
}

/// Round trips one at a time: `cfg.seq_warmup` untimed calls, then up to `cfg.seq_calls` timed
/// ones (fewer when `deadline` passes).
template <class Submit, class Get>
sequential_figures measure_sequential(const std::string& name,
                                      const measure_config& cfg,
                                      Submit& submit,
                                      Get& get,
                                      clock_type::time_point deadline) {
  for (std::size_t i = 0; i < cfg.seq_warmup; ++i) {
    const int x = static_cast<int>(i);
    auto f = submit(x);
    check_result(name, cfg.method, x, get(f));
  }
  std::vector<double> latencies;
  latencies.reserve(cfg.seq_calls);
  bool truncated = false;
  for (std::size_t i = 0; i < cfg.seq_calls; ++i) {
    // Reading the clock for the deadline only now and then keeps it out of most round trips.
    if (i % cfg.seq_check_every == 0 && clock_type::now() > deadline) {
      truncated = true;
      break;
    }
    const int x = static_cast<int>(i);
    const auto start = clock_type::now();
    auto f = submit(x);
    const int value = get(f);
    const auto stop = clock_type::now();
    check_result(name, cfg.method, x, value);
    latencies.push_back(std::chrono::duration<double, std::micro>(stop - start).count());
  }
  return summarize(std::move(latencies), truncated);
}

struct pipelined_figures {
  double calls_per_s = NAN;
  bool truncated = false;
};

/// One sliding-window run: `cfg.window` calls are submitted, then each time the oldest completes
/// (waited on) one more is submitted, until `calls` were made or `deadline` passed.
template <class Submit, class Get>
pipelined_figures measure_pipelined(const std::string& name,
                                    const measure_config& cfg,
                                    Submit& submit,
                                    Get& get,
                                    std::size_t calls,
                                    clock_type::time_point deadline) {
  using future_type = std::invoke_result_t<Submit&, int>;
  const std::size_t window = cfg.window;
  // NOTE: optional, since not every peer's pending call can be made empty (CAF's response handle).
  std::vector<std::optional<future_type>> ring(window);
  std::size_t submitted = 0;
  std::size_t completed = 0;
  bool truncated = false;
  const auto start = clock_type::now();
  for (; submitted < std::min(window, calls); ++submitted)
    ring[submitted].emplace(submit(static_cast<int>(submitted)));
  // Call n lives in slot n % window: the oldest call's slot is where the next one goes.
  while (completed < submitted) {
    auto& slot = ring[completed % window];
    check_result(name, cfg.method, static_cast<int>(completed), get(*slot));
    ++completed;
    if (submitted < calls && !truncated) {
      if (submitted % 1024 == 0 && clock_type::now() > deadline) {
        truncated = true;
      } else {
        slot.emplace(submit(static_cast<int>(submitted)));
        ++submitted;
      }
    }
  }
  const auto seconds = std::chrono::duration<double>(clock_type::now() - start).count();
  return {static_cast<double>(completed) / seconds, truncated};
}

/// Both measurements of one peer whose calls fit submit/get, with the pipelined run repeated
/// and its median taken.
template <class Submit, class Get>
peer_figures measure_peer(std::string name, const measure_config& cfg, Submit submit, Get get) {
  peer_figures out;
  out.name = std::move(name);
  const auto seq =
      measure_sequential(out.name, cfg, submit, get, clock_type::now() + cfg.phase_limit);
  out.seq_p50_us = seq.p50_us;
  out.seq_p99_us = seq.p99_us;
  out.truncated = seq.truncated;
  // An untimed run first, so that every thread and process of the peer is up, its allocator and
  // buffers warm.
  measure_pipelined(
      out.name, cfg, submit, get, cfg.pipe_warmup, clock_type::now() + cfg.phase_limit);
  for (std::size_t r = 0; r < cfg.repeats; ++r) {
    const auto run = measure_pipelined(
        out.name, cfg, submit, get, cfg.pipe_calls, clock_type::now() + cfg.phase_limit);
    out.runs.push_back(run.calls_per_s);
    out.truncated = out.truncated || run.truncated;
  }
  out.pipelined_calls_per_s = median(out.runs);
  out.measured = true;
  return out;
}

/// Prints one peer's figures as a line of progress, its microseconds with `decimals` decimals.
inline void print_progress(const peer_figures& f, int decimals, const char* label = "") {
  std::printf("  %sseq p50 %.*f us, p99 %.*f us; pipelined runs:",
              label,
              decimals,
              f.seq_p50_us,
              decimals,
              f.seq_p99_us);
  for (double r : f.runs)
    std::printf(" %.0f", r);
  std::printf(" calls/s%s\n", f.truncated ? " (cut short by the time limit)" : "");
  std::fflush(stdout);
}

/// Runs `body` (which measures the peer `name`) between a line that says so and its progress
/// line (print_progress with `decimals`); an exception becomes a row that says what failed.
inline peer_figures
guarded(const std::string& name, int decimals, const std::function<peer_figures()>& body) {
  std::printf("running %s ...\n", name.c_str());
  std::fflush(stdout);
  try {
    auto out = body();
    print_progress(out, decimals);
    return out;
  } catch (const std::exception& e) {
    std::printf("  FAILED: %s\n", e.what());
    std::fflush(stdout);
    peer_figures out;
    out.name = name;
    out.failure = e.what();
    return out;
  }
}

/// Parses one "result key=value ..." line of a Python peer (bench_peer.py, run); the name is
/// the script's (python-<workers>). Nullopt for any other line.
inline std::optional<peer_figures> parse_result_line(std::string_view line) {
  constexpr std::string_view prefix = "result ";
  if (line.substr(0, prefix.size()) != prefix)
    return std::nullopt;
  line.remove_prefix(prefix.size());
  peer_figures out;
  bool has_p50 = false, has_p99 = false, has_rate = false;
  while (!line.empty()) {
    const auto end = std::min(line.find(' '), line.size());
    const auto field = line.substr(0, end);
    line.remove_prefix(std::min(end + 1, line.size()));
    const auto eq = field.find('=');
    if (eq == std::string_view::npos)
      continue;
    const auto key = field.substr(0, eq);
    const std::string value{field.substr(eq + 1)};
    if (key == "name") {
      out.name = value;
    } else if (key == "seq_p50_us") {
      out.seq_p50_us = std::stod(value);
      has_p50 = true;
    } else if (key == "seq_p99_us") {
      out.seq_p99_us = std::stod(value);
      has_p99 = true;
    } else if (key == "pipelined_calls_per_s") {
      out.pipelined_calls_per_s = std::stod(value);
      has_rate = true;
    } else if (key == "truncated") {
      out.truncated = value != "0";
    } else if (key == "runs") {
      for (std::size_t pos = 0; pos < value.size();) {
        const auto comma = std::min(value.find(',', pos), value.size());
        out.runs.push_back(std::stod(value.substr(pos, comma - pos)));
        pos = comma + 1;
      }
    }
  }
  if (out.name.empty() || !has_p50 || !has_p99 || !has_rate)
    return std::nullopt;
  out.measured = true;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Output

/// Prints the first lines of a run: what runs, where, and the call counts of `cfg`.
inline void print_run_header(const char* program, const measure_config& cfg, bool quick) {
  std::printf("%s: concurry %s, %u hardware threads%s\n"
              "sequential: %zu calls after %zu warm-up; pipelined: %zu calls, %zu in flight, "
              "median of %zu runs\n\n",
              program,
              concurry::version(),
              std::thread::hardware_concurrency(),
              quick ? ", --quick" : "",
              cfg.seq_calls,
              cfg.seq_warmup,
              cfg.pipe_calls,
              cfg.window,
              cfg.repeats);
  std::fflush(stdout);
}

inline std::string fixed(double v, int decimals) {
  if (std::isnan(v))
    return "n/a";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

/// A whole number with thousands separators: 1234567 -> "1,234,567".
inline std::string grouped(double v) {
  if (std::isnan(v))
    return "n/a";
  std::string digits = std::to_string(static_cast<long long>(std::llround(v)));
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0)
      out += ',';
    out += digits[i];
  }
  return out;
}

/// The first measured row whose name starts with `prefix`; null when there is none.
inline const peer_figures* find_row(const std::vector<peer_figures>& rows,
                                    std::string_view prefix) {
  for (const auto& r : rows)
    if (r.measured && std::string_view{r.name}.substr(0, prefix.size()) == prefix)
      return &r;
  return nullptr;
}

/// Prints `rows` as a table with their ratios to `concurry` (null when concurry was not
/// measured: the ratios are n/a). Names take `name_width` characters, microseconds `decimals`
/// decimals; a non-empty `windows` adds the column of calls in flight, `windows[i]` for `rows[i]`.
inline void print_ratio_table(const std::vector<peer_figures>& rows,
                              const peer_figures* concurry,
                              int name_width,
                              int decimals,
                              const std::vector<std::size_t>& windows = {}) {
  // The header: name, 3 figures, the optional window, 2 ratios, " | " between them.
  const bool with_windows = !windows.empty();
  const std::string rule(static_cast<std::size_t>(name_width) + (with_windows ? 86 : 74), '-');
  std::printf("\n%s\n", rule.c_str());
  std::printf("%-*s | %11s | %11s | %17s",
              name_width,
              "name",
              "seq p50 us",
              "seq p99 us",
              "pipelined calls/s");
  if (with_windows)
    std::printf(" | %9s", "in flight");
  std::printf(" | %10s | %10s\n%s\n", "c / pipe", "c / p50", rule.c_str());

  // A line per row.
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    const std::string name = r.name + (r.truncated ? " *" : "");
    if (!r.measured) {
      std::printf("%-*s | FAILED: %s\n", name_width, name.c_str(), r.failure.c_str());
      continue;
    }
    std::string pipe_ratio = "n/a", p50_ratio = "n/a";
    if (concurry) {
      pipe_ratio = fixed(concurry->pipelined_calls_per_s / r.pipelined_calls_per_s, 2);
      p50_ratio = fixed(concurry->seq_p50_us / r.seq_p50_us, 2);
    }
    std::printf("%-*s | %11s | %11s | %17s",
                name_width,
                name.c_str(),
                fixed(r.seq_p50_us, decimals).c_str(),
                fixed(r.seq_p99_us, decimals).c_str(),
                grouped(r.pipelined_calls_per_s).c_str());
    if (with_windows)
      std::printf(" | %9zu", windows[i]);
    std::printf(" | %10s | %10s\n", pipe_ratio.c_str(), p50_ratio.c_str());
  }

  // The legend.
  std::printf("%s\n", rule.c_str());
  std::printf("c / pipe: concurry's pipelined calls/s / this row's; c / p50: concurry's p50 / this "
              "row's.\n* = cut short by the time limit.\n");
}

/// Answers an argument that no option of `program` takes, and returns main's exit status: 0 for
/// --help or -h, after the usage; 2 for anything else, after an error line and the usage.
[[nodiscard]] inline int
answer_other_argument(const char* program, std::string_view arg, void (*print_usage)()) {
  if (arg == "--help" || arg == "-h") {
    print_usage();
    return 0;
  }
  std::fprintf(
      stderr, "%s: unknown argument '%.*s'\n", program, static_cast<int>(arg.size()), arg.data());
  print_usage();
  return 2;
}

/// Whether a C++ peer failed (a wrong result or an exception). Python is only a reference: its
/// absence is reported, but fails nothing.
inline bool has_failed_cpp_peer(const std::vector<peer_figures>& rows) {
  return std::any_of(rows.begin(), rows.end(), [](const peer_figures& r) {
    return !r.measured && r.name.rfind("Python", 0) != 0;
  });
}

/// Ends the process (exit 3) when the benchmark overruns its time: a hung peer must not hang
/// CI. Before it ends, it calls `before_exit` (when not null), which must take no lock: the hung
/// benchmark may hold it.
class watchdog {
public:
  watchdog(std::chrono::seconds limit,
           const char* program,
           void (*before_exit)() noexcept = nullptr)
      : program_{program}, before_exit_{before_exit}, thread_{[this, limit] { guard(limit); }} {}
  watchdog(const watchdog&) = delete;
  watchdog& operator=(const watchdog&) = delete;
  ~watchdog() {
    {
      std::lock_guard lock{mutex_};
      done_ = true;
    }
    done_cv_.notify_one();
    thread_.join();
  }

private:
  void guard(std::chrono::seconds limit) {
    std::unique_lock lock{mutex_};
    if (done_cv_.wait_for(lock, limit, [this] { return done_; }))
      return;
    std::fprintf(stderr,
                 "%s: still running after %lld s; a peer hangs. Aborting.\n",
                 program_,
                 static_cast<long long>(limit.count()));
    if (before_exit_ != nullptr)
      before_exit_();
    std::fflush(stdout);
    std::fflush(stderr);
    std::_Exit(3);
  }

  const char* program_;
  void (*before_exit_)() noexcept;
  std::mutex mutex_;
  std::condition_variable done_cv_;
  bool done_ = false;
  std::thread thread_; // last: it uses the members above
};

} // namespace peer_measure
