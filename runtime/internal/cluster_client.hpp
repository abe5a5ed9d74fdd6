// A program's connection to a cluster's head (cluster mode): says hello with the token, asks the
// head to place and release workers, creates cluster-wide limit actors, and hears where workers
// were placed and when their hosts ended. One per head per process, shared by its pools.
//
// Without an address (neither the pool's cluster_address nor CONCURRY_ADDRESS), the first pool
// starts a private cluster: a head inside this process on 127.0.0.1, and one node, this program
// run again with CONCURRY_NODE set, sized to the machine. Both end with the process.
#pragma once

#include "actors/actor_host.hpp"
#include "net/cluster_messages.hpp"

#include "runtime/internal/cluster_admin.hpp"
#include <concurry/limits.hpp>

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace caf {
class actor;
} // namespace caf

namespace concurry::runtime_internal {

/// The environment variable that makes a process a node of its parent's private cluster.
inline constexpr const char* private_node_variable = "CONCURRY_NODE";

class cluster_client {
public:
  /// What a pool hears from the head, on a thread of the actor system; must not block.
  struct pool_events {
    /// A worker that waited was placed on `node`.
    std::function<void(std::uint32_t worker, const std::string& node)> on_placed;
    /// A worker's host ended, as its node or the head saw it.
    std::function<void(const net::worker_exited&)> on_lost;
    /// The connection to the head came back: workers that wait must be asked for again.
    std::function<void()> on_reconnected;
    /// The head is gone (it is tried again every second).
    std::function<void()> on_disconnected;
  };

  /// The connection to the head at `address` with `token` (empty: CONCURRY_ADDRESS and
  /// CONCURRY_TOKEN; with no address at all, the private cluster). Shared per address. Throws
  /// auth_error when the head refuses the token, cluster_unavailable when it cannot be reached.
  static std::shared_ptr<cluster_client>
  connect(std::shared_ptr<actors::actor_host> host, std::string address, std::string token);

  ~cluster_client();
  cluster_client(const cluster_client&) = delete;
  cluster_client& operator=(const cluster_client&) = delete;

  /// This program's id in the cluster (random).
  [[nodiscard]] std::uint64_t id() const noexcept;
  /// The address pools' listeners bind to, so that worker hosts on nodes reach them:
  /// CONCURRY_CLIENT_ADDRESS, or 127.0.0.1.
  [[nodiscard]] std::string listen_address() const;

  void add_pool(std::uint64_t pool, pool_events events);
  void remove_pool(std::uint64_t pool);

  /// What the head answered: worker_placed, waiting, or refused (thrown as an error).
  using answer_fn = std::function<void(std::optional<net::cluster_message>, std::exception_ptr)>;

  /// Asks the head to place a worker; `done` gets worker_placed or waiting, or the error
  /// (cluster_unavailable within 5 s when the head is gone or silent). Never blocks.
  void place(const net::place_worker& what, answer_fn done);
  /// Lets a worker go (no answer).
  void release(const net::worker_ref& ref);
  /// How many workers of that demand fit now; throws as connect().
  std::uint64_t fit(const net::place_worker& what);
  /// The head's limit actor for each set (made at the first use of a set by any pool of this
  /// program, so that pools sharing a set share its state there), with a set here that reads
  /// that state. Throws as connect().
  std::vector<std::pair<caf::actor, limit_set>> limit_actors(const std::vector<limit_set>& sets);

  /// Whether the head answered lately.
  [[nodiscard]] bool connected() const;

  struct impl;

private:
  explicit cluster_client(std::shared_ptr<impl> state);
  std::shared_ptr<impl> impl_;
};

/// Called first by the runtime object's constructor, after the worker host check. In a node of
/// a private cluster (CONCURRY_NODE is set) runs the node and ends the process, never
/// returning; otherwise returns at once.
void run_private_node_if_requested(const std::string& log_level);

/// Stops the private cluster, if this process started one (at the runtime object's end).
void stop_private_cluster();

} // namespace concurry::runtime_internal
