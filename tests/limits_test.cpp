#include <concurry/clock.hpp>
#include <concurry/error.hpp>
#include <concurry/limits.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <future>
#include <limits>
#include <memory>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

using namespace std::chrono_literals;
using concurry::amounts;
using concurry::call_limit;
using concurry::limit_pool;
using concurry::limit_set;
using concurry::rate_algorithm;
using concurry::rate_limit;
using concurry::resource_limit;

namespace {

using time_point = concurry::clock::time_point;
using std::chrono::nanoseconds;

// Virtual time for one test: limit sets on a manual clock that the test advances.
struct virtual_time {
  std::shared_ptr<concurry::manual_clock> clock = std::make_shared<concurry::manual_clock>();

  limit_set make_set(std::vector<concurry::limit> limits) const {
    return limit_set{std::move(limits), clock};
  }

  void advance(nanoseconds by) const { clock->advance(by); }

  nanoseconds elapsed() const { return clock->now() - time_point{}; }
};

// A manual clock that tells the test each time something schedules a timer: a request that
// queues schedules its deadline or wake-up timer, so a test can wait for a blocked caller to be
// queued before it moves time, without sleeping.
class signalling_clock final : public concurry::clock {
public:
  time_point now() const override { return inner_.now(); }

  timer_id schedule(time_point at, std::function<void()> fn) override {
    auto id = inner_.schedule(at, std::move(fn));
    std::lock_guard lock{mutex_};
    ++scheduled_;
    changed_.notify_all();
    return id;
  }

  bool cancel(timer_id id) override { return inner_.cancel(id); }

  void advance(nanoseconds by) { inner_.advance(by); }

  // Waits until `n` timers were scheduled in all; 10 s of real time bound a broken test.
  void wait_for_schedules(std::size_t n) {
    std::unique_lock lock{mutex_};
    REQUIRE(changed_.wait_for(lock, 10s, [&] { return scheduled_ >= n; }));
  }

private:
  concurry::manual_clock inner_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::size_t scheduled_ = 0;
};

// What an acquire_async callback delivered.
struct outcome {
  concurry::acquisition granted;
  std::exception_ptr error;
  int calls = 0;
  time_point at{};
};

auto record(outcome& o, const std::shared_ptr<concurry::manual_clock>& clock) {
  return [&o, clock](concurry::acquisition a, std::exception_ptr e) {
    o.granted = std::move(a);
    o.error = std::move(e);
    o.at = clock->now();
    ++o.calls;
  };
}

template <class Future>
bool is_ready(const Future& f) {
  return f.wait_for(0s) == std::future_status::ready;
}

const concurry::limit_stats& stats_of(const limit_set& set, const std::string& key) {
  static thread_local concurry::limit_set_stats last;
  last = set.stats();
  for (auto& l : last.limits)
    if (l.key == key)
      return l;
  throw std::out_of_range{"no limit " + key};
}

double in_use(const limit_set& set, const std::string& key) {
  return stats_of(set, key).in_use;
}

rate_limit tokens(double capacity, rate_algorithm a, nanoseconds window = 1s) {
  return rate_limit{"tokens", window, capacity, a};
}

} // namespace

// ---- algorithms ----------------------------------------------------------------------------

TEST_CASE("a token bucket refunds what an update reports unused") {
  virtual_time vt;
  auto set = vt.make_set({tokens(1.0, rate_algorithm::token_bucket)});
  auto first = set.try_acquire({{"tokens", 0.7}});
  CHECK(first);
  CHECK_FALSE(set.try_acquire({{"tokens", 0.4}}));
  first.update({{"tokens", 0.2}});
  first.release();
  CHECK(set.try_acquire({{"tokens", 0.4}}));
}

TEST_CASE("gcra grants a burst of its capacity, then refuses") {
  virtual_time vt;
  auto set = vt.make_set({tokens(10, rate_algorithm::gcra)});
  CHECK(set.try_acquire({{"tokens", 5}}));
  CHECK(set.try_acquire({{"tokens", 5}}));
  CHECK_FALSE(set.try_acquire({{"tokens", 1}}));
  vt.advance(100ms);
  CHECK(set.try_acquire({{"tokens", 1}}));
  CHECK_THROWS_WITH_AS(set.try_acquire({{"tokens", 11}}),
                       doctest::Contains("exceeds its capacity of 10"),
                       concurry::config_error);
}

