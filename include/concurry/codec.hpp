// The value codec: how the arguments and results of calls become bytes when they cross a process
// boundary, and how those bytes become values again. Every transferable type (transfer.hpp) has
// an encoding; threads and sync mode never use it.
//
// A user type gets its encoding from CONCURRY_TYPE (its fields, in the order listed), or from a
// pair of functions beside it, found by argument-dependent lookup:
//
//     struct money { std::int64_t cents = 0; std::string currency; };
//     void concurry_encode(concurry::encoder& e, const money& m) {
//       e.write(m.cents);
//       e.write(m.currency);
//     }
//     void concurry_decode(concurry::decoder& d, money& m) {
//       d.read(m.cents);
//       d.read(m.currency);
//     }
//
// The byte layout is written down in net/schema/call.capnp, as the layout of its `Data` fields
// that carry values. Decoding treats its input as untrusted: sizes are checked against the bytes
// that remain and against a memory limit before anything is allocated, and anything but a
// well-formed encoding throws codec_error.
/// \file
/// The value codec: concurry::encode, concurry::decode, the encoder and decoder that user types'
/// `concurry_encode`/`concurry_decode` functions receive, and codec_error.
#pragma once

#include <concurry/error.hpp>
#include <concurry/transfer.hpp>

#include <algorithm>
#include <array>
#include <bit>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <exception>
#include <limits>
#include <list>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

namespace concurry {

/// Bytes that are not the encoding of the expected type, or a value that has no encoding.
///
/// Decoding throws it for truncated input, a size larger than the bytes that remain, a bool or
/// optional flag other than 0 or 1, a variant index out of range, a duplicate key in a set or
/// map, bytes left over after the value, user types nested deeper than decoder::max_depth, a
/// value that would need more memory than the decoder's limit, and for any exception thrown by a
/// user type's `concurry_decode` (its message is kept). Encoding throws it for a variant that is
/// valueless by exception and a user type whose encoding exceeds 4 GiB.
class codec_error : public error {
public:
  using error::error;
};

namespace detail {
template <class T>
struct value_codec;
template <class C, std::size_t Overhead>
struct sequence_codec;
template <class C>
struct set_codec;
template <class C>
struct map_codec;
} // namespace detail

/// Appends the encoding of values to a byte buffer. A user type's `concurry_encode(encoder&,
/// const T&)` receives one and writes the type's state with write(); nothing else is needed.
/// Not thread-safe; one encoder builds one buffer.
class encoder {
public:
  /// An encoder with an empty buffer.
  encoder() = default;

  /// Appends the encoding of `value`; a compile error for a type that is not transferable.
  /// Throws codec_error for a value without an encoding (see codec_error).
  template <class T>
  void write(const T& value) {
    static_assert(is_transferable_v<T>,
                  "concurry: this type cannot cross a process boundary; give it CONCURRY_TYPE or "
                  "a concurry_encode/concurry_decode pair");
    detail::value_codec<std::remove_cvref_t<T>>::encode(*this, value);
  }

  /// Makes room for `n` more bytes without writing them, to save reallocations.
  void reserve(std::size_t n) { out_.reserve(out_.size() + n); }

  /// The bytes written so far.
  [[nodiscard]] const std::vector<std::byte>& bytes() const noexcept { return out_; }

  /// Hands over the bytes written so far and leaves the encoder empty.
  [[nodiscard]] std::vector<std::byte> take() noexcept { return std::exchange(out_, {}); }

private:
  template <class>
  friend struct detail::value_codec;
  template <class, std::size_t>
  friend struct detail::sequence_codec;
  template <class>
  friend struct detail::set_codec;
  template <class>
  friend struct detail::map_codec;

  void write_raw(const void* data, std::size_t n) {
    if (n == 0)
      return;
    auto* p = static_cast<const std::byte*>(data);
    out_.insert(out_.end(), p, p + n);
  }

  // A fixed-width value in little-endian byte order.
  template <class T>
  void write_fixed(const T& value) {
    std::byte buffer[sizeof(T)];
    std::memcpy(buffer, &value, sizeof(T));
    if constexpr (std::is_same_v<T, long double> && std::numeric_limits<long double>::digits == 64)
      std::fill(buffer + 10, buffer + sizeof(T), std::byte{0}); // x87: 10 bytes, then padding
    if constexpr (std::endian::native == std::endian::big)
      std::reverse(buffer, buffer + sizeof(T));
    write_raw(buffer, sizeof(T));
  }

