// SPDX-License-Identifier: Apache-2.0
// Tests of the Hugging Face config loader (include/ropescale/hf_config.hpp) against
// docs/reference.md §1.1 and §2: one test per precedence rule and quirk, the bundled configs in
// examples/configs/, and a table of bad inputs whose messages must name the key path and the
// offending value. Expected tables come from long-double formulas written here, independently of
// the library.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "ropescale/hf_config.hpp"
#include "support/config_reference.hpp"

namespace {

using nlohmann::json;
using ropescale::invalid_parameter;
using ropescale::load_hf_config;
using ropescale::load_hf_config_file;
using ropescale::load_hf_config_string;
using ropescale::load_options;
using ropescale::loaded_config;

// ---------------------------------------------------------------------------------------------
// Independent long-double references (docs/reference.md §1.2, §3.1, §3.5, §3.7):
// tests/support/config_reference.hpp.

using ropescale_test::config_ref::expect_table_near;
using ropescale_test::config_ref::ref_base;
using ropescale_test::config_ref::ref_default;
using ropescale_test::config_ref::ref_llama3;
using ropescale_test::config_ref::ref_yarn;
using ropescale_test::config_ref::yarn_m;

// ---------------------------------------------------------------------------------------------
// Helpers.

/// A small valid model config (H = 64 through head_dim, L = 4096).
json base_config() {
  return json{{"model_type", "llama"}, {"head_dim", 64}, {"max_position_embeddings", 4096}};
}

json with_rope(json cfg, json rope) {
  cfg["rope_scaling"] = std::move(rope);
  return cfg;
}

bool has_diag(const loaded_config& c, const std::string& needle) {
  for (const auto& d : c.diagnostics) {
    if (d.find(needle) != std::string::npos) return true;
  }
  return false;
}

std::string diags(const loaded_config& c) {
  std::string out;
  for (const auto& d : c.diagnostics) out += "  [" + d + "]\n";
  return out;
}

/// Expects load_hf_config(cfg) to throw invalid_parameter whose message contains every needle
/// and whose key() equals `key` (when non-empty).
void expect_load_error(const json& cfg, const std::string& key,
                       std::initializer_list<std::string> needles,
                       const load_options& options = {}) {
  SCOPED_TRACE(cfg.dump());
  try {
    (void)load_hf_config(cfg, options);
    ADD_FAILURE() << "no exception";
  } catch (const invalid_parameter& e) {
    const std::string msg = e.what();
    if (!key.empty()) {
      EXPECT_EQ(e.key(), key) << msg;
      EXPECT_EQ(msg.rfind(key + ": ", 0), 0u) << "message must start with the key path: " << msg;
    }
    for (const auto& n : needles)
      EXPECT_NE(msg.find(n), std::string::npos) << msg << "\nmissing: " << n;
  }
}

std::string configs_dir() { return std::string(ROPESCALE_SOURCE_DIR) + "/examples/configs/"; }

// ---------------------------------------------------------------------------------------------
// §1.1 dimensions

TEST(HfDimensions, HeadDimKeyIsH) {
  const auto c = load_hf_config(base_config());
  EXPECT_EQ(c.method.head_dim(), 64);
  EXPECT_EQ(c.method.rotary_dim(), 64);
  EXPECT_EQ(c.max_position_embeddings, 4096);
}

TEST(HfDimensions, HeadDimNullFallsBackToHiddenOverHeadsFloor) {
  json cfg{{"head_dim", nullptr}, {"hidden_size", 4100}, {"num_attention_heads", 32}};
  const auto c = load_hf_config(cfg);
  EXPECT_EQ(c.method.head_dim(), 128);  // floor(4100 / 32)
}

TEST(HfDimensions, HeadDimNullIsAbsentForYarnDynamicLongrope) {
  // HF crashes on head_dim: null for these three; the library treats null as absent.
  json cfg{{"head_dim", nullptr},
           {"hidden_size", 2048},
           {"num_attention_heads", 16},
           {"max_position_embeddings", 8192}};
  for (const json& rope : {json{{"rope_type", "yarn"}, {"factor", 2.0}},
                           json{{"rope_type", "dynamic"}, {"factor", 2.0}}}) {
    const auto c = load_hf_config(with_rope(cfg, rope));
    EXPECT_EQ(c.method.head_dim(), 128) << rope.dump();
  }
  json lr{{"rope_type", "longrope"},
          {"short_factor", std::vector<double>(64, 1.0)},
          {"long_factor", std::vector<double>(64, 2.0)}};
  EXPECT_EQ(load_hf_config(with_rope(cfg, lr)).method.head_dim(), 128);
}

TEST(HfDimensions, QkRopeHeadDimTakesPrecedence) {
  json cfg{{"head_dim", 192},
           {"qk_rope_head_dim", 64},
           {"hidden_size", 7168},
           {"num_attention_heads", 128}};
  EXPECT_EQ(load_hf_config(cfg).method.head_dim(), 64);
}

TEST(HfDimensions, RotaryDimIsTruncatedDoubleProduct) {
  // 100 × 0.29 = 28.999999999999996 → d = 28.
  json cfg{{"head_dim", 100}, {"partial_rotary_factor", 0.29}};
  const auto c = load_hf_config(cfg);
  EXPECT_EQ(c.method.rotary_dim(), 28);
  expect_table_near(c.method.inv_freq(), ref_default(10000.0L, 28), 4e-16L);
}

TEST(HfDimensions, OddRotaryDimRejected) {
  expect_load_error(json{{"head_dim", 100}, {"partial_rotary_factor", 0.25}},
                    "partial_rotary_factor", {"25"});
  expect_load_error(json{{"hidden_size", 99}, {"num_attention_heads", 1}}, "head_dim", {"99"});
}

TEST(HfDimensions, NtkAndDynamicNeedFourRotaryChannels) {
  json cfg{{"head_dim", 2}, {"max_position_embeddings", 16}};
  expect_load_error(with_rope(cfg, {{"rope_type", "ntk"}, {"factor", 2}}), "head_dim", {"2"});
  expect_load_error(with_rope(cfg, {{"rope_type", "dynamic"}, {"factor", 2}}), "head_dim", {"2"});
  EXPECT_NO_THROW(load_hf_config(with_rope(cfg, {{"rope_type", "linear"}, {"factor", 2}})));
}

TEST(HfDimensions, MissingHeadDimensionNamed) {
  expect_load_error(json{{"hidden_size", 4096}}, "head_dim", {"num_attention_heads"});
  expect_load_error(json::object(), "head_dim", {"hidden_size"});
}

// ---------------------------------------------------------------------------------------------
// §2.1.1 root and text_config

TEST(HfFind, RootMustBeObject) {
  expect_load_error(json::array({1, 2}), "config", {"must be a JSON object", "[1,2]"});
  expect_load_error(json(3), "config", {"3"});
  EXPECT_THROW(load_hf_config_string("\"x\""), invalid_parameter);
}

TEST(HfFind, TextConfigFallback) {
  json cfg{{"model_type", "llava"},
           {"text_config",
            {{"head_dim", 128},
             {"rope_theta", 1e6},
             {"rope_scaling", {{"rope_type", "linear"}, {"factor", 4}}}}}};
  const auto c = load_hf_config(cfg);
  EXPECT_EQ(c.method.rope_type(), "linear");
  EXPECT_EQ(c.method.head_dim(), 128);
  auto want = ref_default(1e6L, 128);
  for (auto& w : want) w /= 4;
  expect_table_near(c.method.inv_freq(), want, 4e-16L);
  // Error paths name the text_config prefix.
  cfg["text_config"]["rope_scaling"]["factor"] = 0.5;
  expect_load_error(cfg, "text_config.rope_scaling.factor", {"0.5"});
}

TEST(HfFind, TextConfigIgnoredWhenRootHasRopeKeys) {
  json cfg{{"head_dim", 64},
           {"rope_theta", 5e5},
           {"text_config",
            {{"head_dim", 128}, {"rope_scaling", {{"rope_type", "linear"}, {"factor", 4}}}}}};
  const auto c = load_hf_config(cfg);
  EXPECT_EQ(c.method.rope_type(), "default");
  EXPECT_EQ(c.method.head_dim(), 64);
}

// §2.1.2 rope_parameters / rope_scaling aliases

TEST(HfFind, RopeParametersIsAnAlias) {
  json cfg = base_config();
  cfg["rope_parameters"] = {{"rope_type", "linear"}, {"factor", 2}};
  EXPECT_EQ(load_hf_config(cfg).method.rope_type(), "linear");
  cfg["rope_scaling"] = nullptr;  // null counts as absent
  EXPECT_EQ(load_hf_config(cfg).method.rope_type(), "linear");
  cfg["rope_scaling"] = cfg["rope_parameters"];  // both set, equal: fine
  EXPECT_EQ(load_hf_config(cfg).method.rope_type(), "linear");
}

TEST(HfFind, BothAliasesDifferentIsAmbiguous) {
  json cfg = base_config();
  cfg["rope_parameters"] = {{"rope_type", "linear"}, {"factor", 2}};
  cfg["rope_scaling"] = {{"rope_type", "linear"}, {"factor", 3}};
  expect_load_error(cfg, "rope_parameters", {"ambiguous", "rope_scaling"});
}

TEST(HfFind, ErrorPathUsesTheDictNameInTheFile) {
  json cfg = base_config();
  cfg["rope_parameters"] = {{"rope_type", "linear"}, {"factor", 0.5}};
  expect_load_error(cfg, "rope_parameters.factor", {"0.5"});
  expect_load_error(with_rope(base_config(), {{"rope_type", "linear"}, {"factor", 0.5}}),
                    "rope_scaling.factor", {">= 1", "0.5"});
}

TEST(HfFind, AbsentNullOrEmptyDictIsDefault) {
  for (const json& rope : {json(nullptr), json::object()}) {
    const auto c = load_hf_config(with_rope(base_config(), rope));
    EXPECT_EQ(c.method.rope_type(), "default");
    expect_table_near(c.method.inv_freq(), ref_default(10000.0L, 64), 4e-16L);
  }
  EXPECT_EQ(load_hf_config(base_config()).method.rope_type(), "default");
}

TEST(HfFind, NonObjectDictRejected) {
  expect_load_error(with_rope(base_config(), 3), "rope_scaling", {"must be a JSON object", "3"});
  expect_load_error(with_rope(base_config(), "yarn"), "rope_scaling", {"\"yarn\""});
  expect_load_error(with_rope(base_config(), json::array({1})), "rope_scaling", {"[1]"});
}

// §2.1.3 per-layer-type dicts

json gemma4_config() {
  return json{{"model_type", "gemma4_text"},
              {"head_dim", 256},
              {"global_head_dim", 512},
              {"max_position_embeddings", 131072},
              {"rope_parameters",
               {{"full_attention",
                 {{"rope_type", "proportional"},
                  {"partial_rotary_factor", 0.25},
                  {"rope_theta", 1000000.0}}},
                {"sliding_attention", {{"rope_type", "default"}, {"rope_theta", 10000.0}}}}}};
}

TEST(HfPerLayer, FullAttentionIsTheDefaultSelection) {
  const auto c = load_hf_config(gemma4_config());
  EXPECT_EQ(c.method.rope_type(), "proportional");
  EXPECT_EQ(c.method.head_dim(), 512);  // Gemma-4: global_head_dim for full-attention layers
  EXPECT_EQ(c.method.rotary_dim(), 512);
  const auto w = c.method.inv_freq();
  ASSERT_EQ(w.size(), 256u);
  // n_rot = floor(0.25·512/2) = 64 entries θ^(−2i/H), the rest 0 (docs/reference.md §3.8).
  for (std::size_t i = 0; i < w.size(); ++i) {
    if (i < 64) {
      EXPECT_NEAR(w[i], static_cast<double>(ref_base(1e6L, static_cast<std::int64_t>(i), 512)),
                  4e-16 * w[i]);
    } else {
      EXPECT_EQ(w[i], 0.0) << i;
    }
  }
}

TEST(HfPerLayer, LayerTypeOptionSelectsInnerDict) {
  load_options o;
  o.layer_type = "sliding_attention";
  const auto c = load_hf_config(gemma4_config(), o);
  EXPECT_EQ(c.method.rope_type(), "default");
  EXPECT_EQ(c.method.head_dim(), 256);  // global_head_dim is for full-attention layers only
  expect_table_near(c.method.inv_freq(), ref_default(10000.0L, 256), 4e-16L);
}

TEST(HfPerLayer, MissingFullAttentionThrowsListingKeys) {
  json cfg = gemma4_config();
  cfg["rope_parameters"].erase("full_attention");
  cfg["rope_parameters"]["chunked_attention"] = {{"rope_type", "default"}};
  expect_load_error(cfg, "rope_parameters", {"\"sliding_attention\"", "\"chunked_attention\""});
  load_options o;
  o.layer_type = "global";
  expect_load_error(gemma4_config(), "rope_parameters",
                    {"\"global\"", "\"full_attention\"", "\"sliding_attention\""}, o);
}

TEST(HfPerLayer, InnerDictErrorsNameTheLayer) {
  json cfg = gemma4_config();
  cfg["rope_parameters"]["full_attention"]["factor"] = 0.5;
  expect_load_error(cfg, "rope_parameters.full_attention.factor", {"0.5"});
}

// ---------------------------------------------------------------------------------------------
// §2.2 type name

TEST(HfType, RopeTypeWinsOverLegacyType) {
  const auto c = load_hf_config(
      with_rope(base_config(), {{"rope_type", "linear"}, {"type", "ntk"}, {"factor", 2}}));
  EXPECT_EQ(c.method.rope_type(), "linear");
  EXPECT_TRUE(has_diag(c, "rope_scaling.type")) << diags(c);
}

TEST(HfType, NullRopeTypeFallsBackToType) {
  // null counts as absent (docs/reference.md §0), so the legacy key decides.
  EXPECT_EQ(load_hf_config(with_rope(base_config(),
                                     {{"rope_type", nullptr}, {"type", "linear"}, {"factor", 2}}))
                .method.rope_type(),
            "linear");
}

TEST(HfType, LegacyTypeKeyUsed) {
  EXPECT_EQ(
      load_hf_config(with_rope(base_config(), {{"type", "ntk"}, {"factor", 2}})).method.rope_type(),
      "ntk");
}

TEST(HfType, NoTypeKeyMeansDefault) {
  const auto c = load_hf_config(with_rope(base_config(), {{"rope_theta", 5e5}}));
  EXPECT_EQ(c.method.rope_type(), "default");
  expect_table_near(c.method.inv_freq(), ref_default(5e5L, 64), 4e-16L);
}

TEST(HfType, TypeMustBeString) {
  expect_load_error(with_rope(base_config(), {{"rope_type", 3}}), "rope_scaling.rope_type",
                    {"must be a string", "3"});
  expect_load_error(with_rope(base_config(), {{"type", true}}), "rope_scaling.type", {"true"});
}

TEST(HfType, SuIsLongrope) {
  json cfg = base_config();
  cfg["rope_scaling"] = {{"type", "su"},
                         {"short_factor", std::vector<double>(32, 1.0)},
                         {"long_factor", std::vector<double>(32, 4.0)}};
  EXPECT_EQ(load_hf_config(cfg).method.rope_type(), "longrope");
}

TEST(HfType, Phi3YarnIsLongropeOtherModelsKeepYarn) {
  json lr{{"type", "yarn"},
          {"short_factor", std::vector<double>(32, 1.0)},
          {"long_factor", std::vector<double>(32, 4.0)}};
  json phi = with_rope(base_config(), lr);
  phi["model_type"] = "phi3";
  EXPECT_EQ(load_hf_config(phi).method.rope_type(), "longrope");
  json llama = with_rope(base_config(), {{"type", "yarn"}, {"factor", 2}});
  EXPECT_EQ(load_hf_config(llama).method.rope_type(), "yarn");
}

TEST(HfType, MropeIsDefault) {
  json cfg = with_rope(base_config(), {{"type", "mrope"}, {"mrope_section", {16, 24, 24}}});
  cfg["rope_theta"] = 1e6;
  const auto c = load_hf_config(cfg);
  EXPECT_EQ(c.method.rope_type(), "default");
  expect_table_near(c.method.inv_freq(), ref_default(1e6L, 64), 4e-16L);
}

TEST(HfType, RenameHappensBeforeStandardisation) {
  // An "su" config with top-level L0 (Phi-3 convention) gets the longrope L0 rule: s = L/L0 and
  // A = sqrt(1 + ln s / ln L0) with L0 = 4096, L = 131072.
  json cfg{{"model_type", "phi3"},
           {"head_dim", 96},
           {"max_position_embeddings", 131072},
           {"original_max_position_embeddings", 4096},
           {"rope_scaling",
            {{"type", "su"},
             {"short_factor", std::vector<double>(48, 1.0)},
             {"long_factor", std::vector<double>(48, 2.0)}}}};
  const auto c = load_hf_config(cfg);
  const auto* lr = c.method.get_if<ropescale::longrope<double>>();
  ASSERT_NE(lr, nullptr);
  EXPECT_EQ(lr->params().original_max_position_embeddings, 4096);
  const long double want = std::sqrt(1 + std::log(32.0L) / std::log(4096.0L));
  EXPECT_NEAR(c.method.attention_factor(), static_cast<double>(want), 1e-15);
}

TEST(HfType, UnknownTypeListsSupported) {
  expect_load_error(with_rope(base_config(), {{"rope_type", "xpos"}}), "rope_scaling.rope_type",
                    {"\"xpos\"", "default", "linear", "ntk", "dynamic", "yarn", "longrope",
                     "llama3", "proportional", "clex"});
}

TEST(HfType, ClexNeedsWeights) {
  expect_load_error(with_rope(base_config(), {{"rope_type", "clex"}, {"max_factor", 16}}), "",
                    {"clex", "weights"});
}

// ---------------------------------------------------------------------------------------------
// §2.3 precedence

TEST(HfPrecedence, DictRopeThetaBeatsTopLevel) {
  json cfg = with_rope(base_config(), {{"rope_type", "default"}, {"rope_theta", 5e5}});
  cfg["rope_theta"] = 1e4;
  expect_table_near(load_hf_config(cfg).method.inv_freq(), ref_default(5e5L, 64), 4e-16L);
}

TEST(HfPrecedence, TopLevelRopeTheta) {
  json cfg = base_config();
  cfg["rope_theta"] = 1e6;
  cfg["rotary_emb_base"] = 7;  // ignored when rope_theta exists
  expect_table_near(load_hf_config(cfg).method.inv_freq(), ref_default(1e6L, 64), 4e-16L);
}

TEST(HfPrecedence, RotaryEmbBaseExtension) {
  json cfg = base_config();
  cfg["rotary_emb_base"] = 20000;
  expect_table_near(load_hf_config(cfg).method.inv_freq(), ref_default(20000.0L, 64), 4e-16L);
}

TEST(HfPrecedence, ThetaDefaults10000) {
  expect_table_near(load_hf_config(base_config()).method.inv_freq(), ref_default(10000.0L, 64),
                    4e-16L);
}

// The layout implied by the model class (docs/reference.md §1.3): HF's DeepSeek-V3 rotates
// de-interleaved unless rope_interleave is false (true is its config class's default); Llama and
// the other NeoX classes never read rope_interleave.
TEST(HfLayout, DeepseekV3RotatesDeinterleavedUnlessRopeInterleaveIsFalse) {
  EXPECT_EQ(load_hf_config(base_config()).layout, ropescale::layout::neox);
  json ds = base_config();
  ds["model_type"] = "deepseek_v3";
  EXPECT_EQ(load_hf_config(ds).layout, ropescale::layout::deinterleaved);
  ds["rope_interleave"] = true;
  EXPECT_EQ(load_hf_config(ds).layout, ropescale::layout::deinterleaved);
  ds["rope_interleave"] = false;
  EXPECT_EQ(load_hf_config(ds).layout, ropescale::layout::neox);
  json llama = base_config();
  llama["rope_interleave"] = true;
  EXPECT_EQ(load_hf_config(llama).layout, ropescale::layout::neox);
  // A multimodal wrapper: the text config decides.
  json text = base_config();
  text["model_type"] = "deepseek_v3";
  const json wrapped{{"model_type", "wrapper"}, {"text_config", text}};
  EXPECT_EQ(load_hf_config(wrapped).layout, ropescale::layout::deinterleaved);
  EXPECT_EQ(load_hf_config_file(configs_dir() + "deepseek-v3.json").layout,
            ropescale::layout::deinterleaved);
  EXPECT_EQ(load_hf_config_file(configs_dir() + "llama-3.1-8b.json").layout,
            ropescale::layout::neox);
}

TEST(HfPrecedence, TopLevelPartialRotaryFactorOverridesDict) {
  // Every type but default re-standardises: the top-level value wins (H = 64: d = int(64 × 0.5)).
  json cfg = with_rope(base_config(),
                       {{"rope_type", "linear"}, {"factor", 2.0}, {"partial_rotary_factor", 0.25}});
  cfg["partial_rotary_factor"] = 0.5;
  const auto c = load_hf_config(cfg);
  EXPECT_EQ(c.method.rotary_dim(), 32);
  EXPECT_TRUE(has_diag(c, "partial_rotary_factor")) << diags(c);
}

TEST(HfPrecedence, DefaultTypeTakesTheDictsPartialRotaryFactor) {
  // transformers v5 quirk (docs/reference.md §2.3): for type default, a prf set both top-level
  // and in the rope dict takes the dict's value: d = int(64 × 0.25) = 16, not int(64 × 0.5).
  for (const char* type_key : {"rope_type", "type"}) {
    json cfg = with_rope(base_config(), {{type_key, "default"}, {"partial_rotary_factor", 0.25}});
    cfg["partial_rotary_factor"] = 0.5;
    const auto c = load_hf_config(cfg);
    EXPECT_EQ(c.method.rotary_dim(), 16);
    expect_table_near(c.method.inv_freq(), ref_default(10000.0L, 16), 4e-16L);
    EXPECT_TRUE(has_diag(c, "type default")) << diags(c);
  }
  // A dict without rope_type is type default too; without a dict value the top level applies.
  json dict_only = with_rope(base_config(), {{"partial_rotary_factor", 0.75}});
  dict_only["partial_rotary_factor"] = 0.5;
  EXPECT_EQ(load_hf_config(dict_only).method.rotary_dim(), 48);
  json top_only = with_rope(base_config(), {{"rope_type", "default"}});
  top_only["partial_rotary_factor"] = 0.5;
  EXPECT_EQ(load_hf_config(top_only).method.rotary_dim(), 32);
}

TEST(HfPrecedence, Phi3L0IsTopLevelOrPhi3ConfigDefault) {
  // transformers v5 quirk (docs/reference.md §2.3): with model_type phi3, L0 is the top-level
  // original_max_position_embeddings, 4096 when absent; the dict's value is never used.
  // LongRoPE with factor absent: s = L/L0 and A = sqrt(1 + ln s / ln L0); long iff S > L0.
  const auto phi3 = [](std::optional<std::int64_t> top_l0) {
    json cfg{{"model_type", "phi3"},
             {"head_dim", 96},
             {"max_position_embeddings", 131072},
             {"rope_scaling",
              {{"type", "longrope"},
               {"original_max_position_embeddings", 8192},
               {"short_factor", std::vector<double>(48, 1.0)},
               {"long_factor", std::vector<double>(48, 2.0)}}}};
    if (top_l0) cfg["original_max_position_embeddings"] = *top_l0;
    return load_hf_config(cfg);
  };
  for (const std::int64_t l0 : {std::int64_t{4096}, std::int64_t{2048}}) {
    const auto c = phi3(l0 == 4096 ? std::nullopt : std::optional<std::int64_t>(l0));
    const auto* lr = c.method.get_if<ropescale::longrope<double>>();
    ASSERT_NE(lr, nullptr);
    EXPECT_EQ(lr->params().original_max_position_embeddings, l0);
    const long double s = 131072.0L / static_cast<long double>(l0);
    const long double want = std::sqrt(1 + std::log(s) / std::log(static_cast<long double>(l0)));
    EXPECT_NEAR(c.method.attention_factor(), static_cast<double>(want), 1e-15);
    EXPECT_FALSE(lr->uses_long_factor(l0));
    EXPECT_TRUE(lr->uses_long_factor(l0 + 1));
    EXPECT_TRUE(has_diag(c, "overrides rope_scaling.original_max_position_embeddings (8192)"))
        << diags(c);
  }
  // Another model type keeps the dict's L0.
  json llama{{"model_type", "llama"},
             {"head_dim", 96},
             {"max_position_embeddings", 131072},
             {"rope_scaling",
              {{"type", "longrope"},
               {"original_max_position_embeddings", 8192},
               {"short_factor", std::vector<double>(48, 1.0)},
               {"long_factor", std::vector<double>(48, 2.0)}}}};
  EXPECT_EQ(load_hf_config(llama)
                .method.get_if<ropescale::longrope<double>>()
                ->params()
                .original_max_position_embeddings,
            8192);
}

TEST(HfTable, SupportedTypesComeFromTheTable) {
  std::vector<std::string> names;
  for (const char* n : ropescale::detail::supported_rope_types) names.emplace_back(n);
  EXPECT_EQ(names, (std::vector<std::string>{"default", "linear", "ntk", "dynamic", "yarn",
                                             "longrope", "llama3", "proportional", "clex"}));
  for (const auto& t : ropescale::detail::hf_rope_types) {
    EXPECT_EQ(ropescale::detail::find_hf_rope_type(t.name), &t);
  }
  EXPECT_EQ(ropescale::detail::find_hf_rope_type("xpos"), nullptr);
}

TEST(HfPrecedence, DictPartialRotaryFactorUsedWithoutTopLevel) {
  json cfg = with_rope(base_config(), {{"rope_type", "default"}, {"partial_rotary_factor", 0.25}});
  EXPECT_EQ(load_hf_config(cfg).method.rotary_dim(), 16);
}

TEST(HfPrecedence, RotaryPctAndRotaryEmbFractionExtensions) {
  json cfg = base_config();
  cfg["rotary_pct"] = 0.25;
  EXPECT_EQ(load_hf_config(cfg).method.rotary_dim(), 16);
  json cfg2 = base_config();
  cfg2["rotary_emb_fraction"] = 0.5;
  EXPECT_EQ(load_hf_config(cfg2).method.rotary_dim(), 32);
  json cfg3 = base_config();
  cfg3["partial_rotary_factor"] = 0.5;
  cfg3["rotary_pct"] = 0.25;  // ignored: partial_rotary_factor present
  EXPECT_EQ(load_hf_config(cfg3).method.rotary_dim(), 32);
}

TEST(HfPrecedence, MaxPositionEmbeddingsIsTopLevelOnly) {
  json cfg{{"head_dim", 64},
           {"rope_scaling",
            {{"rope_type", "dynamic"}, {"factor", 2}, {"max_position_embeddings", 4096}}}};
  expect_load_error(cfg, "rope_scaling",
                    {"type 'dynamic' requires top-level key 'max_position_embeddings'"});
  cfg["max_position_embeddings"] = 2048;
  const auto c = load_hf_config(cfg);
  EXPECT_EQ(c.max_position_embeddings, 2048);
  EXPECT_EQ(c.method.get_if<ropescale::dynamic<double>>()->params().max_position_embeddings, 2048);
}

TEST(HfPrecedence, TopLevelOriginalMaxOverridesDict) {
  json cfg =
      with_rope(base_config(),
                {{"rope_type", "yarn"}, {"factor", 4}, {"original_max_position_embeddings", 2048}});
  cfg["max_position_embeddings"] = 16384;
  cfg["original_max_position_embeddings"] = 1024;
  const auto c = load_hf_config(cfg);
  EXPECT_EQ(c.method.get_if<ropescale::yarn<double>>()->params().original_max_position_embeddings,
            1024);
  EXPECT_TRUE(has_diag(c, "overrides")) << diags(c);
}

TEST(HfPrecedence, DictOriginalMaxThenL) {
  json cfg = with_rope(base_config(), {{"rope_type", "llama3"},
                                       {"factor", 8},
                                       {"low_freq_factor", 1},
                                       {"high_freq_factor", 4},
                                       {"original_max_position_embeddings", 1024}});
  EXPECT_EQ(load_hf_config(cfg)
                .method.get_if<ropescale::llama3<double>>()
                ->params()
                .original_max_position_embeddings,
            1024);
  cfg["rope_scaling"].erase("original_max_position_embeddings");
  EXPECT_EQ(load_hf_config(cfg)
                .method.get_if<ropescale::llama3<double>>()
                ->params()
                .original_max_position_embeddings,
            4096);  // L0 := L
}

TEST(HfPrecedence, DynamicUsesLNotL0) {
  json cfg = with_rope(
      base_config(),
      {{"rope_type", "dynamic"}, {"factor", 2}, {"original_max_position_embeddings", 1024}});
  const auto c = load_hf_config(cfg);
  EXPECT_EQ(c.method.get_if<ropescale::dynamic<double>>()->params().max_position_embeddings, 4096);
  EXPECT_TRUE(has_diag(c, "original_max_position_embeddings")) << diags(c);
  // S <= L gives the default table; S = 2L gives NTK with k = s·2 − (s − 1) = 3.
  expect_table_near(c.method.inv_freq(4096), ref_default(10000.0L, 64), 4e-16L);
  std::vector<long double> want;
  for (std::int64_t i = 0; i < 32; ++i) {
    want.push_back(ref_base(10000.0L, i, 64) *
                   std::pow(3.0L, -2.0L * static_cast<long double>(i) / 62.0L));
  }
  expect_table_near(c.method.inv_freq(8192), want, 1e-15L);
}

// ---------------------------------------------------------------------------------------------
// §2.4 required and optional keys

TEST(HfRequired, MissingKeyMessages) {
  struct row {
    json rope;
    std::string message;
  };
  const std::vector<row> rows = {
      {{{"rope_type", "linear"}}, "rope_scaling: type 'linear' requires key 'factor'"},
      {{{"rope_type", "ntk"}}, "rope_scaling: type 'ntk' requires key 'factor'"},
      {{{"rope_type", "dynamic"}}, "rope_scaling: type 'dynamic' requires key 'factor'"},
      {{{"rope_type", "yarn"}}, "rope_scaling: type 'yarn' requires key 'factor'"},
      {{{"rope_type", "longrope"}, {"long_factor", std::vector<double>(32, 2.0)}},
       "rope_scaling: type 'longrope' requires key 'short_factor'"},
      {{{"rope_type", "longrope"}, {"short_factor", std::vector<double>(32, 2.0)}},
       "rope_scaling: type 'longrope' requires key 'long_factor'"},
      {{{"rope_type", "llama3"}, {"low_freq_factor", 1}, {"high_freq_factor", 4}},
       "rope_scaling: type 'llama3' requires key 'factor'"},
      {{{"rope_type", "llama3"}, {"factor", 8}, {"high_freq_factor", 4}},
       "rope_scaling: type 'llama3' requires key 'low_freq_factor'"},
      {{{"rope_type", "llama3"}, {"factor", 8}, {"low_freq_factor", 1}},
       "rope_scaling: type 'llama3' requires key 'high_freq_factor'"},
      {{{"rope_type", "llama3"},
        {"factor", 8},
        {"low_freq_factor", nullptr},
        {"high_freq_factor", 4}},
       "rope_scaling: type 'llama3' requires key 'low_freq_factor'"},  // null = absent
  };
  for (const auto& r : rows)
    expect_load_error(with_rope(base_config(), r.rope), "rope_scaling", {r.message});
}

TEST(HfRequired, L0OrLRequired) {
  json no_l{{"head_dim", 64}};
  expect_load_error(with_rope(no_l, {{"rope_type", "yarn"}, {"factor", 2}}), "rope_scaling",
                    {"type 'yarn' requires key 'original_max_position_embeddings'"});
  expect_load_error(with_rope(no_l, {{"rope_type", "llama3"},
                                     {"factor", 8},
                                     {"low_freq_factor", 1},
                                     {"high_freq_factor", 4}}),
                    "rope_scaling",
                    {"type 'llama3' requires key 'original_max_position_embeddings'"});
  expect_load_error(with_rope(no_l, {{"rope_type", "longrope"},
                                     {"short_factor", std::vector<double>(32, 1.0)},
                                     {"long_factor", std::vector<double>(32, 1.0)}}),
                    "rope_scaling",
                    {"type 'longrope' requires key 'original_max_position_embeddings'"});
  // L0 alone is enough when the factor is explicit.
  EXPECT_NO_THROW(load_hf_config(with_rope(
      no_l, {{"rope_type", "yarn"}, {"factor", 2}, {"original_max_position_embeddings", 4096}})));
}

TEST(HfRequired, ProportionalFactorDefaultsToOne) {
  json cfg = with_rope(base_config(), {{"rope_type", "proportional"}});
  const auto c = load_hf_config(cfg);
  expect_table_near(c.method.inv_freq(), ref_default(10000.0L, 64), 4e-16L);  // prf 1, s 1
}

TEST(HfRequired, DefaultIgnoresFactor) {
  const auto c =
      load_hf_config(with_rope(base_config(), {{"rope_type", "default"}, {"factor", 8}}));
  expect_table_near(c.method.inv_freq(), ref_default(10000.0L, 64), 4e-16L);
  EXPECT_TRUE(has_diag(c, "rope_scaling.factor")) << diags(c);
}

TEST(HfRequired, UnknownKeysIgnoredWithDiagnostic) {
  const auto c = load_hf_config(
      with_rope(base_config(), {{"rope_type", "linear"}, {"factor", 2}, {"frobnicate", 1}}));
  EXPECT_EQ(c.method.rope_type(), "linear");
  EXPECT_TRUE(has_diag(c, "frobnicate")) << diags(c);
}

// ---------------------------------------------------------------------------------------------
// §2.5 value-rule quirks that are accepted

TEST(HfYarn, FactorNullMeansLOverL0) {
  json cfg = with_rope(
      base_config(),
      {{"rope_type", "yarn"}, {"factor", nullptr}, {"original_max_position_embeddings", 1024}});
  const auto c = load_hf_config(cfg);
  EXPECT_EQ(c.method.get_if<ropescale::yarn<double>>()->params().factor, 4.0);
  EXPECT_FALSE(has_diag(c, "differs")) << diags(c);
  // s = L/L0 < 1 is rejected.
  cfg["rope_scaling"]["original_max_position_embeddings"] = 8192;
  expect_load_error(cfg, "rope_scaling.factor", {"null", "0.5"});
}

TEST(HfYarn, ExplicitFactorWinsWithDiagnostic) {
  json cfg =
      with_rope(base_config(),
                {{"rope_type", "yarn"}, {"factor", 8}, {"original_max_position_embeddings", 1024}});
  const auto c = load_hf_config(cfg);
  EXPECT_EQ(c.method.get_if<ropescale::yarn<double>>()->params().factor, 8.0);
  EXPECT_TRUE(has_diag(c, "differs")) << diags(c);
  // No diagnostic when L/L0 = 1 (Qwen's advice: factor 4 with L = L0 = 32768).
  cfg["rope_scaling"]["original_max_position_embeddings"] = 4096;
  EXPECT_TRUE(load_hf_config(cfg).diagnostics.empty()) << diags(load_hf_config(cfg));
}

TEST(HfYarn, BetaZeroOrNullMeansDefault) {
  for (const json& b : {json(0), json(nullptr), json(0.0)}) {
    json cfg = with_rope(base_config(), {{"rope_type", "yarn"},
                                         {"factor", 4},
                                         {"beta_fast", b},
                                         {"beta_slow", b},
                                         {"original_max_position_embeddings", 1024}});
    const auto c = load_hf_config(cfg);
    const auto* y = c.method.get_if<ropescale::yarn<double>>();
    ASSERT_NE(y, nullptr);
    EXPECT_EQ(y->beta_fast(), 32.0) << b.dump();
    EXPECT_EQ(y->beta_slow(), 1.0) << b.dump();
    expect_table_near(load_hf_config(cfg).method.inv_freq(),
                      ref_yarn(10000.0L, 64, 4, 1024, 32, 1, true), 1e-14L);
  }
}

TEST(HfYarn, MscaleZeroOrNullIsUnset) {
  const long double s = 4;
  for (const json& m : {json(0), json(nullptr)}) {
    json cfg = with_rope(base_config(), {{"rope_type", "yarn"},
                                         {"factor", 4},
                                         {"mscale", 1.0},
                                         {"mscale_all_dim", m},
                                         {"original_max_position_embeddings", 1024}});
    const auto c = load_hf_config(cfg);
    // mscale alone is ignored: A = 0.1 ln s + 1.
    EXPECT_NEAR(c.method.attention_factor(), static_cast<double>(yarn_m(s, 1)), 1e-15);
    EXPECT_EQ(c.method.softmax_scale_multiplier(), 1.0);
    EXPECT_TRUE(has_diag(c, "mscale")) << diags(c);
  }
  json both = with_rope(base_config(), {{"rope_type", "yarn"},
                                        {"factor", 4},
                                        {"mscale", 0.707},
                                        {"mscale_all_dim", 1.0},
                                        {"original_max_position_embeddings", 1024}});
  const auto c = load_hf_config(both);
  EXPECT_NEAR(c.method.attention_factor(), static_cast<double>(yarn_m(s, 0.707L) / yarn_m(s, 1)),
              1e-15);
  EXPECT_NEAR(c.method.softmax_scale_multiplier(), static_cast<double>(yarn_m(s, 1) * yarn_m(s, 1)),
              1e-15);
}

TEST(HfYarn, AttentionFactorReplacesComputedAndNullComputes) {
  json cfg = with_rope(base_config(), {{"rope_type", "yarn"},
                                       {"factor", 4},
                                       {"attention_factor", 0.8},
                                       {"original_max_position_embeddings", 1024}});
  EXPECT_EQ(load_hf_config(cfg).method.attention_factor(), 0.8);
  cfg["rope_scaling"]["attention_factor"] = nullptr;
  EXPECT_NEAR(load_hf_config(cfg).method.attention_factor(), static_cast<double>(yarn_m(4, 1)),
              1e-15);
}

TEST(HfYarn, TruncateNullIsFalseAbsentIsTrue) {
  json cfg =
      with_rope(base_config(),
                {{"rope_type", "yarn"}, {"factor", 4}, {"original_max_position_embeddings", 1024}});
  EXPECT_TRUE(load_hf_config(cfg).method.get_if<ropescale::yarn<double>>()->params().truncate);
  expect_table_near(load_hf_config(cfg).method.inv_freq(),
                    ref_yarn(10000.0L, 64, 4, 1024, 32, 1, true), 1e-14L);
  cfg["rope_scaling"]["truncate"] = nullptr;
  EXPECT_FALSE(load_hf_config(cfg).method.get_if<ropescale::yarn<double>>()->params().truncate);
  expect_table_near(load_hf_config(cfg).method.inv_freq(),
                    ref_yarn(10000.0L, 64, 4, 1024, 32, 1, false), 1e-13L);
  cfg["rope_scaling"]["truncate"] = false;
  EXPECT_FALSE(load_hf_config(cfg).method.get_if<ropescale::yarn<double>>()->params().truncate);
  cfg["rope_scaling"]["truncate"] = true;
  EXPECT_TRUE(load_hf_config(cfg).method.get_if<ropescale::yarn<double>>()->params().truncate);
}

TEST(HfLongrope, FactorDefaultsToLOverL0AndExplicitWins) {
  json cfg{{"head_dim", 64},
           {"max_position_embeddings", 16384},
           {"rope_scaling",
            {{"rope_type", "longrope"},
             {"short_factor", std::vector<double>(32, 1.0)},
             {"long_factor", std::vector<double>(32, 4.0)},
             {"original_max_position_embeddings", 4096}}}};
  auto c = load_hf_config(cfg);
  EXPECT_NEAR(c.method.attention_factor(),
              static_cast<double>(std::sqrt(1 + std::log(4.0L) / std::log(4096.0L))), 1e-15);
  EXPECT_TRUE(c.diagnostics.empty()) << diags(c);
  cfg["rope_scaling"]["factor"] = 8;
  c = load_hf_config(cfg);
  EXPECT_NEAR(c.method.attention_factor(),
              static_cast<double>(std::sqrt(1 + std::log(8.0L) / std::log(4096.0L))), 1e-15);
  EXPECT_TRUE(has_diag(c, "differs")) << diags(c);
}

TEST(HfLlama3, L0AtLeastLAcceptedWithDiagnostic) {
  json cfg = with_rope(base_config(), {{"rope_type", "llama3"},
                                       {"factor", 8},
                                       {"low_freq_factor", 1},
                                       {"high_freq_factor", 4},
                                       {"original_max_position_embeddings", 8192}});
  const auto c = load_hf_config(cfg);
  EXPECT_TRUE(has_diag(c, "llama3")) << diags(c);
  expect_table_near(c.method.inv_freq(), ref_llama3(10000.0L, 64, 8, 1, 4, 8192), 1e-15L);
}

TEST(HfLlama3, EqualLowHighFreqFactorsAccepted) {
  json cfg = with_rope(base_config(), {{"rope_type", "llama3"},
                                       {"factor", 8},
                                       {"low_freq_factor", 2},
                                       {"high_freq_factor", 2},
                                       {"original_max_position_embeddings", 1024}});
  const auto c = load_hf_config(cfg);
  for (double w : c.method.inv_freq()) EXPECT_TRUE(std::isfinite(w));
  EXPECT_TRUE(has_diag(c, "low_freq_factor")) << diags(c);
}

TEST(HfOptions, WeightsIgnoredForClosedFormTypes) {
  load_options o;
  o.weights = "/nonexistent.safetensors";
  const auto c = load_hf_config(base_config(), o);
  EXPECT_TRUE(has_diag(c, "weights")) << diags(c);
}

// ---------------------------------------------------------------------------------------------
// §2.5 bad-input table: every row must throw with the key path and the offending value.

struct bad_row {
  const char* name;
  json config;
  std::string key;
  std::vector<std::string> needles;
};

json yarn_cfg(json extra) {
  json rope{{"rope_type", "yarn"}, {"factor", 4}, {"original_max_position_embeddings", 1024}};
  for (auto it = extra.begin(); it != extra.end(); ++it) rope[it.key()] = it.value();
  return with_rope(base_config(), rope);
}

json top(json extra) {
  json cfg = base_config();
  for (auto it = extra.begin(); it != extra.end(); ++it) cfg[it.key()] = it.value();
  return cfg;
}

json rope_of(const char* type, json extra) {
  json rope{{"rope_type", type}};
  for (auto it = extra.begin(); it != extra.end(); ++it) rope[it.key()] = it.value();
  return with_rope(base_config(), rope);
}

TEST(HfBadInput, Table) {
  std::vector<double> short32(32, 1.0), long32(32, 2.0);
  std::vector<double> zero_in(32, 1.0);
  zero_in[5] = 0.0;
  json str_in = short32;
  str_in[3] = "x";
  const std::vector<bad_row> rows = {
      {"theta string", top({{"rope_theta", "1e4"}}), "rope_theta", {"\"1e4\""}},
      {"theta bool", top({{"rope_theta", true}}), "rope_theta", {"true"}},
      {"theta 1", top({{"rope_theta", 1}}), "rope_theta", {"> 1", "got 1"}},
      {"theta 0.5 in dict",
       rope_of("default", {{"rope_theta", 0.5}}),
       "rope_scaling.rope_theta",
       {"0.5"}},
      {"theta inf", top({{"rope_theta", 1e308 * 10}}), "rope_theta", {"finite"}},
      {"rotary_emb_base 1", top({{"rotary_emb_base", 1}}), "rotary_emb_base", {"got 1"}},
      {"prf 0", top({{"partial_rotary_factor", 0}}), "partial_rotary_factor", {"got 0"}},
      {"prf 1.5", top({{"partial_rotary_factor", 1.5}}), "partial_rotary_factor", {"1.5"}},
      {"prf negative", top({{"partial_rotary_factor", -0.5}}), "partial_rotary_factor", {"-0.5"}},
      {"prf string", top({{"partial_rotary_factor", "0.5"}}), "partial_rotary_factor", {"\"0.5\""}},
      {"rotary_pct 2", top({{"rotary_pct", 2}}), "rotary_pct", {"got 2"}},
      {"dict prf 0",
       rope_of("default", {{"partial_rotary_factor", 0}}),
       "rope_scaling.partial_rotary_factor",
       {"got 0"}},
      {"head_dim 0", top({{"head_dim", 0}}), "head_dim", {"[1, 2^53]", "got 0"}},
      {"head_dim negative", top({{"head_dim", -64}}), "head_dim", {"-64"}},
      {"head_dim fractional", top({{"head_dim", 64.5}}), "head_dim", {"64.5"}},
      {"head_dim huge", top({{"head_dim", 9007199254740994LL}}), "head_dim", {"9007199254740994"}},
      {"head_dim bool", top({{"head_dim", true}}), "head_dim", {"true"}},
      {"head_dim string", top({{"head_dim", "64"}}), "head_dim", {"\"64\""}},
      {"qk_rope_head_dim 0", top({{"qk_rope_head_dim", 0}}), "qk_rope_head_dim", {"got 0"}},
      {"hidden_size 0",
       json{{"hidden_size", 0}, {"num_attention_heads", 8}},
       "hidden_size",
       {"got 0"}},
      {"heads 0",
       json{{"hidden_size", 512}, {"num_attention_heads", 0}},
       "num_attention_heads",
       {"got 0"}},
      {"hidden < heads",
       json{{"hidden_size", 4}, {"num_attention_heads", 8}},
       "hidden_size",
       {"4 / 8"}},
      {"L 0", top({{"max_position_embeddings", 0}}), "max_position_embeddings", {"got 0"}},
      {"L fractional",
       top({{"max_position_embeddings", 4096.5}}),
       "max_position_embeddings",
       {"4096.5"}},
      {"L0 0 top",
       top({{"original_max_position_embeddings", 0},
            {"rope_scaling", {{"rope_type", "yarn"}, {"factor", 2}}}}),
       "original_max_position_embeddings",
       {"got 0"}},
      {"L0 0 dict",
       yarn_cfg({{"original_max_position_embeddings", 0}}),
       "rope_scaling.original_max_position_embeddings",
       {"got 0"}},
      {"linear factor 0.5",
       rope_of("linear", {{"factor", 0.5}}),
       "rope_scaling.factor",
       {">= 1", "0.5"}},
      {"linear factor string",
       rope_of("linear", {{"factor", "2"}}),
       "rope_scaling.factor",
       {"\"2\""}},
      {"linear factor bool",
       rope_of("linear", {{"factor", true}}),
       "rope_scaling.factor",
       {"true"}},
      {"ntk factor 0", rope_of("ntk", {{"factor", 0}}), "rope_scaling.factor", {"got 0"}},
      {"ntk mixed_b",
       rope_of("ntk", {{"factor", 2}, {"mixed_b", 0.5}}),
       "rope_scaling.mixed_b",
       {"0.5"}},
      {"dynamic factor 0.9", rope_of("dynamic", {{"factor", 0.9}}), "rope_scaling.factor", {"0.9"}},
      {"yarn factor 0.5", yarn_cfg({{"factor", 0.5}}), "rope_scaling.factor", {"0.5"}},
      {"yarn attention_factor 0",
       yarn_cfg({{"attention_factor", 0}}),
       "rope_scaling.attention_factor",
       {"got 0"}},
      {"yarn attention_factor -1",
       yarn_cfg({{"attention_factor", -1}}),
       "rope_scaling.attention_factor",
       {"-1"}},
      {"yarn beta_fast -1", yarn_cfg({{"beta_fast", -1}}), "rope_scaling.beta_fast", {"-1"}},
      {"yarn beta_slow -2", yarn_cfg({{"beta_slow", -2}}), "rope_scaling.beta_slow", {"-2"}},
      {"yarn beta_fast string",
       yarn_cfg({{"beta_fast", "32"}}),
       "rope_scaling.beta_fast",
       {"\"32\""}},
      {"yarn fast < slow",
       yarn_cfg({{"beta_fast", 1}, {"beta_slow", 2}}),
       "rope_scaling.beta_fast",
       {"beta_slow", "got 1"}},
      {"yarn mscale -1", yarn_cfg({{"mscale", -1}}), "rope_scaling.mscale", {"-1"}},
      {"yarn mscale_all_dim -1",
       yarn_cfg({{"mscale_all_dim", -1}}),
       "rope_scaling.mscale_all_dim",
       {"-1"}},
      {"yarn truncate 1",
       yarn_cfg({{"truncate", 1}}),
       "rope_scaling.truncate",
       {"boolean", "got 1"}},
      {"yarn truncate string",
       yarn_cfg({{"truncate", "false"}}),
       "rope_scaling.truncate",
       {"\"false\""}},
      {"longrope short length",
       rope_of("longrope",
               {{"short_factor", std::vector<double>(31, 1.0)}, {"long_factor", long32}}),
       "rope_scaling.short_factor",
       {"31"}},
      {"longrope long length",
       rope_of("longrope",
               {{"short_factor", short32}, {"long_factor", std::vector<double>(33, 1.0)}}),
       "rope_scaling.long_factor",
       {"33"}},
      {"longrope zero entry",
       rope_of("longrope", {{"short_factor", zero_in}, {"long_factor", long32}}),
       "rope_scaling.short_factor[5]",
       {"got 0"}},
      {"longrope string entry",
       rope_of("longrope", {{"short_factor", str_in}, {"long_factor", long32}}),
       "rope_scaling.short_factor[3]",
       {"\"x\""}},
      {"longrope not array",
       rope_of("longrope", {{"short_factor", 1.0}, {"long_factor", long32}}),
       "rope_scaling.short_factor",
       {"array", "got 1"}},
      {"longrope factor 0.5",
       rope_of("longrope", {{"short_factor", short32}, {"long_factor", long32}, {"factor", 0.5}}),
       "rope_scaling.factor",
       {"0.5"}},
      {"longrope attention_factor 0",
       rope_of("longrope",
               {{"short_factor", short32}, {"long_factor", long32}, {"attention_factor", 0}}),
       "rope_scaling.attention_factor",
       {"got 0"}},
      {"llama3 low 0",
       rope_of("llama3", {{"factor", 8}, {"low_freq_factor", 0}, {"high_freq_factor", 4}}),
       "rope_scaling.low_freq_factor",
       {"got 0"}},
      {"llama3 high < low",
       rope_of("llama3", {{"factor", 8}, {"low_freq_factor", 4}, {"high_freq_factor", 1}}),
       "rope_scaling.high_freq_factor",
       {"got 1"}},
      {"llama3 factor 0.5",
       rope_of("llama3", {{"factor", 0.5}, {"low_freq_factor", 1}, {"high_freq_factor", 4}}),
       "rope_scaling.factor",
       {"0.5"}},
      {"proportional factor 0.5",
       rope_of("proportional", {{"factor", 0.5}}),
       "rope_scaling.factor",
       {"0.5"}},
      {"proportional odd H",
       json{{"head_dim", 65}, {"rope_scaling", {{"rope_type", "proportional"}}}},
       "head_dim",
       {"65"}},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.name);
    try {
      (void)load_hf_config(r.config);
      ADD_FAILURE() << "no exception for " << r.config.dump();
    } catch (const invalid_parameter& e) {
      const std::string msg = e.what();
      EXPECT_EQ(e.key(), r.key) << msg;
      EXPECT_EQ(msg.rfind(r.key + ": ", 0), 0u) << msg;
      EXPECT_NE(msg.find(", got "), std::string::npos) << msg;
      for (const auto& n : r.needles)
        EXPECT_NE(msg.find(n), std::string::npos) << msg << " / " << n;
    }
  }
}

