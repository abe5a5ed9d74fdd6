// The untyped pool: validates options, builds the workers, balances calls over them on the
// caller's thread (the hot path) and delegates ownership, statistics and stop to the supervisor.
#include <concurry/detail/pool_core.hpp>

#include "actors/log.hpp"
#include "actors/pool_supervisor.hpp"
#include "runtime/internal/host.hpp"
#include "runtime/internal/process_pool.hpp"
#include "runtime/internal/retry_service.hpp"
#include "runtime/internal/worker_runner.hpp"

#include <concurry/error.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <limits>
#include <mutex>
#include <random>
#include <stdexcept>
#include <system_error>
#include <thread>

namespace concurry::detail {

class pool_core : public std::enable_shared_from_this<pool_core> {
public:
  pool_core(const pool_spec& spec, std::shared_ptr<actors::actor_host> host)
      : spec_{spec}, host_{std::move(host)} {
    if (!spec_.retry_plans.empty())
      retries_ = std::make_shared<runtime_internal::retry_service>(
          spec_.clock ? spec_.clock : system_clock(), spec_.retry_plans);
  }

  ~pool_core() {
    // The owner stops the pool; a pool that only lost its handles stops here.
    stop(std::chrono::nanoseconds{0});
    end_sync_retries();
    if (supervisor_ && must_not_wait_here()) {
      // The last handle went away on one of this pool's own workers, or on a thread that
      // delivers a process pool's events (in a done callback). The supervisor's end may wait for
      // this very thread: it ends on another one.
      try {
        std::thread{[s = std::move(supervisor_)]() mutable { s.reset(); }}.detach();
      } catch (const std::system_error&) {
        // NOTE: no thread to wait on: the supervisor is left to the end of the process.
        static_cast<void>(supervisor_.release());
      }
    }
  }

  void start(worker_factory factory);
  void dispatch(call_node& call) noexcept;
  void dispatch_to(std::size_t worker, call_node& call) noexcept;
  std::size_t worker_count() const noexcept {
    if (spec_.mode == mode::sync)
      return 1;
    return process_ ? process_->size() : runners_.size();
  }
  void stop(std::chrono::nanoseconds timeout);
  pool_stats stats();
  worker_stats stats(std::size_t index);

  const pool_spec& spec() const noexcept { return spec_; }
  bool is_stopped() const noexcept { return stopped_.load(std::memory_order_acquire); }

private:
  /// Whether this thread is one a stop of this pool may wait for: a worker of its own, or a
  /// thread that delivers a process pool's events.
  bool must_not_wait_here() const noexcept {
    return runtime_internal::worker_runner::owner_of_this_thread() == this ||
           runtime_internal::process_pool::delivering_on_this_thread();
  }
  worker_context context_for(std::size_t index) const {
    worker_context c;
    c.index = index;
    // On-demand workers take their index from a counter; their limits repeat.
    if (!spec_.worker_limits.empty())
      c.limits = spec_.worker_limits[index % spec_.worker_limits.size()];
    return c;
  }
  runtime_internal::runner_options runner_options_for(std::size_t index) const {
    runtime_internal::runner_options o;
    o.context = context_for(index);
    o.worker_name = spec_.worker_name;
    o.owner = this;
    o.retries = retries_;
    o.max_in_flight = spec_.max_queued_tasks;
    o.event_loop = spec_.mode == mode::asyncio;
    return o;
  }
  /// Gives the call its method's retry plan, if it has one.
  void plan(call_node& call) const noexcept {
    if (retries_ && call.attempt == 0)
      call.retry = retries_->plan_for(call.method_index);
  }
  std::vector<limit_set_stats> limit_stats() const {
    std::vector<limit_set_stats> out;
    for (auto& set : spec_.limit_sets) {
      // A cluster pool's sets live at the head.
      if (process_)
        if (auto remote = process_->remote_limit_stats(set)) {
          out.push_back(std::move(*remote));
          continue;
        }
      out.push_back(set.stats());
    }
    return out;
  }
  std::size_t pick_worker() noexcept;
  /// The worker with the least `load(runner)`.
  template <class Load>
  std::size_t index_of_least(Load load) const noexcept;
  void run_inline(call_node& call) noexcept;
  void retry_inline(call_node& call) noexcept;
  /// Queues a sync-mode attempt for the pool's retry thread (started on first use).
  bool run_later_inline(call_node& call) noexcept;
  /// Ends the retry thread once it ran what it had; joins it.
  void end_sync_retries() noexcept;
  void reject(call_node& call) noexcept;
  /// `again`: the call was dispatched before and comes back for a fresh worker.
  void dispatch_on_demand(call_node& call, bool again = false) noexcept;
  void spawn_on_demand(std::size_t index, call_node& call) noexcept;
  void on_demand_ended() noexcept;
  std::size_t on_demand_cap() const noexcept;
  actors::pool_description description() const;

