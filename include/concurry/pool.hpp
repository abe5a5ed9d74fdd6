// Pools and handles. `init()` returns a `concurry::pool<W>`, the move-only owner of the workers;
// `pool.ref()` gives copyable `concurry::handle<W>`s that can travel, into other workers too.
// Both make calls: `pool.call(&W::method, args...)` returns a `concurry::future<R>`.
#pragma once

#include <concurry/detail/call.hpp>
#include <concurry/detail/duration.hpp>
#include <concurry/detail/pool_core.hpp>
#include <concurry/detail/unwrap.hpp>
#include <concurry/error.hpp>
#include <concurry/future.hpp>
#include <concurry/registry.hpp>
#include <concurry/stats.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <ranges>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace concurry {

class task_worker;

namespace detail {
[[noreturn]] void throw_no_pool();

template <class P>
inline constexpr bool is_safe_parameter =
    !(std::is_lvalue_reference_v<P> &&
      !std::is_const_v<std::remove_reference_t<P>>)&&!std::is_same_v<std::remove_cvref_t<P>,
                                                                     std::string_view>;

/// False when a parameter would lose the caller's change or dangle once the call is queued.
template <class... P>
constexpr bool safe_parameters(std::tuple<P...>*) {
  return (is_safe_parameter<P> && ...);
}
} // namespace detail

/// A copyable reference to a pool of `W` workers. Calls through a handle whose pool has
/// stopped fail with `stopped_error`. With `Blocking`, `call` waits and returns the value.
///
/// Does not: keep the workers alive (the owning `pool` does), or retry a failed call.
template <class W, bool Blocking = false>
class basic_handle {
public:
  /// A handle to no pool; every call throws `concurry::error`.
  basic_handle() noexcept = default;

  /// Calls `method` with `args` on a worker chosen by the load balancer. Arguments are copied
  /// (or moved) into the call when it is made. Returns a future of the method's result, or with
  /// a blocking pool the result itself (rethrowing the method's exception).
  ///
  /// Calls from one handle to one worker start in the order they were made.
  ///
  /// A future among the arguments (also inside a vector, map, tuple, pair or optional) whose
  /// parameter wants its value is resolved first, without blocking this thread: the call goes to
  /// a worker (chosen then) once every such future is done, and fails with the exception of the
  /// first one that failed. A parameter of future type receives the future itself. A pool built
  /// with `unwrap_futures(false)` sends such a call at once instead, and the worker waits for
  /// the futures when the call starts.
  template <class M, class... A>
  auto call(M method, A&&... args) const {
    using params = typename detail::member_fn<M>::args;
    if constexpr ((detail::holds_future_v<A> || ...) &&
                  !accepts_as_is<A...>(static_cast<params*>(nullptr))) {
      if (!detail::unwraps_futures(*checked()))
        return call_resolving_on_worker(method, std::forward<A>(args)...);
      return call_when_ready(method, std::forward<A>(args)...);
    } else {
      return call_now(method, std::forward<A>(args)...);
    }
  }

