// SPDX-License-Identifier: Apache-2.0
// Typed getters over nlohmann::json for the config loader (docs/reference.md §2.5). Every getter
// takes the key path of the value ("rope_scaling.factor", "text_config.head_dim",
// "rope_scaling.short_factor[3]") and throws ropescale::invalid_parameter "<key path>:
// <expectation>, got <value>" on a type or range violation. JSON null counts as absent (member()
// returns nullptr), as docs/reference.md §0 says. Values are printed compactly and without
// recursion limits being a hazard: arrays and objects are summarised to a bounded depth and length,
// strings are JSON-escaped so a message stays one line.
#ifndef ROPESCALE_DETAIL_JSON_HPP
#define ROPESCALE_DETAIL_JSON_HPP

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ropescale/detail/quote.hpp"
#include "ropescale/detail/throw.hpp"

namespace ropescale::detail {

/// Longest value text put into an error message; longer text is cut and ends in "...".
inline constexpr std::size_t json_text_limit = 80;

/// 2^53, the upper bound of integer keys (docs/reference.md §2.5), as a double.
inline constexpr double json_max_integer = 9007199254740992.0;

/// "<prefix>.<key>", or key alone when prefix is empty.
inline std::string join_key(std::string_view prefix, std::string_view key) {
  std::string out(prefix);
  if (!out.empty()) out += '.';
  out += key;
  return out;
}

namespace json_impl {

/// A string as a JSON literal, escaped, of at most json_text_limit bytes of input (a longer
/// string is cut, so a 10 MB value is never copied in full).
inline std::string short_literal(const std::string& s) {
  return nlohmann::json(s.size() > json_text_limit ? s.substr(0, json_text_limit) : s)
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

inline void append_text(const nlohmann::json& v, std::string& out, int depth) {
  if (out.size() > json_text_limit) return;
  switch (v.type()) {
    case nlohmann::json::value_t::number_float:
      out += format_double(v.get<double>());  // nan/inf print as such, not as JSON null
      return;
    case nlohmann::json::value_t::array: {
      if (depth >= 3) {
        out += "[...]";
        return;
      }
      out += '[';
      bool first = true;
      for (const auto& e : v) {
        if (!first) out += ',';
        first = false;
        append_text(e, out, depth + 1);
        if (out.size() > json_text_limit) return;
      }
      out += ']';
      return;
    }
    case nlohmann::json::value_t::object: {
      if (depth >= 3) {
        out += "{...}";
        return;
      }
      out += '{';
      bool first = true;
      for (auto it = v.begin(); it != v.end(); ++it) {
        if (!first) out += ',';
        first = false;
        out += short_literal(it.key());
        out += ':';
        append_text(it.value(), out, depth + 1);
        if (out.size() > json_text_limit) return;
      }
      out += '}';
      return;
    }
    case nlohmann::json::value_t::string:  // quoted and escaped, a bounded prefix
      out += short_literal(v.get_ref<const std::string&>());
      return;
    default:  // null, boolean, integers
      out += v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      return;
  }
}

}  // namespace json_impl

/// Compact one-line text of a JSON value for error messages: strings quoted and escaped, numbers
/// shortest round-trip, containers summarised below depth 3 and cut after ~80 characters.
inline std::string json_text(const nlohmann::json& v) {
  std::string out;
  json_impl::append_text(v, out, 0);
  if (out.size() > json_text_limit) {
    out.resize(json_text_limit - 3);
    out += "...";
  }
  return out;
}

/// A quoted, escaped JSON string literal for a key or name (safe inside a one-line message). A
/// name longer than `limit` bytes keeps a prefix and says how long it was: messages and
/// diagnostics that echo input pass detail::max_echo_bytes; JSON output passes nothing (exact).
inline std::string json_quote(std::string_view s, std::size_t limit = std::string_view::npos) {
  std::string out = nlohmann::json(std::string(s.substr(0, std::min(s.size(), limit))))
                        .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (s.size() > limit) out += "... (" + std::to_string(s.size()) + " bytes)";
  return out;
}

/// Caps on one JSON document (docs/limits.md): nesting depth, and the number of values (counted
/// as the commas, '[' and '{' outside strings, plus one), which bounds the memory of the parsed
/// tree to a small multiple of the text.
struct json_caps {
  int max_depth;
  std::size_t max_values;
};

namespace json_impl {

/// Line and column (1-based) of byte `offset` in `text`.
inline std::string text_position(std::string_view text, std::size_t offset) {
  std::size_t line = 1, column = 1;
  for (std::size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(column);
}

/// A SAX consumer that builds nothing and keeps the parser's error text (for the message of a
/// document the non-throwing DOM parse rejected).
class error_sax final : public nlohmann::json_sax<nlohmann::json> {
 public:
  std::string error;
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override { return true; }
  bool key(string_t&) override { return true; }
  bool end_object() override { return true; }
  bool start_array(std::size_t) override { return true; }
  bool end_array() override { return true; }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    error = e.what();
    const auto close = error.find("] ");
    if (error.rfind("[json.exception.", 0) == 0 && close != std::string::npos)
      error.erase(0, close + 2);  // drop nlohmann's "[json.exception.parse_error.101] "
    return false;
  }
};

}  // namespace json_impl

/// Parses `text` as one JSON document with the rules of Python's json.loads on a str (what
/// transformers applies to config.json): a leading UTF-8 byte order mark and any NUL byte are
/// errors (nlohmann would skip the one and stop at the other), as is anything after the value.
/// Before parsing, one linear scan checks the nesting depth and the value count against `caps`,
/// so a hostile document costs neither deep recursion nor a huge tree. Never throws from
/// nlohmann; every error is invalid_parameter "<what>: malformed JSON: <reason>".
inline nlohmann::json parse_json_text(std::string_view text, std::string_view what,
                                      const json_caps& caps) {
  auto fail = [&](const std::string& reason) { throw_message(what, "malformed JSON: " + reason); };
  if (text.size() >= 3 && text.substr(0, 3) == "\xEF\xBB\xBF")
    fail("starts with a UTF-8 byte order mark (Python's json.loads rejects it too)");
  int depth = 0;
  std::size_t values = 1;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char ch = text[i];
    if (ch == '\0') fail("NUL byte at " + json_impl::text_position(text, i));
    if (in_string) {
      if (ch == '\\') {
        ++i;  // the escaped character cannot end the string
        if (i < text.size() && text[i] == '\0')
          fail("NUL byte at " + json_impl::text_position(text, i));
      } else if (ch == '"') {
        in_string = false;
      }
      continue;
    }
    switch (ch) {
      case '"':
        in_string = true;
        break;
      case '[':
      case '{':
        if (++depth > caps.max_depth)
          fail("nesting deeper than " + std::to_string(caps.max_depth) + " levels");
        ++values;
        break;
      case ']':
      case '}':
        --depth;
        break;
      case ',':
        ++values;
        break;
      default:
        break;
    }
    if (values > caps.max_values)
      fail("more than " + std::to_string(caps.max_values) + " values (docs/limits.md)");
  }
  nlohmann::json j = nlohmann::json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded()) {
    json_impl::error_sax sax;
    nlohmann::json::sax_parse(text.begin(), text.end(), &sax);
    fail(sax.error.empty() ? std::string("not valid JSON") : sax.error);
  }
  return j;
}