TEST_CASE("a sliding window admits again only as the oldest takes age out") {
  virtual_time vt;
  auto set = vt.make_set({tokens(10, rate_algorithm::sliding_window)});
  CHECK(set.try_acquire({{"tokens", 5}}));
  vt.advance(500ms);
  CHECK(set.try_acquire({{"tokens", 5}}));
  CHECK_FALSE(set.try_acquire({{"tokens", 1}}));
  vt.advance(499ms);
  CHECK_FALSE(set.try_acquire({{"tokens", 1}}));
  vt.advance(1ms);
  CHECK(set.try_acquire({{"tokens", 5}}));
  CHECK_FALSE(set.try_acquire({{"tokens", 1}}));
}

TEST_CASE("a fixed window admits its capacity again in the next window") {
  virtual_time vt;
  auto set = vt.make_set({tokens(10, rate_algorithm::fixed_window)});
  CHECK(set.try_acquire({{"tokens", 10}}));
  CHECK_FALSE(set.try_acquire({{"tokens", 1}}));
  vt.advance(999ms);
  CHECK_FALSE(set.try_acquire({{"tokens", 1}}));
  vt.advance(1ms);
  CHECK(set.try_acquire({{"tokens", 10}}));
  CHECK_FALSE(set.try_acquire({{"tokens", 1}}));
}

TEST_CASE("a leaky bucket checked every 10 ms still drains one unit per interval") {
  virtual_time vt;
  auto set = vt.make_set({tokens(10, rate_algorithm::leaky_bucket)});
  CHECK(set.try_acquire({{"tokens", 10}}));
  int granted = 0;
  for (int step = 0; step < 100; ++step) {
    vt.advance(10ms);
    if (set.try_acquire({{"tokens", 1}}))
      ++granted;
  }
  CHECK(granted == 10);
}

TEST_CASE("an update above the request is charged and delays later admissions") {
  virtual_time vt;
  auto set = vt.make_set({tokens(10, rate_algorithm::token_bucket)});
  {
    auto a = set.acquire({{"tokens", 5}});
    a.update({{"tokens", 10}});
  }
  CHECK_FALSE(set.try_acquire({{"tokens", 1}}));
  vt.advance(100ms);
  CHECK(set.try_acquire({{"tokens", 1}}));
}

TEST_CASE("an acquisition without update counts what was requested") {
  virtual_time vt;
  auto set = vt.make_set({tokens(10, rate_algorithm::gcra)});
  set.acquire({{"tokens", 4}}).release();
  CHECK(in_use(set, "tokens") == doctest::Approx(4));
}

// ---- limit sets ----------------------------------------------------------------------------

TEST_CASE("a set that cannot take all its resource limits takes none") {
  virtual_time vt;
  auto set = vt.make_set({resource_limit{"db", 1}, resource_limit{"cache", 1}});
  auto held = set.try_acquire({{"db", 1}, {"cache", 0}});
  REQUIRE(held);
  auto both = set.try_acquire();
  CHECK_FALSE(both);
  CHECK(in_use(set, "cache") == 0);
  CHECK(in_use(set, "db") == 1);
}

TEST_CASE("a blocked request is served when virtual time advances") {
  auto clock = std::make_shared<signalling_clock>();
  limit_set set{{call_limit{1s, 1}}, clock};
  auto first = set.acquire();
  auto second = std::async(std::launch::async, [&] { return set.acquire(); });
  clock->wait_for_schedules(1);
  CHECK_FALSE(is_ready(second));
  clock->advance(1s);
  REQUIRE(second.wait_for(10s) == std::future_status::ready);
  CHECK(second.get().successful());
}

TEST_CASE("a blocking acquire throws timeout_error when its virtual deadline passes") {
  auto clock = std::make_shared<signalling_clock>();
  limit_set set{{resource_limit{"connections", 1}}, clock};
  auto held = set.acquire();
  auto waiter = std::async(std::launch::async, [&] { return set.acquire({}, 5s); });
  clock->wait_for_schedules(1);
  clock->advance(4s);
  CHECK_FALSE(is_ready(waiter));
  clock->advance(1s);
  REQUIRE(waiter.wait_for(10s) == std::future_status::ready);
  CHECK_THROWS_AS(waiter.get(), concurry::timeout_error);
  CHECK(set.stats().waiting == 0);
}

TEST_CASE("a zero timeout refuses at once with timeout_error") {
  virtual_time vt;
  auto set = vt.make_set({resource_limit{"connections", 1}});
  auto held = set.acquire();
  CHECK_THROWS_AS((void)set.acquire({}, 0s), concurry::timeout_error);
  CHECK(set.stats().waiting == 0);
}

TEST_CASE("waiters are served in the order they asked") {
  virtual_time vt;
  auto set = vt.make_set({resource_limit{"connections", 1}});
  auto held = set.acquire();
  std::vector<outcome> waiters(3);
  for (auto& w : waiters)
    set.acquire_async({}, std::nullopt, record(w, vt.clock));
  for (std::size_t i = 0; i < waiters.size(); ++i) {
    CHECK(waiters[i].calls == 0);
    held.release();
    REQUIRE(waiters[i].calls == 1);
    held = std::move(waiters[i].granted);
    for (std::size_t later = i + 1; later < waiters.size(); ++later)
      CHECK(waiters[later].calls == 0);
  }
}

