#include "scheduler/amount.hpp"

#include "concurry/error.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>

namespace concurry::scheduler {

namespace {

[[noreturn]] void reject(std::string_view what, std::string_view text, std::string_view why) {
  std::string message(what);
  message += ' ';
  message += text;
  message += ": ";
  message += why;
  throw config_error(message);
}

std::string quoted(std::string_view text) {
  std::string result = "'";
  result += text;
  result += '\'';
  return result;
}

} // namespace

amount amount::from_double(double value, std::string_view what) {
  char text[32];
  std::snprintf(text, sizeof text, "%.10g", value);
  if (std::isnan(value))
    reject(what, "NaN", "not a number");
  if (value < 0)
    reject(what, text, "must not be negative");
  if (!std::isfinite(value) || value > static_cast<double>(max_wholes))
    reject(what, text, "is larger than " + std::to_string(max_wholes));
  auto scaled = value * units_per_whole;
  auto rounded = std::round(scaled);
  // A decimal such as 0.18 is not exact in binary; anything within a few rounding errors of a
  // whole number of units is that number, anything else is finer than the unit.
  auto tolerance = std::max(1e-6, 4 * std::numeric_limits<double>::epsilon() * scaled);
  if (std::abs(scaled - rounded) > tolerance)
    reject(what, text, "is finer than 0.0001");
  return amount{static_cast<std::int64_t>(rounded)};
}

amount amount::parse(std::string_view text, std::string_view what) {
  auto point = text.find('.');
  auto whole_part = text.substr(0, point);
  auto fraction = point == std::string_view::npos ? std::string_view{} : text.substr(point + 1);
  auto is_digits = [](std::string_view s) {
    return s.find_first_not_of("0123456789") == std::string_view::npos;
  };
  if (text.empty() || whole_part.empty() || !is_digits(whole_part) || !is_digits(fraction) ||
      (point != std::string_view::npos && fraction.empty()))
    reject(what, quoted(text), "is not a decimal number such as 2 or 0.5");
  while (!fraction.empty() && fraction.back() == '0')
    fraction.remove_suffix(1);
  if (fraction.size() > 4)
    reject(what, text, "is finer than 0.0001");

  // Digits beyond max_wholes are refused before they can overflow.
  std::int64_t wholes = 0;
  for (char c : whole_part) {
    wholes = wholes * 10 + (c - '0');
    if (wholes > max_wholes)
      reject(what, text, "is larger than " + std::to_string(max_wholes));
  }
  std::int64_t units = 0;
  for (std::size_t i = 0; i < 4; ++i)
    units = units * 10 + (i < fraction.size() ? fraction[i] - '0' : 0);
  return amount{wholes * units_per_whole + units};
}

std::string amount::to_string() const {
  auto text = std::to_string(units_ / units_per_whole);
  auto fraction = units_ % units_per_whole;
  if (fraction == 0)
    return text;
  auto digits = std::to_string(units_per_whole + fraction).substr(1);
  while (digits.back() == '0')
    digits.pop_back();
  return text + "." + digits;
}

} // namespace concurry::scheduler
