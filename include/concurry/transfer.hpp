// Which types can cross a process boundary. Worker registration (CONCURRY_WORKER) checks every
// constructor argument and every method argument and result against this at compile time, so a
// worker that compiles for thread mode also has what process and cluster modes need.
//
// Out of the box: arithmetic types, enums, std::byte, std::string, std::chrono::duration, and
// std::vector, std::deque, std::list, std::array, std::set, std::unordered_set, std::map,
// std::unordered_map, std::optional, std::pair, std::tuple and std::variant of transferable
// types, nested to any depth. A user type becomes transferable by listing its fields once:
//
//     struct point { double x; double y; };
//     CONCURRY_TYPE(point, x, y)   // in point's namespace
//
// or, when its state is not simply its fields, by a pair of functions found by argument-dependent
// lookup (codec.hpp):
//
//     void concurry_encode(concurry::encoder& e, const money& m);
//     void concurry_decode(concurry::decoder& d, money& m);
/// \file
/// Which types can cross a process boundary: is_transferable_v, and CONCURRY_TYPE for user types.
#pragma once

#include <concurry/detail/preprocessor.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <deque>
#include <list>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

namespace concurry {

class encoder;
class decoder;

/// Says whether T can cross a process boundary. Do not specialise it: a type becomes
/// transferable through CONCURRY_TYPE or a `concurry_encode`/`concurry_decode` pair (codec.hpp).
template <class T, class = void>
struct transfer_traits;

/// True when T (without cv-qualifiers and references) can cross a process boundary.
template <class T>
inline constexpr bool is_transferable_v = transfer_traits<std::remove_cvref_t<T>>::value;

namespace detail {

template <class T>
concept has_fields = requires {
  concurry_fields(static_cast<const T*>(nullptr));
};

/// T has a `concurry_encode`/`concurry_decode` pair, found by argument-dependent lookup.
template <class T>
concept has_custom_codec = requires(encoder& e, decoder& d, const T& in, T& out) {
  concurry_encode(e, in);
  concurry_decode(d, out);
};

template <class Tuple>
struct fields_transferable;

template <class... Ptrs>
struct fields_transferable<std::tuple<Ptrs...>> {
  template <class P>
  struct member;
  template <class C, class M>
  struct member<M C::*> {
    using type = M;
  };
  static constexpr bool value = (is_transferable_v<typename member<Ptrs>::type> && ...);
};

template <class T>
constexpr bool fields_transferable_v() {
  if constexpr (has_fields<T>)
    return fields_transferable<decltype(concurry_fields(static_cast<const T*>(nullptr)))>::value;
  else
    return false;
}

} // namespace detail

template <class T, class>
struct transfer_traits
    : std::bool_constant<std::is_arithmetic_v<T> || std::is_enum_v<T> ||
                         detail::has_custom_codec<T> || detail::fields_transferable_v<T>()> {};

template <>
struct transfer_traits<void> : std::true_type {};
template <>
struct transfer_traits<std::byte> : std::true_type {};
template <>
struct transfer_traits<std::string> : std::true_type {};
template <>
struct transfer_traits<std::monostate> : std::true_type {};
template <class R, class P>
struct transfer_traits<std::chrono::duration<R, P>> : std::true_type {};
template <class T, class A>
struct transfer_traits<std::vector<T, A>> : std::bool_constant<is_transferable_v<T>> {};
template <class T, class A>
struct transfer_traits<std::deque<T, A>> : std::bool_constant<is_transferable_v<T>> {};
template <class T, class A>
struct transfer_traits<std::list<T, A>> : std::bool_constant<is_transferable_v<T>> {};
template <class T, std::size_t N>
struct transfer_traits<std::array<T, N>> : std::bool_constant<is_transferable_v<T>> {};
template <class T, class C, class A>
struct transfer_traits<std::set<T, C, A>> : std::bool_constant<is_transferable_v<T>> {};
template <class T, class H, class E, class A>
struct transfer_traits<std::unordered_set<T, H, E, A>> : std::bool_constant<is_transferable_v<T>> {
};
template <class K, class V, class C, class A>
struct transfer_traits<std::map<K, V, C, A>>
    : std::bool_constant<is_transferable_v<K> && is_transferable_v<V>> {};
template <class K, class V, class H, class E, class A>
struct transfer_traits<std::unordered_map<K, V, H, E, A>>
    : std::bool_constant<is_transferable_v<K> && is_transferable_v<V>> {};
template <class T>
struct transfer_traits<std::optional<T>> : std::bool_constant<is_transferable_v<T>> {};
template <class A, class B>
struct transfer_traits<std::pair<A, B>>
    : std::bool_constant<is_transferable_v<A> && is_transferable_v<B>> {};
template <class... Ts>
struct transfer_traits<std::tuple<Ts...>> : std::bool_constant<(is_transferable_v<Ts> && ...)> {};
template <class... Ts>
struct transfer_traits<std::variant<Ts...>> : std::bool_constant<(is_transferable_v<Ts> && ...)> {};

} // namespace concurry

/// Makes a struct or class transferable by naming its fields (all of them that carry state).
/// Write it in the namespace of the type, after its definition. Every field must be
/// transferable itself.
#define CONCURRY_TYPE(type, ...)                                                                   \
  [[maybe_unused]] inline constexpr auto concurry_fields(const type*) noexcept {                   \
    return ::std::make_tuple(                                                                      \
        CONCURRY_DETAIL_FOR_EACH(CONCURRY_DETAIL_MEMBER_PTR, type, __VA_ARGS__));                  \
  }
