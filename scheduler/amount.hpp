// Resource amounts in fixed point: what a node offers and a worker asks for, counted in units of
// 1/10,000 of a whole (a CPU, a GPU, one `accel`), so sums never drift: 10,000 workers of
// 0.0001 CPU fill exactly one CPU. Pure C++; the scheduler and the option checks share it.
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

namespace concurry::scheduler {

/// A non-negative amount of one resource, in units of 1/`units_per_whole`.
class amount {
public:
  /// How many units make one whole resource: 0.0001 is the finest amount.
  static constexpr std::int64_t units_per_whole = 10'000;
  /// The largest amount accepted, in wholes; sums of many such amounts stay far from overflow.
  static constexpr std::int64_t max_wholes = 1'000'000'000;

  constexpr amount() noexcept = default;

  /// An amount of `units` units; the caller guarantees 0 <= units.
  [[nodiscard]] static constexpr amount from_units(std::int64_t units) noexcept {
    return amount{units};
  }
  /// An amount of `wholes` whole resources.
  [[nodiscard]] static constexpr amount from_wholes(std::int64_t wholes) noexcept {
    return amount{wholes * units_per_whole};
  }
  /// Converts `value` (such as 0.5 or 0.0001); throws `config_error` naming `what` if it is NaN,
  /// infinite, negative, larger than `max_wholes`, or finer than 0.0001. Values within a rounding
  /// error of a whole unit (0.18 is 1800.0000000000002 units) are that unit.
  [[nodiscard]] static amount from_double(double value, std::string_view what = "amount");
  /// Parses decimal text such as "2", "0.5" or "0.0001" exactly; throws `config_error` naming
  /// `what` on anything else (signs, exponents, more than four non-zero decimals, overflow).
  [[nodiscard]] static amount parse(std::string_view text, std::string_view what = "amount");

  [[nodiscard]] constexpr std::int64_t units() const noexcept { return units_; }
  [[nodiscard]] constexpr bool is_zero() const noexcept { return units_ == 0; }
  /// The amount in wholes, for display; never use it for accounting.
  [[nodiscard]] double to_double() const noexcept {
    return static_cast<double>(units_) / units_per_whole;
  }
  /// The shortest exact decimal text: "1", "0.5", "0.0001".
  [[nodiscard]] std::string to_string() const;

  constexpr amount& operator+=(amount other) noexcept {
    units_ += other.units_;
    return *this;
  }
  /// Subtracts `other`; the caller guarantees `other <= *this`.
  constexpr amount& operator-=(amount other) noexcept {
    units_ -= other.units_;
    return *this;
  }
  friend constexpr amount operator+(amount a, amount b) noexcept { return a += b; }
  friend constexpr amount operator-(amount a, amount b) noexcept { return a -= b; }
  friend constexpr auto operator<=>(amount, amount) noexcept = default;

private:
  constexpr explicit amount(std::int64_t units) noexcept : units_(units) {}

  std::int64_t units_ = 0;
};

} // namespace concurry::scheduler
