// Cluster mode as a system: a real concurry-head and nodes as processes on 127.0.0.1 with
// ephemeral ports, pools across them, nodes killed and frozen, a head that dies and comes back.
// Nodes are this test binary started with CONCURRY_NODE=1 (an application binary as a node),
// or concurry-node with a worker library.
#include "cluster_workers.hpp"
#include "runtime/internal/cluster_admin.hpp"
#include "tests/intervals.hpp"

#include <doctest/doctest.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

extern char** environ;

namespace {

using namespace std::chrono_literals;
using cluster_test::library_worker;
using cluster_test::locator;
namespace ri = concurry::runtime_internal;

struct child {
  pid_t pid = 0;
  int out = -1; // its stdout, when captured
};

// Starts `argv` with this environment plus `extra`; captures stdout (and stderr) when asked.
child spawn(const std::vector<std::string>& argv,
            const std::vector<std::string>& extra = {},
            bool capture = false) {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string entry = *e;
    bool replaced = false;
    for (auto& x : extra)
      if (entry.substr(0, entry.find('=') + 1) == x.substr(0, x.find('=') + 1))
        replaced = true;
    if (!replaced)
      env.push_back(entry);
  }
  env.insert(env.end(), extra.begin(), extra.end());
  std::vector<char*> args;
  for (auto& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<char*> envp;
  for (auto& e : env)
    envp.push_back(e.data());
  envp.push_back(nullptr);
  int fds[2] = {-1, -1};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (capture) {
    REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
  }
  child c;
  REQUIRE(::posix_spawn(&c.pid, args[0], &actions, nullptr, args.data(), envp.data()) == 0);
  posix_spawn_file_actions_destroy(&actions);
  if (capture) {
    ::close(fds[1]);
    c.out = fds[0];
  }
  return c;
}

// Reads `fd` until a line contains `marker` or `timeout` passes; the text read.
std::string read_until(int fd, const std::string& marker, std::chrono::milliseconds timeout) {
  std::string text;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (text.find(marker) == std::string::npos) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0)
      break;
    char buffer[4096];
    auto n = ::read(fd, buffer, sizeof buffer);
    if (n <= 0)
      break;
    text.append(buffer, static_cast<std::size_t>(n));
  }
  return text;
}

// The exit code of `pid` within `timeout`; -1 when it still runs, 128+n when killed by n.
int wait_exit(pid_t pid, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid)
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (std::chrono::steady_clock::now() > deadline)
      return -1;
    std::this_thread::sleep_for(20ms);
  }
}

std::string self_path() {
  char path[4096] = {};
  auto n = ::readlink("/proc/self/exe", path, sizeof path - 1);
  REQUIRE(n > 0);
  return std::string{path, static_cast<std::size_t>(n)};
}

/// A head and its nodes, all ended (SIGKILL) with the fixture.
struct test_cluster {
  std::string token = "cluster-test-token";
  child head;
  std::uint16_t port = 0;
  std::map<std::string, pid_t> nodes;

  explicit test_cluster(std::uint16_t fixed_port = 0) { start_head(fixed_port); }
  test_cluster(const test_cluster&) = delete;
  test_cluster& operator=(const test_cluster&) = delete;

