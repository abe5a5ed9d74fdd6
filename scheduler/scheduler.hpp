// The placement scheduler of cluster mode: the head's table of nodes with resources total and
// used, the choice of a node for each worker (pack, spread, or a named node), and the queue of
// workers that fit nowhere yet. Pure C++ without CAF, I/O, clocks or logs: the head drives it
// and reports what it returns, so it is unit tested and simulated at thousands of nodes.
#pragma once

#include "scheduler/amount.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace concurry::scheduler {

/// The name of the CPU resource; every other name is a custom resource.
inline constexpr std::string_view cpu_resource = "cpu";

/// Amounts by resource name, such as {{"cpu", 4}, {"accel", 8}}. Zero amounts mean nothing.
using resource_set = std::map<std::string, amount, std::less<>>;

/// Identifies a node for as long as the scheduler lives; never reused after `remove_node`.
using node_id = std::uint32_t;
/// Identifies one worker request, placed or not; never reused.
using request_id = std::uint64_t;

/// How a request chooses among the nodes that fit it.
enum class strategy {
  /// The most-used node that fits, so that whole nodes stay free.
  pack,
  /// The least-used node that fits, so that workers spread over the nodes.
  spread,
  /// Only the node named in the request.
  named,
};

/// What one worker asks for.
struct worker_request {
  /// CPUs, in fractions down to 0.0001; zero fits on any node.
  amount cpus = amount::from_wholes(1);
  /// Custom resources by name; zero amounts are ignored.
  resource_set resources;
  strategy placement_strategy = strategy::pack;
  /// The node's name when `placement_strategy` is `named`; ignored otherwise.
  std::string node;
};

/// Where a request stands.
enum class request_state {
  /// On a node, holding its resources.
  placed,
  /// Fits on no node now, but on some node once resources free up.
  pending,
  /// No node could hold it even empty (too large, a resource no node has, or a named node that
  /// is not in the table). Kept, and placed if a node joins that can hold it.
  infeasible,
};

/// One request placed on one node.
struct placement {
  request_id request = 0;
  node_id node = 0;
  friend bool operator==(const placement&, const placement&) = default;
};

/// What `submit` decided.
struct submit_result {
  request_id id = 0;
  request_state state = request_state::pending;
  /// The node, when `state` is `placed`.
  std::optional<node_id> node;
};

/// What `add_node` did.
struct join_result {
  node_id id = 0;
  /// Waiting requests that the new node took, in arrival order.
  std::vector<placement> placed;
};

/// What `remove_node` did.
struct removal_result {
  /// The requests the node held, now forgotten, in arrival order: the caller replaces or fails
  /// their workers.
  std::vector<request_id> lost;
  /// Pending requests that only the removed node could hold, now infeasible (the head warns
  /// once about each).
  std::vector<request_id> now_infeasible;
};

/// The node table, placement and the pending queue. Not thread-safe: one owner (the head's
/// placement actor) calls it. Every decision is deterministic: ties go to the older node.
///
/// Requests that fit nowhere wait in arrival order; when resources free up on a node (a release,
/// a join), each waiting request that now fits there is placed, in arrival order, and a large
/// request that still does not fit never holds back smaller ones behind it. It does not preempt
/// placed workers, nor move them to balance the nodes.
class scheduler {
public:
  /// Adds a node offering `total`; throws `std::invalid_argument` if a node of that name is in
  /// the table. Waiting requests that now fit on it are placed there.
  join_result add_node(std::string name, const resource_set& total);

  /// Removes a node (it left or died); its placed requests are forgotten and returned, and
  /// pending requests that only it could hold become infeasible. Throws `std::out_of_range` for
  /// an unknown node.
  removal_result remove_node(node_id node);

  /// Places `request` at once, or queues it as pending or infeasible. Throws `config_error` if
  /// the strategy is `named` and the node name is empty.
  submit_result submit(const worker_request& request);

  /// Ends a request: a placed one returns its resources (and waiting requests that now fit are
  /// placed, returned in arrival order); a waiting one leaves the queue. Throws
  /// `std::out_of_range` for an unknown or already released request.
  std::vector<placement> release(request_id request);

  /// Where `request` stands; throws `std::out_of_range` for an unknown one.
  [[nodiscard]] request_state state_of(request_id request) const;
  /// The node holding `request`, if placed.
  [[nodiscard]] std::optional<node_id> node_of(request_id request) const;
  /// The node of that name in the table, if any.
  [[nodiscard]] std::optional<node_id> find_node(std::string_view name) const;

  /// A node's resources, by name (a resource it lacks is zero); throw `std::out_of_range` for an
  /// unknown node.
  [[nodiscard]] amount total(node_id node, std::string_view resource) const;
  [[nodiscard]] amount used(node_id node, std::string_view resource) const;
  /// How many placed requests a node holds.
  [[nodiscard]] std::size_t worker_count(node_id node) const;

  [[nodiscard]] std::size_t node_count() const noexcept { return live_nodes_; }
  [[nodiscard]] std::size_t placed_count() const noexcept { return placed_; }
  /// Requests waiting for resources, in arrival order.
  [[nodiscard]] std::vector<request_id> pending() const;
  /// Requests no node in the table could hold, in arrival order.
  [[nodiscard]] std::vector<request_id> infeasible() const;

private:
  // A request's demand as (resource index, units) pairs, zero amounts left out.
  using demand = std::vector<std::pair<std::size_t, std::int64_t>>;

  struct node {
    std::string name;
    std::vector<std::int64_t> total;
    std::vector<std::int64_t> used;
    // The largest used/total over its resources: how full the node is, for pack and spread.
    double load = 0;
    std::size_t workers = 0;
    bool is_live = true;
  };

  struct entry {
    demand need;
    strategy placement_strategy = strategy::pack;
    std::string node_name;
    request_state state = request_state::pending;
    node_id node = 0;
  };

  std::size_t resource_index(std::string_view name);
  demand demand_of(const worker_request& request);
  [[nodiscard]] const node& node_at(node_id id) const;
  [[nodiscard]] const entry& entry_at(request_id id) const;
  [[nodiscard]] static bool fits(const node& n, const demand& need, bool empty);
  [[nodiscard]] bool is_feasible(const entry& e) const;
  [[nodiscard]] std::optional<node_id> choose_node(const entry& e) const;
  void place(entry& e, node_id target);
  static void update_load(node& n);
  std::vector<placement> retry_waiting(node_id freed);

  std::unordered_map<std::string, std::size_t> resource_indexes_;
  std::vector<node> nodes_;
  std::unordered_map<std::string, node_id> node_names_;
  std::size_t live_nodes_ = 0;
  std::unordered_map<request_id, entry> entries_;
  // Pending and infeasible requests; ids grow with arrival, so the set is in arrival order.
  std::set<request_id> waiting_;
  request_id next_request_ = 1;
  std::size_t placed_ = 0;
};

} // namespace concurry::scheduler
