// The timers of a clock, in due order. Not thread-safe: each clock guards it with its own lock.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <unordered_map>
#include <utility>

namespace concurry::detail {

/// Timers ordered by (due time, id), so equal times run in the order they were added.
class timer_queue {
public:
  using time_point = std::chrono::steady_clock::time_point;
  using timer_id = std::uint64_t;

  /// Adds a timer; returns its id and whether it is now the first one due.
  std::pair<timer_id, bool> add(time_point at, std::function<void()> fn) {
    auto id = next_id_++;
    auto it = timers_.emplace(std::pair{at, id}, std::move(fn)).first;
    due_.emplace(id, at);
    return {id, it == timers_.begin()};
  }

  /// Removes a timer that is still queued; false when it already ran or was removed.
  bool cancel(timer_id id) {
    auto d = due_.find(id);
    if (d == due_.end())
      return false;
    timers_.erase(std::pair{d->second, id});
    due_.erase(d);
    return true;
  }

  /// The due time of the first timer, if any.
  [[nodiscard]] std::optional<time_point> first_due() const {
    if (timers_.empty())
      return std::nullopt;
    return timers_.begin()->first.first;
  }

  /// Removes the first timer and returns its callback, for the caller to run without its lock.
  std::function<void()> take_first() {
    auto first = timers_.begin();
    auto fn = std::move(first->second);
    due_.erase(first->first.second);
    timers_.erase(first);
    return fn;
  }

  void clear() noexcept {
    timers_.clear();
    due_.clear();
  }

private:
  timer_id next_id_ = 1;
  std::map<std::pair<time_point, timer_id>, std::function<void()>> timers_;
  std::unordered_map<timer_id, time_point> due_;
};

} // namespace concurry::detail
