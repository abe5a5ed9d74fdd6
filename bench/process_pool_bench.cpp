// Benchmark: a trivial call, increment(x) = x + 1, in child processes, in one run:
//
//   - concurry: a process pool of 2 workers (two worker host processes);
//   - the floor: a raw socketpair ping-pong with one forked child, 4-byte messages;
//   - the ceiling of the transport: CAF 0.17's own remote request to an actor in each of two
//     children (this binary re-executed), over the middleman on 127.0.0.1, with no concurry
//     layer; once with the settings of concurry's actor systems (actors/actor_host.cpp) and once
//     with CAF's defaults. Each is called from a scoped_actor (a blocking caller, as a concurry
//     user waits on futures) and from an event-based actor; its row takes the better figures;
//   - the peer: Python's concurrent.futures.ProcessPoolExecutor(max_workers=2)
//     (bench/python_processpool.py, as a child).
//
// For each: sequential round trips with one call in flight (p50 and p99 in microseconds), and
// pipelined runs with a sliding window of 1,000 calls in flight (calls per second, the median of
// three runs). Prints a table, the ratios to concurry and the verdicts of issue 6's targets.
// Exits 0 unless something broke: a wrong result, an exception, or the watchdog (a hung peer,
// exit 3) — a slow result is no failure. Every child is killed and reaped, also on failure.
//
// Usage: process_pool_bench [--quick] [--no-python]

#include "actors/actor_host.hpp"
#include "peer_measure.hpp"

#include <concurry/concurry.hpp>

#include <caf/all.hpp>
#include <caf/io/middleman.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <future>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#ifndef CONCURRY_BENCH_PYTHON_SCRIPT
#error "CONCURRY_BENCH_PYTHON_SCRIPT must name bench/python_processpool.py (bench/CMakeLists.txt)"
#endif

/// The worker of the concurry pool; built in the worker hosts, which run this same binary.
class bench_worker : public concurry::worker<bench_worker> {
public:
  int increment(int x) { return x + 1; }
};
CONCURRY_WORKER(bench_worker, (), increment)

