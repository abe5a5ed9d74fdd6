// Converting the caller's durations to the nanoseconds the runtime works in, without overflow.
#pragma once

#include <chrono>

namespace concurry::detail {

/// `d` in nanoseconds, saturated: anything at or beyond what nanoseconds can hold (hours::max(),
/// a thousand years) becomes nanoseconds::max(), which the runtime reads as "no deadline";
/// anything below nanoseconds::min() becomes nanoseconds::min().
template <class Rep, class Period>
constexpr std::chrono::nanoseconds saturated_ns(std::chrono::duration<Rep, Period> d) noexcept {
  using std::chrono::nanoseconds;
  constexpr auto max_ns = static_cast<long double>(nanoseconds::max().count());
  auto ns = std::chrono::duration<long double, std::nano>(d).count();
  if (ns >= max_ns)
    return nanoseconds::max();
  if (ns <= -max_ns)
    return nanoseconds::min();
  return std::chrono::duration_cast<nanoseconds>(d);
}

} // namespace concurry::detail
