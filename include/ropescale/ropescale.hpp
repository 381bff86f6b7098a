// SPDX-License-Identifier: Apache-2.0
// Umbrella header: everything public in ropescale (the core layer, ropescale/core.hpp, plus the
// full layer: loaders, safetensors, GGUF, CLEX). Include lines only.
#ifndef ROPESCALE_ROPESCALE_HPP
#define ROPESCALE_ROPESCALE_HPP

#include "ropescale/apply.hpp"
#include "ropescale/config.hpp"
#include "ropescale/core.hpp"
#include "ropescale/cos_sin_table.hpp"
#include "ropescale/gguf.hpp"
#include "ropescale/hf_config.hpp"
#include "ropescale/isa.hpp"
#include "ropescale/kv_append.hpp"
#include "ropescale/method.hpp"
#include "ropescale/methods/clex.hpp"
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
#include "ropescale/safetensors.hpp"
#include "ropescale/types.hpp"

#endif  // ROPESCALE_ROPESCALE_HPP
