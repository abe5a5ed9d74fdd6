// The part of concurry's event loop that coroutines see: where a suspended coroutine waits,
// how it is woken from another thread, and how a chain of coroutines is started as a root. The
// loop itself is in the runtime (runtime/internal/event_loop.hpp); nothing here blocks.
#pragma once

#include <atomic>
#include <chrono>
#include <coroutine>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <utility>

namespace concurry::detail {

class loop_core;
class coro_root;

/// One suspended coroutine's wait for one event: a timer, a future, a limit grant. Exactly
/// one of wake() (any thread) and the root's cancellation (the loop's thread) wins; the winner
/// schedules the coroutine on its loop.
class suspension {
public:
  suspension(std::shared_ptr<loop_core> loop, coro_root* root, std::coroutine_handle<> h) noexcept
      : loop_{std::move(loop)}, root_{root}, handle_{h} {}
  suspension(const suspension&) = delete;
  suspension& operator=(const suspension&) = delete;

  /// Resumes the coroutine on its loop, unless it was woken or cancelled already. Any thread.
  void wake() noexcept;

  /// On the loop's thread: ends the wait by cancellation; false when it was woken first.
  bool cancel() noexcept;

  /// In await_resume: throws cancelled_error when the wait ended by cancellation.
  void rethrow_if_cancelled() const;
  /// True when the wait ended by cancellation.
  [[nodiscard]] bool cancelled() const noexcept {
    return state_.load(std::memory_order_acquire) == cancelled_state;
  }

  /// Ends the wait without resuming the coroutine (its loop is destroying it); false when it
  /// was woken first.
  bool abandon() noexcept;

private:
  enum : int { waiting = 0, woken = 1, cancelled_state = 2 };
  std::atomic<int> state_{waiting};
  std::shared_ptr<loop_core> loop_;
  coro_root* root_;
  std::coroutine_handle<> handle_;
};

using suspension_ptr = std::shared_ptr<suspension>;

/// Suspends the coroutine `h`, which runs on this thread for a concurry loop, until the
/// returned suspension is woken. Throws `concurry::error` when no concurry loop runs a coroutine
/// on this thread, and `cancelled_error` when the coroutine's root was cancelled (the
/// cancellation is delivered at the next suspension point, as asyncio does).
suspension_ptr suspend(std::coroutine_handle<> h);

/// Wakes `s` at `at` (steady clock) from its loop's timers.
void wake_at(const suspension_ptr& s, std::chrono::steady_clock::time_point at);

/// True while this thread runs a coroutine for a concurry loop.
bool in_coroutine() noexcept;

/// True while this thread runs a coroutine for a loop that many calls share (an asyncio
/// worker's), where nothing may block.
bool on_shared_loop() noexcept;

/// Counts a limit acquisition made inside a coroutine that still has to be co_awaited, or
/// (with -1) one that was; a coroutine that suspends or ends with one outstanding fails.
void count_unawaited_acquisition(int delta) noexcept;

/// The coroutine type of a root: the runtime resumes it first and destroys it once done.
class root_coroutine {
public:
  struct promise_type {
    root_coroutine get_return_object() noexcept {
      return root_coroutine{std::coroutine_handle<promise_type>::from_promise(*this)};
    }
    std::suspend_always initial_suspend() noexcept { return {}; }
    std::suspend_always final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    // The bodies catch everything themselves.
    void unhandled_exception() noexcept { std::terminate(); }
  };

  root_coroutine(root_coroutine&& o) noexcept : h_{std::exchange(o.h_, {})} {}
  root_coroutine(const root_coroutine&) = delete;
  root_coroutine& operator=(const root_coroutine&) = delete;
  ~root_coroutine() {
    if (h_)
      h_.destroy();
  }

  /// Hands the frame over to whoever will destroy it.
  std::coroutine_handle<> release() noexcept { return std::exchange(h_, {}); }

private:
  explicit root_coroutine(std::coroutine_handle<> h) noexcept : h_{h} {}
  std::coroutine_handle<> h_;
};

/// A root's identity for cancellation from another thread.
class root_ref {
public:
  root_ref() noexcept = default;
  root_ref(std::shared_ptr<loop_core> loop, std::uint64_t id) noexcept
      : loop_{std::move(loop)}, id_{id} {}

  /// Asks the root to stop at its next suspension point (its suspended wait ends with
  /// cancelled_error). Any thread; nothing when the root already ended.
  void cancel() const noexcept;

  explicit operator bool() const noexcept { return id_ != 0; }
  [[nodiscard]] std::uint64_t id() const noexcept { return id_; }
  /// True when the root's loop is the one running on this thread.
  [[nodiscard]] bool on_this_thread() const noexcept;

private:
  std::shared_ptr<loop_core> loop_;
  std::uint64_t id_ = 0;
};

/// The root of a call's attempt while it runs on a loop, for cancel() from any thread.
class running_root {
public:
  void set(root_ref r) noexcept {
    std::lock_guard guard{mutex_};
    root_ = std::move(r);
  }
  void clear() noexcept { set({}); }
  /// True while a root runs.
  bool active() const noexcept {
    std::lock_guard guard{mutex_};
    return static_cast<bool>(root_);
  }
  /// True while a root runs on the loop of this thread.
  bool on_this_thread() const noexcept {
    std::lock_guard guard{mutex_};
    return root_.on_this_thread();
  }
  /// Cancels the running root, if any.
  void cancel() noexcept {
    std::lock_guard guard{mutex_};
    if (root_)
      root_.cancel();
  }

private:
  mutable std::mutex mutex_;
  root_ref root_;
};

/// Starts `root` on the loop that runs on this thread (from inside a coroutine, or in a
/// function the loop runs); `abandoned` runs (on any thread) if the loop gives up on the root
/// before it ends. Throws `concurry::error` when there is none.
root_ref start_on_current_loop(root_coroutine root, std::function<void()> abandoned = {});

/// Runs `root` to its end on this thread with a loop of its own (nested inside a loop already
/// running here, if any); roots it started that are still running when it ends are destroyed.
void run_to_end(root_coroutine root);

} // namespace concurry::detail
