# Man pages and bash completions for every program in AIRSSYS_PROGRAMS
# (cmake/AirssysInstall.cmake), installed with the program's component.
#
# Man pages: packaging/man/make-man runs help2man on the built program, so a
# page is its --help and --version (every subcommand's help included) and
# cannot drift. Needs help2man; AIRSSYS_MAN_PAGES is OFF in the test presets
# (nothing there installs them) and ON where help2man is found otherwise.
# Completions: one generic script (packaging/completions/) that asks the
# program's --help at completion time, installed under each program's name
# where bash-completion loads it on demand.
find_program(AIRSSYS_HELP2MAN help2man)
if(AIRSSYS_HELP2MAN)
  set(_man_default ON)
else()
  set(_man_default OFF)
endif()
option(AIRSSYS_MAN_PAGES "Generate man pages with help2man" ${_man_default})

set(_name_airssys-osl "run filesystem and process operations through the airssys-osl policy pipeline")
set(_name_airssys-ledger "tamper-evident append-only log (RFC 6962 Merkle tree)")
set(_name_airssys-bus "local pub/sub over Unix sockets with an embeddable broker")
set(_name_task-watchdog "run tasks with deadlines; when one overruns, all of it dies")
set(_name_procmond "DaemonEye process collector")
set(_name_daemoneye-agent "DaemonEye host process monitoring agent")
set(_name_daemoneye-cli "DaemonEye operator command line")

set(_man_pages "")
foreach(p IN LISTS AIRSSYS_PROGRAMS)
  set(component ${AIRSSYS_PROGRAM_COMPONENT_${p}})
  set(PROGRAM ${p})
  configure_file(${PROJECT_SOURCE_DIR}/packaging/completions/airssys-cli11.bash.in
    ${PROJECT_BINARY_DIR}/completions/${p} @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/completions/${p}
    DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions COMPONENT ${component})
  if(AIRSSYS_MAN_PAGES)
    set(page ${PROJECT_BINARY_DIR}/man/${p}.1.gz)
    if(NOT DEFINED _name_${p})
      set(_name_${p} "part of airssys")
    endif()
    add_custom_command(OUTPUT ${page}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${PROJECT_BINARY_DIR}/man
      COMMAND ${PROJECT_SOURCE_DIR}/packaging/man/make-man $<TARGET_FILE:${p}> ${p} "${_name_${p}}" ${page}
      DEPENDS ${p} ${PROJECT_SOURCE_DIR}/packaging/man/make-man
      COMMENT "Man page ${p}.1 (help2man)" VERBATIM)
    list(APPEND _man_pages ${page})
    install(FILES ${page} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT ${component})
  endif()
endforeach()
if(_man_pages)
  add_custom_target(airssys_man_pages ALL DEPENDS ${_man_pages})
endif()
