#include "modes.hpp"
#include "test_workers.hpp"

#include <concurry/concurry.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <latch>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using concurry_test::counter;
using concurry_test::gate;
using concurry_test::sleeper;

namespace {

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

} // namespace

TEST_CASE_TEMPLATE("a pool of three round-robin workers gives each three of nine calls",
                   M,
                   CONCURRY_POOL_MODES) {
  auto pool = counter::options().mode(M::value).max_workers(3).load_balancing("rr").init();
  for (int i = 0; i < 9; ++i) {
    auto [worker, count] = pool.call(&counter::count, i).result();
    CHECK(worker == static_cast<std::size_t>(i % 3));
    CHECK(count == i / 3 + 1);
  }
  CHECK(pool.call(&counter::seen).result() == std::vector<int>{0, 3, 6});
  for (std::size_t w = 0; w < 3; ++w)
    CHECK(pool.worker_stats(w).total_calls == (w == 0 ? 4 : 3));
}

TEST_CASE_TEMPLATE("least_active keeps short calls off a busy worker", M, CONCURRY_POOL_MODES) {
  auto pool = sleeper::options().mode(M::value).max_workers(3).load_balancing("active").init();
  auto slow = pool.call(&sleeper::sleep_ms, 2000);
  auto t0 = clock_type::now();
  for (int i = 0; i < 10; ++i)
    CHECK(pool.call(&sleeper::sleep_ms, 100).result() != 0);
  CHECK(seconds_since(t0) < 1.8);
  CHECK(slow.result() == 0);
}

TEST_CASE_TEMPLATE("statistics after 100 least_active calls show 100 dispatched, none in flight",
                   M,
                   CONCURRY_POOL_MODES) {
  auto pool =
      sleeper::options().mode(M::value).max_workers(4).load_balancing("least_active").init();
  std::vector<concurry::future<int>> futures;
  for (int i = 0; i < 100; ++i)
    futures.push_back(pool.call(&sleeper::checked_double, i));
  for (auto& f : futures)
    f.result();
  auto s = pool.stats();
  CHECK(s.load_balancer.algorithm == concurry::load_balancing::least_active);
  CHECK(concurry::to_string(s.load_balancer.algorithm) == "LeastActiveLoad");
  CHECK(s.load_balancer.total_dispatched == 100);
  CHECK(s.load_balancer.total_active == 0);
  CHECK(s.load_balancer.active_calls.size() == 4);
  CHECK(s.total_workers == 4);
  CHECK(s.max_workers == 4);
  CHECK_FALSE(s.stopped);
  CHECK_FALSE(s.on_demand);
}

TEST_CASE_TEMPLATE("least_total gives every worker the same number of calls",
                   M,
                   CONCURRY_POOL_MODES) {
  auto pool = counter::options().mode(M::value).max_workers(4).load_balancing("total").init();
  for (int i = 0; i < 40; ++i)
    pool.call(&counter::count, i).result();
  auto s = pool.stats();
  CHECK(concurry::to_string(s.load_balancer.algorithm) == "LeastTotalLoad");
  CHECK(s.load_balancer.sum_total_calls == 40);
  for (std::size_t w = 0; w < 4; ++w)
    CHECK(s.load_balancer.total_calls.at(w) == 10);
}

TEST_CASE_TEMPLATE("random balancing reaches every worker", M, CONCURRY_POOL_MODES) {
  auto pool = counter::options().mode(M::value).max_workers(3).load_balancing("rand").init();
  std::set<std::size_t> used;
  for (int i = 0; i < 300; ++i)
    used.insert(pool.call(&counter::count, i).result().first);
  CHECK(used == std::set<std::size_t>{0, 1, 2});
  CHECK(concurry::to_string(pool.stats().load_balancer.algorithm) == "Random");
  CHECK(pool.stats().load_balancer.total_dispatched == 300);
}

