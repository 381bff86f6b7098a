# SPDX-License-Identifier: Apache-2.0
# cmake -DROOT=<source dir> -DSTAGE=<install prefix> -P check_version.cmake
# The version lives in include/ropescale/config.hpp only; everything else must agree with it:
# the installed CMake package version, both pkg-config files, and CHANGELOG.md's newest release.
file(STRINGS ${ROOT}/include/ropescale/config.hpp lines
     REGEX "^#define ROPESCALE_VERSION_(MAJOR|MINOR|PATCH) ")
set(header_version)
foreach(part MAJOR MINOR PATCH)
  string(REGEX MATCH "ROPESCALE_VERSION_${part} +([0-9]+)" _ "${lines}")
  list(APPEND header_version ${CMAKE_MATCH_1})
endforeach()
list(JOIN header_version "." header_version)
if(NOT header_version MATCHES "^[0-9]+\\.[0-9]+\\.[0-9]+$")
  message(FATAL_ERROR "config.hpp: cannot read the version (got '${header_version}')")
endif()

include(${STAGE}/share/cmake/ropescale/ropescaleConfigVersion.cmake)
if(NOT PACKAGE_VERSION STREQUAL header_version)
  message(FATAL_ERROR "ropescaleConfigVersion.cmake has ${PACKAGE_VERSION}, config.hpp ${header_version}")
endif()
foreach(pc ropescale ropescale-core)
  file(STRINGS ${STAGE}/share/pkgconfig/${pc}.pc v REGEX "^Version: ")
  if(NOT v STREQUAL "Version: ${header_version}")
    message(FATAL_ERROR "${pc}.pc has '${v}', config.hpp ${header_version}")
  endif()
endforeach()
# CHANGELOG.md: "## [Unreleased]" may come first; the first numbered heading is the newest release.
file(STRINGS ${ROOT}/CHANGELOG.md releases REGEX "^## \\[[0-9]+\\.[0-9]+\\.[0-9]+\\]")
if(NOT releases)
  message(FATAL_ERROR "CHANGELOG.md has no '## [X.Y.Z]' release heading")
endif()
list(GET releases 0 newest)
string(REGEX MATCH "[0-9]+\\.[0-9]+\\.[0-9]+" newest "${newest}")
if(NOT newest STREQUAL header_version)
  message(FATAL_ERROR "CHANGELOG.md's newest release is ${newest}, config.hpp says ${header_version}")
endif()
message(STATUS "version ${header_version}: config.hpp, CMake package, pkg-config and CHANGELOG.md agree")
