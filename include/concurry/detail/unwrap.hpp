// Future arguments: finding the futures inside a call's arguments (also inside vectors, maps,
// tuples, pairs and optionals) and replacing them by their values once they are all done.
#pragma once

#include <concurry/detail/call.hpp>
#include <concurry/detail/member_fn.hpp>
#include <concurry/detail/pool_core.hpp>
#include <concurry/future.hpp>

#include <atomic>
#include <cstddef>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace concurry::detail {

template <class T>
struct is_future : std::false_type {};
template <class T>
struct is_future<future<T>> : std::true_type {};

/// The type an argument of type T has once its futures are replaced by their values.
template <class T>
struct unwrapped {
  using type = T;
};
template <class T>
using unwrapped_t = typename unwrapped<std::remove_cvref_t<T>>::type;

template <class T>
struct unwrapped<future<T>> {
  using type = T;
};
// A future<void> has no value to pass on; it stays itself.
template <>
struct unwrapped<future<void>> {
  using type = future<void>;
};
template <class T, class A>
struct unwrapped<std::vector<T, A>> {
  using type = std::vector<unwrapped_t<T>>;
};
template <class K, class V, class C, class A>
struct unwrapped<std::map<K, V, C, A>> {
  using type = std::map<K, unwrapped_t<V>, C>;
};
template <class T>
struct unwrapped<std::optional<T>> {
  using type = std::optional<unwrapped_t<T>>;
};
template <class A, class B>
struct unwrapped<std::pair<A, B>> {
  using type = std::pair<unwrapped_t<A>, unwrapped_t<B>>;
};
template <class... Ts>
struct unwrapped<std::tuple<Ts...>> {
  using type = std::tuple<unwrapped_t<Ts>...>;
};

/// True when T holds a future somewhere inside.
template <class T>
inline constexpr bool holds_future_v = !std::is_same_v<unwrapped_t<T>, std::remove_cvref_t<T>>;

/// Calls `fn(state)` for the state of every future inside `x` (map keys are not looked into).
template <class T, class Fn>
void for_each_future(const T& x, Fn& fn) {
  using U = std::remove_cvref_t<T>;
  if constexpr (!holds_future_v<U>) {
    return;
  } else if constexpr (is_future<U>::value) {
    fn(x);
  } else if constexpr (requires {
                         x.has_value();
                         *x;
                       }) {
    if (x)
      for_each_future(*x, fn);
  } else if constexpr (requires { std::tuple_size<U>::value; }) {
    std::apply([&](const auto&... e) { (for_each_future(e, fn), ...); }, x);
  } else if constexpr (requires { typename U::mapped_type; }) {
    for (auto& [k, v] : x)
      for_each_future(v, fn);
  } else {
    for (auto& e : x)
      for_each_future(e, fn);
  }
}

/// `x` with every future replaced by its value; every future inside must be done and good.
template <class T>
unwrapped_t<T> unwrap(const T& x) {
  using U = std::remove_cvref_t<T>;
  if constexpr (!holds_future_v<U>) {
    return x;
  } else if constexpr (is_future<U>::value) {
    return x.result();
  } else if constexpr (requires {
                         x.has_value();
                         *x;
                       }) {
    return x ? unwrapped_t<T>{unwrap(*x)} : unwrapped_t<T>{};
  } else if constexpr (requires { std::tuple_size<U>::value; }) {
    return std::apply([](const auto&... e) { return unwrapped_t<T>{unwrap(e)...}; }, x);
  } else if constexpr (requires { typename U::mapped_type; }) {
    unwrapped_t<T> out;
    for (auto& [k, v] : x)
      out.emplace(k, unwrap(v));
    return out;
  } else {
    unwrapped_t<T> out;
    out.reserve(x.size());
    for (auto& e : x)
      out.push_back(unwrap(e));
    return out;
  }
}

/// A call of member function `M` whose arguments `Held` may hold futures. Either it goes to a
/// worker once they are all done (`dispatch_when_ready`: nobody waits), or it goes out at once
/// and the worker waits for them when the call starts (a pool built with
/// `unwrap_futures(false)`). An upstream failure fails the call with the upstream exception,
/// without retries.
template <class R, class W, class M, class Held>
class resolving_call_op final : public method_call<resolving_call_op<R, W, M, Held>, R, W, M> {
public:
  template <class... A>
  explicit resolving_call_op(M method, A&&... args)
      : method_{method}, held_{std::forward<A>(args)...} {}

