// Task workers: workers that run the free functions they are given, like an executor.
//
//     auto pool = concurry::task_worker::options().max_workers(4).init();
//     concurry::future<int> f = pool.submit([](int x) { return x * x; }, 7);
//     auto squares = concurry::gather(pool.map([](int x) { return x * x; }, inputs));
//
// or, with the function bound in one step:
//
//     auto square = concurry::make_task([](int x) { return x * x; });
//     square(7).result();   // 49
//
// In sync and thread modes any callable runs. In process mode a function must cross to the
// worker's process by name, so only free functions registered with CONCURRY_TASK run there
// (function addresses differ between processes; the registered name and the encoded arguments
// travel instead):
//
//     int square(int x) { return x * x; }
//     CONCURRY_TASK(square)
//     ...
//     auto pool = concurry::task_worker::options().mode(concurry::mode::process).init();
//     pool.submit(&square, 7).result();   // 49, computed in a child process
//     auto task = concurry::make_task(&square, concurry::task_worker::options().mode("process"));
#pragma once

#include <concurry/options.hpp>
#include <concurry/pool.hpp>
#include <concurry/registry.hpp>
#include <concurry/worker.hpp>

#include <type_traits>
#include <utility>

namespace concurry {

/// A worker with no methods of its own: its pool's `submit(fn, args...)` and `map(fn,
/// ranges...)` run functions on it. Retry options apply to submitted functions under the
/// method name "submit"; `retry_until` validators need a method's result type and are not
/// available for task workers.
///
/// Runs in every pool mode, on-demand pools included. In process mode it runs only functions
/// registered with CONCURRY_TASK, whose parameters and result are transferable; `submit` throws
/// `config_error` for a lambda, a function object or an unregistered function.
class task_worker : public worker<task_worker> {
public:
  /// What retries call the functions this worker runs.
  static constexpr const char* concurry_unlisted_methods = "submit";
};
CONCURRY_WORKER(task_worker, ())

/// A function bound to a pool of task workers, as `make_task` returns it: calling it submits
/// the function (with a blocking pool: runs it and returns its result). Move-only; stops its
/// pool when destroyed.
template <class F, bool Blocking = false>
class task_handle {
public:
  /// The pool type behind the task.
  using pool_type = basic_pool<task_worker, Blocking>;

  /// Binds `fn` to the pool `pool`.
  task_handle(F fn, pool_type pool) : fn_{std::move(fn)}, pool_{std::move(pool)} {}

  /// Submits the bound function with `args`; returns the future of its result.
  template <class... A>
  requires std::is_invocable_v<F&, std::decay_t<A>...>
  auto operator()(A&&... args) const { return pool_.submit(fn_, std::forward<A>(args)...); }

  /// The bound function over `ranges` taken together; the futures in input order.
  template <class... Ranges>
  auto map(const Ranges&... ranges) const {
    return pool_.map(fn_, ranges...);
  }

  /// The pool behind the task, for statistics and stop.
  [[nodiscard]] const pool_type& workers() const noexcept { return pool_; }
  /// The pool behind the task.
  [[nodiscard]] pool_type& workers() noexcept { return pool_; }

  /// Stops the pool with its stop timeout.
  void stop() { pool_.stop(); }

private:
  F fn_;
  pool_type pool_;
};

/// Turns `fn` into a ready task handle: a pool of task workers built from `options` (by
/// default on-demand thread workers, one per call, at most one per core, as the Python
/// library's `@task` does) with the function bound to it.
template <class F>
[[nodiscard]] task_handle<std::decay_t<F>>
make_task(F&& fn, const worker_builder<task_worker>& options = task_worker::options().on_demand()) {
  return task_handle<std::decay_t<F>>{std::forward<F>(fn), options.init()};
}

/// As above, with options that end in `blocking()`: calling the task returns its result.
template <class F>
[[nodiscard]] task_handle<std::decay_t<F>, true>
make_task(F&& fn, const worker_builder<task_worker, true>& options) {
  return task_handle<std::decay_t<F>, true>{std::forward<F>(fn), options.init()};
}

} // namespace concurry
