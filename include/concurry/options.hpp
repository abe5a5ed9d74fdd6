// The options chain that builds pools: `W::options().mode(...).max_workers(...).init(args...)`.
// A builder is a value: every setter returns a changed copy, so one builder can serve as a
// template for several pools.
#pragma once

#include <concurry/clock.hpp>
#include <concurry/config.hpp>
#include <concurry/detail/duration.hpp>
#include <concurry/detail/member_fn.hpp>
#include <concurry/detail/pool_core.hpp>
#include <concurry/detail/retry_plan.hpp>
#include <concurry/error.hpp>
#include <concurry/limits.hpp>
#include <concurry/mode.hpp>
#include <concurry/pool.hpp>
#include <concurry/registry.hpp>
#include <concurry/retry.hpp>
#include <concurry/worker.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace concurry {

/// Limits that every worker of a pool gets its own copy of (each worker has its own budget),
/// as `options().limits(concurry::per_worker({call_limit{...}}))`.
struct per_worker {
  std::vector<limit> limits; ///< the limits each worker gets a copy of
};

namespace detail {

/// Retry settings given to a builder; an unset field falls back to the pool-wide setting (for
/// a method's own settings), then to the configured default.
struct retry_overrides {
  std::optional<std::size_t> num_retries;
  std::optional<concurry::retry_algorithm> algorithm;
  std::optional<std::chrono::nanoseconds> wait;
  std::optional<double> jitter;
  std::optional<std::vector<retry_filter>> retry_on;
  /// Each makes the validator for the method of the given index (null where it does not apply).
  std::optional<std::vector<std::function<result_validator(std::uint32_t)>>> until;
};

/// A `retry_until` validator for the listed method of index `index` of W, if `f` accepts that
/// method's result (as `f(result)` or `f(result, context)`); null otherwise.
template <class W, class F>
result_validator validator_for(const F& f, std::uint32_t index) {
  result_validator out;
  std::uint32_t i = 0;
  std::apply(
      [&](auto... listed) {
        auto visit = [&](auto m) {
          using R = typename member_fn<decltype(m)>::call_result;
          if constexpr (!std::is_void_v<R>) {
            if (i == index) {
              if constexpr (std::is_invocable_r_v<bool, const F&, const R&, const retry_context&>)
                out = [f](const void* r, const retry_context& c) {
                  return static_cast<bool>(f(*static_cast<const R*>(r), c));
                };
              else if constexpr (std::is_invocable_r_v<bool, const F&, const R&>)
                out = [f](const void* r, const retry_context&) {
                  return static_cast<bool>(f(*static_cast<const R*>(r)));
                };
            }
          }
          ++i;
        };
        (visit(listed), ...);
      },
      descriptor_of<W>::methods());
  return out;
}

/// True when `F` can validate the result of at least one listed method of W.
template <class W, class F>
constexpr bool validates_some_method() {
  return std::apply(
      [](auto... listed) {
        auto fits = [](auto m) {
          using R = typename member_fn<decltype(m)>::call_result;
          if constexpr (std::is_void_v<R>)
            return false;
          else
            return std::is_invocable_r_v<bool, const F&, const R&, const retry_context&> ||
                   std::is_invocable_r_v<bool, const F&, const R&>;
        };
        return (false || ... || fits(listed));
      },
      descriptor_of<W>::methods());
}

/// The name retries report for calls of methods not listed in W's registration (a worker
/// class may name them with a static `concurry_unlisted_methods`, as task workers do).
template <class W>
std::string unlisted_method_name() {
  if constexpr (requires { W::concurry_unlisted_methods; })
    return W::concurry_unlisted_methods;
  else
    return "(unlisted method)";
}

/// Everything a builder holds; copied whole by `blocking()`.
struct builder_settings {
  concurry::mode mode = concurry::mode::thread;
  std::optional<std::size_t> max_workers;
  std::optional<concurry::load_balancing> load_balancing;
  std::optional<std::chrono::nanoseconds> stop_timeout;
  std::optional<std::size_t> max_queued_tasks;
  bool on_demand = false;
  bool unwrap_futures = true;
  std::size_t max_restarts = 3;
  std::optional<std::size_t> max_message_size;
  std::optional<std::chrono::nanoseconds> heartbeat_timeout;
  cluster_placement cluster;
  std::shared_ptr<concurry::clock> clock;
  retry_overrides retry_all;
  std::map<std::uint32_t, retry_overrides> retry_per_method;
  // Makes each worker's limits (and the distinct sets) for a pool of n workers.
  std::function<std::pair<std::vector<limit_pool>, std::vector<limit_set>>(std::size_t n)> limits;
};

} // namespace detail