TEST_CASE_TEMPLATE("bad inputs rethrow their type and the pool keeps working",
                   M,
                   CONCURRY_ALL_MODES) {
  auto pool = sleeper::options().mode(M::value).max_workers(1).init();
  std::vector<int> values{1, 2, -3, 4, -5};
  std::vector<concurry::future<int>> futures;
  for (int v : values)
    futures.push_back(pool.call(&sleeper::checked_double, v));
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (values[i] < 0)
      CHECK_THROWS_AS(futures[i].result(), std::invalid_argument);
    else
      CHECK(futures[i].result() == values[i] * 2);
  }
  CHECK(pool.call(&sleeper::checked_double, 7).result() == 14);
}

TEST_CASE_TEMPLATE("calls from one handle to one worker start in the order they were made",
                   M,
                   CONCURRY_ALL_MODES) {
  auto pool = counter::options().mode(M::value).max_workers(1).init();
  std::vector<int> expected;
  for (int i = 0; i < 2000; ++i) {
    (void)pool.call(&counter::count, i);
    expected.push_back(i);
  }
  CHECK(pool.call(&counter::seen).result() == expected);
}

TEST_CASE_TEMPLATE("a blocking pool returns values from call", M, CONCURRY_ALL_MODES) {
  auto pool = sleeper::options().mode(M::value).max_workers(1).blocking().init();
  int doubled = pool.call(&sleeper::checked_double, 5);
  CHECK(doubled == 10);
  CHECK_THROWS_AS(pool.call(&sleeper::checked_double, -1), std::invalid_argument);
}

TEST_CASE_TEMPLATE("a stopped pool fails new calls with a clear error, also through handles",
                   M,
                   CONCURRY_ALL_MODES) {
  auto pool = sleeper::options().mode(M::value).max_workers(1).init();
  concurry::handle<sleeper> h = pool.ref();
  CHECK(h.call(&sleeper::checked_double, 1).result() == 2);
  pool.stop();
  pool.stop();
  CHECK(pool.is_stopped());
  CHECK(h.is_stopped());
  CHECK_THROWS_AS(h.call(&sleeper::checked_double, 1).result(), concurry::stopped_error);
  CHECK_THROWS_WITH(pool.call(&sleeper::checked_double, 1).result(),
                    doctest::Contains("is stopped"));
  CHECK(pool.stats().stopped);
}

TEST_CASE_TEMPLATE("a handle outlives its pool and then fails its calls", M, CONCURRY_ALL_MODES) {
  concurry::handle<sleeper> h;
  {
    auto pool = sleeper::options().mode(M::value).max_workers(1).init();
    h = pool.ref();
  }
  CHECK_THROWS_AS(h.call(&sleeper::checked_double, 1).result(), concurry::stopped_error);
}

TEST_CASE_TEMPLATE("stopping a pool that owns nothing is a clear error", M, CONCURRY_POOL_MODES) {
  concurry::pool<sleeper> empty;
  CHECK_THROWS_AS(empty.stop(), concurry::error);
  auto pool = sleeper::options().mode(M::value).max_workers(1).init();
  auto moved = std::move(pool);
  CHECK_THROWS_AS(pool.stop(), concurry::error);
  moved.stop();
}

TEST_CASE("a sync pool runs the call inline and its future is done on return") {
  auto pool = counter::options().mode(concurry::mode::sync).init();
  auto f = pool.call(&counter::count, 0);
  CHECK(f.done());
  CHECK(f.result().second == 1);
  CHECK(pool.stats().total_workers == 1);
  CHECK(pool.stats().mode == concurry::mode::sync);
}

TEST_CASE("sync mode with max_workers other than 1 is a clear error") {
  CHECK_THROWS_WITH_AS(counter::options().mode("sync").max_workers(2).init(),
                       doctest::Contains("max_workers must be 1"),
                       concurry::config_error);
}

TEST_CASE_TEMPLATE(
    "a pool has 24 workers in thread mode and 4 in process mode unless told otherwise",
    M,
    concurry_test::thread_mode,
    concurry_test::process_mode) {
  const std::size_t expected = M::value == concurry::mode::thread ? 24 : 4;
  auto pool = counter::options().mode(M::value).init();
  CHECK(pool.stats().total_workers == expected);
  CHECK(pool.stats().max_workers == expected);
}

