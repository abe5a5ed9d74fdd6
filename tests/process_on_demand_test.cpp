// Process mode for on-demand workers: a fresh worker process per call, at most max_workers of
// them alive, calls beyond waiting in order, and a worker process that dies failing its call (or
// retrying it on a fresh process).
#include "intervals.hpp"

#include <concurry/concurry.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <dirent.h>
#include <fstream>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <unistd.h>
#include <utility>
#include <vector>

using namespace std::chrono_literals;

namespace process_on_demand_test {

using concurry_test::now_ns;

/// Its pid, when it was built and when its call ended: (pid, born, ended, value), on the
/// machine's monotonic clock, which every process shares.
using stamp = std::tuple<int, std::int64_t, std::int64_t, int>;

class short_lived : public concurry::worker<short_lived> {
public:
  explicit short_lived(bool refuse) : born_{now_ns()} {
    if (refuse)
      throw std::runtime_error{"short_lived refuses to start"};
  }
  stamp work(int value, int ms) {
    std::this_thread::sleep_for(std::chrono::milliseconds{ms});
    return {static_cast<int>(::getpid()), born_, now_ns(), value};
  }
  /// Aborts the process the first time (no `marker` file yet), answers with its pid after.
  int crash_once(std::string marker) {
    if (::access(marker.c_str(), F_OK) != 0) {
      if (auto* f = std::fopen(marker.c_str(), "w"))
        std::fclose(f);
      std::abort();
    }
    return static_cast<int>(::getpid());
  }
  std::size_t index() { return worker_index(); }

private:
  std::int64_t born_;
};
CONCURRY_WORKER(short_lived, (bool), work, crash_once, index)

/// A worker whose constructor takes `ms` milliseconds.
class slow_start : public concurry::worker<slow_start> {
public:
  explicit slow_start(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds{ms}); }
  int ok() { return 1; }
};
CONCURRY_WORKER(slow_start, (int), ok)

/// The live (not zombie) child processes of this process, from /proc.
int live_children() {
  int count = 0;
  auto me = ::getpid();
  DIR* dir = ::opendir("/proc");
  if (!dir)
    return -1;
  while (auto* entry = ::readdir(dir)) {
    std::string name = entry->d_name;
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos)
      continue;
    std::ifstream stat{"/proc/" + name + "/stat"};
    std::string line;
    if (!std::getline(stat, line))
      continue;
    // pid (comm) state ppid ...; comm may hold spaces, so read after the last ')'.
    auto close = line.rfind(')');
    if (close == std::string::npos || close + 4 >= line.size())
      continue;
    char state = line[close + 2];
    int ppid = std::atoi(line.c_str() + close + 4);
    if (ppid == me && state != 'Z')
      ++count;
  }
  ::closedir(dir);
  return count;
}

/// The most intervals [born, ended] that overlap at one instant.
int most_overlapping(const std::vector<stamp>& stamps) {
  std::vector<std::pair<std::int64_t, int>> edges;
  for (auto& [pid, born, ended, value] : stamps) {
    edges.emplace_back(born, +1);
    edges.emplace_back(ended, -1);
  }
  std::sort(edges.begin(), edges.end()); // at one instant, an end (-1) sorts before a start
  int now = 0;
  int most = 0;
  for (auto& [at, step] : edges)
    most = std::max(most, now += step);
  return most;
}

std::string marker_path() {
  return "/tmp/concurry-on-demand-crash-" + std::to_string(::getpid()) + "-" +
         std::to_string(now_ns());
}

using concurry_test::eventually;

} // namespace process_on_demand_test

using namespace process_on_demand_test;

TEST_CASE("process on-demand workers: a fresh process per call, at most max_workers alive") {
  auto pool =
      short_lived::options().mode(concurry::mode::process).on_demand().max_workers(2).init(false);
  // Samples the worker processes alive, from the client's side, while the calls run.
  std::atomic<bool> sampling{true};
  std::atomic<int> most_alive{0};
  std::thread sampler{[&] {
    for (int i = 0; i < 30'000 && sampling.load(); ++i) {
      most_alive.store(std::max(most_alive.load(), live_children()));
      std::this_thread::sleep_for(1ms);
    }
  }};
  // Joined also when a call throws, so that the test reports the exception.
  struct join_sampler {
    std::atomic<bool>& sampling;
    std::thread& sampler;
    ~join_sampler() {
      sampling = false;
      if (sampler.joinable())
        sampler.join();
    }
  } joiner{sampling, sampler};
  auto started = std::chrono::steady_clock::now();
  std::vector<concurry::future<stamp>> futures;
  for (int i = 0; i < 10; ++i)
    futures.push_back(pool.call(&short_lived::work, i, 200));
  CHECK(std::chrono::steady_clock::now() - started < 150ms); // no call waited for a worker
  std::vector<stamp> stamps;
  for (int i = 0; i < 10; ++i) {
    stamps.push_back(futures[static_cast<std::size_t>(i)].result(60s));
    CHECK(std::get<3>(stamps.back()) == i);
  }
  CHECK(std::chrono::steady_clock::now() - started >= 950ms); // five rounds of two
  sampling = false;
  sampler.join();

  std::set<int> pids;
  for (auto& s : stamps)
    pids.insert(std::get<0>(s));
  CHECK(pids.size() == 10);
  CHECK(pids.count(static_cast<int>(::getpid())) == 0);
  CHECK(most_overlapping(stamps) <= 2);
  CHECK(most_alive.load() <= 2);
  CHECK(most_alive.load() >= 1);
  auto s = pool.stats();
  CHECK(s.on_demand);
  CHECK(s.mode == concurry::mode::process);
  CHECK(s.total_workers == 0);
  CHECK(s.max_workers == 2);
  CHECK(s.load_balancer.total_dispatched == 10);
  CHECK(s.on_demand_active <= 2);
  CHECK(eventually([&] { return pool.stats().on_demand_active == 0; }));
  CHECK(eventually([] { return live_children() == 0; }));
}

