#include "actors/cluster_node.hpp"

#include "actors/cluster_wire.hpp"
#include "actors/log.hpp"
#include "net/cluster_messages.hpp"
#include "runtime/internal/cluster_admin.hpp"
#include "runtime/internal/process_host.hpp"

#include <concurry/error.hpp>
#include <concurry/registry.hpp>

#include <caf/all.hpp>
#include <caf/io/middleman.hpp>

#include <unistd.h>

#include <cmath>
#include <condition_variable>
#include <future>
#include <mutex>

namespace concurry::actors {

namespace {

using beat_atom = caf::atom_constant<caf::atom("beat")>;

// How a session with one head ended.
enum class session_end {
  lost,    // the connection dropped, or the head did not answer the join
  dropped, // the head declared this node dead: its hosts are ended before it joins again
  refused, // wrong token or a name in use: the node stops
  stopped, // asked to stop
};

std::int64_t to_units(double amount, const std::string& what) {
  if (!(amount >= 0) || !std::isfinite(amount))
    throw config_error{what + " must be a finite amount of at least 0"};
  return static_cast<std::int64_t>(std::llround(amount * 10000.0));
}

std::string default_name() {
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  return std::string{host} + "-" + std::to_string(::getpid());
}

} // namespace

struct cluster_node::impl : std::enable_shared_from_this<cluster_node::impl> {
  std::shared_ptr<actor_host> host;
  node_options options;
  std::vector<net::cluster_resource> resources;
  std::vector<std::string> worker_types;

  std::mutex mutex;
  std::condition_variable changed;
  bool stop = false;                                               // guarded
  std::optional<std::pair<session_end, std::string>> session_done; // guarded
  caf::actor agent;                                                // guarded
  caf::actor head;                                                 // guarded
  // The worker hosts, one set per pool of a client (their worker indexes are the pool's).
  std::map<std::pair<std::uint64_t, std::uint64_t>,
           std::unique_ptr<runtime_internal::process_hosts>>
      pools;                                              // guarded
  std::map<net::worker_ref, net::running_worker> running; // guarded

  void finish_session(session_end how, std::string why) {
    {
      std::lock_guard guard{mutex};
      if (!session_done)
        session_done.emplace(how, std::move(why));
    }
    changed.notify_all();
  }

  // Sends to the head as the node's agent, so that the head knows the sender.
  void tell_head(const net::cluster_message& message) {
    caf::actor from;
    caf::actor to;
    {
      std::lock_guard guard{mutex};
      from = agent;
      to = head;
    }
    if (from && to)
      caf::send_as(from, to, cluster_atom::value, net::encode(message));
  }

  void
  on_host_exit(std::uint64_t client, std::uint64_t pool, const runtime_internal::host_exit& e) {
    net::worker_ref ref{client, pool, static_cast<std::uint32_t>(e.worker)};
    bool unannounced = false;
    {
      std::lock_guard guard{mutex};
      auto it = running.find(ref);
      // pid 0: it ended before its start was recorded.
      if (it == running.end() || (it->second.pid != e.pid && it->second.pid != 0))
        return;
      unannounced = it->second.pid == 0;
      running.erase(it);
    }
    if (unannounced)
      tell_head(net::worker_started{ref, e.pid});
    logger("node")->debug("worker host ended client={:x} pool={} worker={} pid={} how={}",
                          client,
                          pool,
                          e.worker,
                          e.pid,
                          e.describe());
    tell_head(net::worker_exited{ref, e.pid, e.describe(), true});
  }

