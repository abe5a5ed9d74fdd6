#include "actors/cluster_head.hpp"

#include "actors/cluster_wire.hpp"
#include "actors/limit_actor.hpp"
#include "actors/log.hpp"
#include "net/cluster_messages.hpp"
#include "scheduler/scheduler.hpp"

#include <concurry/error.hpp>

#include <caf/all.hpp>
#include <caf/io/middleman.hpp>

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>

namespace concurry::actors {

namespace {

using clock_type = std::chrono::steady_clock;
using check_atom = caf::atom_constant<caf::atom("check")>;

// A node offers this much of each worker type it hosts, and a worker takes the least unit of
// its type: the scheduler then places a worker only where its code is, and a type no node has
// is infeasible like any missing resource.
constexpr std::int64_t type_offer_wholes = 1'000'000;
const std::string type_prefix = "worker:";

struct node_entry {
  std::string name;
  caf::actor actor;
  scheduler::node_id id = 0;
  std::int32_t pid = 0;
  std::vector<std::string> worker_types;
  scheduler::resource_set total;
  clock_type::time_point last_heard;
  std::set<net::worker_ref> workers;
};

struct client_entry {
  caf::actor actor;
  std::int32_t pid = 0;
  std::vector<limit_set> limit_sets;
  std::vector<std::unique_ptr<limit_service>> limit_services;
};

struct worker_entry {
  std::string worker_type;
  net::worker_demand demand;
  net::host_target target;
  scheduler::request_id request = 0;
  // The node it was sent to, while placed.
  std::optional<scheduler::node_id> node;
  std::int32_t pid = 0;
  // The client let it go; its resources return once its host ended.
  bool released = false;
};

} // namespace

struct cluster_head::impl {
  std::shared_ptr<actor_host> host;
  head_options options;
  caf::actor actor;
  std::uint16_t port = 0;
  clock_type::time_point started = clock_type::now();

  std::mutex mutex;
  std::condition_variable changed;
  bool stop_requested = false; // guarded
  std::size_t live_nodes = 0;  // guarded

  // -- the actor's state: touched on its own thread only -----------------------------------------
  scheduler::scheduler placement;
  std::map<scheduler::node_id, node_entry> nodes;
  std::map<caf::actor_addr, scheduler::node_id> node_by_actor;
  std::map<std::uint64_t, client_entry> clients;
  std::map<caf::actor_addr, std::uint64_t> client_by_actor;
  std::map<net::worker_ref, worker_entry> workers;
  std::map<scheduler::request_id, net::worker_ref> by_request;
  std::set<std::string> warned_infeasible;
  // The nodes were told to stop: their leaving is no failure.
  bool stopping_nodes = false;
  clock_type::time_point last_check = clock_type::now();

  void publish_counts() {
    {
      std::lock_guard guard{mutex};
      live_nodes = nodes.size();
    }
    changed.notify_all();
  }

  static scheduler::worker_request request_of(const std::string& type,
                                              const net::worker_demand& demand) {
    scheduler::worker_request r;
    r.cpus = scheduler::amount::from_units(demand.cpu_units);
    for (auto& res : demand.resources)
      r.resources[res.name] += scheduler::amount::from_units(res.units);
    r.resources[type_prefix + type] += scheduler::amount::from_units(1);
    r.placement_strategy =
        demand.strategy == net::worker_demand::placement::spread  ? scheduler::strategy::spread
        : demand.strategy == net::worker_demand::placement::named ? scheduler::strategy::named
                                                                  : scheduler::strategy::pack;
    r.node = demand.node;
    return r;
  }

  // What tells workers of one kind (type and demand) from others, for status lines and warnings.
  static std::string kind_of(const worker_entry& w) {
    auto kind = w.worker_type + "/" + std::to_string(w.demand.cpu_units) + "/" +
                std::to_string(static_cast<int>(w.demand.strategy)) + "/" + w.demand.node;
    for (auto& r : w.demand.resources)
      kind += "/" + r.name + "=" + std::to_string(r.units);
    return kind;
  }

  void send_to(const caf::actor& to, const net::cluster_message& message) {
    if (to)
      caf::anon_send(to, cluster_atom::value, net::encode(message));
  }

