// The call service of a worker host process: the host's one worker object and the dedicated
// thread that builds it, runs its calls one after the other in the order received, and destroys
// it. It speaks net/schema/call.capnp: it takes the bytes of ToHost messages and answers with the
// bytes of FromHost messages through a callback. Free of CAF, so that the link actor
// (host_link.cpp) only carries bytes.
#pragma once

#include <concurry/limits.hpp>

#include <cstddef>
#include <functional>
#include <memory>
#include <vector>

namespace concurry::actors {

/// The worker of one worker host and the thread its code runs on. Thread-safe.
///
/// User code (constructor, methods, destructor) runs only on this object's thread, never on the
/// caller's, so a long call never delays the caller (the host's actor, which keeps answering
/// pings). Calls run in the order receive() got them, one at a time.
///
/// Does not: interrupt a call that has started (a cancel only drops calls still queued), or run
/// anything concurrently with the worker.
class host_worker {
public:
  /// Where FromHost bytes go. Called on this object's thread or on the thread that called
  /// receive(); must not block for long.
  using reply_fn = std::function<void(std::vector<char>)>;

  /// Starts the thread. `worker` is the host's worker index, which the worker sees as its
  /// worker_index(). Throws std::system_error when the thread cannot be started.
  host_worker(int worker, reply_fn reply);
  host_worker(const host_worker&) = delete;
  host_worker& operator=(const host_worker&) = delete;
  /// Drops the queued messages unanswered and returns at once. The thread finishes the running
  /// call (it is not interrupted; its reply still goes to `reply`), destroys the worker and
  /// ends.
  ~host_worker();

  /// Takes the bytes of one ToHost message. Construct, call and stop are queued for the thread;
  /// a cancel is answered at once. Bytes that do not decode are logged and, when a call id can
  /// be read from them, answered with a codec_error for that call. Never throws.
  void receive(const std::vector<char>& to_host_bytes) noexcept;

  /// Gives the worker that the next construct message builds its limits: `make` runs on this
  /// object's thread right before the constructor, and what it throws fails the construction.
  /// Without it the worker has no limits. Call it before receive() gets that construct message.
  void use_limits(std::function<limit_pool()> make);

  /// The number of messages queued and not yet started (for tests and statistics).
  [[nodiscard]] std::size_t queued() const;

private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

} // namespace concurry::actors