  const pool_spec spec_;
  std::shared_ptr<actors::actor_host> host_;
  std::atomic<bool> stopped_{false};
  worker_factory factory_;
  std::shared_ptr<runtime_internal::retry_service> retries_;

  // on-demand mode: live workers, and the calls waiting for a slot in order
  std::mutex demand_mutex_;
  std::size_t demand_live_ = 0;
  std::size_t demand_next_index_ = 0;
  std::uint64_t demand_dispatched_ = 0;
  std::deque<call_node*> demand_waiting_;
  std::condition_variable demand_drained_;
  // Set once a stop gave up on the calls still waiting for a slot.
  bool demand_closed_ = false;

  // thread mode
  std::vector<std::shared_ptr<runtime_internal::worker_runner>> runners_;
  // process mode
  std::shared_ptr<runtime_internal::process_pool> process_;
  std::unique_ptr<actors::pool_supervisor> supervisor_;
  alignas(64) std::atomic<std::uint64_t> next_{0};

  // sync mode: one worker, run on the caller's thread, one call at a time
  // Recursive: a sync worker's method may call its own pool, which then runs inline too.
  std::recursive_mutex sync_mutex_;
  std::unique_ptr<worker_base> sync_worker_;
  int sync_depth_ = 0;
  bool sync_closing_ = false;
  actors::worker_counters sync_counters_;

  // sync mode: later attempts run on this thread, not on the clock's timer thread
  std::mutex sync_retry_mutex_;
  std::condition_variable sync_retry_wake_;
  std::deque<call_node*> sync_retry_queue_;
  std::thread sync_retry_thread_;
  bool sync_retry_ending_ = false;

