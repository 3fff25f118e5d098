# `cmake --install`: libraries, public headers, CMake package config,
# pkg-config files, programs, docs and examples, laid out by GNUInstallDirs.
#
# Libraries are static for now (shared libraries with a SONAME are a later
# step, issue 14). A static library's PRIVATE dependencies are still needed at
# link time; install(EXPORT) records them as $<LINK_ONLY:...>, so every
# exported target's dependencies are either exported too (airssys::osl under
# airssys::bus) or found again by the package config (find_dependency).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

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
set(_pc_ledger_osl "airssys-ledger airssys-osl")
set(_pc_rt "")
set(_pc_rt_osl "airssys-rt airssys-osl")
set(_pc_bus "airssys-osl nlohmann_json")

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
  set_target_properties(airssys_${c} PROPERTIES EXPORT_NAME ${c})
  # The public headers use C++23 (std::expected): consumers compile as C++23.
  target_compile_features(airssys_${c} PUBLIC cxx_std_23)
  install(TARGETS airssys_${c} EXPORT airssys-${c}-targets
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev
    INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${_inc_${c}}/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev
    FILES_MATCHING PATTERN "*.hpp" PATTERN "*.h")
  install(EXPORT airssys-${c}-targets NAMESPACE airssys:: DESTINATION ${AIRSSYS_CMAKE_DIR} COMPONENT dev)

  string(REPLACE "_" "-" pc_name "airssys-${c}")
  set(PC_NAME ${pc_name})
  set(PC_DESCRIPTION "${_desc_${c}}")
  set(PC_LIB airssys_${c})
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

# Programs. procmond goes beside daemoneye-agent: the agent starts it from
# its own directory.
foreach(p IN ITEMS airssys-osl airssys-ledger airssys-bus task-watchdog procmond daemoneye-agent daemoneye-cli)
  if(TARGET ${p})
    install(TARGETS ${p} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT programs)
  endif()
endforeach()

# Documentation, the example osl policy, DaemonEye's bundled rules and its
# example configuration.
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT doc)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT doc
  FILES_MATCHING PATTERN "*.md")
install(DIRECTORY ${PROJECT_SOURCE_DIR}/osl/policies/ DESTINATION ${CMAKE_INSTALL_DATADIR}/airssys/osl/policies
  COMPONENT programs FILES_MATCHING PATTERN "*.yaml")
install(DIRECTORY ${PROJECT_SOURCE_DIR}/daemoneye/rules/ DESTINATION ${CMAKE_INSTALL_DATADIR}/airssys/daemoneye/rules
  COMPONENT programs FILES_MATCHING PATTERN "*.yaml" PATTERN "*.yml")
install(FILES ${PROJECT_SOURCE_DIR}/daemoneye/config.example.yaml
  DESTINATION ${CMAKE_INSTALL_DATADIR}/airssys/daemoneye COMPONENT programs)

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
