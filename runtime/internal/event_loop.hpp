// concurry's event loop: one thread resumes coroutines when what they wait for happens (a
// timer, a future, a limit grant), and runs functions posted to it from other threads. An
// asyncio worker runs one on a thread of its own; a coroutine call in any other mode runs to its
// end on a loop made for it on the worker's thread.
#pragma once

#include <concurry/detail/event_loop.hpp>

#include <chrono>
#include <condition_variable>
#include <coroutine>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <queue>
#include <unordered_map>
#include <vector>

namespace concurry::detail {

/// One chain of coroutines started on a loop: the root coroutine and what it waits on.
class coro_root {
public:
  std::uint64_t id = 0;
  /// The root coroutine's frame; destroyed by the loop once done (or when the loop gives up).
  std::coroutine_handle<> frame;
  /// Runs if the loop gives up on the root before it ends.
  std::function<void()> abandoned;
  /// The wait the chain is suspended on, while it is (loop thread only).
  suspension_ptr current;
  /// A cancellation that found it running or about to resume: delivered at its next suspension.
  bool cancel_requested = false;
  /// Acquisitions made and not yet co_awaited.
  int unawaited = 0;
};

/// The loop: shared by the thread that runs it and by everyone who wakes its coroutines.
class loop_core : public std::enable_shared_from_this<loop_core> {
public:
  loop_core() = default;
  loop_core(const loop_core&) = delete;
  loop_core& operator=(const loop_core&) = delete;
  ~loop_core();

  // -- any thread ----------------------------------------------------------------------------

  /// Runs `fn` on the loop's thread; false (nothing runs) once the loop closed.
  bool post(std::function<void()> fn);
  /// Resumes `h` of `root` on the loop's thread (a suspension that was woken or cancelled).
  void schedule(coro_root* root, std::coroutine_handle<> h) noexcept;
  /// Wakes `s` at `at`.
  void add_timer(std::chrono::steady_clock::time_point at, suspension_ptr s);
  /// Cancels root `id` at its next suspension point, if it still runs.
  void cancel(std::uint64_t id) noexcept;
  /// Makes run_forever() return and close the loop.
  void request_stop() noexcept;
  /// Makes the loop give up on every root: run_forever() destroys them and returns.
  void abandon() noexcept;

  // -- the loop's thread ---------------------------------------------------------------------

  /// Registers `root` and schedules its first step.
  root_ref start(root_coroutine root, std::function<void()> abandoned);
  /// Runs until root `id` ended.
  void run_until_ended(std::uint64_t id);
  /// Runs until request_stop() or abandon(), then closes (roots left are destroyed).
  void run_forever();
  /// Gives up on every root left (their `abandoned` runs), destroys their frames, and closes
  /// the loop: later posts and wake-ups are dropped.
  void close() noexcept;

  /// The loop running on this thread, or null.
  static loop_core* current() noexcept;

  /// True for a loop that many calls share (an asyncio worker's): nothing on it may block.
  /// False for a loop one call has to itself, which may block its thread as a plain call would.
  [[nodiscard]] bool shared() const noexcept { return shared_; }
  void set_shared() noexcept { shared_ = true; }

private:
  struct item {
    coro_root* root = nullptr;
    std::coroutine_handle<> resume;
    std::function<void()> fn;
  };
  struct timer {
    std::chrono::steady_clock::time_point at;
    std::uint64_t seq;
    suspension_ptr waiting;
    bool operator>(const timer& o) const noexcept { return at != o.at ? at > o.at : seq > o.seq; }
  };

  /// Runs one step: waits for an item or a due timer, then runs it. `done()` is checked under
  /// the lock before sleeping.
  template <class Done>
  void run_until(Done done);
  void run_item(item& it) noexcept;
  void finish(coro_root& root) noexcept;

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<item> ready_;
  std::priority_queue<timer, std::vector<timer>, std::greater<>> timers_;
  std::uint64_t timer_seq_ = 0;
  // Written on the loop's thread under the lock; abandon() reads it under the lock.
  std::unordered_map<std::uint64_t, std::unique_ptr<coro_root>> roots_;
  std::uint64_t next_id_ = 1;
  bool stop_ = false;
  bool abandoned_ = false;
  bool closed_ = false;
  // Set by request_stop() and abandon(): the loop looks at its end condition again.
  bool poked_ = false;
  bool shared_ = false;
};

} // namespace concurry::detail