  // The worker was placed on `node`: its node starts the host, and its client hears where.
  void started_on(caf::event_based_actor* self,
                  const net::worker_ref& ref,
                  scheduler::node_id node,
                  bool tell_client) {
    auto w = workers.find(ref);
    auto n = nodes.find(node);
    if (w == workers.end() || n == nodes.end())
      return;
    w->second.node = node;
    n->second.workers.insert(ref);
    net::start_worker start;
    start.ref = ref;
    start.worker_type = w->second.worker_type;
    start.target = w->second.target;
    start.demand = w->second.demand;
    self->send(n->second.actor, cluster_atom::value, net::encode(start));
    logger("head")->debug("worker placed client={:x} pool={} worker={} node={}",
                          ref.client,
                          ref.pool,
                          ref.worker,
                          n->second.name);
    if (tell_client)
      if (auto c = clients.find(ref.client); c != clients.end())
        send_to(c->second.actor, net::worker_placed{ref, n->second.name});
  }

  void place_all(caf::event_based_actor* self, const std::vector<scheduler::placement>& placed) {
    for (auto& p : placed)
      if (auto ref = by_request.find(p.request); ref != by_request.end())
        started_on(self, ref->second, p.node, true);
  }

  // One warning per kind of worker (its type and demand), however many of them wait.
  void warn_infeasible(scheduler::request_id, const net::worker_ref& ref) {
    auto& w = workers.at(ref);
    if (!warned_infeasible.insert(kind_of(w)).second)
      return;
    std::string asks = "cpu=" + scheduler::amount::from_units(w.demand.cpu_units).to_string();
    for (auto& r : w.demand.resources)
      asks += " " + r.name + "=" + scheduler::amount::from_units(r.units).to_string();
    if (!w.demand.node.empty())
      asks += " node=" + w.demand.node;
    logger("head")->warn("a worker fits on no node of the cluster, even an empty one; it waits "
                         "for a node that can hold it (one warning per kind of worker) type={} "
                         "asks=[{}]",
                         w.worker_type,
                         asks);
  }

  // Forgets a worker whose host ended (or that never had one): its resources go back, and the
  // workers waiting for them are placed.
  void forget_worker(caf::event_based_actor* self, const net::worker_ref& ref) {
    auto w = workers.find(ref);
    if (w == workers.end())
      return;
    auto request = w->second.request;
    if (w->second.node)
      if (auto n = nodes.find(*w->second.node); n != nodes.end())
        n->second.workers.erase(ref);
    workers.erase(w);
    by_request.erase(request);
    try {
      place_all(self, placement.release(request));
    } catch (const std::out_of_range&) {
      // Its node was removed, which forgot the request already.
    }
  }

  void node_gone(caf::event_based_actor* self, scheduler::node_id id, const std::string& why) {
    auto n = nodes.find(id);
    if (n == nodes.end())
      return;
    logger("head")->log(stopping_nodes ? spdlog::level::info : spdlog::level::warn,
                        "node left name={} pid={} workers={} why={}",
                        n->second.name,
                        n->second.pid,
                        n->second.workers.size(),
                        why);
    node_by_actor.erase(n->second.actor.address());
    self->demonitor(n->second.actor);
    auto removal = placement.remove_node(id);
    for (auto request : removal.lost) {
      auto ref = by_request.find(request);
      if (ref == by_request.end())
        continue;
      auto w = workers.find(ref->second);
      if (w != workers.end()) {
        net::worker_exited lost{ref->second,
                                w->second.pid,
                                "its node " + n->second.name + " died (" + why + ")",
                                false};
        if (auto c = clients.find(ref->second.client); c != clients.end())
          send_to(c->second.actor, net::worker_lost{lost});
        workers.erase(w);
      }
      by_request.erase(ref);
    }
    for (auto request : removal.now_infeasible)
      if (auto ref = by_request.find(request); ref != by_request.end())
        warn_infeasible(request, ref->second);
    nodes.erase(n);
    publish_counts();
  }

  void client_gone(caf::event_based_actor* self, std::uint64_t id) {
    auto c = clients.find(id);
    if (c == clients.end())
      return;
    client_by_actor.erase(c->second.actor.address());
    std::vector<net::worker_ref> mine;
    for (auto& [ref, w] : workers)
      if (ref.client == id)
        mine.push_back(ref);
    logger("head")->info(
        "client left client={:x} pid={} workers={}", id, c->second.pid, mine.size());
    for (auto& ref : mine)
      release(self, ref);
    // What the client's workers still hold is released with the actors.
    clients.erase(c);
  }

  void release(caf::event_based_actor* self, const net::worker_ref& ref) {
    auto w = workers.find(ref);
    if (w == workers.end())
      return;
    if (!w->second.node)
      return forget_worker(self, ref);
    w->second.released = true;
    if (auto n = nodes.find(*w->second.node); n != nodes.end())
      send_to(n->second.actor, net::stop_worker_host{ref});
  }

