// SPDX-License-Identifier: Apache-2.0
// The method contract (docs/reference.md §1.4) and a type-erased method value. is_rope_method<M> is
// a C++17 detection trait (plus the concept ropescale::rope_method under __cpp_concepts) checking
// the members every method class provides; ropescale::method wraps a std::variant of the double
// instantiations of the closed-form methods plus erased_method (any other method class, e.g.
// CLEX, behind a small virtual interface) and forwards every member through std::visit. Core
// layer: this header needs no Eigen or JSON header; methods/clex.hpp (full layer) plugs CLEX in
// through erased_method.
#ifndef ROPESCALE_METHOD_HPP
#define ROPESCALE_METHOD_HPP

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
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

namespace ropescale {

namespace detail {

template <class M, class = void>
struct is_rope_method_impl : std::false_type {};

template <class M>
struct is_rope_method_impl<
    M,
    std::void_t<
        typename M::params_type, typename M::real_type, decltype(M::type_name),
        decltype(M::depends_on_seq_len),
        decltype(M(std::declval<const typename M::params_type&>())),
        decltype(std::declval<const M&>().params()), decltype(std::declval<const M&>().head_dim()),
        decltype(std::declval<const M&>().rotary_dim()), decltype(std::declval<const M&>().pairs()),
        decltype(std::declval<const M&>().inv_freq()),
        decltype(std::declval<const M&>().inv_freq(std::optional<std::int64_t>{})),
        decltype(std::declval<const M&>().attention_factor()),
        decltype(std::declval<const M&>().attention_factor(std::optional<std::int64_t>{})),
        decltype(std::declval<const M&>().inv_freq_hf_f32()),
        decltype(std::declval<const M&>().inv_freq_hf_f32(std::optional<std::int64_t>{})),
        decltype(std::declval<const M&>().softmax_scale_multiplier()),
        decltype(std::declval<const M&>().query_scale(std::int64_t{1})),
        decltype(std::declval<const M&>().diagnostics())>>
    : std::bool_constant<
          std::is_same_v<std::decay_t<decltype(M::type_name)>, const char*> &&
          std::is_same_v<std::decay_t<decltype(M::depends_on_seq_len)>, bool> &&
          std::is_same_v<decltype(std::declval<const M&>().params()),
                         const typename M::params_type&> &&
          std::is_same_v<decltype(std::declval<const M&>().head_dim()), std::int64_t> &&
          std::is_same_v<decltype(std::declval<const M&>().rotary_dim()), std::int64_t> &&
          std::is_same_v<decltype(std::declval<const M&>().pairs()), std::int64_t> &&
          std::is_same_v<decltype(std::declval<const M&>().inv_freq()),
                         std::vector<typename M::real_type>> &&
          std::is_same_v<decltype(std::declval<const M&>().attention_factor()),
                         typename M::real_type> &&
          std::is_same_v<decltype(std::declval<const M&>().inv_freq_hf_f32()),
                         std::vector<float>> &&
          std::is_same_v<decltype(std::declval<const M&>().softmax_scale_multiplier()), double> &&
          std::is_same_v<decltype(std::declval<const M&>().query_scale(std::int64_t{1})), double> &&
          std::is_same_v<decltype(std::declval<const M&>().diagnostics()),
                         std::vector<std::string>>> {};

/// A method whose name or S-dependence is decided per object (ggml_rope) provides
/// rope_type_name() and seq_len_dependent(); the others use their static type_name and
/// depends_on_seq_len.
template <class M, class = void>
struct has_runtime_name : std::false_type {};
template <class M>
struct has_runtime_name<M, std::void_t<decltype(std::declval<const M&>().rope_type_name()),
                                       decltype(std::declval<const M&>().seq_len_dependent())>>
    : std::true_type {};

template <class M>
std::string_view rope_type_of(const M& m) noexcept {
  if constexpr (has_runtime_name<M>::value) {
    return m.rope_type_name();
  } else {
    return M::type_name;
  }
}

template <class M>
bool depends_on_seq_len_of(const M& m) noexcept {
  if constexpr (has_runtime_name<M>::value) {
    return m.seq_len_dependent();
  } else {
    return M::depends_on_seq_len;
  }
}

template <class T, class Variant>
struct is_variant_alternative : std::false_type {};
template <class T, class... Ts>
struct is_variant_alternative<T, std::variant<Ts...>>
    : std::bool_constant<(std::is_same_v<T, Ts> || ...)> {};

}  // namespace detail

/// True iff M satisfies the method contract (docs/reference.md §1.4; docs/api.md): params_type,
/// real_type, type_name, depends_on_seq_len, a constructor from params, params(), head_dim(),
/// rotary_dim(), pairs(), inv_freq([S]), attention_factor([S]), inv_freq_hf_f32([S]),
/// softmax_scale_multiplier(), query_scale(S), diagnostics() with the documented types.
template <class M>
struct is_rope_method : detail::is_rope_method_impl<M> {};

/// is_rope_method<M>::value.
template <class M>
inline constexpr bool is_rope_method_v = is_rope_method<M>::value;

#if defined(__cpp_concepts)
#if __cpp_concepts >= 201907L
/// The method contract as a C++20 concept.
template <class M>
concept rope_method = is_rope_method_v<M>;
#endif
#endif

namespace detail {

/// One object per type: its address identifies M without RTTI.
template <class M>
struct method_type_tag {
  static constexpr char id = 0;
};

/// The virtual interface behind erased_method (the members of the contract, in double).
class method_interface {
 public:
  method_interface() = default;
  method_interface(const method_interface&) = delete;
  method_interface& operator=(const method_interface&) = delete;
  virtual ~method_interface() = default;
  virtual const void* type_id() const noexcept = 0;
  virtual const void* object() const noexcept = 0;
  virtual std::string_view rope_type_name() const noexcept = 0;
  virtual bool seq_len_dependent() const noexcept = 0;
  virtual const rope_base_params& params() const noexcept = 0;
  virtual std::int64_t head_dim() const noexcept = 0;
  virtual std::int64_t rotary_dim() const noexcept = 0;
  virtual std::int64_t pairs() const noexcept = 0;
  virtual std::vector<double> inv_freq(std::optional<std::int64_t> seq_len) const = 0;
  virtual double attention_factor(std::optional<std::int64_t> seq_len) const = 0;
  virtual std::vector<float> inv_freq_hf_f32(std::optional<std::int64_t> seq_len) const = 0;
  virtual double softmax_scale_multiplier() const noexcept = 0;
  virtual double query_scale(std::int64_t seq_len) const = 0;
  virtual std::vector<std::string> diagnostics() const = 0;
};

template <class M>
class method_model final : public method_interface {
 public:
  explicit method_model(M m) : m_(std::move(m)) {}
  const void* type_id() const noexcept override { return &method_type_tag<M>::id; }
  const void* object() const noexcept override { return &m_; }
  std::string_view rope_type_name() const noexcept override { return rope_type_of(m_); }
  bool seq_len_dependent() const noexcept override { return depends_on_seq_len_of(m_); }
  const rope_base_params& params() const noexcept override { return m_.params(); }
  std::int64_t head_dim() const noexcept override { return m_.head_dim(); }
  std::int64_t rotary_dim() const noexcept override { return m_.rotary_dim(); }
  std::int64_t pairs() const noexcept override { return m_.pairs(); }
  std::vector<double> inv_freq(std::optional<std::int64_t> seq_len) const override {
    return m_.inv_freq(seq_len);
  }
  double attention_factor(std::optional<std::int64_t> seq_len) const override {
    return m_.attention_factor(seq_len);
  }
  std::vector<float> inv_freq_hf_f32(std::optional<std::int64_t> seq_len) const override {
    return m_.inv_freq_hf_f32(seq_len);
  }
  double softmax_scale_multiplier() const noexcept override {
    return m_.softmax_scale_multiplier();
  }
  double query_scale(std::int64_t seq_len) const override { return m_.query_scale(seq_len); }
  std::vector<std::string> diagnostics() const override { return m_.diagnostics(); }

