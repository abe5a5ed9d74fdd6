// Limits shared across processes: workers in worker hosts acquire through the client's limit
// actors, from the one state the client keeps. Each case that behaves alike in thread and process
// mode runs in both. Hold intervals are stamped with steady_clock, which is one clock for every
// process of the machine (CLOCK_MONOTONIC), so intervals from different children compare.
#include "modes.hpp"

#include "intervals.hpp"

#include <concurry/concurry.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <future>
#include <string>
#include <thread>
#include <unistd.h>
#include <utility>
#include <vector>

using namespace std::chrono_literals;

namespace process_limits_test {

using concurry_test::now_ns;

/// A worker that takes its pool's limits the ways a user's worker would.
class limit_taker : public concurry::worker<limit_taker> {
public:
  int pid() { return static_cast<int>(::getpid()); }

  /// Holds one unit of `key` for `ms`; returns when it held it (stamped inside the grant).
  std::pair<std::int64_t, std::int64_t> hold(std::string key, int ms) {
    auto acq = limits().acquire({{key, 1}});
    auto from = now_ns();
    std::this_thread::sleep_for(std::chrono::milliseconds{ms});
    return {from, now_ns()};
  }

  /// Takes the call limit once.
  int call() {
    auto acq = limits().acquire();
    return static_cast<int>(worker_index());
  }

  /// Asks for `requested` tokens, reports `used`, and releases.
  bool spend(double requested, double used) {
    auto acq = limits().acquire({{"tokens", requested}});
    acq.update({{"tokens", used}});
    return acq.successful();
  }

  /// Whether `amount` tokens can be had at once (kept if so).
  bool try_spend(double amount) {
    auto acq = limits().try_acquire({{"tokens", amount}});
    if (acq)
      acq.update({{"tokens", amount}});
    return acq.successful();
  }

  /// Acquires one unit of `key` and returns when it was granted.
  std::int64_t stamp_grant(std::string key) {
    auto acq = limits().acquire({{key, 1}});
    return now_ns();
  }

  /// Acquires one unit of `key`, then tries for another: once without waiting, once within
  /// `ms`. Returns {try succeeded, timed out}.
  std::pair<bool, bool> second_unit(std::string key, int ms) {
    auto first = limits().acquire({{key, 1}});
    bool tried = limits().try_acquire({{key, 1}}).successful();
    bool timed_out = false;
    try {
      auto second = limits().acquire({{key, 1}}, std::chrono::milliseconds{ms});
    } catch (const concurry::timeout_error&) {
      timed_out = true;
    }
    return {tried, timed_out};
  }

  /// Acquires one unit of `key` with acquire_async; returns whether the callback got it.
  bool async_grant(std::string key) {
    std::promise<bool> granted;
    limits().acquire_async(
        {{key, 1}}, std::nullopt, [&](concurry::acquisition a, std::exception_ptr e) {
          granted.set_value(!e && a.successful());
        });
    return granted.get_future().get();
  }

  /// Holds as many units of `key` as can be had at once, up to `most`; returns how many.
  int hold_all(std::string key, int most) {
    std::vector<concurry::acquisition> held;
    for (int i = 0; i < most; ++i) {
      auto a = limits().try_acquire({{key, 1}});
      if (!a)
        break;
      held.push_back(std::move(a));
    }
    return static_cast<int>(held.size());
  }

  /// Updates an acquisition of `key` with a usage the set refuses.
  bool bad_update(std::string key) {
    auto acq = limits().acquire({{key, 1}});
    acq.update({{"no_such_key", 1}});
    return true;
  }

  /// How this worker's limit pool picks: its load balancing and its round robin's offset.
  std::pair<std::string, std::size_t> pool_shape() {
    auto s = limits().stats();
    return {s.load_balancing, s.worker_offset};
  }

  /// Holds one unit of `key` and returns the units in use of the pool's first set, as the
  /// worker sees them.
  double in_use_seen(std::string key) {
    auto acq = limits().acquire({{key, 1}});
    return limits()[0].stats().limits[0].in_use;
  }
};
CONCURRY_WORKER(limit_taker,
                (),
                pid,
                hold,
                call,
                spend,
                try_spend,
                stamp_grant,
                second_unit,
                async_grant,
                hold_all,
                bad_update,
                in_use_seen,
                pool_shape)

using concurry_test::interval;
using concurry_test::max_overlap;

template <class Pool>
void poll_until(Pool& pool, double in_use, std::size_t waiting) {
  // Bounded: at most 20 s, checking the client's own state every 5 ms.
  for (int i = 0; i < 4000; ++i) {
    auto s = pool.stats().limits.at(0);
    if (s.limits.at(0).in_use == in_use && s.waiting == waiting)
      return;
    std::this_thread::sleep_for(5ms);
  }
  FAIL("the limit never reached in_use=" << in_use << " waiting=" << waiting);
}

} // namespace process_limits_test

using process_limits_test::interval;
using process_limits_test::limit_taker;