  // -- handlers --------------------------------------------------------------------------------

  std::optional<net::cluster_message> on_join(caf::event_based_actor* self, net::node_join& join) {
    auto sender = caf::actor_cast<caf::actor>(self->current_sender());
    if (!same_secret(join.token, options.token)) {
      logger("head")->warn("refused a node with a wrong token name={} pid={}", join.name, join.pid);
      return net::refused{"the cluster token is wrong or missing", true};
    }
    if (!sender)
      return net::refused{"a join must come from an actor", false};
    if (auto known = node_by_actor.find(sender.address()); known != node_by_actor.end())
      node_gone(self, known->second, "it joined again");
    if (auto same = placement.find_node(join.name))
      return net::refused{"a node named " + join.name + " is in the cluster already", false};
    scheduler::resource_set total;
    for (auto& r : join.resources)
      total[r.name] += scheduler::amount::from_units(r.units);
    for (auto& t : join.worker_types)
      total[type_prefix + t] = scheduler::amount::from_wholes(type_offer_wholes);
    // Workers it still runs for a head that restarted: taken back before anything waiting.
    scheduler::join_result added;
    try {
      added = placement.add_node(join.name, total);
    } catch (const std::exception& e) {
      return net::refused{e.what(), false};
    }
    node_entry n;
    n.name = join.name;
    n.actor = sender;
    n.id = added.id;
    n.pid = join.pid;
    n.worker_types = join.worker_types;
    n.total = total;
    n.last_heard = clock_type::now();
    nodes.emplace(added.id, std::move(n));
    node_by_actor[sender.address()] = added.id;
    self->monitor(sender);
    for (auto& running : join.running) {
      auto request = request_of(running.worker_type, running.demand);
      request.placement_strategy = scheduler::strategy::named;
      request.node = join.name;
      auto result = placement.submit(request);
      if (result.state != scheduler::request_state::placed) {
        placement.release(result.id);
        send_to(sender, net::stop_worker_host{running.ref});
        continue;
      }
      worker_entry w;
      w.worker_type = running.worker_type;
      w.demand = running.demand;
      w.request = result.id;
      w.node = added.id;
      w.pid = running.pid;
      workers[running.ref] = std::move(w);
      by_request[result.id] = running.ref;
      nodes.at(added.id).workers.insert(running.ref);
    }
    place_all(self, added.placed);
    logger("head")->info("node joined name={} pid={} resources={} worker_types={} running={}",
                         join.name,
                         join.pid,
                         join.resources.size(),
                         join.worker_types.size(),
                         join.running.size());
    publish_counts();
    return net::joined{static_cast<std::uint32_t>(options.heartbeat_interval.count())};
  }

  std::optional<net::cluster_message> on_hello(caf::event_based_actor* self,
                                               net::client_hello& hello) {
    auto sender = caf::actor_cast<caf::actor>(self->current_sender());
    if (!same_secret(hello.token, options.token)) {
      logger("head")->warn("refused a client with a wrong token pid={}", hello.pid);
      return net::refused{"the cluster token is wrong or missing", true};
    }
    if (!sender || hello.client == 0)
      return net::refused{"a client hello needs an actor and a client id", false};
    auto& c = clients[hello.client];
    if (c.actor && c.actor != sender) {
      client_by_actor.erase(c.actor.address());
      self->demonitor(c.actor);
    }
    c.actor = sender;
    c.pid = hello.pid;
    client_by_actor[sender.address()] = hello.client;
    self->monitor(sender);
    logger("head")->info("client joined client={:x} pid={}", hello.client, hello.pid);
    return net::welcome{};
  }

  bool is_client(std::uint64_t id) const { return clients.count(id) != 0; }

