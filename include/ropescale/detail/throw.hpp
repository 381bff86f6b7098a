// SPDX-License-Identifier: Apache-2.0
// The one place errors are raised from, so every message has the same shape:
//   "<key>: <expectation>, got <value>"   e.g. "rope_scaling.factor: must be a finite number >= 1, got 0.5"
#ifndef ROPESCALE_DETAIL_THROW_HPP
#define ROPESCALE_DETAIL_THROW_HPP

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace ropescale {

/// Thrown for every bad parameter, config value, shape or checkpoint. Derives from
/// std::invalid_argument; key() is the offending key path ("" when the problem has no key).
class invalid_parameter : public std::invalid_argument {
 public:
  invalid_parameter(std::string key, const std::string& message)
      : std::invalid_argument(message), key_(std::move(key)) {}
  const std::string& key() const noexcept { return key_; }

 private:
  std::string key_;
};

namespace detail {

/// Shortest round-trip text for a double (integers without exponent or ".0").
inline std::string format_double(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[40];
  if (std::fabs(v) < 9007199254740992.0 && v == std::trunc(v)) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
    return buf;
  }
  for (int precision = 6; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

/// Text for an offending value: numbers, booleans and strings (strings verbatim).
template <class V>
inline std::string format_value(const V& v) {
  if constexpr (std::is_same_v<V, bool>) {
    return v ? "true" : "false";
  } else if constexpr (std::is_integral_v<V>) {
    return std::to_string(v);
  } else if constexpr (std::is_floating_point_v<V>) {
    return format_double(static_cast<double>(v));
  } else {
    return std::string(std::string_view(v));
  }
}

/// Throws invalid_parameter("<key>: <expectation>, got <got>").
[[noreturn]] inline void throw_invalid(std::string_view key, std::string_view expectation,
                                       std::string_view got) {
  std::string msg;
  msg.reserve(key.size() + expectation.size() + got.size() + 8);
  msg.append(key).append(": ").append(expectation).append(", got ").append(got);
  throw invalid_parameter(std::string(key), msg);
}

/// Convenience overload formatting a number.
template <class V>
[[noreturn]] inline void throw_invalid_value(std::string_view key, std::string_view expectation,
                                             V got) {
  throw_invalid(key, expectation, format_value(got));
}

/// Throws invalid_parameter with a free-form message (for errors that have no single value).
[[noreturn]] inline void throw_message(std::string_view key, std::string_view message) {
  std::string msg;
  if (!key.empty()) msg.append(key).append(": ");
  msg.append(message);
  throw invalid_parameter(std::string(key), msg);
}

}  // namespace detail
}  // namespace ropescale

#endif  // ROPESCALE_DETAIL_THROW_HPP
