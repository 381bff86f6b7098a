// SPDX-License-Identifier: Apache-2.0
// The one kernels TU of test_separate_kernels: every kernel entry point compiled here, once, as an
// engine would in its own source tree (simd/dispatch.hpp, "separately compiled").
#define ROPESCALE_KERNELS_TU
#include "ropescale/apply.hpp"
