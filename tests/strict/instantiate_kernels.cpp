// SPDX-License-Identifier: Apache-2.0
// Part of the strict-warning builds (header_self_contained_cxx17/20 and tests/strict/, compiled
// with the strict warning set as errors): calls every kernel entry point for every storage type
// and layout, so warnings inside template bodies (which a TU that only includes a header never
// instantiates) are caught too. Only core headers: the full layer is covered by the per-header
// TUs. Run by tests/strict/ with an argument (the results are not checked here: test_apply,
// test_on_the_fly and test_kv_append do that).
#include <cstdint>
#include <ropescale/core.hpp>
#include <vector>

namespace {

template <class T>
void instantiate(const ropescale::cos_sin_rows& rows, const ropescale::frequency_table& f) {
  std::vector<T> q(2 * 4 * 64), k(2 * 2 * 64), v(2 * 2 * 64), out(2 * 4 * 64);
  std::vector<T> k_cache(2 * 16 * 2 * 64), v_cache(2 * 16 * 2 * 64);
  const auto qv = ropescale::dense_view(q.data(), q.size(), 2, 4, 64);
  const auto kv = ropescale::dense_view(k.data(), k.size(), 2, 2, 64);
  const auto vv = ropescale::dense_view(v.data(), v.size(), 2, 2, 64);
  const auto ov = ropescale::dense_view(out.data(), out.size(), 2, 4, 64);
  const auto kc = ropescale::paged_cache_view<T>::token_major(k_cache.data(), 2, 16, 2, 64);
  const auto vc = ropescale::paged_cache_view<T>::head_major(v_cache.data(), 2, 16, 2, 64);
  const std::int64_t slots[2] = {3, -1};
  const auto sm = ropescale::slot_mapping::list(slots, 2);
  const auto pos = ropescale::token_positions::range(0);
  for (const auto lay :
       {ropescale::layout::neox, ropescale::layout::gptj, ropescale::layout::deinterleaved}) {
    ropescale::apply_rotary(qv, kv, rows, pos, lay, 64);
    ropescale::apply_rotary_on_the_fly(qv, kv, f, pos, lay, 64);
    ropescale::apply_rotary_to(qv, ov, rows, pos, lay, 64);
    ropescale::rope_kv_append(qv, kv, vv, kc, vc, sm, rows, pos, lay, 64);
    ropescale::rope_kv_append(qv, kv, vv, kc, vc, sm, f, pos, lay, 64);
    // The non-throwing forms (results ignored: tests/support/try_forms_cases.hpp checks them).
    (void)ropescale::try_apply_rotary(qv, kv, rows, pos, lay, 64);
    (void)ropescale::try_apply_rotary_on_the_fly(qv, kv, f, pos, lay, 64);
    (void)ropescale::try_apply_rotary_to(qv, ov, rows, pos, lay, 64);
    (void)ropescale::try_rope_kv_append(qv, kv, vv, kc, vc, sm, rows, pos, lay, 64);
    (void)ropescale::try_rope_kv_append(qv, ov, kv, vv, kc, vc, sm, f, pos, lay, 64);
  }
  ropescale::kv_append(kv, vv, kc, vc, sm);
  (void)ropescale::try_kv_append(kv, vv, kc, vc, sm);
}

}  // namespace

void ropescale_strict_instantiate_kernels();
void ropescale_strict_instantiate_kernels() {
  ropescale::yarn_params p;
  p.head_dim = 64;
  p.factor = 4.0;
  p.original_max_position_embeddings = 4096;
  const ropescale::method m = ropescale::yarn<double>(p);
  const ropescale::cos_sin_table table = ropescale::cos_sin_table::from_method(m, 8);
  const auto rows = table.snapshot();
  const ropescale::frequency_table f = ropescale::frequencies_of(m);
  instantiate<float>(*rows, f);
  instantiate<ropescale::bf16>(*rows, f);
  instantiate<ropescale::f16>(*rows, f);
}
