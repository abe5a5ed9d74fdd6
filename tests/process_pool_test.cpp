// Process mode: pools whose workers live in child processes (the test binary re-executed as a
// worker host), calls and results through the codec, exceptions across the boundary, and
// workers that die.
#include <concurry/concurry.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <csignal>
#include <stdexcept>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace std::chrono_literals;

namespace process_test {

class quota_exceeded : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};
CONCURRY_EXCEPTION(quota_exceeded)

class not_registered : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

class cruncher : public concurry::worker<cruncher> {
public:
  explicit cruncher(int base) : base_{base} {}
  int add(int x) { return base_ + x + static_cast<int>(0 * ::getpid()); }
  int pid() { return static_cast<int>(::getpid()); }
  std::vector<double> echo(std::vector<double> values) { return values; }
  std::string greet(const std::string& who) {
    return "hello " + who + " from worker " + std::to_string(worker_index());
  }
  void fail_registered(std::string why) { throw quota_exceeded{why}; }
  void fail_unregistered(std::string why) { throw not_registered{why}; }
  int sleep_ms(int ms) {
    std::this_thread::sleep_for(std::chrono::milliseconds{ms});
    return ms;
  }
  int crash(int how) {
    if (how == 1) {
      volatile int* null = nullptr;
      return *null; // a segfault, on purpose
    }
    std::abort();
  }

private:
  int base_;
};
CONCURRY_WORKER(
    cruncher, (int), add, pid, echo, greet, fail_registered, fail_unregistered, sleep_ms, crash)

class refuses : public concurry::worker<refuses> {
public:
  explicit refuses(std::string why) { throw std::invalid_argument{why}; }
  int ok() { return 1; }
};
CONCURRY_WORKER(refuses, (std::string), ok)

} // namespace process_test

using process_test::cruncher;

TEST_CASE("a process pool runs calls in child processes") {
  auto pool = cruncher::options().mode(concurry::mode::process).max_workers(2).init(100);
  CHECK(pool.call(&cruncher::add, 5).result(30s) == 105);
  auto a = pool.call(&cruncher::pid).result(30s);
  auto b = pool.call(&cruncher::pid).result(30s);
  CHECK(a != b);
  CHECK(a != static_cast<int>(::getpid()));
  CHECK(pool.call(&cruncher::greet, std::string{"Ann"})
            .result(30s)
            .rfind("hello Ann from worker ", 0) == 0);
  auto s = pool.stats();
  CHECK(s.mode == concurry::mode::process);
  CHECK(s.total_workers == 2);
}

TEST_CASE("a million doubles go to a child and back unchanged") {
  auto pool = cruncher::options().mode("process").max_workers(1).init(0);
  std::vector<double> values(1'000'000);
  for (std::size_t i = 0; i < values.size(); ++i)
    values[i] = static_cast<double>(i) * 0.5 - 1e5;
  CHECK(pool.call(&cruncher::echo, values).result(60s) == values);
}

TEST_CASE("exceptions cross the process boundary: registered ones as themselves") {
  auto pool = cruncher::options().mode(concurry::mode::process).max_workers(1).init(0);
  CHECK_THROWS_WITH_AS(pool.call(&cruncher::fail_registered, std::string{"over quota"}).result(30s),
                       "over quota",
                       process_test::quota_exceeded);
  try {
    pool.call(&cruncher::fail_unregistered, std::string{"odd"}).result(30s);
    FAIL("no exception");
  } catch (const concurry::remote_error& e) {
    CHECK(e.type_name() == "process_test::not_registered");
    CHECK(e.message() == "odd");
  }
  // The worker lives on.
  CHECK(pool.call(&cruncher::add, 1).result(30s) == 1);
}

TEST_CASE("a constructor that throws in the child fails init with its exception") {
  CHECK_THROWS_WITH_AS(process_test::refuses::options()
                           .mode(concurry::mode::process)
                           .max_workers(2)
                           .init(std::string{"no thanks"}),
                       "no thanks",
                       std::invalid_argument);
}

TEST_CASE("a worker that crashes fails its call with worker_died; the client lives") {
  auto pool = cruncher::options().mode(concurry::mode::process).max_workers(2).init(0);
  auto started = std::chrono::steady_clock::now();
  CHECK_THROWS_AS(pool.call(&cruncher::crash, 1).result(10s), concurry::worker_died);
  CHECK(std::chrono::steady_clock::now() - started < 5s);
  CHECK_THROWS_AS(pool.call(&cruncher::crash, 2).result(10s), concurry::worker_died);
}

TEST_CASE("a worker killed with SIGKILL in the middle of a call fails that call within a second") {
  auto pool = cruncher::options().mode(concurry::mode::process).max_workers(2).init(0);
  auto victim = pool.call(&cruncher::pid).result(30s);
  // Round robin: the next call goes to the other worker, the one after to the victim.
  auto other = pool.call(&cruncher::sleep_ms, 500);
  auto doomed = pool.call(&cruncher::sleep_ms, 2000);
  std::this_thread::sleep_for(200ms);
  auto killed_at = std::chrono::steady_clock::now();
  REQUIRE(::kill(victim, SIGKILL) == 0);
  CHECK_THROWS_AS(doomed.result(10s), concurry::worker_died);
  CHECK(std::chrono::steady_clock::now() - killed_at < 1500ms);
  CHECK(other.result(10s) == 500);
}

TEST_CASE("stopping a process pool of 4 idle workers is quick, and calls after it fail") {
  auto pool = cruncher::options().mode(concurry::mode::process).max_workers(4).init(0);
  CHECK(pool.call(&cruncher::add, 1).result(30s) == 1);
  auto started = std::chrono::steady_clock::now();
  pool.stop(10s);
  CHECK(std::chrono::steady_clock::now() - started < 1s);
  CHECK_THROWS_AS(pool.call(&cruncher::add, 1).result(1s), concurry::stopped_error);
}

TEST_CASE("back-pressure holds calls in order in process mode (100 in flight by default)") {
  auto pool =
      cruncher::options().mode(concurry::mode::process).max_workers(1).max_queued_tasks(2).init(0);
  CHECK(pool.stats().max_queued_tasks == 2);
  std::vector<concurry::future<int>> futures;
  auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < 5; ++i)
    futures.push_back(pool.call(&cruncher::sleep_ms, 50 + i));
  CHECK(std::chrono::steady_clock::now() - started < 200ms);
  for (int i = 0; i < 5; ++i)
    CHECK(futures[static_cast<std::size_t>(i)].result(30s) == 50 + i);
  auto defaults = cruncher::options().mode(concurry::mode::process).max_workers(1).init(0);
  CHECK(defaults.stats().max_queued_tasks == 100);
}

TEST_CASE("what process mode does not do yet is refused clearly") {
  auto b = cruncher::options().mode(concurry::mode::process).max_workers(1);
  CHECK_THROWS_WITH_AS(b.num_retries(2).init(0),
                       doctest::Contains("not available in process mode yet"),
                       concurry::config_error);
  CHECK_THROWS_AS(b.on_demand().init(0), concurry::config_error);
}
