# airssys_add_library(NAME component SOURCES ... DEPS ...)
#   Defines target airssys_<component> with alias airssys::<component>, public
#   headers in <component>/include. Warnings are a build-tree-only requirement
#   ($<BUILD_INTERFACE:...>): the installed, exported targets must not carry
#   them into a consumer's link (cmake/AirssysInstall.cmake).
function(airssys_add_library component)
  cmake_parse_arguments(ARG "" "" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(airssys_${component} STATIC ${ARG_SOURCES})
  add_library(airssys::${component} ALIAS airssys_${component})
  target_include_directories(airssys_${component}
    PUBLIC $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
    PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/src)
  target_link_libraries(airssys_${component}
    PUBLIC ${ARG_PUBLIC_DEPS}
    PRIVATE $<BUILD_INTERFACE:airssys_warnings> ${ARG_PRIVATE_DEPS})
endfunction()

# airssys_add_test(NAME suite.name SOURCES ... DEPS ... [TIMEOUT s] [LABELS ...])
#   One test executable per test file, one CTest entry per executable, so
#   `ctest -R osl.policy` runs one suite and a hang fails only that suite.
function(airssys_add_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;DEPS;LABELS" ${ARGN})
  if(NOT AIRSSYS_BUILD_TESTS OR AIRSSYS_FUZZ_ONLY)
    return()
  endif()
  # AIRSSYS_TEST_COMPONENTS (e.g. "osl;rt;bus" in the tsan preset) limits which
  # components' tests are built; empty = all.
  string(REGEX REPLACE "\\..*$" "" test_component ${name})
  if(AIRSSYS_TEST_COMPONENTS AND NOT test_component IN_LIST AIRSSYS_TEST_COMPONENTS)
    return()
  endif()
  string(REPLACE "." "_" exe ${name})
  add_executable(${exe} ${ARG_SOURCES})
  target_link_libraries(${exe} PRIVATE airssys_warnings ${ARG_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  # Every test may use the shared helpers (testing/: temp dirs, eventually, run, Child).
  if(TARGET airssys_testing)
    target_link_libraries(${exe} PRIVATE airssys::testing)
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 120)
  endif()
  add_test(NAME ${name} COMMAND ${exe})
  set_tests_properties(${name} PROPERTIES TIMEOUT ${ARG_TIMEOUT} LABELS "${ARG_LABELS}")
  # `airssys_tests` builds what ctest runs and nothing else (the tsan preset
  # builds just that). The programs a test runs are named in its ENVIRONMENT,
  # which the component sets after this call: read it once the directory is done.
  add_dependencies(airssys_tests ${exe})
  cmake_language(EVAL CODE "cmake_language(DEFER CALL _airssys_test_needs_programs [[${name}]] [[${exe}]])")
endfunction()

# A test that runs a program ($<TARGET_FILE:program> in its ENVIRONMENT) depends
# on it, so building the test (or airssys_tests) builds the program too.
function(_airssys_test_needs_programs name exe)
  get_test_property(${name} ENVIRONMENT env)
  string(REGEX MATCHALL "\\$<TARGET_FILE:[^>]+>" refs "${env}")
  foreach(ref IN LISTS refs)
    string(REGEX REPLACE "^\\$<TARGET_FILE:(.+)>$" "\\1" program "${ref}")
    add_dependencies(${exe} ${program})
  endforeach()
endfunction()

# airssys_add_fuzzer(NAME name SOURCES ... DEPS ... [SECONDS n])
#   Built only in the fuzz preset (clang, -fsanitize=fuzzer); registered as a
#   test that runs the fuzzer briefly over its seed corpus.
function(airssys_add_fuzzer name)
  cmake_parse_arguments(ARG "" "SECONDS;CORPUS" "SOURCES;DEPS" ${ARGN})
  if(NOT AIRSSYS_FUZZ_ONLY)
    return()
  endif()
  if(NOT ARG_SECONDS)
    set(ARG_SECONDS 20)
  endif()
  add_executable(${name} ${ARG_SOURCES})
  target_compile_options(${name} PRIVATE -fsanitize=fuzzer)
  target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  target_link_libraries(${name} PRIVATE airssys_warnings ${ARG_DEPS})
  set(workdir ${CMAKE_CURRENT_BINARY_DIR}/${name}_corpus)
  add_test(NAME fuzz.${name}
    COMMAND ${CMAKE_COMMAND} -E env ${PROJECT_SOURCE_DIR}/scripts/run-fuzzer
            $<TARGET_FILE:${name}> ${ARG_CORPUS} ${workdir} ${ARG_SECONDS})
  set_tests_properties(fuzz.${name} PROPERTIES TIMEOUT 300 LABELS fuzz)
  add_dependencies(airssys_fuzzers ${name})
endfunction()

# airssys_glob_component(component PUBLIC_DEPS ... PRIVATE_DEPS ... TEST_DEPS ... [TEST_LABELS ...])
#   The library is every src/**/*.cpp that is not a test (*_test.cpp) or a
#   fuzz target (*_fuzz.cpp). Each src/**/*_test.cpp and tests/*_test.cpp
#   becomes its own CTest entry named <component>.<file stem without _test>.
function(airssys_glob_component component)
  # TEST_EXCLUDE: file names (e.g. pool_test.cpp) of tests the component
  # adds itself, with sources or settings of their own.
  cmake_parse_arguments(ARG "" "" "PUBLIC_DEPS;PRIVATE_DEPS;TEST_DEPS;TEST_LABELS;TEST_EXCLUDE" ${ARGN})
  file(GLOB_RECURSE all_src CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/src/*.cpp)
  set(lib_src ${all_src})
  list(FILTER lib_src EXCLUDE REGEX "_(test|fuzz)\\.cpp$")
  if(NOT lib_src)
    # A component being started has no sources yet: skip it rather than
    # break everyone's configure.
    message(STATUS "airssys: ${component} has no sources yet; skipped")
    return()
  endif()
  airssys_add_library(${component} SOURCES ${lib_src}
    PUBLIC_DEPS ${ARG_PUBLIC_DEPS} PRIVATE_DEPS ${ARG_PRIVATE_DEPS})
  file(GLOB_RECURSE test_src CONFIGURE_DEPENDS
    ${CMAKE_CURRENT_SOURCE_DIR}/src/*_test.cpp ${CMAKE_CURRENT_SOURCE_DIR}/tests/*_test.cpp)
  foreach(t ${test_src})
    get_filename_component(file ${t} NAME)
    if(file IN_LIST ARG_TEST_EXCLUDE)
      continue()
    endif()
    get_filename_component(stem ${t} NAME_WE)
    string(REGEX REPLACE "_test$" "" stem ${stem})
    airssys_add_test(${component}.${stem} SOURCES ${t}
      DEPS airssys::${component} ${ARG_PRIVATE_DEPS} ${ARG_TEST_DEPS} LABELS ${component} ${ARG_TEST_LABELS})
    if(TARGET ${component}_${stem})
      target_include_directories(${component}_${stem} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/src)
    endif()
  endforeach()
endfunction()