  /// Calls `method` with `args` once on every worker of the pool (each call gets its own copy of
  /// the arguments), bypassing the load balancer. Returns one future per worker, in worker
  /// order; a blocking pool waits and returns the values (nothing for void). On a stopped pool
  /// every future fails with `stopped_error`.
  template <class M, class... A>
  auto broadcast(M method, const A&... args) const {
    using R = result_of<M, sizeof...(A)>;
    using params = typename detail::member_fn<M>::args;
    if (!core_)
      detail::throw_no_pool();
    std::vector<future<R>> futures;
    auto n = detail::worker_count(*core_);
    futures.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      auto* op = make_call<R>(method, static_cast<params*>(nullptr), args...);
      futures.push_back(detail::make_future(detail::state_ptr<detail::value_state<R>>{op}));
      detail::dispatch_to(*core_, i, *op);
    }
    return deliver_all<R>(std::move(futures));
  }

  /// On a pool of task workers (task.hpp): runs `fn(args...)` on a worker the load balancer
  /// picks. The function and the arguments are copied (or moved) into the call; a reference
  /// result is returned as a copy. Returns a future of the result (with a blocking pool, the
  /// result). Retries use the pool-wide settings, under the method name "submit".
  ///
  /// In process mode `fn` must be a function registered with CONCURRY_TASK (its name and the
  /// encoded arguments go to the worker's process); anything else throws `config_error` here.
  template <class F, class... A>
  requires(std::is_base_of_v<task_worker, W>&&
               std::is_invocable_v<std::decay_t<F>&, std::decay_t<A>...>) auto submit(F&& fn,
                                                                                      A&&... args)
      const {
    // A coroutine function's result is its task's value.
    using R = detail::awaited_result_t<std::invoke_result_t<std::decay_t<F>&, std::decay_t<A>...>>;
    static_assert(std::is_void_v<R> || std::is_copy_constructible_v<R>,
                  "concurry: a task's result must be copyable (futures hand out copies)");
    if (!core_)
      detail::throw_no_pool();
    std::string_view task;
    if (auto m = detail::mode_of(*core_); m == mode::process || m == mode::cluster)
      task = detail::registered_task_name(fn);
    auto* op = new detail::task_op<R, std::decay_t<F>, std::tuple<std::decay_t<A>...>>(
        std::forward<F>(fn), std::forward<A>(args)...);
    op->bind_task(task);
    return send<R>(op);
  }

  /// On a pool of task workers: `fn` applied to the elements of `ranges` taken together (the
  /// first of each, then the second of each, ...; the shortest range ends it), each application
  /// a call of its own, spread over the workers by the load balancer. Returns the futures in
  /// input order (with a blocking pool, the results, or nothing for void).
  template <class F, class... Ranges>
  requires(std::is_base_of_v<task_worker, W> &&
           sizeof...(Ranges) > 0) auto map(F fn, const Ranges&... ranges) const {
    using R = detail::awaited_result_t<
        std::invoke_result_t<F&, std::ranges::range_value_t<const Ranges&>...>>;
    basic_handle<W, false> async{checked()};
    std::vector<future<R>> futures;
    auto iterators = std::tuple{std::ranges::begin(ranges)...};
    auto ends = std::tuple{std::ranges::end(ranges)...};
    auto any_at_end = [&]<std::size_t... I>(std::index_sequence<I...>) {
      return ((std::get<I>(iterators) == std::get<I>(ends)) || ...);
    };
    constexpr auto all = std::index_sequence_for<Ranges...>{};
    while (!any_at_end(all)) {
      [&]<std::size_t... I>(std::index_sequence<I...>) {
        futures.push_back(async.submit(fn, *std::get<I>(iterators)...));
        (++std::get<I>(iterators), ...);
      }
      (all);
    }
    return deliver_all<R>(std::move(futures));
  }

  /// True once the pool was stopped.
  [[nodiscard]] bool is_stopped() const { return !core_ || detail::is_stopped(*core_); }

  /// The pool's statistics now.
  [[nodiscard]] pool_stats stats() const { return detail::statistics(*checked()); }

  /// The statistics of worker `index`; throws std::out_of_range past the last worker.
  [[nodiscard]] concurry::worker_stats worker_stats(std::size_t index) const {
    return detail::statistics(*checked(), index);
  }

protected:
  /// A handle to the pool behind `core`; `basic_pool` makes its handles with it.
  explicit basic_handle(std::shared_ptr<detail::pool_core> core) noexcept
      : core_{std::move(core)} {}

  /// The pool; throws `concurry::error` when this handle refers to no pool.
  const std::shared_ptr<detail::pool_core>& checked() const {
    if (!core_)
      detail::throw_no_pool();
    return core_;
  }

  /// The pool; null in a default-constructed or moved-from handle.
  std::shared_ptr<detail::pool_core> core_;

