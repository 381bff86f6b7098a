// SPDX-License-Identifier: Apache-2.0
// The method-level rows of docs/reference.md §2.5's value table: every violation throws
// ropescale::invalid_parameter (a std::invalid_argument) whose key() is the HF key and whose
// message reads "<key>: <expectation>, got <value>". Boundary values that must be accepted are
// checked too.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "ropescale/methods/default_rope.hpp"
#include "ropescale/methods/dynamic.hpp"
#include "ropescale/methods/ggml_rope.hpp"
#include "ropescale/methods/linear.hpp"
#include "ropescale/methods/llama3.hpp"
#include "ropescale/methods/longrope.hpp"
#include "ropescale/methods/ntk.hpp"
#include "ropescale/methods/proportional.hpp"
#include "ropescale/methods/yarn.hpp"

namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();
constexpr std::int64_t kTooBig = (std::int64_t{1} << 53) + 1;

void expect_invalid(const std::function<void()>& f, const std::string& key,
                    const std::string& value) {
  SCOPED_TRACE("key " + key + ", value " + value);
  try {
    f();
    ADD_FAILURE() << "no exception";
  } catch (const ropescale::invalid_parameter& e) {
    const std::string msg = e.what();
    EXPECT_EQ(e.key(), key) << msg;
    EXPECT_EQ(msg.rfind(key + ": ", 0), 0u) << msg;
    EXPECT_NE(msg.find(", got " + value), std::string::npos) << msg;
    // Derived from std::invalid_argument.
    const std::invalid_argument& base = e;
    EXPECT_EQ(std::string(base.what()), msg);
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type: " << e.what();
  }
}

ropescale::yarn_params yarn_ok() {
  ropescale::yarn_params p;
  p.head_dim = 128;
  p.factor = 4;
  p.original_max_position_embeddings = 4096;
  return p;
}

ropescale::longrope_params longrope_ok() {
  ropescale::longrope_params p;
  p.head_dim = 96;
  p.short_factor.assign(48, 1.0);
  p.long_factor.assign(48, 2.0);
  p.original_max_position_embeddings = 4096;
  p.max_position_embeddings = 131072;
  return p;
}

// Runs `check(make)` for each method constructor taking the common keys (H, θ, prf).
template <class Check>
void for_each_method(Check check) {
  check([](std::int64_t H, double theta, double prf) {
    ropescale::default_rope<>(ropescale::default_rope_params{{H, theta, prf}});
  });
  check([](std::int64_t H, double theta, double prf) {
    ropescale::linear<>({{H, theta, prf}, 2});
  });
  check([](std::int64_t H, double theta, double prf) { ropescale::ntk<>({{H, theta, prf}, 2}); });
  check([](std::int64_t H, double theta, double prf) {
    ropescale::dynamic<>({{H, theta, prf}, 2, 4096});
  });
  check([](std::int64_t H, double theta, double prf) {
    ropescale::yarn_params p = yarn_ok();
    p.head_dim = H;
    p.rope_theta = theta;
    p.partial_rotary_factor = prf;
    ropescale::yarn<>{p};
  });
  check([](std::int64_t H, double theta, double prf) {
    ropescale::longrope_params p = longrope_ok();
    p.head_dim = H;
    p.rope_theta = theta;
    p.partial_rotary_factor = prf;
    // (No float-to-int conversion of a NaN or huge product: that would be undefined.)
    const bool sane = prf > 0 && prf <= 1 && H > 0 && H < 100000;
    const std::int64_t n = sane ? ropescale::detail::rotary_dim_of(H, prf) / 2 : 0;
    p.short_factor.assign(static_cast<std::size_t>(n > 0 ? n : 0), 1.0);
    p.long_factor = p.short_factor;
    ropescale::longrope<>{p};
  });
  check([](std::int64_t H, double theta, double prf) {
    ropescale::llama3<>({{H, theta, prf}, 8, 1, 4, 8192});
  });
  check([](std::int64_t H, double theta, double prf) {
    ropescale::proportional<>({{H, theta, prf}, 1});
  });
}

