// Worker host processes of process mode. The client starts them by re-executing its own binary
// with the application's argv untouched and CONCURRY_WORKER_HOST in the environment; the
// concurry::runtime object at the top of main sees the variable and runs the worker host
// instead of returning to main. A host connects back over CAF's middleman on 127.0.0.1 and says
// hello with the client's secret (actors/host_link.hpp).
//
// Children never outlive the client: each sets PR_SET_PDEATHSIG(SIGKILL) first thing, checks that
// its parent is the process that started it, and watches a pipe whose write end only the client
// holds (end of file: the client is gone). The client reaps every child it started by pid (never
// waitpid(-1), so the application's own children keep their statuses), and forwards each line a
// child writes to stdout or stderr to its own, prefixed with `[Worker <index> pid <pid>] `.
#pragma once

#include "actors/actor_host.hpp"
#include "actors/host_link.hpp"
#include "runtime/internal/host_set.hpp"

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace caf {
class actor;
} // namespace caf

namespace concurry::runtime_internal {

/// The environment variable that makes a process a worker host.
inline constexpr const char* worker_host_variable = "CONCURRY_WORKER_HOST";

/// Exit codes of a worker host process.
enum class host_exit_code : int {
  /// The client asked it to exit.
  shutdown = 0,
  /// The client went away: its connection dropped, its pipe closed, or the parent changed.
  lost_client = 3,
  /// CONCURRY_WORKER_HOST was malformed.
  bad_environment = 4,
  /// The client could not be reached on its port.
  unreachable = 5,
};

/// How a worker host process ended.
struct host_exit {
  int worker = 0;
  pid_t pid = 0;
  /// True: ended by signal `signal`. False: exited with `exit_code` (-1 when the status was lost,
  /// because the application set SIGCHLD to SIG_IGN).
  bool signaled = false;
  int exit_code = 0;
  int signal = 0;
  /// Set when the end was learnt some other way (a cluster node that died): describe() says it.
  std::string reason;

  /// "exited with code 3", "killed by signal 9 (SIGKILL)".
  [[nodiscard]] std::string describe() const;
};

/// A client the hosts connect to that is not this process: a node of a cluster starts hosts for
/// the pools of clients elsewhere.
struct remote_client {
  std::string address;
  std::uint16_t port = 0;
  std::string secret;
  /// The head whose limit actors the hosts use (empty: none).
  std::string head_address;
  std::uint16_t head_port = 0;
};

/// What to run as a worker host. The defaults re-execute this program.
struct process_host_options {
  /// The address the listener binds to (hosts on other machines need one they can reach).
  std::string listen_address = "127.0.0.1";
  /// Set: the hosts connect to that client, not to this process; no listener is opened, and
  /// send, ping and host_actor have no host to reach. Their output goes to that client.
  std::optional<remote_client> client;
  /// The program; empty: this program (/proc/self/exe, which survives the file being replaced).
  std::string executable;
  /// Its argv from argv[0] on; empty: this program's own, as the runtime object received them
  /// (or /proc/self/cmdline without a runtime object).
  std::vector<std::string> arguments;
  /// Where the children's prefixed lines go.
  int stdout_fd = 1;
  int stderr_fd = 2;
  /// After a terminate(), how long a child has before SIGKILL.
  std::chrono::milliseconds kill_grace{1000};
  /// After a shutdown(), how long a child has to exit before SIGKILL (a stopped or frozen host
  /// never reads the request).
  std::chrono::milliseconds shutdown_grace{2000};
  /// How long a connected host may answer nothing, neither a ping nor anything else, before it
  /// is killed with SIGKILL as frozen (stopped with SIGSTOP, or its process wedged); zero:
  /// never. A host answers pings while its worker runs a call, so a long call is no silence.
  /// Silence counts once what was sent to the host could have arrived (see
  /// actors::worst_transfer_time); allow for a large message from the host in this value.
  std::chrono::nanoseconds heartbeat_timeout{std::chrono::seconds{10}};
  /// How long the destructor waits for the hosts it killed to be reaped. Past it, it logs an
  /// error and leaves the rest of the reaping to the I/O thread, detached, instead of hanging.
  std::chrono::milliseconds reap_timeout{5000};
};

/// The worker host processes of one client (one pool later): starts them, forwards their output,
/// reaps them, and carries control messages to them. Thread-safe.
///
/// Hosts are known by a worker index chosen by the caller; at most one process per index runs
/// at a time (a new one may start once the previous one was reaped).
///
/// A connected host that leaves pings unanswered for `heartbeat_timeout` is killed with SIGKILL
/// (on_silent, then on_lost and on_exit follow).
///
/// Does not: restart hosts on its own (its owner decides, see start_async), or watch a host
/// before its hello (its starter bounds that wait).
class process_hosts final : public host_set {
public:
  /// Called on threads of this object or of the actor system; must not block, and must not call
  /// back into this object's destructor. None starts once the destructor has returned (one that
  /// blocked the destructor past `reap_timeout` may still be running then).
  struct events {
    /// A started host connected and said hello with the secret.
    std::function<void(const actors::host_identity&)> on_hello;
    /// The connection to a host that said hello dropped (usually just before its exit).
    std::function<void(const actors::host_identity&)> on_lost;
    /// A host was reaped. Its output written before the exit has been forwarded.
    std::function<void(const host_exit&)> on_exit;
    /// A connected host sent the bytes of a call.capnp FromHost message (untrusted; decode
    /// with net::decode_from_host). Called on the middleman's thread, one at a time, in the
    /// order each host sent them; it carries every host's messages, so keep this short.
    std::function<void(const actors::host_identity&, std::vector<char> from_host_bytes)> on_message;
    /// A start_async() could not start its host (the reason), on the I/O thread.
    std::function<void(int worker, const std::string& why)> on_start_failed;
    /// A connected host answered nothing for `heartbeat_timeout`. It is killed with SIGKILL
    /// right after this returns; on_lost and on_exit follow.
    std::function<void(const actors::host_identity&)> on_silent;
  };

