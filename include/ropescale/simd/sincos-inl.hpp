// SPDX-License-Identifier: Apache-2.0
// Vectorised cos/sin rows and the no-table (on-the-fly) rotation body, written once against the
// `sincos_ops` vocabulary (the ISA's rotation `ops` plus the cos/sin ops) and included inside each
// ISA's namespace and target region, after rotate-inl.hpp (it uses its token loops). No include
// guard and no #includes.
//
// Algorithm, per vector of `sincos_ops::lanes` pairs (docs/reference.md §5.2, docs/benchmarks.md
// §6):
//   1. angle in double lanes (sincos_ops::dlanes per double vector, lanes/dlanes of them):
//        φ = p·ω (rounded), e = fma(p, ω, −φ) (its exact rounding error),
//        k = nearest(φ·2/π), r = fma(−k, π/2_hi, φ), r = fma(−k, π/2_lo, r), r = r + e.
//      π/2_hi = fl64(π/2), π/2_lo = fl64(π/2 − π/2_hi); each fma rounds once and the results are
//      small, so |error of r| <= ~3e-16 rad while |φ| < 2^30 (a compare per double vector
//      checks it; a row that fails, or has a non-finite ω, is recomputed in double, see
//      cos_sin_row). |r| <= π/4 + tiny.
//   2. r is narrowed to x = fl32(r); its rounding δ = fl32(r − x) (|δ| <= 2^-25·π/4) is kept.
//      k's two low bits select the quadrant: k odd swaps cos and sin, bit 1 of k flips sin's
//      sign and bit 1 of k + 1 flips cos's sign.
//   3. float Taylor polynomials on |x| <= π/4 (truncation < 2e-9 for sin to x^9, < 1.2e-10 for
//      cos to x^10; coefficients 1/n! rounded to float), Horner with fused multiply-adds
//      (sincos_ops::fmadd, fused on every vector target), then the first-order
//      correction sin(x + δ) = sin x + δ·cos x, cos(x + δ) = cos x − δ·sin x (δ² < 1e-15), which
//      removes the argument rounding (without it the worst error measured 1.38e-7; with it see
//      below).
//   4. multiply by A = a_hi + a_lo (two floats): v·a_hi + fl32(v·a_lo) with one fma, so only the
//      final rounding is added, not fl32(A)'s relative error of up to 6e-8.
// Measured worst error against a long-double reference, p <= 1e7 (tests/test_on_the_fly.cpp):
// 1.04e-7·max(1, A) (A = 2.75), 7e-8 for A = 1, identical on AVX2 and AVX-512.
//
// SLEEF is not a dependency: its 1-ulp vector sincos is slower and, on a float angle, useless at
// long range; a double-precision polynomial (cos_sin_row_double below) costs 1.4–1.6× the float
// one for 0.5-ulp results, so tables use it and the on-the-fly path keeps the float one
// (docs/architecture.md, "What was tried").
//
// The scalar target (and so the tails shorter than a vector of every other target) computes each
// pair with detail::accurate_cos_sin instead: double reduction mod 2π, double cos/sin, one
// rounding (<= 0.5 ulp + A's product). At the baseline ISA it is both faster and more accurate
// than the float polynomial, whose fused multiply-adds would become libm fma calls there.

inline void cos_sin_row_vector(const double* w, std::int64_t n, std::int64_t position,
                               double attention, float* c, float* s) noexcept;

/// c[i] = A·cos(p·w[i]), s[i] = A·sin(p·w[i]) for i < n, float, via the algorithm above. A row
/// with some |p·w[i]| >= 2^30 rad (far beyond any real context) or a non-finite w[i] is
/// recomputed with detail::accurate_cos_sin (double reduction and cos/sin; NaN for non-finite
/// input), so any input is handled; the check costs one compare per double vector.
inline void cos_sin_row(const double* w, std::int64_t n, std::int64_t position, double attention,
                        float* c, float* s) noexcept {
  if constexpr (sincos_ops::lanes == 1) {
    for (std::int64_t q = 0; q < n; ++q) {
      ropescale::detail::accurate_cos_sin(position, w[q], attention, c[q], s[q]);
    }
  } else {
    cos_sin_row_vector(w, n, position, attention, c, s);
  }
}

