# The package variant of check_app.cmake, which includes it with its inputs and helpers: concurry
# installed into a temporary prefix, as an application developer would find it.

# Install the build tree.
set(install ${CMAKE_COMMAND} --install "${BUILD_DIR}" --prefix "${prefix}")
if(CONFIG)
  list(APPEND install --config "${CONFIG}")
endif()
run_step("install" ${install})

# What an application needs is there: headers, libraries, the CMake package, concurry.pc.
set(libdir "${prefix}/${LIBDIR}")
set(package_dir "${libdir}/cmake/concurry")
foreach(file IN ITEMS
    include/concurry/concurry.hpp include/concurry/detail/call.hpp
    ${LIBDIR}/cmake/concurry/concurryConfig.cmake
    ${LIBDIR}/cmake/concurry/concurryConfigVersion.cmake
    ${LIBDIR}/cmake/concurry/concurryTargets.cmake ${LIBDIR}/cmake/concurry/FindCAF.cmake
    ${LIBDIR}/pkgconfig/concurry.pc)
  require_file("${prefix}/${file}")
endforeach()
foreach(library IN LISTS LIBRARY_FILES)
  require_file("${libdir}/${library}")
endforeach()

# The package refers to nothing outside the prefix but its dependencies: no build-only target,
# no path into the source or build tree.
file(GLOB package_files "${package_dir}/*.cmake")
foreach(file IN LISTS package_files ITEMS "${libdir}/pkgconfig/concurry.pc")
  require_absent("${file}" "concurry_build_flags" "the build flags are for concurry's own sources")
  require_absent("${file}" "${SOURCE_DIR}/" "an installed package must not need the source tree")
  require_absent("${file}" "${BUILD_DIR}/" "an installed package must not need the build tree")
endforeach()

# The concurry tool runs from the prefix (with shared libraries: through its rpath).
if(CLI)
  run_step("installed tool" "${prefix}/bin/concurry" --version)
  if(NOT step_output STREQUAL "concurry ${VERSION}\n")
    message(FATAL_ERROR "the installed tool printed '${step_output}'")
  endif()
endif()

# find_package(concurry CONFIG) with CMAKE_PREFIX_PATH.
build_and_run_app("package" "-DCONCURRY_APP_USE=package" "-DCMAKE_PREFIX_PATH=${prefix}")
cached_value(concurry_DIR found_dir)
file(REAL_PATH "${found_dir}" found_dir)
file(REAL_PATH "${package_dir}" real_package_dir)
if(NOT found_dir STREQUAL real_package_dir)
  message(FATAL_ERROR "the app found concurry in ${found_dir}, not in ${real_package_dir}")
endif()

# The version rules: this minor version only while the major is 0, this major version after.
string(REPLACE "." ";" version_parts "${VERSION}")
list(GET version_parts 0 major)
list(GET version_parts 1 minor)
math(EXPR next_major "${major} + 1")
set(rejected "${next_major}.0")
if(major EQUAL 0)
  math(EXPR next_minor "${minor} + 1")
  list(APPEND rejected "0.${next_minor}")
endif()
set(version_check "${WORK_DIR}/version_check")
file(WRITE "${version_check}/CMakeLists.txt" "
cmake_minimum_required(VERSION 3.21)
project(concurry_version_check LANGUAGES CXX)
foreach(requested IN ITEMS ${rejected})
  find_package(concurry \${requested} CONFIG QUIET)
  if(concurry_FOUND)
    message(FATAL_ERROR \"concurry \${concurry_VERSION} accepted a request for \${requested}\")
  endif()
endforeach()
find_package(concurry ${major}.${minor} CONFIG REQUIRED)
if(NOT concurry_VERSION STREQUAL \"${VERSION}\" OR NOT TARGET concurry::concurry)
  message(FATAL_ERROR \"found concurry \${concurry_VERSION}, expected ${VERSION} with its target\")
endif()
")
run_step("version rules" ${CMAKE_COMMAND} -S "${version_check}" -B "${version_check}/build"
         -G "${GENERATOR}" "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}" "-DCMAKE_PREFIX_PATH=${prefix}")

# pkg-config: the flags of `--libs` and of `--libs --static` both link the app.
if(NOT PKG_CONFIG)
  message(STATUS "pkg-config: not found, skipped")
  return()
endif()
set(pc_env "PKG_CONFIG_PATH=${libdir}/pkgconfig")
set(pkg_config ${CMAKE_COMMAND} -E env ${pc_env} "${PKG_CONFIG}")
run_step("pkg-config: version" ${pkg_config} --modversion concurry)
if(NOT step_output STREQUAL "${VERSION}\n")
  message(FATAL_ERROR "pkg-config says concurry is version '${step_output}'")
endif()
foreach(query IN ITEMS cflags libs static_libs)
  set(args "--${query}")
  if(query STREQUAL "static_libs")
    set(args --libs --static)
  endif()
  run_step("pkg-config: ${query}" ${pkg_config} ${args} concurry)
  string(STRIP "${step_output}" flags)
  separate_arguments(pc_${query} UNIX_COMMAND "${flags}")
endforeach()
separate_arguments(sanitize_args UNIX_COMMAND "${sanitize_flags}")
set(pc_dir "${WORK_DIR}/pkg-config")
file(MAKE_DIRECTORY "${pc_dir}")
run_step("pkg-config: compile" "${CXX_COMPILER}" -std=c++20 -Wall -Wextra -Wpedantic -Werror
         ${sanitize_args} ${pc_cflags} -c "${app_source}/main.cpp" -o "${pc_dir}/main.o")
foreach(link IN ITEMS libs static_libs)
  run_step("pkg-config: link with ${link}" "${CXX_COMPILER}" ${sanitize_args} "${pc_dir}/main.o"
           ${pc_${link}} -o "${pc_dir}/app_${link}")
  check_run("pkg-config (${link})" "${pc_dir}/app_${link}" "LD_LIBRARY_PATH=${libdir}")
endforeach()