TEST_CASE("process on-demand workers see their own index; a constructor's exception fails the "
          "call") {
  auto pool =
      short_lived::options().mode(concurry::mode::process).on_demand().max_workers(1).init(false);
  CHECK(pool.call(&short_lived::index).result(30s) == 0);
  CHECK(pool.call(&short_lived::index).result(30s) == 1);

  auto refusing =
      short_lived::options().mode(concurry::mode::process).on_demand().max_workers(1).init(true);
  CHECK_THROWS_WITH_AS(refusing.call(&short_lived::work, 1, 0).result(30s),
                       "short_lived refuses to start",
                       std::runtime_error);
  // The slot came back: the next call gets a worker (which refuses again).
  CHECK_THROWS_AS(refusing.call(&short_lived::work, 2, 0).result(30s), std::runtime_error);
  CHECK(eventually([&] { return refusing.stats().on_demand_active == 0; }));
}

TEST_CASE("a process on-demand worker that dies fails its call, or retries on a fresh worker") {
  auto pool =
      short_lived::options().mode(concurry::mode::process).on_demand().max_workers(1).init(false);
  CHECK_THROWS_AS(pool.call(&short_lived::crash_once, marker_path()).result(30s),
                  concurry::worker_died);
  // The pool goes on with fresh workers.
  CHECK(std::get<3>(pool.call(&short_lived::work, 4, 0).result(30s)) == 4);

  auto retrying = short_lived::options()
                      .mode(concurry::mode::process)
                      .on_demand()
                      .max_workers(1)
                      .num_retries(1)
                      .retry_wait(1ms)
                      .init(false);
  auto marker = marker_path();
  auto pid = retrying.call(&short_lived::crash_once, marker).result(30s);
  CHECK(pid != static_cast<int>(::getpid()));
  std::remove(marker.c_str());
}

TEST_CASE("stopping a process on-demand pool runs waiting calls within the timeout, then fails "
          "the rest") {
  auto pool =
      short_lived::options().mode(concurry::mode::process).on_demand().max_workers(1).init(false);
  std::vector<concurry::future<stamp>> futures;
  for (int i = 0; i < 3; ++i)
    futures.push_back(pool.call(&short_lived::work, i, 20));
  pool.stop(30s);
  for (int i = 0; i < 3; ++i)
    CHECK(std::get<3>(futures[static_cast<std::size_t>(i)].result(1s)) == i);
  CHECK_THROWS_AS(pool.call(&short_lived::work, 9, 0).result(1s), concurry::stopped_error);

  auto short_stop =
      short_lived::options().mode(concurry::mode::process).on_demand().max_workers(1).init(false);
  auto running = short_stop.call(&short_lived::work, 1, 3000);
  auto waiting = short_stop.call(&short_lived::work, 2, 0);
  auto started = std::chrono::steady_clock::now();
  short_stop.stop(200ms);
  CHECK(std::chrono::steady_clock::now() - started < 2s);
  CHECK_THROWS_WITH_AS(waiting.result(1s),
                       doctest::Contains("before an on-demand worker was free"),
                       concurry::stopped_error);
  CHECK_THROWS_AS(running.result(5s), concurry::stopped_error);
}

// Takes 30 s: run with --no-skip.
TEST_CASE("a process on-demand worker not built within 30 s is killed and fails its call" *
          doctest::skip()) {
  auto pool =
      slow_start::options().mode(concurry::mode::process).on_demand().max_workers(1).init(60'000);
  auto started = std::chrono::steady_clock::now();
  CHECK_THROWS_WITH_AS(pool.call(&slow_start::ok).result(60s),
                       doctest::Contains("not built within 30 s"),
                       concurry::worker_died);
  CHECK(std::chrono::steady_clock::now() - started < 40s);
}
