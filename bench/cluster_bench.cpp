// Benchmark: a trivial call, increment(x) = x + 1, on a cluster-mode pool of 2 workers, in one
// run with the peers it is compared against (cluster_peers.hpp):
//
//   - concurry: `mode(cluster).max_workers(2)`; calls go client -> worker host over CAF's
//     middleman on 127.0.0.1. Without CONCURRY_ADDRESS the runtime starts a private local
//     cluster (a head and a node) for the program;
//   - one cluster-wide limit acquisition: a pool of 2 workers sharing a call limit, whose method
//     times `limits().acquire()` inside the worker (the head counts the limit for every node);
//   - the ceiling: CAF 0.17's own remote request to an actor in a child process, 64 bytes each
//     way, configured as concurry configures its systems;
//   - the peer: Dask actors on a LocalCluster of 2 worker processes (dask_actor_peer.py).
//
// For each: sequential round trips with one call in flight (p50 and p99 in microseconds) and
// pipelined runs with a sliding window of calls in flight (256; 1,000 for Dask, as Dask's own
// peers are measured), in calls per second, the median of three runs. Prints a table with the
// ratios to concurry.
//
// Exit status: 0 when every row was measured (Dask's absence is reported, not failed); 1 when a
// C++ row failed (a wrong result, an exception); 2 for a bad command line; 3 when the watchdog
// ended a hung run; 77 when cluster mode is not available (pool creation threw: no cluster to
// reach, or a runtime without cluster mode), which ctest reports as skipped.
//
// Usage: cluster_bench [--quick] [--no-dask] [--only <rows>]
#include "cluster_peers.hpp"
#include "peer_measure.hpp"

#include <concurry/concurry.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#ifndef CONCURRY_BENCH_CAF_PEER
#error "CONCURRY_BENCH_CAF_PEER must name the cluster_caf_peer program (bench/CMakeLists.txt)"
#endif
#ifndef CONCURRY_BENCH_DASK_SCRIPT
#error "CONCURRY_BENCH_DASK_SCRIPT must name bench/dask_actor_peer.py (bench/CMakeLists.txt)"
#endif

/// The worker of the call pool: nothing but the call.
class increment_worker : public concurry::worker<increment_worker> {
public:
  int increment(int x) { return x + 1; }
};
CONCURRY_WORKER(increment_worker, (), increment)

/// The worker of the limit pool: takes the pool's shared limit `count` times in a row and
/// returns how long each `acquire()` took, in nanoseconds (each acquisition ends before the
/// next starts).
class acquire_worker : public concurry::worker<acquire_worker> {
public:
  std::vector<std::int64_t> time_acquisitions(int count) {
    std::vector<std::int64_t> took;
    took.reserve(static_cast<std::size_t>(std::max(count, 0)));
    for (int i = 0; i < count; ++i) {
      const auto start = std::chrono::steady_clock::now();
      auto acq = limits().acquire();
      const auto stop = std::chrono::steady_clock::now();
      took.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(stop - start).count());
    }
    return took;
  }
};
CONCURRY_WORKER(acquire_worker, (), time_acquisitions)

namespace {

using namespace std::chrono_literals;
using peer_measure::clock_type;
using peer_measure::peer_figures;

/// Decimals of the microsecond figures this benchmark prints.
constexpr int us_decimals = 1;

/// The exit status when cluster mode is not available; ctest's SKIP_RETURN_CODE.
constexpr int exit_not_available = 77;

/// Thrown when a cluster-mode pool cannot be created; main reports it and exits with 77.
class cluster_not_available : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

// ---------------------------------------------------------------------------------------------
// Configuration

struct bench_config {
  bool quick = false;
  /// The rows to run: concurry, limit, caf, dask.
  std::set<std::string, std::less<>> rows{"concurry", "limit", "caf", "dask"};
  peer_measure::measure_config measure{.method = "increment",
                                       .seq_warmup = 500,
                                       .seq_calls = 5'000,
                                       .pipe_warmup = 5'000,
                                       .pipe_calls = 50'000,
                                       .window = 256,
                                       .repeats = 3,
                                       .seq_check_every = 128,
                                       .phase_limit = std::chrono::seconds{15}};
  /// Acquisitions each limit worker times, after as many untimed.
  int acquisitions = 2'000;
  cluster_peers::peers_config peers;
  // Past this the process kills its children and ends (exit 3): a hung peer must not hang CI.
  std::chrono::seconds hard_limit{300};