TEST(HfBadInput, NonFiniteNumberInJsonValue) {
  // nlohmann can hold NaN/inf when a config is built in code; they are rejected as non-finite.
  expect_load_error(top({{"rope_theta", std::nan("")}}), "rope_theta", {"finite", "nan"});
  expect_load_error(rope_of("linear", {{"factor", INFINITY}}), "rope_scaling.factor", {"inf"});
}

TEST(HfBadInput, HugeExponentInTextIsRejected) {
  // nlohmann refuses to parse a number that overflows double; the message names the token.
  try {
    (void)load_hf_config_string(R"({"head_dim": 64, "rope_theta": 1e999})");
    ADD_FAILURE() << "no exception";
  } catch (const invalid_parameter& e) {
    EXPECT_NE(std::string(e.what()).find("1e999"), std::string::npos) << e.what();
  }
}

TEST(HfBadInput, MalformedJsonNamesPosition) {
  for (const char* text : {"", "{", "{\"head_dim\": 64,}", "{\"a\": tru}", "[1, 2", "{} {}"}) {
    try {
      (void)load_hf_config_string(text);
      ADD_FAILURE() << "no exception for '" << text << "'";
    } catch (const invalid_parameter& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find("malformed JSON"), std::string::npos) << msg;
      EXPECT_NE(msg.find("line 1, column"), std::string::npos) << msg;
      EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    }
  }
}

