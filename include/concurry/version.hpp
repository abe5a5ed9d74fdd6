// The version of concurry.
#pragma once

#define CONCURRY_VERSION_MAJOR 0
#define CONCURRY_VERSION_MINOR 1
#define CONCURRY_VERSION_PATCH 0
#define CONCURRY_VERSION_STRING "0.1.0"

namespace concurry {
/// The version of the library the program runs with, as "major.minor.patch".
const char* version() noexcept;
} // namespace concurry
