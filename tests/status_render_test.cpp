// Tests of `concurry status`'s rendering: the text for people and the JSON object, on a status
// built by hand.

#include "status_render.hpp"

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>

namespace {

namespace cli = concurry::cli;
namespace net = concurry::net;

constexpr std::int64_t one = 10'000; // units of one whole resource

net::node_status make_node(std::string name, bool alive, std::int64_t cpu_used) {
  net::node_status n;
  n.name = std::move(name);
  n.pid = 4242;
  n.alive = alive;
  n.total = {{"cpu", 2 * one}};
  n.used = {{"cpu", cpu_used}};
  n.silent_ms = alive ? 100 : 5200;
  return n;
}

net::demand_count make_demand(std::int64_t cpu_units, std::uint32_t count) {
  net::demand_count d;
  d.demand.cpu_units = cpu_units;
  d.worker_type = "indexer";
  d.count = count;
  return d;
}

/// Three nodes (two alive, one dead with a quote in its name), one pool, demands and limits.
net::cluster_status sample_status() {
  net::cluster_status s;
  auto n1 = make_node("n1", true, 15'000);
  n1.total.push_back({"gpu", 2 * one});
  n1.total.push_back({"worker:indexer", 100 * one});
  n1.used.push_back({"gpu", one});
  n1.workers = 3;
  s.nodes = {n1, make_node("n2", true, one), make_node("bad\"name", false, 0)};
  s.pools = {{0xff, 1, "indexer", 2, 1, 0}};
  auto pending = make_demand(5'000, 3);
  pending.demand.resources = {{"gpu", one}};
  s.pending = {pending};
  s.infeasible = {make_demand(64 * one, 1)};
  concurry::limit_stats calls{"CallLimit", "call_count", "", 10, 0, 3, 7, 0.3, 0};
  concurry::limit_stats tokens{
      "RateLimit", "tokens", "token_bucket", 100, 60, 50, 50, 0.5, 100 / 60.0};
  s.limits = {calls, tokens};
  s.clients = 2;
  s.uptime_ms = 3'723'000;
  return s;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

/// Whether Python's json module reads `text`; true where there is no Python to ask.
bool python_parses_json(const std::string& text) {
  const char* python = "/usr/bin/python3";
  if (::access(python, X_OK) != 0)
    return true;
  auto path = std::filesystem::temp_directory_path() /
              ("concurry-status-" + std::to_string(::getpid()) + ".json");
  std::ofstream{path} << text;
  auto command =
      std::string{python} + " -c 'import json,sys; json.load(sys.stdin)' < " + path.string();
  int rc = std::system(command.c_str());
  std::filesystem::remove(path);
  return rc == 0;
}

} // namespace

TEST_CASE("the status text lists each node with its pid, state and workers") {
  auto text = cli::render_status(sample_status(), /*json=*/false);
  CHECK(contains(text, "Cluster status: 3 nodes (2 alive), 2 clients, up 1h 2m 3s"));
  CHECK(contains(text, "Node status\n"));
  CHECK(contains(text, " n1        4242  alive  3\n"));
  CHECK(contains(text, " bad\"name  4242  dead   0        silent for 5.2 s\n"));
}

TEST_CASE("the status text sums the resources of the live nodes and shows each node's") {
  auto text = cli::render_status(sample_status(), /*json=*/false);
  CHECK(contains(text, "Total usage (live nodes):\n 2.5/4.0 CPU\n 1.0/2.0 gpu\n"));
  CHECK(contains(text, " n1: 1.5/2.0 CPU, 1.0/2.0 gpu\n  Worker types: indexer\n"));
  CHECK(contains(text, " bad\"name (dead): 0.0/2.0 CPU\n"));
  CHECK_FALSE(contains(text, "worker:indexer"));
}

TEST_CASE("the status text shows pools, pending and infeasible demands, and limits") {
  auto text = cli::render_status(sample_status(), /*json=*/false);
  CHECK(contains(text, " indexer      00000000000000ff  1     2 placed, 1 pending\n"));
  CHECK(contains(text, "Pending:\n {CPU: 0.5, gpu: 1}: 3 pending (indexer)\n"));
  CHECK(contains(text,
                 "Infeasible (no node of the cluster can ever fit these):\n"
                 " {CPU: 64}: 1 infeasible (indexer)\n"));
  CHECK(contains(text, " call_count  CallLimit  -             3/10             30.0%\n"));
  CHECK(contains(text, " tokens      RateLimit  token_bucket  50/100 per 60 s  50.0%\n"));
}

TEST_CASE("the status text of an empty cluster says so in each section") {
  auto text = cli::render_status(net::cluster_status{}, /*json=*/false);
  CHECK(contains(text, " (no nodes)\n"));
  CHECK(contains(text, " (no pools)\n"));
  CHECK(contains(text, " (no pending demands)\n"));
  CHECK(contains(text, " (no limits)\n"));
}

TEST_CASE("the status text replaces control characters in names") {
  auto status = sample_status();
  status.nodes[0].name = "evil\x1b[2J";
  CHECK(contains(cli::render_status(status, /*json=*/false), " evil?[2J "));
}

TEST_CASE("the status JSON holds every section with exact amounts") {
  auto json = cli::render_status(sample_status(), /*json=*/true);
  CHECK(json.starts_with("{\"version\":1,\"uptime_ms\":3723000,\"clients\":2,"));
  CHECK(contains(json, R"("resources":{"cpu":{"used":2.5,"total":4},"gpu":{"used":1,"total":2}})"));
  CHECK(contains(json, R"("worker_types":["indexer"])"));
  CHECK(contains(json, R"({"client":"00000000000000ff","pool":1,"worker_type":"indexer",)"));
  CHECK(contains(json,
                 R"("pending":[{"worker_type":"indexer","count":3,"cpu":0.5,)"
                 R"("resources":{"gpu":1},"strategy":"pack","node":""}])"));
  CHECK(contains(json, R"("key":"tokens","kind":"RateLimit","algorithm":"token_bucket",)"));
  CHECK(json.ends_with("}\n"));
}

TEST_CASE("the status JSON escapes a quote in a node name and parses") {
  auto json = cli::render_status(sample_status(), /*json=*/true);
  CHECK(contains(json, R"("name":"bad\"name")"));
  CHECK(python_parses_json(json));
  CHECK(python_parses_json(cli::render_status(net::cluster_status{}, /*json=*/true)));
}

TEST_CASE("an unlimited capacity is null in JSON and 'unlimited' in text") {
  auto status = sample_status();
  status.limits[0].capacity = std::numeric_limits<double>::infinity();
  CHECK(contains(cli::render_status(status, /*json=*/true), R"("capacity":null)"));
  CHECK(contains(cli::render_status(status, /*json=*/false), "3/unlimited"));
}

TEST_CASE("json_string escapes quotes, backslashes and control characters") {
  CHECK(cli::json_string("a\"b\\c") == R"("a\"b\\c")");
  CHECK(cli::json_string("\n\t\x01") == R"("\n\t\u0001")");
  CHECK(cli::json_string("caf\xc3\xa9") == "\"caf\xc3\xa9\"");
}

TEST_CASE("json_string replaces invalid UTF-8 with U+FFFD") {
  CHECK(cli::json_string("a\xff") == R"("a\ufffd")");
  CHECK(cli::json_string("\xc3") == R"("\ufffd")");
  CHECK(cli::json_string("\xed\xa0\x80") == R"("\ufffd\ufffd\ufffd")"); // a surrogate
}

TEST_CASE("format_units gives the shortest exact decimal of fixed-point units") {
  CHECK(cli::format_units(25'000) == "2.5");
  CHECK(cli::format_units(40'000) == "4");
  CHECK(cli::format_units(1) == "0.0001");
  CHECK(cli::format_units(0) == "0");
  CHECK(cli::format_units(-5'000) == "-0.5");
}
