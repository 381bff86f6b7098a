// SPDX-License-Identifier: Apache-2.0
// Umbrella header of the core layer (CMake target ropescale::core): everything an engine needs
// to build cos/sin tables and rotate Q and K, with the C++17 standard library only. No Eigen or
// nlohmann_json header is reachable from any core header (checked by tests/CMakeLists.txt,
// header_core_only_cxx17/20).
//
// Core headers:
//   ropescale/core.hpp           this umbrella
//   ropescale/config.hpp         version, architecture and feature macros
//   ropescale/types.hpp          bf16, f16, layout, tensor_view, token_positions
//   ropescale/isa.hpp            ISA selection
//   ropescale/methods/*.hpp      closed-form methods (every file but methods/clex.hpp)
//   ropescale/method.hpp         the contract and the type-erased ropescale::method
//   ropescale/cos_sin_table.hpp  cos/sin tables
//   ropescale/apply.hpp          table rotation (apply_rotary)
//   ropescale/on_the_fly.hpp     rotation without a table
//   ropescale/kv_append.hpp      out-of-place rotation and fused paged KV append
//   ropescale/simd/*.hpp, ropescale/detail/{angle,cpu_features,overflow,quote,throw}.hpp
//                                internals of the above (detail/cli_args.hpp and
//                                detail/file_io.hpp, used by the tools and loaders, need only
//                                the standard library and POSIX too)
// Full layer (ropescale/ropescale.hpp, target ropescale::ropescale; needs nlohmann_json and
// Eigen): hf_config.hpp, safetensors.hpp, gguf.hpp, methods/clex.hpp, detail/json.hpp,
// detail/ode.hpp.
#ifndef ROPESCALE_CORE_HPP
#define ROPESCALE_CORE_HPP

#include "ropescale/apply.hpp"
#include "ropescale/config.hpp"
#include "ropescale/cos_sin_table.hpp"
#include "ropescale/isa.hpp"
#include "ropescale/kv_append.hpp"
#include "ropescale/method.hpp"
#include "ropescale/methods/default_rope.hpp"
#include "ropescale/methods/dynamic.hpp"
#include "ropescale/methods/ggml_rope.hpp"
#include "ropescale/methods/linear.hpp"
#include "ropescale/methods/llama3.hpp"
#include "ropescale/methods/longrope.hpp"
#include "ropescale/methods/ntk.hpp"
#include "ropescale/methods/proportional.hpp"
#include "ropescale/methods/yarn.hpp"
#include "ropescale/on_the_fly.hpp"
#include "ropescale/types.hpp"

#endif  // ROPESCALE_CORE_HPP
