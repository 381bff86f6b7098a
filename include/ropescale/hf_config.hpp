// SPDX-License-Identifier: Apache-2.0
// Hugging Face config.json → ropescale::method (docs/reference.md §2, compatibility target
// transformers v5). Finds the RoPE dict (text_config fallback, rope_parameters/rope_scaling
// aliases, per-layer-type dicts), resolves the type name and its aliases, applies HF v5's
// precedence for θ, the partial rotary factor, L and L0 plus ropescale's extensions
// (rotary_emb_base, rotary_pct, rotary_emb_fraction), checks the required keys and the value rules
// of §2.5, and constructs the method. Every error is a ropescale::invalid_parameter whose message
// is
// "<key path>: <expectation>, got <value>" with the path as it appears in the file
// ("rope_scaling.factor", "rope_parameters.full_attention.rope_theta", "text_config.head_dim").
// Non-fatal findings (unknown keys, factor != L/L0, llama3 L0 >= L, ...) come back as diagnostics.
#ifndef ROPESCALE_HF_CONFIG_HPP
#define ROPESCALE_HF_CONFIG_HPP

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include "ropescale/detail/file_io.hpp"
#include "ropescale/detail/json.hpp"
#include "ropescale/detail/throw.hpp"
#include "ropescale/method.hpp"
#include "ropescale/methods/clex.hpp"
#include "ropescale/types.hpp"

namespace ropescale {

/// Caller choices the config cannot express.
struct load_options {
  /// Layer type of a per-layer-type rope dict (HF v5, Gemma-3/4); default "full_attention".
  std::optional<std::string> layer_type;
  /// CLEX: checkpoint holding the ODE weights (a .safetensors file or a sharded index).
  std::optional<std::filesystem::path> weights;
  /// CLEX: use the checkpoint's stored inv_freq if present (owned by the CLEX loader).
  bool use_checkpoint_inv_freq = true;
};

/// What a config yields: the method, non-fatal diagnostics, L (0 when the config has none) and
/// the rotation layout the model's weights need (config.json: neox unless the model says
/// otherwise; GGUF: the pairing llama.cpp uses for the architecture).
struct loaded_config {
  ropescale::method method;
  std::vector<std::string> diagnostics;
  std::int64_t max_position_embeddings = 0;
  ropescale::layout layout = ropescale::layout::neox;
};

namespace detail {

/// Largest config file the loader reads (real config.json files are a few kB; docs/limits.md).
inline constexpr std::uint64_t max_config_file_bytes = std::uint64_t{16} << 20;
/// Deepest JSON nesting accepted when parsing text (real configs nest 3–4 levels).
inline constexpr int max_config_json_depth = 64;
/// Unknown rope-dict keys reported one by one (docs/limits.md); the rest are counted.
inline constexpr std::size_t max_unknown_key_diagnostics = 16;
/// Most JSON values in one config text (docs/limits.md): bounds the parsed tree's memory.
inline constexpr std::size_t max_config_json_values = std::size_t{1} << 20;

/// Where each resolved value came from, for error messages and diagnostics.
struct hf_rope_context {
  const nlohmann::json* root = nullptr;  // the object holding the model keys
  std::string root_prefix;               // "" or "text_config"
  const nlohmann::json* dict = nullptr;  // the rope dict (nullptr: none → default)
  std::string dict_path;                 // "rope_scaling", "rope_parameters.full_attention", ...
  std::string type;                      // resolved type name (after aliases)
  std::string type_path;                 // key path of the type name ("" when defaulted)
  std::string layer_type;                // selected layer type ("" when not per-layer)
  std::string model_type;                // model_type (text_config's, else the root's), or ""

  std::int64_t head_dim = 0;
  std::string head_dim_path;
  double rope_theta = 10000.0;
  std::string rope_theta_path;
  double partial_rotary_factor = 1.0;
  std::string partial_rotary_factor_path;
  std::optional<std::int64_t> max_position_embeddings;  // L
  std::string max_position_embeddings_path;

  std::vector<std::string> diagnostics;