TEST(MethodValidation, RopeTheta) {
  for_each_method([](auto make) {
    expect_invalid([&] { make(128, 1.0, 1.0); }, "rope_theta", "1");
    expect_invalid([&] { make(128, 0.5, 1.0); }, "rope_theta", "0.5");
    expect_invalid([&] { make(128, -10000, 1.0); }, "rope_theta", "-10000");
    expect_invalid([&] { make(128, kNaN, 1.0); }, "rope_theta", "nan");
    expect_invalid([&] { make(128, kInf, 1.0); }, "rope_theta", "inf");
    EXPECT_NO_THROW(make(128, 1.0000001, 1.0));
  });
}

TEST(MethodValidation, PartialRotaryFactor) {
  for_each_method([](auto make) {
    expect_invalid([&] { make(128, 1e4, 0.0); }, "partial_rotary_factor", "0");
    expect_invalid([&] { make(128, 1e4, -0.5); }, "partial_rotary_factor", "-0.5");
    expect_invalid([&] { make(128, 1e4, 1.5); }, "partial_rotary_factor", "1.5");
    expect_invalid([&] { make(128, 1e4, kNaN); }, "partial_rotary_factor", "nan");
    EXPECT_NO_THROW(make(128, 1e4, 0.5));
  });
}

TEST(MethodValidation, HeadDim) {
  for_each_method([](auto make) {
    expect_invalid([&] { make(0, 1e4, 1.0); }, "head_dim", "0");
    expect_invalid([&] { make(-64, 1e4, 1.0); }, "head_dim", "-64");
    expect_invalid([&] { make(kTooBig, 1e4, 1.0); }, "head_dim", "9007199254740993");
    // docs/limits.md bounds H at 65536 for every method (even values, so proportional's
    // evenness rule cannot be what rejects them).
    expect_invalid([&] { make(65538, 1e4, 1.0); }, "head_dim", "65538");
    expect_invalid([&] { make(std::int64_t{51131072}, 1e4, 1.0); }, "head_dim", "51131072");
    EXPECT_NO_THROW(make(65536, 1e4, 1.0));
  });
}

// ggml_rope (a GGUF file's values) takes n_rot as given; its table is bounded like every other's.
TEST(MethodValidation, GgmlRotaryDim) {
  const auto make = [](std::int64_t head_dim, std::int64_t rotary_dim) {
    ropescale::ggml_rope_params p;
    p.head_dim = head_dim;
    p.rotary_dim = rotary_dim;
    ropescale::ggml_rope<>{p};
  };
  expect_invalid([&] { make(128, 130); }, "rotary_dim", "130");
  expect_invalid([&] { make(128, 63); }, "rotary_dim", "63");
  expect_invalid([&] { make(128, 0); }, "rotary_dim", "0");
  expect_invalid([&] { make(std::int64_t{1} << 20, 65538); }, "rotary_dim", "65538");
  expect_invalid([&] { make(std::int64_t{1} << 40, std::int64_t{1} << 40); }, "rotary_dim",
                 "1099511627776");
  EXPECT_NO_THROW(make(std::int64_t{1} << 20, 65536));
  EXPECT_NO_THROW(make(128, 64));
}

// ggml_rope's table obeys the same (0, 2^32] bound as every method's; the key names the value
// that put the entry out of range.
TEST(MethodValidation, GgmlTableInRange) {
  const auto make = [](double factor, std::vector<double> freq_factors) {
    ropescale::ggml_rope_params p;
    p.head_dim = 128;
    p.rotary_dim = 128;
    p.factor = factor;
    p.freq_factors = std::move(freq_factors);
    ropescale::ggml_rope<>{p};
  };
  expect_invalid([&] { make(1e-30, {}); }, "factor", "1e-30");
  expect_invalid([&] { make(1e-30, std::vector<double>(64, 1.0)); }, "factor", "1e-30");
  std::vector<double> ff(64, 1.0);
  ff[9] = 1e-300;
  expect_invalid([&] { make(1.0, ff); }, "freq_factors[9]", "1e-300");
  // 2^-32 still gives inv_freq[0] = 2^32; a little less does not.
  EXPECT_NO_THROW(make(std::ldexp(1.0, -32), {}));
  expect_invalid([&] { make(std::ldexp(0.99, -32), {}); }, "factor", "2.3050");
  ropescale::ggml_rope_params p;
  p.head_dim = 128;
  p.rotary_dim = 128;
  p.original_context = 4096;
  p.short_factors.assign(64, 1.0);
  p.long_factors.assign(64, 1.0);
  p.long_factors[63] = 1e-300;
  expect_invalid([&] { ropescale::ggml_rope<>{p}; }, "long_factors[63]", "1e-300");
}

