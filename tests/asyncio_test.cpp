// Coroutine methods (concurry::task) and asyncio mode: one worker whose coroutines interleave on
// one event-loop thread, with its plain methods in order on a second thread.
#include "modes.hpp"

#include <concurry/concurry.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

std::uint64_t this_thread_id() {
  return std::hash<std::thread::id>{}(std::this_thread::get_id());
}

double seconds_since(clock_type::time_point start) {
  return std::chrono::duration<double>(clock_type::now() - start).count();
}

concurry::task<int> twice(int x) {
  co_await concurry::sleep(1ms);
  co_return 2 * x;
}

concurry::task<int> add_twice(int x, int y) {
  int a = co_await twice(x);
  int b = co_await twice(y);
  co_return a + b;
}

concurry::task<int> throws_after_sleep() {
  co_await concurry::sleep(1ms);
  throw std::invalid_argument{"bad input"};
}

concurry::task<void> nothing() {
  co_return;
}

// Ends without suspending, as a cache hit would.
concurry::task<int> at_once(int x) {
  co_return x;
}

concurry::task<std::pair<int, int>> braced() {
  co_return {1, 2};
}

concurry::task<int> heartbeat(std::atomic<int>& beats) {
  for (;;) {
    co_await concurry::sleep(5ms);
    beats.fetch_add(1);
  }
}

} // namespace

// A worker with coroutine and plain methods; every argument and result crosses processes.
class napper : public concurry::worker<napper> {
public:
  /// Sleeps `ms` on the loop; returns the thread it ran on.
  concurry::task<std::uint64_t> nap(int ms) {
    co_await concurry::sleep(std::chrono::milliseconds{ms});
    co_return this_thread_id();
  }
  /// Sleeps, then returns `x`.
  concurry::task<int> echo_after(int x, int ms) {
    co_await concurry::sleep(std::chrono::milliseconds{ms});
    co_return x;
  }
  /// Sleeps, then throws.
  concurry::task<int> fail_after(int ms) {
    co_await concurry::sleep(std::chrono::milliseconds{ms});
    throw std::runtime_error{"failed after " + std::to_string(ms) + " ms"};
  }
  /// Sleeps in steps until cancelled; counts its steps.
  concurry::task<int> forever() {
    for (;;) {
      co_await concurry::sleep(5ms);
      steps_.fetch_add(1);
    }
  }
  /// Holds one "slot" of the limits for `ms`.
  concurry::task<int> hold_slot(int id, int ms) {
    auto grant = co_await limits().acquire("slots", 1);
    co_await concurry::sleep(std::chrono::milliseconds{ms});
    co_return id;
  }
  /// Waits at most `timeout_ms` for a slot; 1 when it got one, 0 on timeout_error.
  concurry::task<int> try_slot(int timeout_ms) {
    concurry::amounts one{{"slots", 1}};
    try {
      auto grant = co_await limits().acquire(one, std::chrono::milliseconds{timeout_ms});
      co_return 1;
    } catch (const concurry::timeout_error&) {
      co_return 0;
    }
  }
  /// Acquires without co_await: a mistake concurry reports.
  concurry::task<int> forgets_to_await() {
    auto grant = limits().acquire("slots", 1);
    co_await concurry::sleep(1ms);
    co_return 0;
  }
  /// Fails its first `failures` attempts (counted per worker).
  concurry::task<int> flaky(int failures) {
    co_await concurry::sleep(1ms);
    if (attempts_.fetch_add(1) < failures)
      throw std::runtime_error{"flaky"};
    co_return attempts_.load();
  }
  /// Starts `n` sleeps of `ms` side by side with spawn; returns their sum of ids.
  concurry::task<int> fan_out(int n, int ms) {
    std::vector<concurry::future<int>> parts;
    for (int i = 0; i < n; ++i)
      parts.push_back(concurry::spawn(echo_after(i, ms)));
    int sum = 0;
    for (auto& p : parts)
      sum += co_await p;
    co_return sum;
  }
  /// Spawns `n` sleeps and gathers them.
  concurry::task<int> gathered(int n, int ms) {
    std::vector<concurry::future<int>> parts;
    for (int i = 0; i < n; ++i)
      parts.push_back(concurry::spawn(echo_after(i, ms)));
    auto values = co_await concurry::async_gather(std::move(parts));
    int sum = 0;
    for (int v : values)
      sum += v;
    co_return sum;
  }
  /// A helper coroutine awaited in place.
  concurry::task<int> nested(int x) { co_return co_await add_twice(x, x + 1); }
  concurry::task<void> touch() {
    co_await concurry::sleep(1ms);
    steps_.fetch_add(1);
  }

