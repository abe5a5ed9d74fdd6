#include "runtime/internal/worker_runner.hpp"

#include "runtime/internal/futex.hpp"

#include <concurry/error.hpp>

#include <future>
#include <system_error>
#include <thread>

namespace concurry::runtime_internal {

namespace {

void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#else
  std::this_thread::yield();
#endif
}

// An idle worker first spins (about 0.2 µs) on its queue, then yields its core a few times,
// then sleeps. The spin catches the next call of a pipeline; the yields keep a worker that is
// about to get a call from needing a futex wake, without taking the core from a thread that can
// run. Longer spins steal the core the caller needs when threads outnumber cores. Tuned with
// bench/thread_pool_bench on 2 cores.
constexpr int idle_spins = 20;
constexpr int idle_yields = 30;

} // namespace

// -- call_queue ---------------------------------------------------------------

detail::future_state_base& call_queue::sentinel_node::state() noexcept {
  // Never called: the sentinel is never handed out by pop().
  static detail::value_state<void> unused;
  return unused;
}

call_queue::call_queue() noexcept : head_{&sentinel_}, tail_{&sentinel_} {}

void call_queue::push(detail::call_node& n) noexcept {
  n.next_call.store(nullptr, std::memory_order_relaxed);
  auto* prev = head_.exchange(&n, std::memory_order_acq_rel);
  prev->next_call.store(&n, std::memory_order_release);
}

detail::call_node* call_queue::pop() noexcept {
  auto* tail = tail_;
  auto* next = tail->next_call.load(std::memory_order_acquire);
  if (tail == &sentinel_) {
    if (!next)
      return nullptr;
    tail_ = next;
    tail = next;
    next = next->next_call.load(std::memory_order_acquire);
  }
  if (next) {
    tail_ = next;
    return tail;
  }
  if (tail != head_.load(std::memory_order_acquire))
    return nullptr; // a push is between its exchange and its link
  push(sentinel_);
  next = tail->next_call.load(std::memory_order_acquire);
  if (next) {
    tail_ = next;
    return tail;
  }
  return nullptr;
}

// -- worker_runner ------------------------------------------------------------

namespace {
thread_local const void* thread_owner = nullptr;
} // namespace

worker_runner::worker_runner(runner_options options)
    : options_{std::move(options)}, index_{options_.context.index} {}

const void* worker_runner::owner_of_this_thread() noexcept {
  return thread_owner;
}

worker_runner::~worker_runner() {
  // NOTE: the loop's thread is joined when the worker ends; a runner that never got there (its
  // thread was abandoned inside user code) leaves it to the process's end.
  if (loop_thread_.joinable())
    loop_thread_.detach();
}

void worker_runner::start(const detail::worker_factory& factory) {
  std::exception_ptr ctor_error;
  std::promise<void> built;
  auto built_future = built.get_future();
  // The thread owns a reference, so an abandoned thread never outlives what it touches. It is
  // detached: stop() waits for it through the worker actor, with a deadline.
  std::thread thread;
  try {
    thread = std::thread{[self = shared_from_this(), &factory, &ctor_error, &built] {
      self->build(factory, &ctor_error);
      built.set_value();
      self->serve();
    }};
  } catch (const std::system_error& e) {
    throw concurry::error{"could not start a thread for worker " + std::to_string(index_) + " of " +
                          options_.worker_name + ": " + e.what()};
  }
  thread.detach();
  built_future.wait();
  if (ctor_error)
    std::rethrow_exception(ctor_error);
  if (options_.event_loop)
    start_loop();
}

void worker_runner::start_loop() {
  object_ = worker_.get();
  loop_ = std::make_shared<detail::loop_core>();
  loop_->set_shared();
  try {
    loop_thread_ = std::thread{[loop = loop_, owner = options_.owner] {
      thread_owner = owner;
      loop->run_forever();
    }};
  } catch (const std::system_error& e) {
    loop_.reset();
    begin_stop(nullptr);
    throw concurry::error{"could not start the event loop thread of worker " +
                          std::to_string(index_) + " of " + options_.worker_name + ": " + e.what()};
  }
}

