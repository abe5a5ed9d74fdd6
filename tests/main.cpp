// The test main: creates the concurry::runtime first, as every concurry program does, so that
// later modes can re-execute this binary as a worker host.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <concurry/runtime.hpp>

int main(int argc, char** argv) {
  concurry::runtime rt{argc, argv};
  doctest::Context context;
  context.applyCommandLine(argc, argv);
  return context.run();
}