TEST_CASE("an unknown load balancer or mode name lists the valid ones") {
  CHECK_THROWS_WITH_AS((void)counter::options().load_balancing("fastest"),
                       doctest::Contains("round_robin, rr, active"),
                       concurry::config_error);
  CHECK_THROWS_WITH_AS((void)counter::options().mode("fibers"),
                       doctest::Contains("sync, synchronous"),
                       concurry::config_error);
  CHECK(concurry::parse_load_balancing("LEAST_ACTIVE") == concurry::load_balancing::least_active);
}

TEST_CASE("a local-only worker asked for process mode fails at init") {
  CHECK_THROWS_WITH_AS(gate::options().mode(concurry::mode::process).max_workers(2).init(),
                       doctest::Contains("CONCURRY_LOCAL_WORKER"),
                       concurry::config_error);
}

TEST_CASE_TEMPLATE("worker_stats past the last worker is out of range", M, CONCURRY_POOL_MODES) {
  auto pool = counter::options().mode(M::value).max_workers(2).init();
  CHECK(pool.worker_stats(1).worker_id == 1);
  CHECK_THROWS_AS((void)pool.worker_stats(2), std::out_of_range);
}

TEST_CASE("a method that blocks holds up only its own worker") {
  auto pool = gate::options().max_workers(2).init();
  std::latch started{1};
  std::latch release{1};
  auto blocked = pool.call(&gate::hold, &started, &release);
  started.wait();
  std::latch other_started{1};
  std::latch other_release{0};
  CHECK(pool.call(&gate::hold, &other_started, &other_release).result(10s) == 1);
  release.count_down();
  CHECK(blocked.result() == 0);
}

namespace {

class fragile : public concurry::worker<fragile> {
public:
  explicit fragile(int fail_at) {
    if (static_cast<int>(worker_index()) == fail_at)
      throw std::length_error{"worker " + std::to_string(fail_at) + " refused to start"};
  }
  int ok() { return 1; }
};
CONCURRY_WORKER(fragile, (int), ok)

} // namespace

TEST_CASE_TEMPLATE("a worker constructor that throws makes init rethrow its exception",
                   M,
                   CONCURRY_POOL_MODES) {
  CHECK_THROWS_WITH_AS((void)fragile::options().mode(M::value).max_workers(3).init(2),
                       "worker 2 refused to start",
                       std::length_error);
  CHECK(fragile::options().mode(M::value).max_workers(3).init(7).call(&fragile::ok).result() == 1);
}

TEST_CASE_TEMPLATE("stopping a pool whose worker sleeps for an hour returns at the timeout",
                   M,
                   CONCURRY_POOL_MODES) {
  auto pool = sleeper::options().mode(M::value).max_workers(1).init();
  auto stuck = pool.call(&sleeper::sleep_ms, 3'600'000);
  auto queued = pool.call(&sleeper::checked_double, 1);
  auto t0 = clock_type::now();
  pool.stop(1s);
  auto took = seconds_since(t0);
  CHECK(took >= 0.9);
  CHECK(took < 5.0);
  CHECK_THROWS_WITH_AS(stuck.result(),
                       doctest::Contains("stopped before the call finished"),
                       concurry::stopped_error);
  CHECK_THROWS_AS(queued.result(), concurry::stopped_error);
  CHECK(pool.worker_stats(0).stopped);
}

TEST_CASE_TEMPLATE("stop lets calls in flight finish within the timeout", M, CONCURRY_POOL_MODES) {
  auto pool = sleeper::options().mode(M::value).max_workers(2).init();
  std::vector<concurry::future<std::size_t>> calls;
  for (int i = 0; i < 6; ++i)
    calls.push_back(pool.call(&sleeper::sleep_ms, 50));
  pool.stop(10s);
  for (auto& f : calls)
    CHECK(f.result() < 2);
}

