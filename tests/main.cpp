// The test main: creates the concurry::runtime first, as every concurry program does, so that
// later modes can re-execute this binary as a worker host.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <concurry/runtime.hpp>

#include <cstdlib>

int main(int argc, char** argv) {
  // The private cluster of cluster-mode tests: a node with room for every pool they make (one
  // sized to this 2-core machine would keep most workers waiting), so that a pool of the
  // default size (as many as fit) has as many workers as a thread pool's default.
  ::setenv("CONCURRY_NUM_CPUS", "24", 0);
  concurry::runtime rt{argc, argv};
  doctest::Context context;
  context.applyCommandLine(argc, argv);
  return context.run();
}