TEST(HfBadInput, DeepNestingRejectedWithoutCrash) {
  const std::string deep = "{\"a\": " + std::string(100000, '[') + std::string(100000, ']') + "}";
  EXPECT_THROW(load_hf_config_string(deep), invalid_parameter);
}

TEST(HfBadInput, LongValuesAreShortenedInMessages) {
  json cfg = rope_of("linear", {{"factor", std::string(10000, 'x')}});
  try {
    (void)load_hf_config(cfg);
    ADD_FAILURE();
  } catch (const invalid_parameter& e) {
    EXPECT_LT(std::string(e.what()).size(), 300u);
  }
}

TEST(HfBadInput, SeqLenMustBePositive) {
  const auto c = load_hf_config(base_config());
  EXPECT_THROW((void)c.method.inv_freq(0), invalid_parameter);
  EXPECT_THROW((void)c.method.attention_factor(-1), invalid_parameter);
}

// ---------------------------------------------------------------------------------------------
// Files

TEST(HfFile, UnreadableFileNamesPath) {
  const std::string missing = std::string(ROPESCALE_TEST_TMPDIR) + "/no-such-config.json";
  try {
    (void)load_hf_config_file(missing);
    ADD_FAILURE();
  } catch (const invalid_parameter& e) {
    EXPECT_NE(std::string(e.what()).find(missing), std::string::npos) << e.what();
  }
  try {
    (void)load_hf_config_file(ROPESCALE_TEST_TMPDIR);
    ADD_FAILURE();
  } catch (const invalid_parameter& e) {
    EXPECT_NE(std::string(e.what()).find("not a regular file"), std::string::npos) << e.what();
  }
}

