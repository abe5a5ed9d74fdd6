// The user guide's "Handling exceptions": good inputs succeed, bad ones rethrow their own type,
// and the pool keeps working.
#include <concurry/concurry.hpp>

#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

class risky_worker : public concurry::worker<risky_worker> {
public:
  int risky_operation(int value) {
    if (value < 0)
      throw std::invalid_argument{"negative value not allowed: " + std::to_string(value)};
    return value * 2;
  }
};
CONCURRY_WORKER(risky_worker, (), risky_operation)

int main(int argc, char** argv) {
  concurry::runtime rt{argc, argv};
  auto pool = risky_worker::options().max_workers(5).init();
  std::vector<int> values{1, 2, -3, 4, -5};
  std::vector<concurry::future<int>> futures;
  for (int v : values)
    futures.push_back(pool.call(&risky_worker::risky_operation, v));
  int failed = 0;
  for (std::size_t i = 0; i < values.size(); ++i) {
    try {
      std::printf("success: %d -> %d\n", values[i], futures[i].result());
    } catch (const std::invalid_argument& e) {
      std::printf("error: %d -> %s\n", values[i], e.what());
      ++failed;
    }
  }
  std::printf("failed: %d, pool still works: %d\n",
              failed,
              pool.call(&risky_worker::risky_operation, 21).result());
}
