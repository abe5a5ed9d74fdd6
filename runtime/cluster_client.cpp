#include "runtime/internal/cluster_client.hpp"

#include "actors/cluster_head.hpp"
#include "actors/cluster_node.hpp"
#include "actors/cluster_wire.hpp"
#include "actors/limit_actor.hpp"
#include "actors/limit_backend.hpp"
#include "actors/log.hpp"
#include "runtime/internal/process_host.hpp"
#include "scheduler/amount.hpp"

#include <concurry/error.hpp>

#include <caf/all.hpp>
#include <caf/io/middleman.hpp>

#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <charconv>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <thread>

extern char** environ;

namespace concurry::runtime_internal {

namespace {

using ask_atom = caf::atom_constant<caf::atom("ask")>;
using ask_limits_atom = caf::atom_constant<caf::atom("asklimits")>;
using ping_atom = caf::atom_constant<caf::atom("ping")>;

// A request to the head that gets no answer within this fails with cluster_unavailable.
constexpr std::chrono::seconds answer_timeout{4};
// How often the client pings the head, and the silence after which the head counts as gone.
constexpr std::chrono::milliseconds ping_interval{1000};
constexpr std::chrono::milliseconds ping_timeout{3000};

std::uint64_t random_id() {
  std::random_device device;
  std::uint64_t id = 0;
  while (id == 0)
    id = (static_cast<std::uint64_t>(device()) << 32) ^ device();
  return id;
}

std::string env_or(const char* name, std::string fallback) {
  const char* value = std::getenv(name);
  return value && *value ? std::string{value} : fallback;
}

cluster_unavailable unavailable(const cluster_address& head, const std::string& why) {
  return cluster_unavailable{"the cluster head at " + head.host + ":" + std::to_string(head.port) +
                             " is unavailable: " + why};
}

// A request from a thread outside the actor system to `head`, answered within `timeout`.
net::cluster_message ask_once(caf::actor_system& system,
                              const caf::actor& head,
                              const net::cluster_message& message,
                              const cluster_address& where,
                              std::chrono::milliseconds timeout) {
  caf::scoped_actor self{system};
  std::optional<net::cluster_message> reply;
  std::string failure;
  self->request(head, timeout, actors::cluster_atom::value, net::encode(message))
      .receive(
          [&](const std::vector<char>& bytes) {
            try {
              reply = net::decode_cluster_message(bytes);
            } catch (const std::exception& e) {
              failure = std::string{"its answer does not decode: "} + e.what();
            }
          },
          [&](caf::error& e) { failure = system.render(e); });
  if (!reply)
    throw unavailable(where, failure);
  if (auto* no = std::get_if<net::refused>(&*reply)) {
    if (no->auth)
      throw auth_error{"the cluster head at " + where.host + ":" + std::to_string(where.port) +
                       " refused this program: " + no->reason};
    throw error{"the cluster head refused the request: " + no->reason};
  }
  return std::move(*reply);
}

caf::actor reach_head(caf::actor_system& system, const cluster_address& where) {
  // CAF's connect waits as long as the peer takes to greet it: a frozen head, or a port that
  // is no head, would hold it for ever.
  if (auto why = head_greets(where.host, where.port, head_greeting_timeout))
    throw unavailable(where, *why);
  auto head = system.middleman().remote_actor(where.host, where.port);
  if (!head)
    throw unavailable(where, "cannot connect: " + system.render(head.error()));
  return *head;
}

// -- the private cluster
// ---------------------------------------------------------------------------

struct private_cluster {
  std::shared_ptr<actors::actor_host> host;
  std::unique_ptr<actors::cluster_head> head;
  std::string token;
  pid_t node = 0;
  std::shared_ptr<std::atomic<bool>> reaped = std::make_shared<std::atomic<bool>>(false);
  std::thread reaper;

