// Worker host processes (runtime/internal/process_host.hpp): start, hello, ping, shutdown, kill,
// output forwarding, and no child left behind by a client killed with SIGKILL.
#include "net/host_messages.hpp"
#include "runtime/internal/host.hpp"
#include "runtime/internal/process_host.hpp"

#include <doctest/doctest.h>

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <future>
#include <iterator>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace {

namespace ri = concurry::runtime_internal;
using namespace std::chrono_literals;

bool process_exists(pid_t pid) {
  struct stat st;
  return ::stat(("/proc/" + std::to_string(pid)).c_str(), &st) == 0;
}

/// A client with worker hosts, and what they reported.
class host_fixture {
public:
  explicit host_fixture(ri::process_host_options options = {}) {
    ri::process_hosts::events events;
    events.on_hello = [this](const concurry::actors::host_identity& who) {
      std::lock_guard guard{mutex_};
      hellos_[who.worker] = who.pid;
      changed_.notify_all();
    };
    events.on_exit = [this](const ri::host_exit& e) {
      std::lock_guard guard{mutex_};
      exits_[e.worker] = e;
      changed_.notify_all();
    };
    hosts_ = std::make_unique<ri::process_hosts>(ri::current_host(), events, std::move(options));
  }

  ri::process_hosts& hosts() { return *hosts_; }

  /// Starts hosts 0 to n - 1 and waits (20 s at most) for their hellos.
  bool start(int n) {
    for (int worker = 0; worker < n; ++worker)
      hosts_->start(worker);
    std::unique_lock lock{mutex_};
    return changed_.wait_for(lock, 20s, [&] { return hellos_.size() == std::size_t(n); });
  }

  std::map<int, int> hellos() {
    std::lock_guard guard{mutex_};
    return hellos_;
  }

  /// The exit of `worker`, once reported within `timeout`.
  std::optional<ri::host_exit> wait_exit(int worker, std::chrono::milliseconds timeout) {
    std::unique_lock lock{mutex_};
    if (!changed_.wait_for(lock, timeout, [&] { return exits_.count(worker) != 0; }))
      return std::nullopt;
    return exits_.at(worker);
  }

private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<int, int> hellos_;
  std::map<int, ri::host_exit> exits_;
  std::unique_ptr<ri::process_hosts> hosts_;
};

/// Reads `fd` until end of file or 20 s.
std::string read_all(int fd) {
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + 20s;
  char buffer[4096];
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0)
      continue;
    auto n = ::read(fd, buffer, sizeof buffer);
    if (n <= 0)
      break;
    out.append(buffer, static_cast<std::size_t>(n));
  }
  return out;
}

/// Reads one line from `fd` (20 s at most).
std::string read_line(int fd) {
  std::string line;
  auto deadline = std::chrono::steady_clock::now() + 20s;
  char c = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0)
      continue;
    if (::read(fd, &c, 1) != 1 || c == '\n')
      break;
    line += c;
  }
  return line;
}

/// Pids of live processes whose command line contains `marker` (zombies have none).
std::vector<pid_t> processes_with(const std::string& marker) {
  std::vector<pid_t> found;
  DIR* proc = ::opendir("/proc");
  if (!proc)
    return found;
  while (auto* entry = ::readdir(proc)) {
    pid_t pid = std::atoi(entry->d_name);
    if (pid <= 0)
      continue;
    std::ifstream in{std::string{"/proc/"} + entry->d_name + "/cmdline", std::ios::binary};
    std::string cmdline{std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
    if (cmdline.find(marker) != std::string::npos)
      found.push_back(pid);
  }
  ::closedir(proc);
  return found;
}

std::string unique_marker() {
  std::random_device rd;
  return "concurry-host-probe-" + std::to_string(::getpid()) + "-" + std::to_string(rd());
}

} // namespace

TEST_CASE("process_host: four hosts say hello, each with its own pid" *
          doctest::test_suite("system")) {
  host_fixture f;
  REQUIRE(f.start(4));
  std::set<int> pids;
  for (auto [worker, pid] : f.hellos()) {
    CHECK(pid == f.hosts().pid_of(worker));
    pids.insert(pid);
  }
  CHECK(pids.size() == 4);
  CHECK(pids.count(::getpid()) == 0);
}