  void start_worker(const net::start_worker& s) {
    std::weak_ptr<impl> weak = weak_from_this();
    auto key = std::pair{s.ref.client, s.ref.pool};
    runtime_internal::process_hosts* hosts = nullptr;
    {
      std::lock_guard guard{mutex};
      // Pools whose hosts all ended let go of their thread.
      for (auto it = pools.begin(); it != pools.end();) {
        bool idle = it->first != key && std::none_of(running.begin(), running.end(), [&](auto& r) {
                      return r.first.client == it->first.first && r.first.pool == it->first.second;
                    });
        it = idle ? pools.erase(it) : std::next(it);
      }
      auto& slot = pools[key];
      if (!slot) {
        runtime_internal::process_host_options o;
        o.client = runtime_internal::remote_client{s.target.address,
                                                   s.target.port,
                                                   s.target.secret,
                                                   options.head_address,
                                                   options.head_port};
        o.executable = options.executable;
        o.arguments = options.arguments;
        // The client watches its hosts; a frozen node is the head's to see.
        o.heartbeat_timeout = std::chrono::nanoseconds{0};
        runtime_internal::process_hosts::events events;
        events.on_exit = [weak, key](const runtime_internal::host_exit& e) {
          if (auto self = weak.lock())
            self->on_host_exit(key.first, key.second, e);
        };
        events.on_start_failed = [weak, s](int, const std::string& why) {
          if (auto self = weak.lock())
            self->tell_head(net::worker_exited{s.ref, 0, "it could not start: " + why, true});
        };
        try {
          slot = std::make_unique<runtime_internal::process_hosts>(host, events, o);
        } catch (const std::exception& e) {
          pools.erase(key);
          logger("node")->error("cannot start worker hosts error={}", e.what());
          // NOTE: told after the lock is let go.
          hosts = nullptr;
        }
      }
      if (auto it = pools.find(key); it != pools.end())
        hosts = it->second.get();
    }
    if (!hosts)
      return tell_head(net::worker_exited{s.ref, 0, "its node cannot start worker hosts", true});
    {
      std::lock_guard guard{mutex};
      running[s.ref] = net::running_worker{s.ref, s.demand, s.worker_type, 0};
    }
    pid_t pid = 0;
    try {
      pid = hosts->start(static_cast<int>(s.ref.worker));
    } catch (const std::exception& e) {
      logger("node")->error("cannot start a worker host type={} error={}", s.worker_type, e.what());
      {
        std::lock_guard guard{mutex};
        running.erase(s.ref);
      }
      return tell_head(
          net::worker_exited{s.ref, 0, std::string{"it could not start: "} + e.what(), true});
    }
    {
      std::lock_guard guard{mutex};
      auto it = running.find(s.ref);
      if (it == running.end())
        return; // it ended already, and said so
      it->second.pid = pid;
    }
    logger("node")->debug("worker host started type={} client={:x} pool={} worker={} pid={}",
                          s.worker_type,
                          s.ref.client,
                          s.ref.pool,
                          s.ref.worker,
                          pid);
    tell_head(net::worker_started{s.ref, pid});
  }

  void stop_worker(const net::worker_ref& ref) {
    std::lock_guard guard{mutex};
    auto it = pools.find({ref.client, ref.pool});
    // The client asked the host to exit already; it gets its grace, then SIGKILL.
    if (it != pools.end())
      it->second->shutdown(static_cast<int>(ref.worker));
  }

  // Ends every worker host (each set kills and reaps its own); returns once they are gone.
  void end_hosts() {
    std::map<std::pair<std::uint64_t, std::uint64_t>,
             std::unique_ptr<runtime_internal::process_hosts>>
        ended;
    {
      std::lock_guard guard{mutex};
      ended.swap(pools);
      running.clear();
    }
    ended.clear();
  }

  net::node_join join_message() {
    net::node_join join;
    join.token = options.token;
    join.name = options.name;
    join.resources = resources;
    join.worker_types = worker_types;
    join.pid = static_cast<std::int32_t>(::getpid());
    std::lock_guard guard{mutex};
    for (auto& [ref, r] : running)
      join.running.push_back(r);
    return join;
  }

