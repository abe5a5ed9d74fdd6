#include "runtime/internal/process_host.hpp"

#include "actors/log.hpp"

#include <concurry/error.hpp>
#include <concurry/exceptions.hpp>

#include <caf/actor.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <future>
#include <iterator>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

extern char** environ;

namespace concurry::runtime_internal {

namespace {

using clock = std::chrono::steady_clock;

// The fd number the child finds the read end of the parent's pipe at.
constexpr int death_pipe_child_fd = 3;
// A line longer than this is forwarded in pieces, so a child cannot make the client buffer
// without bound.
constexpr std::size_t max_line = 64 * 1024;
// Without pidfds (kernels before 5.3) children are polled for their exit this often.
constexpr std::chrono::milliseconds reap_poll_interval{50};

// -- file descriptors ---------------------------------------------------------------------------

void close_fd(int& fd) noexcept {
  if (fd >= 0)
    ::close(fd);
  fd = -1;
}

// A close-on-exec pipe whose ends are above `lowest`. Above 2, dup2 onto the standard streams in
// the child cannot overwrite an end before it is used; above the death pipe's fixed number in the
// child, dup2 never maps an end onto itself (which would keep its close-on-exec flag).
std::pair<int, int> make_pipe(int lowest = 2) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    throw error{std::string{"cannot create a pipe: "} + std::strerror(errno)};
  for (int& fd : fds) {
    if (fd > lowest)
      continue;
    int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, lowest + 1);
    ::close(fd);
    fd = moved;
  }
  if (fds[0] < 0 || fds[1] < 0) {
    close_fd(fds[0]);
    close_fd(fds[1]);
    throw error{"cannot move a pipe above the standard streams"};
  }
  return {fds[0], fds[1]};
}

void set_nonblocking(int fd) {
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
}

void write_all(int fd, const std::string& text) noexcept {
  std::size_t done = 0;
  while (done < text.size()) {
    auto n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return;
    done += static_cast<std::size_t>(n);
  }
}

// -- the program's arguments --------------------------------------------------------------------

std::mutex arguments_mutex;
std::vector<std::string> remembered_arguments;

std::vector<std::string> program_arguments() {
  {
    std::lock_guard guard{arguments_mutex};
    if (!remembered_arguments.empty())
      return remembered_arguments;
  }
  std::ifstream in{"/proc/self/cmdline", std::ios::binary};
  std::string all{std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
  std::vector<std::string> args;
  for (std::size_t at = 0; at < all.size();) {
    auto end = all.find('\0', at);
    if (end == std::string::npos)
      end = all.size();
    args.emplace_back(all, at, end - at);
    at = end + 1;
  }
  return args;
}

// -- the child's view of CONCURRY_WORKER_HOST ---------------------------------------------------

// port=<p>,worker=<w>,parent=<pid>,fd=<n>,secret=<hex>, then optionally (cluster mode)
// address=<client address>,head=<address>:<port>,output=client
struct host_environment {
  std::uint16_t port = 0;
  int worker = -1;
  pid_t parent = 0;
  int fd = -1;
  std::string secret;
  std::string address = "127.0.0.1";
  std::string head_address;
  std::uint16_t head_port = 0;
  bool output_to_client = false;
};

std::string format_environment(const host_environment& env) {
  auto text = "port=" + std::to_string(env.port) + ",worker=" + std::to_string(env.worker) +
              ",parent=" + std::to_string(env.parent) + ",fd=" + std::to_string(env.fd) +
              ",secret=" + env.secret + ",address=" + env.address;
  if (!env.head_address.empty())
    text += ",head=" + env.head_address + ":" + std::to_string(env.head_port);
  if (env.output_to_client)
    text += ",output=client";
  return text;
}

template <class T>
bool parse_number(std::string_view text, T& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc{} && end == text.data() + text.size();
}

bool parse_head(std::string_view value, host_environment& env) {
  auto colon = value.rfind(':');
  if (colon == std::string_view::npos || colon == 0)
    return false;
  env.head_address = std::string{value.substr(0, colon)};
  return parse_number(value.substr(colon + 1), env.head_port) && env.head_port != 0;
}

std::optional<host_environment> parse_environment(std::string_view text) {
  host_environment env;
  int required = 0;
  while (!text.empty()) {
    auto comma = text.find(',');
    auto item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
    auto eq = item.find('=');
    if (eq == std::string_view::npos)
      return std::nullopt;
    auto key = item.substr(0, eq);
    auto value = item.substr(eq + 1);
    bool is_required =
        key == "port" || key == "worker" || key == "parent" || key == "fd" || key == "secret";
    bool ok = key == "port"      ? parse_number(value, env.port)
              : key == "worker"  ? parse_number(value, env.worker)
              : key == "parent"  ? parse_number(value, env.parent)
              : key == "fd"      ? parse_number(value, env.fd)
              : key == "secret"  ? (env.secret = value, !value.empty())
              : key == "address" ? (env.address = value, !value.empty())
              : key == "head"    ? parse_head(value, env)
              : key == "output"  ? (env.output_to_client = value == "client", true)
                                 : false;
    if (!ok)
      return std::nullopt;
    required += is_required ? 1 : 0;
  }
  if (required != 5 || env.port == 0 || env.worker < 0 || env.parent <= 0 || env.fd < 0)
    return std::nullopt;
  return env;
}

// The environment of a child: this process's, with the host variable set to `value`.
std::vector<std::string> child_environment(const std::string& value) {
  std::vector<std::string> env;
  std::string prefix = std::string{worker_host_variable} + "=";
  for (char** e = environ; e && *e; ++e)
    if (std::strncmp(*e, prefix.c_str(), prefix.size()) != 0)
      env.emplace_back(*e);
  env.push_back(prefix + value);
  return env;
}

} // namespace

