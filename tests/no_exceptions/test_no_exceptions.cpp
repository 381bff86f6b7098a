// SPDX-License-Identifier: Apache-2.0
// Built with -fno-exceptions (tests/CMakeLists.txt) and ROPESCALE_HAS_BUILTIN(x) defined as 0
// (every compiler builtin replaced by its portable path). Without exceptions a rejected call goes
// to the error handler: the default prints "ropescale: <message>" to stderr and aborts; an
// installed handler receives the key and message (death tests: they run in a child process).
// cos_sin_table::try_from_method returns the error instead (support/try_forms_cases.hpp).
// Before any ropescale header: take the portable path instead of every compiler builtin.
#define ROPESCALE_HAS_BUILTIN(name) 0

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "ropescale/hf_config.hpp"
#include "ropescale/ropescale.hpp"

#if ROPESCALE_EXCEPTIONS
#error "this test must be compiled with -fno-exceptions"
#endif

#include "support/try_forms_cases.hpp"

namespace {

static_assert(!ROPESCALE_HAS_BUILTIN(__builtin_mul_overflow), "portable paths expected");

// Prints what it received and exits with 3 (never returns).
[[noreturn]] void exiting_handler(const ropescale::error& e) {
  std::fprintf(stderr, "handled key=<%s> message=<%s>\n", e.key.c_str(), e.message.c_str());
  std::fflush(stderr);
  std::_Exit(3);
}

// Returns although it must not: the library then aborts.
void returning_handler(const ropescale::error&) {}

void bad_rotary_dim() {
  const auto m = try_forms::test_method();
  ropescale::cos_sin_table table = ropescale::cos_sin_table::from_method(m, 8);
  try_forms::buffers b;
  ropescale::apply_rotary(b.qv(), b.kv(), *table.snapshot(), ropescale::token_positions::range(0),
                          ropescale::layout::neox, 63);
}

TEST(NoExceptionsDeathTest, DefaultHandlerPrintsTheMessageAndAborts) {
  EXPECT_DEATH(bad_rotary_dim(), "ropescale: rotary_dim: must be even and >= 2, got 63");
}

TEST(NoExceptionsDeathTest, InstalledHandlerGetsKeyAndMessage) {
  EXPECT_EXIT(
      {
        ropescale::set_error_handler(&exiting_handler);
        bad_rotary_dim();
      },
      ::testing::ExitedWithCode(3),
      "handled key=<rotary_dim> message=<rotary_dim: must be even and >= 2, got 63>");
}

TEST(NoExceptionsDeathTest, AHandlerThatReturnsStillStopsTheCall) {
  EXPECT_DEATH(
      {
        ropescale::set_error_handler(&returning_handler);
        bad_rotary_dim();
      },
      "");
}

TEST(NoExceptionsDeathTest, LoaderKeyPathsSurviveWithoutTryCatch) {
  // The loader names the key path of a method constructor's error through an error_scope.
  EXPECT_EXIT(
      {
        ropescale::set_error_handler(&exiting_handler);
        (void)ropescale::load_hf_config_string(
            R"({"head_dim": 64, "hidden_size": 512, "num_attention_heads": 8,
                "max_position_embeddings": 4096, "rope_theta": 10000.0,
                "rope_scaling": {"rope_type": "linear", "factor": 0.5}})");
      },
      ::testing::ExitedWithCode(3),
      "handled key=<rope_scaling.factor> message=<rope_scaling.factor: .*0.5>");
  EXPECT_DEATH((void)ropescale::load_hf_config_string("{\"head_dim\": 64,"),
               "ropescale: .*malformed JSON");
}

}  // namespace