  net::cluster_message on_place(caf::event_based_actor* self, net::place_worker& place) {
    if (!is_client(place.ref.client))
      return net::refused{"unknown client: say hello with the token first", true};
    if (workers.count(place.ref) != 0)
      release(self, place.ref); // a replacement under the same name: the old one is done
    if (auto old = workers.find(place.ref); old != workers.end() && old->second.node) {
      // Still ending on its node: the new one gets a fresh entry once the old is forgotten.
      forget_worker(self, place.ref);
    }
    worker_entry w;
    w.worker_type = place.worker_type;
    w.demand = place.demand;
    w.target = place.target;
    scheduler::submit_result result;
    try {
      result = placement.submit(request_of(place.worker_type, place.demand));
    } catch (const std::exception& e) {
      return net::refused{e.what(), false};
    }
    w.request = result.id;
    workers[place.ref] = std::move(w);
    by_request[result.id] = place.ref;
    if (result.state == scheduler::request_state::placed) {
      started_on(self, place.ref, *result.node, false);
      return net::worker_placed{place.ref, nodes.at(*result.node).name};
    }
    bool infeasible = result.state == scheduler::request_state::infeasible;
    if (infeasible)
      warn_infeasible(result.id, place.ref);
    return net::waiting{infeasible,
                        infeasible ? "no node of the cluster could hold it, even empty"
                                   : "every node that could hold it is full"};
  }

  std::uint64_t fit_count(const net::place_worker& what) const {
    auto request = request_of(what.worker_type, what.demand);
    std::uint64_t total = 0;
    for (auto& [id, n] : nodes) {
      if (request.placement_strategy == scheduler::strategy::named && n.name != request.node)
        continue;
      std::int64_t fit = std::numeric_limits<std::int64_t>::max();
      bool limited = false;
      auto consider = [&](std::string_view name, scheduler::amount need) {
        if (need.is_zero())
          return;
        if (name.starts_with(type_prefix) && name != type_prefix + what.worker_type)
          return;
        auto free = placement.total(id, name) - placement.used(id, name);
        if (name.starts_with(type_prefix)) {
          if (free < need)
            fit = 0;
          return;
        }
        limited = true;
        fit = std::min(fit, free.units() / need.units());
      };
      consider(scheduler::cpu_resource, request.cpus);
      for (auto& [name, need] : request.resources)
        consider(name, need);
      // A worker that asks for nothing fits once per node.
      total += static_cast<std::uint64_t>(limited ? std::max<std::int64_t>(fit, 0)
                                                  : std::min<std::int64_t>(fit, 1));
    }
    return total;
  }

  net::cluster_status status() const {
    net::cluster_status s;
    auto now = clock_type::now();
    s.uptime_ms = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(now - started).count());
    s.clients = static_cast<std::uint32_t>(clients.size());
    for (auto& [id, n] : nodes) {
      net::node_status ns;
      ns.name = n.name;
      ns.pid = n.pid;
      ns.alive = true;
      for (auto& [name, amount] : n.total) {
        if (name.starts_with(type_prefix))
          continue;
        ns.total.push_back({name, amount.units()});
        ns.used.push_back({name, placement.used(id, name).units()});
      }
      ns.workers = static_cast<std::uint32_t>(placement.worker_count(id));
      ns.worker_types = n.worker_types;
      ns.silent_ms = static_cast<std::uint64_t>(
          std::chrono::duration_cast<std::chrono::milliseconds>(now - n.last_heard).count());
      s.nodes.push_back(std::move(ns));
    }
    std::map<std::pair<std::uint64_t, std::uint64_t>, net::pool_status> pools;
    std::map<std::string, net::demand_count> pending;
    std::map<std::string, net::demand_count> infeasible;
    for (auto& [ref, w] : workers) {
      auto& p = pools[{ref.client, ref.pool}];
      p.client = ref.client;
      p.pool = ref.pool;
      p.worker_type = w.worker_type;
      auto state = placement.state_of(w.request);
      if (state == scheduler::request_state::placed) {
        ++p.placed;
        continue;
      }
      auto& bucket = state == scheduler::request_state::pending ? pending : infeasible;
      state == scheduler::request_state::pending ? ++p.pending : ++p.infeasible;
      // One line per distinct demand.
      auto& d = bucket[kind_of(w)];
      d.demand = w.demand;
      d.worker_type = w.worker_type;
      ++d.count;
    }
    for (auto& [k, p] : pools)
      s.pools.push_back(p);
    for (auto& [k, d] : pending)
      s.pending.push_back(d);
    for (auto& [k, d] : infeasible)
      s.infeasible.push_back(d);
    for (auto& [id, c] : clients)
      for (auto& set : c.limit_sets)
        for (auto& l : set.stats().limits)
          s.limits.push_back(l);
    return s;
  }