  ~private_cluster() {
    if (node > 0 && head && !actors::actor_host::process_exiting())
      head->stop_nodes(std::chrono::seconds{2});
    // A node that did not leave (frozen, or the head could not tell it) is ended.
    if (node > 0 && !reaped->load())
      ::kill(node, SIGKILL);
    if (reaper.joinable())
      reaper.join();
    // NOTE: CAF cannot end actors from exit handlers; the head then ends with the process.
    if (actors::actor_host::process_exiting())
      (void)head.release();
    head.reset();
  }
};

std::mutex private_mutex;
std::unique_ptr<private_cluster> private_instance; // guarded

// Starts the head here and the node as this program again; returns the head's address and token.
std::pair<std::string, std::string>
start_private_cluster(std::shared_ptr<actors::actor_host> host) {
  std::lock_guard guard{private_mutex};
  if (private_instance)
    return {"127.0.0.1:" + std::to_string(private_instance->head->port()), private_instance->token};
  auto cluster = std::make_unique<private_cluster>();
  cluster->host = host;
  cluster->token = random_secret();
  actors::head_options options;
  options.port = 0;
  options.token = cluster->token;
  cluster->head = std::make_unique<actors::cluster_head>(host, options);
  auto port = cluster->head->port();

  std::string value = "port=" + std::to_string(port) + ",parent=" + std::to_string(::getpid()) +
                      ",token=" + cluster->token;
  std::vector<std::string> env;
  std::string prefix = std::string{private_node_variable} + "=";
  for (char** e = environ; e && *e; ++e)
    if (std::strncmp(*e, prefix.c_str(), prefix.size()) != 0 &&
        std::strncmp(*e, "CONCURRY_WORKER_HOST=", 21) != 0)
      env.emplace_back(*e);
  env.push_back(prefix + value);
  auto args = remembered_program_arguments();
  if (args.empty())
    args.emplace_back("concurry-node");
  auto env_pointers = pointers(env);
  auto arg_pointers = pointers(args);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  pid_t pid = 0;
  int rc = ::posix_spawn(
      &pid, "/proc/self/exe", &actions, nullptr, arg_pointers.data(), env_pointers.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0)
    throw error{std::string{"cannot start the private cluster's node: "} + std::strerror(rc)};
  cluster->node = pid;
  // The first pool finds its node in the table: its workers are placed, not kept waiting.
  if (!cluster->head->wait_nodes(1, std::chrono::seconds{10}))
    actors::logger("pool")->warn("the private cluster's node did not join within 10 s");
  // Reaped here, by pid, so that the application's own children keep their statuses.
  cluster->reaper = std::thread{[pid, reaped = cluster->reaped] {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    reaped->store(true);
  }};
  actors::logger("pool")->info("started a private cluster head_port={} node_pid={}", port, pid);
  private_instance = std::move(cluster);
  return {"127.0.0.1:" + std::to_string(port), private_instance->token};
}

} // namespace

// -- addresses and the admin requests -------------------------------------------------------------

std::optional<std::string>
head_greets(const std::string& host, std::uint16_t port, std::chrono::milliseconds timeout) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found); rc != 0)
    return std::string{"cannot resolve "} + host + ": " + ::gai_strerror(rc);
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> guard{found, ::freeaddrinfo};
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto left_ms = [&] {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    return static_cast<int>(std::max<std::int64_t>(left.count(), 0));
  };
  std::string why = "no address";
  for (auto* a = found; a; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0)
      continue;
    std::unique_ptr<int, void (*)(int*)> closer{&fd, [](int* f) { ::close(*f); }};
    if (::connect(fd, a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
      why = std::string{"cannot connect: "} + std::strerror(errno);
      continue;
    }
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, left_ms()) <= 0) {
      why = "no connection within " + std::to_string(timeout.count()) + " ms";
      continue;
    }
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      why = std::string{"cannot connect: "} + std::strerror(err);
      continue;
    }
    // A live CAF node sends its handshake as soon as it accepts.
    p = {fd, POLLIN, 0};
    if (::poll(&p, 1, left_ms()) <= 0) {
      why = "it accepted the connection but did not greet within " +
            std::to_string(timeout.count()) + " ms (a frozen head, or no head on that port)";
      continue;
    }
    return std::nullopt;
  }
  return why;
}