std::string host_exit::describe() const {
  if (!reason.empty())
    return reason;
  if (signaled) {
    const char* name = ::sigabbrev_np(signal);
    return "killed by signal " + std::to_string(signal) +
           (name ? std::string{" (SIG"} + name + ")" : std::string{});
  }
  if (exit_code < 0)
    return "exited with an unknown status";
  return "exited with code " + std::to_string(exit_code);
}

// -- the client side ----------------------------------------------------------------------------

struct process_hosts::impl {
  // One child from its spawn until it is reaped and its output pipes are closed. Fields
  // marked (io) are touched by the I/O thread only.
  struct child {
    int worker = 0;
    pid_t pid = 0;
    bool reaped = false;
    host_exit status;
    std::optional<clock::time_point> kill_at;
    int pidfd = -1;             // (io)
    int out = -1;               // (io)
    int err = -1;               // (io)
    std::string out_partial;    // (io)
    std::string err_partial;    // (io)
    std::string prefix;         // (io)
    bool exit_reported = false; // (io)
  };

  struct spawn_request {
    int worker = 0;
    std::promise<pid_t> result;
    bool async = false; // nobody waits for `result`: a failure goes to on_start_failed
  };

  std::shared_ptr<actors::actor_host> host;
  events handlers;
  process_host_options options;
  std::string secret;
  std::unique_ptr<actors::host_listener> listener;

  mutable std::mutex mutex;
  std::map<pid_t, child> children;  // guarded; changed by the I/O thread only
  std::map<int, pid_t> running;     // guarded: worker -> pid until reaped
  std::deque<spawn_request> spawns; // guarded
  bool stopping = false;            // guarded
  // Set by the destructor when it gives up waiting: events are no longer delivered.
  bool detached = false; // guarded
  // Set by the I/O thread as its last step.
  bool io_finished = false; // guarded
  std::condition_variable io_done;

  int wake_read = -1;
  int wake_write = -1;
  // The client holds the write end and never writes: its end of file tells a child that the
  // client is gone.
  int death_read = -1;
  int death_write = -1;
  std::thread io;

  ~impl() {
    for (int* fd : {&wake_read, &wake_write, &death_read, &death_write})
      close_fd(*fd);
  }

  void wake() noexcept {
    char byte = 1;
    [[maybe_unused]] auto n = ::write(wake_write, &byte, 1);
  }

  // Whether a hello's pid is that of the running host of its worker index.
  bool is_expected(const actors::host_identity& who) const {
    std::lock_guard guard{mutex};
    auto it = running.find(who.worker);
    return it != running.end() && it->second == who.pid;
  }

