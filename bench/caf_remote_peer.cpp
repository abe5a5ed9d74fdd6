#include "caf_remote_peer.hpp"

#include "actors/actor_host.hpp"
#include "child_process.hpp"

#include <caf/all.hpp>
#include <caf/io/middleman.hpp>

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
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

namespace caf_remote_peer {

namespace {

using namespace std::chrono_literals;
using bench_child::child_process;
using bench_child::fd_guard;
using peer_measure::clock_type;
using peer_measure::peer_figures;

/// Decimals of the microsecond figures the peer prints.
constexpr int us_decimals = 1;

// ---------------------------------------------------------------------------------------------
// What a request carries

/// A bare int each way.
struct int_codec {
  using message = int;
  [[nodiscard]] int encode(int x) const { return x; }
  [[nodiscard]] std::optional<int> decode(int answer) const { return answer; }
};

/// `bytes` bytes each way: the int in the first four, the rest a fixed filler.
struct bytes_codec {
  using message = std::vector<char>;
  std::size_t bytes = 0;

  [[nodiscard]] std::vector<char> encode(std::int32_t x) const {
    std::vector<char> out(bytes, 'c');
    std::memcpy(out.data(), &x, sizeof x);
    return out;
  }

  /// Nullopt for an answer of the wrong size.
  [[nodiscard]] std::optional<int> decode(const std::vector<char>& answer) const {
    if (answer.size() != bytes)
      return std::nullopt;
    std::int32_t x = 0;
    std::memcpy(&x, answer.data(), sizeof x);
    return x;
  }
};

// ---------------------------------------------------------------------------------------------
// Both sides

/// An actor system configured as concurry configures its own (actor_host), or with CAF's
/// defaults and the middleman.
class caf_system {
public:
  caf_system(caf_settings settings, std::size_t threads) {
    if (settings == caf_settings::concurry) {
      host_ = std::make_unique<concurry::actors::actor_host>(threads);
      return;
    }
    cfg_ = std::make_unique<caf::actor_system_config>();
    cfg_->load<caf::io::middleman>();
    system_ = std::make_unique<caf::actor_system>(*cfg_);
  }
  caf_system(const caf_system&) = delete;
  caf_system& operator=(const caf_system&) = delete;