TEST(HfFile, MalformedFileNamesPathAndPosition) {
  std::filesystem::create_directories(ROPESCALE_TEST_TMPDIR);
  const std::string path = std::string(ROPESCALE_TEST_TMPDIR) + "/hf_config_malformed.json";
  {
    std::ofstream out(path);
    out << "{\n  \"head_dim\": 64,\n  \"rope_theta\": ,\n}\n";
  }
  try {
    (void)load_hf_config_file(path);
    ADD_FAILURE();
  } catch (const invalid_parameter& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find("line 3"), std::string::npos) << msg;
  }
}

// ---------------------------------------------------------------------------------------------
// Bundled configs (examples/configs/)

TEST(HfBundled, Llama2IsDefault) {
  const auto c = load_hf_config_file(configs_dir() + "llama-2-7b.json");
  EXPECT_EQ(c.method.rope_type(), "default");
  EXPECT_EQ(c.method.head_dim(), 128);
  EXPECT_EQ(c.max_position_embeddings, 4096);
  expect_table_near(c.method.inv_freq(), ref_default(10000.0L, 128), 4e-16L);
  EXPECT_TRUE(c.diagnostics.empty()) << diags(c);
}

TEST(HfBundled, Llama31IsLlama3) {
  const auto c = load_hf_config_file(configs_dir() + "llama-3.1-8b.json");
  ASSERT_EQ(c.method.rope_type(), "llama3");
  const auto& p = c.method.get_if<ropescale::llama3<double>>()->params();
  EXPECT_EQ(p.head_dim, 128);
  EXPECT_EQ(p.rope_theta, 500000.0);
  EXPECT_EQ(p.factor, 8.0);
  EXPECT_EQ(p.low_freq_factor, 1.0);
  EXPECT_EQ(p.high_freq_factor, 4.0);
  EXPECT_EQ(p.original_max_position_embeddings, 8192);
  EXPECT_EQ(c.max_position_embeddings, 131072);
  expect_table_near(c.method.inv_freq(), ref_llama3(500000.0L, 128, 8, 1, 4, 8192), 1e-15L);
  EXPECT_EQ(c.method.attention_factor(), 1.0);
  EXPECT_TRUE(c.diagnostics.empty()) << diags(c);
}

