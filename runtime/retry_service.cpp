#include "runtime/internal/retry_service.hpp"

#include "actors/log.hpp"

#include <algorithm>
#include <chrono>

namespace concurry::runtime_internal {

retry_service::retry_service(std::shared_ptr<concurry::clock> clock,
                             std::vector<std::shared_ptr<const detail::retry_plan>> plans)
    : clock_{std::move(clock)}, plans_{std::move(plans)} {}

void retry_service::schedule(detail::call_node& call, call_action resend, call_action give_up) {
  // A wait too long to matter (retry_wait(hours::max()), a late exponential retry) means
  // "not before the pool stops": keep the deadline representable.
  constexpr auto longest = std::chrono::nanoseconds{std::chrono::hours{24 * 365 * 10}};
  auto delay = std::min(call.retry->delay(call.attempt), longest);
  actors::logger("pool")->debug("retry scheduled worker={} method={} attempt={} of {} wait_ms={}",
                                call.retry->worker_name,
                                call.retry->method_name,
                                call.attempt + 1,
                                call.retry->max_attempts,
                                std::chrono::duration<double, std::milli>(delay).count());
  std::unique_lock lock{mutex_};
  if (stopped_) {
    lock.unlock();
    give_up(call);
    return;
  }
  auto key = next_key_++;
  auto& w = waiting_[key];
  w.call = &call;
  w.resend = std::move(resend);
  w.give_up = std::move(give_up);
  // The timer never runs inside schedule(), and its callback takes this lock, so the entry is
  // complete before it can fire.
  w.timer = clock_->schedule(clock_->now() + delay, [weak = weak_from_this(), key] {
    if (auto self = weak.lock())
      self->fire(key);
  });
}

void retry_service::fire(std::uint64_t key) {
  std::unique_lock lock{mutex_};
  auto it = waiting_.find(key);
  if (it == waiting_.end())
    return; // stop() took it
  auto w = std::move(it->second);
  waiting_.erase(it);
  lock.unlock();
  w.resend(*w.call);
}

void retry_service::stop() {
  std::unordered_map<std::uint64_t, waiting> left;
  {
    std::lock_guard lock{mutex_};
    stopped_ = true;
    left.swap(waiting_);
  }
  for (auto& [key, w] : left) {
    clock_->cancel(w.timer);
    w.give_up(*w.call);
  }
}

} // namespace concurry::runtime_internal
