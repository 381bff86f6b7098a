# SPDX-License-Identifier: Apache-2.0
# ctest helper: the benchmark names other tools parse must exist, with the contract args.
execute_process(COMMAND ${BENCH} --benchmark_list_tests=true OUTPUT_VARIABLE listing
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "ropescale-bench --benchmark_list_tests failed: ${rc}")
endif()
foreach(name BM_InPlaceFloor BM_ApplyNeox_f32 BM_ApplyGptj_f32 BM_ApplyNeox_bf16 BM_DecodeOnTheFly_f32)
  foreach(args "tokens:1/heads:32/dim:128" "tokens:512/heads:8/dim:128" "tokens:4096/heads:32/dim:128")
    if(NOT name STREQUAL "BM_DecodeOnTheFly_f32" OR args STREQUAL "tokens:1/heads:32/dim:128")
      string(FIND "${listing}" "${name}/${args}\n" pos)
      if(pos EQUAL -1)
        message(FATAL_ERROR "missing benchmark ${name}/${args}")
      endif()
    endif()
  endforeach()
endforeach()