TEST(HfBundled, QwenYarn) {
  const auto c = load_hf_config_file(configs_dir() + "qwen2.5-7b-instruct-yarn.json");
  ASSERT_EQ(c.method.rope_type(), "yarn");
  const auto& p = c.method.get_if<ropescale::yarn<double>>()->params();
  EXPECT_EQ(p.head_dim, 128);  // 3584 / 28
  EXPECT_EQ(p.factor, 4.0);
  EXPECT_EQ(p.original_max_position_embeddings, 32768);
  EXPECT_TRUE(p.truncate);
  expect_table_near(c.method.inv_freq(), ref_yarn(1e6L, 128, 4, 32768, 32, 1, true), 1e-14L);
  EXPECT_NEAR(c.method.attention_factor(), static_cast<double>(yarn_m(4, 1)), 1e-15);
  EXPECT_TRUE(c.diagnostics.empty()) << diags(c);  // L/L0 = 1: no factor diagnostic
}

TEST(HfBundled, DeepSeekV3Yarn) {
  const auto c = load_hf_config_file(configs_dir() + "deepseek-v3.json");
  ASSERT_EQ(c.method.rope_type(), "yarn");
  const auto& p = c.method.get_if<ropescale::yarn<double>>()->params();
  EXPECT_EQ(p.head_dim, 64);  // qk_rope_head_dim
  EXPECT_EQ(p.factor, 40.0);
  EXPECT_EQ(p.original_max_position_embeddings, 4096);
  EXPECT_EQ(p.mscale, 1.0);
  EXPECT_EQ(p.mscale_all_dim, 1.0);
  expect_table_near(c.method.inv_freq(), ref_yarn(10000.0L, 64, 40, 4096, 32, 1, true), 1e-14L);
  EXPECT_NEAR(c.method.attention_factor(), 1.0, 1e-15);  // m(s,1)/m(s,1)
  EXPECT_NEAR(c.method.softmax_scale_multiplier(),
              static_cast<double>(yarn_m(40, 1) * yarn_m(40, 1)), 1e-14);
  EXPECT_TRUE(c.diagnostics.empty()) << diags(c);  // factor 40 = 163840 / 4096
}