cluster_address parse_cluster_address(const std::string& text) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size())
    throw config_error{"a cluster address is HOST:PORT, such as 127.0.0.1:6380; got '" + text +
                       "'"};
  cluster_address a;
  a.host = text.substr(0, colon);
  unsigned port = 0;
  auto tail = std::string_view{text}.substr(colon + 1);
  auto [end, ec] = std::from_chars(tail.data(), tail.data() + tail.size(), port);
  if (ec != std::errc{} || end != tail.data() + tail.size() || port == 0 || port > 65535)
    throw config_error{"the port of cluster address '" + text + "' must be 1 to 65535"};
  a.port = static_cast<std::uint16_t>(port);
  return a;
}

net::cluster_status query_cluster_status(const cluster_address& head,
                                         const std::string& token,
                                         std::chrono::milliseconds timeout) {
  auto host = actors::actor_host::start(1);
  auto actor = reach_head(host->system(), head);
  auto reply = ask_once(host->system(), actor, net::status_request{token}, head, timeout);
  if (auto* s = std::get_if<net::cluster_status>(&reply))
    return std::move(*s);
  throw error{"the cluster head answered a status request with something else"};
}

void stop_cluster(const cluster_address& head,
                  const std::string& token,
                  std::chrono::milliseconds timeout) {
  auto host = actors::actor_host::start(1);
  auto actor = reach_head(host->system(), head);
  auto reply = ask_once(host->system(), actor, net::stop_cluster{token}, head, timeout);
  if (!std::holds_alternative<net::stopping>(reply))
    throw error{"the cluster head answered a stop request with something else"};
}

// -- the client -----------------------------------------------------------------------------------

struct cluster_client::impl : std::enable_shared_from_this<cluster_client::impl> {
  std::shared_ptr<actors::actor_host> host;
  cluster_address where;
  std::string token;
  std::uint64_t id = random_id();

  mutable std::mutex mutex;
  std::condition_variable changed;
  caf::actor actor;                           // guarded: the client's actor of this session
  caf::actor head;                            // guarded
  bool is_connected = false;                  // guarded
  bool closing = false;                       // guarded
  std::map<std::uint64_t, pool_events> pools; // guarded
  std::uint64_t next_ask = 1;                 // guarded
  std::map<std::uint64_t, answer_fn> asks;    // guarded: waiting for the head
  std::thread reconnector;                    // guarded
  std::mutex open_mutex;                      // one open() at a time
  bool reconnecting = false;                  // guarded

  ~impl() {
    {
      std::lock_guard guard{mutex};
      closing = true;
      if (reconnector.joinable())
        reconnector.detach(); // it holds no reference, and sees `closing` within a second
    }
    changed.notify_all();
    if (actor)
      caf::anon_send_exit(actor, caf::exit_reason::user_shutdown);
  }

  // Fails every request in flight: the head is gone. `from` is the actor of the session that
  // saw it; an older session's word is old news.
  void lost(const caf::actor_addr& from, const std::string& why) {
    std::map<std::uint64_t, answer_fn> failed;
    std::vector<pool_events> told;
    bool was_connected = false;
    {
      std::lock_guard guard{mutex};
      if (from != actor.address())
        return;
      was_connected = is_connected;
      for (auto& [id, e] : pools)
        told.push_back(e);
      is_connected = false;
      failed.swap(asks);
      // A head that comes back has none of the limit actors of the old one.
      limit_actors.clear();
      actor = caf::actor{};
      head = caf::actor{};
    }
    if (was_connected)
      actors::logger("pool")->warn(
          "lost the cluster head address={}:{} why={}", where.host, where.port, why);
    for (auto& [id, done] : failed)
      done(std::nullopt, std::make_exception_ptr(unavailable(where, why)));
    for (auto& e : told)
      if (e.on_disconnected)
        e.on_disconnected();
    start_reconnecting();
  }