  ~test_cluster() {
    for (auto& [name, pid] : nodes) {
      ::kill(pid, SIGCONT);
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    kill_head();
  }

  void start_head(std::uint16_t at) {
    head = spawn({CONCURRY_HEAD_BINARY,
                  "--port",
                  std::to_string(at),
                  "--token",
                  token,
                  "--log-level",
                  "warn"},
                 {},
                 true);
    auto text = read_until(head.out, "listening on 127.0.0.1:", 10s);
    auto at_text = text.find("listening on 127.0.0.1:");
    REQUIRE_MESSAGE(at_text != std::string::npos, text);
    port = static_cast<std::uint16_t>(std::stoi(text.substr(at_text + 23)));
  }

  void kill_head() {
    if (head.pid > 0) {
      ::kill(head.pid, SIGKILL);
      ::waitpid(head.pid, nullptr, 0);
      ::close(head.out);
      head = {};
    }
  }

  std::string address() const { return "127.0.0.1:" + std::to_string(port); }

  /// This binary as a node of `cpus` CPUs and `resources` ("gpu=1"); returns once it joined.
  pid_t add_node(const std::string& name, double cpus, const std::string& resources = "") {
    auto c = spawn({self_path()},
                   {"CONCURRY_NODE=1",
                    "CONCURRY_ADDRESS=" + address(),
                    "CONCURRY_TOKEN=" + token,
                    "CONCURRY_NUM_CPUS=" + std::to_string(cpus),
                    "CONCURRY_RESOURCES=" + resources,
                    "CONCURRY_NODE_NAME=" + name,
                    "CONCURRY_LOG_LEVEL=error"});
    nodes[name] = c.pid;
    REQUIRE_MESSAGE(concurry_test::eventually([&] { return has_node(name); }),
                    "node " << name << " did not join");
    return c.pid;
  }

  concurry::net::cluster_status status() const {
    return ri::query_cluster_status(ri::parse_cluster_address(address()), token, 5s);
  }

  bool has_node(const std::string& name) const {
    try {
      for (auto& n : status().nodes)
        if (n.name == name)
          return true;
    } catch (const concurry::error&) {
    }
    return false;
  }

  /// Workers placed on the node of that name, as the head counts them.
  std::uint32_t workers_on(const std::string& name) const {
    for (auto& n : status().nodes)
      if (n.name == name)
        return n.workers;
    return 0;
  }

  std::uint32_t placed_workers() const {
    std::uint32_t placed = 0;
    for (auto& p : status().pools)
      placed += p.placed;
    return placed;
  }

  template <class W>
  auto options() const {
    return W::options()
        .mode(concurry::mode::cluster)
        .cluster_address(address())
        .cluster_token(token);
  }
};

} // namespace

TEST_CASE("two nodes of 2 CPUs hold 8 workers of 0.5 CPU, 4 each; a ninth waits for a third node") {
  test_cluster c;
  auto n1 = c.add_node("n1", 2);
  auto n2 = c.add_node("n2", 2);
  auto pool = c.options<locator>()
                  .max_workers(9)
                  .num_cpus(0.5)
                  .placement(concurry::placement::spread)
                  .init();
  CHECK(c.workers_on("n1") == 4);
  CHECK(c.workers_on("n2") == 4);
  auto s = c.status();
  REQUIRE(s.pools.size() == 1);
  CHECK(s.pools[0].placed == 8);
  CHECK(s.pools[0].pending == 1);
  REQUIRE(s.pending.size() == 1);
  CHECK(s.pending[0].count == 1);
  // The pool serves with the 8 it has.
  std::set<int> nodes;
  for (int i = 0; i < 32; ++i)
    nodes.insert(pool.call(&locator::node_pid).result(10s));
  CHECK(nodes == std::set<int>{n1, n2});

  auto n3 = c.add_node("n3", 2);
  CHECK(concurry_test::eventually([&] { return c.workers_on("n3") == 1; }));
  CHECK(c.status().pools[0].pending == 0);
  // Every worker serves, the ninth included.
  std::set<int> all;
  for (auto& f : pool.broadcast(&locator::node_pid))
    all.insert(f.result(10s));
  CHECK(all == std::set<int>{n1, n2, n3});
}

TEST_CASE("max_workers 0 makes as many workers as the cluster fits when the pool is created") {
  test_cluster c;
  c.add_node("n1", 2);
  c.add_node("n2", 1.5);
  auto pool = c.options<locator>().max_workers(0).num_cpus(0.5).init();
  CHECK(pool.stats().total_workers == 7);
  CHECK(c.placed_workers() == 7);
}

TEST_CASE("a pool of 4 across two nodes with a shared call limit of 20 per second needs 4 s for "
          "100 calls") {
  test_cluster c;
  auto n1 = c.add_node("n1", 2);
  auto n2 = c.add_node("n2", 2);
  auto pool = c.options<locator>()
                  .max_workers(4)
                  .placement(concurry::placement::spread)
                  .limits({concurry::call_limit{1s, 20}})
                  .init();
  auto t0 = std::chrono::steady_clock::now();
  std::vector<concurry::future<int>> calls;
  for (int i = 0; i < 100; ++i)
    calls.push_back(pool.call(&locator::limited));
  std::set<int> nodes;
  for (auto& f : calls)
    nodes.insert(f.result(30s));
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  CHECK(took >= 3.9);
  CHECK(took < 15.0);
  CHECK(nodes == std::set<int>{n1, n2});
  // The budget lives at the head: its status shows the limit.
  auto s = c.status();
  REQUIRE(s.limits.size() == 1);
  CHECK(s.limits[0].key == "call_count");
  CHECK(s.limits[0].capacity == 20);
}