TEST_CASE("a request for connections is not held up by one that waits for tokens") {
  virtual_time vt;
  auto set =
      vt.make_set({tokens(10, rate_algorithm::token_bucket), resource_limit{"connections", 2}});
  auto drained = set.acquire({{"tokens", 10}, {"connections", 0}});
  outcome tokens_waiter, connections_waiter;
  set.acquire_async(
      {{"tokens", 5}, {"connections", 0}}, std::nullopt, record(tokens_waiter, vt.clock));
  set.acquire_async(
      {{"tokens", 0}, {"connections", 1}}, std::nullopt, record(connections_waiter, vt.clock));
  CHECK(tokens_waiter.calls == 0);
  CHECK(connections_waiter.calls == 1);
  CHECK(connections_waiter.granted);
  vt.advance(500ms);
  CHECK(tokens_waiter.calls == 1);
  CHECK(tokens_waiter.at == time_point{} + 500ms);
}

TEST_CASE("a large request is not starved by a stream of small ones") {
  virtual_time vt;
  outcome large;
  std::deque<outcome> small;
  auto set = vt.make_set({tokens(10, rate_algorithm::token_bucket)});
  auto drained = set.acquire({{"tokens", 10}});
  set.acquire_async({{"tokens", 10}}, std::nullopt, record(large, vt.clock));
  for (int step = 0; step < 20; ++step) {
    vt.advance(100ms);
    CHECK_FALSE(set.try_acquire({{"tokens", 1}}));
    small.emplace_back();
    set.acquire_async({{"tokens", 1}}, std::nullopt, record(small.back(), vt.clock));
  }
  REQUIRE(large.calls == 1);
  CHECK(large.at == time_point{} + 1s);
  for (auto& s : small)
    if (s.calls == 1)
      CHECK(s.at > large.at);
  // The small requests still queued are answered when the set goes, so the outcomes must still
  // be there then: nothing may keep the set alive beyond this scope.
  large.granted.release();
  for (auto& s : small)
    s.granted.release();
}

TEST_CASE("a request that times out stops holding up the requests behind it") {
  virtual_time vt;
  auto set = vt.make_set({resource_limit{"a", 1}, resource_limit{"b", 1}});
  auto held_a = set.acquire({{"b", 0}});
  outcome both, only_b;
  set.acquire_async({}, 1s, record(both, vt.clock));
  set.acquire_async({{"a", 0}}, std::nullopt, record(only_b, vt.clock));
  CHECK(only_b.calls == 0);
  vt.advance(1s);
  REQUIRE(both.calls == 1);
  CHECK_THROWS_AS(std::rethrow_exception(both.error), concurry::timeout_error);
  CHECK(only_b.calls == 1);
  CHECK(only_b.granted);
}

TEST_CASE("try_acquire does not overtake a queued request for the same key") {
  virtual_time vt;
  auto set = vt.make_set({resource_limit{"connections", 2}});
  auto one = set.acquire({{"connections", 1}});
  outcome two;
  set.acquire_async({{"connections", 2}}, std::nullopt, record(two, vt.clock));
  CHECK_FALSE(set.try_acquire({{"connections", 1}}));
  one.release();
  CHECK(two.calls == 1);
}

TEST_CASE("a guard is released exactly once, also when the method throws") {
  virtual_time vt;
  auto set = vt.make_set({resource_limit{"connections", 2}});
  auto method = [&] {
    auto a = set.acquire();
    throw std::runtime_error{"the method failed"};
  };
  CHECK_THROWS_AS(method(), std::runtime_error);
  CHECK(in_use(set, "connections") == 0);
  auto first = set.acquire();
  auto second = set.acquire();
  first.release();
  first.release();
  auto moved = std::move(second);
  second.release();
  CHECK(in_use(set, "connections") == 1);
  moved = concurry::acquisition{};
  CHECK(in_use(set, "connections") == 0);
}

TEST_CASE("move assignment releases the held acquisition first") {
  virtual_time vt;
  auto set = vt.make_set({resource_limit{"connections", 1}});
  auto a = set.acquire();
  outcome next;
  set.acquire_async({}, std::nullopt, record(next, vt.clock));
  a = concurry::acquisition{};
  CHECK_FALSE(a);
  REQUIRE(next.calls == 1);
  CHECK(next.granted);
}

