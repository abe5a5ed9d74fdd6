// Retry arithmetic and the worker-side judgement of attempts.
#include <concurry/detail/retry_plan.hpp>
#include <concurry/retry.hpp>

#include <algorithm>
#include <limits>
#include <random>

namespace concurry {

std::string_view to_string(retry_algorithm a) noexcept {
  switch (a) {
  case retry_algorithm::linear:
    return "linear";
  case retry_algorithm::exponential:
    return "exponential";
  case retry_algorithm::fibonacci:
    return "fibonacci";
  }
  return "unknown";
}

std::chrono::nanoseconds
retry_backoff(retry_algorithm a, std::chrono::nanoseconds base, std::uint32_t k) noexcept {
  using rep = std::chrono::nanoseconds::rep;
  constexpr auto max = std::numeric_limits<rep>::max();
  if (base.count() <= 0 || k == 0)
    return std::chrono::nanoseconds{0};
  // The factor, saturated: anything past the largest duration is that duration.
  rep factor = 1;
  switch (a) {
  case retry_algorithm::linear:
    factor = k;
    break;
  case retry_algorithm::exponential:
    factor = k > 62 ? max : rep{1} << (k - 1);
    break;
  case retry_algorithm::fibonacci: {
    rep prev = 0;
    for (std::uint32_t i = 1; i < k && factor < max / 2; ++i)
      prev = std::exchange(factor, factor + prev);
    if (k > 1 && factor >= max / 2)
      factor = max;
    break;
  }
  }
  if (factor > max / base.count())
    return std::chrono::nanoseconds{max};
  return std::chrono::nanoseconds{base.count() * factor};
}

std::string retry_context::message() const {
  if (!exception)
    return "no exception";
  try {
    std::rethrow_exception(exception);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "an exception that is not a std::exception";
  }
}

retry_validation_error::retry_validation_error(std::string method_name,
                                               std::size_t attempts,
                                               std::vector<std::any> results,
                                               std::vector<std::string> reasons)
    : error{"the result of " + method_name + " failed validation after " +
            std::to_string(attempts) +
            " attempts; the last: " + (reasons.empty() ? std::string{"?"} : reasons.back())},
      // Parentheses: braces would make a vector of one std::any holding the vector.
      method_name_(std::move(method_name)), attempts_{attempts}, results_(std::move(results)),
      reasons_(std::move(reasons)) {}

} // namespace concurry

namespace concurry::detail {

retry_context
retry_plan::context(std::uint32_t attempt, clock::time_point started, std::exception_ptr e) const {
  retry_context c;
  c.worker_name = worker_name;
  c.method_name = method_name;
  c.attempt = attempt;
  c.max_attempts = max_attempts;
  c.elapsed = clock ? clock->now() - started : std::chrono::nanoseconds{0};
  c.exception = std::move(e);
  return c;
}

bool retry_plan::retries_exception(const retry_context& c) const noexcept {
  if (retry_on.empty())
    return true;
  for (auto& filter : retry_on) {
    try {
      if (filter(c))
        return true;
    } catch (...) {
      // A filter that throws says no, as in the Python library.
    }
  }
  return false;
}

std::string retry_plan::rejects(const void* result, const retry_context& c) const {
  for (std::size_t i = 0; i < until.size(); ++i) {
    auto which = "validator " + std::to_string(i + 1) + " of " + std::to_string(until.size());
    try {
      if (!until[i](result, c))
        return which + " returned false on attempt " + std::to_string(c.attempt);
    } catch (const std::exception& e) {
      return which + " threw on attempt " + std::to_string(c.attempt) + ": " + e.what();
    } catch (...) {
      return which + " threw on attempt " + std::to_string(c.attempt);
    }
  }
  return {};
}

std::chrono::nanoseconds retry_plan::delay(std::uint32_t k) const noexcept {
  auto full = retry_backoff(algorithm, wait, k);
  if (jitter <= 0 || full.count() <= 0)
    return full;
  // Full jitter: uniform in [0, full], never above it.
  thread_local std::minstd_rand rng{std::random_device{}()};
  std::uniform_int_distribution<std::chrono::nanoseconds::rep> pick{0, full.count()};
  return std::chrono::nanoseconds{pick(rng)};
}

} // namespace concurry::detail
