#include <concurry/clock.hpp>
#include <concurry/error.hpp>

#include <algorithm>
#include <condition_variable>
#include <thread>

namespace concurry {

namespace {

// The real clock: timers in a map ordered by (due time, id), one thread that sleeps on a
// condition variable until the first one is due.
class system_clock_impl final : public clock {
public:
  ~system_clock_impl() override { stop(); }

  time_point now() const override { return std::chrono::steady_clock::now(); }

  timer_id schedule(time_point at, std::function<void()> fn) override {
    std::lock_guard lock{mutex_};
    auto [id, first] = timers_.add(at, std::move(fn));
    if (!thread_.joinable() && !stopping_)
      thread_ = std::thread{[this] { run(); }};
    // Only a new earliest timer shortens the thread's sleep.
    if (first)
      wake_.notify_one();
    return id;
  }

  bool cancel(timer_id id) override {
    std::lock_guard lock{mutex_};
    return timers_.cancel(id);
  }

  /// Stops the thread: waits for a running callback, drops the timers not yet due.
  void stop() noexcept {
    std::thread thread;
    {
      std::lock_guard lock{mutex_};
      stopping_ = true;
      timers_.clear();
      thread = std::move(thread_);
    }
    wake_.notify_all();
    if (!thread.joinable())
      return;
    // NOTE: exit() called from inside a timer callback lands here on the timer thread itself,
    // which cannot join itself; the thread ends when the process does.
    if (thread.get_id() == std::this_thread::get_id())
      thread.detach();
    else
      thread.join();
  }

private:
  void run() {
    std::unique_lock lock{mutex_};
    while (!stopping_) {
      auto due = timers_.first_due();
      if (!due) {
        wake_.wait(lock);
        continue;
      }
      if (*due > now()) {
        // A copy: the wait reads the time again after a cancel may have freed the timer's node.
        wake_.wait_until(lock, *due);
        continue;
      }
      auto fn = timers_.take_first();
      lock.unlock();
      fn();
      // The callback's captures may hold the last reference to something that takes locks
      // when destroyed; drop them before the clock's lock is taken again.
      fn = nullptr;
      lock.lock();
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::thread thread_;
  bool stopping_ = false;
  detail::timer_queue timers_;
};

// Stops the timer thread when static objects are destroyed at exit, even while limit sets
// elsewhere still hold the clock.
struct system_clock_holder {
  std::shared_ptr<system_clock_impl> clock = std::make_shared<system_clock_impl>();
  ~system_clock_holder() { clock->stop(); }
};

} // namespace

std::shared_ptr<clock> system_clock() {
  static system_clock_holder holder;
  return holder.clock;
}

manual_clock::manual_clock(time_point start) : now_{start} {}

manual_clock::time_point manual_clock::now() const {
  std::lock_guard lock{mutex_};
  return now_;
}

manual_clock::timer_id manual_clock::schedule(time_point at, std::function<void()> fn) {
  std::lock_guard lock{mutex_};
  return timers_.add(at, std::move(fn)).first;
}

bool manual_clock::cancel(timer_id id) {
  std::lock_guard lock{mutex_};
  return timers_.cancel(id);
}

void manual_clock::advance(std::chrono::nanoseconds by) {
  // Time that keeps moving ends the loop at `target`; only timers that keep scheduling more timers
  // at one and the same time could hold it forever.
  constexpr int max_at_one_time = 1'000'000;
  std::unique_lock lock{mutex_};
  auto target = now_ + std::max(by, std::chrono::nanoseconds{0});
  int at_this_time = 0;
  for (auto due = timers_.first_due(); due && *due <= target; due = timers_.first_due()) {
    if (*due > now_) {
      now_ = *due;
      at_this_time = 0;
    }
    if (++at_this_time > max_at_one_time)
      throw error{"manual_clock::advance ran a million timers at one time; a timer keeps "
                  "scheduling itself without moving on"};
    auto fn = timers_.take_first();
    lock.unlock();
    fn();
    fn = nullptr;
    lock.lock();
  }
  now_ = std::max(now_, target);
}

} // namespace concurry
