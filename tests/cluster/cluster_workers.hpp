// Worker classes of the cluster system tests, compiled into the test binary, the client probe
// and the worker library that concurry-node loads: every one registers the same names.
#pragma once

#include <concurry/concurry.hpp>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

namespace cluster_test {

/// Says where it runs: its own pid and its node's (the node is every worker host's parent).
class locator : public concurry::worker<locator> {
public:
  int pid() const { return static_cast<int>(::getpid()); }
  int node_pid() const { return static_cast<int>(::getppid()); }
  int sleep_ms(int ms) const {
    std::this_thread::sleep_for(std::chrono::milliseconds{ms});
    return static_cast<int>(::getppid());
  }
  // Takes one unit of the pool's call limit, as a limited API call does.
  int limited() {
    auto held = limits().acquire();
    return static_cast<int>(::getppid());
  }
  void say(std::string line) const {
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
  }
};
CONCURRY_WORKER(locator, (), pid, node_pid, sleep_ms, limited, say)

/// The worker of concurry-node's worker library test.
class library_worker : public concurry::worker<library_worker> {
public:
  explicit library_worker(int base) : base_{base} {}
  int add(int x) const { return base_ + x; }
  int node_pid() const { return static_cast<int>(::getppid()); }

private:
  int base_;
};
CONCURRY_WORKER(library_worker, (int), add, node_pid)

} // namespace cluster_test
