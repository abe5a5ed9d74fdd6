// Limits: call, rate and resource limits; limit_set, which takes several of them at once or none;
// acquisition, the scope guard of what a set granted; and limit_pool, which spreads acquisitions
// over several sets. Everything here runs in-process on a concurry::clock, so tests drive it with
// a manual_clock.
#pragma once

#include <concurry/clock.hpp>
#include <concurry/detail/event_loop.hpp>
#include <concurry/error.hpp>
#include <concurry/mode.hpp>

#include <chrono>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace concurry {

/// How a call or rate limit counts what was taken within its window.
///
/// Token bucket and GCRA take fractional amounts and refund what an acquisition reports unused.
/// The counting algorithms (leaky bucket, sliding window, fixed window) take whole units only
/// and refund nothing.
enum class rate_algorithm {
  token_bucket,   ///< starts full; refills continuously at capacity per window
  leaky_bucket,   ///< a queue of at most capacity units that drains one unit per window/capacity
  sliding_window, ///< at most capacity units taken within any span of one window (the default)
  fixed_window,   ///< at most capacity units per window, the windows back to back from the
                  ///< limit's creation (a burst of twice the capacity can straddle a boundary)
  gcra,           ///< the generic cell rate algorithm: a token bucket kept as one time stamp
};

/// Parses an algorithm name: `token` (`token_bucket`), `leaky` (`leaky_bucket`), `sliding`
/// (`sliding_window`), `fixed` (`fixed_window`), `gcra`, case-insensitive. Throws `config_error`
/// listing the valid names for anything else.
rate_algorithm parse_rate_algorithm(std::string_view name);

/// The algorithm's canonical name, as statistics report it: "token_bucket", "leaky_bucket",
/// "sliding_window", "fixed_window", "gcra".
std::string_view to_string(rate_algorithm a) noexcept;

/// Parses a window name: second, minute, hour, day, week, with the Python library's aliases
/// (`sec`, `secs`, `seconds`, `min`, `mins`, `minutes`, `hr`, `hrs`, `hours`, `days`, `wk`, `wks`,
/// `weeks`) and an optional `per_` prefix, case-insensitive. Throws `config_error` listing the
/// valid names for anything else. Does not: parse numbers ("5s") or months.
std::chrono::nanoseconds parse_window(std::string_view name);

/// A capacity that never runs out: a limit with it admits every request at once.
inline constexpr double unlimited = std::numeric_limits<double>::infinity();

/// At most `capacity` calls per `window`, under the key "call_count". A request takes 1 unless it
/// names another amount.
///
/// Plain data: acquire it through a limit_set. Throws `config_error` from the constructor when
/// the window is not positive, the capacity is not positive (NaN included), or the window name
/// is unknown.
class call_limit {
public:
  /// A call limit of `capacity` calls (or `unlimited`) per `window`; without an algorithm, the
  /// configured `rate_limit_algorithm` (sliding window unless changed; config.hpp).
  call_limit(std::chrono::nanoseconds window,
             double capacity,
             std::optional<rate_algorithm> algorithm = std::nullopt);

  /// As above, with the window given by name ("second", "minute", ...; see parse_window).
  call_limit(std::string_view window,
             double capacity,
             std::optional<rate_algorithm> algorithm = std::nullopt);

  /// Always "call_count", as in the Python library.
  [[nodiscard]] const std::string& key() const noexcept;
  /// The span the capacity applies to.
  [[nodiscard]] std::chrono::nanoseconds window() const noexcept { return window_; }
  /// Calls per window; may be `unlimited`.
  [[nodiscard]] double capacity() const noexcept { return capacity_; }
  /// How calls are counted.
  [[nodiscard]] rate_algorithm algorithm() const noexcept { return algorithm_; }

private:
  std::chrono::nanoseconds window_;
  double capacity_;
  rate_algorithm algorithm_;
};

/// At most `capacity` units of something the caller names (tokens, bytes) per `window`, under
/// `key`. Every request to a set holding it must name its amount (0 is allowed).
///
/// Plain data: acquire it through a limit_set. Throws `config_error` from the constructor for an
/// empty key, a window or capacity that is not positive, or an unknown window name.
class rate_limit {
public:
  /// A rate limit of `capacity` units (or `unlimited`) of `key` per `window`; without an
  /// algorithm, the configured `rate_limit_algorithm` (sliding window unless changed).
  rate_limit(std::string key,
             std::chrono::nanoseconds window,
             double capacity,
             std::optional<rate_algorithm> algorithm = std::nullopt);

