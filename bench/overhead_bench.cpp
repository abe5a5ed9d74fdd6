// Benchmark: what retries (none triggered), future arguments and on-demand workers add to a
// call, against a plain call to the same kind of pool in the same run.
//
//   - round trip: one call at a time, `call(...).result()`, median and p99 in microseconds;
//   - pipelined: 1,000 calls in flight, calls per second;
//   - on-demand: a fresh worker per call (thread + worker actor), against the floor of that,
//     a std::thread started and joined per call;
//   - process mode: a call to a pool of 2 worker processes, an on-demand call with one process
//     alive at most (the previous call's process ended and reaped, a process spawned, its worker
//     built, the call run) and a registered task submitted to a pool of 2 worker processes.
//
// Prints each figure and its ratio to the plain call (or the floor). `--quick` is a smoke run.
#include <concurry/concurry.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;
using namespace std::chrono_literals;

class echo : public concurry::worker<echo> {
public:
  int twice(int x) { return 2 * x; }
  int add(int a, int b) { return a + b; }
};
CONCURRY_WORKER(echo, (), twice, add)

int triple(int x) {
  return 3 * x;
}
CONCURRY_TASK(triple)

struct latency {
  double p50_us = 0;
  double p99_us = 0;
};

latency round_trips(int n, const std::function<void()>& one) {
  std::vector<double> us;
  us.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n / 10; ++i) // warm-up
    one();
  for (int i = 0; i < n; ++i) {
    auto t0 = clock_type::now();
    one();
    us.push_back(std::chrono::duration<double, std::micro>(clock_type::now() - t0).count());
  }
  std::sort(us.begin(), us.end());
  return {us[us.size() / 2], us[us.size() * 99 / 100]};
}

/// Calls per second with `window` calls in flight, `total` calls in all.
double pipelined(int total, int window, const std::function<concurry::future<int>(int)>& make) {
  std::vector<concurry::future<int>> in_flight;
  in_flight.reserve(static_cast<std::size_t>(window));
  auto t0 = clock_type::now();
  long sum = 0;
  for (int done = 0; done < total;) {
    int batch = std::min(window, total - done);
    in_flight.clear();
    for (int i = 0; i < batch; ++i)
      in_flight.push_back(make(i));
    for (auto& f : in_flight)
      sum += f.result();
    done += batch;
  }
  auto s = std::chrono::duration<double>(clock_type::now() - t0).count();
  if (sum < 0)
    std::puts("impossible");
  return total / s;
}

void print_latency(const char* name, latency l, latency peer, const char* peer_name = "plain") {
  std::printf("  %-44s p50 %7.2f us  p99 %7.2f us   x%.2f of %s (p50)\n",
              name,
              l.p50_us,
              l.p99_us,
              l.p50_us / peer.p50_us,
              peer_name);
}

void print_rate(const char* name, double rate, double plain) {
  std::printf("  %-44s %10.0f calls/s   x%.2f of plain\n", name, rate, rate / plain);
}

} // namespace

int main(int argc, char** argv) {
  bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  concurry::runtime rt{argc, argv};
  const int n = quick ? 2'000 : 50'000;
  const int total = quick ? 20'000 : 400'000;
  const int on_demand_n = quick ? 100 : 2'000;

  auto plain = echo::options().max_workers(2).init();
  auto retrying = echo::options().max_workers(2).num_retries(3).retry_wait(1ms).init();
  auto validated = echo::options()
                       .max_workers(2)
                       .num_retries(3)
                       .retry_until(&echo::twice, [](int r) { return r >= 0; })
                       .init();
  auto on_demand = echo::options().on_demand().max_workers(2).init();

  std::printf("concurry call overheads (thread mode, 2 workers, %u cores)\n",
              std::thread::hardware_concurrency());

  std::printf("round trip, one call at a time:\n");
  auto base = round_trips(n, [&] { (void)plain.call(&echo::twice, 1).result(); });
  print_latency("plain call", base, base);
  print_latency("num_retries(3), none triggered",
                round_trips(n, [&] { (void)retrying.call(&echo::twice, 1).result(); }),
                base);
  print_latency("num_retries(3) + retry_until validator",
                round_trips(n, [&] { (void)validated.call(&echo::twice, 1).result(); }),
                base);
  auto ready = plain.call(&echo::twice, 1);
  ready.result();
  print_latency("a future argument, already done",
                round_trips(n, [&] { (void)plain.call(&echo::add, ready, 1).result(); }),
                base);
  auto two_plain = round_trips(n, [&] {
    auto first = plain.call(&echo::twice, 1).result();
    (void)plain.call(&echo::add, first, 1).result();
  });
  auto chained = round_trips(
      n, [&] { (void)plain.call(&echo::add, plain.call(&echo::twice, 1), 1).result(); });
  std::printf("  %-44s p50 %7.2f us  p99 %7.2f us\n",
              "two calls, caller waits between",
              two_plain.p50_us,
              two_plain.p99_us);
  print_latency("two calls, the first's future passed on", chained, two_plain, "waiting between");

  std::printf("pipelined, 1,000 calls in flight:\n");
  auto rate = pipelined(total, 1000, [&](int i) { return plain.call(&echo::twice, i); });
  print_rate("plain call", rate, rate);
  print_rate("num_retries(3), none triggered",
             pipelined(total, 1000, [&](int i) { return retrying.call(&echo::twice, i); }),
             rate);
  print_rate(
      "a pending future argument (two stages)",
      pipelined(total / 2,
                500,
                [&](int i) { return plain.call(&echo::add, plain.call(&echo::twice, i), 1); }),
      rate / 2);
  std::printf("  (a two-stage item is two calls: its ratio is to half the plain rate)\n");

  std::printf("on-demand workers (a fresh worker per call):\n");
  auto spawn_floor = round_trips(on_demand_n, [] {
    int r = 0;
    std::thread t{[&r] { r = 2; }};
    t.join();
    if (r != 2)
      std::puts("impossible");
  });
  std::printf("  %-44s p50 %7.2f us  p99 %7.2f us\n",
              "floor: std::thread start + join",
              spawn_floor.p50_us,
              spawn_floor.p99_us);
  auto od = round_trips(on_demand_n, [&] { (void)on_demand.call(&echo::twice, 1).result(); });
  std::printf("  %-44s p50 %7.2f us  p99 %7.2f us   x%.2f of the floor, x%.1f of a plain call\n",
              "on-demand call",
              od.p50_us,
              od.p99_us,
              od.p50_us / spawn_floor.p50_us,
              od.p50_us / base.p50_us);

  std::printf("process mode (worker processes):\n");
  const int process_n = quick ? 200 : 5'000;
  const int spawn_n = quick ? 10 : 100;
  auto processes = echo::options().mode(concurry::mode::process).max_workers(2).init();
  auto process_base =
      round_trips(process_n, [&] { (void)processes.call(&echo::twice, 1).result(); });
  print_latency("call to a process pool of 2", process_base, process_base, "process call");
  auto tasks = concurry::task_worker::options().mode(concurry::mode::process).max_workers(2).init();
  print_latency("submit(&triple) to a process pool of 2",
                round_trips(process_n, [&] { (void)tasks.submit(&triple, 1).result(); }),
                process_base,
                "process call");
  // One alive at a time: each call also waits for the previous process to exit and be reaped.
  auto process_on_demand =
      echo::options().mode(concurry::mode::process).on_demand().max_workers(1).init();
  print_latency(
      "on-demand (max 1): exit, spawn, build, call",
      round_trips(spawn_n, [&] { (void)process_on_demand.call(&echo::twice, 1).result(); }),
      process_base,
      "process call");
  return 0;
}
