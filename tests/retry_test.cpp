// Retries: attempts, backoff on the pool's clock, retry_on filters, retry_until validators,
// limits between attempts, per-method settings and stop during a backoff.
#include "intervals.hpp"
#include "modes.hpp"

#include <concurry/concurry.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

using namespace std::chrono_literals;
using concurry_test::interval;
using concurry_test::max_overlap;
using concurry_test::now_ns;

namespace {

class not_thrown : public std::exception {};

/// The clock flaky workers stamp their attempts with: the system clock, unless a test on virtual
/// time puts its manual clock here before it builds its pool. Only workers that share the test's
/// memory (sync and thread mode) see it; in a worker host it stays the system clock.
std::shared_ptr<concurry::clock>& stamp_clock() {
  static std::shared_ptr<concurry::clock> clock = concurry::system_clock();
  return clock;
}

/// Puts `clock` in stamp_clock() for its lifetime.
class stamping_with {
public:
  explicit stamping_with(std::shared_ptr<concurry::clock> clock) { stamp_clock() = clock; }
  stamping_with(const stamping_with&) = delete;
  stamping_with& operator=(const stamping_with&) = delete;
  ~stamping_with() { stamp_clock() = concurry::system_clock(); }
};

/// Fails the first `failures` attempts of each key, then answers with the attempt number.
class flaky : public concurry::worker<flaky> {
public:
  flaky() : clock_{stamp_clock()} {}

  int attempt(std::string key, int failures) {
    int n = ++attempts_[key];
    times_[key].push_back(clock_->now());
    if (n <= failures)
      throw std::runtime_error{key + ": attempt " + std::to_string(n) + " failed"};
    return n;
  }
  /// Returns the attempt number, never failing (for validators).
  int counted(std::string key) { return ++attempts_[key]; }
  int attempts(std::string key) { return attempts_[key]; }
  /// Seconds between consecutive attempts of `key`.
  std::vector<double> gaps(std::string key) {
    std::vector<double> out;
    auto& t = times_[key];
    for (std::size_t i = 1; i < t.size(); ++i)
      out.push_back(std::chrono::duration<double>(t[i] - t[i - 1]).count());
    return out;
  }

private:
  std::shared_ptr<concurry::clock> clock_;
  std::map<std::string, int> attempts_;
  std::map<std::string, std::vector<concurry::clock::time_point>> times_;
};
CONCURRY_WORKER(flaky, (), attempt, counted, attempts, gaps)

/// Holds a connection of the pool's resource limit, then fails the first two attempts.
/// Remembers when it held the connection: steady_clock is one clock for every process of the
/// machine, so the intervals of workers in different processes compare.
class holder : public concurry::worker<holder> {
public:
  int use(int id) {
    auto acq = limits().acquire({{"connections", 1}});
    auto from = now_ns();
    std::this_thread::sleep_for(5ms);
    held_.emplace_back(from, now_ns());
    if (++attempts_[id] < 3)
      throw std::runtime_error{"busy"};
    return attempts_[id];
  }
  std::vector<interval> held() const { return held_; }

private:
  std::map<int, int> attempts_;
  std::vector<interval> held_;
};
CONCURRY_WORKER(holder, (), use, held)

/// Takes a call of the pool's call limit, failing its first attempt.
class limited : public concurry::worker<limited> {
public:
  int once_more() {
    auto acq = limits().acquire();
    if (++attempts_ == 1)
      throw std::runtime_error{"first attempt"};
    return attempts_;
  }

private:
  int attempts_ = 0;
};
CONCURRY_WORKER(limited, (), once_more)

} // namespace

TEST_CASE_TEMPLATE("a call that fails twice succeeds on its third attempt", M, CONCURRY_ALL_MODES) {
  auto pool = flaky::options()
                  .mode(M::value)
                  .max_workers(1)
                  .num_retries(5)
                  .retry_wait(10ms)
                  .retry_jitter(0)
                  .init();
  auto f = pool.call(&flaky::attempt, std::string{"a"}, 2);
  CHECK(f.result(10s) == 3);
  CHECK(pool.call(&flaky::attempts, std::string{"a"}).result(10s) == 3);
  // Linear waits of 10 ms, 20 ms would differ from these: exponential 10 ms then 20 ms.
  auto gaps = pool.call(&flaky::gaps, std::string{"a"}).result(10s);
  REQUIRE(gaps.size() == 2);
  CHECK(gaps[0] >= 0.009);
  CHECK(gaps[1] >= 0.019);
}