TEST_CASE("a request that names other keys leaves an unnamed rate limit alone") {
  virtual_time vt;
  auto set =
      vt.make_set({tokens(10, rate_algorithm::sliding_window), resource_limit{"connections", 1}});
  auto a = set.acquire({{"connections", 1}});
  REQUIRE(a);
  CHECK_FALSE(a.requested().contains("tokens"));
  CHECK(set.stats().limits[0].in_use == 0);
}

TEST_CASE("bad requests fail at once with config_error") {
  virtual_time vt;
  auto set =
      vt.make_set({tokens(10, rate_algorithm::sliding_window), resource_limit{"connections", 2}});
  SUBCASE("a rate limit without an amount") {
    CHECK_THROWS_WITH_AS((void)set.acquire(),
                         doctest::Contains("no amount for rate limit 'tokens'"),
                         concurry::config_error);
  }
  SUBCASE("an unknown key") {
    CHECK_THROWS_WITH_AS((void)set.acquire({{"tokens", 1}, {"bytes", 1}}),
                         doctest::Contains("unknown limit key 'bytes'"),
                         concurry::config_error);
  }
  SUBCASE("an amount above the capacity") {
    CHECK_THROWS_WITH_AS((void)set.acquire({{"tokens", 11}}),
                         doctest::Contains("could never be granted"),
                         concurry::config_error);
    CHECK_THROWS_AS((void)set.acquire({{"tokens", 1}, {"connections", 3}}), concurry::config_error);
  }
  SUBCASE("a fractional amount for a counting algorithm") {
    CHECK_THROWS_WITH_AS((void)set.acquire({{"tokens", 0.5}}),
                         doctest::Contains("not a whole number"),
                         concurry::config_error);
    CHECK_THROWS_AS((void)set.acquire({{"tokens", 1}, {"connections", 1.5}}),
                    concurry::config_error);
  }
  SUBCASE("a negative or NaN amount") {
    CHECK_THROWS_AS((void)set.acquire({{"tokens", -1}}), concurry::config_error);
    CHECK_THROWS_AS((void)set.acquire({{"tokens", std::nan("")}}), concurry::config_error);
  }
  SUBCASE("any of them through acquire_async") {
    outcome o;
    set.acquire_async({{"bytes", 1}}, std::nullopt, record(o, vt.clock));
    REQUIRE(o.calls == 1);
    CHECK_FALSE(o.granted);
    CHECK_THROWS_AS(std::rethrow_exception(o.error), concurry::config_error);
  }
  CHECK(set.stats().waiting == 0);
  CHECK(in_use(set, "tokens") == 0);
}

TEST_CASE("update checks its keys and amounts and refuses after release") {
  virtual_time vt;
  auto set =
      vt.make_set({tokens(10, rate_algorithm::sliding_window), resource_limit{"connections", 2}});
  auto a = set.acquire({{"tokens", 2}});
  CHECK_THROWS_AS(a.update({{"bytes", 1}}), concurry::config_error);
  CHECK_THROWS_AS(a.update({{"connections", 1}}), concurry::config_error);
  CHECK_THROWS_AS(a.update({{"tokens", -1}}), concurry::config_error);
  CHECK_THROWS_AS(a.update({{"tokens", 1.5}}), concurry::config_error);
  a.update({{"tokens", 1}});
  a.release();
  CHECK(a.successful());
  CHECK_THROWS_AS(a.update({{"tokens", 1}}), concurry::error);
  CHECK_THROWS_AS(set.try_acquire({{"tokens", 9}}).update({}), concurry::error);
}

TEST_CASE("window names parse with the Python aliases") {
  CHECK(concurry::parse_window("second") == 1s);
  CHECK(concurry::parse_window("secs") == 1s);
  CHECK(concurry::parse_window("MINUTE") == 60s);
  CHECK(concurry::parse_window("mins") == 60s);
  CHECK(concurry::parse_window("per_hour") == 1h);
  CHECK(concurry::parse_window("Hrs") == 1h);
  CHECK(concurry::parse_window("day") == 24h);
  CHECK(concurry::parse_window("per_wk") == 168h);
  CHECK(concurry::parse_window("weeks") == 168h);
  CHECK_THROWS_WITH_AS(concurry::parse_window("fortnight"),
                       doctest::Contains("valid names are: second"),
                       concurry::config_error);
  CHECK(call_limit{"minute", 10}.window() == 60s);
  CHECK(rate_limit{"tokens", "per_day", 10}.window() == 24h);
}