  void check_heartbeats(caf::event_based_actor* self) {
    auto now = clock_type::now();
    // A head that was itself stopped (SIGSTOP, a stalled machine) heard nothing meanwhile:
    // its nodes get a fresh start instead of being declared dead for its own silence.
    if (now - last_check > options.node_timeout) {
      for (auto& [id, n] : nodes)
        n.last_heard = now;
    }
    last_check = now;
    std::vector<std::pair<scheduler::node_id, std::string>> silent;
    for (auto& [id, n] : nodes)
      if (now - n.last_heard > options.node_timeout)
        silent.emplace_back(
            id, "no heartbeat for " + std::to_string(options.node_timeout.count()) + " ms");
    for (auto& [id, why] : silent) {
      // A frozen node that wakes up is told it was dropped; it ends its hosts and joins anew.
      auto actor = nodes.at(id).actor;
      node_gone(self, id, why);
      send_to(actor, net::refused{"the head declared this node dead: " + why, false});
    }
  }

  caf::behavior behavior(caf::event_based_actor* self) {
    self->set_default_handler(caf::drop);
    self->set_exception_handler(log_exception);
    self->set_down_handler([this, self](caf::down_msg& down) {
      if (auto n = node_by_actor.find(down.source); n != node_by_actor.end())
        return node_gone(self, n->second, "its connection dropped");
      if (auto c = client_by_actor.find(down.source); c != client_by_actor.end())
        client_gone(self, c->second);
    });
    self->delayed_send(self, options.heartbeat_interval, check_atom::value);
    return {
        [this](stop_nodes_atom) {
          stopping_nodes = true;
          for (auto& [id, n] : nodes)
            send_to(n.actor, net::shutdown_node{});
        },
        [this, self](check_atom) {
          check_heartbeats(self);
          self->delayed_send(self, options.heartbeat_interval / 2, check_atom::value);
        },
        [this, self](cluster_atom, const std::vector<char>& bytes) -> caf::result<caf::message> {
          auto reply = handle(self, bytes);
          if (!self->current_message_id().is_request())
            return caf::message{};
          if (std::holds_alternative<caf::message>(reply))
            return std::get<caf::message>(reply);
          return caf::make_message(net::encode(std::get<net::cluster_message>(reply)));
        },
    };
  }

  // A reply as bytes, or a CAF message (the limit actors' handles).
  using reply = std::variant<net::cluster_message, caf::message>;

  reply handle(caf::event_based_actor* self, const std::vector<char>& bytes) {
    net::cluster_message message;
    try {
      message = net::decode_cluster_message(bytes);
    } catch (const std::exception& e) {
      logger("head")->warn("undecodable message error={}", e.what());
      return net::refused{std::string{"malformed message: "} + e.what(), false};
    }
    auto sender = self->current_sender();
    auto from_node = [&]() -> node_entry* {
      auto n = node_by_actor.find(caf::actor_cast<caf::actor_addr>(sender));
      return n == node_by_actor.end() ? nullptr : &nodes.at(n->second);
    };
    if (auto* join = std::get_if<net::node_join>(&message)) {
      if (auto r = on_join(self, *join))
        return *r;
    } else if (auto* hello = std::get_if<net::client_hello>(&message)) {
      if (auto r = on_hello(self, *hello))
        return *r;
    } else if (std::holds_alternative<net::node_heartbeat>(message)) {
      if (auto* n = from_node())
        n->last_heard = clock_type::now();
      else
        send_to(caf::actor_cast<caf::actor>(sender),
                net::refused{"this node is not in the cluster: join again", false});
    } else if (auto* started_msg = std::get_if<net::worker_started>(&message)) {
      if (auto* n = from_node()) {
        n->last_heard = clock_type::now();
        if (auto w = workers.find(started_msg->ref); w != workers.end())
          w->second.pid = started_msg->pid;
      }
    } else if (auto* exited = std::get_if<net::worker_exited>(&message)) {
      if (auto* n = from_node()) {
        n->last_heard = clock_type::now();
        auto w = workers.find(exited->ref);
        // Only the host the entry has now: a replacement may hold the name already.
        if (w != workers.end() && w->second.node == n->id && w->second.pid == exited->pid) {
          forget_worker(self, exited->ref);
          if (auto c = clients.find(exited->ref.client); c != clients.end())
            send_to(c->second.actor, net::worker_lost{*exited});
        }
      }
    } else if (auto* place = std::get_if<net::place_worker>(&message)) {
      return reply{on_place(self, *place)};
    } else if (auto* rel = std::get_if<net::release_worker>(&message)) {
      if (is_client(rel->ref.client))
        release(self, rel->ref);
    } else if (auto* fit = std::get_if<net::fit_request>(&message)) {
      if (!is_client(fit->what.ref.client))
        return net::refused{"unknown client: say hello with the token first", true};
      return net::fits{fit_count(fit->what)};
    } else if (auto* p = std::get_if<net::ping>(&message)) {
      return net::pong{p->sequence};
    } else if (auto* st = std::get_if<net::status_request>(&message)) {
      if (!same_secret(st->token, options.token))
        return net::refused{"the cluster token is wrong or missing", true};
      return status();
    } else if (auto* stop = std::get_if<net::stop_cluster>(&message)) {
      if (!same_secret(stop->token, options.token))
        return net::refused{"the cluster token is wrong or missing", true};
      logger("head")->info("asked to stop the cluster nodes={}", nodes.size());
      {
        std::lock_guard guard{mutex};
        stop_requested = true;
      }
      changed.notify_all();
      return net::stopping{};
    } else if (auto* limits = std::get_if<net::create_limits>(&message)) {
      auto c = client_by_actor.find(caf::actor_cast<caf::actor_addr>(sender));
      if (c == client_by_actor.end())
        return net::refused{"unknown client: say hello with the token first", true};
      auto& client = clients.at(c->second);
      std::vector<caf::actor> handles;
      for (auto& limits_of_set : limits->sets) {
        limit_set set{limits_of_set};
        client.limit_services.push_back(std::make_unique<limit_service>(*host, set));
        handles.push_back(client.limit_services.back()->handle());
        client.limit_sets.push_back(std::move(set));
      }
      return caf::make_message(std::move(handles));
    } else if (std::holds_alternative<net::shutdown_node>(message)) {
      // The head's own word to its nodes; nothing to do here.
    }
    return net::welcome{};
  }
};