  /// As above, with the window given by name ("second", "minute", ...; see parse_window).
  rate_limit(std::string key,
             std::string_view window,
             double capacity,
             std::optional<rate_algorithm> algorithm = std::nullopt);

  /// What the limit counts; the key requests and updates name it by.
  [[nodiscard]] const std::string& key() const noexcept { return key_; }
  /// The span the capacity applies to.
  [[nodiscard]] std::chrono::nanoseconds window() const noexcept { return window_; }
  /// Units per window; may be `unlimited`.
  [[nodiscard]] double capacity() const noexcept { return capacity_; }
  /// How units are counted.
  [[nodiscard]] rate_algorithm algorithm() const noexcept { return algorithm_; }

private:
  std::string key_;
  std::chrono::nanoseconds window_;
  double capacity_;
  rate_algorithm algorithm_;
};

/// At most `capacity` units of `key` held at once (connections, slots), returned when the
/// acquisition ends. A request takes 1 unless it names another whole amount.
///
/// Plain data: acquire it through a limit_set. Throws `config_error` from the constructor for an
/// empty key or a capacity that is neither a whole number >= 1 nor `unlimited`.
class resource_limit {
public:
  /// A resource limit of `capacity` units of `key`.
  resource_limit(std::string key, double capacity);

  /// What the limit counts.
  [[nodiscard]] const std::string& key() const noexcept { return key_; }
  /// Units that can be held at once; may be `unlimited`.
  [[nodiscard]] double capacity() const noexcept { return capacity_; }

private:
  std::string key_;
  double capacity_;
};

/// One limit of any kind.
using limit = std::variant<call_limit, rate_limit, resource_limit>;

/// Amounts by limit key: what a request asks for, or what an acquisition really used.
using amounts = std::map<std::string, double>;

/// A snapshot of one limit, with the Python library's statistics keys as fields.
struct limit_stats {
  std::string kind;          ///< "CallLimit", "RateLimit" or "ResourceLimit"
  std::string key;           ///< the limit's key ("call_count" for call limits)
  std::string algorithm;     ///< to_string(rate_algorithm); "" for resource limits
  double capacity = 0;       ///< units per window, or units held at once; may be infinite
  double window_seconds = 0; ///< the window in seconds; 0 for resource limits
  double in_use = 0;         ///< units counted against the capacity now, or units held
  double available = 0;      ///< units a request could take now (ignoring waiters)
  double utilization = 0;    ///< in_use / capacity, clamped to [0, 1]; 0 when unlimited
  double max_rate = 0;       ///< capacity / window in units per second; 0 for resource limits
};

/// A snapshot of a limit set: its limits in the order given, and the requests waiting.
struct limit_set_stats {
  std::vector<limit_stats> limits; ///< one per limit, in the set's order
  std::size_t waiting = 0;         ///< requests queued for capacity
};

namespace detail {
struct limit_set_state;
struct acquisition_access;
struct limit_set_access;
struct limit_pool_state;
struct pending_grant;
} // namespace detail

class acquisition;

namespace detail {
// co_await on an acquisition made inside a coroutine (async.hpp).
bool acquisition_ready(const acquisition& shell);
bool acquisition_wait(acquisition& shell, std::coroutine_handle<> h, suspension_ptr& waiting);
acquisition acquisition_take(acquisition& shell);
void acquisition_awaited(acquisition& shell) noexcept;
} // namespace detail

/// The scope guard of one request to a limit set: granted, or refused (from `try_acquire`).
///
/// Move-only. When it ends (destructor, `release()`, or being assigned over) a granted
/// acquisition returns its resource units, refunds what `update()` reported unused where the
/// algorithm can, charges what was used beyond the request, and wakes the requests that this
/// makes admissible. That happens exactly once and never throws, also when the scope is left by
/// an exception; an acquisition without `update()` counts what was requested. It keeps its set's
/// state alive until then.
///
/// Does not: check that the work really used what `update()` says, or synchronise its own
/// members (one thread at a time uses one acquisition; the set behind it is thread-safe).
class acquisition {
public:
  /// An empty, unsuccessful acquisition, to assign a real one to later.
  acquisition() noexcept;
  /// Takes over `other`'s grant; `other` is left empty and unsuccessful.
  acquisition(acquisition&& other) noexcept;
  /// Releases what this one holds, then takes over `other`'s.
  acquisition& operator=(acquisition&& other) noexcept;
  acquisition(const acquisition&) = delete;
  acquisition& operator=(const acquisition&) = delete;
  /// `release()`.
  ~acquisition();

  /// True when the request was granted; stays true after release. False for a refused request,
  /// a default-constructed acquisition and one that was moved from.
  [[nodiscard]] bool successful() const noexcept { return successful_; }
  /// `successful()`.
  explicit operator bool() const noexcept { return successful_; }

