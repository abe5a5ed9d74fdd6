// The worker hosts of one cluster pool: each is placed by the head on a node, started there, and
// connects back to this pool's listener, where it is driven exactly as a process-mode host.
#pragma once

#include "runtime/internal/cluster_client.hpp"
#include "runtime/internal/host_set.hpp"
#include "runtime/internal/process_host.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace concurry::runtime_internal {

/// What every worker of a cluster pool asks of its node.
struct cluster_pool_options {
  std::uint64_t pool_id = 0;
  std::string worker_type;
  net::worker_demand demand;
  /// As process_host_options::heartbeat_timeout.
  std::chrono::nanoseconds heartbeat_timeout{std::chrono::seconds{10}};
};

/// Thread-safe. Events arrive as from process_hosts: on_hello and on_message from the listener;
/// on_exit when the head or node says a host ended, or right after on_lost (a host whose
/// connection dropped is gone for this pool: the head is told to let it go); on_start_failed
/// when the head cannot be asked.
class cluster_hosts final : public host_set {
public:
  /// `on_unavailable` runs when the head is gone: workers that wait for room stay waiting
  /// (they are asked for again when it is back), and the pool decides about their calls.
  cluster_hosts(std::shared_ptr<actors::actor_host> host,
                std::shared_ptr<cluster_client> client,
                process_hosts::events handlers,
                cluster_pool_options options,
                std::function<void()> on_unavailable);
  /// Lets every worker go at the head, and closes the listener.
  ~cluster_hosts() override;

  /// Asks the head to place worker `worker` and waits for its answer: the host starts on its
  /// node (its hello follows), or the worker waits for room (is_waiting). Returns 0. Throws
  /// cluster_unavailable or auth_error when the head cannot be asked.
  pid_t start(int worker) override;
  void start_async(int worker) override;
  bool shutdown(int worker) override;
  bool send(int worker, std::vector<char> to_host_bytes) override;
  bool kill(int worker) override;
  bool kill_if(int worker, pid_t pid) override;
  [[nodiscard]] pid_t pid_of(int worker) const override;
  [[nodiscard]] caf::actor host_actor(int worker) const override;
  [[nodiscard]] bool is_waiting(int worker) const override;
  bool cancel_waiting(int worker) override;

  /// What each worker asks of its node.
  [[nodiscard]] const net::worker_demand& demand() const noexcept;

  /// The node each placed worker is on ("" while it waits).
  [[nodiscard]] std::string node_of(int worker) const;

private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

} // namespace concurry::runtime_internal
