// The version of concurry.
/// \file
/// The version of concurry: macros for the headers, version() for the library.
#pragma once

/// The major version of these headers.
#define CONCURRY_VERSION_MAJOR 0
/// The minor version of these headers.
#define CONCURRY_VERSION_MINOR 1
/// The patch version of these headers.
#define CONCURRY_VERSION_PATCH 0
/// The version of these headers, as "major.minor.patch".
#define CONCURRY_VERSION_STRING "0.1.0"

namespace concurry {
/// The version of the library the program runs with, as "major.minor.patch".
const char* version() noexcept;
} // namespace concurry
