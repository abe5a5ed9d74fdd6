// concurry::runtime: the one object at the top of main that owns concurry's actor system.
//
//     int main(int argc, char** argv) {
//       concurry::runtime rt{argc, argv};
//       ...
//     }
//
// Pools made without a runtime object start a default one on first use, which lives until the
// program exits. Destroying the runtime stops nothing by itself: pools stop when their owners go.
//
// The runtime object must be the first line of main. Process mode starts its worker processes
// by running this same program again, with the same arguments and the environment variable
// CONCURRY_WORKER_HOST set; in such a process the runtime's constructor runs the worker host and
// then ends the process, never returning to main. Whatever main does before the runtime object
// therefore runs once more in every worker process: nothing there may have side effects.
#pragma once

#include <memory>
#include <string>

namespace concurry {

/// Settings of the runtime. Every field has a sensible default.
struct runtime_options {
  /// Threads of the actor scheduler (supervisors and other actors; worker code never runs on
  /// them). 0: the number of cores, at least 2.
  std::size_t scheduler_threads = 0;
  /// Log level of concurry's own loggers: "trace", "debug", "info", "warn", "error", "off".
  /// The environment variable CONCURRY_LOG_LEVEL, when set, wins.
  std::string log_level = "warn";
};

/// Owns the actor system that pools, supervisors and the network layer run on. Create one as
/// the first line of `main`, before any pool; at most one may exist at a time.
///
/// In a worker host process of process mode (CONCURRY_WORKER_HOST is set) the constructor does
/// not return: it serves the client that started the process and then ends the process with
/// `_exit`, so the program's atexit handlers and static destructors do not run there. A worker
/// host also ends when the client process dies, however it dies.
///
/// Does not: stop pools. Every pool must be stopped (or its owner destroyed) before the runtime
/// is destroyed; a pool still running then is stopped with a zero timeout.
class runtime {
public:
  /// Starts the runtime. `argc`/`argv` are the program's own; they are not parsed or changed.
  /// A copy is kept: process mode re-executes the program with them as a worker host. Without
  /// them (`runtime()`), the arguments the process was started with are used.
  runtime(int argc, char** argv, runtime_options options = {});
  runtime() : runtime(0, nullptr) {}
  runtime(const runtime&) = delete;
  runtime& operator=(const runtime&) = delete;
  ~runtime();

  /// The number of threads the actor scheduler uses.
  [[nodiscard]] std::size_t scheduler_threads() const noexcept;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace concurry
