// Waiting on many futures at once: `wait` (which are done), `gather` (all results in input
// order), `as_completed` (each future as it finishes) and `outcome`, a value or an exception.
// None of them polls: each registers one done callback per future and sleeps on a condition
// variable until enough of them have run or the deadline passed. `wait` and `gather` can show
// their progress (concurry::progress, progress.hpp), driven by the same callbacks.
#pragma once

#include <concurry/detail/duration.hpp>
#include <concurry/error.hpp>
#include <concurry/future.hpp>
#include <concurry/progress.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace concurry {

/// When `wait` returns, besides a deadline running out.
enum class return_when {
  /// Once every future is done.
  all_completed,
  /// Once any future is done (at once when one already is).
  first_completed,
  /// Once any future failed (an exception or cancellation), or once all are done without one.
  first_exception,
};

/// What `wait` found: indices into its input, each list ascending, together naming every input
/// exactly once.
///
/// `done` holds the futures that were done when `wait` returned; a future in `not_done` may have
/// finished a moment later. Does not: hold the futures themselves (index the input with these).
struct wait_result {
  /// Indices of the futures that were done: with a value, an exception, or cancellation.
  std::vector<std::size_t> done;
  /// Indices of the futures still pending or running.
  std::vector<std::size_t> not_done;
};

/// The result of one future: a value of type T, or the exception it failed with.
///
/// What `gather(fs, return_exceptions)` returns per future, so that one failure does not hide
/// the other results. `outcome<void>` holds no value, only a possible exception. Does not: wrap
/// or translate the exception; it is the one the future holds, with its original type.
template <class T>
class outcome {
public:
  /// A successful outcome holding `value`.
  static outcome success(T value) { return outcome{std::in_place_index<0>, std::move(value)}; }

  /// A failed outcome holding `e`, which must not be null.
  static outcome failure(std::exception_ptr e) {
    return outcome{std::in_place_index<1>, std::move(e)};
  }

  /// True when the outcome holds a value.
  [[nodiscard]] bool has_value() const noexcept { return state_.index() == 0; }

  /// The value; rethrows the exception, with its original type, when there is none.
  const T& value() const& {
    rethrow_if_failed();
    return std::get<0>(state_);
  }

  /// As the const overload, for a modifiable outcome.
  T& value() & {
    rethrow_if_failed();
    return std::get<0>(state_);
  }

  /// As the const overload, moving the value out of a temporary outcome.
  T&& value() && {
    rethrow_if_failed();
    return std::get<0>(std::move(state_));
  }

  /// The exception; null when the outcome holds a value.
  [[nodiscard]] std::exception_ptr error() const noexcept {
    return has_value() ? nullptr : std::get<1>(state_);
  }

private:
  template <std::size_t I, class U>
  outcome(std::in_place_index_t<I> tag, U&& v) : state_{tag, std::forward<U>(v)} {}

  void rethrow_if_failed() const {
    if (!has_value())
      std::rethrow_exception(std::get<1>(state_));
  }

  std::variant<T, std::exception_ptr> state_;
};

/// The result of a `future<void>`: success, or the exception it failed with.
template <>
class outcome<void> {
public:
  /// A successful outcome.
  static outcome success() { return outcome{nullptr}; }

  /// A failed outcome holding `e`, which must not be null.
  static outcome failure(std::exception_ptr e) { return outcome{std::move(e)}; }

  /// True when the future succeeded.
  [[nodiscard]] bool has_value() const noexcept { return !error_; }

  /// Returns when the future succeeded; rethrows its exception otherwise.
  void value() const {
    if (error_)
      std::rethrow_exception(error_);
  }

  /// The exception; null on success.
  [[nodiscard]] std::exception_ptr error() const noexcept { return error_; }

private:
  explicit outcome(std::exception_ptr e) noexcept : error_{std::move(e)} {}

  std::exception_ptr error_;
};

/// Tag type of `return_exceptions`.
struct return_exceptions_t {
  explicit return_exceptions_t() = default;
};