  // An unsigned LEB128 number: seven bits per byte, least significant first, high bit set on
  // every byte but the last.
  void write_size(std::uint64_t n) {
    std::byte buffer[10];
    std::size_t used = 0;
    do {
      auto low = static_cast<std::uint8_t>(n & 0x7f);
      n >>= 7;
      buffer[used++] = std::byte{static_cast<std::uint8_t>(n != 0 ? low | 0x80 : low)};
    } while (n != 0);
    write_raw(buffer, used);
  }

  std::vector<std::byte> out_;
};

/// Reads values back from bytes that an encoder wrote, treating them as untrusted. A user type's
/// `concurry_decode(decoder&, T&)` receives one and reads the type's state with read(), in the
/// order its `concurry_encode` wrote it.
///
/// Every read checks the bytes that remain; every container checks its size against them and
/// against a memory limit before it allocates. After a codec_error the decoder is spent.
class decoder {
public:
  /// How deep user types with their own `concurry_decode` may nest inside each other (a tree
  /// that decodes its children recursively, for example).
  static constexpr std::size_t max_depth = 128;

  /// The memory limit a decoder gets by default for `input_bytes` of input: 64 MiB plus 64 times
  /// the input, enough for any value an encoder produces except containers of very large
  /// elements that encode to a byte or two each.
  [[nodiscard]] static constexpr std::size_t
  default_memory_limit(std::size_t input_bytes) noexcept {
    constexpr std::size_t base = std::size_t{64} << 20;
    constexpr std::size_t most = std::numeric_limits<std::size_t>::max();
    return input_bytes > (most - base) / 64 ? most : base + 64 * input_bytes;
  }

  /// Reads from `bytes`, which must outlive the decoder, with the default memory limit.
  explicit decoder(std::span<const std::byte> bytes) noexcept
      : decoder{bytes, default_memory_limit(bytes.size())} {}

  /// Reads from `bytes`, which must outlive the decoder; the values decoded may take at most
  /// about `memory_limit` bytes of memory (counted from their sizes before allocation).
  decoder(std::span<const std::byte> bytes, std::size_t memory_limit) noexcept
      : data_{bytes.data()}, end_{bytes.size()}, memory_left_{memory_limit} {}

  /// Replaces `out` with the next value; throws codec_error when the bytes are not an encoding
  /// of T. A compile error for a type that is not transferable.
  template <class T>
  void read(T& out) {
    static_assert(!std::is_const_v<T>, "concurry: cannot decode into a const object");
    static_assert(is_transferable_v<T>,
                  "concurry: this type cannot cross a process boundary; give it CONCURRY_TYPE or "
                  "a concurry_encode/concurry_decode pair");
    detail::value_codec<T>::decode(*this, out);
  }

  /// Returns the next value, decoded into a value-initialised T.
  template <class T>
  [[nodiscard]] T read() {
    T value{};
    read(value);
    return value;
  }

  /// The bytes not read yet (within the current user type, inside `concurry_decode`).
  [[nodiscard]] std::size_t remaining() const noexcept { return end_ - pos_; }

  /// Throws codec_error when bytes remain: the input held more than the values read.
  void finish() const {
    if (pos_ != end_)
      fail(std::to_string(end_ - pos_) + " bytes are left over after the value");
  }

private:
  template <class>
  friend struct detail::value_codec;
  template <class, std::size_t>
  friend struct detail::sequence_codec;
  template <class>
  friend struct detail::set_codec;
  template <class>
  friend struct detail::map_codec;

  /// Throws codec_error naming `what` and the offset reached.
  [[noreturn]] void fail(const std::string& what) const;

  const std::byte* read_raw(std::size_t n) {
    if (n > end_ - pos_)
      fail("the input ends early: " + std::to_string(n) + " bytes needed, " +
           std::to_string(end_ - pos_) + " left");
    const std::byte* p = data_ + pos_;
    pos_ += n;
    return p;
  }

  template <class T>
  T read_fixed() {
    std::byte buffer[sizeof(T)];
    std::memcpy(buffer, read_raw(sizeof(T)), sizeof(T));
    if constexpr (std::endian::native == std::endian::big)
      std::reverse(buffer, buffer + sizeof(T));
    T value;
    std::memcpy(&value, buffer, sizeof(T));
    return value;
  }

