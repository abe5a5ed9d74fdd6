// The worker hosts of one pool as its process-mode back end sees them: started on this machine
// (process_hosts) or placed on the nodes of a cluster (cluster_hosts). Either way each host
// connects back to the pool's listener and speaks call.capnp with it.
#pragma once

#include <sys/types.h>

#include <vector>

namespace caf {
class actor;
} // namespace caf

namespace concurry::runtime_internal {

/// Hosts known by a worker index chosen by the pool; at most one runs per index at a time.
/// Thread-safe. Events (hello, lost connection, exit, messages) go to the handlers given at
/// construction.
class host_set {
public:
  virtual ~host_set() = default;

  /// Starts the host of `worker`; returns its pid, or 0 when it will start later (a cluster
  /// worker that waits for room). Throws concurry::error when it cannot start at all.
  virtual pid_t start(int worker) = 0;
  /// Starts the host of `worker` without waiting; a failure goes to on_start_failed.
  virtual void start_async(int worker) = 0;
  /// Asks the host of `worker` to exit cleanly (killed if it does not); false when it is not
  /// connected.
  virtual bool shutdown(int worker) = 0;
  /// Sends the bytes of a ToHost message; false when the host is not connected.
  virtual bool send(int worker, std::vector<char> to_host_bytes) = 0;
  /// Ends the host of `worker` at once; false when it is not running.
  virtual bool kill(int worker) = 0;
  /// Ends the host of `worker` if it still is process `pid`; false otherwise.
  virtual bool kill_if(int worker, pid_t pid) = 0;
  /// The pid of the running host of `worker`, or 0.
  [[nodiscard]] virtual pid_t pid_of(int worker) const = 0;
  /// The connected host's actor; invalid when not connected.
  [[nodiscard]] virtual caf::actor host_actor(int worker) const = 0;
  /// True while the host of `worker` waits for room on the cluster (never in process mode).
  [[nodiscard]] virtual bool is_waiting(int /*worker*/) const { return false; }
  /// Gives up the start of `worker` that waits for room; false when it does not wait.
  virtual bool cancel_waiting(int /*worker*/) { return false; }
};

} // namespace concurry::runtime_internal