TEST_CASE_TEMPLATE("when retries run out the caller gets the original exception of the last "
                   "attempt",
                   M,
                   CONCURRY_ALL_MODES) {
  auto pool = flaky::options().mode(M::value).max_workers(1).num_retries(2).retry_wait(1ms).init();
  auto f = pool.call(&flaky::attempt, std::string{"b"}, 5);
  CHECK_THROWS_WITH_AS(f.result(10s), "b: attempt 3 failed", std::runtime_error);
  CHECK(pool.call(&flaky::attempts, std::string{"b"}).result(10s) == 3);
}

TEST_CASE_TEMPLATE("an exception retry_on does not match fails at once", M, CONCURRY_ALL_MODES) {
  auto pool = flaky::options()
                  .mode(M::value)
                  .max_workers(1)
                  .num_retries(5)
                  .retry_wait(1ms)
                  .retry_on(concurry::exception_is<not_thrown, std::logic_error>)
                  .init();
  CHECK_THROWS_AS(pool.call(&flaky::attempt, std::string{"c"}, 1).result(10s), std::runtime_error);
  CHECK(pool.call(&flaky::attempts, std::string{"c"}).result(10s) == 1);

  // A base class matches its derived types.
  auto by_base = flaky::options()
                     .mode(M::value)
                     .max_workers(1)
                     .num_retries(5)
                     .retry_wait(1ms)
                     .template retry_on<std::exception>()
                     .init();
  CHECK(by_base.call(&flaky::attempt, std::string{"c"}, 1).result(10s) == 2);
}

TEST_CASE_TEMPLATE("a validator that never passes fails with every attempt's result",
                   M,
                   CONCURRY_ALL_MODES) {
  auto pool = flaky::options()
                  .mode(M::value)
                  .max_workers(1)
                  .num_retries(2)
                  .retry_wait(1ms)
                  .retry_until(&flaky::counted, [](int n) { return n > 100; })
                  .init();
  auto f = pool.call(&flaky::counted, std::string{"d"});
  try {
    f.result(10s);
    FAIL("no retry_validation_error");
  } catch (const concurry::retry_validation_error& e) {
    CHECK(e.attempts() == 3);
    CHECK(e.results<int>() == std::vector<int>{1, 2, 3});
    CHECK(e.method_name() == "counted");
    REQUIRE(e.reasons().size() == 3);
    CHECK(e.reasons()[2] == "validator 1 of 1 returned false on attempt 3");
  }
}

TEST_CASE_TEMPLATE("a validator that passes on a later attempt returns that attempt's result",
                   M,
                   CONCURRY_POOL_MODES) {
  auto pool = flaky::options()
                  .mode(M::value)
                  .max_workers(1)
                  .num_retries(5)
                  .retry_wait(1ms)
                  .retry_until([](int n, const concurry::retry_context& c) {
                    return n >= 3 && c.attempt == 3 && c.method_name == "counted";
                  })
                  .init();
  CHECK(pool.call(&flaky::counted, std::string{"e"}).result(10s) == 3);
  // The pool-wide validator took int results only; `gaps` returns a vector and has none.
  CHECK(pool.call(&flaky::gaps, std::string{"e"}).result(10s).empty());
}

TEST_CASE("exponential waits with jitter stay under 1, 2, 4 and 8 s, on virtual time") {
  auto clock = std::make_shared<concurry::manual_clock>();
  stamping_with virtual_stamps{clock};
  // Sync mode runs each attempt inside advance(), so the test sees every step.
  auto pool = flaky::options()
                  .mode(concurry::mode::sync)
                  .clock(clock)
                  .num_retries(4)
                  .retry_algorithm("exponential")
                  .retry_wait(1s)
                  .retry_jitter(1.0)
                  .init();
  auto f = pool.call(&flaky::attempt, std::string{"f"}, 100);
  for (int step = 0; step < 2000 && !f.done(); ++step)
    clock->advance(10ms);
  REQUIRE(f.done());
  CHECK_THROWS_AS(f.result(), std::runtime_error);
  auto gaps = pool.call(&flaky::gaps, std::string{"f"}).result();
  REQUIRE(gaps.size() == 4);
  const double bounds[] = {1, 2, 4, 8};
  for (std::size_t k = 0; k < 4; ++k) {
    CHECK(gaps[k] >= 0);
    CHECK(gaps[k] <= bounds[k] + 0.011); // the test advances in 10 ms steps
  }
}

