// On-demand workers and back-pressure: calls beyond a cap wait in order inside the runtime,
// and making a call never blocks.
#include "modes.hpp"

#include <concurry/concurry.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

std::atomic<int> alive{0};
std::atomic<int> most_alive{0};
std::atomic<int> built{0};

/// Counts live instances; `work` sleeps and answers with its input and its worker index.
class ephemeral : public concurry::worker<ephemeral> {
public:
  ephemeral() {
    ++built;
    int now = ++alive;
    int seen = most_alive.load();
    while (now > seen && !most_alive.compare_exchange_weak(seen, now)) {
    }
  }
  ~ephemeral() override { --alive; }
  ephemeral(const ephemeral&) = delete;
  ephemeral& operator=(const ephemeral&) = delete;

  std::pair<int, std::size_t> work(int value, int ms) {
    std::this_thread::sleep_for(std::chrono::milliseconds{ms});
    return {value, worker_index()};
  }
  int fail(int value) { throw std::invalid_argument{"bad value " + std::to_string(value)}; }
};
CONCURRY_WORKER(ephemeral, (), work, fail)

/// A worker whose constructor throws when asked to.
class fussy : public concurry::worker<fussy> {
public:
  explicit fussy(bool refuse) {
    if (refuse)
      throw std::runtime_error{"fussy refuses to start"};
  }
  int ok() { return 1; }
};
CONCURRY_WORKER(fussy, (bool), ok)

void reset_counts() {
  alive = 0;
  most_alive = 0;
  built = 0;
}

template <class P>
void wait_until_no_worker_is_alive(P& pool) {
  for (int i = 0; i < 1000 && (alive.load() > 0 || pool.stats().on_demand_active > 0); ++i)
    std::this_thread::sleep_for(5ms);
}

} // namespace

TEST_CASE("on-demand workers: a fresh worker per call, at most max_workers alive") {
  reset_counts();
  auto pool = ephemeral::options().on_demand().max_workers(2).init();
  auto started = std::chrono::steady_clock::now();
  std::vector<concurry::future<std::pair<int, std::size_t>>> futures;
  for (int i = 0; i < 10; ++i)
    futures.push_back(pool.call(&ephemeral::work, i, 200));
  // Making the calls waited for no worker.
  CHECK(std::chrono::steady_clock::now() - started < 150ms);
  std::vector<std::size_t> indexes;
  for (int i = 0; i < 10; ++i) {
    auto [value, index] = futures[static_cast<std::size_t>(i)].result(30s);
    CHECK(value == i);
    indexes.push_back(index);
  }
  // Five rounds of two 0.2 s calls.
  CHECK(std::chrono::steady_clock::now() - started >= 950ms);
  CHECK(most_alive.load() <= 2);
  CHECK(built.load() == 10);
  std::sort(indexes.begin(), indexes.end());
  CHECK(std::unique(indexes.begin(), indexes.end()) == indexes.end());

  auto s = pool.stats();
  CHECK(s.on_demand);
  CHECK(s.total_workers == 0);
  CHECK(s.load_balancer.algorithm == concurry::load_balancing::random);
  CHECK(s.load_balancer.total_dispatched == 10);
  CHECK(s.on_demand_active <= 2);
  wait_until_no_worker_is_alive(pool);
  CHECK(alive.load() == 0);
  CHECK(pool.stats().on_demand_active == 0);
}

TEST_CASE("on-demand workers report failures and constructor errors on the call") {
  reset_counts();
  auto pool = ephemeral::options().on_demand().max_workers(1).init();
  CHECK_THROWS_WITH_AS(
      pool.call(&ephemeral::fail, 7).result(10s), "bad value 7", std::invalid_argument);
  CHECK(pool.call(&ephemeral::work, 1, 0).result(10s).first == 1);

  auto refusing = fussy::options().on_demand().max_workers(1).init(true);
  CHECK_THROWS_WITH_AS(
      refusing.call(&fussy::ok).result(10s), "fussy refuses to start", std::runtime_error);
  // The slot came back: the next call gets a worker (which refuses again).
  CHECK_THROWS_AS(refusing.call(&fussy::ok).result(10s), std::runtime_error);
}