TEST_CASE("process_host: every host answers a ping with its pong" * doctest::test_suite("system")) {
  host_fixture f;
  REQUIRE(f.start(4));
  for (int worker = 0; worker < 4; ++worker)
    CHECK(f.hosts().ping(worker, 3, 5000ms).size() == 3);
  CHECK(f.hosts().ping(7, 1, 100ms).empty());
}

TEST_CASE("process_host: shutdown ends every host with code 0 and leaves no zombie" *
          doctest::test_suite("system")) {
  host_fixture f;
  REQUIRE(f.start(4));
  auto hellos = f.hellos();
  for (int worker = 0; worker < 4; ++worker)
    CHECK(f.hosts().shutdown(worker));
  for (auto [worker, pid] : hellos) {
    auto e = f.wait_exit(worker, 10s);
    REQUIRE(e);
    CHECK(e->describe() == "exited with code 0");
    CHECK_FALSE(process_exists(pid));
    CHECK_FALSE(f.hosts().is_running(worker));
  }
}

TEST_CASE("process_host: a host killed with SIGKILL is reported with its signal within 1 s" *
          doctest::test_suite("system")) {
  host_fixture f;
  REQUIRE(f.start(2));
  pid_t pid = f.hosts().pid_of(1);
  auto killed_at = std::chrono::steady_clock::now();
  REQUIRE(::kill(pid, SIGKILL) == 0);
  auto e = f.wait_exit(1, 1000ms);
  REQUIRE(e);
  CHECK(std::chrono::steady_clock::now() - killed_at < 1s);
  CHECK(e->signaled);
  CHECK(e->signal == SIGKILL);
  CHECK(e->pid == pid);
  CHECK(f.hosts().ping(0, 1, 5000ms).size() == 1);
}

TEST_CASE("process_host: terminate ends a host with SIGTERM and kill with SIGKILL" *
          doctest::test_suite("system")) {
  host_fixture f;
  REQUIRE(f.start(2));
  CHECK(f.hosts().terminate(0));
  CHECK(f.hosts().kill(1));
  auto term = f.wait_exit(0, 5s);
  auto killed = f.wait_exit(1, 5s);
  REQUIRE(term);
  REQUIRE(killed);
  CHECK(term->signal == SIGTERM);
  CHECK(killed->signal == SIGKILL);
  CHECK_FALSE(f.hosts().kill(1));
}

TEST_CASE("process_host: terminate ends a stopped host with SIGTERM" *
          doctest::test_suite("system")) {
  host_fixture f;
  REQUIRE(f.start(1));
  REQUIRE(::kill(f.hosts().pid_of(0), SIGSTOP) == 0);
  CHECK(f.hosts().terminate(0));
  auto e = f.wait_exit(0, 5s);
  REQUIRE(e);
  CHECK(e->signal == SIGTERM);
}

TEST_CASE("process_host: a host that ignores SIGTERM is killed after the grace" *
          doctest::test_suite("system")) {
  int out[2];
  REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
  ri::process_host_options options;
  options.executable = "/bin/sh";
  options.arguments = {"sh", "-c", "trap '' TERM; echo ignoring; exec sleep 30"};
  options.stdout_fd = out[1];
  options.kill_grace = 300ms;
  {
    host_fixture f{options};
    f.hosts().start(0);
    // SIGTERM is ignored once the line is out.
    CHECK(read_line(out[0]).find("ignoring") != std::string::npos);
    auto asked_at = std::chrono::steady_clock::now();
    CHECK(f.hosts().terminate(0));
    auto e = f.wait_exit(0, 5s);
    CHECK(e);
    CHECK((e && e->signal == SIGKILL));
    CHECK(std::chrono::steady_clock::now() - asked_at >= 300ms);
  }
  // The hosts' output goes to `out` until the fixture is gone.
  ::close(out[0]);
  ::close(out[1]);
}

