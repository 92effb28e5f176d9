# pounce_add_plugin(<target> [OUTPUT_NAME name] SOURCES src...)
#
# Builds a plugin as a loadable module (lib<name>.so) with the flags the host
# relies on for hot reload. In this repository the module lands in
# build/plugins; outside it, in the caller's binary directory.
# Where this file lives: inside the function CMAKE_CURRENT_LIST_DIR is the
# caller's directory, and plugins are added from other directory scopes.
set(_POUNCE_SDK_CMAKE_DIR ${CMAKE_CURRENT_LIST_DIR} CACHE INTERNAL "PounceSDKPlugin.cmake directory")

function(pounce_add_plugin target)
  cmake_parse_arguments(ARG "" "OUTPUT_NAME" "SOURCES" ${ARGN})
  add_library(${target} MODULE ${ARG_SOURCES})
  if(TARGET pounce::sdk)
    target_link_libraries(${target} PRIVATE pounce::sdk)
  else()
    target_link_libraries(${target} PRIVATE PounceSDK::pounce_sdk)
  endif()
  set_target_properties(${target} PROPERTIES
    PREFIX "lib"
    C_VISIBILITY_PRESET hidden
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  if(ARG_OUTPUT_NAME)
    set_target_properties(${target} PROPERTIES OUTPUT_NAME ${ARG_OUTPUT_NAME})
  endif()
  if(DEFINED POUNCE_PLUGIN_OUTPUT_DIR)
    set_target_properties(${target} PROPERTIES
      LIBRARY_OUTPUT_DIRECTORY ${POUNCE_PLUGIN_OUTPUT_DIR})
  endif()
  # Refuse undefined symbols at link time rather than at dlopen time.
  target_link_options(${target} PRIVATE -Wl,--no-undefined
    -Wl,--version-script=${_POUNCE_SDK_CMAKE_DIR}/pounce-plugin.map)
  set_property(TARGET ${target} APPEND PROPERTY LINK_DEPENDS
    ${_POUNCE_SDK_CMAKE_DIR}/pounce-plugin.map)
endfunction()
