// The counting state of one limit: the five rate algorithms, the resource counter, and the
// counter of an unlimited capacity. Each is a small class over explicit times, not thread-safe
// (the limit set's lock guards it) and free of clocks, so the set decides when to ask.
#pragma once

#include <concurry/clock.hpp>
#include <concurry/limits.hpp>

#include <chrono>
#include <memory>

namespace concurry::runtime_internal {

/// What one limit has counted. Amounts are already checked by the caller: non-negative, at most
/// the capacity, whole numbers where the algorithm counts units.
class limit_algorithm {
public:
  using time_point = clock::time_point;

  /// The admit time of a request that only a release or refund can let in.
  static constexpr time_point never = time_point::max();

  virtual ~limit_algorithm() = default;

  /// The earliest time `amount` could be taken if nothing else changed: `now` when it can be
  /// taken now, `never` when only a release or refund could help. Calling it again at the
  /// returned time gives that time or earlier.
  virtual time_point admit_at(double amount, time_point now) = 0;

  /// Takes `amount`; the caller saw admit_at(amount, now) <= now.
  virtual void take(double amount, time_point now) = 0;

  /// Gives back `amount` taken earlier and not used (a resource's units, a token bucket's or
  /// GCRA's unused tokens). The counting algorithms ignore it.
  virtual void refund(double amount, time_point now) = 0;

  /// Counts `amount` used beyond what was taken; later admissions wait for it.
  virtual void charge(double amount, time_point now) = 0;

  /// Units counted against the capacity at `now` (may exceed it after a charge).
  virtual double in_use(time_point now) = 0;

  /// Units a request could take at `now`, in [0, capacity].
  virtual double available(time_point now) = 0;
};

/// True for the algorithms that count whole units and refund nothing: leaky bucket, sliding
/// window, fixed window.
bool counts_whole_units(rate_algorithm a) noexcept;

/// The state of a call or rate limit with a finite `capacity` per `window`, created at `now`
/// (the fixed window's windows start there).
std::unique_ptr<limit_algorithm> make_rate_algorithm(rate_algorithm a,
                                                     double capacity,
                                                     std::chrono::nanoseconds window,
                                                     clock::time_point now);

/// The counter of a resource limit with a finite `capacity`: `refund` returns units.
std::unique_ptr<limit_algorithm> make_resource_counter(double capacity);

/// The state of a limit with an unlimited capacity: admits everything; when `holds_units` (a
/// resource limit) it reports the units held as in use.
std::unique_ptr<limit_algorithm> make_unlimited_counter(bool holds_units);

} // namespace concurry::runtime_internal
