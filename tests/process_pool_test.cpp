// Process mode: pools whose workers live in child processes (the test binary re-executed as a
// worker host), calls and results through the codec, exceptions across the boundary, and
// workers that die.
#include "intervals.hpp"

#include "runtime/internal/host.hpp"
#include "runtime/internal/process_pool.hpp"

#include <concurry/concurry.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
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

/// A type whose codec reads more than it writes: its bytes arrive malformed in the client.
struct lopsided {
  std::int64_t value = 0;
};
void concurry_encode(concurry::encoder& e, const lopsided& l) {
  e.write(l.value);
}
void concurry_decode(concurry::decoder& d, lopsided& l) {
  std::int64_t more = 0;
  d.read(l.value);
  d.read(more);
}

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
  /// Throws quota_exceeded the first `failures` times this process runs it.
  int flaky(int failures) {
    if (flaky_calls_++ < failures)
      throw quota_exceeded{"attempt " + std::to_string(flaky_calls_)};
    return flaky_calls_;
  }
  /// Aborts the process the first time (no `marker` file yet), answers with its pid after.
  int crash_once(std::string marker) {
    if (::access(marker.c_str(), F_OK) != 0) {
      if (auto* f = std::fopen(marker.c_str(), "w"))
        std::fclose(f);
      std::abort();
    }
    return static_cast<int>(::getpid());
  }
  lopsided make_lopsided(int n) { return lopsided{n}; }
  int crash(int how) {
    if (how == 1) {
      volatile int* null = nullptr;
      return *null; // a segfault, on purpose
    }
    std::abort();
  }

private:
  int base_;
  int flaky_calls_ = 0;
};
CONCURRY_WORKER(cruncher,
                (int),
                add,
                pid,
                echo,
                greet,
                fail_registered,
                fail_unregistered,
                sleep_ms,
                crash,
                flaky,
                crash_once,
                make_lopsided)

class refuses : public concurry::worker<refuses> {
public:
  explicit refuses(std::string why) { throw std::invalid_argument{why}; }
  int ok() { return 1; }
};
CONCURRY_WORKER(refuses, (std::string), ok)

/// Answers each call with its argument, the worker's index and how many calls it ran so far.
class call_order : public concurry::worker<call_order> {
public:
  std::tuple<int, std::size_t, int> next(int x) { return {x, worker_index(), ++calls_}; }

private:
  int calls_ = 0;
};
CONCURRY_WORKER(call_order, (), next)

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

