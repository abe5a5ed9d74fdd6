#include "actors/limit_actor.hpp"

#include "actors/limit_backend.hpp"
#include "actors/log.hpp"
#include "net/limit_messages.hpp"

#include <concurry/error.hpp>

#include <caf/all.hpp>

#include <future>
#include <map>
#include <mutex>
#include <utility>

namespace concurry::actors {

namespace {

using limit_atom = caf::atom_constant<caf::atom("limit")>;
using granted_atom = caf::atom_constant<caf::atom("granted")>;

/// Where an asynchronous acquisition lands until the actor picks it up on its own thread.
struct pending_slot {
  std::mutex mutex;
  acquisition result;
  std::exception_ptr error;
};

struct pending_request {
  caf::response_promise promise;
  caf::actor_addr requester;
  std::uint64_t request_id = 0;
  std::shared_ptr<pending_slot> slot;
  // The requester went down while it waited: what it is granted goes back at once.
  bool abandoned = false;
};

struct held_grant {
  acquisition acq;
  caf::actor_addr holder;
};

struct limit_actor_state {
  std::optional<limit_set> set;
  std::uint64_t next_grant = 1;
  std::uint64_t next_pending = 1;
  std::map<std::uint64_t, held_grant> grants;
  std::map<std::uint64_t, pending_request> pending;
  std::map<caf::actor_addr, std::size_t> watched;
};

using limit_actor_type = caf::stateful_actor<limit_actor_state>;

std::vector<char> failure_reply(std::uint64_t id, net::limit_failure::kind kind, std::string msg) {
  return net::encode(net::limit_reply{id, net::limit_failure{kind, std::move(msg)}});
}

std::vector<char> reply_for_error(std::uint64_t id, std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const timeout_error& t) {
    return failure_reply(id, net::limit_failure::kind::timeout, t.what());
  } catch (const config_error& c) {
    return failure_reply(id, net::limit_failure::kind::invalid, c.what());
  } catch (const std::exception& x) {
    return failure_reply(id, net::limit_failure::kind::internal, x.what());
  } catch (...) {
    return failure_reply(id, net::limit_failure::kind::internal, "an unknown error");
  }
}

// A failure reply as the exception a local set would have thrown.
[[noreturn]] void throw_failure(const net::limit_failure& f) {
  switch (f.what) {
  case net::limit_failure::kind::timeout:
    throw timeout_error{f.message};
  case net::limit_failure::kind::invalid:
    throw config_error{f.message};
  default:
    throw error{f.message};
  }
}

void watch(limit_actor_type* self, const caf::actor_addr& who) {
  if (!who)
    return;
  if (self->state.watched[who]++ == 0)
    self->monitor(who);
}

std::vector<char> grant_reply(limit_actor_type* self,
                              std::uint64_t request_id,
                              acquisition acq,
                              const caf::actor_addr& holder) {
  auto id = self->state.next_grant++;
  net::limit_granted g{id, acq.requested()};
  self->state.grants.emplace(id, held_grant{std::move(acq), holder});
  watch(self, holder);
  return net::encode(net::limit_reply{request_id, std::move(g)});
}

std::vector<char> handle_release(limit_actor_type* self, std::uint64_t id, net::limit_release& r) {
  auto it = self->state.grants.find(r.grant);
  if (it == self->state.grants.end())
    return failure_reply(id,
                         net::limit_failure::kind::invalid,
                         "no acquisition " + std::to_string(r.grant) + " is held");
  auto held = std::move(it->second);
  self->state.grants.erase(it);
  try {
    if (r.usage)
      held.acq.update(*r.usage);
  } catch (...) {
    held.acq.release();
    return reply_for_error(id, std::current_exception());
  }
  held.acq.release();
  return net::encode(net::limit_reply{id, net::limit_released{}});
}

/// The limit actor: answers acquire, release and stats requests; releases whatever a requester
/// held when it goes down.
caf::behavior limit_actor(limit_actor_type* self, limit_set set) {
  self->state.set.emplace(std::move(set));
  self->set_down_handler([=](caf::down_msg& dm) {
    auto& st = self->state;
    st.watched.erase(dm.source);
    // NOTE: a waiting request stays in the set's queue (a set cannot take one back); it is
    // released the moment it is granted.
    for (auto& [key, p] : st.pending)
      if (p.requester == dm.source)
        p.abandoned = true;
    std::size_t released = 0;
    for (auto it = st.grants.begin(); it != st.grants.end();) {
      if (it->second.holder == dm.source) {
        it->second.acq.release();
        it = st.grants.erase(it);
        ++released;
      } else {
        ++it;
      }
    }
    if (released > 0)
      logger("limit")->warn("released acquisitions of a requester that went down count={}",
                            released);
  });
  return {
      // `holder` is whoever holds what this request acquires: its acquisitions are released when
      // it goes down.
      [=](limit_atom,
          caf::actor_addr& holder,
          std::vector<char>& bytes) -> caf::result<std::vector<char>> {
        net::limit_request request;
        try {
          request = net::decode_limit_request(bytes);
        } catch (const net::decode_error& e) {
          logger("limit")->error("undecodable limit request error={}", e.what());
          return failure_reply(0, net::limit_failure::kind::invalid, e.what());
        }
        auto& st = self->state;
        auto requester = holder ? holder : caf::actor_cast<caf::actor_addr>(self->current_sender());
        // Held for the rest of the handler: monitoring an actor needs it alive or terminated,
        // never destroyed (the proxy of a host whose connection dropped may be gone already).
        auto alive = caf::actor_cast<caf::strong_actor_ptr>(requester);
        if (requester && !alive)
          return failure_reply(
              request.id, net::limit_failure::kind::internal, "the requester is gone");
        if (auto* r = std::get_if<net::limit_release>(&request.body))
          return handle_release(self, request.id, *r);
        if (std::holds_alternative<net::limit_stats_request>(request.body))
          return net::encode(net::limit_reply{request.id, st.set->stats()});
        auto& acq = std::get<net::limit_acquire>(request.body);
        if (acq.try_only) {
          try {
            auto a = st.set->try_acquire(acq.requested);
            if (!a.successful())
              return net::encode(net::limit_reply{request.id, net::limit_refused{}});
            return grant_reply(self, request.id, std::move(a), requester);
          } catch (...) {
            return reply_for_error(request.id, std::current_exception());
          }
        }
        // A waiting acquisition completes on whichever thread frees capacity; it hands the result
        // back to this actor, which answers from its own context. The requester is watched from
        // now on, so that its going down is known while it waits.
        watch(self, requester);
        auto key = st.next_pending++;
        auto slot = std::make_shared<pending_slot>();
        auto rp = self->make_response_promise<std::vector<char>>();
        st.pending.emplace(key, pending_request{rp, requester, request.id, slot});
        auto me = caf::actor_cast<caf::actor>(self);
        st.set->acquire_async(
            acq.requested, acq.timeout, [me, key, slot](acquisition a, std::exception_ptr e) {
              {
                std::lock_guard guard{slot->mutex};
                slot->result = std::move(a);
                slot->error = e;
              }
              caf::anon_send(me, granted_atom::value, key);
            });
        return rp;
      },
      [=](granted_atom, std::uint64_t key) {
        auto& st = self->state;
        auto it = st.pending.find(key);
        if (it == st.pending.end())
          return;
        auto p = std::move(it->second);
        st.pending.erase(it);
        acquisition acq;
        std::exception_ptr error;
        {
          std::lock_guard guard{p.slot->mutex};
          acq = std::move(p.slot->result);
          error = p.slot->error;
        }
        if (error) {
          p.promise.deliver(reply_for_error(p.request_id, error));
        } else if (p.abandoned) {
          acq.release();
          p.promise.deliver(failure_reply(p.request_id,
                                          net::limit_failure::kind::internal,
                                          "the requester went down while it waited"));
        } else {
          p.promise.deliver(grant_reply(self, p.request_id, std::move(acq), p.requester));
        }
      },
  };
}

} // namespace