TEST_CASE_TEMPLATE("an exception unwinding the owner's scope stops every worker",
                   M,
                   CONCURRY_POOL_MODES) {
  concurry::handle<sleeper> h;
  concurry::future<std::size_t> stuck;
  auto t0 = clock_type::now();
  try {
    auto pool = sleeper::options().mode(M::value).max_workers(2).stop_timeout(500ms).init();
    h = pool.ref();
    stuck = pool.call(&sleeper::sleep_ms, 3'600'000);
    throw std::runtime_error{"leaving the scope"};
  } catch (const std::runtime_error&) {
  }
  CHECK(seconds_since(t0) < 5.0);
  CHECK(h.is_stopped());
  CHECK_THROWS_AS(stuck.result(), concurry::stopped_error);
}

namespace {

/// Holds a handle to another pool and calls through it: handles travel into workers.
class forwarder : public concurry::worker<forwarder> {
public:
  int forward(concurry::handle<sleeper> target, int value) {
    return target.call(&sleeper::checked_double, value).result() + 1;
  }
};
CONCURRY_LOCAL_WORKER(forwarder, (), forward)

/// Owns a pool of its own, built in its constructor and stopped by its destructor.
class coordinator : public concurry::worker<coordinator> {
public:
  coordinator() : inner_{counter::options().max_workers(3).init()} {}
  std::vector<std::size_t> spread(int n) {
    std::vector<concurry::future<std::pair<std::size_t, int>>> futures;
    for (int i = 0; i < n; ++i)
      futures.push_back(inner_.call(&counter::count, i));
    std::vector<std::size_t> workers;
    for (auto& f : futures)
      workers.push_back(f.result().first);
    return workers;
  }

private:
  concurry::pool<counter> inner_;
};
CONCURRY_WORKER(coordinator, (), spread)

} // namespace

TEST_CASE("a handle passed into another pool's worker makes calls from there") {
  auto targets = sleeper::options().max_workers(2).init();
  auto forwarders = forwarder::options().max_workers(2).init();
  CHECK(forwarders.call(&forwarder::forward, targets.ref(), 20).result() == 41);
}

TEST_CASE_TEMPLATE("a pool can live inside a worker", M, CONCURRY_POOL_MODES) {
  auto outer = coordinator::options().mode(M::value).max_workers(2).init();
  CHECK(outer.call(&coordinator::spread, 6).result() == std::vector<std::size_t>{0, 1, 2, 0, 1, 2});
}

TEST_CASE_TEMPLATE("concurrent callers from many threads all get their results",
                   M,
                   CONCURRY_POOL_MODES) {
  auto pool = sleeper::options().mode(M::value).max_workers(4).load_balancing("active").init();
  std::vector<std::thread> callers;
  std::atomic<int> correct{0};
  for (int t = 0; t < 8; ++t)
    callers.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i)
        if (pool.call(&sleeper::checked_double, t * 1000 + i).result() == 2 * (t * 1000 + i))
          correct.fetch_add(1);
    });
  for (auto& c : callers)
    c.join();
  CHECK(correct.load() == 4000);
  CHECK(pool.stats().load_balancer.total_dispatched == 4000);
}

namespace {

/// Calls its own pool from inside a method, and stops it from inside another.
class self_caller : public concurry::worker<self_caller> {
public:
  int depth(concurry::handle<self_caller> self, int n) {
    return n == 0 ? 0 : 1 + self.call(&self_caller::depth, self, n - 1).result();
  }
  int stop_own_pool(concurry::handle<self_caller> self) {
    stopper_ = std::move(self);
    // NOTE: the handle's pool is this worker's own; stopping it must not wait for this call.
    stop_from_inside();
    return 7;
  }

private:
  void stop_from_inside();
  concurry::handle<self_caller> stopper_;
};
CONCURRY_LOCAL_WORKER(self_caller, (), depth, stop_own_pool)

/// Returns a reference to a member of its own.
class named : public concurry::worker<named> {
public:
  const std::string& name() const { return name_; }

private:
  std::string name_ = "self";
};
CONCURRY_WORKER(named, (), name)

/// A pool that stops itself through the handle it was given.
struct owner_slot {
  static inline concurry::pool<self_caller>* pool = nullptr;
};

void self_caller::stop_from_inside() {
  owner_slot::pool->stop(std::chrono::seconds{10});
}

} // namespace

