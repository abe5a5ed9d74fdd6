// The actor system of a process, behind a header free of CAF so that the runtime can own it.
#pragma once

#include <cstddef>
#include <memory>

namespace caf {
class actor_system;
} // namespace caf

namespace concurry::actors {

/// Owns one caf::actor_system configured for concurry: the `sharing` scheduler policy (no idle
/// polling) with a fixed number of threads, and CAF's middleman (one multiplexer thread) for the
/// connections of process mode. Worker code never runs on these threads.
class actor_host {
public:
  /// Starts the system with `scheduler_threads` threads (0: the cores, at least 2).
  explicit actor_host(std::size_t scheduler_threads);
  actor_host(const actor_host&) = delete;
  actor_host& operator=(const actor_host&) = delete;
  /// Waits for every actor to quit: every pool must have been stopped before.
  ~actor_host();

  [[nodiscard]] std::size_t scheduler_threads() const noexcept;

  /// For actors/ only.
  caf::actor_system& system() noexcept;

  /// Starts a host owned by shared pointers. A host whose last owner lets go while the process
  /// is exiting (after main returned or exit() was called) is left to the end of the process
  /// instead of destroyed: CAF 0.17 cannot tear an actor system down from exit handlers.
  static std::shared_ptr<actor_host> start(std::size_t scheduler_threads);

  /// True once the process has begun to exit (static destruction and atexit handlers); pools
  /// then stop without messaging their actors.
  static bool process_exiting() noexcept;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace concurry::actors
