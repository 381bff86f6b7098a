// SPDX-License-Identifier: Apache-2.0
// The one place errors are raised from, so every message has the same shape:
//   "<key>: <expectation>, got <value>"   e.g. "rope_scaling.factor: must be a finite number >= 1,
//   got 0.5"
// Every message is bounded and safe to print (docs/limits.md): echoed keys and values keep a
// prefix of at most detail::max_echo_bytes with control bytes escaped (detail/quote.hpp), and a
// whole message is at most about detail::max_message_bytes.
//
// Errors are built as a ropescale::error value (key + message) and handed to detail::raise(), the
// only raising function: with exceptions it throws ropescale::invalid_parameter; built without
// exceptions (-fno-exceptions) it calls the handler installed with ropescale::set_error_handler
// (default: print "ropescale: <message>" to stderr and abort). The kernel entry points also have
// non-throwing forms (try_apply_rotary, ...) that return the error value instead.
#ifndef ROPESCALE_DETAIL_THROW_HPP
#define ROPESCALE_DETAIL_THROW_HPP

#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "ropescale/config.hpp"
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

/// A rejected call, as a value: what the non-throwing entry points (try_apply_rotary, ...)
/// return and what an error handler receives. Converts to true when there is an error (like
/// std::error_code), so `if (auto e = ropescale::try_apply_rotary(...)) log(e.message);`.
struct error {
  std::string key;      ///< offending key path, as invalid_parameter::key() ("" when none)
  std::string message;  ///< "<key>: <expectation>, got <value>", as invalid_parameter::what()

  /// True when this holds an error (a non-empty message).
  explicit operator bool() const noexcept { return !message.empty(); }
  /// True when this holds no error: the call it came from succeeded.
  bool ok() const noexcept { return message.empty(); }
};

/// Receives every rejected call when ropescale is built without exceptions. It must not return
/// (abort, exit, longjmp out, or throw from a TU that has exceptions); if it does, the program
/// aborts. With exceptions enabled, errors are thrown as invalid_parameter and it is not called.
using error_handler = void (*)(const error& e);

namespace detail {

/// The default handler: prints "ropescale: <message>" to stderr and aborts.
[[noreturn]] inline void default_error_handler(const error& e) noexcept {
  std::fprintf(stderr, "ropescale: %s\n", e.message.c_str());
  std::abort();
}

inline std::atomic<error_handler>& error_handler_slot() noexcept {
  static std::atomic<error_handler> handler{&default_error_handler};
  return handler;
}

}  // namespace detail

/// Installs the handler for rejected calls in builds without exceptions (nullptr restores the
/// default) and returns the previous one. Process-wide and thread-safe.
inline error_handler set_error_handler(error_handler h) noexcept {
  return detail::error_handler_slot().exchange(h != nullptr ? h : &detail::default_error_handler);
}

/// The handler currently installed (never null).
inline error_handler get_error_handler() noexcept { return detail::error_handler_slot().load(); }

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

/// While alive, rewrites every error raised on this thread before it is thrown or handed to the
/// handler (innermost scope first): how a loader adds the key path a value came from to the
/// errors of a method constructor, without try/catch. `f` is called as f(error&) and must
/// outlive the scope.
class error_scope {
 public:
  template <class F>
  explicit error_scope(const F& f) noexcept
      : call_([](const void* fn, error& e) { (*static_cast<const F*>(fn))(e); }),
        fn_(&f),
        outer_(top()) {
    top() = this;
  }
  error_scope(const error_scope&) = delete;
  error_scope& operator=(const error_scope&) = delete;
  ~error_scope() { top() = outer_; }

  /// Applies every live scope of this thread to e, innermost first.
  static void apply(error& e) {
    for (const error_scope* s = top(); s != nullptr; s = s->outer_) s->call_(s->fn_, e);
  }

  /// Forgets every live scope of this thread (before an error handler that may longjmp past
  /// their destructors).
  static void clear() noexcept { top() = nullptr; }

 private:
  static const error_scope*& top() noexcept {
    static thread_local const error_scope* innermost = nullptr;
    return innermost;
  }
  void (*call_)(const void*, error&);
  const void* fn_;
  const error_scope* outer_;
};

/// The one raising function: applies the live error_scopes, then throws
/// invalid_parameter(key, message) (exceptions enabled) or calls the installed error handler
/// (exceptions disabled; aborts if the handler returns).
[[noreturn]] inline void raise(error e) {
  error_scope::apply(e);
#if ROPESCALE_EXCEPTIONS
  throw invalid_parameter(std::move(e.key), e.message);
#else
  error_scope::clear();
  get_error_handler()(e);
  std::abort();
#endif
}

/// error{key, message} with both escaped and bounded (detail/quote.hpp).
inline error make_parameter_error(std::string_view key, std::string_view message) {
  return error{escape_text(key, max_echo_bytes), escape_text(message, max_message_bytes)};
}

/// e under another key: its message's leading "<old key>" (if it starts so; else the whole
/// message after ": ") now reads `key`, with `suffix` appended. How a loader's error_scope names
/// the place a method's value came from.
inline error with_key(const error& e, std::string_view key, std::string_view suffix = {}) {
  std::string msg(key);
  if (e.message.compare(0, e.key.size(), e.key) == 0) {
    msg.append(e.message, e.key.size(), std::string::npos);
  } else {
    msg.append(": ").append(e.message);
  }
  msg.append(suffix);
  return make_parameter_error(key, msg);
}

/// The error "<key>: <expectation>, got <got>" (key and got escaped and bounded).
inline error make_invalid(std::string_view key, std::string_view expectation,
                          std::string_view got) {
  std::string msg = escape_text(key, max_echo_bytes);
  msg.append(": ");
  append_escaped(msg, expectation, max_message_bytes / 2);
  msg.append(", got ");
  append_escaped(msg, got, 2 * max_echo_bytes);
  return error{escape_text(key, max_echo_bytes), std::move(msg)};
}

/// make_invalid formatting a number, boolean or string.
template <class V>
inline error make_invalid_value(std::string_view key, std::string_view expectation, V got) {
  return make_invalid(key, expectation, format_value(got));
}

/// An error with a free-form message "<key>: <message>" (for errors that have no single value).
inline error make_message(std::string_view key, std::string_view message) {
  std::string msg;
  if (!key.empty()) msg.append(escape_text(key, max_echo_bytes)).append(": ");
  msg.append(message);
  return make_parameter_error(key, msg);
}

/// Raises error{key, message} with both escaped and bounded.
[[noreturn]] inline void throw_parameter_error(std::string_view key, std::string_view message) {
  raise(make_parameter_error(key, message));
}

/// Raises "<key>: <expectation>, got <got>".
[[noreturn]] inline void throw_invalid(std::string_view key, std::string_view expectation,
                                       std::string_view got) {
  raise(make_invalid(key, expectation, got));
}

/// Convenience overload formatting a number.
template <class V>
[[noreturn]] inline void throw_invalid_value(std::string_view key, std::string_view expectation,
                                             V got) {
  raise(make_invalid_value(key, expectation, got));
}

/// Raises "<key>: <message>" (for errors that have no single value).
[[noreturn]] inline void throw_message(std::string_view key, std::string_view message) {
  raise(make_message(key, message));
}

}  // namespace detail
}  // namespace ropescale

#endif  // ROPESCALE_DETAIL_THROW_HPP