/// Options for a pool of `W` workers; `init` creates the pool. With `Blocking`, the pool's
/// calls return values instead of futures. Unset options take the configured defaults of the
/// mode (config.hpp) when `init` runs.
///
/// | option             | library default                                     |
/// |--------------------|-----------------------------------------------------|
/// | `mode`             | thread                                              |
/// | `max_workers`      | sync 1, thread 24; on-demand: one per core          |
/// | `load_balancing`   | round_robin (random for on-demand pools)            |
/// | `stop_timeout`     | 30 s                                                |
/// | `max_queued_tasks` | none in sync and thread modes                       |
/// | `on_demand`        | false                                               |
/// | `max_restarts`     | 3 (process mode: replacements per worker)           |
/// | `max_message_size` | 64 MiB (process mode: arguments or result of a call) |
/// | `heartbeat_timeout`| 10 s (process mode: silence before a host is killed) |
/// | `num_cpus`         | 1 (cluster mode: CPUs each worker holds)            |
/// | `resources`        | none (cluster mode: custom resources per worker)    |
/// | `placement`        | pack (cluster mode; `node(name)` for one node)      |
/// | `cluster_address`  | CONCURRY_ADDRESS, else a private local cluster      |
/// | `num_retries`      | 0 (see below)                                       |
/// | `limits`           | none                                                |
///
/// With `num_retries` above 0: `retry_algorithm` exponential, `retry_wait` 1 s, `retry_jitter`
/// 0.3, `retry_on` every exception, unless set.
///
/// Every retry option has a second form that takes a listed method first
/// (`num_retries(&W::fetch, 5)`): that method's own setting, over the pool-wide one.
template <class W, bool Blocking = false>
class worker_builder {
public:
  static_assert(detail::registered_worker<W>,
                "concurry: register the worker class with CONCURRY_WORKER or "
                "CONCURRY_LOCAL_WORKER (in its namespace, after the class)");

  /// Where the workers run.
  [[nodiscard]] worker_builder mode(concurry::mode m) const {
    auto b = *this;
    b.s_.mode = m;
    return b;
  }
  /// As above, by name ("sync", "thread", ...); throws `config_error` for an unknown name.
  [[nodiscard]] worker_builder mode(std::string_view name) const { return mode(parse_mode(name)); }

  /// The number of workers of the pool. sync mode allows only 1; thread pools need at least 1.
  /// For on-demand pools: how many workers may be alive at once (0: one per core).
  [[nodiscard]] worker_builder max_workers(std::size_t n) const {
    auto b = *this;
    b.s_.max_workers = n;
    return b;
  }

  /// How calls are spread over workers.
  [[nodiscard]] worker_builder load_balancing(concurry::load_balancing lb) const {
    auto b = *this;
    b.s_.load_balancing = lb;
    return b;
  }
  /// As above, by name ("rr", "active", ...); throws `config_error` for an unknown name.
  [[nodiscard]] worker_builder load_balancing(std::string_view name) const {
    return load_balancing(parse_load_balancing(name));
  }

  /// How long `stop()` and the owner's destructor let calls in flight run before failing them.
  template <class Rep, class Period>
  [[nodiscard]] worker_builder stop_timeout(std::chrono::duration<Rep, Period> t) const {
    auto b = *this;
    b.s_.stop_timeout = detail::saturated_ns(t);
    if (b.s_.stop_timeout->count() < 0)
      throw config_error{"stop_timeout must not be negative"};
    return b;
  }

