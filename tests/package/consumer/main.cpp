// SPDX-License-Identifier: Apache-2.0
// Downstream smoke test: the layer's headers compile and link through the CMake target alone, a
// core consumer sees no third-party header, and one rotation gives the closed-form answer.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <vector>

#ifdef CONSUMER_CORE
#include <ropescale/core.hpp>
#if defined(NLOHMANN_JSON_VERSION_MAJOR) || defined(EIGEN_WORLD_VERSION)
#error "a ropescale::core header pulled in nlohmann_json or Eigen"
#endif
#else
#include <ropescale/ropescale.hpp>
#endif

int main() {
  static_assert(ROPESCALE_VERSION_MAJOR >= 0 && ROPESCALE_VERSION_MINOR >= 0, "version macros");
  // One token at position 3, one head of 4 channels (2 NeoX pairs), theta 10000: pair i turns by
  // 3 * 10000^(-i/2), so (1, 0) goes to (cos, sin) of that angle.
  ropescale::default_rope_params params;
  params.head_dim = 4;
  const ropescale::default_rope<> rope(params);
  ropescale::cos_sin_table table = ropescale::cos_sin_table::from_method(rope, 4);
  std::vector<float> q = {1.0f, 1.0f, 0.0f, 0.0f};
  std::vector<float> k = q;
  const std::int64_t pos[] = {3};
  ropescale::apply_rotary(ropescale::dense_view(q.data(), 1, 1, 4),
                          ropescale::dense_view(k.data(), 1, 1, 4), *table.snapshot(),
                          ropescale::token_positions::list(pos, 1), ropescale::layout::neox, 4);
  for (int i = 0; i < 2; ++i) {
    const double angle = 3.0 * std::pow(10000.0, -i / 2.0);
    const float* r = &q[static_cast<std::size_t>(i)];
    if (std::fabs(r[0] - std::cos(angle)) > 1e-6 || std::fabs(r[2] - std::sin(angle)) > 1e-6) {
      std::printf("pair %d: got (%g, %g), want (%g, %g)\n", i, static_cast<double>(r[0]),
                  static_cast<double>(r[2]), std::cos(angle), std::sin(angle));
      return 1;
    }
  }
  std::printf("consumer ok\n");
  return 0;
}