  void answer(std::uint64_t ask, std::optional<net::cluster_message> reply, std::exception_ptr e) {
    answer_fn done;
    {
      std::lock_guard guard{mutex};
      auto it = asks.find(ask);
      if (it == asks.end())
        return;
      done = std::move(it->second);
      asks.erase(it);
    }
    done(std::move(reply), std::move(e));
  }

  void deliver(const net::cluster_message& message) {
    std::optional<pool_events> events;
    std::uint64_t pool = 0;
    if (auto* placed = std::get_if<net::worker_placed>(&message))
      pool = placed->ref.pool;
    else if (auto* gone = std::get_if<net::worker_lost>(&message))
      pool = gone->exit.ref.pool;
    else
      return;
    {
      std::lock_guard guard{mutex};
      auto it = pools.find(pool);
      if (it == pools.end())
        return;
      events = it->second;
    }
    if (auto* placed = std::get_if<net::worker_placed>(&message)) {
      if (events->on_placed)
        events->on_placed(placed->ref.worker, placed->node);
    } else if (auto* gone = std::get_if<net::worker_lost>(&message)) {
      if (events->on_lost)
        events->on_lost(gone->exit);
    }
  }

  caf::behavior behavior(caf::event_based_actor* self, caf::actor head_actor) {
    self->set_default_handler(caf::drop);
    self->set_exception_handler(actors::log_exception);
    self->monitor(head_actor);
    std::weak_ptr<impl> weak = weak_from_this();
    // A session ends with its head: the actor quits, and a new session gets a new one.
    self->set_down_handler([weak, self](caf::down_msg& down) {
      if (auto me = weak.lock())
        me->lost(self->address(), "the connection dropped (" + to_string(down.reason) + ")");
      self->quit();
    });
    self->delayed_send(self, ping_interval, ping_atom::value);
    auto decode_reply = [](const std::vector<char>& bytes)
        -> std::pair<std::optional<net::cluster_message>, std::exception_ptr> {
      try {
        return {net::decode_cluster_message(bytes), nullptr};
      } catch (...) {
        return {std::nullopt, std::current_exception()};
      }
    };
    // What an ask that got no answer from the head ends with.
    auto fail_ask = [self, weak](std::uint64_t ask) {
      return [self, weak, ask](caf::error& e) {
        if (auto me = weak.lock())
          me->answer(ask,
                     std::nullopt,
                     std::make_exception_ptr(unavailable(me->where, self->system().render(e))));
      };
    };
    return {
        [self, head_actor, weak](ping_atom) {
          self->request(
                  head_actor, ping_timeout, actors::cluster_atom::value, net::encode(net::ping{1}))
              .then(
                  [self](const std::vector<char>&) {
                    self->delayed_send(self, ping_interval, ping_atom::value);
                  },
                  [self, weak](caf::error&) {
                    if (auto me = weak.lock())
                      me->lost(self->address(),
                               "no answer to a ping within " +
                                   std::to_string(ping_timeout.count()) + " ms");
                    self->quit();
                  });
        },
        [self, head_actor, weak, decode_reply, fail_ask](
            ask_atom, std::uint64_t ask, std::vector<char>& bytes) {
          self->request(head_actor, answer_timeout, actors::cluster_atom::value, std::move(bytes))
              .then(
                  [weak, ask, decode_reply](const std::vector<char>& reply) {
                    if (auto me = weak.lock()) {
                      auto [message, e] = decode_reply(reply);
                      me->answer(ask, std::move(message), e);
                    }
                  },
                  fail_ask(ask));
        },
        [self, head_actor, fail_ask, weak](
            ask_limits_atom, std::uint64_t ask, std::vector<char>& bytes) {
          self->request(head_actor, answer_timeout, actors::cluster_atom::value, std::move(bytes))
              .then(
                  [weak, ask](std::vector<caf::actor>& handles) {
                    if (auto me = weak.lock())
                      me->answer_limits(ask, std::move(handles));
                  },
                  fail_ask(ask));
        },
        [weak](actors::cluster_atom, const std::vector<char>& bytes) {
          auto me = weak.lock();
          if (!me)
            return;
          try {
            me->deliver(net::decode_cluster_message(bytes));
          } catch (const std::exception& e) {
            actors::logger("pool")->warn("undecodable message from the head error={}", e.what());
          }
        },
    };
  }