  /// Takes a slot in a plain function, as existing code would, from inside a coroutine.
  concurry::task<int> via_helper(int ms) { co_return hold_in_plain_code(ms); }
  /// Starts a task that never ends, and returns.
  concurry::task<int> start_heartbeat() {
    static_cast<void>(concurry::spawn(heartbeat(steps_)));
    co_return 0;
  }
  /// Awaits a task it spawned that never ends.
  concurry::task<int> awaits_spawned() { co_return co_await concurry::spawn(forever()); }
  /// Blocks on a task it spawned: a mistake concurry reports instead of hanging.
  concurry::task<int> blocks_on_spawned() {
    auto f = concurry::spawn(echo_after(5, 10));
    co_return f.result();
  }

  /// Plain methods: they run on the worker's second thread, in order.
  std::uint64_t plain_thread() { return this_thread_id(); }
  void block(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds{ms}); }
  int append(int x) {
    std::lock_guard guard{mutex_};
    order_.push_back(x);
    return x;
  }
  std::vector<int> order() {
    std::lock_guard guard{mutex_};
    return order_;
  }
  int steps() { return steps_.load(); }

private:
  // The most callers inside at once.
  int hold_in_plain_code(int ms) {
    auto grant = limits().acquire("slots", 1);
    int now = inside_.fetch_add(1) + 1;
    int seen = most_inside_.load();
    while (now > seen && !most_inside_.compare_exchange_weak(seen, now)) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{ms});
    inside_.fetch_sub(1);
    return most_inside_.load();
  }
  std::atomic<int> inside_{0};
  std::atomic<int> most_inside_{0};

  std::atomic<int> steps_{0};
  std::atomic<int> attempts_{0};
  std::mutex mutex_;
  std::vector<int> order_;
};
CONCURRY_WORKER(napper,
                (),
                nap,
                echo_after,
                fail_after,
                forever,
                hold_slot,
                try_slot,
                forgets_to_await,
                flaky,
                fan_out,
                gathered,
                via_helper,
                start_heartbeat,
                awaits_spawned,
                blocks_on_spawned,
                nested,
                touch,
                plain_thread,
                block,
                append,
                order,
                steps)

// A local worker whose coroutine awaits a future it is given.
class awaiter : public concurry::worker<awaiter> {
public:
  concurry::task<int> plus_one(concurry::future<int> f) { co_return co_await f + 1; }
};
CONCURRY_LOCAL_WORKER(awaiter, (), plus_one)

class doubler : public concurry::worker<doubler> {
public:
  int twice(int x) {
    std::this_thread::sleep_for(50ms);
    if (x < 0)
      throw std::domain_error{"negative"};
    return 2 * x;
  }
};
CONCURRY_WORKER(doubler, (), twice)

