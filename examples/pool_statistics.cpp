// The user guide's "Pool statistics and monitoring": what stats() and worker_stats(i) report for
// each load balancer, and how the calls spread over the workers. Only distributions that do not
// depend on timing are printed in full.
#include <concurry/concurry.hpp>
#include <concurry/wait.hpp>

#include <chrono>
#include <cstdint>
#include <iostream>
#include <latch>
#include <map>
#include <string>
#include <vector>

using namespace std::chrono_literals;

namespace {

class monitored_worker : public concurry::worker<monitored_worker> {
public:
  int process(int x) {
    ++processed_;
    return x * 2;
  }

  /// How many calls of `process` this worker ran.
  int processed() const { return processed_; }

  /// Returns once `open` is open: keeps a call in flight for as long as the caller wants.
  void hold(const std::latch* open) { open->wait(); }

private:
  int processed_ = 0;
};
// Local: `hold` takes a pointer, which cannot cross a process boundary.
CONCURRY_LOCAL_WORKER(monitored_worker, (), process, processed, hold)

using pool_type = concurry::pool<monitored_worker>;

pool_type make_pool(std::size_t workers, const char* balancer) {
  return monitored_worker::options().max_workers(workers).load_balancing(balancer).init();
}

/// `index:count` pairs: "{0:3,1:3}".
std::string str(const std::map<std::size_t, std::uint64_t>& per_worker) {
  std::string out = "{";
  for (auto [index, n] : per_worker)
    out.append(out.size() > 1 ? "," : "")
        .append(std::to_string(index))
        .append(":")
        .append(std::to_string(n));
  return out + "}";
}

/// The load balancer's figures, with the maps its algorithm fills.
std::string describe(const concurry::load_balancer_stats& lb) {
  std::string out = "algorithm=" + std::string{concurry::to_string(lb.algorithm)} +
                    " total_dispatched=" + std::to_string(lb.total_dispatched);
  if (lb.algorithm == concurry::load_balancing::least_active)
    out += " active_calls=" + str(lb.active_calls) +
           " total_active=" + std::to_string(lb.total_active);
  if (lb.algorithm == concurry::load_balancing::least_total)
    out += " total_calls=" + str(lb.total_calls) +
           " sum_total_calls=" + std::to_string(lb.sum_total_calls);
  return out;
}

/// Makes `n` calls of `process`, all at once, and waits for them.
void run_calls(pool_type& pool, int n) {
  std::vector<concurry::future<int>> futures;
  for (int i = 0; i < n; ++i)
    futures.push_back(pool.call(&monitored_worker::process, i));
  concurry::gather(futures, 30s);
}

/// The calls each worker was given, as the pool counted them: "3 3 3 3".
std::string per_worker_totals(const pool_type& pool) {
  std::string out;
  for (std::size_t i = 0; i < pool.stats().total_workers; ++i)
    out.append(out.empty() ? "" : " ").append(std::to_string(pool.worker_stats(i).total_calls));
  return out;
}

/// The calls each worker ran, as the workers themselves counted them.
std::string per_worker_counts(const pool_type& pool) {
  std::string out;
  for (int n : concurry::gather(pool.broadcast(&monitored_worker::processed), 30s))
    out.append(out.empty() ? "" : " ").append(std::to_string(n));
  return out;
}

} // namespace

int main(int argc, char** argv) {
  concurry::runtime rt{argc, argv};
  std::cout << std::boolalpha;

  // Basic statistics: 100 calls through least_active; none is left in flight.
  {
    auto pool = make_pool(5, "active");
    run_calls(pool, 100);
    auto s = pool.stats();
    std::cout << "total workers: " << s.total_workers << ", max workers: " << s.max_workers
              << ", on-demand: " << s.on_demand << ", stopped: " << s.stopped << '\n'
              << "algorithm: " << concurry::to_string(s.load_balancer.algorithm)
              << ", total dispatched: " << s.load_balancer.total_dispatched
              << ", total active: " << s.load_balancer.total_active << '\n';
  }

  // Round robin and least_total spread 12 calls over 4 workers evenly, however fast they run.
  for (const char* balancer : {"round_robin", "total"}) {
    auto pool = make_pool(4, balancer);
    run_calls(pool, 12);
    std::cout << balancer << ": " << describe(pool.stats().load_balancer) << "\n  per worker "
              << per_worker_totals(pool);
    std::cout << ", counted by the workers " << per_worker_counts(pool) << '\n';
  }

  // least_active: one call at a time always finds worker 0 idle; calls held in flight at once
  // go one to each worker.
  {
    auto pool = make_pool(4, "active");
    for (int i = 0; i < 12; ++i)
      pool.call(&monitored_worker::process, i).result(30s);
    std::cout << "active, one at a time: per worker " << per_worker_totals(pool) << '\n';
    std::latch open{1};
    std::vector<concurry::future<void>> held;
    for (int i = 0; i < 4; ++i)
      held.push_back(pool.call(&monitored_worker::hold, &open));
    std::cout << "active, 4 held at once: " << describe(pool.stats().load_balancer) << '\n';
    open.count_down();
    concurry::gather(held, 30s);
    std::cout << "  released: total_active=" << pool.stats().load_balancer.total_active << '\n';
  }

  // random: which worker gets a call is chance, but every call is counted once.
  {
    auto pool = make_pool(4, "random");
    run_calls(pool, 12);
    std::uint64_t sum = 0;
    for (std::size_t i = 0; i < 4; ++i)
      sum += pool.worker_stats(i).total_calls;
    auto s = pool.stats();
    std::cout << "random: algorithm=" << concurry::to_string(s.load_balancer.algorithm)
              << " total_dispatched=" << s.load_balancer.total_dispatched
              << ", per-worker totals add up to " << sum << '\n';
  }
}
