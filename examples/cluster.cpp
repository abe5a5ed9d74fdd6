// Cluster mode: the same pool, its workers placed by a head on the nodes of a cluster. Without
// CONCURRY_ADDRESS (or cluster_address), the pool starts a private cluster on 127.0.0.1: a head
// in this program and one node, this program run again, sized to the machine.
#include <concurry/concurry.hpp>

#include <unistd.h>

#include <iostream>
#include <set>

class data_processor : public concurry::worker<data_processor> {
public:
  explicit data_processor(int multiplier) : multiplier_{multiplier} {}

  int process(int value) { return value * multiplier_; }

  // Where the worker runs: its process, apart from the client's.
  int pid() const { return static_cast<int>(::getpid()); }

private:
  int multiplier_;
};
CONCURRY_WORKER(data_processor, (int), process, pid)

int main(int argc, char** argv) {
  concurry::runtime rt{argc, argv};
  // Four workers of half a CPU each.
  auto pool =
      data_processor::options().mode(concurry::mode::cluster).max_workers(4).num_cpus(0.5).init(10);
  std::cout << pool.call(&data_processor::process, 42).result() << '\n'; // 420
  std::set<int> pids;
  for (int i = 0; i < 4; ++i)
    pids.insert(pool.call(&data_processor::pid).result());
  std::cout << pids.size() << " worker processes, none of them this one: "
            << (pids.count(static_cast<int>(::getpid())) == 0 ? "yes" : "no") << '\n';
  pool.stop();
}
