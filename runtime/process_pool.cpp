#include "runtime/internal/process_pool.hpp"

#include "actors/log.hpp"
#include "net/call_messages.hpp"

#include <concurry/error.hpp>
#include <concurry/exceptions.hpp>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <unordered_map>

namespace concurry::runtime_internal {

namespace {
std::atomic<std::uint64_t> next_call_id{1};
std::atomic<std::uint64_t> next_pool_id{1};
} // namespace

/// One worker in a host process: the calls waiting for it to be built, and those in flight.
class remote_worker final : public actors::worker_body {
public:
  remote_worker(std::weak_ptr<process_pool> pool,
                std::size_t index,
                std::uint64_t pool_id,
                std::size_t max_in_flight)
      : pool_{std::move(pool)}, index_{index}, pool_id_{pool_id}, max_in_flight_{max_in_flight} {}

  // -- worker_body: the supervisor's side ---------------------------------------------------

  void enqueue(detail::call_node& call) noexcept override {
    std::unique_lock lock{mutex_};
    // Calls wait here, in order, until the worker is built and, with max_queued_tasks, until
    // fewer than that are in flight.
    if (phase_ == phase::starting || !pending_.empty() || full()) {
      pending_.push_back(&call);
      return;
    }
    lock.unlock();
    send(call);
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
    auto left = take_all();
    fail_all(left,
             std::make_exception_ptr(
                 stopped_error{"the pool was stopped before the call finished (worker " +
                               std::to_string(index_) + ")"}));
    if (auto pool = pool_.lock())
      pool->hosts_->kill(static_cast<int>(index_));
  }

  [[nodiscard]] actors::worker_counters counters() const noexcept override {
    actors::worker_counters c;
    c.dispatched = dispatched.load(std::memory_order_relaxed);
    c.finished = finished.load(std::memory_order_acquire);
    std::lock_guard lock{mutex_};
    c.stopped = phase_ == phase::ended;
    return c;
  }

  // -- the host's side ------------------------------------------------------------------------

  /// The host connected: build the worker there.
  void hello(const std::string& type, const std::vector<std::byte>& arguments) {
    auto pool = pool_.lock();
    if (!pool)
      return;
    net::construct_worker message;
    message.pool_id = pool_id_;
    message.worker_index = static_cast<std::uint32_t>(index_);
    message.worker_type = type;
    message.arguments = arguments;
    pool->hosts_->send(static_cast<int>(index_), net::encode(net::to_host{std::move(message)}));
  }

  void constructed(const std::optional<exception_info>& failure) {
    std::deque<detail::call_node*> failed;
    {
      std::lock_guard lock{mutex_};
      if (phase_ != phase::starting)
        return;
      if (failure) {
        ctor_error_ = rebuild_exception(*failure);
        phase_ = phase::ended;
        failed.swap(pending_);
      } else {
        // NOTE: the waiting calls stay in pending_: once built_ is notified, init() returns
        // and new calls may queue behind them at once.
        phase_ = phase::ready;
      }
    }
    built_.notify_all();
    if (failure) {
      fail_all(failed, ctor_error_);
      return;
    }
    send_waiting(); // in order, as room allows
  }

  void result(std::uint64_t id, const std::vector<std::byte>& value) {
    auto* call = take(id);
    if (!call)
      return;
    send_waiting();
    finished.fetch_add(1, std::memory_order_release);
    try {
      call->complete_encoded(value);
    } catch (...) {
      call->state().fail(std::current_exception());
    }
    call->state().release();
    shutdown_if_idle();
  }

  void error(std::uint64_t id, const exception_info& info) {
    auto* call = take(id);
    if (!call)
      return;
    send_waiting();
    finished.fetch_add(1, std::memory_order_release);
    call->state().fail(rebuild_exception(info));
    call->state().release();
    shutdown_if_idle();
  }

  /// The host process ended or its connection dropped.
  void died(const std::string& why) {
    std::function<void()> on_exit;
    {
      std::lock_guard lock{mutex_};
      on_exit = std::move(on_exit_);
    }
    auto left = take_all();
    if (!left.empty())
      actors::logger("pool")->warn(
          "worker host died worker={} how={} calls_failed={}", index_, why, left.size());
    fail_all(left,
             std::make_exception_ptr(worker_died{"worker " + std::to_string(index_) +
                                                 " died before the call finished: " + why}));
    if (on_exit)
      on_exit();
  }

