// Calls between a client and its worker hosts (call.capnp over process_hosts::send and
// on_message): building a registered worker in a host, results, exceptions, order, cancel,
// stop, malformed bytes, and a host killed during a call. The hosts are this test binary,
// re-executed, so the worker registered here is registered in them too.
#include "net/call_messages.hpp"
#include "runtime/internal/host.hpp"
#include "runtime/internal/process_host.hpp"

#include <concurry/codec.hpp>
#include <concurry/exceptions.hpp>
#include <concurry/registry.hpp>

#include <doctest/doctest.h>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

namespace process_call_test {

struct registered_failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct unregistered_failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

} // namespace process_call_test

CONCURRY_EXCEPTION(process_call_test::registered_failure)

namespace process_call_test {

/// The worker the hosts build. An empty name makes its constructor throw.
class call_worker : public concurry::worker<call_worker> {
public:
  explicit call_worker(std::string name) : name_{std::move(name)} {
    if (name_.empty())
      throw std::invalid_argument{"a call_worker needs a name"};
  }

  std::string greet(std::string who) { return name_ + " greets " + who; }
  std::vector<double> echo(std::vector<double> values) { return values; }
  int record(int n) {
    seen_.push_back(n);
    return n;
  }
  std::vector<int> recorded() { return seen_; }
  int nap(int ms) {
    std::this_thread::sleep_for(std::chrono::milliseconds{ms});
    return ms;
  }
  void fail_registered(std::string message) { throw registered_failure{message}; }
  void fail_unregistered(std::string message) { throw unregistered_failure{message}; }
  int increment(int n) { return n + 1; }
  std::uint64_t index() { return worker_index(); }
  int pid() { return ::getpid(); }

private:
  std::string name_;
  std::vector<int> seen_;
};

CONCURRY_WORKER(call_worker,
                (std::string),
                greet,
                echo,
                record,
                recorded,
                nap,
                fail_registered,
                fail_unregistered,
                increment,
                index,
                pid)

/// The methods of call_worker by their position in the registration.
enum method : std::uint32_t {
  greet,
  echo,
  record,
  recorded,
  nap,
  fail_registered,
  fail_unregistered,
  increment,
  index,
  pid,
};

} // namespace process_call_test

namespace {

namespace ri = concurry::runtime_internal;
namespace net = concurry::net;
namespace pct = process_call_test;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

/// A client with worker hosts: sends them call.capnp messages and keeps what they answer.
class call_fixture {
public:
  call_fixture() {
    ri::process_hosts::events events;
    events.on_hello = [this](const concurry::actors::host_identity& who) {
      std::lock_guard guard{mutex_};
      hellos_[who.worker] = who.pid;
      changed_.notify_all();
    };
    events.on_lost = [this](const concurry::actors::host_identity& who) {
      std::lock_guard guard{mutex_};
      lost_.emplace(who.worker, clock_type::now());
      changed_.notify_all();
    };
    events.on_exit = [this](const ri::host_exit& e) {
      std::lock_guard guard{mutex_};
      exits_.emplace(e.worker, std::make_pair(e, clock_type::now()));
      changed_.notify_all();
    };
    events.on_message = [this](const concurry::actors::host_identity& who,
                               std::vector<char> bytes) { keep(who.worker, bytes); };
    hosts_ = std::make_unique<ri::process_hosts>(ri::current_host(), events);
  }

  ri::process_hosts& hosts() { return *hosts_; }

  /// Starts hosts 0 to n - 1 and waits (20 s at most) for their hellos.
  bool start(int n) {
    for (int worker = 0; worker < n; ++worker)
      hosts_->start(worker);
    std::unique_lock lock{mutex_};
    return changed_.wait_for(lock, 20s, [&] { return hellos_.size() == std::size_t(n); });
  }

  bool send(int worker, const net::to_host& message) {
    return hosts_->send(worker, net::encode(message));
  }

