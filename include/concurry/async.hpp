// Coroutine methods: a worker method that returns `concurry::task<T>` is a C++20 coroutine.
//
//     class fetcher : public concurry::worker<fetcher> {
//     public:
//       concurry::task<int> fetch(int id) {
//         co_await concurry::sleep(std::chrono::milliseconds{100}); // the loop runs others
//         auto grant = co_await limits().acquire({{"requests", 1}});
//         co_return id * 2;
//       }
//     };
//     CONCURRY_WORKER(fetcher, (), fetch)
//
//     auto pool = fetcher::options().mode(concurry::mode::asyncio).init();
//     pool.call(&fetcher::fetch, 7).result();   // 14
//
// The caller gets a `concurry::future<T>` as for any method. In asyncio mode the coroutines of
// the worker interleave on one event-loop thread at their `co_await`s; in every other mode each
// call runs to completion on its worker, as the Python library runs `async def` methods there.
//
// Inside a coroutine, `co_await` works on:
//   - `concurry::sleep(duration)`: the loop runs other coroutines meanwhile;
//   - a `concurry::future<T>`: the result of a call on another worker or pool (its value, or
//     its exception rethrown);
//   - `limits().acquire(...)`: waits for the limits without blocking the loop (inside a
//     coroutine an acquisition must be co_awaited; see acquire_awaiter below);
//   - another `concurry::task<T>`: a helper coroutine, run in place.
//
// `concurry::spawn(task)` starts a task beside the running one and returns its future (as
// asyncio's create_task does); `concurry::run(task)` runs a task to its end on the calling thread.
#pragma once

#include <concurry/detail/duration.hpp>
#include <concurry/detail/event_loop.hpp>
#include <concurry/error.hpp>
#include <concurry/future.hpp>
#include <concurry/limits.hpp>

#include <chrono>
#include <coroutine>
#include <exception>
#include <functional>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace concurry {

template <class T>
class task;

namespace detail {

/// A value or an exception, as a coroutine ended.
template <class T>
class coro_result {
public:
  template <class... V>
  void set_value(V&&... v) {
    result_.template emplace<1>(std::forward<V>(v)...);
  }
  void set_error(std::exception_ptr e) noexcept { result_.template emplace<2>(std::move(e)); }
  [[nodiscard]] bool has_value() const noexcept { return result_.index() == 1; }
  [[nodiscard]] std::exception_ptr error() const noexcept {
    return result_.index() == 2 ? std::get<2>(result_) : nullptr;
  }
  /// Moves the value out, or rethrows the exception.
  T take() {
    if (result_.index() == 2)
      std::rethrow_exception(std::get<2>(result_));
    if (result_.index() == 0)
      throw concurry::error{"a coroutine's result was read before it ended"};
    return std::move(std::get<1>(result_));
  }

private:
  std::variant<std::monostate, T, std::exception_ptr> result_;
};

template <>
class coro_result<void> {
public:
  void set_value() noexcept { state_ = 1; }
  void set_error(std::exception_ptr e) noexcept {
    error_ = std::move(e);
    state_ = 2;
  }
  [[nodiscard]] bool has_value() const noexcept { return state_ == 1; }
  [[nodiscard]] std::exception_ptr error() const noexcept { return error_; }
  void take() {
    if (state_ == 2)
      std::rethrow_exception(error_);
    if (state_ == 0)
      throw concurry::error{"a coroutine's result was read before it ended"};
  }

private:
  int state_ = 0;
  std::exception_ptr error_;
};

/// Fails a coroutine that leaves an acquisition it made un-awaited (see acquire_awaiter).
void check_acquisitions_awaited();

/// Where a task is in its run, as its awaiter and its end see it.
enum class task_phase : unsigned char {
  idle,         ///< not started
  starting,     ///< its awaiter runs it inline, from await_suspend
  ended_inline, ///< it ended before the first suspension: the awaiter goes on without suspending
  suspended,    ///< it suspended once; its end resumes the awaiting coroutine
};

/// What task<T>'s promise shares across T.
template <class T>
struct task_promise_base {
  std::coroutine_handle<> continuation;
  coro_result<T> result;
  bool taken = false;
  task_phase phase = task_phase::idle;

  std::suspend_always initial_suspend() noexcept { return {}; }

