# `cmake --install`: libraries, public headers, CMake package config,
# pkg-config files, programs with their man pages and bash completions, docs
# and examples, laid out by GNUInstallDirs; system files (/etc, systemd units)
# and the .deb packages come from cmake/AirssysPackaging.cmake.
#
# Libraries: the static archives always (programs and tests link them), the
# shared libraries too with AIRSSYS_SHARED_LIBS (cmake/AirssysSharedLibs.cmake).
# A static library's PRIVATE dependencies are still needed at link time;
# install(EXPORT) records them as $<LINK_ONLY:...>, so every exported target's
# dependencies are either exported too (airssys::osl_static under
# airssys::bus_static) or found again by the package config (find_dependency).
#
# Install components, one per .deb (packaging/README.md): dev (headers,
# archives, .so links, CMake and pkg-config files), lib (the shared
# libraries), osl, ledger, bus, watchdog, daemoneye (each program with its
# man page, completion and data), doc.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)
include(AirssysSharedLibs)

set(AIRSSYS_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/airssys)

# component | public header dir (relative to the source root) | airssys
# components it needs | find_package() names | pkg-config modules | other libs
set(_airssys_components osl ledger ledger_osl rt rt_osl bus)
set(_inc_osl osl/include)
set(_inc_ledger ledger/include)
set(_inc_ledger_osl ledger/osl_sink/include)
set(_inc_rt rt/include)
set(_inc_rt_osl rt/osl/include)
set(_inc_bus bus/include)
set(_desc_osl "airssys OS layer: policy-checked, audited filesystem, process, network and tool operations")
set(_desc_ledger "airssys tamper-evident append-only log (RFC 6962 Merkle tree)")
set(_desc_ledger_osl "airssys-osl activity sink writing to an airssys-ledger")
set(_desc_rt "airssys actor runtime: typed actors, supervisors, registry, pub/sub, timers")
set(_desc_rt_osl "airssys-rt process actors over airssys-osl")
set(_desc_bus "airssys local pub/sub over Unix sockets with an embeddable broker")
set(_pc_osl "yaml-cpp fmt nlohmann_json")
set(_pc_ledger "libcrypto fmt nlohmann_json")
set(_pc_ledger_osl "")
set(_pc_rt "")
set(_pc_rt_osl "")
set(_pc_bus "airssys-osl nlohmann_json")
# pkg-config modules a component's public headers use (Requires: linked and
# compiled against by its users too, as CMake's PUBLIC dependencies are).
set(_pc_public_osl "")
set(_pc_public_ledger "")
set(_pc_public_ledger_osl "airssys-ledger airssys-osl")
set(_pc_public_rt "")
set(_pc_public_rt_osl "airssys-rt airssys-osl")
set(_pc_public_bus "")