cluster_head::cluster_head(std::shared_ptr<actor_host> host, head_options options)
    : impl_{std::make_unique<impl>()} {
  if (options.token.empty())
    throw config_error{"a cluster needs a token (--token or CONCURRY_TOKEN)"};
  if (options.heartbeat_interval.count() <= 0 || options.node_timeout <= options.heartbeat_interval)
    throw config_error{"the node timeout must be longer than the heartbeat interval"};
  impl_->host = std::move(host);
  impl_->options = std::move(options);
  // NOTE: the state goes in as a spawn argument: CAF 0.17 dereferences a null pointer (UBSan
  // reports it) when it starts a function actor that takes no arguments.
  impl_->actor = impl_->host->system().spawn(
      [](caf::event_based_actor* self, impl* state) { return state->behavior(self); }, impl_.get());
  auto port = impl_->host->system().middleman().publish(
      impl_->actor, impl_->options.port, impl_->options.address.c_str(), true);
  if (!port) {
    caf::anon_send_exit(impl_->actor, caf::exit_reason::user_shutdown);
    throw error{"the head cannot listen on " + impl_->options.address + ":" +
                std::to_string(impl_->options.port) + ": " +
                impl_->host->system().render(port.error())};
  }
  impl_->port = *port;
  logger("head")->info("head listening address={} port={}", impl_->options.address, impl_->port);
}

cluster_head::~cluster_head() {
  auto& system = impl_->host->system();
  (void)system.middleman().unpublish(impl_->actor, impl_->port);
  caf::scoped_actor self{system};
  self->monitor(impl_->actor);
  self->send_exit(impl_->actor, caf::exit_reason::user_shutdown);
  self->receive([](caf::down_msg&) {},
                caf::after(std::chrono::seconds{5}) >>
                    [] { logger("head")->error("the head's actor did not end within 5 s"); });
}

std::uint16_t cluster_head::port() const noexcept {
  return impl_->port;
}

void cluster_head::stop_nodes(std::chrono::milliseconds timeout) {
  caf::anon_send(impl_->actor, stop_nodes_atom::value);
  std::unique_lock lock{impl_->mutex};
  if (!impl_->changed.wait_for(lock, timeout, [&] { return impl_->live_nodes == 0; }))
    logger("head")->warn("nodes still connected after the stop timeout nodes={} timeout_ms={}",
                         impl_->live_nodes,
                         timeout.count());
}

bool cluster_head::wait_nodes(std::size_t count, std::chrono::milliseconds timeout) {
  std::unique_lock lock{impl_->mutex};
  return impl_->changed.wait_for(lock, timeout, [&] { return impl_->live_nodes >= count; });
}

bool cluster_head::wait_stop_requested(std::chrono::milliseconds timeout) {
  std::unique_lock lock{impl_->mutex};
  return impl_->changed.wait_for(lock, timeout, [&] { return impl_->stop_requested; });
}

} // namespace concurry::actors