  std::map<std::uint64_t, std::vector<caf::actor>> limit_answers; // guarded
  // The head's limit actor of each set this program's pools used, by the set's identity; the
  // set is kept so that its identity is not reused.
  struct known_limits {
    limit_set set;
    caf::actor actor;
    limit_set remote;
  };
  std::map<const void*, known_limits> limit_actors; // guarded

  void answer_limits(std::uint64_t ask, std::vector<caf::actor> handles) {
    {
      std::lock_guard guard{mutex};
      limit_answers[ask] = std::move(handles);
    }
    answer(ask, net::cluster_message{net::welcome{}}, nullptr);
  }

  // Connects and says hello, unless connected already; throws auth_error or
  // cluster_unavailable.
  void open() {
    std::lock_guard opening{open_mutex};
    {
      std::lock_guard guard{mutex};
      if (is_connected)
        return;
    }
    auto& system = host->system();
    auto head_actor = reach_head(system, where);
    std::weak_ptr<impl> weak = weak_from_this();
    auto promise = std::make_shared<std::promise<net::cluster_message>>();
    auto result = promise->get_future();
    net::client_hello hello{token, id, static_cast<std::int32_t>(::getpid())};
    // NOTE: the head goes in as a spawn argument: CAF 0.17 dereferences a null pointer when it
    // starts a function actor that takes no arguments.
    auto a = system.spawn(
        [weak, promise, hello](caf::event_based_actor* self, caf::actor head_actor) {
          auto me = weak.lock();
          if (!me) {
            promise->set_exception(std::make_exception_ptr(error{"the client was closed"}));
            return caf::behavior{};
          }
          self->request(head_actor, answer_timeout, actors::cluster_atom::value, net::encode(hello))
              .then(
                  [promise](const std::vector<char>& bytes) {
                    try {
                      promise->set_value(net::decode_cluster_message(bytes));
                    } catch (...) {
                      promise->set_exception(std::current_exception());
                    }
                  },
                  [promise, self](caf::error& e) {
                    promise->set_exception(
                        std::make_exception_ptr(error{self->system().render(e)}));
                  });
          return me->behavior(self, head_actor);
        },
        head_actor);
    net::cluster_message reply;
    try {
      if (result.wait_for(answer_timeout + std::chrono::seconds{1}) != std::future_status::ready)
        throw error{"no answer to the hello"};
      reply = result.get();
    } catch (const std::exception& e) {
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
      throw unavailable(where, e.what());
    }
    if (auto* no = std::get_if<net::refused>(&reply)) {
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
      if (no->auth)
        throw auth_error{"the cluster head at " + where.host + ":" + std::to_string(where.port) +
                         " refused this program: " + no->reason +
                         " (set the pool's cluster_token or CONCURRY_TOKEN)"};
      throw unavailable(where, "it refused the hello: " + no->reason);
    }
    {
      std::lock_guard guard{mutex};
      actor = a;
      head = head_actor;
      is_connected = true;
    }
    changed.notify_all();
  }

  // While the head is gone: tries again every second, and tells the pools when it is back.
  void start_reconnecting() {
    std::lock_guard guard{mutex};
    if (reconnecting || closing)
      return;
    reconnecting = true;
    if (reconnector.joinable())
      reconnector.detach();
    std::weak_ptr<impl> weak = weak_from_this();
    reconnector = std::thread{[weak] {
      // Bounded: ends once connected or when the client closes.
      for (;;) {
        auto me = weak.lock();
        if (!me)
          return;
        {
          std::unique_lock lock{me->mutex};
          if (me->changed.wait_for(lock, std::chrono::seconds{1}, [&] { return me->closing; })) {
            me->reconnecting = false;
            return;
          }
        }
        try {
          me->open();
        } catch (const std::exception&) {
          continue;
        }
        std::vector<pool_events> events;
        {
          std::lock_guard lock{me->mutex};
          me->reconnecting = false;
          for (auto& [id, e] : me->pools)
            events.push_back(e);
        }
        actors::logger("pool")->info(
            "reached the cluster head again address={}:{}", me->where.host, me->where.port);
        for (auto& e : events)
          if (e.on_reconnected)
            e.on_reconnected();
        return;
      }
    }};
  }