TEST_CASE("a node killed with SIGKILL during 20 calls with num_retries 1: all 20 succeed, and the "
          "node rejoins when started again") {
  test_cluster c;
  auto n1 = c.add_node("n1", 4);
  auto n2 = c.add_node("n2", 4);
  auto pool = c.options<locator>()
                  .max_workers(4)
                  .placement(concurry::placement::spread)
                  .num_retries(1)
                  .retry_wait(50ms)
                  .init();
  std::vector<concurry::future<int>> calls;
  for (int i = 0; i < 20; ++i)
    calls.push_back(pool.call(&locator::sleep_ms, 300));
  std::this_thread::sleep_for(400ms);
  auto killed_at = std::chrono::steady_clock::now();
  REQUIRE(::kill(n1, SIGKILL) == 0);
  for (auto& f : calls)
    CHECK_NOTHROW(f.result(60s));
  // The head saw it go, and the pool has its workers back on the node that lives.
  CHECK(concurry_test::eventually([&] { return !c.has_node("n1"); }));
  CHECK(std::chrono::steady_clock::now() - killed_at < 20s);
  CHECK(concurry_test::eventually([&] { return c.workers_on("n2") == 4; }));
  CHECK(pool.call(&locator::node_pid).result(10s) == n2);
  CHECK(pool.stats().restarts >= 1);
  // A node started again under its name rejoins.
  ::waitpid(n1, nullptr, 0);
  c.add_node("n1", 4);
  CHECK(c.status().nodes.size() == 2);
}

TEST_CASE("a node frozen with SIGSTOP is declared dead within 3 s; its running call fails with "
          "worker_died, and the node rejoins once it runs again") {
  test_cluster c;
  auto n1 = c.add_node("n1", 2);
  c.add_node("n2", 2);
  auto pool = c.options<locator>().max_workers(2).placement(concurry::placement::spread).init();
  // A long call on each worker; the one on n1 ends with its node.
  auto calls = pool.broadcast(&locator::sleep_ms, 4000);
  std::this_thread::sleep_for(200ms);
  REQUIRE(::kill(n1, SIGSTOP) == 0);
  auto frozen_at = std::chrono::steady_clock::now();
  // The first to end is the one on the frozen node.
  REQUIRE(concurry_test::eventually([&] { return calls[0].done() || calls[1].done(); }));
  auto seen = std::chrono::steady_clock::now() - frozen_at;
  int died = 0;
  for (auto& f : calls) {
    try {
      int node = f.result(10s);
      CHECK(node != n1);
    } catch (const concurry::worker_died&) {
      ++died;
    }
  }
  CHECK(died == 1);
  CHECK(seen < 3500ms);
  CHECK_FALSE(c.has_node("n1"));
  // Its replacement goes to the node that lives.
  CHECK(concurry_test::eventually([&] { return c.workers_on("n2") == 2; }));
  REQUIRE(::kill(n1, SIGCONT) == 0);
  CHECK(concurry_test::eventually([&] { return c.has_node("n1"); }));
  CHECK(c.workers_on("n1") == 0);
}

TEST_CASE("a node with the wrong token is refused and exits non-zero; a client gets auth_error") {
  test_cluster c;
  auto node =
      spawn({CONCURRY_NODE_BINARY, "--address", c.address(), "--token", "wrong", "--num-cpus", "1"},
            {},
            true);
  CHECK(wait_exit(node.pid, 10s) == 3);
  auto text = read_until(node.out, "\n", 1s);
  ::close(node.out);
  CHECK(text.find("token") != std::string::npos);
  // An application binary as a node, the same.
  auto app = spawn({self_path()},
                   {"CONCURRY_NODE=1",
                    "CONCURRY_ADDRESS=" + c.address(),
                    "CONCURRY_TOKEN=wrong",
                    "CONCURRY_LOG_LEVEL=off"});
  CHECK(wait_exit(app.pid, 10s) == 3);
  CHECK(c.status().nodes.empty());
  CHECK_THROWS_AS((void)locator::options()
                      .mode(concurry::mode::cluster)
                      .cluster_address(c.address())
                      .cluster_token("wrong")
                      .init(),
                  concurry::auth_error);
}

