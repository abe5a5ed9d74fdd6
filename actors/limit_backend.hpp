// Limit sets whose state lives in another process: the interface a limit_set goes through
// instead of its own state (a worker host's sets reach the client's limit actors this way), and
// the hooks into limit_set that build such a set. Free of CAF.
#pragma once

#include <concurry/limits.hpp>

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

namespace concurry::detail {

/// Where a remote limit set's requests go. Thread-safe.
class limit_backend {
public:
  /// What the set's owner granted: the grant's id and the amounts taken (call and resource
  /// limits not named included).
  struct grant {
    std::uint64_t id = 0;
    amounts granted;
  };
  /// Called exactly once: with the grant, with nothing (a refused try), or with the error
  /// (`timeout_error`, `config_error` for a bad request, `concurry::error` when the owner cannot
  /// be reached). May run on any thread; must not block.
  using done_fn = std::function<void(std::optional<grant>, std::exception_ptr)>;

  virtual ~limit_backend() = default;

  /// Asks for `requested`: at once or refused when `try_only`, otherwise waiting at most
  /// `timeout` (none: as long as it takes).
  virtual void acquire(const amounts& requested,
                       std::optional<std::chrono::nanoseconds> timeout,
                       bool try_only,
                       done_fn done) = 0;

  /// Ends grant `id`, with the usage when the holder reported one, and returns once the owner
  /// took it back (or could not be reached, which is logged).
  virtual void release(std::uint64_t id, std::optional<amounts> usage) noexcept = 0;

  /// The owner's statistics of the set; throws concurry::error when it cannot be reached.
  virtual limit_set_stats stats() = 0;
};

/// The parts of limit_set the runtime builds on.
struct limit_set_access {
  /// A set of `limits` (checked as the constructor checks them) whose acquisitions go through
  /// `backend`. Requests and usage are checked here before they leave; the state, waiting
  /// included, is the backend's. `limits()` and `update()` work from the description, `stats()`
  /// asks the backend, `clone()` gives a local set.
  static limit_set make_remote(std::vector<limit> limits, std::shared_ptr<limit_backend> backend);

  /// What tells one set from another: equal for copies of one set, different for sets with
  /// their own state (clones included).
  static const void* identity(const limit_set& set) noexcept;
};

} // namespace concurry::detail
