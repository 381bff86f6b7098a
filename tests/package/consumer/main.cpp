// SPDX-License-Identifier: Apache-2.0
// Downstream smoke test: the umbrella header compiles and links; the version macro is visible.
#include <ropescale/ropescale.hpp>

int main() { return ROPESCALE_VERSION_MAJOR == 0 ? 0 : 1; }