 private:
  M m_;
};

}  // namespace detail

/// True for a method class that ropescale::method holds through erased_method: it satisfies the
/// contract with real_type double and its params derive from rope_base_params.
template <class M>
inline constexpr bool is_erasable_method_v = [] {
  if constexpr (is_rope_method_v<M>) {
    return std::is_same_v<typename M::real_type, double> &&
           std::is_base_of_v<rope_base_params, typename M::params_type>;
  } else {
    return false;
  }
}();

/// A method whose class is not one of the closed-form alternatives of method_variant — CLEX
/// (methods/clex.hpp, full layer) or an engine's own method class — held behind a small virtual
/// interface, so method.hpp needs no header of those classes (and no Eigen or JSON). It offers
/// the members of the contract in double (rope_type_name() and seq_len_dependent() instead of the
/// static type_name and depends_on_seq_len), params() as the rope_base_params part, and
/// get_if<M>() for the concrete object. Copies share the (immutable) wrapped object.
class erased_method {
 public:
  template <class M, std::enable_if_t<is_erasable_method_v<std::decay_t<M>> &&
                                          !std::is_same_v<std::decay_t<M>, erased_method>,
                                      int> = 0>
  explicit erased_method(M&& m)
      : p_(std::make_shared<const detail::method_model<std::decay_t<M>>>(std::forward<M>(m))) {}