  /// At most `n` calls in flight per worker (back-pressure); `std::nullopt` for no cap. Calls
  /// beyond it wait in order inside the runtime, bound to the worker chosen for them, and go
  /// out as earlier ones finish; making a call never blocks. A call waiting for a retry keeps
  /// its place. Throws `config_error` for 0.
  [[nodiscard]] worker_builder max_queued_tasks(std::optional<std::size_t> n) const {
    if (n && *n == 0)
      throw config_error{"max_queued_tasks must be at least 1 (or std::nullopt for no cap)"};
    auto b = *this;
    b.s_.max_queued_tasks = n.value_or(0);
    return b;
  }

  /// Each call gets a fresh worker, built for it and stopped once its result is delivered;
  /// `max_workers` caps how many live at once, and calls beyond the cap wait in order inside
  /// the runtime. Statistics report the `random` balancer unless another was set. Not in sync
  /// mode (`init` throws `config_error`). In process mode each call gets a fresh worker process,
  /// which ends once the call and its retries are done; one that dies fails its call with
  /// `worker_died` (or retries it on a fresh process).
  [[nodiscard]] worker_builder on_demand(bool yes = true) const {
    auto b = *this;
    b.s_.on_demand = yes;
    return b;
  }

  /// Whether a call with future arguments waits for them before it goes out (true, the
  /// default: the balancer picks a worker once they are done, no thread waits) or goes out at
  /// once with the worker waiting for them when the call starts (false). Either way a
  /// parameter of future type receives the future itself. Process mode refuses false at
  /// `init` (`config_error`): a future cannot cross a process boundary.
  [[nodiscard]] worker_builder unwrap_futures(bool yes) const {
    auto b = *this;
    b.s_.unwrap_futures = yes;
    return b;
  }

  /// Process mode: how many times each worker is replaced, with the original constructor
  /// arguments and fresh state, after its process crashed, was killed or exited (3 unless
  /// set). After that the pool runs on with the workers it has; its statistics say so.
  [[nodiscard]] worker_builder max_restarts(std::size_t n) const {
    auto b = *this;
    b.s_.max_restarts = n;
    return b;
  }

  /// Process mode: the largest message between the client and a worker, in bytes: a call with
  /// its encoded arguments, or its result (64 MiB unless set, see config.hpp). A call whose
  /// arguments are larger fails with `message_too_large` without being sent; a result that is
  /// larger fails its call the same way (the worker sends the error instead). Either way the
  /// worker and the pool go on. Throws `config_error` outside 4 KiB to 511 MiB. Other modes
  /// never serialise and ignore it.
  [[nodiscard]] worker_builder max_message_size(std::size_t bytes) const {
    if (bytes < smallest_max_message_size || bytes > largest_max_message_size)
      throw config_error{"max_message_size must be between " +
                         std::to_string(smallest_max_message_size) + " and " +
                         std::to_string(largest_max_message_size) + " bytes, not " +
                         std::to_string(bytes)};
    auto b = *this;
    b.s_.max_message_size = bytes;
    return b;
  }

  /// Process mode: how long a worker host may answer nothing before it is killed as frozen
  /// (stopped with SIGSTOP, or its process wedged); its calls then fail with `worker_died`.
  /// A ping waits behind a message in transfer, so the silence allowed grows by the time the
  /// messages sent to the host, and one largest message back, may take at 16 MiB/s (4 s for the
  /// default max_message_size of 64 MiB); noticing takes up to a fifth of `t` more. The host
  /// answers pings while its worker runs a call, so a long call is no silence; a worker thread
  /// stuck in user code is not detected. 10 s unless set; zero: never (a host stopped in a
  /// debugger stays). Throws `config_error` for a negative value or one under 100 ms.
  template <class Rep, class Period>
  [[nodiscard]] worker_builder heartbeat_timeout(std::chrono::duration<Rep, Period> t) const {
    auto ns = detail::saturated_ns(t);
    if (ns.count() < 0 || (ns.count() > 0 && ns < std::chrono::milliseconds{100}))
      throw config_error{"heartbeat_timeout must be zero (never) or at least 100 ms"};
    auto b = *this;
    b.s_.heartbeat_timeout = ns;
    return b;
  }

  /// Cluster mode: the CPUs each worker holds on its node, in fractions down to 0.0001 (0: it
  /// fits on any node). 1 unless set. Throws `config_error` for a negative or non-finite value.
  [[nodiscard]] worker_builder num_cpus(double cpus) const {
    if (!(cpus >= 0) || cpus > 1e9)
      throw config_error{"num_cpus must be a finite amount of at least 0"};
    auto b = *this;
    b.s_.cluster.num_cpus = cpus;
    return b;
  }