void worker_runner::end_loop() noexcept {
  if (!loop_)
    return;
  loop_->request_stop();
  if (loop_thread_.joinable() && loop_thread_.get_id() != std::this_thread::get_id())
    loop_thread_.join();
}

namespace {
// A coroutine call on its way to the loop. Should the loop end before it runs, its end fails
// the call instead.
struct loop_start {
  std::shared_ptr<worker_runner> runner;
  detail::call_node* call;
  loop_start(std::shared_ptr<worker_runner> r, detail::call_node* c) noexcept
      : runner{std::move(r)}, call{c} {}
  loop_start(const loop_start&) = delete;
  loop_start& operator=(const loop_start&) = delete;
  ~loop_start() {
    if (call)
      runner->attempt_abandoned(*call);
  }
};
} // namespace

void worker_runner::start_on_loop(detail::call_node& call) noexcept {
  if (closed_.load(std::memory_order_acquire)) {
    call.state().fail(stopped_error());
    return end_on_loop(call, false);
  }
  // Not started: cancelled while queued. Final already: cancelled during a retry's backoff.
  if (!call.begin_attempt() || detail::is_final(call.state().status()))
    return end_on_loop(call, false);
  call.start(*object_, *this);
}

void worker_runner::attempt_ended(detail::call_node& call, detail::run_result result) noexcept {
  // A call cancelled while it ran ends here, whatever its attempt says.
  if (result == detail::run_result::retry && !detail::is_final(call.state().status())) {
    {
      std::lock_guard guard{mutex_};
      on_loop_.erase(&call);
    }
    return schedule_retry(call);
  }
  end_on_loop(call, result == detail::run_result::stored);
}

void worker_runner::attempt_abandoned(detail::call_node& call) noexcept {
  call.state().fail(ctor_error_ ? ctor_error_ : stopped_error());
  end_on_loop(call, false);
}

void worker_runner::end_on_loop(detail::call_node& call, bool publish) noexcept {
  {
    std::lock_guard guard{mutex_};
    on_loop_.erase(&call);
  }
  call_ended();
  if (publish)
    call.state().publish(call.stored_status());
  call.state().release();
  wake(); // a stopping worker waits for its calls to end
}

void worker_runner::start_detached(detail::worker_factory factory) {
  std::thread thread;
  try {
    thread = std::thread{[self = shared_from_this(), factory = std::move(factory)] {
      std::exception_ptr ctor_error;
      self->build(factory, &ctor_error);
      self->serve();
    }};
  } catch (const std::system_error& e) {
    throw concurry::error{"could not start a thread for worker " + std::to_string(index_) + " of " +
                          options_.worker_name + ": " + e.what()};
  }
  thread.detach();
}

void worker_runner::build(const detail::worker_factory& factory, std::exception_ptr* ctor_error) {
  thread_owner = options_.owner;
  detail::constructing_worker_context() = options_.context;
  try {
    worker_ = factory();
  } catch (...) {
    *ctor_error = std::current_exception();
    // A worker without an object ends at once (serve() skips the loop); calls already queued
    // and any queued later fail with the constructor's exception.
    stopping_.store(true);
    std::lock_guard guard{mutex_};
    ctor_error_ = *ctor_error;
  }
}

void worker_runner::serve() noexcept {
  if (worker_)
    while (auto* call = take())
      execute(*call);
  exit_thread();
}

