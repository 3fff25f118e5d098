# ctest install.version: every program answers --version with exactly
# "NAME PROJECT_VERSION" on stdout and exit code 0 (the version comes from
# one place, project() in the top CMakeLists.txt).
#   cmake -DVERSION=0.1.0 "-DPROGRAMS=name=path;..." -P run.cmake
foreach(v VERSION PROGRAMS)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "run.cmake: -D${v}= is required")
  endif()
endforeach()
foreach(entry IN LISTS PROGRAMS)
  string(REGEX MATCH "^([^=]+)=(.*)$" _ "${entry}")
  set(name ${CMAKE_MATCH_1})
  set(exe ${CMAKE_MATCH_2})
  execute_process(COMMAND ${exe} --version RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${name} --version exited ${rc}: ${err}")
  endif()
  if(NOT out STREQUAL "${name} ${VERSION}\n")
    message(FATAL_ERROR "${name} --version printed '${out}', expected '${name} ${VERSION}'")
  endif()
  message(STATUS "${out}")
endforeach()
