// The retry side of a pool: the resolved retry plans of its methods, and the backoff timers of
// the calls waiting to run again. The worker judges each attempt (call.hpp); this service counts
// nothing itself but waits out the backoff on the pool's clock, so no thread sleeps through it
// and tests run it on virtual time.
#pragma once

#include <concurry/clock.hpp>
#include <concurry/detail/call.hpp>
#include <concurry/detail/retry_plan.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace concurry::runtime_internal {

/// One per pool with retries. Thread-safe. Shared by the pool and its worker threads, so that
/// an attempt still running on an abandoned thread can read its plan.
class retry_service : public std::enable_shared_from_this<retry_service> {
public:
  /// `plans[i]` is the plan of registered method i (null: a single attempt); the last entry is
  /// for methods not listed in the registration (and task functions).
  retry_service(std::shared_ptr<concurry::clock> clock,
                std::vector<std::shared_ptr<const detail::retry_plan>> plans);

  /// The plan for a call of method `index`, or null for a single attempt.
  [[nodiscard]] const detail::retry_plan* plan_for(std::uint32_t index) const noexcept {
    if (index >= plans_.size() - 1)
      return plans_.back().get();
    return plans_[index].get();
  }

  using call_action = std::function<void(detail::call_node&)>;

  /// Takes a reference of `call`, whose attempt `call.attempt` failed and is worth another one.
  /// After the backoff runs `resend(call)` on the clock's timer thread, or `give_up(call)` when
  /// the pool stops first (at once when it already has). Each hands the reference on.
  void schedule(detail::call_node& call, call_action resend, call_action give_up);

  /// Gives up on every call waiting for its retry, and on any scheduled later.
  void stop();

private:
  struct waiting {
    concurry::clock::timer_id timer = 0;
    detail::call_node* call = nullptr;
    call_action resend;
    call_action give_up;
  };

  void fire(std::uint64_t key);

  const std::shared_ptr<concurry::clock> clock_;
  const std::vector<std::shared_ptr<const detail::retry_plan>> plans_;
  std::mutex mutex_;
  bool stopped_ = false;
  std::uint64_t next_key_ = 0;
  std::unordered_map<std::uint64_t, waiting> waiting_;
};

} // namespace concurry::runtime_internal
