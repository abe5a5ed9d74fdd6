// The test main: creates the concurry::runtime first, as every concurry program does, so that
// later modes can re-execute this binary as a worker host.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <concurry/runtime.hpp>

#include <cstdlib>

int main(int argc, char** argv) {
  // The private cluster of cluster-mode tests: a node with room for every pool they make (one
  // sized to this 2-core machine would keep most workers waiting).
  ::setenv("CONCURRY_NUM_CPUS", "1000", 0);
  concurry::runtime rt{argc, argv};
  doctest::Context context;
  context.applyCommandLine(argc, argv);
  return context.run();
}
