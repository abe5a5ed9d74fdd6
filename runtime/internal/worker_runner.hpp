// The thread of one thread-mode worker: it builds the worker object, then runs calls from a
// lock-free queue in the order they were queued. Handles push calls straight onto the queue
// (the hot path); the worker actor starts, stops and abandons the thread.
#pragma once

#include "actors/worker_body.hpp"
#include "runtime/internal/event_loop.hpp"
#include "runtime/internal/retry_service.hpp"

#include <concurry/detail/call.hpp>
#include <concurry/detail/pool_core.hpp>
#include <concurry/worker.hpp>

#include <atomic>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

namespace concurry::runtime_internal {

/// A multi-producer, single-consumer intrusive queue of calls (Vyukov's design): a push is one
/// atomic exchange and one store; a pop never blocks but may miss a push still in progress.
class call_queue {
public:
  call_queue() noexcept;

  void push(detail::call_node& n) noexcept;

  /// The oldest call, or null when empty (or when the oldest push has not finished linking).
  detail::call_node* pop() noexcept;

  /// False only when the queue is empty; lock-free and safe from any thread. (An empty queue
  /// holds just the sentinel, which then is also the head.)
  [[nodiscard]] bool maybe_nonempty() const noexcept {
    return head_.load(std::memory_order_acquire) != &sentinel_;
  }

private:
  // A node that is never a call; it keeps the queue non-empty for the algorithm.
  struct sentinel_node final : detail::call_node {
    detail::future_state_base& state() noexcept override;
    detail::run_result execute(worker_base&) noexcept override { return detail::run_result::lost; }
    std::uint32_t stored_status() const noexcept override { return 0; }
    std::vector<std::byte> encode_arguments() const override { return {}; }
    detail::run_result settle_remote(std::span<const std::byte>,
                                     std::exception_ptr) noexcept override {
      return detail::run_result::lost;
    }
  };

  alignas(64) std::atomic<detail::call_node*> head_;
  alignas(64) detail::call_node* tail_;
  sentinel_node sentinel_;
};

/// What a worker thread is made with.
struct runner_options {
  detail::worker_context context;
  std::string worker_name;
  /// Identifies the pool, for owner_of_this_thread().
  const void* owner = nullptr;
  /// The pool's retry service; null when no method of the pool retries.
  std::shared_ptr<retry_service> retries;
  /// The most calls in flight on this worker (max_queued_tasks); 0 for no cap. Calls beyond it
  /// wait here, in order, and go out as earlier ones finish.
  std::size_t max_in_flight = 0;
  /// Runs on the worker's thread once the worker object is destroyed (not when abandoned).
  std::function<void()> on_ended;
  /// asyncio mode: coroutine calls run on an event loop of the worker's own, on a second
  /// thread, where they interleave; the other calls run in order on the worker's thread.
  bool event_loop = false;
};

/// One worker thread. Created by the pool, owned jointly by the pool, its worker actor and the
/// thread itself (so an abandoned thread keeps what it uses alive).
class worker_runner final : public actors::worker_body,
                            public detail::attempt_sink,
                            public std::enable_shared_from_this<worker_runner> {
public:
  explicit worker_runner(runner_options options);

  /// The pool whose worker runs on this thread; null on any other thread.
  static const void* owner_of_this_thread() noexcept;
  ~worker_runner() override;

  /// Starts the thread and builds the worker object on it; rethrows the constructor's exception.
  void start(const detail::worker_factory& factory);

  /// Starts the thread without waiting for the worker object: calls dispatched before or after
  /// run once it is built, or fail with the constructor's exception.
  void start_detached(detail::worker_factory factory);

  /// Hot path: counts the call as dispatched and queues it (or, at the in-flight cap, parks it).
  void dispatch(detail::call_node& call) noexcept {
    dispatched_.fetch_add(1, std::memory_order_relaxed);
    if (options_.max_in_flight == 0)
      enqueue(call);
    else
      admit(call);
  }

  [[nodiscard]] std::uint64_t active_calls() const noexcept {
    auto d = dispatched_.load(std::memory_order_relaxed);
    auto f = finished_.load(std::memory_order_acquire);
    return d > f ? d - f : 0;
  }
  [[nodiscard]] std::uint64_t dispatched() const noexcept {
    return dispatched_.load(std::memory_order_relaxed);
  }

  void enqueue(detail::call_node& call) noexcept override;
  void begin_stop(std::function<void()> on_exit) override;
  void abandon() noexcept override;
  [[nodiscard]] actors::worker_counters counters() const noexcept override;

  void attempt_ended(detail::call_node& call, detail::run_result result) noexcept override;
  void attempt_abandoned(detail::call_node& call) noexcept override;

private:
  void build(const detail::worker_factory& factory, std::exception_ptr* ctor_error);
  void serve() noexcept;
  detail::call_node* take() noexcept;
  void execute(detail::call_node& call) noexcept;
  /// What follows an attempt: its retry, or its end.
  void after_attempt(detail::call_node& call, detail::run_result outcome) noexcept;
  /// Starts the event loop's thread (asyncio mode).
  void start_loop();
  /// On the loop's thread: starts an attempt of a coroutine call.
  void start_on_loop(detail::call_node& call) noexcept;
  /// Ends a call that was handed to the loop: counted, published if stored, released.
  void end_on_loop(detail::call_node& call, bool publish) noexcept;
  /// Hands a call to the retry service for its next attempt.
  void schedule_retry(detail::call_node& call) noexcept;
  /// Ends the event loop's thread (asyncio mode); waits for it.
  void end_loop() noexcept;
  void admit(detail::call_node& call) noexcept;
  /// Counts a call as ended and lets a parked one go out.
  void call_ended() noexcept;
  /// A call whose retry the pool gave up on (it stopped during the backoff).
  void give_up(detail::call_node& call) noexcept;
  [[nodiscard]] bool idle() const noexcept { return active_calls() == 0; }
  void wake() noexcept;
  void fail_queued_locked() noexcept;
  void exit_thread() noexcept;
  std::exception_ptr stopped_error() const;

  const runner_options options_;
  const std::size_t index_;

  // Written by callers, read by statistics.
  alignas(64) std::atomic<std::uint64_t> dispatched_{0};
  // Written by the worker thread.
  alignas(64) std::atomic<std::uint64_t> finished_{0};
  // Wake-ups: the thread sleeps on wake_seq_ after announcing itself in sleeping_.
  alignas(64) std::atomic<std::uint32_t> wake_seq_{0};
  std::atomic<bool> sleeping_{false};
  std::atomic<bool> closed_{false};
  std::atomic<bool> stopping_{false};

  call_queue queue_;

  // Guards popping, the running call and the end of the worker against abandon().
  std::mutex mutex_;
  detail::call_node* current_ = nullptr;
  bool abandoned_ = false;
  bool exited_ = false;
  std::function<void()> on_exit_;
  std::unique_ptr<worker_base> worker_;
  // Set when the constructor threw; queued calls fail with it.
  std::exception_ptr ctor_error_;

  // asyncio mode: the loop, its thread, and the calls whose attempts run on it.
  std::shared_ptr<detail::loop_core> loop_;
  std::thread loop_thread_;
  // The worker object, as the loop's coroutines use it (worker_ owns it).
  worker_base* object_ = nullptr;
  std::unordered_set<detail::call_node*> on_loop_;

  // Back-pressure: calls admitted and in flight, and those parked behind the cap.
  std::mutex admit_mutex_;
  std::size_t in_flight_ = 0;
  std::deque<detail::call_node*> parked_;
};

} // namespace concurry::runtime_internal
