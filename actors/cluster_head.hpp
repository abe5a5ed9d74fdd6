// The head of a cluster: the node table and placement (scheduler/), the pools of every client,
// the cluster-wide limit actors, and the status. A CAF actor published on a TCP port; nodes and
// clients speak net/schema/cluster.capnp with it. The head is not on the data path: worker hosts
// started on nodes connect straight to their clients.
#pragma once

#include "actors/actor_host.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace concurry::actors {

/// The default port of a head (`concurry-head --port`).
inline constexpr std::uint16_t default_head_port = 6380;

struct head_options {
  /// The address to listen on.
  std::string address = "127.0.0.1";
  /// 0: an ephemeral port (see cluster_head::port()).
  std::uint16_t port = default_head_port;
  /// The cluster's shared secret; nodes and clients must present it. Must not be empty.
  std::string token;
  /// How often nodes heartbeat.
  std::chrono::milliseconds heartbeat_interval{500};
  /// A node silent this long is declared dead (SIGSTOP, a wedged process, a lost network).
  std::chrono::milliseconds node_timeout{2500};
};

/// A running head. Thread-safe.
class cluster_head {
public:
  /// Publishes the head on options.address:options.port in `host` (which must outlive this
  /// object). Throws concurry::config_error for an empty token, concurry::error when the port
  /// cannot be had.
  cluster_head(std::shared_ptr<actor_host> host, head_options options);
  cluster_head(const cluster_head&) = delete;
  cluster_head& operator=(const cluster_head&) = delete;
  /// Closes the port and stops the head's actors (without stopping the nodes: see stop()).
  ~cluster_head();

  /// The port listened on.
  [[nodiscard]] std::uint16_t port() const noexcept;

  /// Drains the cluster: tells every node to stop its workers and exit, and returns once they
  /// left or `timeout` passed.
  void stop_nodes(std::chrono::milliseconds timeout);

  /// Waits until at least `count` nodes are in the table, or `timeout` passed; true when they
  /// are.
  bool wait_nodes(std::size_t count, std::chrono::milliseconds timeout);

  /// Waits until a client asked the cluster to stop (`concurry stop`) or `timeout` passed;
  /// true when it was asked.
  bool wait_stop_requested(std::chrono::milliseconds timeout);

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace concurry::actors
