// A node of a cluster: joins the head with its resources and the worker types it has, starts
// and stops worker hosts when the head says so (each connects straight to its client), reports
// their exits, heartbeats, and rejoins a head that went away. The node is the parent of its
// worker hosts: they end with it.
#pragma once

#include "actors/actor_host.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace concurry::actors {

struct node_options {
  std::string head_address = "127.0.0.1";
  std::uint16_t head_port = 0;
  std::string token;
  /// Unique in the cluster; empty: "<hostname>-<pid>".
  std::string name;
  /// CPUs offered, in fractions down to 0.0001.
  double num_cpus = 1;
  /// Custom resources offered, such as {"gpu", 2}.
  std::map<std::string, double> resources;
  /// Worker hosts are started by running this program (empty: /proc/self/exe) with these
  /// arguments (empty: the node's own argv) and CONCURRY_WORKER_HOST set.
  std::string executable;
  std::vector<std::string> arguments;
  /// How long to keep trying to reach the head at start before giving up; afterwards a lost
  /// head is retried for ever (every `retry_interval`).
  std::chrono::milliseconds connect_timeout{10000};
  std::chrono::milliseconds retry_interval{500};
};

/// How a node's run ended.
enum class node_end {
  /// Asked to stop: a signal (request_stop) or the head's shutdownNode.
  stopped,
  /// The head refused the token; the reason was logged at error.
  refused,
  /// The head could not be reached within connect_timeout.
  unreachable,
};

/// Runs a node until it is told to stop. Thread-safe.
class cluster_node {
public:
  cluster_node(std::shared_ptr<actor_host> host, node_options options);
  cluster_node(const cluster_node&) = delete;
  cluster_node& operator=(const cluster_node&) = delete;
  /// Kills every worker host still running and reaps it.
  ~cluster_node();

  /// Joins and serves; returns how it ended. `why` receives the reason of a refusal.
  node_end run(std::string* why = nullptr);

  /// Makes run() return (from a signal handler's thread or any other).
  void request_stop() noexcept;

private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

} // namespace concurry::actors
