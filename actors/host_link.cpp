#include "actors/host_link.hpp"
#include "actors/cluster_wire.hpp"

#include "actors/host_worker.hpp"
#include "actors/limit_actor.hpp"
#include "actors/log.hpp"
#include "net/call_messages.hpp"
#include "net/host_messages.hpp"

#include <concurry/config.hpp>
#include <concurry/error.hpp>

#include <caf/actor_companion.hpp>
#include <caf/all.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/network/multiplexer.hpp>
#include <caf/scoped_execution_unit.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

namespace concurry::actors {

namespace {

using host_atom = caf::atom_constant<caf::atom("host")>;
// call.capnp messages: ToHost from client to host, FromHost back.
using to_host_atom = caf::atom_constant<caf::atom("to_host")>;
using from_host_atom = caf::atom_constant<caf::atom("from_host")>;
// The limit actors a host's worker acquires through, and the bytes of its net::worker_limits.
using limits_atom = caf::atom_constant<caf::atom("limits")>;
// The listener's heartbeat timer.
using beat_atom = caf::atom_constant<caf::atom("beat")>;

caf::actor_companion& as_companion(const caf::actor& a) {
  return *static_cast<caf::actor_companion*>(caf::actor_cast<caf::abstract_actor*>(a));
}

// Ends a companion: waits for a handler that is running, lets none run again, and tells its
// monitors. NOTE: actor_companion::disconnect is declared by CAF 0.17.6 but missing from its
// library; this is what CAF's own Qt companion does instead.
void end_companion(actor_host& host, const caf::actor& a) {
  auto& companion = as_companion(a);
  companion.on_enqueue(nullptr);
  caf::scoped_execution_unit context{&host.system()};
  companion.cleanup(caf::exit_reason::user_shutdown, &context);
}

} // namespace

// -- the client end -------------------------------------------------------------------------------

std::chrono::nanoseconds worst_transfer_time(std::size_t bytes) noexcept {
  constexpr std::uint64_t bytes_per_second = std::uint64_t{16} << 20;
  return std::chrono::nanoseconds{static_cast<std::int64_t>(static_cast<std::uint64_t>(bytes) *
                                                            1'000'000'000 / bytes_per_second)};
}

struct host_listener::impl {
  using clock = std::chrono::steady_clock;

  struct connected {
    caf::actor actor;
    int pid = 0;
    // When the oldest ping still unanswered went out; cleared by anything the host sends.
    std::optional<clock::time_point> waiting_since;
    // Until when the messages sent to the host may still be in transfer, holding up pings.
    std::optional<clock::time_point> busy_until;
    bool silent = false;
  };

  actor_host* host = nullptr;
  std::string secret;
  events handlers;
  heartbeat beat;
  std::uint64_t next_ping = 0; // the actor's thread only
  caf::actor actor;
  // What hosts connect to: a companion whose handler takes call messages on the thread that
  // delivers them (the middleman's) and passes everything else on to `actor`.
  caf::actor gate;
  std::uint16_t port = 0;
  mutable std::mutex mutex;
  std::map<int, connected> hosts; // guarded
  // When a call message from an unknown sender was last logged; guarded.
  std::optional<std::chrono::steady_clock::time_point> stray_logged;

  void on_host_message(caf::event_based_actor* self, const std::vector<char>& bytes) {
    auto sender = caf::actor_cast<caf::actor>(self->current_sender());
    net::host_message message;
    try {
      message = net::decode_host_message(bytes);
    } catch (const net::decode_error& e) {
      logger("net")->error("undecodable message from a worker host error={}", e.what());
      return;
    }
    auto* hello = std::get_if<net::host_hello>(&message);
    if (!hello || !sender) {
      logger("net")->warn("unexpected message from a worker host kind={}", message.index());
      return;
    }
    host_identity who{static_cast<int>(hello->worker), hello->pid};
    if (!same_secret(hello->secret, secret) || (handlers.accept && !handlers.accept(who))) {
      logger("net")->warn("refused a worker host worker={} pid={}", who.worker, who.pid);
      caf::anon_send(sender, host_atom::value, net::encode(net::host_shutdown{}));
      return;
    }
    {
      std::lock_guard guard{mutex};
      hosts[who.worker] = connected{sender, who.pid, std::nullopt, std::nullopt, false};
    }
    self->monitor(sender);
    logger("net")->debug("worker host connected worker={} pid={}", who.worker, who.pid);
    if (handlers.on_hello)
      handlers.on_hello(who);
  }

  void on_down(const caf::down_msg& down) {
    std::optional<host_identity> lost;
    {
      std::lock_guard guard{mutex};
      for (auto it = hosts.begin(); it != hosts.end(); ++it) {
        if (it->second.actor.address() == down.source) {
          lost = host_identity{it->first, it->second.pid};
          hosts.erase(it);
          break;
        }
      }
    }
    if (lost && handlers.on_lost)
      handlers.on_lost(*lost);
  }

  // Bytes from a host go to on_message under the identity of the connected host that sent them.
  void on_from_host(const caf::actor_addr& sender, std::vector<char>& bytes) {
    std::optional<host_identity> who;
    bool log_stray = false;
    {
      std::lock_guard guard{mutex};
      for (auto& [worker, host] : hosts) {
        if (host.actor.address() == sender) {
          who = host_identity{worker, host.pid};
          host.waiting_since.reset();
          break;
        }
      }
      // At most once per 10 s: any local process can connect to the port and send these.
      auto now = std::chrono::steady_clock::now();
      if (!who && (!stray_logged || now - *stray_logged >= std::chrono::seconds{10})) {
        stray_logged = now;
        log_stray = true;
      }
    }
    if (log_stray)
      logger("net")->warn(
          "dropped a call message from an actor that is no connected worker host bytes={}",
          bytes.size());
    if (!who)
      return;
    if (handlers.on_message)
      handlers.on_message(*who, std::move(bytes));
  }

  // -- the heartbeat ----------------------------------------------------------------------------

  std::chrono::nanoseconds beat_interval() const {
    return std::clamp<std::chrono::nanoseconds>(
        beat.timeout / 5, std::chrono::milliseconds{10}, std::chrono::seconds{2});
  }

  // Reports the hosts silent for the timeout and pings the others. On the actor's thread.
  // NOTE: real time, not the runtime's replaceable clock: it measures another process.
  void on_beat(caf::event_based_actor* self, const std::weak_ptr<impl>& weak) {
    auto now = clock::now();
    std::vector<caf::actor> targets;
    std::vector<host_identity> silent;
    {
      std::lock_guard guard{mutex};
      for (auto& [worker, host] : hosts) {
        if (host.silent)
          continue;
        auto since = host.waiting_since;
        if (since && host.busy_until)
          since = std::max(*since, *host.busy_until);
        if (since && now - *since >= beat.timeout) {
          host.silent = true;
          silent.push_back({worker, host.pid});
          continue;
        }
        if (!host.waiting_since)
          host.waiting_since = now;
        targets.push_back(host.actor);
      }
    }
    // A pong late behind a large message still counts: the request outlives the silence allowed.
    auto patience = std::max<std::chrono::nanoseconds>(10 * beat.timeout, std::chrono::minutes{1});
    for (auto& target : targets) {
      auto sequence = ++next_ping;
      self->request(target, patience, host_atom::value, net::encode(net::host_ping{sequence}))
          .then(
              [weak, from = target.address(), sequence](const std::vector<char>& reply) {
                if (auto state = weak.lock())
                  state->on_pong(from, sequence, reply);
              },
              // A ping that timed out says nothing the silence does not.
              [](caf::error&) {});
    }
    for (auto& who : silent) {
      logger("net")->warn(
          "worker host answered no ping worker={} pid={} timeout_ms={}",
          who.worker,
          who.pid,
          std::chrono::duration_cast<std::chrono::milliseconds>(beat.timeout).count());
      if (handlers.on_silent)
        handlers.on_silent(who);
    }
    self->delayed_send(self, beat_interval(), beat_atom::value);
  }

  void
  on_pong(const caf::actor_addr& from, std::uint64_t sequence, const std::vector<char>& reply) {
    try {
      auto message = net::decode_host_message(reply);
      auto* pong = std::get_if<net::host_pong>(&message);
      if (!pong || pong->sequence != sequence)
        return;
    } catch (const net::decode_error& e) {
      logger("net")->error("undecodable pong from a worker host error={}", e.what());
      return;
    }
    std::lock_guard guard{mutex};
    for (auto& [worker, host] : hosts)
      if (host.actor.address() == from)
        host.waiting_since.reset();
  }

  // The connected host of `worker`, noting that `bytes` go to it now.
  caf::actor find_for_send(int worker, std::size_t bytes) {
    std::lock_guard guard{mutex};
    auto it = hosts.find(worker);
    if (it == hosts.end())
      return {};
    if (beat.timeout.count() > 0) {
      auto now = clock::now();
      auto& busy = it->second.busy_until;
      busy = std::max(busy.value_or(now), now) + worst_transfer_time(bytes);
    }
    return it->second.actor;
  }

  caf::actor find(int worker) const {
    std::lock_guard guard{mutex};
    auto it = hosts.find(worker);
    return it == hosts.end() ? caf::actor{} : it->second.actor;
  }
};

host_listener::host_listener(actor_host& host,
                             std::string secret,
                             events handlers,
                             heartbeat beat,
                             const std::string& address)
    : impl_{std::make_shared<impl>()} {
  impl_->host = &host;
  impl_->secret = std::move(secret);
  impl_->handlers = std::move(handlers);
  impl_->beat = beat;
  // The actor holds the state weakly: the listener's owner decides when it goes.
  std::weak_ptr<impl> weak = impl_;
  // NOTE: state goes in as a spawn argument, not a lambda capture: CAF 0.17 dereferences a null
  // pointer to its empty argument tuple when spawning a function without arguments (UBSan).
  auto behavior = [](caf::event_based_actor* self, std::weak_ptr<impl> weak) -> caf::behavior {
    self->set_default_handler(caf::drop);
    self->set_exception_handler(log_exception);
    self->set_down_handler([weak](caf::down_msg& down) {
      if (auto state = weak.lock())
        state->on_down(down);
    });
    if (auto state = weak.lock(); state && state->beat.timeout.count() > 0)
      self->delayed_send(self, state->beat_interval(), beat_atom::value);
    return {
        [self, weak](host_atom, const std::vector<char>& bytes) {
          if (auto state = weak.lock())
            state->on_host_message(self, bytes);
        },
        [self, weak](beat_atom) {
          if (auto state = weak.lock())
            state->on_beat(self, weak);
        },
    };
  };
  impl_->actor = host.system().spawn(behavior, weak);
  // Results go from the middleman's thread straight to on_message, without waiting for a
  // scheduler thread to wake up (about 30 µs of a 75 µs round trip on an idle machine).
  // NOTE: a future's done callbacks then run on the middleman's thread, as Python's process
  // pools run them on their management thread: one that blocks holds up the results of every
  // worker host meanwhile (the README says so).
  impl_->gate = host.system().spawn<caf::actor_companion>();
  as_companion(impl_->gate).on_enqueue([weak, actor = impl_->actor](caf::mailbox_element_ptr e) {
    auto& content = e->content();
    if (!content.match_elements<from_host_atom, std::vector<char>>()) {
      actor->enqueue(std::move(e), nullptr); // keeps the sender and the request id
      return;
    }
    if (auto state = weak.lock())
      state->on_from_host(caf::actor_cast<caf::actor_addr>(e->sender),
                          content.get_mutable_as<std::vector<char>>(1));
  });
  auto port = host.system().middleman().publish(impl_->gate, 0, address.c_str(), true);
  if (!port) {
    end_companion(host, impl_->gate);
    caf::anon_send_exit(impl_->actor, caf::exit_reason::user_shutdown);
    throw error{"cannot listen for worker hosts on " + address + ": " +
                host.system().render(port.error())};
  }
  impl_->port = *port;
}

host_listener::~host_listener() {
  auto& system = impl_->host->system();
  // NOTE: failing to unpublish leaves the port open until the actor system goes; nothing to do.
  (void)system.middleman().unpublish(impl_->gate, impl_->port);
  // Waits for a handler running on the middleman's thread; none starts after.
  end_companion(*impl_->host, impl_->gate);
  // Waits for the actor to end, so that no handler runs once the owner is gone.
  caf::scoped_actor self{system};
  self->monitor(impl_->actor);
  self->send_exit(impl_->actor, caf::exit_reason::user_shutdown);
  self->receive(
      [](const caf::down_msg&) {},
      caf::after(std::chrono::seconds{10}) >>
          [] { logger("net")->error("the worker host listener did not stop within 10 s"); });
}

std::uint16_t host_listener::port() const noexcept {
  return impl_->port;
}

bool host_listener::is_connected(int worker) const {
  return static_cast<bool>(impl_->find(worker));
}

std::vector<std::chrono::nanoseconds>
host_listener::ping(int worker, std::size_t count, std::chrono::milliseconds timeout) {
  std::vector<std::chrono::nanoseconds> samples;
  auto target = impl_->find(worker);
  if (!target)
    return samples;
  samples.reserve(count);
  caf::scoped_actor self{impl_->host->system()};
  for (std::size_t i = 0; i < count; ++i) {
    auto bytes = net::encode(net::host_ping{i});
    auto start = std::chrono::steady_clock::now();
    bool answered = false;
    self->request(target, timeout, host_atom::value, std::move(bytes))
        .receive(
            [&](const std::vector<char>& reply) {
              try {
                auto message = net::decode_host_message(reply);
                auto* pong = std::get_if<net::host_pong>(&message);
                answered = pong && pong->sequence == i;
              } catch (const net::decode_error& e) {
                logger("net")->error("undecodable pong from a worker host error={}", e.what());
              }
            },
            [&](caf::error&) {});
    if (!answered)
      break;
    samples.push_back(std::chrono::steady_clock::now() - start);
  }
  return samples;
}

bool host_listener::shutdown(int worker) {
  auto target = impl_->find(worker);
  if (!target)
    return false;
  caf::anon_send(target, host_atom::value, net::encode(net::host_shutdown{}));
  return true;
}

bool host_listener::send(int worker, std::vector<char> to_host_bytes) {
  auto target = impl_->find_for_send(worker, to_host_bytes.size());
  if (!target)
    return false;
  caf::anon_send(target, to_host_atom::value, std::move(to_host_bytes));
  return true;
}

caf::actor host_listener::host_actor(int worker) const {
  return impl_->find(worker);
}

bool send_worker_limits(const caf::actor& host,
                        std::vector<caf::actor> services,
                        std::vector<char> description) {
  if (!host)
    return false;
  caf::anon_send(host, limits_atom::value, std::move(services), std::move(description));
  return true;
}

// -- the host end ---------------------------------------------------------------------------------

namespace {

// The host's answers on their way to the client, in the order made. The first answer that
// finds the outbox empty has the middleman's thread send it, and the answers made until that
// thread gets to it go along in the same message (a FromHost batch): no answer waits for
// another, and a burst of answers costs the middleman one message instead of one each.
class outbox {
public:
  // Adds an answer; true when the outbox was empty, and the caller must have it flushed.
  bool put(std::vector<char> bytes) {
    std::lock_guard guard{mutex_};
    messages_.push_back(std::move(bytes));
    return messages_.size() == 1;
  }

  std::vector<std::vector<char>> take() {
    std::lock_guard guard{mutex_};
    return std::exchange(messages_, {});
  }

private:
  std::mutex mutex_;
  std::vector<std::vector<char>> messages_;
};

// Reads `fd` to its end on a thread of its own and hands over each line (without its break;
// a line longer than 64 KiB in pieces).
void read_lines(int fd,
                net::output_line::stream where,
                std::function<void(net::output_line)> send_line) {
  std::thread{[fd, where, send_line = std::move(send_line)] {
    constexpr std::size_t longest = 64 * 1024;
    std::string partial;
    char buffer[4096];
    // Bounded: read returns 0 once every writer (this process's fd 1 or 2) is closed.
    for (;;) {
      auto n = ::read(fd, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      partial.append(buffer, static_cast<std::size_t>(n));
      std::size_t start = 0;
      for (auto nl = partial.find('\n', start); nl != std::string::npos;
           nl = partial.find('\n', start)) {
        send_line({where, partial.substr(start, nl - start)});
        start = nl + 1;
      }
      partial.erase(0, start);
      if (partial.size() >= longest)
        send_line({where, std::exchange(partial, {})});
    }
    if (!partial.empty())
      send_line({where, partial});
  }}.detach();
}

// Points this process's stdout and stderr at pipes whose lines go to the client.
void forward_output_to_client(const std::function<void(net::output_line)>& send_line) {
  for (auto [fd, where] :
       {std::pair{1, net::output_line::stream::out}, std::pair{2, net::output_line::stream::err}}) {
    int ends[2];
    if (::pipe2(ends, O_CLOEXEC) != 0) {
      logger("net")->error("cannot forward worker output error={}", std::strerror(errno));
      return;
    }
    ::dup2(ends[1], fd);
    ::close(ends[1]);
    read_lines(ends[0], where, send_line);
  }
}

} // namespace

host_link_end run_host_link(const host_link_target& target) {
  const auto& secret = target.secret;
  const int worker = target.worker;
  // NOTE: never destroyed: the process ends right after, and tearing down a system whose peer
  // vanished only costs time.
  auto* host = new actor_host{2};
  auto& system = host->system();
  // First the head, so that the limit actors the client hands over are reached over this
  // direct connection. Without it they are still reached, through the client.
  if (!target.head_address.empty() && target.head_port != 0)
    if (auto head = system.middleman().connect(target.head_address, target.head_port); !head)
      logger("net")->warn("cannot reach the head for limits address={}:{} error={}",
                          target.head_address,
                          target.head_port,
                          system.render(head.error()));
  auto client = system.middleman().remote_actor(target.address, target.port);
  if (!client)
    return host_link_end::unreachable;

  // The host's face to the client: a companion actor, whose handler runs on the thread that
  // delivers each message (the middleman's thread, for the client's messages). Calls go from
  // there straight to the worker thread, without waiting for a scheduler thread to wake up
  // (that hop cost about a third of the context switches of a call); everything else goes on
  // to the link actor below. NOTE: kept for the life of the process, like the system.
  auto gate = system.spawn<caf::actor_companion>();
  // Replies leave as the gate, so that the client knows the host by its sender. A weak handle:
  // the worker's thread must not keep the gate alive.
  auto box = std::make_shared<outbox>();
  auto flush = [box, me = caf::actor_cast<caf::actor_addr>(gate), c = *client] {
    auto source = caf::actor_cast<caf::actor>(me);
    // Within the smallest max_message_size, so that a batch fits whatever the client allows.
    for (auto& bytes : net::pack_from_host(box->take(), smallest_max_message_size))
      if (source)
        caf::send_as(source, c, from_host_atom::value, std::move(bytes));
  };
  auto calls = std::make_shared<host_worker>(
      worker, [box, flush, &backend = system.middleman().backend()](std::vector<char> bytes) {
        if (box->put(std::move(bytes)))
          backend.post(flush);
      });

  if (target.output_to_client) {
    auto send_line = [box, flush, &backend = system.middleman().backend()](net::output_line line) {
      if (box->put(net::encode(net::from_host{std::move(line)})))
        backend.post(flush);
    };
    forward_output_to_client(send_line);
  }

  auto ended = std::make_shared<std::promise<host_link_end>>();
  auto behavior = [ended](caf::event_based_actor* self, caf::actor client) -> caf::behavior {
    self->set_default_handler(caf::drop);
    self->set_exception_handler(log_exception);
    auto finish = [self, ended, done = std::make_shared<bool>(false)](host_link_end how) {
      if (std::exchange(*done, true))
        return;
      ended->set_value(how);
      self->quit();
    };
    self->monitor(client);
    self->set_down_handler([finish](caf::down_msg&) { finish(host_link_end::lost); });
    return {
        [self, finish](host_atom, const std::vector<char>& bytes) {
          net::host_message message;
          try {
            message = net::decode_host_message(bytes);
          } catch (const net::decode_error& e) {
            logger("net")->error("undecodable message from the client error={}", e.what());
            return;
          }
          if (auto* ping = std::get_if<net::host_ping>(&message))
            self->make_response_promise().deliver(net::encode(net::host_pong{ping->sequence}));
          else if (std::holds_alternative<net::host_shutdown>(message))
            finish(host_link_end::shutdown);
        },
    };
  };
  // NOTE: the client goes in as a spawn argument (see the listener).
  auto link = system.spawn(behavior, *client);
  as_companion(gate).on_enqueue([calls, link, host](caf::mailbox_element_ptr element) {
    auto& content = element->content();
    if (content.match_elements<to_host_atom, std::vector<char>>()) {
      calls->receive(content.get_as<std::vector<char>>(1));
    } else if (content.match_elements<limits_atom, std::vector<caf::actor>, std::vector<char>>()) {
      // Here, not on the link actor: the limits must be in place before the construct message
      // that follows them reaches the worker's thread. The sets are made on that thread, where
      // a malformed description fails the construction.
      calls->use_limits([host,
                         services = content.get_as<std::vector<caf::actor>>(1),
                         bytes = content.get_as<std::vector<char>>(2)] {
        return make_remote_limits(*host, services, bytes);
      });
    } else {
      link->enqueue(std::move(element), nullptr); // keeps the sender and the request id
    }
  });
  caf::send_as(gate,
               *client,
               host_atom::value,
               net::encode(net::host_hello{secret,
                                           static_cast<std::int32_t>(::getpid()),
                                           static_cast<std::uint32_t>(worker)}));
  return ended->get_future().get();
}

// Compares without an early exit, so the time taken says nothing about the secret.
bool same_secret(const std::string& a, const std::string& b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (std::size_t i = 0; i < a.size(); ++i)
    diff |= static_cast<unsigned char>(a[i] ^ (i < b.size() ? b[i] : 0));
  return diff == 0;
}

// Bytes from another process may be anything: an exception becomes a log line, not a dead actor.
caf::error log_exception(caf::scheduled_actor*, std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    logger("net")->error("a control handler failed error={}", x.what());
  } catch (...) {
    logger("net")->error("a control handler failed with an unknown exception");
  }
  return caf::sec::runtime_error;
}

} // namespace concurry::actors
