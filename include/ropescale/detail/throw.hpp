// SPDX-License-Identifier: Apache-2.0
// The one place errors are raised from, so every message has the same shape:
//   "<key>: <expectation>, got <value>"   e.g. "rope_scaling.factor: must be a finite number >= 1,
//   got 0.5"
// Every message is bounded and safe to print (docs/limits.md): echoed keys and values keep a
// prefix of at most detail::max_echo_bytes with control bytes escaped (detail/quote.hpp), and a
// whole message is at most about detail::max_message_bytes.
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

#include "ropescale/detail/quote.hpp"

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

/// Throws invalid_parameter(key, message) with both escaped and bounded (detail/quote.hpp); the
/// one place an invalid_parameter is thrown from.
[[noreturn]] inline void throw_parameter_error(std::string_view key, std::string_view message) {
  std::string k = escape_text(key, max_echo_bytes);
  throw invalid_parameter(std::move(k), escape_text(message, max_message_bytes));
}

/// Throws invalid_parameter("<key>: <expectation>, got <got>").
[[noreturn]] inline void throw_invalid(std::string_view key, std::string_view expectation,
                                       std::string_view got) {
  std::string msg = escape_text(key, max_echo_bytes);
  msg.append(": ");
  append_escaped(msg, expectation, max_message_bytes / 2);
  msg.append(", got ");
  append_escaped(msg, got, 2 * max_echo_bytes);
  throw invalid_parameter(escape_text(key, max_echo_bytes), msg);
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
  if (!key.empty()) msg.append(escape_text(key, max_echo_bytes)).append(": ");
  msg.append(message);
  throw_parameter_error(key, msg);
}

}  // namespace detail
}  // namespace ropescale

#endif  // ROPESCALE_DETAIL_THROW_HPP