TEST_CASE("two process pools sharing a resource limit of 3 never hold more than 3 together") {
  concurry::limit_set slots{{concurry::resource_limit{"slots", 3}}};
  auto a = limit_taker::options().mode(concurry::mode::process).max_workers(2).limits(slots).init();
  auto b = limit_taker::options().mode(concurry::mode::process).max_workers(2).limits(slots).init();
  std::vector<concurry::future<interval>> calls;
  for (int i = 0; i < 8; ++i) {
    calls.push_back(a.call(&limit_taker::hold, std::string{"slots"}, 150));
    calls.push_back(b.call(&limit_taker::hold, std::string{"slots"}, 150));
  }
  // The client's own state, sampled while the calls run.
  double most_in_use = 0;
  for (int i = 0; i < 200 && !calls.back().done(); ++i) {
    most_in_use = std::max(most_in_use, slots.stats().limits[0].in_use);
    std::this_thread::sleep_for(5ms);
  }
  std::vector<interval> held;
  for (auto& f : calls)
    held.push_back(f.result(60s));
  CHECK(process_limits_test::max_overlap(held) == 3);
  CHECK(most_in_use == 3);
  CHECK(slots.stats().limits[0].in_use == 0);
  CHECK(a.stats().limits.at(0).limits.at(0).in_use == 0);
}

TEST_CASE_TEMPLATE("two workers under a call limit of 20 per second need 4 s for 100 calls",
                   M,
                   concurry_test::thread_mode,
                   concurry_test::process_mode) {
  auto pool = limit_taker::options()
                  .mode(M::value)
                  .max_workers(2)
                  .limits({concurry::call_limit{1s, 20}})
                  .init();
  pool.call(&limit_taker::pid).result(30s); // the hosts are up; the budget is untouched
  auto started = std::chrono::steady_clock::now();
  std::vector<concurry::future<int>> calls;
  for (int i = 0; i < 100; ++i)
    calls.push_back(pool.call(&limit_taker::call));
  std::vector<int> per_worker(2, 0);
  for (auto& f : calls)
    ++per_worker.at(static_cast<std::size_t>(f.result(60s)));
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  CHECK(took >= 3.9);
  CHECK(took < 12.0);
  CHECK(per_worker[0] == 50);
  CHECK(per_worker[1] == 50);
  auto s = pool.stats().limits.at(0).limits.at(0);
  CHECK(s.in_use >= 1);
  CHECK(s.in_use <= 20);
}

TEST_CASE_TEMPLATE("a refund reported by one worker is there for the next",
                   M,
                   concurry_test::thread_mode,
                   concurry_test::process_mode) {
  concurry::limit_set tokens{
      {concurry::rate_limit{"tokens", 1h, 100, concurry::rate_algorithm::token_bucket}}};
  auto pool = limit_taker::options().mode(M::value).max_workers(2).limits(tokens).init();
  // Round robin alternates the workers: 100 asked and 10 used refunds 90; 10 asked and 40 used
  // charges 30 more; the 50 left are there, and nothing beyond.
  CHECK(pool.call(&limit_taker::spend, 100.0, 10.0).result(30s));
  CHECK(pool.call(&limit_taker::spend, 10.0, 40.0).result(30s));
  CHECK(pool.call(&limit_taker::try_spend, 50.0).result(30s));
  CHECK_FALSE(pool.call(&limit_taker::try_spend, 1.0).result(30s));
  CHECK(tokens.stats().limits[0].in_use == doctest::Approx(100).epsilon(0.01));
}

/// One worker whose pool has a resource limit "gpu" of 1.
template <class M>
auto one_gpu_pool() {
  return limit_taker::options()
      .mode(M::value)
      .max_workers(1)
      .limits({concurry::resource_limit{"gpu", 1}})
      .init();
}

TEST_CASE_TEMPLATE("try_acquire, timeouts and acquire_async behave alike inside a worker",
                   M,
                   concurry_test::thread_mode,
                   concurry_test::process_mode) {
  auto pool = one_gpu_pool<M>();
  auto started = std::chrono::steady_clock::now();
  auto [tried, timed_out] =
      pool.call(&limit_taker::second_unit, std::string{"gpu"}, 200).result(30s);
  CHECK_FALSE(tried);
  CHECK(timed_out);
  CHECK(std::chrono::steady_clock::now() - started >= 200ms);
  CHECK(pool.stats().limits.at(0).limits.at(0).in_use == 0);
  CHECK(pool.stats().limits.at(0).waiting == 0);
  CHECK(pool.call(&limit_taker::async_grant, std::string{"gpu"}).result(30s));
  CHECK(pool.stats().limits.at(0).limits.at(0).in_use == 0);
}