  // A host that answered no ping: the owner hears it first, so that it can fail the host's calls
  // with the reason, then the host is killed (unless it was replaced meanwhile).
  void on_silent(const actors::host_identity& who) {
    if (handlers.on_silent)
      handlers.on_silent(who);
    std::lock_guard guard{mutex};
    auto it = running.find(who.worker);
    if (it == running.end() || it->second != who.pid)
      return;
    ::kill(who.pid, SIGKILL);
    actors::logger("pool")->debug(
        "killed a silent worker host worker={} pid={}", who.worker, who.pid);
  }

  // Sends `sig` (none for 0) to the running host of `worker`, and SIGKILL at `kill_at` unless
  // an earlier one is due.
  bool signal_worker(int worker, int sig, std::optional<clock::time_point> kill_at = {}) {
    std::lock_guard guard{mutex};
    auto it = running.find(worker);
    if (it == running.end())
      return false;
    // Under the lock the child cannot be reaped meanwhile, so the pid cannot have been reused.
    if (sig != 0)
      ::kill(it->second, sig);
    // A stopped process keeps SIGTERM pending until it is continued.
    if (sig == SIGTERM)
      ::kill(it->second, SIGCONT);
    if (kill_at) {
      auto& due = children.at(it->second).kill_at;
      if (!due || *kill_at < *due)
        due = kill_at;
      wake();
    }
    return true;
  }

  // -- the I/O thread ----------------------------------------------------------------------------

  // Runs on the I/O thread: PR_SET_PDEATHSIG follows the thread that spawned, so every child
  // comes from this one long-lived thread.
  pid_t spawn(int worker) {
    auto [out_read, out_write] = make_pipe();
    auto [err_read, err_write] = make_pipe();
    auto close_ends = [&] {
      for (int* fd : {&out_read, &out_write, &err_read, &err_write})
        close_fd(*fd);
    };

    // Everything the spawn needs is built before it: nothing allocates in the child.
    host_environment env;
    env.worker = worker;
    env.parent = ::getpid();
    env.fd = death_pipe_child_fd;
    if (options.client) {
      env.port = options.client->port;
      env.secret = options.client->secret;
      env.address = options.client->address;
      env.head_address = options.client->head_address;
      env.head_port = options.client->head_port;
      env.output_to_client = true;
    } else {
      env.port = listener->port();
      env.secret = secret;
    }
    auto env_strings = child_environment(format_environment(env));
    auto env_pointers = pointers(env_strings);
    auto args = options.arguments.empty() ? program_arguments() : options.arguments;
    if (args.empty())
      args.emplace_back("concurry-worker-host");
    auto arg_pointers = pointers(args);
    const std::string& exe =
        options.executable.empty() ? std::string{"/proc/self/exe"} : options.executable;

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, out_write, 1);
    posix_spawn_file_actions_adddup2(&actions, err_write, 2);
    posix_spawn_file_actions_adddup2(&actions, death_read, death_pipe_child_fd);
    // The application's own descriptors stay out of its hosts.
    posix_spawn_file_actions_addclosefrom_np(&actions, death_pipe_child_fd + 1);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none;
    sigset_t all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

