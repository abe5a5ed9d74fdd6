// The process-mode back end of a pool: one worker host process per worker (process_host.hpp),
// the calls in flight on each, and the worker bodies the pool supervisor drives. Calls travel as
// call.capnp messages with arguments and results in the value codec.
#pragma once

#include "actors/worker_body.hpp"
#include "runtime/internal/process_host.hpp"
#include "runtime/internal/process_limits.hpp"
#include "runtime/internal/retry_service.hpp"

#include <concurry/detail/call.hpp>
#include <concurry/detail/pool_core.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace concurry::runtime_internal {

class remote_worker;

/// The host processes of one pool and its remote workers. Thread-safe.
class process_pool : public std::enable_shared_from_this<process_pool> {
public:
  /// Nothing starts before start().
  process_pool(std::shared_ptr<actors::actor_host> host, const detail::pool_spec& spec);
  ~process_pool();

  /// Starts every host and waits (at most `timeout`) until each has built its worker. Throws
  /// the first constructor's exception (rebuilt from the host's description), or
  /// concurry::error when a host did not come up in time.
  void start(std::chrono::nanoseconds timeout);

  /// The worker bodies, in index order, for the pool supervisor.
  [[nodiscard]] std::vector<std::shared_ptr<actors::worker_body>> bodies() const;

  /// Calls in flight on worker `i` (for the load balancer), and calls ever sent to it.
  [[nodiscard]] std::uint64_t active_calls(std::size_t i) const noexcept;
  [[nodiscard]] std::uint64_t dispatched(std::size_t i) const noexcept;
  [[nodiscard]] std::size_t size() const noexcept { return workers_.size(); }

  /// Sends the call to worker `i` (taking the queue's reference); to the next live worker when
  /// `i` died for good, and fails it with worker_died when none is left.
  void dispatch(std::size_t i, detail::call_node& call) noexcept;

  /// How a call that must move (its worker died, or it waits for another attempt) finds a
  /// worker: the pool's load balancer. Set before start().
  using call_action = std::function<void(detail::call_node&)>;
  void set_rebalance(call_action rebalance) { rebalance_ = std::move(rebalance); }

  /// Waits out a retry's backoff (null when nothing retries). Set before start().
  void set_retries(std::shared_ptr<retry_service> retries) { retries_ = std::move(retries); }

  /// Replacements made after a worker's process died, in all.
  [[nodiscard]] std::uint64_t restarts() const noexcept;

private:
  friend class remote_worker;

  void on_message(const actors::host_identity& who, std::vector<char> bytes);
  void on_exit(const host_exit& how);

  std::shared_ptr<actors::actor_host> host_;
  const detail::pool_spec spec_;
  std::vector<std::shared_ptr<remote_worker>> workers_;
  // Before hosts_: the limit actors outlive the hosts that acquire through them.
  std::unique_ptr<process_limits> limits_;
  std::unique_ptr<process_hosts> hosts_;
  call_action rebalance_;
  std::shared_ptr<retry_service> retries_;
};

} // namespace concurry::runtime_internal
