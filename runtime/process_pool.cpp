#include "runtime/internal/process_pool.hpp"

#include "actors/log.hpp"
#include "runtime/internal/cluster_hosts.hpp"
#include "scheduler/amount.hpp"

#include "net/call_messages.hpp"
#include <caf/actor.hpp>

#include <unistd.h>

#include <concurry/clock.hpp>
#include <concurry/error.hpp>
#include <concurry/exceptions.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <limits>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>
#include <unordered_map>

namespace concurry::runtime_internal {

namespace {

std::atomic<std::uint64_t> next_call_id{1};
// The most waiting calls encoded before the first of them goes out.
constexpr std::size_t max_calls_per_send = 64;
std::atomic<std::uint64_t> next_pool_id{1};

// How long a replacement worker host may take to connect and build its worker.
constexpr std::chrono::seconds replacement_deadline{30};

// How many process-pool events this thread is delivering now.
thread_local int delivering = 0;

/// Marks this thread as delivering a process pool's event for its lifetime. Declared before the
/// strong references the event takes, so that they go while the mark is still there.
class delivering_scope {
public:
  delivering_scope() noexcept { ++delivering; }
  delivering_scope(const delivering_scope&) = delete;
  delivering_scope& operator=(const delivering_scope&) = delete;
  ~delivering_scope() { --delivering; }
};

// Whether a call may go out for an attempt: the first one moves its future to running (false
// when it was cancelled); a call that went to a host that died before it started, and a retry,
// find it running already.
bool may_start(detail::call_node& call) noexcept {
  return call.begin_attempt() || call.state().status() == detail::status_running;
}

message_too_large too_large(const std::string& what, std::size_t size, std::size_t limit) {
  return message_too_large{what + " does not fit in one message: " + std::to_string(size) +
                           " bytes, more than max_message_size (" + std::to_string(limit) +
                           " bytes)"};
}

// The bytes of a call; throws message_too_large past the pool's limit, before the arguments
// are copied into a message when they alone are too large.
std::vector<char> encode_call(net::host_call message, const detail::pool_spec& spec) {
  // The names are kept apart: the message itself is moved into its bytes.
  auto what = [&spec, task = message.task, method = message.method_name] {
    if (!task.empty())
      return "a call of task " + task + " (the message with its arguments)";
    return "a call of " + spec.worker_name + "::" + method + " (the message with its arguments)";
  };
  auto limit = spec.max_message_size;
  if (message.arguments.size() > limit)
    throw too_large(what(), message.arguments.size(), limit);
  auto bytes = net::encode(net::to_host{std::move(message)});
  if (bytes.size() > limit)
    throw too_large(what(), bytes.size(), limit);
  return bytes;
}

} // namespace

/// One worker in a host process: the calls waiting for it to be (re)built or for room, and those
/// in flight. When its process dies, the call it was running ends with worker_died (or waits for
/// another attempt), the calls queued behind it in the host never started and go out again, and
/// the worker is replaced up to `max_restarts` times; after that its calls move to the other
/// workers.
///
/// An on-demand worker is built for one call and never replaced: when its process dies, every
/// call it holds ends with worker_died (or waits for another attempt, which goes to a fresh
/// worker), so a host that keeps dying cannot send a call round forever.
class remote_worker final : public actors::worker_body,
                            public std::enable_shared_from_this<remote_worker> {
public:
  remote_worker(std::weak_ptr<process_pool> pool,
                std::size_t index,
                int slot,
                std::uint64_t pool_id,
                std::size_t max_in_flight,
                std::size_t max_restarts,
                bool on_demand)
      : pool_{std::move(pool)}, index_{index}, slot_{slot}, pool_id_{pool_id},
        max_in_flight_{max_in_flight}, max_restarts_{max_restarts}, on_demand_{on_demand} {}

  // -- worker_body: the supervisor's side ---------------------------------------------------

  void enqueue(detail::call_node& call) noexcept override { admit(call, /*retry=*/false); }

  /// Queues a call; `retry`: one that comes back after its backoff (counted in retrying_).
  void admit(detail::call_node& call, bool retry) noexcept {
    std::unique_lock lock{mutex_};
    if (retry)
      --retrying_;
    if (phase_ == phase::ended) {
      lock.unlock();
      return move_away(call);
    }
    // Calls wait here, in order, until the worker is built and, with max_queued_tasks, until
    // fewer than that are in flight.
    // While another thread sends, it sends this call too, right after: one sender at a time
    // keeps the calls in order and lets calls made meanwhile go out in one message.
    if (phase_ == phase::starting || !pending_.empty() || full() || sending_ != 0) {
      pending_.push_back(&call);
      return;
    }
    ++sending_;
    lock.unlock();
    std::vector<detail::call_node*> one{&call};
    send(one);
    send_waiting();
  }

  void begin_stop(std::function<void()> on_exit) override {
    std::unique_lock lock{mutex_};
    if (phase_ == phase::ended) {
      lock.unlock();
      if (on_exit)
        on_exit();
      return;
    }
    stopping_ = true;
    on_exit_ = std::move(on_exit);
    lock.unlock();
    shutdown_if_idle();
  }

  void abandon() noexcept override {
    std::deque<detail::call_node*> left;
    {
      std::lock_guard lock{mutex_};
      phase_ = phase::ended;
      gone_.store(true, std::memory_order_release);
      left.swap(pending_);
      for (auto& [id, sent] : in_flight_)
        left.push_back(sent.call);
      in_flight_.clear();
      on_exit_ = nullptr;
    }
    built_.notify_all();
    auto e = std::make_exception_ptr(stopped_error{
        "the pool was stopped before the call finished (worker " + std::to_string(index_) + ")"});
    for (auto* call : left)
      fail(*call, e);
    if (auto pool = pool_.lock())
      pool->hosts_->kill(slot_);
  }

  [[nodiscard]] actors::worker_counters counters() const noexcept override {
    actors::worker_counters c;
    c.dispatched = dispatched.load(std::memory_order_relaxed);
    c.finished = finished.load(std::memory_order_acquire);
    std::lock_guard lock{mutex_};
    c.stopped = phase_ == phase::ended;
    c.restarts = restarts_;
    return c;
  }

  // -- the host's side ------------------------------------------------------------------------

  /// A host of this worker connected: build the worker there.
  void hello(const std::string& type, const std::vector<std::byte>& arguments) {
    {
      std::lock_guard lock{mutex_};
      if (phase_ != phase::starting)
        return;
    }
    auto pool = pool_.lock();
    if (!pool)
      return;
    net::construct_worker message;
    message.pool_id = pool_id_;
    message.worker_index = static_cast<std::uint32_t>(index_);
    message.worker_type = type;
    message.arguments = arguments;
    message.max_message_size = pool->spec_.max_message_size;
    pool->limits_->send_to(*pool->hosts_, static_cast<std::size_t>(slot_), index_);
    pool->hosts_->send(slot_, net::encode(net::to_host{std::move(message)}));
  }

  void constructed(const std::optional<exception_info>& failure) {
    std::deque<detail::call_node*> orphans;
    std::function<void()> on_exit;
    {
      std::lock_guard lock{mutex_};
      if (phase_ != phase::starting)
        return;
      if (failure) {
        if (!ctor_error_)
          ctor_error_ = rebuild_exception(*failure);
        phase_ = phase::ended;
        gone_.store(true, std::memory_order_release);
        orphans.swap(pending_);
        on_exit = std::move(on_exit_);
      } else {
        phase_ = phase::ready;
        ready_.store(true, std::memory_order_release);
      }
    }
    built_.notify_all();
    if (!failure)
      if (auto pool = pool_.lock())
        pool->take_calls_of_waiting_workers();
    if (failure && on_demand_)
      return refuse_on_demand(orphans, on_exit);
    if (failure) {
      if (restarts_done() > 0)
        actors::logger("pool")->error("a replacement worker's constructor threw worker={} error={}",
                                      index_,
                                      failure->message);
      // A replacement that cannot be built leaves its calls to the other workers.
      for (auto* call : orphans)
        move_away(*call);
      if (on_exit)
        on_exit();
      return;
    }
    send_waiting();
    shutdown_if_idle();
  }

  /// A call returned; answered() follows once the message that carried it is handled.
  void result(std::uint64_t id, const std::vector<std::byte>& value) {
    if (auto* call = take(id))
      settle(*call, value, nullptr);
  }

  /// A call threw; answered() follows as for result().
  void error(std::uint64_t id, const exception_info& info) {
    if (auto* call = take(id))
      settle(*call, {}, rebuild_exception(info));
  }

  /// The answers of one message are in: the calls they made room for go out together.
  void answered() {
    send_waiting();
    shutdown_if_idle();
  }

  /// An on-demand worker's constructor threw: its call fails with that exception, as in thread
  /// mode, and its host, which holds no worker, is asked to exit.
  void refuse_on_demand(std::deque<detail::call_node*>& calls, std::function<void()>& on_exit) {
    auto e = start_error();
    for (auto* call : calls)
      fail(*call, e);
    if (auto pool = pool_.lock(); pool && !pool->hosts_->shutdown(slot_))
      pool->hosts_->kill(slot_);
    if (on_exit)
      on_exit();
  }

  /// The host's connection dropped (`reaped` false: it is killed to make sure it ends) or its
  /// process was reaped (true: a replacement starts if the worker may have one).
  void died(const std::string& how, bool reaped) {
    const int host_pid_at_death = host_pid.load();
    detail::call_node* running = nullptr;
    std::deque<detail::call_node*> orphans;
    std::vector<detail::call_node*> stranded; // on-demand: they end with the worker
    std::function<void()> on_exit;
    bool replace = false;
    bool kill = false;
    std::string why;
    {
      std::lock_guard lock{mutex_};
      // A host this side killed on purpose says why first.
      why = kill_reason_.empty() ? how : kill_reason_ + " (" + how + ")";
      death_ = why;
      ready_.store(false, std::memory_order_release);
      // The host runs its calls one at a time in the order they went out: the oldest in flight
      // was running, the others had not started and go out again.
      std::vector<sent_call> sent;
      for (auto& [id, c] : in_flight_)
        sent.push_back(c);
      in_flight_.clear();
      std::sort(sent.begin(), sent.end(), [](auto& a, auto& b) { return a.sequence < b.sequence; });
      if (!sent.empty())
        running = sent.front().call;
      for (auto it = sent.rbegin(); !sent.empty() && it + 1 != sent.rend(); ++it)
        pending_.push_front(it->call);
      if (on_demand_) {
        // Calls that never started count as attempts too: each ends or retries on a fresh
        // worker, and a host that dies before it runs anything cannot loop.
        for (auto* call : pending_)
          stranded.push_back(call);
        pending_.clear();
      }
      if (phase_ != phase::ended) {
        // A stopping pool still replaces a worker that has calls waiting: they were made before
        // the stop, which gives them until its deadline.
        if (restarts_ < max_restarts_ && (!stopping_ || !pending_.empty())) {
          phase_ = phase::starting;
          kill = !reaped;
          if (reaped) {
            ++restarts_;
            replace = true;
          }
        } else {
          phase_ = phase::ended;
          gone_.store(true, std::memory_order_release);
          kill = !reaped;
          orphans.swap(pending_);
          on_exit = std::move(on_exit_);
        }
      } else {
        orphans.swap(pending_);
      }
    }
    built_.notify_all();
    if (running || !orphans.empty() || !stranded.empty() || replace)
      actors::logger("pool")->warn("worker host died worker={} how={} running_call={} "
                                   "calls_moved={} replaced={}",
                                   index_,
                                   why,
                                   running != nullptr,
                                   orphans.size(),
                                   replace);
    auto pool = pool_.lock();
    // Only the host this worker had: a replacement may run in its slot already.
    if (kill && pool && host_pid_at_death > 0)
      pool->hosts_->kill_if(slot_, host_pid_at_death);
    auto death = std::make_exception_ptr(
        worker_died{"worker " + std::to_string(index_) + " died before the call finished: " + why});
    if (running)
      settle(*running, {}, death);
    for (auto* call : stranded) {
      if (may_start(*call)) {
        settle(*call, {}, death);
      } else { // cancelled meanwhile: its future is final already
        finished.fetch_add(1, std::memory_order_release);
        call->state().release();
      }
    }
    for (auto* call : orphans)
      move_away(*call);
    if (replace) {
      if (pool) {
        pool->hosts_->start_async(slot_);
        watch_replacement();
      } else {
        died("the pool is gone", false);
      }
    }
    if (on_exit)
      on_exit();
  }

  /// An on-demand worker that is still not built: its host is killed, and its exit fails the
  /// call with worker_died (or retries it on a fresh worker).
  void give_up_building() {
    {
      std::lock_guard lock{mutex_};
      if (phase_ != phase::starting)
        return;
    }
    {
      std::lock_guard lock{mutex_};
      kill_reason_ = "it was not built within 30 s and was killed";
    }
    actors::logger("pool")->warn("an on-demand worker was not built within 30 s and was killed "
                                 "worker={}",
                                 index_);
    if (auto pool = pool_.lock())
      pool->hosts_->kill(slot_);
  }

  /// A replacement that is not built within the start deadline (a host that never connects,
  /// a constructor that never returns) is killed; its exit then counts as another death.
  void watch_replacement() {
    std::size_t generation = 0;
    {
      std::lock_guard lock{mutex_};
      generation = restarts_;
    }
    std::weak_ptr<remote_worker> weak = weak_from_this();
    system_clock()->schedule(system_clock()->now() + replacement_deadline, [weak, generation] {
      delivering_scope on_timer;
      auto self = weak.lock();
      if (!self)
        return;
      {
        std::lock_guard lock{self->mutex_};
        if (self->phase_ != phase::starting || self->restarts_ != generation)
          return;
      }
      auto pool = self->pool_.lock();
      // A cluster worker that waits for room has no deadline: its deadline starts again.
      if (pool && pool->hosts_->is_waiting(self->slot_))
        return self->watch_replacement();
      actors::logger("pool")->error("a replacement worker host was not built in time "
                                    "worker={} deadline_s={}",
                                    self->index_,
                                    replacement_deadline.count());
      if (pool && !pool->hosts_->kill(self->slot_))
        self->died("its replacement was not started within " +
                       std::to_string(replacement_deadline.count()) + " s",
                   true);
    });
  }

  /// A replacement host could not be started.
  void start_failed(const std::string& why) {
    actors::logger("pool")->error(
        "worker host could not be replaced worker={} error={}", index_, why);
    died("its replacement could not start: " + why, true);
  }

  /// Waits until the worker is built or failed; false on timeout.
  bool wait_built(std::chrono::steady_clock::time_point deadline) {
    std::unique_lock lock{mutex_};
    return built_.wait_until(lock, deadline, [&] { return phase_ != phase::starting; });
  }

  /// Why the worker cannot run: its constructor's exception, or how its host last died.
  std::exception_ptr start_error() const {
    std::lock_guard lock{mutex_};
    if (ctor_error_ || phase_ != phase::ended)
      return ctor_error_;
    return std::make_exception_ptr(worker_died{"worker " + std::to_string(index_) +
                                               " died while it was being built: " + death_});
  }

  /// Without the lock: the balancer asks this of every worker on every call.
  bool ended() const noexcept { return gone_.load(std::memory_order_acquire); }
  /// Built and connected (the balancer of a cluster pool prefers such workers).
  bool ready() const noexcept { return ready_.load(std::memory_order_acquire); }

  /// The calls waiting for this worker, which is not built yet, taken out (for a worker that
  /// is built), but for those pinned to it; counted as finished here.
  std::deque<detail::call_node*> take_waiting_calls() {
    std::deque<detail::call_node*> taken;
    {
      std::lock_guard lock{mutex_};
      if (phase_ != phase::starting || sending_ != 0)
        return taken;
      std::deque<detail::call_node*> kept;
      for (auto* call : pending_)
        (call->pinned ? kept : taken).push_back(call);
      pending_.swap(kept);
    }
    finished.fetch_add(taken.size(), std::memory_order_release);
    return taken;
  }

  /// A cluster worker that never found room, and the pool stops: it ends without a host.
  bool end_unplaced() {
    std::function<void()> on_exit;
    {
      std::lock_guard lock{mutex_};
      if (!stopping_ || phase_ != phase::starting || !pending_.empty() || retrying_ != 0)
        return false;
      phase_ = phase::ended;
      gone_.store(true, std::memory_order_release);
      on_exit = std::move(on_exit_);
    }
    built_.notify_all();
    if (on_exit)
      on_exit();
    return true;
  }

  /// Its host's index in the pool's process_hosts.
  int slot() const noexcept { return slot_; }

  std::size_t restarts_done() const {
    std::lock_guard lock{mutex_};
    return restarts_;
  }

  std::atomic<std::uint64_t> dispatched{0};
  std::atomic<std::uint64_t> finished{0};
  /// The pid of the host that said hello for this worker last; 0 before.
  std::atomic<int> host_pid{0};

private:
  enum class phase { starting, ready, ended };

  bool full() const {
    return max_in_flight_ != 0 && in_flight_.size() + sending_ >= max_in_flight_;
  }

  // Sends the waiting calls while there is room, several to a message, unless another thread
  // is sending: that one sends them when it is done.
  void send_waiting() {
    for (;;) {
      std::vector<detail::call_node*> next;
      {
        std::lock_guard lock{mutex_};
        if (phase_ != phase::ready || sending_ != 0)
          return;
        while (!pending_.empty() && !full() && next.size() < max_calls_per_send) {
          next.push_back(pending_.front());
          pending_.pop_front();
          ++sending_;
        }
      }
      if (next.empty())
        return;
      send(next);
    }
  }

  struct encoded_call {
    detail::call_node* call = nullptr;
    std::uint64_t id = 0;
    std::vector<char> bytes;
  };

  // The bytes of a call; nullopt when it is not sent: cancelled, or failed here.
  std::optional<encoded_call> encode(detail::call_node& call, process_pool* pool) noexcept {
    if (!may_start(call)) { // cancelled before it went out: its future is final already
      finished.fetch_add(1, std::memory_order_release);
      call.state().release();
      return std::nullopt;
    }
    std::exception_ptr failure;
    if (!pool) {
      failure = std::make_exception_ptr(stopped_error{"the pool is gone"});
    } else if (call.task_name().empty() && call.method_index >= pool->spec_.method_names.size()) {
      failure = std::make_exception_ptr(
          config_error{"in process mode only methods listed in the worker's registration can "
                       "be called"});
    }
    encoded_call out{&call, next_call_id.fetch_add(1, std::memory_order_relaxed), {}};
    if (!failure) {
      net::host_call message;
      message.call_id = out.id;
      message.pool_id = pool_id_;
      message.worker_index = static_cast<std::uint32_t>(index_);
      if (auto task = call.task_name(); !task.empty()) {
        message.task = std::string{task};
      } else {
        message.method_index = call.method_index;
        message.method_name = pool->spec_.method_names[call.method_index];
      }
      try {
        message.arguments = call.encode_arguments();
        out.bytes = encode_call(std::move(message), pool->spec_);
      } catch (...) {
        failure = std::current_exception();
      }
    }
    if (failure) {
      fail(call, failure);
      return std::nullopt;
    }
    if (call.retry && call.attempt == 0)
      call.started = call.retry->clock->now();
    return out;
  }

  // Sends calls, in order and in as few messages as max_message_size allows; the caller counted
  // them in sending_.
  void send(const std::vector<detail::call_node*>& calls) noexcept {
    auto pool = pool_.lock();
    std::vector<encoded_call> ready;
    ready.reserve(calls.size());
    for (auto* call : calls)
      if (auto one = encode(*call, pool.get()))
        ready.push_back(std::move(*one));
    bool ended = false;
    {
      // Sent under the lock, in the order of their sequence numbers: the host runs calls in the
      // order they arrive, and died() sees each call either in flight or not sent.
      std::lock_guard lock{mutex_};
      sending_ -= calls.size();
      if (phase_ == phase::starting) {
        // The host died while these calls were on their way out: they wait for the replacement.
        for (auto it = ready.rbegin(); it != ready.rend(); ++it)
          pending_.push_front(it->call);
        return;
      }
      if (phase_ == phase::ended) {
        ended = true;
      } else if (!ready.empty()) {
        std::vector<std::vector<char>> messages;
        messages.reserve(ready.size());
        for (auto& one : ready) {
          in_flight_.emplace(one.id, sent_call{next_sequence_++, one.call});
          messages.push_back(std::move(one.bytes));
        }
        // Not sent when the host is not connected: it is dying, and died() sends the calls on.
        for (auto& bytes : net::pack_to_host(std::move(messages), pool->spec_.max_message_size))
          (void)pool->hosts_->send(slot_, std::move(bytes));
      }
    }
    if (ended)
      for (auto& one : ready)
        move_away(*one.call);
  }

  detail::call_node* take(std::uint64_t id) {
    std::lock_guard lock{mutex_};
    auto it = in_flight_.find(id);
    if (it == in_flight_.end())
      return nullptr;
    auto* call = it->second.call;
    in_flight_.erase(it);
    return call;
  }

  // Ends an attempt that ran (or died) in the host: publishes its result or failure, or hands the
  // call to the retry service for another attempt.
  void settle(detail::call_node& call,
              const std::vector<std::byte>& value,
              std::exception_ptr failure) noexcept {
    ++call.attempt;
    auto outcome = call.settle_remote(value, std::move(failure));
    if (outcome == detail::run_result::retry)
      return retry_later(call);
    // Counted before the future completes, so a caller that saw the result also sees the worker
    // as idle again (least_active relies on it).
    finished.fetch_add(1, std::memory_order_release);
    if (outcome == detail::run_result::stored)
      call.state().publish(call.stored_status());
    call.state().release();
  }

  void retry_later(detail::call_node& call) noexcept {
    auto pool = pool_.lock();
    auto retries = pool ? pool->retries_ : nullptr;
    if (!retries) {
      finished.fetch_add(1, std::memory_order_release);
      call.state().fail(std::make_exception_ptr(stopped_error{"the pool is gone"}));
      call.state().release();
      return;
    }
    std::weak_ptr<remote_worker> weak = weak_from_this();
    {
      // Until it comes back, the call keeps an on-demand worker from ending.
      std::lock_guard lock{mutex_};
      ++retrying_;
    }
    // The next attempt goes to this worker again, or to another while this one is gone for good
    // (an on-demand worker that died is released with its slot: the pool finds a fresh one).
    retries->schedule(
        call,
        [weak, pool_weak = pool_](detail::call_node& c) {
          delivering_scope on_timer;
          if (auto self = weak.lock())
            return self->admit(c, /*retry=*/true);
          if (auto pool = pool_weak.lock(); pool && pool->rebalance_)
            return pool->rebalance_(c);
          c.state().fail(std::make_exception_ptr(stopped_error{"the pool is gone"}));
          c.state().release();
        },
        [weak](detail::call_node& c) {
          delivering_scope on_timer;
          auto self = weak.lock();
          if (self) {
            {
              std::lock_guard lock{self->mutex_};
              --self->retrying_;
            }
            self->finished.fetch_add(1, std::memory_order_release);
          }
          c.state().fail(std::make_exception_ptr(
              stopped_error{"the pool was stopped while the call waited for attempt " +
                            std::to_string(c.attempt + 1)}));
          c.state().release();
          if (self)
            self->shutdown_if_idle();
        });
  }

  // The call leaves this worker unfinished for another one the pool picks (or fails there).
  void move_away(detail::call_node& call) noexcept {
    finished.fetch_add(1, std::memory_order_release);
    auto pool = pool_.lock();
    if (pool && pool->rebalance_)
      return pool->rebalance_(call);
    call.state().fail(std::make_exception_ptr(stopped_error{"the pool is gone"}));
    call.state().release();
  }

  void fail(detail::call_node& call, const std::exception_ptr& e) noexcept {
    finished.fetch_add(1, std::memory_order_release);
    call.state().fail(e);
    call.state().release();
  }

  void shutdown_if_idle() {
    if (auto pool = pool_.lock(); pool && pool->hosts_->is_waiting(slot_)) {
      // Never placed: nothing to stop but the request at the head.
      if (end_unplaced())
        pool->hosts_->cancel_waiting(slot_);
      return;
    }
    {
      std::lock_guard lock{mutex_};
      if (!stopping_ || !in_flight_.empty() || !pending_.empty() || sending_ != 0 ||
          retrying_ != 0 || phase_ != phase::ready)
        return;
    }
    if (auto pool = pool_.lock())
      if (!pool->hosts_->shutdown(slot_))
        died("it was not connected when the pool stopped", false);
  }

  const std::weak_ptr<process_pool> pool_;
  const std::size_t index_; // the worker's index in the pool, as its code sees it
  const int slot_;          // its host's index in the pool's process_hosts
  const std::uint64_t pool_id_;
  const std::size_t max_in_flight_;
  const std::size_t max_restarts_;
  const bool on_demand_;
  mutable std::mutex mutex_;
  std::size_t restarts_ = 0;
  std::size_t sending_ = 0;
  std::size_t retrying_ = 0; // calls waiting out a retry's backoff, to come back here
  std::condition_variable built_;
  phase phase_ = phase::starting;
  std::atomic<bool> gone_{false};  // phase_ == ended, readable without the lock
  std::atomic<bool> ready_{false}; // phase_ == ready, readable without the lock
  std::exception_ptr ctor_error_;
  std::string death_;       // how the last host died
  std::string kill_reason_; // why this side killed the host, if it did
  std::deque<detail::call_node*> pending_;
  struct sent_call {
    std::uint64_t sequence = 0; // the order in which it went out to the host
    detail::call_node* call = nullptr;
  };
  std::unordered_map<std::uint64_t, sent_call> in_flight_; // by call id
  std::uint64_t next_sequence_ = 0;
  bool stopping_ = false;
  std::function<void()> on_exit_;
};

process_pool::process_pool(std::shared_ptr<actors::actor_host> host, const detail::pool_spec& spec)
    : host_{std::move(host)}, spec_{spec} {}

std::shared_ptr<process_pool> process_pool::create(std::shared_ptr<actors::actor_host> host,
                                                   const detail::pool_spec& spec) {
  // The last reference may go on a thread that delivers this pool's events: a retry's timer
  // that had the pool in hand while the owner let it go, or a host's message whose done
  // callback dropped the owner. Ending the hosts there would wait for the listener actor that
  // runs the handler, or leave CAF's thread-local state on the clock's thread, which then holds
  // up the actor system's end forever.
  return {new process_pool{std::move(host), spec}, [](process_pool* pool) {
            if (delivering == 0)
              return delete pool;
            try {
              std::thread{[pool] { delete pool; }}.detach();
            } catch (const std::system_error&) {
              // NOTE: no thread to end the hosts on: they end with the process.
              actors::logger("pool")->error("the hosts of a pool could not be ended: no thread");
            }
          }};
}

bool process_pool::delivering_on_this_thread() noexcept {
  return delivering > 0;
}

process_pool::~process_pool() {
  // Kills whatever still runs and reaps it; no event arrives after this.
  hosts_.reset();
}

void process_pool::start(std::chrono::nanoseconds timeout) {
  pool_id_ = next_pool_id.fetch_add(1);
  const bool cluster = spec_.mode == mode::cluster;
  if (cluster)
    open_hosts();
  auto n = spec_.max_workers;
  if (cluster && n == 0)
    n = cluster_fit();
  for (std::size_t i = 0; i < n; ++i)
    workers_.push_back(std::make_shared<remote_worker>(weak_from_this(),
                                                       i,
                                                       static_cast<int>(i),
                                                       pool_id_,
                                                       spec_.max_queued_tasks,
                                                       spec_.max_restarts,
                                                       /*on_demand=*/false));
  if (!cluster)
    open_hosts();
  for (std::size_t i = 0; i < n; ++i)
    hosts_->start(static_cast<int>(i));
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (auto& w : workers_) {
    // A cluster worker that waits for room is not waited for: the pool serves with the others,
    // and its calls wait for it.
    if (hosts_->is_waiting(w->slot()))
      continue;
    if (!w->wait_built(deadline))
      throw error{
          "a worker host of " + spec_.worker_name + " did not start within " +
          std::to_string(std::chrono::duration_cast<std::chrono::seconds>(timeout).count()) + " s"};
    if (auto e = w->start_error())
      std::rethrow_exception(e);
  }
}

std::size_t process_pool::cluster_fit() {
  net::place_worker what;
  what.ref = {cluster_->id(), pool_id_, 0};
  what.worker_type = spec_.worker_name;
  what.demand = static_cast<cluster_hosts&>(*hosts_).demand();
  auto n = static_cast<std::size_t>(cluster_->fit(what));
  if (n == 0)
    throw config_error{"no worker of " + spec_.worker_name +
                       " fits on the cluster now, and max_workers(0) means as many as fit: "
                       "free resources, add a node, or set max_workers"};
  return n;
}

void process_pool::start_on_demand(std::size_t slots) {
  pool_id_ = next_pool_id.fetch_add(1);
  on_demand_ = true;
  slots_.resize(slots);
  open_hosts();
}

std::shared_ptr<actors::worker_body> process_pool::spawn_on_demand(std::size_t index,
                                                                   detail::call_node& call,
                                                                   std::function<void()> on_ended) {
  std::shared_ptr<remote_worker> worker;
  {
    std::lock_guard lock{slots_mutex_};
    auto free = std::find_if(slots_.begin(), slots_.end(), [](auto& s) { return !s.worker; });
    if (free == slots_.end())
      throw error{"every on-demand slot of the pool of " + spec_.worker_name + " is taken"};
    auto slot = static_cast<int>(free - slots_.begin());
    // Never replaced (max_restarts 0), and no cap on calls in flight: it runs one call.
    worker = std::make_shared<remote_worker>(
        weak_from_this(), index, slot, pool_id_, 0, 0, /*on_demand=*/true);
    free->worker = worker;
    free->on_ended = std::move(on_ended);
  }
  worker->dispatched.fetch_add(1, std::memory_order_relaxed);
  worker->enqueue(call); // waits in the worker until its host has built it
  hosts_->start_async(worker->slot());
  // A host that never says hello, or a constructor that never returns, must not hold its call
  // forever: as at a pool's start, the worker has 30 s to be built.
  auto clock = system_clock();
  clock->schedule(clock->now() + std::chrono::seconds{30},
                  [weak = std::weak_ptr<remote_worker>{worker}] {
                    delivering_scope on_timer;
                    if (auto w = weak.lock())
                      w->give_up_building();
                  });
  return worker;
}

void process_pool::release_slot(int slot, const remote_worker* worker) {
  std::function<void()> on_ended;
  {
    std::lock_guard lock{slots_mutex_};
    if (slot < 0 || static_cast<std::size_t>(slot) >= slots_.size())
      return;
    auto& s = slots_[static_cast<std::size_t>(slot)];
    if (s.worker.get() != worker)
      return;
    s.worker.reset();
    on_ended = std::move(s.on_ended);
  }
  if (on_ended)
    on_ended();
}

std::shared_ptr<remote_worker> process_pool::worker_at(int index) const {
  if (index < 0)
    return nullptr;
  auto i = static_cast<std::size_t>(index);
  if (!on_demand_)
    return i < workers_.size() ? workers_[i] : nullptr;
  std::lock_guard lock{slots_mutex_};
  return i < slots_.size() ? slots_[i].worker : nullptr;
}

void process_pool::open_hosts() {
  if (spec_.constructor_arguments.size() > spec_.max_message_size)
    throw too_large("the constructor arguments of " + spec_.worker_name,
                    spec_.constructor_arguments.size(),
                    spec_.max_message_size);
  auto events = host_events();
  if (spec_.mode == mode::cluster) {
    cluster_ = cluster_client::connect(host_, spec_.cluster.address, spec_.cluster.token);
    cluster_pool_options options;
    options.pool_id = pool_id_;
    options.worker_type = spec_.worker_name;
    options.demand.cpu_units =
        scheduler::amount::from_double(spec_.cluster.num_cpus, "num_cpus").units();
    for (auto& [name, amount] : spec_.cluster.resources)
      options.demand.resources.push_back(
          {name, scheduler::amount::from_double(amount, "resource " + name).units()});
    options.demand.strategy =
        spec_.cluster.strategy == placement::spread  ? net::worker_demand::placement::spread
        : spec_.cluster.strategy == placement::named ? net::worker_demand::placement::named
                                                     : net::worker_demand::placement::pack;
    options.demand.node = spec_.cluster.node;
    options.heartbeat_timeout =
        spec_.heartbeat_timeout.count() > 0
            ? spec_.heartbeat_timeout + actors::worst_transfer_time(spec_.max_message_size)
            : std::chrono::nanoseconds{0};
    limits_ = std::make_unique<process_limits>(
        spec_, [this](const std::vector<limit_set>& sets) { return cluster_->limit_actors(sets); });
    std::weak_ptr<process_pool> weak = weak_from_this();
    hosts_ = std::make_unique<cluster_hosts>(
        host_, cluster_, std::move(events), std::move(options), [weak] {
          delivering_scope event;
          if (auto self = weak.lock())
            self->on_cluster_unavailable();
        });
    return;
  }
  process_host_options options;
  // A pong may wait behind the largest result on its way. Zero stays zero: never.
  options.heartbeat_timeout =
      spec_.heartbeat_timeout.count() > 0
          ? spec_.heartbeat_timeout + actors::worst_transfer_time(spec_.max_message_size)
          : std::chrono::nanoseconds{0};
  limits_ = std::make_unique<process_limits>(*host_, spec_);
  hosts_ = std::make_unique<process_hosts>(host_, std::move(events), std::move(options));
}

process_hosts::events process_pool::host_events() {
  process_hosts::events events;
  auto weak = weak_from_this();
  events.on_hello = [weak](const actors::host_identity& who) {
    delivering_scope event;
    if (auto self = weak.lock())
      if (auto w = self->worker_at(who.worker)) {
        w->host_pid.store(who.pid);
        w->hello(self->spec_.worker_name, self->spec_.constructor_arguments);
      }
  };
  events.on_lost = [weak](const actors::host_identity& who) {
    delivering_scope event;
    auto self = weak.lock();
    // A connection that drops after its process was reaped (and maybe replaced) is old news;
    // so is one whose slot went to another worker meanwhile (on-demand slots are reused).
    if (self && self->hosts_->pid_of(who.worker) == who.pid)
      if (auto w = self->worker_at(who.worker); w && w->host_pid.load() == who.pid)
        w->died("its connection dropped", false);
  };
  events.on_exit = [weak](const host_exit& how) {
    delivering_scope event;
    auto self = weak.lock();
    auto w = self ? self->worker_at(how.worker) : nullptr;
    if (!w)
      return;
    w->died(how.describe(), true);
    // An on-demand slot is free once its process is reaped, never before: at most the cap of
    // worker processes is ever alive.
    if (self->on_demand_)
      self->release_slot(how.worker, w.get());
  };
  events.on_message = [weak](const actors::host_identity& who, std::vector<char> bytes) {
    delivering_scope event;
    if (auto self = weak.lock())
      self->on_message(who, std::move(bytes));
  };
  events.on_start_failed = [weak](int worker, const std::string& why) {
    delivering_scope event;
    auto self = weak.lock();
    auto w = self ? self->worker_at(worker) : nullptr;
    if (!w)
      return;
    w->start_failed(why);
    if (self->on_demand_)
      self->release_slot(worker, w.get());
  };
  events.on_silent = [weak](const actors::host_identity& who) {
    delivering_scope event;
    auto self = weak.lock();
    if (!self)
      return;
    auto waited =
        std::chrono::duration_cast<std::chrono::milliseconds>(self->spec_.heartbeat_timeout);
    if (auto w = self->worker_at(who.worker); w && w->host_pid.load() == who.pid)
      w->died("it answered no ping within its heartbeat_timeout of " +
                  std::to_string(waited.count()) + " ms (stopped or frozen) and was killed",
              false);
  };
  return events;
}

std::vector<std::shared_ptr<actors::worker_body>> process_pool::bodies() const {
  return {workers_.begin(), workers_.end()};
}

std::uint64_t process_pool::active_calls(std::size_t i) const noexcept {
  auto d = workers_[i]->dispatched.load(std::memory_order_relaxed);
  auto f = workers_[i]->finished.load(std::memory_order_acquire);
  // A worker gone for good is never the least loaded.
  if (workers_[i]->ended())
    return std::numeric_limits<std::uint64_t>::max();
  return d > f ? d - f : 0;
}

std::uint64_t process_pool::dispatched(std::size_t i) const noexcept {
  if (workers_[i]->ended())
    return std::numeric_limits<std::uint64_t>::max();
  return workers_[i]->dispatched.load(std::memory_order_relaxed);
}

std::optional<limit_set_stats> process_pool::remote_limit_stats(const limit_set& set) const {
  return limits_ ? limits_->remote_stats(set) : std::nullopt;
}

int process_pool::host_pid(std::size_t i) const {
  return static_cast<int>(hosts_->pid_of(workers_[i]->slot()));
}

std::uint64_t process_pool::restarts() const noexcept {
  std::uint64_t total = 0;
  for (auto& w : workers_)
    total += w->restarts_done();
  return total;
}

void process_pool::dispatch(std::size_t i, detail::call_node& call) noexcept {
  auto n = workers_.size();
  // A cluster worker still looking for room (or being replaced) leaves its calls to a built
  // one, when there is one.
  if (spec_.mode == mode::cluster && !call.pinned && n > 0 && !workers_[i % n]->ready())
    for (std::size_t k = 1; k < n; ++k)
      if (workers_[(i + k) % n]->ready()) {
        i = (i + k) % n;
        break;
      }
  // A worker gone for good (its replacements used up) leaves its calls to the next live one.
  for (std::size_t k = 0; k < n; ++k) {
    auto& w = *workers_[(i + k) % n];
    if (w.ended())
      continue;
    // With the head gone, a worker without a host will not get one: the call fails now
    // rather than wait for a placement that cannot happen.
    if (spec_.mode == mode::cluster && !w.ready() && cluster_ && !cluster_->connected() &&
        hosts_->is_waiting(w.slot()) && !any_ready()) {
      call.state().fail(std::make_exception_ptr(cluster_unavailable{
          "no worker of the pool of " + spec_.worker_name +
          " has a host, and the cluster head that would place one is unavailable"}));
      call.state().release();
      return;
    }
    w.dispatched.fetch_add(1, std::memory_order_relaxed);
    return w.enqueue(call);
  }
  call.state().fail(
      std::make_exception_ptr(worker_died{"every worker of the pool of " + spec_.worker_name +
                                          " died and used its replacements (max_restarts " +
                                          std::to_string(spec_.max_restarts) + ")"}));
  call.state().release();
}

bool process_pool::any_ready() const noexcept {
  return std::any_of(workers_.begin(), workers_.end(), [](auto& w) { return w->ready(); });
}

void process_pool::on_cluster_unavailable() {
  if (any_ready())
    return take_calls_of_waiting_workers();
  for (auto& w : workers_) {
    if (w->ended() || !hosts_->is_waiting(w->slot()))
      continue;
    for (auto* call : w->take_waiting_calls()) {
      call->state().fail(std::make_exception_ptr(cluster_unavailable{
          "the worker of the pool of " + spec_.worker_name +
          " that this call waited for has no host, and the cluster head that would place one "
          "is unavailable"}));
      call->state().release();
    }
  }
}

void process_pool::take_calls_of_waiting_workers() {
  if (spec_.mode != mode::cluster || !rebalance_)
    return;
  for (auto& w : workers_) {
    if (w->ready() || w->ended() || !hosts_->is_waiting(w->slot()))
      continue;
    for (auto* call : w->take_waiting_calls())
      rebalance_(*call);
  }
}

void process_pool::on_message(const actors::host_identity& who, std::vector<char> bytes) {
  auto found = worker_at(who.worker);
  if (!found)
    return;
  if (!take_message(who, *found, bytes, /*in_batch=*/false))
    return;
  found->answered();
}

bool process_pool::take_message(const actors::host_identity& who,
                                remote_worker& worker,
                                const std::vector<char>& bytes,
                                bool in_batch) {
  net::from_host message;
  try {
    message = net::decode_from_host(bytes);
    if (in_batch && std::holds_alternative<net::message_batch>(message))
      throw net::decode_error{"a batch inside a batch"};
  } catch (const std::exception& e) {
    // The call it answered cannot be known, and a host that sends such bytes cannot be
    // trusted with the next: it is killed, its calls fail with worker_died (or retry), and the
    // worker is replaced.
    actors::logger("pool")->error(
        "undecodable message from a worker host worker={} error={}", who.worker, e.what());
    if (hosts_->pid_of(who.worker) == who.pid && worker.host_pid.load() == who.pid)
      worker.died(std::string{"it sent a malformed message ("} + e.what() + ") and was killed",
                  false);
    return false;
  }
  if (auto* built = std::get_if<net::worker_constructed>(&message)) {
    worker.constructed(built->failure);
  } else if (auto* done = std::get_if<net::call_result>(&message)) {
    worker.result(done->call_id, done->value);
  } else if (auto* failed = std::get_if<net::call_error>(&message)) {
    worker.error(failed->call_id, failed->exception);
  } else if (auto* line = std::get_if<net::output_line>(&message)) {
    // A cluster host's output comes this way (its node may be elsewhere), under the prefix a
    // local host's output has.
    auto text = "[Worker " + std::to_string(who.worker) + " pid " + std::to_string(who.pid) + "] " +
                line->line + "\n";
    int fd = line->where == net::output_line::stream::err ? 2 : 1;
    [[maybe_unused]] auto written = ::write(fd, text.data(), text.size());
  } else if (auto* batch = std::get_if<net::message_batch>(&message)) {
    for (auto& one : batch->messages)
      if (!take_message(who, worker, one, /*in_batch=*/true))
        return false;
  }
  return true;
}

} // namespace concurry::runtime_internal