detail::call_node* worker_runner::take() noexcept {
  detail::call_node* previous = nullptr;
  detail::call_node* next = nullptr;
  for (int spin = 0;; ++spin) {
    bool abandoned = false;
    {
      std::lock_guard guard{mutex_};
      previous = std::exchange(current_, nullptr);
      abandoned = abandoned_;
      if (!abandoned)
        next = current_ = queue_.pop();
    }
    if (previous) {
      // Released only now: until current_ was cleared, abandon() could still look at it.
      previous->state().release();
      previous = nullptr;
    }
    if (next)
      return next;
    if (abandoned)
      return nullptr;
    if (spin < idle_spins) {
      // Spin on the lock-free hint, taking the lock only once a call has arrived.
      for (; spin < idle_spins && !queue_.maybe_nonempty(); ++spin)
        cpu_relax();
      continue;
    }
    // A stopping worker ends once nothing is queued, parked or waiting for a retry.
    if (stopping_.load(std::memory_order_acquire) && idle())
      return nullptr;
    if (spin < idle_spins + idle_yields) {
      std::this_thread::yield();
      continue;
    }

    // Announce the sleep, then look once more: a producer either sees sleeping_ or its call is
    // seen here (both sides fence between their store and their load).
    auto seq = wake_seq_.load(std::memory_order_acquire);
    sleeping_.store(true, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    {
      std::lock_guard guard{mutex_};
      if (!abandoned_)
        next = current_ = queue_.pop();
    }
    if (!next && !(stopping_.load(std::memory_order_relaxed) && idle()))
      futex_wait(wake_seq_, seq);
    sleeping_.store(false, std::memory_order_relaxed);
    if (next)
      return next;
    spin = 0;
  }
}

void worker_runner::execute(detail::call_node& call) noexcept {
  if (!call.begin_attempt()) {
    // Cancelled before it started.
    call_ended();
    return;
  }
  auto outcome = call.execute(*worker_);
  if (outcome == detail::run_result::retry) {
    // The call stays in flight; the retry service holds it through the backoff, then queues
    // it here again.
    call.state().add_ref();
    return schedule_retry(call);
  }
  // Counted before the future completes, so a caller that saw the result also sees the worker
  // as idle again (least_active relies on it).
  call_ended();
  if (outcome == detail::run_result::stored)
    call.state().publish(call.stored_status());
}

void worker_runner::schedule_retry(detail::call_node& call) noexcept {
  options_.retries->schedule(
      call,
      [self = shared_from_this()](detail::call_node& c) { self->enqueue(c); },
      [self = shared_from_this()](detail::call_node& c) { self->give_up(c); });
}

void worker_runner::admit(detail::call_node& call) noexcept {
  {
    std::lock_guard guard{admit_mutex_};
    if (!parked_.empty() || in_flight_ >= options_.max_in_flight) {
      parked_.push_back(&call);
      return;
    }
    ++in_flight_;
  }
  enqueue(call);
}

void worker_runner::call_ended() noexcept {
  finished_.fetch_add(1, std::memory_order_release);
  if (options_.max_in_flight == 0)
    return;
  detail::call_node* next = nullptr;
  {
    std::lock_guard guard{admit_mutex_};
    if (in_flight_ > 0)
      --in_flight_;
    if (!parked_.empty()) {
      next = parked_.front();
      parked_.pop_front();
      ++in_flight_;
    }
  }
  if (next)
    enqueue(*next);
}

void worker_runner::give_up(detail::call_node& call) noexcept {
  call.state().fail(std::make_exception_ptr(concurry::stopped_error{
      "the pool of " + options_.worker_name + " was stopped while the call waited for attempt " +
      std::to_string(call.attempt + 1) + " (worker " + std::to_string(index_) + ")"}));
  call_ended();
  call.state().release();
  wake(); // a stopping worker may have been waiting for this call to end
}

void worker_runner::wake() noexcept {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (sleeping_.load(std::memory_order_relaxed)) {
    wake_seq_.fetch_add(1, std::memory_order_release);
    futex_wake_one(wake_seq_);
  }
}

void worker_runner::enqueue(detail::call_node& call) noexcept {
  if (loop_ && call.coroutine) {
    bool posted = false;
    {
      std::lock_guard guard{mutex_};
      if (!closed_.load(std::memory_order_relaxed)) {
        try {
          on_loop_.insert(&call);
          auto start = std::make_shared<loop_start>(shared_from_this(), &call);
          posted = loop_->post([start] {
            auto* c = std::exchange(start->call, nullptr);
            start->runner->start_on_loop(*c);
          });
          // A loop that has ended failed nothing: the call is still ours.
          if (!posted)
            start->call = nullptr;
        } catch (...) {
          posted = false;
        }
        if (!posted)
          on_loop_.erase(&call);
      }
    }
    if (!posted) {
      call.state().fail(ctor_error_ ? ctor_error_ : stopped_error());
      end_on_loop(call, false);
    }
    return;
  }
  queue_.push(call);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (closed_.load(std::memory_order_relaxed)) {
    // The thread no longer takes calls; whoever sees the close fails what is left.
    std::lock_guard guard{mutex_};
    fail_queued_locked();
    return;
  }
  if (sleeping_.load(std::memory_order_relaxed)) {
    wake_seq_.fetch_add(1, std::memory_order_release);
    futex_wake_one(wake_seq_);
  }
}

void worker_runner::begin_stop(std::function<void()> on_exit) {
  {
    std::lock_guard guard{mutex_};
    if (exited_ && !abandoned_) {
      if (on_exit)
        on_exit();
    } else if (!abandoned_) {
      on_exit_ = std::move(on_exit);
    }
  }
  stopping_.store(true, std::memory_order_seq_cst);
  wake();
}

void worker_runner::abandon() noexcept {
  std::vector<detail::call_node*> on_loop;
  {
    std::lock_guard guard{mutex_};
    if (abandoned_)
      return;
    abandoned_ = true;
    closed_.store(true, std::memory_order_seq_cst);
    on_exit_ = nullptr;
    // current_ may be a call that already finished (its reference is still held); fail() then
    // does nothing.
    if (current_)
      current_->state().fail(stopped_error());
    fail_queued_locked();
    // The loop's calls fail now (below, outside the lock: their done callbacks may call this
    // pool); the loop releases them as it destroys their coroutines.
    for (auto* call : on_loop_) {
      call->state().add_ref();
      on_loop.push_back(call);
    }
  }
  for (auto* call : on_loop) {
    call->state().fail(stopped_error());
    call->state().release();
  }
  if (loop_)
    loop_->abandon();
  stopping_.store(true, std::memory_order_seq_cst);
  wake_seq_.fetch_add(1, std::memory_order_release);
  futex_wake_one(wake_seq_);
}

void worker_runner::exit_thread() noexcept {
  std::unique_ptr<worker_base> object;
  {
    std::lock_guard guard{mutex_};
    closed_.store(true, std::memory_order_seq_cst);
    fail_queued_locked();
    object = std::move(worker_);
  }
  // The loop ends first: its coroutines may still use the object.
  end_loop();
  // The user's destructor runs on the worker's own thread, outside the lock.
  object.reset();
  std::unique_lock guard{mutex_};
  exited_ = true;
  // Called under the lock: once abandon() returned, no callback reaches an actor system that
  // may be gone.
  if (on_exit_ && !abandoned_)
    std::exchange(on_exit_, nullptr)();
  if (abandoned_ || !options_.on_ended)
    return;
  guard.unlock();
  options_.on_ended();
}

void worker_runner::fail_queued_locked() noexcept {
  auto reason = ctor_error_ ? ctor_error_ : stopped_error();
  while (auto* call = queue_.pop()) {
    call->state().fail(reason);
    finished_.fetch_add(1, std::memory_order_release);
    call->state().release();
  }
  std::deque<detail::call_node*> parked;
  {
    std::lock_guard guard{admit_mutex_};
    parked.swap(parked_);
  }
  for (auto* call : parked) {
    call->state().fail(reason);
    finished_.fetch_add(1, std::memory_order_release);
    call->state().release();
  }
}

actors::worker_counters worker_runner::counters() const noexcept {
  actors::worker_counters c;
  c.dispatched = dispatched_.load(std::memory_order_relaxed);
  c.finished = finished_.load(std::memory_order_acquire);
  c.stopped = closed_.load(std::memory_order_acquire);
  return c;
}

std::exception_ptr worker_runner::stopped_error() const {
  return std::make_exception_ptr(concurry::stopped_error{
      "the pool of " + options_.worker_name + " was stopped before the call finished (worker " +
      std::to_string(index_) + ")"});
}

} // namespace concurry::runtime_internal