  /// The wrapped object if it is an M, else nullptr.
  template <class M>
  const M* get_if() const noexcept {
    return p_->type_id() == &detail::method_type_tag<M>::id ? static_cast<const M*>(p_->object())
                                                            : nullptr;
  }
  std::string_view rope_type_name() const noexcept { return p_->rope_type_name(); }
  bool seq_len_dependent() const noexcept { return p_->seq_len_dependent(); }
  const rope_base_params& params() const noexcept { return p_->params(); }
  std::int64_t head_dim() const noexcept { return p_->head_dim(); }
  std::int64_t rotary_dim() const noexcept { return p_->rotary_dim(); }
  std::int64_t pairs() const noexcept { return p_->pairs(); }
  std::vector<double> inv_freq(std::optional<std::int64_t> seq_len = std::nullopt) const {
    return p_->inv_freq(seq_len);
  }
  double attention_factor(std::optional<std::int64_t> seq_len = std::nullopt) const {
    return p_->attention_factor(seq_len);
  }
  std::vector<float> inv_freq_hf_f32(std::optional<std::int64_t> seq_len = std::nullopt) const {
    return p_->inv_freq_hf_f32(seq_len);
  }
  double softmax_scale_multiplier() const noexcept { return p_->softmax_scale_multiplier(); }
  double query_scale(std::int64_t seq_len) const { return p_->query_scale(seq_len); }
  std::vector<std::string> diagnostics() const { return p_->diagnostics(); }

 private:
  std::shared_ptr<const detail::method_interface> p_;
};

/// The alternatives of ropescale::method: the closed-form methods (double instantiations; add a
/// closed-form method here) and erased_method for every other method class (CLEX).
using method_variant = std::variant<default_rope<double>, linear<double>, ntk<double>,
                                    dynamic<double>, yarn<double>, longrope<double>, llama3<double>,
                                    proportional<double>, ggml_rope<double>, erased_method>;

namespace detail {
template <class Variant>
struct all_rope_methods;
template <class... Ms>
struct all_rope_methods<std::variant<Ms...>> : std::bool_constant<(is_rope_method_v<Ms> && ...)> {};
static_assert(
    all_rope_methods<std::variant<default_rope<double>, linear<double>, ntk<double>,
                                  dynamic<double>, yarn<double>, longrope<double>, llama3<double>,
                                  proportional<double>, ggml_rope<double>>>::value,
    "every closed-form alternative of ropescale::method_variant satisfies the contract");
static_assert(is_rope_method_v<default_rope<float>> && is_rope_method_v<yarn<long double>>,
              "float and long double instantiations satisfy the contract");
}  // namespace detail

/// A method of any type, chosen at run time (e.g. by the config loader), with the members of the
/// contract in double. A value type: copyable, movable; const members are thread-safe.
class method {
 public:
  /// Wraps any alternative of method_variant (e.g. `method m = yarn<>(params);`).
  template <class M,
            std::enable_if_t<detail::is_variant_alternative<std::decay_t<M>, method_variant>::value,
                             int> = 0>
  method(M&& m)  // NOLINT(google-explicit-constructor): implicit by design
      : v_(std::forward<M>(m)) {}

  /// Wraps any other method class (e.g. `method m = clex<>(params);`) in an erased_method.
  template <class M, std::enable_if_t<
                         !detail::is_variant_alternative<std::decay_t<M>, method_variant>::value &&
                             is_erasable_method_v<std::decay_t<M>>,
                         int> = 0>
  method(M&& m)  // NOLINT(google-explicit-constructor): implicit by design
      : v_(erased_method(std::forward<M>(m))) {
#if defined(__GNUC__) && !defined(__clang__)
    // g++ 12 -O2 cannot prune std::visit's other branches after seeing this small alternative
    // stored, and warns maybe-uninitialized on their reads; an empty asm that may write v_ ends
    // that.
    __asm__("" : : "r"(&v_) : "memory");
#endif
  }

