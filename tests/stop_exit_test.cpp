#include <doctest/doctest.h>

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

extern char** environ;

namespace {

struct child_result {
  bool exited = false;
  int status = -1;
  double seconds = 0;
};

/// Runs `program` with `arg` and `mode`, for 30 s at the most (then kills it).
child_result run_child(const char* program, const char* arg, const char* mode = nullptr) {
  pid_t pid = 0;
  char* argv[] = {
      const_cast<char*>(program), const_cast<char*>(arg), const_cast<char*>(mode), nullptr};
  child_result r;
  if (posix_spawn(&pid, program, nullptr, nullptr, argv, environ) != 0)
    return r;
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
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.exited = done == pid && WIFEXITED(status);
  r.status = r.exited ? WEXITSTATUS(status) : -1;
  return r;
}

} // namespace

TEST_CASE("a process whose worker is stuck in user code exits promptly after stop" *
          doctest::test_suite("system")) {
  for (const char* mode : {"thread", "process"}) {
    CAPTURE(mode);
    auto r = run_child(CONCURRY_STOP_PROBE, mode);
    CHECK(r.exited);
    CHECK(r.status == 0);
    CHECK(r.seconds < 6.0);
  }
}

TEST_CASE("a program exits cleanly with concurry objects alive past the end of main" *
          doctest::test_suite("system")) {
  for (const char* mode : {"thread", "process"})
    for (const char* what : {"global-handle", "global-pool", "no-runtime"}) {
      CAPTURE(mode);
      CAPTURE(what);
      auto r = run_child(CONCURRY_EXIT_PROBE, what, mode);
      CHECK(r.exited);
      CHECK(r.status == 0);
      CHECK(r.seconds < 10.0);
    }
}
