// Global configuration: the defaults every pool, limit and retry starts from, per mode, in one
// process-wide object that can be read, replaced, and overridden for a scope:
//
//     {
//       concurry::config_override more{[](concurry::configuration& c) {
//         c.thread.max_workers = 8;
//         c.thread.retry.num_retries = 3;
//       }};
//       auto pool = fetcher::options().init();   // 8 workers, 3 retries
//     }                                          // the previous defaults are back
//
// Options given to a builder win over these defaults; defaults are read when `init()` runs
// (and when a rate or call limit is made without an algorithm).
#pragma once

#include <concurry/limits.hpp>
#include <concurry/mode.hpp>
#include <concurry/retry.hpp>

#include <chrono>
#include <cstddef>
#include <functional>

namespace concurry {

/// The largest message of process mode unless configured: 64 MiB.
inline constexpr std::size_t default_max_message_size = std::size_t{64} << 20;
/// The highest `max_message_size` allowed: 511 MiB. A Cap'n Proto Data field holds less than
/// 512 MiB, and CAF 0.17 frames a message with a 32-bit length (it has no limit of its own and
/// corrupts the connection past 4 GiB), so the runtime refuses anything bigger first.
inline constexpr std::size_t largest_max_message_size = std::size_t{511} << 20;
/// The lowest `max_message_size` allowed: 4 KiB, room for every control message.
inline constexpr std::size_t smallest_max_message_size = std::size_t{4} << 10;

/// The retry settings a pool starts from.
struct retry_defaults {
  std::size_t num_retries = 0;                              ///< attempts = num_retries + 1
  retry_algorithm algorithm = retry_algorithm::exponential; ///< how waits grow
  std::chrono::nanoseconds wait = std::chrono::seconds{1};  ///< the base wait
  double jitter = 0.3; ///< 0: exact waits; otherwise uniform in [0, computed wait]
};

/// The defaults of one mode.
struct mode_defaults {
  /// Workers of a pool. (On-demand pools given no `max_workers` allow one live worker per core,
  /// as the Python library does, whatever this says.)
  std::size_t max_workers = 1;
  /// How long a stop lets calls in flight run.
  std::chrono::nanoseconds stop_timeout = std::chrono::seconds{30};
  /// Calls in flight per worker at most; 0 for no cap.
  std::size_t max_queued_tasks = 0;
  /// The balancer of persistent pools.
  concurry::load_balancing load_balancing = concurry::load_balancing::round_robin;
  /// The balancer on-demand pools report.
  concurry::load_balancing on_demand_load_balancing = concurry::load_balancing::random;
  /// Retry settings.
  retry_defaults retry;
  /// Process and cluster modes: the largest message between the client and a worker, in bytes
  /// (a call with its encoded arguments, or a result). A call whose message would be larger
  /// fails with `message_too_large`, and nothing else does. Between
  /// `smallest_max_message_size` and `largest_max_message_size`; ignored by the other modes.
  std::size_t max_message_size = default_max_message_size;
  /// Process mode: how long a worker host may answer nothing, pings included, before it is
  /// killed as frozen (a stopped or wedged process) and its calls fail with `worker_died`; more
  /// while large messages are in transfer (see `worker_builder::heartbeat_timeout`). Pings are
  /// answered while a call runs, so a long call is no silence. Zero: never; else at least
  /// 100 ms.
  std::chrono::nanoseconds heartbeat_timeout = std::chrono::seconds{10};
};

/// Every default of the library. Plain data: change a copy, then `set_config` it.
struct configuration {
  mode_defaults sync;    ///< sync mode: max_workers 1
  mode_defaults asyncio; ///< asyncio mode: max_workers 1
  mode_defaults thread;  ///< thread mode: max_workers 24
  mode_defaults process; ///< process mode: max_workers 4, max_queued_tasks 100
  mode_defaults cluster; ///< cluster mode: max_workers 0, max_queued_tasks 3
  /// The algorithm of rate and call limits made without one (limits are made before any pool,
  /// and one set may serve pools of several modes, so this default is not per mode).
  rate_algorithm rate_limit_algorithm = rate_algorithm::sliding_window;

  /// The defaults of mode `m`.
  [[nodiscard]] mode_defaults& operator[](concurry::mode m) noexcept;
  /// The defaults of mode `m`.
  [[nodiscard]] const mode_defaults& operator[](concurry::mode m) const noexcept;

  /// Applies `change` to the defaults of every mode.
  void for_each_mode(const std::function<void(mode_defaults&)>& change);
};

/// The library's own defaults, as the Python library has them (thread max_workers 24 as its
/// guide says).
[[nodiscard]] configuration library_defaults();

/// A copy of the current defaults. Thread-safe.
[[nodiscard]] configuration config();

/// Replaces the defaults after checking every field; throws `config_error` naming the first
/// invalid field (and changes nothing). Thread-safe; pools already built keep their settings.
void set_config(const configuration& c);

/// Restores `library_defaults()`.
void reset_config();

/// Changes the defaults for the life of this object, then restores the ones it found. Nests;
/// restores even while an exception unwinds. Not isolated between threads: the defaults are
/// process-wide.
class config_override {
public:
  /// Applies `change` to a copy of the current defaults and sets it; throws `config_error`
  /// (changing nothing) when the result is invalid.
  explicit config_override(const std::function<void(configuration&)>& change);
  ~config_override();
  config_override(const config_override&) = delete;
  config_override& operator=(const config_override&) = delete;

private:
  configuration saved_;
};

} // namespace concurry