  // Sends a request through the client's actor; `done` runs once.
  void ask(const net::cluster_message& message, answer_fn done, bool limits = false) {
    caf::actor a;
    std::uint64_t n = 0;
    {
      std::lock_guard guard{mutex};
      if (is_connected) {
        a = actor;
        n = next_ask++;
        asks[n] = std::move(done);
      }
    }
    if (!a) {
      done(std::nullopt,
           std::make_exception_ptr(
               unavailable(where, "not connected (it is tried again every second)")));
      return;
    }
    if (limits)
      caf::anon_send(a, ask_limits_atom::value, n, net::encode(message));
    else
      caf::anon_send(a, ask_atom::value, n, net::encode(message));
  }

  net::cluster_message ask_and_wait(const net::cluster_message& message, bool limits = false) {
    auto promise = std::make_shared<std::promise<net::cluster_message>>();
    auto result = promise->get_future();
    ask(
        message,
        [promise](std::optional<net::cluster_message> reply, std::exception_ptr e) {
          if (e)
            promise->set_exception(e);
          else
            promise->set_value(std::move(*reply));
        },
        limits);
    // Bounded: the actor answers by its request's timeout, or the head's loss fails it.
    if (result.wait_for(answer_timeout + std::chrono::seconds{2}) != std::future_status::ready)
      throw unavailable(where, "no answer");
    auto reply = result.get();
    if (auto* no = std::get_if<net::refused>(&reply)) {
      if (no->auth)
        throw auth_error{"the cluster head refused this program: " + no->reason};
      throw error{"the cluster head refused the request: " + no->reason};
    }
    return reply;
  }
};

namespace {

std::mutex clients_mutex;
std::map<std::string, std::weak_ptr<cluster_client::impl>> clients; // guarded

} // namespace

std::shared_ptr<cluster_client> cluster_client::connect(std::shared_ptr<actors::actor_host> host,
                                                        std::string address,
                                                        std::string token) {
  if (address.empty())
    address = env_or("CONCURRY_ADDRESS", "");
  if (token.empty())
    token = env_or("CONCURRY_TOKEN", "");
  if (address.empty())
    std::tie(address, token) = start_private_cluster(host);
  std::lock_guard guard{clients_mutex};
  if (auto known = clients[address].lock()) {
    // A head that went away may be back: a new pool tries it now rather than fail.
    known->open();
    return std::shared_ptr<cluster_client>{new cluster_client{known}};
  }
  auto state = std::make_shared<impl>();
  state->host = std::move(host);
  state->where = parse_cluster_address(address);
  state->token = token;
  state->open();
  clients[address] = state;
  return std::shared_ptr<cluster_client>{new cluster_client{state}};
}

cluster_client::cluster_client(std::shared_ptr<impl> state) : impl_{std::move(state)} {}

cluster_client::~cluster_client() = default;

std::uint64_t cluster_client::id() const noexcept {
  return impl_->id;
}

std::string cluster_client::listen_address() const {
  return env_or("CONCURRY_CLIENT_ADDRESS", "127.0.0.1");
}

void cluster_client::add_pool(std::uint64_t pool, pool_events events) {
  std::lock_guard guard{impl_->mutex};
  impl_->pools[pool] = std::move(events);
}

void cluster_client::remove_pool(std::uint64_t pool) {
  std::lock_guard guard{impl_->mutex};
  impl_->pools.erase(pool);
}

void cluster_client::place(const net::place_worker& what, answer_fn done) {
  impl_->ask(what, std::move(done));
}