  /// Cluster mode: custom resources each worker holds on its node, such as {{"gpu", 1}}; a
  /// worker goes only to nodes that offer them (`concurry-node --resources gpu=2`).
  [[nodiscard]] worker_builder resources(std::map<std::string, double> amounts) const {
    for (auto& [name, amount] : amounts)
      if (name.empty() || name == "cpu" || !(amount >= 0) || amount > 1e9)
        throw config_error{"a resource needs a name other than cpu (see num_cpus) and a finite "
                           "amount of at least 0: '" +
                           name + "'"};
    auto b = *this;
    b.s_.cluster.resources = std::move(amounts);
    return b;
  }

  /// Cluster mode: how each worker's node is chosen (pack unless set).
  [[nodiscard]] worker_builder placement(concurry::placement p) const {
    if (p == concurry::placement::named)
      throw config_error{"placement::named is set with node(name)"};
    auto b = *this;
    b.s_.cluster.strategy = p;
    return b;
  }

  /// Cluster mode: every worker on the node of that name, or waiting for it.
  [[nodiscard]] worker_builder node(std::string name) const {
    if (name.empty())
      throw config_error{"node() needs a node's name"};
    auto b = *this;
    b.s_.cluster.strategy = concurry::placement::named;
    b.s_.cluster.node = std::move(name);
    return b;
  }

  /// Cluster mode: the head's "host:port". Unless set, CONCURRY_ADDRESS; with neither, the
  /// first cluster pool starts a private cluster on 127.0.0.1 that ends with the program.
  [[nodiscard]] worker_builder cluster_address(std::string address) const {
    auto b = *this;
    b.s_.cluster.address = std::move(address);
    return b;
  }

  /// Cluster mode: the cluster's token. Unless set, CONCURRY_TOKEN.
  [[nodiscard]] worker_builder cluster_token(std::string token) const {
    auto b = *this;
    b.s_.cluster.token = std::move(token);
    return b;
  }

  /// The clock the pool's retry backoffs wait on (a `manual_clock` runs them on virtual time).
  /// The system clock unless set.
  [[nodiscard]] worker_builder clock(std::shared_ptr<concurry::clock> c) const {
    auto b = *this;
    b.s_.clock = std::move(c);
    return b;
  }

  /// Runs a failed call up to `n` more times.
  [[nodiscard]] worker_builder num_retries(std::size_t n) const {
    return with_all([&](auto& r) { r.num_retries = checked_retries(n); });
  }
  /// `num_retries` for one listed method.
  template <class M>
  requires std::is_member_function_pointer_v<M>
  [[nodiscard]] worker_builder num_retries(M method, std::size_t n) const {
    return with_method(method, [&](auto& r) { r.num_retries = checked_retries(n); });
  }

  /// The base wait before a retry, which `retry_algorithm` grows.
  template <class Rep, class Period>
  [[nodiscard]] worker_builder retry_wait(std::chrono::duration<Rep, Period> base) const {
    return with_all([&](auto& r) { r.wait = checked_wait(base); });
  }
  /// `retry_wait` for one listed method.
  template <class M, class Rep, class Period>
  requires std::is_member_function_pointer_v<M>
  [[nodiscard]] worker_builder retry_wait(M method, std::chrono::duration<Rep, Period> base) const {
    return with_method(method, [&](auto& r) { r.wait = checked_wait(base); });
  }

  /// How the wait grows from one retry to the next.
  [[nodiscard]] worker_builder retry_algorithm(concurry::retry_algorithm a) const {
    return with_all([&](auto& r) { r.algorithm = a; });
  }
  /// As above, by name ("linear", "exponential", "fibonacci").
  [[nodiscard]] worker_builder retry_algorithm(std::string_view name) const {
    return retry_algorithm(parse_retry_algorithm(name));
  }
  /// `retry_algorithm` for one listed method.
  template <class M>
  requires std::is_member_function_pointer_v<M>
  [[nodiscard]] worker_builder retry_algorithm(M method, concurry::retry_algorithm a) const {
    return with_method(method, [&](auto& r) { r.algorithm = a; });
  }

