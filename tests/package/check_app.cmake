# Builds examples/app, a CMake project of its own, against concurry one way, runs it and checks
# what it prints. Run by the package tests (tests/package/CMakeLists.txt) as
#
#     cmake -DVARIANT=package|subdirectory|fetchcontent -DSOURCE_DIR=... -DBUILD_DIR=...
#           -DWORK_DIR=... [more -D...] -P check_app.cmake
#
#   package       installs the build tree BUILD_DIR into WORK_DIR/prefix, checks what got there,
#                 builds the app with find_package (CMAKE_PREFIX_PATH) and with pkg-config, and
#                 checks the package's version rules
#   subdirectory  builds the app with add_subdirectory(SOURCE_DIR), only the app's target
#   fetchcontent  the same through FetchContent from SOURCE_DIR
#
# More inputs: VERSION (concurry's), CONFIG (build type), GENERATOR, CXX_COMPILER, C_COMPILER,
# COMPILER_LAUNCHER, LIBDIR (CMAKE_INSTALL_LIBDIR), LIBRARY_FILES (the file names of the built
# libraries, joined with "|"), SHARED and SANITIZE (ON/OFF), CLI (ON when the concurry tool was
# built), PKG_CONFIG (the program; empty: skip), JOBS.
# WORK_DIR is emptied first and removed again when every check passed.

cmake_minimum_required(VERSION 3.21)

foreach(input IN ITEMS VARIANT SOURCE_DIR BUILD_DIR WORK_DIR VERSION GENERATOR CXX_COMPILER)
  if(NOT DEFINED ${input} OR "${${input}}" STREQUAL "")
    message(FATAL_ERROR "check_app.cmake needs -D${input}=...")
  endif()
endforeach()
if(NOT JOBS)
  set(JOBS 2)
endif()
string(REPLACE "|" ";" LIBRARY_FILES "${LIBRARY_FILES}")

set(app_source "${SOURCE_DIR}/examples/app")
set(app_build "${WORK_DIR}/app")
set(prefix "${WORK_DIR}/prefix")
set(expected_output
    "concurry ${VERSION}\nlengths: 7 9 14\ntotal: 30\nfarthest: (2, 5)\nworkers: 3\n")
string(TIMESTAMP started "%s")
if(SANITIZE)
  set(sanitize_flags "-fsanitize=address,undefined -fno-omit-frame-pointer")
else()
  set(sanitize_flags "")
endif()

# Runs one step (a command, at most 10 minutes), prints its time, and stops the check with its
# output when it fails. Leaves the standard output in step_output.
function(run_step what)
  string(TIMESTAMP begin "%s")
  execute_process(COMMAND ${ARGN}
    RESULT_VARIABLE rc
    OUTPUT_VARIABLE out
    ERROR_VARIABLE err
    TIMEOUT 600)
  string(TIMESTAMP end "%s")
  math(EXPR seconds "${end} - ${begin}")
  if(NOT rc STREQUAL "0")
    list(JOIN ARGN " " command)
    message(FATAL_ERROR "${what} failed (${rc}) after ${seconds} s:\n"
                        "${command}\n--- stdout\n${out}\n--- stderr\n${err}")
  endif()
  message(STATUS "${what}: ${seconds} s")
  set(step_output "${out}" PARENT_SCOPE)
endfunction()

# Runs the app at `program` (with `env`, a list of NAME=value) and compares what it prints.
function(check_run what program)
  run_step("${what}: run" ${CMAKE_COMMAND} -E env ${ARGN} "${program}")
  if(NOT step_output STREQUAL expected_output)
    message(FATAL_ERROR "${what} printed\n${step_output}\nexpected\n${expected_output}")
  endif()
endfunction()

function(require_file path)
  if(NOT EXISTS "${path}")
    message(FATAL_ERROR "not installed: ${path}")
  endif()
endfunction()

# Fails when `file` mentions `text`.
function(require_absent file text why)
  file(READ "${file}" content)
  string(FIND "${content}" "${text}" at)
  if(NOT at EQUAL -1)
    message(FATAL_ERROR "${file} mentions ${text}: ${why}")
  endif()
endfunction()

# Configures the app in app_build with `args`, builds its target and checks its output.
function(build_and_run_app what)
  set(configure ${CMAKE_COMMAND} -S "${app_source}" -B "${app_build}" -G "${GENERATOR}"
      "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}" -DCONCURRY_APP_WERROR=ON
      "-DCMAKE_CXX_FLAGS=${sanitize_flags}" "-DCMAKE_EXE_LINKER_FLAGS=${sanitize_flags}")
  if(CONFIG)
    list(APPEND configure "-DCMAKE_BUILD_TYPE=${CONFIG}")
  endif()
  if(C_COMPILER)
    list(APPEND configure "-DCMAKE_C_COMPILER=${C_COMPILER}")
  endif()
  if(COMPILER_LAUNCHER)
    list(APPEND configure "-DCMAKE_CXX_COMPILER_LAUNCHER=${COMPILER_LAUNCHER}")
  endif()
  run_step("${what}: configure" ${configure} ${ARGN})
  set(build ${CMAKE_COMMAND} --build "${app_build}" --target concurry_app --parallel ${JOBS})
  if(CONFIG)
    list(APPEND build --config "${CONFIG}")
  endif()
  run_step("${what}: build" ${build})
  find_program(app NAMES concurry_app PATHS "${app_build}" "${app_build}/${CONFIG}"
               NO_DEFAULT_PATH NO_CACHE)
  if(NOT app)
    message(FATAL_ERROR "${what}: no concurry_app in ${app_build}")
  endif()
  check_run("${what}" "${app}")
endfunction()

# The value of `name` in the app's CMakeCache.txt, into `out`.
function(cached_value name out)
  file(STRINGS "${app_build}/CMakeCache.txt" line REGEX "^${name}:[A-Z]+=")
  string(REGEX REPLACE "^[^=]*=" "" value "${line}")
  set(${out} "${value}" PARENT_SCOPE)
endfunction()

file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

if(VARIANT STREQUAL "package")
  include("${CMAKE_CURRENT_LIST_DIR}/check_package.cmake")
elseif(VARIANT STREQUAL "subdirectory" OR VARIANT STREQUAL "fetchcontent")
  # concurry as part of another project: the app's target only, and none of concurry's tests,
  # benchmarks, examples, tool, docs or install rules.
  build_and_run_app("${VARIANT}"
    "-DCONCURRY_APP_USE=${VARIANT}" "-DCONCURRY_APP_SOURCE_DIR=${SOURCE_DIR}"
    "-DBUILD_SHARED_LIBS=${SHARED}" "-DCONCURRY_SANITIZE=${SANITIZE}")
  foreach(option IN ITEMS BUILD_TESTS BUILD_BENCH BUILD_EXAMPLES BUILD_CLI BUILD_DOCS INSTALL)
    cached_value(CONCURRY_${option} value)
    if(NOT value STREQUAL "OFF")
      message(FATAL_ERROR "CONCURRY_${option} is '${value}' in a project that includes "
                          "concurry; expected OFF")
    endif()
  endforeach()
else()
  message(FATAL_ERROR "VARIANT is '${VARIANT}'; expected package, subdirectory or fetchcontent")
endif()

file(REMOVE_RECURSE "${WORK_DIR}")
string(TIMESTAMP finished "%s")
math(EXPR seconds "${finished} - ${started}")
message(STATUS "${VARIANT}: every check passed in ${seconds} s")
