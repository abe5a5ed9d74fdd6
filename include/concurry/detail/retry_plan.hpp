// A method's retry settings after the pool resolved them, in the form the worker side uses: the
// filters and validators are type-erased so that untyped runtime code can hold them.
#pragma once

#include <concurry/clock.hpp>
#include <concurry/retry.hpp>

#include <any>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace concurry::detail {

/// A `retry_until` validator after type erasure: it sees a pointer to the method's result.
using result_validator = std::function<bool(const void* result, const retry_context&)>;

/// The retry settings of one method of one pool. Immutable once the pool is built.
struct retry_plan {
  std::string worker_name;
  std::string method_name;
  std::uint32_t max_attempts = 1; ///< num_retries + 1
  retry_algorithm algorithm = retry_algorithm::exponential;
  std::chrono::nanoseconds wait{std::chrono::seconds{1}};
  double jitter = 0.3;
  std::vector<retry_filter> retry_on; ///< empty: every exception is worth a retry
  std::vector<result_validator> until;
  std::shared_ptr<concurry::clock> clock;

  /// The context of attempt `attempt` of a call that started at `started`.
  [[nodiscard]] retry_context
  context(std::uint32_t attempt, clock::time_point started, std::exception_ptr e) const;

  /// True when some filter accepts the context's exception (a filter that throws says no).
  [[nodiscard]] bool retries_exception(const retry_context& c) const noexcept;

  /// Empty when every validator accepts `result`; otherwise why one did not (a validator that
  /// throws rejects).
  [[nodiscard]] std::string rejects(const void* result, const retry_context& c) const;

  /// The wait before retry `k` (from 1), jitter applied: with jitter 0 exactly the algorithm's
  /// value, otherwise uniform between 0 and it.
  [[nodiscard]] std::chrono::nanoseconds delay(std::uint32_t k) const noexcept;
};

/// What a call keeps across attempts whose results validators rejected.
struct retry_record {
  std::vector<std::any> results;
  std::vector<std::string> reasons;
};

} // namespace concurry::detail