TEST_SUITE("coroutines") {

  TEST_CASE("run drives a task and its helpers to their end") {
    CHECK(concurry::run(twice(21)) == 42);
    CHECK(concurry::run(add_twice(1, 2)) == 6);
    concurry::run(nothing());
    CHECK_THROWS_AS(concurry::run(throws_after_sleep()), std::invalid_argument);
  }

  TEST_CASE("sleeps end in the order of their deadlines, side by side") {
    auto order = concurry::run([]() -> concurry::task<std::vector<int>> {
      std::vector<int> done;
      auto one = [&done](int ms) -> concurry::task<int> {
        co_await concurry::sleep(std::chrono::milliseconds{ms});
        done.push_back(ms);
        co_return ms;
      };
      auto start = clock_type::now();
      auto a = concurry::spawn(one(120));
      auto b = concurry::spawn(one(40));
      auto c = concurry::spawn(one(80));
      co_await a;
      co_await b;
      co_await c;
      CHECK(seconds_since(start) < 0.2 + 0.5); // together, not 0.24 s in a row
      co_return done;
    }());
    CHECK(order == std::vector<int>{40, 80, 120});
  }

  TEST_CASE("a long loop of awaits that end at once does not grow the stack") {
    auto sum = concurry::run([]() -> concurry::task<long> {
      long total = 0;
      for (int i = 0; i < 1'000'000; ++i)
        total += co_await at_once(1);
      co_return total;
    }());
    CHECK(sum == 1'000'000);
    CHECK(concurry::run(braced()) == std::pair<int, int>{1, 2});
  }

  TEST_CASE("a task awaited twice, or a default task, is a clear error") {
    CHECK_THROWS_WITH_AS(concurry::run([]() -> concurry::task<int> {
                           auto t = twice(1);
                           co_await t;
                           co_return co_await t;
                         }()),
                         doctest::Contains("awaited already"),
                         concurry::error);
    CHECK_THROWS_AS(concurry::run(concurry::task<int>{}), concurry::error);
  }

  TEST_CASE("sleep and spawn outside a coroutine that concurry runs are clear errors") {
    // A coroutine type of the test's own, resumed by hand: not concurry's loop.
    CHECK_THROWS_WITH_AS(
        (void)concurry::spawn(twice(1)), doctest::Contains("inside a coroutine"), concurry::error);
  }
}

