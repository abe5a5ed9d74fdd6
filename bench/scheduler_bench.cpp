// Benchmark: placement decisions per second of the cluster head's scheduler
// (scheduler/scheduler.hpp) over 1,000 simulated nodes, in four phases:
//
//   - fill: submits until the nodes' CPUs are 80% placed;
//   - backlog: more submits, until 1,000 requests are pending; 10 infeasible ones (a resource no
//     node has) are queued first and stay, as the head keeps them;
//   - churn: a release of a random request, then a new submit, over and over, with more submits
//     whenever fewer than 1,000 wait: each release places the waiting requests that now fit on
//     the freed node;
//   - drain: every request released in random order, the backlog placed as room frees up.
//
// The nodes are of mixed sizes (4 to 64 CPUs), one in eight with GPUs and one in ten with a
// custom "accel" resource. Requests ask for fractional CPUs (0.1 to 4), 2% for GPUs (0.5 or 1),
// 1.5% for accel, and use the pack (60%), spread (35%) or named (5%) strategy. Everything is
// drawn from a fixed seed and built before the clock starts: only scheduler calls are timed.
//
// A decision is one call into the scheduler that decides where workers go: a submit (placed or
// queued) or a release (which places every waiting request that now fits). Prints decisions per
// second for each phase and overall, and PASS/FAIL against the target of 100,000 per second.
// Each phase is bounded by its count and by a time limit. Exits 0 unless the scheduler broke an
// invariant (resources left used after the drain, a count that does not add up) or threw: a slow
// result is reported, not failed.
//
// Usage: scheduler_bench [--quick]
#include "scheduler/amount.hpp"
#include "scheduler/scheduler.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;
using concurry::scheduler::amount;
using concurry::scheduler::request_id;
using concurry::scheduler::request_state;
using concurry::scheduler::resource_set;
using concurry::scheduler::strategy;
using concurry::scheduler::worker_request;

/// The target of issue 7: the head places at least this many workers per second.
constexpr double target_decisions_per_s = 100'000;

struct bench_config {
  bool quick = false;
  std::size_t nodes = 1'000;
  /// The share of the cluster's CPUs the fill phase places.
  double fill_share = 0.8;
  std::size_t backlog = 1'000;
  /// Requests no node can hold, among the backlog.
  std::size_t infeasible = 10;
  std::size_t churn_steps = 200'000;
  /// A phase past this is cut short and marked.
  std::chrono::seconds phase_limit{20};
};

bench_config quick_config() {
  bench_config c;
  c.quick = true;
  c.churn_steps = 20'000;
  c.phase_limit = std::chrono::seconds{5};
  return c;
}

std::string node_name(std::size_t index) {
  // Appended, not "n" + ...: g++ 12 warns (-Wrestrict) about the inlined insert of the latter.
  std::string name{"n"};
  name += std::to_string(index);
  return name;
}

// ---------------------------------------------------------------------------------------------
// The simulated cluster and its requests, drawn from a fixed seed

class draw {
public:
  explicit draw(std::uint64_t seed) : random_{seed} {}

  /// An index below `size`.
  std::size_t below(std::size_t size) {
    return std::uniform_int_distribution<std::size_t>(0, size - 1)(random_);
  }

  /// A node's resources: 4 to 64 CPUs, GPUs on one in eight, accel on one in ten.
  resource_set node_resources() {
    static constexpr std::int64_t cpu_sizes[] = {4, 8, 8, 16, 16, 16, 32, 32, 64};
    resource_set r;
    r["cpu"] = amount::from_wholes(cpu_sizes[below(std::size(cpu_sizes))]);
    if (below(8) == 0)
      r["gpu"] = amount::from_wholes(std::int64_t{1} << below(4));
    if (below(10) == 0)
      r["accel"] = amount::from_wholes(4);
    return r;
  }

  /// A worker's request over `nodes` nodes: fractional CPUs, sometimes GPUs or accel; pack,
  /// spread or a named node.
  worker_request request(std::size_t nodes) {
    static constexpr std::int64_t cpu_units[] = {
        1'000, 2'500, 2'500, 5'000, 5'000, 10'000, 10'000, 10'000, 20'000, 40'000};
    worker_request r;
    r.cpus = amount::from_units(cpu_units[below(std::size(cpu_units))]);
    // About as much GPU and accel asked for, against what the nodes offer, as CPU.
    const auto custom = below(1000);
    if (custom < 20)
      r.resources["gpu"] = amount::from_units(custom < 10 ? 5'000 : 10'000);
    else if (custom < 35)
      r.resources["accel"] = amount::from_wholes(1);
    const auto how = below(100);
    if (how < 60) {
      r.placement_strategy = strategy::pack;
    } else if (how < 95) {
      r.placement_strategy = strategy::spread;
    } else {
      r.placement_strategy = strategy::named;
      r.node = node_name(below(nodes));
    }
    return r;
  }

