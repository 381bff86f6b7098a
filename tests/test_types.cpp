// SPDX-License-Identifier: Apache-2.0
// Tests for types.hpp: bf16/f16 scalar conversions against independent decoders and a
// nearest-value search (round-to-nearest-even, subnormals, overflow, NaN), and every SIMD
// target's vector widen/narrow against the scalar conversions bit for bit (through
// simd::scale_in_place, whose single float multiply is the same IEEE operation on every target).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "ropescale/isa.hpp"
#include "ropescale/simd/dispatch.hpp"
#include "ropescale/types.hpp"
#include "support/isa_types.hpp"
#include "support/rotate_reference.hpp"

namespace {

using ropescale::bf16;
using ropescale::f16;
using ropescale::isa;
namespace ref = ropescale_test::reference;

float float_of_bits(std::uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}
std::uint32_t bits_of_float(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

TEST(Types, WideningIsExactForEveryBitPattern) {
  for (std::uint32_t b = 0; b < 65536; ++b) {
    const auto h = static_cast<std::uint16_t>(b);
    const double want_h = ref::half_bits_to_double(h);
    const double want_b = ref::bf16_bits_to_double(h);
    const float got_h = ropescale::to_float(f16::from_bits(h));
    const float got_b = ropescale::to_float(bf16::from_bits(h));
    if (std::isnan(want_h)) {
      ASSERT_TRUE(std::isnan(got_h)) << b;
      ASSERT_EQ(ropescale::to_f16(got_h).bits, h | 0x0200u) << "NaN payload kept, quieted";
    } else {
      ASSERT_EQ(static_cast<double>(got_h), want_h) << b;
      ASSERT_EQ(std::signbit(got_h), std::signbit(want_h)) << b;
      ASSERT_EQ(ropescale::to_f16(got_h).bits, h) << "f16 round trip " << b;
    }
    if (std::isnan(want_b)) {
      ASSERT_TRUE(std::isnan(got_b)) << b;
    } else {
      ASSERT_EQ(static_cast<double>(got_b), want_b) << b;
      ASSERT_EQ(ropescale::to_bf16(got_b).bits, h) << "bf16 round trip " << b;
    }
  }
}

/// Checks a narrowing against the sorted list of non-negative finite values of the format:
/// the result must be the nearest, ties to the even encoding, beyond the largest finite value
/// plus half an ulp -> inf.
template <class Narrow>
void check_narrowing(const char* what, Narrow narrow, double (*decode)(std::uint16_t),
                     std::uint16_t max_finite_bits, const std::vector<float>& inputs) {
  std::vector<std::pair<double, std::uint16_t>> values;  // ascending, non-negative finite
  for (std::uint32_t b = 0; b <= max_finite_bits; ++b) {
    values.emplace_back(decode(static_cast<std::uint16_t>(b)), static_cast<std::uint16_t>(b));
  }
  const double max_v = values.back().first;
  const double next_binade_ulp = max_v - values[values.size() - 2].first;
  for (float x : inputs) {
    const std::uint16_t got = narrow(x);
    const std::uint16_t sign = std::signbit(x) ? 0x8000 : 0;
    if (std::isnan(x)) {
      ASSERT_TRUE(std::isnan(decode(got))) << what;
      continue;
    }
    const double a = std::fabs(static_cast<double>(x));
    std::uint16_t want = 0;
    if (a >= max_v + next_binade_ulp / 2) {
      want = static_cast<std::uint16_t>(max_finite_bits + 1);  // inf
    } else {
      auto hi = std::lower_bound(values.begin(), values.end(), std::make_pair(a, std::uint16_t{0}));
      if (hi == values.end()) {
        want = values.back().second;  // between max and the overflow threshold
      } else if (hi->first == a || hi == values.begin()) {
        want = hi->second;
      } else {
        const auto lo = hi - 1;
        const double dl = a - lo->first, dh = hi->first - a;
        want = dl < dh   ? lo->second
               : dh < dl ? hi->second
                         : ((lo->second & 1) ? hi->second : lo->second);
      }
    }
    ASSERT_EQ(got, static_cast<std::uint16_t>(want | sign))
        << what << " of " << x << " (bits 0x" << std::hex << bits_of_float(x) << ")";
  }
}

std::vector<float> narrowing_inputs() {
  std::vector<float> v;
  // Every float whose bits are a multiple of 97 (covers all binades, subnormals included), plus
  // exact ties and neighbours around every 16-bit value.
  for (std::uint64_t b = 0; b < 0x100000000ull; b += 97 * 1024 + 1) {
    v.push_back(float_of_bits(static_cast<std::uint32_t>(b)));
  }
  for (std::uint32_t h = 0; h < 0x7C00; h += 3) {
    const double lo = ref::half_bits_to_double(static_cast<std::uint16_t>(h));
    const double hi = ref::half_bits_to_double(static_cast<std::uint16_t>(h + 1));
    const float mid = static_cast<float>((lo + hi) / 2);  // exact in float
    v.push_back(mid);
    v.push_back(std::nextafter(mid, 0.0f));
    v.push_back(std::nextafter(mid, 1e30f));
  }
  for (std::uint32_t h = 0; h < 0x7F80; h += 3) {
    const std::uint32_t mid = (h << 16) | 0x8000u;
    v.push_back(float_of_bits(mid));
    v.push_back(float_of_bits(mid - 1));
    v.push_back(float_of_bits(mid + 1));
  }
  const float specials[] = {0.0f,
                            -0.0f,
                            65504.0f,
                            65519.99f,
                            65520.0f,
                            1e10f,
                            INFINITY,
                            -INFINITY,
                            NAN,
                            -NAN,
                            5.96e-8f,
                            2.98e-8f,
                            2.9802322e-8f,
                            float_of_bits(0x7F7FFFFF),
                            float_of_bits(0x7F7F8000),
                            float_of_bits(0x7F800001),
                            float_of_bits(0xFFC00001)};
  v.insert(v.end(), std::begin(specials), std::end(specials));
  const std::size_t n = v.size();
  for (std::size_t i = 0; i < n; ++i) v.push_back(-v[i]);
  return v;
}

TEST(Types, F16NarrowingIsNearestEven) {
  check_narrowing(
      "to_f16", [](float x) { return ropescale::to_f16(x).bits; }, ref::half_bits_to_double, 0x7BFF,
      narrowing_inputs());
}

TEST(Types, Bf16NarrowingIsNearestEven) {
  check_narrowing(
      "to_bf16", [](float x) { return ropescale::to_bf16(x).bits; }, ref::bf16_bits_to_double,
      0x7F7F, narrowing_inputs());
}

// ---- vector conversions per ISA, against the scalar ones ----

class VectorConversionTest : public ropescale_test::IsaTest {};
ROPESCALE_TEST_EVERY_ISA(VectorConversionTest);

template <class T>
void vector_matches_scalar(isa which) {
  std::mt19937 rng(20260611u);
  const std::size_t n = 4099;  // not a multiple of any vector width: tails too
  std::vector<T> x(n);
  for (float f : {1.0f, 1.0009765625f, 0.3f, 3.0e-5f, 1.0e-3f, 70000.0f, 2.0e-38f}) {
    for (std::size_t i = 0; i < n; ++i) {
      std::uint16_t b = static_cast<std::uint16_t>(rng());
      if (i % 7 == 0) b = static_cast<std::uint16_t>(b & 0x83FF);   // f16 subnormals, small bf16
      if (i % 11 == 0) b = static_cast<std::uint16_t>(b | 0x7C00);  // f16 inf/NaN, large bf16
      x[i] = T::from_bits(b);
    }
    const std::vector<T> in = x;
    ropescale::simd::scale_in_place(which, x.data(), static_cast<std::int64_t>(n), f);
    for (std::size_t i = 0; i < n; ++i) {
      const float prod = ropescale::to_float(in[i]) * f;
      const std::uint16_t want = ropescale::store_from_float<T>(prod).bits;
      if (std::isnan(prod)) {
        ASSERT_TRUE(std::isnan(ropescale::to_float(x[i]))) << "element " << i;
      } else {
        ASSERT_EQ(x[i].bits, want)
            << "element " << i << " input 0x" << std::hex << in[i].bits << " factor " << f;
      }
    }
  }
}

TEST_P(VectorConversionTest, Bf16MatchesScalar) { vector_matches_scalar<bf16>(GetParam()); }
TEST_P(VectorConversionTest, F16MatchesScalar) { vector_matches_scalar<f16>(GetParam()); }

TEST(Types, DenseViewAndPositions) {
  float buf[24] = {};
  const auto v = ropescale::dense_view(buf, 2, 3, 4);
  EXPECT_EQ(v.token_stride, 12);
  EXPECT_EQ(v.head_stride, 4);
  const std::int64_t list[] = {7, 3};
  EXPECT_EQ(ropescale::token_positions::range(100)[5], 105);
  EXPECT_EQ(ropescale::token_positions::list(list, 2)[1], 3);
}

}  // namespace
