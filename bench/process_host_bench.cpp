// Benchmark: the control round trip between a client and its worker hosts over CAF's middleman
// (TCP on 127.0.0.1): a Cap'n Proto ping from a scoped actor in the client, a pong from the
// host's actor, one after the other. This is the transport's floor for a call in process mode,
// and what issue 6 compares with CAF's own remote request.
//
// Also times the start of a host (spawn until its hello), and a call of a trivial method of a
// worker built in host 0 (call.capnp through process_hosts::send and on_message, the path a
// process pool takes): the round trip one at a time, and calls per second with 1,000 in flight.
// Prints p50, p99 and mean in microseconds. `--quick` is a smoke run.
#include "net/call_messages.hpp"
#include "runtime/internal/host.hpp"
#include "runtime/internal/process_host.hpp"

#include <concurry/codec.hpp>
#include <concurry/registry.hpp>
#include <concurry/runtime.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <numeric>
#include <optional>
#include <tuple>
#include <vector>

/// The worker of the call benchmark; built in the hosts, which run this same binary.
class bench_worker : public concurry::worker<bench_worker> {
public:
  int increment(int n) { return n + 1; }
};
CONCURRY_WORKER(bench_worker, (), increment)

namespace {

namespace ri = concurry::runtime_internal;
using namespace std::chrono_literals;

double micros(std::chrono::nanoseconds d) {
  return std::chrono::duration<double, std::micro>(d).count();
}

void report(const char* what, std::vector<std::chrono::nanoseconds> samples) {
  if (samples.empty()) {
    std::printf("%-34s no samples\n", what);
    return;
  }
  std::sort(samples.begin(), samples.end());
  auto at = [&](double q) { return micros(samples[std::size_t(q * double(samples.size() - 1))]); };
  auto total = std::accumulate(samples.begin(), samples.end(), std::chrono::nanoseconds{0});
  std::printf("%-34s n=%zu p50=%.1f us p99=%.1f us mean=%.1f us\n",
              what,
              samples.size(),
              at(0.5),
              at(0.99),
              micros(total) / double(samples.size()));
}

namespace net = concurry::net;

/// Calls of bench_worker::increment on one host, with the answers counted as they come.
class call_counter {
public:
  explicit call_counter(ri::process_hosts& hosts) : hosts_{hosts} {}

  /// Takes one FromHost message (on_message); counts results whose value is right. A host sends
  /// answers that are ready together as one batch: each counts.
  void take(const std::vector<char>& bytes) {
    bool good = false;
    try {
      auto message = net::decode_from_host(bytes);
      if (auto* batch = std::get_if<net::message_batch>(&message)) {
        for (auto& one : batch->messages)
          take(one);
        return;
      }
      if (auto* r = std::get_if<net::call_result>(&message))
        good = concurry::decode<int>(std::span<const std::byte>{r->value}) ==
               int(r->call_id % 1000) + 1;
      else if (std::holds_alternative<net::worker_constructed>(message))
        good = !std::get<net::worker_constructed>(message).failure;
    } catch (const std::exception&) {
    }
    std::lock_guard guard{mutex_};
    ++answered_;
    if (!good)
      ++bad_;
    changed_.notify_all();
  }

  bool construct(int worker) {
    auto sent = answered();
    hosts_.send(worker, net::encode(net::construct_worker{1, 0, "bench_worker", {}}));
    return wait_answered(sent + 1);
  }

  void call(int worker, std::uint64_t id) {
    auto args = concurry::encode(std::tuple<int>{int(id % 1000)});
    hosts_.send(worker, net::encode(net::host_call{id, 1, 0, 0, {}, 1, std::move(args), {}}));
  }

  std::uint64_t answered() {
    std::lock_guard guard{mutex_};
    return answered_;
  }

  std::uint64_t bad() {
    std::lock_guard guard{mutex_};
    return bad_;
  }