  std::string top(std::string_view key) const { return join_key(root_prefix, key); }
  std::string in_dict(std::string_view key) const { return join_key(dict_path, key); }
  const nlohmann::json& dict_or_empty() const {
    static const nlohmann::json empty = nlohmann::json::object();
    return dict != nullptr ? *dict : empty;
  }
};

/// "rope_scaling: type 'llama3' requires key 'low_freq_factor'" (docs/reference.md §2.4).
[[noreturn]] inline void throw_missing_key(const hf_rope_context& c, std::string_view key,
                                           std::string_view alternative = {}) {
  std::string msg = "type '" + c.type + "' requires key '" + std::string(key) + "'";
  if (!alternative.empty()) msg += " or " + std::string(alternative);
  throw_message(c.dict_path.empty() ? c.top("rope_scaling") : c.dict_path, msg);
}

/// Rewrites a method constructor's error so its relative key ("factor", "rope_theta") becomes
/// the key path the value came from (used through an error_scope around the constructor).
inline void rewrite_with_path(error& e, const hf_rope_context& c, const std::string& l0_path,
                              const std::string& factor_path) {
  const std::string key = e.key;
  const std::string base = key.substr(0, key.find_first_of("[."));
  std::string path;
  if (base.empty() || base == "seq_len" || base == "policy") {
    return;
  } else if (base == "rope_theta") {
    path = c.rope_theta_path;
  } else if (base == "partial_rotary_factor") {
    path = c.partial_rotary_factor_path;
  } else if (base == "head_dim") {
    path = c.head_dim_path;
  } else if (base == "max_position_embeddings") {
    path = c.max_position_embeddings_path;
  } else if (base == "original_max_position_embeddings") {
    path = l0_path;
  } else if (base == "factor") {
    path = factor_path;
  } else {
    path = c.in_dict(base);
  }
  if (path.empty()) return;
  e = with_key(e, path + key.substr(base.size()));
}

/// Constructs M from its params, translating the constructor's keys into key paths.
template <class M>
inline ropescale::method make_hf_method(const typename M::params_type& p, hf_rope_context& c,
                                        const std::string& l0_path = {},
                                        const std::string& factor_path = {}) {
  const std::string& factor = factor_path.empty() ? c.in_dict("factor") : factor_path;
  const auto rewrite = [&](error& e) { rewrite_with_path(e, c, l0_path, factor); };
  const error_scope scope(rewrite);
  M m(p);
  for (auto& d : m.diagnostics()) c.diagnostics.push_back(std::move(d));
  return ropescale::method(std::move(m));
}

/// Records a diagnostic for every key of the rope dict that the type does not read: one per key
/// for the first max_unknown_key_diagnostics unknown keys, then one line counting the rest.
inline void note_unknown_keys(hf_rope_context& c, std::initializer_list<std::string_view> known) {
  if (c.dict == nullptr) return;
  std::size_t unknown = 0;
  for (auto it = c.dict->begin(); it != c.dict->end(); ++it) {
    const std::string& k = it.key();
    bool found =
        k == "rope_type" || k == "type" || k == "rope_theta" || k == "partial_rotary_factor";
    for (std::string_view kk : known) found = found || k == kk;
    if (found) continue;
    if (k == "original_max_position_embeddings") {
      c.diagnostics.push_back(c.in_dict(k) + ": ignored by type '" + c.type +
                              "' (only llama3, yarn and longrope use it)");
    } else if (k == "factor" && c.type == "default") {
      c.diagnostics.push_back(c.in_dict(k) + ": ignored by type 'default'");
    } else if (++unknown <= max_unknown_key_diagnostics) {
      c.diagnostics.push_back(join_key(c.dict_path, json_quote(k, max_echo_bytes)) +
                              ": unknown key for type '" + c.type + "', ignored");
    }
  }
  if (unknown > max_unknown_key_diagnostics) {
    c.diagnostics.push_back(c.dict_path + ": ... and " +
                            std::to_string(unknown - max_unknown_key_diagnostics) +
                            " more unknown keys for type '" + c.type + "', ignored");
  }
}

/// A factor key: finite number, required unless `optional` (absent or null → nullopt).
inline std::optional<double> dict_number(const hf_rope_context& c, std::string_view key) {
  return json_get_number(c.dict_or_empty(), key, c.dict_path);
}

inline double required_dict_number(const hf_rope_context& c, std::string_view key) {
  const auto v = dict_number(c, key);
  if (!v) throw_missing_key(c, key);
  return *v;
}

/// L0 for llama3, yarn and longrope (docs/reference.md §2.3): top-level
/// original_max_position_embeddings if non-null (overrides the dict), else the dict's, else L.
/// With model_type "phi3" (Phi3Config always has a top-level L0): the top-level value, else
/// 4096; the dict's value is never used. Returns the value and its key path, or nullopt when
/// none exists.
inline std::optional<std::pair<std::int64_t, std::string>> resolve_l0(hf_rope_context& c) {
  const std::string top_path = c.top("original_max_position_embeddings");
  const auto top = json_get_integer(*c.root, "original_max_position_embeddings", c.root_prefix);
  const auto in_dict =
      json_get_integer(c.dict_or_empty(), "original_max_position_embeddings", c.dict_path);
  std::optional<std::pair<std::int64_t, std::string>> out;
  if (top) {
    out = std::make_pair(*top, top_path);
  } else if (c.model_type == "phi3") {
    out = std::make_pair(std::int64_t{4096}, top_path);
    c.diagnostics.push_back(top_path + " absent: Phi3Config's default 4096 is L0");
  }
  if (out) {
    if (in_dict && *in_dict != out->first) {
      c.diagnostics.push_back(top_path + " (" + std::to_string(out->first) + ") overrides " +
                              c.in_dict("original_max_position_embeddings") + " (" +
                              std::to_string(*in_dict) + ")");
    }
    return out;
  }
  if (in_dict) return std::make_pair(*in_dict, c.in_dict("original_max_position_embeddings"));
  if (c.max_position_embeddings) {
    return std::make_pair(*c.max_position_embeddings, c.max_position_embeddings_path);
  }
  return std::nullopt;
}

/// Diagnostic when an explicit factor differs from L/L0 (docs/reference.md §3.5.6; HF warns once).
inline void note_factor_vs_ratio(hf_rope_context& c, double factor, std::int64_t l0) {
  if (!c.max_position_embeddings) return;
  const double ratio = static_cast<double>(*c.max_position_embeddings) / static_cast<double>(l0);
  if (ratio != 1.0 && factor != ratio) {
    c.diagnostics.push_back(c.in_dict("factor") + " = " + format_value(factor) +
                            " differs from max_position_embeddings / "
                            "original_max_position_embeddings = " +
                            std::to_string(*c.max_position_embeddings) + " / " +
                            std::to_string(l0) + " = " + format_value(ratio) +
                            "; the explicit factor is used (HF v5)");
  }
}

/// Fills the three fields every params struct has.
template <class P>
inline P common_params(const hf_rope_context& c) {
  P p;
  p.head_dim = c.head_dim;
  p.rope_theta = c.rope_theta;
  p.partial_rotary_factor = c.partial_rotary_factor;
  return p;
}

/// CLEX branch (docs/reference.md §2.4, §4.1): `max_factor` and top-level L required;
/// `param_factor` (1), `act` ("silu"), `time_dt` (0.01) optional; top-level `log_scale` (true);
/// `factor` is not read. The ODE weights come from load_options::weights (load_clex_weights: a
/// .safetensors file, a model.safetensors.index.json or a directory). Config values are checked
/// (with key paths) before the checkpoint is opened; checkpoint errors name the file and the
/// tensor.
inline ropescale::method load_hf_clex(hf_rope_context& c, const load_options& options) {
  auto p = common_params<clex_params>(c);
  const nlohmann::json& dict = c.dict_or_empty();
  const auto t_max = json_get_integer(dict, "max_factor", c.dict_path);
  if (!t_max) throw_missing_key(c, "max_factor");
  p.max_factor = *t_max;
  if (!c.max_position_embeddings) throw_missing_key(c, "max_position_embeddings (top-level)");
  p.max_position_embeddings = *c.max_position_embeddings;
  if (const auto pf = json_get_integer(dict, "param_factor", c.dict_path)) p.param_factor = *pf;
  if (const auto act = json_get_string(dict, "act", c.dict_path)) p.act = *act;
  if (const auto dt = json_get_number(dict, "time_dt", c.dict_path)) p.time_dt = *dt;
  if (const nlohmann::json* ls = json_member(*c.root, "log_scale")) {
    p.log_scale = json_to_bool(*ls, c.top("log_scale"));
  }
  {
    const std::string factor = c.in_dict("factor");
    const auto rewrite = [&](error& e) { rewrite_with_path(e, c, {}, factor); };
    const error_scope scope(rewrite);
    (void)clex<double>::validate_config(p);
  }
  if (!options.weights) {  // key "weights": callers (ropescale-compare) recognise this case
    throw_invalid("weights",
                  "type 'clex' needs the checkpoint's ODE weights (load_options::weights; "
                  "--weights FILE.safetensors on the command line)",
                  "none");
  }
  load_clex_weights(p, *options.weights, options.use_checkpoint_inv_freq);
  // Errors about tensor values (inv_freq vs rope_theta, ...) name the checkpoint.
  const auto name_checkpoint = [&](error& e) {
    e = make_parameter_error(
        e.key,
        e.message + " (checkpoint " + escape_text(options.weights->string(), max_echo_bytes) + ")");
  };
  const error_scope scope(name_checkpoint);
  clex<double> m(p);
  for (auto& d : m.diagnostics()) c.diagnostics.push_back(std::move(d));
  return ropescale::method(std::move(m));
}

// One builder per rope type (docs/reference.md §2.4): the type's required and optional keys, its
// diagnostics and its method, on a context whose θ, prf, L and H are resolved. The table below
// lists each type once (name, the dict keys it reads, builder); load_hf_method dispatches on it
// and supported_rope_types is derived from it, so a type is added in one place.

inline ropescale::method build_hf_default(hf_rope_context& c, const load_options&) {
  return make_hf_method<default_rope<double>>(common_params<default_rope_params>(c), c);
}

inline ropescale::method build_hf_linear(hf_rope_context& c, const load_options&) {
  auto p = common_params<linear_params>(c);
  p.factor = required_dict_number(c, "factor");
  return make_hf_method<linear<double>>(p, c);
}

inline ropescale::method build_hf_ntk(hf_rope_context& c, const load_options&) {
  const double s = required_dict_number(c, "factor");
  if (const nlohmann::json* mb = json_member(c.dict_or_empty(), "mixed_b")) {
    throw_invalid(
        c.in_dict("mixed_b"),
        "is not supported (vLLM's mixed-b NTK is a different method, docs/reference.md §3.3)",
        json_text(*mb));
  }
  auto p = common_params<ntk_params>(c);
  p.factor = s;
  return make_hf_method<ntk<double>>(p, c);
}

inline ropescale::method build_hf_dynamic(hf_rope_context& c, const load_options&) {
  auto p = common_params<dynamic_params>(c);
  p.factor = required_dict_number(c, "factor");
  if (!c.max_position_embeddings) {
    throw_message(c.dict_path, "type 'dynamic' requires top-level key 'max_position_embeddings'");
  }
  p.max_position_embeddings = *c.max_position_embeddings;
  return make_hf_method<dynamic<double>>(p, c);
}

inline ropescale::method build_hf_yarn(hf_rope_context& c, const load_options&) {
  auto p = common_params<yarn_params>(c);
  const nlohmann::json& dict = c.dict_or_empty();
  if (!json_has_key(dict, "factor")) throw_missing_key(c, "factor");
  const auto l0 = resolve_l0(c);
  if (!l0) {
    throw_missing_key(c, "original_max_position_embeddings", "top-level 'max_position_embeddings'");
  }
  p.original_max_position_embeddings = l0->first;
  if (const auto s = dict_number(c, "factor")) {
    p.factor = *s;
    note_factor_vs_ratio(c, *s, l0->first);
  } else {  // factor: null → L/L0 (docs/reference.md §2.4, §3.5.6)
    if (!c.max_position_embeddings) {
      throw_invalid(c.in_dict("factor"),
                    "null means max_position_embeddings / original_max_position_embeddings, "
                    "which needs top-level max_position_embeddings",
                    "null");
    }
    const double ratio =
        static_cast<double>(*c.max_position_embeddings) / static_cast<double>(l0->first);
    if (!(ratio >= 1.0)) {
      throw_invalid(c.in_dict("factor"),
                    "null means max_position_embeddings / original_max_position_embeddings, "
                    "which must be >= 1",
                    "null (" + std::to_string(*c.max_position_embeddings) + " / " +
                        std::to_string(l0->first) + " = " + format_value(ratio) + ")");
    }
    p.factor = ratio;
  }
  p.attention_factor = dict_number(c, "attention_factor");
  // Betas: 0, null and absent all mean the default (HF: `get(...) or default`).
  if (const auto b = dict_number(c, "beta_fast"); b && *b != 0.0) p.beta_fast = *b;
  if (const auto b = dict_number(c, "beta_slow"); b && *b != 0.0) p.beta_slow = *b;
  // mscale pair: 0 and null mean unset.
  if (const auto m = dict_number(c, "mscale"); m && *m != 0.0) p.mscale = *m;
  if (const auto m = dict_number(c, "mscale_all_dim"); m && *m != 0.0) p.mscale_all_dim = *m;
  if (p.mscale && !p.mscale_all_dim && !p.attention_factor && *p.mscale >= 0.0) {
    c.diagnostics.push_back(c.in_dict("mscale") +
                            " without mscale_all_dim is ignored (HF v5, docs/reference.md §3.5.4)");
  }
  // truncate: absent → true; null → false (HF truthiness); else a boolean.
  if (json_has_key(dict, "truncate")) {
    const nlohmann::json& tr = dict.at("truncate");
    p.truncate = tr.is_null() ? false : json_to_bool(tr, c.in_dict("truncate"));
  }
  return make_hf_method<yarn<double>>(p, c, l0->second);
}

inline ropescale::method build_hf_longrope(hf_rope_context& c, const load_options&) {
  auto p = common_params<longrope_params>(c);
  const nlohmann::json& dict = c.dict_or_empty();
  for (const char* key : {"short_factor", "long_factor"}) {
    const nlohmann::json* v = json_member(dict, key);
    if (v == nullptr) throw_missing_key(c, key);
    auto values = json_to_number_array(*v, c.in_dict(key));
    (std::string_view(key) == "short_factor" ? p.short_factor : p.long_factor) = std::move(values);
  }
  const auto l0 = resolve_l0(c);
  if (!l0) {
    throw_missing_key(c, "original_max_position_embeddings", "top-level 'max_position_embeddings'");
  }
  p.original_max_position_embeddings = l0->first;
  p.factor = dict_number(c, "factor");
  p.attention_factor = dict_number(c, "attention_factor");
  if (c.max_position_embeddings) {
    p.max_position_embeddings = *c.max_position_embeddings;
  } else if (!p.factor) {
    throw_missing_key(c, "factor", "top-level 'max_position_embeddings' (factor = L/L0)");
  } else {
    p.max_position_embeddings = l0->first;  // only read for factor = L/L0, which is given
  }
  if (p.factor) note_factor_vs_ratio(c, *p.factor, l0->first);
  return make_hf_method<longrope<double>>(p, c, l0->second);
}

inline ropescale::method build_hf_llama3(hf_rope_context& c, const load_options&) {
  auto p = common_params<llama3_params>(c);
  p.factor = required_dict_number(c, "factor");
  p.low_freq_factor = required_dict_number(c, "low_freq_factor");
  p.high_freq_factor = required_dict_number(c, "high_freq_factor");
  const auto l0 = resolve_l0(c);
  if (!l0) {
    throw_missing_key(c, "original_max_position_embeddings", "top-level 'max_position_embeddings'");
  }
  p.original_max_position_embeddings = l0->first;
  if (p.low_freq_factor == p.high_freq_factor && p.low_freq_factor > 0) {
    c.diagnostics.push_back(c.in_dict("low_freq_factor") + " == " + c.in_dict("high_freq_factor") +
                            ": HF computes 0/0 for a pair with wavelength exactly L0/a; "
                            "ropescale uses g = 0 there (docs/reference.md §3.7)");
  }
  // HF warns when L0 >= L (including L0 defaulted to L): there is nothing to extend.
  if (c.max_position_embeddings && l0->first >= *c.max_position_embeddings) {
    c.diagnostics.push_back(l0->second + " (" + std::to_string(l0->first) +
                            ") >= max_position_embeddings (" +
                            std::to_string(*c.max_position_embeddings) +
                            "): llama3 scaling has no room to extend (HF warns)");
  }
  return make_hf_method<llama3<double>>(p, c, l0->second);
}

inline ropescale::method build_hf_proportional(hf_rope_context& c, const load_options&) {
  auto p = common_params<proportional_params>(c);
  if (const auto s = dict_number(c, "factor")) p.factor = *s;
  return make_hf_method<proportional<double>>(p, c);
}

/// One supported rope type: its name, the rope-dict keys it reads (besides rope_type, type,
/// rope_theta and partial_rotary_factor, which every type reads), and its builder.
struct hf_rope_type {
  const char* name;
  std::initializer_list<std::string_view> known_keys;
  ropescale::method (*build)(hf_rope_context&, const load_options&);
};

/// The supported types (docs/reference.md §2.2), in the order error messages list them.
inline const hf_rope_type hf_rope_types[] = {
    {"default", {}, build_hf_default},
    {"linear", {"factor"}, build_hf_linear},
    {"ntk", {"factor"}, build_hf_ntk},
    {"dynamic", {"factor"}, build_hf_dynamic},
    {"yarn",
     {"factor", "attention_factor", "beta_fast", "beta_slow", "mscale", "mscale_all_dim",
      "truncate", "original_max_position_embeddings"},
     build_hf_yarn},
    {"longrope",
     {"short_factor", "long_factor", "factor", "attention_factor",
      "original_max_position_embeddings"},
     build_hf_longrope},
    {"llama3",
     {"factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"},
     build_hf_llama3},
    {"proportional", {"factor"}, build_hf_proportional},
    {"clex", {"max_factor", "param_factor", "act", "time_dt", "factor"}, load_hf_clex},
};

template <std::size_t... I>
std::array<const char*, sizeof...(I)> hf_rope_type_names(std::index_sequence<I...>) {
  return {{hf_rope_types[I].name...}};
}

/// Names of the supported types, from hf_rope_types.
inline const auto supported_rope_types =
    hf_rope_type_names(std::make_index_sequence<std::extent_v<decltype(hf_rope_types)>>{});

/// The table entry of `name`, or nullptr.
inline const hf_rope_type* find_hf_rope_type(std::string_view name) {
  for (const hf_rope_type& t : hf_rope_types) {
    if (name == t.name) return &t;
  }
  return nullptr;
}

/// The per-type part of §2.3–§2.5 on a resolved context: unknown-key diagnostics, then the type's
/// builder. The type must be supported (resolve_type checked it).
inline ropescale::method load_hf_method(hf_rope_context& c, const load_options& options) {
  const hf_rope_type* t = find_hf_rope_type(c.type);
  note_unknown_keys(c, t->known_keys);
  return t->build(c, options);
}

/// The rotation layout HF's model class uses (docs/reference.md §1.3): DeepSeek-V2/V3 rotate
/// de-interleaved unless `rope_interleave` is false; every other model NeoX.
inline layout hf_layout(const nlohmann::json& root, const std::string& model_type) {
  if (model_type == "deepseek_v3" || model_type == "deepseek_v2") {
    const nlohmann::json* ri = json_member(root, "rope_interleave");
    if (ri == nullptr || !ri->is_boolean() || ri->get<bool>()) return layout::deinterleaved;
  }
  return layout::neox;
}

/// Parses config text (detail::parse_json_text with the config caps); malformed text throws
/// invalid_parameter naming `what` (a file path or "config") and nlohmann's position ("line 3,
/// column 7").
inline nlohmann::json parse_config_text(std::string_view text, const std::string& what) {
  return parse_json_text(text, what, {max_config_json_depth, max_config_json_values});
}

}  // namespace detail

namespace detail {

// The standardisation steps of load_hf_config (docs/reference.md §2), in the order they run. Each
// reads the config through the context and records what it resolved (value and key path).

/// §2.1.1: the object holding the model keys: the root, or `text_config` for multimodal
/// wrappers (none of rope_parameters, rope_scaling, rope_theta at the root).
inline void select_root(const nlohmann::json& config, hf_rope_context& c) {
  c.root = &config;
  if (json_member(config, "rope_parameters") == nullptr &&
      json_member(config, "rope_scaling") == nullptr &&
      json_member(config, "rope_theta") == nullptr) {
    if (const nlohmann::json* tc = json_member(config, "text_config"); tc && tc->is_object()) {
      c.root = tc;
      c.root_prefix = "text_config";
    }
  }
}

/// §2.1.2–§2.1.3: rope_parameters / rope_scaling (aliases), then the per-layer-type entry.
inline void select_rope_dict(hf_rope_context& c, const load_options& options) {
  const nlohmann::json& root = *c.root;
  // §2.1.2 rope_parameters (v5) / rope_scaling (older name).
  const nlohmann::json* rp = json_member(root, "rope_parameters");
  const nlohmann::json* rs = json_member(root, "rope_scaling");
  if (rp && rs && *rp != *rs) {
    throw_invalid(c.top("rope_parameters"),
                  "is ambiguous: rope_parameters and rope_scaling are both set and differ "
                  "(rope_scaling = " +
                      json_text(*rs) + ")",
                  json_text(*rp));
  }
  const nlohmann::json* dict = rp ? rp : rs;
  if (dict != nullptr) {
    c.dict_path = c.top(rp ? "rope_parameters" : "rope_scaling");
    if (!dict->is_object()) throw_invalid(c.dict_path, "must be a JSON object", json_text(*dict));
    if (dict->empty()) dict = nullptr;  // {} → default
  }

  // §2.1.3 per-layer-type form.
  if (dict != nullptr && !json_has_key(*dict, "rope_type") && !json_has_key(*dict, "type")) {
    bool all_objects = true;
    for (const auto& v : *dict) all_objects = all_objects && v.is_object();
    if (all_objects) {
      std::string keys;  // the first few, then how many in all (the list is echoed input)
      std::size_t listed = 0;
      for (auto it = dict->begin(); it != dict->end() && listed < 8; ++it, ++listed) {
        keys += (keys.empty() ? "" : ", ") + json_quote(it.key(), max_echo_bytes);
      }
      if (dict->size() > listed) keys += ", ... (" + std::to_string(dict->size()) + " in all)";
      const std::string want = options.layer_type.value_or("full_attention");
      const auto it = dict->find(want);
      if (it == dict->end()) {
        if (options.layer_type) {
          throw_invalid(c.dict_path,
                        "has no entry for layer type " + json_quote(want, max_echo_bytes) +
                            " (available: " + keys + ")",
                        json_text(*dict));
        }
        throw_message(c.dict_path,
                      "per-layer-type rope parameters without a \"full_attention\" "
                      "entry: select a layer type (load_options::layer_type) among " +
                          keys);
      }
      c.layer_type = want;
      c.dict_path = join_key(c.dict_path, want);
      dict = &*it;
      if (dict->empty()) dict = nullptr;
    } else if (options.layer_type) {
      c.diagnostics.push_back("layer_type " + json_quote(*options.layer_type, max_echo_bytes) +
                              " ignored: " + c.dict_path + " is not a per-layer-type dict");
    }
  } else if (options.layer_type) {
    c.diagnostics.push_back("layer_type " + json_quote(*options.layer_type, max_echo_bytes) +
                            " ignored: the config has no per-layer-type rope dict");
  }
  c.dict = dict;
}

/// §2.2: type name (rope_type, else type, else "default"), model_type, aliases renamed before
/// §2.3, and the check against the supported types.
inline void resolve_type(const nlohmann::json& config, hf_rope_context& c) {
  const nlohmann::json* dict = c.dict;
  const nlohmann::json& root = *c.root;
  c.type = "default";
  if (dict != nullptr) {
    const nlohmann::json* rt = json_member(*dict, "rope_type");
    const nlohmann::json* lt = json_member(*dict, "type");
    if (rt != nullptr) {
      c.type_path = c.in_dict("rope_type");
      c.type = json_to_string(*rt, c.type_path);
      if (lt != nullptr && *lt != *rt) {
        c.diagnostics.push_back(c.in_dict("type") + " = " + json_text(*lt) +
                                " ignored: " + c.type_path + " = " + json_text(*rt) + " wins (HF)");
      }
    } else if (lt != nullptr) {
      c.type_path = c.in_dict("type");
      c.type = json_to_string(*lt, c.type_path);
    }
  }
  const std::string as_written = c.type;
  if (const nlohmann::json* mt = json_member(root, "model_type"); mt && mt->is_string()) {
    c.model_type = mt->get<std::string>();
  } else if (const nlohmann::json* mt0 = json_member(config, "model_type");
             mt0 && mt0->is_string()) {
    c.model_type = mt0->get<std::string>();
  }
  if (c.type == "su") c.type = "longrope";
  if (c.type == "yarn" && c.model_type == "phi3") c.type = "longrope";
  if (c.type == "mrope") c.type = "default";
  if (c.type != as_written) {
    c.diagnostics.push_back(c.type_path + " " + json_quote(as_written, max_echo_bytes) +
                            " read as " + json_quote(c.type, max_echo_bytes) + " (legacy alias)");
  }
  bool supported = false;
  std::string supported_list;
  for (const char* s : supported_rope_types) {
    supported = supported || c.type == s;
    supported_list += (supported_list.empty() ? "" : ", ") + std::string(s);
  }
  if (!supported) {
    throw_invalid(c.type_path, "must be one of " + supported_list,
                  json_quote(as_written, max_echo_bytes));
  }
}

/// A place a value may come from: an object, the key path of that object, a key.
struct key_source {
  const nlohmann::json* obj;
  std::string_view prefix;
  std::string_view key;
};

/// The first source whose key is present and not null, read with `get` (json_get_number or
/// json_get_integer), with its key path; nullopt when none is.
template <class T>
inline std::optional<std::pair<T, std::string>> first_present(
    std::initializer_list<key_source> chain,
    std::optional<T> (*get)(const nlohmann::json&, std::string_view, std::string_view)) {
  for (const key_source& s : chain) {
    if (s.obj == nullptr) continue;
    if (const std::optional<T> v = get(*s.obj, s.key, s.prefix)) {
      return std::make_pair(*v, join_key(s.prefix, s.key));
    }
  }
  return std::nullopt;
}

/// §2.3 θ: dict rope_theta, else top-level rope_theta, else rotary_emb_base, else 10000.
inline void resolve_theta(hf_rope_context& c) {
  const auto v = first_present<double>({{&c.dict_or_empty(), c.dict_path, "rope_theta"},
                                        {c.root, c.root_prefix, "rope_theta"},
                                        {c.root, c.root_prefix, "rotary_emb_base"}},
                                       json_get_number);
  c.rope_theta = v ? v->first : 10000.0;
  c.rope_theta_path = v ? v->second : c.top("rope_theta");
}

/// §2.3 prf: top-level (overrides the dict), else the dict's, else rotary_pct /
/// rotary_emb_fraction, else 1. Type default (HF v5 quirk): the dict's value wins when both are
/// set (the per-model default body reads the dict, where the top-level value is filled in only
/// when the dict lacks it).
inline void resolve_partial_rotary_factor(hf_rope_context& c) {
  const key_source top{c.root, c.root_prefix, "partial_rotary_factor"};
  const key_source in_dict{&c.dict_or_empty(), c.dict_path, "partial_rotary_factor"};
  const bool dict_first = c.type == "default";
  const auto v = first_present<double>({dict_first ? in_dict : top,
                                        dict_first ? top : in_dict,
                                        {c.root, c.root_prefix, "rotary_pct"},
                                        {c.root, c.root_prefix, "rotary_emb_fraction"}},
                                       json_get_number);
  c.partial_rotary_factor = v ? v->first : 1.0;
  c.partial_rotary_factor_path = v ? v->second : c.top("partial_rotary_factor");
  const auto a = json_get_number(*c.root, "partial_rotary_factor", c.root_prefix);
  const auto b = json_get_number(c.dict_or_empty(), "partial_rotary_factor", c.dict_path);
  if (a && b && *a != *b) {
    const double loser = dict_first ? *a : *b;
    c.diagnostics.push_back(
        c.partial_rotary_factor_path + " (" + format_value(c.partial_rotary_factor) +
        ") overrides " +
        (dict_first ? c.top("partial_rotary_factor") : c.in_dict("partial_rotary_factor")) + " (" +
        format_value(loser) + ")" +
        (dict_first ? " (type default: HF v5 reads the rope dict)" : ""));
  }
}

/// §2.3 L: top-level max_position_embeddings only.
inline void resolve_max_position_embeddings(hf_rope_context& c) {
  c.max_position_embeddings_path = c.top("max_position_embeddings");
  c.max_position_embeddings = json_get_integer(*c.root, "max_position_embeddings", c.root_prefix);
}

/// §1.1 H: Gemma-4 global_head_dim (full-attention layer), else qk_rope_head_dim (MLA), else
/// head_dim (null = absent), else hidden_size / num_attention_heads (floor division).
inline void resolve_head_dim(hf_rope_context& c) {
  const key_source none{nullptr, {}, {}};
  const auto h = first_present<std::int64_t>(
      {c.layer_type == "full_attention" ? key_source{c.root, c.root_prefix, "global_head_dim"}
                                        : none,
       {c.root, c.root_prefix, "qk_rope_head_dim"},
       {c.root, c.root_prefix, "head_dim"}},
      json_get_integer);
  if (h) {
    c.head_dim = h->first;
    c.head_dim_path = h->second;
    return;
  }
  const nlohmann::json& root = *c.root;
  const auto hidden = json_get_integer(root, "hidden_size", c.root_prefix);
  const auto heads = json_get_integer(root, "num_attention_heads", c.root_prefix);
  if (!hidden || !heads) {
    throw_message(c.top("head_dim"),
                  "missing: the config needs head_dim, or hidden_size and "
                  "num_attention_heads" +
                      std::string(hidden ? "" : " (hidden_size absent)") +
                      std::string(heads ? "" : " (num_attention_heads absent)"));
  }
  if (*hidden / *heads < 1) {
    throw_invalid(c.top("hidden_size"), "hidden_size / num_attention_heads must be >= 1",
                  std::to_string(*hidden) + " / " + std::to_string(*heads));
  }
  c.head_dim = *hidden / *heads;
  c.head_dim_path = c.top("head_dim");
}

}  // namespace detail

/// Builds the method a Hugging Face config.json describes (docs/reference.md §2): §2.1 locating
/// the rope dict, §2.2 type name and aliases, §2.3 precedence, §2.4 required keys, §2.5 value
/// rules, one named step each (detail::select_root … detail::load_hf_method).
/// Returns the method (Real = double), the non-fatal diagnostics, L (0 if absent) and the layout.
/// Throws invalid_parameter "<key path>: <expectation>, got <value>" on any violation.
inline loaded_config load_hf_config(const nlohmann::json& config,
                                    const load_options& options = {}) {
  using namespace detail;
  if (!config.is_object()) throw_invalid("config", "must be a JSON object", json_text(config));
  hf_rope_context c;
  select_root(config, c);
  select_rope_dict(c, options);
  resolve_type(config, c);
  resolve_theta(c);
  resolve_partial_rotary_factor(c);
  resolve_max_position_embeddings(c);
  resolve_head_dim(c);
  if (options.weights && c.type != "clex") {
    c.diagnostics.push_back("weights ignored: type '" + c.type + "' reads no checkpoint tensors");
  }
  loaded_config out{load_hf_method(c, options),
                    {},
                    c.max_position_embeddings.value_or(0),
                    hf_layout(*c.root, c.model_type)};
  out.diagnostics = std::move(c.diagnostics);
  return out;
}

/// Parses JSON text and loads it (see load_hf_config). Malformed JSON throws invalid_parameter
/// "config: malformed JSON: parse error at line L, column C: ...".
inline loaded_config load_hf_config_string(std::string_view json_text,
                                           const load_options& options = {}) {
  return load_hf_config(detail::parse_config_text(json_text, "config"), options);
}

/// Reads and loads a config.json file. An unreadable file, a directory or a non-regular file
/// throws invalid_parameter naming the path; malformed JSON names the path and the position.
inline loaded_config load_hf_config_file(const std::filesystem::path& path,
                                         const load_options& options = {}) {
  const std::string name = path.string();
  const std::string text = detail::input_file::open(path, "config file")
                               .read_all(detail::max_config_file_bytes, "16 MiB (docs/limits.md)");
  return load_hf_config(detail::parse_config_text(text, name), options);
}

}  // namespace ropescale

#endif  // ROPESCALE_HF_CONFIG_HPP
