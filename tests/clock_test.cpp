#include <concurry/clock.hpp>
#include <concurry/error.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <thread>
#include <utility>
#include <vector>

using namespace std::chrono_literals;

namespace {

using time_point = concurry::clock::time_point;

time_point at(std::chrono::nanoseconds since_start) {
  return time_point{} + since_start;
}

} // namespace

TEST_CASE("a manual clock runs due timers in time order when advanced") {
  concurry::manual_clock clock;
  std::vector<int> ran;
  clock.schedule(at(3s), [&] { ran.push_back(3); });
  clock.schedule(at(1s), [&] { ran.push_back(1); });
  clock.schedule(at(2s), [&] { ran.push_back(2); });
  clock.schedule(at(9s), [&] { ran.push_back(9); });
  clock.advance(3s);
  CHECK(ran == std::vector<int>{1, 2, 3});
  CHECK(clock.now() == at(3s));
}

TEST_CASE("a manual clock shows each timer its own due time") {
  concurry::manual_clock clock;
  std::vector<time_point> seen;
  clock.schedule(at(1500ms), [&] { seen.push_back(clock.now()); });
  clock.schedule(at(200ms), [&] { seen.push_back(clock.now()); });
  clock.advance(2s);
  CHECK(seen == std::vector<time_point>{at(200ms), at(1500ms)});
  CHECK(clock.now() == at(2s));
}

TEST_CASE("a cancelled timer does not run and cancel says whether it was pending") {
  concurry::manual_clock clock;
  bool ran = false;
  auto id = clock.schedule(at(1s), [&] { ran = true; });
  CHECK(clock.cancel(id));
  CHECK_FALSE(clock.cancel(id));
  clock.advance(2s);
  CHECK_FALSE(ran);
  auto done = clock.schedule(at(3s), [] {});
  clock.advance(1s);
  CHECK_FALSE(clock.cancel(done));
}

TEST_CASE("a timer scheduled in the past runs on the next advance, not inside schedule") {
  concurry::manual_clock clock{at(10s)};
  bool ran = false;
  clock.schedule(at(5s), [&] { ran = true; });
  CHECK_FALSE(ran);
  clock.advance(0ns);
  CHECK(ran);
  CHECK(clock.now() == at(10s));
}

TEST_CASE("a timer that a timer schedules runs in the same advance when it falls due") {
  concurry::manual_clock clock;
  std::vector<time_point> seen;
  clock.schedule(at(1s), [&] {
    clock.schedule(clock.now() + 1s, [&] { seen.push_back(clock.now()); });
    clock.schedule(clock.now() + 5s, [&] { seen.push_back(clock.now()); });
  });
  clock.advance(3s);
  CHECK(seen == std::vector<time_point>{at(2s)});
  clock.advance(3s);
  CHECK(seen == std::vector<time_point>{at(2s), at(6s)});
}

TEST_CASE("a manual clock refuses to run a timer that keeps rescheduling itself forever") {
  concurry::manual_clock clock;
  std::function<void()> again = [&] { clock.schedule(clock.now(), again); };
  clock.schedule(at(1s), again);
  CHECK_THROWS_AS(clock.advance(1s), concurry::error);
}

TEST_CASE("the system clock runs a timer on its own thread at or after its time") {
  auto clock = concurry::system_clock();
  std::promise<std::pair<time_point, std::thread::id>> ran;
  auto due = clock->now() + 20ms;
  clock->schedule(due, [&] { ran.set_value({clock->now(), std::this_thread::get_id()}); });
  auto f = ran.get_future();
  REQUIRE(f.wait_for(10s) == std::future_status::ready);
  auto [when, thread] = f.get();
  CHECK(when >= due);
  CHECK(thread != std::this_thread::get_id());
}

TEST_CASE("the system clock does not run a cancelled timer") {
  auto clock = concurry::system_clock();
  std::atomic<bool> cancelled_ran{false};
  std::promise<void> later_ran;
  auto now = clock->now();
  auto id = clock->schedule(now + 10ms, [&] { cancelled_ran = true; });
  clock->schedule(now + 40ms, [&] { later_ran.set_value(); });
  CHECK(clock->cancel(id));
  // Timers run in time order, so once the later one ran the cancelled one would have too.
  REQUIRE(later_ran.get_future().wait_for(10s) == std::future_status::ready);
  CHECK_FALSE(cancelled_ran);
}