TEST_CASE("stopping an on-demand pool lets calls waiting for a slot run within the timeout") {
  reset_counts();
  auto pool = ephemeral::options().on_demand().max_workers(1).init();
  std::vector<concurry::future<std::pair<int, std::size_t>>> futures;
  for (int i = 0; i < 5; ++i)
    futures.push_back(pool.call(&ephemeral::work, i, 50));
  pool.stop(5s);
  for (int i = 0; i < 5; ++i)
    CHECK(futures[static_cast<std::size_t>(i)].result(1s).first == i);
  CHECK_THROWS_AS(pool.call(&ephemeral::work, 9, 0).result(1s), concurry::stopped_error);

  // With too little time, the calls still waiting fail and say why.
  auto short_stop = ephemeral::options().on_demand().max_workers(1).init();
  auto running = short_stop.call(&ephemeral::work, 1, 400);
  auto waiting = short_stop.call(&ephemeral::work, 2, 0);
  auto started = std::chrono::steady_clock::now();
  short_stop.stop(100ms);
  CHECK(std::chrono::steady_clock::now() - started < 2s);
  CHECK_THROWS_WITH_AS(waiting.result(1s),
                       doctest::Contains("before an on-demand worker was free"),
                       concurry::stopped_error);
  CHECK_THROWS_AS(running.result(5s), concurry::stopped_error);
  CHECK(short_stop.stats().max_workers == 1);
}

TEST_CASE("on-demand is refused in sync mode; max_workers 0 means one per core") {
  CHECK_THROWS_WITH_AS(ephemeral::options().mode(concurry::mode::sync).on_demand().init(),
                       doctest::Contains("cannot start on-demand workers"),
                       concurry::config_error);
  auto pool = ephemeral::options().on_demand().max_workers(0).init();
  CHECK(pool.call(&ephemeral::work, 5, 0).result(10s).first == 5);
}

TEST_CASE_TEMPLATE("back-pressure: calls beyond max_queued_tasks wait in order and never block",
                   M,
                   CONCURRY_POOL_MODES) {
  auto pool = ephemeral::options().mode(M::value).max_workers(1).max_queued_tasks(2).init();
  CHECK(pool.stats().max_queued_tasks == 2);
  auto started = std::chrono::steady_clock::now();
  std::vector<concurry::future<std::pair<int, std::size_t>>> futures;
  for (int i = 0; i < 5; ++i)
    futures.push_back(pool.call(&ephemeral::work, i, 300));
  CHECK(std::chrono::steady_clock::now() - started < 200ms);
  std::vector<int> order;
  for (auto [index, f] : concurry::as_completed(futures, 30s))
    order.push_back(f.result().first);
  CHECK(order == std::vector<int>{0, 1, 2, 3, 4});
  CHECK(std::chrono::steady_clock::now() - started >= 1400ms);
}

TEST_CASE_TEMPLATE("back-pressure: stopping fails the calls still parked behind the cap",
                   M,
                   CONCURRY_POOL_MODES) {
  auto pool = ephemeral::options().mode(M::value).max_workers(1).max_queued_tasks(1).init();
  auto first = pool.call(&ephemeral::work, 0, 300);
  auto second = pool.call(&ephemeral::work, 1, 300);
  std::this_thread::sleep_for(50ms);
  pool.stop(0s);
  CHECK_THROWS_AS(second.result(10s), concurry::stopped_error);
  CHECK_THROWS_AS(first.result(10s), concurry::stopped_error);
  CHECK_THROWS_AS((void)ephemeral::options().max_queued_tasks(0), concurry::config_error);
}

TEST_CASE_TEMPLATE("back-pressure spreads over the workers of a pool", M, CONCURRY_POOL_MODES) {
  auto pool = ephemeral::options().mode(M::value).max_workers(2).max_queued_tasks(1).init();
  std::vector<concurry::future<std::pair<int, std::size_t>>> futures;
  for (int i = 0; i < 6; ++i)
    futures.push_back(pool.call(&ephemeral::work, i, 50));
  auto values = concurry::gather(futures, 30s);
  for (int i = 0; i < 6; ++i) {
    CHECK(values[static_cast<std::size_t>(i)].first == i);
    CHECK(values[static_cast<std::size_t>(i)].second == static_cast<std::size_t>(i % 2));
  }
}
