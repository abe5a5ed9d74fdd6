// The actor system of a process, behind a header free of CAF so that the runtime can own it.
#pragma once

#include <cstddef>
#include <memory>

namespace caf {
class actor_system;
} // namespace caf

namespace concurry::actors {

/// Owns one caf::actor_system configured for concurry: the `sharing` scheduler policy (no idle
/// polling) with a fixed number of threads. Worker code never runs on these threads.
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

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace concurry::actors