    pid_t pid = 0;
    int rc = 0;
    {
      // Held across the spawn so that the host's hello cannot be judged before it is known.
      std::lock_guard guard{mutex};
      rc = ::posix_spawn(
          &pid, exe.c_str(), &actions, &attr, arg_pointers.data(), env_pointers.data());
      if (rc == 0) {
        auto& c = children[pid];
        c.worker = worker;
        c.pid = pid;
        running[worker] = pid;
      }
    }
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
      close_ends();
      throw error{"cannot start a worker host (" + exe + "): " + std::strerror(rc)};
    }

    // The I/O fields are this thread's alone.
    auto& c = children.at(pid);
    close_fd(out_write);
    close_fd(err_write);
    set_nonblocking(out_read);
    set_nonblocking(err_read);
    c.out = out_read;
    c.err = err_read;
    // NOTE: through syscall: glibc 2.36's <sys/pidfd.h> lacks C linkage in C++. -1 on kernels
    // before 5.3, where the child is polled instead.
    c.pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    c.prefix = "[Worker " + std::to_string(worker) + " pid " + std::to_string(pid) + "] ";
    actors::logger("pool")->debug("worker host started worker={} pid={}", worker, pid);
    return pid;
  }

  void emit(int to, const std::string& prefix, std::string_view line) {
    std::string text;
    text.reserve(prefix.size() + line.size() + 1);
    text.append(prefix).append(line).push_back('\n');
    write_all(to, text);
  }

  // Reads what `fd` has now; forwards every complete line, and the partial rest at end of file.
  void forward(int& fd, std::string& partial, const std::string& prefix, int to) {
    char buffer[16384];
    // Bounded: at most 16 reads per wake-up, so one chatty child cannot starve the others.
    for (int round = 0; round < 16 && fd >= 0; ++round) {
      auto n = ::read(fd, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN)
        return;
      if (n <= 0) {
        if (!partial.empty())
          emit(to, prefix, partial);
        partial.clear();
        close_fd(fd);
        return;
      }
      partial.append(buffer, static_cast<std::size_t>(n));
      std::size_t start = 0;
      for (auto nl = partial.find('\n'); nl != std::string::npos; nl = partial.find('\n', start)) {
        emit(to, prefix, std::string_view{partial}.substr(start, nl - start));
        start = nl + 1;
      }
      partial.erase(0, start);
      if (partial.size() >= max_line) {
        emit(to, prefix, partial);
        partial.clear();
      }
    }
  }

  // Reaps `c` if it has exited; returns whether it is reaped.
  bool try_reap(child& c) {
    std::lock_guard guard{mutex};
    if (c.reaped)
      return true;
    int status = 0;
    pid_t r = ::waitpid(c.pid, &status, WNOHANG);
    if (r == 0 || (r < 0 && errno != ECHILD))
      return false;
    c.status.worker = c.worker;
    c.status.pid = c.pid;
    if (r < 0) {
      // SIGCHLD set to SIG_IGN by the application: the kernel reaped it, the status is gone.
      c.status.exit_code = -1;
    } else if (WIFSIGNALED(status)) {
      c.status.signaled = true;
      c.status.signal = WTERMSIG(status);
    } else {
      c.status.exit_code = WEXITSTATUS(status);
    }
    c.reaped = true;
    c.kill_at.reset();
    running.erase(c.worker);
    return true;
  }

  void serve_spawns() {
    std::deque<spawn_request> todo;
    {
      std::lock_guard guard{mutex};
      todo.swap(spawns);
    }
    for (auto& request : todo) {
      std::exception_ptr failure;
      // A child spawned now would miss the destructor's SIGKILL.
      if (is_stopping()) {
        failure =
            std::make_exception_ptr(error{"the worker hosts were stopped while one was starting"});
      } else {
        try {
          request.result.set_value(spawn(request.worker));
          continue;
        } catch (...) {
          failure = std::current_exception();
        }
      }
      request.result.set_exception(failure);
      if (request.async && handlers.on_start_failed)
        handlers.on_start_failed(request.worker, describe_exception(failure).message);
    }
  }

  void run() {
    serve();
    {
      std::lock_guard guard{mutex};
      io_finished = true;
    }
    io_done.notify_all();
  }

  void serve() {
    std::vector<pollfd> fds;
    // Bounded: every round either waits in poll or ends the loop; the loop ends once the
    // destructor asked and every child is reaped.
    for (;;) {
      bool stop = false;
      std::optional<clock::time_point> next_kill;
      bool needs_polling = false;
      fds.clear();
      fds.push_back({wake_read, POLLIN, 0});
      {
        std::lock_guard guard{mutex};
        stop = stopping;
        for (auto& [pid, c] : children) {
          for (int fd : {c.out, c.err, c.reaped ? -1 : c.pidfd})
            if (fd >= 0)
              fds.push_back({fd, POLLIN, 0});
          if (!c.reaped && c.pidfd < 0)
            needs_polling = true;
          if (c.kill_at && (!next_kill || *c.kill_at < *next_kill))
            next_kill = c.kill_at;
        }
      }
      if (stop && all_reaped()) {
        close_all();
        return;
      }

      // Waits for output, an exit, a request, or the next deadline.
      int timeout = -1;
      if (needs_polling)
        timeout = static_cast<int>(reap_poll_interval.count());
      if (next_kill) {
        auto left = std::chrono::ceil<std::chrono::milliseconds>(*next_kill - clock::now());
        timeout = std::clamp(static_cast<int>(left.count()), 0, timeout < 0 ? 60000 : timeout);
      }
      if (::poll(fds.data(), fds.size(), timeout) < 0 && errno != EINTR)
        actors::logger("pool")->error("poll failed error={}", std::strerror(errno));
      if (fds[0].revents) {
        char drain[64];
        while (::read(wake_read, drain, sizeof drain) > 0) {
        }
      }
      serve_spawns();
      service_children();
    }
  }

  bool is_stopping() const {
    std::lock_guard guard{mutex};
    return stopping;
  }

  bool is_detached() const {
    std::lock_guard guard{mutex};
    return detached;
  }

  // Fails the spawn requests that raced with the end, instead of leaving them waiting.
  void fail_spawns() {
    std::deque<spawn_request> todo;
    {
      std::lock_guard guard{mutex};
      todo.swap(spawns);
    }
    for (auto& request : todo)
      request.result.set_exception(
          std::make_exception_ptr(error{"the worker hosts were stopped while one was starting"}));
  }

  bool all_reaped() {
    std::lock_guard guard{mutex};
    return std::all_of(children.begin(), children.end(), [](auto& kv) { return kv.second.reaped; });
  }

  // Forwards output, reaps, reports exits, sends due SIGKILLs, and forgets finished children.
  void service_children() {
    std::vector<host_exit> exited;
    std::vector<pid_t> finished;
    auto now = clock::now();
    // Only this thread changes the map, so iterating it without the lock is safe.
    for (auto& [pid, c] : children) {
      forward(c.out, c.out_partial, c.prefix, options.stdout_fd);
      forward(c.err, c.err_partial, c.prefix, options.stderr_fd);
      if (!c.exit_reported && try_reap(c)) {
        // What the child wrote before it died is in the pipes already.
        forward(c.out, c.out_partial, c.prefix, options.stdout_fd);
        forward(c.err, c.err_partial, c.prefix, options.stderr_fd);
        close_fd(c.pidfd);
        c.exit_reported = true;
        exited.push_back(c.status);
      }
      {
        std::lock_guard guard{mutex};
        if (c.kill_at && *c.kill_at <= now && !c.reaped) {
          ::kill(c.pid, SIGKILL);
          c.kill_at.reset();
        }
      }
      if (c.exit_reported && c.out < 0 && c.err < 0)
        finished.push_back(pid);
    }
    if (!finished.empty()) {
      std::lock_guard guard{mutex};
      for (auto pid : finished)
        children.erase(pid);
    }
    for (auto& e : exited) {
      actors::logger("pool")->debug(
          "worker host ended worker={} pid={} how={}", e.worker, e.pid, e.describe());
      if (handlers.on_exit && !is_detached())
        handlers.on_exit(e);
    }
  }

  // At the end: what is still buffered goes out, even if a grandchild holds a pipe open.
  void close_all() {
    for (auto& [pid, c] : children) {
      forward(c.out, c.out_partial, c.prefix, options.stdout_fd);
      forward(c.err, c.err_partial, c.prefix, options.stderr_fd);
      if (!c.out_partial.empty())
        emit(options.stdout_fd, c.prefix, c.out_partial);
      if (!c.err_partial.empty())
        emit(options.stderr_fd, c.prefix, c.err_partial);
      for (int* fd : {&c.out, &c.err, &c.pidfd})
        close_fd(*fd);
    }
    std::lock_guard guard{mutex};
    children.clear();
  }
};