TEST_CASE("5,000 pipelined calls each get their own result, in order on each worker") {
  auto pool =
      process_test::call_order::options().mode(concurry::mode::process).max_workers(2).init();
  std::vector<concurry::future<std::tuple<int, std::size_t, int>>> futures;
  for (int i = 0; i < 5'000; ++i)
    futures.push_back(pool.call(&process_test::call_order::next, i));
  std::map<std::size_t, int> last; // by worker: the count of its latest call
  for (int i = 0; i < 5'000; ++i) {
    auto [x, worker, count] = futures[static_cast<std::size_t>(i)].result(60s);
    REQUIRE(x == i);
    CHECK(count == last[worker] + 1);
    last[worker] = count;
  }
  CHECK(last.size() == 2);
}

TEST_CASE("pipelined calls of 800 bytes come back unchanged under the smallest max_message_size") {
  auto pool = cruncher::options()
                  .mode(concurry::mode::process)
                  .max_workers(1)
                  .max_message_size(concurry::smallest_max_message_size)
                  .init(0);
  std::vector<double> values(100, 0.5);
  std::vector<concurry::future<std::vector<double>>> futures;
  for (int i = 0; i < 300; ++i) {
    values[0] = i;
    futures.push_back(pool.call(&cruncher::echo, values));
  }
  for (int i = 0; i < 300; ++i) {
    values[0] = i;
    CHECK(futures[static_cast<std::size_t>(i)].result(30s) == values);
  }
}

TEST_CASE("unwrap_futures(false) is refused in process mode, saying why and what to do") {
  auto b = cruncher::options().mode(concurry::mode::process).max_workers(1).unwrap_futures(false);
  CHECK_THROWS_WITH_AS(b.init(0),
                       doctest::Contains("a future cannot cross a process boundary"),
                       concurry::config_error);
  CHECK_THROWS_WITH_AS(b.init(0),
                       doctest::Contains("Keep the default unwrap_futures(true)"),
                       concurry::config_error);
}

namespace {

using concurry_test::eventually;

std::string marker_path() {
  return "/tmp/concurry-crash-once-" + std::to_string(::getpid()) + "-" +
         std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
}

} // namespace

TEST_CASE("a worker killed in the middle of a call is replaced; the calls behind it still run") {
  auto pool = cruncher::options().mode(concurry::mode::process).max_workers(2).init(0);
  auto victim = pool.call(&cruncher::pid).result(30s);    // worker 0
  CHECK(pool.call(&cruncher::pid).result(30s) != victim); // worker 1
  // Five 2 s calls, round robin: 0, 2 and 4 on worker 0, 1 and 3 on worker 1.
  std::vector<concurry::future<int>> calls;
  for (int i = 0; i < 5; ++i)
    calls.push_back(pool.call(&cruncher::sleep_ms, 2000 + i));
  std::this_thread::sleep_for(500ms);
  REQUIRE(::kill(victim, SIGKILL) == 0);
  auto killed = std::chrono::steady_clock::now();
  CHECK_THROWS_AS(calls[0].result(10s), concurry::worker_died);
  CHECK(std::chrono::steady_clock::now() - killed < 1s);
  for (int i = 1; i < 5; ++i)
    CHECK(calls[static_cast<std::size_t>(i)].result(30s) == 2000 + i);
  auto s = pool.stats();
  CHECK(s.total_workers == 2);
  CHECK(s.restarts == 1);
  CHECK(pool.worker_stats(0).restarts == 1);
  CHECK(pool.worker_stats(1).restarts == 0);
  // The replacement is a new process with fresh state, built with the same arguments.
  std::set<int> pids;
  for (int i = 0; i < 4; ++i)
    pids.insert(pool.call(&cruncher::pid).result(30s));
  CHECK(pids.size() == 2);
  CHECK(pids.count(victim) == 0);
  CHECK(pool.call(&cruncher::add, 7).result(30s) == 7);
}

TEST_CASE("after max_restarts a process pool runs on with the workers it has") {
  auto pool =
      cruncher::options().mode(concurry::mode::process).max_workers(2).max_restarts(0).init(0);
  auto victim = pool.call(&cruncher::pid).result(30s);
  auto survivor = pool.call(&cruncher::pid).result(30s);
  REQUIRE(::kill(victim, SIGKILL) == 0);
  CHECK(eventually([&] { return pool.stats().total_workers == 1; }));
  CHECK(pool.stats().restarts == 0);
  CHECK(pool.worker_stats(0).stopped);
  // Every call goes to the survivor now, whatever the balancer picked.
  for (int i = 0; i < 6; ++i)
    CHECK(pool.call(&cruncher::pid).result(30s) == survivor);
  // Once the last worker is gone too, calls fail at once and say why.
  REQUIRE(::kill(survivor, SIGKILL) == 0);
  CHECK(eventually([&] { return pool.stats().total_workers == 0; }));
  CHECK_THROWS_WITH_AS(pool.call(&cruncher::pid).result(5s),
                       doctest::Contains("max_restarts 0"),
                       concurry::worker_died);
}

TEST_CASE("a worker is replaced max_restarts times, with fresh state each time") {
  auto pool =
      cruncher::options().mode(concurry::mode::process).max_workers(1).max_restarts(2).init(5);
  std::set<int> pids;
  for (int round = 0; round < 3; ++round) {
    CHECK(pool.call(&cruncher::flaky, 0).result(30s) == 1); // a fresh counter in every process
    auto pid = pool.call(&cruncher::pid).result(30s);
    pids.insert(pid);
    CHECK(pool.call(&cruncher::add, 1).result(30s) == 6);
    REQUIRE(::kill(pid, SIGKILL) == 0);
    if (round < 2)
      CHECK(eventually([&] { return pool.stats().restarts == static_cast<unsigned>(round + 1); }));
  }
  CHECK(pids.size() == 3);
  CHECK(eventually([&] { return pool.stats().total_workers == 0; }));
  CHECK(pool.stats().restarts == 2);
  CHECK_THROWS_AS(pool.call(&cruncher::add, 1).result(5s), concurry::worker_died);
}

TEST_CASE("retries in process mode: the host's exception is judged in the client") {
  auto pool = cruncher::options()
                  .mode(concurry::mode::process)
                  .max_workers(1)
                  .num_retries(3)
                  .retry_wait(10ms)
                  .retry_jitter(0)
                  .init(0);
  // Fails twice in the host, succeeds on the third attempt.
  auto started = std::chrono::steady_clock::now();
  CHECK(pool.call(&cruncher::flaky, 2).result(30s) == 3);
  CHECK(std::chrono::steady_clock::now() - started >= 30ms); // waits of 10 and 20 ms
  // Unregistered types are judged as remote_error; attempts run out with the last exception.
  CHECK_THROWS_WITH_AS(pool.call(&cruncher::fail_registered, std::string{"over"}).result(30s),
                       "over",
                       process_test::quota_exceeded);
  CHECK(pool.stats().load_balancer.total_dispatched == 2);
}

TEST_CASE("retry_on and retry_until run in the client on what the host returned") {
  auto only_quota = cruncher::options()
                        .mode(concurry::mode::process)
                        .max_workers(1)
                        .num_retries(5)
                        .retry_wait(1ms)
                        .retry_on<process_test::quota_exceeded>()
                        .init(0);
  CHECK(only_quota.call(&cruncher::flaky, 1).result(30s) == 2);
  CHECK_THROWS_AS(only_quota.call(&cruncher::fail_unregistered, std::string{"x"}).result(30s),
                  concurry::remote_error);
}

TEST_CASE("retry_until runs in the client on what the host returned") {
  auto until = cruncher::options()
                   .mode(concurry::mode::process)
                   .max_workers(1)
                   .num_retries(2)
                   .retry_wait(1ms)
                   .retry_until(&cruncher::flaky, [](int n) { return n >= 100; })
                   .init(0);
  try {
    until.call(&cruncher::flaky, 0).result(30s);
    FAIL("a validator that never passes must fail the call");
  } catch (const concurry::retry_validation_error& e) {
    CHECK(e.attempts() == 3);
    CHECK(e.results<int>() == std::vector<int>{1, 2, 3});
  }
}

TEST_CASE("a call whose worker dies is retried on a live worker when retries are set") {
  auto marker = marker_path();
  auto pool = cruncher::options()
                  .mode(concurry::mode::process)
                  .max_workers(2)
                  .num_retries(2)
                  .retry_wait(10ms)
                  .init(0);
  auto first = pool.call(&cruncher::pid).result(30s);
  auto second = pool.call(&cruncher::pid).result(30s);
  // The first attempt aborts its host; the second finds the marker and answers.
  auto pid = pool.call(&cruncher::crash_once, marker).result(30s);
  CHECK(pid != 0);
  std::remove(marker.c_str());
  CHECK(eventually([&] { return pool.stats().restarts == 1; }));
  CHECK(pool.stats().total_workers == 2);
  std::set<int> now;
  for (int i = 0; i < 4; ++i)
    now.insert(pool.call(&cruncher::pid).result(30s));
  CHECK(now.size() == 2);
  CHECK((now.count(first) + now.count(second)) == 1);
}

TEST_CASE("a process pool destroyed while it replaces a worker ends cleanly, children and all") {
  for (int round = 0; round < 5; ++round) {
    int victim = 0;
    int survivor = 0;
    concurry::future<int> waiting;
    {
      auto pool = cruncher::options().mode(concurry::mode::process).max_workers(2).init(0);
      victim = pool.call(&cruncher::pid).result(30s);
      survivor = pool.call(&cruncher::pid).result(30s);
      REQUIRE(::kill(victim, SIGKILL) == 0);
      // Sleep a little longer each round, so the end meets the replacement at different stages.
      std::this_thread::sleep_for(std::chrono::milliseconds{round * 15});
      waiting = pool.call(&cruncher::sleep_ms, 5000);
    }
    // The call either ran before the end or failed; it never waits forever.
    CHECK(waiting.wait_for(5s));
    CHECK(eventually([&] { return ::kill(survivor, 0) != 0; }));
  }
}

TEST_CASE("a stop while a worker is being replaced lets its queued calls run on the replacement") {
  auto pool = cruncher::options().mode(concurry::mode::process).max_workers(1).init(3);
  auto victim = pool.call(&cruncher::pid).result(30s);
  auto running = pool.call(&cruncher::sleep_ms, 3000);
  auto queued = pool.call(&cruncher::add, 1);
  std::this_thread::sleep_for(200ms);
  REQUIRE(::kill(victim, SIGKILL) == 0);
  CHECK_THROWS_AS(running.result(10s), concurry::worker_died);
  pool.stop(20s);
  CHECK(queued.result(1s) == 4);
}

TEST_CASE("a result whose bytes do not decode fails that call with codec_error, nothing else") {
  auto pool = cruncher::options().mode(concurry::mode::process).max_workers(1).init(0);
  auto pid = pool.call(&cruncher::pid).result(30s);
  CHECK_THROWS_AS(pool.call(&cruncher::make_lopsided, 3).result(30s), concurry::codec_error);
  CHECK(pool.call(&cruncher::pid).result(30s) == pid);
  CHECK(pool.stats().restarts == 0);
}

TEST_CASE("a worker host that sends a malformed message is killed and replaced; its call fails") {
  namespace ri = concurry::runtime_internal;
  concurry::detail::pool_spec spec;
  spec.worker_name = concurry::detail::descriptor_of<cruncher>::name;
  spec.mode = concurry::mode::process;
  spec.max_workers = 1;
  spec.constructor_arguments = concurry::encode(std::tuple<int>{0});
  for (auto name : concurry::detail::descriptor_of<cruncher>::method_names())
    spec.method_names.emplace_back(name);
  auto pool = ri::process_pool::create(ri::current_host(), spec);
  pool->start(30s);
  auto victim = pool->host_pid(0);
  REQUIRE(victim > 0);
  auto* call =
      new concurry::detail::call_op<int, cruncher, int (cruncher::*)(int), std::tuple<int>>(
          &cruncher::sleep_ms, 3000);
  call->method_index = concurry::detail::method_index_of<cruncher>(&cruncher::sleep_ms, 99);
  concurry::future<int> f = concurry::detail::make_future(
      concurry::detail::state_ptr<concurry::detail::value_state<int>>{call});
  pool->dispatch(0, *call);
  std::this_thread::sleep_for(300ms);
  // Bytes no host would send, as if from the connected host.
  pool->on_message({0, victim}, std::vector<char>{'\x01', '\x02', '\x03'});
  CHECK_THROWS_WITH_AS(f.result(5s), doctest::Contains("malformed"), concurry::worker_died);
  CHECK(eventually([&] { return ::kill(victim, 0) != 0; }));
  CHECK(eventually([&] { return pool->restarts() == 1 && pool->host_pid(0) > 0; }));
}