  /// Waits (10 s at most) until `count` answers came.
  bool wait_answered(std::uint64_t count) {
    std::unique_lock lock{mutex_};
    return changed_.wait_for(lock, 10s, [&] { return answered_ >= count; });
  }

private:
  ri::process_hosts& hosts_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::uint64_t answered_ = 0;
  std::uint64_t bad_ = 0;
};

// The round trip of `rounds` calls, one at a time.
std::optional<std::vector<std::chrono::nanoseconds>>
time_calls(call_counter& calls, int worker, std::size_t rounds, std::uint64_t& next_id) {
  std::vector<std::chrono::nanoseconds> samples;
  samples.reserve(rounds);
  for (std::size_t i = 0; i < rounds; ++i) {
    auto target = calls.answered() + 1;
    auto start = std::chrono::steady_clock::now();
    calls.call(worker, next_id++);
    if (!calls.wait_answered(target))
      return std::nullopt;
    samples.push_back(std::chrono::steady_clock::now() - start);
  }
  return samples;
}

// Calls per second over `total` calls with at most `window` in flight; 0 when answers stop.
double pipelined_rate(call_counter& calls,
                      int worker,
                      std::uint64_t total,
                      std::uint64_t window,
                      std::uint64_t& next_id) {
  auto base = calls.answered();
  auto start = std::chrono::steady_clock::now();
  for (std::uint64_t sent = 0; sent < total; ++sent) {
    if (sent >= window && !calls.wait_answered(base + sent - window + 1))
      return 0;
    calls.call(worker, next_id++);
  }
  if (!calls.wait_answered(base + total))
    return 0;
  std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  return double(total) / took.count();
}

} // namespace

int main(int argc, char** argv) {
  concurry::runtime rt{argc, argv};
  bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const std::size_t rounds = quick ? 200 : 20000;
  const int hosts_count = 2;

  std::mutex mutex;
  std::condition_variable changed;
  int hellos = 0;
  ri::process_hosts::events events;
  events.on_hello = [&](const concurry::actors::host_identity&) {
    std::lock_guard guard{mutex};
    ++hellos;
    changed.notify_all();
  };
  std::optional<call_counter> calls;
  events.on_message = [&](const concurry::actors::host_identity&, std::vector<char> bytes) {
    calls->take(bytes);
  };
  ri::process_hosts hosts{ri::current_host(), events};
  calls.emplace(hosts);

  std::vector<std::chrono::nanoseconds> starts;
  for (int worker = 0; worker < hosts_count; ++worker) {
    auto t0 = std::chrono::steady_clock::now();
    hosts.start(worker);
    std::unique_lock lock{mutex};
    if (!changed.wait_for(lock, 30s, [&] { return hellos == worker + 1; })) {
      std::fprintf(stderr, "process_host_bench: host %d did not say hello\n", worker);
      return 1;
    }
    starts.push_back(std::chrono::steady_clock::now() - t0);
  }

  std::printf("process_host_bench: %d hosts, %zu sequential pings each\n", hosts_count, rounds);
  report("host start (spawn to hello)", starts);
  for (int worker = 0; worker < hosts_count; ++worker) {
    (void)hosts.ping(worker, rounds / 10 + 1, 5000ms); // warm-up
    auto samples = hosts.ping(worker, rounds, 5000ms);
    if (samples.size() != rounds) {
      std::fprintf(stderr,
                   "process_host_bench: host %d answered %zu of %zu pings\n",
                   worker,
                   samples.size(),
                   rounds);
      return 1;
    }
    char label[64];
    std::snprintf(label, sizeof label, "ping/pong round trip, host %d", worker);
    report(label, samples);
  }

  // Calls of a trivial method on the worker of host 0.
  if (!calls->construct(0)) {
    std::fprintf(stderr, "process_host_bench: host 0 did not build its worker\n");
    return 1;
  }
  std::uint64_t next_id = 1;
  (void)time_calls(*calls, 0, rounds / 10 + 1, next_id); // warm-up
  auto call_samples = time_calls(*calls, 0, rounds, next_id);
  if (!call_samples) {
    std::fprintf(stderr, "process_host_bench: a call to host 0 was not answered within 10 s\n");
    return 1;
  }
  report("trivial call round trip, host 0", *call_samples);
  const std::uint64_t pipelined = quick ? 5000 : 200000;
  auto rate = pipelined_rate(*calls, 0, pipelined, 1000, next_id);
  if (rate == 0 || calls->bad() != 0) {
    std::fprintf(stderr,
                 "process_host_bench: pipelined calls failed (%llu wrong answers)\n",
                 static_cast<unsigned long long>(calls->bad()));
    return 1;
  }
  std::printf("%-34s n=%llu %.0f calls/s\n",
              "pipelined calls, 1000 in flight",
              static_cast<unsigned long long>(pipelined),
              rate);
  for (int worker = 0; worker < hosts_count; ++worker)
    hosts.shutdown(worker);
  return 0;
}