TEST_CASE("a worker no node could hold waits as infeasible, and is placed when such a node joins") {
  test_cluster c;
  c.add_node("n1", 2);
  auto pool = c.options<locator>().max_workers(1).resources({{"gpu", 1}}).init();
  auto s = c.status();
  REQUIRE(s.infeasible.size() == 1);
  CHECK(s.infeasible[0].count == 1);
  CHECK(s.pools[0].infeasible == 1);
  // A call waits under its own timeout.
  auto call = pool.call(&locator::node_pid);
  CHECK_THROWS_AS(call.result(300ms), concurry::timeout_error);
  auto gpu = c.add_node("gpu-node", 1, "gpu=1");
  CHECK(call.result(20s) == gpu);
  CHECK(c.status().infeasible.empty());
}

TEST_CASE("a client that disconnects has its workers stopped and their resources returned; "
          "worker output reaches the client prefixed") {
  test_cluster c;
  c.add_node("n1", 2);
  auto probe = spawn({CONCURRY_CLUSTER_CLIENT_PROBE},
                     {"CONCURRY_ADDRESS=" + c.address(), "CONCURRY_TOKEN=" + c.token},
                     true);
  auto text = read_until(probe.out, "ready", 20s);
  // The worker's line travels apart from the call's result, and may come after it.
  if (text.find("hello from a worker") == std::string::npos)
    text += read_until(probe.out, "hello from a worker", 5s);
  ::close(probe.out);
  CHECK_MESSAGE(text.find("] hello from a worker") != std::string::npos, text);
  CHECK(text.find("[Worker 0 pid ") != std::string::npos);
  REQUIRE(c.workers_on("n1") == 2);
  ::kill(probe.pid, SIGKILL);
  ::waitpid(probe.pid, nullptr, 0);
  CHECK(concurry_test::eventually([&] { return c.workers_on("n1") == 0; }));
  auto s = c.status();
  REQUIRE(s.nodes.size() == 1);
  REQUIRE(s.nodes[0].used.size() >= 1);
  CHECK(s.nodes[0].used[0].units == 0);
  CHECK(s.clients == 0);
}

TEST_CASE("when the head dies, calls to live workers complete, placement fails with "
          "cluster_unavailable within 5 s, and nodes rejoin a restarted head") {
  test_cluster c;
  auto n1 = c.add_node("n1", 3);
  auto pool = c.options<locator>().max_workers(2).init();
  auto port = c.port;
  c.kill_head();
  for (int i = 0; i < 10; ++i)
    CHECK(pool.call(&locator::node_pid).result(10s) == n1);
  auto t0 = std::chrono::steady_clock::now();
  CHECK_THROWS_AS((void)c.options<locator>().max_workers(1).init(), concurry::cluster_unavailable);
  CHECK(std::chrono::steady_clock::now() - t0 < 5s);
  c.start_head(port);
  CHECK(concurry_test::eventually([&] { return c.has_node("n1"); }));
  // The node brought its workers back into the table.
  CHECK(c.workers_on("n1") == 2);
  auto again = c.options<locator>().max_workers(1).init();
  CHECK(again.call(&locator::node_pid).result(10s) == n1);
  CHECK(pool.call(&locator::node_pid).result(10s) == n1);
}

namespace {

// A branch holds a pool of two leaves on the same cluster (found through the node's
// CONCURRY_ADDRESS, which worker hosts inherit).
class branch : public concurry::worker<branch> {
public:
  branch()
      : leaves_{locator::options()
                    .mode(concurry::mode::cluster)
                    .max_workers(2)
                    .num_cpus(0.25)
                    .init()} {}
  int leaves() {
    std::set<int> pids;
    for (int i = 0; i < 8; ++i)
      pids.insert(leaves_.call(&locator::pid).result(10s));
    return static_cast<int>(pids.size());
  }

private:
  concurry::pool<locator> leaves_;
};
CONCURRY_WORKER(branch, (), leaves)

} // namespace

TEST_CASE("nested pools: branch workers each hold leaf workers, and stopping the branches stops "
          "the leaves") {
  test_cluster c;
  c.add_node("n1", 4);
  auto pool = c.options<branch>().max_workers(2).num_cpus(0.25).init();
  for (auto& f : pool.broadcast(&branch::leaves))
    CHECK(f.result(20s) == 2);
  CHECK(c.workers_on("n1") == 6);
  pool.stop();
  CHECK(concurry_test::eventually([&] { return c.workers_on("n1") == 0; }));
}