void cluster_client::release(const net::worker_ref& ref) {
  impl_->ask(net::release_worker{ref},
             [](std::optional<net::cluster_message>, std::exception_ptr) {});
}

std::uint64_t cluster_client::fit(const net::place_worker& what) {
  auto reply = impl_->ask_and_wait(net::fit_request{what});
  if (auto* f = std::get_if<net::fits>(&reply))
    return f->count;
  throw error{"the cluster head answered a fit request with something else"};
}

std::vector<std::pair<caf::actor, limit_set>>
cluster_client::limit_actors(const std::vector<limit_set>& sets) {
  // Sets new to this head go there in one request; the rest were made before.
  std::vector<std::vector<limit>> fresh;
  std::vector<std::size_t> fresh_at;
  {
    std::lock_guard guard{impl_->mutex};
    for (std::size_t i = 0; i < sets.size(); ++i)
      if (!impl_->limit_actors.count(detail::limit_set_access::identity(sets[i]))) {
        fresh.push_back(sets[i].limits());
        fresh_at.push_back(i);
      }
  }
  if (!fresh.empty()) {
    std::uint64_t ask = 0;
    {
      std::lock_guard guard{impl_->mutex};
      ask = impl_->next_ask;
    }
    impl_->ask_and_wait(net::create_limits{fresh}, true);
    std::lock_guard guard{impl_->mutex};
    auto it = impl_->limit_answers.find(ask);
    if (it == impl_->limit_answers.end() || it->second.size() != fresh.size())
      throw error{"the cluster head did not create the limits"};
    for (std::size_t k = 0; k < fresh.size(); ++k) {
      auto& set = sets[fresh_at[k]];
      impl_->limit_actors.insert_or_assign(
          detail::limit_set_access::identity(set),
          impl::known_limits{set,
                             it->second[k],
                             actors::make_remote_set(*impl_->host, it->second[k], set.limits())});
    }
    impl_->limit_answers.erase(it);
  }
  std::vector<std::pair<caf::actor, limit_set>> out;
  std::lock_guard guard{impl_->mutex};
  for (auto& set : sets) {
    auto& known = impl_->limit_actors.at(detail::limit_set_access::identity(set));
    out.emplace_back(known.actor, known.remote);
  }
  return out;
}

bool cluster_client::connected() const {
  std::lock_guard guard{impl_->mutex};
  return impl_->is_connected;
}

// -- the node of a private cluster ----------------------------------------------------------------

namespace {

// CONCURRY_NODE of a private cluster's node: port=<head port>,parent=<client pid>,token=<token>.
actors::node_options private_node_options(const std::string& text, pid_t& parent) {
  actors::node_options options;
  std::size_t start = 0;
  while (start < text.size()) {
    auto comma = text.find(',', start);
    auto item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    start = comma == std::string::npos ? text.size() : comma + 1;
    auto eq = item.find('=');
    if (eq == std::string::npos)
      continue;
    auto key = item.substr(0, eq);
    auto value = item.substr(eq + 1);
    unsigned long number = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), number);
    bool numeric = ec == std::errc{} && end == value.data() + value.size();
    if (key == "port" && numeric && number <= 65535)
      options.head_port = static_cast<std::uint16_t>(number);
    else if (key == "parent" && numeric)
      parent = static_cast<pid_t>(number);
    else if (key == "token")
      options.token = value;
  }
  options.head_address = "127.0.0.1";
  options.name = "local";
  options.num_cpus = std::max(1u, std::thread::hardware_concurrency());
  if (auto cpus = env_or("CONCURRY_NUM_CPUS", ""); !cpus.empty())
    options.num_cpus = std::stod(cpus);
  return options;
}

// A non-negative amount such as 2 or 0.5, in steps of 0.0001; config_error naming `what`.
double parse_amount(const std::string& text, const std::string& what) {
  try {
    return scheduler::amount::parse(text, what).to_double();
  } catch (const config_error&) {
    throw;
  } catch (const std::exception& e) {
    throw config_error{what + " is not an amount: '" + text + "'"};
  }
}