  /// Waits until the worker is built or failed; false on timeout.
  bool wait_built(std::chrono::steady_clock::time_point deadline) {
    std::unique_lock lock{mutex_};
    return built_.wait_until(lock, deadline, [&] { return phase_ != phase::starting; });
  }

  std::exception_ptr constructor_error() const {
    std::lock_guard lock{mutex_};
    return ctor_error_;
  }

  std::atomic<std::uint64_t> dispatched{0};
  std::atomic<std::uint64_t> finished{0};

private:
  enum class phase { starting, ready, ended };

  bool full() const {
    return max_in_flight_ != 0 && in_flight_.size() + sending_ >= max_in_flight_;
  }

  // Sends waiting calls while there is room.
  void send_waiting() {
    for (;;) {
      detail::call_node* next = nullptr;
      {
        std::lock_guard lock{mutex_};
        if (phase_ != phase::ready || pending_.empty() || full())
          return;
        next = pending_.front();
        pending_.pop_front();
        ++sending_;
      }
      send(*next);
      std::lock_guard lock{mutex_};
      --sending_;
    }
  }

  void send(detail::call_node& call) noexcept {
    if (!call.begin_attempt()) { // cancelled before it went out
      finish(call, nullptr);
      return;
    }
    auto pool = pool_.lock();
    if (!pool)
      return finish(call, std::make_exception_ptr(stopped_error{"the pool is gone"}));
    if (call.method_index >= pool->spec_.method_names.size())
      return finish(call,
                    std::make_exception_ptr(config_error{
                        "in process mode only methods listed in the worker's registration can "
                        "be called"}));
    net::host_call message;
    try {
      message.arguments = call.encode_arguments();
    } catch (...) {
      return finish(call, std::current_exception());
    }
    message.call_id = next_call_id.fetch_add(1, std::memory_order_relaxed);
    message.pool_id = pool_id_;
    message.worker_index = static_cast<std::uint32_t>(index_);
    message.method_index = call.method_index;
    message.method_name = pool->spec_.method_names[call.method_index];
    std::exception_ptr ended;
    {
      std::lock_guard lock{mutex_};
      if (phase_ == phase::ended)
        ended = ctor_error_ ? ctor_error_
                            : std::make_exception_ptr(worker_died{
                                  "worker " + std::to_string(index_) + " is no longer running"});
      else
        in_flight_.emplace(message.call_id, &call);
    }
    if (ended)
      return finish(call, ended);
    auto id = message.call_id;
    if (!pool->hosts_->send(static_cast<int>(index_),
                            net::encode(net::to_host{std::move(message)}))) {
      if (auto* lost = take(id))
        finish(*lost,
               std::make_exception_ptr(
                   worker_died{"worker " + std::to_string(index_) + " is not connected"}));
    }
  }

  detail::call_node* take(std::uint64_t id) {
    std::lock_guard lock{mutex_};
    auto it = in_flight_.find(id);
    if (it == in_flight_.end())
      return nullptr;
    auto* call = it->second;
    in_flight_.erase(it);
    return call;
  }

  std::deque<detail::call_node*> take_all() {
    std::deque<detail::call_node*> out;
    std::lock_guard lock{mutex_};
    phase_ = phase::ended;
    out.swap(pending_);
    for (auto& [id, call] : in_flight_)
      out.push_back(call);
    in_flight_.clear();
    built_.notify_all();
    return out;
  }

  void fail_all(std::deque<detail::call_node*>& calls, const std::exception_ptr& e) {
    for (auto* call : calls)
      finish(*call, e);
  }

  void finish(detail::call_node& call, const std::exception_ptr& e) {
    finished.fetch_add(1, std::memory_order_release);
    if (e)
      call.state().fail(e);
    call.state().release();
  }

  void shutdown_if_idle() {
    {
      std::lock_guard lock{mutex_};
      if (!stopping_ || !in_flight_.empty() || !pending_.empty() || phase_ == phase::ended)
        return;
    }
    if (auto pool = pool_.lock())
      if (!pool->hosts_->shutdown(static_cast<int>(index_)))
        died("it was not connected when the pool stopped");
  }