  /// Hands the call to `pool` once every future among its arguments is done (at once when they
  /// all are), or fails it without sending it when one of them failed. Takes the queue's
  /// reference, which keeps the call alive until then.
  void dispatch_when_ready(std::shared_ptr<pool_core> pool) {
    pool_ = std::move(pool);
    // One count per future, and one for this function, so the call cannot go before all are
    // armed.
    waiting_.store(1, std::memory_order_relaxed);
    auto arm = [this](const auto& f) {
      waiting_.fetch_add(1, std::memory_order_relaxed);
      auto copy = f;
      copy.add_done_callback([this](const auto&) { input_done(); });
    };
    std::apply([&](const auto&... a) { (for_each_future(a, arm), ...); }, held_);
    input_done();
  }

  /// Waits for the futures among the arguments and encodes their values.
  std::vector<std::byte> encode_arguments() const override {
    using values = unwrapped_t<Held>;
    if constexpr (is_transferable_v<values>)
      return encode(unwrap(held_));
    else
      throw codec_error{"an argument of this call cannot cross a process boundary"};
  }

private:
  friend class method_call<resolving_call_op, R, W, M>;
  using params = typename member_fn<M>::args;
  static constexpr std::size_t arity = std::tuple_size_v<Held>;
  // On an event loop the inputs are done already: a pool whose loop runs coroutine methods
  // resolves future arguments before it sends a call.
  using method_call<resolving_call_op, R, W, M>::coroutine_method;

  template <class P>
  struct resolved_of;
  template <class... P>
  struct resolved_of<std::tuple<P...>> {
    using type = std::tuple<std::decay_t<P>...>;
  };

  // The inputs first: waits for every future among the arguments; an upstream failure fails
  // the call as it is, never retried.
  std::optional<run_result> refusal() noexcept {
    std::exception_ptr upstream;
    auto first_failure = [&](const auto& f) {
      f.wait();
      if (!upstream)
        upstream = f.exception();
    };
    std::apply([&](const auto&... a) { (for_each_future(a, first_failure), ...); }, held_);
    if (!upstream)
      return std::nullopt;
    return this->finish_failed(std::move(upstream));
  }

  // Every parameter gets a value of its own type made from the resolved argument; the held
  // futures stay, so a retry resolves them again. A coroutine keeps references to its
  // parameters across suspensions, so its values live in the call until the attempt ends.
  decltype(auto) call_method(W& self) {
    constexpr auto all = std::make_index_sequence<arity>{};
    if constexpr (coroutine_method) {
      resolved_.reset();
      [&]<class... P, std::size_t... I>(std::tuple<P...>*, std::index_sequence<I...>) {
        resolved_.emplace(std::decay_t<P>(unwrap(std::get<I>(held_)))...);
      }(static_cast<params*>(nullptr), all);
      return [&]<class... P, std::size_t... I>(std::tuple<P...>*, std::index_sequence<I...>) {
        return (self.*method_)(static_cast<P&&>(std::get<I>(*resolved_))...);
      }(static_cast<params*>(nullptr), all);
    } else {
      return invoke(self, static_cast<params*>(nullptr), all);
    }
  }

  template <class... P, std::size_t... I>
  decltype(auto) invoke(W& self, std::tuple<P...>*, std::index_sequence<I...>) {
    return (self.*method_)(std::decay_t<P>(unwrap(std::get<I>(held_)))...);
  }

  void input_done() noexcept {
    if (waiting_.fetch_sub(1, std::memory_order_acq_rel) != 1)
      return;
    auto pool = std::move(pool_);
    std::exception_ptr upstream;
    auto first_failure = [&](const auto& f) {
      if (!upstream)
        upstream = f.exception();
    };
    std::apply([&](const auto&... a) { (for_each_future(a, first_failure), ...); }, held_);
    if (upstream || this->status() == status_cancelled) {
      this->fail(std::move(upstream));
      this->release();
      return;
    }
    dispatch(*pool, *this);
  }

  M method_;
  Held held_;
  // A coroutine method's resolved arguments, for the attempt that runs.
  std::optional<typename resolved_of<params>::type> resolved_;
  std::atomic<std::size_t> waiting_{0};
  std::shared_ptr<pool_core> pool_;
};

} // namespace concurry::detail