  // The noexcept getters below call std::visit, which throws only on a valueless variant (an
  // assignment that threw midway); terminating then is intended.
  // NOLINTBEGIN(bugprone-exception-escape)
  /// The HF rope_type name of the wrapped method ("default", "linear", "ntk", "dynamic", "yarn",
  /// "longrope", "llama3", "proportional", "clex"; a ggml_rope from a GGUF file reports the HF
  /// type its parameters correspond to).
  std::string_view rope_type() const noexcept {
    return std::visit(
        [](const auto& m) noexcept -> std::string_view { return detail::rope_type_of(m); }, v_);
  }
  /// H.
  std::int64_t head_dim() const noexcept {
    return std::visit([](const auto& m) noexcept { return m.head_dim(); }, v_);
  }
  /// d (proportional: H).
  std::int64_t rotary_dim() const noexcept {
    return std::visit([](const auto& m) noexcept { return m.rotary_dim(); }, v_);
  }
  /// Table length (rotary_dim/2).
  std::int64_t pairs() const noexcept {
    return std::visit([](const auto& m) noexcept { return m.pairs(); }, v_);
  }
  /// True for dynamic and longrope (and clex, and a ggml_rope with LongRoPE factors): caches must
  /// rebuild when S changes.
  bool depends_on_seq_len() const noexcept {
    return std::visit([](const auto& m) noexcept { return detail::depends_on_seq_len_of(m); }, v_);
  }
  /// The method's double table; S absent = HF's initial table. Throws if seq_len < 1.
  std::vector<double> inv_freq(std::optional<std::int64_t> seq_len = std::nullopt) const {
    return std::visit([&](const auto& m) { return m.inv_freq(seq_len); }, v_);
  }
  /// A (multiplies cos and sin). Throws if seq_len < 1.
  double attention_factor(std::optional<std::int64_t> seq_len = std::nullopt) const {
    return std::visit([&](const auto& m) { return m.attention_factor(seq_len); }, v_);
  }
  /// HF's binary32 table (docs/reference.md §5.3). Throws if seq_len < 1.
  std::vector<float> inv_freq_hf_f32(std::optional<std::int64_t> seq_len = std::nullopt) const {
    return std::visit([&](const auto& m) { return m.inv_freq_hf_f32(seq_len); }, v_);
  }
  /// Softmax-scale multiplier (docs/reference.md §3.5.5; 1 except yarn with mscale_all_dim).
  double softmax_scale_multiplier() const noexcept {
    return std::visit([](const auto& m) noexcept { return m.softmax_scale_multiplier(); }, v_);
  }
  // NOLINTEND(bugprone-exception-escape)
  /// Query multiplier (docs/reference.md §4.6; 1 except clex with log_scale). Throws if seq_len
  /// < 1.
  double query_scale(std::int64_t seq_len) const {
    return std::visit([&](const auto& m) { return m.query_scale(seq_len); }, v_);
  }
  /// The wrapped method's non-fatal notes.
  std::vector<std::string> diagnostics() const {
    return std::visit([](const auto& m) { return m.diagnostics(); }, v_);
  }
  /// Pointer to the wrapped method if it is an M, else nullptr (also for types it cannot hold,
  /// e.g. yarn<float>). Finds a clex<double> inside the erased_method alternative too.
  template <class M>
  const M* get_if() const noexcept {
    if constexpr (detail::is_variant_alternative<M, method_variant>::value) {
      return std::get_if<M>(&v_);
    } else if constexpr (is_erasable_method_v<M>) {
      const erased_method* e = std::get_if<erased_method>(&v_);
      return e != nullptr ? e->get_if<M>() : nullptr;
    } else {
      return nullptr;
    }
  }
  /// The underlying variant, for std::visit by callers (CLEX and other non-closed-form methods
  /// appear as erased_method; use get_if<clex<double>>() to reach them).
  const method_variant& variant() const noexcept { return v_; }

 private:
  method_variant v_;
};

}  // namespace ropescale

#endif  // ROPESCALE_METHOD_HPP
