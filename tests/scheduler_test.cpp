// The placement scheduler without processes: fixed-point amounts, the node table, pack, spread
// and named placement, the pending queue and infeasible requests, at up to thousands of workers
// and nodes; and the rate of placement decisions over 1,000 simulated nodes.
#include "scheduler/amount.hpp"
#include "scheduler/scheduler.hpp"

#include <concurry/error.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <iterator>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

using concurry::scheduler::amount;
using concurry::scheduler::node_id;
using concurry::scheduler::request_id;
using concurry::scheduler::request_state;
using concurry::scheduler::resource_set;
using concurry::scheduler::strategy;
using concurry::scheduler::worker_request;

namespace {

amount cpus(double value) {
  return amount::from_double(value);
}

std::string node_name(int index) {
  std::string name = "n";
  name += std::to_string(index);
  return name;
}

/// A cluster of nodes in one scheduler, spoken of in nodes and workers.
class cluster {
public:
  node_id add(const std::string& name, double cpu_count, resource_set custom = {}) {
    custom["cpu"] = cpus(cpu_count);
    auto joined = sched.add_node(name, custom);
    last_placed = joined.placed.size();
    return joined.id;
  }

  request_id ask(double cpu_count,
                 strategy how = strategy::pack,
                 resource_set custom = {},
                 std::string node = {}) {
    worker_request request;
    request.cpus = cpus(cpu_count);
    request.resources = std::move(custom);
    request.placement_strategy = how;
    request.node = std::move(node);
    return sched.submit(request).id;
  }

  std::vector<request_id> ask_many(int count, double cpu_count, strategy how = strategy::pack) {
    std::vector<request_id> ids;
    for (int i = 0; i < count; ++i)
      ids.push_back(ask(cpu_count, how));
    return ids;
  }

  request_state state(request_id id) const { return sched.state_of(id); }
  std::size_t workers_on(node_id id) const { return sched.worker_count(id); }

  concurry::scheduler::scheduler sched;
  std::size_t last_placed = 0;
};

} // namespace

TEST_SUITE_BEGIN("scheduler");