TEST_CASE("process_host: a stopped host that cannot answer shutdown is killed after the grace" *
          doctest::test_suite("system")) {
  ri::process_host_options options;
  options.shutdown_grace = 300ms;
  host_fixture f{options};
  REQUIRE(f.start(1));
  REQUIRE(::kill(f.hosts().pid_of(0), SIGSTOP) == 0);
  auto asked_at = std::chrono::steady_clock::now();
  CHECK(f.hosts().shutdown(0));
  auto e = f.wait_exit(0, 5s);
  REQUIRE(e);
  CHECK(e->signal == SIGKILL);
  CHECK(std::chrono::steady_clock::now() - asked_at >= 300ms);
}

TEST_CASE("process_host: a stopped host is killed once it answers no ping for the timeout" *
          doctest::test_suite("system")) {
  ri::process_host_options options;
  options.heartbeat_timeout = 500ms;
  host_fixture f{options};
  REQUIRE(f.start(2));
  REQUIRE(::kill(f.hosts().pid_of(0), SIGSTOP) == 0);
  auto stopped_at = std::chrono::steady_clock::now();
  auto e = f.wait_exit(0, 5s);
  REQUIRE(e);
  CHECK(e->signal == SIGKILL);
  CHECK(std::chrono::steady_clock::now() - stopped_at < 2s);
  // The other host answers its pings and lives.
  CHECK_FALSE(f.wait_exit(1, 1s));
  CHECK(f.hosts().ping(1, 1, 5000ms).size() == 1);
}

TEST_CASE("process_host: the destructor reaps a stopped host within seconds" *
          doctest::test_suite("system")) {
  pid_t pid = 0;
  std::chrono::steady_clock::time_point ending;
  {
    host_fixture f;
    REQUIRE(f.start(1));
    pid = f.hosts().pid_of(0);
    REQUIRE(::kill(pid, SIGSTOP) == 0);
    ending = std::chrono::steady_clock::now();
  }
  CHECK(std::chrono::steady_clock::now() - ending < 3s);
  CHECK_FALSE(process_exists(pid));
}

TEST_CASE("process_host: a destructor held up by a blocking on_exit gives up after reap_timeout" *
          doctest::test_suite("system")) {
  std::promise<void> release;
  ri::process_hosts::events events;
  events.on_exit = [gate = release.get_future().share()](const ri::host_exit&) {
    gate.wait_for(20s);
  };
  ri::process_host_options options;
  options.reap_timeout = 300ms;
  auto hosts = std::make_unique<ri::process_hosts>(ri::current_host(), events, options);
  hosts->start(0);
  auto ending = std::chrono::steady_clock::now();
  hosts.reset();
  CHECK(std::chrono::steady_clock::now() - ending < 5s);
  // The detached I/O thread ends once its handler returns.
  release.set_value();
}

TEST_CASE("process_host: a host of an index still running cannot start twice" *
          doctest::test_suite("system")) {
  host_fixture f;
  REQUIRE(f.start(1));
  CHECK_THROWS_AS(f.hosts().start(0), concurry::error);
  CHECK(f.hosts().kill(0));
  REQUIRE(f.wait_exit(0, 5s));
  CHECK(f.hosts().start(0) > 0);
}

TEST_CASE("process_host: what a host writes reaches the client line by line, prefixed" *
          doctest::test_suite("system")) {
  int out[2];
  int err[2];
  REQUIRE(::pipe(out) == 0);
  REQUIRE(::pipe(err) == 0);
  std::string out_text;
  std::string err_text;
  pid_t pid = 0;
  {
    ri::process_host_options options;
    options.executable = CONCURRY_HOST_PROBE;
    options.arguments = {"host_probe", "print", unique_marker()};
    options.stdout_fd = out[1];
    options.stderr_fd = err[1];
    host_fixture f{options};
    REQUIRE(f.start(2));
    pid = f.hosts().pid_of(1);
    CHECK(f.hosts().shutdown(0));
    CHECK(f.hosts().shutdown(1));
    REQUIRE(f.wait_exit(0, 10s));
    REQUIRE(f.wait_exit(1, 10s));
  }
  ::close(out[1]);
  ::close(err[1]);
  out_text = read_all(out[0]);
  err_text = read_all(err[0]);
  ::close(out[0]);
  ::close(err[0]);
  std::string prefix = "[Worker 1 pid " + std::to_string(pid) + "] ";
  CHECK(out_text.find(prefix + "first line\n" + prefix + "second line\n") != std::string::npos);
  CHECK(out_text.find(prefix + "no newline at the end\n") != std::string::npos);
  CHECK(err_text.find(prefix + "a line on stderr\n") != std::string::npos);
  CHECK(err_text.find(prefix + "partial on stderr\n") != std::string::npos);
  CHECK(out_text.find("[Worker 0 pid ") != std::string::npos);
}

