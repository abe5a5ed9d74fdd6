// The user guide's "Progress tracking": workers that track their own batches with a progress
// bar, and a caller that watches its futures complete through gather's progress option.
#include <concurry/concurry.hpp>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

class progress_worker : public concurry::worker<progress_worker> {
public:
  /// Doubles every item, tracking the batch with its own bar; returns the results and the
  /// bar's lines (plain style, written to a string so the batches do not interleave).
  std::pair<std::vector<int>, std::string> process_items(std::vector<int> items, std::string name) {
    std::ostringstream lines;
    std::vector<int> results;
    concurry::progress_bar::options shown;
    shown.description = name;
    shown.unit = "item";
    shown.out = &lines;
    shown.style = concurry::progress_style::plain;
    for (int item : concurry::track(items, shown)) {
      std::this_thread::sleep_for(20ms); // simulate work
      results.push_back(item * 2);
    }
    return {results, lines.str()};
  }
};
CONCURRY_WORKER(progress_worker, (), process_items)

int main(int argc, char** argv) {
  concurry::runtime rt{argc, argv};
  auto pool = progress_worker::options().max_workers(4).init();

  std::vector<concurry::future<std::pair<std::vector<int>, std::string>>> futures;
  for (int b = 0; b < 4; ++b) {
    std::vector<int> batch;
    for (int i = 0; i < 10; ++i)
      batch.push_back(b * 10 + i);
    futures.push_back(
        pool.call(&progress_worker::process_items, batch, "batch " + std::to_string(b)));
  }

  // The caller's view: one report per finished batch, as they finish, on no polling thread.
  auto results = concurry::gather(
      futures,
      30s,
      concurry::progress{[](std::size_t completed, std::size_t total, std::chrono::nanoseconds) {
        std::printf("gathered %zu of %zu batches\n", completed, total);
      }});

  for (auto& [doubled, lines] : results) {
    std::printf("%d..%d", doubled.front(), doubled.back());
    // The last line a batch's bar printed is its final state.
    std::istringstream in{lines};
    std::string line;
    std::string last;
    int count = 0;
    while (std::getline(in, line)) {
      last = line;
      ++count;
    }
    std::printf(" (%d lines) %s\n", count, last.c_str());
  }

  // `concurry::progress{true}` instead of the callback draws a bar "Gathering" on stderr,
  // redrawn in place on a terminal; `progress{options}` draws one as configured.
  concurry::progress_bar::options quiet;
  quiet.disable = true;
  auto again = concurry::gather(futures, 30s, concurry::progress{quiet});
  std::printf("gathered again: %zu batches\n", again.size());
  return 0;
}
