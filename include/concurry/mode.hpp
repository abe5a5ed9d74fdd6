// Execution modes and load-balancing algorithms, with the names and aliases the Python library
// accepts.
#pragma once

#include <string>
#include <string_view>

namespace concurry {

/// Where a worker's methods run.
enum class mode {
  sync,    ///< inline in the caller; the future is done when `call` returns
  asyncio, ///< coroutine methods on one event-loop thread (not available yet)
  thread,  ///< one thread per worker
  process, ///< one child process per worker
  cluster, ///< on the nodes of a cluster, placed by its head
};

/// How cluster mode chooses a node for each worker (Ray's scheduling strategies).
enum class placement {
  pack,   ///< the fullest node that fits, keeping whole nodes free (the default)
  spread, ///< the emptiest node that fits, spreading the workers over the nodes
  named,  ///< only the node named with `node(...)`
};

/// How a pool picks the worker for a call. Ties go to the lowest worker index.
enum class load_balancing {
  round_robin,  ///< workers in turn: 0, 1, 2, 0, 1, ...
  least_active, ///< the worker with the fewest calls in flight
  least_total,  ///< the worker with the fewest calls ever dispatched to it
  random,       ///< uniformly at random
};

/// Parses a mode: `sync`, `asyncio` (`async`), `thread` (`threads`), `process` (`proc`,
/// `processes`), `cluster` (`ray`), case-insensitive. Throws `config_error` listing the valid
/// names for anything else.
mode parse_mode(std::string_view name);

/// Parses a load balancer: `round_robin` (`rr`), `active` (`least_active`), `total`
/// (`least_total`), `random` (`rand`), case-insensitive. Throws `config_error` listing the valid
/// names for anything else.
load_balancing parse_load_balancing(std::string_view name);

/// The mode's canonical name: "sync", "asyncio", "thread", "process", "cluster".
std::string_view to_string(mode m) noexcept;

/// The name the Python library reports in statistics: "RoundRobin", "LeastActiveLoad",
/// "LeastTotalLoad", "Random".
std::string_view to_string(load_balancing lb) noexcept;

/// The default `max_workers` of a mode as configured (config.hpp); the library's own: sync 1,
/// asyncio 1, thread 24, process 4, cluster 0.
std::size_t default_max_workers(mode m) noexcept;

} // namespace concurry
