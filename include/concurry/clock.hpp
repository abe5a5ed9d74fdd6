// The time source of limits and timers: concurry::clock, the process-wide system clock, and
// manual_clock, which tests move by hand so that time-dependent behaviour runs on virtual time.
#pragma once

#include <concurry/detail/timer_queue.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <utility>

namespace concurry {

/// A time source with timers, shared by everything that waits for a point in time.
///
/// Thread-safe: every member may be called from any thread. Implementations never run a timer
/// inside `schedule()`, so a caller may hold its own lock while scheduling or cancelling; the
/// callback then takes that lock itself when it runs.
///
/// Does not: order timers of equal time in any promised way across implementations, or retry
/// a callback that throws (a callback must not throw).
class clock {
public:
  /// A point in time; the epoch is whatever the clock says (steady, not wall-clock time).
  using time_point = std::chrono::steady_clock::time_point;

  /// The handle of one scheduled timer; never 0.
  using timer_id = std::uint64_t;

  virtual ~clock() = default;

  /// The current time. Never goes backwards.
  [[nodiscard]] virtual time_point now() const = 0;

  /// Runs `fn` once, at or after `at`, on the clock's own timer thread (system clock) or inside
  /// `advance()` (manual clock). Never inline inside `schedule()`. A time already past runs as
  /// soon as the clock gets to it.
  virtual timer_id schedule(time_point at, std::function<void()> fn) = 0;

  /// Cancels a timer not yet run. False if it ran, is running, or was cancelled before; a
  /// running callback is not waited for.
  virtual bool cancel(timer_id id) = 0;
};

/// The process-wide real clock: `std::chrono::steady_clock` plus one timer thread, started on
/// the first `schedule()`. Callbacks run one at a time on that thread, in time order.
///
/// At process exit the thread stops: a callback that is running is waited for, timers not yet
/// due are dropped without running (so no timer holds up exit). Does not: run timers scheduled
/// after exit began.
[[nodiscard]] std::shared_ptr<clock> system_clock();

/// A clock for tests: time stands still until `advance()` moves it, and timers run inside
/// `advance()` on the calling thread, so tests of time-dependent code never sleep.
///
/// Does not: move by itself, or run timers on any thread but the one calling `advance()`.
class manual_clock final : public clock {
public:
  /// A clock that reads `start` until advanced.
  explicit manual_clock(time_point start = time_point{});

  /// The current virtual time.
  [[nodiscard]] time_point now() const override;

  /// Adds a timer; it runs inside a later `advance()` that reaches `at` (an `advance(0ns)`
  /// runs timers already due).
  timer_id schedule(time_point at, std::function<void()> fn) override;

  /// Removes a timer that has not started running.
  bool cancel(timer_id id) override;

  /// Moves time forward by `by` and runs every timer that falls due, in time order (equal times
  /// in the order they were scheduled), including timers those callbacks schedule within the
  /// range. While a callback runs, `now()` reads its due time; afterwards it reads the old time
  /// plus `by`. Callbacks run without the clock's lock held.
  ///
  /// Throws `concurry::error` after running a million timers at one and the same time (a timer
  /// that keeps scheduling itself without moving time on). Does not: run callbacks on other
  /// threads, or let `by` move time backwards (a negative `by` only runs timers already due).
  void advance(std::chrono::nanoseconds by);

private:
  mutable std::mutex mutex_;
  time_point now_;
  detail::timer_queue timers_;
};

} // namespace concurry