/// Member `key` of `obj`, or nullptr when obj is not an object, the key is missing, or its value
/// is null (null counts as absent, docs/reference.md §0).
inline const nlohmann::json* json_member(const nlohmann::json& obj, std::string_view key) {
  if (!obj.is_object()) return nullptr;
  const auto it = obj.find(std::string(key));
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

/// True when `key` is present in obj, whether null or not.
inline bool json_has_key(const nlohmann::json& obj, std::string_view key) {
  return obj.is_object() && obj.find(std::string(key)) != obj.end();
}

/// A finite JSON number (integer or float, never boolean or string) as a double.
/// Throws "<path>: must be a finite number, got <value>".
inline double json_to_number(const nlohmann::json& v, std::string_view path) {
  if (!v.is_number()) throw_invalid(path, "must be a finite number", json_text(v));
  const double x = v.get<double>();
  if (!std::isfinite(x)) throw_invalid(path, "must be a finite number", json_text(v));
  return x;
}

/// An integer key (docs/reference.md §2.5): a JSON integer or an integral float in [1, 2^53].
/// Throws "<path>: must be an integer in [1, 2^53], got <value>".
inline std::int64_t json_to_integer(const nlohmann::json& v, std::string_view path) {
  constexpr std::string_view expectation = "must be an integer in [1, 2^53]";
  if (v.is_number_unsigned()) {
    const auto u = v.get<std::uint64_t>();
    if (u < 1 || u > static_cast<std::uint64_t>(json_max_integer)) {
      throw_invalid(path, expectation, json_text(v));
    }
    return static_cast<std::int64_t>(u);
  }
  if (v.is_number_integer()) {
    const auto i = v.get<std::int64_t>();
    if (i < 1 || i > static_cast<std::int64_t>(json_max_integer)) {
      throw_invalid(path, expectation, json_text(v));
    }
    return i;
  }
  if (v.is_number_float()) {
    const double x = v.get<double>();
    if (!std::isfinite(x) || x != std::trunc(x) || x < 1.0 || x > json_max_integer) {
      throw_invalid(path, expectation, json_text(v));
    }
    return static_cast<std::int64_t>(x);
  }
  throw_invalid(path, expectation, json_text(v));
}

/// A JSON boolean. Throws "<path>: must be a boolean, got <value>".
inline bool json_to_bool(const nlohmann::json& v, std::string_view path) {
  if (!v.is_boolean()) throw_invalid(path, "must be a boolean", json_text(v));
  return v.get<bool>();
}

/// A JSON string. Throws "<path>: must be a string, got <value>".
inline std::string json_to_string(const nlohmann::json& v, std::string_view path) {
  if (!v.is_string()) throw_invalid(path, "must be a string", json_text(v));
  return v.get<std::string>();
}

/// An array of finite numbers; element errors name "<path>[i]".
/// Throws "<path>: must be an array of finite numbers, got <value>" for a non-array.
inline std::vector<double> json_to_number_array(const nlohmann::json& v, std::string_view path) {
  if (!v.is_array()) throw_invalid(path, "must be an array of finite numbers", json_text(v));
  std::vector<double> out;
  out.reserve(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) {
    out.push_back(json_to_number(v[i], std::string(path) + "[" + std::to_string(i) + "]"));
  }
  return out;
}

/// obj[key] as a finite number, or nullopt when absent or null. path_prefix names obj.
inline std::optional<double> json_get_number(const nlohmann::json& obj, std::string_view key,
                                             std::string_view path_prefix) {
  const nlohmann::json* v = json_member(obj, key);
  if (v == nullptr) return std::nullopt;
  return json_to_number(*v, join_key(path_prefix, key));
}

/// obj[key] as an integer key in [1, 2^53], or nullopt when absent or null.
inline std::optional<std::int64_t> json_get_integer(const nlohmann::json& obj, std::string_view key,
                                                    std::string_view path_prefix) {
  const nlohmann::json* v = json_member(obj, key);
  if (v == nullptr) return std::nullopt;
  return json_to_integer(*v, join_key(path_prefix, key));
}

/// obj[key] as a string, or nullopt when absent or null.
inline std::optional<std::string> json_get_string(const nlohmann::json& obj, std::string_view key,
                                                  std::string_view path_prefix) {
  const nlohmann::json* v = json_member(obj, key);
  if (v == nullptr) return std::nullopt;
  return json_to_string(*v, join_key(path_prefix, key));
}

}  // namespace ropescale::detail

#endif  // ROPESCALE_DETAIL_JSON_HPP