namespace {

using namespace std::chrono_literals;
using peer_measure::clock_type;
using peer_measure::find_row;
using peer_measure::fixed;
using peer_measure::grouped;
using peer_measure::guarded;
using peer_measure::measure_peer;
using peer_measure::peer_figures;

/// Decimals of the microsecond figures this benchmark prints.
constexpr int us_decimals = 1;

/// The argument that makes this binary a child of the CAF peer.
constexpr std::string_view caf_child_flag = "--caf-peer-child";

// ---------------------------------------------------------------------------------------------
// Configuration

struct bench_config {
  bool quick = false;
  bool python = true;
  /// Runs only the peer of this name (concurry, floor, caf, caf-defaults, python); empty: all.
  std::string only;
  peer_measure::measure_config measure{.method = "increment",
                                       .seq_warmup = 1'000,
                                       .seq_calls = 10'000,
                                       .pipe_warmup = 10'000,
                                       .pipe_calls = 100'000,
                                       .window = 1'000,
                                       .repeats = 3,
                                       .seq_check_every = 128,
                                       .phase_limit = std::chrono::seconds{15}};
  std::size_t python_seq_warmup = 500;
  std::size_t python_seq_calls = 5'000;
  std::size_t python_pipe_calls = 20'000;
  std::chrono::seconds python_limit{60};
  // Past this the process kills its children and ends (exit 3): a hung peer must not hang CI.
  std::chrono::seconds hard_limit{300};
};

bench_config quick_config() {
  bench_config c;
  c.quick = true;
  c.measure.seq_warmup = 100;
  c.measure.seq_calls = 1'000;
  c.measure.pipe_warmup = 2'000;
  c.measure.pipe_calls = 10'000;
  c.measure.repeats = 1;
  c.python_seq_warmup = 100;
  c.python_seq_calls = 500;
  c.python_pipe_calls = 2'000;
  c.measure.phase_limit = std::chrono::seconds{3};
  c.python_limit = std::chrono::seconds{10};
  c.hard_limit = std::chrono::seconds{50};
  return c;
}

std::string system_error_text(const char* what) {
  return std::string{what} + ": " + std::strerror(errno);
}

// ---------------------------------------------------------------------------------------------
// Child processes

/// The pids of the children alive now, for the watchdog to kill.
std::array<std::atomic<pid_t>, 8> live_children{};

void watch_child(pid_t pid) {
  for (auto& slot : live_children) {
    pid_t empty = 0;
    if (slot.compare_exchange_strong(empty, pid))
      return;
  }
}

void forget_child(pid_t pid) {
  for (auto& slot : live_children) {
    pid_t expected = pid;
    if (slot.compare_exchange_strong(expected, 0))
      return;
  }
}

void kill_live_children() noexcept {
  for (auto& slot : live_children)
    if (pid_t pid = slot.load(); pid > 0)
      ::kill(pid, SIGKILL);
}

/// Run first in a forked child: it dies with this process, however this one ends.
void die_with_parent(pid_t parent) noexcept {
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

std::pair<fd_guard, fd_guard> make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    throw std::runtime_error(system_error_text("pipe2"));
  return {fd_guard{fds[0]}, fd_guard{fds[1]}};
}

/// The first executable file named `name` in PATH; empty when there is none.
std::string find_in_path(const std::string& name) {
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

/// Starts `program` with `args` (argv[0] first) and this environment; its stdin and stdout are
/// `in` and `out`, its stderr is this process's. It dies with this process.
child_process
spawn_child(const std::string& program, std::vector<std::string> args, int in, int out) {
  std::vector<char*> argv;
  for (auto& a : args)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0)
    throw std::runtime_error(system_error_text("fork"));
  if (pid == 0) {
    // Only async-signal-safe calls from here to exec: the parent has other threads.
    die_with_parent(parent);
    if (::dup2(in, 0) < 0 || ::dup2(out, 1) < 0)
      ::_exit(126);
    ::execv(program.c_str(), argv.data());
    ::_exit(127);
  }
  return child_process{pid};
}

/// Reads one line from `fd` within `timeout`; nullopt on end of file, error or timeout.
std::optional<std::string> read_line(int fd, std::chrono::milliseconds timeout) {
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

// ---------------------------------------------------------------------------------------------
// concurry

peer_figures bench_concurry(const bench_config& cfg) {
  return guarded("concurry process pool (2)", us_decimals, [&] {
    auto pool = bench_worker::options().mode(concurry::mode::process).max_workers(2).init();
    auto submit = [&pool](int x) { return pool.call(&bench_worker::increment, x); };
    auto get = [](concurry::future<int>& f) { return f.result(); };
    auto figures = measure_peer("concurry process pool (2)", cfg.measure, submit, get);
    pool.stop();
    return figures;
  });
}

// ---------------------------------------------------------------------------------------------
// The floor: a socketpair between this process and a forked child that answers each 4-byte
// integer with that integer plus one.

/// The forked child's loop: reads what is there, answers every whole integer in one write, and
/// ends at end of file. Only system calls: the parent has other threads.
[[noreturn]] void echo_increments(int fd) {
  std::int32_t buffer[1024];
  std::size_t have = 0; // bytes in buffer
  // Bounded by the parent, which closes the socket at the end (or dies, and with it this child).
  for (;;) {
    auto* bytes = reinterpret_cast<char*>(buffer);
    const auto n = ::read(fd, bytes + have, sizeof buffer - have);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      ::_exit(n == 0 ? 0 : 1);
    have += static_cast<std::size_t>(n);
    const std::size_t whole = have / sizeof(std::int32_t);
    for (std::size_t i = 0; i < whole; ++i)
      ++buffer[i];
    const std::size_t out = whole * sizeof(std::int32_t);
    for (std::size_t sent = 0; sent < out;) {
      const auto w = ::send(fd, bytes + sent, out - sent, MSG_NOSIGNAL);
      if (w < 0 && errno == EINTR)
        continue;
      if (w <= 0)
        ::_exit(1);
      sent += static_cast<std::size_t>(w);
    }
    // A partial integer stays for the next read.
    std::memmove(bytes, bytes + out, have - out);
    have -= out;
  }
}

/// The parent's end: one write per call, buffered reads of the answers (which come in order).
///
/// NOTE: a send that would block first drains the answers waiting: each small write is a buffer
/// of its own in the kernel, so 1,000 of them fill the socket, and with both sides blocked in
/// send the two processes would wait on each other forever.
class socket_client {
public:
  explicit socket_client(int fd) : fd_{fd} {}

  int submit(int x) {
    const std::int32_t value = x;
    const auto* bytes = reinterpret_cast<const char*>(&value);
    // Bounded: each round sends, drains answers, or fails after 5 s without either.
    for (std::size_t sent = 0; sent < sizeof value;) {
      const auto w = ::send(fd_, bytes + sent, sizeof value - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (w < 0 && errno == EINTR)
        continue;
      if (w < 0 && errno == EAGAIN) {
        wait_writable();
        continue;
      }
      if (w <= 0)
        throw std::runtime_error(system_error_text("socketpair send"));
      sent += static_cast<std::size_t>(w);
    }
    return x;
  }

  int get(int&) {
    // Bounded: each read returns data, or fails after the socket's 5 s receive timeout.
    while (end_ - begin_ < sizeof(std::int32_t))
      fill(/*flags=*/0);
    std::int32_t value = 0;
    std::memcpy(&value, buffer_ + begin_, sizeof value);
    begin_ += sizeof value;
    return value;
  }

private:
  // Reads what the socket has into the buffer (which holds far more than a window of answers).
  void fill(int flags) {
    std::memmove(buffer_, buffer_ + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
    const auto n = ::recv(fd_, buffer_ + end_, sizeof buffer_ - end_, flags);
    if (n < 0 && errno == EINTR)
      return;
    if (n < 0 && errno == EAGAIN && flags == MSG_DONTWAIT)
      return;
    if (n < 0 && errno == EAGAIN)
      throw std::runtime_error("the socketpair child answered nothing for 5 s");
    if (n <= 0)
      throw std::runtime_error(n == 0 ? std::string{"the socketpair child ended"}
                                      : system_error_text("socketpair read"));
    end_ += static_cast<std::size_t>(n);
  }

  void wait_writable() {
    pollfd p{fd_, POLLIN | POLLOUT, 0};
    if (::poll(&p, 1, 5000) == 0)
      throw std::runtime_error("the socketpair child answered nothing for 5 s");
    if (p.revents & POLLIN)
      fill(MSG_DONTWAIT);
  }

  int fd_;
  char buffer_[16384];
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
};

peer_figures bench_socketpair(const bench_config& cfg) {
  const std::string name = "floor: socketpair ping-pong (1 child)";
  return guarded(name, us_decimals, [&] {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
      throw std::runtime_error(system_error_text("socketpair"));
    fd_guard mine{fds[0]};
    fd_guard theirs{fds[1]};
    const timeval receive_timeout{5, 0};
    ::setsockopt(mine.get(), SOL_SOCKET, SO_RCVTIMEO, &receive_timeout, sizeof receive_timeout);
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0)
      throw std::runtime_error(system_error_text("fork"));
    if (pid == 0) {
      die_with_parent(parent);
      ::close(fds[0]);
      echo_increments(fds[1]);
    }
    child_process child{pid};
    theirs.reset();
    auto client = std::make_unique<socket_client>(mine.get());
    auto submit = [&](int x) { return client->submit(x); };
    auto get = [&](int& x) { return client->get(x); };
    auto figures = measure_peer(name, cfg.measure, submit, get);
    mine.reset(); // the child reads end of file and exits
    if (!child.end())
      throw std::runtime_error("the socketpair child did not exit cleanly");
    return figures;
  });
}

// ---------------------------------------------------------------------------------------------
// The ceiling: CAF's own remote request, one actor in each of two children.

enum class caf_settings { concurry, defaults };

const char* to_string(caf_settings s) {
  return s == caf_settings::concurry ? "concurry" : "defaults";
}

/// An actor system configured as concurry configures its own (actor_host), or with CAF's
/// defaults and the middleman.
class caf_system {
public:
  explicit caf_system(caf_settings settings, std::size_t threads) {
    if (settings == caf_settings::concurry) {
      host_ = std::make_unique<concurry::actors::actor_host>(threads);
      return;
    }
    cfg_ = std::make_unique<caf::actor_system_config>();
    cfg_->load<caf::io::middleman>();
    system_ = std::make_unique<caf::actor_system>(*cfg_);
  }
  caf_system(const caf_system&) = delete;
  caf_system& operator=(const caf_system&) = delete;

  caf::actor_system& get() { return host_ ? host_->system() : *system_; }

private:
  std::unique_ptr<concurry::actors::actor_host> host_;
  std::unique_ptr<caf::actor_system_config> cfg_;
  std::unique_ptr<caf::actor_system> system_; // after cfg_, which must outlive it
};

// NOTE: the step goes in as a spawn argument: CAF 0.17 dereferences a null pointer to its empty
// argument tuple when spawning a function without arguments.
caf::behavior increment_actor(caf::event_based_actor*, int step) {
  return {[step](int x) { return x + step; }};
}

/// The child's side, run by this binary with `--caf-peer-child <settings>` (spawn_child): publishes
/// an increment actor on 127.0.0.1, prints "port <n>", and exits at the end of its stdin (the
/// parent closes it, or dies).
[[noreturn]] void run_caf_peer_child(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "process_pool_bench: %s needs <settings>\n", argv[1]);
    std::_Exit(2);
  }
  const auto settings =
      std::string_view{argv[2]} == "defaults" ? caf_settings::defaults : caf_settings::concurry;
  // NOTE: never destroyed: the process ends with _exit, as concurry's worker hosts do.
  auto* system = new caf_system{settings, 2};
  auto adder = system->get().spawn(increment_actor, 1);
  auto port = system->get().middleman().publish(adder, 0, "127.0.0.1", true);
  if (!port) {
    std::fprintf(stderr,
                 "process_pool_bench: the CAF peer child cannot publish: %s\n",
                 system->get().render(port.error()).c_str());
    std::_Exit(4);
  }
  std::printf("port %u\n", static_cast<unsigned>(*port));
  std::fflush(stdout);
  char byte = 0;
  // Bounded by the parent: it never writes, so read returns only at its end or on an error.
  for (;;) {
    const auto n = ::read(0, &byte, 1);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
  }
  std::fflush(nullptr);
  ::_exit(0);
}

/// One child of the CAF peer: its process, the pipe that keeps it alive, its actor.
struct caf_child {
  child_process process;
  fd_guard keep_alive; // the write end of its stdin
  caf::actor actor;
};

caf_child start_caf_child(caf::actor_system& system, caf_settings settings) {
  auto [in_read, in_write] = make_pipe();
  auto [out_read, out_write] = make_pipe();
  caf_child child;
  child.process =
      spawn_child("/proc/self/exe",
                  {"process_pool_bench", std::string{caf_child_flag}, to_string(settings)},
                  in_read.get(),
                  out_write.get());
  child.keep_alive = std::move(in_write);
  in_read.reset();
  out_write.reset();
  auto line = read_line(out_read.get(), 10s);
  unsigned port = 0;
  if (!line || std::sscanf(line->c_str(), "port %u", &port) != 1 || port == 0 || port > 65535)
    throw std::runtime_error("a CAF peer child did not say its port within 10 s");
  auto actor = system.middleman().remote_actor("127.0.0.1", static_cast<std::uint16_t>(port));
  if (!actor)
    throw std::runtime_error("cannot connect to a CAF peer child: " + system.render(actor.error()));
  child.actor = *actor;
  return child;
}

/// A run of requests from an event-based actor, `window` in flight, round robin over `targets`.
/// With a window of 1 it also keeps each round trip.
struct request_run {
  std::vector<caf::actor> targets;
  std::size_t calls = 0;
  std::size_t window = 0;
  clock_type::time_point deadline;
  std::promise<void> done;
  // The actor's alone until `done` is set.
  std::size_t sent = 0;
  std::size_t completed = 0;
  bool truncated = false;
  std::string failure;
  clock_type::time_point start;
  clock_type::time_point stop;
  clock_type::time_point last_sent;
  std::vector<double> latencies_us;
};

void send_request(caf::event_based_actor* self, const std::shared_ptr<request_run>& run);

void finish_run(caf::event_based_actor* self, request_run& run) {
  run.stop = clock_type::now();
  run.done.set_value();
  self->quit();
}

void on_reply(caf::event_based_actor* self,
              const std::shared_ptr<request_run>& run,
              int x,
              int value) {
  if (value != x + 1) {
    run->failure = "increment(" + std::to_string(x) + ") returned " + std::to_string(value);
    return finish_run(self, *run);
  }
  if (run->window == 1)
    run->latencies_us.push_back(
        std::chrono::duration<double, std::micro>(clock_type::now() - run->last_sent).count());
  ++run->completed;
  if (run->sent < run->calls && !run->truncated) {
    if (run->sent % 128 == 0 && clock_type::now() > run->deadline)
      run->truncated = true;
    else
      send_request(self, run);
  }
  if (run->completed == run->sent)
    finish_run(self, *run);
}

void send_request(caf::event_based_actor* self, const std::shared_ptr<request_run>& run) {
  const int x = static_cast<int>(run->sent++);
  run->last_sent = clock_type::now();
  // NOTE: no timeout: in CAF 0.17 each one costs a timer entry, which concurry's calls do not
  // have either. A child that dies leaves the run waiting; the watchdog ends it.
  self->request(run->targets[static_cast<std::size_t>(x) % run->targets.size()], caf::infinite, x)
      .then([self, run, x](int value) { on_reply(self, run, x, value); },
            [self, run](caf::error& e) {
              run->failure = "a request failed: " + self->system().render(e);
              finish_run(self, *run);
            });
}

caf::behavior request_driver(caf::event_based_actor* self, std::shared_ptr<request_run> run) {
  run->start = clock_type::now();
  for (std::size_t i = 0; i < std::min(run->window, run->calls); ++i)
    send_request(self, run);
  // The replies arrive through the handlers of the requests; this one is never used.
  return {[](caf::ok_atom) {}};
}

/// Runs `calls` requests from an event-based actor; throws when one fails or the run hangs.
std::shared_ptr<request_run> drive_requests(caf::actor_system& system,
                                            const std::vector<caf::actor>& targets,
                                            std::size_t calls,
                                            std::size_t window,
                                            std::chrono::seconds limit) {
  auto run = std::make_shared<request_run>();
  run->targets = targets;
  run->calls = calls;
  run->window = window;
  run->deadline = clock_type::now() + limit;
  auto done = run->done.get_future();
  system.spawn(request_driver, run);
  if (done.wait_for(limit + 10s) != std::future_status::ready)
    throw std::runtime_error("CAF requests were not answered within the time limit");
  if (!run->failure.empty())
    throw std::runtime_error(run->failure);
  return run;
}

/// CAF from a blocking caller (a scoped_actor), as a concurry user waits on result() and keeps
/// futures in a window.
peer_figures measure_caf_blocking(const std::string& name,
                                  const peer_measure::measure_config& cfg,
                                  caf::actor_system& system,
                                  const std::vector<caf::actor>& targets) {
  caf::scoped_actor self{system};
  auto submit = [&](int x) {
    return self->request(targets[static_cast<std::size_t>(x) % targets.size()], caf::infinite, x);
  };
  auto get = [&](auto& handle) {
    int value = -1;
    handle.receive(
        [&](int v) { value = v; },
        [&](caf::error& e) { throw std::runtime_error("a request failed: " + system.render(e)); });
    return value;
  };
  return measure_peer(name, cfg, submit, get);
}

/// CAF from an event-based actor: no thread blocks anywhere.
peer_figures measure_caf_scheduled(const std::string& name,
                                   const peer_measure::measure_config& cfg,
                                   caf::actor_system& system,
                                   const std::vector<caf::actor>& targets) {
  peer_figures out;
  out.name = name;
  auto one = drive_requests(system, targets, cfg.seq_calls, 1, cfg.phase_limit);
  const auto seq = peer_measure::summarize(one->latencies_us, one->truncated);
  out.seq_p50_us = seq.p50_us;
  out.seq_p99_us = seq.p99_us;
  out.truncated = seq.truncated;
  (void)drive_requests(system, targets, cfg.pipe_warmup, cfg.window, cfg.phase_limit);
  for (std::size_t r = 0; r < cfg.repeats; ++r) {
    auto run = drive_requests(system, targets, cfg.pipe_calls, cfg.window, cfg.phase_limit);
    const auto seconds = std::chrono::duration<double>(run->stop - run->start).count();
    out.runs.push_back(static_cast<double>(run->completed) / seconds);
    out.truncated = out.truncated || run->truncated;
  }
  out.pipelined_calls_per_s = peer_measure::median(out.runs);
  out.measured = true;
  return out;
}

/// CAF's own remote request to two children. Its row takes the better of the two callers for
/// each figure (the lower p50, the higher pipelined rate): the ceiling is CAF at its best.
peer_figures bench_caf(const bench_config& cfg, caf_settings settings) {
  const std::string name = std::string{"CAF remote request, "} +
                           (settings == caf_settings::concurry ? "concurry's" : "CAF's default") +
                           " settings";
  return guarded(name, us_decimals, [&] {
    caf_system system{settings, 0};
    std::vector<caf_child> children;
    children.push_back(start_caf_child(system.get(), settings));
    children.push_back(start_caf_child(system.get(), settings));
    std::vector<caf::actor> targets;
    for (auto& c : children)
      targets.push_back(c.actor);
    const auto& config = system.get().config();
    std::printf(
        "  scheduler.policy=%s, %zu scheduler threads, middleman.workers=%zu\n",
        caf::to_string(caf::get_or(config, "scheduler.policy", caf::defaults::scheduler::policy))
            .c_str(),
        system.get().scheduler().num_workers(),
        caf::get_or(config, "middleman.workers", caf::defaults::middleman::workers));

    const auto blocking = measure_caf_blocking(name, cfg.measure, system.get(), targets);
    peer_measure::print_progress(blocking, us_decimals, "from a scoped_actor: ");
    const auto scheduled = measure_caf_scheduled(name, cfg.measure, system.get(), targets);
    peer_measure::print_progress(scheduled, us_decimals, "from an event-based actor: ");
    auto out = blocking.seq_p50_us <= scheduled.seq_p50_us ? blocking : scheduled;
    const auto& faster =
        blocking.pipelined_calls_per_s >= scheduled.pipelined_calls_per_s ? blocking : scheduled;
    out.pipelined_calls_per_s = faster.pipelined_calls_per_s;
    out.runs = faster.runs;
    out.truncated = blocking.truncated || scheduled.truncated;
    std::printf("  the row: the lower p50 and the higher pipelined rate of the two\n");

    // The children exit at the end of their stdin; the connections drop with them.
    for (auto& c : children) {
      c.actor = nullptr;
      c.keep_alive.reset();
    }
    for (auto& c : children)
      if (!c.process.end())
        throw std::runtime_error("a CAF peer child did not exit cleanly");
    return out;
  });
}

// ---------------------------------------------------------------------------------------------
// The peer: Python's ProcessPoolExecutor

peer_figures bench_python(const bench_config& cfg) {
  const std::string name = "Python ProcessPoolExecutor (2)";
  return guarded(name, us_decimals, [&] {
    const std::string python = find_in_path("python3");
    if (python.empty())
      throw std::runtime_error("python3 is not on PATH");
    auto [out_read, out_write] = make_pipe();
    auto [in_read, in_write] = make_pipe();
    auto child = spawn_child(python,
                             {"python3",
                              CONCURRY_BENCH_PYTHON_SCRIPT,
                              "--workers",
                              "2",
                              "--seq-warmup",
                              std::to_string(cfg.python_seq_warmup),
                              "--seq-calls",
                              std::to_string(cfg.python_seq_calls),
                              "--pipe-calls",
                              std::to_string(cfg.python_pipe_calls),
                              "--window",
                              std::to_string(cfg.measure.window),
                              "--repeats",
                              std::to_string(cfg.measure.repeats),
                              "--time-limit",
                              std::to_string(cfg.python_limit.count())},
                             in_read.get(),
                             out_write.get());
    in_read.reset();
    in_write.reset();
    out_write.reset();
    std::optional<peer_figures> figures;
    // Bounded: the script ends by its --time-limit; past that plus a margin it is killed.
    const auto deadline = clock_type::now() + cfg.python_limit + 20s;
    while (clock_type::now() < deadline) {
      auto line = read_line(
          out_read.get(),
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now()));
      if (!line)
        break;
      if (auto parsed = peer_measure::parse_result_line(*line))
        figures = std::move(parsed);
      else
        std::printf("  python: %s\n", line->c_str());
    }
    if (!child.end(/*grace=*/5000ms))
      throw std::runtime_error("python_processpool.py failed or was killed");
    if (!figures)
      throw std::runtime_error("python_processpool.py printed no result line");
    figures->name = name;
    return *figures;
  });
}

