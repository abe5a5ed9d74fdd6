#include "modes.hpp"
#include "test_workers.hpp"

#include <concurry/concurry.hpp>
#include <concurry/wait.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <latch>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

using namespace std::chrono_literals;
using concurry::return_when;
using concurry_test::gate;
using concurry_test::sleeper;
using index_list = std::vector<std::size_t>;

namespace {

/// Calls that run until the test releases them (on threads: the test holds their latches),
/// beside a pool of sleepers in `mode` that answer at once.
class held_calls {
public:
  explicit held_calls(int workers, concurry::mode mode = concurry::mode::thread)
      : gates_{gate::options().max_workers(workers).init()},
        sleepers_{sleeper::options().mode(mode).max_workers(2).init()} {}

  held_calls(const held_calls&) = delete;
  held_calls& operator=(const held_calls&) = delete;

  ~held_calls() {
    for (std::size_t i = 0; i < calls_.size(); ++i)
      release(i);
  }

  /// Starts a call and returns once it runs; it ends with `release(n)`, n counting the calls
  /// of `hold` and `queue` from 0.
  concurry::future<int> hold() {
    auto f = queue();
    calls_.back()->started.wait();
    return f;
  }

  /// As `hold`, returning at once: the call waits for a free worker first.
  concurry::future<int> queue() {
    auto& call = *calls_.emplace_back(std::make_unique<latches>());
    return gates_.call(&gate::hold, &call.started, &call.release);
  }

  /// Lets the nth held call return (once; later calls do nothing).
  void release(std::size_t n) {
    if (!std::exchange(calls_[n]->released, true))
      calls_[n]->release.count_down();
  }

  /// A call that doubles `value`, or throws std::invalid_argument when it is negative.
  concurry::future<int> doubled(int value) {
    return sleepers_.call(&sleeper::checked_double, value);
  }

  /// As `doubled`, returning once the call is done.
  concurry::future<int> finished(int value) {
    auto f = doubled(value);
    f.wait();
    return f;
  }

  /// A call of a void method.
  concurry::future<void> nothing() { return sleepers_.call(&sleeper::nothing); }

  /// The sleepers' pool, for calls where time is the behaviour.
  concurry::pool<sleeper>& sleepers() { return sleepers_; }

private:
  struct latches {
    std::latch started{1};
    std::latch release{1};
    bool released = false;
  };

  // First, so the latches outlive the pools that stop (and so wait for the calls) before them.
  std::vector<std::unique_ptr<latches>> calls_;
  concurry::pool<gate> gates_;
  concurry::pool<sleeper> sleepers_;
};

std::chrono::steady_clock::duration since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::steady_clock::now() - t0;
}

} // namespace

TEST_CASE_TEMPLATE("wait with all_completed returns once every future is done",
                   M,
                   CONCURRY_POOL_MODES) {
  held_calls calls{1, M::value};
  std::vector fs{calls.doubled(1), calls.doubled(2), calls.doubled(3)};
  auto r = concurry::wait(fs);
  CHECK(r.done == index_list{0, 1, 2});
  CHECK(r.not_done.empty());
  CHECK(fs[2].done());
}

TEST_CASE_TEMPLATE("wait with first_completed returns while the other calls still run",
                   M,
                   CONCURRY_POOL_MODES) {
  held_calls calls{2, M::value};
  std::vector fs{calls.hold(), calls.hold(), calls.doubled(1)};
  auto r = concurry::wait(fs, return_when::first_completed);
  CHECK(r.done == index_list{2});
  CHECK(r.not_done == index_list{0, 1});
  CHECK(fs[0].running());
}

TEST_CASE_TEMPLATE("wait with first_exception returns at the first failure",
                   M,
                   CONCURRY_POOL_MODES) {
  held_calls calls{1, M::value};
  std::vector fs{calls.hold(), calls.doubled(-1), calls.doubled(1)};
  auto r = concurry::wait(fs, return_when::first_exception);
  CHECK(r.not_done.front() == 0);
  CHECK(r.done.front() == 1);
  CHECK(fs[0].running());
}

TEST_CASE("wait with first_exception counts a cancelled call as a failure") {
  held_calls calls{1};
  std::vector fs{calls.hold(), calls.queue()};
  REQUIRE(fs[1].cancel());
  auto r = concurry::wait(fs, return_when::first_exception);
  CHECK(r.done == index_list{1});
  CHECK(r.not_done == index_list{0});
}

