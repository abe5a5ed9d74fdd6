// The pool supervisor: a CAF actor that owns a pool's worker actors, their membership and their
// statistics, and runs the pool's stop. This header is the CAF-free face the runtime uses.
#pragma once

#include "actors/actor_host.hpp"
#include "actors/worker_body.hpp"

#include <concurry/stats.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace concurry::actors {

/// What the supervisor reports about its pool besides the counters.
struct pool_description {
  std::string worker_name;
  concurry::mode mode = concurry::mode::thread;
  std::size_t max_workers = 0;
  concurry::load_balancing load_balancing = concurry::load_balancing::round_robin;
  bool on_demand = false;
  std::size_t max_queued_tasks = 0;
};

/// A handle to a running supervisor actor and its worker actors.
class pool_supervisor {
public:
  /// Spawns the supervisor and one worker actor per body (in index order).
  pool_supervisor(actor_host& host,
                  pool_description description,
                  std::vector<std::shared_ptr<worker_body>> bodies);
  pool_supervisor(const pool_supervisor&) = delete;
  pool_supervisor& operator=(const pool_supervisor&) = delete;
  /// Stops the pool with a zero timeout if stop() was never called.
  ~pool_supervisor();

  /// Stops every worker: queued calls may finish within `timeout`, then the rest are abandoned.
  /// Returns when every worker ended or was abandoned. Idempotent.
  void stop(std::chrono::nanoseconds timeout);

  /// Starts the same stop without waiting for it (for a worker that stops its own pool).
  void begin_stop(std::chrono::nanoseconds timeout);

  /// Takes over an on-demand worker whose call is already queued: the supervisor spawns its
  /// worker actor, which ends the worker once nothing is left to run; a pool stop stops or
  /// abandons it with the others.
  void adopt(std::shared_ptr<worker_body> body);

  /// Asks the supervisor for the pool's statistics.
  [[nodiscard]] pool_stats stats();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// Builds the statistics of a pool from its description and its workers' counters; shared by
/// the supervisor and by sync pools, which have none.
pool_stats make_pool_stats(const pool_description& description,
                           const std::vector<worker_counters>& workers,
                           bool stopped);

} // namespace concurry::actors