/// Passed to `gather` to get an `outcome` per future instead of rethrowing the first failure.
inline constexpr return_exceptions_t return_exceptions{};

namespace detail {

using steady_deadline = std::optional<std::chrono::steady_clock::time_point>;

/// The deadline `timeout` from now; none for nanoseconds::max() or one too far to represent.
/// A negative timeout is an expired deadline.
inline steady_deadline deadline_after(std::chrono::nanoseconds timeout) noexcept {
  using clock = std::chrono::steady_clock;
  auto now = clock::now();
  if (timeout == std::chrono::nanoseconds::max() || timeout > clock::time_point::max() - now)
    return std::nullopt;
  return now + std::max(timeout, std::chrono::nanoseconds::zero());
}

/// Which futures of one `wait`, `gather` or `as_completed` finished, in completion order,
/// and the progress report they feed, if any. The futures' done callbacks hold it too, so one
/// that runs after the waiter left is harmless.
class completion_log {
public:
  explicit completion_log(std::size_t total, std::shared_ptr<progress_reporter> progress = nullptr)
      : progress_{std::move(progress)} {
    order_.reserve(total);
  }

  /// Called once per future from its done callback. Allocates nothing (the order is reserved),
  /// but for what the progress report does.
  void record(std::size_t index, bool failed) noexcept {
    // Reported before it is recorded, so that the waiter, once woken, ends a report that
    // counted every future it saw finish.
    if (progress_)
      progress_->completed();
    {
      std::lock_guard guard{mutex_};
      order_.push_back(index);
      failures_ += failed ? 1 : 0;
    }
    changed_.notify_all();
  }

  /// Blocks until `enough(finished, failures)` holds or the deadline passed; returns whether it
  /// holds.
  template <class Pred>
  bool wait_until(const steady_deadline& deadline, Pred enough) {
    std::unique_lock lock{mutex_};
    auto ready = [&] { return enough(order_.size(), failures_); };
    if (!deadline) {
      changed_.wait(lock, ready);
      return true;
    }
    return changed_.wait_until(lock, *deadline, ready);
  }

  /// The index of the `n`th future to finish, once at least n + 1 finished or the deadline
  /// passed (then none).
  std::optional<std::size_t> nth_finished(std::size_t n, const steady_deadline& deadline) {
    if (!wait_until(deadline, [n](std::size_t finished, std::size_t) { return finished > n; }))
      return std::nullopt;
    std::lock_guard guard{mutex_};
    return order_[n];
  }

  /// How many futures failed so far.
  std::size_t failures() {
    std::lock_guard guard{mutex_};
    return failures_;
  }

  /// Ends the progress report, if any, in `state`; completions after it report nothing.
  void finish_progress(progress_state state) noexcept {
    if (progress_)
      progress_->finish(state);
  }

private:
  std::shared_ptr<progress_reporter> progress_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::size_t> order_;
  std::size_t failures_ = 0;
};

/// Registers one done callback per future, recording into a new log that feeds a report of
/// `shown`, a bar described `description` unless its options say otherwise. Throws
/// `concurry::error` for an invalid future, before registering any callback or making a bar.
template <class T>
std::shared_ptr<completion_log> watch(const std::vector<future<T>>& fs,
                                      const progress& shown = {},
                                      const char* description = "Waiting") {
  for (const auto& f : fs) {
    if (!f.valid())
      throw_invalid_future();
    check_blocking_allowed(f);
  }
  auto log = std::make_shared<completion_log>(
      fs.size(), make_progress_reporter(shown, fs.size(), description));
  for (std::size_t i = 0; i < fs.size(); ++i) {
    auto f = fs[i];
    f.add_done_callback([log, i](future<T> done) { log->record(i, done.exception() != nullptr); });
  }
  return log;
}

/// Waits until every future of `fs` is done; throws `timeout_error` at the deadline. The
/// progress report of `gather` ends in failure when a future failed and `rethrows`.
template <class T>
void wait_all_or_throw(const std::vector<future<T>>& fs,
                       std::chrono::nanoseconds timeout,
                       const progress& shown = {},
                       bool rethrows = true) {
  auto deadline = deadline_after(timeout);
  auto log = watch(fs, shown, "Gathering");
  auto all = [total = fs.size()](std::size_t finished, std::size_t) { return finished == total; };
  if (log->wait_until(deadline, all)) {
    bool failed = rethrows && log->failures() > 0;
    log->finish_progress(failed ? progress_state::failure : progress_state::success);
    return;
  }
  log->finish_progress(progress_state::stopped);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count();
  throw timeout_error{"not all of " + std::to_string(fs.size()) + " futures finished within " +
                      std::to_string(ms) + " ms"};
}

template <class T>
outcome<T> outcome_of(const future<T>& f) {
  if (auto e = f.exception())
    return outcome<T>::failure(std::move(e));
  if constexpr (std::is_void_v<T>)
    return outcome<T>::success();
  else
    return outcome<T>::success(f.result());
}

template <class K, class T>
std::vector<future<T>> values_of(const std::map<K, future<T>>& fs) {
  std::vector<future<T>> out;
  out.reserve(fs.size());
  for (const auto& [key, f] : fs)
    out.push_back(f);
  return out;
}

} // namespace detail