set(_pc_rel_prefix "")
if(NOT IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  # The .pc files name their prefix relative to where they are installed, so
  # a staged or relocated install (cmake --install --prefix DIR) still works.
  file(RELATIVE_PATH _pc_rel_prefix "/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/")
  string(REGEX REPLACE "/$" "" _pc_rel_prefix "${_pc_rel_prefix}")
endif()

set(AIRSSYS_INSTALLED_COMPONENTS "")
foreach(c IN LISTS _airssys_components)
  if(NOT TARGET airssys_${c})
    continue()
  endif()
  list(APPEND AIRSSYS_INSTALLED_COMPONENTS ${c})
  # airssys::<c>_static here; airssys::<c> is made by the package config
  # (the shared library when installed, else this one).
  set_target_properties(airssys_${c} PROPERTIES EXPORT_NAME ${c}_static)
  # The public headers use C++23 (std::expected): consumers compile as C++23.
  target_compile_features(airssys_${c} PUBLIC cxx_std_23)
  install(TARGETS airssys_${c} EXPORT airssys-${c}-targets
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev
    INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  if(AIRSSYS_SHARED_LIBS)
    airssys_add_shared_library(${c})
    install(TARGETS airssys_${c}_shared EXPORT airssys-${c}-shared-targets
      LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT lib NAMELINK_COMPONENT dev
      INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
    install(EXPORT airssys-${c}-shared-targets NAMESPACE airssys:: DESTINATION ${AIRSSYS_CMAKE_DIR} COMPONENT dev)
  endif()
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${_inc_${c}}/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev
    FILES_MATCHING PATTERN "*.hpp" PATTERN "*.h")
  install(EXPORT airssys-${c}-targets NAMESPACE airssys:: DESTINATION ${AIRSSYS_CMAKE_DIR} COMPONENT dev)

  string(REPLACE "_" "-" pc_name "airssys-${c}")
  set(PC_NAME ${pc_name})
  set(PC_DESCRIPTION "${_desc_${c}}")
  set(PC_LIB airssys_${c})
  set(PC_REQUIRES "${_pc_public_${c}}")
  set(PC_REQUIRES_PRIVATE "${_pc_${c}}")
  if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
    set(PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
  else()
    set(PC_PREFIX "\${pcfiledir}/${_pc_rel_prefix}")
  endif()
  configure_file(${PROJECT_SOURCE_DIR}/packaging/pkgconfig/airssys.pc.in
    ${PROJECT_BINARY_DIR}/pkgconfig/${pc_name}.pc @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/pkgconfig/${pc_name}.pc
    DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT dev)
endforeach()

configure_package_config_file(${PROJECT_SOURCE_DIR}/packaging/cmake/airssys-config.cmake.in
  ${PROJECT_BINARY_DIR}/airssys-config.cmake INSTALL_DESTINATION ${AIRSSYS_CMAKE_DIR})
# 0.x: a minor version may break the API, so 0.1 accepts 0.1.* only.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/airssys-config-version.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/airssys-config.cmake ${PROJECT_BINARY_DIR}/airssys-config-version.cmake
  DESTINATION ${AIRSSYS_CMAKE_DIR} COMPONENT dev)

# Programs, each in its package's install component. procmond goes beside
# daemoneye-agent: the agent starts it from its own directory. Every program
# answers --version with PROJECT_VERSION (AIRSSYS_VERSION), the one place the
# version is set. Man pages and completions: cmake/AirssysProgramDocs.cmake.
set(AIRSSYS_PROGRAMS "")
foreach(entry IN ITEMS airssys-osl:osl airssys-ledger:ledger airssys-bus:bus task-watchdog:watchdog
                       procmond:daemoneye daemoneye-agent:daemoneye daemoneye-cli:daemoneye)
  string(REPLACE ":" ";" entry ${entry})
  list(GET entry 0 p)
  list(GET entry 1 component)
  if(TARGET ${p})
    list(APPEND AIRSSYS_PROGRAMS ${p})
    set(AIRSSYS_PROGRAM_COMPONENT_${p} ${component})
    target_compile_definitions(${p} PRIVATE AIRSSYS_VERSION="${PROJECT_VERSION}")
    install(TARGETS ${p} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT ${component})
  endif()
endforeach()
include(AirssysProgramDocs)

# Documentation, the example osl policy, DaemonEye's bundled rules and its
# example configuration (the packages install these two into /etc/daemoneye
# as well: cmake/AirssysPackaging.cmake).
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT doc)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT doc
  FILES_MATCHING PATTERN "*.md")
install(DIRECTORY ${PROJECT_SOURCE_DIR}/osl/policies/ DESTINATION ${CMAKE_INSTALL_DATADIR}/airssys/osl/policies
  COMPONENT osl FILES_MATCHING PATTERN "*.yaml")
if(TARGET daemoneye-agent)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/daemoneye/rules/ DESTINATION ${CMAKE_INSTALL_DATADIR}/airssys/daemoneye/rules
    COMPONENT daemoneye FILES_MATCHING PATTERN "*.yaml" PATTERN "*.yml")
  install(FILES ${PROJECT_SOURCE_DIR}/daemoneye/config.example.yaml
    DESTINATION ${CMAKE_INSTALL_DATADIR}/airssys/daemoneye COMPONENT daemoneye)
endif()