  std::mutex stop_mutex_;
};

namespace {

void validate(const pool_spec& spec) {
  auto name = std::string{to_string(spec.mode)};
  if (spec.local_only && spec.mode != mode::sync && spec.mode != mode::thread &&
      spec.mode != mode::asyncio)
    throw config_error{"worker " + spec.worker_name +
                       " is registered with CONCURRY_LOCAL_WORKER and can run only in sync, "
                       "asyncio and thread modes, not in " +
                       name +
                       " mode; register it with "
                       "CONCURRY_WORKER to use other modes"};
  if (spec.on_demand && spec.mode == mode::sync)
    throw config_error{"sync mode runs calls inline and cannot start on-demand workers; use "
                       "thread mode for on_demand(true)"};
  switch (spec.mode) {
  case mode::sync:
    if (spec.max_workers != 1)
      throw config_error{"sync mode runs exactly one worker; max_workers must be 1, not " +
                         std::to_string(spec.max_workers)};
    return;
  case mode::thread:
    if (spec.max_workers == 0 && !spec.on_demand)
      throw config_error{"a thread pool needs max_workers of at least 1 (0 is allowed with "
                         "on_demand(true), where it means one per core)"};
    return;
  case mode::process:
    if (spec.max_workers == 0 && !spec.on_demand)
      throw config_error{"a process pool needs max_workers of at least 1 (0 is allowed with "
                         "on_demand(true), where it means one per core)"};
    // NOTE: a future lives in the client's memory; a worker in another process has nothing to
    // wait on, so the call must wait in the client, which is what the default does.
    if (!spec.unwrap_futures)
      throw config_error{"unwrap_futures(false) is not available in process mode: a future "
                         "cannot cross a process boundary, so the worker cannot wait for one. "
                         "Keep the default unwrap_futures(true): the client waits (without "
                         "blocking the caller) for the future arguments and sends their values"};
    return;
  case mode::cluster:
    // NOTE: as in process mode, a future cannot reach a worker in another process.
    if (!spec.unwrap_futures)
      throw config_error{"unwrap_futures(false) is not available in cluster mode: a future "
                         "cannot cross a process boundary, so the worker cannot wait for one. "
                         "Keep the default unwrap_futures(true): the client waits (without "
                         "blocking the caller) for the future arguments and sends their values"};
    return;
  case mode::asyncio:
    if (spec.on_demand)
      throw config_error{"asyncio mode runs one worker on one event loop and cannot start "
                         "on-demand workers; use thread mode for on_demand(true)"};
    if (spec.max_workers != 1)
      throw config_error{"asyncio mode runs exactly one worker (its coroutines interleave on one "
                         "event loop); max_workers must be 1, not " +
                         std::to_string(spec.max_workers)};
    return;
  }
}

std::exception_ptr stopped_error_for(const pool_spec& spec) {
  return std::make_exception_ptr(
      stopped_error{"the pool of " + spec.worker_name + " is stopped; the call was not run"});
}

} // namespace

void pool_core::start(worker_factory factory) {
  factory_ = std::move(factory);
  if (spec_.mode == mode::sync) {
    constructing_worker_context() = context_for(0);
    sync_worker_ = factory_();
    return;
  }
  std::vector<std::shared_ptr<actors::worker_body>> bodies;
  bool in_processes = spec_.mode == mode::process || spec_.mode == mode::cluster;
  if (in_processes && spec_.on_demand) {
    process_ = runtime_internal::process_pool::create(host_, spec_);
    process_->set_retries(retries_);
    // A call whose worker died before it could run, or a retry whose worker is gone, gets a
    // fresh worker ahead of the calls waiting for one.
    process_->set_rebalance([weak = weak_from_this()](call_node& call) {
      if (auto self = weak.lock())
        return self->dispatch_on_demand(call, /*again=*/true);
      call.state().fail(std::make_exception_ptr(stopped_error{"the pool is gone"}));
      call.state().release();
    });
    process_->start_on_demand(on_demand_cap());
  } else if (in_processes) {
    process_ = runtime_internal::process_pool::create(host_, spec_);
    process_->set_retries(retries_);
    // A call whose worker died for good, or a retry, goes where the balancer says.
    process_->set_rebalance([weak = weak_from_this()](call_node& call) {
      auto self = weak.lock();
      if (!self) {
        call.state().fail(std::make_exception_ptr(stopped_error{"the pool is gone"}));
        call.state().release();
      } else if (self->is_stopped()) {
        self->reject(call);
      } else {
        self->process_->dispatch(self->pick_worker(), call);
      }
    });
    try {
      process_->start(std::chrono::seconds{30});
    } catch (...) {
      process_.reset(); // kills and reaps the hosts
      stopped_.store(true);
      throw;
    }
    bodies = process_->bodies();
  } else if (!spec_.on_demand) {
    runners_.reserve(spec_.max_workers);
    try {
      for (std::size_t i = 0; i < spec_.max_workers; ++i) {
        auto runner = std::make_shared<runtime_internal::worker_runner>(runner_options_for(i));
        runner->start(factory_);
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
  }
  if (!process_)
    bodies.assign(runners_.begin(), runners_.end());
  supervisor_ = std::make_unique<actors::pool_supervisor>(*host_, description(), std::move(bodies));
  actors::logger("pool")->info(
      "pool started worker={} mode={} workers={} on_demand={} load_balancing={}",
      spec_.worker_name,
      to_string(spec_.mode),
      spec_.on_demand ? on_demand_cap() : worker_count(),
      spec_.on_demand,
      to_string(spec_.load_balancing));
}

std::size_t pool_core::on_demand_cap() const noexcept {
  if (spec_.max_workers > 0)
    return spec_.max_workers;
  return std::max(1u, std::thread::hardware_concurrency());
}

void pool_core::dispatch_on_demand(call_node& call, bool again) noexcept {
  std::unique_lock lock{demand_mutex_};
  if (stopped_.load(std::memory_order_acquire) && (!again || demand_closed_)) {
    lock.unlock();
    return reject(call);
  }
  if (!again)
    ++demand_dispatched_;
  if (demand_live_ >= on_demand_cap()) {
    // Waits for a slot, in order; on_demand_ended() hands it one. A call that comes back
    // (retry, or its worker died before running it) was made earlier: it goes first.
    if (again)
      demand_waiting_.push_front(&call);
    else
      demand_waiting_.push_back(&call);
    return;
  }
  ++demand_live_;
  auto index = demand_next_index_++;
  lock.unlock();
  spawn_on_demand(index, call);
}

void pool_core::spawn_on_demand(std::size_t index, call_node& call) noexcept {
  auto on_ended = [weak = weak_from_this()] {
    if (auto self = weak.lock())
      self->on_demand_ended();
  };
  if (process_) {
    std::shared_ptr<actors::worker_body> body;
    try {
      body = process_->spawn_on_demand(index, call, on_ended);
    } catch (...) {
      call.state().fail(std::current_exception());
      call.state().release();
      return on_demand_ended();
    }
    // As below: the supervisor stops it once its call is done; the slot comes back when its
    // process was reaped.
    return supervisor_->adopt(std::move(body));
  }
  auto options = runner_options_for(index);
  options.on_ended = std::move(on_ended);
  std::shared_ptr<runtime_internal::worker_runner> runner;
  try {
    runner = std::make_shared<runtime_internal::worker_runner>(std::move(options));
    runner->dispatch(call);
    runner->start_detached(factory_);
  } catch (...) {
    if (!runner) {
      call.state().fail(std::current_exception());
      call.state().release();
    } else {
      // The call is queued on a worker with no thread: giving up on it fails the call.
      runner->abandon();
    }
    return on_demand_ended();
  }
  // The supervisor owns it from here: it ends the worker once its call is done, and stops or
  // abandons it with the pool.
  supervisor_->adopt(std::move(runner));
}

void pool_core::on_demand_ended() noexcept {
  std::unique_lock lock{demand_mutex_};
  // During a stop, calls that waited for a slot still get one until the stop's deadline.
  if (demand_waiting_.empty() || demand_closed_) {
    if (--demand_live_ == 0)
      demand_drained_.notify_all();
    return;
  }
  auto* next = demand_waiting_.front();
  demand_waiting_.pop_front();
  auto index = demand_next_index_++;
  lock.unlock();
  spawn_on_demand(index, *next);
}

template <class Load>
std::size_t pool_core::index_of_least(Load load) const noexcept {
  // Ties go to the lowest index; a worker with nothing to do cannot be beaten.
  std::size_t best = 0;
  auto best_load = std::numeric_limits<std::uint64_t>::max();
  for (std::size_t i = 0, n = worker_count(); i < n && best_load > 0; ++i) {
    auto l = load(i);
    if (l < best_load) {
      best = i;
      best_load = l;
    }
  }
  return best;
}

std::size_t pool_core::pick_worker() noexcept {
  const auto n = worker_count();
  switch (spec_.load_balancing) {
  case load_balancing::round_robin:
    return next_.fetch_add(1, std::memory_order_relaxed) % n;
  case load_balancing::least_active:
    return index_of_least([this](std::size_t i) {
      return process_ ? process_->active_calls(i) : runners_[i]->active_calls();
    });
  case load_balancing::least_total:
    return index_of_least([this](std::size_t i) {
      return process_ ? process_->dispatched(i) : runners_[i]->dispatched();
    });
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
  plan(call);
  if (spec_.mode == mode::sync)
    return run_inline(call);
  if (spec_.on_demand)
    return dispatch_on_demand(call);
  if (process_)
    return process_->dispatch(pick_worker(), call);
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
  plan(call);
  if (spec_.mode == mode::sync)
    return run_inline(call);
  if (spec_.on_demand)
    return dispatch_on_demand(call);
  call.pinned = true;
  if (process_)
    return process_->dispatch(worker, call);
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
  if (call.attempt == 0)
    ++sync_counters_.dispatched;
  ++sync_depth_;
  auto outcome = call.begin_attempt() ? call.execute(*sync_worker_) : run_result::lost;
  --sync_depth_;
  if (outcome != run_result::retry)
    ++sync_counters_.finished;
  // A stop made from inside the method ends the worker once no method of it runs any more.
  if (sync_closing_ && sync_depth_ == 0)
    sync_worker_.reset();
  guard.unlock();
  if (outcome == run_result::retry)
    return retry_inline(call);
  if (outcome == run_result::stored)
    call.state().publish(call.stored_status());
  call.state().release();
}

void pool_core::retry_inline(call_node& call) noexcept {
  // The next attempt runs inline too, after the backoff. The retry service takes over this
  // call's queue reference.
  auto weak = weak_from_this();
  auto gone = [weak, name = spec_.worker_name](call_node& c) {
    c.state().fail(std::make_exception_ptr(
        stopped_error{"the pool of " + name + " was stopped while the call waited for attempt " +
                      std::to_string(c.attempt + 1)}));
    if (auto self = weak.lock()) {
      std::lock_guard g{self->sync_mutex_};
      ++self->sync_counters_.finished;
    }
    c.state().release();
  };
  // On a manual clock the attempt runs inside advance(), on the test's thread. Otherwise it
  // must not run on the clock's timer thread (a method that waits for a rate limit would wait
  // for a timer of that very thread): the pool's retry thread runs it.
  bool on_test_clock = dynamic_cast<manual_clock*>(spec_.clock.get()) != nullptr;
  retries_->schedule(
      call,
      [weak, gone, on_test_clock](call_node& c) {
        auto self = weak.lock();
        if (!self)
          return gone(c);
        if (on_test_clock)
          return self->run_inline(c);
        if (!self->run_later_inline(c))
          gone(c);
      },
      gone);
}

bool pool_core::run_later_inline(call_node& call) noexcept {
  std::lock_guard lock{sync_retry_mutex_};
  if (sync_retry_ending_)
    return false;
  if (!sync_retry_thread_.joinable()) {
    try {
      sync_retry_thread_ = std::thread{[this] {
        std::unique_lock lock{sync_retry_mutex_};
        for (;;) {
          sync_retry_wake_.wait(
              lock, [this] { return sync_retry_ending_ || !sync_retry_queue_.empty(); });
          if (sync_retry_queue_.empty())
            return;
          auto* next = sync_retry_queue_.front();
          sync_retry_queue_.pop_front();
          lock.unlock();
          run_inline(*next); // rejects it once the pool is stopped
          lock.lock();
        }
      }};
    } catch (const std::system_error&) {
      return false;
    }
  }
  sync_retry_queue_.push_back(&call);
  sync_retry_wake_.notify_one();
  return true;
}

void pool_core::end_sync_retries() noexcept {
  std::thread thread;
  {
    std::lock_guard lock{sync_retry_mutex_};
    sync_retry_ending_ = true;
    thread = std::move(sync_retry_thread_);
  }
  sync_retry_wake_.notify_all();
  if (!thread.joinable())
    return;
  if (thread.get_id() == std::this_thread::get_id())
    thread.detach(); // the pool's last handle went away inside a retried method
  else
    thread.join();
}

void pool_core::stop(std::chrono::nanoseconds timeout) {
  const auto started = std::chrono::steady_clock::now();
  stopped_.store(true, std::memory_order_release);
  // Calls waiting for a retry end now; the rest may finish within the timeout.
  if (retries_)
    retries_->stop();
  std::deque<call_node*> waiting;
  {
    std::unique_lock lock{demand_mutex_};
    // On-demand calls that wait for a slot were made before the stop: they get their turn
    // until the deadline, and the stop waits for their workers to end (a worker stopping its
    // own pool cannot wait for its slot).
    if (!demand_waiting_.empty() &&
        runtime_internal::worker_runner::owner_of_this_thread() != this) {
      auto drained = [this] { return demand_waiting_.empty() && demand_live_ == 0; };
      if (timeout >= std::chrono::hours{24 * 365})
        demand_drained_.wait(lock, drained);
      else
        demand_drained_.wait_until(lock, started + timeout, drained);
    }
    demand_closed_ = true;
    waiting.swap(demand_waiting_);
  }
  for (auto* call : waiting) {
    call->state().fail(std::make_exception_ptr(
        stopped_error{"the pool of " + spec_.worker_name +
                      " was stopped before an on-demand worker was free for the call"}));
    call->state().release();
  }
  timeout -= std::min(timeout,
                      std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::steady_clock::now() - started));
  if (spec_.mode == mode::sync) {
    std::lock_guard sync_guard{sync_mutex_};
    sync_closing_ = true;
    sync_counters_.stopped = true;
    if (sync_depth_ == 0)
      sync_worker_.reset();
    return;
  }
  if (must_not_wait_here()) {
    // A worker stopping its own pool cannot wait for itself: the stop goes on without it, and
    // this worker ends once its method returns. Nor can a done callback on a thread that
    // delivers a process pool's events (a host's message): the stop may wait for that thread.
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
  d.max_workers = spec_.on_demand ? on_demand_cap() : spec_.max_workers;
  d.load_balancing = spec_.load_balancing;
  d.on_demand = spec_.on_demand;
  d.max_queued_tasks = spec_.max_queued_tasks;
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
  if (spec_.on_demand) {
    std::lock_guard lock{demand_mutex_};
    s.on_demand_active = demand_live_;
    s.load_balancer.total_dispatched = demand_dispatched_;
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
    if (index >= worker_count())
      throw std::out_of_range{"worker index " + std::to_string(index) +
                              " is out of range: the "
                              "pool has " +
                              std::to_string(worker_count()) + " workers"};
    c = process_ ? process_->bodies()[index]->counters() : runners_[index]->counters();
  }
  worker_stats s;
  s.worker_id = index;
  s.restarts = c.restarts;
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

bool unwraps_futures(const pool_core& pool) noexcept {
  // An event loop must never block on an argument: an asyncio pool always resolves them first.
  return pool.spec().unwrap_futures || pool.spec().mode == mode::asyncio;
}

concurry::mode mode_of(const pool_core& pool) noexcept {
  return pool.spec().mode;
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
