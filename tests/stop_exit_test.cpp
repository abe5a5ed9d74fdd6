#include <doctest/doctest.h>

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

extern char** environ;

TEST_CASE("a process whose worker is stuck in user code exits promptly after stop" *
          doctest::test_suite("system")) {
  pid_t pid = 0;
  char* argv[] = {const_cast<char*>(CONCURRY_STOP_PROBE), nullptr};
  REQUIRE(posix_spawn(&pid, CONCURRY_STOP_PROBE, nullptr, nullptr, argv, environ) == 0);
  auto t0 = std::chrono::steady_clock::now();
  int status = 0;
  pid_t done = 0;
  // Bounded: 30 s at most, then the child is killed and the test fails.
  while ((done = waitpid(pid, &status, WNOHANG)) == 0 &&
         std::chrono::steady_clock::now() - t0 < std::chrono::seconds{30})
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
  if (done == 0) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  REQUIRE(done == pid);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(took < 6.0);
}
