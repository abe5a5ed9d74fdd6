// What a worker actor drives: the thread (or, later, the process) that runs one worker object.
// The runtime implements it; the actors only start, stop and abandon it.
#pragma once

#include <concurry/detail/call.hpp>

#include <cstdint>
#include <functional>

namespace concurry::actors {

/// Counters of one worker, read by the supervisor for statistics.
struct worker_counters {
  std::uint64_t dispatched = 0; ///< calls ever handed to the worker
  std::uint64_t finished = 0;   ///< calls that ended: done, failed, cancelled or given up
  bool stopped = false;
  std::uint64_t restarts = 0; ///< process mode: replacements after its process died
};

/// The part of a worker that runs user code, owned by a worker actor.
class worker_body {
public:
  virtual ~worker_body() = default;

  /// Queues a call (taking the queue's reference). A call queued after the worker closed fails
  /// with `stopped_error`.
  virtual void enqueue(detail::call_node& call) noexcept = 0;

  /// Lets the calls already queued finish, then ends the worker; `on_exit` runs once the worker
  /// object is destroyed, unless the worker was abandoned first.
  virtual void begin_stop(std::function<void()> on_exit) = 0;

  /// Gives up on the worker now: the running call and every queued one fail with
  /// `stopped_error`, and a thread still inside user code is left to finish on its own.
  virtual void abandon() noexcept = 0;

  [[nodiscard]] virtual worker_counters counters() const noexcept = 0;
};

} // namespace concurry::actors
