#include "runtime/internal/event_loop.hpp"

#include "actors/log.hpp"

#include <concurry/async.hpp>
#include <concurry/error.hpp>

namespace concurry::detail {

namespace {
// The loop running on this thread, and the root whose coroutine runs right now.
thread_local loop_core* this_loop = nullptr;
thread_local coro_root* this_root = nullptr;

// Sets the thread's loop (and no root) for a scope, restoring the outer ones after it: a loop
// may run nested inside a coroutine of another (concurry::run inside a coroutine).
class loop_scope {
public:
  explicit loop_scope(loop_core* loop) noexcept
      : loop_{std::exchange(this_loop, loop)}, root_{std::exchange(this_root, nullptr)} {}
  ~loop_scope() {
    this_loop = loop_;
    this_root = root_;
  }
  loop_scope(const loop_scope&) = delete;
  loop_scope& operator=(const loop_scope&) = delete;

private:
  loop_core* loop_;
  coro_root* root_;
};

[[noreturn]] void throw_unawaited(coro_root& root) {
  root.unawaited = 0;
  throw error{"a coroutine made a limit acquisition and did not co_await it: inside a "
              "coroutine, write `auto grant = co_await limits().acquire(...)`"};
}
} // namespace

// -- suspension ---------------------------------------------------------------------------------

void suspension::wake() noexcept {
  int expected = waiting;
  if (state_.compare_exchange_strong(expected, woken, std::memory_order_acq_rel))
    loop_->schedule(root_, handle_);
}

bool suspension::cancel() noexcept {
  int expected = waiting;
  if (!state_.compare_exchange_strong(expected, cancelled_state, std::memory_order_acq_rel))
    return false;
  loop_->schedule(root_, handle_);
  return true;
}

void suspension::rethrow_if_cancelled() const {
  if (cancelled())
    throw cancelled_error{"the coroutine was cancelled"};
}

bool suspension::abandon() noexcept {
  int expected = waiting;
  return state_.compare_exchange_strong(expected, cancelled_state, std::memory_order_acq_rel);
}

suspension_ptr suspend(std::coroutine_handle<> h) {
  auto* root = this_root;
  if (!root || !this_loop)
    throw error{"concurry::sleep, co_await on a future and co_await on an acquisition work only "
                "inside a coroutine that concurry runs (a coroutine method of a worker, "
                "concurry::spawn or concurry::run)"};
  if (root->cancel_requested) {
    root->cancel_requested = false;
    throw cancelled_error{"the coroutine was cancelled"};
  }
  if (root->unawaited > 0)
    throw_unawaited(*root);
  auto s = std::make_shared<suspension>(this_loop->shared_from_this(), root, h);
  root->current = s;
  return s;
}

void wake_at(const suspension_ptr& s, std::chrono::steady_clock::time_point at) {
  this_loop->add_timer(at, s);
}

bool in_coroutine() noexcept {
  return this_root != nullptr;
}

bool on_shared_loop() noexcept {
  return this_root && this_loop && this_loop->shared();
}

void count_unawaited_acquisition(int delta) noexcept {
  if (this_root)
    this_root->unawaited += delta;
}

void check_acquisitions_awaited() {
  if (this_root && this_root->unawaited > 0)
    throw_unawaited(*this_root);
}

bool root_ref::on_this_thread() const noexcept {
  return loop_ && loop_.get() == this_loop;
}

void root_ref::cancel() const noexcept {
  if (loop_)
    loop_->cancel(id_);
}

root_ref start_on_current_loop(root_coroutine root, std::function<void()> abandoned) {
  if (!this_loop)
    throw error{"concurry::spawn works only inside a coroutine that concurry runs"};
  return this_loop->start(std::move(root), std::move(abandoned));
}

void run_to_end(root_coroutine root) {
  auto loop = std::make_shared<loop_core>();
  loop_scope scope{loop.get()};
  std::uint64_t id = 0;
  try {
    // NOTE: root_ref keeps the loop; only its id matters here.
    id = loop->start(std::move(root), {}).id();
  } catch (...) {
    loop->close();
    throw;
  }
  loop->run_until_ended(id);
  loop->close();
}

// -- loop_core ----------------------------------------------------------------------------------

loop_core::~loop_core() {
  // A loop that was never closed (its thread is gone): frames are left to the process's end.
}

loop_core* loop_core::current() noexcept {
  return this_loop;
}

bool loop_core::post(std::function<void()> fn) {
  {
    std::lock_guard lock{mutex_};
    if (closed_ || abandoned_)
      return false;
    ready_.push_back(item{nullptr, {}, std::move(fn)});
  }
  wake_.notify_one();
  return true;
}

void loop_core::schedule(coro_root* root, std::coroutine_handle<> h) noexcept {
  {
    std::lock_guard lock{mutex_};
    if (closed_ || abandoned_)
      return;
    try {
      ready_.push_back(item{root, h, {}});
    } catch (...) {
      // NOTE: out of memory for one queue slot: the coroutine cannot be resumed; the loop's
      // end destroys it with the rest.
      actors::logger("pool")->error("the event loop could not queue a coroutine (out of memory)");
      return;
    }
  }
  wake_.notify_one();
}

void loop_core::add_timer(std::chrono::steady_clock::time_point at, suspension_ptr s) {
  {
    std::lock_guard lock{mutex_};
    timers_.push(timer{at, timer_seq_++, std::move(s)});
  }
  // The loop's thread adds timers itself: it looks at the earliest one before it sleeps.
}

void loop_core::cancel(std::uint64_t id) noexcept {
  try {
    post([this, id] {
      auto at = roots_.find(id);
      if (at == roots_.end())
        return;
      auto& root = *at->second;
      if (root.current && std::exchange(root.current, nullptr)->cancel())
        return;
      // Running, or about to resume: it is told at its next suspension.
      root.cancel_requested = true;
    });
  } catch (...) {
    actors::logger("pool")->error("a coroutine could not be cancelled (out of memory)");
  }
}

void loop_core::request_stop() noexcept {
  {
    std::lock_guard lock{mutex_};
    stop_ = true;
    poked_ = true;
  }
  wake_.notify_one();
}

void loop_core::abandon() noexcept {
  {
    std::lock_guard lock{mutex_};
    abandoned_ = true;
    poked_ = true;
  }
  wake_.notify_one();
}

root_ref loop_core::start(root_coroutine root, std::function<void()> abandoned) {
  auto r = std::make_unique<coro_root>();
  auto* raw = r.get();
  r->abandoned = std::move(abandoned);
  {
    std::lock_guard lock{mutex_};
    if (closed_ || abandoned_)
      throw stopped_error{"the event loop has ended; the coroutine was not started"};
    r->id = next_id_++;
    r->frame = root.release();
    roots_.emplace(r->id, std::move(r));
    ready_.push_back(item{raw, raw->frame, {}});
  }
  return root_ref{shared_from_this(), raw->id};
}

template <class Done>
void loop_core::run_until(Done done) {
  loop_scope scope{this};
  std::vector<suspension_ptr> due;
  for (;;) {
    item it;
    {
      std::unique_lock lock{mutex_};
      for (;;) {
        if (done())
          return;
        auto now = std::chrono::steady_clock::now();
        while (!timers_.empty() && timers_.top().at <= now) {
          due.push_back(timers_.top().waiting);
          timers_.pop();
        }
        if (!due.empty() || !ready_.empty())
          break;
        if (std::exchange(poked_, false))
          continue;
        if (timers_.empty() || timers_.top().at == std::chrono::steady_clock::time_point::max())
          wake_.wait(lock);
        else
          wake_.wait_until(lock, timers_.top().at);
      }
      if (due.empty()) {
        it = std::move(ready_.front());
        ready_.pop_front();
      }
    }
    if (!due.empty()) {
      // Wakes queue the sleepers in the order their timers fell due.
      for (auto& s : due)
        s->wake();
      due.clear();
      continue;
    }
    run_item(it);
  }
}

void loop_core::run_item(item& it) noexcept {
  if (!it.root) {
    try {
      it.fn();
    } catch (const std::exception& e) {
      actors::logger("pool")->error("a function on the event loop threw error={}", e.what());
    } catch (...) {
      actors::logger("pool")->error("a function on the event loop threw a non-standard exception");
    }
    return;
  }
  auto& root = *it.root;
  root.current = nullptr;
  this_root = &root;
  it.resume.resume();
  this_root = nullptr;
  if (root.frame.done())
    finish(root);
}

void loop_core::finish(coro_root& root) noexcept {
  root.frame.destroy();
  std::unique_ptr<coro_root> gone;
  std::lock_guard lock{mutex_};
  auto at = roots_.find(root.id);
  gone = std::move(at->second);
  roots_.erase(at);
}

void loop_core::run_until_ended(std::uint64_t id) {
  // roots_ is written on this thread only; reading it under the lock is for abandon().
  run_until([&] { return roots_.find(id) == roots_.end() || abandoned_; });
}

void loop_core::run_forever() {
  // A stop comes once the worker's calls have ended: what still runs then are tasks they
  // spawned, which end with the loop (as asyncio.run cancels the tasks left).
  run_until([&] { return stop_ || abandoned_; });
  close();
}

void loop_core::close() noexcept {
  std::unordered_map<std::uint64_t, std::unique_ptr<coro_root>> left;
  std::deque<item> dropped;
  decltype(timers_) timers;
  {
    std::lock_guard lock{mutex_};
    closed_ = true;
    left.swap(roots_);
    dropped.swap(ready_);
    timers.swap(timers_);
  }
  // Functions that never ran may fail what they carried: outside the lock, as they may post.
  dropped.clear();
  loop_scope scope{this};
  for (auto& [id, root] : left) {
    // A wake-up that comes later finds the wait over and does nothing.
    if (root->current)
      root->current->abandon();
    // Destroying the root destroys the whole chain: each task owns the coroutine it awaits.
    // Then the owner hears of it (a call's arguments may live as long as its frames).
    this_root = root.get();
    root->frame.destroy();
    this_root = nullptr;
    if (root->abandoned) {
      try {
        root->abandoned();
      } catch (...) {
        actors::logger("pool")->error("a coroutine's end on an abandoned loop threw");
      }
    }
  }
}

} // namespace concurry::detail
