// The limit actor: the same limit set state, reached through Cap'n Proto messages, as workers in
// other processes and on other nodes will reach it.
#include "actors/limit_actor.hpp"
#include "net/limit_messages.hpp"
#include "runtime/internal/host.hpp"

#include <concurry/concurry.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <future>
#include <thread>

using namespace std::chrono_literals;
using concurry::actors::limit_client;
using concurry::actors::limit_service;

namespace {

/// A limit set behind a limit actor, with a client that reaches it through messages.
struct served_set {
  explicit served_set(std::vector<concurry::limit> limits)
      : host{concurry::runtime_internal::current_host()}, set{std::move(limits)},
        service{*host, set}, client{*host, service} {}

  std::shared_ptr<concurry::actors::actor_host> host;
  concurry::limit_set set;
  limit_service service;
  limit_client client;
};

} // namespace

TEST_CASE("the limit actor grants and refuses from the state the local handles see") {
  served_set s{{concurry::resource_limit{"connections", 2}}};
  auto a = s.client.acquire({{"connections", 1}});
  auto b = s.client.acquire({{"connections", 1}});
  CHECK(a.granted.at("connections") == 1);
  CHECK_FALSE(s.client.try_acquire({{"connections", 1}}));
  CHECK_FALSE(s.set.try_acquire({{"connections", 1}}).successful());
  CHECK(s.set.stats().limits[0].in_use == 2);
  s.client.release(a.id);
  CHECK(s.set.stats().limits[0].in_use == 1);
  auto c = s.client.try_acquire({{"connections", 1}});
  REQUIRE(c);
  s.client.release(c->id);
  s.client.release(b.id);
  CHECK(s.client.stats().limits[0].in_use == 0);
}

TEST_CASE("a waiting acquisition through the actor is granted when a local holder releases") {
  served_set s{{concurry::resource_limit{"connections", 1}}};
  auto local = s.set.acquire({{"connections", 1}});
  auto remote = std::async(std::launch::async, [&] {
    return s.client.acquire({{"connections", 1}});
  });
  CHECK(remote.wait_for(100ms) == std::future_status::timeout);
  local.release();
  auto g = remote.get();
  CHECK(s.set.stats().limits[0].in_use == 1);
  s.client.release(g.id);
  CHECK(s.set.stats().limits[0].in_use == 0);
}

TEST_CASE("usage reported at release refunds through the actor as it does locally") {
  served_set s{{concurry::rate_limit{"tokens", 60s, 100, concurry::rate_algorithm::token_bucket}}};
  auto g = s.client.acquire({{"tokens", 80}});
  s.client.release(g.id, concurry::amounts{{"tokens", 20}});
  CHECK(s.set.stats().limits[0].available == doctest::Approx(80).epsilon(0.01));
}

TEST_CASE("bad requests through the actor fail with the set's own error types") {
  served_set s{{concurry::call_limit{1s, 5}}};
  CHECK_THROWS_AS(s.client.acquire({{"tokens", 1}}), concurry::config_error);
  CHECK_THROWS_AS(s.client.acquire({{"call_count", 6}}), concurry::config_error);
  CHECK_THROWS_AS(s.client.release(12345), concurry::config_error);
  for (int i = 0; i < 5; ++i)
    (void)s.client.acquire({});
  CHECK_THROWS_AS(s.client.acquire({}, 50ms), concurry::timeout_error);
}

TEST_CASE("malformed bytes sent to the limit actor get an error reply, and it keeps serving") {
  served_set s{{concurry::resource_limit{"connections", 1}}};
  for (auto bytes :
       {std::vector<char>{}, std::vector<char>(7, 'x'), std::vector<char>(64, '\xff')}) {
    auto reply = concurry::net::decode_limit_reply(s.client.exchange(bytes));
    CHECK(std::holds_alternative<concurry::net::limit_failure>(reply.body));
  }
  auto g = s.client.acquire({{"connections", 1}});
  s.client.release(g.id);
}

TEST_CASE("what a client held is released when the client goes away") {
  auto host = concurry::runtime_internal::current_host();
  concurry::limit_set set{{concurry::resource_limit{"connections", 1}}};
  limit_service service{*host, set};
  {
    limit_client client{*host, service};
    (void)client.acquire({{"connections", 1}});
    CHECK_FALSE(set.try_acquire({{"connections", 1}}).successful());
  }
  // Granted once the actor has seen the client's end; bounded by the timeout.
  CHECK(set.acquire({{"connections", 1}}, 10s).successful());
}

TEST_CASE("limit messages survive an encode and decode round trip") {
  concurry::net::limit_request r{42, concurry::net::limit_acquire{{{"tokens", 2.5}}, 3s, true}};
  auto back = concurry::net::decode_limit_request(concurry::net::encode(r));
  CHECK(back.id == 42);
  auto& a = std::get<concurry::net::limit_acquire>(back.body);
  CHECK(a.requested.at("tokens") == 2.5);
  CHECK(a.timeout == std::chrono::nanoseconds{3s});
  CHECK(a.try_only);
  CHECK_THROWS_AS(concurry::net::decode_limit_request(std::vector<char>(16, '\x01')),
                  concurry::net::decode_error);
}
