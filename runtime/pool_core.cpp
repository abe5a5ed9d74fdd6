// The untyped pool: validates options, builds the workers, balances calls over them on the
// caller's thread (the hot path) and delegates ownership, statistics and stop to the supervisor.
#include <concurry/detail/pool_core.hpp>

#include "actors/log.hpp"
#include "actors/pool_supervisor.hpp"
#include "runtime/internal/host.hpp"
#include "runtime/internal/worker_runner.hpp"

#include <concurry/error.hpp>

#include <limits>
#include <mutex>
#include <random>
#include <stdexcept>

namespace concurry::detail {

class pool_core {
public:
  pool_core(const pool_spec& spec, std::shared_ptr<actors::actor_host> host)
      : spec_{spec}, host_{std::move(host)} {}

  ~pool_core() {
    // The owner stops the pool; a pool that only lost its handles stops here.
    stop(std::chrono::nanoseconds{0});
  }

  void start(const worker_factory& factory);
  void dispatch(call_node& call) noexcept;
  void dispatch_to(std::size_t worker, call_node& call) noexcept;
  std::size_t worker_count() const noexcept {
    return spec_.mode == mode::sync ? 1 : runners_.size();
  }
  void stop(std::chrono::nanoseconds timeout);
  pool_stats stats();
  worker_stats stats(std::size_t index);

  const pool_spec& spec() const noexcept { return spec_; }
  bool is_stopped() const noexcept { return stopped_.load(std::memory_order_acquire); }

private:
  worker_context context_for(std::size_t index) const {
    worker_context c;
    c.index = index;
    if (index < spec_.worker_limits.size())
      c.limits = spec_.worker_limits[index];
    return c;
  }
  std::vector<limit_set_stats> limit_stats() const {
    std::vector<limit_set_stats> out;
    for (auto& set : spec_.limit_sets)
      out.push_back(set.stats());
    return out;
  }
  std::size_t pick_worker() noexcept;
  /// The worker with the least `load(runner)`.
  template <class Load>
  std::size_t index_of_least(Load load) const noexcept;
  void run_inline(call_node& call) noexcept;
  void reject(call_node& call) noexcept;
  actors::pool_description description() const;

  const pool_spec spec_;
  std::shared_ptr<actors::actor_host> host_;
  std::atomic<bool> stopped_{false};

  // thread mode
  std::vector<std::shared_ptr<runtime_internal::worker_runner>> runners_;
  std::unique_ptr<actors::pool_supervisor> supervisor_;
  alignas(64) std::atomic<std::uint64_t> next_{0};

  // sync mode: one worker, run on the caller's thread, one call at a time
  // Recursive: a sync worker's method may call its own pool, which then runs inline too.
  std::recursive_mutex sync_mutex_;
  std::unique_ptr<worker_base> sync_worker_;
  int sync_depth_ = 0;
  bool sync_closing_ = false;
  actors::worker_counters sync_counters_;