  /// What was asked for, unnamed call and resource limits included at 1.
  [[nodiscard]] const amounts& requested() const noexcept { return requested_; }

  /// Records what the work really used, per call or rate limit key; a key updated twice keeps the
  /// last amount. Applied at release: less than requested is refunded (token bucket, GCRA), more
  /// is charged, so later requests wait for it.
  ///
  /// Throws `config_error` for a key not in the set, a resource key, a negative or NaN amount, or
  /// a fractional amount for a counting algorithm; `concurry::error` when the acquisition was not
  /// granted or was already released.
  void update(const amounts& usage);

  /// Ends the acquisition now (see the class comment). Idempotent; does nothing for an
  /// unsuccessful one. `successful()` still reports the grant afterwards.
  void release() noexcept;

private:
  friend struct detail::acquisition_access;
  friend bool detail::acquisition_ready(const acquisition&);
  friend bool
  detail::acquisition_wait(acquisition&, std::coroutine_handle<>, detail::suspension_ptr&);
  friend acquisition detail::acquisition_take(acquisition&);
  friend void detail::acquisition_awaited(acquisition&) noexcept;

  std::shared_ptr<detail::limit_set_state> state_;
  // Made inside a coroutine: the request, until co_await gives the grant.
  std::shared_ptr<detail::pending_grant> pending_;
  amounts requested_;
  amounts used_;
  // The limit actor's id of the grant, when the set's state lives in another process.
  std::uint64_t grant_ = 0;
  bool successful_ = false;
  bool released_ = false;
};

/// Several limits taken together: a request gets all of them at once or none.
///
/// A copyable handle; copies share one state (so one set can be handed to many workers) and are
/// safe to use from any number of threads. Requests that must wait are served in the order they
/// arrived, but a request waits only behind earlier ones that need one of the same keys. Nothing
/// polls: a waiter is woken by a release or refund, or by a timer on the set's clock at the
/// earliest time its algorithms could admit it.
///
/// A request names amounts by key. Call and resource limits not named are taken at 1; every rate
/// limit must be named. An amount of 0 takes nothing, so it neither waits for that limit nor holds
/// up others that need it. A request naming an unknown key, a negative or NaN amount, an amount
/// above a limit's capacity (it could never be granted), a rate limit without an amount, or a
/// fractional amount for a counting algorithm or resource limit fails at once with
/// `config_error`, never by waiting.
///
/// The workers of a process pool reach a set through a limit actor of the client, so its state
/// stays in this process. Does not: release the acquisitions of a thread that dies without
/// unwinding (those of a worker process that dies are released).
class limit_set {
public:
  /// A set of `limits` reading time from `clock`. Throws `config_error` when two limits share a
  /// key. An empty set is a no-op: it grants every request at once, whatever keys it names.
  explicit limit_set(std::vector<limit> limits,
                     std::shared_ptr<concurry::clock> clock = system_clock());

  /// Waits as long as needed, then returns the granted acquisition. Throws `config_error` for a
  /// bad request (see the class comment). Must not be called inside a timer callback or an
  /// `acquire_async` callback: the thread that would wake it is the one waiting.
  ///
  /// Inside a coroutine (async.hpp) it does not wait: it starts the request and returns it
  /// un-granted, to be co_awaited (`co_await limits().acquire(...)`), which gives the grant or
  /// throws what this would have thrown.
  [[nodiscard]] acquisition acquire(const amounts& requested = {});

  /// As above, but throws `timeout_error` when the request is not granted within `timeout` on
  /// the set's clock; the request then holds nothing and blocks no one.
  [[nodiscard]] acquisition acquire(const amounts& requested, std::chrono::nanoseconds timeout);

  /// Grants the request if it can be granted now, without waiting; otherwise returns an
  /// acquisition with `successful()` false that holds nothing. A request is refused while an
  /// earlier waiter needs one of its keys, so it cannot overtake the queue. Throws
  /// `config_error` for a bad request.
  [[nodiscard]] acquisition try_acquire(const amounts& requested = {});

  /// The non-blocking form. `done` is called exactly once, with the granted acquisition and a
  /// null error, or with an empty acquisition and the error (`timeout_error`, `config_error`):
  /// on the calling thread before this returns when it can be decided at once, otherwise on
  /// the thread that frees capacity or runs the timer (the clock's). `timeout` nullopt means no
  /// deadline. `done` must not throw (an exception from it ends the program) and should not
  /// block: it may run on the system clock's timer thread.
  ///
  /// A request still waiting when every handle to the set and every acquisition from it are gone
  /// gets `concurry::error` instead. Throws `config_error` (without calling anything) when
  /// `done` is empty.
  void acquire_async(const amounts& requested,
                     std::optional<std::chrono::nanoseconds> timeout,
                     std::function<void(acquisition, std::exception_ptr)> done);

