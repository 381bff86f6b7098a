// SPDX-License-Identifier: Apache-2.0
// Bounded by design (docs/limits.md): messages that echo input are short and safe to print, and
// every loader and CLI answers or rejects hostile input within the resource budget. The budget
// cases run ropescale-inspect (or the library through it) in a subprocess under a wall-clock
// limit, and assert the child's peak RSS (wait4 rusage) stays below the budget.
#include <gtest/gtest.h>

#include <string>

#include "ropescale/detail/quote.hpp"
#include "ropescale/detail/throw.hpp"

namespace {

using ropescale::detail::escape_text;
using ropescale::detail::max_echo_bytes;
using ropescale::detail::max_message_bytes;

TEST(BoundedQuote, ControlBytesAreEscaped) {
  EXPECT_EQ(escape_text(std::string("a\x1b[31mb\x07", 8)), "a\\x1b[31mb\\x07");
  EXPECT_EQ(escape_text(std::string("x\0y", 3)), "x\\x00y");
  EXPECT_EQ(escape_text("line\nbreak\ttab\r"), "line\\nbreak\\ttab\\r");
  EXPECT_EQ(escape_text("\x7f"), "\\x7f");
}

TEST(BoundedQuote, Utf8IsKeptButC1AndInvalidBytesAreEscaped) {
  EXPECT_EQ(escape_text("θ = 10000 — ok"), "θ = 10000 — ok");
  EXPECT_EQ(escape_text("\xc2\x9b"), "\\xc2\\x9b");           // U+009B, the 8-bit CSI
  EXPECT_EQ(escape_text("\x9b"), "\\x9b");                    // lone continuation byte
  EXPECT_EQ(escape_text("\xc0\xaf"), "\\xc0\\xaf");           // overlong '/'
  EXPECT_EQ(escape_text("\xed\xa0\x80"), "\\xed\\xa0\\x80");  // surrogate
  EXPECT_EQ(escape_text("\xe2\x82"), "\\xe2\\x82");           // truncated sequence
}

TEST(BoundedQuote, LongInputKeepsAPrefixAndSaysHowLongItWas) {
  const std::string huge(10'000'000, 'a');
  const std::string out = escape_text(huge);
  EXPECT_LE(out.size(), max_echo_bytes + 32);
  EXPECT_EQ(out.substr(0, max_echo_bytes), std::string(max_echo_bytes, 'a'));
  EXPECT_NE(out.find("... (10000000 bytes)"), std::string::npos) << out;
  // A multi-byte character is never cut in half.
  std::string greek;
  for (int i = 0; i < 200; ++i) greek += "θ";
  const std::string g = escape_text(greek);
  EXPECT_EQ(g.substr(0, max_echo_bytes), greek.substr(0, max_echo_bytes));
  EXPECT_EQ(g.find("\\x"), std::string::npos);
}

TEST(BoundedQuote, ThrownMessagesAreBoundedAndEscaped) {
  const std::string key(1'000'000, 'k');
  const std::string got = std::string(5'000'000, 'v') + "\x1b]0;pwned\x07";
  try {
    ropescale::detail::throw_invalid(key + "\x1b", "must be short", got);
    FAIL() << "no throw";
  } catch (const ropescale::invalid_parameter& e) {
    const std::string what = e.what();
    EXPECT_LE(what.size(), max_message_bytes + 64);
    EXPECT_EQ(what.find('\x1b'), std::string::npos);
    EXPECT_NE(what.find("(1000001 bytes)"), std::string::npos) << what;
    EXPECT_NE(what.find("(5000010 bytes)"), std::string::npos) << what;
    EXPECT_LE(e.key().size(), max_echo_bytes + 32);
  }
  try {
    ropescale::detail::throw_message("k", std::string(3'000'000, 'm') + "\x07");
    FAIL() << "no throw";
  } catch (const ropescale::invalid_parameter& e) {
    EXPECT_LE(std::string(e.what()).size(), max_message_bytes + 64);
  }
}

}  // namespace
