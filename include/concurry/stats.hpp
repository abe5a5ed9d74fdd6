// Pool and worker statistics, with the keys and algorithm names of the Python library.
#pragma once

#include <concurry/limits.hpp>
#include <concurry/mode.hpp>

#include <cstddef>
#include <cstdint>
#include <map>
#include <ostream>
#include <vector>

namespace concurry {

/// The load balancer's part of the statistics. Which maps are filled depends on the algorithm,
/// as in the Python library: `active_calls`/`total_active` for least_active, `total_calls`/
/// `sum_total_calls` for least_total.
struct load_balancer_stats {
  load_balancing algorithm = load_balancing::round_robin; ///< printed as "RoundRobin" etc.
  std::uint64_t total_dispatched = 0;                     ///< calls handed to workers, ever
  std::map<std::size_t, std::uint64_t> active_calls;      ///< worker index -> calls in flight
  std::uint64_t total_active = 0;                         ///< calls in flight, all workers
  std::map<std::size_t, std::uint64_t> total_calls;       ///< worker index -> calls ever
  std::uint64_t sum_total_calls = 0;                      ///< calls ever, all workers
};

/// A snapshot of a pool, as `pool::stats()` returns it.
struct pool_stats {
  concurry::mode mode = concurry::mode::thread; ///< where the workers run
  std::size_t total_workers = 0;                ///< persistent workers alive
  std::size_t max_workers = 0;                  ///< the pool's `max_workers` option
  bool on_demand = false;                       ///< true for a pool of on-demand workers
  std::size_t on_demand_active = 0;             ///< on-demand workers alive now
  bool stopped = false;                         ///< true once the pool was stopped
  std::size_t max_queued_tasks = 0;             ///< calls in flight per worker at most; 0: no cap
  load_balancer_stats load_balancer;            ///< the load balancer's figures
  std::vector<limit_set_stats> limits;          ///< one per limit set (shared sets once)
  /// Process mode: workers replaced after their process died (crash, signal, exit), in all.
  /// A worker whose `max_restarts` are used up and whose process died is no longer counted in
  /// `total_workers`.
  std::uint64_t restarts = 0;
};

/// A snapshot of one worker of a pool, as `pool::worker_stats(i)` returns it.
struct worker_stats {
  std::size_t worker_id = 0;      ///< the worker's index in its pool, from 0
  bool stopped = false;           ///< true once the worker stopped
  std::uint64_t active_calls = 0; ///< calls dispatched to it and not finished
  std::uint64_t total_calls = 0;  ///< calls ever dispatched to it
  std::uint64_t restarts = 0;     ///< process mode: times it was replaced after its process died
};

/// Prints a pool's statistics as one line of `key=value` fields.
std::ostream& operator<<(std::ostream& os, const pool_stats& s);

} // namespace concurry