TEST(HfBundled, Phi3Longrope) {
  const auto c = load_hf_config_file(configs_dir() + "phi-3-mini-128k-instruct.json");
  ASSERT_EQ(c.method.rope_type(), "longrope");
  const auto* lr = c.method.get_if<ropescale::longrope<double>>();
  const auto& p = lr->params();
  EXPECT_EQ(p.head_dim, 96);
  EXPECT_EQ(p.short_factor.size(), 48u);
  EXPECT_EQ(p.long_factor.size(), 48u);
  EXPECT_EQ(p.original_max_position_embeddings, 4096);  // top-level (Phi-3 convention)
  EXPECT_FALSE(p.factor.has_value());
  const long double a = std::sqrt(1 + std::log(32.0L) / std::log(4096.0L));
  EXPECT_NEAR(c.method.attention_factor(), static_cast<double>(a), 1e-15);
  EXPECT_NEAR(c.method.attention_factor(100000), static_cast<double>(a), 1e-15);
  // ω_i·ext_i·θ^(2i/d) = 1: short for S absent or S <= L0, long for S = L0 + 1.
  auto check = [&](std::optional<std::int64_t> s, const std::vector<double>& ext) {
    std::vector<long double> want;
    for (std::int64_t i = 0; i < 48; ++i) {
      want.push_back(ref_base(10000.0L, i, 96) /
                     static_cast<long double>(ext[static_cast<std::size_t>(i)]));
    }
    expect_table_near(c.method.inv_freq(s), want, 1e-15L);
  };
  check(std::nullopt, p.short_factor);
  check(4096, p.short_factor);
  check(4097, p.long_factor);
  EXPECT_TRUE(c.diagnostics.empty()) << diags(c);
}