/// Waits until `when` holds for `fs` or `timeout` passed, and says which futures are done.
///
/// Returns at once for empty input. On timeout it returns the partial sets, like
/// `concurrent.futures.wait`; it throws nothing for that. `nanoseconds::max()` (or more, such as
/// `hours::max()`) means no deadline. Throws `concurry::error` when a future is invalid. Each
/// call registers one done callback per future that stays until that future finishes, so
/// repeated timed waits on a future that never finishes accumulate callbacks. With `shown`, a
/// bar described "Waiting" (or a callback) follows the futures as they finish; the bar ends in
/// success when `when` was met, stopped when the deadline passed.
/// Does not: cancel the futures left pending, or rethrow their exceptions.
template <class T, class Rep, class Period>
wait_result wait(const std::vector<future<T>>& fs,
                 return_when when,
                 std::chrono::duration<Rep, Period> timeout,
                 const progress& shown = {}) {
  auto deadline = detail::deadline_after(detail::saturated_ns(timeout));
  auto log = detail::watch(fs, shown, "Waiting");
  const auto total = fs.size();
  bool met = log->wait_until(deadline, [when, total](std::size_t finished, std::size_t failures) {
    switch (when) {
    case return_when::first_completed:
      return finished > 0 || total == 0;
    case return_when::first_exception:
      return failures > 0 || finished == total;
    case return_when::all_completed:
      break;
    }
    return finished == total;
  });
  log->finish_progress(met ? progress_state::success : progress_state::stopped);
  wait_result out;
  for (std::size_t i = 0; i < total; ++i)
    (fs[i].done() ? out.done : out.not_done).push_back(i);
  return out;
}

/// As `wait` with a timeout, without a deadline.
template <class T>
wait_result wait(const std::vector<future<T>>& fs,
                 return_when when = return_when::all_completed,
                 const progress& shown = {}) {
  return wait(fs, when, std::chrono::nanoseconds::max(), shown);
}

/// As `wait` until every future is done, without a deadline, reporting to `shown`.
template <class T>
wait_result wait(const std::vector<future<T>>& fs, const progress& shown) {
  return wait(fs, return_when::all_completed, std::chrono::nanoseconds::max(), shown);
}

/// Waits for every future, then returns their values in input order.
///
/// When some failed, rethrows the exception of the first failed one in input order, after all
/// finished (as Python's `asyncio.gather` without fail-fast). Throws `timeout_error` when not all
/// finished within `timeout`; the futures stay usable. For `future<void>` it returns nothing.
/// With `shown`, a bar described "Gathering" (or a callback) follows the futures as they
/// finish; the bar ends in success, in failure when a future failed, stopped at the deadline.
/// Does not: cancel the other futures when one fails or the deadline passes.
template <class T, class Rep, class Period>
std::conditional_t<std::is_void_v<T>, void, std::vector<T>>
gather(const std::vector<future<T>>& fs,
       std::chrono::duration<Rep, Period> timeout,
       const progress& shown = {}) {
  detail::wait_all_or_throw(fs, detail::saturated_ns(timeout), shown);
  return detail::values_in_order(fs);
}

