# SPDX-License-Identifier: Apache-2.0
# cmake -DBUILD_DIR=... -DPREFIX=... -P check_install.cmake: install the export_own project and
# check that the engine's export names ropescale's targets and ropescale's package came along.
file(REMOVE_RECURSE ${PREFIX})
execute_process(COMMAND ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${PREFIX}
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cmake --install failed (${rc})")
endif()
file(GLOB engine_targets ${PREFIX}/lib*/cmake/engine/engineTargets.cmake)
if(NOT engine_targets)
  message(FATAL_ERROR "engineTargets.cmake was not installed")
endif()
file(READ ${engine_targets} text)
foreach(t ropescale::core ropescale::ropescale)
  string(FIND "${text}" "${t}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "engineTargets.cmake does not name ${t}")
  endif()
endforeach()
foreach(f share/cmake/ropescale/ropescaleConfig.cmake share/cmake/ropescale/ropescaleTargets.cmake
          share/cmake/ropescale/ropescaleCoreTargets.cmake include/ropescale/config.hpp)
  if(NOT EXISTS ${PREFIX}/${f})
    message(FATAL_ERROR "${f} was not installed")
  endif()
endforeach()
message(STATUS "export_own install ok")
