// SPDX-License-Identifier: Apache-2.0
// Umbrella header: everything public in ropescale. Include lines only.
#ifndef ROPESCALE_ROPESCALE_HPP
#define ROPESCALE_ROPESCALE_HPP

#include "ropescale/config.hpp"
#include "ropescale/isa.hpp"
#include "ropescale/types.hpp"
#include "ropescale/cos_sin_table.hpp"

#endif  // ROPESCALE_ROPESCALE_HPP