TEST_SUITE("asyncio mode") {

  TEST_CASE("asyncio mode runs one worker: other max_workers, or on_demand, is a clear error") {
    CHECK_THROWS_WITH_AS(napper::options().mode(concurry::mode::asyncio).max_workers(2).init(),
                         doctest::Contains("exactly one worker"),
                         concurry::config_error);
    CHECK_THROWS_WITH_AS(napper::options().mode(concurry::mode::asyncio).on_demand().init(),
                         doctest::Contains("on-demand"),
                         concurry::config_error);
    auto pool = napper::options().mode("async").init();
    CHECK(pool.stats().mode == concurry::mode::asyncio);
    CHECK(pool.stats().total_workers == 1);
  }

  TEST_CASE("ten calls that each sleep 1 s finish together in about 1 s, on one thread") {
    auto pool = napper::options().mode(concurry::mode::asyncio).init();
    auto start = clock_type::now();
    std::vector<concurry::future<std::uint64_t>> naps;
    for (int i = 0; i < 10; ++i)
      naps.push_back(pool.call(&napper::nap, 1000));
    std::set<std::uint64_t> threads;
    for (auto& f : naps)
      threads.insert(f.result());
    auto took = seconds_since(start);
    CHECK(took >= 0.99);
    CHECK(took < 1.9); // ten in a row would take 10 s
    CHECK(threads.size() == 1);
    CHECK(*threads.begin() != this_thread_id());
  }

  TEST_CASE("plain methods run in order on a second thread; a blocking one never freezes the "
            "coroutines") {
    auto pool = napper::options().mode(concurry::mode::asyncio).init();
    auto loop_thread = pool.call(&napper::nap, 0).result();
    auto plain_thread = pool.call(&napper::plain_thread).result();
    CHECK(loop_thread != plain_thread);

    auto blocked = pool.call(&napper::block, 800);
    auto start = clock_type::now();
    CHECK(pool.call(&napper::echo_after, 7, 20).result() == 7);
    CHECK(seconds_since(start) < 0.6); // not behind the 0.8 s block
    CHECK_FALSE(blocked.done());

    std::vector<concurry::future<int>> appends;
    for (int i = 0; i < 50; ++i)
      appends.push_back(pool.call(&napper::append, i));
    concurry::wait(appends);
    std::vector<int> expected;
    for (int i = 0; i < 50; ++i)
      expected.push_back(i);
    CHECK(pool.call(&napper::order).result() == expected);
    blocked.result();
  }

  TEST_CASE("a coroutine's exception reaches the caller with its type") {
    auto pool = napper::options().mode(concurry::mode::asyncio).init();
    CHECK_THROWS_WITH_AS(
        pool.call(&napper::fail_after, 5).result(), "failed after 5 ms", std::runtime_error);
    CHECK(pool.call(&napper::nested, 3).result() == 14);
  }

  TEST_CASE("result with a timeout throws timeout_error and the call still finishes") {
    auto pool = napper::options().mode(concurry::mode::asyncio).init();
    auto f = pool.call(&napper::echo_after, 5, 300);
    CHECK_THROWS_AS(f.result(20ms), concurry::timeout_error);
    CHECK(f.result(5s) == 5);
  }

  TEST_CASE("co_await on a future of another pool gives its value or its exception") {
    auto doublers = doubler::options().mode(concurry::mode::thread).max_workers(2).init();
    auto pool = awaiter::options().mode(concurry::mode::asyncio).init();
    // The parameter is a future itself: the coroutine awaits it while others run.
    auto start = clock_type::now();
    std::vector<concurry::future<int>> results;
    for (int i = 0; i < 4; ++i)
      results.push_back(pool.call(&awaiter::plus_one, doublers.call(&doubler::twice, i)));
    for (int i = 0; i < 4; ++i)
      CHECK(results[static_cast<std::size_t>(i)].result() == 2 * i + 1);
    CHECK(seconds_since(start) < 2.0);
    CHECK_THROWS_AS(pool.call(&awaiter::plus_one, doublers.call(&doubler::twice, -1)).result(),
                    std::domain_error);
  }

  TEST_CASE("cancel stops a running coroutine at its next suspension point; the worker goes on") {
    auto pool = napper::options().mode(concurry::mode::asyncio).init();
    auto f = pool.call(&napper::forever);
    // Let it run a few steps.
    for (int i = 0; i < 200 && pool.call(&napper::steps).result() < 3; ++i)
      std::this_thread::sleep_for(5ms);
    CHECK(f.running());
    CHECK(f.cancel());
    CHECK(f.cancelled());
    CHECK_THROWS_AS(f.result(), concurry::cancelled_error);
    // The coroutine ended: its steps stop, and the worker's count of calls in flight drops.
    for (int i = 0; i < 200 && pool.worker_stats(0).active_calls > 0; ++i)
      std::this_thread::sleep_for(5ms);
    CHECK(pool.worker_stats(0).active_calls == 0);
    auto steps = pool.call(&napper::steps).result();
    std::this_thread::sleep_for(50ms);
    CHECK(pool.call(&napper::steps).result() == steps);
    CHECK(pool.call(&napper::echo_after, 3, 1).result() == 3);
    CHECK_FALSE(f.cancel()); // done already
  }

  TEST_CASE("a cancelled coroutine cancels what it awaits, as asyncio does") {
    auto pool = napper::options().mode(concurry::mode::asyncio).init();
    auto f = pool.call(&napper::awaits_spawned);
    for (int i = 0; i < 200 && pool.call(&napper::steps).result() < 3; ++i)
      std::this_thread::sleep_for(5ms);
    CHECK(f.cancel());
    std::this_thread::sleep_for(30ms);
    auto steps = pool.call(&napper::steps).result();
    std::this_thread::sleep_for(50ms);
    CHECK(pool.call(&napper::steps).result() == steps); // the spawned task stopped too

    auto doublers = doubler::options().mode(concurry::mode::thread).max_workers(1).init();
    std::vector<concurry::future<int>> ahead;
    for (int i = 0; i < 6; ++i)
      ahead.push_back(doublers.call(&doubler::twice, i)); // 0.3 s of work ahead
    auto queued = doublers.call(&doubler::twice, 100);
    auto awaiters = awaiter::options().mode(concurry::mode::asyncio).init();
    auto plus = awaiters.call(&awaiter::plus_one, queued);
    std::this_thread::sleep_for(30ms);
    CHECK(plus.cancel());
    concurry::wait(ahead);
    CHECK(queued.cancelled()); // it had not started: it never runs
  }

  TEST_CASE("co_await on limits suspends instead of blocking the loop") {
    auto pool = napper::options()
                    .mode(concurry::mode::asyncio)
                    .limits({concurry::resource_limit{"slots", 2}})
                    .init();
    auto start = clock_type::now();
    std::vector<concurry::future<int>> held;
    for (int i = 0; i < 6; ++i)
      held.push_back(pool.call(&napper::hold_slot, i, 200));
    // While they queue for the two slots, the loop serves other coroutines at once.
    auto quick_start = clock_type::now();
    CHECK(pool.call(&napper::echo_after, 1, 1).result() == 1);
    CHECK(seconds_since(quick_start) < 0.15);
    for (int i = 0; i < 6; ++i)
      CHECK(held[static_cast<std::size_t>(i)].result() == i);
    auto took = seconds_since(start);
    CHECK(took >= 0.59); // three rounds of two
    CHECK(took < 1.5);
    auto stats = pool.stats();
    REQUIRE(stats.limits.size() == 1);
    CHECK(stats.limits[0].limits[0].in_use == 0);
  }

  TEST_CASE("an acquisition with a timeout gives timeout_error at the co_await") {
    auto pool = napper::options()
                    .mode(concurry::mode::asyncio)
                    .limits({concurry::resource_limit{"slots", 1}})
                    .init();
    auto holder = pool.call(&napper::hold_slot, 1, 400);
    std::this_thread::sleep_for(50ms);
    auto start = clock_type::now();
    CHECK(pool.call(&napper::try_slot, 50).result() == 0);
    CHECK(seconds_since(start) < 0.3);
    CHECK(holder.result() == 1);
    CHECK(pool.call(&napper::try_slot, 50).result() == 1);
  }

  TEST_CASE("an acquisition that a coroutine does not co_await fails its call clearly") {
    auto pool = napper::options()
                    .mode(concurry::mode::asyncio)
                    .limits({concurry::resource_limit{"slots", 1}})
                    .init();
    // Free, the slot is granted at once: a plain acquire holds it, awaited or not.
    CHECK(pool.call(&napper::forgets_to_await).result() == 0);
    // Taken, the request cannot wait on the loop: the coroutine must co_await it.
    auto holder = pool.call(&napper::hold_slot, 1, 200);
    std::this_thread::sleep_for(30ms);
    CHECK_THROWS_WITH_AS(pool.call(&napper::forgets_to_await).result(),
                         doctest::Contains("co_await"),
                         concurry::error);
    CHECK(holder.result() == 1);
    // What it asked for is not held afterwards.
    CHECK(pool.call(&napper::hold_slot, 1, 1).result(2s) == 1);
  }

  TEST_CASE("cancelling a coroutine that waits for limits frees its place") {
    auto pool = napper::options()
                    .mode(concurry::mode::asyncio)
                    .limits({concurry::resource_limit{"slots", 1}})
                    .init();
    auto holder = pool.call(&napper::hold_slot, 1, 300);
    std::this_thread::sleep_for(50ms);
    auto waiter = pool.call(&napper::hold_slot, 2, 1);
    std::this_thread::sleep_for(50ms);
    CHECK(pool.stats().limits[0].waiting == 1);
    CHECK(waiter.cancel());
    // The request leaves the queue at once: it holds up nobody and takes nothing.
    for (int i = 0; i < 100 && pool.stats().limits[0].waiting > 0; ++i)
      std::this_thread::sleep_for(2ms);
    CHECK(pool.stats().limits[0].waiting == 0);
    CHECK_FALSE(holder.done());
    CHECK(holder.result() == 1);
    CHECK(pool.call(&napper::hold_slot, 3, 1).result(2s) == 3);
    for (int i = 0; i < 200 && pool.stats().limits[0].limits[0].in_use > 0; ++i)
      std::this_thread::sleep_for(5ms);
    CHECK(pool.stats().limits[0].limits[0].in_use == 0);
  }

  TEST_CASE("retries run a failed coroutine again and count in the statistics") {
    auto pool = napper::options()
                    .mode(concurry::mode::asyncio)
                    .num_retries(3)
                    .retry_wait(1ms)
                    .retry_jitter(0)
                    .init();
    CHECK(pool.call(&napper::flaky, 2).result() == 3);
    auto stats = pool.stats();
    CHECK(stats.load_balancer.total_dispatched == 1);
    CHECK(pool.worker_stats(0).active_calls == 0);
    CHECK(pool.worker_stats(0).total_calls == 1);
  }

  TEST_CASE("retry_until validates a coroutine's result") {
    std::atomic<int> seen{0};
    auto pool = napper::options()
                    .mode(concurry::mode::asyncio)
                    .num_retries(2)
                    .retry_wait(1ms)
                    .retry_until(&napper::echo_after,
                                 [&seen](const int& x) {
                                   seen.fetch_add(1);
                                   return x > 0;
                                 })
                    .init();
    CHECK(pool.call(&napper::echo_after, 4, 1).result() == 4);
    CHECK_THROWS_AS(pool.call(&napper::echo_after, -1, 1).result(),
                    concurry::retry_validation_error);
    CHECK(seen.load() == 4);
  }

  TEST_CASE("spawn runs tasks side by side inside one call") {
    auto pool = napper::options().mode(concurry::mode::asyncio).init();
    auto start = clock_type::now();
    CHECK(pool.call(&napper::fan_out, 100, 200).result() == 4950);
    CHECK(seconds_since(start) < 1.5); // 100 in a row would take 20 s
  }

  TEST_CASE("async_gather waits for futures without blocking the loop") {
    auto pool = napper::options().mode(concurry::mode::asyncio).init();
    auto start = clock_type::now();
    auto gathered = pool.call(&napper::gathered, 50, 200);
    CHECK(pool.call(&napper::echo_after, 1, 1).result() == 1); // the loop is free meanwhile
    CHECK(gathered.result() == 1225);
    CHECK(seconds_since(start) < 1.5);
    CHECK_THROWS_AS(concurry::run([]() -> concurry::task<int> {
                      std::vector<concurry::future<int>> parts;
                      parts.push_back(concurry::spawn(twice(1)));
                      parts.push_back(concurry::spawn(throws_after_sleep()));
                      auto values = co_await concurry::async_gather(parts);
                      co_return values[0];
                    }()),
                    std::invalid_argument);
  }

  TEST_CASE("a task spawned to run on in the background ends with the worker's stop") {
    auto pool = napper::options().mode(concurry::mode::asyncio).stop_timeout(10s).init();
    CHECK(pool.call(&napper::start_heartbeat).result() == 0);
    for (int i = 0; i < 200 && pool.call(&napper::steps).result() < 3; ++i)
      std::this_thread::sleep_for(5ms);
    auto start = clock_type::now();
    pool.stop();
    CHECK(seconds_since(start) < 2.0); // not the 10 s stop timeout
  }

  TEST_CASE("blocking on a spawned task inside a coroutine is a clear error, not a hang") {
    auto pool = napper::options().mode(concurry::mode::asyncio).init();
    CHECK_THROWS_WITH_AS(pool.call(&napper::blocks_on_spawned).result(5s),
                         doctest::Contains("co_await its future"),
                         concurry::error);
    CHECK(pool.call(&napper::echo_after, 2, 1).result(5s) == 2);
  }

  TEST_CASE("max_queued_tasks caps the coroutines in flight") {
    auto pool = napper::options().mode(concurry::mode::asyncio).max_queued_tasks(2).init();
    auto start = clock_type::now();
    std::vector<concurry::future<int>> calls;
    for (int i = 0; i < 6; ++i)
      calls.push_back(pool.call(&napper::echo_after, i, 150));
    concurry::wait(calls);
    CHECK(seconds_since(start) >= 0.44); // three rounds of two
  }

  TEST_CASE("stop lets running coroutines finish; a stop that times out fails the rest") {
    {
      auto pool = napper::options().mode(concurry::mode::asyncio).init();
      auto f = pool.call(&napper::echo_after, 9, 100);
      pool.stop();
      CHECK(f.result() == 9);
      CHECK_THROWS_AS(pool.call(&napper::echo_after, 1, 1).result(), concurry::stopped_error);
    }
    {
      auto pool = napper::options().mode(concurry::mode::asyncio).init();
      auto f = pool.call(&napper::forever);
      auto plain = pool.call(&napper::block, 2000);
      std::this_thread::sleep_for(20ms);
      auto start = clock_type::now();
      pool.stop(100ms);
      CHECK(seconds_since(start) < 1.5);
      CHECK_THROWS_AS(f.result(2s), concurry::stopped_error);
      CHECK_THROWS_AS(plain.result(2s), concurry::stopped_error);
    }
  }

  TEST_CASE("a coroutine worker with many calls in flight ends cleanly when its pool is dropped") {
    std::vector<concurry::future<int>> calls;
    {
      auto pool = napper::options().mode(concurry::mode::asyncio).stop_timeout(2s).init();
      for (int i = 0; i < 200; ++i)
        calls.push_back(pool.call(&napper::echo_after, i, 50));
    }
    for (int i = 0; i < 200; ++i)
      CHECK(calls[static_cast<std::size_t>(i)].result() == i);
  }
}