private:
  template <class, bool>
  friend class basic_handle;

  template <class... A, class... P>
  static constexpr bool accepts_as_is(std::tuple<P...>*) {
    return (std::is_constructible_v<std::decay_t<P>, A&&> && ...);
  }

  // Hands a call to the load balancer; its future, or with a blocking pool its result.
  template <class R>
  auto send(detail::result_call<R>* op) const {
    auto f = detail::make_future(detail::state_ptr<detail::value_state<R>>{op});
    detail::dispatch(*core_, *op);
    if constexpr (Blocking)
      return f.result();
    else
      return f;
  }

  // The futures of several calls, or with a blocking pool their results (nothing for void).
  template <class R>
  static auto deliver_all(std::vector<future<R>> futures) {
    if constexpr (!Blocking) {
      return futures;
    } else if constexpr (std::is_void_v<R>) {
      for (auto& f : futures)
        f.result();
    } else {
      std::vector<R> values;
      values.reserve(futures.size());
      for (auto& f : futures)
        values.push_back(f.result());
      return values;
    }
  }

  template <class M, class... A>
  auto call_now(M method, A&&... args) const {
    using R = result_of<M, sizeof...(A)>;
    using params = typename detail::member_fn<M>::args;
    if (!core_)
      detail::throw_no_pool();
    auto* op = make_call<R>(method, static_cast<params*>(nullptr), std::forward<A>(args)...);
    return send<R>(op);
  }

  // Sends the call at once; the worker resolves the futures inside `args` when it starts.
  template <class M, class... A>
  auto call_resolving_on_worker(M method, A&&... args) const {
    using R = result_of<M, sizeof...(A)>;
    using held = std::tuple<std::decay_t<A>...>;
    auto* op = new detail::resolving_call_op<R, W, M, held>(method, std::forward<A>(args)...);
    op->method_index = detail::method_index_of<W>(method, detail::unlisted_method);
    return send<R>(op);
  }

  // Waits (without blocking) for the futures inside `args`, then calls with their values.
  template <class M, class... A>
  auto call_when_ready(M method, A&&... args) const {
    using R = result_of<M, sizeof...(A)>;
    using held = std::tuple<std::decay_t<A>...>;
    auto* op = new detail::resolving_call_op<R, W, M, held>(method, std::forward<A>(args)...);
    op->method_index = detail::method_index_of<W>(method, detail::unlisted_method);
    auto f = detail::make_future(detail::state_ptr<detail::value_state<R>>{op});
    op->dispatch_when_ready(core_);
    if constexpr (Blocking)
      return f.result();
    else
      return f;
  }

  /// What a call of `M` with `arity` arguments gives its caller (a copy where the method returns
  /// a reference), after the checks every call through a pool must pass.
  template <class M, std::size_t arity>
  static auto checked_result() {
    using fn = detail::member_fn<M>;
    using R = typename fn::call_result;
    using params = typename fn::args;
    static_assert(std::is_base_of_v<typename fn::class_type, W>, "the method is not one of W's");
    static_assert(std::tuple_size_v<params> == arity, "wrong number of arguments for this method");
    static_assert(std::is_void_v<R> || std::is_copy_constructible_v<R>,
                  "concurry: a method's result must be copyable (futures hand out copies)");
    static_assert(detail::safe_parameters(static_cast<params*>(nullptr)),
                  "concurry: a method called through a pool must not take a non-const lvalue "
                  "reference (the call works on its own copy, so the caller would never see the "
                  "change) or a std::string_view (it would point into the caller's string after "
                  "the call was queued); take a value or a const reference");
    return std::type_identity<R>{};
  }

  template <class M, std::size_t arity>
  using result_of = typename decltype(checked_result<M, arity>())::type;

  template <class R, class M, class... P, class... A>
  static auto* make_call(M method, std::tuple<P...>*, A&&... args) {
    static_assert((std::is_constructible_v<std::decay_t<P>, A&&> && ...),
                  "an argument does not convert to the method's parameter type");
    using args_t = std::tuple<std::decay_t<P>...>;
    auto* op = new detail::call_op<R, W, M, args_t>(method, std::forward<A>(args)...);
    op->method_index = detail::method_index_of<W>(method, detail::unlisted_method);
    return op;
  }
};

/// The owner of a pool of `W` workers, as `init()` returns it. Move-only; when it is destroyed
/// every worker stops (with the pool's `stop_timeout`), also while an exception unwinds.
template <class W, bool Blocking = false>
class basic_pool : public basic_handle<W, Blocking> {
public:
  /// The copyable handle that `ref()` returns.
  using handle_type = basic_handle<W, Blocking>;

  basic_pool() noexcept = default;
  /// Takes over the pool; the moved-from owner refers to no pool.
  basic_pool(basic_pool&&) noexcept = default;
  /// Stops the pool this owner had, then takes over the pool of `other`.
  basic_pool& operator=(basic_pool&& other) noexcept {
    if (this != &other) {
      shutdown();
      this->core_ = std::move(other.core_);
    }
    return *this;
  }
  basic_pool(const basic_pool&) = delete;
  basic_pool& operator=(const basic_pool&) = delete;
  ~basic_pool() { shutdown(); }

  /// A copyable handle to this pool.
  [[nodiscard]] handle_type ref() const { return handle_type{*this}; }

  /// Stops the pool with its `stop_timeout`.
  void stop() {
    auto& core = *this->checked();
    detail::stop(core, detail::stop_timeout(core));
  }

  /// Stops the pool: calls already made may finish within `timeout`; those still queued or
  /// running after it fail with `stopped_error`, and threads still inside a method are left
  /// behind (they do not hold up shutdown or process exit). Stopping twice is harmless.
  template <class Rep, class Period>
  void stop(std::chrono::duration<Rep, Period> timeout) {
    auto ns = detail::saturated_ns(timeout);
    if (ns.count() < 0)
      throw config_error{"a stop timeout must not be negative"};
    detail::stop(*this->checked(), ns);
  }

private:
  template <class, bool>
  friend class worker_builder;

  explicit basic_pool(std::shared_ptr<detail::pool_core> core) noexcept
      : handle_type{std::move(core)} {}

  void shutdown() noexcept {
    if (!this->core_)
      return;
    try {
      detail::stop(*this->core_, detail::stop_timeout(*this->core_));
    } catch (...) {
      // NOTE: a destructor must not throw; stop() only throws when the runtime is gone, and
      // then there is nothing left to stop.
    }
  }
};

/// A pool of `W` whose calls return futures.
template <class W>
using pool = basic_pool<W, false>;
/// A pool of `W` whose calls wait and return values (`options().blocking()`).
template <class W>
using blocking_pool = basic_pool<W, true>;
/// A copyable handle to a pool of `W`.
template <class W>
using handle = basic_handle<W, false>;
/// A copyable handle to a blocking pool of `W`.
template <class W>
using blocking_handle = basic_handle<W, true>;

} // namespace concurry
