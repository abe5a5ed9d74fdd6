// Task workers in process mode: free functions registered with CONCURRY_TASK run in child
// processes by name, with encoded arguments and results; anything else is refused at the call.
#include <concurry/concurry.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <unistd.h>
#include <utility>
#include <vector>

using namespace std::chrono_literals;

namespace process_task_test {

int square(int x) {
  return x * x;
}
CONCURRY_TASK(square)

std::pair<int, std::string> pid_and_greeting(const std::string& who, int times) {
  std::string out;
  for (int i = 0; i < times; ++i)
    out += "hi " + who + ";";
  return {static_cast<int>(::getpid()), out};
}
CONCURRY_TASK(pid_and_greeting)

void refuse(int code) {
  throw std::invalid_argument{"refused " + std::to_string(code)};
}
CONCURRY_TASK(refuse)

/// Throws the first `failures` times this process runs it, then answers with its count.
int flaky(int failures) {
  static int calls = 0;
  if (calls++ < failures)
    throw std::runtime_error{"flaky " + std::to_string(calls)};
  return calls;
}
CONCURRY_TASK(flaky)

int not_registered(int x) {
  return x + 1;
}

} // namespace process_task_test

using namespace process_task_test;

TEST_CASE("a registered task runs in a child process, with its arguments and result encoded") {
  auto pool = concurry::task_worker::options().mode(concurry::mode::process).max_workers(1).init();
  CHECK(pool.submit(&square, 7).result(30s) == 49);
  CHECK(pool.submit(square, 8).result(30s) == 64);
  // "x" is a const char* here: it goes out as the function's std::string parameter.
  auto [pid, text] = pool.submit(&pid_and_greeting, "x", 2).result(30s);
  CHECK(pid != static_cast<int>(::getpid()));
  CHECK(text == "hi x;hi x;");
  CHECK_THROWS_WITH_AS(pool.submit(&refuse, 3).result(30s), "refused 3", std::invalid_argument);
}

TEST_CASE("map over 100 inputs runs in process mode, in input order") {
  auto pool = concurry::task_worker::options().mode(concurry::mode::process).max_workers(2).init();
  std::vector<int> inputs(100);
  for (int i = 0; i < 100; ++i)
    inputs[static_cast<std::size_t>(i)] = i - 50;
  auto futures = pool.map(&square, inputs);
  REQUIRE(futures.size() == 100);
  auto squares = concurry::gather(futures, 60s);
  for (std::size_t i = 0; i < 100; ++i)
    CHECK(squares[i] == inputs[i] * inputs[i]);
  CHECK(pool.worker_stats(0).total_calls == 50);
  CHECK(pool.worker_stats(1).total_calls == 50);
}

TEST_CASE("in process mode a lambda or an unregistered function is refused at the call") {
  auto pool = concurry::task_worker::options().mode(concurry::mode::process).max_workers(1).init();
  CHECK_THROWS_WITH_AS(pool.submit(&not_registered, 1),
                       doctest::Contains("registered with CONCURRY_TASK"),
                       concurry::config_error);
  CHECK_THROWS_WITH_AS(pool.submit([](int x) { return x; }, 1),
                       doctest::Contains("a lambda or function object cannot cross"),
                       concurry::config_error);
  CHECK_THROWS_AS(pool.map(&not_registered, std::vector<int>{1, 2}), concurry::config_error);
  // Thread mode still runs any callable.
  auto threads = concurry::task_worker::options().max_workers(1).init();
  CHECK(threads.submit(&not_registered, 1).result(10s) == 2);
  CHECK(threads.submit([](int x) { return x * 3; }, 2).result(10s) == 6);
}

TEST_CASE("make_task takes process options; retries in process mode count under submit") {
  auto sq = concurry::make_task(&square, concurry::task_worker::options().mode("process"));
  CHECK(sq(9).result(30s) == 81);
  CHECK(concurry::gather(sq.map(std::vector<int>{1, 2, 3}), 30s) == std::vector<int>{1, 4, 9});
  CHECK(sq.workers().stats().mode == concurry::mode::process);

  auto on_demand = concurry::make_task(
      &square, concurry::task_worker::options().mode("process").on_demand().max_workers(2));
  CHECK(on_demand(5).result(30s) == 25);
  CHECK(on_demand.workers().stats().on_demand);

  std::string seen_method;
  auto retrying = concurry::task_worker::options()
                      .mode(concurry::mode::process)
                      .max_workers(1)
                      .num_retries(2)
                      .retry_wait(1ms)
                      .retry_on([&seen_method](const concurry::retry_context& c) {
                        seen_method = c.method_name;
                        return true;
                      })
                      .init();
  // The worker's process keeps its count: two failures, then the third attempt answers 3.
  CHECK(retrying.submit(&flaky, 2).result(30s) == 3);
  CHECK(seen_method == "submit");
}