  struct final_awaiter {
    bool await_ready() const noexcept { return false; }
    template <class P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) const noexcept {
      auto& promise = h.promise();
      // Ended inside its awaiter's await_suspend: back there, which then does not suspend. A
      // loop of awaits that end at once so never grows the stack, tail calls or not (g++ makes
      // the symmetric transfer below a tail call only when optimising).
      if (promise.phase == task_phase::starting) {
        promise.phase = task_phase::ended_inline;
        return std::noop_coroutine();
      }
      auto next = promise.continuation;
      return next ? next : std::noop_coroutine();
    }
    void await_resume() const noexcept {}
  };
  final_awaiter final_suspend() noexcept { return {}; }

  void unhandled_exception() noexcept { result.set_error(std::current_exception()); }
};

template <class T>
struct task_promise : task_promise_base<T> {
  task<T> get_return_object() noexcept;
  // By value, so that `co_return {1, 2};` builds a T.
  void return_value(T v) {
    check_acquisitions_awaited();
    this->result.set_value(std::move(v));
  }
};

template <>
struct task_promise<void> : task_promise_base<void> {
  task<void> get_return_object() noexcept;
  void return_void() {
    check_acquisitions_awaited();
    this->result.set_value();
  }
};

/// What a root hears when its task ended; must not throw. Type-erased, so the root's frame
/// holds no type of the caller's (a lambda of an unnamed namespace would give it no linkage).
template <class T>
using done_callback = std::function<void(coro_result<T>&&)>;

/// Runs `t` and hands its outcome to `done`.
template <class T>
root_coroutine drive(task<T> t, std::type_identity_t<done_callback<T>> done) {
  coro_result<T> o;
  try {
    if constexpr (std::is_void_v<T>) {
      co_await std::move(t);
      o.set_value();
    } else {
      o.set_value(co_await std::move(t));
    }
  } catch (...) {
    o.set_error(std::current_exception());
  }
  done(std::move(o));
}

} // namespace detail

/// The result of a coroutine: a method of a worker that returns `task<T>` runs as a coroutine
/// and its caller gets a `future<T>`. A task is lazy: it starts when it is co_awaited (by
/// another coroutine) or started by concurry (a call, `spawn`, `run`). Move-only; awaited once.
///
/// Does not: run on its own (a task that is never awaited never runs), or hold a reference
/// result (`task<T&>`).
template <class T = void>
class [[nodiscard]] task {
  static_assert(!std::is_reference_v<T>, "concurry::task holds a value, not a reference");
  static_assert(!std::is_const_v<T> && !std::is_volatile_v<T>,
                "concurry::task<const T>: write concurry::task<T> (the caller gets a copy)");

public:
  /// What the coroutine gives: the `T` of `co_return`.
  using value_type = T;
  /// The coroutine machinery's promise (for the compiler).
  using promise_type = detail::task_promise<T>;

  /// A task of no coroutine; awaiting it throws `concurry::error`.
  task() noexcept = default;
  /// Takes over `o`'s coroutine; `o` refers to none.
  task(task&& o) noexcept : h_{std::exchange(o.h_, {})} {}
  /// Destroys this task's coroutine (if not started or done), then takes over `o`'s.
  task& operator=(task&& o) noexcept {
    if (this != &o) {
      destroy();
      h_ = std::exchange(o.h_, {});
    }
    return *this;
  }
  task(const task&) = delete;
  task& operator=(const task&) = delete;
  ~task() { destroy(); }

  /// True when the task refers to a coroutine.
  [[nodiscard]] bool valid() const noexcept { return static_cast<bool>(h_); }

  /// What `co_await task` does: runs the task's coroutine, then resumes the awaiting one.
  struct awaiter {
    /// The task's coroutine.
    std::coroutine_handle<promise_type> h;
    /// True when there is nothing to run (done already, or no coroutine).
    bool await_ready() const noexcept { return !h || h.done(); }
    /// Runs the task here; false (the caller goes on at once) when it ended without
    /// suspending, otherwise it resumes `caller` when it ends.
    bool await_suspend(std::coroutine_handle<> caller) {
      auto& promise = h.promise();
      promise.continuation = caller;
      promise.phase = detail::task_phase::starting;
      h.resume();
      if (promise.phase == detail::task_phase::ended_inline)
        return false;
      promise.phase = detail::task_phase::suspended;
      return true;
    }
    /// The task's value, or its exception rethrown; `concurry::error` the second time.
    T await_resume() {
      if (!h)
        throw error{"this task refers to no coroutine (default-constructed or moved from)"};
      if (std::exchange(h.promise().taken, true))
        throw error{"this task was awaited already; a task gives its result once"};
      return h.promise().result.take();
    }
  };