  /// `retry_algorithm` for one listed method, by name.
  template <class M>
  requires std::is_member_function_pointer_v<M>
  [[nodiscard]] worker_builder retry_algorithm(M method, std::string_view name) const {
    return retry_algorithm(method, parse_retry_algorithm(name));
  }

  /// 0 for exact waits; anything up to 1 draws each wait uniformly between 0 and the computed
  /// one. Throws `config_error` outside [0, 1].
  [[nodiscard]] worker_builder retry_jitter(double j) const {
    return with_all([&](auto& r) { r.jitter = checked_jitter(j); });
  }
  /// `retry_jitter` for one listed method.
  template <class M>
  requires std::is_member_function_pointer_v<M>
  [[nodiscard]] worker_builder retry_jitter(M method, double j) const {
    return with_method(method, [&](auto& r) { r.jitter = checked_jitter(j); });
  }

  /// Retries only exceptions of these types (or types derived from them); others fail at once.
  template <class... E>
  requires(sizeof...(E) > 0) [[nodiscard]] worker_builder retry_on() const {
    return with_all([&](auto& r) { r.retry_on = std::vector{type_filter<E...>()}; });
  }
  /// `retry_on<E...>()` for one listed method.
  template <class... E, class M>
  requires(sizeof...(E) > 0 && std::is_member_function_pointer_v<M>) [[nodiscard]] worker_builder
      retry_on(M method) const {
    return with_method(method, [&](auto& r) { r.retry_on = std::vector{type_filter<E...>()}; });
  }
  /// Retries when `filter(context)` returns true; it sees the exception (`context.exception`,
  /// `context.exception_as<E>()`), the method name, the attempt number and the time elapsed.
  /// A filter that throws counts as false.
  template <class F>
  requires std::is_invocable_r_v<bool, const F&, const retry_context&>
  [[nodiscard]] worker_builder retry_on(F filter) const {
    return with_all([&](auto& r) { r.retry_on = std::vector<retry_filter>{filter}; });
  }
  /// `retry_on(filter)` for one listed method.
  template <class M, class F>
  requires(std::is_member_function_pointer_v<M>&&
               std::is_invocable_r_v<bool, const F&, const retry_context&>)
      [[nodiscard]] worker_builder retry_on(M method, F filter) const {
    return with_method(method, [&](auto& r) { r.retry_on = std::vector<retry_filter>{filter}; });
  }

  /// Validators of a result: `f(result)` or `f(result, context)` returning bool. A result
  /// that fails one counts as a failed attempt; when the last attempt fails, the call fails
  /// with `retry_validation_error` holding every attempt's result. Pool-wide validators apply
  /// to each listed method whose result type they accept (constrain a generic lambda that
  /// does not fit them all); at least one must fit.
  template <class... F>
  requires(sizeof...(F) > 0) [[nodiscard]] worker_builder retry_until(F... validators) const {
    static_assert((detail::validates_some_method<W, F>() && ...),
                  "concurry: a retry_until validator accepts the result of no listed method");
    return with_all([&](auto& r) { r.until = makers(validators...); });
  }
  /// Validators for one listed method's result.
  template <class M, class... F>
  requires(std::is_member_function_pointer_v<M> && sizeof...(F) > 0) [[nodiscard]] worker_builder
      retry_until(M method, F... validators) const {
    using R = typename detail::member_fn<M>::call_result;
    static_assert(!std::is_void_v<R>, "concurry: a void method has no result to validate");
    static_assert(((std::is_invocable_r_v<bool, const F&, const R&, const retry_context&> ||
                    std::is_invocable_r_v<bool, const F&, const R&>)&&...),
                  "concurry: a retry_until validator must take the method's result (and "
                  "optionally a const retry_context&) and return bool");
    return with_method(method, [&](auto& r) { r.until = makers(validators...); });
  }

  /// Limits shared by every worker of the pool: one limit set, on the system clock, that every
  /// worker's `limits()` acquires from.
  [[nodiscard]] worker_builder limits(std::vector<limit> shared) const {
    return limits(limit_set{std::move(shared)});
  }