TEST_CASE_TEMPLATE("coroutine methods run to completion, one call at a time, in the other modes",
                   M,
                   concurry_test::sync_mode,
                   concurry_test::thread_mode,
                   concurry_test::process_mode,
                   concurry_test::cluster_mode) {
  auto pool = napper::options().mode(M::value).max_workers(1).init();
  auto start = clock_type::now();
  auto a = pool.call(&napper::echo_after, 1, 150);
  auto b = pool.call(&napper::echo_after, 2, 150);
  CHECK(a.result() == 1);
  CHECK(b.result() == 2);
  CHECK(seconds_since(start) >= 0.29); // one after the other, as the Python library runs them
  CHECK(pool.call(&napper::nested, 3).result() == 14);
  CHECK(pool.call(&napper::fan_out, 10, 20).result() == 45);
  CHECK_THROWS_AS(pool.call(&napper::fail_after, 1).result(), std::runtime_error);
  pool.call(&napper::touch).result();
  CHECK(pool.call(&napper::steps).result() == 1);
}

TEST_CASE_TEMPLATE("an acquire in plain code that a coroutine calls holds its limits",
                   M,
                   concurry_test::thread_mode,
                   concurry_test::process_mode) {
  auto pool = napper::options()
                  .mode(M::value)
                  .max_workers(3)
                  .limits({concurry::resource_limit{"slots", 1}})
                  .init();
  auto start = clock_type::now();
  std::vector<concurry::future<int>> calls;
  for (int i = 0; i < 6; ++i)
    calls.push_back(pool.call(&napper::via_helper, 100));
  concurry::wait(calls);
  for (auto& f : calls)
    CHECK(f.result() == 1);
  // One slot for three workers: one call after another (without it, two rounds of 0.1 s).
  CHECK(seconds_since(start) >= 0.59);
}

