# ctest install.consumer: installs the build tree into a staged prefix and
# builds tests/consumer against it from outside the tree, twice —
# find_package(airssys) (one program per library) and pkg-config (the osl,
# ledger_osl and rt_osl programs with a bare compiler command) — then runs
# every program.
#
#   cmake -DBUILD_DIR=... -DSOURCE_DIR=... -DWORK_DIR=... -DCXX=...
#         "-DCXX_FLAGS=..." "-DLINK_FLAGS=..." -P run.cmake
# CXX_FLAGS/LINK_FLAGS are the build tree's own (the dev preset's sanitizers
# are compiled into the installed static libraries, so the consumer needs them).
cmake_minimum_required(VERSION 3.25)  # IN_LIST (CMP0057) in script mode
foreach(v BUILD_DIR SOURCE_DIR WORK_DIR CXX)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "run.cmake: -D${v}= is required")
  endif()
endforeach()

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    string(REPLACE ";" " " cmd "${ARGN}")
    message(FATAL_ERROR "failed (${rc}): ${cmd}\n${out}")
  endif()
  set(out "${out}" PARENT_SCOPE)
endfunction()

set(stage ${WORK_DIR}/stage)
set(cbuild ${WORK_DIR}/build)
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})

run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${stage})

# The package must come from the stage only: no user package registry, no
# system prefix holding another airssys.
set(configure_args -S ${SOURCE_DIR}/tests/consumer -G Ninja -DCMAKE_BUILD_TYPE=Debug
  -DCMAKE_CXX_COMPILER=${CXX} "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}" "-DCMAKE_EXE_LINKER_FLAGS=${LINK_FLAGS}"
  -DCMAKE_PREFIX_PATH=${stage} -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF)

# The version file refuses 0.2 (0.x: minor versions are not compatible).
execute_process(COMMAND ${CMAKE_COMMAND} ${configure_args} -B ${WORK_DIR}/wrong-version -DAIRSSYS_WANT_VERSION=0.2
  RESULT_VARIABLE rc OUTPUT_QUIET ERROR_QUIET)
if(rc EQUAL 0)
  message(FATAL_ERROR "find_package(airssys 0.2) accepted the installed version")
