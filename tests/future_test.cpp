#include "modes.hpp"
#include "test_workers.hpp"

#include <concurry/concurry.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <latch>
#include <stdexcept>
#include <thread>

using namespace std::chrono_literals;
using concurry_test::sleeper;

namespace {

concurry::pool<sleeper> two_sleepers(concurry::mode mode) {
  return sleeper::options().mode(mode).max_workers(2).init();
}

} // namespace

TEST_CASE_TEMPLATE("a future's result can be read again and from copies", M, CONCURRY_POOL_MODES) {
  auto pool = two_sleepers(M::value);
  auto f = pool.call(&sleeper::checked_double, 21);
  auto copy = f;
  CHECK(f.result() == 42);
  CHECK(f.result() == 42);
  CHECK(copy.result() == 42);
  CHECK(copy.done());
}

TEST_CASE_TEMPLATE("result with a timeout throws timeout_error and leaves the future usable",
                   M,
                   CONCURRY_POOL_MODES) {
  auto pool = two_sleepers(M::value);
  auto f = pool.call(&sleeper::sleep_ms, 2000);
  auto t0 = std::chrono::steady_clock::now();
  CHECK_THROWS_AS(f.result(500ms), concurry::timeout_error);
  auto waited = std::chrono::steady_clock::now() - t0;
  CHECK(waited >= 450ms);
  CHECK(waited < 1900ms);
  CHECK_FALSE(f.done());
  CHECK(f.result() < 2);
  CHECK(f.done());
}

TEST_CASE_TEMPLATE("a method's exception is rethrown with its original type",
                   M,
                   CONCURRY_POOL_MODES) {
  auto pool = two_sleepers(M::value);
  auto f = pool.call(&sleeper::checked_double, -3);
  CHECK_THROWS_AS(f.result(), std::invalid_argument);
  CHECK_THROWS_WITH(f.result(), "negative value not allowed: -3");
  auto e = f.exception();
  REQUIRE(e);
  CHECK_THROWS_AS(std::rethrow_exception(e), std::invalid_argument);
  CHECK_FALSE(pool.call(&sleeper::checked_double, 1).exception());
}

TEST_CASE_TEMPLATE("exception with a timeout throws timeout_error while the call runs",
                   M,
                   CONCURRY_POOL_MODES) {
  auto pool = two_sleepers(M::value);
  auto f = pool.call(&sleeper::sleep_ms, 300);
  CHECK_THROWS_AS((void)f.exception(10ms), concurry::timeout_error);
  CHECK_FALSE(f.exception());
}

TEST_CASE_TEMPLATE("a void method gives a future<void>", M, CONCURRY_POOL_MODES) {
  auto pool = two_sleepers(M::value);
  concurry::future<void> f = pool.call(&sleeper::nothing);
  f.result();
  CHECK(f.done());
  CHECK_FALSE(f.exception());
}

TEST_CASE("cancel stops a queued call and fails once the call runs") {
  auto pool = concurry_test::gate::options().max_workers(1).init();
  std::latch started{1};
  std::latch release{1};
  auto running = pool.call(&concurry_test::gate::hold, &started, &release);
  auto queued = pool.call(&concurry_test::gate::hold, &started, &release);
  started.wait();
  CHECK(running.running());
  CHECK_FALSE(running.cancel());
  CHECK(queued.cancel());
  CHECK(queued.cancelled());
  CHECK(queued.done());
  CHECK_THROWS_AS(queued.result(), concurry::cancelled_error);
  release.count_down();
  CHECK(running.result() == 0);
  CHECK_FALSE(running.cancel());
  pool.stop();
  CHECK(pool.worker_stats(0).active_calls == 0);
}

TEST_CASE_TEMPLATE("cancel stops a call held back by max_queued_tasks", M, CONCURRY_POOL_MODES) {
  // NOTE: in process mode a call counts as running once it went to its worker's host, so only
  // a call still waiting in the client (here behind max_queued_tasks) can be cancelled.
  auto pool = sleeper::options().mode(M::value).max_workers(1).max_queued_tasks(1).init();
  auto running = pool.call(&sleeper::sleep_ms, 300);
  auto queued = pool.call(&sleeper::checked_double, 1);
  // Bounded: at most 10 s for the first call to start on its worker.
  for (int i = 0; i < 1000 && !running.running(); ++i)
    std::this_thread::sleep_for(10ms);
  REQUIRE(running.running());
  CHECK_FALSE(running.cancel());
  CHECK(queued.cancel());
  CHECK(queued.cancelled());
  CHECK_THROWS_AS(queued.result(), concurry::cancelled_error);
  CHECK(running.result(10s) == 0);
  CHECK(pool.call(&sleeper::checked_double, 2).result(10s) == 4);
  pool.stop();
  CHECK(pool.worker_stats(0).active_calls == 0);
}

TEST_CASE_TEMPLATE("a done callback runs once, on completion or at once when already done",
                   M,
                   CONCURRY_POOL_MODES) {
  auto pool = two_sleepers(M::value);
  std::atomic<int> calls{0};
  std::latch fired{1};
  auto f = pool.call(&sleeper::sleep_ms, 50);
  f.add_done_callback([&](concurry::future<std::size_t> done) {
    CHECK(done.done());
    calls.fetch_add(1);
    fired.count_down();
  });
  fired.wait();
  f.result();
  int immediate = 0;
  f.add_done_callback([&](const concurry::future<std::size_t>&) { ++immediate; });
  CHECK(immediate == 1);
  CHECK(calls.load() == 1);
}

TEST_CASE_TEMPLATE("a callback that throws is dropped and the future stays good",
                   M,
                   CONCURRY_POOL_MODES) {
  auto pool = two_sleepers(M::value);
  auto f = pool.call(&sleeper::sleep_ms, 20);
  f.add_done_callback([](auto) { throw std::runtime_error{"callback failed"}; });
  CHECK(f.result() < 2);
  // Already done: the callback runs at once, and its exception still goes nowhere.
  CHECK_NOTHROW(f.add_done_callback([](auto) { throw std::runtime_error{"callback failed"}; }));
}

TEST_CASE("a default-constructed future is invalid and says so") {
  concurry::future<int> f;
  CHECK_FALSE(f.valid());
  CHECK_THROWS_AS(f.result(), concurry::error);
}
