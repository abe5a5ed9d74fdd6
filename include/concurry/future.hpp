// concurry::future<T>: the pending result of a call. Copies share one state; the result can be
// read any number of times, with or without a deadline.
#pragma once

#include <concurry/detail/duration.hpp>
#include <concurry/detail/future_state.hpp>
#include <concurry/error.hpp>

#include <chrono>
#include <exception>
#include <type_traits>
#include <utility>
#include <vector>

namespace concurry {

template <class T>
class future;

namespace detail {
template <class T>
future<T> make_future(state_ptr<value_state<T>> s) noexcept;
[[noreturn]] void throw_timeout(std::chrono::nanoseconds waited);
[[noreturn]] void throw_invalid_future();
[[noreturn]] void throw_blocks_own_loop();
/// Throws concurry::error when waiting for `f` here could never end (see
/// future_state_base::completes_on_this_loop).
template <class T>
void check_blocking_allowed(const future<T>& f);
} // namespace detail

/// The pending result of a call: a value of type T, an exception, or cancellation.
///
/// Copies share one state and are safe to use from several threads at once. `result()` can be
/// called again and again; it returns a copy of the value. A future that was default-constructed
/// is not valid and throws `concurry::error` from every accessor but `valid()`.
///
/// Does not: run the call (that is the pool's job), or cancel a call that has started.
template <class T>
class future {
public:
  /// The result type of the call.
  using value_type = T;

  /// An invalid future, to assign a real one to later.
  future() noexcept = default;

  /// True when the future refers to a call.
  [[nodiscard]] bool valid() const noexcept { return static_cast<bool>(state_); }

  /// True once the call finished: with a value, an exception, or cancellation.
  [[nodiscard]] bool done() const { return detail::is_final(checked().status()); }

  /// True while the method runs on its worker.
  [[nodiscard]] bool running() const {
    auto s = checked().status();
    return s == detail::status_running || s == detail::status_completing;
  }

  /// True when the call was cancelled before it started.
  [[nodiscard]] bool cancelled() const { return checked().status() == detail::status_cancelled; }

  /// Cancels the call if it has not started. False once it is running or done; a cancelled
  /// future throws `cancelled_error` from `result()`.
  bool cancel() { return checked().cancel(); }

  /// Waits for the call, then returns its value or rethrows its exception with its original type.
  ///
  /// Inside a coroutine, on the future of a task it spawned that has not ended, this throws
  /// `concurry::error` instead of waiting forever (the task needs the thread that would wait):
  /// co_await the future. The same holds for every wait below.
  T result() const {
    wait();
    return get();
  }

  /// As `result()`, but throws `timeout_error` when the call is not done within `timeout`. The
  /// future stays usable: a later `result()` still returns the value.
  template <class Rep, class Period>
  T result(std::chrono::duration<Rep, Period> timeout) const {
    wait_or_throw(timeout);
    return get();
  }

  /// Waits for the call; returns its exception, or null when it succeeded.
  [[nodiscard]] std::exception_ptr exception() const {
    wait();
    return state_->error();
  }

  /// As `exception()`, with a deadline (throws `timeout_error`).
  template <class Rep, class Period>
  [[nodiscard]] std::exception_ptr exception(std::chrono::duration<Rep, Period> timeout) const {
    wait_or_throw(timeout);
    return state_->error();
  }

  /// Waits until the call is done, whatever the outcome.
  void wait() const {
    check_blocking();
    state_->wait();
  }

  /// Waits at most `timeout`; true when the call is done.
  template <class Rep, class Period>
  bool wait_for(std::chrono::duration<Rep, Period> timeout) const {
    check_blocking();
    return state_->wait_for(detail::saturated_ns(timeout));
  }

  /// Calls `fn(future)` once the call is done: at once on this thread if it already is,
  /// otherwise on the thread that completes it (a worker's thread). Each callback runs exactly
  /// once. An exception escaping `fn` is logged and dropped.
  template <class F>
  void add_done_callback(F&& fn) {
    static_assert(std::is_invocable_v<F&, future<T>>, "the callback takes a concurry::future<T>");
    checked().add_callback([self = *this, fn = std::forward<F>(fn)]() mutable { fn(self); });
  }

private:
  template <class U>
  friend future<U> detail::make_future(detail::state_ptr<detail::value_state<U>>) noexcept;
  template <class U>
  friend void detail::check_blocking_allowed(const future<U>&);

  void check_blocking() const {
    auto& s = checked();
    if (!detail::is_final(s.status()) && s.completes_on_this_loop())
      detail::throw_blocks_own_loop();
  }

  explicit future(detail::state_ptr<detail::value_state<T>> s) noexcept : state_{std::move(s)} {}

  detail::value_state<T>& checked() const {
    if (!state_)
      detail::throw_invalid_future();
    return *state_;
  }

  template <class Rep, class Period>
  void wait_or_throw(std::chrono::duration<Rep, Period> timeout) const {
    auto ns = detail::saturated_ns(timeout);
    if (!wait_for(ns))
      detail::throw_timeout(ns);
  }

  T get() const {
    if (state_->status() != detail::status_done)
      std::rethrow_exception(state_->error());
    if constexpr (!std::is_void_v<T>)
      return state_->value();
  }

  detail::state_ptr<detail::value_state<T>> state_;
};

namespace detail {
template <class T>
future<T> make_future(state_ptr<value_state<T>> s) noexcept {
  return future<T>{std::move(s)};
}

template <class T>
void check_blocking_allowed(const future<T>& f) {
  f.check_blocking();
}

/// The values of futures that are all done, in input order; rethrows the exception of the first
/// failed one in input order. Nothing for void.
template <class T>
std::conditional_t<std::is_void_v<T>, void, std::vector<T>>
values_in_order(const std::vector<future<T>>& fs) {
  if constexpr (std::is_void_v<T>) {
    for (const auto& f : fs)
      f.result();
  } else {
    std::vector<T> out;
    out.reserve(fs.size());
    for (const auto& f : fs)
      out.push_back(f.result());
    return out;
  }
}
} // namespace detail

} // namespace concurry
