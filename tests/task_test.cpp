// Task workers: submit and map of free functions, make_task, retries of submitted functions.
#include "modes.hpp"

#include <concurry/concurry.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <list>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

int square(int x) {
  return x * x;
}

} // namespace

TEST_CASE_TEMPLATE("submit runs a function with its arguments on a task worker",
                   M,
                   CONCURRY_LOCAL_MODES) {
  auto pool = concurry::task_worker::options().mode(M::value).max_workers(1).init();
  CHECK(pool.submit(square, 7).result(10s) == 49);
  CHECK(pool.submit([](const std::string& a, int n) { return a + std::to_string(n); },
                    std::string{"x"},
                    3)
            .result(10s) == "x3");
  std::atomic<int> touched{0};
  pool.submit([&touched] { ++touched; }).result(10s);
  CHECK(touched == 1);
  CHECK_THROWS_WITH_AS(pool.submit([]() -> int { throw std::domain_error{"no"}; }).result(10s),
                       "no",
                       std::domain_error);
  // Move-only arguments are moved into the call.
  auto owned = std::make_unique<int>(5);
  CHECK(pool.submit([](std::unique_ptr<int> p) { return *p; }, std::move(owned)).result(10s) == 5);
}

TEST_CASE("map zips its ranges, keeps input order and spreads over the workers") {
  auto pool = concurry::task_worker::options().max_workers(4).init();
  std::vector<int> a{1, 2, 3, 4, 5, 6, 7, 8};
  std::list<int> b{10, 20, 30, 40, 50, 60, 70, 80, 90};
  auto futures = pool.map(
      [](int x, int y) {
        std::this_thread::sleep_for(10ms);
        return x + y;
      },
      a,
      b);
  REQUIRE(futures.size() == 8);
  CHECK(concurry::gather(futures, 30s) == std::vector<int>{11, 22, 33, 44, 55, 66, 77, 88});
  for (std::size_t i = 0; i < 4; ++i)
    CHECK(pool.worker_stats(i).total_calls == 2);

  auto blocking = concurry::task_worker::options().max_workers(2).blocking().init();
  CHECK(blocking.map(square, std::vector<int>{1, 2, 3}) == std::vector<int>{1, 4, 9});
  CHECK(blocking.submit(square, 4) == 16);
  CHECK(blocking.map(square, std::vector<int>{}).empty());
}

TEST_CASE("submitted functions retry under the name submit") {
  auto failures = std::make_shared<std::atomic<int>>(0);
  std::string seen_method;
  auto pool = concurry::task_worker::options()
                  .max_workers(1)
                  .num_retries(3)
                  .retry_wait(1ms)
                  .retry_on([&seen_method](const concurry::retry_context& c) {
                    seen_method = c.method_name;
                    return true;
                  })
                  .init();
  auto f = pool.submit(
      [failures](int x) {
        if (++*failures < 3)
          throw std::runtime_error{"flaky"};
        return x;
      },
      9);
  CHECK(f.result(10s) == 9);
  CHECK(failures->load() == 3);
  CHECK(seen_method == "submit");
}

TEST_CASE("make_task binds a function to a ready pool") {
  auto sq = concurry::make_task(square);
  CHECK(sq(6).result(10s) == 36);
  CHECK(concurry::gather(sq.map(std::vector<int>{1, 2, 3}), 10s) == std::vector<int>{1, 4, 9});
  CHECK(sq.workers().stats().on_demand);
  sq.stop();
  CHECK_THROWS_AS(sq(2).result(1s), concurry::stopped_error);

  auto threads = concurry::make_task([](int x) { return x + 1; },
                                     concurry::task_worker::options().max_workers(2));
  CHECK(threads(1).result(10s) == 2);
  CHECK(threads.workers().stats().total_workers == 2);
}

TEST_CASE("map takes mutable functions; make_task takes blocking options") {
  auto pool = concurry::task_worker::options().max_workers(1).blocking().init();
  int offset = 10;
  CHECK(pool.map([offset](int x) mutable { return x + offset++; }, std::vector<int>{1, 2}) ==
        std::vector<int>{11, 12}); // each call has its own copy of the function
  auto sq = concurry::make_task(square, concurry::task_worker::options().max_workers(1).blocking());
  CHECK(sq(5) == 25);
}