// ---------------------------------------------------------------------------------------------
// Output

/// `concurry` is null when concurry was not measured.
void print_table(const std::vector<peer_figures>& rows, const peer_figures* concurry) {
  const std::string rule(118, '-');
  std::printf("\n%s\n", rule.c_str());
  std::printf("%-44s | %11s | %11s | %17s | %10s | %10s\n",
              "name",
              "seq p50 us",
              "seq p99 us",
              "pipelined calls/s",
              "c / pipe",
              "c / p50");
  std::printf("%s\n", rule.c_str());
  for (const auto& r : rows) {
    const std::string name = r.name + (r.truncated ? " *" : "");
    if (!r.measured) {
      std::printf("%-44s | FAILED: %s\n", name.c_str(), r.failure.c_str());
      continue;
    }
    std::string pipe_ratio = "n/a", p50_ratio = "n/a";
    if (concurry) {
      pipe_ratio = fixed(concurry->pipelined_calls_per_s / r.pipelined_calls_per_s, 2);
      p50_ratio = fixed(concurry->seq_p50_us / r.seq_p50_us, 2);
    }
    std::printf("%-44s | %11s | %11s | %17s | %10s | %10s\n",
                name.c_str(),
                fixed(r.seq_p50_us, 1).c_str(),
                fixed(r.seq_p99_us, 1).c_str(),
                grouped(r.pipelined_calls_per_s).c_str(),
                pipe_ratio.c_str(),
                p50_ratio.c_str());
  }
  std::printf("%s\n", rule.c_str());
  std::printf("c / pipe: concurry's pipelined calls/s / this row's; c / p50: concurry's p50 / this "
              "row's.\n* = cut short by the time limit.\n");
}

