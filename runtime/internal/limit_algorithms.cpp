#include "runtime/internal/limit_algorithms.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <deque>
#include <limits>
#include <utility>

namespace concurry::runtime_internal {

namespace {

using time_point = limit_algorithm::time_point;
using std::chrono::nanoseconds;

// Beyond about 127 years from now a wait is as good as endless; it also keeps time_point
// arithmetic far from overflow.
constexpr double longest_wait_ns = 4e18;

// `now` plus `ns` nanoseconds, rounded up so that the time reached really covers the wait.
time_point after(time_point now, double ns) {
  if (!(ns < longest_wait_ns))
    return limit_algorithm::never;
  return now + nanoseconds{static_cast<std::int64_t>(std::ceil(std::max(ns, 0.0)))};
}

double elapsed_ns(time_point from, time_point to) {
  return static_cast<double>((to - from).count());
}

// NOTE: token bucket and GCRA compare with a tolerance of 1e-9 of the capacity, so that float
// error from refills and refunds never turns an exact fit into a wait. Their admit times aim at
// half that tolerance, so the check at the admit time passes despite rounding.
constexpr double tolerance = 1e-9;

// Starts full and refills continuously at capacity/window, capped at the capacity. A charge can
// drive the level below zero: a debt that later requests wait out.
class token_bucket final : public limit_algorithm {
public:
  token_bucket(double capacity, nanoseconds window, time_point now)
      : capacity_{capacity}, rate_{capacity / static_cast<double>(window.count())},
        slack_{tolerance * capacity}, tokens_{capacity}, last_{now} {}

  time_point admit_at(double amount, time_point now) override {
    refill(now);
    if (tokens_ + slack_ >= amount)
      return now;
    return after(now, (amount - tokens_ - slack_ / 2) / rate_);
  }

  void take(double amount, time_point now) override {
    refill(now);
    tokens_ -= amount;
  }

  void refund(double amount, time_point now) override {
    refill(now);
    tokens_ = std::min(capacity_, tokens_ + amount);
  }

  void charge(double amount, time_point now) override { take(amount, now); }

  double in_use(time_point now) override {
    refill(now);
    return std::max(0.0, capacity_ - tokens_);
  }

  double available(time_point now) override {
    refill(now);
    return std::clamp(tokens_, 0.0, capacity_);
  }

private:
  void refill(time_point now) {
    if (now <= last_)
      return;
    tokens_ = std::min(capacity_, tokens_ + elapsed_ns(last_, now) * rate_);
    last_ = now;
  }

  double capacity_;
  double rate_; // tokens per nanosecond
  double slack_;
  double tokens_;
  time_point last_;
};

// The generic cell rate algorithm: one theoretical arrival time (tat) per limit. Each unit moves
// it on by window/capacity; a request fits while tat stays within one window of now, so a full
// burst of the capacity is allowed. Times are nanoseconds from the limit's creation.
class gcra final : public limit_algorithm {
public:
  gcra(double capacity, nanoseconds window, time_point now)
      : capacity_{capacity}, interval_{static_cast<double>(window.count()) / capacity},
        tau_{static_cast<double>(window.count())}, base_{now} {}

  time_point admit_at(double amount, time_point now) override {
    auto t = offset(now);
    auto start = std::max(tat_, t);
    if (start + amount * interval_ - t <= tau_ + tolerance * capacity_ * interval_)
      return now;
    auto at = start + amount * interval_ - tau_ - tolerance * capacity_ * interval_ / 2;
    return after(now, at - t);
  }

  void take(double amount, time_point now) override {
    tat_ = std::max(tat_, offset(now)) + amount * interval_;
  }

  void refund(double amount, time_point now) override {
    tat_ = std::max(tat_ - amount * interval_, offset(now));
  }

  void charge(double amount, time_point now) override { take(amount, now); }

  double in_use(time_point now) override {
    auto t = offset(now);
    return (std::max(tat_, t) - t) / interval_;
  }

