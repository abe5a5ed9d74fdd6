# Installs concurry under CMAKE_INSTALL_PREFIX (or `cmake --install <build> --prefix <dir>`):
# the public headers, the libraries, the CMake package that `find_package(concurry CONFIG)`
# finds, and concurry.pc for pkg-config. The concurry tool installs itself (cli/). Included from
# the top-level CMakeLists.txt when CONCURRY_INSTALL is on, after every target exists.
#
# Everything installed is relocatable: the package and concurry.pc find the prefix from their
# own place, so a tree installed under one prefix can be moved or unpacked under another.

include(CMakePackageConfigHelpers)

set(concurry_cmake_install_dir "${CMAKE_INSTALL_LIBDIR}/cmake/concurry")

# Headers: the listed ones, each in its folder under include/.
foreach(header IN LISTS concurry_public_headers)
  get_filename_component(folder "${header}" DIRECTORY)
  install(FILES "${PROJECT_SOURCE_DIR}/include/${header}"
          DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}/${folder}")
endforeach()

# The library: one file, static or shared.
install(TARGETS concurry
  EXPORT concurry_targets
  ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}"
  LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}"
  RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}")

# Shared libraries find each other beside themselves, and the tool finds them from bin/, without
# LD_LIBRARY_PATH. A packager who sets CMAKE_INSTALL_RPATH or CMAKE_SKIP_INSTALL_RPATH wins.
if(BUILD_SHARED_LIBS AND NOT DEFINED CMAKE_INSTALL_RPATH)
  file(RELATIVE_PATH concurry_bin_to_lib "${CMAKE_INSTALL_FULL_BINDIR}"
       "${CMAKE_INSTALL_FULL_LIBDIR}")
  set_target_properties(concurry PROPERTIES INSTALL_RPATH "$ORIGIN")
  if(TARGET concurry_cli)
    set_target_properties(concurry_cli PROPERTIES
      INSTALL_RPATH "$ORIGIN/${concurry_bin_to_lib}")
  endif()
endif()

# The CMake package: targets, config (which finds the dependencies), version, and the module that
# finds CAF, whose Debian package has no CMake config of its own.
install(EXPORT concurry_targets
  NAMESPACE concurry::
  FILE concurryTargets.cmake
  DESTINATION "${concurry_cmake_install_dir}")
get_target_property(concurry_library_type concurry TYPE)
if(concurry_library_type STREQUAL "STATIC_LIBRARY")
  set(concurry_needs_caf TRUE)
else()
  set(concurry_needs_caf FALSE)
endif()
configure_package_config_file(
  "${PROJECT_SOURCE_DIR}/cmake/concurryConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/package/concurryConfig.cmake"
  INSTALL_DESTINATION "${concurry_cmake_install_dir}")
# NOTE: before 1.0 a minor version may break the API, so 0.1 accepts only 0.1.x.
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(concurry_version_compatibility SameMinorVersion)
else()
  set(concurry_version_compatibility SameMajorVersion)
endif()
write_basic_package_version_file(
  "${PROJECT_BINARY_DIR}/package/concurryConfigVersion.cmake"
  COMPATIBILITY ${concurry_version_compatibility})
install(FILES
  "${PROJECT_BINARY_DIR}/package/concurryConfig.cmake"
  "${PROJECT_BINARY_DIR}/package/concurryConfigVersion.cmake"
  "${PROJECT_SOURCE_DIR}/cmake/FindCAF.cmake"
  DESTINATION "${concurry_cmake_install_dir}")

# concurry.pc. Its prefix is found from the file's own folder, ${pcfiledir}. A shared build
# needs only concurry on the link line and keeps the rest in the private fields, for
# `pkg-config --static`; a static build has no shared library to hide them in, so its Libs and
# Requires carry everything, and both `pkg-config --libs` and `--libs --static` link.
file(RELATIVE_PATH concurry_pc_to_prefix "${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig"
     "${CMAKE_INSTALL_PREFIX}")
string(REGEX REPLACE "/$" "" concurry_pc_to_prefix "${concurry_pc_to_prefix}")
set(concurry_pc_prefix "\${pcfiledir}/${concurry_pc_to_prefix}")
foreach(kind IN ITEMS LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${kind}}")
    set(concurry_pc_${kind} "${CMAKE_INSTALL_${kind}}")
  else()
    set(concurry_pc_${kind} "\${prefix}/${CMAKE_INSTALL_${kind}}")
  endif()
endforeach()
set(concurry_pc_caf "-lcaf_io -lcaf_core")
get_filename_component(concurry_caf_libdir "${CAF_CORE_LIBRARY}" DIRECTORY)
if(NOT concurry_caf_libdir IN_LIST CMAKE_CXX_IMPLICIT_LINK_DIRECTORIES)
  string(PREPEND concurry_pc_caf "-L${concurry_caf_libdir} ")
endif()
if(concurry_library_type STREQUAL "SHARED_LIBRARY")
  set(concurry_pc_requires "Requires.private: spdlog capnp")
  set(concurry_pc_libs "-lconcurry ${CMAKE_THREAD_LIBS_INIT}")
  set(concurry_pc_libs_private "Libs.private: ${concurry_pc_caf}")
else()
  set(concurry_pc_requires "Requires: spdlog capnp")
  set(concurry_pc_libs "-lconcurry ${concurry_pc_caf} ${CMAKE_THREAD_LIBS_INIT}")
  set(concurry_pc_libs_private "")
endif()
string(STRIP "${concurry_pc_libs}" concurry_pc_libs)
configure_file("${PROJECT_SOURCE_DIR}/cmake/concurry.pc.in"
               "${PROJECT_BINARY_DIR}/package/concurry.pc" @ONLY)
install(FILES "${PROJECT_BINARY_DIR}/package/concurry.pc"
        DESTINATION "${CMAKE_INSTALL_LIBDIR}/pkgconfig")
