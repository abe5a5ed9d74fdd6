// The untyped pool behind every handle: the one boundary between the header-only API and the
// runtime library, so that no CAF header reaches user code.
#pragma once

#include <concurry/clock.hpp>
#include <concurry/detail/call.hpp>
#include <concurry/detail/retry_plan.hpp>
#include <concurry/limits.hpp>
#include <concurry/mode.hpp>
#include <concurry/stats.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace concurry::detail {

class pool_core;

/// Everything a pool needs to know besides how to build a worker.
/// What each worker of a cluster pool asks of its node, and which cluster.
struct cluster_placement {
  double num_cpus = 1;
  std::map<std::string, double> resources;
  concurry::placement strategy = concurry::placement::pack;
  /// With placement::named: the node's name.
  std::string node;
  /// "host:port" of the head; empty: CONCURRY_ADDRESS, or a private cluster.
  std::string address;
  /// Empty: CONCURRY_TOKEN.
  std::string token;
};

struct pool_spec {
  std::string worker_name;
  concurry::mode mode = concurry::mode::thread;
  std::size_t max_workers = 0;
  concurry::load_balancing load_balancing = concurry::load_balancing::round_robin;
  std::chrono::nanoseconds stop_timeout = std::chrono::seconds{30};
  bool local_only = false;
  /// The limits of worker i (empty: none configured).
  std::vector<limit_pool> worker_limits;
  /// Every distinct limit set of the pool, for statistics.
  std::vector<limit_set> limit_sets;
  /// The retry plan of each registered method (null: one attempt), then one for the rest;
  /// empty when nothing retries.
  std::vector<std::shared_ptr<const retry_plan>> retry_plans;
  /// The clock of retry backoffs; null for the system clock.
  std::shared_ptr<concurry::clock> clock;
  /// The most calls in flight per worker; 0 for no cap.
  std::size_t max_queued_tasks = 0;
  /// A fresh worker per call, at most `max_workers` alive at once.
  bool on_demand = false;
  /// False: calls with future arguments go out at once and the worker waits for them.
  bool unwrap_futures = true;
  /// Process mode: the constructor arguments encoded (codec.hpp), and the listed methods.
  std::vector<std::byte> constructor_arguments;
  std::vector<std::string> method_names;
  /// Process mode: how many times each worker is replaced after its process died.
  std::size_t max_restarts = 3;
  /// Process mode: the largest message to or from a worker, in bytes.
  std::size_t max_message_size = std::size_t{64} << 20;
  /// Process mode: the silence after which a worker host is killed as frozen; zero: never.
  std::chrono::nanoseconds heartbeat_timeout = std::chrono::seconds{10};
  /// Cluster mode: what each worker asks of its node, and where the head is.
  cluster_placement cluster;
};

/// Builds one worker object; called on the worker's own thread with its context set.
using worker_factory = std::function<std::unique_ptr<worker_base>()>;

/// Creates and starts a pool. Throws `config_error` for options the mode does not allow, and
/// rethrows the exception of a worker constructor that threw (after stopping the others).
std::shared_ptr<pool_core> create_pool(const pool_spec& spec, worker_factory factory);

/// Hands a call to a worker chosen by the load balancer (in sync mode: runs it here). Takes
/// the queue's reference of `call`; a call on a stopped pool fails with `stopped_error`.
void dispatch(pool_core& pool, call_node& call) noexcept;

/// Hands a call to worker `worker` itself, bypassing the load balancer (broadcast). Takes the
/// queue's reference; fails the call with `stopped_error` when the pool is stopped, and with
/// `std::out_of_range` past the last worker.
void dispatch_to(pool_core& pool, std::size_t worker, call_node& call) noexcept;

/// The number of workers calls can be dispatched to.
std::size_t worker_count(const pool_core& pool) noexcept;

/// Stops the pool: calls in flight may finish within `timeout`, the rest fail with
/// `stopped_error`. Idempotent; a second caller waits for the first stop to end.
void stop(pool_core& pool, std::chrono::nanoseconds timeout);

/// False when the pool was built with `unwrap_futures(false)`.
bool unwraps_futures(const pool_core& pool) noexcept;

/// Where the pool's workers run.
concurry::mode mode_of(const pool_core& pool) noexcept;

/// The pool's default stop timeout.
std::chrono::nanoseconds stop_timeout(const pool_core& pool) noexcept;

bool is_stopped(const pool_core& pool) noexcept;
pool_stats statistics(pool_core& pool);
/// Throws std::out_of_range for an index past the last worker.
worker_stats statistics(pool_core& pool, std::size_t worker);

} // namespace concurry::detail