  /// Runs the task in place; its value, or its exception rethrown.
  awaiter operator co_await() && noexcept { return awaiter{h_}; }
  /// As above, for a task held in a variable.
  awaiter operator co_await() & noexcept { return awaiter{h_}; }

private:
  friend struct detail::task_promise<T>;
  explicit task(std::coroutine_handle<promise_type> h) noexcept : h_{h} {}
  void destroy() noexcept {
    if (h_)
      std::exchange(h_, {}).destroy();
  }
  std::coroutine_handle<promise_type> h_;
};

namespace detail {
template <class T>
task<T> task_promise<T>::get_return_object() noexcept {
  return task<T>{std::coroutine_handle<task_promise<T>>::from_promise(*this)};
}
inline task<void> task_promise<void>::get_return_object() noexcept {
  return task<void>{std::coroutine_handle<task_promise<void>>::from_promise(*this)};
}

/// co_await concurry::sleep(...).
struct sleep_awaiter {
  explicit sleep_awaiter(std::chrono::steady_clock::time_point until) noexcept : at{until} {}
  std::chrono::steady_clock::time_point at;
  suspension_ptr waiting;
  // Even a sleep of zero lets the other coroutines run, as asyncio.sleep(0) does.
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) {
    waiting = suspend(h);
    try {
      wake_at(waiting, at);
    } catch (...) {
      // The coroutine goes on with the exception: nothing may resume it later.
      waiting->abandon();
      throw;
    }
  }
  void await_resume() const { waiting->rethrow_if_cancelled(); }
};

/// co_await on a concurry::future: its value, or with `Value` false only its end. (Awaiters
/// here have constructors: g++ 12 destroys parts of an aggregate-initialised awaiter twice.)
template <class T, bool Value = true>
struct future_awaiter {
  explicit future_awaiter(future<T> fut) noexcept : f{std::move(fut)} {}
  future<T> f;
  suspension_ptr waiting;
  bool await_ready() const { return f.done(); }
  void await_suspend(std::coroutine_handle<> h) {
    waiting = suspend(h);
    try {
      f.add_done_callback([w = waiting](const future<T>&) { w->wake(); });
    } catch (...) {
      // The coroutine goes on with the exception: nothing may resume it later.
      waiting->abandon();
      throw;
    }
  }
  auto await_resume() const {
    if (waiting && waiting->cancelled()) {
      // As asyncio does, a cancelled coroutine cancels what it waited for: a spawned task stops
      // at its next suspension point, a call that has not started never runs.
      future<T>{f}.cancel();
      waiting->rethrow_if_cancelled();
    }
    if constexpr (Value)
      return f.result();
  }
};

/// The state of a spawned task's future: cancel() stops the task at its next suspension point.
template <class T>
class spawned_state final : public value_state<T> {
public:
  running_root root;
  bool interruptible() const noexcept override { return root.active(); }
  void interrupt() noexcept override { root.cancel(); }
  bool completes_on_this_loop() const noexcept override { return root.on_this_thread(); }
};
} // namespace detail

/// Suspends the running coroutine for `d` (at least; zero or less still lets the others run).
/// Only inside a coroutine that concurry runs; elsewhere `co_await` throws `concurry::error`.
/// A cancelled coroutine's sleep ends at once with `cancelled_error`.
template <class Rep, class Period>
[[nodiscard]] detail::sleep_awaiter sleep(std::chrono::duration<Rep, Period> d) {
  auto ns = detail::saturated_ns(d);
  auto now = std::chrono::steady_clock::now();
  auto left = std::chrono::steady_clock::time_point::max() - now;
  return detail::sleep_awaiter{ns >= left ? std::chrono::steady_clock::time_point::max()
                                          : now + std::max(ns, std::chrono::nanoseconds{0})};
}