struct limit_service::impl {
  actor_host* host = nullptr;
  caf::actor actor;
};

limit_service::limit_service(actor_host& host, limit_set set) : impl_{std::make_unique<impl>()} {
  impl_->host = &host;
  impl_->actor = host.system().spawn(limit_actor, std::move(set));
}

limit_service::~limit_service() {
  caf::anon_send_exit(impl_->actor, caf::exit_reason::user_shutdown);
}

caf::actor limit_service::handle() const {
  return impl_->actor;
}

struct limit_client::impl {
  actor_host* host = nullptr;
  caf::actor actor;
  // The client's identity as a holder: it lives as long as the client, so the limit actor
  // releases what the client held once it is gone.
  caf::actor anchor;
  std::atomic<std::uint64_t> next_id{1};

  std::vector<char> exchange(const std::vector<char>& bytes,
                             std::optional<std::chrono::nanoseconds> timeout) {
    caf::scoped_actor self{host->system()};
    // The actor answers by the request's own timeout; the margin covers a busy scheduler.
    auto wait = timeout ? caf::duration{*timeout + std::chrono::seconds{30}} : caf::infinite;
    std::optional<std::vector<char>> reply;
    std::string failure;
    self->request(actor, wait, limit_atom::value, anchor.address(), bytes)
        .receive([&](std::vector<char>& answer) { reply = std::move(answer); },
                 [&](caf::error& e) { failure = host->system().render(e); });
    if (!reply)
      throw error{"the limit actor did not answer: " + failure};
    return std::move(*reply);
  }

