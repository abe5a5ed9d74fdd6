// What the benchmarks' peers need to run child processes: an owned child that is killed and
// reaped however the benchmark ends, an owned file descriptor, pipes, fork+exec of a program
// that dies with this process, and reading a line with a deadline. Shared by process_pool_bench
// and cluster_bench; header-only, inline, for the benchmarks alone.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace bench_child {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

inline std::string system_error_text(const char* what) {
  return std::string{what} + ": " + std::strerror(errno);
}

/// The pids of the children alive now, for the watchdog to kill.
inline std::array<std::atomic<pid_t>, 8> live_children{};

inline void watch_child(pid_t pid) {
  for (auto& slot : live_children) {
    pid_t empty = 0;
    if (slot.compare_exchange_strong(empty, pid))
      return;
  }
}

inline void forget_child(pid_t pid) {
  for (auto& slot : live_children) {
    pid_t expected = pid;
    if (slot.compare_exchange_strong(expected, 0))
      return;
  }
}

inline void kill_live_children() noexcept {
  for (auto& slot : live_children)
    if (pid_t pid = slot.load(); pid > 0)
      ::kill(pid, SIGKILL);
}

/// Run first in a forked child: it dies with this process, however this one ends.
inline void die_with_parent(pid_t parent) noexcept {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent)
    ::_exit(3); // the parent died before the line above took effect
}

/// A child process of this benchmark. The destructor waits a little for it to exit on its own
/// (its input closed), then kills it, and reaps it either way.
class child_process {
public:
  child_process() = default;
  explicit child_process(pid_t pid) : pid_{pid} { watch_child(pid); }
  child_process(child_process&& other) noexcept : pid_{std::exchange(other.pid_, 0)} {}
  child_process& operator=(child_process&& other) noexcept {
    end();
    pid_ = std::exchange(other.pid_, 0);
    return *this;
  }
  ~child_process() { end(); }

  [[nodiscard]] pid_t pid() const noexcept { return pid_; }

  /// Waits (at most `grace`) for the child to exit, then sends SIGKILL; reaps it. Returns
  /// whether it exited on its own with status 0.
  bool end(std::chrono::milliseconds grace = 2000ms) noexcept {
    if (pid_ <= 0)
      return false;
    int status = 0;
    bool clean = false;
    const auto deadline = clock_type::now() + grace;
    // Bounded by `grace`, in steps of a millisecond.
    for (;;) {
      pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        break;
      }
      if (r < 0 && errno != EINTR)
        break;
      if (clock_type::now() >= deadline) {
        ::kill(pid_, SIGKILL);
        while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
        }
        break;
      }
      std::this_thread::sleep_for(1ms);
    }
    forget_child(pid_);
    pid_ = 0;
    return clean;
  }

private:
  pid_t pid_ = 0;
};

/// An owned file descriptor.
class fd_guard {
public:
  fd_guard() = default;
  explicit fd_guard(int fd) : fd_{fd} {}
  fd_guard(fd_guard&& other) noexcept : fd_{std::exchange(other.fd_, -1)} {}
  fd_guard& operator=(fd_guard&& other) noexcept {
    reset();
    fd_ = std::exchange(other.fd_, -1);
    return *this;
  }
  ~fd_guard() { reset(); }
  [[nodiscard]] int get() const noexcept { return fd_; }
  void reset() noexcept {
    if (fd_ >= 0)
      ::close(fd_);
    fd_ = -1;
  }

private:
  int fd_ = -1;
};

inline std::pair<fd_guard, fd_guard> make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    throw std::runtime_error(system_error_text("pipe2"));
  return {fd_guard{fds[0]}, fd_guard{fds[1]}};
}

/// The first executable file named `name` in PATH; empty when there is none.
inline std::string find_in_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string_view dirs = path ? path : "/usr/bin:/bin";
  while (!dirs.empty()) {
    const auto colon = std::min(dirs.find(':'), dirs.size());
    std::string candidate{dirs.substr(0, colon)};
    dirs.remove_prefix(std::min(colon + 1, dirs.size()));
    candidate += (candidate.empty() ? "" : "/") + name;
    if (::access(candidate.c_str(), X_OK) == 0)
      return candidate;
  }
  return {};
}

/// Forks a child that dies with this process. Returns its pid in the parent and 0 in the child,
/// which may make only async-signal-safe calls (the parent has other threads) until it execs or
/// exits.
inline pid_t fork_child() {
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0)
    throw std::runtime_error(system_error_text("fork"));
  if (pid == 0)
    die_with_parent(parent);
  return pid;
}

/// Starts `program` with `args` (argv[0] first) and this environment; its stdin and stdout are
/// `in` and `out`, its stderr is this process's. It dies with this process.
inline child_process
spawn_child(const std::string& program, std::vector<std::string> args, int in, int out) {
  std::vector<char*> argv;
  for (auto& a : args)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = fork_child();
  if (pid == 0) {
    if (::dup2(in, 0) < 0 || ::dup2(out, 1) < 0)
      ::_exit(126);
    ::execv(program.c_str(), argv.data());
    ::_exit(127);
  }
  return child_process{pid};
}

/// Reads one line from `fd` within `timeout`; nullopt on end of file, error or timeout.
inline std::optional<std::string> read_line(int fd, std::chrono::milliseconds timeout) {
  std::string line;
  const auto deadline = clock_type::now() + timeout;
  // Bounded by `timeout`, and by 256 characters.
  while (line.size() < 256) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
    pollfd p{fd, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0)
      return std::nullopt;
    char c = 0;
    const auto n = ::read(fd, &c, 1);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return std::nullopt;
    if (c == '\n')
      return line;
    line += c;
  }
  return std::nullopt;
}

} // namespace bench_child
