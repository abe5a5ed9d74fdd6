// concurry::runtime: the one object at the top of main that owns concurry's actor system.
//
//     int main(int argc, char** argv) {
//       concurry::runtime rt{argc, argv};
//       ...
//     }
//
// Pools made without a runtime object start a default one on first use, which lives until the
// program exits. Destroying the runtime stops nothing by itself: pools stop when their owners go.
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

/// Owns the actor system that pools, supervisors and (later) the network layer run on. Create
/// one at the top of `main`, before any pool; at most one may exist at a time.
///
/// Does not: stop pools. Every pool must be stopped (or its owner destroyed) before the runtime
/// is destroyed; a pool still running then is stopped with a zero timeout.
class runtime {
public:
  /// Starts the runtime. `argc`/`argv` are the program's own; they are not parsed or changed
  /// (later modes use them to re-execute the program as a worker host).
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
