#include "net/cluster_messages.hpp"

#include "net/internal/flat_message.hpp"
#include "net/internal/limit_schema.hpp"
#include "schema/cluster.capnp.h"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/array.h>
#include <kj/exception.h>

#include <cstddef>
#include <cstring>
#include <set>
#include <string>

namespace concurry::net {

namespace {

namespace s = schema;
using internal::as_text;
using internal::overloaded;
using internal::to_bytes;

// The longest strings a well-formed message holds: names (of nodes, resources, worker types,
// addresses), secrets (tokens, a host's secret), and prose (why a worker ended, why a request
// was refused). A peer sending more is broken or hostile.
constexpr std::size_t max_name_bytes = 1024;
constexpr std::size_t max_secret_bytes = 4096;
constexpr std::size_t max_prose_bytes = 64 * 1024;

// -- encoding -----------------------------------------------------------------

void put_ref(s::WorkerRef::Builder out, const worker_ref& in) {
  out.setClient(in.client);
  out.setPool(in.pool);
  out.setWorker(in.worker);
}

void put_resources(capnp::List<s::Resource>::Builder out, const std::vector<cluster_resource>& in) {
  for (unsigned i = 0; i < in.size(); ++i) {
    out[i].setName(as_text(in[i].name));
    out[i].setUnits(in[i].units);
  }
}

void put_names(capnp::List<capnp::Text>::Builder out, const std::vector<std::string>& in) {
  for (unsigned i = 0; i < in.size(); ++i)
    out.set(i, as_text(in[i]));
}

s::Demand::Strategy put_strategy(worker_demand::placement p) {
  switch (p) {
  case worker_demand::placement::pack:
    return s::Demand::Strategy::PACK;
  case worker_demand::placement::spread:
    return s::Demand::Strategy::SPREAD;
  case worker_demand::placement::named:
    return s::Demand::Strategy::NAMED;
  }
  return s::Demand::Strategy::PACK;
}

void put_demand(s::Demand::Builder out, const worker_demand& in) {
  out.setCpuUnits(in.cpu_units);
  put_resources(out.initResources(static_cast<unsigned>(in.resources.size())), in.resources);
  out.setStrategy(put_strategy(in.strategy));
  out.setNode(as_text(in.node));
}

void put_target(s::HostTarget::Builder out, const host_target& in) {
  out.setAddress(as_text(in.address));
  out.setPort(in.port);
  out.setSecret(as_text(in.secret));
}

void put_exited(s::WorkerExited::Builder out, const worker_exited& in) {
  put_ref(out.initRef(), in.ref);
  out.setPid(in.pid);
  out.setHow(as_text(in.how));
  out.setReaped(in.reaped);
}

void put_place(s::Place::Builder out, const place_worker& in) {
  put_ref(out.initRef(), in.ref);
  out.setWorkerType(as_text(in.worker_type));
  put_demand(out.initDemand(), in.demand);
  put_target(out.initTarget(), in.target);
}

void put_join(s::NodeJoin::Builder out, const node_join& in) {
  out.setToken(as_text(in.token));
  out.setName(as_text(in.name));
  put_resources(out.initResources(static_cast<unsigned>(in.resources.size())), in.resources);
  put_names(out.initWorkerTypes(static_cast<unsigned>(in.worker_types.size())), in.worker_types);
  out.setPid(in.pid);
  auto running = out.initRunning(static_cast<unsigned>(in.running.size()));
  for (unsigned i = 0; i < in.running.size(); ++i) {
    auto& r = in.running[i];
    put_ref(running[i].initRef(), r.ref);
    put_demand(running[i].initDemand(), r.demand);
    running[i].setWorkerType(as_text(r.worker_type));
    running[i].setPid(r.pid);
  }
}

void put_start(s::StartWorker::Builder out, const start_worker& in) {
  put_ref(out.initRef(), in.ref);
  out.setWorkerType(as_text(in.worker_type));
  put_target(out.initTarget(), in.target);
  put_demand(out.initDemand(), in.demand);
  out.setHeadAddress(as_text(in.head_address));
  out.setHeadPort(in.head_port);
}

void put_demand_counts(capnp::List<s::DemandCount>::Builder out,
                       const std::vector<demand_count>& in) {
  for (unsigned i = 0; i < in.size(); ++i) {
    put_demand(out[i].initDemand(), in[i].demand);
    out[i].setWorkerType(as_text(in[i].worker_type));
    out[i].setCount(in[i].count);
  }
}

void put_status(s::Status::Builder out, const cluster_status& in) {
  auto nodes = out.initNodes(static_cast<unsigned>(in.nodes.size()));
  for (unsigned i = 0; i < in.nodes.size(); ++i) {
    auto& n = in.nodes[i];
    nodes[i].setName(as_text(n.name));
    nodes[i].setPid(n.pid);
    nodes[i].setAlive(n.alive);
    put_resources(nodes[i].initTotal(static_cast<unsigned>(n.total.size())), n.total);
    put_resources(nodes[i].initUsed(static_cast<unsigned>(n.used.size())), n.used);
    nodes[i].setWorkers(n.workers);
    put_names(nodes[i].initWorkerTypes(static_cast<unsigned>(n.worker_types.size())),
              n.worker_types);
    nodes[i].setSilentMs(n.silent_ms);
  }
  auto pools = out.initPools(static_cast<unsigned>(in.pools.size()));
  for (unsigned i = 0; i < in.pools.size(); ++i) {
    auto& p = in.pools[i];
    pools[i].setClient(p.client);
    pools[i].setPool(p.pool);
    pools[i].setWorkerType(as_text(p.worker_type));
    pools[i].setPlaced(p.placed);
    pools[i].setPending(p.pending);
    pools[i].setInfeasible(p.infeasible);
  }
  put_demand_counts(out.initPending(static_cast<unsigned>(in.pending.size())), in.pending);
  put_demand_counts(out.initInfeasible(static_cast<unsigned>(in.infeasible.size())), in.infeasible);
  auto limits = out.initLimits(static_cast<unsigned>(in.limits.size()));
  for (unsigned i = 0; i < in.limits.size(); ++i)
    net_internal::put_limit_stats(limits[i], in.limits[i]);
  out.setClients(in.clients);
  out.setUptimeMs(in.uptime_ms);
}

// -- decoding -----------------------------------------------------------------

// Text may hold NUL bytes: take its size, not its first NUL.
std::string get_text(capnp::Text::Reader text, std::size_t max_bytes, const char* what) {
  if (text.size() > max_bytes)
    throw decode_error{std::string{what} + " of " + std::to_string(text.size()) +
                       " bytes is longer than " + std::to_string(max_bytes)};
  return {text.begin(), text.size()};
}

std::string get_name(capnp::Text::Reader text, const char* what) {
  return get_text(text, max_name_bytes, what);
}

std::vector<std::string> get_names(capnp::List<capnp::Text>::Reader in, const char* what) {
  std::vector<std::string> out;
  out.reserve(in.size());
  for (auto name : in)
    out.push_back(get_name(name, what));
  return out;
}

worker_ref get_ref(s::WorkerRef::Reader in) {
  return {in.getClient(), in.getPool(), in.getWorker()};
}

// Names are not empty and appear once; amounts are not negative.
std::vector<cluster_resource> get_resources(capnp::List<s::Resource>::Reader in) {
  std::vector<cluster_resource> out;
  out.reserve(in.size());
  std::set<std::string> names;
  for (auto r : in) {
    auto name = get_name(r.getName(), "a resource name");
    if (name.empty())
      throw decode_error{"a resource without a name"};
    if (r.getUnits() < 0)
      throw decode_error{"a negative amount of resource '" + name + "'"};
    if (!names.insert(name).second)
      throw decode_error{"resource '" + name + "' appears twice"};
    out.push_back({std::move(name), r.getUnits()});
  }
  return out;
}

worker_demand::placement get_strategy(s::Demand::Strategy in) {
  switch (in) {
  case s::Demand::Strategy::PACK:
    return worker_demand::placement::pack;
  case s::Demand::Strategy::SPREAD:
    return worker_demand::placement::spread;
  case s::Demand::Strategy::NAMED:
    return worker_demand::placement::named;
  }
  throw decode_error{"a demand of an unknown placement strategy"};
}

worker_demand get_demand(s::Demand::Reader in) {
  worker_demand out;
  out.cpu_units = in.getCpuUnits();
  if (out.cpu_units < 0)
    throw decode_error{"a demand of " + std::to_string(out.cpu_units) + " cpu units"};
  out.resources = get_resources(in.getResources());
  out.strategy = get_strategy(in.getStrategy());
  out.node = get_name(in.getNode(), "a demand's node name");
  if (out.strategy == worker_demand::placement::named && out.node.empty())
    throw decode_error{"a demand for a named node that names none"};
  return out;
}

host_target get_target(s::HostTarget::Reader in) {
  return {get_name(in.getAddress(), "a host target's address"),
          in.getPort(),
          get_text(in.getSecret(), max_secret_bytes, "a host target's secret")};
}

worker_exited get_exited(s::WorkerExited::Reader in) {
  return {get_ref(in.getRef()),
          in.getPid(),
          get_text(in.getHow(), max_prose_bytes, "how a worker ended"),
          in.getReaped()};
}

place_worker get_place(s::Place::Reader in) {
  return {get_ref(in.getRef()),
          get_name(in.getWorkerType(), "a worker type"),
          get_demand(in.getDemand()),
          get_target(in.getTarget())};
}

node_join get_join(s::NodeJoin::Reader in) {
  node_join out;
  out.token = get_text(in.getToken(), max_secret_bytes, "a token");
  out.name = get_name(in.getName(), "a node name");
  out.resources = get_resources(in.getResources());
  out.worker_types = get_names(in.getWorkerTypes(), "a worker type");
  out.pid = in.getPid();
  for (auto r : in.getRunning())
    out.running.push_back({get_ref(r.getRef()),
                           get_demand(r.getDemand()),
                           get_name(r.getWorkerType(), "a worker type"),
                           r.getPid()});
  return out;
}

start_worker get_start(s::StartWorker::Reader in) {
  return {get_ref(in.getRef()),
          get_name(in.getWorkerType(), "a worker type"),
          get_target(in.getTarget()),
          get_demand(in.getDemand()),
          get_name(in.getHeadAddress(), "the head's address"),
          in.getHeadPort()};
}

std::vector<demand_count> get_demand_counts(capnp::List<s::DemandCount>::Reader in) {
  std::vector<demand_count> out;
  out.reserve(in.size());
  for (auto d : in)
    out.push_back(
        {get_demand(d.getDemand()), get_name(d.getWorkerType(), "a worker type"), d.getCount()});
  return out;
}

cluster_status get_status(s::Status::Reader in) {
  cluster_status out;
  for (auto n : in.getNodes())
    out.nodes.push_back({get_name(n.getName(), "a node name"),
                         n.getPid(),
                         n.getAlive(),
                         get_resources(n.getTotal()),
                         get_resources(n.getUsed()),
                         n.getWorkers(),
                         get_names(n.getWorkerTypes(), "a worker type"),
                         n.getSilentMs()});
  for (auto p : in.getPools())
    out.pools.push_back({p.getClient(),
                         p.getPool(),
                         get_name(p.getWorkerType(), "a worker type"),
                         p.getPlaced(),
                         p.getPending(),
                         p.getInfeasible()});
  out.pending = get_demand_counts(in.getPending());
  out.infeasible = get_demand_counts(in.getInfeasible());
  for (auto l : in.getLimits())
    out.limits.push_back(net_internal::get_limit_stats(l));
  out.clients = in.getClients();
  out.uptime_ms = in.getUptimeMs();
  return out;
}

cluster_message read(s::ClusterMessage::Reader root) {
  switch (root.which()) {
  case s::ClusterMessage::NODE_JOIN:
    return get_join(root.getNodeJoin());
  case s::ClusterMessage::HEARTBEAT:
    return node_heartbeat{root.getHeartbeat()};
  case s::ClusterMessage::WORKER_STARTED: {
    auto w = root.getWorkerStarted();
    return worker_started{get_ref(w.getRef()), w.getPid()};
  }
  case s::ClusterMessage::WORKER_EXITED:
    return get_exited(root.getWorkerExited());
  case s::ClusterMessage::START_WORKER:
    return get_start(root.getStartWorker());
  case s::ClusterMessage::STOP_WORKER:
    return stop_worker_host{get_ref(root.getStopWorker())};
  case s::ClusterMessage::SHUTDOWN_NODE:
    return shutdown_node{};
  case s::ClusterMessage::CLIENT_HELLO: {
    auto h = root.getClientHello();
    return client_hello{
        get_text(h.getToken(), max_secret_bytes, "a token"), h.getClient(), h.getPid()};
  }
  case s::ClusterMessage::PLACE:
    return get_place(root.getPlace());
  case s::ClusterMessage::RELEASE:
    return release_worker{get_ref(root.getRelease())};
  case s::ClusterMessage::FIT:
    return fit_request{get_place(root.getFit())};
  case s::ClusterMessage::PING:
    return ping{root.getPing()};
  case s::ClusterMessage::STATUS_REQUEST:
    return status_request{get_text(root.getStatusRequest(), max_secret_bytes, "a token")};
  case s::ClusterMessage::STOP_CLUSTER:
    return stop_cluster{get_text(root.getStopCluster(), max_secret_bytes, "a token")};
  case s::ClusterMessage::PLACED: {
    auto p = root.getPlaced();
    return worker_placed{get_ref(p.getRef()), get_name(p.getNode(), "a node name")};
  }
  case s::ClusterMessage::WORKER_LOST:
    return worker_lost{get_exited(root.getWorkerLost())};
  case s::ClusterMessage::JOINED:
    return joined{root.getJoined().getHeartbeatIntervalMs()};
  case s::ClusterMessage::WELCOME:
    return welcome{};
  case s::ClusterMessage::REFUSED: {
    auto r = root.getRefused();
    return refused{get_text(r.getReason(), max_prose_bytes, "a refusal's reason"), r.getAuth()};
  }
  case s::ClusterMessage::WAITING: {
    auto w = root.getWaiting();
    return waiting{w.getInfeasible(), get_text(w.getReason(), max_prose_bytes, "why it waits")};
  }
  case s::ClusterMessage::FITS:
    return fits{root.getFits()};
  case s::ClusterMessage::PONG:
    return pong{root.getPong()};
  case s::ClusterMessage::STATUS:
    return get_status(root.getStatus());
  case s::ClusterMessage::STOPPING:
    return stopping{};
  case s::ClusterMessage::CREATE_LIMITS: {
    create_limits out;
    for (auto set : root.getCreateLimits())
      out.sets.push_back(net_internal::get_limit_set(set));
    return out;
  }
  }
  throw decode_error{"a cluster message of an unknown kind"};
}

} // namespace

std::vector<char> encode(const cluster_message& message) {
  capnp::MallocMessageBuilder builder;
  auto root = builder.initRoot<s::ClusterMessage>();
  std::visit(overloaded{
                 [&](const node_join& m) { put_join(root.initNodeJoin(), m); },
                 [&](const node_heartbeat& m) { root.setHeartbeat(m.sequence); },
                 [&](const worker_started& m) {
                   auto w = root.initWorkerStarted();
                   put_ref(w.initRef(), m.ref);
                   w.setPid(m.pid);
                 },
                 [&](const worker_exited& m) { put_exited(root.initWorkerExited(), m); },
                 [&](const start_worker& m) { put_start(root.initStartWorker(), m); },
                 [&](const stop_worker_host& m) { put_ref(root.initStopWorker(), m.ref); },
                 [&](const shutdown_node&) { root.setShutdownNode(); },
                 [&](const client_hello& m) {
                   auto h = root.initClientHello();
                   h.setToken(as_text(m.token));
                   h.setClient(m.client);
                   h.setPid(m.pid);
                 },
                 [&](const place_worker& m) { put_place(root.initPlace(), m); },
                 [&](const release_worker& m) { put_ref(root.initRelease(), m.ref); },
                 [&](const fit_request& m) { put_place(root.initFit(), m.what); },
                 [&](const ping& m) { root.setPing(m.sequence); },
                 [&](const status_request& m) { root.setStatusRequest(as_text(m.token)); },
                 [&](const stop_cluster& m) { root.setStopCluster(as_text(m.token)); },
                 [&](const worker_placed& m) {
                   auto p = root.initPlaced();
                   put_ref(p.initRef(), m.ref);
                   p.setNode(as_text(m.node));
                 },
                 [&](const worker_lost& m) { put_exited(root.initWorkerLost(), m.exit); },
                 [&](const joined& m) {
                   root.initJoined().setHeartbeatIntervalMs(m.heartbeat_interval_ms);
                 },
                 [&](const welcome&) { root.setWelcome(); },
                 [&](const refused& m) {
                   auto r = root.initRefused();
                   r.setReason(as_text(m.reason));
                   r.setAuth(m.auth);
                 },
                 [&](const waiting& m) {
                   auto w = root.initWaiting();
                   w.setInfeasible(m.infeasible);
                   w.setReason(as_text(m.reason));
                 },
                 [&](const fits& m) { root.setFits(m.count); },
                 [&](const pong& m) { root.setPong(m.sequence); },
                 [&](const cluster_status& m) { put_status(root.initStatus(), m); },
                 [&](const stopping&) { root.setStopping(); },
                 [&](const create_limits& m) {
                   auto sets = root.initCreateLimits(static_cast<unsigned>(m.sets.size()));
                   for (unsigned i = 0; i < m.sets.size(); ++i)
                     net_internal::put_limit_set(sets[i], m.sets[i]);
                 },
             },
             message);
  return to_bytes(builder);
}

cluster_message decode_cluster_message(const std::vector<char>& bytes) {
  return internal::read_flat(bytes, "cluster message", [](capnp::MessageReader& reader) {
    return read(reader.getRoot<s::ClusterMessage>());
  });
}

} // namespace concurry::net