TEST(HfBundled, GptOssYarnUntruncated) {
  const auto c = load_hf_config_file(configs_dir() + "gpt-oss-20b.json");
  ASSERT_EQ(c.method.rope_type(), "yarn");
  const auto& p = c.method.get_if<ropescale::yarn<double>>()->params();
  EXPECT_EQ(p.head_dim, 64);
  EXPECT_EQ(p.rope_theta, 150000.0);
  EXPECT_EQ(p.factor, 32.0);
  EXPECT_EQ(p.beta_fast, 32.0);
  EXPECT_EQ(p.beta_slow, 1.0);
  EXPECT_EQ(p.original_max_position_embeddings, 4096);
  EXPECT_FALSE(p.truncate);
  expect_table_near(c.method.inv_freq(), ref_yarn(150000.0L, 64, 32, 4096, 32, 1, false), 1e-13L);
  EXPECT_NEAR(c.method.attention_factor(), static_cast<double>(yarn_m(32, 1)), 1e-15);
  EXPECT_TRUE(c.diagnostics.empty()) << diags(c);
}

TEST(HfBundled, StringAndFileLoadersAgree) {
  for (const char* name :
       {"llama-2-7b.json", "llama-3.1-8b.json", "qwen2.5-7b-instruct-yarn.json", "deepseek-v3.json",
        "phi-3-mini-128k-instruct.json", "gpt-oss-20b.json"}) {
    std::ifstream in(configs_dir() + name);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto a = load_hf_config_string(text);
    const auto b = load_hf_config_file(configs_dir() + name);
    EXPECT_EQ(a.method.inv_freq(), b.method.inv_freq()) << name;
    EXPECT_EQ(a.method.rope_type(), b.method.rope_type()) << name;
  }
}

}  // namespace
