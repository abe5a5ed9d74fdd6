// Retries: what a pool's retry options are made of. A call that fails (or whose result a
// validator rejects) runs again on the same worker after a backoff, up to `num_retries` more
// times:
//
//     auto pool = fetcher::options()
//                     .num_retries(3)
//                     .retry_on<std::system_error>()
//                     .retry_wait(std::chrono::milliseconds{100})
//                     .init();
//
// The exception and the result are judged in the worker; the pool counts the attempts and waits
// out the backoff on a timer of its clock, so no thread sleeps through it.
#pragma once

#include <concurry/error.hpp>

#include <any>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace concurry {

/// How the wait before a retry grows with the retry's number k (1 for the first retry), from
/// the base `retry_wait`.
enum class retry_algorithm {
  linear,      ///< base * k: 1, 2, 3, 4, ...
  exponential, ///< base * 2^(k-1): 1, 2, 4, 8, ...
  fibonacci,   ///< base * fib(k): 1, 1, 2, 3, 5, ...
};

/// Parses `linear`, `exponential` (`exp`) or `fibonacci` (`fib`), case-insensitive. Throws
/// `config_error` listing the valid names for anything else.
retry_algorithm parse_retry_algorithm(std::string_view name);

/// The algorithm's name: "linear", "exponential", "fibonacci".
std::string_view to_string(retry_algorithm a) noexcept;

/// The wait before retry `k` (from 1) without jitter; saturates instead of overflowing.
std::chrono::nanoseconds
retry_backoff(retry_algorithm a, std::chrono::nanoseconds base, std::uint32_t k) noexcept;

/// What a `retry_on` filter or a `retry_until` validator sees besides the exception or result.
struct retry_context {
  std::string_view worker_name;       ///< the worker class, as registered
  std::string_view method_name;       ///< the method, as registered ("submit" for task workers)
  std::uint32_t attempt = 1;          ///< the attempt that just ended, from 1
  std::uint32_t max_attempts = 1;     ///< num_retries + 1
  std::chrono::nanoseconds elapsed{}; ///< since the first attempt started, on the pool's clock
  std::exception_ptr exception;       ///< the attempt's exception; null for validators

  /// The attempt's exception as an `E`, or null when it is not one (or there is none).
  template <class E>
  [[nodiscard]] const E* exception_as() const noexcept {
    if (!exception)
      return nullptr;
    try {
      std::rethrow_exception(exception);
    } catch (const E& e) {
      return &e; // NOTE: points into the exception object, which `exception` keeps alive
    } catch (...) {
      return nullptr;
    }
  }

  /// The attempt's exception's message (`what()`), or a note that it is not a std::exception.
  [[nodiscard]] std::string message() const;
};

/// Decides from the context (its `exception`) whether a failed attempt is worth another one.
using retry_filter = std::function<bool(const retry_context&)>;

/// A retry filter that accepts exceptions of the types `E...` and of types derived from them.
template <class... E>
struct exception_type_filter {
  /// True when the context's exception is one of `E...`.
  bool operator()(const retry_context& c) const noexcept {
    return ((c.exception_as<E>() != nullptr) || ...);
  }
};

/// `retry_on(concurry::exception_is<std::system_error, timeout_error>)`: the same as
/// `retry_on<std::system_error, timeout_error>()`, without the `template` keyword that the
/// latter needs in generic code.
template <class... E>
inline constexpr exception_type_filter<E...> exception_is{};

/// The call's result failed its `retry_until` validators on every attempt. Holds each attempt's
/// result and why it was rejected.
class retry_validation_error : public error {
public:
  /// Made by the runtime when the last of `attempts` attempts is rejected.
  retry_validation_error(std::string method_name,
                         std::size_t attempts,
                         std::vector<std::any> results,
                         std::vector<std::string> reasons);

  /// The method that was called.
  [[nodiscard]] const std::string& method_name() const noexcept { return method_name_; }
  /// How many attempts were made (those that threw included).
  [[nodiscard]] std::size_t attempts() const noexcept { return attempts_; }
  /// Why each rejected result was rejected, in attempt order.
  [[nodiscard]] const std::vector<std::string>& reasons() const noexcept { return reasons_; }
  /// The result of each attempt that returned one, in attempt order, untyped (attempts that
  /// threw have none).
  [[nodiscard]] const std::vector<std::any>& all_results() const noexcept { return results_; }

  /// The results as the method's result type `R`; throws `std::bad_any_cast` for another
  /// type.
  template <class R>
  [[nodiscard]] std::vector<R> results() const {
    std::vector<R> out;
    out.reserve(results_.size());
    for (auto& r : results_)
      out.push_back(std::any_cast<const R&>(r));
    return out;
  }

private:
  std::string method_name_;
  std::size_t attempts_ = 0;
  std::vector<std::any> results_;
  std::vector<std::string> reasons_;
};

} // namespace concurry