  net::limit_reply ask(const net::limit_request& request,
                       std::optional<std::chrono::nanoseconds> timeout) {
    return net::decode_limit_reply(exchange(net::encode(request), timeout));
  }
};

limit_client::limit_client(actor_host& host, const limit_service& service)
    : impl_{std::make_unique<impl>()} {
  impl_->host = &host;
  impl_->actor = service.impl_->actor;
  impl_->anchor =
      // NOTE: spawned with an argument: CAF 0.17 dereferences a null tuple for argument-less
      // function actors (UndefinedBehaviorSanitizer reports it).
      host.system().spawn([](int) -> caf::behavior { return {[](int) {}}; }, 0);
}

limit_client::~limit_client() {
  caf::anon_send_exit(impl_->anchor, caf::exit_reason::user_shutdown);
}

std::vector<char> limit_client::exchange(const std::vector<char>& request_bytes) {
  return impl_->exchange(request_bytes, std::chrono::seconds{0});
}

limit_client::grant limit_client::acquire(const amounts& requested,
                                          std::optional<std::chrono::nanoseconds> timeout) {
  auto reply =
      impl_->ask({impl_->next_id++, net::limit_acquire{requested, timeout, false}}, timeout);
  if (auto* g = std::get_if<net::limit_granted>(&reply.body))
    return {g->grant, std::move(g->granted)};
  if (auto* f = std::get_if<net::limit_failure>(&reply.body))
    throw_failure(*f);
  throw error{"the limit actor gave an unexpected answer to an acquire"};
}

std::optional<limit_client::grant> limit_client::try_acquire(const amounts& requested) {
  auto reply = impl_->ask({impl_->next_id++, net::limit_acquire{requested, {}, true}},
                          std::chrono::nanoseconds{0});
  if (auto* g = std::get_if<net::limit_granted>(&reply.body))
    return grant{g->grant, std::move(g->granted)};
  if (std::holds_alternative<net::limit_refused>(reply.body))
    return std::nullopt;
  if (auto* f = std::get_if<net::limit_failure>(&reply.body))
    throw_failure(*f);
  throw error{"the limit actor gave an unexpected answer to a try_acquire"};
}

void limit_client::release(std::uint64_t grant_id, std::optional<amounts> usage) {
  auto reply = impl_->ask({impl_->next_id++, net::limit_release{grant_id, std::move(usage)}},
                          std::chrono::nanoseconds{0});
  if (auto* f = std::get_if<net::limit_failure>(&reply.body))
    throw_failure(*f);
}

limit_set_stats limit_client::stats() {
  auto reply =
      impl_->ask({impl_->next_id++, net::limit_stats_request{}}, std::chrono::nanoseconds{0});
  if (auto* s = std::get_if<limit_set_stats>(&reply.body))
    return std::move(*s);
  throw error{"the limit actor gave an unexpected answer to a stats request"};
}

// -- limit sets of a worker host ----------------------------------------------------------------

