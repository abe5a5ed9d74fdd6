// Waiting on and completing future states. Waiters sleep on the status word itself with a
// futex; a completion wakes them only when one announced itself with the waiters bit.
#include <concurry/detail/future_state.hpp>
#include <concurry/future.hpp>

#include "actors/log.hpp"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <ctime>

namespace concurry::detail {

namespace {

static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t));

std::uint32_t* word_address(const std::atomic<std::uint32_t>& w) noexcept {
  return reinterpret_cast<std::uint32_t*>(const_cast<std::atomic<std::uint32_t>*>(&w));
}

void futex_wait(const std::atomic<std::uint32_t>& w,
                std::uint32_t expected,
                const timespec* relative) noexcept {
  syscall(SYS_futex, word_address(w), FUTEX_WAIT_PRIVATE, expected, relative, nullptr, 0);
}

void futex_wake_all(const std::atomic<std::uint32_t>& w) noexcept {
  syscall(SYS_futex, word_address(w), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr, nullptr, 0);
}

// Spins briefly (about half a microsecond) before sleeping: long enough for a result that is
// nearly there, short enough not to take the core its worker needs.
constexpr int wait_spins = 50;

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
  return false;
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
  for (;;) {
    w = word_.fetch_or(waiters_bit, std::memory_order_acq_rel) | waiters_bit;
    if (is_final(w & status_mask))
      return true;
    if (forever) {
      futex_wait(word_, w, nullptr);
      continue;
    }
    auto left = deadline - std::chrono::steady_clock::now();
    if (left <= std::chrono::nanoseconds::zero())
      return false;
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
    timespec rel{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
    futex_wait(word_, w, &rel);
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

void throw_invalid_future() {
  throw error{"this future refers to no call (default-constructed or moved from)"};
}

} // namespace concurry::detail