  /// Builds a call_worker named `name` in the host of `worker`; its answer (20 s at most).
  std::optional<net::worker_constructed> construct(int worker, std::string name) {
    auto args = concurry::encode(std::tuple<std::string>{std::move(name)});
    REQUIRE(send(worker, net::construct_worker{1, std::uint32_t(worker), "call_worker", args}));
    return wait_for<net::worker_constructed>(worker);
  }

  /// Sends a call of `m` with `args` to the host of `worker`; returns its call id.
  template <class... A>
  std::uint64_t call(int worker, pct::method m, A... args) {
    auto id = next_call_id();
    auto bytes = concurry::encode(std::tuple<A...>{std::move(args)...});
    REQUIRE(send(worker, net::host_call{id, 1, std::uint32_t(worker), m, {}, 1, bytes, {}}));
    return id;
  }

  std::uint64_t next_call_id() {
    std::lock_guard guard{mutex_};
    return ++last_call_id_;
  }

  /// The answer to call `id` (a call_result or a call_error), once it came within `timeout`.
  std::optional<net::from_host> answer(std::uint64_t id, std::chrono::milliseconds timeout = 20s) {
    std::unique_lock lock{mutex_};
    if (!changed_.wait_for(lock, timeout, [&] { return answers_.count(id) != 0; }))
      return std::nullopt;
    return answers_.at(id);
  }

  /// The value call `id` returned; rethrows what it threw as rebuild_exception makes it.
  template <class R>
  R result(std::uint64_t id) {
    auto reply = answer(id);
    REQUIRE(reply);
    if (auto* error = std::get_if<net::call_error>(&*reply))
      std::rethrow_exception(concurry::rebuild_exception(error->exception));
    auto& value = std::get<net::call_result>(*reply).value;
    return concurry::decode<R>(std::span<const std::byte>{value.data(), value.size()});
  }

  /// The exception call `id` answered with, as the client rebuilds it.
  std::exception_ptr failure(std::uint64_t id) {
    auto reply = answer(id);
    REQUIRE(reply);
    REQUIRE(std::holds_alternative<net::call_error>(*reply));
    return concurry::rebuild_exception(std::get<net::call_error>(*reply).exception);
  }

  /// The next answer of kind M (constructed, stopped) from the host of `worker`, 20 s at most.
  template <class M>
  std::optional<M> wait_for(int worker) {
    std::unique_lock lock{mutex_};
    auto& queue = others_[worker];
    auto found = [&] {
      for (auto it = queue.begin(); it != queue.end(); ++it)
        if (std::holds_alternative<M>(*it))
          return it;
      return queue.end();
    };
    if (!changed_.wait_for(lock, 20s, [&] { return found() != queue.end(); }))
      return std::nullopt;
    auto it = found();
    M out = std::get<M>(*it);
    queue.erase(it);
    return out;
  }

  /// The call ids answered by the host of `worker`, in the order the answers arrived.
  std::vector<std::uint64_t> answer_order(int worker) {
    std::lock_guard guard{mutex_};
    return order_[worker];
  }

  /// When the host of `worker` was first reported lost or reaped, within `timeout`.
  std::optional<clock_type::time_point> wait_gone(int worker, std::chrono::milliseconds timeout) {
    std::unique_lock lock{mutex_};
    auto gone = [&] { return lost_.count(worker) != 0 || exits_.count(worker) != 0; };
    if (!changed_.wait_for(lock, timeout, gone))
      return std::nullopt;
    auto at = clock_type::time_point::max();
    if (auto it = lost_.find(worker); it != lost_.end())
      at = std::min(at, it->second);
    if (auto it = exits_.find(worker); it != exits_.end())
      at = std::min(at, it->second.second);
    return at;
  }