TEST_CASE_TEMPLATE("a worker picks among several limit sets as in thread mode",
                   M,
                   concurry_test::thread_mode,
                   concurry_test::process_mode) {
  concurry::limit_set first{{concurry::resource_limit{"slot", 1}}};
  concurry::limit_set second{{concurry::resource_limit{"slot", 2}}};
  auto pool = limit_taker::options()
                  .mode(M::value)
                  .max_workers(2)
                  .limits(std::vector<concurry::limit_set>{first, second})
                  .init();
  CHECK(pool.call(&limit_taker::hold_all, std::string{"slot"}, 5).result(30s) == 3);
  // With the first set's unit held here, worker 1 gets the two of the second.
  auto held = first.acquire({{"slot", 1}});
  CHECK(pool.call(&limit_taker::hold_all, std::string{"slot"}, 5).result(30s) == 2);
  // Worker 0 sees the client's state of the first set while it holds one of the second.
  CHECK(pool.call(&limit_taker::in_use_seen, std::string{"slot"}).result(30s) == 1);
  CHECK(second.stats().limits[0].in_use == 0);
  auto [balancing, offset] = pool.call(&limit_taker::pool_shape).result(30s);
  CHECK(balancing == "RoundRobin");
  CHECK(offset == 1);
  held.release();
  auto random = limit_taker::options()
                    .mode(M::value)
                    .max_workers(1)
                    .limits(concurry::limit_pool{{first, second}, concurry::load_balancing::random})
                    .init();
  CHECK(random.call(&limit_taker::pool_shape).result(30s).first == "Random");
  CHECK(random.call(&limit_taker::hold_all, std::string{"slot"}, 5).result(30s) == 3);
}

TEST_CASE_TEMPLATE("per-worker limits give each worker of a process pool its own budget",
                   M,
                   concurry_test::thread_mode,
                   concurry_test::process_mode) {
  auto pool = limit_taker::options()
                  .mode(M::value)
                  .max_workers(2)
                  .limits(concurry::per_worker{{concurry::resource_limit{"slot", 1}}})
                  .init();
  auto a = pool.call(&limit_taker::hold, std::string{"slot"}, 300);
  auto b = pool.call(&limit_taker::hold, std::string{"slot"}, 300);
  CHECK(process_limits_test::max_overlap({a.result(30s), b.result(30s)}) == 2);
  REQUIRE(pool.stats().limits.size() == 2);
}

TEST_CASE_TEMPLATE("a bad request inside a worker fails its call with config_error",
                   M,
                   concurry_test::thread_mode,
                   concurry_test::process_mode) {
  auto pool = one_gpu_pool<M>();
  CHECK_THROWS_WITH_AS(pool.call(&limit_taker::stamp_grant, std::string{"tpu"}).result(30s),
                       doctest::Contains("unknown limit key 'tpu'"),
                       concurry::config_error);
  CHECK_THROWS_AS(pool.call(&limit_taker::bad_update, std::string{"gpu"}).result(30s),
                  concurry::config_error);
  // The acquisition the failed update belonged to was released.
  CHECK(pool.stats().limits.at(0).limits.at(0).in_use == 0);
  CHECK(pool.call(&limit_taker::stamp_grant, std::string{"gpu"}).result(30s) > 0);
}

TEST_CASE("a worker holding a resource limit of 1 is killed: the next caller gets it at once") {
  auto pool = limit_taker::options()
                  .mode(concurry::mode::process)
                  .max_workers(2)
                  .limits({concurry::resource_limit{"gpu", 1}})
                  .init();
  // Round robin: pid and the holding call on worker 0, the waiting call on worker 1.
  auto victim = pool.call(&limit_taker::pid).result(30s);
  pool.call(&limit_taker::pid).result(30s);
  auto doomed = pool.call(&limit_taker::hold, std::string{"gpu"}, 30'000);
  process_limits_test::poll_until(pool, 1, 0);
  auto next = pool.call(&limit_taker::stamp_grant, std::string{"gpu"});
  process_limits_test::poll_until(pool, 1, 1);
  auto killed_at = process_limits_test::now_ns();
  REQUIRE(::kill(victim, SIGKILL) == 0);
  auto granted_at = next.result(10s);
  auto took = std::chrono::nanoseconds{granted_at - killed_at};
  MESSAGE("the next caller got the resource "
          << std::chrono::duration<double, std::milli>(took).count() << " ms after the kill");
  CHECK(took < 500ms);
  CHECK_THROWS_AS(doomed.result(10s), concurry::worker_died);
  CHECK(pool.stats().limits.at(0).limits.at(0).in_use == 0);
}

TEST_CASE("a worker killed while it waits for a limit does not keep it when its turn comes") {
  concurry::limit_set gpu{{concurry::resource_limit{"gpu", 1}}};
  auto pool =
      limit_taker::options().mode(concurry::mode::process).max_workers(1).limits(gpu).init();
  auto victim = pool.call(&limit_taker::pid).result(30s);
  auto held = gpu.acquire({{"gpu", 1}});
  auto doomed = pool.call(&limit_taker::stamp_grant, std::string{"gpu"});
  process_limits_test::poll_until(pool, 1, 1);
  REQUIRE(::kill(victim, SIGKILL) == 0);
  CHECK_THROWS_AS(doomed.result(10s), concurry::worker_died);
  // Its request is served once the unit is back, and given back at once.
  held.release();
  process_limits_test::poll_until(pool, 0, 0);
  CHECK(gpu.try_acquire({{"gpu", 1}}).successful());
}
