# SPDX-License-Identifier: Apache-2.0
# Eigen3::Eigen and nlohmann_json::nlohmann_json for a cross build, from the host's header-only
# packages (libeigen3-dev, nlohmann-json3-dev) without adding /usr/include itself to the path:
# nlohmann's headers are reached through a directory holding only a link to them.
if(NOT TARGET Eigen3::Eigen)
  add_library(Eigen3::Eigen INTERFACE IMPORTED)
  set_target_properties(Eigen3::Eigen PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES /usr/include/eigen3)
endif()
if(NOT TARGET nlohmann_json::nlohmann_json)
  set(dir ${CMAKE_BINARY_DIR}/host-header-only-deps)
  file(MAKE_DIRECTORY ${dir})
  file(CREATE_LINK /usr/include/nlohmann ${dir}/nlohmann SYMBOLIC)
  add_library(nlohmann_json::nlohmann_json INTERFACE IMPORTED)
  set_target_properties(nlohmann_json::nlohmann_json PROPERTIES INTERFACE_INCLUDE_DIRECTORIES ${dir})
endif()