  /// A limit set made elsewhere, shared by every worker of this pool and by whatever else holds
  /// it (several pools may share one set).
  [[nodiscard]] worker_builder limits(limit_set shared) const { return limits(limit_pool{shared}); }

  /// Several limit sets behind each worker's `limits()`, picked round robin starting at an
  /// offset per worker (worker i starts at set i).
  [[nodiscard]] worker_builder limits(std::vector<limit_set> sets) const {
    return limits(limit_pool{std::move(sets)});
  }

  /// A limit pool shared by the pool's workers; each worker's round robin starts at its index.
  [[nodiscard]] worker_builder limits(limit_pool shared) const {
    auto b = *this;
    b.s_.limits = [shared](std::size_t n) {
      std::vector<limit_pool> each;
      for (std::size_t i = 0; i < n; ++i)
        each.push_back(shared.for_worker(i));
      std::vector<limit_set> sets;
      for (std::size_t i = 0; i < shared.size(); ++i)
        sets.push_back(shared[i]);
      return std::pair{std::move(each), std::move(sets)};
    };
    return b;
  }

  /// Limits of which every worker gets its own copy, with its own budget.
  [[nodiscard]] worker_builder limits(per_worker own) const {
    auto b = *this;
    b.s_.limits = [template_set = limit_set{std::move(own.limits)}](std::size_t n) {
      std::vector<limit_pool> each;
      std::vector<limit_set> sets;
      for (std::size_t i = 0; i < n; ++i) {
        sets.push_back(template_set.clone());
        each.emplace_back(sets.back());
      }
      return std::pair{std::move(each), std::move(sets)};
    };
    return b;
  }

  /// The same options for a pool whose calls wait and return values directly.
  [[nodiscard]] worker_builder<W, true> blocking() const {
    worker_builder<W, true> b;
    b.s_ = s_;
    return b;
  }

  /// Creates the pool, building each worker on its own thread from a copy of `args` (the
  /// constructor arguments named in the registration). Throws `config_error` for options the
  /// mode does not allow, and rethrows the exception of a worker constructor that threw. An
  /// on-demand pool builds no worker here: each call's worker is built for it, and a
  /// constructor's exception fails that call.
  template <class... A>
  [[nodiscard]] basic_pool<W, Blocking> init(A&&... args) const {
    using D = detail::descriptor_of<W>;
    using ctor = typename detail::constructor_args<typename D::constructor>::type;
    static_assert(std::tuple_size_v<ctor> == sizeof...(A),
                  "init() takes the constructor arguments named in the worker's registration");
    auto defaults = config()[s_.mode];
    detail::pool_spec spec;
    spec.mode = s_.mode;
    spec.worker_name = D::name;
    spec.local_only = D::local_only;
    spec.on_demand = s_.on_demand;
    spec.unwrap_futures = s_.unwrap_futures;
    spec.max_restarts = s_.max_restarts;
    spec.max_message_size = s_.max_message_size.value_or(defaults.max_message_size);
    spec.heartbeat_timeout = s_.heartbeat_timeout.value_or(defaults.heartbeat_timeout);
    spec.cluster = s_.cluster;
    spec.max_workers = s_.max_workers.value_or(s_.on_demand ? 0 : defaults.max_workers);
    spec.load_balancing = s_.load_balancing.value_or(
        s_.on_demand ? defaults.on_demand_load_balancing : defaults.load_balancing);
    spec.stop_timeout = s_.stop_timeout.value_or(defaults.stop_timeout);
    spec.max_queued_tasks = s_.max_queued_tasks.value_or(defaults.max_queued_tasks);
    spec.clock = s_.clock;
    spec.retry_plans = retry_plans(defaults.retry);
    if (s_.limits)
      std::tie(spec.worker_limits, spec.limit_sets) =
          s_.limits(std::max<std::size_t>(spec.max_workers, 1));
    auto shared_args = std::make_shared<const ctor>(std::forward<A>(args)...);
    if constexpr (!D::local_only) {
      if (spec.mode == concurry::mode::process || spec.mode == concurry::mode::cluster) {
        spec.constructor_arguments = encode(*shared_args);
        for (auto name : D::method_names())
          spec.method_names.emplace_back(name);
      }
    }
    detail::worker_factory factory = [shared_args]() -> std::unique_ptr<worker_base> {
      return std::apply([](const auto&... a) { return std::make_unique<W>(a...); }, *shared_args);
    };
    return basic_pool<W, Blocking>{detail::create_pool(spec, std::move(factory))};
  }

private:
  template <class, bool>
  friend class worker_builder;

