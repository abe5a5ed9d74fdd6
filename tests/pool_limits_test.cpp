// Limits seen from workers: a pool-wide budget, per-worker budgets, sets shared by pools, and
// limits in the pool's statistics. Time is the behaviour here, so these run on the real clock
// with generous bounds.
#include "intervals.hpp"
#include "modes.hpp"

#include <concurry/concurry.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <thread>
#include <utility>
#include <vector>

using namespace std::chrono_literals;
using concurry_test::interval;
using concurry_test::max_overlap;
using concurry_test::now_ns;

namespace {

using clock_type = std::chrono::steady_clock;

/// Calls an imaginary API under the pool's limits.
class api_caller : public concurry::worker<api_caller> {
public:
  /// Acquires the call limit (and `tokens` of the rate limit when positive).
  std::size_t call_api(double tokens) {
    auto acq = tokens > 0 ? limits().acquire({{"tokens", tokens}}) : limits().acquire();
    return worker_index();
  }

  /// Holds one connection for `ms` milliseconds; returns when it held it.
  interval use_connection(int ms) {
    auto acq = limits().acquire({{"connections", 1}});
    auto from = now_ns();
    std::this_thread::sleep_for(std::chrono::milliseconds{ms});
    return {from, now_ns()};
  }

  /// Acquires tokens, reports that it used fewer, and fails after the acquisition.
  int spend_and_fail(double tokens, double used) {
    auto acq = limits().acquire({{"tokens", tokens}});
    acq.update({{"tokens", used}});
    throw std::runtime_error{"failed after using " + std::to_string(used)};
  }
};
CONCURRY_WORKER(api_caller, (), call_api, use_connection, spend_and_fail)

template <class Pool>
double run_calls(Pool& pool, int calls, double tokens) {
  auto t0 = clock_type::now();
  std::vector<concurry::future<std::size_t>> futures;
  for (int i = 0; i < calls; ++i)
    futures.push_back(pool.call(&api_caller::call_api, tokens));
  for (auto& f : futures)
    f.result();
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

} // namespace

TEST_CASE_TEMPLATE("four workers sharing a call limit of 20 per second need 4 s for 100 calls",
                   M,
                   CONCURRY_POOL_MODES) {
  auto pool = api_caller::options()
                  .mode(M::value)
                  .max_workers(4)
                  .limits({concurry::call_limit{1s, 20}})
                  .init();
  double took = run_calls(pool, 100, 0);
  CHECK(took >= 3.9);
  CHECK(took < 12.0);
  auto s = pool.stats();
  REQUIRE(s.limits.size() == 1);
  REQUIRE(s.limits[0].limits.size() == 1);
  CHECK(s.limits[0].limits[0].kind == "CallLimit");
  CHECK(s.limits[0].limits[0].key == "call_count");
  CHECK(s.limits[0].limits[0].capacity == 20);
}

TEST_CASE_TEMPLATE("per-worker call limits give each worker its own budget",
                   M,
                   CONCURRY_POOL_MODES) {
  auto pool = api_caller::options()
                  .mode(M::value)
                  .max_workers(4)
                  .limits(concurry::per_worker{{concurry::call_limit{1s, 20}}})
                  .init();
  // 25 calls per worker: 20 at once, 5 more a second later.
  double took = run_calls(pool, 100, 0);
  CHECK(took >= 0.9);
  CHECK(took < 3.5);
  CHECK(pool.stats().limits.size() == 4);
}

TEST_CASE_TEMPLATE("a token bucket of 50 per second makes ten calls of 25 tokens last 4 s",
                   M,
                   CONCURRY_ALL_MODES) {
  auto pool =
      api_caller::options()
          .mode(M::value)
          .max_workers(1)
          .limits({concurry::rate_limit{"tokens", 1s, 50, concurry::rate_algorithm::token_bucket}})
          .init();
  double took = run_calls(pool, 10, 25);
  CHECK(took >= 3.9);
  CHECK(took < 12.0);
}

TEST_CASE_TEMPLATE("twenty workers sharing 5 connections never hold more than 5 at once",
                   M,
                   CONCURRY_POOL_MODES) {
  auto pool = api_caller::options()
                  .mode(M::value)
                  .max_workers(20)
                  .limits({concurry::resource_limit{"connections", 5}})
                  .init();
  std::vector<concurry::future<interval>> futures;
  for (int i = 0; i < 60; ++i)
    futures.push_back(pool.call(&api_caller::use_connection, 20));
  std::vector<interval> held;
  for (auto& f : futures)
    held.push_back(f.result());
  CHECK(max_overlap(held) <= 5);
  CHECK(max_overlap(held) >= 2);
  auto s = pool.stats();
  CHECK(s.limits[0].limits[0].in_use == 0);
}

TEST_CASE_TEMPLATE("a limit set handed to two pools is one budget for both",
                   M,
                   CONCURRY_POOL_MODES) {
  concurry::limit_set shared{{concurry::call_limit{1s, 10}}};
  auto first = api_caller::options().mode(M::value).max_workers(2).limits(shared).init();
  auto second = api_caller::options().mode(M::value).max_workers(2).limits(shared).init();
  auto t0 = clock_type::now();
  std::vector<concurry::future<std::size_t>> futures;
  for (int i = 0; i < 10; ++i) {
    futures.push_back(first.call(&api_caller::call_api, 0.0));
    futures.push_back(second.call(&api_caller::call_api, 0.0));
  }
  for (auto& f : futures)
    f.result();
  CHECK(std::chrono::duration<double>(clock_type::now() - t0).count() >= 0.9);
}

TEST_CASE_TEMPLATE("a method that throws after acquiring releases its limits with its usage",
                   M,
                   CONCURRY_POOL_MODES) {
  auto pool =
      api_caller::options()
          .mode(M::value)
          .max_workers(2)
          .limits(
              {concurry::rate_limit{"tokens", 60s, 100, concurry::rate_algorithm::token_bucket}})
          .init();
  CHECK_THROWS_AS(pool.call(&api_caller::spend_and_fail, 80.0, 10.0).result(), std::runtime_error);
  // 80 were taken and 70 refunded: 90 are left, so another 80 fits at once.
  auto t0 = clock_type::now();
  CHECK_THROWS_AS(pool.call(&api_caller::spend_and_fail, 80.0, 80.0).result(), std::runtime_error);
  CHECK(clock_type::now() - t0 < 5s);
  CHECK(pool.stats().limits[0].limits[0].available == doctest::Approx(10).epsilon(0.01));
}

TEST_CASE_TEMPLATE("a worker with no limits acquires at once", M, CONCURRY_POOL_MODES) {
  auto pool = api_caller::options().mode(M::value).max_workers(1).init();
  CHECK(pool.call(&api_caller::call_api, 0.0).result() == 0);
  CHECK(pool.stats().limits.empty());
}

TEST_CASE_TEMPLATE("a bad request inside a method fails the call at once with a clear error",
                   M,
                   CONCURRY_POOL_MODES) {
  auto pool = api_caller::options()
                  .mode(M::value)
                  .max_workers(1)
                  .limits({concurry::call_limit{1s, 5}})
                  .init();
  CHECK_THROWS_AS(pool.call(&api_caller::call_api, 3.0).result(5s), concurry::config_error);
}

TEST_CASE_TEMPLATE("several limit sets behind limits() are spread over from each worker's offset",
                   M,
                   CONCURRY_POOL_MODES) {
  std::vector<concurry::limit_set> regions{
      concurry::limit_set{{concurry::call_limit{60s, 3}}},
      concurry::limit_set{{concurry::call_limit{60s, 3}}},
  };
  auto pool = api_caller::options().mode(M::value).max_workers(2).limits(regions).init();
  // Six calls fit the two sets together within one window; a seventh would wait a minute.
  for (int i = 0; i < 6; ++i)
    pool.call(&api_caller::call_api, 0.0).result(5s);
  auto s = pool.stats();
  REQUIRE(s.limits.size() == 2);
  CHECK(s.limits[0].limits[0].in_use == 3);
  CHECK(s.limits[1].limits[0].in_use == 3);
}