  /// A snapshot of every limit at the clock's current time.
  [[nodiscard]] limit_set_stats stats() const;

  /// The limits, in the order given.
  [[nodiscard]] const std::vector<limit>& limits() const noexcept;

  /// The clock the set reads time from and schedules its timers on.
  [[nodiscard]] std::shared_ptr<concurry::clock> clock() const noexcept;

  /// A new, independent set with the same limits and clock and fresh state (nothing taken);
  /// what each worker gets when limits are per worker.
  [[nodiscard]] limit_set clone() const;

private:
  friend struct detail::limit_set_access;
  friend class limit_pool;

  acquisition wait_for(const amounts& requested, std::optional<std::chrono::nanoseconds> timeout);
  // acquire_async; `withdraw`, if not null, is set to take a request that had to queue out of
  // the queue again.
  void queue_async(const amounts& requested,
                   std::optional<std::chrono::nanoseconds> timeout,
                   std::function<void(acquisition, std::exception_ptr)> done,
                   std::function<void()>* withdraw);

  std::shared_ptr<detail::limit_set_state> state_;
};

/// Several limit sets behind one handle: each request picks one set (round robin from the
/// handle's worker offset, or at random), tries that set and then the others in order without
/// waiting, and only then waits on the set it picked.
///
/// A copyable handle; copies share the sets and the round-robin position. What a worker's
/// `limits()` returns. Does not: split one request over several sets, or move a waiting request
/// to another set when that one frees up first.
class limit_pool {
public:
  /// A pool with no sets: every request is granted at once, whatever keys it names (a no-op).
  limit_pool();

  /// A pool of one set.
  limit_pool(limit_set single);

  /// A pool of `sets`, picked by `lb` starting at `worker_offset % sets.size()`. Throws
  /// `config_error` when `sets` is empty or `lb` is neither round_robin nor random.
  limit_pool(std::vector<limit_set> sets,
             load_balancing lb = load_balancing::round_robin,
             std::size_t worker_offset = 0);

  /// As limit_set::acquire, on the picked set after the others were tried.
  [[nodiscard]] acquisition acquire(const amounts& requested = {});
  /// `acquire({{key, amount}})`, for one key. Inside a coroutine, `co_await
  /// limits().acquire("tokens", 100)`: g++ 12 rejects a braced list inside a co_await
  /// expression ("array used as initializer"), so name the amounts first or use this form.
  [[nodiscard]] acquisition acquire(const std::string& key, double amount) {
    return acquire(amounts{{key, amount}});
  }
  /// As limit_set::acquire with a timeout, on the picked set after the others were tried.
  [[nodiscard]] acquisition acquire(const amounts& requested, std::chrono::nanoseconds timeout);
  /// As limit_set::try_acquire, trying every set from the picked one.
  [[nodiscard]] acquisition try_acquire(const amounts& requested = {});
  /// As limit_set::acquire_async, on the picked set after the others were tried.
  void acquire_async(const amounts& requested,
                     std::optional<std::chrono::nanoseconds> timeout,
                     std::function<void(acquisition, std::exception_ptr)> done);

  /// A handle on the same sets whose round robin starts at `worker_index % size()`, with its own
  /// position.
  [[nodiscard]] limit_pool for_worker(std::size_t worker_index) const;

  /// The number of sets; 0 for the no-op pool.
  [[nodiscard]] std::size_t size() const noexcept;

  /// The set at `index`; throws `std::out_of_range` past the end.
  const limit_set& operator[](std::size_t index) const;

  /// A snapshot of the pool, with the Python library's keys as fields.
  struct stats_type {
    std::size_t num_limit_sets = 0;          ///< the number of sets
    std::string load_balancing;              ///< "RoundRobin" or "Random"
    std::size_t worker_offset = 0;           ///< where round robin starts
    std::vector<limit_set_stats> limit_sets; ///< one per set, in order
  };

  /// A snapshot of every set.
  [[nodiscard]] stats_type stats() const;

private:
  std::size_t pick() const;
  acquisition try_from(std::size_t first, const amounts& requested) const;
  void queue_async(const amounts& requested,
                   std::optional<std::chrono::nanoseconds> timeout,
                   std::function<void(acquisition, std::exception_ptr)> done,
                   std::function<void()>* withdraw);

  std::shared_ptr<detail::limit_pool_state> state_;
};

} // namespace concurry