TEST_CASE("without jitter the waits are exactly linear, exponential or fibonacci") {
  struct expectation {
    concurry::retry_algorithm algorithm;
    std::vector<double> gaps;
  };
  for (auto& [algorithm, expected] :
       {expectation{concurry::retry_algorithm::linear, {1, 2, 3, 4, 5}},
        expectation{concurry::retry_algorithm::exponential, {1, 2, 4, 8, 16}},
        expectation{concurry::retry_algorithm::fibonacci, {1, 1, 2, 3, 5}}}) {
    CAPTURE(concurry::to_string(algorithm));
    auto clock = std::make_shared<concurry::manual_clock>();
    stamping_with virtual_stamps{clock};
    auto pool = flaky::options()
                    .mode(concurry::mode::sync)
                    .clock(clock)
                    .num_retries(5)
                    .retry_algorithm(algorithm)
                    .retry_wait(1s)
                    .retry_jitter(0)
                    .init();
    auto f = pool.call(&flaky::attempt, std::string{"g"}, 100);
    for (int step = 0; step < 100 && !f.done(); ++step)
      clock->advance(1s);
    REQUIRE(f.done());
    CHECK(pool.call(&flaky::gaps, std::string{"g"}).result() == expected);
  }
}

TEST_CASE_TEMPLATE("retries on virtual time wait for the clock", M, CONCURRY_POOL_MODES) {
  auto clock = std::make_shared<concurry::manual_clock>();
  auto pool = flaky::options()
                  .mode(M::value)
                  .max_workers(1)
                  .clock(clock)
                  .num_retries(1)
                  .retry_wait(1h)
                  .retry_jitter(0)
                  .init();
  auto f = pool.call(&flaky::attempt, std::string{"h"}, 1);
  // Until the clock moves an hour, the second attempt does not run.
  CHECK_FALSE(f.wait_for(100ms));
  clock->advance(59min);
  CHECK_FALSE(f.wait_for(50ms));
  clock->advance(1min);
  CHECK(f.result(10s) == 2);
}

TEST_CASE_TEMPLATE(
    "a retry filter sees the method, the attempt, the exception and the time elapsed",
    M,
    CONCURRY_ALL_MODES) {
  std::vector<std::string> seen;
  auto pool = flaky::options()
                  .mode(M::value)
                  .num_retries(3)
                  .retry_wait(0ms)
                  .retry_on([&seen](const concurry::retry_context& c) {
                    seen.push_back(std::string{c.worker_name} + "." + std::string{c.method_name} +
                                   " " + std::to_string(c.attempt) + "/" +
                                   std::to_string(c.max_attempts) + " " + c.message());
                    CHECK(c.elapsed >= 0ns);
                    return c.exception_as<std::runtime_error>() != nullptr && c.attempt < 2;
                  })
                  .init();
  auto f = pool.call(&flaky::attempt, std::string{"i"}, 5);
  CHECK_THROWS_WITH(f.result(10s), "i: attempt 2 failed");
  CHECK(seen == std::vector<std::string>{"flaky.attempt 1/4 i: attempt 1 failed",
                                         "flaky.attempt 2/4 i: attempt 2 failed"});
}

TEST_CASE_TEMPLATE("retry settings per method override the pool-wide ones",
                   M,
                   CONCURRY_POOL_MODES) {
  auto pool = flaky::options()
                  .mode(M::value)
                  .max_workers(1)
                  .num_retries(0)
                  .num_retries(&flaky::attempt, 3)
                  .retry_wait(1ms)
                  .init();
  CHECK(pool.call(&flaky::attempt, std::string{"j"}, 3).result(10s) == 4);

  auto only_other = flaky::options()
                        .mode(M::value)
                        .max_workers(1)
                        .num_retries(3)
                        .num_retries(&flaky::attempt, 0)
                        .retry_wait(1ms)
                        .init();
  CHECK_THROWS_AS(only_other.call(&flaky::attempt, std::string{"k"}, 1).result(10s),
                  std::runtime_error);
}

TEST_CASE_TEMPLATE("a resource limit is released between attempts", M, CONCURRY_POOL_MODES) {
  auto pool = holder::options()
                  .mode(M::value)
                  .max_workers(4)
                  .num_retries(5)
                  .retry_wait(1ms)
                  .limits({concurry::resource_limit{"connections", 1}})
                  .init();
  std::vector<concurry::future<int>> futures;
  for (int id = 0; id < 8; ++id)
    futures.push_back(pool.call(&holder::use, id));
  for (auto& f : futures)
    CHECK(f.result(30s) == 3);
  std::vector<interval> held;
  for (auto& f : pool.broadcast(&holder::held))
    for (auto& i : f.result(30s))
      held.push_back(i);
  CHECK(held.size() == 24);
  CHECK(max_overlap(held) == 1);
}

