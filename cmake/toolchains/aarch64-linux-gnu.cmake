# SPDX-License-Identifier: Apache-2.0
# Cross build for AArch64 Linux with Debian's g++-aarch64-linux-gnu (+ libc6-dev-arm64-cross);
# binaries run under qemu-aarch64 through CMAKE_CROSSCOMPILING_EMULATOR, so ctest (and GoogleTest
# discovery) work unchanged. Used by .ci/run's NEON leg:
#   cmake -S . -B build-neon -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/aarch64-linux-gnu.cmake ...
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -L /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
# Packages given by an explicit <Package>_DIR (the cross-built GoogleTest) are used as given.
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)
# Eigen and nlohmann_json are header-only, but their host CMake packages would put all of
# /usr/include (the host's C library headers) on the include path; this file, run at the end of
# project(ropescale), defines their targets over just their own directories instead.
set(CMAKE_PROJECT_ropescale_INCLUDE ${CMAKE_CURRENT_LIST_DIR}/host-header-only-deps.cmake)
