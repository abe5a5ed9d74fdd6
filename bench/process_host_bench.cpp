// Benchmark: the control round trip between a client and its worker hosts over CAF's middleman
// (TCP on 127.0.0.1): a Cap'n Proto ping from a scoped actor in the client, a pong from the
// host's actor, one after the other. This is the transport's floor for a call in process mode,
// and what issue 6 compares with CAF's own remote request.
//
// Also times the start of a host (spawn until its hello). Prints p50, p99 and mean in
// microseconds. `--quick` is a smoke run.
#include "runtime/internal/host.hpp"
#include "runtime/internal/process_host.hpp"

#include <concurry/runtime.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <numeric>
#include <vector>

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
  ri::process_hosts hosts{ri::current_host(), events};

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
  for (int worker = 0; worker < hosts_count; ++worker)
    hosts.shutdown(worker);
  return 0;
}