/// As `gather` with a timeout, without a deadline.
template <class T>
std::conditional_t<std::is_void_v<T>, void, std::vector<T>> gather(const std::vector<future<T>>& fs,
                                                                   const progress& shown = {}) {
  return gather(fs, std::chrono::nanoseconds::max(), shown);
}

/// Waits for every future, then returns an `outcome` per future in input order; throws only
/// `timeout_error` (when not all finished within `timeout`) and `concurry::error` for an invalid
/// future. A bar of `shown` ends in success, failed futures or not, or stopped at the deadline.
template <class T, class Rep, class Period>
[[nodiscard]] std::vector<outcome<T>> gather(const std::vector<future<T>>& fs,
                                             return_exceptions_t,
                                             std::chrono::duration<Rep, Period> timeout,
                                             const progress& shown = {}) {
  detail::wait_all_or_throw(fs, detail::saturated_ns(timeout), shown, /*rethrows=*/false);
  std::vector<outcome<T>> out;
  out.reserve(fs.size());
  for (const auto& f : fs)
    out.push_back(detail::outcome_of(f));
  return out;
}

/// As `gather` with `return_exceptions` and a timeout, without a deadline.
template <class T>
[[nodiscard]] std::vector<outcome<T>>
gather(const std::vector<future<T>>& fs, return_exceptions_t tag, const progress& shown = {}) {
  return gather(fs, tag, std::chrono::nanoseconds::max(), shown);
}

/// As `gather` over a vector, for futures by key: returns the values under the same keys
/// (nothing for `future<void>`), rethrowing the first failure in key order.
template <class K, class T, class Rep, class Period>
std::conditional_t<std::is_void_v<T>, void, std::map<K, T>>
gather(const std::map<K, future<T>>& fs,
       std::chrono::duration<Rep, Period> timeout,
       const progress& shown = {}) {
  detail::wait_all_or_throw(detail::values_of(fs), detail::saturated_ns(timeout), shown);
  if constexpr (std::is_void_v<T>) {
    for (const auto& [key, f] : fs)
      f.result();
  } else {
    std::map<K, T> out;
    for (const auto& [key, f] : fs)
      out.emplace(key, f.result());
    return out;
  }
}

/// As `gather` over a map with a timeout, without a deadline.
template <class K, class T>
std::conditional_t<std::is_void_v<T>, void, std::map<K, T>> gather(const std::map<K, future<T>>& fs,
                                                                   const progress& shown = {}) {
  return gather(fs, std::chrono::nanoseconds::max(), shown);
}

/// As `gather` with `return_exceptions`, for futures by key: an `outcome` under each key.
template <class K, class T, class Rep, class Period>
[[nodiscard]] std::map<K, outcome<T>> gather(const std::map<K, future<T>>& fs,
                                             return_exceptions_t,
                                             std::chrono::duration<Rep, Period> timeout,
                                             const progress& shown = {}) {
  detail::wait_all_or_throw(
      detail::values_of(fs), detail::saturated_ns(timeout), shown, /*rethrows=*/false);
  std::map<K, outcome<T>> out;
  for (const auto& [key, f] : fs)
    out.emplace(key, detail::outcome_of(f));
  return out;
}

/// As `gather` over a map with `return_exceptions` and a timeout, without a deadline.
template <class K, class T>
[[nodiscard]] std::map<K, outcome<T>>
gather(const std::map<K, future<T>>& fs, return_exceptions_t tag, const progress& shown = {}) {
  return gather(fs, tag, std::chrono::nanoseconds::max(), shown);
}

