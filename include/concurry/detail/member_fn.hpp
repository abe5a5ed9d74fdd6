// Splits a pointer to member function into its class, result and parameter types.
#pragma once

#include <tuple>

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

} // namespace concurry::detail