process_hosts::process_hosts(std::shared_ptr<actors::actor_host> host,
                             events handlers,
                             process_host_options options)
    : impl_{std::make_shared<impl>()} {
  // Only a worker host that did not go through the runtime object still has the variable; its
  // hosts would start hosts in turn.
  if (std::getenv(worker_host_variable) != nullptr)
    throw error{std::string{"worker hosts cannot start inside a worker host: "} +
                "concurry::runtime must be the first line of main"};
  if (options.heartbeat_timeout.count() < 0)
    throw error{"the heartbeat timeout of worker hosts must not be negative"};
  auto& s = *impl_;
  s.host = std::move(host);
  s.handlers = std::move(handlers);
  s.options = std::move(options);
  s.secret = random_secret();
  std::tie(s.wake_read, s.wake_write) = make_pipe();
  set_nonblocking(s.wake_read);
  set_nonblocking(s.wake_write);
  std::tie(s.death_read, s.death_write) = make_pipe(death_pipe_child_fd);

  // The listener's callbacks reach this object only while the listener lives, and the
  // destructor ends the listener first.
  actors::host_listener::events listener_events;
  impl* self = impl_.get();
  listener_events.accept = [self](const actors::host_identity& who) {
    return self->is_expected(who);
  };
  listener_events.on_hello = s.handlers.on_hello;
  listener_events.on_lost = s.handlers.on_lost;
  listener_events.on_message = s.handlers.on_message;
  listener_events.on_silent = [self](const actors::host_identity& who) { self->on_silent(who); };
  if (!s.options.client)
    s.listener = std::make_unique<actors::host_listener>(
        *s.host,
        s.secret,
        listener_events,
        actors::host_listener::heartbeat{s.options.heartbeat_timeout},
        s.options.listen_address);
  // The thread shares the state: the destructor may have to leave it running (detached).
  s.io = std::thread{[state = impl_] { state->run(); }};
}