  /// A request no node can hold: a resource no node offers.
  worker_request infeasible_request() {
    worker_request r;
    r.cpus = amount::from_units(5'000);
    r.resources["tpu"] = amount::from_wholes(1);
    return r;
  }

private:
  std::mt19937_64 random_;
};

// ---------------------------------------------------------------------------------------------
// The phases

/// What one phase did.
struct phase_figures {
  std::string name;
  std::size_t submits = 0;
  std::size_t releases = 0;
  /// Submits placed at once.
  std::size_t placed_at_submit = 0;
  /// Waiting requests placed by releases.
  std::size_t placed_from_queue = 0;
  double seconds = 0;
  bool truncated = false;

  [[nodiscard]] std::size_t decisions() const { return submits + releases; }
  /// NaN for a phase that had nothing to do.
  [[nodiscard]] double decisions_per_s() const {
    return decisions() == 0 ? NAN : static_cast<double>(decisions()) / seconds;
  }
};

/// The scheduler, the requests it holds, and the requests still to submit.
class simulation {
public:
  simulation(const bench_config& cfg, draw& random) : cfg_{cfg}, random_{random} {
    for (std::size_t i = 0; i < cfg.nodes; ++i) {
      const auto r = random.node_resources();
      total_cpu_ += r.at("cpu").units();
      sched_.add_node(node_name(i), r);
    }
  }

  /// Draws `count` requests to submit later, so that drawing stays out of the timed loops.
  void prepare(std::size_t count) {
    upcoming_.reserve(upcoming_.size() + count);
    for (std::size_t i = 0; i < count; ++i)
      upcoming_.push_back(random_.request(cfg_.nodes));
  }

  /// Prepares `count` indexes into the live requests: which one each release takes.
  void prepare_release_picks(std::size_t count) {
    picks_.clear();
    picks_.reserve(count);
    for (std::size_t i = 0; i < count; ++i)
      picks_.push_back(random_.below(std::size_t{1} << 30));
  }

  phase_figures fill() {
    phase_figures f{.name = "fill"};
    const auto target =
        static_cast<std::int64_t>(cfg_.fill_share * static_cast<double>(total_cpu_));
    timed(
        f, [&] { return placed_cpu_ < target && next_ < upcoming_.size(); }, [&] { submit(f); });
    return f;
  }

  phase_figures backlog() {
    phase_figures f{.name = "backlog"};
    // A few requests no node can hold, which stay queued like the head keeps them.
    for (std::size_t i = 0; i < cfg_.infeasible; ++i) {
      auto result = sched_.submit(random_.infeasible_request());
      if (result.state != request_state::infeasible)
        throw std::logic_error("a request for a resource no node has was not infeasible");
    }
    timed(
        f, [&] { return waiting_ < cfg_.backlog && next_ < upcoming_.size(); }, [&] { submit(f); });
    return f;
  }

  phase_figures churn() {
    phase_figures f{.name = "churn"};
    prepare_release_picks(cfg_.churn_steps);
    std::size_t step = 0;
    timed(
        f,
        [&] { return step < cfg_.churn_steps && next_ < upcoming_.size() && !live_.empty(); },
        [&] {
          release(f, picks_[step] % live_.size());
          submit(f);
          // Keeps the backlog: an oversubscribed cluster, where every release has a queue to
          // serve. At most a few submits more per step.
          for (int more = 0; more < 4 && waiting_ < cfg_.backlog && next_ < upcoming_.size();
               ++more)
            submit(f);
          ++step;
        });
    if (step < cfg_.churn_steps && !f.truncated)
      throw std::logic_error("the churn ran out of prepared requests or live ones");
    return f;
  }

  phase_figures drain() {
    phase_figures f{.name = "drain"};
    prepare_release_picks(live_.size());
    std::size_t step = 0;
    timed(
        f, [&] { return !live_.empty(); }, [&] { release(f, picks_[step++] % live_.size()); });
    return f;
  }