namespace {

// How long past its own deadline a request waits for the limit actor's answer: the actor
// answers by the request's timeout, the margin covers a busy scheduler.
constexpr std::chrono::seconds answer_margin{30};

// The identity the grants of a worker host are held under: an actor of the host, which the
// limit actors monitor. It ends with the last set that uses it, or with the process.
struct holder_anchor {
  explicit holder_anchor(caf::actor_system& system)
      // NOTE: spawned with an argument (see limit_client).
      : actor{system.spawn([](int) -> caf::behavior { return {[](int) {}}; }, 0)} {}
  holder_anchor(const holder_anchor&) = delete;
  holder_anchor& operator=(const holder_anchor&) = delete;
  ~holder_anchor() { caf::anon_send_exit(actor, caf::exit_reason::user_shutdown); }

  caf::actor actor;
};

// Turns the limit actor's answer to an acquire into what the backend's callback takes.
void deliver(const std::vector<char>& bytes, const detail::limit_backend::done_fn& done) {
  std::optional<detail::limit_backend::grant> granted;
  std::exception_ptr failure;
  try {
    auto reply = net::decode_limit_reply(bytes);
    if (auto* g = std::get_if<net::limit_granted>(&reply.body))
      granted = detail::limit_backend::grant{g->grant, std::move(g->granted)};
    else if (auto* f = std::get_if<net::limit_failure>(&reply.body))
      throw_failure(*f);
    else if (!std::holds_alternative<net::limit_refused>(reply.body))
      throw error{"the limit actor gave an unexpected answer to an acquire"};
  } catch (const net::decode_error& e) {
    logger("limit")->error("undecodable reply of a limit actor error={}", e.what());
    failure = std::make_exception_ptr(error{std::string{"the limit actor's reply: "} + e.what()});
  } catch (...) {
    failure = std::current_exception();
  }
  done(std::move(granted), failure);
}

// What a request to a limit actor ended with: its reply's bytes, or why there is none.
using answer_fn = std::function<void(std::vector<char>* reply, std::exception_ptr failure)>;

// One request to a limit actor from outside the actor system: a short-lived actor sends it and
// hands the answer to `on_answer`, exactly once.
caf::behavior ask_once(caf::event_based_actor* self,
                       caf::actor service,
                       caf::actor_addr holder,
                       std::vector<char> bytes,
                       caf::duration wait,
                       answer_fn on_answer) {
  auto answered = std::make_shared<bool>(false);
  // A holder in a process that ends (the head of a cluster that dies) never answers: its end
  // fails the request at once, whatever its timeout.
  self->monitor(service);
  self->set_down_handler([self, on_answer, answered](caf::down_msg&) {
    if (!std::exchange(*answered, true))
      on_answer(nullptr,
                std::make_exception_ptr(cluster_unavailable{
                    "the holder of the limit set is gone (its process ended or its connection "
                    "dropped)"}));
    self->quit();
  });
  self->request(service, wait, limit_atom::value, std::move(holder), std::move(bytes))
      .then(
          [self, on_answer, answered](std::vector<char>& reply) {
            if (!std::exchange(*answered, true))
              on_answer(&reply, nullptr);
            self->quit();
          },
          [self, on_answer, answered](caf::error& e) {
            if (!std::exchange(*answered, true))
              on_answer(nullptr,
                        std::make_exception_ptr(
                            error{"the limit actor did not answer: " + self->system().render(e)}));
            self->quit();
          });
  // Keeps the actor until the answer; nothing else is sent to it.
  return {[](int) {}};
}

// A set whose state is the client's: every request is a message to the limit actor that serves
// it, held under the host's anchor.
class remote_backend final : public detail::limit_backend {
public:
  remote_backend(actor_host& host, caf::actor service, std::shared_ptr<holder_anchor> anchor)
      : host_{&host}, service_{std::move(service)}, anchor_{std::move(anchor)} {}

  void acquire(const amounts& requested,
               std::optional<std::chrono::nanoseconds> timeout,
               bool try_only,
               done_fn done) override {
    auto bytes = net::encode(net::limit_request{
        next_id_++, net::limit_acquire{requested, try_only ? std::nullopt : timeout, try_only}});
    auto wait = try_only  ? caf::duration{answer_margin}
                : timeout ? caf::duration{*timeout + answer_margin}
                          : caf::duration{caf::infinite};
    host_->system().spawn(ask_once,
                          service_,
                          anchor_->actor.address(),
                          std::move(bytes),
                          wait,
                          [done](std::vector<char>* reply, std::exception_ptr failure) {
                            if (reply)
                              deliver(*reply, done);
                            else
                              done(std::nullopt, failure);
                          });
  }