  std::uint64_t read_size() {
    std::uint64_t n = 0;
    for (unsigned shift = 0; shift < 70; shift += 7) {
      auto byte = std::to_integer<std::uint8_t>(*read_raw(1));
      if (shift == 63 && byte > 1)
        fail("a size does not fit in 64 bits");
      n |= std::uint64_t{byte & 0x7fu} << shift;
      if ((byte & 0x80) == 0)
        return n;
    }
    fail("a size does not fit in 64 bits");
  }

  // A container's element count, checked against the bytes left (each element takes at least
  // `min_element_bytes`) and charged to the memory limit before the caller allocates.
  std::size_t read_count(std::size_t min_element_bytes, std::size_t element_memory) {
    std::uint64_t n = read_size();
    if (min_element_bytes > 0 && n > remaining() / min_element_bytes)
      fail("a size of " + std::to_string(n) + " elements exceeds the " +
           std::to_string(remaining()) + " bytes left");
    charge(n, element_memory);
    return static_cast<std::size_t>(n);
  }

  void charge(std::uint64_t count, std::size_t element_memory) {
    element_memory = std::max<std::size_t>(element_memory, 1);
    if (count > memory_left_ / element_memory)
      fail("the value would take more memory than the decoder's limit");
    memory_left_ -= static_cast<std::size_t>(count) * element_memory;
  }

  const std::byte* data_;
  std::size_t pos_ = 0;
  std::size_t end_;
  std::size_t memory_left_;
  std::size_t depth_ = 0;
};

/// The encoding of `value` (layout: net/schema/call.capnp). Several values, such as the
/// arguments of a call, go in as one tuple: `encode(std::forward_as_tuple(a, b))` gives the same
/// bytes as encoding a `std::tuple<A, B>`. Throws codec_error for a value without an encoding.
template <class T>
[[nodiscard]] std::vector<std::byte> encode(const T& value) {
  encoder e;
  e.write(value);
  return e.take();
}

/// The value of type T that `bytes` encode, all of them. Throws codec_error for anything else,
/// never crashes and never allocates much more than the value needs (decoder). T must be
/// default-constructible.
template <class T>
[[nodiscard]] T decode(std::span<const std::byte> bytes) {
  decoder d{bytes};
  T value = d.read<T>();
  d.finish();
  return value;
}

namespace detail {

template <class T>
struct member_type;
template <class C, class M>
struct member_type<M C::*> {
  using type = M;
};

// Arithmetic types (bool and long double aside) and enums over them whose encoding is their
// memory: containers of them are copied in one block.
template <class T>
constexpr bool is_block_copyable() {
  if constexpr (std::endian::native != std::endian::little)
    return false;
  else if constexpr (std::is_enum_v<T>)
    return is_block_copyable<std::underlying_type_t<T>>();
  else
    return std::is_arithmetic_v<T> && !std::is_same_v<T, bool> && !std::is_same_v<T, long double>;
}

// Memory a node-based container (list, set, map, unordered ones) spends per element beyond the
// element itself, as the decoder's memory limit counts it.
inline constexpr std::size_t node_overhead = 32;

template <class T>
constexpr std::size_t fields_min_size() {
  using fields = decltype(concurry_fields(static_cast<const T*>(nullptr)));
  return []<class... P>(std::tuple<P...>*) {
    return (std::size_t{0} + ... + value_codec<typename member_type<P>::type>::min_size);
  }(static_cast<fields*>(nullptr));
}

// The codecs of arithmetic types, enums, user types and CONCURRY_TYPE structs; the standard
// templates have specialisations below. `min_size` is the fewest bytes an encoding takes.
template <class T>
struct value_codec {
  static_assert(is_transferable_v<T>,
                "concurry: this type cannot cross a process boundary; give it CONCURRY_TYPE or a "
                "concurry_encode/concurry_decode pair");

  static constexpr std::size_t min_size = [] {
    if constexpr (has_custom_codec<T>)
      return std::size_t{4};
    else if constexpr (std::is_enum_v<T>)
      return sizeof(std::underlying_type_t<T>);
    else if constexpr (std::is_arithmetic_v<T>)
      return sizeof(T);
    else
      return fields_min_size<T>();
  }();

