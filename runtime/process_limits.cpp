#include "runtime/internal/process_limits.hpp"

#include "actors/host_link.hpp"
#include "actors/limit_backend.hpp"
#include "net/limit_messages.hpp"

#include <caf/actor.hpp>

#include <concurry/error.hpp>

#include <map>

namespace concurry::runtime_internal {

std::vector<limit_set> process_limits::describe(const detail::pool_spec& spec) {
  // Copies of one set share its state, and one actor serves them all.
  std::map<const void*, std::size_t> by_set;
  std::vector<limit_set> distinct;
  for (auto& pool : spec.worker_limits) {
    worker w;
    net::worker_limits description;
    auto stats = pool.stats();
    description.lb = stats.load_balancing == to_string(load_balancing::random)
                         ? load_balancing::random
                         : load_balancing::round_robin;
    description.worker_offset = stats.worker_offset;
    for (std::size_t i = 0; i < pool.size(); ++i) {
      auto& set = pool[i];
      auto [at, added] = by_set.emplace(detail::limit_set_access::identity(set), distinct.size());
      if (added)
        distinct.push_back(set);
      w.services.push_back(at->second);
      description.sets.push_back(set.limits());
    }
    w.description = net::encode(description);
    workers_.push_back(std::move(w));
  }
  return distinct;
}

process_limits::process_limits(actors::actor_host& host, const detail::pool_spec& spec) {
  for (auto& set : describe(spec))
    services_.push_back(std::make_unique<actors::limit_service>(host, set));
}

process_limits::process_limits(const detail::pool_spec& spec, const remote_factory& create) {
  auto distinct = describe(spec);
  if (distinct.empty())
    return;
  auto made = create(distinct);
  if (made.size() != distinct.size())
    throw error{"the cluster head made " + std::to_string(made.size()) + " limit actors for " +
                std::to_string(distinct.size()) + " limit sets"};
  for (std::size_t i = 0; i < made.size(); ++i) {
    remote_.push_back(made[i].first);
    remote_sets_.emplace(detail::limit_set_access::identity(distinct[i]), made[i].second);
  }
}

std::optional<limit_set_stats> process_limits::remote_stats(const limit_set& set) const {
  auto it = remote_sets_.find(detail::limit_set_access::identity(set));
  if (it == remote_sets_.end())
    return std::nullopt;
  return it->second.stats();
}

process_limits::~process_limits() = default;

bool process_limits::send_to(const host_set& hosts, std::size_t host, std::size_t index) const {
  if (workers_.empty())
    return true;
  // On-demand workers count on; their limits repeat, as in thread mode.
  auto& w = workers_[index % workers_.size()];
  std::vector<caf::actor> services;
  for (auto i : w.services)
    services.push_back(remote_.empty() ? services_[i]->handle() : remote_[i]);
  return actors::send_worker_limits(
      hosts.host_actor(static_cast<int>(host)), std::move(services), w.description);
}

} // namespace concurry::runtime_internal
