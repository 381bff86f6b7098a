// SPDX-License-Identifier: Apache-2.0
// A converter-style GGUF writer for the tests: turns a Hugging Face config.json into the RoPE part
// of the GGUF file llama.cpp's convert_hf_to_gguf.py would write for it, following the converter
// facts of docs/gguf.md §1 and §3 (written from those facts, not from the converter's code):
//   - architecture from model_type; context_length, embedding_length, attention.head_count;
//     attention.key_length when the config has head_dim (DeepSeek: kv_lora_rank + rope dim);
//   - rope.dimension_count = int(head_dim × partial_rotary_factor) (GPT-NeoX: rotary_pct);
//   - rope.freq_base = rope_theta (never for GPT-NeoX);
//   - llama3 → tensor rope_freqs.weight (f32 divisors; L0 from the top-level
//     original_max_position_embeddings, default 8192; factor 8 / low 1 / high 4 defaults);
//   - linear → type + factor; yarn → type, factor, original_context_length, betas, and for
//     DeepSeek yarn_log_multiplier = 0.1 × mscale_all_dim;
//   - longrope/su → rope_factors_long/short.weight and attn_factor = √(1 + ln(L/L0)/ln L0), no
//     scaling type; original_context_length = L0.
// It also writes one F16 weight tensor so the factor tensors do not start the data section.
#ifndef ROPESCALE_TESTS_SUPPORT_GGUF_CONVERTER_HPP
#define ROPESCALE_TESTS_SUPPORT_GGUF_CONVERTER_HPP

#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/gguf_writer.hpp"

namespace ropescale_test {

inline std::string gguf_arch_of(const std::string& model_type) {
  if (model_type == "deepseek_v3" || model_type == "deepseek_v2") return "deepseek2";
  if (model_type == "gpt_oss") return "gpt-oss";
  if (model_type == "gpt_neox") return "gptneox";
  if (model_type == "mistral") return "llama";
  return model_type;  // llama, qwen2, qwen3, phi3
}

/// The GGUF twin of a config.json (see the file comment). Throws nlohmann exceptions on configs
/// missing what the converter needs.
inline gguf_writer gguf_twin(const nlohmann::json& cfg) {
  const std::string arch = gguf_arch_of(cfg.value("model_type", std::string("llama")));
  const std::string p = arch + ".";
  gguf_writer w;
  w.kv_str("general.architecture", arch);
  const auto L = cfg.at("max_position_embeddings").get<std::uint32_t>();
  w.kv_u32(p + "context_length", L);
  const auto hidden = cfg.at("hidden_size").get<std::uint32_t>();
  const auto heads = cfg.at("num_attention_heads").get<std::uint32_t>();
  w.kv_u32(p + "embedding_length", hidden);
  w.kv_u32(p + "attention.head_count", heads);
  std::uint32_t head_dim = hidden / heads;
  if (cfg.contains("head_dim") && cfg["head_dim"].is_number()) {
    head_dim = cfg["head_dim"].get<std::uint32_t>();
    w.kv_u32(p + "attention.key_length", head_dim);
  }
  std::uint32_t n_rot = head_dim;
  if (arch == "deepseek2") {
    n_rot = cfg.at("qk_rope_head_dim").get<std::uint32_t>();
    w.kv_u32(p + "attention.key_length", cfg.at("kv_lora_rank").get<std::uint32_t>() + n_rot);
  } else if (cfg.contains("partial_rotary_factor")) {
    n_rot = static_cast<std::uint32_t>(head_dim * cfg["partial_rotary_factor"].get<double>());
  } else if (cfg.contains("rotary_pct")) {
    n_rot = static_cast<std::uint32_t>(head_dim * cfg["rotary_pct"].get<double>());
  }
  w.kv_u32(p + "rope.dimension_count", n_rot);
  if (arch != "gptneox") w.kv_f32(p + "rope.freq_base", cfg.value("rope_theta", 10000.0f));

  // One big-ish weight first, so factor tensors sit at a non-zero offset (read by seek).
  w.tensor_raw("token_embd.weight", gguf_writer::ggml_f16, {64, 4},
               std::vector<unsigned char>(512, 0));

  nlohmann::json rs = cfg.value("rope_scaling", nlohmann::json());
  if (rs.is_null()) rs = cfg.value("rope_parameters", nlohmann::json());
  if (!rs.is_object()) return w;
  const std::string type = rs.value("rope_type", rs.value("type", std::string("default")));
  const double theta = cfg.value("rope_theta", 10000.0);
  if (type == "llama3") {
    const double factor = rs.value("factor", 8.0);
    const double low = rs.value("low_freq_factor", 1.0);
    const double high = rs.value("high_freq_factor", 4.0);
    const double l0 = cfg.value("original_max_position_embeddings", 8192.0);  // top level only
    std::vector<float> ff;
    for (std::uint32_t i = 0; i < n_rot; i += 2) {
      const double freq = 1.0 / std::pow(theta, static_cast<double>(i) / n_rot);
      const double wl = 2 * M_PI / freq;
      double f = 1.0;
      if (wl > l0 / low) {
        f = factor;
      } else if (wl >= l0 / high) {
        const double smooth = (l0 / wl - low) / (high - low);
        f = 1.0 / ((1 - smooth) / factor + smooth);
      }
      ff.push_back(static_cast<float>(f));
    }
    w.tensor_f32("rope_freqs.weight", ff);
  } else if (type == "linear") {
    w.kv_str(p + "rope.scaling.type", "linear");
    w.kv_f32(p + "rope.scaling.factor", rs.at("factor").get<float>());
  } else if (type == "yarn" && arch != "phi3") {
    w.kv_str(p + "rope.scaling.type", "yarn");
    w.kv_f32(p + "rope.scaling.factor", rs.at("factor").get<float>());
    w.kv_u32(p + "rope.scaling.original_context_length",
             rs.at("original_max_position_embeddings").get<std::uint32_t>());
    if (rs.contains("beta_fast"))
      w.kv_f32(p + "rope.scaling.yarn_beta_fast", rs["beta_fast"].get<float>());
    if (rs.contains("beta_slow"))
      w.kv_f32(p + "rope.scaling.yarn_beta_slow", rs["beta_slow"].get<float>());
    if (arch == "deepseek2" && rs.contains("mscale_all_dim")) {
      w.kv_f32(p + "rope.scaling.yarn_log_multiplier",
               static_cast<float>(0.1 * rs["mscale_all_dim"].get<double>()));
    }
  } else if (type == "longrope" || type == "su" || (type == "yarn" && arch == "phi3")) {
    const double l0 = cfg.at("original_max_position_embeddings").get<double>();
    std::vector<float> lf, sf;
    for (const auto& v : rs.at("long_factor")) lf.push_back(v.get<float>());
    for (const auto& v : rs.at("short_factor")) sf.push_back(v.get<float>());
    w.tensor_f32("rope_factors_long.weight", lf);
    w.tensor_f32("rope_factors_short.weight", sf);
    const double s = L / l0;
    w.kv_f32(p + "rope.scaling.attn_factor",
             static_cast<float>(s <= 1.0 ? 1.0 : std::sqrt(1 + std::log(s) / std::log(l0))));
    w.kv_u32(p + "rope.scaling.original_context_length", static_cast<std::uint32_t>(l0));
  }
  return w;
}

}  // namespace ropescale_test

#endif  // ROPESCALE_TESTS_SUPPORT_GGUF_CONVERTER_HPP