  template <class Change>
  worker_builder with_all(Change change) const {
    auto b = *this;
    change(b.s_.retry_all);
    return b;
  }

  template <class M, class Change>
  worker_builder with_method(M method, Change change) const {
    auto index = detail::method_index_of<W>(method, detail::unlisted_method);
    if (index == detail::unlisted_method)
      throw config_error{std::string{"a method given its own retry settings must be listed in "
                                     "the registration of "} +
                         detail::descriptor_of<W>::name};
    auto b = *this;
    change(b.s_.retry_per_method[index]);
    return b;
  }

  static std::size_t checked_retries(std::size_t n) {
    if (n > 1'000'000)
      throw config_error{"num_retries must be at most 1000000, not " + std::to_string(n)};
    return n;
  }
  template <class Rep, class Period>
  static std::chrono::nanoseconds checked_wait(std::chrono::duration<Rep, Period> d) {
    auto ns = detail::saturated_ns(d);
    if (ns.count() < 0)
      throw config_error{"retry_wait must not be negative"};
    return ns;
  }
  static double checked_jitter(double j) {
    if (!(j >= 0.0 && j <= 1.0))
      throw config_error{"retry_jitter must be between 0 and 1, not " + std::to_string(j)};
    return j;
  }
  template <class... E>
  static retry_filter type_filter() {
    return exception_type_filter<E...>{};
  }
  template <class... F>
  static std::vector<std::function<detail::result_validator(std::uint32_t)>> makers(F... fs) {
    return {
        [f = std::move(fs)](std::uint32_t index) { return detail::validator_for<W>(f, index); }...};
  }

  // One plan per listed method and one for the rest; empty when no call of the pool retries.
  std::vector<std::shared_ptr<const detail::retry_plan>>
  retry_plans(const retry_defaults& defaults) const {
    using D = detail::descriptor_of<W>;
    auto names = D::method_names();
    auto n = static_cast<std::uint32_t>(names.size());
    std::vector<std::shared_ptr<const detail::retry_plan>> plans(n + 1);
    bool any = false;
    for (std::uint32_t i = 0; i <= n; ++i) {
      auto own = s_.retry_per_method.find(i);
      const detail::retry_overrides* mine =
          own == s_.retry_per_method.end() ? nullptr : &own->second;
      auto pick = [&](auto field, auto fallback) {
        if (mine && mine->*field)
          return *(mine->*field);
        if (s_.retry_all.*field)
          return *(s_.retry_all.*field);
        return fallback;
      };
      auto plan = std::make_shared<detail::retry_plan>();
      plan->worker_name = D::name;
      plan->method_name = i < n ? std::string{names[i]} : detail::unlisted_method_name<W>();
      plan->max_attempts = static_cast<std::uint32_t>(
                               pick(&detail::retry_overrides::num_retries, defaults.num_retries)) +
                           1;
      plan->algorithm = pick(&detail::retry_overrides::algorithm, defaults.algorithm);
      plan->wait = pick(&detail::retry_overrides::wait, defaults.wait);
      plan->jitter = pick(&detail::retry_overrides::jitter, defaults.jitter);
      plan->retry_on = pick(&detail::retry_overrides::retry_on, std::vector<retry_filter>{});
      for (auto& make : pick(&detail::retry_overrides::until,
                             std::vector<std::function<detail::result_validator(std::uint32_t)>>{}))
        if (auto v = make(i))
          plan->until.push_back(std::move(v));
      plan->clock = s_.clock ? s_.clock : system_clock();
      if (plan->max_attempts > 1 || !plan->until.empty()) {
        plans[i] = std::move(plan);
        any = true;
      }
    }
    if (!any)
      plans.clear();
    return plans;
  }

  detail::builder_settings s_;
};

template <class Self>
worker_builder<Self, false> worker<Self>::options() {
  return {};
}

} // namespace concurry