  std::mutex stop_mutex_;
};

namespace {

void validate(const pool_spec& spec) {
  auto name = std::string{to_string(spec.mode)};
  if (spec.local_only && spec.mode != mode::sync && spec.mode != mode::thread)
    throw config_error{"worker " + spec.worker_name +
                       " is registered with CONCURRY_LOCAL_WORKER and can run only in sync and "
                       "thread modes, not in " +
                       name +
                       " mode; register it with "
                       "CONCURRY_WORKER to use other modes"};
  switch (spec.mode) {
  case mode::sync:
    if (spec.max_workers != 1)
      throw config_error{"sync mode runs exactly one worker; max_workers must be 1, not " +
                         std::to_string(spec.max_workers)};
    return;
  case mode::thread:
    if (spec.max_workers == 0)
      throw config_error{"a thread pool needs max_workers of at least 1"};
    return;
  case mode::asyncio:
  case mode::process:
  case mode::cluster:
    // TODO(#6): process mode. TODO(#7): cluster mode. TODO(#8): asyncio mode. Until then init
    // fails here with a config_error that says so.
    throw config_error{name + " mode is not available in this version of concurry; use sync "
                              "or thread mode"};
  }
}

std::exception_ptr stopped_error_for(const pool_spec& spec) {
  return std::make_exception_ptr(
      stopped_error{"the pool of " + spec.worker_name + " is stopped; the call was not run"});
}

} // namespace

void pool_core::start(const worker_factory& factory) {
  if (spec_.mode == mode::sync) {
    constructing_worker_context() = context_for(0);
    sync_worker_ = factory();
    return;
  }
  runners_.reserve(spec_.max_workers);
  try {
    for (std::size_t i = 0; i < spec_.max_workers; ++i) {
      auto runner = std::make_shared<runtime_internal::worker_runner>(
          context_for(i), spec_.worker_name, this);
      runner->start(factory);
      runners_.push_back(std::move(runner));
    }
  } catch (...) {
    // The workers already built end at once; nothing was queued on them.
    for (auto& r : runners_)
      r->begin_stop(nullptr);
    runners_.clear();
    stopped_.store(true);
    throw;
  }
  std::vector<std::shared_ptr<actors::worker_body>> bodies{runners_.begin(), runners_.end()};
  supervisor_ = std::make_unique<actors::pool_supervisor>(*host_, description(), std::move(bodies));
  actors::logger("pool")->info("pool started worker={} mode={} workers={} load_balancing={}",
                               spec_.worker_name,
                               to_string(spec_.mode),
                               runners_.size(),
                               to_string(spec_.load_balancing));
}

template <class Load>
std::size_t pool_core::index_of_least(Load load) const noexcept {
  // Ties go to the lowest index; a worker with nothing to do cannot be beaten.
  std::size_t best = 0;
  auto best_load = std::numeric_limits<std::uint64_t>::max();
  for (std::size_t i = 0; i < runners_.size() && best_load > 0; ++i) {
    auto l = load(runners_[i]);
    if (l < best_load) {
      best = i;
      best_load = l;
    }
  }
  return best;
}

std::size_t pool_core::pick_worker() noexcept {
  const auto n = runners_.size();
  switch (spec_.load_balancing) {
  case load_balancing::round_robin:
    return next_.fetch_add(1, std::memory_order_relaxed) % n;
  case load_balancing::least_active:
    return index_of_least([](const auto& r) { return r->active_calls(); });
  case load_balancing::least_total:
    return index_of_least([](const auto& r) { return r->dispatched(); });
  case load_balancing::random: {
    thread_local std::minstd_rand rng{std::random_device{}()};
    return std::uniform_int_distribution<std::size_t>{0, n - 1}(rng);
  }
  }
  return 0;
}

void pool_core::dispatch(call_node& call) noexcept {
  if (stopped_.load(std::memory_order_acquire))
    return reject(call);
  if (spec_.mode == mode::sync)
    return run_inline(call);
  runners_[pick_worker()]->dispatch(call);
}

void pool_core::dispatch_to(std::size_t worker, call_node& call) noexcept {
  if (stopped_.load(std::memory_order_acquire))
    return reject(call);
  if (worker >= worker_count()) {
    call.state().fail(std::make_exception_ptr(std::out_of_range{
        "worker index " + std::to_string(worker) + " is out of range: the pool has " +
        std::to_string(worker_count()) + " workers"}));
    call.state().release();
    return;
  }
  if (spec_.mode == mode::sync)
    return run_inline(call);
  runners_[worker]->dispatch(call);
}

void pool_core::reject(call_node& call) noexcept {
  call.state().fail(stopped_error_for(spec_));
  call.state().release();
}

void pool_core::run_inline(call_node& call) noexcept {
  std::unique_lock guard{sync_mutex_};
  if (!sync_worker_ || sync_closing_) {
    guard.unlock();
    return reject(call);
  }
  ++sync_counters_.dispatched;
  ++sync_depth_;
  bool claimed = call.state().try_start() && call.execute(*sync_worker_);
  --sync_depth_;
  ++sync_counters_.finished;
  // A stop made from inside the method ends the worker once no method of it runs any more.
  if (sync_closing_ && sync_depth_ == 0)
    sync_worker_.reset();
  guard.unlock();
  if (claimed)
    call.state().publish(call.stored_status());
  call.state().release();
}

void pool_core::stop(std::chrono::nanoseconds timeout) {
  stopped_.store(true, std::memory_order_release);
  if (spec_.mode == mode::sync) {
    std::lock_guard sync_guard{sync_mutex_};
    sync_closing_ = true;
    sync_counters_.stopped = true;
    if (sync_depth_ == 0)
      sync_worker_.reset();
    return;
  }
  if (runtime_internal::worker_runner::owner_of_this_thread() == this) {
    // A worker stopping its own pool cannot wait for itself: the stop goes on without it, and
    // this worker ends once its method returns.
    if (supervisor_)
      supervisor_->begin_stop(timeout);
    return;
  }
  std::lock_guard guard{stop_mutex_};
  if (supervisor_)
    supervisor_->stop(timeout);
}

actors::pool_description pool_core::description() const {
  actors::pool_description d;
  d.worker_name = spec_.worker_name;
  d.mode = spec_.mode;
  d.max_workers = spec_.max_workers;
  d.load_balancing = spec_.load_balancing;
  return d;
}

pool_stats pool_core::stats() {
  pool_stats s;
  if (spec_.mode == mode::sync) {
    std::lock_guard guard{sync_mutex_};
    s = actors::make_pool_stats(description(), {sync_counters_}, is_stopped());
  } else if (!supervisor_) {
    s = actors::make_pool_stats(description(), {}, true);
  } else {
    s = supervisor_->stats();
  }
  s.limits = limit_stats();
  return s;
}

worker_stats pool_core::stats(std::size_t index) {
  actors::worker_counters c;
  if (spec_.mode == mode::sync) {
    if (index != 0)
      throw std::out_of_range{"worker index " + std::to_string(index) +
                              " is out of range: a sync pool has one worker"};
    std::lock_guard guard{sync_mutex_};
    c = sync_counters_;
  } else {
    if (index >= runners_.size())
      throw std::out_of_range{"worker index " + std::to_string(index) +
                              " is out of range: the "
                              "pool has " +
                              std::to_string(runners_.size()) + " workers"};
    c = runners_[index]->counters();
  }
  worker_stats s;
  s.worker_id = index;
  s.stopped = c.stopped || is_stopped();
  s.total_calls = c.dispatched;
  s.active_calls = c.dispatched > c.finished ? c.dispatched - c.finished : 0;
  return s;
}

// -- the functions the header-only API calls -----------------------------------

std::shared_ptr<pool_core> create_pool(const pool_spec& spec, worker_factory factory) {
  validate(spec);
  auto core = std::make_shared<pool_core>(spec, runtime_internal::current_host());
  core->start(factory);
  runtime_internal::track_pool(core);
  return core;
}

void dispatch(pool_core& pool, call_node& call) noexcept {
  pool.dispatch(call);
}

void dispatch_to(pool_core& pool, std::size_t worker, call_node& call) noexcept {
  pool.dispatch_to(worker, call);
}

std::size_t worker_count(const pool_core& pool) noexcept {
  return pool.worker_count();
}

void stop(pool_core& pool, std::chrono::nanoseconds timeout) {
  pool.stop(timeout);
}

std::chrono::nanoseconds stop_timeout(const pool_core& pool) noexcept {
  return pool.spec().stop_timeout;
}

bool is_stopped(const pool_core& pool) noexcept {
  return pool.is_stopped();
}

pool_stats statistics(pool_core& pool) {
  return pool.stats();
}

worker_stats statistics(pool_core& pool, std::size_t worker) {
  return pool.stats(worker);
}

} // namespace concurry::detail