  static void encode(encoder& e, const T& value) {
    if constexpr (has_custom_codec<T>) {
      encode_custom(e, value);
    } else if constexpr (std::is_same_v<T, bool>) {
      e.write_fixed(std::uint8_t{value ? std::uint8_t{1} : std::uint8_t{0}});
    } else if constexpr (std::is_enum_v<T>) {
      using U = std::underlying_type_t<T>;
      value_codec<U>::encode(e, static_cast<U>(value));
    } else if constexpr (std::is_arithmetic_v<T>) {
      e.write_fixed(value);
    } else {
      std::apply([&](auto... field) { (e.write(value.*field), ...); },
                 concurry_fields(static_cast<const T*>(nullptr)));
    }
  }

  static void decode(decoder& d, T& out) {
    if constexpr (has_custom_codec<T>) {
      decode_custom(d, out);
    } else if constexpr (std::is_same_v<T, bool>) {
      auto flag = d.read_fixed<std::uint8_t>();
      if (flag > 1)
        d.fail("a bool is " + std::to_string(flag) + ", not 0 or 1");
      out = flag == 1;
    } else if constexpr (std::is_enum_v<T>) {
      std::underlying_type_t<T> raw{};
      value_codec<std::underlying_type_t<T>>::decode(d, raw);
      out = static_cast<T>(raw);
    } else if constexpr (std::is_arithmetic_v<T>) {
      out = d.read_fixed<T>();
    } else {
      std::apply([&](auto... field) { (d.read(out.*field), ...); },
                 concurry_fields(static_cast<const T*>(nullptr)));
    }
  }

  // A user type's bytes follow their count as a 4-byte little-endian number, so its decoder
  // reads exactly what its encoder wrote and cannot run into the next value.
  static void encode_custom(encoder& e, const T& value) {
    std::size_t at = e.out_.size();
    e.write_fixed(std::uint32_t{0});
    concurry_encode(e, value);
    std::size_t written = e.out_.size() - at - 4;
    if (written > std::numeric_limits<std::uint32_t>::max())
      throw codec_error{"concurry codec: a user type's encoding exceeds 4 GiB"};
    auto n = static_cast<std::uint32_t>(written);
    for (std::size_t i = 0; i < 4; ++i)
      e.out_[at + i] = std::byte{static_cast<std::uint8_t>(n >> (8 * i))};
  }

