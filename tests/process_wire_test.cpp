// Process mode at the edges of the wire: pools whose worker host is stopped (SIGSTOP). The hosts
// are this test binary, re-executed.
#include <concurry/concurry.hpp>

#include <doctest/doctest.h>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

using namespace std::chrono_literals;

namespace process_wire_test {

class sizer : public concurry::worker<sizer> {
public:
  explicit sizer(std::vector<char> seed) : seed_{seed.size()} {}
  std::size_t measure(std::vector<char> bytes) { return bytes.size() + seed_; }
  std::vector<char> make(std::size_t n) { return std::vector<char>(n, 'x'); }
  int pid() { return static_cast<int>(::getpid()); }

private:
  std::size_t seed_;
};
CONCURRY_WORKER(sizer, (std::vector<char>), measure, make, pid)

} // namespace process_wire_test

namespace {

using process_wire_test::sizer;

auto process_sizer() {
  return sizer::options().mode(concurry::mode::process).max_workers(1);
}

} // namespace

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
