#include "cluster_peers.hpp"

#include "actors/actor_host.hpp"
#include "child_process.hpp"

#include <caf/all.hpp>
#include <caf/io/middleman.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <future>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace cluster_peers {

namespace {

using namespace std::chrono_literals;
using bench_child::child_process;
using bench_child::fd_guard;
using peer_measure::clock_type;
using peer_measure::peer_figures;

/// Decimals of the microsecond figures the peers print.
constexpr int us_decimals = 1;

/// A request's bytes: `x` in the first four, the rest a fixed filler.
std::vector<char> payload_of(std::int32_t x) {
  std::vector<char> bytes(payload_bytes, 'c');
  std::memcpy(bytes.data(), &x, sizeof x);
  return bytes;
}

/// The int32 in the first four bytes of an answer; throws for an answer of the wrong size.
int value_of(const std::vector<char>& bytes) {
  if (bytes.size() != payload_bytes)
    throw std::runtime_error("the CAF peer answered " + std::to_string(bytes.size()) +
                             " bytes, not " + std::to_string(payload_bytes));
  std::int32_t x = 0;
  std::memcpy(&x, bytes.data(), sizeof x);
  return x;
}

// ---------------------------------------------------------------------------------------------
// The ceiling: CAF's remote request

/// The child and the pipe that keeps it alive.
struct caf_child {
  child_process process;
  fd_guard keep_alive; // the write end of its stdin
};

/// Starts cluster_caf_peer and connects `system` to its actor.
std::pair<caf_child, caf::actor> start_caf_child(const std::string& program,
                                                 caf::actor_system& system) {
  auto [in_read, in_write] = bench_child::make_pipe();
  auto [out_read, out_write] = bench_child::make_pipe();
  caf_child child;
  child.process =
      bench_child::spawn_child(program, {"cluster_caf_peer"}, in_read.get(), out_write.get());
  child.keep_alive = std::move(in_write);
  in_read.reset();
  out_write.reset();
  auto line = bench_child::read_line(out_read.get(), 10s);
  unsigned port = 0;
  if (!line || std::sscanf(line->c_str(), "port %u", &port) != 1 || port == 0 || port > 65535)
    throw std::runtime_error("cluster_caf_peer did not say its port within 10 s");
  auto actor = system.middleman().remote_actor("127.0.0.1", static_cast<std::uint16_t>(port));
  if (!actor)
    throw std::runtime_error("cannot connect to cluster_caf_peer: " + system.render(actor.error()));
  return {std::move(child), *actor};
}

/// A run of requests from an event-based actor, `window` in flight. With a window of 1 it also
/// keeps each round trip.
struct request_run {
  caf::actor target;
  std::size_t calls = 0;
  std::size_t window = 0;
  clock_type::time_point deadline;
  std::promise<void> done;
  // The actor's alone until `done` is set.
  std::size_t sent = 0;
  std::size_t completed = 0;
  bool truncated = false;
  std::string failure;
  clock_type::time_point start;
  clock_type::time_point stop;
  clock_type::time_point last_sent;
  std::vector<double> latencies_us;
};

void send_request(caf::event_based_actor* self, const std::shared_ptr<request_run>& run);

void finish_run(caf::event_based_actor* self, request_run& run) {
  run.stop = clock_type::now();
  run.done.set_value();
  self->quit();
}

void on_reply(caf::event_based_actor* self,
              const std::shared_ptr<request_run>& run,
              int x,
              const std::vector<char>& answer) {
  if (answer.size() != payload_bytes || value_of(answer) != x + 1) {
    run->failure = "the CAF peer answered request " + std::to_string(x) + " wrongly";
    return finish_run(self, *run);
  }
  if (run->window == 1)
    run->latencies_us.push_back(
        std::chrono::duration<double, std::micro>(clock_type::now() - run->last_sent).count());
  ++run->completed;
  if (run->sent < run->calls && !run->truncated) {
    if (run->sent % 128 == 0 && clock_type::now() > run->deadline)
      run->truncated = true;
    else
      send_request(self, run);
  }
  if (run->completed == run->sent)
    finish_run(self, *run);
}

void send_request(caf::event_based_actor* self, const std::shared_ptr<request_run>& run) {
  const int x = static_cast<int>(run->sent++);
  run->last_sent = clock_type::now();
  // NOTE: no timeout: in CAF 0.17 each one costs a timer entry, which concurry's calls do not
  // have either. A child that dies leaves the run waiting; drive_requests gives up on it.
  self->request(run->target, caf::infinite, payload_of(x))
      .then([self, run, x](std::vector<char>& answer) { on_reply(self, run, x, answer); },
            [self, run](caf::error& e) {
              run->failure = "a request failed: " + self->system().render(e);
              finish_run(self, *run);
            });
}

caf::behavior request_driver(caf::event_based_actor* self, std::shared_ptr<request_run> run) {
  run->start = clock_type::now();
  for (std::size_t i = 0; i < std::min(run->window, run->calls); ++i)
    send_request(self, run);
  // The replies arrive through the handlers of the requests; this one is never used.
  return {[](caf::ok_atom) {}};
}

/// Runs `calls` requests from an event-based actor; throws when one fails or the run hangs.
std::shared_ptr<request_run> drive_requests(caf::actor_system& system,
                                            const caf::actor& target,
                                            std::size_t calls,
                                            std::size_t window,
                                            std::chrono::seconds limit) {
  auto run = std::make_shared<request_run>();
  run->target = target;
  run->calls = calls;
  run->window = window;
  run->deadline = clock_type::now() + limit;
  auto done = run->done.get_future();
  system.spawn(request_driver, run);
  if (done.wait_for(limit + 10s) != std::future_status::ready)
    throw std::runtime_error("CAF requests were not answered within the time limit");
  if (!run->failure.empty())
    throw std::runtime_error(run->failure);
  return run;
}

/// From a blocking caller: a scoped_actor keeps a window of pending requests, as a concurry user
/// keeps futures and waits on result().
peer_figures measure_blocking(const std::string& name,
                              const peer_measure::measure_config& cfg,
                              caf::actor_system& system,
                              const caf::actor& target) {
  caf::scoped_actor self{system};
  auto submit = [&](int x) { return self->request(target, caf::infinite, payload_of(x)); };
  auto get = [&](auto& handle) {
    int value = -1;
    handle.receive(
        [&](std::vector<char>& answer) { value = value_of(answer); },
        [&](caf::error& e) { throw std::runtime_error("a request failed: " + system.render(e)); });
    return value;
  };
  return peer_measure::measure_peer(name, cfg, submit, get);
}

/// From an event-based actor: no thread blocks anywhere.
peer_figures measure_scheduled(const std::string& name,
                               const peer_measure::measure_config& cfg,
                               caf::actor_system& system,
                               const caf::actor& target) {
  peer_figures out;
  out.name = name;
  (void)drive_requests(system, target, cfg.seq_warmup, 1, cfg.phase_limit);
  auto one = drive_requests(system, target, cfg.seq_calls, 1, cfg.phase_limit);
  const auto seq = peer_measure::summarize(one->latencies_us, one->truncated);
  out.seq_p50_us = seq.p50_us;
  out.seq_p99_us = seq.p99_us;
  out.truncated = seq.truncated;
  (void)drive_requests(system, target, cfg.pipe_warmup, cfg.window, cfg.phase_limit);
  for (std::size_t r = 0; r < cfg.repeats; ++r) {
    auto run = drive_requests(system, target, cfg.pipe_calls, cfg.window, cfg.phase_limit);
    const auto seconds = std::chrono::duration<double>(run->stop - run->start).count();
    out.runs.push_back(static_cast<double>(run->completed) / seconds);
    out.truncated = out.truncated || run->truncated;
  }
  out.pipelined_calls_per_s = peer_measure::median(out.runs);
  out.measured = true;
  return out;
}

// ---------------------------------------------------------------------------------------------
// The peer: Dask actors

/// The python that imports Debian's python3-distributed (only /usr/bin/python3 does).
constexpr const char* dask_python = "/usr/bin/python3";

std::vector<std::string> dask_arguments(const peers_config& cfg) {
  // NOTE: argv[0] is the full path: Python derives sys.executable from it, and Dask starts its
  // worker processes with sys.executable; "python3" could name another Python on PATH, one
  // without Debian's Dask.
  return {dask_python,
          cfg.dask_script,
          "--workers",
          "2",
          "--seq-warmup",
          std::to_string(cfg.dask_seq_warmup),
          "--seq-calls",
          std::to_string(cfg.dask_seq_calls),
          "--pipe-calls",
          std::to_string(cfg.dask_pipe_calls),
          "--window",
          std::to_string(cfg.dask_window),
          "--repeats",
          std::to_string(cfg.dask_repeats),
          "--time-limit",
          std::to_string(cfg.dask_limit.count())};
}

} // namespace