  const std::weak_ptr<process_pool> pool_;
  const std::size_t index_;
  const std::uint64_t pool_id_;
  const std::size_t max_in_flight_;
  mutable std::mutex mutex_;
  std::size_t sending_ = 0;
  std::condition_variable built_;
  phase phase_ = phase::starting;
  std::exception_ptr ctor_error_;
  std::deque<detail::call_node*> pending_;
  std::unordered_map<std::uint64_t, detail::call_node*> in_flight_;
  bool stopping_ = false;
  std::function<void()> on_exit_;
};

process_pool::process_pool(std::shared_ptr<actors::actor_host> host, const detail::pool_spec& spec)
    : host_{std::move(host)}, spec_{spec} {}

process_pool::~process_pool() {
  // Kills whatever still runs and reaps it; no event arrives after this.
  hosts_.reset();
}

void process_pool::start(std::chrono::nanoseconds timeout) {
  auto pool_id = next_pool_id.fetch_add(1);
  auto n = spec_.max_workers;
  for (std::size_t i = 0; i < n; ++i)
    workers_.push_back(
        std::make_shared<remote_worker>(weak_from_this(), i, pool_id, spec_.max_queued_tasks));
  process_hosts::events events;
  auto weak = weak_from_this();
  events.on_hello = [weak](const actors::host_identity& who) {
    if (auto self = weak.lock())
      if (who.worker >= 0 && static_cast<std::size_t>(who.worker) < self->workers_.size())
        self->workers_[static_cast<std::size_t>(who.worker)]->hello(
            self->spec_.worker_name, self->spec_.constructor_arguments);
  };
  events.on_lost = [weak](const actors::host_identity& who) {
    if (auto self = weak.lock())
      if (who.worker >= 0 && static_cast<std::size_t>(who.worker) < self->workers_.size())
        self->workers_[static_cast<std::size_t>(who.worker)]->died("its connection dropped");
  };
  events.on_exit = [weak](const host_exit& how) {
    if (auto self = weak.lock())
      self->on_exit(how);
  };
  events.on_message = [weak](const actors::host_identity& who, std::vector<char> bytes) {
    if (auto self = weak.lock())
      self->on_message(who, std::move(bytes));
  };
  hosts_ = std::make_unique<process_hosts>(host_, std::move(events));
  for (std::size_t i = 0; i < n; ++i)
    hosts_->start(static_cast<int>(i));
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (auto& w : workers_) {
    if (!w->wait_built(deadline))
      throw error{
          "a worker host of " + spec_.worker_name + " did not start within " +
          std::to_string(std::chrono::duration_cast<std::chrono::seconds>(timeout).count()) + " s"};
    if (auto e = w->constructor_error())
      std::rethrow_exception(e);
  }
}

std::vector<std::shared_ptr<actors::worker_body>> process_pool::bodies() const {
  return {workers_.begin(), workers_.end()};
}

std::uint64_t process_pool::active_calls(std::size_t i) const noexcept {
  auto d = workers_[i]->dispatched.load(std::memory_order_relaxed);
  auto f = workers_[i]->finished.load(std::memory_order_acquire);
  return d > f ? d - f : 0;
}

std::uint64_t process_pool::dispatched(std::size_t i) const noexcept {
  return workers_[i]->dispatched.load(std::memory_order_relaxed);
}

void process_pool::dispatch(std::size_t i, detail::call_node& call) noexcept {
  workers_[i]->dispatched.fetch_add(1, std::memory_order_relaxed);
  workers_[i]->enqueue(call);
}

void process_pool::on_message(const actors::host_identity& who, std::vector<char> bytes) {
  if (who.worker < 0 || static_cast<std::size_t>(who.worker) >= workers_.size())
    return;
  auto& worker = *workers_[static_cast<std::size_t>(who.worker)];
  net::from_host message;
  try {
    message = net::decode_from_host(bytes);
  } catch (const std::exception& e) {
    // NOTE: the call it answered cannot be known; it fails when the host ends.
    actors::logger("pool")->error(
        "undecodable message from a worker host worker={} error={}", who.worker, e.what());
    return;
  }
  if (auto* built = std::get_if<net::worker_constructed>(&message))
    worker.constructed(built->failure);
  else if (auto* done = std::get_if<net::call_result>(&message))
    worker.result(done->call_id, done->value);
  else if (auto* failed = std::get_if<net::call_error>(&message))
    worker.error(failed->call_id, failed->exception);
}

void process_pool::on_exit(const host_exit& how) {
  if (how.worker >= 0 && static_cast<std::size_t>(how.worker) < workers_.size())
    workers_[static_cast<std::size_t>(how.worker)]->died(how.describe());
}

} // namespace concurry::runtime_internal
