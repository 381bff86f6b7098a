// SPDX-License-Identifier: Apache-2.0
#include <ropescale/config.hpp>

int engine_ropescale_major() { return ROPESCALE_VERSION_MAJOR; }