// CONCURRY_NODE=1: this program as a node of the cluster at CONCURRY_ADDRESS, with
// CONCURRY_TOKEN, CONCURRY_NUM_CPUS, CONCURRY_RESOURCES ("gpu=1,accel=8") and
// CONCURRY_NODE_NAME.
actors::node_options application_node_options() {
  actors::node_options options;
  auto head = parse_cluster_address(env_or("CONCURRY_ADDRESS", ""));
  options.head_address = head.host;
  options.head_port = head.port;
  options.token = env_or("CONCURRY_TOKEN", "");
  options.name = env_or("CONCURRY_NODE_NAME", "");
  options.num_cpus = std::max(1u, std::thread::hardware_concurrency());
  if (auto cpus = env_or("CONCURRY_NUM_CPUS", ""); !cpus.empty())
    options.num_cpus = parse_amount(cpus, "CONCURRY_NUM_CPUS");
  auto resources = env_or("CONCURRY_RESOURCES", "");
  std::size_t start = 0;
  while (start < resources.size()) {
    auto comma = resources.find(',', start);
    auto item =
        resources.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    start = comma == std::string::npos ? resources.size() : comma + 1;
    auto eq = item.find('=');
    if (eq == std::string::npos)
      throw config_error{"CONCURRY_RESOURCES is name=amount,...; got '" + item + "'"};
    options.resources[item.substr(0, eq)] =
        parse_amount(item.substr(eq + 1), "CONCURRY_RESOURCES " + item.substr(0, eq));
  }
  return options;
}

} // namespace

void run_private_node_if_requested(const std::string& log_level) {
  const char* value = std::getenv(private_node_variable);
  if (value == nullptr)
    return;
  std::string text = value;
  ::unsetenv(private_node_variable);
  const char* level = std::getenv("CONCURRY_LOG_LEVEL");
  actors::set_log_level(level && *level ? level : log_level);
  pid_t parent = 0;
  actors::node_options options;
  bool is_private = text.find("parent=") != std::string::npos;
  try {
    if (is_private) {
      // First: a client that dies from here on takes this node with it.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      options = private_node_options(text, parent);
      if (parent <= 0 || ::getppid() != parent || options.head_port == 0)
        ::_exit(3);
    } else {
      options = application_node_options();
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "concurry node: %s\n", e.what());
    std::fflush(nullptr);
    ::_exit(2);
  }
  // Before any thread starts: SIGTERM and SIGINT then reach only the thread that waits for
  // them (every thread started later inherits the mask).
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  if (!is_private)
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  int code = 0;
  {
    auto host = actors::actor_host::start(2);
    std::unique_ptr<actors::cluster_node> node;
    try {
      node = std::make_unique<actors::cluster_node>(host, options);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "concurry node: %s\n", e.what());
      std::fflush(nullptr);
      ::_exit(2);
    }
    if (is_private) {
      // The client is this node's parent: the node ends with it.
      std::thread{[n = node.get(), parent] {
        while (::getppid() == parent)
          std::this_thread::sleep_for(std::chrono::milliseconds{200});
        n->request_stop();
      }}.detach();
    } else {
      static actors::cluster_node* running = nullptr;
      running = node.get();
      // SIGTERM and SIGINT ask the node to stop, from a thread that waits for them.
      std::thread{[stop_signals] {
        int sig = 0;
        sigwait(&stop_signals, &sig);
        running->request_stop();
      }}.detach();
    }
    std::string why;
    auto end = node->run(&why);
    if (end != actors::node_end::stopped)
      std::fprintf(stderr, "concurry node: %s\n", why.c_str());
    code = end == actors::node_end::stopped ? 0 : end == actors::node_end::refused ? 3 : 4;
  }
  std::fflush(nullptr);
  ::_exit(code);
}

void stop_private_cluster() {
  std::unique_ptr<private_cluster> ended;
  {
    std::lock_guard guard{private_mutex};
    ended = std::move(private_instance);
  }
}

} // namespace concurry::runtime_internal
