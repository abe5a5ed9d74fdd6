#include "runtime/internal/cluster_hosts.hpp"

#include "actors/host_link.hpp"
#include "actors/log.hpp"

#include <concurry/clock.hpp>
#include <concurry/error.hpp>

#include <caf/actor.hpp>

#include <future>
#include <map>
#include <mutex>
#include <random>

namespace concurry::runtime_internal {

namespace {

// After a host's connection drops, how long the head has to say how it ended before the pool
// is told without it (a head that is gone never says).
constexpr std::chrono::seconds exit_report_wait{1};
// After this side ended a host, how long until its end is taken as done without word from the
// head.
constexpr std::chrono::seconds kill_report_wait{5};

} // namespace

struct cluster_hosts::impl : std::enable_shared_from_this<cluster_hosts::impl> {
  enum class phase {
    idle,      // no host, none asked for
    asking,    // the head was asked and has not answered
    waiting,   // the head keeps it until it fits
    placed,    // its node starts the host
    connected, // the host said hello
    ending,    // its connection dropped or this side ended it: its exit is due
  };
  struct worker_state {
    phase at = phase::idle;
    pid_t pid = 0;
    std::string node;
    std::uint64_t generation = 0; // counts starts, so that late answers are known as such
  };

  std::shared_ptr<actors::actor_host> host;
  std::shared_ptr<cluster_client> client;
  process_hosts::events handlers;
  cluster_pool_options options;
  std::function<void()> on_unavailable;
  std::string secret = random_secret();
  std::unique_ptr<actors::host_listener> listener;

  mutable std::mutex mutex;
  std::map<int, worker_state> workers; // guarded

  net::worker_ref ref_of(int worker) const {
    return {client->id(), options.pool_id, static_cast<std::uint32_t>(worker)};
  }

  net::place_worker place_message(int worker) const {
    net::place_worker p;
    p.ref = ref_of(worker);
    p.worker_type = options.worker_type;
    p.demand = options.demand;
    p.target = {client->listen_address(), listener->port(), secret};
    return p;
  }

  // Takes the head's answer to the start of generation `generation`; returns the error, if any.
  std::exception_ptr take_answer(int worker,
                                 std::uint64_t generation,
                                 const std::optional<net::cluster_message>& reply,
                                 std::exception_ptr e) {
    std::lock_guard guard{mutex};
    auto& w = workers[worker];
    if (w.generation != generation || w.at != phase::asking)
      return nullptr; // a later start, or its hello came first
    if (!e && reply) {
      if (auto* placed = std::get_if<net::worker_placed>(&*reply)) {
        w.at = phase::placed;
        w.node = placed->node;
        return nullptr;
      }
      if (auto* wait = std::get_if<net::waiting>(&*reply)) {
        w.at = phase::waiting;
        actors::logger("pool")->info("a cluster worker waits for room type={} worker={} "
                                     "infeasible={} why={}",
                                     options.worker_type,
                                     worker,
                                     wait->infeasible,
                                     wait->reason);
        return nullptr;
      }
      if (auto* no = std::get_if<net::refused>(&*reply))
        e = no->auth
                ? std::make_exception_ptr(auth_error{"the cluster head refused: " + no->reason})
                : std::make_exception_ptr(error{"the cluster head refused to place a worker of " +
                                                options.worker_type + ": " + no->reason});
      else
        e = std::make_exception_ptr(
            error{"the cluster head answered a placement with something else"});
    }
    w.at = phase::idle;
    return e;
  }

  // True (and the worker waits) when `e` says the head is unavailable.
  bool keep_waiting(int worker, std::uint64_t generation, const std::exception_ptr& e) {
    try {
      std::rethrow_exception(e);
    } catch (const cluster_unavailable&) {
    } catch (...) {
      return false;
    }
    std::lock_guard guard{mutex};
    auto& w = workers[worker];
    if (w.generation != generation || w.at != phase::asking)
      return false;
    w.at = phase::waiting;
    return true;
  }

