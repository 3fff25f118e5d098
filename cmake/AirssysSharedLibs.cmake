# airssys_add_shared_library(COMPONENT)
#   With AIRSSYS_SHARED_LIBS on, airssys_<c>_shared: libairssys_<c>.so with
#   SONAME libairssys_<c>.so.MAJOR.MINOR (0.x: a minor release may break the
#   ABI, as the package version file says for the API) built from the static
#   archive airssys_<c> linked whole, so nothing is compiled twice (the
#   objects are PIC: CMAKE_POSITION_INDEPENDENT_CODE). Its airssys
#   dependencies are the other shared libraries (bus links libairssys_osl.so,
#   never a second copy of osl), its third-party ones those of the static
#   target. Programs and tests keep linking the static archives.
option(AIRSSYS_SHARED_LIBS "Also build and install shared libraries (OFF in the test presets)" ON)

function(airssys_add_shared_library c)
  set(static airssys_${c})
  set(shared airssys_${c}_shared)
  # CMake wants one source; the code all comes from the archive.
  set(stub ${PROJECT_BINARY_DIR}/shared_libs/${shared}.cpp)
  file(CONFIGURE OUTPUT ${stub} CONTENT "// ${shared}: all code comes from lib${static}.a (cmake/AirssysSharedLibs.cmake)\n")
  add_library(${shared} SHARED ${stub})
  add_dependencies(${shared} ${static})
  set_target_properties(${shared} PROPERTIES
    OUTPUT_NAME airssys_${c}
    VERSION ${PROJECT_VERSION}
    SOVERSION ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR}
    EXPORT_NAME ${c}_shared
    LINKER_LANGUAGE CXX)
  # Every symbol the archive needs must come from a declared dependency.
  target_link_options(${shared} PRIVATE -Wl,--no-undefined -Wl,--as-needed)
  target_link_libraries(${shared} PRIVATE -Wl,--whole-archive $<TARGET_FILE:${static}> -Wl,--no-whole-archive)
  # Relinked whenever the archive changes (it is a file here, not a target).
  set_property(TARGET ${shared} APPEND PROPERTY LINK_DEPENDS $<TARGET_FILE:${static}>)

  # The static target's dependencies, split: INTERFACE_LINK_LIBRARIES holds
  # the public ones bare and the private ones as $<LINK_ONLY:...>.
  get_target_property(iface ${static} INTERFACE_LINK_LIBRARIES)
  get_target_property(all ${static} LINK_LIBRARIES)
  set(public "")
  foreach(item IN LISTS iface)
    if(item AND NOT item MATCHES "LINK_ONLY")
      list(APPEND public ${item})
    endif()
  endforeach()
  foreach(kind public private)
    set(mapped "")
    if(kind STREQUAL "public")
      set(items ${public})
    else()
      set(items ${all})
      if(public)
        list(REMOVE_ITEM items ${public})
      endif()
    endif()
    foreach(item IN LISTS items)
      if(NOT item OR item MATCHES "airssys_warnings")
        continue()
      endif()
      if(item MATCHES "^airssys(::|_)([a-z_]+)$")
        # (CMAKE_MATCH_2 is set only after the MATCHES above has run.)
        set(dep airssys_${CMAKE_MATCH_2}_shared)
        if(NOT TARGET ${dep})
          message(FATAL_ERROR "${shared}: needs ${item}, which has no shared library (define it first)")
        endif()
        list(APPEND mapped ${dep})
      else()
        list(APPEND mapped ${item})
      endif()
    endforeach()
    if(kind STREQUAL "public")
      target_link_libraries(${shared} PUBLIC ${mapped})
    else()
      target_link_libraries(${shared} PRIVATE ${mapped})
    endif()
  endforeach()

  get_target_property(inc ${static} INTERFACE_INCLUDE_DIRECTORIES)
  target_include_directories(${shared} INTERFACE ${inc})
  target_compile_features(${shared} PUBLIC cxx_std_23)
endfunction()
