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
# A component that does not exist fails, and the error names it.
execute_process(COMMAND ${CMAKE_COMMAND} ${configure_args} -B ${WORK_DIR}/unknown-component
  -DAIRSSYS_EXTRA_COMPONENTS=nosuch RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(rc EQUAL 0 OR NOT out MATCHES "no component nosuch")
  message(FATAL_ERROR "find_package(airssys COMPONENTS nosuch): exit ${rc}, no message naming it:\n${out}")
endif()

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
# modules must bring those libraries without being named.
foreach(c osl ledger_osl rt_osl)
  string(REPLACE "_" "-" module "airssys-${c}")
  run(${CMAKE_COMMAND} -E env PKG_CONFIG_PATH=${pcpath} pkg-config --static --cflags --libs ${module})
  separate_arguments(pc_flags UNIX_COMMAND "${out}")
  run(${CXX} ${cxx_flags} -Wall -Wextra -Werror ${SOURCE_DIR}/tests/consumer/${c}_consumer.cpp
    -o ${WORK_DIR}/${c}_pkgconfig ${pc_flags} ${link_flags})
  run(${WORK_DIR}/${c}_pkgconfig)
  message(STATUS "pkg-config: ${out}")
endforeach()