TEST_CASE("algorithm names parse and print") {
  CHECK(concurry::parse_rate_algorithm("token") == rate_algorithm::token_bucket);
  CHECK(concurry::parse_rate_algorithm("Leaky_Bucket") == rate_algorithm::leaky_bucket);
  CHECK(concurry::parse_rate_algorithm("sliding") == rate_algorithm::sliding_window);
  CHECK(concurry::parse_rate_algorithm("fixed_window") == rate_algorithm::fixed_window);
  CHECK(concurry::parse_rate_algorithm("GCRA") == rate_algorithm::gcra);
  CHECK(concurry::to_string(rate_algorithm::fixed_window) == "fixed_window");
  CHECK_THROWS_WITH_AS(concurry::parse_rate_algorithm("bucket"),
                       doctest::Contains("valid names are: token, token_bucket"),
                       concurry::config_error);
}

TEST_CASE("invalid limits fail at construction with config_error") {
  using concurry::config_error;
  auto nan = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_WITH_AS(
      call_limit(0s, 1), doctest::Contains("window must be positive"), config_error);
  CHECK_THROWS_AS(call_limit(-1s, 1), config_error);
  CHECK_THROWS_WITH_AS(call_limit(1s, 0), doctest::Contains("must be positive"), config_error);
  CHECK_THROWS_AS(call_limit(1s, nan), config_error);
  CHECK_THROWS_AS(rate_limit("tokens", 1s, -5), config_error);
  CHECK_THROWS_AS(rate_limit("", 1s, 5), config_error);
  CHECK_THROWS_AS(rate_limit("tokens", "fortnight", 5), config_error);
  CHECK_THROWS_AS(resource_limit("connections", 1.5), config_error);
  CHECK_THROWS_AS(resource_limit("connections", 0), config_error);
  virtual_time vt;
  CHECK_THROWS_WITH_AS(vt.make_set({resource_limit{"a", 1}, rate_limit{"a", 1s, 1}}),
                       doctest::Contains("duplicate limit key 'a'"),
                       config_error);
  CHECK_THROWS_AS(limit_pool(std::vector<limit_set>{}), config_error);
  CHECK_THROWS_AS(limit_pool({vt.make_set({})}, concurry::load_balancing::least_active),
                  config_error);
}

TEST_CASE("an unlimited capacity never waits") {
  virtual_time vt;
  auto set = vt.make_set(
      {call_limit{1s, concurry::unlimited}, resource_limit{"connections", concurry::unlimited}});
  std::vector<concurry::acquisition> held;
  for (int i = 0; i < 1000; ++i)
    held.push_back(set.try_acquire());
  CHECK(std::all_of(held.begin(), held.end(), [](auto& a) { return a.successful(); }));
  auto calls = stats_of(set, "call_count");
  CHECK(std::isinf(calls.capacity));
  CHECK(calls.utilization == 0);
  CHECK(in_use(set, "connections") == 1000);
}

TEST_CASE("an empty set and an empty pool grant every request at once") {
  virtual_time vt;
  auto set = vt.make_set({});
  auto a = set.acquire();
  CHECK(a);
  CHECK(set.try_acquire({{"anything", 5}}));
  CHECK(set.stats().limits.empty());
  limit_pool pool;
  auto b = pool.acquire({{"tokens", 100}});
  CHECK(b);
  b.update({{"tokens", 50}});
  CHECK(pool.size() == 0);
  CHECK(pool.stats().num_limit_sets == 0);
}

TEST_CASE("a request still waiting when its set is destroyed gets an error") {
  virtual_time vt;
  outcome o;
  {
    auto set = vt.make_set({call_limit{1s, 1}});
    (void)set.acquire();
    set.acquire_async({}, std::nullopt, record(o, vt.clock));
    CHECK(o.calls == 0);
  }
  REQUIRE(o.calls == 1);
  CHECK_THROWS_AS(std::rethrow_exception(o.error), concurry::error);
  vt.advance(2s);
  CHECK(o.calls == 1);
}

TEST_CASE("stats report each limit's figures under the Python names") {
  virtual_time vt;
  auto set = vt.make_set({call_limit{60s, 60},
                          tokens(100, rate_algorithm::token_bucket),
                          resource_limit{"connections", 4}});
  auto a = set.acquire({{"tokens", 40}});
  auto s = set.stats();
  REQUIRE(s.limits.size() == 3);
  auto& calls = s.limits[0];
  CHECK(calls.kind == "CallLimit");
  CHECK(calls.key == "call_count");
  CHECK(calls.algorithm == "sliding_window");
  CHECK(calls.capacity == 60);
  CHECK(calls.window_seconds == 60);
  CHECK(calls.in_use == 1);
  CHECK(calls.available == 59);
  CHECK(calls.max_rate == 1);
  auto& toks = s.limits[1];
  CHECK(toks.kind == "RateLimit");
  CHECK(toks.algorithm == "token_bucket");
  CHECK(toks.in_use == doctest::Approx(40));
  CHECK(toks.available == doctest::Approx(60));
  CHECK(toks.utilization == doctest::Approx(0.4));
  CHECK(toks.max_rate == 100);
  auto& conns = s.limits[2];
  CHECK(conns.kind == "ResourceLimit");
  CHECK(conns.algorithm.empty());
  CHECK(conns.window_seconds == 0);
  CHECK(conns.in_use == 1);
  CHECK(conns.available == 3);
  CHECK(conns.utilization == doctest::Approx(0.25));
  CHECK(conns.max_rate == 0);
  CHECK(s.waiting == 0);
}