  static void decode_custom(decoder& d, T& out) {
    auto n = d.read_fixed<std::uint32_t>();
    if (n > d.remaining())
      d.fail("a user type of " + std::to_string(n) + " bytes exceeds the " +
             std::to_string(d.remaining()) + " bytes left");
    if (d.depth_ == decoder::max_depth)
      d.fail("user types nest deeper than " + std::to_string(decoder::max_depth));
    std::size_t outer_end = d.end_;
    d.end_ = d.pos_ + n;
    ++d.depth_;
    try {
      concurry_decode(d, out);
    } catch (const codec_error&) {
      throw;
    } catch (const std::exception& e) {
      d.fail(std::string{"a user type's concurry_decode threw: "} + e.what());
    }
    if (d.pos_ != d.end_)
      d.fail("a user type's concurry_decode read " + std::to_string(n - (d.end_ - d.pos_)) +
             " of its " + std::to_string(n) + " bytes");
    --d.depth_;
    d.end_ = outer_end;
  }
};

template <>
struct value_codec<std::string> {
  static constexpr std::size_t min_size = 1;
  static void encode(encoder& e, const std::string& s) {
    e.write_size(s.size());
    e.write_raw(s.data(), s.size());
  }
  static void decode(decoder& d, std::string& out) {
    std::size_t n = d.read_count(1, 1);
    out.assign(reinterpret_cast<const char*>(d.read_raw(n)), n);
  }
};

template <>
struct value_codec<std::monostate> {
  static constexpr std::size_t min_size = 0;
  static void encode(encoder&, const std::monostate&) {}
  static void decode(decoder&, std::monostate&) {}
};

template <class R, class P>
struct value_codec<std::chrono::duration<R, P>> {
  static constexpr std::size_t min_size = value_codec<R>::min_size;
  static void encode(encoder& e, const std::chrono::duration<R, P>& value) {
    value_codec<R>::encode(e, value.count());
  }
  static void decode(decoder& d, std::chrono::duration<R, P>& out) {
    R count{};
    value_codec<R>::decode(d, count);
    out = std::chrono::duration<R, P>{count};
  }
};

template <class T, class A>
struct value_codec<std::vector<T, A>> {
  static constexpr std::size_t min_size = 1;
  static void encode(encoder& e, const std::vector<T, A>& v) {
    e.write_size(v.size());
    if constexpr (is_block_copyable<T>())
      e.write_raw(v.data(), v.size() * sizeof(T));
    else
      for (const auto& x : v)
        value_codec<T>::encode(e, x);
  }
  static void decode(decoder& d, std::vector<T, A>& out) {
    std::size_t n = d.read_count(value_codec<T>::min_size, sizeof(T));
    out.clear();
    if constexpr (is_block_copyable<T>()) {
      const std::byte* p = d.read_raw(n * sizeof(T));
      out.resize(n);
      if (n > 0)
        std::memcpy(out.data(), p, n * sizeof(T));
    } else {
      out.reserve(n);
      for (std::size_t i = 0; i < n; ++i) {
        if constexpr (std::is_same_v<T, bool>) {
          bool x = false;
          value_codec<bool>::decode(d, x);
          out.push_back(x);
        } else {
          value_codec<T>::decode(d, out.emplace_back());
        }
      }
    }
  }
};

template <class T, std::size_t N>
struct value_codec<std::array<T, N>> {
  static constexpr std::size_t min_size = N * value_codec<T>::min_size;
  static void encode(encoder& e, const std::array<T, N>& a) {
    if constexpr (is_block_copyable<T>())
      e.write_raw(a.data(), N * sizeof(T));
    else
      for (const auto& x : a)
        value_codec<T>::encode(e, x);
  }
  static void decode(decoder& d, std::array<T, N>& out) {
    if constexpr (is_block_copyable<T>() && N > 0)
      std::memcpy(out.data(), d.read_raw(N * sizeof(T)), N * sizeof(T));
    else
      for (auto& x : out)
        value_codec<T>::decode(d, x);
  }
};

// std::deque and std::list: a count, then the elements.
template <class C, std::size_t Overhead>
struct sequence_codec {
  using T = typename C::value_type;
  static constexpr std::size_t min_size = 1;
  static void encode(encoder& e, const C& c) {
    e.write_size(c.size());
    for (const auto& x : c)
      value_codec<T>::encode(e, x);
  }
  static void decode(decoder& d, C& out) {
    std::size_t n = d.read_count(value_codec<T>::min_size, sizeof(T) + Overhead);
    out.clear();
    for (std::size_t i = 0; i < n; ++i)
      value_codec<T>::decode(d, out.emplace_back());
  }
};

template <class T, class A>
struct value_codec<std::deque<T, A>> : sequence_codec<std::deque<T, A>, 0> {};
template <class T, class A>
struct value_codec<std::list<T, A>> : sequence_codec<std::list<T, A>, node_overhead> {};

// Sets: a count, then the elements in the container's order; a duplicate is an error.
template <class C>
struct set_codec {
  using K = typename C::key_type;
  static constexpr std::size_t min_size = 1;
  static void encode(encoder& e, const C& c) {
    e.write_size(c.size());
    for (const auto& x : c)
      value_codec<K>::encode(e, x);
  }
  static void decode(decoder& d, C& out) {
    std::size_t n = d.read_count(value_codec<K>::min_size, sizeof(K) + node_overhead);
    out.clear();
    for (std::size_t i = 0; i < n; ++i) {
      K key{};
      value_codec<K>::decode(d, key);
      if (!out.insert(std::move(key)).second)
        d.fail("a set holds the same element twice");
    }
  }
};

template <class T, class C, class A>
struct value_codec<std::set<T, C, A>> : set_codec<std::set<T, C, A>> {};
template <class T, class H, class E, class A>
struct value_codec<std::unordered_set<T, H, E, A>> : set_codec<std::unordered_set<T, H, E, A>> {};

// Maps: a count, then each key followed by its value; a duplicate key is an error.
template <class C>
struct map_codec {
  using K = typename C::key_type;
  using V = typename C::mapped_type;
  static constexpr std::size_t min_size = 1;
  static void encode(encoder& e, const C& c) {
    e.write_size(c.size());
    for (const auto& [key, value] : c) {
      value_codec<K>::encode(e, key);
      value_codec<V>::encode(e, value);
    }
  }
  static void decode(decoder& d, C& out) {
    std::size_t n = d.read_count(value_codec<K>::min_size + value_codec<V>::min_size,
                                 sizeof(K) + sizeof(V) + node_overhead);
    out.clear();
    for (std::size_t i = 0; i < n; ++i) {
      K key{};
      value_codec<K>::decode(d, key);
      V value{};
      value_codec<V>::decode(d, value);
      if (!out.emplace(std::move(key), std::move(value)).second)
        d.fail("a map holds the same key twice");
    }
  }
};

template <class K, class V, class C, class A>
struct value_codec<std::map<K, V, C, A>> : map_codec<std::map<K, V, C, A>> {};
template <class K, class V, class H, class E, class A>
struct value_codec<std::unordered_map<K, V, H, E, A>>
    : map_codec<std::unordered_map<K, V, H, E, A>> {};

template <class T>
struct value_codec<std::optional<T>> {
  static constexpr std::size_t min_size = 1;
  static void encode(encoder& e, const std::optional<T>& v) {
    e.write_fixed(std::uint8_t{v ? std::uint8_t{1} : std::uint8_t{0}});
    if (v)
      value_codec<T>::encode(e, *v);
  }
  static void decode(decoder& d, std::optional<T>& out) {
    auto flag = d.read_fixed<std::uint8_t>();
    if (flag > 1)
      d.fail("an optional's flag is " + std::to_string(flag) + ", not 0 or 1");
    if (flag == 0) {
      out.reset();
      return;
    }
    value_codec<T>::decode(d, out.emplace());
  }
};

template <class A, class B>
struct value_codec<std::pair<A, B>> {
  static constexpr std::size_t min_size = value_codec<A>::min_size + value_codec<B>::min_size;
  static void encode(encoder& e, const std::pair<A, B>& p) {
    value_codec<A>::encode(e, p.first);
    value_codec<B>::encode(e, p.second);
  }
  static void decode(decoder& d, std::pair<A, B>& out) {
    value_codec<A>::decode(d, out.first);
    value_codec<B>::decode(d, out.second);
  }
};

// Tuples may hold references when encoded (std::forward_as_tuple), not when decoded.
template <class... Ts>
struct value_codec<std::tuple<Ts...>> {
  static constexpr std::size_t min_size =
      (std::size_t{0} + ... + value_codec<std::remove_cvref_t<Ts>>::min_size);
  static void encode(encoder& e, const std::tuple<Ts...>& t) {
    std::apply(
        [&](const auto&... x) {
          (value_codec<std::remove_cvref_t<decltype(x)>>::encode(e, x), ...);
        },
        t);
  }
  static void decode(decoder& d, std::tuple<Ts...>& out) {
    static_assert((!std::is_reference_v<Ts> && ...),
                  "concurry: cannot decode into a tuple of references");
    std::apply([&](auto&... x) { (value_codec<Ts>::decode(d, x), ...); }, out);
  }
};

// Variants: the index of the alternative as a size, then the alternative.
template <class... Ts>
struct value_codec<std::variant<Ts...>> {
  static constexpr std::size_t min_size = 1;
  static void encode(encoder& e, const std::variant<Ts...>& v) {
    if (v.valueless_by_exception())
      throw codec_error{"concurry codec: a variant is valueless by exception"};
    e.write_size(v.index());
    std::visit([&](const auto& x) { value_codec<std::remove_cvref_t<decltype(x)>>::encode(e, x); },
               v);
  }
  static void decode(decoder& d, std::variant<Ts...>& out) {
    std::uint64_t index = d.read_size();
    if (index >= sizeof...(Ts))
      d.fail("a variant's index is " + std::to_string(index) + " of " +
             std::to_string(sizeof...(Ts)) + " alternatives");
    decode_alternative(d, out, static_cast<std::size_t>(index), std::index_sequence_for<Ts...>{});
  }
  template <std::size_t... I>
  static void decode_alternative(decoder& d,
                                 std::variant<Ts...>& out,
                                 std::size_t index,
                                 std::index_sequence<I...>) {
    auto decode_at = [&]<std::size_t J>(std::integral_constant<std::size_t, J>) {
      using X = std::variant_alternative_t<J, std::variant<Ts...>>;
      value_codec<X>::decode(d, out.template emplace<J>());
    };
    ((index == I ? (decode_at(std::integral_constant<std::size_t, I>{}), true) : false) || ...);
  }
};

} // namespace detail
} // namespace concurry
