// The user guide's "On-demand workers": each call gets a fresh worker that is stopped once its
// result is delivered; max_workers caps how many live at once, and calls beyond the cap wait
// inside the runtime without blocking the caller.
#include <concurry/concurry.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <numeric>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {
std::atomic<int> alive{0};
std::atomic<int> most_alive{0};
} // namespace

class batch_processor : public concurry::worker<batch_processor> {
public:
  batch_processor() {
    int now = ++alive;
    int seen = most_alive.load();
    while (now > seen && !most_alive.compare_exchange_weak(seen, now)) {
    }
  }
  ~batch_processor() override { --alive; }
  batch_processor(const batch_processor&) = delete;
  batch_processor& operator=(const batch_processor&) = delete;

  /// {items processed, their sum}, after some heavy work.
  std::pair<int, int> process_batch(std::vector<int> data) {
    std::this_thread::sleep_for(100ms);
    return {static_cast<int>(data.size()), std::accumulate(data.begin(), data.end(), 0)};
  }
};
CONCURRY_WORKER(batch_processor, (), process_batch)

int main(int argc, char** argv) {
  concurry::runtime rt{argc, argv};
  auto pool = batch_processor::options().on_demand().max_workers(2).init();

  auto started = std::chrono::steady_clock::now();
  std::vector<concurry::future<std::pair<int, int>>> futures;
  for (int b = 0; b < 6; ++b)
    futures.push_back(
        pool.call(&batch_processor::process_batch, std::vector<int>{b, b + 1, b + 2}));
  auto submitted = std::chrono::steady_clock::now() - started;
  std::printf("6 calls made %s\n", submitted < 100ms ? "without waiting" : "SLOWLY");

  for (auto& f : futures) {
    auto [processed, sum] = f.result();
    std::printf("processed %d, sum %d\n", processed, sum);
  }
  std::printf("workers alive at once: at most %d\n", most_alive.load());

  auto stats = pool.stats();
  std::printf("on_demand=%s algorithm=%s persistent workers=%zu calls=%llu\n",
              stats.on_demand ? "true" : "false",
              std::string{concurry::to_string(stats.load_balancer.algorithm)}.c_str(),
              stats.total_workers,
              static_cast<unsigned long long>(stats.load_balancer.total_dispatched));
  pool.stop();
  std::printf("alive after stop: %d\n", alive.load());
  return 0;
}