  /// Throws when what the scheduler holds after the drain is not what was left in it: only the
  /// infeasible requests, nothing placed, nothing used.
  void check_drained() const {
    if (sched_.placed_count() != 0 || !sched_.pending().empty())
      throw std::logic_error("requests left placed or pending after every release");
    if (sched_.infeasible().size() != cfg_.infeasible)
      throw std::logic_error("the infeasible requests are not all still queued");
    for (std::size_t i = 0; i < cfg_.nodes; ++i)
      for (std::string_view r : {"cpu", "gpu", "accel"})
        if (!sched_.used(static_cast<concurry::scheduler::node_id>(i), r).is_zero())
          throw std::logic_error("node " + node_name(i) + " has " + std::string{r} +
                                 " used after every release");
  }

  [[nodiscard]] std::size_t waiting() const noexcept { return waiting_; }
  [[nodiscard]] std::size_t placed() const noexcept { return sched_.placed_count(); }
  [[nodiscard]] double placed_cpu_share() const noexcept {
    return static_cast<double>(placed_cpu_) / static_cast<double>(total_cpu_);
  }

private:
  struct live_request {
    request_id id = 0;
    std::int64_t cpu_units = 0;
    bool is_placed = false;
  };

  /// Runs `step` while `more()` holds, and within the phase limit; times the loop.
  template <class More, class Step>
  void timed(phase_figures& f, More more, Step step) {
    const auto start = clock_type::now();
    const auto deadline = start + cfg_.phase_limit;
    for (std::size_t i = 0; more(); ++i) {
      if (i % 1024 == 0 && clock_type::now() > deadline) {
        f.truncated = true;
        break;
      }
      step();
    }
    f.seconds = std::chrono::duration<double>(clock_type::now() - start).count();
  }

  void submit(phase_figures& f) {
    const auto& request = upcoming_[next_++];
    const auto result = sched_.submit(request);
    const bool is_placed = result.state == request_state::placed;
    index_[result.id] = live_.size();
    live_.push_back({result.id, request.cpus.units(), is_placed});
    ++f.submits;
    if (is_placed) {
      ++f.placed_at_submit;
      placed_cpu_ += request.cpus.units();
    } else {
      ++waiting_;
    }
  }

  /// Releases the live request at `index`, and books what the release placed.
  void release(phase_figures& f, std::size_t index) {
    const auto gone = live_[index];
    const auto placed = sched_.release(gone.id);
    ++f.releases;
    if (gone.is_placed)
      placed_cpu_ -= gone.cpu_units;
    else
      --waiting_;
    forget(index);
    for (const auto& p : placed) {
      auto& r = live_[index_of(p.request)];
      r.is_placed = true;
      placed_cpu_ += r.cpu_units;
      --waiting_;
    }
    f.placed_from_queue += placed.size();
  }

  // The live requests are a vector for picking at random; a request leaves it by swapping the
  // last one into its slot, and index_ maps ids to slots. Ids count up from 1 in submit order.
  void forget(std::size_t index) {
    index_[live_[index].id] = npos;
    live_[index] = live_.back();
    index_[live_[index].id] = index;
    live_.pop_back();
  }

  std::size_t index_of(request_id id) const {
    const auto index = index_.at(id);
    if (index == npos)
      throw std::logic_error("a release placed a request that was already released");
    return index;
  }

  static constexpr std::size_t npos = static_cast<std::size_t>(-1);

