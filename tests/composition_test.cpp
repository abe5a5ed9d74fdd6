// Pools composed of pools: a worker that owns a pool and waits on it inside its methods, pools
// nested three deep, and pipelines of pools that pass futures along. Every pool has one worker
// unless a test needs more, so a wait that could only be served by the waiting thread itself
// would show as a deadlock; every wait is bounded, so a deadlock fails instead of hanging.
#include "modes.hpp"
#include "test_workers.hpp"

#include <concurry/concurry.hpp>
#include <concurry/wait.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <latch>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using concurry_test::gate;

namespace {

/// How long any one wait here may take before the test counts it as a deadlock.
constexpr auto patience = 20s;

/// One step of a computation: the workers at the bottom of every composition here.
class step : public concurry::worker<step> {
public:
  int identity(int x) { return x; }
  int add_one(int x) { return x + 1; }
  int square(int x) { return x * x; }
  int sum(std::vector<int> xs) { return std::accumulate(xs.begin(), xs.end(), 0); }
  int checked(int x) {
    if (x < 0)
      throw std::invalid_argument{"negative value not allowed: " + std::to_string(x)};
    return x;
  }
};
CONCURRY_WORKER(step, (), identity, add_one, square, sum, checked)

/// Owns a pool of one step worker in `mode`, built with it and stopped when it is destroyed, and
/// waits on that pool's futures inside its methods.
class pool_owner : public concurry::worker<pool_owner> {
public:
  explicit pool_owner(concurry::mode mode)
      : steps_{step::options().mode(mode).max_workers(1).init()} {}

  /// Squares every value on the inner pool, all calls out before the first wait.
  std::vector<int> square_all(std::vector<int> xs) {
    std::vector<concurry::future<int>> futures;
    for (int x : xs)
      futures.push_back(steps_.call(&step::square, x));
    return concurry::gather(futures, patience);
  }

  /// Squares `x` twice, passing the first inner future straight into the second inner call.
  int square_twice(int x) {
    auto once = steps_.call(&step::square, x);
    return steps_.call(&step::square, once).result(patience);
  }

private:
  concurry::pool<step> steps_;
};
CONCURRY_WORKER(pool_owner, (concurry::mode), square_all, square_twice)

/// Owns a pool of one step worker in `mode` and hands out a handle to it, to look at it from
/// outside. Local: a handle cannot cross a process boundary.
class inner_owner : public concurry::worker<inner_owner> {
public:
  explicit inner_owner(concurry::mode mode)
      : steps_{step::options().mode(mode).max_workers(1).init()} {}

  concurry::handle<step> inner() const { return steps_.ref(); }

private:
  concurry::pool<step> steps_;
};
CONCURRY_LOCAL_WORKER(inner_owner, (concurry::mode), inner)

/// The middle of three levels: owns a pool of one step worker.
class middle_level : public concurry::worker<middle_level> {
public:
  explicit middle_level(concurry::mode mode)
      : leaves_{step::options().mode(mode).max_workers(1).init()} {}

  std::vector<int> process(std::vector<int> xs) {
    std::vector<concurry::future<int>> futures;
    for (int x : xs)
      futures.push_back(leaves_.call(&step::add_one, x));
    return concurry::gather(futures, patience);
  }

private:
  concurry::pool<step> leaves_;
};
CONCURRY_WORKER(middle_level, (concurry::mode), process)

/// The top of three levels: owns a pool of one middle_level, which owns a pool of one step.
class top_level : public concurry::worker<top_level> {
public:
  explicit top_level(concurry::mode mode)
      : middles_{middle_level::options().mode(mode).max_workers(1).init(mode)} {}

  /// The sum of every value plus one, computed two levels down and added up here.
  int run(std::vector<int> xs) {
    auto plus_one = middles_.call(&middle_level::process, xs).result(patience);
    return std::accumulate(plus_one.begin(), plus_one.end(), 0);
  }

private:
  concurry::pool<middle_level> middles_;
};
CONCURRY_WORKER(top_level, (concurry::mode), run)

/// A pool of one step worker in `mode`.
concurry::pool<step> steps(concurry::mode mode) {
  return step::options().mode(mode).max_workers(1).init();
}

} // namespace

