// Benchmark: the cost of taking and giving back a limit.
//
//   - through the fast path (limit_set::acquire + release under the set's lock), uncontended and
//     with 8 threads contending for one set, for a resource limit, a token-bucket rate limit and
//     a sliding-window call limit;
//   - the floor: a counter behind a plain std::mutex, taken and given back the same way;
//   - one acquisition through the limit actor (Cap'n Proto request, CAF message, reply), for
//     scale, in-process;
//   - what a worker in a child process pays (process mode): its acquisitions go to the client's
//     limit actor over the worker host's connection, a round trip for the acquire and one for
//     the release.
//
// Prints nanoseconds per acquire+release and the ratio to the floor. `--quick` is a smoke run.
#include "actors/limit_actor.hpp"
#include "runtime/internal/host.hpp"

#include <concurry/concurry.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;
using namespace std::chrono_literals;

/// Runs `op` `per_thread` times on each of `threads` threads; returns ns per op (wall time of
/// the whole run divided by the total number of ops, so contention shows).
double ns_per_op(int threads, long per_thread, const std::function<void()>& op) {
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&] {
      ready.fetch_add(1);
      while (!go.load())
        std::this_thread::yield();
      for (long i = 0; i < per_thread; ++i)
        op();
    });
  while (ready.load() < threads)
    std::this_thread::yield();
  auto t0 = clock_type::now();
  go = true;
  for (auto& th : pool)
    th.join();
  auto ns = std::chrono::duration<double, std::nano>(clock_type::now() - t0).count();
  return ns / (static_cast<double>(per_thread) * threads);
}

/// Takes and gives back the pool's limit in a loop, in a worker host.
class limit_loop : public concurry::worker<limit_loop> {
public:
  /// ns per acquire + release over `n` of them.
  double take(long n) {
    auto t0 = clock_type::now();
    for (long i = 0; i < n; ++i)
      (void)limits().acquire({{"connections", 1}});
    return std::chrono::duration<double, std::nano>(clock_type::now() - t0).count() /
           static_cast<double>(n);
  }
};
CONCURRY_WORKER(limit_loop, (), take)

struct row {
  std::string name;
  double uncontended_ns = 0;
  double contended_ns = 0;
};

} // namespace

int main(int argc, char** argv) {
  concurry::runtime rt{argc, argv};
  bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const long ops = quick ? 20'000 : 1'000'000;
  const int contenders = 8;

  std::vector<row> rows;
  auto measure = [&](std::string name, const std::function<void()>& op) {
    row r{std::move(name)};
    ns_per_op(1, ops / 10, op); // warm-up
    r.uncontended_ns = ns_per_op(1, ops, op);
    r.contended_ns = ns_per_op(contenders, ops / contenders, op);
    rows.push_back(r);
    std::printf("  %-44s %10.1f ns %12.1f ns\n",
                rows.back().name.c_str(),
                r.uncontended_ns,
                r.contended_ns);
    std::fflush(stdout);
  };

  std::printf("limits_bench: concurry %s, %u hardware threads, %ld ops per figure\n",
              concurry::version(),
              std::thread::hardware_concurrency(),
              ops);
  std::printf("  %-44s %13s %15s\n", "acquire + release", "1 thread", "8 threads");

  // The floor: what a counter behind a mutex costs taken and given back.
  std::mutex m;
  long counter = 0;
  measure("floor: std::mutex counter", [&] {
    {
      std::lock_guard g{m};
      ++counter;
    }
    std::lock_guard g{m};
    --counter;
  });

  concurry::limit_set resources{{concurry::resource_limit{"connections", 1'000'000}}};
  measure("resource_limit (fast path)", [&] { (void)resources.acquire({{"connections", 1}}); });

  concurry::limit_set tokens{
      {concurry::rate_limit{"tokens", 1s, 1e12, concurry::rate_algorithm::token_bucket}}};
  measure("rate_limit token_bucket (fast path)", [&] { (void)tokens.acquire({{"tokens", 1}}); });

  concurry::limit_set calls{{concurry::call_limit{1s, 1e9}}};
  measure("call_limit sliding_window (fast path)", [&] { (void)calls.acquire(); });

  // Through the limit actor: request and reply as Cap'n Proto bytes over CAF, twice per op.
  auto host = concurry::runtime_internal::current_host();
  concurry::actors::limit_service service{*host, resources};
  concurry::actors::limit_client client{*host, service};
  const long actor_ops = quick ? 200 : 5'000;
  auto actor_op = [&] {
    auto g = client.acquire({{"connections", 1}});
    client.release(g.id);
  };
  for (long i = 0; i < actor_ops / 10; ++i)
    actor_op();
  row actor{"limit actor (Cap'n Proto over CAF, in-process)"};
  actor.uncontended_ns = ns_per_op(1, actor_ops, actor_op);
  actor.contended_ns = ns_per_op(contenders, actor_ops / contenders, actor_op);
  rows.push_back(actor);

  std::printf("\n%-48s | %14s | %14s | %10s | %10s\n",
              "acquire + release",
              "1 thread ns",
              "8 threads ns",
              "x floor 1",
              "x floor 8");
  std::printf("%s\n", std::string(108, '-').c_str());
  for (auto& r : rows)
    std::printf("%-48s | %14.1f | %14.1f | %10.2f | %10.2f\n",
                r.name.c_str(),
                r.uncontended_ns,
                r.contended_ns,
                r.uncontended_ns / rows[0].uncontended_ns,
                r.contended_ns / rows[0].contended_ns);
  std::printf("x floor: this row's ns per op / the mutex counter's (lower is better).\n");

  // From workers in child processes, through the client's limit actor.
  const long child_ops = quick ? 200 : 5'000;
  for (std::size_t workers : {std::size_t{1}, std::size_t{2}}) {
    auto pool = limit_loop::options()
                    .mode(concurry::mode::process)
                    .max_workers(workers)
                    .limits(resources)
                    .init();
    for (auto& f : pool.broadcast(&limit_loop::take, child_ops / 10)) // warm-up
      f.result();
    double mean = 0;
    for (auto& f : pool.broadcast(&limit_loop::take, child_ops))
      mean += f.result() / static_cast<double>(workers);
    std::printf("from %zu worker(s) in child processes at once: %.1f us per acquire + release\n",
                workers,
                mean / 1000);
  }
  return counter == 0 ? 0 : 1;
}
