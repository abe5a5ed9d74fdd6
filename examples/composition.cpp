// The user guide's "Worker composition": a pool inside a worker, pools nested two deep, and a
// pipeline of three pools that pass futures along.
//
// A worker may wait on the futures of a pool it owns: each pool has threads of its own, so even
// with one worker per pool nothing waits for itself. A future passed where a method wants a
// value is resolved before that call runs, without blocking the caller, so a pipeline's stages
// are all submitted at once.
#include <concurry/concurry.hpp>
#include <concurry/wait.hpp>

#include <chrono>
#include <cstdio>
#include <latch>
#include <map>
#include <sstream>
#include <string>
#include <vector>

using namespace std::chrono_literals;

namespace {

std::string str(const std::vector<int>& values) {
  std::string out = "[";
  for (int v : values)
    out.append(out.size() > 1 ? ", " : "").append(std::to_string(v));
  return out + "]";
}

// --- A pool inside a worker ---

/// Does the heavy computation.
class compute_worker : public concurry::worker<compute_worker> {
public:
  int compute(int x) { return x * x; }
};
CONCURRY_WORKER(compute_worker, (), compute)

/// Owns a pool of compute workers, built with it and stopped when it is destroyed.
class coordinator_worker : public concurry::worker<coordinator_worker> {
public:
  explicit coordinator_worker(int compute_workers)
      : compute_pool_{compute_worker::options()
                          .mode(concurry::mode::process) // CPU-bound: child processes
                          .max_workers(static_cast<std::size_t>(compute_workers))
                          .init()} {}

  /// Spreads `values` over the compute pool and waits for every result.
  std::vector<int> process_batch(std::vector<int> values) {
    std::vector<concurry::future<int>> futures;
    for (int x : values)
      futures.push_back(compute_pool_.call(&compute_worker::compute, x));
    return concurry::gather(futures, 30s);
  }

private:
  concurry::pool<compute_worker> compute_pool_;
};
CONCURRY_WORKER(coordinator_worker, (int), process_batch)

// --- Nested pools ---

/// Does the actual work.
class leaf_worker : public concurry::worker<leaf_worker> {
public:
  int work(int x) { return x * 2; }
};
CONCURRY_WORKER(leaf_worker, (), work)

/// Each branch manages a pool of leaves of its own.
class branch_worker : public concurry::worker<branch_worker> {
public:
  branch_worker() : leaf_pool_{leaf_worker::options().max_workers(5).init()} {}

  std::vector<int> process_group(std::vector<int> values) {
    std::vector<concurry::future<int>> futures;
    for (int x : values)
      futures.push_back(leaf_pool_.call(&leaf_worker::work, x));
    return concurry::gather(futures, 30s);
  }

private:
  concurry::pool<leaf_worker> leaf_pool_;
};
CONCURRY_WORKER(branch_worker, (), process_group)

// --- A pipeline of three pools ---

/// Fetches a page; waits for `ready` first, standing in for a slow download.
class fetcher : public concurry::worker<fetcher> {
public:
  explicit fetcher(const std::latch* ready) : ready_{ready} {}

  std::string fetch(std::string url) {
    ready_->wait();
    return "the page at " + url;
  }

private:
  const std::latch* ready_;
};
// Local: the constructor takes a pointer, which cannot cross a process boundary.
CONCURRY_LOCAL_WORKER(fetcher, (const std::latch*), fetch)

/// Turns a page into figures.
class processor : public concurry::worker<processor> {
public:
  std::map<std::string, int> process(std::string data) {
    std::istringstream words{data};
    int count = 0;
    for (std::string w; words >> w;)
      ++count;
    return {{"bytes", static_cast<int>(data.size())}, {"words", count}};
  }
};
CONCURRY_WORKER(processor, (), process)

/// Stores the figures.
class storer : public concurry::worker<storer> {
public:
  std::string store(std::map<std::string, int> record) {
    return "stored " + std::to_string(record.at("bytes")) + " bytes, " +
           std::to_string(record.at("words")) + " words";
  }
};
CONCURRY_WORKER(storer, (), store)

void pipeline() {
  std::latch ready{1};
  auto fetcher_pool = fetcher::options().max_workers(10).init(&ready);
  auto processor_pool = processor::options().mode(concurry::mode::process).max_workers(4).init();
  auto storer_pool = storer::options().max_workers(5).init();

  // Each stage takes the future of the one before; nothing here waits for a result.
  std::vector<std::string> urls{"http://example.com/1", "http://example.com/22"};
  std::vector<concurry::future<std::string>> stored;
  for (const auto& url : urls) {
    auto fetched = fetcher_pool.call(&fetcher::fetch, url);
    auto processed = processor_pool.call(&processor::process, fetched);
    stored.push_back(storer_pool.call(&storer::store, processed));
  }
  auto r = concurry::wait(stored, concurry::return_when::first_completed, 0ms);
  std::printf("pipeline: %zu urls submitted to all three stages while the fetchers wait; %zu "
              "stored so far\n",
              urls.size(),
              r.done.size());

  ready.count_down();
  for (std::size_t i = 0; i < urls.size(); ++i)
    std::printf("  %s: %s\n", urls[i].c_str(), stored[i].result(30s).c_str());
}

} // namespace

int main(int argc, char** argv) {
  concurry::runtime rt{argc, argv};
  std::vector<int> values{1, 2, 3, 4, 5};

  // A coordinator on a thread, with a pool of four compute workers; then one worker per pool.
  for (int workers : {4, 1}) {
    auto coordinator =
        coordinator_worker::options().mode(concurry::mode::thread).max_workers(1).init(workers);
    auto results = coordinator.call(&coordinator_worker::process_batch, values).result(30s);
    std::printf("coordinator with %d compute worker%s: %s\n",
                workers,
                workers == 1 ? "" : "s",
                str(results).c_str());
  }

  // Three branches, each with five leaves of its own; three groups run at once.
  {
    auto branch_pool = branch_worker::options().max_workers(3).init();
    std::printf("nested: %s -> %s\n",
                str(values).c_str(),
                str(branch_pool.call(&branch_worker::process_group, values).result(30s)).c_str());
    std::vector<concurry::future<std::vector<int>>> groups;
    for (int g = 0; g < 3; ++g) {
      std::vector<int> group{2 * g + 1, 2 * g + 2};
      groups.push_back(branch_pool.call(&branch_worker::process_group, group));
    }
    std::printf("nested, three groups at once:");
    for (auto& group : concurry::gather(groups, 30s))
      std::printf(" %s", str(group).c_str());
    std::printf("\n");
  }

  pipeline();
}