/// Prints "target: <what> <op> <bound>: PASS/FAIL (<ratio>)"; SKIPPED when a side is missing.
/// `at_least`: the ratio must be >= bound, else <= bound.
void print_verdict(const char* what, double ratio, bool measured, bool at_least, double bound) {
  if (!measured) {
    std::printf(
        "target: %s %s %.1f: SKIPPED (not measured)\n", what, at_least ? ">=" : "<=", bound);
    return;
  }
  const bool pass = at_least ? ratio >= bound : ratio <= bound;
  std::printf("target: %s %s %.1f: %s (%.2f)\n",
              what,
              at_least ? ">=" : "<=",
              bound,
              pass ? "PASS" : "FAIL",
              ratio);
}

void print_verdicts(const std::vector<peer_figures>& rows, bool python_ran) {
  const auto* concurry = find_row(rows, "concurry");
  if (!concurry) {
    std::printf("target: all SKIPPED (concurry not measured)\n");
    return;
  }
  const peer_figures& c = *concurry;
  const auto* caf = find_row(rows, "CAF remote request, concurry's");
  const auto* python = find_row(rows, "Python");
  const auto* floor = find_row(rows, "floor");
  const bool have_caf = c.measured && caf;
  print_verdict("concurry pipelined / CAF pipelined",
                have_caf ? c.pipelined_calls_per_s / caf->pipelined_calls_per_s : NAN,
                have_caf,
                /*at_least=*/true,
                0.8);
  if (python_ran)
    print_verdict("concurry pipelined / Python pipelined",
                  c.measured && python ? c.pipelined_calls_per_s / python->pipelined_calls_per_s
                                       : NAN,
                  c.measured && python,
                  /*at_least=*/true,
                  10);
  else
    std::printf("target: concurry pipelined / Python pipelined >= 10.0: SKIPPED (--no-python)\n");
  print_verdict("concurry p50 / CAF p50",
                have_caf ? c.seq_p50_us / caf->seq_p50_us : NAN,
                have_caf,
                /*at_least=*/false,
                1.5);
  if (c.measured && floor)
    std::printf("info: concurry p50 / socketpair p50 = %.2f; concurry pipelined / socketpair "
                "pipelined = %.3f\n",
                c.seq_p50_us / floor->seq_p50_us,
                c.pipelined_calls_per_s / floor->pipelined_calls_per_s);
}