/// Suspends the running coroutine until `at` on the steady clock.
[[nodiscard]] inline detail::sleep_awaiter sleep_until(std::chrono::steady_clock::time_point at) {
  return detail::sleep_awaiter{at};
}

/// `co_await f` inside a coroutine: suspends until the call behind `f` is done, then gives its
/// value or rethrows its exception. The loop runs other coroutines meanwhile.
template <class T>
detail::future_awaiter<T> operator co_await(const future<T>& f) {
  return detail::future_awaiter<T>{f};
}

/// Inside a coroutine, `co_await concurry::async_gather(futures)`: waits for every future
/// without blocking the loop, then gives their values in input order. When some failed,
/// rethrows the exception of the first failed one in input order, after all finished (as
/// `gather`). For `future<void>` it gives nothing.
template <class T>
task<std::conditional_t<std::is_void_v<T>, void, std::vector<T>>>
async_gather(std::vector<future<T>> fs) {
  for (const auto& f : fs)
    co_await detail::future_awaiter<T, false>{f};
  if constexpr (std::is_void_v<T>)
    detail::values_in_order(fs);
  else
    co_return detail::values_in_order(fs);
}

/// Starts `t` on the loop of the running coroutine, beside it, and returns its future (as
/// asyncio's create_task). The task runs even if the future is dropped; `cancel()` on the future
/// stops it at its next suspension point. Throws `concurry::error` outside a coroutine that
/// concurry runs. A task still running when its loop ends (its call finished, in a mode that
/// runs each call to its end; or the worker stopped) is destroyed and its future fails.
template <class T>
[[nodiscard]] future<T> spawn(task<T> t) {
  auto* state = new detail::spawned_state<T>{};
  state->try_start();
  detail::state_ptr<detail::value_state<T>> result{state};
  state->add_ref(); // the root's
  auto done = [state](detail::coro_result<T>&& o) noexcept {
    state->root.clear();
    if (o.has_value()) {
      if constexpr (std::is_void_v<T>)
        state->set_value();
      else
        try {
          state->set_value(o.take());
        } catch (...) {
          state->fail(std::current_exception());
        }
    } else {
      state->fail(o.error());
    }
    state->release();
  };
  auto abandoned = [state] {
    state->fail(std::make_exception_ptr(
        cancelled_error{"the spawned task's loop ended before the task did"}));
    state->release();
  };
  try {
    state->root.set(detail::start_on_current_loop(detail::drive(std::move(t), done), abandoned));
  } catch (...) {
    state->release();
    throw;
  }
  return detail::make_future(std::move(result));
}

/// Runs `t` to its end on this thread, with an event loop of its own, and returns its value (or
/// rethrows its exception). Tasks it spawned that are still running then are destroyed. May be
/// called inside a coroutine (it then blocks that coroutine's loop until `t` ends).
template <class T>
T run(task<T> t) {
  detail::coro_result<T> o;
  detail::run_to_end(
      detail::drive(std::move(t), [&o](detail::coro_result<T>&& r) noexcept { o = std::move(r); }));
  return o.take();
}

namespace detail {
/// co_await limits().acquire(...) inside a coroutine.
struct acquire_awaiter {
  explicit acquire_awaiter(acquisition a) noexcept : shell{std::move(a)} {}
  acquisition shell;
  suspension_ptr waiting;
  bool await_ready() const { return acquisition_ready(shell); }
  bool await_suspend(std::coroutine_handle<> h) { return acquisition_wait(shell, h, waiting); }
  acquisition await_resume() {
    if (waiting)
      waiting->rethrow_if_cancelled();
    return acquisition_take(shell);
  }
};
} // namespace detail

/// `co_await limits().acquire(...)` inside a coroutine: suspends until the limits grant the
/// request, without blocking the loop, and gives the granted acquisition (or throws
/// `timeout_error`, `config_error`). Inside a coroutine `acquire` starts the request and returns
/// it un-granted; a coroutine that suspends again or ends before it co_awaits it fails with
/// `concurry::error`, and a request that is never co_awaited holds nothing once granted.
inline detail::acquire_awaiter operator co_await(acquisition&& a) {
  detail::acquisition_awaited(a);
  return detail::acquire_awaiter{std::move(a)};
}

} // namespace concurry
