// The user guide's "Timeout handling": a result that is not there in time throws timeout_error
// and leaves the future usable; wait() with a timeout says which calls are done; gather() with a
// timeout throws; stop(timeout) lets the calls in flight finish first.
//
// Every verdict printed here holds however slow the machine: a call that sleeps longer than the
// timeout cannot be done before it, and the short calls take a tenth of their timeout or less.
#include <concurry/concurry.hpp>
#include <concurry/wait.hpp>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

class slow_worker : public concurry::worker<slow_worker> {
public:
  std::string slow_task(int duration_ms) {
    std::this_thread::sleep_for(std::chrono::milliseconds{duration_ms});
    return "completed after " + std::to_string(duration_ms) + " ms";
  }
};
CONCURRY_WORKER(slow_worker, (), slow_task)

/// `indices` as "[0, 2]".
std::string list(const std::vector<std::size_t>& indices) {
  std::string out = "[";
  for (auto i : indices)
    out.append(out.size() > 1 ? ", " : "").append(std::to_string(i));
  return out + "]";
}

} // namespace

int main(int argc, char** argv) {
  concurry::runtime rt{argc, argv};
  auto pool = slow_worker::options().mode(concurry::mode::thread).max_workers(3).init();

  // future.result(timeout): the slow task times out, and the same future answers later.
  std::vector<concurry::future<std::string>> tasks{pool.call(&slow_worker::slow_task, 100),
                                                   pool.call(&slow_worker::slow_task, 1500),
                                                   pool.call(&slow_worker::slow_task, 100)};
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    try {
      std::printf("task %zu: %s\n", i, tasks[i].result(1s).c_str());
    } catch (const concurry::timeout_error&) {
      std::printf("task %zu: timed out after 1 s (the worker carries on)\n", i);
    }
  }
  std::printf("task 1, asked again: %s\n", tasks[1].result().c_str());

  // wait() says which calls are done; with a timeout it returns the partial sets, never throws.
  std::vector fs{pool.call(&slow_worker::slow_task, 10), pool.call(&slow_worker::slow_task, 1500)};
  auto show = [&](const char* how, const concurry::wait_result& r) {
    std::printf("%s: done %s, not done %s\n", how, list(r.done).c_str(), list(r.not_done).c_str());
  };
  show("wait first_completed", concurry::wait(fs, concurry::return_when::first_completed, 10s));
  show("wait all_completed 200 ms",
       concurry::wait(fs, concurry::return_when::all_completed, 200ms));
  show("wait all_completed 10 s", concurry::wait(fs, concurry::return_when::all_completed, 10s));

  // gather(timeout) throws when not all are done; the futures stay usable.
  std::vector gs{pool.call(&slow_worker::slow_task, 10), pool.call(&slow_worker::slow_task, 1000)};
  try {
    concurry::gather(gs, 200ms);
  } catch (const concurry::timeout_error&) {
    std::printf("gather 200 ms: timeout_error\n");
  }
  auto values = concurry::gather(gs, 10s);
  std::printf("gather 10 s: \"%s\", \"%s\"\n", values[0].c_str(), values[1].c_str());

  // stop(timeout) lets the calls in flight finish within the timeout before it stops the pool.
  auto in_flight = pool.call(&slow_worker::slow_task, 500);
  pool.stop(10s);
  std::printf("stop(10 s) let the call in flight finish: %s\n", in_flight.result(0s).c_str());
}
