// SPDX-License-Identifier: Apache-2.0
// A kernel-only engine: links ropescale::core alone (no Eigen, no nlohmann_json), builds with
// -fno-exceptions and the strict warning set as errors. It rotates Q and K (GQA: 4 and 2 heads)
// with a YaRN table and compares every value with a double-precision reference computed here from
// the YaRN formulas (docs/reference.md §3.5), independently of the library, then checks that the
// non-throwing try_apply_rotary reports a bad rotary_dim by key without writing. A bad call to
// apply_rotary must stop the program with a message naming the key: `kernel_only bad` goes through
// the default error handler (prints, aborts), `kernel_only handler` through one installed with
// ropescale::set_error_handler.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ropescale/core.hpp>
#include <vector>

#if defined(NLOHMANN_JSON_VERSION_MAJOR) || defined(EIGEN_WORLD_VERSION)
#error "a ropescale::core header pulled in nlohmann_json or Eigen"
#endif

namespace {

constexpr std::int64_t kHeadDim = 64;
constexpr std::int64_t kPairs = kHeadDim / 2;
constexpr double kTheta = 10000.0;
constexpr double kFactor = 4.0;
constexpr std::int64_t kOriginal = 2048;

// YaRN's table and attention factor in double, straight from the formulas: correction range
// corr(r) = d·ln(L0/(2πr))/(2 ln θ), floored/ceiled and clamped, a linear ramp in the pair index,
// ω = ω⁰/s·r + ω⁰·(1 − r), A = 0.1·ln s + 1.
std::vector<double> yarn_reference(double& attention) {
  const double d = static_cast<double>(kHeadDim);
  const double pi = std::acos(-1.0);
  auto corr = [&](double turns) {
    return d * std::log(static_cast<double>(kOriginal) / (2.0 * pi * turns)) /
           (2.0 * std::log(kTheta));
  };
  double lo = std::max(std::floor(corr(32.0)), 0.0);
  double hi = std::min(std::ceil(corr(1.0)), d - 1.0);
  if (lo == hi) hi += 0.001;
  std::vector<double> omega(static_cast<std::size_t>(kPairs));
  for (std::int64_t i = 0; i < kPairs; ++i) {
    const double base = std::pow(kTheta, -2.0 * static_cast<double>(i) / d);
    const double r = std::min(std::max((static_cast<double>(i) - lo) / (hi - lo), 0.0), 1.0);
    omega[static_cast<std::size_t>(i)] = base / kFactor * r + base * (1.0 - r);
  }
  attention = 0.1 * std::log(kFactor) + 1.0;
  return omega;
}

// x in [-1, 1), deterministic.
std::vector<float> filled(std::size_t n, std::uint32_t seed) {
  std::vector<float> v(n);
  for (float& x : v) {
    seed = seed * 1664525u + 1013904223u;
    x = static_cast<float>(seed >> 8) / static_cast<float>(1u << 23) - 1.0f;
  }
  return v;
}

int check(const char* name, const std::vector<float>& in, const std::vector<float>& out,
          std::int64_t tokens, std::int64_t heads, const std::int64_t* pos,
          const std::vector<double>& omega, double attention) {
  double worst = 0.0;
  for (std::int64_t t = 0; t < tokens; ++t) {
    for (std::int64_t h = 0; h < heads; ++h) {
      const std::size_t row = static_cast<std::size_t>((t * heads + h) * kHeadDim);
      for (std::int64_t i = 0; i < kPairs; ++i) {
        const std::size_t ia = row + static_cast<std::size_t>(i);
        const std::size_t ib = ia + static_cast<std::size_t>(kPairs);
        const double angle = static_cast<double>(pos[t]) * omega[static_cast<std::size_t>(i)];
        const double c = attention * std::cos(angle);
        const double s = attention * std::sin(angle);
        const double a = static_cast<double>(in[ia]);
        const double b = static_cast<double>(in[ib]);
        worst = std::max(worst, std::fabs(static_cast<double>(out[ia]) - (a * c - b * s)));
        worst = std::max(worst, std::fabs(static_cast<double>(out[ib]) - (b * c + a * s)));
      }
    }
  }
  // Table entries are within 2e-7·A of exact (4e-7·A over a pair with |a|, |b| <= 1); the f32
  // rotation adds a few ulp of a value <= √2·A.
  const double bound = 1e-6 * attention;
  std::printf("%s: worst |out - reference| = %.3g (bound %.3g)\n", name, worst, bound);
  return worst <= bound ? 0 : 1;
}

[[noreturn]] void report_and_exit(const ropescale::error& e) {
  std::printf("kernel_only handler: key=%s message=%s\n", e.key.c_str(), e.message.c_str());
  std::fflush(stdout);
  std::exit(3);
}

}  // namespace

int main(int argc, char** argv) {
  ropescale::yarn_params params;
  params.head_dim = kHeadDim;
  params.rope_theta = kTheta;
  params.factor = kFactor;
  params.original_max_position_embeddings = kOriginal;
  const ropescale::yarn<> rope(params);

  constexpr std::int64_t kTokens = 3;
  const std::int64_t positions[kTokens] = {0, 2047, 9000};
  ropescale::cos_sin_table table = ropescale::cos_sin_table::from_method(rope, 9001);
  const auto rows = table.snapshot();

  const bool handler = argc > 1 && std::strcmp(argv[1], "handler") == 0;
  const bool bad = handler || (argc > 1 && std::strcmp(argv[1], "bad") == 0);
  if (handler) ropescale::set_error_handler(&report_and_exit);
  std::vector<float> q = filled(static_cast<std::size_t>(kTokens * 4 * kHeadDim), 1u);
  std::vector<float> k = filled(static_cast<std::size_t>(kTokens * 2 * kHeadDim), 2u);
  const std::vector<float> q_in = q;
  const std::vector<float> k_in = k;
  ropescale::apply_rotary(ropescale::dense_view(q.data(), kTokens, 4, kHeadDim),
                          ropescale::dense_view(k.data(), kTokens, 2, kHeadDim), *rows,
                          ropescale::token_positions::list(positions, kTokens),
                          ropescale::layout::neox, bad ? kHeadDim - 1 : kHeadDim);
  if (bad) {
    std::printf("kernel_only: the bad call returned\n");
    return 1;
  }

  double attention = 0.0;
  const std::vector<double> omega = yarn_reference(attention);
  int failed = 0;
  failed += check("q", q_in, q, kTokens, 4, positions, omega, attention);
  failed += check("k", k_in, k, kTokens, 2, positions, omega, attention);
  if (failed != 0) return 1;

  // The non-throwing form: an odd rotary_dim comes back as an error naming the key, nothing
  // written.
  const std::vector<float> q_before = q;
  const ropescale::error e = ropescale::try_apply_rotary(
      ropescale::dense_view(q.data(), kTokens, 4, kHeadDim), ropescale::tensor_view<float>{}, *rows,
      ropescale::token_positions::list(positions, kTokens), ropescale::layout::neox, kHeadDim - 1);
  if (!e || e.key != "rotary_dim" || e.message.rfind("rotary_dim: ", 0) != 0 || q != q_before) {
    std::printf("try_apply_rotary: expected an error for key rotary_dim and no write, got '%s'\n",
                e.message.c_str());
    return 1;
  }
  std::printf("try_apply_rotary: %s\n", e.message.c_str());
  std::printf("kernel_only ok\n");
  return 0;
}