TEST_CASE_TEMPLATE("a worker waits on the futures of a pool it owns, one thread per pool",
                   M,
                   CONCURRY_ALL_MODES) {
  auto outer = pool_owner::options().mode(M::value).max_workers(1).init(M::value);
  auto squares = outer.call(&pool_owner::square_all, std::vector<int>{1, 2, 3, 4, 5});
  CHECK(squares.result(patience) == std::vector<int>{1, 4, 9, 16, 25});
}

TEST_CASE_TEMPLATE("a worker passes a future of its own pool into its next call there",
                   M,
                   CONCURRY_ALL_MODES) {
  auto outer = pool_owner::options().mode(M::value).max_workers(1).init(M::value);
  CHECK(outer.call(&pool_owner::square_twice, 3).result(patience) == 81);
}

TEST_CASE("a worker on a thread waits on a sync pool it owns, and a sync worker on a thread pool") {
  auto on_thread = pool_owner::options().max_workers(1).init(concurry::mode::sync);
  auto inline_outer = pool_owner::options().mode(concurry::mode::sync).init(concurry::mode::thread);
  CHECK(on_thread.call(&pool_owner::square_twice, 2).result(patience) == 16);
  CHECK(inline_outer.call(&pool_owner::square_twice, 2).result(patience) == 16);
}

TEST_CASE_TEMPLATE("stopping the outer pool stops the pool its worker owns",
                   M,
                   CONCURRY_LOCAL_MODES) {
  auto outer = inner_owner::options().mode(M::value).max_workers(1).init(M::value);
  auto inner = outer.call(&inner_owner::inner).result(patience);
  CHECK_FALSE(inner.is_stopped());
  outer.stop(patience);
  CHECK(inner.is_stopped());
  CHECK_THROWS_AS(inner.call(&step::square, 2).result(patience), concurry::stopped_error);
}

TEST_CASE_TEMPLATE("pools nested three levels deep answer through every level",
                   M,
                   CONCURRY_ALL_MODES) {
  auto top = top_level::options().mode(M::value).max_workers(1).init(M::value);
  CHECK(top.call(&top_level::run, std::vector<int>{1, 2, 3}).result(patience) == 2 + 3 + 4);
}

TEST_CASE_TEMPLATE("a pipeline of three pools passes futures along", M, CONCURRY_ALL_MODES) {
  auto first = steps(M::value);
  auto second = steps(M::value);
  auto third = steps(M::value);
  std::vector<concurry::future<int>> out;
  for (int i = 0; i < 10; ++i)
    out.push_back(
        third.call(&step::square, second.call(&step::add_one, first.call(&step::identity, i))));
  CHECK(concurry::gather(out, patience) == std::vector<int>{1, 4, 9, 16, 25, 36, 49, 64, 81, 100});
}

TEST_CASE_TEMPLATE("a pipeline's calls all go out while its first stage is still running",
                   M,
                   CONCURRY_ALL_MODES) {
  auto held = gate::options().max_workers(1).init();
  auto second = steps(M::value);
  auto third = steps(M::value);
  std::latch started{1};
  std::latch release{1};
  auto last = third.call(&step::square,
                         second.call(&step::add_one, held.call(&gate::hold, &started, &release)));
  started.wait();
  CHECK_FALSE(last.done());
  release.count_down();
  CHECK(last.result(patience) == 1);
}

TEST_CASE_TEMPLATE("a consumer given a vector of 100 futures of 0 to 99 gets 4950",
                   M,
                   CONCURRY_ALL_MODES) {
  auto producers = step::options().max_workers(4).init();
  auto consumer = steps(M::value);
  std::vector<concurry::future<int>> parts;
  for (int i = 0; i < 100; ++i)
    parts.push_back(producers.call(&step::identity, i));
  CHECK(consumer.call(&step::sum, parts).result(patience) == 4950);
}

TEST_CASE_TEMPLATE("an upstream failure fails the end of a pipeline with the upstream exception",
                   M,
                   CONCURRY_ALL_MODES) {
  auto first = steps(M::value);
  auto second = steps(M::value);
  auto third = steps(M::value);
  auto bad = third.call(&step::square, second.call(&step::add_one, first.call(&step::checked, -1)));
  CHECK_THROWS_WITH_AS(
      bad.result(patience), "negative value not allowed: -1", std::invalid_argument);
  CHECK(third.call(&step::square, second.call(&step::add_one, first.call(&step::checked, 1)))
            .result(patience) == 4);
}
