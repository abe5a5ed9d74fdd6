// Splits a pointer to member function into its class, result and parameter types, and a
// pointer to a free function into its result and parameter types.
#pragma once

#include <tuple>
#include <type_traits>

namespace concurry::detail {

/// Splits a pointer to member function into its class, result and parameters.
template <class M>
struct member_fn;

#define CONCURRY_DETAIL_MEMBER_FN(qualifiers)                                                      \
  template <class C, class R, class... A>                                                          \
  struct member_fn<R (C::*)(A...) qualifiers> {                                                    \
    using class_type = C;                                                                          \
    using result_type = R;                                                                         \
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
