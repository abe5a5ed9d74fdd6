// The options chain that builds pools: `W::options().mode(...).max_workers(...).init(args...)`.
// A builder is a value: every setter returns a changed copy, so one builder can serve as a
// template for several pools.
#pragma once

#include <concurry/detail/duration.hpp>
#include <concurry/detail/pool_core.hpp>
#include <concurry/error.hpp>
#include <concurry/limits.hpp>
#include <concurry/mode.hpp>
#include <concurry/pool.hpp>
#include <concurry/registry.hpp>
#include <concurry/worker.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

namespace concurry {

/// Limits that every worker of a pool gets its own copy of (each worker has its own budget),
/// as `options().limits(concurry::per_worker({call_limit{...}}))`.
struct per_worker {
  std::vector<limit> limits; ///< the limits each worker gets a copy of
};

/// Options for a pool of `W` workers; `init` creates the pool. With `Blocking`, the pool's
/// calls return values instead of futures.
///
/// | option           | default                                   |
/// |------------------|-------------------------------------------|
/// | `mode`           | thread                                    |
/// | `max_workers`    | the mode's default: sync 1, thread 24     |
/// | `load_balancing` | round_robin                               |
/// | `stop_timeout`   | 30 s                                      |
/// | `limits`         | none                                      |
template <class W, bool Blocking = false>
class worker_builder {
public:
  static_assert(detail::registered_worker<W>,
                "concurry: register the worker class with CONCURRY_WORKER or "
                "CONCURRY_LOCAL_WORKER (in its namespace, after the class)");

  /// Where the workers run. Setting it also resets `max_workers` to the mode's default unless
  /// it was set explicitly.
  [[nodiscard]] worker_builder mode(concurry::mode m) const {
    auto b = *this;
    b.spec_.mode = m;
    return b;
  }
  /// As above, by name ("sync", "thread", ...); throws `config_error` for an unknown name.
  [[nodiscard]] worker_builder mode(std::string_view name) const { return mode(parse_mode(name)); }

  /// The number of workers of the pool. sync mode allows only 1; thread pools need at least 1.
  [[nodiscard]] worker_builder max_workers(std::size_t n) const {
    auto b = *this;
    b.max_workers_ = n;
    return b;
  }

  /// How calls are spread over workers.
  [[nodiscard]] worker_builder load_balancing(concurry::load_balancing lb) const {
    auto b = *this;
    b.spec_.load_balancing = lb;
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
    b.spec_.stop_timeout = detail::saturated_ns(t);
    if (b.spec_.stop_timeout.count() < 0)
      throw config_error{"stop_timeout must not be negative"};
    return b;
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
    b.limits_ = [shared](std::size_t n) {
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
    b.limits_ = [template_set = limit_set{std::move(own.limits)}](std::size_t n) {
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
    b.spec_ = spec_;
    b.max_workers_ = max_workers_;
    b.limits_ = limits_;
    return b;
  }

  /// Creates the pool, building each worker on its own thread from a copy of `args` (the
  /// constructor arguments named in the registration). Throws `config_error` for options the
  /// mode does not allow, and rethrows the exception of a worker constructor that threw.
  template <class... A>
  [[nodiscard]] basic_pool<W, Blocking> init(A&&... args) const {
    using D = detail::descriptor_of<W>;
    using ctor = typename detail::constructor_args<typename D::constructor>::type;
    static_assert(std::tuple_size_v<ctor> == sizeof...(A),
                  "init() takes the constructor arguments named in the worker's registration");
    auto spec = spec_;
    spec.worker_name = D::name;
    spec.local_only = D::local_only;
    spec.max_workers = max_workers_.value_or(default_max_workers(spec.mode));
    if (limits_)
      std::tie(spec.worker_limits, spec.limit_sets) = limits_(spec.max_workers);
    auto shared_args = std::make_shared<const ctor>(std::forward<A>(args)...);
    detail::worker_factory factory = [shared_args]() -> std::unique_ptr<worker_base> {
      return std::apply([](const auto&... a) { return std::make_unique<W>(a...); }, *shared_args);
    };
    return basic_pool<W, Blocking>{detail::create_pool(spec, std::move(factory))};
  }

private:
  template <class, bool>
  friend class worker_builder;

  detail::pool_spec spec_;
  std::optional<std::size_t> max_workers_;
  // Makes each worker's limits (and the distinct sets) for a pool of n workers.
  std::function<std::pair<std::vector<limit_pool>, std::vector<limit_set>>(std::size_t n)> limits_;
};

template <class Self>
worker_builder<Self, false> worker<Self>::options() {
  return {};
}

} // namespace concurry