# The out-of-tree consumer (tests/consumer/): a staged install of this build
# tree, used through find_package and through pkg-config. Needs every target
# built (cmake --install installs them all), as `make test` does.
if(AIRSSYS_BUILD_TESTS AND NOT AIRSSYS_TEST_COMPONENTS
   AND TARGET airssys_osl AND TARGET airssys_rt AND TARGET airssys_bus AND TARGET airssys_ledger)
  add_test(NAME install.consumer
    COMMAND ${CMAKE_COMMAND} -DBUILD_DIR=${PROJECT_BINARY_DIR} -DSOURCE_DIR=${PROJECT_SOURCE_DIR}
            -DWORK_DIR=${PROJECT_BINARY_DIR}/consumer-test -DCXX=${CMAKE_CXX_COMPILER}
            "-DCXX_FLAGS=${CMAKE_CXX_FLAGS}" "-DLINK_FLAGS=${CMAKE_EXE_LINKER_FLAGS}"
            -P ${PROJECT_SOURCE_DIR}/tests/consumer/run.cmake)
  set_tests_properties(install.consumer PROPERTIES TIMEOUT 600 LABELS install)
endif()

# Every program's --version says PROJECT_VERSION (tests/version/run.cmake).
if(AIRSSYS_BUILD_TESTS AND NOT AIRSSYS_TEST_COMPONENTS AND AIRSSYS_PROGRAMS)
  set(_version_programs "")
  foreach(p IN LISTS AIRSSYS_PROGRAMS)
    list(APPEND _version_programs "${p}=$<TARGET_FILE:${p}>")
  endforeach()
  add_test(NAME install.version
    COMMAND ${CMAKE_COMMAND} -DVERSION=${PROJECT_VERSION} "-DPROGRAMS=${_version_programs}"
            -P ${PROJECT_SOURCE_DIR}/tests/version/run.cmake)
  set_tests_properties(install.version PROPERTIES TIMEOUT 60 LABELS install)
endif()

# The man page generator on two programs: nested subcommands (airssys-osl fs
# read), an alias (task-watchdog status, check), the version line.
find_program(AIRSSYS_MAN man)
if(AIRSSYS_BUILD_TESTS AND NOT AIRSSYS_TEST_COMPONENTS AND AIRSSYS_HELP2MAN AND AIRSSYS_MAN
   AND TARGET airssys-osl AND TARGET task-watchdog)
  add_test(NAME install.man_pages
    COMMAND ${CMAKE_COMMAND} -DMAKE_MAN=${PROJECT_SOURCE_DIR}/packaging/man/make-man
            -DWORK_DIR=${PROJECT_BINARY_DIR}/man-test -DVERSION=${PROJECT_VERSION}
            "-DPROGRAMS=airssys-osl=$<TARGET_FILE:airssys-osl>;task-watchdog=$<TARGET_FILE:task-watchdog>"
            "-DEXPECT=airssys-osl=airssys-osl fs read;airssys-osl=--principal;task-watchdog=task-watchdog status;task-watchdog=--registry"
            -P ${PROJECT_SOURCE_DIR}/tests/man/run.cmake)
  set_tests_properties(install.man_pages PROPERTIES TIMEOUT 120 LABELS install)
endif()

# The systemd units the packages ship pass systemd-analyze verify, with their
# ExecStart programs taken from this build (scripts/verify-units).
find_program(AIRSSYS_SYSTEMD_ANALYZE systemd-analyze)
if(AIRSSYS_BUILD_TESTS AND NOT AIRSSYS_TEST_COMPONENTS AND AIRSSYS_SYSTEMD_ANALYZE
   AND TARGET task-watchdog AND TARGET daemoneye-agent)
  add_test(NAME install.systemd_units
    COMMAND ${PROJECT_SOURCE_DIR}/scripts/verify-units
            --bin task-watchdog=$<TARGET_FILE:task-watchdog> --bin daemoneye-agent=$<TARGET_FILE:daemoneye-agent>
            ${PROJECT_SOURCE_DIR}/packaging/systemd/task-watchdog.service
            ${PROJECT_SOURCE_DIR}/packaging/systemd/daemoneye-agent.service)
  set_tests_properties(install.systemd_units PROPERTIES TIMEOUT 60 LABELS install)
endif()

include(AirssysPackaging)