TEST_CASE("a clone has the same limits and its own state") {
  virtual_time vt;
  auto set = vt.make_set({resource_limit{"connections", 1}});
  auto held = set.acquire();
  auto copy = set;
  auto clone = set.clone();
  CHECK_FALSE(copy.try_acquire());
  CHECK(clone.try_acquire());
  CHECK(clone.limits().size() == 1);
  CHECK(clone.clock() == set.clock());
}

TEST_CASE("threads contending for a resource never hold more than its capacity") {
  virtual_time vt;
  auto set = vt.make_set({resource_limit{"connections", 2}});
  std::atomic<int> holding{0};
  std::atomic<int> most{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 500; ++i) {
        auto a = set.acquire();
        auto now = ++holding;
        for (auto seen = most.load(); now > seen && !most.compare_exchange_weak(seen, now);) {
        }
        --holding;
      }
    });
  for (auto& t : threads)
    t.join();
  CHECK(most.load() <= 2);
  CHECK(in_use(set, "connections") == 0);
  CHECK(set.stats().waiting == 0);
}

// ---- limit pools ---------------------------------------------------------------------------

TEST_CASE("a limit pool falls over to another set when the chosen one cannot serve") {
  virtual_time vt;
  auto east = vt.make_set({resource_limit{"connections", 1}});
  auto west = vt.make_set({resource_limit{"connections", 1}});
  limit_pool pool{{east, west}};
  auto held_east = east.acquire();
  auto a = pool.try_acquire();
  CHECK(a);
  CHECK(in_use(west, "connections") == 1);
  CHECK_FALSE(pool.try_acquire());
}

TEST_CASE("a limit pool waits on its chosen set when no set can serve") {
  virtual_time vt;
  auto east = vt.make_set({resource_limit{"connections", 1}});
  auto west = vt.make_set({resource_limit{"connections", 1}});
  limit_pool pool{{east, west}};
  auto held_east = east.acquire();
  auto held_west = west.acquire();
  outcome o;
  pool.acquire_async({}, std::nullopt, record(o, vt.clock));
  CHECK(o.calls == 0);
  CHECK(east.stats().waiting == 1);
  held_east.release();
  CHECK(o.calls == 1);
  CHECK(o.granted);
}

TEST_CASE("for_worker starts round robin at the worker's offset") {
  virtual_time vt;
  std::vector<limit_set> sets;
  for (int i = 0; i < 3; ++i)
    sets.push_back(vt.make_set({call_limit{1s, 100}}));
  auto pool = limit_pool{sets}.for_worker(4);
  CHECK(pool.stats().worker_offset == 1);
  CHECK(pool.stats().load_balancing == "RoundRobin");
  (void)pool.acquire();
  CHECK(in_use(pool[1], "call_count") == 1);
  (void)pool.acquire();
  CHECK(in_use(pool[2], "call_count") == 1);
  (void)pool.acquire();
  CHECK(in_use(pool[0], "call_count") == 1);
  CHECK_THROWS_AS((void)pool[3], std::out_of_range);
  auto s = pool.stats();
  CHECK(s.num_limit_sets == 3);
  CHECK(s.limit_sets.size() == 3);
}

TEST_CASE("a random limit pool spreads requests over its sets") {
  virtual_time vt;
  auto a = vt.make_set({call_limit{1s, 1000}});
  auto b = vt.make_set({call_limit{1s, 1000}});
  limit_pool pool{{a, b}, concurry::load_balancing::random};
  for (int i = 0; i < 200; ++i)
    (void)pool.acquire();
  CHECK(in_use(a, "call_count") > 0);
  CHECK(in_use(b, "call_count") > 0);
  CHECK(in_use(a, "call_count") + in_use(b, "call_count") == 200);
  CHECK(pool.stats().load_balancing == "Random");
}

// ---- properties on virtual time ------------------------------------------------------------

