// SPDX-License-Identifier: Apache-2.0
// The error path with exceptions enabled: every rejected call throws invalid_parameter (the
// installed error handler is not consulted), cos_sin_table::try_from_method returns the error
// instead (support/try_forms_cases.hpp, shared with the -fno-exceptions build in no_exceptions/),
// and error_scope rewrites errors raised inside it.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ropescale/detail/throw.hpp"
#include "support/try_forms_cases.hpp"

namespace {

int handler_calls = 0;
void counting_handler(const ropescale::error&) { ++handler_calls; }

TEST(ErrorPath, ThrowsAndLeavesTheHandlerUnused) {
  const auto m = try_forms::test_method();
  ropescale::cos_sin_table table = ropescale::cos_sin_table::from_method(m, 8);
  const auto rows = table.snapshot();
  try_forms::buffers b;
  const try_forms::buffers before = b;
  const ropescale::error_handler previous = ropescale::set_error_handler(&counting_handler);
  handler_calls = 0;
  try {
    ropescale::apply_rotary(b.qv(), b.kv(), *rows, ropescale::token_positions::range(6),
                            ropescale::layout::neox, try_forms::kHeadDim);
    ADD_FAILURE() << "no exception";
  } catch (const ropescale::invalid_parameter& thrown) {
    EXPECT_EQ(thrown.key(), "positions[2]");
    EXPECT_EQ(std::string(thrown.what()).rfind("positions[2]: ", 0), 0u) << thrown.what();
  }
  EXPECT_EQ(handler_calls, 0);  // with exceptions the handler is not used
  EXPECT_EQ(ropescale::set_error_handler(previous), &counting_handler);
  EXPECT_TRUE(b.same_as(before));
}

TEST(ErrorPath, SetErrorHandlerSwapsAndNullRestoresTheDefault) {
  const ropescale::error_handler original = ropescale::get_error_handler();
  ASSERT_NE(original, nullptr);
  EXPECT_EQ(ropescale::set_error_handler(&counting_handler), original);
  EXPECT_EQ(ropescale::get_error_handler(), &counting_handler);
  EXPECT_EQ(ropescale::set_error_handler(nullptr), &counting_handler);
  EXPECT_EQ(ropescale::get_error_handler(), original);
}

TEST(ErrorPath, ErrorScopesRewriteInnermostFirstAndOnlyWhileAlive) {
  const auto outer = [](ropescale::error& e) { e.message += " [outer]"; };
  const auto inner = [](ropescale::error& e) {
    e.key = "ctx." + e.key;
    e.message = "ctx." + e.message;
  };
  try {
    const ropescale::detail::error_scope a(outer);
    const ropescale::detail::error_scope b(inner);
    ropescale::detail::throw_invalid_value("factor", "must be >= 1", 0.5);
  } catch (const ropescale::invalid_parameter& e) {
    EXPECT_EQ(e.key(), "ctx.factor");
    EXPECT_EQ(std::string(e.what()), "ctx.factor: must be >= 1, got 0.5 [outer]");
  }
  try {  // both scopes are gone
    ropescale::detail::throw_invalid_value("factor", "must be >= 1", 0.5);
  } catch (const ropescale::invalid_parameter& e) {
    EXPECT_EQ(std::string(e.what()), "factor: must be >= 1, got 0.5");
  }
}

}  // namespace
