// Process mode at the edges of the wire: the largest message (max_message_size) for arguments,
// results and constructor arguments, worker hosts that stop answering (heartbeat_timeout), and
// pools whose worker host is stopped (SIGSTOP). The hosts are this test binary, re-executed.
#include <concurry/concurry.hpp>

#include <doctest/doctest.h>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace process_wire_test {

class sizer : public concurry::worker<sizer> {
public:
  explicit sizer(std::vector<char> seed) : seed_{seed.size()} {}
  std::size_t measure(std::vector<char> bytes) { return bytes.size() + seed_; }
  std::vector<char> make(std::size_t n) { return std::vector<char>(n, 'x'); }
  int pid() { return static_cast<int>(::getpid()); }
  void fail(std::size_t n) { throw std::runtime_error(std::string(n, 'e')); }
  int nap(int ms) {
    std::this_thread::sleep_for(std::chrono::milliseconds{ms});
    return ms;
  }
  // Keeps a core busy for `ms`.
  int spin(int ms) {
    auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds{ms};
    std::uint64_t x = 1;
    while (std::chrono::steady_clock::now() < until)
      for (int i = 0; i < 1000; ++i)
        x = x * 6364136223846793005u + 1442695040888963407u;
    return x == 0 ? -1 : ms;
  }

private:
  std::size_t seed_;
};
CONCURRY_WORKER(sizer, (std::vector<char>), measure, make, pid, fail, nap, spin)

} // namespace process_wire_test