  caf::behavior agent_behavior(caf::event_based_actor* self, caf::actor head_actor) {
    self->set_default_handler(caf::drop);
    self->set_exception_handler(log_exception);
    self->monitor(head_actor);
    auto me = shared_from_this();
    self->set_down_handler([me](caf::down_msg&) {
      me->finish_session(session_end::lost, "the connection to the head dropped");
    });
    auto sequence = std::make_shared<std::uint64_t>(0);
    auto interval = std::make_shared<std::chrono::milliseconds>(500);
    self->request(
            head_actor, std::chrono::seconds{10}, cluster_atom::value, net::encode(join_message()))
        .then(
            [me, self, interval](const std::vector<char>& bytes) {
              net::cluster_message reply;
              try {
                reply = net::decode_cluster_message(bytes);
              } catch (const std::exception& e) {
                return me->finish_session(session_end::lost,
                                          std::string{"the head's answer does not decode: "} +
                                              e.what());
              }
              if (auto* ok = std::get_if<net::joined>(&reply)) {
                *interval = std::chrono::milliseconds{
                    std::max<std::uint32_t>(ok->heartbeat_interval_ms, 10)};
                logger("node")->info("joined the head address={}:{} name={}",
                                     me->options.head_address,
                                     me->options.head_port,
                                     me->options.name);
                self->send(self, beat_atom::value);
                return;
              }
              if (auto* no = std::get_if<net::refused>(&reply))
                return me->finish_session(session_end::refused, no->reason);
              me->finish_session(session_end::lost,
                                 "the head answered the join with something else");
            },
            [me](caf::error& e) {
              me->finish_session(session_end::lost,
                                 "the head did not answer the join: " + to_string(e));
            });
    return {
        [self, head_actor, sequence, interval](beat_atom) {
          self->send(
              head_actor, cluster_atom::value, net::encode(net::node_heartbeat{++*sequence}));
          self->delayed_send(self, *interval, beat_atom::value);
        },
        [me](cluster_atom, const std::vector<char>& bytes) {
          net::cluster_message message;
          try {
            message = net::decode_cluster_message(bytes);
          } catch (const std::exception& e) {
            logger("node")->warn("undecodable message from the head error={}", e.what());
            return;
          }
          if (auto* start = std::get_if<net::start_worker>(&message))
            me->start_worker(*start);
          else if (auto* stop = std::get_if<net::stop_worker_host>(&message))
            me->stop_worker(stop->ref);
          else if (std::holds_alternative<net::shutdown_node>(message))
            me->finish_session(session_end::stopped, "the head asked this node to stop");
          else if (auto* no = std::get_if<net::refused>(&message))
            me->finish_session(no->auth ? session_end::refused : session_end::dropped, no->reason);
        },
    };
  }

  // One session with the head at `head_actor`: join, serve, and return how it ended.
  std::pair<session_end, std::string> session(caf::actor head_actor) {
    {
      std::lock_guard guard{mutex};
      session_done.reset();
      head = head_actor;
    }
    auto me = shared_from_this();
    // NOTE: the head goes in as a spawn argument (see the head's actor).
    auto a = host->system().spawn(
        [me](caf::event_based_actor* self, caf::actor head_actor) {
          return me->agent_behavior(self, head_actor);
        },
        head_actor);
    {
      std::lock_guard guard{mutex};
      agent = a;
    }
    std::unique_lock lock{mutex};
    // Bounded: the down handler, the join's timeout, or a stop ends it.
    changed.wait(lock, [&] { return session_done.has_value() || stop; });
    auto outcome =
        session_done.value_or(std::pair{session_end::stopped, std::string{"asked to stop"}});
    agent = caf::actor{};
    head = caf::actor{};
    lock.unlock();
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    return outcome;
  }