/// The futures of one `as_completed` call, handed out in the order they finish, each with its
/// index in the input.
///
/// An input range: `for (auto [i, f] : as_completed(fs))`, or call `next()`. The deadline is one
/// for the whole sequence, counted from the `as_completed` call; the step that runs out of it
/// throws `timeout_error`, and a later step may try again (the deadline stays passed, so it
/// yields only futures that finished meanwhile). Use from one thread at a time.
/// Does not: read results (the futures may have failed), or cancel what is left.
template <class T>
class completion_sequence {
public:
  /// The futures, with the index of each in the input.
  using value_type = std::pair<std::size_t, future<T>>;

  /// Watches `fs`; what `as_completed` calls.
  completion_sequence(std::vector<future<T>> fs, std::chrono::nanoseconds timeout)
      : deadline_{detail::deadline_after(timeout)}, timeout_{timeout}, log_{detail::watch(fs)},
        futures_{std::move(fs)} {}

  /// The next future to finish and its index; none once every future was handed out. Blocks
  /// until one finishes; throws `timeout_error` when the deadline passes first.
  std::optional<value_type> next() {
    if (handed_out_ == futures_.size())
      return std::nullopt;
    auto index = log_->nth_finished(handed_out_, deadline_);
    if (!index) {
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(timeout_).count();
      throw timeout_error{std::to_string(futures_.size() - handed_out_) + " of " +
                          std::to_string(futures_.size()) + " futures did not finish within " +
                          std::to_string(ms) + " ms"};
    }
    ++handed_out_;
    return value_type{*index, futures_[*index]};
  }

  /// How many futures are still to be handed out.
  [[nodiscard]] std::size_t remaining() const noexcept { return futures_.size() - handed_out_; }

  /// The sentinel that ends a range-for.
  struct sentinel {};

  /// An input iterator over the sequence; advancing it calls `next()` and so may block or throw.
  class iterator {
  public:
    /// Iterator traits of an input iterator.
    using iterator_category = std::input_iterator_tag;
    /// What dereferencing gives.
    using value_type = completion_sequence::value_type;
    /// Iterator difference type.
    using difference_type = std::ptrdiff_t;

    /// An iterator that is at its end.
    iterator() = default;
    /// Starts on `seq`, taking its first element.
    explicit iterator(completion_sequence* seq) : seq_{seq}, current_{seq->next()} {}

    /// The current future and its index.
    const value_type& operator*() const { return *current_; }
    /// Member access to the current element.
    const value_type* operator->() const { return &*current_; }
    /// Takes the next element (may block or throw `timeout_error`).
    iterator& operator++() {
      current_ = seq_->next();
      return *this;
    }
    /// As the prefix form.
    void operator++(int) { ++*this; }
    /// True once the sequence is exhausted.
    friend bool operator==(const iterator& it, sentinel) noexcept { return !it.current_; }

  private:
    completion_sequence* seq_ = nullptr;
    std::optional<value_type> current_;
  };

  /// Starts iterating; takes (and may wait for) the first element.
  iterator begin() { return iterator{this}; }
  /// The end of iteration.
  sentinel end() const noexcept { return {}; }

private:
  detail::steady_deadline deadline_;
  std::chrono::nanoseconds timeout_;
  std::shared_ptr<detail::completion_log> log_;
  std::vector<future<T>> futures_;
  std::size_t handed_out_ = 0;
};

/// The futures of `fs` in the order they finish, each with its input index; throws
/// `timeout_error` from the step that runs past `timeout` (counted from this call), and
/// `concurry::error` at once when a future is invalid. See `completion_sequence`.
template <class T, class Rep, class Period>
[[nodiscard]] completion_sequence<T> as_completed(const std::vector<future<T>>& fs,
                                                  std::chrono::duration<Rep, Period> timeout) {
  return completion_sequence<T>{fs, detail::saturated_ns(timeout)};
}

/// As `as_completed` with a timeout, without a deadline.
template <class T>
[[nodiscard]] completion_sequence<T> as_completed(const std::vector<future<T>>& fs) {
  return as_completed(fs, std::chrono::nanoseconds::max());
}

} // namespace concurry
