// A client the cluster system tests start and kill: makes a pool of two locators on the cluster
// at CONCURRY_ADDRESS (1 CPU each), has worker 0 print a line, prints "ready", and waits to be
// killed (60 s at most; CONCURRY_PROBE_SECONDS, then it calls its pool once more and exits).
#include "cluster_workers.hpp"

#include <cstdio>
#include <cstdlib>

int main(int argc, char** argv) {
  concurry::runtime rt{argc, argv};
  auto pool = cluster_test::locator::options().mode(concurry::mode::cluster).max_workers(2).init();
  pool.call(&cluster_test::locator::say, std::string{"hello from a worker"}).result();
  std::printf("ready\n");
  std::fflush(stdout);
  const char* seconds = std::getenv("CONCURRY_PROBE_SECONDS");
  std::this_thread::sleep_for(std::chrono::seconds{seconds ? std::atoi(seconds) : 60});
  pool.call(&cluster_test::locator::pid).result(std::chrono::seconds{10});
}