  std::optional<ri::host_exit> wait_exit(int worker, std::chrono::milliseconds timeout) {
    std::unique_lock lock{mutex_};
    if (!changed_.wait_for(lock, timeout, [&] { return exits_.count(worker) != 0; }))
      return std::nullopt;
    return exits_.at(worker).first;
  }

private:
  void keep(int worker, const std::vector<char>& bytes) {
    net::from_host message;
    try {
      message = net::decode_from_host(bytes);
    } catch (const net::decode_error&) {
      return;
    }
    // Answers made while an earlier one was on its way out come together.
    if (auto* batch = std::get_if<net::message_batch>(&message)) {
      for (auto& one : batch->messages)
        keep(worker, one);
      return;
    }
    std::lock_guard guard{mutex_};
    if (auto* r = std::get_if<net::call_result>(&message)) {
      order_[worker].push_back(r->call_id);
      answers_.emplace(r->call_id, std::move(message));
    } else if (auto* e = std::get_if<net::call_error>(&message)) {
      order_[worker].push_back(e->call_id);
      answers_.emplace(e->call_id, std::move(message));
    } else {
      others_[worker].push_back(std::move(message));
    }
    changed_.notify_all();
  }

  std::mutex mutex_;
  std::condition_variable changed_;
  std::uint64_t last_call_id_ = 0;
  std::map<int, int> hellos_;
  std::map<int, clock_type::time_point> lost_;
  std::map<int, std::pair<ri::host_exit, clock_type::time_point>> exits_;
  std::map<std::uint64_t, net::from_host> answers_;
  std::map<int, std::vector<std::uint64_t>> order_;
  std::map<int, std::vector<net::from_host>> others_;
  std::unique_ptr<ri::process_hosts> hosts_;
};

/// A fixture whose hosts 0 and 1 each hold a call_worker named after them.
class built_fixture : public call_fixture {
public:
  built_fixture() {
    REQUIRE(start(2));
    for (int worker = 0; worker < 2; ++worker) {
      auto built = construct(worker, "host" + std::to_string(worker));
      REQUIRE(built);
      REQUIRE_FALSE(built->failure);
    }
  }
};

std::string message_of(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return x.what();
  }
}

/// The flat bytes of a call whose arguments lie beyond the end of the message: its last word (the
/// arguments, written last) is cut off and the segment table shrunk to match.
std::vector<char> truncated_call(std::uint64_t id) {
  auto bytes =
      net::encode(net::host_call{id, 1, 0, pct::increment, {}, 1, concurry::encode(7), {}});
  bytes.resize(bytes.size() - 8);
  std::uint32_t words = 0;
  std::memcpy(&words, bytes.data() + 4, sizeof words);
  words -= 1;
  std::memcpy(bytes.data() + 4, &words, sizeof words);
  return bytes;
}

} // namespace

TEST_CASE("process_call: a worker built in each of two hosts answers its calls there" *
          doctest::test_suite("system")) {
  built_fixture f;
  CHECK(f.result<std::string>(f.call(0, pct::greet, std::string{"bob"})) == "host0 greets bob");
  CHECK(f.result<std::string>(f.call(1, pct::greet, std::string{"amy"})) == "host1 greets amy");
  CHECK(f.result<std::uint64_t>(f.call(1, pct::index)) == 1);
  CHECK(f.result<int>(f.call(0, pct::pid)) == f.hosts().pid_of(0));
  CHECK(f.result<int>(f.call(1, pct::pid)) == f.hosts().pid_of(1));
}

TEST_CASE("process_call: a vector of one million doubles goes to a host and back unchanged" *
          doctest::test_suite("system")) {
  built_fixture f;
  std::vector<double> values(1'000'000);
  for (std::size_t i = 0; i < values.size(); ++i)
    values[i] = double(i) * 0.5 - 1e5;
  CHECK(f.result<std::vector<double>>(f.call(1, pct::echo, values)) == values);
}

TEST_CASE("process_call: a constructor that throws comes back as its exception" *
          doctest::test_suite("system")) {
  call_fixture f;
  REQUIRE(f.start(1));
  auto built = f.construct(0, "");
  REQUIRE(built);
  REQUIRE(built->failure);
  auto e = concurry::rebuild_exception(*built->failure);
  CHECK_THROWS_WITH_AS(
      std::rethrow_exception(e), "a call_worker needs a name", std::invalid_argument);
  CHECK_THROWS_AS(std::rethrow_exception(f.failure(f.call(0, pct::increment, 1))), concurry::error);
}