TEST_CASE_TEMPLATE("wait with first_exception returns once all succeeded", M, CONCURRY_POOL_MODES) {
  held_calls calls{1, M::value};
  std::vector fs{calls.doubled(1), calls.doubled(2)};
  auto r = concurry::wait(fs, return_when::first_exception, 1h);
  CHECK(r.done == index_list{0, 1});
  CHECK(r.not_done.empty());
}

TEST_CASE_TEMPLATE("wait returns the partial sets when the timeout runs out",
                   M,
                   CONCURRY_POOL_MODES) {
  held_calls calls{1, M::value};
  std::vector fs{calls.hold(), calls.finished(1)};
  auto t0 = std::chrono::steady_clock::now();
  auto r = concurry::wait(fs, return_when::all_completed, 200ms);
  CHECK(since(t0) >= 190ms);
  CHECK(since(t0) < 5s);
  CHECK(r.done == index_list{1});
  CHECK(r.not_done == index_list{0});
}

TEST_CASE_TEMPLATE("wait on futures that are already done returns at once for every return_when",
                   M,
                   CONCURRY_POOL_MODES) {
  held_calls calls{1, M::value};
  std::vector fs{calls.finished(1), calls.finished(-1)};
  for (auto when :
       {return_when::all_completed, return_when::first_completed, return_when::first_exception}) {
    auto r = concurry::wait(fs, when, 0ms);
    CHECK(r.done == index_list{0, 1});
  }
}

TEST_CASE("wait, gather and as_completed return at once for empty input") {
  std::vector<concurry::future<int>> none;
  auto r = concurry::wait(none, return_when::first_completed);
  CHECK(r.done.empty());
  CHECK(r.not_done.empty());
  CHECK(concurry::gather(none).empty());
  CHECK(concurry::gather(none, concurry::return_exceptions).empty());
  CHECK(concurry::gather(std::map<int, concurry::future<int>>{}).empty());
  CHECK_FALSE(concurry::as_completed(none).next());
}

TEST_CASE("wait throws concurry::error for an invalid future") {
  std::vector<concurry::future<int>> fs(1);
  CHECK_THROWS_AS(concurry::wait(fs), concurry::error);
}

TEST_CASE_TEMPLATE("gather returns the values in input order, not completion order",
                   M,
                   CONCURRY_POOL_MODES) {
  held_calls calls{1, M::value};
  std::vector fs{calls.hold(), calls.doubled(5), calls.doubled(7)};
  fs[2].wait();
  calls.release(0);
  CHECK(concurry::gather(fs) == std::vector{fs[0].result(), 10, 14});
}

TEST_CASE_TEMPLATE("gather rethrows the first failure in input order after all finished",
                   M,
                   CONCURRY_POOL_MODES) {
  held_calls calls{1, M::value};
  std::vector fs{calls.doubled(1), calls.doubled(-3), calls.hold(), calls.doubled(-5)};
  std::jthread releaser{[&] {
    fs[3].wait();
    calls.release(0);
  }};
  CHECK_THROWS_WITH_AS(
      concurry::gather(fs), "negative value not allowed: -3", std::invalid_argument);
  CHECK(fs[2].done());
}

TEST_CASE_TEMPLATE("gather with return_exceptions gives an outcome per future",
                   M,
                   CONCURRY_POOL_MODES) {
  held_calls calls{1, M::value};
  std::vector fs{calls.doubled(1), calls.doubled(-3)};
  auto out = concurry::gather(fs, concurry::return_exceptions);
  REQUIRE(out.size() == 2);
  CHECK(out[0].has_value());
  CHECK(out[0].value() == 2);
  CHECK_FALSE(out[0].error());
  CHECK_FALSE(out[1].has_value());
  CHECK(out[1].error());
  CHECK_THROWS_AS(out[1].value(), std::invalid_argument);
}

