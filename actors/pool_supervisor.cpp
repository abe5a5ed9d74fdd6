#include "actors/pool_supervisor.hpp"

#include "actors/log.hpp"

#include <concurry/error.hpp>

#include <caf/actor_system.hpp>
#include <caf/all.hpp>

#include <algorithm>
#include <utility>

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(concurry::pool_stats)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::shared_ptr<concurry::actors::worker_body>)

namespace concurry::actors {

namespace {

using stop_atom = caf::atom_constant<caf::atom("stop")>;
using exited_atom = caf::atom_constant<caf::atom("exited")>;
using abandon_atom = caf::atom_constant<caf::atom("abandon")>;
using deadline_atom = caf::atom_constant<caf::atom("deadline")>;
using stats_atom = caf::atom_constant<caf::atom("stats")>;
using adopt_atom = caf::atom_constant<caf::atom("adopt")>;

// -- worker actor -------------------------------------------------------------

struct worker_state {
  std::shared_ptr<worker_body> body;
  bool stopping = false;
};

/// One worker: drives the body that runs user code on its own thread. Quits once the body has
/// ended (after a stop) or was abandoned.
caf::behavior worker_actor(caf::stateful_actor<worker_state>* self,
                           std::shared_ptr<worker_body> body) {
  self->state.body = std::move(body);
  return {
      [=](stop_atom) {
        if (std::exchange(self->state.stopping, true))
          return;
        auto weak = caf::actor_cast<caf::weak_actor_ptr>(caf::actor_cast<caf::actor>(self));
        self->state.body->begin_stop([weak] {
          if (auto strong = weak.lock())
            caf::anon_send(caf::actor_cast<caf::actor>(strong), exited_atom::value);
        });
      },
      [=](exited_atom) { self->quit(); },
      [=](abandon_atom) {
        self->state.body->abandon();
        self->quit();
      },
  };
}

// -- supervisor ---------------------------------------------------------------

struct supervisor_state {
  pool_description description;
  std::vector<caf::actor> workers;
  std::vector<std::shared_ptr<worker_body>> bodies;
  std::vector<bool> alive;
  std::size_t alive_count = 0;
  bool stopping = false;
  bool stopped = false;
  std::vector<caf::response_promise> stop_waiters;
};

using supervisor_actor = caf::stateful_actor<supervisor_state>;

void finish_stop_if_done(supervisor_actor* self) {
  auto& st = self->state;
  if (!st.stopping || st.alive_count > 0 || st.stopped)
    return;
  st.stopped = true;
  for (auto& rp : st.stop_waiters)
    rp.deliver(caf::unit);
  st.stop_waiters.clear();
  logger("pool")->info(
      "pool stopped worker={} workers={}", st.description.worker_name, st.workers.size());
}

/// Owns the worker actors of one pool: watches them, stops them, reports statistics.
caf::behavior supervisor(supervisor_actor* self,
                         pool_description description,
                         std::vector<caf::actor> workers,
                         std::vector<std::shared_ptr<worker_body>> bodies) {
  auto& st = self->state;
  st.description = std::move(description);
  st.workers = std::move(workers);
  st.bodies = std::move(bodies);
  st.alive.assign(st.workers.size(), true);
  st.alive_count = st.workers.size();
  for (auto& w : st.workers)
    self->monitor(w);
  self->set_down_handler([=](caf::down_msg& dm) {
    auto& st = self->state;
    for (std::size_t i = 0; i < st.workers.size(); ++i) {
      if (st.alive[i] && st.workers[i].address() == dm.source) {
        st.alive[i] = false;
        --st.alive_count;
        if (st.description.on_demand) {
          // On-demand workers come and go; keep only the live ones.
          st.workers.erase(st.workers.begin() + static_cast<std::ptrdiff_t>(i));
          st.bodies.erase(st.bodies.begin() + static_cast<std::ptrdiff_t>(i));
          st.alive.erase(st.alive.begin() + static_cast<std::ptrdiff_t>(i));
        }
        break;
      }
    }
    finish_stop_if_done(self);
  });
  return {
      [=](stop_atom, caf::timespan timeout) {
        auto& st = self->state;
        auto rp = self->make_response_promise();
        if (st.stopped) {
          rp.deliver(caf::unit);
          return rp;
        }
        st.stop_waiters.push_back(rp);
        if (!std::exchange(st.stopping, true)) {
          for (std::size_t i = 0; i < st.workers.size(); ++i)
            if (st.alive[i])
              self->send(st.workers[i], stop_atom::value);
          self->delayed_send(self, timeout, deadline_atom::value);
        }
        finish_stop_if_done(self);
        return rp;
      },
      [=](deadline_atom) {
        auto& st = self->state;
        for (std::size_t i = 0; i < st.workers.size(); ++i) {
          if (st.alive[i]) {
            auto c = st.bodies[i]->counters();
            // An idle worker that had no time to wind down is no news; a busy one is.
            auto level = c.dispatched > c.finished ? spdlog::level::warn : spdlog::level::debug;
            logger("pool")->log(level,
                                "worker abandoned at stop timeout worker={} index={} calls={}",
                                st.description.worker_name,
                                i,
                                c.dispatched - c.finished);
            self->send(st.workers[i], abandon_atom::value);
          }
        }
      },
      [=](adopt_atom, std::shared_ptr<worker_body>& body) {
        auto& st = self->state;
        if (st.stopped) {
          body->abandon();
          return;
        }
        auto worker = self->spawn(worker_actor, body);
        self->monitor(worker);
        // An on-demand worker runs what it was given, then ends.
        self->send(worker, stop_atom::value);
        st.workers.push_back(std::move(worker));
        st.bodies.push_back(std::move(body));
        st.alive.push_back(true);
        ++st.alive_count;
      },
      [=](stats_atom) {
        auto& st = self->state;
        std::vector<worker_counters> counters;
        counters.reserve(st.bodies.size());
        for (auto& b : st.bodies)
          counters.push_back(b->counters());
        return make_pool_stats(st.description, counters, st.stopped);
      },
  };
}

// A stop timeout can be "forever"; keep deadlines representable.
caf::timespan clamp(std::chrono::nanoseconds t) {
  constexpr auto limit = std::chrono::hours{24 * 365};
  return std::clamp<std::chrono::nanoseconds>(t, std::chrono::nanoseconds{0}, limit);
}

} // namespace

struct pool_supervisor::impl {
  actor_host* host;
  pool_description description;
  std::vector<std::shared_ptr<worker_body>> bodies;
  caf::actor supervisor;
};

pool_supervisor::pool_supervisor(actor_host& host,
                                 pool_description description,
                                 std::vector<std::shared_ptr<worker_body>> bodies)
    : impl_{std::make_unique<impl>()} {
  auto& sys = host.system();
  std::vector<caf::actor> workers;
  workers.reserve(bodies.size());
  for (auto& b : bodies)
    workers.push_back(sys.spawn(worker_actor, b));
  impl_->host = &host;
  impl_->description = description;
  impl_->bodies = bodies;
  impl_->supervisor =
      sys.spawn(supervisor, std::move(description), std::move(workers), std::move(bodies));
}

pool_supervisor::~pool_supervisor() {
  stop(std::chrono::nanoseconds{0});
  if (!actor_host::process_exiting())
    caf::anon_send_exit(impl_->supervisor, caf::exit_reason::user_shutdown);
}

void pool_supervisor::stop(std::chrono::nanoseconds timeout) {
  if (actor_host::process_exiting()) {
    // The actor system may be half gone: give up on the workers directly.
    for (auto& b : impl_->bodies)
      b->abandon();
    return;
  }
  auto deadline = clamp(timeout);
  caf::scoped_actor self{impl_->host->system()};
  bool answered = false;
  // The supervisor answers by the deadline at the latest; the margin covers a busy scheduler.
  self->request(impl_->supervisor, deadline + std::chrono::seconds{30}, stop_atom::value, deadline)
      .receive([&] { answered = true; },
               [&](caf::error& err) {
                 logger("pool")->error("pool supervisor did not answer stop worker={} error={}",
                                       impl_->description.worker_name,
                                       impl_->host->system().render(err));
               });
  if (!answered)
    for (auto& b : impl_->bodies)
      b->abandon();
}

void pool_supervisor::begin_stop(std::chrono::nanoseconds timeout) {
  if (!actor_host::process_exiting())
    caf::anon_send(impl_->supervisor, stop_atom::value, clamp(timeout));
}

void pool_supervisor::adopt(std::shared_ptr<worker_body> body) {
  if (actor_host::process_exiting()) {
    body->abandon();
    return;
  }
  caf::anon_send(impl_->supervisor, adopt_atom::value, std::move(body));
}

pool_stats pool_supervisor::stats() {
  if (actor_host::process_exiting()) {
    std::vector<worker_counters> counters;
    for (auto& b : impl_->bodies)
      counters.push_back(b->counters());
    return make_pool_stats(impl_->description, counters, true);
  }
  caf::scoped_actor self{impl_->host->system()};
  pool_stats result;
  bool answered = false;
  self->request(impl_->supervisor, std::chrono::seconds{30}, stats_atom::value)
      .receive(
          [&](pool_stats& s) {
            result = std::move(s);
            answered = true;
          },
          [&](caf::error&) {});
  if (!answered)
    throw error{"the pool supervisor of " + impl_->description.worker_name +
                " did not answer a statistics request"};
  return result;
}

pool_stats make_pool_stats(const pool_description& description,
                           const std::vector<worker_counters>& workers,
                           bool stopped) {
  pool_stats s;
  s.mode = description.mode;
  s.max_workers = description.max_workers;
  s.on_demand = description.on_demand;
  s.max_queued_tasks = description.max_queued_tasks;
  s.stopped = stopped;
  auto& lb = s.load_balancer;
  lb.algorithm = description.load_balancing;
  for (std::size_t i = 0; i < workers.size(); ++i) {
    auto& w = workers[i];
    if (!w.stopped && !description.on_demand)
      ++s.total_workers;
    s.restarts += w.restarts;
    lb.total_dispatched += w.dispatched;
    if (lb.algorithm == load_balancing::least_active) {
      auto active = w.dispatched - std::min(w.finished, w.dispatched);
      lb.active_calls[i] = active;
      lb.total_active += active;
    } else if (lb.algorithm == load_balancing::least_total) {
      lb.total_calls[i] = w.dispatched;
      lb.sum_total_calls += w.dispatched;
    }
  }
  return s;
}

} // namespace concurry::actors