TEST_CASE("process_call: a registered exception comes back as itself with its message" *
          doctest::test_suite("system")) {
  built_fixture f;
  auto e = f.failure(f.call(0, pct::fail_registered, std::string{"over quota"}));
  CHECK_THROWS_WITH_AS(
      std::rethrow_exception(e), "over quota", process_call_test::registered_failure);
}

TEST_CASE("process_call: an unregistered exception comes back as remote_error with its type" *
          doctest::test_suite("system")) {
  built_fixture f;
  auto e = f.failure(f.call(1, pct::fail_unregistered, std::string{"disk on fire"}));
  try {
    std::rethrow_exception(e);
  } catch (const concurry::remote_error& r) {
    CHECK(r.type_name() == "process_call_test::unregistered_failure");
    CHECK(r.message() == "disk on fire");
  } catch (...) {
    FAIL("not a remote_error: " << message_of(e));
  }
}

TEST_CASE("process_call: calls on one host run and answer in the order sent" *
          doctest::test_suite("system")) {
  built_fixture f;
  std::vector<std::uint64_t> sent;
  for (int i = 0; i < 500; ++i)
    sent.push_back(f.call(0, pct::record, i));
  std::vector<int> expected(500);
  for (int i = 0; i < 500; ++i)
    expected[std::size_t(i)] = i;
  CHECK(f.result<std::vector<int>>(f.call(0, pct::recorded)) == expected);
  auto order = f.answer_order(0);
  order.pop_back();
  CHECK(order == sent);
}

TEST_CASE("process_call: a 2 s call does not block a ping to its host" *
          doctest::test_suite("system")) {
  built_fixture f;
  auto id = f.call(0, pct::nap, 2000);
  REQUIRE(f.hosts().ping(0, 1, 5000ms).size() == 1); // the call has reached the host
  auto pings = f.hosts().ping(0, 5, 1000ms);
  REQUIRE(pings.size() == 5);
  for (auto rtt : pings)
    CHECK(rtt < 500ms);
  CHECK_FALSE(f.answer(id, 0ms));
  CHECK(f.result<int>(id) == 2000);
}

TEST_CASE("process_call: a host killed with SIGKILL during a call is reported within 1 s" *
          doctest::test_suite("system")) {
  built_fixture f;
  auto id = f.call(1, pct::nap, 2000);
  REQUIRE(f.hosts().ping(1, 1, 5000ms).size() == 1); // the call has reached the host
  auto killed_at = clock_type::now();
  REQUIRE(::kill(f.hosts().pid_of(1), SIGKILL) == 0);
  auto gone = f.wait_gone(1, 1000ms);
  REQUIRE(gone);
  CHECK(*gone - killed_at < 1s);
  auto exit = f.wait_exit(1, 1000ms);
  REQUIRE(exit);
  CHECK(exit->signal == SIGKILL);
  CHECK_FALSE(f.answer(id, 0ms));
  CHECK(f.result<int>(f.call(0, pct::increment, 41)) == 42);
}

