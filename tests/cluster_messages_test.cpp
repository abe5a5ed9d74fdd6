// The control messages of cluster mode (net/cluster_messages.hpp): every kind round-trips, and
// untrusted bytes (cut short, corrupted, or well-formed but invalid) only ever throw decode_error.
#include "net/cluster_messages.hpp"

#include <concurry/limits.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <random>
#include <set>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

using concurry::call_limit;
using concurry::limit;
using concurry::limit_stats;
using concurry::rate_algorithm;
using concurry::rate_limit;
using concurry::resource_limit;
using namespace concurry::net;
using namespace std::chrono_literals;

namespace {

worker_demand sample_demand() {
  return {25'000, {{"gpu", 20'000}, {"memory", 7}}, worker_demand::placement::named, "n2"};
}

host_target sample_target() {
  return {"10.0.0.5", 40'123, "s3cret"};
}

worker_exited sample_exit() {
  return {{11, 12, 13}, 4'321, "killed by signal 9 (SIGKILL)", /*reaped=*/false};
}

place_worker sample_place() {
  return {{21, 22, 23}, "shop::cart", sample_demand(), sample_target()};
}

limit_stats sample_stats() {
  return {"RateLimit", "tokens", "gcra", 100, 60, 30, 70, 0.3, 100.0 / 60};
}

cluster_status sample_status() {
  cluster_status out;
  out.nodes = {
      {"n1", 77, /*alive=*/false, {{"cpu", 40'000}}, {{"cpu", 15'000}}, 3, {"shop::cart"}, 900}};
  out.pools = {{31, 32, "shop::cart", 4, 5, 6}};
  out.pending = {{sample_demand(), "shop::cart", 2}};
  out.infeasible = {{sample_demand(), "shop::till", 9}};
  out.limits = {sample_stats()};
  out.clients = 8;
  out.uptime_ms = 123'456;
  return out;
}

create_limits sample_limits() {
  return {{{call_limit{1s, 10, rate_algorithm::token_bucket},
            rate_limit{"tokens", 1min, 500, rate_algorithm::gcra}},
           {resource_limit{"connections", 4}}}};
}

// One message of every kind, every field away from its default.
std::vector<cluster_message> every_kind() {
  return {
      node_join{"token-1",
                "n1",
                {{"cpu", 40'000}, {"gpu", 10'000}},
                {"shop::cart", "shop::till"},
                1'234,
                {{{1, 2, 3}, sample_demand(), "shop::cart", 5'678}}},
      node_heartbeat{99},
      worker_started{{4, 5, 6}, 2'468},
      sample_exit(),
      start_worker{{7, 8, 9}, "shop::cart", sample_target(), sample_demand(), "10.0.0.1", 6'381},
      stop_worker_host{{10, 11, 12}},
      shutdown_node{},
      client_hello{"token-2", 0xfeedface, 1'357},
      sample_place(),
      release_worker{{41, 42, 43}},
      fit_request{sample_place()},
      ping{17},
      status_request{"token-3"},
      stop_cluster{"token-4"},
      worker_placed{{51, 52, 53}, "n3"},
      worker_lost{sample_exit()},
      joined{250},
      welcome{},
      refused{"wrong token", /*auth=*/true},
      waiting{/*infeasible=*/true, "no node has a gpu"},
      fits{12},
      pong{18},
      sample_status(),
      stopping{},
      sample_limits(),
  };
}

bool same(const limit& a, const limit& b) {
  if (a.index() != b.index())
    return false;
  return std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        auto& y = std::get<T>(b);
        if constexpr (std::is_same_v<T, resource_limit>)
          return x.key() == y.key() && x.capacity() == y.capacity();
        else
          return x.key() == y.key() && x.window() == y.window() && x.capacity() == y.capacity() &&
                 x.algorithm() == y.algorithm();
      },
      a);
}

bool same(const limit_stats& a, const limit_stats& b) {
  return a.kind == b.kind && a.key == b.key && a.algorithm == b.algorithm &&
         a.capacity == b.capacity && a.window_seconds == b.window_seconds && a.in_use == b.in_use &&
         a.available == b.available && a.utilization == b.utilization && a.max_rate == b.max_rate;
}

template <class T, class Same>
bool same_lists(const std::vector<T>& a, const std::vector<T>& b, Same same_one) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), same_one);
}

// Limits and their statistics have no operator==: compare them field by field.
bool same(const cluster_message& a, const cluster_message& b) {
  if (a.index() != b.index())
    return false;
  return std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        auto& y = std::get<T>(b);
        if constexpr (std::is_same_v<T, create_limits>) {
          return same_lists(x.sets, y.sets, [](auto& p, auto& q) {
            return same_lists(p, q, [](auto& l, auto& m) { return same(l, m); });
          });
        } else if constexpr (std::is_same_v<T, cluster_status>) {
          return x.nodes == y.nodes && x.pools == y.pools && x.pending == y.pending &&
                 x.infeasible == y.infeasible && x.clients == y.clients &&
                 x.uptime_ms == y.uptime_ms &&
                 same_lists(x.limits, y.limits, [](auto& l, auto& m) { return same(l, m); });
        } else {
          return x == y;
        }
      },
      a);
}

// Overwrites the one occurrence of `from`'s bytes in `bytes` with `to`'s.
template <class T>
std::vector<char> replace(std::vector<char> bytes, T from, T to) {
  char pattern[sizeof(T)];
  std::memcpy(pattern, &from, sizeof(T));
  auto at = std::search(bytes.begin(), bytes.end(), pattern, pattern + sizeof(T));
  REQUIRE(at != bytes.end());
  REQUIRE(std::search(at + 1, bytes.end(), pattern, pattern + sizeof(T)) == bytes.end());
  std::memcpy(&*at, &to, sizeof(T));
  return bytes;
}

// A demand whose cpu units are a value found once in its encoding.
constexpr std::int64_t marked_cpu_units = 0x0102030405060708;

std::vector<char> encoded_place(const worker_demand& demand) {
  auto place = sample_place();
  place.demand = demand;
  place.demand.cpu_units = marked_cpu_units;
  return encode(place);
}

} // namespace

