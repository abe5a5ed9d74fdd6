// The limits of a process pool: the client keeps the state of every limit set, and a limit
// actor per distinct set lets the workers in the hosts acquire from it (actors/limit_actor.hpp).
// Each host gets its worker's limits (the actors, and a description of the sets) right before
// the construct message.
#pragma once

#include "actors/actor_host.hpp"
#include "actors/limit_actor.hpp"
#include "runtime/internal/host_set.hpp"

#include <concurry/detail/pool_core.hpp>

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

namespace caf {
class actor;
} // namespace caf

namespace concurry::runtime_internal {

/// The limit actors of one process pool and what each of its workers is sent. Thread-safe.
///
/// The actors live as long as this object and serve every host of a worker index, replacements
/// included: a host that dies has its grants released by the actors, and the next host of that
/// index acquires from the same state under a new identity.
class process_limits {
public:
  /// Starts one limit actor per distinct limit set of `spec.worker_limits` (none without
  /// limits) in `host`, which must outlive this object.
  process_limits(actors::actor_host& host, const detail::pool_spec& spec);
  /// The limits of a cluster pool: the sets' state lives at the head. `create` gives, for each
  /// distinct set, the head's limit actor that holds its state, and a set here that reads it
  /// (for statistics).
  using remote_factory = std::function<std::vector<std::pair<caf::actor, limit_set>>(
      const std::vector<limit_set>& distinct)>;
  process_limits(const detail::pool_spec& spec, const remote_factory& create);

  /// Cluster pools: the statistics of `set` (one of the pool's) as its holder at the head has
  /// them; empty for sets whose state is here.
  [[nodiscard]] std::optional<limit_set_stats> remote_stats(const limit_set& set) const;
  process_limits(const process_limits&) = delete;
  process_limits& operator=(const process_limits&) = delete;
  /// Stops the actors; what they still hold is released.
  ~process_limits();

  /// Sends the host of index `host` the limits of worker `index` (the same index but for
  /// on-demand workers, whose hosts take free slots). Call it right before the construct
  /// message, from the thread that sends that. True when there is nothing to send; false when
  /// the host is not connected.
  bool send_to(const host_set& hosts, std::size_t host, std::size_t index) const;

private:
  struct worker {
    std::vector<std::size_t> services; // one per set of the worker's limit pool
    std::vector<char> description;     // net::worker_limits
  };

  // Describes every worker's limits; returns the distinct sets in order of first use.
  std::vector<limit_set> describe(const detail::pool_spec& spec);

  std::vector<std::unique_ptr<actors::limit_service>> services_;
  // Cluster pools: the head's actors, one per distinct set, and sets that read them by the
  // identity of the pool's own set.
  std::vector<caf::actor> remote_;
  std::map<const void*, limit_set> remote_sets_;
  std::vector<worker> workers_;
};

} // namespace concurry::runtime_internal