/// The vector algorithm above for targets with sincos_ops::lanes > 1.
inline void cos_sin_row_vector(const double* w, std::int64_t n, std::int64_t position,
                               double attention, float* c, float* s) noexcept {
  constexpr std::int64_t L = sincos_ops::lanes;
  constexpr std::int64_t DL = sincos_ops::dlanes;
  constexpr std::int64_t P = L / DL;
  static_assert(P >= 1 && P * DL == L,
                "sincos_ops::lanes must be a multiple of sincos_ops::dlanes");

  const auto p = sincos_ops::dset1(static_cast<double>(position));
  const auto two_over_pi = sincos_ops::dset1(0.63661977236758138);  // fl64(2/π)
  const auto pio2_hi = sincos_ops::dset1(1.5707963267948966);       // fl64(π/2)
  const auto pio2_lo = sincos_ops::dset1(6.123233995736766e-17);    // fl64(π/2 − pio2_hi)
  const float a_hi_f = static_cast<float>(attention);
  const auto a_hi = sincos_ops::set1(a_hi_f);
  const auto a_lo = sincos_ops::set1(static_cast<float>(attention - static_cast<double>(a_hi_f)));
  // Taylor coefficients 1/n! (signs alternating), rounded to float.
  const auto s3 = sincos_ops::set1(static_cast<float>(-1.0 / 6.0));
  const auto s5 = sincos_ops::set1(static_cast<float>(1.0 / 120.0));
  const auto s7 = sincos_ops::set1(static_cast<float>(-1.0 / 5040.0));
  const auto s9 = sincos_ops::set1(static_cast<float>(1.0 / 362880.0));
  const auto c2 = sincos_ops::set1(-0.5f);
  const auto c4 = sincos_ops::set1(static_cast<float>(1.0 / 24.0));
  const auto c6 = sincos_ops::set1(static_cast<float>(-1.0 / 720.0));
  const auto c8 = sincos_ops::set1(static_cast<float>(1.0 / 40320.0));
  const auto c10 = sincos_ops::set1(static_cast<float>(-1.0 / 3628800.0));
  const auto one = sincos_ops::set1(1.0f);
  const auto limit = sincos_ops::dset1(1073741824.0);  // 2^30 rad: k stays far inside int32
  auto bad = sincos_ops::dzero();

  std::int64_t i = 0;
  for (; i + L <= n; i += L) {
    typename sincos_ops::dvec r[P];
    typename sincos_ops::dvec k[P];
    for (std::int64_t j = 0; j < P; ++j) {
      const auto wv = sincos_ops::dload(w + i + j * DL);
      const auto phi = sincos_ops::dmul(p, wv);
      bad = sincos_ops::dbad_or(bad, phi, limit);
      const auto err = sincos_ops::dfmsub(p, wv, phi);  // p·ω − φ, exact
      const auto kk = sincos_ops::dround(sincos_ops::dmul(phi, two_over_pi));
      auto rr = sincos_ops::dfnmadd(kk, pio2_hi, phi);
      rr = sincos_ops::dfnmadd(kk, pio2_lo, rr);
      r[j] = sincos_ops::dadd(rr, err);
      k[j] = kk;
    }
    const auto x = sincos_ops::narrow(r);
    typename sincos_ops::dvec lo[P];
    sincos_ops::widen(x, lo);
    for (std::int64_t j = 0; j < P; ++j) lo[j] = sincos_ops::dsub(r[j], lo[j]);  // exact
    const auto dx = sincos_ops::narrow(lo);
    typename sincos_ops::vec swap, sin_flip, cos_flip;
    sincos_ops::quadrant_masks(k, swap, sin_flip, cos_flip);
    const auto x2 = sincos_ops::mul(x, x);
    auto ps = sincos_ops::fmadd(x2, s9, s7);
    ps = sincos_ops::fmadd(x2, ps, s5);
    ps = sincos_ops::fmadd(x2, ps, s3);
    const auto sin_x = sincos_ops::fmadd(sincos_ops::mul(x, x2), ps, x);
    auto pc = sincos_ops::fmadd(x2, c10, c8);
    pc = sincos_ops::fmadd(x2, pc, c6);
    pc = sincos_ops::fmadd(x2, pc, c4);
    pc = sincos_ops::fmadd(x2, pc, c2);
    const auto cos_x = sincos_ops::fmadd(x2, pc, one);
    const auto sin_r = sincos_ops::fmadd(dx, cos_x, sin_x);
    const auto cos_r = sincos_ops::fnmadd(dx, sin_x, cos_x);
    const auto cv = sincos_ops::flip_sign(sincos_ops::select_sign(swap, cos_r, sin_r), cos_flip);
    const auto sv = sincos_ops::flip_sign(sincos_ops::select_sign(swap, sin_r, cos_r), sin_flip);
    sincos_ops::store(c + i, sincos_ops::fmadd(cv, a_hi, sincos_ops::mul(cv, a_lo)));
    sincos_ops::store(s + i, sincos_ops::fmadd(sv, a_hi, sincos_ops::mul(sv, a_lo)));
  }
  if constexpr (L > 1) {
    if (i < n) scalar::cos_sin_row(w + i, n - i, position, attention, c + i, s + i);
  }
  if (sincos_ops::dany(bad)) {  // some |p·ω| >= 2^30 rad or non-finite: redo the row in double
    for (std::int64_t q = 0; q < n; ++q) {
      ropescale::detail::accurate_cos_sin(position, w[q], attention, c[q], s[q]);
    }
  }
}

