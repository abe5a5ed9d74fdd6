// Stopping a long-running program on SIGINT and SIGTERM without doing work in a signal handler:
// the signals are blocked in every thread and taken by one thread that waits for them.
#pragma once

#include <atomic>
#include <functional>
#include <thread>

namespace concurry::cli {

/// Blocks SIGINT and SIGTERM in the calling thread, and so in every thread it starts afterwards,
/// and takes them on a thread of its own with sigwait. Create it in main before any other thread
/// exists (the actor system's, a runtime's): a thread started earlier keeps the signals
/// unblocked, and the kernel may deliver them there, to their default action.
///
/// Each signal calls `on_signal(signal, count)` on the waiting thread, count 1 for the first.
/// The callback runs outside any signal handler, so it may lock, log and allocate.
///
/// Does not: restore the signal mask when it ends (the program is ending), or take other signals.
class stop_signals {
public:
  using callback = std::function<void(int signal, int count)>;

  explicit stop_signals(callback on_signal);
  stop_signals(const stop_signals&) = delete;
  stop_signals& operator=(const stop_signals&) = delete;
  /// Ends the waiting thread.
  ~stop_signals();

  /// Whether a signal came.
  [[nodiscard]] bool received() const noexcept { return count_.load() > 0; }

  /// The first signal that came, or 0.
  [[nodiscard]] int first_signal() const noexcept { return first_.load(); }

private:
  void wait_for_signals();

  callback on_signal_;
  std::atomic<int> count_{0};
  std::atomic<int> first_{0};
  std::atomic<bool> ending_{false};
  std::thread thread_;
};

} // namespace concurry::cli
