// Programs that leave concurry objects alive past the end of main. Each must exit cleanly:
//   exit_probe global-handle   a handle in a global, the runtime and pool in main
//   exit_probe global-pool     a pool in a global, no runtime object at all
//   exit_probe no-runtime      pools made without a runtime object
// A second argument names the mode of the pools: thread (the default) or process.
#include <concurry/concurry.hpp>

#include <cstdio>
#include <cstring>

class echo : public concurry::worker<echo> {
public:
  int twice(int x) { return 2 * x; }
};
CONCURRY_WORKER(echo, (), twice)

concurry::handle<echo> kept_handle;
concurry::pool<echo> kept_pool;

int main(int argc, char** argv) {
  const char* what = argc > 1 ? argv[1] : "";
  const char* mode = argc > 2 ? argv[2] : "thread";
  if (std::strcmp(what, "global-handle") == 0) {
    concurry::runtime rt{argc, argv};
    auto pool = echo::options().mode(mode).max_workers(2).init();
    kept_handle = pool.ref();
    std::printf("%d\n", kept_handle.call(&echo::twice, 21).result());
  } else if (std::strcmp(what, "global-pool") == 0) {
    kept_pool = echo::options().mode(mode).max_workers(2).init();
    std::printf("%d\n", kept_pool.call(&echo::twice, 21).result());
  } else if (std::strcmp(what, "no-runtime") == 0) {
    auto pool = echo::options().mode(mode).max_workers(2).init();
    std::printf("%d\n", pool.call(&echo::twice, 21).result());
  } else {
    std::fprintf(stderr,
                 "usage: exit_probe global-handle|global-pool|no-runtime [thread|process]\n");
    return 2;
  }
  return 0;
}
