// A client the cluster system tests start and kill: makes a pool of two locators on the cluster
// at CONCURRY_ADDRESS (1 CPU each), has worker 0 print a line, prints "ready", and waits (60 s
// at most) to be killed.
#include "cluster_workers.hpp"

#include <cstdio>

int main(int argc, char** argv) {
  concurry::runtime rt{argc, argv};
  auto pool = cluster_test::locator::options().mode(concurry::mode::cluster).max_workers(2).init();
  pool.call(&cluster_test::locator::say, std::string{"hello from a worker"}).result();
  std::printf("ready\n");
  std::fflush(stdout);
  std::this_thread::sleep_for(std::chrono::seconds{60});
}