  const bench_config& cfg_;
  draw& random_;
  concurry::scheduler::scheduler sched_;
  std::int64_t total_cpu_ = 0;
  std::int64_t placed_cpu_ = 0;
  std::size_t waiting_ = 0;
  std::vector<worker_request> upcoming_;
  std::size_t next_ = 0;
  std::vector<live_request> live_;
  // By request id; ids are dense (from 1), so a vector grown on demand serves as the map.
  struct id_index {
    std::size_t& operator[](request_id id) {
      if (id >= slots.size())
        slots.resize(std::max<std::size_t>(id + 1, slots.size() * 2), npos);
      return slots[id];
    }
    [[nodiscard]] std::size_t at(request_id id) const {
      return id < slots.size() ? slots[id] : npos;
    }
    std::vector<std::size_t> slots;
  } index_;
  std::vector<std::size_t> picks_;
};

// ---------------------------------------------------------------------------------------------
// Output

/// `v` with `decimals` decimals; "n/a" for NaN.
std::string figure(double v, int decimals) {
  if (std::isnan(v))
    return "n/a";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

void print_phase(const phase_figures& f, const simulation& sim) {
  const double us_each = 1e6 * f.seconds / static_cast<double>(f.decisions());
  std::printf("%-8s | %9zu | %9zu | %10zu | %10zu | %8.3f | %12s | %7s | %7zu | %5.1f%%%s\n",
              f.name.c_str(),
              f.submits,
              f.releases,
              f.placed_at_submit,
              f.placed_from_queue,
              f.seconds,
              figure(f.decisions_per_s(), 0).c_str(),
              figure(f.decisions() == 0 ? NAN : us_each, 2).c_str(),
              sim.waiting(),
              100 * sim.placed_cpu_share(),
              f.truncated ? " *" : "");
  std::fflush(stdout);
}

} // namespace

int main(int argc, char** argv) try {
  bench_config cfg;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--quick") {
      cfg = quick_config();
    } else if (arg == "--help" || arg == "-h") {
      std::printf("usage: scheduler_bench [--quick]\n"
                  "  --quick  fewer churn steps and a shorter time limit, for a CI smoke run\n");
      return 0;
    } else {
      std::fprintf(stderr, "scheduler_bench: unknown argument '%s'\n", argv[i]);
      return 2;
    }
  }

  // The cluster and every request, drawn before the clock starts. Enough requests for the
  // fill (80% of about 21,000 CPUs at about 1 CPU each), the backlog and every churn step.
  draw random{/*seed=*/20240607};
  simulation sim{cfg, random};
  sim.prepare(40'000 + cfg.backlog * 4 + 2 * cfg.churn_steps);
  std::printf("scheduler_bench: %zu nodes, backlog %zu (%zu infeasible), %zu churn steps%s\n"
              "a decision: a submit, or a release that places the waiting requests that now fit\n"
              "\n",
              cfg.nodes,
              cfg.backlog,
              cfg.infeasible,
              cfg.churn_steps,
              cfg.quick ? ", --quick" : "");
  const std::string rule(112, '-');
  std::printf("%-8s | %9s | %9s | %10s | %10s | %8s | %12s | %7s | %7s | %6s\n",
              "phase",
              "submits",
              "releases",
              "placed now",
              "from queue",
              "seconds",
              "decisions/s",
              "us each",
              "waiting",
              "cpu");
  std::printf("%s\n", rule.c_str());

  std::vector<phase_figures> phases;
  phases.push_back(sim.fill());
  print_phase(phases.back(), sim);
  phases.push_back(sim.backlog());
  print_phase(phases.back(), sim);
  phases.push_back(sim.churn());
  print_phase(phases.back(), sim);
  phases.push_back(sim.drain());
  print_phase(phases.back(), sim);
  sim.check_drained();

  phase_figures all{.name = "overall"};
  for (const auto& f : phases) {
    all.submits += f.submits;
    all.releases += f.releases;
    all.placed_at_submit += f.placed_at_submit;
    all.placed_from_queue += f.placed_from_queue;
    all.seconds += f.seconds;
    all.truncated = all.truncated || f.truncated;
  }
  std::printf("%s\n", rule.c_str());
  print_phase(all, sim);
  std::printf("waiting: requests queued after the phase; cpu: share of all CPUs placed after it.\n"
              "* = cut short by the time limit.\n\n");

  // The slowest phase among those that made decisions.
  const phase_figures* slowest = nullptr;
  for (const auto& f : phases)
    if (f.decisions() > 0 && (!slowest || f.decisions_per_s() < slowest->decisions_per_s()))
      slowest = &f;
  std::printf("target: overall decisions/s >= %.0f: %s (%.0f)\n",
              target_decisions_per_s,
              all.decisions_per_s() >= target_decisions_per_s ? "PASS" : "FAIL",
              all.decisions_per_s());
  if (slowest)
    std::printf("target: every phase's decisions/s >= %.0f: %s (slowest: %s, %.0f)\n",
                target_decisions_per_s,
                slowest->decisions_per_s() >= target_decisions_per_s ? "PASS" : "FAIL",
                slowest->name.c_str(),
                slowest->decisions_per_s());
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "scheduler_bench: %s\n", e.what());
  return 1;
}