TEST(MethodValidation, RotaryDimMustBeEvenAndLargeEnough) {
  // d = int(100 × 0.27) = 27: odd. Every method except proportional (whose rotary dim is H).
  expect_invalid(
      [&] {
        ropescale::default_rope<>(ropescale::default_rope_params{{100, 1e4, 0.27}});
      },
      "partial_rotary_factor", "27");
  expect_invalid(
      [&] {
        ropescale::linear<>({{100, 1e4, 0.27}, 2});
      },
      "partial_rotary_factor", "27");
  expect_invalid(
      [&] {
        ropescale::llama3<>({{100, 1e4, 0.27}, 8, 1, 4, 8192});
      },
      "partial_rotary_factor", "27");
  // prf = 1 and odd H: the key is head_dim.
  expect_invalid(
      [&] {
        ropescale::default_rope<>(ropescale::default_rope_params{{63, 1e4, 1.0}});
      },
      "head_dim", "63");
  // d = int(4 × 0.3) = 1 < 2.
  expect_invalid(
      [&] {
        ropescale::default_rope<>(ropescale::default_rope_params{{4, 1e4, 0.3}});
      },
      "partial_rotary_factor", "1");
  // ntk and dynamic need d >= 4.
  expect_invalid([&] { ropescale::ntk<>({{2, 1e4, 1.0}, 2}); }, "head_dim", "2");
  expect_invalid(
      [&] {
        ropescale::dynamic<>({{8, 1e4, 0.25}, 2, 4096});
      },
      "partial_rotary_factor", "2");
  EXPECT_NO_THROW(ropescale::ntk<>({{4, 1e4, 1.0}, 2}));
  // proportional: H must be even.
  expect_invalid([&] { ropescale::proportional<>({{63, 1e4, 1.0}, 1}); }, "head_dim", "63");
}

TEST(MethodValidation, Factor) {
  for (double bad : {0.5, 0.0, -2.0, kNaN, kInf}) {
    const std::string v = ropescale::detail::format_value(bad);
    expect_invalid([&] { ropescale::linear<>({{128, 1e4, 1.0}, bad}); }, "factor", v);
    expect_invalid([&] { ropescale::ntk<>({{128, 1e4, 1.0}, bad}); }, "factor", v);
    expect_invalid([&] { ropescale::dynamic<>({{128, 1e4, 1.0}, bad, 4096}); }, "factor", v);
    expect_invalid([&] { ropescale::llama3<>({{128, 1e4, 1.0}, bad, 1, 4, 8192}); }, "factor", v);
    expect_invalid([&] { ropescale::proportional<>({{128, 1e4, 1.0}, bad}); }, "factor", v);
    expect_invalid(
        [&] {
          ropescale::yarn_params p = yarn_ok();
          p.factor = bad;
          ropescale::yarn<>{p};
        },
        "factor", v);
    expect_invalid(
        [&] {
          ropescale::longrope_params p = longrope_ok();
          p.factor = bad;
          ropescale::longrope<>{p};
        },
        "factor", v);
  }
  EXPECT_NO_THROW(ropescale::linear<>({{128, 1e4, 1.0}, 1.0}));
}

