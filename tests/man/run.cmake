# ctest install.man_pages: packaging/man/make-man turns a built program into
# a man page holding its --version and every subcommand's --help (nested ones
# too), as the packages' pages are made.
#   cmake -DMAKE_MAN=... -DWORK_DIR=... -DVERSION=... "-DPROGRAMS=name=path;..."
#         "-DEXPECT=name=text;..." -P run.cmake
foreach(v MAKE_MAN WORK_DIR VERSION PROGRAMS EXPECT)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "run.cmake: -D${v}= is required")
  endif()
endforeach()
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})
foreach(entry IN LISTS PROGRAMS)
  string(REGEX MATCH "^([^=]+)=(.*)$" _ "${entry}")
  set(name ${CMAKE_MATCH_1})
  set(exe ${CMAKE_MATCH_2})
  execute_process(COMMAND ${MAKE_MAN} ${exe} ${name} "test page" ${WORK_DIR}/${name}.1.gz
    RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "make-man ${name} failed (${rc}): ${err}")
  endif()
  # man's own renderer, as a reader would see the page.
  execute_process(COMMAND man -l ${WORK_DIR}/${name}.1.gz RESULT_VARIABLE rc OUTPUT_VARIABLE page
    ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "man -l ${name}.1.gz failed (${rc}): ${err}")
  endif()
  set(want "${name} ${VERSION}")
  foreach(e IN LISTS EXPECT)
    string(REGEX MATCH "^([^=]+)=(.*)$" _ "${e}")
    if(CMAKE_MATCH_1 STREQUAL name)
      list(APPEND want "${CMAKE_MATCH_2}")
    endif()
  endforeach()
  foreach(text IN LISTS want)
    string(FIND "${page}" "${text}" at)
    if(at EQUAL -1)
      message(FATAL_ERROR "${name}.1 lacks '${text}':\n${page}")
    endif()
  endforeach()
  message(STATUS "${name}.1: ${want}")
endforeach()