TEST_CASE_TEMPLATE("gather throws timeout_error and leaves the futures usable",
                   M,
                   CONCURRY_POOL_MODES) {
  held_calls calls{1, M::value};
  std::vector fs{calls.hold(), calls.doubled(1)};
  auto t0 = std::chrono::steady_clock::now();
  CHECK_THROWS_AS(concurry::gather(fs, 100ms), concurry::timeout_error);
  CHECK_THROWS_AS((void)concurry::gather(fs, concurry::return_exceptions, 10ms),
                  concurry::timeout_error);
  CHECK(since(t0) >= 100ms);
  CHECK(since(t0) < 5s);
  calls.release(0);
  CHECK(concurry::gather(fs, 1h).at(1) == 2);
}

TEST_CASE_TEMPLATE("gather over a map returns the values under their keys",
                   M,
                   CONCURRY_POOL_MODES) {
  held_calls calls{1, M::value};
  std::map<std::string, concurry::future<int>> fs{{"a", calls.doubled(1)}, {"b", calls.doubled(2)}};
  CHECK(concurry::gather(fs) == std::map<std::string, int>{{"a", 2}, {"b", 4}});
  fs["c"] = calls.doubled(-1);
  CHECK_THROWS_AS(concurry::gather(fs), std::invalid_argument);
  auto out = concurry::gather(fs, concurry::return_exceptions, 1h);
  CHECK(out.at("b").value() == 4);
  CHECK(out.at("c").error());
}

TEST_CASE_TEMPLATE("gather on future<void> waits and rethrows nothing when all succeeded",
                   M,
                   CONCURRY_POOL_MODES) {
  held_calls calls{1, M::value};
  std::vector fs{calls.nothing(), calls.nothing()};
  concurry::gather(fs);
  CHECK(fs[0].done());
  CHECK(fs[1].done());
  auto out = concurry::gather(fs, concurry::return_exceptions);
  CHECK(out.at(0).has_value());
  CHECK(concurry::wait(fs, return_when::first_exception).done == index_list{0, 1});
  std::map<int, concurry::future<void>> by_key{{1, calls.nothing()}};
  concurry::gather(by_key, 1h);
  CHECK(concurry::gather(by_key, concurry::return_exceptions).at(1).has_value());
}

TEST_CASE("as_completed yields each future with its index in completion order") {
  held_calls calls{3};
  std::vector fs{calls.hold(), calls.hold(), calls.hold()};
  auto seq = concurry::as_completed(fs);
  index_list order;
  for (std::size_t n : {2, 0, 1}) {
    calls.release(n);
    auto next = seq.next();
    REQUIRE(next);
    order.push_back(next->first);
    CHECK(next->second.result() == fs[n].result());
  }
  CHECK(order == index_list{2, 0, 1});
  CHECK_FALSE(seq.next());
}

TEST_CASE_TEMPLATE("as_completed works in a range-for over finished futures",
                   M,
                   CONCURRY_POOL_MODES) {
  held_calls calls{1, M::value};
  std::vector fs{calls.finished(1), calls.finished(2), calls.finished(3)};
  index_list seen;
  for (const auto& [index, f] : concurry::as_completed(fs)) {
    CHECK(f.result() == fs[index].result());
    seen.push_back(index);
  }
  std::sort(seen.begin(), seen.end());
  CHECK(seen == index_list{0, 1, 2});
}

TEST_CASE_TEMPLATE("as_completed throws timeout_error from the step that runs out",
                   M,
                   CONCURRY_POOL_MODES) {
  held_calls calls{1, M::value};
  std::vector fs{calls.hold(), calls.finished(1)};
  auto seq = concurry::as_completed(fs, 100ms);
  auto first = seq.next();
  REQUIRE(first);
  CHECK(first->first == 1);
  auto t0 = std::chrono::steady_clock::now();
  CHECK_THROWS_AS(seq.next(), concurry::timeout_error);
  CHECK(since(t0) < 5s);
  CHECK(seq.remaining() == 1);
}

TEST_CASE_TEMPLATE("wait's timeout bounds a call that takes longer", M, CONCURRY_POOL_MODES) {
  held_calls calls{1, M::value};
  std::vector fs{calls.sleepers().call(&sleeper::sleep_ms, 2000)};
  auto t0 = std::chrono::steady_clock::now();
  auto r = concurry::wait(fs, return_when::first_completed, 300ms);
  CHECK(since(t0) >= 290ms);
  CHECK(since(t0) < 1900ms);
  CHECK(r.not_done == index_list{0});
}
