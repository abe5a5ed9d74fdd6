// The user guide's "Comparing load balancers": one slow call, then fast ones, on pools of three
// workers. Round robin sends the third fast call to the worker busy with the slow one, where it
// waits; least_active sends every fast call to an idle worker; least_total evens out the counts
// of calls, busy or not, so it too sends the third fast call to the busy worker; random picks
// any worker, so where the fast calls go differs from run to run.
#include <concurry/concurry.hpp>

#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

class slow_worker : public concurry::worker<slow_worker> {
public:
  std::size_t process(int duration_ms) {
    std::this_thread::sleep_for(std::chrono::milliseconds{duration_ms});
    return worker_index();
  }
};
CONCURRY_WORKER(slow_worker, (), process)

/// Starts one slow call, then four fast ones, each after the previous returned; prints where the
/// fast ones went and whether they all finished before the slow one could have.
void compare(const char* balancer, bool show_workers = true) {
  auto pool = slow_worker::options().max_workers(3).load_balancing(balancer).init();
  auto t0 = std::chrono::steady_clock::now();
  auto slow = pool.call(&slow_worker::process, 500);
  std::printf("%-7s", balancer);
  for (int i = 1; i <= 4; ++i) {
    auto worker = pool.call(&slow_worker::process, 10).result();
    if (show_workers)
      std::printf(" fast call %d on worker %zu;", i, worker);
  }
  if (!show_workers) {
    // Where they went, and so how long they took, is chance.
    std::printf(" 4 fast calls done, each on a worker picked at random\n");
    slow.result();
    return;
  }
  auto fast_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  std::printf(" fast calls done %s 400 ms\n", fast_ms < 400 ? "within" : "after");
  slow.result();
}

int main(int argc, char** argv) {
  concurry::runtime rt{argc, argv};
  compare("rr");
  compare("active");
  compare("total");
  compare("random", false);
}