  std::uint64_t begin_start(int worker) {
    std::lock_guard guard{mutex};
    auto& w = workers[worker];
    if (w.at != phase::idle)
      throw error{"a worker host of index " + std::to_string(worker) + " is still running"};
    w.at = phase::asking;
    w.pid = 0;
    w.node.clear();
    return ++w.generation;
  }

  // Tells the pool that the host of `worker` ended, once.
  void report_exit(int worker, pid_t pid, const std::string& how) {
    {
      std::lock_guard guard{mutex};
      auto& w = workers[worker];
      if (w.at == phase::idle || w.pid != pid)
        return;
      w.at = phase::idle;
      w.pid = 0;
      w.node.clear();
    }
    if (handlers.on_exit) {
      host_exit e;
      e.worker = worker;
      e.pid = pid;
      e.reason = how;
      handlers.on_exit(e);
    }
  }

  // Without word from the head by then, the pool is told anyway.
  void expect_exit(int worker, pid_t pid, std::chrono::seconds wait, std::string how) {
    std::weak_ptr<impl> weak = weak_from_this();
    system_clock()->schedule(system_clock()->now() + wait, [weak, worker, pid, how] {
      if (auto self = weak.lock())
        self->report_exit(worker, pid, how);
    });
  }

  void on_lost_from_head(const net::worker_exited& exit) {
    int worker = static_cast<int>(exit.ref.worker);
    pid_t pid = 0;
    bool connected = false;
    {
      std::lock_guard guard{mutex};
      auto& w = workers[worker];
      // A host that never said hello ends its start; one that did must be the one named.
      if (w.at == phase::idle || (w.pid != 0 && exit.pid != 0 && w.pid != exit.pid))
        return;
      if (w.pid == 0 && exit.pid != 0 && w.at != phase::placed && w.at != phase::asking)
        return;
      pid = w.pid;
      connected = w.at == phase::connected;
      w.at = phase::ending;
    }
    // A host whose node died or froze may still run: it is asked to go.
    if (connected && listener)
      listener->shutdown(worker);
    report_exit(worker, pid, exit.how);
  }

  void on_placed(std::uint32_t worker, const std::string& node) {
    std::lock_guard guard{mutex};
    auto& w = workers[static_cast<int>(worker)];
    if (w.at == phase::waiting || w.at == phase::asking) {
      w.at = phase::placed;
      w.node = node;
      actors::logger("pool")->info("a waiting cluster worker was placed type={} worker={} node={}",
                                   options.worker_type,
                                   worker,
                                   node);
    }
  }

  // The head came back: the workers it kept waiting are asked for again (a new head knows
  // nothing of them).
  void on_reconnected() {
    std::vector<std::pair<int, std::uint64_t>> again;
    {
      std::lock_guard guard{mutex};
      for (auto& [worker, w] : workers)
        if (w.at == phase::waiting) {
          w.at = phase::asking;
          again.emplace_back(worker, ++w.generation);
        }
    }
    for (auto [worker, generation] : again)
      ask(worker, generation);
  }

  void ask(int worker, std::uint64_t generation) {
    std::weak_ptr<impl> weak = weak_from_this();
    client->place(place_message(worker),
                  [weak, worker, generation](std::optional<net::cluster_message> reply,
                                             std::exception_ptr e) {
                    auto self = weak.lock();
                    if (!self)
                      return;
                    // The head is gone: the worker waits for it to come back (on_reconnected
                    // asks again), and the pool hears that it is gone.
                    if (e && self->keep_waiting(worker, generation, e)) {
                      if (self->on_unavailable)
                        self->on_unavailable();
                      return;
                    }
                    if (auto failure = self->take_answer(worker, generation, reply, e))
                      if (self->handlers.on_start_failed) {
                        std::string why = "unknown";
                        try {
                          std::rethrow_exception(failure);
                        } catch (const std::exception& x) {
                          why = x.what();
                        }
                        self->handlers.on_start_failed(worker, why);
                      }
                  });
  }

