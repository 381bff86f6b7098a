// SPDX-License-Identifier: Apache-2.0
// The method contract (is_rope_method, the rope_method concept) and the type-erased
// ropescale::method: every member forwards to the wrapped closed-form method, get_if finds
// exactly the wrapped type, and values copy.
#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "ropescale/cos_sin_table.hpp"
#include "ropescale/method.hpp"

namespace {

struct not_a_method {
  using params_type = ropescale::default_rope_params;
  double head_dim() const { return 0; }
};

// Right members, wrong return type of rotary_dim().
struct wrong_types : ropescale::default_rope<double> {
  using ropescale::default_rope<double>::default_rope;
  int rotary_dim() const noexcept { return 0; }
};

static_assert(ropescale::is_rope_method_v<ropescale::default_rope<double>>);
static_assert(ropescale::is_rope_method_v<ropescale::linear<float>>);
static_assert(ropescale::is_rope_method_v<ropescale::ntk<long double>>);
static_assert(ropescale::is_rope_method_v<ropescale::dynamic<double>>);
static_assert(ropescale::is_rope_method_v<ropescale::yarn<float>>);
static_assert(ropescale::is_rope_method_v<ropescale::longrope<long double>>);
static_assert(ropescale::is_rope_method_v<ropescale::llama3<double>>);
static_assert(ropescale::is_rope_method_v<ropescale::proportional<float>>);
static_assert(!ropescale::is_rope_method_v<not_a_method>);
static_assert(!ropescale::is_rope_method_v<wrong_types>);
static_assert(!ropescale::is_rope_method_v<int>);
static_assert(!ropescale::is_rope_method_v<ropescale::dynamic_hf_cache<double>>);
#if defined(__cpp_concepts)
#if __cpp_concepts >= 201907L
static_assert(ropescale::rope_method<ropescale::yarn<double>>);
static_assert(!ropescale::rope_method<not_a_method>);
#endif
#endif

ropescale::yarn_params yarn_p() {
  ropescale::yarn_params p;
  p.head_dim = 128;
  p.factor = 4;
  p.original_max_position_embeddings = 4096;
  p.mscale_all_dim = 1.0;
  return p;
}

ropescale::longrope_params longrope_p() {
  ropescale::longrope_params p;
  p.head_dim = 96;
  p.short_factor.assign(48, 1.0);
  p.long_factor.assign(48, 4.0);
  p.original_max_position_embeddings = 4096;
  p.max_position_embeddings = 131072;
  return p;
}

// Every forwarding member of `method` agrees with the concrete method M.
template <class M>
void check_forwarding(const M& concrete, const char* name, bool seq_dependent) {
  SCOPED_TRACE(name);
  const ropescale::method m = concrete;
  EXPECT_EQ(m.rope_type(), name);
  EXPECT_EQ(std::string(M::type_name), name);
  EXPECT_EQ(m.head_dim(), concrete.head_dim());
  EXPECT_EQ(m.rotary_dim(), concrete.rotary_dim());
  EXPECT_EQ(m.pairs(), concrete.pairs());
  EXPECT_EQ(m.depends_on_seq_len(), seq_dependent);
  EXPECT_EQ(M::depends_on_seq_len, seq_dependent);
  for (std::optional<std::int64_t> S :
       {std::optional<std::int64_t>{}, std::optional<std::int64_t>{1},
        std::optional<std::int64_t>{4096}, std::optional<std::int64_t>{100000}}) {
    EXPECT_EQ(m.inv_freq(S), concrete.inv_freq(S));
    EXPECT_EQ(m.attention_factor(S), concrete.attention_factor(S));
    EXPECT_EQ(m.inv_freq_hf_f32(S), concrete.inv_freq_hf_f32(S));
  }
  EXPECT_EQ(m.inv_freq(), concrete.inv_freq());
  EXPECT_EQ(m.softmax_scale_multiplier(), concrete.softmax_scale_multiplier());
  EXPECT_EQ(m.query_scale(77), concrete.query_scale(77));
  EXPECT_EQ(m.diagnostics(), concrete.diagnostics());
  EXPECT_THROW((void)m.inv_freq(0), ropescale::invalid_parameter);
  ASSERT_NE(m.get_if<M>(), nullptr);
  EXPECT_EQ(m.get_if<M>()->params().head_dim, concrete.params().head_dim);
  // Copies are independent values with the same content.
  const ropescale::method copy = m;
  EXPECT_EQ(copy.inv_freq(), m.inv_freq());
  EXPECT_EQ(copy.rope_type(), m.rope_type());
}

TEST(Method, ForwardsEveryMember) {
  check_forwarding(ropescale::default_rope<double>(ropescale::default_rope_params{{128, 1e4, 1.0}}),
                   "default", false);
  check_forwarding(ropescale::linear<double>({{128, 1e4, 0.5}, 4}), "linear", false);
  check_forwarding(ropescale::ntk<double>({{128, 1e6, 1.0}, 4}), "ntk", false);
  check_forwarding(ropescale::dynamic<double>({{128, 1e4, 1.0}, 4, 4096}), "dynamic", true);
  check_forwarding(ropescale::yarn<double>(yarn_p()), "yarn", false);
  check_forwarding(ropescale::longrope<double>(longrope_p()), "longrope", true);
  check_forwarding(ropescale::llama3<double>({{128, 5e5, 1.0}, 8, 1, 4, 8192}), "llama3", false);
  check_forwarding(ropescale::proportional<double>({{256, 1e6, 0.25}, 8}), "proportional", false);
}

TEST(Method, GetIfFindsOnlyTheWrappedType) {
  const ropescale::method m = ropescale::yarn<double>(yarn_p());
  EXPECT_NE(m.get_if<ropescale::yarn<double>>(), nullptr);
  EXPECT_EQ(m.get_if<ropescale::linear<double>>(), nullptr);
  EXPECT_EQ(m.get_if<ropescale::yarn<float>>(), nullptr);  // not an alternative
  EXPECT_EQ(m.get_if<int>(), nullptr);
  EXPECT_GT(m.softmax_scale_multiplier(), 1.0);  // mscale_all_dim set
  EXPECT_EQ(m.attention_factor(), ropescale::yarn<double>(yarn_p()).attention_factor());
  // The variant is reachable for callers' own std::visit.
  const bool is_yarn = std::visit(
      [](const auto& x) {
        return std::is_same_v<std::decay_t<decltype(x)>, ropescale::yarn<double>>;
      },
      m.variant());
  EXPECT_TRUE(is_yarn);
}

// An engine's own method class (not an alternative of method_variant) is held through
// erased_method, as CLEX is: every member forwards, get_if finds it, visitors see erased_method.
struct doubled_theta_rope : ropescale::default_rope<double> {
  static constexpr const char* type_name = "doubled_theta";
  static constexpr bool depends_on_seq_len = true;
  explicit doubled_theta_rope(const ropescale::default_rope_params& p)
      : ropescale::default_rope<double>(with_doubled_theta(p)) {}
  static ropescale::default_rope_params with_doubled_theta(ropescale::default_rope_params p) {
    p.rope_theta *= 2.0;
    return p;
  }
};

TEST(Method, HoldsOtherMethodClassesThroughErasedMethod) {
  static_assert(ropescale::is_erasable_method_v<doubled_theta_rope>);
  static_assert(!ropescale::is_erasable_method_v<ropescale::yarn<float>>);
  const ropescale::default_rope_params p{{64, 1e4, 1.0}};
  const ropescale::method m = doubled_theta_rope(p);
  EXPECT_EQ(m.rope_type(), "doubled_theta");
  EXPECT_TRUE(m.depends_on_seq_len());
  EXPECT_EQ(m.rotary_dim(), 64);
  // Independent value: θ = 2e4 straight from the default formula.
  const ropescale::default_rope_params p2{{64, 2e4, 1.0}};
  EXPECT_EQ(m.inv_freq(), ropescale::default_rope<double>(p2).inv_freq());
  EXPECT_EQ(m.inv_freq(std::int64_t{9}), ropescale::default_rope<double>(p2).inv_freq());
  EXPECT_EQ(m.attention_factor(), 1.0);
  ASSERT_NE(m.get_if<doubled_theta_rope>(), nullptr);
  EXPECT_EQ(m.get_if<doubled_theta_rope>()->params().rope_theta, 2e4);
  EXPECT_EQ(m.get_if<ropescale::default_rope<double>>(), nullptr);
  const bool erased = std::visit(
      [](const auto& x) {
        return std::is_same_v<std::decay_t<decltype(x)>, ropescale::erased_method>;
      },
      m.variant());
  EXPECT_TRUE(erased);
  const ropescale::method copy = m;
  EXPECT_EQ(copy.get_if<doubled_theta_rope>(), m.get_if<doubled_theta_rope>());  // shared
  EXPECT_THROW((void)m.inv_freq(std::int64_t{0}), ropescale::invalid_parameter);
  // cos_sin_table builds from it like from any method.
  auto t = ropescale::cos_sin_table::from_method(m, 4);
  EXPECT_EQ(t.snapshot()->pairs(), 32);
}

TEST(Method, LongropeThroughWrapperSwitchesAtL0) {
  const ropescale::method m = ropescale::longrope<double>(longrope_p());
  EXPECT_EQ(m.inv_freq(4096), m.inv_freq());
  EXPECT_NE(m.inv_freq(4097), m.inv_freq());
  EXPECT_EQ(m.attention_factor(4097), m.attention_factor());
}

}  // namespace