  double available(time_point now) override {
    return std::clamp(capacity_ - in_use(now), 0.0, capacity_);
  }

private:
  double offset(time_point t) const { return elapsed_ns(base_, t); }

  double capacity_;
  double interval_; // nanoseconds per unit
  double tau_;      // the window, in nanoseconds
  time_point base_;
  double tat_ = 0;
};

// What the three counting algorithms share: they refund nothing, charge as a take, and report a
// count that settle() first brings up to `now` (leaks, expiries, window roll-overs).
class counting_algorithm : public limit_algorithm {
public:
  void refund(double, time_point) override {}

  void charge(double amount, time_point now) override { take(amount, now); }

  double in_use(time_point now) override {
    settle(now);
    return counted_;
  }

  double available(time_point now) override {
    settle(now);
    return std::clamp(capacity_ - counted_, 0.0, capacity_);
  }

protected:
  explicit counting_algorithm(double capacity) : capacity_{capacity} {}

  virtual void settle(time_point now) = 0;

  double capacity_;
  double counted_ = 0;
};

// A queue of at most `capacity` units that drains one unit per window/capacity. The k-th unit
// after `anchor_` leaks at anchor_ + ceil(k * interval): counting leaks from a fixed anchor keeps
// the fractional progress between checks, so frequent checks never starve it (the Python
// library's flaw). An empty bucket banks no leaks: the anchor moves to the time it is seen empty.
class leaky_bucket final : public counting_algorithm {
public:
  leaky_bucket(double capacity, nanoseconds window, time_point now)
      : counting_algorithm{capacity}, interval_{static_cast<double>(window.count()) / capacity},
        anchor_{now} {}

  time_point admit_at(double amount, time_point now) override {
    settle(now);
    if (counted_ + amount <= capacity_)
      return now;
    auto leaks_needed = static_cast<std::int64_t>(std::ceil(counted_ + amount - capacity_));
    return leak_time(leaked_ + leaks_needed);
  }

  void take(double amount, time_point now) override {
    settle(now);
    counted_ += amount;
  }

private:
  time_point leak_time(std::int64_t k) const {
    return after(anchor_, static_cast<double>(k) * interval_);
  }

  void settle(time_point now) override {
    if (counted_ <= 0) {
      anchor_ = now;
      leaked_ = 0;
      return;
    }
    // The division gives the count up to rounding; leak_time, which admit_at also uses, has the
    // last word, so a unit leaks exactly at the time admit_at promised.
    auto total = static_cast<std::int64_t>(elapsed_ns(anchor_, now) / interval_);
    for (int i = 0; i < 2 && leak_time(total + 1) <= now; ++i)
      ++total;
    for (int i = 0; i < 2 && total > leaked_ && leak_time(total) > now; ++i)
      --total;
    auto fresh = static_cast<double>(total - leaked_);
    if (fresh <= 0)
      return;
    if (fresh >= counted_) {
      counted_ = 0;
      anchor_ = now;
      leaked_ = 0;
      return;
    }
    counted_ -= fresh;
    leaked_ = total;
  }

  double interval_; // nanoseconds per unit
  time_point anchor_;
  std::int64_t leaked_ = 0;
};

// Every take as (time, amount); a take counts until one window after its time. Exact: the
// amounts are whole numbers and the times integers.
class sliding_window final : public counting_algorithm {
public:
  sliding_window(double capacity, nanoseconds window)
      : counting_algorithm{capacity}, window_{window} {}

  time_point admit_at(double amount, time_point now) override {
    settle(now);
    auto excess = counted_ + amount - capacity_;
    if (excess <= 0)
      return now;
    double expiring = 0;
    for (auto& [at, taken] : takes_) {
      expiring += taken;
      if (expiring >= excess)
        return at + window_;
    }
    return never;
  }

  void take(double amount, time_point now) override {
    settle(now);
    if (amount <= 0)
      return;
    if (!takes_.empty() && takes_.back().first == now)
      takes_.back().second += amount;
    else
      takes_.emplace_back(now, amount);
    counted_ += amount;
  }

private:
  void settle(time_point now) override {
    while (!takes_.empty() && takes_.front().first + window_ <= now) {
      counted_ -= takes_.front().second;
      takes_.pop_front();
    }
  }

