# The .deb packages (CPack, one package per install component) and the system
# files only they install: DaemonEye's /etc/daemoneye, the systemd units, the
# Debian copyright and changelog files. Build them with scripts/package-check
# (the `package` preset: prefix /usr, shared libraries, man pages), which
# also checks them; packaging/README.md lists the packages and what lintian
# still says.
#
# The system files are EXCLUDE_FROM_ALL: a plain `cmake --install` (a staged
# prefix, the consumer test) never writes /etc or /lib/systemd; CPack asks for
# each component by name and gets them.
set(AIRSSYS_DEB_RELEASE 1)
set(AIRSSYS_DEB_VERSION ${PROJECT_VERSION}-${AIRSSYS_DEB_RELEASE})
set(AIRSSYS_DEB_MAINTAINER "airssys maintainers <airssys@example.org>")
set(AIRSSYS_LIB_PACKAGE libairssys${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR})
# Debian 12 keeps units in /lib/systemd/system (no merged-/usr paths in packages yet).
set(AIRSSYS_SYSTEMD_UNIT_DIR /lib/systemd/system CACHE PATH "Where the packages put systemd units")

# component | package name | section | summary | description
set(_deb_lib_name ${AIRSSYS_LIB_PACKAGE})
set(_deb_lib_section libs)
set(_deb_lib_summary "airssys shared libraries")
set(_deb_lib_description "The shared libraries of airssys: airssys-osl (policy-checked, audited OS
operations), airssys-ledger (tamper-evident RFC 6962 log), airssys-rt (actor
runtime), airssys-bus (local pub/sub) and the osl adapters of rt and ledger.")
set(_deb_dev_name libairssys-dev)
set(_deb_dev_section libdevel)
set(_deb_dev_summary "airssys libraries - development files")
set(_deb_dev_description "Headers, static archives, shared library links, the CMake package
(find_package(airssys COMPONENTS osl ledger rt bus)) and pkg-config files
(airssys-osl.pc ...) of the airssys libraries.")
set(_deb_osl_name airssys-osl)
set(_deb_osl_section admin)
set(_deb_osl_summary "filesystem and process operations through a policy")
set(_deb_osl_description "airssys-osl runs filesystem and process operations through the airssys-osl
pipeline: a deny-by-default YAML policy, an activity log, a sandboxed
executor. Includes an example policy.")
set(_deb_ledger_name airssys-ledger)
set(_deb_ledger_section admin)
set(_deb_ledger_summary "tamper-evident append-only log tool")
set(_deb_ledger_description "airssys-ledger creates, appends to and verifies tamper-evident logs (RFC 6962
Merkle tree, signed checkpoints); it also checks DaemonEye's audit ledger.")
set(_deb_bus_name airssys-bus)
set(_deb_bus_section net)
set(_deb_bus_summary "local pub/sub over Unix sockets")
set(_deb_bus_description "airssys-bus runs a local publish/subscribe broker on a Unix socket and
publishes, subscribes and sends requests from the command line.")
set(_deb_watchdog_name task-watchdog)
set(_deb_watchdog_section admin)
set(_deb_watchdog_summary "run tasks with deadlines and kill the whole tree")
set(_deb_watchdog_description "task-watchdog runs tasks (processes or containers) with deadlines and resource
limits and kills every process of a task that overruns. Includes the
task-watchdog.service sweep daemon, run as the task-watchdog system user.")
set(_deb_daemoneye_name daemoneye)
set(_deb_daemoneye_section admin)
set(_deb_daemoneye_summary "host process monitoring with SQL detection rules")
set(_deb_daemoneye_description "DaemonEye collects process data (procmond), runs SQL detection rules over
it and raises alerts to stdout, files, syslog, webhooks and NATS JetStream,
each one also appended to a tamper-evident audit ledger (daemoneye-agent).
It can also forward every process event it collects to NATS JetStream
(events.nats). Includes the bundled rules in /etc/daemoneye/rules and
daemoneye-agent.service.")
set(_deb_doc_name airssys-doc)
set(_deb_doc_section doc)
set(_deb_doc_summary "airssys documentation")
set(_deb_doc_description "The README and the docs/ pages of airssys: one page per system, the
osl policy language, the formats and the benchmark figures.")

set(_deb_components lib dev osl ledger bus watchdog)
if(TARGET daemoneye-agent)
  list(APPEND _deb_components daemoneye)
endif()
list(APPEND _deb_components doc)
if(NOT AIRSSYS_SHARED_LIBS)
  list(REMOVE_ITEM _deb_components lib)
endif()

# --- system files (packages only) ---
if(TARGET daemoneye-agent)
  install(FILES ${PROJECT_SOURCE_DIR}/daemoneye/config.example.yaml RENAME config.yaml
    DESTINATION /etc/daemoneye COMPONENT daemoneye EXCLUDE_FROM_ALL
    PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ)
  # The Sigma rules (rules/sigma/) go into the same directory: the agent reads one level.
  file(GLOB _rules CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/daemoneye/rules/*.yaml ${PROJECT_SOURCE_DIR}/daemoneye/rules/*.yml
       ${PROJECT_SOURCE_DIR}/daemoneye/rules/sigma/*.yml)
  install(FILES ${_rules} DESTINATION /etc/daemoneye/rules COMPONENT daemoneye EXCLUDE_FROM_ALL)
  install(FILES ${PROJECT_SOURCE_DIR}/packaging/systemd/daemoneye-agent.service
    DESTINATION ${AIRSSYS_SYSTEMD_UNIT_DIR} COMPONENT daemoneye EXCLUDE_FROM_ALL)
  # Every file in /etc is a conffile: dpkg keeps an administrator's edits.
  set(_conffiles "/etc/daemoneye/config.yaml\n")
  foreach(r IN LISTS _rules)
    get_filename_component(n ${r} NAME)
    string(APPEND _conffiles "/etc/daemoneye/rules/${n}\n")
  endforeach()
  file(WRITE ${PROJECT_BINARY_DIR}/deb/daemoneye/conffiles "${_conffiles}")
endif()
if(TARGET task-watchdog)
  install(FILES ${PROJECT_SOURCE_DIR}/packaging/systemd/task-watchdog.service
    DESTINATION ${AIRSSYS_SYSTEMD_UNIT_DIR} COMPONENT watchdog EXCLUDE_FROM_ALL)
  # Linked static and non-PIE on purpose (watchdog/CMakeLists.txt).
  install(FILES ${PROJECT_SOURCE_DIR}/packaging/debian/task-watchdog/lintian-overrides RENAME task-watchdog
    DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/lintian/overrides COMPONENT watchdog EXCLUDE_FROM_ALL)
endif()

# /usr/share/doc/<package>/{copyright,changelog.Debian.gz}, as Debian policy
# wants for every package.
# (string(TIMESTAMP) takes SOURCE_DATE_EPOCH when set: reproducible builds.)
string(TIMESTAMP _deb_date "%a, %d %b %Y %H:%M:%S +0000" UTC)
foreach(c IN LISTS _deb_components)
  set(PKG ${_deb_${c}_name})
  set(DEB_VERSION ${AIRSSYS_DEB_VERSION})
  set(MAINTAINER ${AIRSSYS_DEB_MAINTAINER})
  set(DATE ${_deb_date})
  configure_file(${PROJECT_SOURCE_DIR}/packaging/debian/changelog.in ${PROJECT_BINARY_DIR}/deb/${c}/changelog.Debian @ONLY)
  add_custom_command(OUTPUT ${PROJECT_BINARY_DIR}/deb/${c}/changelog.Debian.gz
    COMMAND gzip -9nf -k ${PROJECT_BINARY_DIR}/deb/${c}/changelog.Debian
    DEPENDS ${PROJECT_BINARY_DIR}/deb/${c}/changelog.Debian VERBATIM)
  list(APPEND _deb_changelogs ${PROJECT_BINARY_DIR}/deb/${c}/changelog.Debian.gz)
  install(FILES ${PROJECT_SOURCE_DIR}/packaging/debian/copyright ${PROJECT_BINARY_DIR}/deb/${c}/changelog.Debian.gz
    DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/${PKG} COMPONENT ${c} EXCLUDE_FROM_ALL)
endforeach()
add_custom_target(airssys_deb_changelogs ALL DEPENDS ${_deb_changelogs})

# --- CPack ---
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME airssys)
set(CPACK_PACKAGE_VENDOR "airssys")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT ${AIRSSYS_DEB_MAINTAINER})
set(CPACK_PACKAGE_DIRECTORY ${PROJECT_BINARY_DIR}/packages)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL ${_deb_components})
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE ${AIRSSYS_DEB_RELEASE})
set(CPACK_DEBIAN_PACKAGE_MAINTAINER ${AIRSSYS_DEB_MAINTAINER})
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Depends on the Debian packages of the shared libraries each one links
# (dpkg-shlibdeps); our programs link our libraries statically.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
# 0.x: any other version may break the ABI, so programs built on these
# libraries depend on exactly this version.
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY "=")
set(CPACK_DEBIAN_ENABLE_COMPONENT_DEPENDS ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
foreach(c IN LISTS _deb_components)
  string(TOUPPER ${c} C)
  set(CPACK_DEBIAN_${C}_PACKAGE_NAME ${_deb_${c}_name})
  set(CPACK_DEBIAN_${C}_PACKAGE_SECTION ${_deb_${c}_section})
  set(CPACK_COMPONENT_${C}_DESCRIPTION "${_deb_${c}_summary}\n${_deb_${c}_description}")
endforeach()
set(CPACK_DEBIAN_DOC_PACKAGE_ARCHITECTURE all)
if(AIRSSYS_SHARED_LIBS)
  set(CPACK_COMPONENT_DEV_DEPENDS lib)
endif()
# find_package(airssys) finds these again (find_dependency), and a static
# link needs their libraries.
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "libyaml-cpp-dev, nlohmann-json3-dev, libfmt-dev, libssl-dev")
# lintian wants the ldconfig trigger (CPack only writes ldconfig calls).
set(CPACK_DEBIAN_LIB_PACKAGE_CONTROL_EXTRA ${PROJECT_SOURCE_DIR}/packaging/debian/lib/triggers)
# task-watchdog is linked static (watchdog/CMakeLists.txt) and loads
# nothing at run time (no NSS, no libcurl, SHA-256 from libcrypto.a): it runs
# on any libc6 of this architecture, and dpkg-shlibdeps rightly finds
# nothing to depend on (scripts/package-check checks both).
set(CPACK_DEBIAN_WATCHDOG_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_WATCHDOG_PACKAGE_CONTROL_EXTRA
  ${PROJECT_SOURCE_DIR}/packaging/debian/task-watchdog/postinst
  ${PROJECT_SOURCE_DIR}/packaging/debian/task-watchdog/prerm
  ${PROJECT_SOURCE_DIR}/packaging/debian/task-watchdog/postrm)
set(CPACK_DEBIAN_DAEMONEYE_PACKAGE_CONTROL_EXTRA
  ${PROJECT_BINARY_DIR}/deb/daemoneye/conffiles
  ${PROJECT_SOURCE_DIR}/packaging/debian/daemoneye/postinst
  ${PROJECT_SOURCE_DIR}/packaging/debian/daemoneye/prerm
  ${PROJECT_SOURCE_DIR}/packaging/debian/daemoneye/postrm)
# Container tasks talk to podman or Docker; neither is needed otherwise.
set(CPACK_DEBIAN_WATCHDOG_PACKAGE_SUGGESTS "podman")
set(CPACK_DEBIAN_DAEMONEYE_PACKAGE_RECOMMENDS "airssys-ledger")
include(CPack)
