// The shared state behind concurry::future: an intrusively counted object whose status word
// drives waiting (a futex), cancellation and completion callbacks. Calls are future states too
// (see call.hpp), so a call costs one allocation.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <new>
#include <optional>
#include <utility>
#include <vector>

namespace concurry::detail {

/// Life of a future: pending -> running -> completing -> done | failed, or pending -> cancelled.
/// `completing` is held by exactly one thread while it stores the value or the error.
enum status : std::uint32_t {
  status_pending = 0,
  status_running = 1,
  status_completing = 2,
  status_done = 3,
  status_failed = 4,
  status_cancelled = 5,
};

inline constexpr std::uint32_t status_mask = 0xff;
inline constexpr std::uint32_t waiters_bit = 0x100;
inline constexpr std::uint32_t callbacks_bit = 0x200;

constexpr bool is_final(std::uint32_t s) noexcept {
  return s >= status_done;
}

/// The untyped part of a future's state. Thread-safe; completion is first-wins.
class future_state_base {
public:
  future_state_base() noexcept = default;
  future_state_base(const future_state_base&) = delete;
  future_state_base& operator=(const future_state_base&) = delete;
  virtual ~future_state_base() = default;

  void add_ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }

  void release() noexcept {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1)
      delete this;
  }

  std::uint32_t status() const noexcept {
    return word_.load(std::memory_order_acquire) & status_mask;
  }

  /// pending -> running. False when the call was cancelled (or already finished).
  bool try_start() noexcept {
    std::uint32_t w = word_.load(std::memory_order_relaxed);
    while ((w & status_mask) == status_pending) {
      if (word_.compare_exchange_weak(
              w, (w & ~status_mask) | status_running, std::memory_order_acq_rel))
        return true;
    }
    return false;
  }

  /// Takes the right to complete: pending or running -> completing. Exactly one caller wins.
  bool claim() noexcept {
    std::uint32_t w = word_.load(std::memory_order_relaxed);
    while ((w & status_mask) < status_completing) {
      if (word_.compare_exchange_weak(
              w, (w & ~status_mask) | status_completing, std::memory_order_acq_rel))
        return true;
    }
    return false;
  }

  /// After a successful claim(): makes the result visible, wakes waiters, runs callbacks.
  void publish(std::uint32_t final_status) noexcept;

  /// Claims and fails with `e`; false when the state was already completed by someone else.
  bool fail(std::exception_ptr e) noexcept {
    if (!claim())
      return false;
    error_ = std::move(e);
    publish(status_failed);
    return true;
  }

  /// Cancels a call that has not started, or a running coroutine that can stop at its next
  /// suspension point (interrupt()). False once it runs otherwise, or is done.
  bool cancel() noexcept;

  /// True while the running call can be stopped early (a coroutine on an event loop); the
  /// default: a running call cannot be.
  virtual bool interruptible() const noexcept { return false; }
  /// Asks a running call to stop early, at its next suspension point; nothing when it cannot.
  virtual void interrupt() noexcept {}

  /// True when waiting for this state on this thread could never end: it is a task spawned on
  /// the event loop that this thread runs, which cannot run while the thread waits.
  virtual bool completes_on_this_loop() const noexcept { return false; }

  /// Blocks until the state is final.
  void wait() const noexcept;

  /// Blocks until the state is final or `timeout` passed; true when final.
  bool wait_for(std::chrono::nanoseconds timeout) const noexcept;

  /// Runs `fn` once the state is final: at once (on this thread) if it already is, otherwise
  /// on the thread that completes it.
  void add_callback(std::function<void()> fn);

  /// The error of a failed or cancelled state; null otherwise. Valid once final.
  std::exception_ptr error() const noexcept;

protected:
  std::exception_ptr error_;

private:
  mutable std::atomic<std::uint32_t> word_{status_pending};
  std::atomic<std::uint32_t> refs_{1};
  std::mutex callbacks_mutex_;
  std::vector<std::function<void()>> callbacks_;
};

/// A future state holding a value of type T (nothing for void).
template <class T>
class value_state : public future_state_base {
public:
  ~value_state() override {
    if (status() == status_done)
      std::launder(reinterpret_cast<T*>(&storage_))->~T();
  }

  /// Claims, stores and publishes; false when someone else completed first.
  template <class... Args>
  bool set_value(Args&&... args) {
    if (!claim())
      return false;
    store(std::forward<Args>(args)...);
    publish(status_done);
    return true;
  }

  /// Stores the value after a successful claim(), without publishing it.
  template <class... Args>
  void store(Args&&... args) {
    ::new (static_cast<void*>(&storage_)) T(std::forward<Args>(args)...);
  }

  /// The value; only after the state is final with status_done.
  const T& value() const noexcept { return *std::launder(reinterpret_cast<const T*>(&storage_)); }

private:
  alignas(T) unsigned char storage_[sizeof(T)];
};

template <>
class value_state<void> : public future_state_base {
public:
  bool set_value() {
    if (!claim())
      return false;
    publish(status_done);
    return true;
  }
  void store() noexcept {}
  void value() const noexcept {}
};

/// An owning pointer to a future state.
template <class S>
class state_ptr {
public:
  state_ptr() noexcept = default;
  /// Adopts a reference the caller already holds.
  explicit state_ptr(S* s) noexcept : s_{s} {}
  state_ptr(const state_ptr& o) noexcept : s_{o.s_} {
    if (s_)
      s_->add_ref();
  }
  state_ptr(state_ptr&& o) noexcept : s_{std::exchange(o.s_, nullptr)} {}
  state_ptr& operator=(state_ptr o) noexcept {
    std::swap(s_, o.s_);
    return *this;
  }
  ~state_ptr() {
    if (s_)
      s_->release();
  }
  S* get() const noexcept { return s_; }
  S* operator->() const noexcept { return s_; }
  S& operator*() const noexcept { return *s_; }
  explicit operator bool() const noexcept { return s_ != nullptr; }

private:
  S* s_ = nullptr;
};

} // namespace concurry::detail