endif()
# A component that does not exist fails, and the error names it; an
# OPTIONAL unknown one is not named (it is simply not found).
execute_process(COMMAND ${CMAKE_COMMAND} ${configure_args} -B ${WORK_DIR}/unknown-component
  -DAIRSSYS_EXTRA_COMPONENTS=nosuch -DAIRSSYS_OPTIONAL_COMPONENTS=maybe
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(rc EQUAL 0 OR NOT out MATCHES "no component nosuch here" OR out MATCHES "maybe")
  message(FATAL_ERROR "find_package(airssys COMPONENTS nosuch OPTIONAL_COMPONENTS maybe): exit ${rc}, "
    "the message must name nosuch and not maybe:\n${out}")
endif()
# An unknown OPTIONAL component alone does not fail find_package (and
# airssys_maybe_FOUND is false). A message a failed find_package(airssys)
# left in the scope needs no test: find_package clears
# airssys_NOT_FOUND_MESSAGE itself before it reads the config file.
run(${CMAKE_COMMAND} ${configure_args} -B ${WORK_DIR}/optional-component
  -DAIRSSYS_OPTIONAL_COMPONENTS=maybe)

run(${CMAKE_COMMAND} ${configure_args} -B ${cbuild})
run(${CMAKE_COMMAND} --build ${cbuild} -j 2)
foreach(c osl rt bus ledger ledger_osl rt_osl)
  run(${cbuild}/consumer_${c})
  message(STATUS "find_package: ${out}")
endforeach()

# pkg-config, as someone without CMake would: the static archive needs
# --static for its private dependencies (yaml-cpp, fmt, ...).
file(GLOB pcdirs LIST_DIRECTORIES true ${stage}/lib*/pkgconfig ${stage}/lib/*/pkgconfig)
string(REPLACE ";" ":" pcpath "${pcdirs}")
separate_arguments(cxx_flags UNIX_COMMAND "${CXX_FLAGS}")
separate_arguments(link_flags UNIX_COMMAND "${LINK_FLAGS}")
# ledger_osl and rt_osl have osl (and rt, ledger) types in their API: their
# modules must bring those libraries without being named — in Requires, so a
# plain (shared) `pkg-config --libs` links them too. The --static build
# below cannot see that: --static adds Requires.private as well.
set(pc_public_ledger_osl airssys-ledger airssys-osl)
set(pc_public_rt_osl airssys-rt airssys-osl)
# Sets <var> to what is wrong with <module>'s public requirements under
# PKG_CONFIG_PATH <path>, or to "" when nothing is.
function(pc_public_problem var path c)
  string(REPLACE "_" "-" module "airssys-${c}")
  set(problem "")
  execute_process(COMMAND ${CMAKE_COMMAND} -E env PKG_CONFIG_PATH=${path} pkg-config --print-requires ${module}
    RESULT_VARIABLE rc OUTPUT_VARIABLE requires ERROR_VARIABLE requires)
  execute_process(COMMAND ${CMAKE_COMMAND} -E env PKG_CONFIG_PATH=${path} pkg-config --libs ${module}
    RESULT_VARIABLE rc2 OUTPUT_VARIABLE libs ERROR_VARIABLE libs)
  if(NOT rc EQUAL 0 OR NOT rc2 EQUAL 0)
    set(${var} "pkg-config ${module} failed: ${requires} ${libs}" PARENT_SCOPE)
    return()
  endif()
  string(REGEX MATCHALL "[^ \t\n]+" requires "${requires}")
  separate_arguments(libs UNIX_COMMAND "${libs}")
  foreach(dep IN LISTS pc_public_${c})
    string(REPLACE "-" "_" lib "${dep}")
    if(NOT dep IN_LIST requires)
      string(APPEND problem "--print-requires ${module} lacks ${dep} (got: ${requires}); ")
    endif()
    if(NOT "-l${lib}" IN_LIST libs)
      string(APPEND problem "--libs ${module} lacks -l${lib} (got: ${libs}); ")
    endif()
  endforeach()
  set(${var} "${problem}" PARENT_SCOPE)
endfunction()
# The check itself must catch the old .pc files, which had these in
# Requires.private: a copy of the staged ones, rewritten so (their -L then
# points beside the stage; only the -l list is examined).
set(oldpc ${WORK_DIR}/pkgconfig-requires-private)
file(MAKE_DIRECTORY ${oldpc})
foreach(dir IN LISTS pcdirs)
  file(GLOB pcs ${dir}/*.pc)
  file(COPY ${pcs} DESTINATION ${oldpc})
endforeach()
foreach(c ledger_osl rt_osl)
  string(REPLACE "_" "-" module "airssys-${c}")
  file(READ ${oldpc}/${module}.pc pc)
  string(REPLACE ";" " " deps "${pc_public_${c}}")
  string(REGEX REPLACE "\nRequires:[^\n]*" "\nRequires:" pc "${pc}")
  string(REGEX REPLACE "\nRequires.private:[^\n]*" "\nRequires.private: ${deps}" pc "${pc}")
  file(WRITE ${oldpc}/${module}.pc "${pc}")
  pc_public_problem(problem ${oldpc} ${c})
  if(NOT problem)
    message(FATAL_ERROR "the pkg-config check accepts ${module} with Requires.private: ${deps}")
  endif()
  pc_public_problem(problem ${pcpath} ${c})
  if(problem)
    message(FATAL_ERROR "${problem}")
  endif()
endforeach()

foreach(c osl ledger_osl rt_osl)
  string(REPLACE "_" "-" module "airssys-${c}")
  run(${CMAKE_COMMAND} -E env PKG_CONFIG_PATH=${pcpath} pkg-config --static --cflags --libs ${module})
  separate_arguments(pc_flags UNIX_COMMAND "${out}")
  run(${CXX} ${cxx_flags} -Wall -Wextra -Werror ${SOURCE_DIR}/tests/consumer/${c}_consumer.cpp
    -o ${WORK_DIR}/${c}_pkgconfig ${pc_flags} ${link_flags})
  run(${WORK_DIR}/${c}_pkgconfig)
  message(STATUS "pkg-config: ${out}")
endforeach()