void print_usage() {
  std::printf("usage: process_pool_bench [--quick] [--no-python] [--only <peer>]\n"
              "  --quick        fewer calls, for a CI smoke run\n"
              "  --no-python    skip Python's ProcessPoolExecutor\n"
              "  --only <peer>  run one peer: concurry, floor, caf, caf-defaults or python\n");
}

bool is_peer_name(std::string_view name) {
  for (std::string_view known : {"concurry", "floor", "caf", "caf-defaults", "python"})
    if (name == known)
      return true;
  return false;
}

} // namespace

int main(int argc, char** argv) try {
  // Before the runtime: a CAF peer child needs no concurry actor system. Worker hosts run with
  // this program's own arguments, never with this flag, so they pass by.
  if (argc > 1 && argv[1] == caf_child_flag)
    run_caf_peer_child(argc, argv);
  concurry::runtime rt{argc, argv};

  bench_config cfg;
  bool python = true;
  std::string only;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--quick") {
      cfg = quick_config();
    } else if (arg == "--no-python") {
      python = false;
    } else if (arg == "--only" && i + 1 < argc && is_peer_name(argv[i + 1])) {
      only = argv[++i];
    } else if (arg == "--help" || arg == "-h") {
      print_usage();
      return 0;
    } else {
      std::fprintf(stderr, "process_pool_bench: unknown argument '%s'\n", argv[i]);
      print_usage();
      return 2;
    }
  }
  cfg.python = python && (only.empty() || only == "python");
  cfg.only = only;
  // Children not in the list (concurry's worker hosts, Python's workers) die with their parent
  // through PR_SET_PDEATHSIG.
  peer_measure::watchdog guard{cfg.hard_limit, "process_pool_bench", kill_live_children};

  peer_measure::print_run_header("process_pool_bench", cfg.measure, cfg.quick);

  const auto start = clock_type::now();
  std::vector<peer_figures> rows;
  auto wanted = [&](std::string_view peer) { return cfg.only.empty() || cfg.only == peer; };
  if (wanted("concurry"))
    rows.push_back(bench_concurry(cfg));
  if (wanted("floor"))
    rows.push_back(bench_socketpair(cfg));
  if (wanted("caf"))
    rows.push_back(bench_caf(cfg, caf_settings::concurry));
  if (wanted("caf-defaults"))
    rows.push_back(bench_caf(cfg, caf_settings::defaults));
  if (cfg.python)
    rows.push_back(bench_python(cfg));
  const auto seconds = std::chrono::duration<double>(clock_type::now() - start).count();

  print_table(rows, find_row(rows, "concurry"));
  std::printf("\n");
  print_verdicts(rows, cfg.python);
  std::printf("\ntotal %.1f s\n", seconds);

  // A C++ peer that failed is a crash; Python's absence is reported above but fails nothing.
  return peer_measure::has_failed_cpp_peer(rows) ? 1 : 0;
} catch (const std::exception& e) {
  kill_live_children();
  std::fprintf(stderr, "process_pool_bench: %s\n", e.what());
  return 1;
}
