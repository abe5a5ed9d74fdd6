# Compares the headers under INCLUDE_DIR/concurry with LISTED (the list of the top-level
# CMakeLists.txt, joined with "|"), and fails naming each one that is on one side only.
# Run as `cmake -DINCLUDE_DIR=... -DLISTED=... -P check_list.cmake`.

cmake_minimum_required(VERSION 3.21)

string(REPLACE "|" ";" listed "${LISTED}")
file(GLOB_RECURSE present RELATIVE "${INCLUDE_DIR}" "${INCLUDE_DIR}/concurry/*.hpp")

set(problems "")
foreach(header IN LISTS present)
  if(NOT header IN_LIST listed)
    string(APPEND problems "\n  not listed in concurry_public_headers: ${header}")
  endif()
endforeach()
foreach(header IN LISTS listed)
  if(NOT header IN_LIST present)
    string(APPEND problems "\n  listed but missing from ${INCLUDE_DIR}: ${header}")
  endif()
endforeach()
if(problems)
  message(FATAL_ERROR "the public header list is out of date:${problems}")
endif()
list(LENGTH present count)
message(STATUS "all ${count} public headers are listed")