peer_figures bench_caf_remote(const peers_config& cfg) {
  const std::string name = "CAF remote request (1 child)";
  return peer_measure::guarded(name, us_decimals, [&] {
    concurry::actors::actor_host host{0};
    auto& system = host.system();
    auto [child, target] = start_caf_child(cfg.caf_peer_program, system);
    const auto& config = system.config();
    std::printf(
        "  scheduler.policy=%s, %zu scheduler threads, middleman.workers=%zu, %zu bytes each way\n",
        caf::to_string(caf::get_or(config, "scheduler.policy", caf::defaults::scheduler::policy))
            .c_str(),
        system.scheduler().num_workers(),
        caf::get_or(config, "middleman.workers", caf::defaults::middleman::workers),
        payload_bytes);

    const auto blocking = measure_blocking(name, cfg.caf, system, target);
    peer_measure::print_progress(blocking, us_decimals, "from a scoped_actor: ");
    const auto scheduled = measure_scheduled(name, cfg.caf, system, target);
    peer_measure::print_progress(scheduled, us_decimals, "from an event-based actor: ");
    auto out = blocking.seq_p50_us <= scheduled.seq_p50_us ? blocking : scheduled;
    const auto& faster =
        blocking.pipelined_calls_per_s >= scheduled.pipelined_calls_per_s ? blocking : scheduled;
    out.pipelined_calls_per_s = faster.pipelined_calls_per_s;
    out.runs = faster.runs;
    out.truncated = blocking.truncated || scheduled.truncated;
    std::printf("  the row: the lower p50 and the higher pipelined rate of the two\n");

    // The child exits at the end of its stdin; the connection drops with it.
    target = nullptr;
    child.keep_alive.reset();
    if (!child.process.end())
      throw std::runtime_error("cluster_caf_peer did not exit cleanly");
    return out;
  });
}