  bool end_host(int worker, const std::string& how) {
    pid_t pid = 0;
    phase was = phase::idle;
    {
      std::lock_guard guard{mutex};
      auto& w = workers[worker];
      was = w.at;
      pid = w.pid;
      if (was == phase::idle)
        return false;
      if (was == phase::waiting || was == phase::asking) {
        w.at = phase::idle;
        ++w.generation;
      } else {
        w.at = phase::ending;
      }
    }
    if (listener)
      listener->shutdown(worker);
    client->release(ref_of(worker));
    if (was != phase::waiting && was != phase::asking)
      expect_exit(worker, pid, kill_report_wait, how);
    return true;
  }
};

cluster_hosts::cluster_hosts(std::shared_ptr<actors::actor_host> host,
                             std::shared_ptr<cluster_client> client,
                             process_hosts::events handlers,
                             cluster_pool_options options,
                             std::function<void()> on_unavailable)
    : impl_{std::make_shared<impl>()} {
  auto& s = *impl_;
  s.on_unavailable = std::move(on_unavailable);
  s.host = std::move(host);
  s.client = std::move(client);
  s.handlers = std::move(handlers);
  s.options = std::move(options);
  std::weak_ptr<impl> weak = impl_;
  actors::host_listener::events listener_events;
  listener_events.accept = [weak](const actors::host_identity& who) {
    auto self = weak.lock();
    if (!self)
      return false;
    std::lock_guard guard{self->mutex};
    auto it = self->workers.find(who.worker);
    if (it == self->workers.end())
      return false;
    auto at = it->second.at;
    if (at != impl::phase::placed && at != impl::phase::asking && at != impl::phase::waiting)
      return false;
    it->second.at = impl::phase::connected;
    it->second.pid = who.pid;
    return true;
  };
  listener_events.on_hello = s.handlers.on_hello;
  listener_events.on_message = s.handlers.on_message;
  listener_events.on_lost = [weak](const actors::host_identity& who) {
    auto self = weak.lock();
    if (!self)
      return;
    {
      std::lock_guard guard{self->mutex};
      auto& w = self->workers[who.worker];
      if (w.pid != who.pid || w.at == impl::phase::idle)
        return;
    }
    if (self->handlers.on_lost)
      self->handlers.on_lost(who);
    {
      std::lock_guard guard{self->mutex};
      auto& w = self->workers[who.worker];
      if (w.pid == who.pid && w.at == impl::phase::connected)
        w.at = impl::phase::ending;
    }
    self->client->release(self->ref_of(who.worker));
    self->expect_exit(who.worker, who.pid, exit_report_wait, "its connection dropped");
  };
  listener_events.on_silent = [weak](const actors::host_identity& who) {
    auto self = weak.lock();
    if (!self)
      return;
    if (self->handlers.on_silent)
      self->handlers.on_silent(who);
    self->end_host(who.worker, "it answered no ping and was ended");
  };
  auto beat = s.options.heartbeat_timeout;
  s.listener = std::make_unique<actors::host_listener>(*s.host,
                                                       s.secret,
                                                       listener_events,
                                                       actors::host_listener::heartbeat{beat},
                                                       s.client->listen_address());
  cluster_client::pool_events events;
  events.on_placed = [weak](std::uint32_t worker, const std::string& node) {
    if (auto self = weak.lock())
      self->on_placed(worker, node);
  };
  events.on_lost = [weak](const net::worker_exited& exit) {
    if (auto self = weak.lock())
      self->on_lost_from_head(exit);
  };
  events.on_reconnected = [weak] {
    if (auto self = weak.lock())
      self->on_reconnected();
  };
  events.on_disconnected = [weak] {
    if (auto self = weak.lock(); self && self->on_unavailable)
      self->on_unavailable();
  };
  s.client->add_pool(s.options.pool_id, std::move(events));
}

cluster_hosts::~cluster_hosts() {
  auto& s = *impl_;
  s.client->remove_pool(s.options.pool_id);
  std::vector<int> held;
  {
    std::lock_guard guard{s.mutex};
    for (auto& [worker, w] : s.workers)
      if (w.at != impl::phase::idle)
        held.push_back(worker);
  }
  for (int worker : held) {
    s.listener->shutdown(worker);
    s.client->release(s.ref_of(worker));
  }
  s.listener.reset();
}

pid_t cluster_hosts::start(int worker) {
  auto generation = impl_->begin_start(worker);
  auto promise = std::make_shared<std::promise<std::exception_ptr>>();
  auto result = promise->get_future();
  std::weak_ptr<impl> weak = impl_;
  impl_->client->place(
      impl_->place_message(worker),
      [weak, worker, generation, promise](std::optional<net::cluster_message> reply,
                                          std::exception_ptr e) {
        auto self = weak.lock();
        promise->set_value(self ? self->take_answer(worker, generation, reply, e) : nullptr);
      });
  // Bounded: the client answers every request within its own timeout.
  if (result.wait_for(std::chrono::seconds{10}) != std::future_status::ready)
    throw cluster_unavailable{"the cluster head did not answer a placement within 10 s"};
  if (auto e = result.get())
    std::rethrow_exception(e);
  return 0;
}

void cluster_hosts::start_async(int worker) {
  std::uint64_t generation = 0;
  try {
    generation = impl_->begin_start(worker);
  } catch (const std::exception& e) {
    if (impl_->handlers.on_start_failed)
      impl_->handlers.on_start_failed(worker, e.what());
    return;
  }
  impl_->ask(worker, generation);
}

bool cluster_hosts::shutdown(int worker) {
  bool sent = impl_->listener->shutdown(worker);
  impl_->client->release(impl_->ref_of(worker));
  return sent;
}

bool cluster_hosts::send(int worker, std::vector<char> to_host_bytes) {
  return impl_->listener->send(worker, std::move(to_host_bytes));
}

bool cluster_hosts::kill(int worker) {
  return impl_->end_host(worker, "it was ended by its pool");
}

bool cluster_hosts::kill_if(int worker, pid_t pid) {
  {
    std::lock_guard guard{impl_->mutex};
    auto it = impl_->workers.find(worker);
    if (it == impl_->workers.end() || it->second.pid != pid || pid == 0)
      return false;
  }
  return kill(worker);
}

pid_t cluster_hosts::pid_of(int worker) const {
  std::lock_guard guard{impl_->mutex};
  auto it = impl_->workers.find(worker);
  return it == impl_->workers.end() ? 0 : it->second.pid;
}

caf::actor cluster_hosts::host_actor(int worker) const {
  return impl_->listener->host_actor(worker);
}

bool cluster_hosts::is_waiting(int worker) const {
  std::lock_guard guard{impl_->mutex};
  auto it = impl_->workers.find(worker);
  return it != impl_->workers.end() &&
         (it->second.at == impl::phase::waiting || it->second.at == impl::phase::asking);
}

bool cluster_hosts::cancel_waiting(int worker) {
  {
    std::lock_guard guard{impl_->mutex};
    auto it = impl_->workers.find(worker);
    if (it == impl_->workers.end() || it->second.at != impl::phase::waiting)
      return false;
    it->second.at = impl::phase::idle;
    ++it->second.generation;
  }
  impl_->client->release(impl_->ref_of(worker));
  return true;
}

const net::worker_demand& cluster_hosts::demand() const noexcept {
  return impl_->options.demand;
}

std::string cluster_hosts::node_of(int worker) const {
  std::lock_guard guard{impl_->mutex};
  auto it = impl_->workers.find(worker);
  return it == impl_->workers.end() ? std::string{} : it->second.node;
}

} // namespace concurry::runtime_internal