namespace {

// One change to a limit's count: +amount when granted, -amount when refunded.
struct count_event {
  nanoseconds at;
  double amount;
};

struct random_run {
  rate_algorithm algorithm;
  double capacity;
  nanoseconds window;
  bool partial_updates;
  int requests;
  std::uint64_t seed;
};

bool is_fractional(rate_algorithm a) {
  return a == rate_algorithm::token_bucket || a == rate_algorithm::gcra;
}

// Runs random requests (try_acquire and queued acquire_async, random amounts, random virtual time
// steps, random holding times and partial updates) against one rate limit and returns every
// change to its count. Checks on the way that a refused request changes nothing, that the
// counting algorithms decide as a plain reference model does, and that every queued request is
// answered exactly once.
std::vector<count_event> run_randomly(const random_run& r) {
  virtual_time vt;
  std::mt19937_64 rng{r.seed};
  std::uniform_real_distribution<double> unit{0, 1};
  auto mean_gap = static_cast<double>(r.window.count()) / r.capacity;
  std::vector<count_event> events;

  // Acquisitions being held, each with the step at which it ends.
  struct held {
    concurry::acquisition a;
    int until;
  };
  std::vector<held> open;
  std::vector<concurry::acquisition> arrived;
  int answered = 0;
  int queued = 0;
  auto draw_amount = [&] {
    if (is_fractional(r.algorithm))
      return unit(rng) < 0.02 ? r.capacity : 0.01 + unit(rng) * r.capacity * 0.4;
    return std::floor(1 + unit(rng) * std::max(1.0, r.capacity / 3));
  };
  auto end = [&](held& h) {
    auto requested = h.a.requested().at("tokens");
    if (r.partial_updates && unit(rng) < 0.7) {
      auto used = requested * unit(rng);
      if (!is_fractional(r.algorithm))
        used = std::floor(used);
      h.a.update({{"tokens", used}});
      if (is_fractional(r.algorithm))
        events.push_back({vt.elapsed(), -(requested - used)});
    }
    h.a.release();
  };

  // A sliding window of the plain reference model: every grant, dropped after one window.
  std::deque<count_event> in_window;
  double in_window_sum = 0;
  auto reference_fits = [&](double amount) {
    auto now = vt.elapsed();
    while (!in_window.empty() && in_window.front().at + r.window <= now) {
      in_window_sum -= in_window.front().amount;
      in_window.pop_front();
    }
    if (r.algorithm == rate_algorithm::sliding_window)
      return in_window_sum + amount <= r.capacity;
    double this_window = 0;
    for (auto& e : in_window)
      if (e.at / r.window == now / r.window)
        this_window += e.amount;
    return this_window + amount <= r.capacity;
  };
  auto granted = [&](double amount) {
    events.push_back({vt.elapsed(), amount});
    in_window.push_back({vt.elapsed(), amount});
    in_window_sum += amount;
  };

  // Made last, so that it goes first: a request it still held would be answered with an error.
  auto set = vt.make_set({rate_limit{"tokens", r.window, r.capacity, r.algorithm}});
  for (int step = 0; step < r.requests; ++step) {
    // Time moves on; held acquisitions whose time is up end.
    if (unit(rng) > 0.3)
      vt.advance(nanoseconds{static_cast<std::int64_t>(unit(rng) * 2 * mean_gap)});
    for (auto it = open.begin(); it != open.end();) {
      if (it->until <= step) {
        end(*it);
        it = open.erase(it);
      } else {
        ++it;
      }
    }
    for (auto& a : arrived)
      open.push_back({std::move(a), step + static_cast<int>(unit(rng) * 4)});
    arrived.clear();

    // A request: mostly try_acquire, sometimes one that queues.
    auto amount = draw_amount();
    if (unit(rng) < 0.9) {
      auto before = set.stats();
      auto checks_reference = before.waiting == 0 && !is_fractional(r.algorithm) &&
                              r.algorithm != rate_algorithm::leaky_bucket;
      auto expected = checks_reference && reference_fits(amount);
      auto a = set.try_acquire({{"tokens", amount}});
      if (checks_reference)
        REQUIRE(a.successful() == expected);
      if (a) {
        granted(amount);
        open.push_back({std::move(a), step + static_cast<int>(unit(rng) * 4)});
      } else {
        auto after = set.stats();
        REQUIRE(after.limits[0].in_use == before.limits[0].in_use);
        REQUIRE(after.limits[0].available == before.limits[0].available);
      }
    } else {
      ++queued;
      std::optional<nanoseconds> timeout;
      if (unit(rng) < 0.5)
        timeout = nanoseconds{static_cast<std::int64_t>(unit(rng) * 3 * mean_gap)};
      set.acquire_async({{"tokens", amount}}, timeout, [&](concurry::acquisition a, auto) {
        ++answered;
        if (a) {
          granted(a.requested().at("tokens"));
          arrived.push_back(std::move(a));
        }
      });
    }
  }

  // Everything still held ends; every queued request is answered within a few windows.
  for (int round = 0; round < 1000 && (!open.empty() || !arrived.empty() || answered < queued);
       ++round) {
    for (auto& h : open)
      end(h);
    open.clear();
    for (auto& a : arrived)
      open.push_back({std::move(a), 0});
    arrived.clear();
    vt.advance(r.window);
  }
  CHECK(answered == queued);
  CHECK(set.stats().waiting == 0);
  return events;
}

// The most counted within any span [t, t + window) (sliding window's promise).
double most_in_any_window(const std::vector<count_event>& events, nanoseconds window) {
  double most = 0;
  double sum = 0;
  std::size_t right = 0;
  for (std::size_t left = 0; left < events.size(); ++left) {
    while (right < events.size() && events[right].at < events[left].at + window)
      sum += events[right++].amount;
    most = std::max(most, sum);
    sum -= events[left].amount;
  }
  return most;
}

// The most counted within one of the back-to-back windows from time 0 (fixed window's promise).
double most_in_a_fixed_window(const std::vector<count_event>& events, nanoseconds window) {
  double most = 0;
  double sum = 0;
  std::int64_t current = -1;
  for (auto& e : events) {
    if (e.at / window != current) {
      current = e.at / window;
      sum = 0;
    }
    sum += e.amount;
    most = std::max(most, sum);
  }
  return most;
}

// The largest excess, over all spans [s, e], of what was counted within them beyond
// `burst + rate * (e - s)`; at most 0 when the count keeps to the rate (token bucket, GCRA).
double largest_excess(const std::vector<count_event>& events, double burst, double per_ns) {
  double prefix = 0;
  double lowest_start = std::numeric_limits<double>::infinity();
  double excess = -std::numeric_limits<double>::infinity();
  for (auto& e : events) {
    auto t = static_cast<double>(e.at.count());
    lowest_start = std::min(lowest_start, prefix - per_ns * t);
    prefix += e.amount;
    excess = std::max(excess, prefix - per_ns * t - lowest_start - burst);
  }
  return excess;
}

void check_run(const random_run& r) {
  auto events = run_randomly(r);
  auto per_ns = r.capacity / static_cast<double>(r.window.count());
  auto granted = std::count_if(events.begin(), events.end(), [](auto& e) { return e.amount > 0; });
  CHECK(granted > r.requests / 10);
  switch (r.algorithm) {
  case rate_algorithm::sliding_window:
    CHECK(most_in_any_window(events, r.window) <= r.capacity);
    break;
  case rate_algorithm::fixed_window:
    CHECK(most_in_a_fixed_window(events, r.window) <= r.capacity);
    break;
  case rate_algorithm::leaky_bucket:
    // Units leak one at a time, so a span may see one more leak than its length pays for.
    CHECK(largest_excess(events, r.capacity + 1, per_ns) <= 1e-9);
    break;
  case rate_algorithm::token_bucket:
  case rate_algorithm::gcra:
    CHECK(largest_excess(events, r.capacity, per_ns) <= 1e-6 * r.capacity);
    break;
  }
}

} // namespace

