// SPDX-License-Identifier: Apache-2.0
// Built with `pkg-config --cflags ropescale` only: the full umbrella (Eigen, nlohmann_json)
// compiles, and the header's version is the one pkg-config reports (PC_* from --modversion).
#include <cstdio>
#include <ropescale/config.hpp>
#include <ropescale/ropescale.hpp>

int main() {
  if (ROPESCALE_VERSION_MAJOR != PC_MAJOR || ROPESCALE_VERSION_MINOR != PC_MINOR ||
      ROPESCALE_VERSION_PATCH != PC_PATCH) {
    std::printf("config.hpp says %d.%d.%d, pkg-config %d.%d.%d\n", ROPESCALE_VERSION_MAJOR,
                ROPESCALE_VERSION_MINOR, ROPESCALE_VERSION_PATCH, PC_MAJOR, PC_MINOR, PC_PATCH);
    return 1;
  }
  return 0;
}