  nanoseconds window_;
  std::deque<std::pair<time_point, double>> takes_;
};

// A counter per window, the windows back to back from the limit's creation. What a charge puts
// beyond the capacity is carried into the following windows.
class fixed_window final : public counting_algorithm {
public:
  fixed_window(double capacity, nanoseconds window, time_point now)
      : counting_algorithm{capacity}, window_{window}, base_{now} {}

  time_point admit_at(double amount, time_point now) override {
    settle(now);
    if (counted_ + amount <= capacity_)
      return now;
    auto windows = std::max(1.0, std::ceil((counted_ + amount - capacity_) / capacity_));
    return after(base_,
                 (static_cast<double>(index_) + windows) * static_cast<double>(window_.count()));
  }

  void take(double amount, time_point now) override {
    settle(now);
    counted_ += amount;
  }

private:
  void settle(time_point now) override {
    if (now < base_)
      return;
    auto index = (now - base_) / window_;
    if (index <= index_)
      return;
    counted_ = std::max(0.0, counted_ - static_cast<double>(index - index_) * capacity_);
    index_ = index;
  }

  nanoseconds window_;
  time_point base_;
  std::int64_t index_ = 0;
};

// Units held at once; `refund` returns them.
class resource_counter final : public limit_algorithm {
public:
  explicit resource_counter(double capacity) : capacity_{capacity} {}

  time_point admit_at(double amount, time_point now) override {
    return held_ + amount <= capacity_ ? now : never;
  }

  void take(double amount, time_point) override { held_ += amount; }

  void refund(double amount, time_point) override { held_ = std::max(0.0, held_ - amount); }

  void charge(double, time_point) override {}

  double in_use(time_point) override { return held_; }

  double available(time_point) override { return std::clamp(capacity_ - held_, 0.0, capacity_); }

private:
  double capacity_;
  double held_ = 0;
};

class unlimited_counter final : public limit_algorithm {
public:
  explicit unlimited_counter(bool holds_units) : holds_units_{holds_units} {}

  time_point admit_at(double, time_point now) override { return now; }

  void take(double amount, time_point) override {
    if (holds_units_)
      held_ += amount;
  }

  void refund(double amount, time_point) override {
    if (holds_units_)
      held_ = std::max(0.0, held_ - amount);
  }

  void charge(double, time_point) override {}

  double in_use(time_point) override { return held_; }

  double available(time_point) override { return std::numeric_limits<double>::infinity(); }

private:
  bool holds_units_;
  double held_ = 0;
};

} // namespace

bool counts_whole_units(rate_algorithm a) noexcept {
  return a == rate_algorithm::leaky_bucket || a == rate_algorithm::sliding_window ||
         a == rate_algorithm::fixed_window;
}

std::unique_ptr<limit_algorithm> make_rate_algorithm(rate_algorithm a,
                                                     double capacity,
                                                     std::chrono::nanoseconds window,
                                                     clock::time_point now) {
  switch (a) {
  case rate_algorithm::token_bucket:
    return std::make_unique<token_bucket>(capacity, window, now);
  case rate_algorithm::leaky_bucket:
    return std::make_unique<leaky_bucket>(capacity, window, now);
  case rate_algorithm::sliding_window:
    return std::make_unique<sliding_window>(capacity, window);
  case rate_algorithm::fixed_window:
    return std::make_unique<fixed_window>(capacity, window, now);
  case rate_algorithm::gcra:
    return std::make_unique<gcra>(capacity, window, now);
  }
  return std::make_unique<sliding_window>(capacity, window);
}

std::unique_ptr<limit_algorithm> make_resource_counter(double capacity) {
  return std::make_unique<resource_counter>(capacity);
}

std::unique_ptr<limit_algorithm> make_unlimited_counter(bool holds_units) {
  return std::make_unique<unlimited_counter>(holds_units);
}

} // namespace concurry::runtime_internal