TEST_CASE("a sliding window never admits more than its capacity within any window") {
  check_run({rate_algorithm::sliding_window, 20, 1s, true, 100'000, 11});
}

TEST_CASE("a fixed window never admits more than its capacity per window") {
  check_run({rate_algorithm::fixed_window, 20, 1s, true, 100'000, 12});
}

TEST_CASE("a leaky bucket never admits more than its capacity plus its drain") {
  check_run({rate_algorithm::leaky_bucket, 20, 1s, true, 100'000, 13});
}

TEST_CASE("a token bucket never counts more than its capacity plus its rate over any span") {
  SUBCASE("with partial updates refunded") {
    check_run({rate_algorithm::token_bucket, 10, 1s, true, 100'000, 14});
  }
  SUBCASE("with every request counted as asked") {
    check_run({rate_algorithm::token_bucket, 10, 1s, false, 50'000, 15});
  }
}

TEST_CASE("gcra never counts more than its capacity plus its rate over any span") {
  SUBCASE("with partial updates refunded") {
    check_run({rate_algorithm::gcra, 10, 1s, true, 100'000, 16});
  }
  SUBCASE("with every request counted as asked") {
    check_run({rate_algorithm::gcra, 10, 1s, false, 50'000, 17});
  }
}

// ---- real time -----------------------------------------------------------------------------

TEST_CASE("on the system clock a 20 per second call limit spreads 30 calls over 0.5 s") {
  limit_set set{{call_limit{1s, 20, rate_algorithm::token_bucket}}};
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 30; ++i)
    (void)set.acquire({}, 10s);
  auto took = std::chrono::steady_clock::now() - start;
  CHECK(took >= 450ms);
  CHECK(took < 5s);
}
