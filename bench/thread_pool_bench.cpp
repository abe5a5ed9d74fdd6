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

#include "peer_measure.hpp"

#include <concurry/concurry.hpp>

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_group.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <exception>
#include <future>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
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

using peer_measure::clock_type;
using peer_measure::find_row;
using peer_measure::fixed;
using peer_measure::grouped;
using peer_measure::guarded;
using peer_measure::measure_peer;
using peer_measure::peer_figures;

/// Decimals of the microsecond figures this benchmark prints.
constexpr int us_decimals = 2;

/// The call every peer runs.
int add_one(int x) {
  return x + 1;
}

// ---------------------------------------------------------------------------------------------
// Configuration

struct bench_config {
  bool quick = false;
  bool python = true;
  peer_measure::measure_config measure{.method = "add",
                                       .seq_warmup = 2'000,
                                       .seq_calls = 20'000,
                                       .pipe_warmup = 20'000,
                                       .pipe_calls = 300'000,
                                       .window = 1'000,
                                       .repeats = 3,
                                       .seq_check_every = 256,
                                       .phase_limit = std::chrono::seconds{10}};
  std::size_t python_seq_warmup = 2'000;
  std::size_t python_seq_calls = 20'000;
  std::size_t python_pipe_calls = 30'000;
  std::chrono::seconds python_limit{40};
  // Past this the process ends (exit 3): a hung peer must not hang CI.
  std::chrono::seconds hard_limit{180};
};

bench_config quick_config() {
  bench_config c;
  c.quick = true;
  c.measure.seq_warmup = 500;
  c.measure.seq_calls = 5'000;
  c.measure.pipe_warmup = 5'000;
  c.measure.pipe_calls = 50'000;
  c.python_seq_warmup = 200;
  c.python_seq_calls = 2'000;
  c.python_pipe_calls = 5'000;
  c.measure.phase_limit = std::chrono::seconds{2};
  c.python_limit = std::chrono::seconds{8};
  c.hard_limit = std::chrono::seconds{45};
  return c;
}

// ---------------------------------------------------------------------------------------------
// The peers

peer_figures bench_concurry(const bench_config& cfg, std::size_t workers) {
  const std::string name = "concurry thread pool (" + std::to_string(workers) + ")";
  return guarded(name, us_decimals, [&] {
    auto pool = bench::adder::options().mode(concurry::mode::thread).max_workers(workers).init();
    auto submit = [&pool](int x) { return pool.call(&bench::adder::add, x); };
    auto get = [](concurry::future<int>& f) { return f.result(); };
    auto figures = measure_peer(name, cfg.measure, submit, get);
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
  return guarded(name, us_decimals, [&] {
    mutex_cv_pool pool{threads};
    auto submit = [&pool](int x) {
      std::packaged_task<int()> task{[x] { return add_one(x); }};
      auto f = task.get_future();
      pool.post(std::move(task));
      return f;
    };
    return measure_peer(name, cfg.measure, submit, get_std_future);
  });
}

peer_figures bench_asio(const bench_config& cfg, std::size_t threads) {
  const std::string name = "Boost.Asio thread_pool (" + std::to_string(threads) + ")";
  return guarded(name, us_decimals, [&] {
    boost::asio::thread_pool pool{threads};
    auto submit = [&pool](int x) {
      std::packaged_task<int()> task{[x] { return add_one(x); }};
      auto f = task.get_future();
      boost::asio::post(pool, std::move(task));
      return f;
    };
    auto figures = measure_peer(name, cfg.measure, submit, get_std_future);
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
  return guarded(name, us_decimals, [&] {
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
    auto figures = measure_peer(name, cfg.measure, submit, get_std_future);
    arena.execute([&group] { group.wait(); });
    return figures;
  });
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
                              " --window " + std::to_string(cfg.measure.window) + " --repeats " +
                              std::to_string(cfg.measure.repeats) + " --time-limit " +
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
    if (auto row = peer_measure::parse_result_line(line)) {
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
    } else {
      return peer_measure::answer_other_argument("thread_pool_bench", arg, print_usage);
    }
  }
  cfg.python = python;
  peer_measure::watchdog guard{cfg.hard_limit, "thread_pool_bench"};

  peer_measure::print_run_header("thread_pool_bench", cfg.measure, cfg.quick);

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

  // A C++ peer that failed is a crash; Python's absence is reported above but fails nothing.
  return peer_measure::has_failed_cpp_peer(rows) ? 1 : 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "thread_pool_bench: %s\n", e.what());
  return 1;
}