TEST_CASE("a sync worker that calls its own pool runs the nested call inline") {
  auto pool = self_caller::options().mode(concurry::mode::sync).init();
  CHECK(pool.call(&self_caller::depth, pool.ref(), 3).result() == 3);
}

TEST_CASE_TEMPLATE("a worker that stops its own pool finishes its call without waiting for itself",
                   M,
                   CONCURRY_LOCAL_MODES) {
  auto pool = self_caller::options().mode(M::value).max_workers(1).init();
  owner_slot::pool = &pool;
  auto t0 = clock_type::now();
  CHECK(pool.call(&self_caller::stop_own_pool, pool.ref()).result(5s) == 7);
  CHECK(seconds_since(t0) < 4.0);
  CHECK(pool.is_stopped());
  owner_slot::pool = nullptr;
}

TEST_CASE_TEMPLATE("a method that returns a reference gives the caller a copy",
                   M,
                   CONCURRY_ALL_MODES) {
  auto pool = named::options().mode(M::value).max_workers(1).init();
  concurry::future<std::string> f = pool.call(&named::name);
  CHECK(f.result() == "self");
}

TEST_CASE_TEMPLATE(
    "timeouts too large for nanoseconds mean no deadline, and negative stop timeouts fail",
    M,
    CONCURRY_POOL_MODES) {
  auto pool = sleeper::options().mode(M::value).max_workers(1).init();
  auto f = pool.call(&sleeper::sleep_ms, 50);
  CHECK(f.result(std::chrono::hours::max()) == 0);
  CHECK(f.wait_for(std::chrono::seconds::max()));
  CHECK_THROWS_AS((void)sleeper::options().stop_timeout(-1s), concurry::config_error);
  CHECK_THROWS_AS(pool.stop(-1s), concurry::config_error);
  pool.stop(std::chrono::hours::max());
  CHECK(pool.is_stopped());
}

TEST_CASE_TEMPLATE("broadcast calls a method once on every worker", M, CONCURRY_ALL_MODES) {
  const std::size_t n =
      (M::value == concurry::mode::sync || M::value == concurry::mode::asyncio) ? 1 : 3;
  auto pool = counter::options().mode(M::value).max_workers(n).init();
  auto futures = pool.broadcast(&counter::count, 7);
  REQUIRE(futures.size() == n);
  for (std::size_t i = 0; i < n; ++i)
    CHECK(futures[i].result() == std::pair<std::size_t, int>{i, 1});
  auto blocking = counter::options().mode(M::value).max_workers(n).blocking().init();
  CHECK(blocking.broadcast(&counter::index).size() == n);
  pool.stop();
  for (auto& f : pool.broadcast(&counter::count, 8))
    CHECK_THROWS_AS(f.result(), concurry::stopped_error);
}

TEST_CASE_TEMPLATE(
    "the last owner of a pool released in a done callback does not hold up its worker",
    M,
    CONCURRY_POOL_MODES) {
  auto owner = std::make_shared<concurry::pool<sleeper>>(sleeper::options()
                                                             .mode(M::value)
                                                             .max_workers(1)
                                                             .stop_timeout(std::chrono::seconds{3})
                                                             .init());
  std::atomic<bool> released{false};
  auto started = std::chrono::steady_clock::now();
  auto f = owner->call(&sleeper::sleep_ms, 10);
  f.add_done_callback([owner, &released](const concurry::future<std::size_t>&) mutable {
    owner.reset();
    released = true;
  });
  owner.reset();
  CHECK(f.result(std::chrono::seconds{5}) == 0);
  for (int i = 0; i < 200 && !released; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  CHECK(released.load());
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds{2});
}
