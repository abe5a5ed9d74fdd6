// The control messages of cluster mode as C++ values, and their Cap'n Proto encoding
// (net/schema/cluster.capnp). Bytes from another process are untrusted: decoding them either
// yields a well-formed message or throws decode_error, never anything worse.
#pragma once

#include "net/limit_messages.hpp"

#include <concurry/limits.hpp>

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace concurry::net {

/// An amount of one resource in fixed point: 10,000 units are one (scheduler::amount's units).
struct cluster_resource {
  std::string name;
  std::int64_t units = 0;
  friend bool operator==(const cluster_resource&, const cluster_resource&) = default;
};

/// One worker of one pool of one client; clients draw their id at random.
struct worker_ref {
  std::uint64_t client = 0;
  std::uint64_t pool = 0;
  std::uint32_t worker = 0;
  friend auto operator<=>(const worker_ref&, const worker_ref&) = default;
};

struct worker_demand {
  enum class placement { pack, spread, named };
  std::int64_t cpu_units = 10000;
  std::vector<cluster_resource> resources;
  placement strategy = placement::pack;
  std::string node;
  friend bool operator==(const worker_demand&, const worker_demand&) = default;
};

struct host_target {
  std::string address;
  std::uint16_t port = 0;
  std::string secret;
  friend bool operator==(const host_target&, const host_target&) = default;
};

struct running_worker {
  worker_ref ref;
  worker_demand demand;
  std::string worker_type;
  std::int32_t pid = 0;
  friend bool operator==(const running_worker&, const running_worker&) = default;
};

// -- node to head --------------------------------------------------------------------------------

struct node_join {
  std::string token;
  std::string name;
  std::vector<cluster_resource> resources;
  std::vector<std::string> worker_types;
  std::int32_t pid = 0;
  std::vector<running_worker> running;
  friend bool operator==(const node_join&, const node_join&) = default;
};
struct node_heartbeat {
  std::uint64_t sequence = 0;
  friend bool operator==(const node_heartbeat&, const node_heartbeat&) = default;
};
struct worker_started {
  worker_ref ref;
  std::int32_t pid = 0;
  friend bool operator==(const worker_started&, const worker_started&) = default;
};
struct worker_exited {
  worker_ref ref;
  std::int32_t pid = 0;
  std::string how;
  bool reaped = true;
  friend bool operator==(const worker_exited&, const worker_exited&) = default;
};

// -- head to node --------------------------------------------------------------------------------

struct start_worker {
  worker_ref ref;
  std::string worker_type;
  host_target target;
  worker_demand demand;
  std::string head_address;
  std::uint16_t head_port = 0;
  friend bool operator==(const start_worker&, const start_worker&) = default;
};
/// Stops the worker host of `ref` (stopWorker in the schema). NOTE: not named `stop_worker`,
/// which call_messages.hpp defines in this namespace already.
struct stop_worker_host {
  worker_ref ref;
  friend bool operator==(const stop_worker_host&, const stop_worker_host&) = default;
};
struct shutdown_node {
  friend bool operator==(const shutdown_node&, const shutdown_node&) = default;
};

// -- client to head ------------------------------------------------------------------------------

struct client_hello {
  std::string token;
  std::uint64_t client = 0;
  std::int32_t pid = 0;
  friend bool operator==(const client_hello&, const client_hello&) = default;
};
struct place_worker {
  worker_ref ref;
  std::string worker_type;
  worker_demand demand;
  host_target target;
  friend bool operator==(const place_worker&, const place_worker&) = default;
};
struct release_worker {
  worker_ref ref;
  friend bool operator==(const release_worker&, const release_worker&) = default;
};
/// How many workers of `demand` fit now (only `worker_type` and `demand` are read).
struct fit_request {
  place_worker what;
  friend bool operator==(const fit_request&, const fit_request&) = default;
};
struct ping {
  std::uint64_t sequence = 0;
  friend bool operator==(const ping&, const ping&) = default;
};
struct status_request {
  std::string token;
  friend bool operator==(const status_request&, const status_request&) = default;
};
struct stop_cluster {
  std::string token;
  friend bool operator==(const stop_cluster&, const stop_cluster&) = default;
};
struct create_limits {
  std::vector<std::vector<limit>> sets;
};

// -- head to client ------------------------------------------------------------------------------

struct worker_placed {
  worker_ref ref;
  std::string node;
  friend bool operator==(const worker_placed&, const worker_placed&) = default;
};
struct worker_lost {
  worker_exited exit;
  friend bool operator==(const worker_lost&, const worker_lost&) = default;
};

// -- replies -------------------------------------------------------------------------------------

struct joined {
  std::uint32_t heartbeat_interval_ms = 500;
  friend bool operator==(const joined&, const joined&) = default;
};
struct welcome {
  friend bool operator==(const welcome&, const welcome&) = default;
};
struct refused {
  std::string reason;
  bool auth = false;
  friend bool operator==(const refused&, const refused&) = default;
};
struct waiting {
  bool infeasible = false;
  std::string reason;
  friend bool operator==(const waiting&, const waiting&) = default;
};
struct fits {
  std::uint64_t count = 0;
  friend bool operator==(const fits&, const fits&) = default;
};
struct pong {
  std::uint64_t sequence = 0;
  friend bool operator==(const pong&, const pong&) = default;
};
struct stopping {
  friend bool operator==(const stopping&, const stopping&) = default;
};

struct node_status {
  std::string name;
  std::int32_t pid = 0;
  bool alive = true;
  std::vector<cluster_resource> total;
  std::vector<cluster_resource> used;
  std::uint32_t workers = 0;
  std::vector<std::string> worker_types;
  std::uint64_t silent_ms = 0;
  friend bool operator==(const node_status&, const node_status&) = default;
};
struct pool_status {
  std::uint64_t client = 0;
  std::uint64_t pool = 0;
  std::string worker_type;
  std::uint32_t placed = 0;
  std::uint32_t pending = 0;
  std::uint32_t infeasible = 0;
  friend bool operator==(const pool_status&, const pool_status&) = default;
};
struct demand_count {
  worker_demand demand;
  std::string worker_type;
  std::uint32_t count = 0;
  friend bool operator==(const demand_count&, const demand_count&) = default;
};
struct cluster_status {
  std::vector<node_status> nodes;
  std::vector<pool_status> pools;
  std::vector<demand_count> pending;
  std::vector<demand_count> infeasible;
  std::vector<limit_stats> limits;
  std::uint32_t clients = 0;
  std::uint64_t uptime_ms = 0;
};

using cluster_message = std::variant<node_join,
                                     node_heartbeat,
                                     worker_started,
                                     worker_exited,
                                     start_worker,
                                     stop_worker_host,
                                     shutdown_node,
                                     client_hello,
                                     place_worker,
                                     release_worker,
                                     fit_request,
                                     ping,
                                     status_request,
                                     stop_cluster,
                                     worker_placed,
                                     worker_lost,
                                     joined,
                                     welcome,
                                     refused,
                                     waiting,
                                     fits,
                                     pong,
                                     cluster_status,
                                     stopping,
                                     create_limits>;

std::vector<char> encode(const cluster_message& message);

/// Throws decode_error for anything but a well-formed ClusterMessage: sizes, enums and limits
/// are checked (a limit set as limit_set's constructor checks it), amounts of cpu and resources
/// are not negative, resource names are neither empty nor repeated in one list, a `named` demand
/// names its node, and strings stay short: names (of nodes, resources, worker types, addresses)
/// at most 1 KiB, tokens and secrets 4 KiB, reasons 64 KiB. Statistics are not checked.
cluster_message decode_cluster_message(const std::vector<char>& bytes);

} // namespace concurry::net