TEST(MethodValidation, AttentionFactor) {
  for (double bad : {0.0, -1.0, kNaN, kInf}) {
    const std::string v = ropescale::detail::format_value(bad);
    expect_invalid(
        [&] {
          ropescale::yarn_params p = yarn_ok();
          p.attention_factor = bad;
          ropescale::yarn<>{p};
        },
        "attention_factor", v);
    expect_invalid(
        [&] {
          ropescale::longrope_params p = longrope_ok();
          p.attention_factor = bad;
          ropescale::longrope<>{p};
        },
        "attention_factor", v);
  }
  ropescale::yarn_params p = yarn_ok();
  p.attention_factor = 0.01;
  EXPECT_NO_THROW(ropescale::yarn<>{p});
}

TEST(MethodValidation, Betas) {
  for (const char* key : {"beta_fast", "beta_slow"}) {
    for (double bad : {-1.0, kNaN, kInf}) {
      expect_invalid(
          [&] {
            ropescale::yarn_params p = yarn_ok();
            (std::string(key) == "beta_fast" ? p.beta_fast : p.beta_slow) = bad;
            ropescale::yarn<>{p};
          },
          key, ropescale::detail::format_value(bad));
    }
  }
  // After defaults, beta_fast >= beta_slow.
  expect_invalid(
      [&] {
        ropescale::yarn_params p = yarn_ok();
        p.beta_fast = 0.5;
        ropescale::yarn<>{p};
      },
      "beta_fast", "0.5");
  expect_invalid(
      [&] {
        ropescale::yarn_params p = yarn_ok();
        p.beta_fast = 0;  // → 32
        p.beta_slow = 40;
        ropescale::yarn<>{p};
      },
      "beta_fast", "32");
  ropescale::yarn_params ok = yarn_ok();
  ok.beta_fast = 2;
  ok.beta_slow = 0;  // → 1
  EXPECT_NO_THROW(ropescale::yarn<>{ok});
  ok.beta_fast = 3;
  ok.beta_slow = 3;
  EXPECT_NO_THROW(ropescale::yarn<>{ok});
}

TEST(MethodValidation, Mscale) {
  for (double bad : {-1.0, kNaN, kInf}) {
    const std::string v = ropescale::detail::format_value(bad);
    expect_invalid(
        [&] {
          ropescale::yarn_params p = yarn_ok();
          p.mscale = bad;
          ropescale::yarn<>{p};
        },
        "mscale", v);
    expect_invalid(
        [&] {
          ropescale::yarn_params p = yarn_ok();
          p.mscale_all_dim = bad;
          ropescale::yarn<>{p};
        },
        "mscale_all_dim", v);
  }
  ropescale::yarn_params p = yarn_ok();
  p.mscale = 0;
  p.mscale_all_dim = 0;
  EXPECT_NO_THROW(ropescale::yarn<>{p});
}

TEST(MethodValidation, IntegerKeys) {
  for (std::int64_t bad : {std::int64_t{0}, std::int64_t{-1}, kTooBig}) {
    const std::string v = std::to_string(bad);
    expect_invalid(
        [&] {
          ropescale::dynamic<>({{128, 1e4, 1.0}, 2, bad});
        },
        "max_position_embeddings", v);
    expect_invalid(
        [&] {
          ropescale::llama3<>({{128, 1e4, 1.0}, 8, 1, 4, bad});
        },
        "original_max_position_embeddings", v);
    expect_invalid(
        [&] {
          ropescale::yarn_params p = yarn_ok();
          p.original_max_position_embeddings = bad;
          ropescale::yarn<>{p};
        },
        "original_max_position_embeddings", v);
    expect_invalid(
        [&] {
          ropescale::longrope_params p = longrope_ok();
          p.original_max_position_embeddings = bad;
          ropescale::longrope<>{p};
        },
        "original_max_position_embeddings", v);
  }
  // longrope: L is needed when factor is absent (s = L/L0).
  expect_invalid(
      [&] {
        ropescale::longrope_params p = longrope_ok();
        p.max_position_embeddings = 0;
        ropescale::longrope<>{p};
      },
      "max_position_embeddings", "0");
  ropescale::longrope_params p = longrope_ok();
  p.max_position_embeddings = 0;
  p.factor = 4;
  EXPECT_NO_THROW(ropescale::longrope<>{p});
  // A computed with s > 1 needs ln L0 != 0.
  p.original_max_position_embeddings = 1;
  expect_invalid([&] { ropescale::longrope<>{p}; }, "original_max_position_embeddings", "1");
  p.attention_factor = 1.2;
  EXPECT_NO_THROW(ropescale::longrope<>{p});
}