  /// Opens the listener on 127.0.0.1 in `host`'s actor system (which must outlive this object)
  /// and starts the thread that spawns, reaps and forwards output. Throws concurry::error when
  /// the port or the thread cannot be had, or in a worker host process (which never gets here
  /// when concurry::runtime is the first line of main).
  process_hosts(std::shared_ptr<actors::actor_host> host,
                events handlers,
                process_host_options options = {});
  process_hosts(const process_hosts&) = delete;
  process_hosts& operator=(const process_hosts&) = delete;
  /// Kills every host still running with SIGKILL, reaps it, and flushes its output. Returns
  /// within `reap_timeout` (plus the listener's own bounded stop): a host that cannot be reaped
  /// by then (a process stuck in the kernel) is logged and left to the detached I/O thread,
  /// which calls no event handler any more.
  ~process_hosts() override;

  /// Starts the host of `worker` and returns its pid; its hello follows through on_hello.
  /// Throws concurry::error when a host of that index is still running or the spawn fails.
  /// May be called from any thread, on_exit included (to replace the host that ended).
  pid_t start(int worker) override;

  /// Starts the host of `worker` on the I/O thread without waiting for it: its hello follows
  /// through on_hello, a failure through on_start_failed. Never blocks; safe in any event
  /// handler (this is how a pool replaces a host from on_exit).
  void start_async(int worker) override;

  /// Asks the host of `worker` to exit cleanly; false when it is not connected. A host that
  /// still runs `shutdown_grace` later (stopped, frozen, or not connected) is killed with
  /// SIGKILL.
  bool shutdown(int worker) override;

  /// Sends the bytes of a call.capnp ToHost message (net::encode) to the host of `worker`;
  /// false when it is not connected. Messages sent from one thread arrive in the order sent;
  /// the answers come through on_message. A host that dies first is reported by on_lost and
  /// on_exit, never by an answer: the caller fails its calls in flight to that host then.
  bool send(int worker, std::vector<char> to_host_bytes) override;

  /// SIGTERM now (and SIGCONT, so that a stopped host can act on it), SIGKILL after
  /// `kill_grace` unless it exited; false when it is not running.
  bool terminate(int worker);
  /// SIGKILL now; false when it is not running.
  bool kill(int worker) override;
  /// SIGKILL now if the running host of `worker` is process `pid` (not a host started in its
  /// place since); false otherwise.
  bool kill_if(int worker, pid_t pid) override;

  /// Whether the host of `worker` runs (started and not reaped yet).
  [[nodiscard]] bool is_running(int worker) const;
  /// The pid of the running host of `worker`, or 0.
  [[nodiscard]] pid_t pid_of(int worker) const override;

  /// `count` pings, one after the other, to the host of `worker`; the round trip of each
  /// answered one (fewer when it is not connected or one takes longer than `timeout`).
  std::vector<std::chrono::nanoseconds>
  ping(int worker, std::size_t count, std::chrono::milliseconds timeout);

  /// The connected host's actor, for actors/ code that sends it calls; invalid when not
  /// connected.
  [[nodiscard]] caf::actor host_actor(int worker) const override;

  /// The listener's port on 127.0.0.1.
  [[nodiscard]] std::uint16_t port() const noexcept;

private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

/// 32 random bytes in hex, from the kernel (getrandom); throws concurry::error when it has none.
std::string random_secret();

/// `strings` as the null-terminated array of pointers that exec and posix_spawn take; valid
/// while `strings` is unchanged.
std::vector<char*> pointers(std::vector<std::string>& strings);

/// The program's arguments as remembered (or read from /proc/self/cmdline).
std::vector<std::string> remembered_program_arguments();

/// Keeps a copy of the program's arguments for the hosts to re-execute with. Called by the
/// runtime object before main can change them.
void remember_program_arguments(int argc, char** argv);

/// Called first by the runtime object's constructor. In a worker host process (the variable
/// is set) runs the host and ends the process with a host_exit_code, never returning;
/// otherwise returns at once. `log_level` is the runtime's configured level.
void run_worker_host_if_requested(const std::string& log_level);

} // namespace concurry::runtime_internal