TEST_CASE("process_host: no host outlives a client killed with SIGKILL" *
          doctest::test_suite("system")) {
  auto marker = unique_marker();
  int out[2];
  REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  const char* argv[] = {CONCURRY_HOST_PROBE, "client", marker.c_str(), nullptr};
  pid_t client = 0;
  int rc = ::posix_spawn(
      &client, CONCURRY_HOST_PROBE, &actions, nullptr, const_cast<char* const*>(argv), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  REQUIRE(rc == 0);

  // The client prints "ready" and the pids of its 4 hosts once each said hello.
  std::istringstream ready{read_line(out[0])};
  ::close(out[0]);
  std::string word;
  ready >> word;
  std::vector<pid_t> hosts{std::istream_iterator<pid_t>{ready}, std::istream_iterator<pid_t>{}};
  CHECK(word == "ready");
  CHECK(hosts.size() == 4);
  CHECK(processes_with(marker).size() == 5);

  ::kill(client, SIGKILL);
  int status = 0;
  ::waitpid(client, &status, 0);
  auto killed_at = std::chrono::steady_clock::now();
  // Bounded: 2 s, checking every 20 ms.
  std::vector<pid_t> left = processes_with(marker);
  while (!left.empty() && std::chrono::steady_clock::now() - killed_at < 2s) {
    std::this_thread::sleep_for(20ms);
    left = processes_with(marker);
  }
  CHECK(left.empty());
  for (pid_t pid : left)
    ::kill(pid, SIGKILL);
}

TEST_CASE("process_host: control messages survive encoding and malformed bytes are refused") {
  namespace net = concurry::net;
  auto hello = net::decode_host_message(net::encode(net::host_hello{"s3cret", 42, 3}));
  REQUIRE(std::holds_alternative<net::host_hello>(hello));
  CHECK(std::get<net::host_hello>(hello).secret == "s3cret");
  CHECK(std::get<net::host_hello>(hello).pid == 42);
  CHECK(std::get<net::host_hello>(hello).worker == 3);
  auto pong = net::decode_host_message(net::encode(net::host_pong{7}));
  CHECK(std::get<net::host_pong>(pong).sequence == 7);
  CHECK_THROWS_AS(net::decode_host_message({1, 2, 3}), net::decode_error);
  CHECK_THROWS_AS(net::decode_host_message(std::vector<char>(16, '\xff')), net::decode_error);
}

/// Waits (at most 5 s) until process `pid` is gone and reaped.
bool eventually_gone(pid_t pid) {
  for (int i = 0; i < 250 && process_exists(pid); ++i)
    std::this_thread::sleep_for(20ms);
  return !process_exists(pid);
}

TEST_CASE("process_host: kill_if spares a host started in the place of the one it names" *
          doctest::test_suite("system")) {
  host_fixture f;
  REQUIRE(f.start(1));
  pid_t old_pid = f.hosts().pid_of(0);
  REQUIRE(::kill(old_pid, SIGKILL) == 0);
  REQUIRE(f.wait_exit(0, 10s));
  pid_t new_pid = f.hosts().start(0);
  REQUIRE(new_pid != old_pid);
  // The old host's late news must not end its replacement.
  CHECK_FALSE(f.hosts().kill_if(0, old_pid));
  CHECK(f.hosts().is_running(0));
  CHECK(process_exists(new_pid));
  CHECK(f.hosts().kill_if(0, new_pid));
  CHECK(eventually_gone(new_pid));
}