TEST(MethodValidation, LongropeFactorArrays) {
  for (const char* key : {"short_factor", "long_factor"}) {
    const bool is_short = std::string(key) == "short_factor";
    expect_invalid(
        [&] {
          ropescale::longrope_params p = longrope_ok();
          (is_short ? p.short_factor : p.long_factor).resize(47);
          ropescale::longrope<>{p};
        },
        key, "47 entries");
    expect_invalid(
        [&] {
          ropescale::longrope_params p = longrope_ok();
          (is_short ? p.short_factor : p.long_factor).resize(49, 1.0);
          ropescale::longrope<>{p};
        },
        key, "49 entries");
    for (double bad : {0.0, -1.0, kNaN, kInf}) {
      expect_invalid(
          [&] {
            ropescale::longrope_params p = longrope_ok();
            (is_short ? p.short_factor : p.long_factor)[3] = bad;
            ropescale::longrope<>{p};
          },
          std::string(key) + "[3]", ropescale::detail::format_value(bad));
    }
  }
}

TEST(MethodValidation, Llama3FreqFactors) {
  for (double bad : {0.0, -1.0, kNaN}) {
    expect_invalid(
        [&] {
          ropescale::llama3<>({{128, 1e4, 1.0}, 8, bad, 4, 8192});
        },
        "low_freq_factor", ropescale::detail::format_value(bad));
  }
  expect_invalid(
      [&] {
        ropescale::llama3<>({{128, 1e4, 1.0}, 8, 4, 1, 8192});
      },
      "high_freq_factor", "1");
  expect_invalid(
      [&] {
        ropescale::llama3<>({{128, 1e4, 1.0}, 8, 1, kNaN, 8192});
      },
      "high_freq_factor", "nan");
  EXPECT_NO_THROW(ropescale::llama3<>({{128, 1e4, 1.0}, 8, 2, 2, 8192}));  // a == b accepted
}

TEST(MethodValidation, SeqLenOnEveryEntryPoint) {
  ropescale::default_rope<> m0(ropescale::default_rope_params{{128, 1e4, 1.0}});
  ropescale::linear<> m1({{128, 1e4, 1.0}, 2});
  ropescale::ntk<> m2({{128, 1e4, 1.0}, 2});
  ropescale::dynamic<> m3({{128, 1e4, 1.0}, 2, 4096});
  ropescale::yarn<> m4(yarn_ok());
  ropescale::longrope<> m5(longrope_ok());
  ropescale::llama3<> m6({{128, 1e4, 1.0}, 8, 1, 4, 8192});
  ropescale::proportional<> m7({{128, 1e4, 0.5}, 1});
  auto check = [](const auto& m) {
    for (std::int64_t bad : {std::int64_t{0}, std::int64_t{-3}}) {
      const std::string v = std::to_string(bad);
      expect_invalid([&] { (void)m.inv_freq(bad); }, "seq_len", v);
      expect_invalid([&] { (void)m.attention_factor(bad); }, "seq_len", v);
      expect_invalid([&] { (void)m.inv_freq_hf_f32(bad); }, "seq_len", v);
      expect_invalid([&] { (void)m.query_scale(bad); }, "seq_len", v);
    }
    EXPECT_NO_THROW((void)m.inv_freq(1));
  };
  check(m0);
  check(m1);
  check(m2);
  check(m3);
  check(m4);
  check(m5);
  check(m6);
  check(m7);
  expect_invalid([&] { (void)m5.inv_freq_fixed(0); }, "seq_len", "0");
}

}  // namespace