process_hosts::~process_hosts() {
  auto& s = *impl_;
  s.listener.reset();
  {
    std::lock_guard guard{s.mutex};
    s.stopping = true;
    for (auto& [worker, pid] : s.running)
      ::kill(pid, SIGKILL);
  }
  s.wake();
  if (s.io.get_id() == std::this_thread::get_id()) {
    // The last owner went away inside an event on the I/O thread itself (a pool released in
    // on_exit): the thread, which holds the state, finishes the reaping on its own.
    s.io.detach();
    return;
  }

  // SIGKILL ends even a stopped process, so the reaping takes milliseconds; only a process
  // stuck in the kernel (or an on_exit handler that blocks) can hold it up.
  bool finished = false;
  {
    std::unique_lock lock{s.mutex};
    finished = s.io_done.wait_for(lock, s.options.reap_timeout, [&] { return s.io_finished; });
    if (!finished) {
      s.detached = true;
      std::string pids;
      for (auto& [worker, pid] : s.running)
        pids += (pids.empty() ? "" : " ") + std::to_string(pid);
      actors::logger("pool")->error("worker host teardown did not finish within {} ms (a host "
                                    "not reaped, or an on_exit handler that blocks); its thread "
                                    "was detached unreaped=[{}]",
                                    s.options.reap_timeout.count(),
                                    pids);
    }
  }
  if (finished)
    s.io.join();
  else
    s.io.detach();
  s.fail_spawns();
}

pid_t process_hosts::start(int worker) {
  std::future<pid_t> result;
  {
    std::unique_lock guard{impl_->mutex};
    if (impl_->running.count(worker) != 0)
      throw error{"a worker host of index " + std::to_string(worker) + " is still running"};
    if (impl_->stopping)
      throw error{"the worker hosts are stopping"};
    // From on_exit (a replacement), this already is the I/O thread: waiting for it would hang.
    // spawn() takes the lock itself.
    if (std::this_thread::get_id() == impl_->io.get_id()) {
      guard.unlock();
      return impl_->spawn(worker);
    }
    impl_->spawns.push_back({worker, {}});
    result = impl_->spawns.back().result.get_future();
  }
  impl_->wake();
  // Bounded: an I/O thread held up elsewhere must not hang the pool that asked.
  if (result.wait_for(std::chrono::seconds{30}) != std::future_status::ready)
    throw error{"the worker host of index " + std::to_string(worker) +
                " was not started within 30 s"};
  return result.get();
}

void process_hosts::start_async(int worker) {
  {
    std::lock_guard guard{impl_->mutex};
    impl_->spawns.push_back({worker, {}, true});
  }
  impl_->wake();
}

bool process_hosts::shutdown(int worker) {
  bool running = impl_->signal_worker(worker, 0, clock::now() + impl_->options.shutdown_grace);
  // Hosts of a remote client hear it from that client; here they only get their grace.
  return impl_->listener ? impl_->listener->shutdown(worker) : running;
}

bool process_hosts::send(int worker, std::vector<char> to_host_bytes) {
  return impl_->listener && impl_->listener->send(worker, std::move(to_host_bytes));
}

bool process_hosts::terminate(int worker) {
  return impl_->signal_worker(worker, SIGTERM, clock::now() + impl_->options.kill_grace);
}

bool process_hosts::kill(int worker) {
  return impl_->signal_worker(worker, SIGKILL);
}

bool process_hosts::kill_if(int worker, pid_t pid) {
  std::lock_guard guard{impl_->mutex};
  auto it = impl_->running.find(worker);
  // Under the lock the child cannot be reaped meanwhile, so the pid cannot have been reused.
  if (it == impl_->running.end() || it->second != pid)
    return false;
  ::kill(pid, SIGKILL);
  return true;
}