TEST_CASE_TEMPLATE("a stop during the backoff fails the waiting call with stopped_error",
                   M,
                   CONCURRY_ALL_MODES) {
  auto clock = std::make_shared<concurry::manual_clock>();
  auto pool = flaky::options()
                  .mode(M::value)
                  .max_workers(1)
                  .clock(clock)
                  .num_retries(3)
                  .retry_wait(1h)
                  .init();
  auto f = pool.call(&flaky::attempt, std::string{"l"}, 5);
  CHECK_FALSE(f.wait_for(50ms));
  auto started = std::chrono::steady_clock::now();
  pool.stop(30s);
  CHECK(std::chrono::steady_clock::now() - started < 10s);
  CHECK_THROWS_AS(f.result(1s), concurry::stopped_error);
  clock->advance(2h); // the cancelled timer does nothing
}

TEST_CASE("invalid retry options are refused with a clear message") {
  auto b = flaky::options();
  CHECK_THROWS_WITH_AS(b.retry_jitter(1.5),
                       doctest::Contains("retry_jitter must be between 0 and 1"),
                       concurry::config_error);
  CHECK_THROWS_AS(b.retry_wait(-1s), concurry::config_error);
  CHECK_THROWS_AS(b.retry_algorithm("quadratic"), concurry::config_error);
  CHECK_THROWS_AS(b.num_retries(5'000'000), concurry::config_error);
  CHECK(concurry::parse_retry_algorithm("FIB") == concurry::retry_algorithm::fibonacci);
}

TEST_CASE("backoff arithmetic saturates instead of overflowing") {
  using concurry::retry_algorithm;
  CHECK(concurry::retry_backoff(retry_algorithm::exponential, 1s, 4) == 8s);
  CHECK(concurry::retry_backoff(retry_algorithm::fibonacci, 1s, 6) == 8s);
  CHECK(concurry::retry_backoff(retry_algorithm::linear, 1s, 3) == 3s);
  CHECK(concurry::retry_backoff(retry_algorithm::exponential, 1s, 200) ==
        std::chrono::nanoseconds::max());
  CHECK(concurry::retry_backoff(retry_algorithm::fibonacci, 1s, 500) ==
        std::chrono::nanoseconds::max());
}

TEST_CASE_TEMPLATE("every attempt counts against a call limit, and may wait for it",
                   M,
                   CONCURRY_ALL_MODES) {
  // One call per 300 ms: the second attempt waits for the limit's window, which the system
  // clock's timer thread ends; a sync-mode retry must not run on that thread.
  auto pool = limited::options()
                  .mode(M::value)
                  .max_workers(1)
                  .num_retries(1)
                  .retry_wait(1ms)
                  .limits({concurry::call_limit{300ms, 1}})
                  .init();
  auto started = std::chrono::steady_clock::now();
  CHECK(pool.call(&limited::once_more).result(10s) == 2);
  CHECK(std::chrono::steady_clock::now() - started >= 250ms);
  REQUIRE(pool.stats().limits.size() == 1);
}

TEST_CASE_TEMPLATE("retry_validation_error counts the attempts that threw as well",
                   M,
                   CONCURRY_POOL_MODES) {
  // Attempt 1 throws, attempts 2 and 3 return results the validator rejects.
  auto pool = flaky::options()
                  .mode(M::value)
                  .max_workers(1)
                  .num_retries(2)
                  .retry_wait(1ms)
                  .retry_until(&flaky::attempt, [](int n) { return n > 100; })
                  .init();
  try {
    pool.call(&flaky::attempt, std::string{"m"}, 1).result(10s);
    FAIL("no retry_validation_error");
  } catch (const concurry::retry_validation_error& e) {
    CHECK(e.attempts() == 3);
    CHECK(e.results<int>() == std::vector<int>{2, 3});
    CHECK(std::string{e.what()}.find("after 3 attempts") != std::string::npos);
  }
}

TEST_CASE_TEMPLATE("a wait too long to represent means the retry waits for the stop",
                   M,
                   CONCURRY_POOL_MODES) {
  auto pool = flaky::options()
                  .mode(M::value)
                  .max_workers(1)
                  .num_retries(1)
                  .retry_wait(std::chrono::hours::max())
                  .retry_jitter(0)
                  .retry_algorithm(&flaky::attempt, "linear")
                  .init();
  auto f = pool.call(&flaky::attempt, std::string{"n"}, 1);
  CHECK_FALSE(f.wait_for(100ms));
  pool.stop(1s);
  CHECK_THROWS_AS(f.result(1s), concurry::stopped_error);
}