  void release(std::uint64_t id, std::optional<amounts> usage) noexcept override {
    // Waits for the answer, as a local release is done when it returns: whatever the caller does
    // next (return the call's result, read the statistics) sees the units back.
    try {
      auto answer = std::make_shared<std::promise<std::string>>();
      auto failure_of = answer->get_future();
      host_->system().spawn(
          ask_once,
          service_,
          anchor_->actor.address(),
          net::encode(net::limit_request{next_id_++, net::limit_release{id, usage}}),
          caf::duration{answer_margin},
          [answer](std::vector<char>* reply, std::exception_ptr e) {
            std::string failure;
            try {
              if (e)
                std::rethrow_exception(e);
              auto decoded = net::decode_limit_reply(*reply);
              if (auto* f = std::get_if<net::limit_failure>(&decoded.body))
                failure = f->message;
            } catch (const std::exception& x) {
              failure = x.what();
            }
            answer->set_value(failure);
          });
      // Bounded: the request's own timeout, or the holder's end, answers.
      std::string failure =
          failure_of.wait_for(answer_margin + std::chrono::seconds{5}) == std::future_status::ready
              ? failure_of.get()
              : std::string{"no answer"};
      if (!failure.empty())
        logger("limit")->error("a release failed grant={} error={}", id, failure);
    } catch (const std::exception& e) {
      // An undecodable answer or an allocation failure; the grant is released with this host.
      logger("limit")->error("a release failed grant={} error={}", id, e.what());
    }
  }

  limit_set_stats stats() override {
    caf::scoped_actor self{host_->system()};
    std::optional<net::limit_reply> reply;
    std::string failure;
    self->request(service_,
                  caf::duration{answer_margin},
                  limit_atom::value,
                  anchor_->actor.address(),
                  net::encode(net::limit_request{next_id_++, net::limit_stats_request{}}))
        .receive(
            [&](std::vector<char>& answer) {
              try {
                reply = net::decode_limit_reply(answer);
              } catch (const net::decode_error& e) {
                failure = e.what();
              }
            },
            [&](caf::error& e) { failure = host_->system().render(e); });
    if (reply)
      if (auto* s = std::get_if<limit_set_stats>(&reply->body))
        return std::move(*s);
    throw error{"the limit actor did not answer a stats request" +
                (failure.empty() ? std::string{} : ": " + failure)};
  }

private:
  actor_host* host_;
  caf::actor service_;
  std::shared_ptr<holder_anchor> anchor_;
  std::atomic<std::uint64_t> next_id_{1};
};

} // namespace

limit_pool make_remote_limits(actor_host& host,
                              const std::vector<caf::actor>& services,
                              const std::vector<char>& description) {
  auto limits = net::decode_worker_limits(description);
  if (limits.sets.size() != services.size())
    throw net::decode_error{"worker limits name " + std::to_string(limits.sets.size()) +
                            " limit sets but come with " + std::to_string(services.size()) +
                            " limit actors"};
  if (limits.sets.empty())
    return limit_pool{};
  auto anchor = std::make_shared<holder_anchor>(host.system());
  std::vector<limit_set> sets;
  for (std::size_t i = 0; i < services.size(); ++i) {
    if (!services[i])
      throw net::decode_error{"worker limits come with an invalid limit actor"};
    sets.push_back(detail::limit_set_access::make_remote(
        std::move(limits.sets[i]), std::make_shared<remote_backend>(host, services[i], anchor)));
  }
  return limit_pool{std::move(sets), limits.lb, limits.worker_offset};
}

limit_set make_remote_set(actor_host& host, caf::actor service, std::vector<limit> limits) {
  auto anchor = std::make_shared<holder_anchor>(host.system());
  return detail::limit_set_access::make_remote(
      std::move(limits), std::make_shared<remote_backend>(host, std::move(service), anchor));
}

} // namespace concurry::actors