peer_figures bench_dask_actors(const peers_config& cfg) {
  const std::string name = "Dask actors, LocalCluster (2)";
  return peer_measure::guarded(name, us_decimals, [&] {
    auto [out_read, out_write] = bench_child::make_pipe();
    auto [in_read, in_write] = bench_child::make_pipe();
    auto child =
        bench_child::spawn_child(dask_python, dask_arguments(cfg), in_read.get(), out_write.get());
    in_read.reset();
    in_write.reset();
    out_write.reset();
    std::optional<peer_figures> figures;
    // Bounded: the script ends by its --time-limit, plus the cluster's start and stop; past
    // that and a margin it is killed.
    const auto deadline = clock_type::now() + cfg.dask_limit + 30s;
    while (clock_type::now() < deadline) {
      auto line = bench_child::read_line(
          out_read.get(),
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now()));
      if (!line)
        break;
      if (auto parsed = peer_measure::parse_result_line(*line))
        figures = std::move(parsed);
      else
        std::printf("  dask: %s\n", line->c_str());
    }
    if (!child.end(/*grace=*/10'000ms))
      throw std::runtime_error("dask_actor_peer.py failed or was killed (is python3-distributed "
                               "installed?)");
    if (!figures)
      throw std::runtime_error("dask_actor_peer.py printed no result line");
    figures->name = name;
    return *figures;
  });
}

void kill_children() noexcept {
  bench_child::kill_live_children();
}

} // namespace cluster_peers