  [[nodiscard]] bool wants(std::string_view row) const { return rows.count(row) != 0; }
};

bench_config default_config() {
  bench_config c;
  c.peers.caf = c.measure;
  c.peers.caf_peer_program = CONCURRY_BENCH_CAF_PEER;
  c.peers.dask_script = CONCURRY_BENCH_DASK_SCRIPT;
  return c;
}

bench_config quick_config() {
  bench_config c = default_config();
  c.quick = true;
  c.measure.seq_warmup = 100;
  c.measure.seq_calls = 1'000;
  c.measure.pipe_warmup = 1'000;
  c.measure.pipe_calls = 5'000;
  c.measure.repeats = 1;
  c.measure.phase_limit = std::chrono::seconds{3};
  c.acquisitions = 200;
  c.peers.caf = c.measure;
  c.peers.dask_seq_warmup = 20;
  c.peers.dask_seq_calls = 200;
  c.peers.dask_pipe_calls = 1'000;
  c.peers.dask_repeats = 1;
  c.peers.dask_limit = std::chrono::seconds{20};
  c.hard_limit = std::chrono::seconds{120};
  return c;
}

// ---------------------------------------------------------------------------------------------
// concurry

/// Creates a pool with `builder`; throws cluster_not_available with the runtime's reason when
/// it cannot.
template <class Builder>
auto start_pool(const Builder& builder) {
  try {
    return builder.init();
  } catch (const concurry::error& e) {
    throw cluster_not_available{e.what()};
  }
}

/// `queued`: max_queued_tasks per worker; empty for cluster mode's default (3, as in concurry's
/// and Ray's actor pools), which caps a pool of 2 at 6 calls in flight whatever the caller does.
peer_figures bench_concurry(const bench_config& cfg, std::optional<std::size_t> queued) {
  const std::string name = queued ? "concurry cluster (2), " + std::to_string(*queued) + " queued"
                                  : std::string{"concurry cluster (2), 3 queued"};
  auto builder =
      increment_worker::options().mode(concurry::mode::cluster).max_workers(2).stop_timeout(10s);
  auto pool = start_pool(queued ? builder.max_queued_tasks(*queued) : builder);
  return peer_measure::guarded(name, us_decimals, [&] {
    auto submit = [&pool](int x) { return pool.call(&increment_worker::increment, x); };
    auto get = [](concurry::future<int>& f) { return f.result(); };
    auto figures = peer_measure::measure_peer(name, cfg.measure, submit, get);
    pool.stop();
    return figures;
  });
}

/// The p50 and p99 of one cluster-wide acquisition, in microseconds, over both workers.
struct acquisition_figures {
  bool measured = false;
  std::string failure;
  std::size_t count = 0;
  double p50_us = 0;
  double p99_us = 0;
};

acquisition_figures bench_limit(const bench_config& cfg) {
  // A shared call limit that never runs out within the run: acquire() never waits for
  // capacity, so what it takes is the acquisition itself.
  auto pool = start_pool(acquire_worker::options()
                             .mode(concurry::mode::cluster)
                             .max_workers(2)
                             .stop_timeout(10s)
                             .limits({concurry::call_limit{"second", 1e9}}));
  std::printf("running a cluster-wide limit acquisition ...\n");
  std::fflush(stdout);
  acquisition_figures out;
  try {
    // One call per worker (round robin), untimed first, then timed.
    for (int timed = 0; timed < 2; ++timed) {
      std::vector<concurry::future<std::vector<std::int64_t>>> calls;
      for (int w = 0; w < 2; ++w)
        calls.push_back(pool.call(&acquire_worker::time_acquisitions, cfg.acquisitions));
      std::vector<double> took_us;
      for (auto& f : calls)
        for (auto ns : f.result(60s))
          took_us.push_back(static_cast<double>(ns) / 1e3);
      if (timed == 0)
        continue;
      const auto figures = peer_measure::summarize(std::move(took_us), /*truncated=*/false);
      out.count = static_cast<std::size_t>(2 * cfg.acquisitions);
      out.p50_us = figures.p50_us;
      out.p99_us = figures.p99_us;
    }
    pool.stop();
    out.measured = true;
    std::printf("  %zu acquisitions on 2 workers: p50 %.1f us, p99 %.1f us\n",
                out.count,
                out.p50_us,
                out.p99_us);
  } catch (const std::exception& e) {
    out.failure = e.what();
    std::printf("  FAILED: %s\n", e.what());
  }
  std::fflush(stdout);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Output

void print_run_header(const bench_config& cfg) {
  std::printf("cluster_bench: concurry %s, %u hardware threads%s; CONCURRY_ADDRESS %s\n"
              "sequential: %zu calls after %zu warm-up; pipelined: %zu calls, %zu in flight, "
              "median of %zu runs (Dask: %zu sequential, %zu pipelined, %zu in flight)\n\n",
              concurry::version(),
              std::thread::hardware_concurrency(),
              cfg.quick ? ", --quick" : "",
              std::getenv("CONCURRY_ADDRESS") ? std::getenv("CONCURRY_ADDRESS")
                                              : "unset (a private local cluster)",
              cfg.measure.seq_calls,
              cfg.measure.seq_warmup,
              cfg.measure.pipe_calls,
              cfg.measure.window,
              cfg.measure.repeats,
              cfg.peers.dask_seq_calls,
              cfg.peers.dask_pipe_calls,
              cfg.peers.dask_window);
  std::fflush(stdout);
}

void print_usage() {
  std::printf(
      "usage: cluster_bench [--quick] [--no-dask] [--only <rows>]\n"
      "  --quick         fewer calls, for a CI smoke run\n"
      "  --no-dask       skip the Dask peer\n"
      "  --only <rows>   comma-separated rows to run: concurry, limit, caf, dask (default: all)\n");
}

/// Parses "--only"'s list; false when it names an unknown row or none.
bool parse_rows(std::string_view list, std::set<std::string, std::less<>>& rows) {
  rows.clear();
  while (!list.empty()) {
    const auto comma = std::min(list.find(','), list.size());
    const auto row = list.substr(0, comma);
    list.remove_prefix(std::min(comma + 1, list.size()));
    if (row != "concurry" && row != "limit" && row != "caf" && row != "dask")
      return false;
    rows.emplace(row);
  }
  return !rows.empty();
}

} // namespace

int main(int argc, char** argv) try {
  concurry::runtime rt{argc, argv};

  bench_config cfg = default_config();
  bool dask = true;
  std::string only;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--quick") {
      cfg = quick_config();
    } else if (arg == "--no-dask") {
      dask = false;
    } else if (arg == "--only" && i + 1 < argc) {
      only = argv[++i];
    } else {
      return peer_measure::answer_other_argument("cluster_bench", arg, print_usage);
    }
  }
  if (!only.empty() && !parse_rows(only, cfg.rows)) {
    std::fprintf(stderr, "cluster_bench: --only takes rows among concurry, limit, caf, dask\n");
    print_usage();
    return 2;
  }
  if (!dask)
    cfg.rows.erase("dask");
  // concurry's own processes (nodes, worker hosts) die with this one; the peers' children are
  // killed by the watchdog before it ends the process.
  peer_measure::watchdog guard{cfg.hard_limit, "cluster_bench", cluster_peers::kill_children};
  print_run_header(cfg);

  const auto start = clock_type::now();
  std::vector<peer_figures> rows;
  std::vector<std::size_t> windows;
  acquisition_figures limit;
  if (cfg.wants("concurry")) {
    rows.push_back(bench_concurry(cfg, std::size_t{128}));
    windows.push_back(cfg.measure.window);
    rows.push_back(bench_concurry(cfg, std::nullopt));
    windows.push_back(cfg.measure.window);
  }
  if (cfg.wants("limit"))
    limit = bench_limit(cfg);
  if (cfg.wants("caf")) {
    rows.push_back(cluster_peers::bench_caf_remote(cfg.peers));
    windows.push_back(cfg.peers.caf.window);
  }
  if (cfg.wants("dask")) {
    rows.push_back(cluster_peers::bench_dask_actors(cfg.peers));
    windows.push_back(cfg.peers.dask_window);
  }
  const auto seconds = std::chrono::duration<double>(clock_type::now() - start).count();

  if (!rows.empty())
    peer_measure::print_ratio_table(
        rows, peer_measure::find_row(rows, "concurry"), /*name_width=*/36, us_decimals, windows);
  if (cfg.wants("limit")) {
    if (limit.measured)
      std::printf("\ncluster-wide limit acquisition (shared call limit, %zu acquisitions timed in "
                  "2 workers): p50 %.1f us, p99 %.1f us\n",
                  limit.count,
                  limit.p50_us,
                  limit.p99_us);
    else
      std::printf("\ncluster-wide limit acquisition: FAILED: %s\n", limit.failure.c_str());
  }
  std::printf("\ntotal %.1f s\n", seconds);

  // A C++ row that failed is a crash; Dask is only a reference: its absence fails nothing.
  const bool failed = std::any_of(rows.begin(), rows.end(), [](const peer_figures& r) {
    return !r.measured && r.name.rfind("Dask", 0) != 0;
  });
  return failed || (cfg.wants("limit") && !limit.measured) ? 1 : 0;
} catch (const cluster_not_available& e) {
  std::printf("cluster mode not available: %s\n", e.what());
  std::fflush(stdout);
  return exit_not_available;
} catch (const std::exception& e) {
  cluster_peers::kill_children();
  std::fprintf(stderr, "cluster_bench: %s\n", e.what());
  return 1;
}