namespace {

using process_wire_test::sizer;
constexpr std::size_t one_mib = std::size_t{1} << 20;

/// Whether `pid` is gone (killed and reaped), checking every 10 ms for `timeout` at most.
bool is_reaped_within(int pid, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (::kill(pid, 0) == 0) {
    if (std::chrono::steady_clock::now() >= deadline)
      return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

auto process_sizer() {
  return sizer::options().mode(concurry::mode::process).max_workers(1);
}

} // namespace

TEST_CASE("a call whose arguments exceed max_message_size fails alone, and the next call works" *
          doctest::test_suite("system")) {
  auto pool = process_sizer().max_message_size(one_mib).init(std::vector<char>{});
  auto pid = pool.call(&sizer::pid).result(30s);
  CHECK_THROWS_WITH_AS(pool.call(&sizer::measure, std::vector<char>(2 * one_mib)).result(30s),
                       doctest::Contains("more than max_message_size (1048576 bytes)"),
                       concurry::message_too_large);
  CHECK(pool.call(&sizer::measure, std::vector<char>(1000)).result(30s) == 1000);
  CHECK(pool.call(&sizer::pid).result(30s) == pid);
}

TEST_CASE("a result that exceeds max_message_size fails its call clearly; the worker lives" *
          doctest::test_suite("system")) {
  auto pool = process_sizer().max_message_size(one_mib).init(std::vector<char>{});
  auto pid = pool.call(&sizer::pid).result(30s);
  try {
    pool.call(&sizer::make, 2 * one_mib).result(30s);
    FAIL("no exception");
  } catch (const concurry::message_too_large& e) {
    CHECK(std::string{e.what()}.find("the result of sizer::make does not fit") == 0);
    CHECK(std::string{e.what()}.find("max_message_size (1048576 bytes)") != std::string::npos);
  }
  CHECK(pool.call(&sizer::make, 1000).result(30s).size() == 1000);
  CHECK(pool.call(&sizer::pid).result(30s) == pid);
}

TEST_CASE("an exception message too large for one message arrives cut, as its own type" *
          doctest::test_suite("system")) {
  auto pool = process_sizer().max_message_size(one_mib).init(std::vector<char>{});
  try {
    pool.call(&sizer::fail, 2 * one_mib).result(30s);
    FAIL("no exception");
  } catch (const std::runtime_error& e) {
    std::string what = e.what();
    CHECK(what.size() < one_mib);
    CHECK(what.find("[cut to fit max_message_size]") != std::string::npos);
  }
  CHECK(pool.call(&sizer::measure, std::vector<char>(10)).result(30s) == 10);
}

TEST_CASE("constructor arguments that exceed max_message_size fail init before any host starts") {
  CHECK_THROWS_WITH_AS(
      process_sizer().max_message_size(one_mib).init(std::vector<char>(2 * one_mib)),
      doctest::Contains("the constructor arguments of"),
      concurry::message_too_large);
}

TEST_CASE("the configured max_message_size of process mode applies when the builder sets none" *
          doctest::test_suite("system")) {
  concurry::config_override small{
      [](concurry::configuration& c) { c.process.max_message_size = one_mib; }};
  auto pool = process_sizer().init(std::vector<char>{});
  CHECK_THROWS_AS(pool.call(&sizer::measure, std::vector<char>(2 * one_mib)).result(30s),
                  concurry::message_too_large);
  CHECK(pool.call(&sizer::measure, std::vector<char>(one_mib / 2)).result(30s) == one_mib / 2);
}

TEST_CASE("max_message_size outside 4 KiB to 511 MiB is refused") {
  CHECK_THROWS_AS(process_sizer().max_message_size(100), concurry::config_error);
  CHECK_THROWS_AS(process_sizer().max_message_size(std::size_t{1} << 30), concurry::config_error);
  CHECK_NOTHROW(process_sizer().max_message_size(concurry::largest_max_message_size));
  auto c = concurry::config();
  c.process.max_message_size = 0;
  CHECK_THROWS_WITH_AS(concurry::set_config(c),
                       doctest::Contains("process.max_message_size"),
                       concurry::config_error);
}

TEST_CASE("destroying a process pool whose worker host is stopped ends within seconds" *
          doctest::test_suite("system")) {
  int pid = 0;
  std::chrono::steady_clock::time_point ending;
  {
    auto pool = process_sizer().init(std::vector<char>{});
    pid = pool.call(&sizer::pid).result(30s);
    REQUIRE(::kill(pid, SIGSTOP) == 0);
    ending = std::chrono::steady_clock::now();
  }
  CHECK(std::chrono::steady_clock::now() - ending < 5s);
  // Reaped, not left a zombie: the pid is gone.
  CHECK(::kill(pid, 0) != 0);
}

TEST_CASE("a call to a worker host stopped with SIGSTOP fails with worker_died after the silence" *
          doctest::test_suite("system")) {
  // 1 s, and 62 ms for a result of up to 1 MiB on its way.
  auto pool =
      process_sizer().heartbeat_timeout(1s).max_message_size(one_mib).init(std::vector<char>{});
  auto pid = pool.call(&sizer::pid).result(30s);
  auto call = pool.call(&sizer::nap, 20'000);
  REQUIRE(::kill(pid, SIGSTOP) == 0);
  auto stopped_at = std::chrono::steady_clock::now();
  CHECK_THROWS_WITH_AS(call.result(10s),
                       doctest::Contains("answered no ping within its heartbeat_timeout"),
                       concurry::worker_died);
  auto waited = std::chrono::steady_clock::now() - stopped_at;
  CHECK(waited >= 1s);
  CHECK(waited < 3s);
  CHECK(is_reaped_within(pid, 2s));
}

TEST_CASE("a 3 s CPU-bound call outlasts a 1 s heartbeat timeout: pings are still answered" *
          doctest::test_suite("system")) {
  auto pool = process_sizer().heartbeat_timeout(1s).init(std::vector<char>{});
  CHECK(pool.call(&sizer::spin, 3000).result(30s) == 3000);
}

TEST_CASE("pings queued behind large calls do not make a busy host look frozen" *
          doctest::test_suite("system")) {
  // Up to 100 calls of 2 MiB in flight take longer to cross than the 225 ms of silence allowed
  // for one message; the pings wait behind them.
  auto pool = process_sizer()
                  .heartbeat_timeout(100ms)
                  .max_message_size(2 * one_mib + 4096)
                  .init(std::vector<char>{});
  std::vector<concurry::future<std::size_t>> calls;
  for (int i = 0; i < 300; ++i)
    calls.push_back(pool.call(&sizer::measure, std::vector<char>(2 * one_mib)));
  for (auto& call : calls)
    CHECK(call.result(60s) == 2 * one_mib);
}

TEST_CASE("heartbeat_timeout is zero (never) or at least 100 ms") {
  CHECK_THROWS_AS(process_sizer().heartbeat_timeout(50ms), concurry::config_error);
  CHECK_THROWS_AS(process_sizer().heartbeat_timeout(-1s), concurry::config_error);
  CHECK_NOTHROW(process_sizer().heartbeat_timeout(0s));
  auto c = concurry::config();
  c.process.heartbeat_timeout = 10ms;
  CHECK_THROWS_WITH_AS(concurry::set_config(c),
                       doctest::Contains("process.heartbeat_timeout"),
                       concurry::config_error);
}

// Heavy (about 2.6 GB of memory in the client): run with --no-skip.
TEST_CASE("a message just under the largest max_message_size crosses CAF's middleman both ways" *
          doctest::test_suite("system") * doctest::skip()) {
  const std::size_t size = concurry::largest_max_message_size - one_mib;
  auto pool = process_sizer()
                  .max_message_size(concurry::largest_max_message_size)
                  .init(std::vector<char>{});
  auto started = std::chrono::steady_clock::now();
  CHECK(pool.call(&sizer::measure, std::vector<char>(size)).result(300s) == size);
  auto there = std::chrono::steady_clock::now() - started;
  started = std::chrono::steady_clock::now();
  CHECK(pool.call(&sizer::make, size).result(300s).size() == size);
  auto back = std::chrono::steady_clock::now() - started;
  auto line = std::to_string(size) + " bytes: to the host " +
              std::to_string(std::chrono::duration<double>(there).count()) + " s, back " +
              std::to_string(std::chrono::duration<double>(back).count()) + " s";
  MESSAGE(line);
}
