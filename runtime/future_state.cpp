// Waiting on and completing future states. Waiters sleep on the status word itself with a
// futex; a completion wakes them only when one announced itself with the waiters bit.
#include <concurry/detail/future_state.hpp>
#include <concurry/future.hpp>

#include "actors/log.hpp"
#include "runtime/internal/futex.hpp"

#include <thread>

namespace concurry::detail {

namespace {

using runtime_internal::futex_wait;
using runtime_internal::futex_wake_all;

// Spins very briefly (about 0.1 µs) before sleeping: enough for a result that is all but there;
// any longer takes the core its worker needs (measured with bench/thread_pool_bench).
constexpr int wait_spins = 10;
// Then yields its core a few times before it sleeps. When the caller shares a core with the
// worker it waits for, a yield lets that worker run on through its queue; a futex sleep would
// have it wake the caller (and be preempted by it) call by call. Measured with
// bench/thread_pool_bench: this alone lifted 2 workers pipelined from about 2 M to 5-13 M
// calls/s and the round trip from about 25 to 1.5 µs.
constexpr int wait_yields = 20;

// A callback's exception has nobody to go to: it is logged and dropped.
void run_callback(const std::function<void()>& cb) noexcept {
  try {
    cb();
  } catch (const std::exception& e) {
    actors::logger("pool")->error("a future's done callback threw error={}", e.what());
  } catch (...) {
    actors::logger("pool")->error("a future's done callback threw a non-standard exception");
  }
}

} // namespace

void future_state_base::publish(std::uint32_t final_status) noexcept {
  std::uint32_t w = word_.load(std::memory_order_relaxed);
  while (!word_.compare_exchange_weak(
      w, (w & ~status_mask) | final_status, std::memory_order_acq_rel)) {
  }
  if (w & waiters_bit)
    futex_wake_all(word_);
  if (w & callbacks_bit) {
    std::vector<std::function<void()>> callbacks;
    {
      std::lock_guard guard{callbacks_mutex_};
      callbacks.swap(callbacks_);
    }
    for (auto& cb : callbacks)
      run_callback(cb);
  }
}

bool future_state_base::cancel() noexcept {
  std::uint32_t w = word_.load(std::memory_order_relaxed);
  while ((w & status_mask) == status_pending) {
    if (word_.compare_exchange_weak(
            w, (w & ~status_mask) | status_completing, std::memory_order_acq_rel)) {
      error_ = std::make_exception_ptr(cancelled_error{"the call was cancelled"});
      publish(status_cancelled);
      return true;
    }
  }
  // A running coroutine stops at its next suspension point; its future is cancelled now, as an
  // asyncio task's is.
  if ((w & status_mask) != status_running || !interruptible() || !claim())
    return false;
  error_ = std::make_exception_ptr(cancelled_error{"the call was cancelled while it ran"});
  publish(status_cancelled);
  interrupt();
  return true;
}

void future_state_base::wait() const noexcept {
  wait_for(std::chrono::nanoseconds::max());
}

bool future_state_base::wait_for(std::chrono::nanoseconds timeout) const noexcept {
  std::uint32_t w = word_.load(std::memory_order_acquire);
  if (is_final(w & status_mask))
    return true;
  for (int i = 0; i < wait_spins; ++i) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
    if (is_final(word_.load(std::memory_order_acquire) & status_mask))
      return true;
  }
  const bool forever = timeout == std::chrono::nanoseconds::max();
  const auto deadline = forever ? std::chrono::steady_clock::time_point::max()
                                : std::chrono::steady_clock::now() + timeout;
  for (int i = 0; i < wait_yields; ++i) {
    std::this_thread::yield();
    if (is_final(word_.load(std::memory_order_acquire) & status_mask))
      return true;
    if (!forever && std::chrono::steady_clock::now() >= deadline)
      return false;
  }
  for (;;) {
    w = word_.fetch_or(waiters_bit, std::memory_order_acq_rel) | waiters_bit;
    if (is_final(w & status_mask))
      return true;
    if (forever) {
      futex_wait(word_, w);
      continue;
    }
    auto left = deadline - std::chrono::steady_clock::now();
    if (left <= std::chrono::nanoseconds::zero())
      return false;
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left);
    futex_wait(word_, w, &ns);
  }
}

void future_state_base::add_callback(std::function<void()> fn) {
  {
    std::lock_guard guard{callbacks_mutex_};
    // A completer that publishes after this sees the bit and takes the list under the lock.
    auto w = word_.fetch_or(callbacks_bit, std::memory_order_acq_rel);
    if (!is_final(w & status_mask)) {
      callbacks_.push_back(std::move(fn));
      return;
    }
  }
  run_callback(fn);
}

std::exception_ptr future_state_base::error() const noexcept {
  return (status() == status_done) ? nullptr : error_;
}

void throw_timeout(std::chrono::nanoseconds waited) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(waited).count();
  throw timeout_error{"the call did not finish within " + std::to_string(ms) + " ms"};
}

void throw_blocks_own_loop() {
  throw error{"waiting here for a task spawned on this event loop would never end (the task "
              "needs this thread); inside a coroutine, co_await its future (or "
              "concurry::async_gather) instead"};
}

void throw_invalid_future() {
  throw error{"this future refers to no call (default-constructed or moved from)"};
}

} // namespace concurry::detail