TEST_CASE("process_call: malformed bytes get an error answer or a log line, and the host lives" *
          doctest::test_suite("system")) {
  built_fixture f;
  SUBCASE("bytes that are no message at all") {
    CHECK(f.hosts().send(0, {1, 2, 3}));
    CHECK(f.hosts().send(0, std::vector<char>(64, '\xff')));
    CHECK(f.hosts().send(0, {}));
  }
  SUBCASE("a truncated call is answered with a codec_error for its id") {
    auto id = f.next_call_id();
    CHECK(f.hosts().send(0, truncated_call(id)));
    CHECK_THROWS_AS(std::rethrow_exception(f.failure(id)), concurry::codec_error);
  }
  SUBCASE("arguments that do not decode are a codec_error") {
    auto id = f.call(0, pct::increment, std::string{"not an int"});
    CHECK_THROWS_AS(std::rethrow_exception(f.failure(id)), concurry::codec_error);
  }
  SUBCASE("an unknown method index or a wrong method name is an error") {
    auto id = f.next_call_id();
    f.send(0, net::host_call{id, 1, 0, 99, {}, 1, concurry::encode(std::tuple<>{}), {}});
    CHECK_THROWS_AS(std::rethrow_exception(f.failure(id)), concurry::error);
    auto named = f.next_call_id();
    f.send(0, net::host_call{named, 1, 0, pct::increment, "greet", 1, concurry::encode(1), {}});
    CHECK_THROWS_AS(std::rethrow_exception(f.failure(named)), concurry::error);
  }
  SUBCASE("an unknown worker type cannot be built") {
    f.send(0, net::construct_worker{1, 0, "no_such_worker", {}});
    auto built = f.wait_for<net::worker_constructed>(0);
    REQUIRE(built);
    CHECK(built->failure);
  }
  CHECK(f.result<int>(f.call(0, pct::increment, 1)) == 2);
  CHECK(f.hosts().ping(0, 1, 5000ms).size() == 1);
}

TEST_CASE("process_call: the calls of a batch run in order, a malformed one failing alone" *
          doctest::test_suite("system")) {
  built_fixture f;
  auto record = [&](int x) {
    return net::encode(
        net::host_call{f.next_call_id(), 1, 0, pct::record, {}, 1, concurry::encode(x), {}});
  };
  auto bad = f.next_call_id();
  auto nested = net::encode(net::to_host{net::message_batch{{record(9)}}});
  std::vector<std::vector<char>> batch{record(1), truncated_call(bad), nested, record(2)};
  CHECK(f.send(0, net::message_batch{batch}));
  CHECK_THROWS_AS(std::rethrow_exception(f.failure(bad)), concurry::codec_error);
  CHECK(f.result<std::vector<int>>(f.call(0, pct::recorded)) == std::vector<int>{1, 2});
}

TEST_CASE("process_call: a cancel in a batch drops a call queued before it in the batch" *
          doctest::test_suite("system")) {
  built_fixture f;
  auto running = f.call(0, pct::nap, 300);
  auto queued = f.next_call_id();
  auto call =
      net::encode(net::host_call{queued, 1, 0, pct::increment, {}, 1, concurry::encode(1), {}});
  std::vector<std::vector<char>> batch{call, net::encode(net::to_host{net::cancel_call{queued}})};
  CHECK(f.send(0, net::message_batch{batch}));
  CHECK_THROWS_AS(std::rethrow_exception(f.failure(queued)), concurry::cancelled_error);
  CHECK(f.result<int>(running) == 300);
}

TEST_CASE("process_call: a cancelled call that has not started is answered as cancelled" *
          doctest::test_suite("system")) {
  built_fixture f;
  auto running = f.call(0, pct::nap, 300);
  auto queued = f.call(0, pct::increment, 1);
  f.send(0, net::cancel_call{queued});
  CHECK_THROWS_AS(std::rethrow_exception(f.failure(queued)), concurry::cancelled_error);
  CHECK(f.result<int>(running) == 300);
}

TEST_CASE(
    "process_call: stop destroys the worker after the calls before it, and it can be rebuilt" *
    doctest::test_suite("system")) {
  built_fixture f;
  auto before = f.call(0, pct::nap, 100);
  f.send(0, net::stop_worker{});
  auto after = f.call(0, pct::increment, 1);
  CHECK(f.wait_for<net::worker_stopped>(0));
  CHECK(f.result<int>(before) == 100);
  CHECK_THROWS_AS(std::rethrow_exception(f.failure(after)), concurry::error);
  auto rebuilt = f.construct(0, "again");
  REQUIRE(rebuilt);
  CHECK_FALSE(rebuilt->failure);
  CHECK(f.result<std::string>(f.call(0, pct::greet, std::string{"x"})) == "again greets x");
}
