# The API reference: HTML from the `///` comments of the public headers, with Doxygen, into
# <build>/docs/html. `cmake --build <build> --target docs` makes it; any Doxygen warning fails
# it, and so does the test `docs` (label docs). Without Doxygen there is neither.

find_package(Doxygen QUIET)
if(NOT DOXYGEN_FOUND)
  message(STATUS "Doxygen not found: no docs target and no docs test")
  return()
endif()

# The headers to document: the public ones, less detail/ (not part of the API).
set(concurry_doxygen_input "")
foreach(header IN LISTS concurry_public_headers)
  if(NOT header MATCHES "^concurry/detail/")
    string(APPEND concurry_doxygen_input " \\\n    \"${PROJECT_SOURCE_DIR}/include/${header}\"")
  endif()
endforeach()
set(concurry_docs_dir "${PROJECT_BINARY_DIR}/docs")
configure_file("${PROJECT_SOURCE_DIR}/cmake/Doxyfile.in" "${concurry_docs_dir}/Doxyfile" @ONLY)

add_custom_target(docs
  COMMAND Doxygen::doxygen "${concurry_docs_dir}/Doxyfile"
  WORKING_DIRECTORY "${concurry_docs_dir}"
  COMMENT "Generating the API reference in ${concurry_docs_dir}/html"
  VERBATIM)

# The test runs Doxygen itself rather than building the target, so that it never runs a build
# inside the build tree while other tests use it.
if(CONCURRY_BUILD_TESTS)
  add_test(NAME docs
    COMMAND Doxygen::doxygen "${concurry_docs_dir}/Doxyfile"
    WORKING_DIRECTORY "${concurry_docs_dir}")
  set_tests_properties(docs PROPERTIES LABELS docs TIMEOUT 300)
endif()