  bool wait_or_stop(std::chrono::milliseconds pause) {
    std::unique_lock lock{mutex};
    return changed.wait_for(lock, pause, [&] { return stop; });
  }
};

cluster_node::cluster_node(std::shared_ptr<actor_host> host, node_options options)
    : impl_{std::make_shared<impl>()} {
  if (options.token.empty())
    throw config_error{"a node needs the cluster token (--token or CONCURRY_TOKEN)"};
  if (options.head_port == 0)
    throw config_error{"a node needs the head's address and port"};
  if (!(options.num_cpus >= 0))
    throw config_error{"num_cpus must be at least 0"};
  if (options.name.empty())
    options.name = default_name();
  auto& s = *impl_;
  s.host = std::move(host);
  s.resources.push_back({"cpu", to_units(options.num_cpus, "num_cpus")});
  for (auto& [name, amount] : options.resources) {
    if (name.empty() || name == "cpu" || name.starts_with("worker:"))
      throw config_error{"a custom resource needs a name other than cpu and worker:...: '" + name +
                         "'"};
    s.resources.push_back({name, to_units(amount, "resource " + name)});
  }
  for (auto& info : registered_workers())
    if (!info.local_only)
      s.worker_types.push_back(info.name);
  s.options = std::move(options);
}

cluster_node::~cluster_node() {
  request_stop();
  impl_->end_hosts();
}

node_end cluster_node::run(std::string* why) {
  auto& s = *impl_;
  // Pools made inside the workers (nested pools) find this cluster: the hosts inherit these.
  ::setenv("CONCURRY_ADDRESS",
           (s.options.head_address + ":" + std::to_string(s.options.head_port)).c_str(),
           1);
  ::setenv("CONCURRY_TOKEN", s.options.token.c_str(), 1);
  auto& mm = s.host->system().middleman();
  auto give_up_at = std::chrono::steady_clock::now() + s.options.connect_timeout;
  bool joined_once = false;
  logger("node")->info("node starting name={} head={}:{} cpus={} resources={} worker_types={}",
                       s.options.name,
                       s.options.head_address,
                       s.options.head_port,
                       s.options.num_cpus,
                       s.options.resources.size(),
                       s.worker_types.size());
  // Bounded by the stop request: every round either serves a session or pauses.
  for (;;) {
    {
      std::lock_guard guard{s.mutex};
      if (s.stop)
        break;
    }
    // A frozen head, or a port that is no head, would hold CAF's connect for ever.
    auto silent = runtime_internal::head_greets(
        s.options.head_address, s.options.head_port, runtime_internal::head_greeting_timeout);
    auto head = silent ? caf::expected<caf::actor>{caf::sec::cannot_connect_to_node}
                       : mm.remote_actor(s.options.head_address, s.options.head_port);
    if (!head) {
      if (!joined_once && std::chrono::steady_clock::now() >= give_up_at) {
        if (why)
          *why = "cannot reach the head at " + s.options.head_address + ":" +
                 std::to_string(s.options.head_port) + ": " +
                 (silent ? *silent : s.host->system().render(head.error()));
        s.end_hosts();
        return node_end::unreachable;
      }
      if (s.wait_or_stop(s.options.retry_interval))
        break;
      continue;
    }
    joined_once = true;
    auto [how, reason] = s.session(*head);
    switch (how) {
    case session_end::refused:
      logger("node")->error("the head refused this node reason={}", reason);
      if (why)
        *why = reason;
      s.end_hosts();
      return node_end::refused;
    case session_end::stopped:
      logger("node")->info("node stopping reason={}", reason);
      s.end_hosts();
      return node_end::stopped;
    case session_end::dropped:
      logger("node")->warn("the head dropped this node; its worker hosts end and it joins again "
                           "reason={}",
                           reason);
      s.end_hosts();
      break;
    case session_end::lost:
      logger("node")->warn("lost the head; joining again reason={}", reason);
      break;
    }
    if (s.wait_or_stop(s.options.retry_interval))
      break;
  }
  logger("node")->info("node stopping reason=asked to stop");
  s.end_hosts();
  return node_end::stopped;
}

void cluster_node::request_stop() noexcept {
  {
    std::lock_guard guard{impl_->mutex};
    impl_->stop = true;
  }
  impl_->changed.notify_all();
}

} // namespace concurry::actors