  caf::actor_system& get() { return host_ ? host_->system() : *system_; }

private:
  std::unique_ptr<concurry::actors::actor_host> host_;
  std::unique_ptr<caf::actor_system_config> cfg_;
  std::unique_ptr<caf::actor_system> system_; // after cfg_, which must outlive it
};

// ---------------------------------------------------------------------------------------------
// The child's side

// NOTE: the step goes in as a spawn argument: CAF 0.17 dereferences a null pointer to its empty
// argument tuple when spawning a function without arguments.
caf::behavior increment_actor(caf::event_based_actor*, std::int32_t step) {
  return {
      [step](int x) { return x + step; },
      [step](std::vector<char>& bytes) {
        std::int32_t x = 0;
        if (bytes.size() >= sizeof x) {
          std::memcpy(&x, bytes.data(), sizeof x);
          x += step;
          std::memcpy(bytes.data(), &x, sizeof x);
        }
        return std::move(bytes);
      },
  };
}

/// Blocks until stdin ends: the parent never writes to it.
void wait_for_end_of_input() {
  char byte = 0;
  for (;;) {
    const auto n = ::read(0, &byte, 1);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return;
  }
}

// ---------------------------------------------------------------------------------------------
// The parent's side

/// One child: its process, the pipe that keeps it alive, its actor.
struct caf_child {
  child_process process;
  fd_guard keep_alive; // the write end of its stdin
  caf::actor actor;
};

/// Starts a child as `cfg` says and connects `system` to its actor.
caf_child start_child(const remote_config& cfg, caf::actor_system& system) {
  auto [in_read, in_write] = bench_child::make_pipe();
  auto [out_read, out_write] = bench_child::make_pipe();
  caf_child child;
  child.process = bench_child::spawn_child(cfg.program, cfg.args, in_read.get(), out_write.get());
  child.keep_alive = std::move(in_write);
  in_read.reset();
  out_write.reset();
  auto line = bench_child::read_line(out_read.get(), 10s);
  unsigned port = 0;
  if (!line || std::sscanf(line->c_str(), "port %u", &port) != 1 || port == 0 || port > 65535)
    throw std::runtime_error("a CAF peer child did not say its port within 10 s");
  auto actor = system.middleman().remote_actor("127.0.0.1", static_cast<std::uint16_t>(port));
  if (!actor)
    throw std::runtime_error("cannot connect to a CAF peer child: " + system.render(actor.error()));
  child.actor = *actor;
  return child;
}

/// A run of requests from an event-based actor, `window` in flight, round robin over `targets`.
/// With a window of 1 it also keeps each round trip.
template <class Codec>
struct request_run {
  Codec codec;
  std::vector<caf::actor> targets;
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

template <class Codec>
void send_request(caf::event_based_actor* self, const std::shared_ptr<request_run<Codec>>& run);

template <class Codec>
void finish_run(caf::event_based_actor* self, request_run<Codec>& run) {
  run.stop = clock_type::now();
  run.done.set_value();
  self->quit();
}

template <class Codec>
void on_reply(caf::event_based_actor* self,
              const std::shared_ptr<request_run<Codec>>& run,
              int x,
              const typename Codec::message& answer) {
  if (run->codec.decode(answer) != x + 1) {
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

template <class Codec>
void send_request(caf::event_based_actor* self, const std::shared_ptr<request_run<Codec>>& run) {
  const int x = static_cast<int>(run->sent++);
  run->last_sent = clock_type::now();
  const auto& target = run->targets[static_cast<std::size_t>(x) % run->targets.size()];
  // NOTE: no timeout: in CAF 0.17 each one costs a timer entry, which concurry's calls do not
  // have either. A child that dies leaves the run waiting; drive_requests gives up on it.
  self->request(target, caf::infinite, run->codec.encode(x))
      .then([self, run, x](typename Codec::message& answer) { on_reply(self, run, x, answer); },
            [self, run](caf::error& e) {
              run->failure = "a request failed: " + self->system().render(e);
              finish_run(self, *run);
            });
}

template <class Codec>
caf::behavior request_driver(caf::event_based_actor* self,
                             std::shared_ptr<request_run<Codec>> run) {
  run->start = clock_type::now();
  for (std::size_t i = 0; i < std::min(run->window, run->calls); ++i)
    send_request(self, run);
  // The replies arrive through the handlers of the requests; this one is never used.
  return {[](caf::ok_atom) {}};
}

/// Runs `calls` requests from an event-based actor; throws when one fails or the run hangs.
template <class Codec>
std::shared_ptr<request_run<Codec>> drive_requests(caf::actor_system& system,
                                                   const std::vector<caf::actor>& targets,
                                                   Codec codec,
                                                   std::size_t calls,
                                                   std::size_t window,
                                                   std::chrono::seconds limit) {
  auto run = std::make_shared<request_run<Codec>>();
  run->codec = std::move(codec);
  run->targets = targets;
  run->calls = calls;
  run->window = window;
  run->deadline = clock_type::now() + limit;
  auto done = run->done.get_future();
  system.spawn(request_driver<Codec>, run);
  if (done.wait_for(limit + 10s) != std::future_status::ready)
    throw std::runtime_error("CAF requests were not answered within the time limit");
  if (!run->failure.empty())
    throw std::runtime_error(run->failure);
  return run;
}

/// From a blocking caller: a scoped_actor keeps a window of pending requests, as a concurry user
/// keeps futures and waits on result().
template <class Codec>
peer_figures measure_blocking(const remote_config& cfg,
                              caf::actor_system& system,
                              const std::vector<caf::actor>& targets,
                              const Codec& codec) {
  caf::scoped_actor self{system};
  auto submit = [&](int x) {
    const auto& target = targets[static_cast<std::size_t>(x) % targets.size()];
    return self->request(target, caf::infinite, codec.encode(x));
  };
  auto get = [&](auto& handle) {
    std::optional<int> value;
    handle.receive(
        [&](typename Codec::message& answer) { value = codec.decode(answer); },
        [&](caf::error& e) { throw std::runtime_error("a request failed: " + system.render(e)); });
    if (!value)
      throw std::runtime_error("the CAF peer answered with a payload of the wrong size");
    return *value;
  };
  return peer_measure::measure_peer(cfg.name, cfg.measure, submit, get);
}

/// From an event-based actor: no thread blocks anywhere.
template <class Codec>
peer_figures measure_scheduled(const remote_config& cfg,
                               caf::actor_system& system,
                               const std::vector<caf::actor>& targets,
                               const Codec& codec) {
  const auto& m = cfg.measure;
  peer_figures out;
  out.name = cfg.name;
  (void)drive_requests(system, targets, codec, m.seq_warmup, 1, m.phase_limit);
  auto one = drive_requests(system, targets, codec, m.seq_calls, 1, m.phase_limit);
  const auto seq = peer_measure::summarize(one->latencies_us, one->truncated);
  out.seq_p50_us = seq.p50_us;
  out.seq_p99_us = seq.p99_us;
  out.truncated = seq.truncated;
  (void)drive_requests(system, targets, codec, m.pipe_warmup, m.window, m.phase_limit);
  for (std::size_t r = 0; r < m.repeats; ++r) {
    auto run = drive_requests(system, targets, codec, m.pipe_calls, m.window, m.phase_limit);
    const auto seconds = std::chrono::duration<double>(run->stop - run->start).count();
    out.runs.push_back(static_cast<double>(run->completed) / seconds);
    out.truncated = out.truncated || run->truncated;
  }
  out.pipelined_calls_per_s = peer_measure::median(out.runs);
  out.measured = true;
  return out;
}

/// Both callers, each with its progress line; the row takes the better of the two for each
/// figure (the lower p50, the higher pipelined rate): the ceiling is CAF at its best.
template <class Codec>
peer_figures measure_callers(const remote_config& cfg,
                             caf::actor_system& system,
                             const std::vector<caf::actor>& targets,
                             const Codec& codec) {
  const auto blocking = measure_blocking(cfg, system, targets, codec);
  peer_measure::print_progress(blocking, us_decimals, "from a scoped_actor: ");
  const auto scheduled = measure_scheduled(cfg, system, targets, codec);
  peer_measure::print_progress(scheduled, us_decimals, "from an event-based actor: ");
  auto out = blocking.seq_p50_us <= scheduled.seq_p50_us ? blocking : scheduled;
  const auto& faster =
      blocking.pipelined_calls_per_s >= scheduled.pipelined_calls_per_s ? blocking : scheduled;
  out.pipelined_calls_per_s = faster.pipelined_calls_per_s;
  out.runs = faster.runs;
  out.truncated = blocking.truncated || scheduled.truncated;
  std::printf("  the row: the lower p50 and the higher pipelined rate of the two\n");
  return out;
}

/// Prints the settings of `system` that decide the figures, and the payload when it is bytes.
void print_settings(caf::actor_system& system, std::size_t payload_bytes) {
  const auto& config = system.config();
  std::printf(
      "  scheduler.policy=%s, %zu scheduler threads, middleman.workers=%zu",
      caf::to_string(caf::get_or(config, "scheduler.policy", caf::defaults::scheduler::policy))
          .c_str(),
      system.scheduler().num_workers(),
      caf::get_or(config, "middleman.workers", caf::defaults::middleman::workers));
  if (payload_bytes > 0)
    std::printf(", %zu bytes each way", payload_bytes);
  std::printf("\n");
}

} // namespace

const char* to_string(caf_settings settings) {
  return settings == caf_settings::concurry ? "concurry" : "defaults";
}

caf_settings settings_from_string(std::string_view word) {
  return word == "defaults" ? caf_settings::defaults : caf_settings::concurry;
}

peer_figures bench_caf_remote(const remote_config& cfg) {
  return peer_measure::guarded(cfg.name, us_decimals, [&] {
    caf_system system{cfg.settings, 0};
    std::vector<caf_child> children;
    std::vector<caf::actor> targets;
    for (std::size_t i = 0; i < cfg.children; ++i) {
      children.push_back(start_child(cfg, system.get()));
      targets.push_back(children.back().actor);
    }
    print_settings(system.get(), cfg.payload_bytes);
    const auto out =
        cfg.payload_bytes == 0
            ? measure_callers(cfg, system.get(), targets, int_codec{})
            : measure_callers(cfg, system.get(), targets, bytes_codec{cfg.payload_bytes});

    // The children exit at the end of their stdin; the connections drop with them.
    targets.clear();
    for (auto& c : children) {
      c.actor = nullptr;
      c.keep_alive.reset();
    }
    for (auto& c : children)
      if (!c.process.end())
        throw std::runtime_error("a CAF peer child did not exit cleanly");
    return out;
  });
}

void serve_child(caf_settings settings, const char* program) {
  // NOTE: never destroyed: the process ends with _exit, as concurry's worker hosts do, so no
  // actor's shutdown can hang it.
  auto* system = new caf_system{settings, 2};
  auto actor = system->get().spawn(increment_actor, 1);
  auto port = system->get().middleman().publish(actor, 0, "127.0.0.1", /*reuse_addr=*/true);
  if (!port) {
    std::fprintf(
        stderr, "%s: cannot publish: %s\n", program, system->get().render(port.error()).c_str());
    std::fflush(stderr);
    ::_exit(4);
  }
  std::printf("port %u\n", static_cast<unsigned>(*port));
  std::fflush(stdout);
  wait_for_end_of_input();
  std::fflush(nullptr);
  ::_exit(0);
}

} // namespace caf_remote_peer
