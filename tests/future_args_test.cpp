// Futures as arguments: resolved before the method runs, without blocking the caller.
#include "modes.hpp"
#include "test_workers.hpp"

#include <concurry/concurry.hpp>

#include <doctest/doctest.h>

#include <latch>
#include <map>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <tuple>
#include <vector>

using namespace std::chrono_literals;
using concurry_test::gate;
using concurry_test::sleeper;

namespace {

/// Consumes values that other pools produce.
class consumer : public concurry::worker<consumer> {
public:
  int sum(std::vector<int> values) { return std::accumulate(values.begin(), values.end(), 0); }
  int add(int a, int b) { return a + b; }
  int weigh(std::map<std::string, int> weights,
            std::optional<int> bonus,
            std::tuple<int, int> pair) {
    int total = bonus.value_or(0) + std::get<0>(pair) + std::get<1>(pair);
    for (auto& [k, v] : weights)
      total += v;
    return total;
  }
};
CONCURRY_WORKER(consumer, (), sum, add, weigh)

/// Takes a future itself as its argument; futures cannot cross a process boundary.
class future_taker : public concurry::worker<future_taker> {
public:
  bool is_done(concurry::future<int> f) { return f.done(); }
};
CONCURRY_LOCAL_WORKER(future_taker, (), is_done)

} // namespace

TEST_CASE_TEMPLATE("a consumer given a list of 100 futures of 0 to 99 gets their sum",
                   M,
                   CONCURRY_POOL_MODES) {
  auto producers = sleeper::options().mode(M::value).max_workers(4).init();
  auto consumers = consumer::options().mode(M::value).max_workers(2).init();
  std::vector<concurry::future<int>> parts;
  for (int i = 0; i < 100; ++i)
    parts.push_back(producers.call(&sleeper::checked_double, i));
  CHECK(consumers.call(&consumer::sum, parts).result() == 2 * 4950);
}

TEST_CASE_TEMPLATE("a call with a future argument returns at once and runs when the future is done",
                   M,
                   CONCURRY_POOL_MODES) {
  auto upstream = gate::options().max_workers(1).init();
  auto downstream = consumer::options().mode(M::value).max_workers(1).init();
  std::latch started{1};
  std::latch release{1};
  auto held = upstream.call(&gate::hold, &started, &release);
  auto later = downstream.call(&consumer::add, held, 5);
  started.wait();
  CHECK_FALSE(later.done());
  release.count_down();
  CHECK(later.result(10s) == 5);
}

TEST_CASE_TEMPLATE("futures inside maps, optionals and tuples are resolved too",
                   M,
                   CONCURRY_POOL_MODES) {
  auto producers = sleeper::options().mode(M::value).max_workers(2).init();
  auto consumers = consumer::options().mode(M::value).max_workers(1).init();
  auto two = [&](int v) { return producers.call(&sleeper::checked_double, v); };
  std::map<std::string, concurry::future<int>> weights{{"a", two(1)}, {"b", two(2)}};
  std::optional<concurry::future<int>> bonus = two(10);
  CHECK(consumers.call(&consumer::weigh, weights, bonus, std::tuple{two(3), two(4)}).result() ==
        2 + 4 + 20 + 6 + 8);
}

TEST_CASE_TEMPLATE("an upstream failure fails the downstream call with the upstream exception",
                   M,
                   CONCURRY_POOL_MODES) {
  auto producers = sleeper::options().mode(M::value).max_workers(2).init();
  auto consumers = consumer::options().mode(M::value).max_workers(1).init();
  auto bad = producers.call(&sleeper::checked_double, -1);
  CHECK_THROWS_AS(consumers.call(&consumer::add, bad, 1).result(10s), std::invalid_argument);
  CHECK(consumers.call(&consumer::add, 1, 1).result() == 2);
}

TEST_CASE("a parameter of future type receives the future itself") {
  auto upstream = gate::options().max_workers(1).init();
  auto consumers = future_taker::options().max_workers(1).init();
  std::latch started{1};
  std::latch release{1};
  auto held = upstream.call(&gate::hold, &started, &release);
  started.wait();
  CHECK_FALSE(consumers.call(&future_taker::is_done, held).result(10s));
  release.count_down();
  held.result();
}

TEST_CASE_TEMPLATE("a pipeline of three pools passes futures along", M, CONCURRY_POOL_MODES) {
  auto first = sleeper::options().mode(M::value).max_workers(2).init();
  auto second = consumer::options().mode(M::value).max_workers(2).init();
  auto third = consumer::options().mode(M::value).max_workers(1).blocking().init();
  std::vector<concurry::future<int>> stage;
  for (int i = 0; i < 10; ++i)
    stage.push_back(second.call(&consumer::add, first.call(&sleeper::checked_double, i), 1));
  CHECK(third.call(&consumer::sum, stage) == 2 * 45 + 10);
}

TEST_CASE("with unwrap_futures(false) the call goes out at once and the worker waits") {
  auto upstream = gate::options().max_workers(1).init();
  auto downstream = consumer::options().max_workers(2).unwrap_futures(false).init();
  std::latch started{1};
  std::latch release{1};
  auto held = upstream.call(&gate::hold, &started, &release);
  auto later = downstream.call(&consumer::add, held, 5);
  started.wait();
  // Dispatched already: the worker it went to is busy waiting for the upstream future.
  CHECK(downstream.stats().load_balancer.total_dispatched == 1);
  CHECK_FALSE(later.wait_for(50ms));
  release.count_down();
  CHECK(later.result(10s) == 5);

  auto producers = sleeper::options().max_workers(2).init();
  auto bad = producers.call(&sleeper::checked_double, -1);
  CHECK_THROWS_AS(downstream.call(&consumer::add, bad, 1).result(10s), std::invalid_argument);
  std::vector<concurry::future<int>> parts;
  for (int i = 0; i < 10; ++i)
    parts.push_back(producers.call(&sleeper::checked_double, i));
  CHECK(downstream.call(&consumer::sum, parts).result(10s) == 90);
}

TEST_CASE("with unwrap_futures(false) an upstream failure is not retried") {
  auto producers = sleeper::options().max_workers(1).init();
  auto downstream = consumer::options()
                        .max_workers(1)
                        .unwrap_futures(false)
                        .num_retries(3)
                        .retry_wait(1s)
                        .retry_jitter(0)
                        .init();
  auto started = std::chrono::steady_clock::now();
  auto bad = producers.call(&sleeper::checked_double, -1);
  CHECK_THROWS_AS(downstream.call(&consumer::add, bad, 1).result(10s), std::invalid_argument);
  CHECK(std::chrono::steady_clock::now() - started < 900ms);
}
