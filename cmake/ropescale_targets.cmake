# SPDX-License-Identifier: Apache-2.0
# Warnings, -Werror and sanitizers for ropescale's own targets (tests, bench, examples), never
# for the INTERFACE target that consumers link.
function(ropescale_configure_target target)
  target_link_libraries(${target} PRIVATE ropescale::ropescale)
  if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wundef)
    if(ROPESCALE_WERROR)
      target_compile_options(${target} PRIVATE -Werror)
    endif()
    if(ROPESCALE_SANITIZE)
      target_compile_options(${target} PRIVATE -fsanitize=${ROPESCALE_SANITIZE}
                             -fno-omit-frame-pointer -fno-sanitize-recover=all)
      target_link_options(${target} PRIVATE -fsanitize=${ROPESCALE_SANITIZE})
    endif()
  endif()
endfunction()
