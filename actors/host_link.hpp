// The connection of process mode, over CAF's middleman (TCP on 127.0.0.1): the client's
// listener that worker hosts connect back to, and the loop a worker host runs. Messages are
// Cap'n Proto bytes: control (net/schema/host.capnp) and calls (net/schema/call.capnp); CAF
// carries only an atom and a byte buffer.
#pragma once

#include "actors/actor_host.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace caf {
class actor;
} // namespace caf

namespace concurry::actors {

/// How long `bytes` may take to cross a connection at the slowest rate the heartbeat assumes
/// (16 MiB/s; 77 to 250 MiB/s were measured end to end on this project's 2-core VMs). A ping waits
/// behind a message in transfer, so the heartbeat allows this much more silence for it.
[[nodiscard]] std::chrono::nanoseconds worst_transfer_time(std::size_t bytes) noexcept;

/// Who a worker host says it is in its hello.
struct host_identity {
  int worker = 0;
  int pid = 0;
};

/// The client end: an actor published on 127.0.0.1 at an ephemeral port. A host that connects
/// and says hello with the listener's secret becomes the connected host of its worker index,
/// until its connection drops or another host of the same index says hello. Thread-safe.
///
/// With a heartbeat, the listener pings every connected host on a CAF timer of its own actor
/// (no thread per host) and reports a host that answered nothing, neither a pong nor any other
/// message, for the heartbeat's timeout. A host's actor answers pings while its worker runs a
/// call, so a long call is not silence; a stopped (SIGSTOP) or frozen process is. Silence counts
/// only once what was sent to the host before could have arrived (worst_transfer_time); the
/// owner allows for a large message from the host in the timeout it gives.
///
/// Does not: authenticate the TCP connection itself. CAF 0.17 lets any local process connect to
/// the port and message the published actor; only hellos with the secret are accepted, and
/// nothing but control messages reaches this actor.
class host_listener {
public:
  /// Called on a scheduler thread of the actor system; must not block.
  struct events {
    /// Whether a hello with the right secret matches a host the client started (its pid for
    /// its worker index). Empty: every such hello is accepted.
    std::function<bool(const host_identity&)> accept;
    /// A host was accepted.
    std::function<void(const host_identity&)> on_hello;
    /// The connection to an accepted host dropped.
    std::function<void(const host_identity&)> on_lost;
    /// A connected host sent the bytes of a call.capnp FromHost message (not decoded here: they
    /// are untrusted). One at a time, in the order each host sent them, on the middleman's
    /// thread (which carries every host's messages: keep it short).
    std::function<void(const host_identity&, std::vector<char> from_host_bytes)> on_message;
    /// A connected host was silent for the heartbeat's timeout. Reported once per connection;
    /// the host stays connected until the caller ends it.
    std::function<void(const host_identity&)> on_silent;
  };

  /// How the listener watches its hosts.
  struct heartbeat {
    /// The silence after which a host is reported (on_silent); zero: never. Pings go out every
    /// fifth of it (at most every 2 s, at least every 10 ms).
    std::chrono::nanoseconds timeout{0};
  };

  /// Publishes the listener on `address` (an ephemeral port); throws concurry::error when the
  /// port cannot be opened.
  host_listener(actor_host& host,
                std::string secret,
                events handlers,
                heartbeat beat,
                const std::string& address = "127.0.0.1");
  host_listener(const host_listener&) = delete;
  host_listener& operator=(const host_listener&) = delete;
  /// Closes the port and stops the listener's actor; connected hosts see their connection drop
  /// only when the client's actor system goes.
  ~host_listener();

  /// The TCP port.
  [[nodiscard]] std::uint16_t port() const noexcept;

  /// Whether the host of `worker` is connected.
  [[nodiscard]] bool is_connected(int worker) const;

  /// Sends `count` pings to the host of `worker`, one after the other, and returns the round
  /// trip of each. Fewer samples when the host is not connected, does not answer within
  /// `timeout`, or answers with anything but the pong of that ping.
  std::vector<std::chrono::nanoseconds>
  ping(int worker, std::size_t count, std::chrono::milliseconds timeout);

  /// Asks the host of `worker` to exit; false when it is not connected.
  bool shutdown(int worker);

  /// Sends the bytes of a call.capnp ToHost message to the host of `worker`; false when it is
  /// not connected. Messages sent from one thread reach the host in the order sent. True says
  /// only that the message left: a host that dies before it answers shows up as on_lost.
  bool send(int worker, std::vector<char> to_host_bytes);

  /// The host's actor (a proxy of the actor in the child), for code in actors/ that talks to
  /// it; an invalid handle when the host is not connected.
  [[nodiscard]] caf::actor host_actor(int worker) const;

private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

/// Sends a connected host's worker its limits (actors/limit_actor.hpp, make_remote_limits):
/// `services` serve the sets of `description` (the bytes of a net::worker_limits) in order.
/// Send it right before the construct message, from the thread that sends that, so that the
/// worker is built with them. False when `host` is not a valid handle.
bool send_worker_limits(const caf::actor& host,
                        std::vector<caf::actor> services,
                        std::vector<char> description);

/// How a worker host's connection ended.
enum class host_link_end {
  /// The client asked the host to exit.
  shutdown,
  /// The connection to the client dropped.
  lost,
  /// The client could not be reached, or refused the hello.
  unreachable,
};

/// Where a worker host connects to, and how.
struct host_link_target {
  std::string address = "127.0.0.1";
  std::uint16_t port = 0;
  std::string secret;
  int worker = 0;
  /// Cluster mode: the head, connected to first so that the head's limit actors are reached
  /// directly rather than through the client (empty: none).
  std::string head_address;
  std::uint16_t head_port = 0;
  /// Cluster mode: the host's stdout and stderr go to the client as FromHost output lines
  /// (its parent, a node, may be on another machine) instead of through the parent's pipes.
  bool output_to_client = false;
};

/// The host end, run by a worker host process on its main thread: starts an actor system,
/// connects to the listener at the target, says hello, answers pings, and serves the calls of
/// call.capnp on a worker thread of its own (host_worker.hpp) until the client asks it to exit
/// or the connection drops. Pings are answered while a call runs.
///
/// NOTE: the actor system is left running on return; the caller ends the process at once.
host_link_end run_host_link(const host_link_target& target);

} // namespace concurry::actors