namespace {
concurry::task<int> slow_square(int x) {
  co_await concurry::sleep(50ms);
  co_return x* x;
}
} // namespace
CONCURRY_TASK(slow_square)

TEST_CASE("a task worker in asyncio mode interleaves submitted coroutine functions") {
  auto pool = concurry::task_worker::options().mode(concurry::mode::asyncio).init();
  auto start = clock_type::now();
  std::vector<concurry::future<int>> squares;
  for (int i = 0; i < 20; ++i)
    squares.push_back(pool.submit(
        [](int x) -> concurry::task<int> {
          co_await concurry::sleep(200ms);
          co_return x* x;
        },
        i));
  for (int i = 0; i < 20; ++i)
    CHECK(squares[static_cast<std::size_t>(i)].result() == i * i);
  CHECK(seconds_since(start) < 1.5); // 20 in a row would take 4 s
  auto mapped = concurry::gather(pool.map(&slow_square, std::vector<int>{1, 2, 3}));
  CHECK(mapped == std::vector<int>{1, 4, 9});
}

TEST_CASE_TEMPLATE("a coroutine function submitted to a task worker runs to completion",
                   M,
                   concurry_test::thread_mode,
                   concurry_test::process_mode) {
  auto pool = concurry::task_worker::options().mode(M::value).max_workers(2).init();
  CHECK(pool.submit(&slow_square, 7).result() == 49);
  auto flaky = concurry::task_worker::options()
                   .mode(M::value)
                   .max_workers(1)
                   .num_retries(2)
                   .retry_wait(1ms)
                   .init();
  CHECK(flaky.submit(&slow_square, 3).result() == 9);
}
