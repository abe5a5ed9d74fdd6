// The user guide's "Retry mechanisms with pools": a pool whose calls retry on the worker that
// got them, on the exceptions chosen, with exponential waits; validators of results; task
// workers and on-demand pools with the same options.
#include <concurry/concurry.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

using namespace std::chrono_literals;

/// What a flaky network raises; worth retrying.
class connection_error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// A request the server refuses; retrying would not help.
class bad_request : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

class api_worker : public concurry::worker<api_worker> {
public:
  /// Every third id fails twice with a connection error before it answers; negative ids are
  /// bad requests.
  std::string fetch(int id) {
    int attempt = ++attempts_[id];
    if (id < 0)
      throw bad_request{"no such id " + std::to_string(id)};
    if (id % 3 == 0 && attempt <= 2)
      throw connection_error{"connection reset"};
    return "item " + std::to_string(id) + " (attempt " + std::to_string(attempt) + ", worker " +
           std::to_string(worker_index()) + ")";
  }
  /// A score that gets better with every attempt.
  int score(int id) { return ++attempts_[1000 + id] * 10; }

private:
  std::map<int, int> attempts_;
};
CONCURRY_WORKER(api_worker, (), fetch, score)

int main(int argc, char** argv) {
  concurry::runtime rt{argc, argv};

  auto pool = api_worker::options()
                  .max_workers(3)
                  .num_retries(3)
                  .retry_algorithm("exponential")
                  .retry_wait(10ms)
                  .retry_jitter(0)
                  .retry_on<connection_error>()
                  .init();
  // Retries stay on the worker the balancer chose: id i goes to worker i % 3.
  std::vector<concurry::future<std::string>> futures;
  for (int id = 0; id < 6; ++id)
    futures.push_back(pool.call(&api_worker::fetch, id));
  for (auto& f : futures)
    std::printf("%s\n", f.result().c_str());

  try {
    pool.call(&api_worker::fetch, -1).result();
  } catch (const bad_request& e) {
    std::printf("not retried: %s\n", e.what());
  }

  // A result can be judged too: retry until the score reaches 30, or fail with every attempt.
  auto judged = api_worker::options()
                    .max_workers(1)
                    .num_retries(4)
                    .retry_wait(1ms)
                    .retry_until(&api_worker::score, [](int s) { return s >= 30; })
                    .init();
  std::printf("score accepted: %d\n", judged.call(&api_worker::score, 1).result());
  auto strict = api_worker::options()
                    .max_workers(1)
                    .num_retries(2)
                    .retry_wait(1ms)
                    .retry_until(&api_worker::score, [](int s) { return s > 100; })
                    .init();
  try {
    strict.call(&api_worker::score, 2).result();
  } catch (const concurry::retry_validation_error& e) {
    std::printf("rejected after %zu attempts:", e.attempts());
    for (int s : e.results<int>())
      std::printf(" %d", s);
    std::printf("\n");
  }

  // Task workers retry submitted functions with the same options.
  auto calls = std::make_shared<std::atomic<int>>(0);
  auto tasks = concurry::task_worker::options()
                   .max_workers(2)
                   .num_retries(3)
                   .retry_wait(1ms)
                   .retry_on<connection_error>()
                   .init();
  auto doubled = concurry::gather(tasks.map(
      [calls](int x) {
        if (++*calls % 4 == 0)
          throw connection_error{"transient"};
        return x * 2;
      },
      std::vector<int>{1, 2, 3, 4, 5, 6, 7, 8}));
  std::printf("task results:");
  for (int d : doubled)
    std::printf(" %d", d);
  std::printf("\n");

  // On-demand workers retry too, each on its own fresh worker.
  auto fresh = api_worker::options()
                   .on_demand()
                   .max_workers(2)
                   .num_retries(3)
                   .retry_wait(1ms)
                   .retry_on<connection_error>()
                   .init();
  std::printf("on demand: %s\n", fresh.call(&api_worker::fetch, 9).result().c_str());
  return 0;
}