TEST_SUITE_BEGIN("net");

TEST_CASE("every kind of cluster message round-trips with every field set") {
  std::set<std::size_t> kinds;
  for (auto& message : every_kind()) {
    CAPTURE(message.index());
    kinds.insert(message.index());
    CHECK(same(decode_cluster_message(encode(message)), message));
  }
  CHECK(kinds.size() == std::variant_size_v<cluster_message>);
}

TEST_CASE("a cluster message cut short or empty throws decode_error") {
  auto full = encode(sample_status());
  for (std::size_t cut : {std::size_t{1}, std::size_t{8}, full.size() / 2, full.size() - 8}) {
    CAPTURE(cut);
    CHECK_THROWS_AS(decode_cluster_message({full.begin(), full.end() - cut}), decode_error);
  }
  CHECK_THROWS_AS(decode_cluster_message({}), decode_error);
}

TEST_CASE("corrupted cluster messages throw decode_error, and never anything else") {
  auto kinds = every_kind();
  std::mt19937 random{20'251'205};
  std::size_t unexpected = 0;
  for (int i = 0; i < 5'000; ++i) {
    auto input = encode(kinds[static_cast<std::size_t>(i) % kinds.size()]);
    input[std::uniform_int_distribution<std::size_t>{0, input.size() - 1}(random)] =
        static_cast<char>(random());
    try {
      (void)decode_cluster_message(input);
    } catch (const decode_error&) {
    } catch (...) {
      ++unexpected;
    }
  }
  CHECK(unexpected == 0);
}

TEST_CASE("a create_limits holding an invalid limit throws decode_error") {
  auto valid = encode(create_limits{{{resource_limit{"connections", 4}}}});
  CHECK_THROWS_AS(decode_cluster_message(replace(valid, 4.0, -4.0)), decode_error);
  CHECK_THROWS_AS(decode_cluster_message(replace(valid, 4.0, 0.5)), decode_error);
}

TEST_CASE("a create_limits holding two limits of one key throws decode_error") {
  auto valid = encode(create_limits{{{resource_limit{"aaaa", 4}, resource_limit{"bbbb", 4}}}});
  auto twice = replace(valid, std::array{'b', 'b', 'b', 'b'}, std::array{'a', 'a', 'a', 'a'});
  CHECK_THROWS_AS(decode_cluster_message(twice), decode_error);
}

TEST_CASE("a demand of negative cpu or resource units throws decode_error") {
  auto demand = sample_demand();
  demand.resources = {{"gpu", 0x0a0b0c0d0e0f1011}};
  auto valid = encoded_place(demand);
  REQUIRE_NOTHROW(decode_cluster_message(valid));
  CHECK_THROWS_AS(decode_cluster_message(replace(valid, marked_cpu_units, std::int64_t{-1})),
                  decode_error);
  CHECK_THROWS_AS(
      decode_cluster_message(replace(valid, std::int64_t{0x0a0b0c0d0e0f1011}, std::int64_t{-2})),
      decode_error);
}

TEST_CASE("a demand of an unknown strategy throws decode_error") {
  auto valid = encoded_place(sample_demand());
  // Demand's data section holds cpuUnits in its first word and strategy in the next two bytes.
  auto strategy = std::array<char, 10>{};
  std::memcpy(strategy.data(), &marked_cpu_units, 8);
  strategy[8] = 2; // named
  auto unknown = strategy;
  unknown[8] = 7;
  CHECK_THROWS_AS(decode_cluster_message(replace(valid, strategy, unknown)), decode_error);
}

TEST_CASE("a demand for a named node that names none throws decode_error") {
  auto demand = sample_demand();
  demand.node.clear();
  CHECK_THROWS_AS(decode_cluster_message(encoded_place(demand)), decode_error);
}

TEST_CASE("a resource without a name throws decode_error") {
  auto demand = sample_demand();
  demand.resources = {{"", 5}};
  CHECK_THROWS_AS(decode_cluster_message(encoded_place(demand)), decode_error);
}

TEST_CASE("a cluster message with an overlong name throws decode_error") {
  auto place = sample_place();
  place.worker_type = std::string(100'000, 'w');
  CHECK_THROWS_AS(decode_cluster_message(encode(place)), decode_error);
}

TEST_SUITE_END();