/// Double-precision variant for table building (cos_sin_table.hpp): the same reduction, then
/// Taylor polynomials in double on |r| <= π/4 (sin to r^15, truncation < 7e-17 relative; cos to
/// r^16, < 3e-18), quadrant selection and A in double, one rounding to float per value. The
/// result is within about 1e-16 of the exact value before that rounding, i.e. correctly rounded
/// except for values within ~1e-16 of a rounding boundary: as accurate as double std::cos/sin,
/// at vector speed. Same huge-angle / non-finite fallback as cos_sin_row.
inline void cos_sin_row_double(const double* w, std::int64_t n, std::int64_t position,
                               double attention, float* c, float* s) noexcept {
  if constexpr (sincos_ops::lanes == 1) {
    for (std::int64_t q = 0; q < n; ++q) {
      ropescale::detail::accurate_cos_sin(position, w[q], attention, c[q], s[q]);
    }
  } else {
    constexpr std::int64_t DL = sincos_ops::dlanes;
    const auto p = sincos_ops::dset1(static_cast<double>(position));
    const auto two_over_pi = sincos_ops::dset1(0.63661977236758138);  // fl64(2/π)
    const auto pio2_hi = sincos_ops::dset1(1.5707963267948966);       // fl64(π/2)
    const auto pio2_lo = sincos_ops::dset1(6.123233995736766e-17);    // fl64(π/2 − pio2_hi)
    const auto a = sincos_ops::dset1(attention);
    const auto limit = sincos_ops::dset1(1073741824.0);
    const auto one = sincos_ops::dset1(1.0);
    // 1/n! with alternating signs, rounded to double.
    const auto s3 = sincos_ops::dset1(-1.0 / 6.0), s5 = sincos_ops::dset1(1.0 / 120.0),
               s7 = sincos_ops::dset1(-1.0 / 5040.0), s9 = sincos_ops::dset1(1.0 / 362880.0),
               s11 = sincos_ops::dset1(-1.0 / 39916800.0),
               s13 = sincos_ops::dset1(1.0 / 6227020800.0),
               s15 = sincos_ops::dset1(-1.0 / 1307674368000.0);
    const auto c2 = sincos_ops::dset1(-0.5), c4 = sincos_ops::dset1(1.0 / 24.0),
               c6 = sincos_ops::dset1(-1.0 / 720.0), c8 = sincos_ops::dset1(1.0 / 40320.0),
               c10 = sincos_ops::dset1(-1.0 / 3628800.0),
               c12 = sincos_ops::dset1(1.0 / 479001600.0),
               c14 = sincos_ops::dset1(-1.0 / 87178291200.0),
               c16 = sincos_ops::dset1(1.0 / 20922789888000.0);
    auto bad = sincos_ops::dzero();
    std::int64_t i = 0;
    for (; i + DL <= n; i += DL) {
      const auto wv = sincos_ops::dload(w + i);
      const auto phi = sincos_ops::dmul(p, wv);
      bad = sincos_ops::dbad_or(bad, phi, limit);
      const auto err = sincos_ops::dfmsub(p, wv, phi);
      const auto k = sincos_ops::dround(sincos_ops::dmul(phi, two_over_pi));
      auto r = sincos_ops::dfnmadd(k, pio2_hi, phi);
      r = sincos_ops::dfnmadd(k, pio2_lo, r);
      r = sincos_ops::dadd(r, err);
      const auto r2 = sincos_ops::dmul(r, r);
      auto ps = sincos_ops::dfma(r2, s15, s13);
      ps = sincos_ops::dfma(r2, ps, s11);
      ps = sincos_ops::dfma(r2, ps, s9);
      ps = sincos_ops::dfma(r2, ps, s7);
      ps = sincos_ops::dfma(r2, ps, s5);
      ps = sincos_ops::dfma(r2, ps, s3);
      const auto sin_r = sincos_ops::dfma(sincos_ops::dmul(r, r2), ps, r);
      auto pc = sincos_ops::dfma(r2, c16, c14);
      pc = sincos_ops::dfma(r2, pc, c12);
      pc = sincos_ops::dfma(r2, pc, c10);
      pc = sincos_ops::dfma(r2, pc, c8);
      pc = sincos_ops::dfma(r2, pc, c6);
      pc = sincos_ops::dfma(r2, pc, c4);
      pc = sincos_ops::dfma(r2, pc, c2);
      const auto cos_r = sincos_ops::dfma(r2, pc, one);
      typename sincos_ops::dvec swap, sin_flip, cos_flip;
      sincos_ops::dquadrant_masks(k, swap, sin_flip, cos_flip);
      const auto cv = sincos_ops::flip_sign(sincos_ops::select_sign(swap, cos_r, sin_r), cos_flip);
      const auto sv = sincos_ops::flip_sign(sincos_ops::select_sign(swap, sin_r, cos_r), sin_flip);
      sincos_ops::dstore_float(c + i, sincos_ops::dmul(cv, a));
      sincos_ops::dstore_float(s + i, sincos_ops::dmul(sv, a));
    }
    for (; i < n; ++i) ropescale::detail::accurate_cos_sin(position, w[i], attention, c[i], s[i]);
    if (sincos_ops::dany(bad)) {
      for (std::int64_t q = 0; q < n; ++q) {
        ropescale::detail::accurate_cos_sin(position, w[q], attention, c[q], s[q]);
      }
    }
  }
}

/// Rows computed per token (on_the_fly.hpp): token t's row, for position positions[t] (or
/// range_row0 + t; row_offset is 0), is written into `row` (n cos then n sin) with cos_sin_row
/// from the frequencies w and attention factor A, then read back by the token loops.
struct computed_rows {
  row_index index;
  const double* w;
  double attention;
  float* row;
  std::int64_t n;
  void get(std::int64_t t, const float*& c, const float*& s) const noexcept {
    cos_sin_row(w, n, index(t), attention, row, row + n);
    c = row;
    s = row + n;
  }
  void prefetch(std::int64_t, std::int64_t) const noexcept {}
};

/// Rotates in place as described by `j`, computing each token's row on the fly: the table
/// path's token loops (rotate-inl.hpp rotate_tokens) with computed_rows as the row source.
template <class T>
inline void rotate_on_the_fly(const rotate_job<T>& j, const double* inv_freq, double attention,
                              float* row) noexcept {
  const computed_rows rows{row_index(j), inv_freq, attention, row, j.pairs};
  with_layout(j, [&](auto lay) { rotate_tokens<T, decltype(lay)::value>(j, rows); });
}
