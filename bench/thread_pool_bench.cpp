// Benchmark: a trivial call, add(x) = x + 1, on concurry's thread pools and on their peers, in
// one run:
//
//   - concurry thread pools of 2 and 24 workers;
//   - the floor: plain std::threads taking std::packaged_tasks from a mutex + condition variable
//     queue;
//   - Boost.Asio's thread_pool, std::packaged_task posted with boost::asio::post;
//   - oneTBB: std::packaged_task in a tbb::task_group, enqueued in a task_arena of 2 threads;
//   - Python's concurrent.futures.ThreadPoolExecutor (bench/python_threadpool.py, as a child).
//
// For each: sequential round trips with one call in flight (p50 and p99 in microseconds), and
// a pipelined run with a sliding window of calls in flight (calls per second, the median of
// three runs). Prints a table and two verdict lines. Exits 0 unless something broke: a wrong
// result, an exception, or the watchdog (a hung peer) — a slow result is no failure.
//
// Usage: thread_pool_bench [--quick] [--no-python]

#include <concurry/concurry.hpp>

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_group.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <exception>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#ifndef CONCURRY_BENCH_PYTHON_SCRIPT
#error "CONCURRY_BENCH_PYTHON_SCRIPT must name bench/python_threadpool.py (bench/CMakeLists.txt)"
#endif

namespace bench {

class adder : public concurry::worker<adder> {
public:
  int add(int x) { return x + 1; }
};
CONCURRY_WORKER(adder, (), add)

} // namespace bench

