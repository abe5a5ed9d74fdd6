#include "scheduler/scheduler.hpp"

#include "concurry/error.hpp"

#include <algorithm>
#include <stdexcept>

namespace concurry::scheduler {

join_result scheduler::add_node(std::string name, const resource_set& total) {
  if (node_names_.count(name) != 0)
    throw std::invalid_argument("scheduler: a node named '" + name + "' is already in the table");
  node n;
  n.name = name;
  for (const auto& [resource, value] : total) {
    auto index = resource_index(resource);
    if (n.total.size() <= index)
      n.total.resize(index + 1, 0);
    n.total[index] = value.units();
  }
  n.used.assign(n.total.size(), 0);
  auto id = static_cast<node_id>(nodes_.size());
  nodes_.push_back(std::move(n));
  node_names_.emplace(std::move(name), id);
  ++live_nodes_;
  return join_result{id, retry_waiting(id)};
}

removal_result scheduler::remove_node(node_id id) {
  (void)node_at(id); // throws for an unknown node
  auto& n = nodes_[id];
  n.is_live = false;
  node_names_.erase(n.name);
  --live_nodes_;

  // Forget the requests it held.
  std::vector<request_id> lost;
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (it->second.state == request_state::placed && it->second.node == id) {
      lost.push_back(it->first);
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
  std::sort(lost.begin(), lost.end());
  placed_ -= lost.size();

  // Waiting requests that only this node could hold can no longer be placed anywhere.
  std::vector<request_id> now_infeasible;
  for (auto waiting : waiting_) {
    auto& e = entries_.at(waiting);
    if (e.state == request_state::pending && !is_feasible(e)) {
      e.state = request_state::infeasible;
      now_infeasible.push_back(waiting);
    }
  }
  return removal_result{std::move(lost), std::move(now_infeasible)};
}

submit_result scheduler::submit(const worker_request& request) {
  if (request.placement_strategy == strategy::named && request.node.empty())
    throw config_error("scheduler: the named strategy needs a node name");
  entry e;
  e.need = demand_of(request);
  e.placement_strategy = request.placement_strategy;
  if (request.placement_strategy == strategy::named)
    e.node_name = request.node;
  auto id = next_request_++;
  auto target = choose_node(e);
  auto& stored = entries_.emplace(id, std::move(e)).first->second;
  if (target) {
    place(stored, *target);
    return submit_result{id, request_state::placed, target};
  }
  stored.state = is_feasible(stored) ? request_state::pending : request_state::infeasible;
  waiting_.insert(id);
  return submit_result{id, stored.state, std::nullopt};
}

std::vector<placement> scheduler::release(request_id id) {
  auto it = entries_.find(id);
  if (it == entries_.end())
    throw std::out_of_range("scheduler: no request " + std::to_string(id));
  if (it->second.state != request_state::placed) {
    waiting_.erase(id);
    entries_.erase(it);
    return {};
  }
  auto freed = it->second.node;
  auto& n = nodes_[freed];
  for (const auto& [index, units] : it->second.need)
    n.used[index] -= units;
  update_load(n);
  --n.workers;
  --placed_;
  entries_.erase(it);
  return retry_waiting(freed);
}

request_state scheduler::state_of(request_id id) const {
  return entry_at(id).state;
}

std::optional<node_id> scheduler::node_of(request_id id) const {
  const auto& e = entry_at(id);
  if (e.state != request_state::placed)
    return std::nullopt;
  return e.node;
}

std::optional<node_id> scheduler::find_node(std::string_view name) const {
  auto it = node_names_.find(std::string(name));
  if (it == node_names_.end())
    return std::nullopt;
  return it->second;
}

amount scheduler::total(node_id id, std::string_view resource) const {
  const auto& n = node_at(id);
  auto it = resource_indexes_.find(std::string(resource));
  if (it == resource_indexes_.end() || it->second >= n.total.size())
    return amount{};
  return amount::from_units(n.total[it->second]);
}

amount scheduler::used(node_id id, std::string_view resource) const {
  const auto& n = node_at(id);
  auto it = resource_indexes_.find(std::string(resource));
  if (it == resource_indexes_.end() || it->second >= n.used.size())
    return amount{};
  return amount::from_units(n.used[it->second]);
}

std::size_t scheduler::worker_count(node_id id) const {
  return node_at(id).workers;
}

std::vector<request_id> scheduler::pending() const {
  std::vector<request_id> result;
  for (auto id : waiting_)
    if (entries_.at(id).state == request_state::pending)
      result.push_back(id);
  return result;
}

std::vector<request_id> scheduler::infeasible() const {
  std::vector<request_id> result;
  for (auto id : waiting_)
    if (entries_.at(id).state == request_state::infeasible)
      result.push_back(id);
  return result;
}

std::size_t scheduler::resource_index(std::string_view name) {
  auto [it, inserted] = resource_indexes_.try_emplace(std::string(name), resource_indexes_.size());
  return it->second;
}

scheduler::demand scheduler::demand_of(const worker_request& request) {
  demand need;
  if (!request.cpus.is_zero())
    need.emplace_back(resource_index(cpu_resource), request.cpus.units());
  for (const auto& [resource, value] : request.resources) {
    if (value.is_zero())
      continue;
    // "cpu" among the custom resources adds to the CPUs asked for.
    auto index = resource_index(resource);
    auto same = std::find_if(need.begin(), need.end(), [&](auto& d) { return d.first == index; });
    if (same != need.end())
      same->second += value.units();
    else
      need.emplace_back(index, value.units());
  }
  return need;
}

const scheduler::node& scheduler::node_at(node_id id) const {
  if (id >= nodes_.size() || !nodes_[id].is_live)
    throw std::out_of_range("scheduler: no node " + std::to_string(id));
  return nodes_[id];
}

const scheduler::entry& scheduler::entry_at(request_id id) const {
  auto it = entries_.find(id);
  if (it == entries_.end())
    throw std::out_of_range("scheduler: no request " + std::to_string(id));
  return it->second;
}

bool scheduler::fits(const node& n, const demand& need, bool empty) {
  for (const auto& [index, units] : need) {
    if (index >= n.total.size())
      return false;
    auto free = empty ? n.total[index] : n.total[index] - n.used[index];
    if (free < units)
      return false;
  }
  return true;
}

bool scheduler::is_feasible(const entry& e) const {
  if (e.placement_strategy == strategy::named) {
    auto it = node_names_.find(e.node_name);
    return it != node_names_.end() && fits(nodes_[it->second], e.need, /*empty=*/true);
  }
  return std::any_of(nodes_.begin(), nodes_.end(), [&](const node& n) {
    return n.is_live && fits(n, e.need, /*empty=*/true);
  });
}

std::optional<node_id> scheduler::choose_node(const entry& e) const {
  if (e.placement_strategy == strategy::named) {
    auto it = node_names_.find(e.node_name);
    if (it != node_names_.end() && fits(nodes_[it->second], e.need, /*empty=*/false))
      return it->second;
    return std::nullopt;
  }

  // Usage is the node's load, then its worker count (so that workers asking for nothing still
  // spread); ties go to the older node, the first one seen.
  std::optional<node_id> best;
  auto is_better = [&](const node& n) {
    const auto& b = nodes_[*best];
    if (e.placement_strategy == strategy::pack)
      return n.load > b.load || (n.load == b.load && n.workers > b.workers);
    return n.load < b.load || (n.load == b.load && n.workers < b.workers);
  };
  for (node_id id = 0; id < nodes_.size(); ++id) {
    const auto& n = nodes_[id];
    if (n.is_live && fits(n, e.need, /*empty=*/false) && (!best || is_better(n)))
      best = id;
  }
  return best;
}

void scheduler::place(entry& e, node_id target) {
  auto& n = nodes_[target];
  for (const auto& [index, units] : e.need)
    n.used[index] += units;
  update_load(n);
  ++n.workers;
  ++placed_;
  e.state = request_state::placed;
  e.node = target;
}

void scheduler::update_load(node& n) {
  n.load = 0;
  for (std::size_t i = 0; i < n.total.size(); ++i)
    if (n.total[i] > 0)
      n.load = std::max(n.load, static_cast<double>(n.used[i]) / static_cast<double>(n.total[i]));
}

std::vector<placement> scheduler::retry_waiting(node_id freed) {
  // A waiting request fitted nowhere when it was queued, and since then only `freed` gained
  // room, so it is the one node to try. Every waiting request is tried in arrival order: one
  // that still does not fit never holds back the smaller ones behind it.
  std::vector<placement> placed;
  const auto& n = nodes_[freed];
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    auto& e = entries_.at(*it);
    auto may_use = e.placement_strategy != strategy::named || e.node_name == n.name;
    if (may_use && fits(n, e.need, /*empty=*/false)) {
      place(e, freed);
      placed.push_back(placement{*it, freed});
      it = waiting_.erase(it);
      continue;
    }
    // A node that joined may make an infeasible request possible, if not placeable yet.
    if (e.state == request_state::infeasible && may_use && fits(n, e.need, /*empty=*/true))
      e.state = request_state::pending;
    ++it;
  }
  return placed;
}

} // namespace concurry::scheduler