bool process_hosts::is_running(int worker) const {
  std::lock_guard guard{impl_->mutex};
  return impl_->running.count(worker) != 0;
}

pid_t process_hosts::pid_of(int worker) const {
  std::lock_guard guard{impl_->mutex};
  auto it = impl_->running.find(worker);
  return it == impl_->running.end() ? 0 : it->second;
}

std::vector<std::chrono::nanoseconds>
process_hosts::ping(int worker, std::size_t count, std::chrono::milliseconds timeout) {
  if (!impl_->listener)
    return {};
  return impl_->listener->ping(worker, count, timeout);
}

caf::actor process_hosts::host_actor(int worker) const {
  return impl_->listener ? impl_->listener->host_actor(worker) : caf::actor{};
}

std::uint16_t process_hosts::port() const noexcept {
  return impl_->listener ? impl_->listener->port() : 0;
}

std::string random_secret() {
  unsigned char bytes[32];
  std::size_t have = 0;
  // Bounded: getrandom returns at least 256 bytes per call once the pool is ready.
  for (int attempt = 0; have < sizeof bytes && attempt < 100; ++attempt) {
    auto n = ::getrandom(bytes + have, sizeof bytes - have, 0);
    if (n > 0)
      have += static_cast<std::size_t>(n);
  }
  if (have < sizeof bytes)
    throw error{"cannot draw a random secret for worker hosts"};
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : bytes) {
    out += hex[b >> 4];
    out += hex[b & 15];
  }
  return out;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings)
    out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

std::vector<std::string> remembered_program_arguments() {
  return program_arguments();
}

void remember_program_arguments(int argc, char** argv) {
  if (argc <= 0 || argv == nullptr)
    return;
  std::lock_guard guard{arguments_mutex};
  remembered_arguments.assign(argv, argv + argc);
}

// -- the worker host side -----------------------------------------------------------------------

namespace {

[[noreturn]] void end_host(host_exit_code code) {
  std::fflush(nullptr);
  // NOTE: _exit, not exit: the application's atexit handlers and static destructors belong to
  // the client, and running them here would repeat their side effects.
  ::_exit(static_cast<int>(code));
}

// Blocks until the client's end of the pipe closes, then ends the process.
void watch_parent(int fd) {
  char byte;
  // Bounded: the client never writes, so read returns only at its end (0) or on an error.
  for (;;) {
    auto n = ::read(fd, &byte, 1);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      end_host(host_exit_code::lost_client);
  }
}

} // namespace

void run_worker_host_if_requested(const std::string& log_level) {
  const char* value = std::getenv(worker_host_variable);
  if (value == nullptr)
    return;
  // First: a client that dies from here on takes this process with it.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  // Started through /proc/self/exe, the process would be named "exe" in ps and top.
  ::prctl(PR_SET_NAME, program_invocation_short_name);
  auto env = parse_environment(value);
  if (!env) {
    std::fprintf(stderr, "concurry: %s is malformed; not a worker host\n", worker_host_variable);
    end_host(host_exit_code::bad_environment);
  }
  // The client died before PR_SET_PDEATHSIG took effect.
  if (::getppid() != env->parent)
    end_host(host_exit_code::lost_client);
  // Programs this host starts are not worker hosts.
  ::unsetenv(worker_host_variable);
  ::fcntl(env->fd, F_SETFD, FD_CLOEXEC);
  std::thread{watch_parent, env->fd}.detach();

  const char* level = std::getenv("CONCURRY_LOG_LEVEL");
  actors::set_log_level(level && *level ? level : log_level);
  // The client forwards whole lines: flush each as it is written.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  actors::host_link_target target;
  target.address = env->address;
  target.port = env->port;
  target.secret = env->secret;
  target.worker = env->worker;
  target.head_address = env->head_address;
  target.head_port = env->head_port;
  target.output_to_client = env->output_to_client;
  switch (actors::run_host_link(target)) {
  case actors::host_link_end::shutdown:
    end_host(host_exit_code::shutdown);
  case actors::host_link_end::lost:
    end_host(host_exit_code::lost_client);
  case actors::host_link_end::unreachable:
    break;
  }
  end_host(host_exit_code::unreachable);
}

} // namespace concurry::runtime_internal