TEST_CASE("concurry-node hosts the workers of a library it loads") {
  test_cluster c;
  auto node = spawn({CONCURRY_NODE_BINARY,
                     "--address",
                     c.address(),
                     "--token",
                     c.token,
                     "--num-cpus",
                     "2",
                     "--name",
                     "lib-node",
                     "--worker-library",
                     CONCURRY_CLUSTER_WORKER_LIBRARY,
                     "--log-level",
                     "error"});
  c.nodes["lib-node"] = node.pid;
  REQUIRE(concurry_test::eventually([&] { return c.has_node("lib-node"); }));
  auto pool = c.options<library_worker>().max_workers(2).init(40);
  CHECK(pool.call(&library_worker::add, 2).result(10s) == 42);
  CHECK(pool.call(&library_worker::node_pid).result(10s) == node.pid);
}

TEST_CASE("concurry stop drains the cluster: the nodes and the head exit") {
  test_cluster c;
  auto n1 = c.add_node("n1", 1);
  auto stopper = spawn({CONCURRY_CLI_BINARY, "stop", "--address", c.address(), "--token", c.token});
  CHECK(wait_exit(stopper.pid, 10s) == 0);
  CHECK(wait_exit(n1, 10s) == 0);
  c.nodes.clear();
  CHECK(wait_exit(c.head.pid, 10s) == 0);
  ::close(c.head.out);
  c.head = {};
}

TEST_CASE("a broadcast reaches every placed worker once, not a waiting worker's call elsewhere") {
  test_cluster c;
  auto gpu = c.add_node("gpu-node", 2, "gpu=1");
  auto pool = c.options<locator>().max_workers(2).resources({{"gpu", 1}}).init();
  auto calls = pool.broadcast(&locator::node_pid);
  REQUIRE(calls.size() == 2);
  int done = 0;
  for (auto& f : calls)
    if (f.wait_for(1s))
      done += f.result() == gpu ? 1 : 0;
  // One worker is placed and answers; the other waits for a node with a free gpu.
  CHECK(done == 1);
  CHECK(pool.worker_stats(0).total_calls + pool.worker_stats(1).total_calls == 2);
}

TEST_CASE("with the head gone, a cluster-wide limit fails with cluster_unavailable instead of "
          "waiting for ever") {
  test_cluster c;
  c.add_node("n1", 4);
  auto pool = c.options<locator>().max_workers(2).limits({concurry::call_limit{60s, 2}}).init();
  // The budget of 2 per minute is spent; the next calls wait at the head.
  CHECK_NOTHROW(pool.call(&locator::limited).result(10s));
  CHECK_NOTHROW(pool.call(&locator::limited).result(10s));
  auto waiting = pool.call(&locator::limited);
  CHECK_FALSE(waiting.wait_for(300ms));
  auto t0 = std::chrono::steady_clock::now();
  c.kill_head();
  CHECK_THROWS_AS(waiting.result(10s), concurry::cluster_unavailable);
  CHECK(std::chrono::steady_clock::now() - t0 < 5s);
}

TEST_CASE("a frozen head makes status and a new pool fail within seconds, not hang") {
  test_cluster c;
  c.add_node("n1", 1);
  REQUIRE(::kill(c.head.pid, SIGSTOP) == 0);
  auto t0 = std::chrono::steady_clock::now();
  CHECK_THROWS_AS((void)c.status(), concurry::cluster_unavailable);
  CHECK_THROWS_AS((void)c.options<locator>().max_workers(1).init(), concurry::cluster_unavailable);
  CHECK(std::chrono::steady_clock::now() - t0 < 10s);
  ::kill(c.head.pid, SIGCONT);
}

TEST_CASE("a client whose head was restarted still exits") {
  test_cluster c;
  c.add_node("n1", 3);
  auto port = c.port;
  auto probe = spawn(
      {CONCURRY_CLUSTER_CLIENT_PROBE},
      {"CONCURRY_ADDRESS=" + c.address(), "CONCURRY_TOKEN=" + c.token, "CONCURRY_PROBE_SECONDS=4"},
      true);
  auto text = read_until(probe.out, "ready", 20s);
  REQUIRE(text.find("ready") != std::string::npos);
  c.kill_head();
  c.start_head(port);
  CHECK(wait_exit(probe.pid, 20s) == 0);
  ::close(probe.out);
}
