// SPDX-License-Identifier: Apache-2.0
// Safe echoing of untrusted text in messages (docs/limits.md): every error message, diagnostic and
// CLI error line that repeats a piece of input (a key, a tensor or shard name, a metadata value, a
// command-line argument) passes it through escape_text(), which
//   - escapes control bytes (C0, DEL), C1 control characters and bytes that are not valid UTF-8
//     as \n, \t, \r or \xNN, so nothing from a file can drive a terminal (no escape injection);
//   - keeps only a prefix of a long input, cut at a character boundary, and says how long the
//     input was ("... (10485760 bytes)"), so one message stays one short line.
// detail: no API promise beyond what docs/limits.md states.
#ifndef ROPESCALE_DETAIL_QUOTE_HPP
#define ROPESCALE_DETAIL_QUOTE_HPP

#include <cstddef>
#include <string>
#include <string_view>

namespace ropescale::detail {

/// Most bytes of escaped text one echoed input contributes to a message (before the
/// "... (N bytes)" note).
inline constexpr std::size_t max_echo_bytes = 160;
/// Most bytes of a whole error message (key, expectation and echoed value together).
inline constexpr std::size_t max_message_bytes = 1024;

namespace quote_impl {

/// Length of the valid UTF-8 sequence starting at s[i] whose code point is printable (not C1,
/// U+0080..U+009F), or 0 when the bytes there are not such a sequence.
inline std::size_t printable_utf8_length(std::string_view s, std::size_t i) noexcept {
  const auto b0 = static_cast<unsigned char>(s[i]);
  std::size_t len = 0;
  unsigned cp = 0;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
    cp = b0 & 0x1Fu;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    cp = b0 & 0x0Fu;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    cp = b0 & 0x07u;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (std::size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0u) != 0x80u) return 0;
    cp = (cp << 6) | (b & 0x3Fu);
  }
  const bool overlong = (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000);
  const bool invalid = overlong || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF);
  if (invalid || (cp >= 0x80 && cp <= 0x9F)) return 0;
  return len;
}

}  // namespace quote_impl

/// Appends `s` to `out` with control bytes and invalid UTF-8 escaped (\n, \t, \r, \xNN). At most
/// `limit` bytes are appended for the text itself; a longer input is cut at a character boundary
/// and followed by "... (N bytes)" with N the input's full length.
inline void append_escaped(std::string& out, std::string_view s,
                           std::size_t limit = max_echo_bytes) {
  static constexpr char hex[] = "0123456789abcdef";
  std::size_t written = 0;
  for (std::size_t i = 0; i < s.size();) {
    const auto b = static_cast<unsigned char>(s[i]);
    char piece[4];
    std::size_t len = 0;
    std::size_t consumed = 1;
    if (b >= 0x20 && b < 0x7F) {
      piece[0] = static_cast<char>(b);
      len = 1;
    } else if (b == '\n' || b == '\t' || b == '\r') {
      piece[0] = '\\';
      piece[1] = b == '\n' ? 'n' : (b == '\t' ? 't' : 'r');
      len = 2;
    } else if (const std::size_t u = b >= 0x80 ? quote_impl::printable_utf8_length(s, i) : 0) {
      for (std::size_t k = 0; k < u; ++k) piece[k] = s[i + k];
      len = u;
      consumed = u;
    } else {
      piece[0] = '\\';
      piece[1] = 'x';
      piece[2] = hex[b >> 4];
      piece[3] = hex[b & 0xFu];
      len = 4;
    }
    if (written + len > limit) {
      out.append("... (").append(std::to_string(s.size())).append(" bytes)");
      return;
    }
    out.append(piece, len);
    written += len;
    i += consumed;
  }
}

/// `s` escaped and bounded (see append_escaped).
inline std::string escape_text(std::string_view s, std::size_t limit = max_echo_bytes) {
  std::string out;
  append_escaped(out, s, limit);
  return out;
}

/// `s` escaped, bounded and in single quotes: 'name' (for tensor, shard and metadata names).
inline std::string quote_text(std::string_view s, std::size_t limit = max_echo_bytes) {
  std::string out = "'";
  append_escaped(out, s, limit);
  out += '\'';
  return out;
}

/// "tensor 'name'" for messages about a tensor of a model file (GGUF or safetensors).
inline std::string tensor_where(std::string_view name, std::size_t limit = max_echo_bytes) {
  return "tensor " + quote_text(name, limit);
}

}  // namespace ropescale::detail

#endif  // ROPESCALE_DETAIL_QUOTE_HPP