TEST_CASE("amount: 1 CPU is 10,000 units and 0.0001 is one") {
  CHECK(cpus(1).units() == 10'000);
  CHECK(cpus(0.0001).units() == 1);
  CHECK(cpus(0.18).units() == 1'800);
  CHECK(cpus(0.5) + cpus(0.5) == amount::from_wholes(1));
  CHECK(cpus(0).is_zero());
}

TEST_CASE("amount: negative, NaN, infinite, too large or too fine is a config_error") {
  CHECK_THROWS_AS((void)cpus(-0.5), concurry::config_error);
  CHECK_THROWS_AS((void)cpus(std::nan("")), concurry::config_error);
  CHECK_THROWS_AS((void)cpus(std::numeric_limits<double>::infinity()), concurry::config_error);
  CHECK_THROWS_AS((void)cpus(1e12), concurry::config_error);
  CHECK_THROWS_AS((void)cpus(0.00005), concurry::config_error);
  CHECK_THROWS_AS((void)cpus(1.23456), concurry::config_error);
  CHECK_THROWS_AS((void)cpus(1'000'000.00005), concurry::config_error);
  CHECK(cpus(1'000'000.0001).units() == 10'000'000'001);
  CHECK(cpus(999'999'999.9999).units() == 9'999'999'999'999);
}

TEST_CASE("amount: the error names the option and says why") {
  try {
    (void)amount::from_double(0.00001, "num_cpus");
    FAIL("no error");
  } catch (const concurry::config_error& e) {
    CHECK(std::string(e.what()).find("num_cpus") != std::string::npos);
    CHECK(std::string(e.what()).find("finer than 0.0001") != std::string::npos);
  }
}

TEST_CASE("amount: decimal text parses exactly and prints back") {
  CHECK(amount::parse("2").units() == 20'000);
  CHECK(amount::parse("0.5").units() == 5'000);
  CHECK(amount::parse("0.0001").units() == 1);
  CHECK(amount::parse("1.50000").units() == 15'000);
  CHECK(amount::parse("0.18").to_string() == "0.18");
  CHECK(amount::parse("3").to_string() == "3");
  CHECK(amount::from_units(1).to_string() == "0.0001");
  for (const char* bad : {"", "-1", "1e3", ".5", "5.", "0.00001", "abc", "1.2.3", "99999999999"})
    CHECK_THROWS_AS((void)amount::parse(bad, "--resources"), concurry::config_error);
}

TEST_CASE("node table: nodes join with totals, names are unique, removed nodes are gone") {
  cluster c;
  auto a = c.add("a", 4, {{"accel", amount::from_wholes(8)}});
  auto b = c.add("b", 2);
  CHECK(c.sched.node_count() == 2);
  CHECK(c.sched.total(a, "cpu") == cpus(4));
  CHECK(c.sched.total(a, "accel") == amount::from_wholes(8));
  CHECK(c.sched.total(b, "accel").is_zero());
  CHECK(c.sched.find_node("b") == b);
  CHECK_THROWS_AS(c.add("a", 1), std::invalid_argument);
  c.sched.remove_node(a);
  CHECK(c.sched.node_count() == 1);
  CHECK_FALSE(c.sched.find_node("a"));
  CHECK_THROWS_AS((void)c.sched.total(a, "cpu"), std::out_of_range);
}

TEST_CASE("a node of 4 CPUs and workers of 1.5 CPU: 2 placed, the third pending") {
  cluster c;
  auto node = c.add("n", 4);
  auto ids = c.ask_many(3, 1.5);
  CHECK(c.state(ids[0]) == request_state::placed);
  CHECK(c.state(ids[1]) == request_state::placed);
  CHECK(c.state(ids[2]) == request_state::pending);
  CHECK(c.sched.used(node, "cpu") == cpus(3));
  CHECK(c.sched.pending() == std::vector<request_id>{ids[2]});
}

TEST_CASE("release returns the resources and places the pending worker") {
  cluster c;
  auto node = c.add("n", 4);
  auto ids = c.ask_many(3, 1.5);
  auto placed = c.sched.release(ids[0]);
  REQUIRE(placed.size() == 1);
  CHECK(placed[0].request == ids[2]);
  CHECK(placed[0].node == node);
  CHECK(c.sched.used(node, "cpu") == cpus(3));
  CHECK(c.sched.pending().empty());
  CHECK_THROWS_AS(c.sched.release(ids[0]), std::out_of_range);
}

TEST_CASE("two nodes with 8 accel each and 80 workers asking 0.18: all placed") {
  cluster c;
  auto a = c.add("a", 1, {{"accel", amount::from_wholes(8)}});
  auto b = c.add("b", 1, {{"accel", amount::from_wholes(8)}});
  for (int i = 0; i < 80; ++i)
    c.ask(0, strategy::pack, {{"accel", cpus(0.18)}});
  CHECK(c.sched.placed_count() == 80);
  CHECK(c.sched.pending().empty());
  // 44 fit on one node (44 x 0.18 = 7.92); pack fills the first before the second.
  CHECK(c.workers_on(a) == 44);
  CHECK(c.workers_on(b) == 36);
  CHECK(c.sched.used(a, "accel") == amount::parse("7.92"));
}

TEST_CASE("20 workers of 0 CPU spread over 20 nodes: one per node") {
  cluster c;
  std::vector<node_id> nodes;
  for (int i = 0; i < 20; ++i)
    nodes.push_back(c.add(node_name(i), 1));
  c.ask_many(20, 0, strategy::spread);
  for (auto node : nodes)
    CHECK(c.workers_on(node) == 1);
}

TEST_CASE("10,000 workers of 0.0001 CPU fill one CPU exactly and the next is pending") {
  cluster c;
  auto node = c.add("n", 1);
  auto ids = c.ask_many(10'000, 0.0001);
  CHECK(c.sched.placed_count() == 10'000);
  CHECK(c.sched.used(node, "cpu") == cpus(1));
  auto next = c.ask(0.0001);
  CHECK(c.state(next) == request_state::pending);
  c.sched.release(ids[1234]);
  CHECK(c.state(next) == request_state::placed);
}

TEST_CASE("two nodes of 2 CPUs and 8 workers of 0.5: 4 per node, a ninth placed on a third") {
  for (auto how : {strategy::pack, strategy::spread}) {
    cluster c;
    auto a = c.add("a", 2);
    auto b = c.add("b", 2);
    c.ask_many(8, 0.5, how);
    CHECK(c.workers_on(a) == 4);
    CHECK(c.workers_on(b) == 4);
    auto ninth = c.ask(0.5, how);
    CHECK(c.state(ninth) == request_state::pending);
    auto third = c.add("c", 2);
    CHECK(c.last_placed == 1);
    CHECK(c.sched.node_of(ninth) == third);
  }
}

TEST_CASE("pack takes the most-used node that fits, spread the least-used") {
  cluster c;
  auto a = c.add("a", 4);
  auto b = c.add("b", 4);
  c.ask(1, strategy::named, {}, "b");
  CHECK(c.sched.node_of(c.ask(1, strategy::pack)) == b);
  CHECK(c.sched.node_of(c.ask(1, strategy::spread)) == a);
  // b is full after two more; pack moves on to a rather than wait.
  c.ask(2, strategy::named, {}, "b");
  CHECK(c.sched.node_of(c.ask(1, strategy::pack)) == a);
}

TEST_CASE("spread counts custom resources in how used a node is") {
  cluster c;
  auto a = c.add("a", 4, {{"gpu", amount::from_wholes(2)}});
  auto b = c.add("b", 4, {{"gpu", amount::from_wholes(2)}});
  c.ask(0, strategy::pack, {{"gpu", amount::from_wholes(1)}});
  CHECK(c.sched.node_of(c.ask(1, strategy::spread)) == b);
  CHECK(c.workers_on(a) == 1);
}

TEST_CASE("named: that node, or pending until it has room") {
  cluster c;
  c.add("a", 2);
  auto b = c.add("b", 1);
  auto first = c.ask(1, strategy::named, {}, "b");
  auto second = c.ask(1, strategy::named, {}, "b");
  CHECK(c.sched.node_of(first) == b);
  CHECK(c.state(second) == request_state::pending);
  // Room on another node does not help a named request.
  CHECK(c.sched.release(c.ask(1)).empty());
  c.sched.release(first);
  CHECK(c.sched.node_of(second) == b);
  CHECK_THROWS_AS(c.ask(1, strategy::named), concurry::config_error);
}

TEST_CASE("a large pending request never blocks smaller ones that fit") {
  cluster c;
  auto node = c.add("n", 4);
  auto filler = c.ask_many(4, 1);
  auto large = c.ask(3);
  auto small = c.ask_many(2, 1);
  CHECK(c.sched.pending().size() == 3);
  // One CPU frees up: the large request still does not fit, the first small one does.
  auto placed = c.sched.release(filler[0]);
  REQUIRE(placed.size() == 1);
  CHECK(placed[0].request == small[0]);
  CHECK(c.state(large) == request_state::pending);
  // Another CPU: the second small one; two more still leave the large one short of three.
  c.sched.release(filler[1]);
  CHECK(c.state(small[1]) == request_state::placed);
  c.sched.release(filler[2]);
  c.sched.release(filler[3]);
  CHECK(c.state(large) == request_state::pending);
  CHECK(c.sched.used(node, "cpu") == cpus(2));
  c.sched.release(small[0]);
  CHECK(c.sched.node_of(large) == node);
  CHECK(c.sched.used(node, "cpu") == cpus(4));
}

TEST_CASE("pending requests are placed in arrival order") {
  cluster c;
  auto node = c.add("n", 1);
  auto first = c.ask(1);
  auto waiting = c.ask_many(3, 0.5);
  auto placed = c.sched.release(first);
  REQUIRE(placed.size() == 2);
  CHECK(placed[0].request == waiting[0]);
  CHECK(placed[1].request == waiting[1]);
  CHECK(c.sched.pending() == std::vector<request_id>{waiting[2]});
  CHECK(c.sched.used(node, "cpu") == cpus(1));
}

TEST_CASE("a request larger than every node, or for a resource no node has, is infeasible") {
  cluster c;
  c.add("a", 2);
  c.add("b", 4);
  auto too_large = c.ask(5);
  auto no_gpu = c.ask(0, strategy::pack, {{"gpu", amount::from_wholes(1)}});
  auto no_node = c.ask(1, strategy::named, {}, "z");
  auto fits_later = c.ask_many(2, 3);
  CHECK(c.sched.infeasible() == std::vector<request_id>{too_large, no_gpu, no_node});
  CHECK(c.state(fits_later[1]) == request_state::pending);
  // Releasing resources does not place them; a node that can hold them does.
  c.sched.release(fits_later[0]);
  CHECK(c.state(too_large) == request_state::infeasible);
  CHECK(c.state(fits_later[1]) == request_state::placed);
  auto gpu_node = c.add("g", 8, {{"gpu", amount::from_wholes(1)}});
  CHECK(c.sched.node_of(too_large) == gpu_node);
  CHECK(c.sched.node_of(no_gpu) == gpu_node);
  auto z = c.add("z", 1);
  CHECK(c.sched.node_of(no_node) == z);
  CHECK(c.sched.infeasible().empty());
}

TEST_CASE("an infeasible request a joining node could hold but not yet is pending") {
  cluster c;
  c.add("a", 1);
  auto big = c.ask(2);
  CHECK(c.state(big) == request_state::infeasible);
  auto b = c.add("b", 2);
  CHECK(c.sched.node_of(big) == b);
  auto second = c.ask(2);
  CHECK(c.state(second) == request_state::pending);
  c.sched.release(big);
  CHECK(c.sched.node_of(second) == b);
}

TEST_CASE("removing a node returns its workers and makes what only it could hold infeasible") {
  cluster c;
  auto a = c.add("a", 2);
  auto b = c.add("b", 4);
  auto on_a = c.ask(2, strategy::named, {}, "a");
  c.ask(2, strategy::named, {}, "b");
  c.ask(2, strategy::named, {}, "b");
  auto big = c.ask_many(2, 4);
  REQUIRE(c.state(big[1]) == request_state::pending);
  auto [lost, now_infeasible] = c.sched.remove_node(b);
  CHECK(lost.size() == 2);
  CHECK(now_infeasible == big);
  CHECK(c.sched.infeasible() == big);
  CHECK(c.sched.placed_count() == 1);
  CHECK(c.sched.node_of(on_a) == a);
  CHECK_THROWS_AS(c.sched.release(lost[0]), std::out_of_range);
  // The node's name is free again: a restarted node rejoins and takes the first big request;
  // the second can fit there once it is free, so it is pending again.
  auto back = c.add("b", 4);
  CHECK(c.sched.node_of(big[0]) == back);
  CHECK(c.state(big[1]) == request_state::pending);
}

TEST_CASE("releasing a waiting request takes it off the queue") {
  cluster c;
  c.add("n", 1);
  auto first = c.ask(1);
  auto second = c.ask(1);
  CHECK(c.sched.release(second).empty());
  CHECK(c.sched.pending().empty());
  CHECK(c.sched.release(first).empty());
}

TEST_CASE("thousands of workers over dozens of nodes: exact accounting, nothing lost") {
  cluster c;
  std::vector<node_id> nodes;
  for (int i = 0; i < 48; ++i)
    nodes.push_back(c.add(node_name(i), 1 + i % 4));
  // 120 CPUs in all; 0.03 CPU workers: 4,000 fit exactly.
  std::vector<request_id> ids;
  for (int i = 0; i < 4'100; ++i)
    ids.push_back(c.ask(0.03, i % 2 == 0 ? strategy::pack : strategy::spread));
  CHECK(c.sched.placed_count() == 3'984);
  CHECK(c.sched.pending().size() == 116);
  for (std::size_t i = 0; i < ids.size(); i += 2)
    c.sched.release(ids[i]);
  CHECK(c.sched.pending().empty());
  amount used;
  for (auto node : nodes)
    used += c.sched.used(node, "cpu");
  CHECK(used == amount::from_units(c.sched.placed_count() * 300));
  CHECK(c.sched.placed_count() == 2'050);
}

TEST_CASE("cpu among the custom resources adds to the CPUs asked for") {
  cluster c;
  auto node = c.add("n", 2);
  auto id = c.ask(0.5, strategy::pack, {{"cpu", cpus(1)}});
  CHECK(c.sched.used(node, "cpu") == cpus(1.5));
  CHECK(c.state(c.ask(1)) == request_state::pending);
  c.sched.release(id);
  CHECK(c.sched.used(node, "cpu") == cpus(1));
}

TEST_CASE("random joins, leaves, requests and releases keep the books and the queue right") {
  cluster c;
  std::mt19937 random(7);
  std::map<request_id, std::pair<amount, amount>> asked; // cpu, accel
  std::vector<node_id> nodes;
  std::size_t pending_seen = 0;
  std::size_t infeasible_seen = 0;
  auto pick = [&](std::size_t size) {
    return std::uniform_int_distribution<std::size_t>(0, size - 1)(random);
  };
  for (int step = 0; step < 3'000; ++step) {
    auto roll = pick(100);
    if (roll < 3 || nodes.empty()) {
      nodes.push_back(
          c.add(node_name(step),
                1 + static_cast<double>(pick(8)) / 2,
                {{"accel", amount::from_units(static_cast<std::int64_t>(pick(3)) * 10'000)}}));
    } else if (roll < 5 && nodes.size() > 1) {
      auto index = pick(nodes.size());
      for (auto lost : c.sched.remove_node(nodes[index]).lost)
        asked.erase(lost);
      nodes.erase(nodes.begin() + static_cast<std::ptrdiff_t>(index));
    } else if (roll < 60) {
      auto cpu = amount::from_units(static_cast<std::int64_t>(pick(4)) * 2'500);
      auto accel = amount::from_units(pick(4) == 0 ? 3'300 : 0);
      auto id = c.ask(
          cpu.to_double(), pick(2) == 0 ? strategy::pack : strategy::spread, {{"accel", accel}});
      asked[id] = {cpu, accel};
    } else if (!asked.empty()) {
      auto it = std::next(asked.begin(), static_cast<std::ptrdiff_t>(pick(asked.size())));
      c.sched.release(it->first);
      asked.erase(it);
    }

    // Every node's use is the sum of what its requests asked, within its total.
    std::map<node_id, std::pair<amount, amount>> sums;
    for (const auto& [id, need] : asked) {
      if (auto node = c.sched.node_of(id)) {
        sums[*node].first += need.first;
        sums[*node].second += need.second;
      }
    }
    for (auto node : nodes) {
      REQUIRE(c.sched.used(node, "cpu") == sums[node].first);
      REQUIRE(c.sched.used(node, "accel") == sums[node].second);
      REQUIRE(c.sched.used(node, "cpu") <= c.sched.total(node, "cpu"));
      REQUIRE(c.sched.used(node, "accel") <= c.sched.total(node, "accel"));
    }
    // A pending request fits on no node now; an infeasible one on no node even empty.
    for (auto id : c.sched.pending()) {
      ++pending_seen;
      auto [cpu, accel] = asked.at(id);
      for (auto node : nodes)
        REQUIRE_FALSE((c.sched.total(node, "cpu") - c.sched.used(node, "cpu") >= cpu &&
                       c.sched.total(node, "accel") - c.sched.used(node, "accel") >= accel));
    }
    for (auto id : c.sched.infeasible()) {
      ++infeasible_seen;
      auto [cpu, accel] = asked.at(id);
      for (auto node : nodes)
        REQUIRE_FALSE((c.sched.total(node, "cpu") >= cpu && c.sched.total(node, "accel") >= accel));
    }
  }
  // The walk went through every state, or it proved little.
  CHECK(c.sched.placed_count() > 0);
  CHECK(pending_seen > 0);
  CHECK(infeasible_seen > 0);
}

TEST_CASE("placement rate over 1,000 simulated nodes") {
  cluster c;
  for (int i = 0; i < 1'000; ++i)
    c.add(node_name(i), 16, {{"gpu", amount::from_wholes(i % 4 == 0 ? 2 : 0)}});
  std::vector<request_id> live;
  constexpr int decisions = 200'000;
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < decisions; ++i) {
    auto how = i % 3 == 0 ? strategy::spread : strategy::pack;
    resource_set custom;
    if (i % 100 == 0)
      custom["gpu"] = cpus(0.5);
    live.push_back(c.ask(0.25, how, custom));
    // Keep the cluster around three quarters full: release the oldest when past the mark.
    if (live.size() > 48'000) {
      c.sched.release(live[live.size() - 48'000]);
    }
  }
  auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("scheduler: %d placement decisions over 1,000 nodes in %.3f s: %.0f per second\n",
              decisions,
              seconds,
              decisions / seconds);
  CHECK(c.sched.placed_count() > 0);
}

TEST_SUITE_END();