namespace {

using clock_type = std::chrono::steady_clock;

/// The call every peer runs.
int add_one(int x) {
  return x + 1;
}

// ---------------------------------------------------------------------------------------------
// Configuration

struct bench_config {
  bool quick = false;
  bool python = true;
  std::size_t seq_warmup = 2'000;
  std::size_t seq_calls = 20'000;
  std::size_t pipe_warmup = 20'000;
  std::size_t pipe_calls = 300'000;
  std::size_t window = 1'000;
  std::size_t repeats = 3;
  std::size_t python_seq_warmup = 2'000;
  std::size_t python_seq_calls = 20'000;
  std::size_t python_pipe_calls = 30'000;
  // A phase past its limit is cut short and marked, so one slow peer cannot eat the run.
  std::chrono::seconds phase_limit{10};
  std::chrono::seconds python_limit{40};
  // Past this the process ends (exit 3): a hung peer must not hang CI.
  std::chrono::seconds hard_limit{180};
};

bench_config quick_config() {
  bench_config c;
  c.quick = true;
  c.seq_warmup = 500;
  c.seq_calls = 5'000;
  c.pipe_warmup = 5'000;
  c.pipe_calls = 50'000;
  c.python_seq_warmup = 200;
  c.python_seq_calls = 2'000;
  c.python_pipe_calls = 5'000;
  c.phase_limit = std::chrono::seconds{2};
  c.python_limit = std::chrono::seconds{8};
  c.hard_limit = std::chrono::seconds{45};
  return c;
}

// ---------------------------------------------------------------------------------------------
// Results

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

/// Nearest-rank percentile of sorted values (python_threadpool.py uses the same definition).
double percentile(const std::vector<double>& sorted, double q) {
  if (sorted.empty())
    return NAN;
  auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  rank = std::clamp<std::size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

double median(std::vector<double> values) {
  if (values.empty())
    return NAN;
  std::sort(values.begin(), values.end());
  const auto n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

void check_result(const std::string& name, int x, int value) {
  if (value != x + 1)
    throw std::runtime_error(name + ": add(" + std::to_string(x) + ") returned " +
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

/// Round trips one at a time: `warmup` untimed calls, then up to `calls` timed ones (fewer when
/// `deadline` passes).
template <class Submit, class Get>
sequential_figures measure_sequential(const std::string& name,
                                      Submit& submit,
                                      Get& get,
                                      std::size_t warmup,
                                      std::size_t calls,
                                      clock_type::time_point deadline) {
  for (std::size_t i = 0; i < warmup; ++i) {
    const int x = static_cast<int>(i);
    auto f = submit(x);
    check_result(name, x, get(f));
  }
  std::vector<double> latencies;
  latencies.reserve(calls);
  bool truncated = false;
  for (std::size_t i = 0; i < calls; ++i) {
    // Reading the clock for the deadline only now and then keeps it out of most round trips.
    if (i % 256 == 0 && clock_type::now() > deadline) {
      truncated = true;
      break;
    }
    const int x = static_cast<int>(i);
    const auto start = clock_type::now();
    auto f = submit(x);
    const int value = get(f);
    const auto stop = clock_type::now();
    check_result(name, x, value);
    latencies.push_back(std::chrono::duration<double, std::micro>(stop - start).count());
  }
  std::sort(latencies.begin(), latencies.end());
  return {percentile(latencies, 0.50), percentile(latencies, 0.99), truncated};
}

struct pipelined_figures {
  double calls_per_s = NAN;
  bool truncated = false;
};

/// One sliding-window run: `window` calls are submitted, then each time the oldest completes
/// (waited on) one more is submitted, until `calls` were made or `deadline` passed.
template <class Submit, class Get>
pipelined_figures measure_pipelined(const std::string& name,
                                    Submit& submit,
                                    Get& get,
                                    std::size_t calls,
                                    std::size_t window,
                                    clock_type::time_point deadline) {
  using future_type = std::invoke_result_t<Submit&, int>;
  std::vector<future_type> ring(window);
  std::size_t submitted = 0;
  std::size_t completed = 0;
  bool truncated = false;
  const auto start = clock_type::now();
  for (; submitted < std::min(window, calls); ++submitted)
    ring[submitted] = submit(static_cast<int>(submitted));
  // Call n lives in slot n % window: the oldest call's slot is where the next one goes.
  while (completed < submitted) {
    auto& slot = ring[completed % window];
    check_result(name, static_cast<int>(completed), get(slot));
    ++completed;
    if (submitted < calls && !truncated) {
      if (submitted % 1024 == 0 && clock_type::now() > deadline) {
        truncated = true;
      } else {
        slot = submit(static_cast<int>(submitted));
        ++submitted;
      }
    }
  }
  const auto seconds = std::chrono::duration<double>(clock_type::now() - start).count();
  return {static_cast<double>(completed) / seconds, truncated};
}

/// Both measurements of one peer, with the pipelined run repeated and its median taken.
template <class Submit, class Get>
peer_figures measure_peer(std::string name, const bench_config& cfg, Submit submit, Get get) {
  std::printf("running %s ...\n", name.c_str());
  std::fflush(stdout);
  peer_figures out;
  out.name = std::move(name);
  const auto seq = measure_sequential(
      out.name, submit, get, cfg.seq_warmup, cfg.seq_calls, clock_type::now() + cfg.phase_limit);
  out.seq_p50_us = seq.p50_us;
  out.seq_p99_us = seq.p99_us;
  out.truncated = seq.truncated;
  // An untimed run first, so that every thread of the peer is up and its allocator warm.
  measure_pipelined(
      out.name, submit, get, cfg.pipe_warmup, cfg.window, clock_type::now() + cfg.phase_limit);
  for (std::size_t r = 0; r < cfg.repeats; ++r) {
    const auto run = measure_pipelined(
        out.name, submit, get, cfg.pipe_calls, cfg.window, clock_type::now() + cfg.phase_limit);
    out.runs.push_back(run.calls_per_s);
    out.truncated = out.truncated || run.truncated;
  }
  out.pipelined_calls_per_s = median(out.runs);
  out.measured = true;
  std::printf("  seq p50 %.2f us, p99 %.2f us; pipelined runs:", out.seq_p50_us, out.seq_p99_us);
  for (double r : out.runs)
    std::printf(" %.0f", r);
  std::printf(" calls/s%s\n", out.truncated ? " (cut short by the time limit)" : "");
  std::fflush(stdout);
  return out;
}

/// Runs `body` (which measures one peer); an exception becomes a row that says what failed.
peer_figures guarded(const std::string& name, const std::function<peer_figures()>& body) {
  try {
    return body();
  } catch (const std::exception& e) {
    std::printf("  FAILED: %s\n", e.what());
    std::fflush(stdout);
    peer_figures out;
    out.name = name;
    out.failure = e.what();
    return out;
  }
}

// ---------------------------------------------------------------------------------------------
// The peers

peer_figures bench_concurry(const bench_config& cfg, std::size_t workers) {
  const std::string name = "concurry thread pool (" + std::to_string(workers) + ")";
  return guarded(name, [&] {
    auto pool = bench::adder::options().mode(concurry::mode::thread).max_workers(workers).init();
    auto submit = [&pool](int x) { return pool.call(&bench::adder::add, x); };
    auto get = [](concurry::future<int>& f) { return f.result(); };
    auto figures = measure_peer(name, cfg, submit, get);
    pool.stop();
    return figures;
  });
}

/// The floor: the least a thread pool does. Worker threads take tasks from one queue guarded by
/// a mutex, and sleep on a condition variable while it is empty. It queues the same
/// std::packaged_task as the Asio and TBB peers, so that only the queueing differs.
class mutex_cv_pool {
public:
  explicit mutex_cv_pool(std::size_t threads) {
    threads_.reserve(threads);
    for (std::size_t i = 0; i < threads; ++i)
      threads_.emplace_back([this] { run(); });
  }
  mutex_cv_pool(const mutex_cv_pool&) = delete;
  mutex_cv_pool& operator=(const mutex_cv_pool&) = delete;

  /// Lets the threads finish the queued tasks, then joins them.
  ~mutex_cv_pool() {
    {
      std::lock_guard lock{mutex_};
      stopping_ = true;
    }
    wake_.notify_all();
    for (auto& t : threads_)
      t.join();
  }

  void post(std::packaged_task<int()> task) {
    {
      std::lock_guard lock{mutex_};
      tasks_.push_back(std::move(task));
    }
    wake_.notify_one();
  }

private:
  void run() {
    std::unique_lock lock{mutex_};
    for (;;) {
      wake_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
      if (tasks_.empty())
        return; // stopping, and nothing left to run
      auto task = std::move(tasks_.front());
      tasks_.pop_front();
      lock.unlock();
      task();
      lock.lock();
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::packaged_task<int()>> tasks_;
  bool stopping_ = false;
  std::vector<std::thread> threads_; // last: the threads use the members above
};

auto get_std_future = [](std::future<int>& f) { return f.get(); };

peer_figures bench_floor(const bench_config& cfg, std::size_t threads) {
  const std::string name = "floor: std::thread+mutex/cv (" + std::to_string(threads) + ")";
  return guarded(name, [&] {
    mutex_cv_pool pool{threads};
    auto submit = [&pool](int x) {
      std::packaged_task<int()> task{[x] { return add_one(x); }};
      auto f = task.get_future();
      pool.post(std::move(task));
      return f;
    };
    return measure_peer(name, cfg, submit, get_std_future);
  });
}

peer_figures bench_asio(const bench_config& cfg, std::size_t threads) {
  const std::string name = "Boost.Asio thread_pool (" + std::to_string(threads) + ")";
  return guarded(name, [&] {
    boost::asio::thread_pool pool{threads};
    auto submit = [&pool](int x) {
      std::packaged_task<int()> task{[x] { return add_one(x); }};
      auto f = task.get_future();
      boost::asio::post(pool, std::move(task));
      return f;
    };
    auto figures = measure_peer(name, cfg, submit, get_std_future);
    pool.join();
    return figures;
  });
}

/// A std::packaged_task that TBB can run: TBB keeps its functors const, and a packaged_task is
/// run through a non-const operator().
struct tbb_job {
  mutable std::packaged_task<int()> task;
  void operator()() const { task(); }
};

peer_figures bench_tbb(const bench_config& cfg, int threads) {
  const std::string name = "oneTBB task_group (arena " + std::to_string(threads) + ")";
  return guarded(name, [&] {
    // TBB's default allows cores - 1 worker threads (1 here); the arena is to get `threads` of
    // them, none reserved for the submitting thread, which only waits on futures.
    tbb::global_control parallelism{tbb::global_control::max_allowed_parallelism,
                                    static_cast<std::size_t>(threads) + 1};
    tbb::task_arena arena{threads, 0};
    tbb::task_group group;
    auto submit = [&arena, &group](int x) {
      tbb_job job{std::packaged_task<int()>{[x] { return add_one(x); }}};
      auto f = job.task.get_future();
      // enqueue, unlike execute, hands the task over without joining the arena.
      arena.enqueue(group.defer(std::move(job)));
      return f;
    };
    auto figures = measure_peer(name, cfg, submit, get_std_future);
    arena.execute([&group] { group.wait(); });
    return figures;
  });
}

/// Parses one "result key=value ..." line of python_threadpool.py.
std::optional<peer_figures> parse_python_line(std::string_view line) {
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

/// Runs python_threadpool.py as a child and reads its figures; on any failure returns rows that
/// say so, one per worker count.
std::vector<peer_figures> bench_python(const bench_config& cfg,
                                       const std::vector<std::size_t>& workers) {
  const std::string script = CONCURRY_BENCH_PYTHON_SCRIPT;
  std::string worker_list;
  for (auto w : workers)
    worker_list += (worker_list.empty() ? "" : ",") + std::to_string(w);
  auto failed_rows = [&](const std::string& why) {
    std::printf("  FAILED: %s\n", why.c_str());
    std::vector<peer_figures> rows;
    for (auto w : workers) {
      peer_figures row;
      row.name = "Python ThreadPoolExecutor (" + std::to_string(w) + ")";
      row.failure = why;
      rows.push_back(std::move(row));
    }
    return rows;
  };
  std::printf("running Python ThreadPoolExecutor (%s workers) ...\n", worker_list.c_str());
  std::fflush(stdout);
  // The path goes into a shell command inside single quotes, which it must not contain.
  if (script.find('\'') != std::string::npos)
    return failed_rows("the script path contains a single quote: " + script);
  const std::string command = "/usr/bin/python3 '" + script + "' --workers " + worker_list +
                              " --seq-warmup " + std::to_string(cfg.python_seq_warmup) +
                              " --seq-calls " + std::to_string(cfg.python_seq_calls) +
                              " --pipe-calls " + std::to_string(cfg.python_pipe_calls) +
                              " --window " + std::to_string(cfg.window) + " --repeats " +
                              std::to_string(cfg.repeats) + " --time-limit " +
                              std::to_string(cfg.python_limit.count());
  FILE* child = ::popen(command.c_str(), "r");
  if (child == nullptr)
    return failed_rows("cannot start: " + command);
  std::vector<peer_figures> rows;
  std::string line;
  char buffer[512];
  // Bounded by the child's output, which its --time-limit bounds; the watchdog backs that up.
  while (std::fgets(buffer, sizeof buffer, child) != nullptr) {
    line += buffer;
    if (line.empty() || line.back() != '\n')
      continue; // a line longer than the buffer: read the rest of it
    line.pop_back();
    if (auto row = parse_python_line(line)) {
      row->name = "Python ThreadPoolExecutor (" + row->name.substr(row->name.find('-') + 1) + ")";
      std::printf("  %s: seq p50 %.2f us, p99 %.2f us; pipelined %.0f calls/s%s\n",
                  row->name.c_str(),
                  row->seq_p50_us,
                  row->seq_p99_us,
                  row->pipelined_calls_per_s,
                  row->truncated ? " (cut short by the time limit)" : "");
      rows.push_back(std::move(*row));
    } else {
      std::printf("  python: %s\n", line.c_str());
    }
    std::fflush(stdout);
    line.clear();
  }
  const int status = ::pclose(child);
  if (status != 0)
    return failed_rows("python_threadpool.py exited with status " + std::to_string(status));
  if (rows.size() != workers.size())
    return failed_rows("python_threadpool.py printed " + std::to_string(rows.size()) +
                       " result lines, expected " + std::to_string(workers.size()));
  return rows;
}

// ---------------------------------------------------------------------------------------------
// Output

/// The number of characters `s` shows: UTF-8 continuation bytes take no column.
std::size_t display_width(std::string_view s) {
  return static_cast<std::size_t>(
      std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

std::string pad_left(std::string s, std::size_t width) {
  const auto w = display_width(s);
  return w >= width ? s : std::string(width - w, ' ') + s;
}

std::string pad_right(std::string s, std::size_t width) {
  const auto w = display_width(s);
  return w >= width ? s : s + std::string(width - w, ' ');
}

std::string fixed(double v, int decimals) {
  if (std::isnan(v))
    return "n/a";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

/// A whole number with thousands separators: 1234567 -> "1,234,567".
std::string grouped(double v) {
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

void print_table(const std::vector<peer_figures>& rows, const peer_figures& reference) {
  constexpr std::size_t name_w = 40, num_w = 12, rate_w = 18, ratio_w = 11;
  const std::string rule(name_w + 2 * num_w + rate_w + 2 * ratio_w + 15, '-');
  std::printf("\n%s\n", rule.c_str());
  std::printf("%s | %s | %s | %s | %s | %s\n",
              pad_right("name", name_w).c_str(),
              pad_left("seq p50 µs", num_w).c_str(),
              pad_left("seq p99 µs", num_w).c_str(),
              pad_left("pipelined calls/s", rate_w).c_str(),
              pad_left("c2 x pipe", ratio_w).c_str(),
              pad_left("c2 x p50", ratio_w).c_str());
  std::printf("%s\n", rule.c_str());
  for (const auto& r : rows) {
    std::string pipe_ratio = "n/a", p50_ratio = "n/a";
    if (r.measured && reference.measured) {
      pipe_ratio = fixed(reference.pipelined_calls_per_s / r.pipelined_calls_per_s, 2);
      p50_ratio = fixed(r.seq_p50_us / reference.seq_p50_us, 2);
    }
    const std::string name = r.name + (r.truncated ? " *" : "");
    if (!r.measured) {
      std::printf("%s | FAILED: %s\n", pad_right(name, name_w).c_str(), r.failure.c_str());
      continue;
    }
    std::printf("%s | %s | %s | %s | %s | %s\n",
                pad_right(name, name_w).c_str(),
                pad_left(fixed(r.seq_p50_us, 2), num_w).c_str(),
                pad_left(fixed(r.seq_p99_us, 2), num_w).c_str(),
                pad_left(grouped(r.pipelined_calls_per_s), rate_w).c_str(),
                pad_left(pipe_ratio, ratio_w).c_str(),
                pad_left(p50_ratio, ratio_w).c_str());
  }
  std::printf("%s\n", rule.c_str());
  std::printf("c2 x pipe: %s calls/s / this row's calls/s; c2 x p50: this row's p50 / %s p50.\n"
              "Both > 1 when concurry-2 is faster. * = cut short by the time limit.\n",
              reference.name.c_str(),
              reference.name.c_str());
}

const peer_figures* find_row(const std::vector<peer_figures>& rows, std::string_view prefix) {
  for (const auto& r : rows)
    if (r.measured && std::string_view{r.name}.substr(0, prefix.size()) == prefix)
      return &r;
  return nullptr;
}

/// Prints one "target: ...: PASS/FAIL (ratio)" line, the ratio being concurry's pipelined
/// calls/s over the peer's (the figure the targets are about); SKIPPED when a side was not
/// measured.
void print_verdict(const char* target,
                   const peer_figures& concurry,
                   const peer_figures* peer,
                   double factor) {
  if (!concurry.measured || peer == nullptr) {
    std::printf("target: %s: SKIPPED (not measured)\n", target);
    return;
  }
  const double ratio = concurry.pipelined_calls_per_s / peer->pipelined_calls_per_s;
  std::printf("target: %s: %s (%.2f)\n", target, ratio >= factor ? "PASS" : "FAIL", ratio);
}

/// Ends the process when the benchmark overruns its time: a hung peer must not hang CI.
class watchdog {
public:
  explicit watchdog(std::chrono::seconds limit) : thread_{[this, limit] { guard(limit); }} {}
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
                 "thread_pool_bench: still running after %lld s; a peer hangs. Aborting.\n",
                 static_cast<long long>(limit.count()));
    std::fflush(stdout);
    std::fflush(stderr);
    std::_Exit(3);
  }

  std::mutex mutex_;
  std::condition_variable done_cv_;
  bool done_ = false;
  std::thread thread_; // last: it uses the members above
};

void print_usage() {
  std::printf("usage: thread_pool_bench [--quick] [--no-python]\n"
              "  --quick      fewer calls, for a CI smoke run\n"
              "  --no-python  skip Python's ThreadPoolExecutor\n");
}

} // namespace

int main(int argc, char** argv) try {
  concurry::runtime rt{argc, argv};

  bench_config cfg;
  bool python = true;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--quick") {
      cfg = quick_config();
    } else if (arg == "--no-python") {
      python = false;
    } else if (arg == "--help" || arg == "-h") {
      print_usage();
      return 0;
    } else {
      std::fprintf(stderr, "thread_pool_bench: unknown argument '%s'\n", argv[i]);
      print_usage();
      return 2;
    }
  }
  cfg.python = python;
  watchdog guard{cfg.hard_limit};

  std::printf("thread_pool_bench: concurry %s, %u hardware threads%s\n"
              "sequential: %zu calls after %zu warm-up; pipelined: %zu calls, %zu in flight, "
              "median of %zu runs\n\n",
              concurry::version(),
              std::thread::hardware_concurrency(),
              cfg.quick ? ", --quick" : "",
              cfg.seq_calls,
              cfg.seq_warmup,
              cfg.pipe_calls,
              cfg.window,
              cfg.repeats);
  std::fflush(stdout);

  const auto start = clock_type::now();
  std::vector<peer_figures> rows;
  rows.push_back(bench_concurry(cfg, 2));
  rows.push_back(bench_concurry(cfg, 24));
  rows.push_back(bench_floor(cfg, 2));
  rows.push_back(bench_asio(cfg, 2));
  rows.push_back(bench_tbb(cfg, 2));
  if (cfg.python) {
    for (auto& r : bench_python(cfg, {2, 24}))
      rows.push_back(std::move(r));
  }
  const auto seconds = std::chrono::duration<double>(clock_type::now() - start).count();

  const peer_figures& c2 = rows.front();
  print_table(rows, c2);
  std::printf("\n");
  print_verdict("concurry pipelined >= Boost.Asio", c2, find_row(rows, "Boost.Asio"), 1.0);
  if (cfg.python)
    print_verdict(
        "concurry >= 5x Python", c2, find_row(rows, "Python ThreadPoolExecutor (2)"), 5.0);
  else
    std::printf("target: concurry >= 5x Python: SKIPPED (--no-python)\n");
  std::printf("\ntotal %.1f s\n", seconds);

  // A C++ peer that failed is a crash (a wrong result or an exception); Python is only a
  // reference, so its absence is reported in the table and above but fails nothing.
  const bool cpp_failed = std::any_of(rows.begin(), rows.end(), [](const peer_figures& r) {
    return !r.measured && r.name.rfind("Python", 0) != 0;
  });
  return cpp_failed ? 1 : 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "thread_pool_bench: %s\n", e.what());
  return 1;
}
