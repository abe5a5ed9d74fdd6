// The global configuration: library defaults, validation, scoped overrides, and pools and
// limits that take their defaults from it.
#include "modes.hpp"

#include <concurry/concurry.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <stdexcept>
#include <string>

using namespace std::chrono_literals;

namespace {

class fails_once : public concurry::worker<fails_once> {
public:
  int run() {
    if (++calls_ == 1)
      throw std::runtime_error{"first call fails"};
    return calls_;
  }

private:
  int calls_ = 0;
};
CONCURRY_WORKER(fails_once, (), run)

} // namespace

TEST_CASE("the library defaults are those of the Python library") {
  auto c = concurry::library_defaults();
  CHECK(c.sync.max_workers == 1);
  CHECK(c.asyncio.max_workers == 1);
  CHECK(c.thread.max_workers == 24);
  CHECK(c.process.max_workers == 4);
  CHECK(c.cluster.max_workers == 0);
  CHECK(c.thread.max_queued_tasks == 0);
  CHECK(c.process.max_queued_tasks == 100);
  CHECK(c.cluster.max_queued_tasks == 3);
  CHECK(c.thread.stop_timeout == 30s);
  CHECK(c.thread.load_balancing == concurry::load_balancing::round_robin);
  CHECK(c.thread.on_demand_load_balancing == concurry::load_balancing::random);
  CHECK(c.thread.retry.num_retries == 0);
  CHECK(c.thread.retry.algorithm == concurry::retry_algorithm::exponential);
  CHECK(c.thread.retry.wait == 1s);
  CHECK(c.thread.retry.jitter == doctest::Approx(0.3));
  CHECK(c.rate_limit_algorithm == concurry::rate_algorithm::sliding_window);
}

TEST_CASE("a scoped override changes the defaults and restores them, also when unwinding") {
  REQUIRE(concurry::config().thread.max_workers == 24);
  {
    concurry::config_override outer{[](concurry::configuration& c) { c.thread.max_workers = 3; }};
    CHECK(concurry::default_max_workers(concurry::mode::thread) == 3);
    auto pool = fails_once::options().init();
    CHECK(pool.stats().max_workers == 3);
    CHECK(pool.stats().total_workers == 3);
    {
      concurry::config_override inner{[](concurry::configuration& c) {
        c.for_each_mode([](concurry::mode_defaults& d) { d.stop_timeout = 5s; });
      }};
      CHECK(concurry::config().thread.max_workers == 3);
      CHECK(concurry::config().sync.stop_timeout == 5s);
    }
    CHECK(concurry::config().sync.stop_timeout == 30s);
    try {
      concurry::config_override failing{
          [](concurry::configuration& c) { c.thread.max_workers = 7; }};
      throw std::runtime_error{"unwind"};
    } catch (const std::runtime_error&) {
    }
    CHECK(concurry::config().thread.max_workers == 3);
  }
  CHECK(concurry::config().thread.max_workers == 24);
}

TEST_CASE("invalid defaults are refused with the field's name, changing nothing") {
  auto c = concurry::config();
  c.thread.retry.jitter = 2;
  CHECK_THROWS_WITH_AS(concurry::set_config(c),
                       "thread.retry.jitter must be between 0 and 1, not 2.000000",
                       concurry::config_error);
  c = concurry::config();
  c.sync.max_workers = 4;
  CHECK_THROWS_WITH_AS(concurry::set_config(c),
                       doctest::Contains("sync.max_workers must be 1"),
                       concurry::config_error);
  c = concurry::config();
  c.thread.max_workers = 0;
  CHECK_THROWS_AS(concurry::set_config(c), concurry::config_error);
  c = concurry::config();
  c.process.stop_timeout = -1s;
  CHECK_THROWS_AS(concurry::set_config(c), concurry::config_error);
  CHECK_THROWS_AS(
      concurry::config_override([](concurry::configuration& d) { d.thread.retry.wait = -1ms; }),
      concurry::config_error);
  CHECK(concurry::config().thread.max_workers == 24);
  CHECK(concurry::config().thread.retry.wait == 1s);
}

TEST_CASE_TEMPLATE("pools take retry and balancing defaults from the configuration; options win",
                   M,
                   CONCURRY_POOL_MODES) {
  concurry::config_override more{[](concurry::configuration& c) {
    c[M::value].retry.num_retries = 2;
    c[M::value].retry.wait = 1ms;
    c[M::value].load_balancing = concurry::load_balancing::least_total;
  }};
  auto pool = fails_once::options().mode(M::value).max_workers(1).init();
  CHECK(pool.call(&fails_once::run).result(10s) == 2);
  CHECK(pool.stats().load_balancer.algorithm == concurry::load_balancing::least_total);

  auto explicit_none = fails_once::options()
                           .mode(M::value)
                           .max_workers(1)
                           .num_retries(0)
                           .load_balancing("rr")
                           .init();
  CHECK_THROWS_AS(explicit_none.call(&fails_once::run).result(10s), std::runtime_error);
  CHECK(explicit_none.stats().load_balancer.algorithm == concurry::load_balancing::round_robin);
}

TEST_CASE("limits made without an algorithm take the configured one") {
  {
    concurry::config_override gcra{[](concurry::configuration& c) {
      c.rate_limit_algorithm = concurry::rate_algorithm::gcra;
    }};
    CHECK(concurry::rate_limit("tokens", 1s, 10).algorithm() == concurry::rate_algorithm::gcra);
    CHECK(concurry::call_limit(1s, 10).algorithm() == concurry::rate_algorithm::gcra);
    CHECK(concurry::call_limit(1s, 10, concurry::rate_algorithm::token_bucket).algorithm() ==
          concurry::rate_algorithm::token_bucket);
  }
  CHECK(concurry::call_limit(1s, 10).algorithm() == concurry::rate_algorithm::sliding_window);
}

TEST_CASE("values outside an enumeration are refused") {
  auto c = concurry::config();
  c.thread.load_balancing = static_cast<concurry::load_balancing>(42);
  CHECK_THROWS_WITH_AS(concurry::set_config(c),
                       "thread.load_balancing is not a load balancer",
                       concurry::config_error);
  c = concurry::config();
  c.process.retry.algorithm = static_cast<concurry::retry_algorithm>(42);
  CHECK_THROWS_AS(concurry::set_config(c), concurry::config_error);
  c = concurry::config();
  c.rate_limit_algorithm = static_cast<concurry::rate_algorithm>(42);
  CHECK_THROWS_AS(concurry::set_config(c), concurry::config_error);
}
