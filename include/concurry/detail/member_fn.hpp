// Splits a pointer to member function into its class, result and parameter types, and a
// pointer to a free function into its result and parameter types.
#pragma once

#include <tuple>
#include <type_traits>

namespace concurry {
template <class T>
class task;
} // namespace concurry

namespace concurry::detail {

/// True for concurry::task<T>: the result type of a coroutine method.
template <class R>
inline constexpr bool is_task_v = false;
template <class T>
inline constexpr bool is_task_v<task<T>> = true;

/// What a call of a method returning `R` gives its caller: T for a coroutine method's
/// task<T>, otherwise R itself, decayed.
template <class R>
struct awaited_result {
  using type = std::decay_t<R>;
};
template <class T>
struct awaited_result<task<T>> {
  using type = T;
};
template <class R>
using awaited_result_t = typename awaited_result<std::decay_t<R>>::type;

/// Splits a pointer to member function into its class, result and parameters.
template <class M>
struct member_fn;

#define CONCURRY_DETAIL_MEMBER_FN(qualifiers)                                                      \
  template <class C, class R, class... A>                                                          \
  struct member_fn<R (C::*)(A...) qualifiers> {                                                    \
    using class_type = C;                                                                          \
    using result_type = R;                                                                         \
    /** what the caller gets: T for a coroutine method returning task<T> */                        \
    using call_result = awaited_result_t<R>;                                                       \
    static constexpr bool coroutine = is_task_v<std::decay_t<R>>;                                  \
    using args = std::tuple<A...>;                                                                 \
  };
CONCURRY_DETAIL_MEMBER_FN()
CONCURRY_DETAIL_MEMBER_FN(const)
CONCURRY_DETAIL_MEMBER_FN(&)
CONCURRY_DETAIL_MEMBER_FN(const&)
CONCURRY_DETAIL_MEMBER_FN(noexcept)
CONCURRY_DETAIL_MEMBER_FN(const noexcept)
CONCURRY_DETAIL_MEMBER_FN(&noexcept)
CONCURRY_DETAIL_MEMBER_FN(const& noexcept)
#undef CONCURRY_DETAIL_MEMBER_FN

/// Splits a pointer to a free function into its result and parameters; `is_function` is false
/// for anything else (lambdas, function objects).
template <class F>
struct free_fn {
  static constexpr bool is_function = false;
};
template <class R, class... A>
struct free_fn<R (*)(A...)> {
  static constexpr bool is_function = true;
  using result_type = R;
  using args = std::tuple<A...>;
  /// The parameters as the value codec carries them: no references, no const.
  using decayed_args = std::tuple<std::decay_t<A>...>;
};
template <class R, class... A>
struct free_fn<R (*)(A...) noexcept> : free_fn<R (*)(A...)> {};

} // namespace concurry::detail
