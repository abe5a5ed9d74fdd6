// The process-mode back end of a pool: one worker host process per worker (process_host.hpp),
// the calls in flight on each, and the worker bodies the pool supervisor drives. Calls travel as
// call.capnp messages with arguments and results in the value codec.
#pragma once

#include "actors/worker_body.hpp"
#include "runtime/internal/cluster_client.hpp"
#include "runtime/internal/host_set.hpp"
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
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace concurry::runtime_internal {

class remote_worker;

/// The host processes of one pool and its remote workers. Thread-safe.
class process_pool : public std::enable_shared_from_this<process_pool> {
public:
  /// A pool whose hosts end on a thread of their own when its last reference goes on a thread
  /// that delivers a process pool's events (see delivering_on_this_thread()). Nothing starts
  /// before start().
  [[nodiscard]] static std::shared_ptr<process_pool>
  create(std::shared_ptr<actors::actor_host> host, const detail::pool_spec& spec);
  ~process_pool();

  /// True while this thread delivers an event of a process pool: a host's message, exit or lost
  /// connection, or a retry's timer. Such a thread must not wait for a pool to stop or for its
  /// hosts to end: they may wait for this very thread, and CAF would keep state on it.
  [[nodiscard]] static bool delivering_on_this_thread() noexcept;

  /// Starts every host and waits (at most `timeout`) until each has built its worker. Throws
  /// the first constructor's exception (rebuilt from the host's description), or
  /// concurry::error when a host did not come up in time.
  void start(std::chrono::nanoseconds timeout);

  /// For an on-demand pool, instead of start(): opens the hosts' listener, with room for `slots`
  /// worker processes alive at once. No host starts before spawn_on_demand().
  void start_on_demand(std::size_t slots);

  /// Starts on-demand worker `index` for `call` (taking the queue's reference) in a free slot:
  /// a fresh host process whose worker is built with the pool's constructor arguments, runs the
  /// call (retries included) and ends once the supervisor stops it. `on_ended` runs once that
  /// process was reaped and its slot is free again. Throws concurry::error, without taking the
  /// call, when every slot is taken (the caller keeps at most `slots` alive).
  std::shared_ptr<actors::worker_body>
  spawn_on_demand(std::size_t index, detail::call_node& call, std::function<void()> on_ended);

  /// The worker bodies, in index order, for the pool supervisor.
  [[nodiscard]] std::vector<std::shared_ptr<actors::worker_body>> bodies() const;

  /// Calls in flight on worker `i` (for the load balancer), and calls ever sent to it.
  [[nodiscard]] std::uint64_t active_calls(std::size_t i) const noexcept;
  [[nodiscard]] std::uint64_t dispatched(std::size_t i) const noexcept;
  [[nodiscard]] std::size_t size() const noexcept { return workers_.size(); }

  /// Sends the call to worker `i` (taking the queue's reference); to the next live worker when
  /// `i` died for good, and fails it with worker_died when none is left. In cluster mode an
  /// unpinned call goes to a built worker rather than to one still waiting for room.
  void dispatch(std::size_t i, detail::call_node& call) noexcept;

  /// Cluster mode: the head is gone. Calls waiting in workers that have no host go to built
  /// workers, or fail with cluster_unavailable when there are none.
  void on_cluster_unavailable();

  /// How a call that must move (its worker died, or it waits for another attempt) finds a
  /// worker: the pool's load balancer. Set before start().
  using call_action = std::function<void(detail::call_node&)>;
  void set_rebalance(call_action rebalance) { rebalance_ = std::move(rebalance); }

  /// Waits out a retry's backoff (null when nothing retries). Set before start().
  void set_retries(std::shared_ptr<retry_service> retries) { retries_ = std::move(retries); }

  /// Takes the bytes of a FromHost message from the host of `who` (untrusted: bytes that do not
  /// decode get its host killed, and its calls fail or move on as when it dies).
  void on_message(const actors::host_identity& who, std::vector<char> bytes);

  /// Cluster mode: the calls that wait in workers still looking for room go to the balancer
  /// again, now that some worker is built.
  void take_calls_of_waiting_workers();

  /// Cluster mode: the statistics of one of the pool's limit sets as the head has them (empty
  /// for a set whose state is here).
  [[nodiscard]] std::optional<limit_set_stats> remote_limit_stats(const limit_set& set) const;

  /// The pid of the running host of worker `i`, or 0.
  [[nodiscard]] int host_pid(std::size_t i) const;

  /// Replacements made after a worker's process died, in all.
  [[nodiscard]] std::uint64_t restarts() const noexcept;

private:
  friend class remote_worker;

  /// One live on-demand worker and what runs once its process was reaped.
  struct on_demand_slot {
    std::shared_ptr<remote_worker> worker;
    std::function<void()> on_ended;
  };

  void open_hosts();
  process_hosts::events host_events();
  [[nodiscard]] bool any_ready() const noexcept;
  // The worker count of a cluster pool with max_workers 0: as many as fit now.
  std::size_t cluster_fit();

  process_pool(std::shared_ptr<actors::actor_host> host, const detail::pool_spec& spec);

  /// The worker whose host has index `index`, or null.
  std::shared_ptr<remote_worker> worker_at(int index) const;
  /// Frees an on-demand slot if `worker` still holds it, and runs its on_ended.
  void release_slot(int slot, const remote_worker* worker);
  // Handles one FromHost message, each of a batch in turn; false when it did not decode, and
  // the host was killed.
  bool take_message(const actors::host_identity& who,
                    remote_worker& worker,
                    const std::vector<char>& bytes,
                    bool in_batch);

  std::shared_ptr<actors::actor_host> host_;
  const detail::pool_spec spec_;
  std::uint64_t pool_id_ = 0;
  std::vector<std::shared_ptr<remote_worker>> workers_;
  // On-demand pools: the live workers by host index.
  bool on_demand_ = false;
  mutable std::mutex slots_mutex_;
  std::vector<on_demand_slot> slots_;
  // Before hosts_: the limit actors outlive the hosts that acquire through them.
  std::unique_ptr<process_limits> limits_;
  // Cluster mode: the connection to the head, kept while the hosts live.
  std::shared_ptr<cluster_client> cluster_;
  std::unique_ptr<host_set> hosts_;
  call_action rebalance_;
  std::shared_ptr<retry_service> retries_;
};

} // namespace concurry::runtime_internal
