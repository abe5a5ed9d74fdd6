// The value codec (concurry/codec.hpp), the exception registry (concurry/exceptions.hpp) and the
// call messages between a client and a worker host (net/call_messages.hpp): round trips, the
// documented byte layout, and untrusted input that must only ever throw codec_error.
#include "net/call_messages.hpp"

#include <concurry/codec.hpp>
#include <concurry/exceptions.hpp>

#include <doctest/doctest.h>

#include <array>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <deque>
#include <limits>
#include <list>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <variant>
#include <vector>

namespace shop {

struct point {
  double x = 0;
  double y = 0;
  bool operator==(const point&) const = default;
};
CONCURRY_TYPE(point, x, y)

struct route {
  std::string name;
  std::vector<point> stops;
  std::optional<point> depot;
  bool operator==(const route&) const = default;
};
CONCURRY_TYPE(route, name, stops, depot)

// A user type with its own codec.
struct money {
  std::int64_t cents = 0;
  std::string currency;
  bool operator==(const money&) const = default;
};
void concurry_encode(concurry::encoder& e, const money& m) {
  e.write(m.cents);
  e.write(m.currency);
}
void concurry_decode(concurry::decoder& d, money& m) {
  d.read(m.cents);
  d.read(m.currency);
}

// A recursive user type: its codec recurses through its children.
struct tree {
  int value = 0;
  std::vector<tree> children;
  bool operator==(const tree&) const = default;
};
void concurry_encode(concurry::encoder& e, const tree& t);
void concurry_decode(concurry::decoder& d, tree& t);
void concurry_encode(concurry::encoder& e, const tree& t) {
  e.write(t.value);
  e.write(t.children);
}
void concurry_decode(concurry::decoder& d, tree& t) {
  d.read(t.value);
  d.read(t.children);
}

// A codec whose decoder reads less than its encoder wrote.
struct sloppy {
  int a = 0;
};
void concurry_encode(concurry::encoder& e, const sloppy& s) {
  e.write(s.a);
  e.write(s.a);
}
void concurry_decode(concurry::decoder& d, sloppy& s) {
  d.read(s.a);
}

// A codec whose decoder validates and throws its own exception.
struct percent {
  int value = 0;
};
void concurry_encode(concurry::encoder& e, const percent& p) {
  e.write(p.value);
}
void concurry_decode(concurry::decoder& d, percent& p) {
  d.read(p.value);
  if (p.value < 0 || p.value > 100)
    throw std::out_of_range{"a percentage above 100"};
}

enum class colour : std::uint8_t { red, green, blue };
enum legacy { first = -5, second = 70000 };

// Exceptions for the registry.
struct quota_exceeded : std::runtime_error {
  using std::runtime_error::runtime_error;
};
CONCURRY_EXCEPTION(quota_exceeded)

struct http_error : std::runtime_error {
  http_error(int status, const std::string& message)
      : std::runtime_error{message}, status_code{status} {}
  int status_code;
};
CONCURRY_EXCEPTION(http_error, [](const std::string& m) { return http_error{500, m}; })

struct unregistered_failure : std::logic_error {
  using std::logic_error::logic_error;
};

struct derived_quota : quota_exceeded {
  using quota_exceeded::quota_exceeded;
};

} // namespace shop

static_assert(concurry::is_transferable_v<shop::money>);
static_assert(concurry::is_transferable_v<std::vector<shop::tree>>);
static_assert(concurry::is_transferable_v<std::map<std::string, shop::money>>);

namespace {

using bytes = std::vector<std::byte>;

template <class T>
T round_trip(const T& value) {
  return concurry::decode<T>(concurry::encode(value));
}

bytes of(std::initializer_list<int> values) {
  bytes out;
  for (int v : values)
    out.push_back(static_cast<std::byte>(v));
  return out;
}

// Decodes and drops the value, for checks that expect an exception.
template <class T>
void decode_only(const bytes& input) {
  (void)concurry::decode<T>(input);
}

template <class T>
bool bitwise_equal(const T& a, const T& b) {
  return std::memcmp(&a, &b, sizeof(T)) == 0;
}

// Decoding `input` as T either succeeds or throws codec_error; anything else fails the test.
template <class T>
bool decodes_or_throws_codec_error(const bytes& input) {
  try {
    (void)concurry::decode<T>(input);
    return true;
  } catch (const concurry::codec_error&) {
    return true;
  } catch (...) {
    return false;
  }
}

using nested =
    std::map<std::string,
             std::vector<std::optional<std::tuple<int, std::variant<double, std::string>>>>>;

nested sample_nested() {
  return {{"a", {std::nullopt, std::tuple{1, std::variant<double, std::string>{2.5}}}},
          {"b", {std::tuple{-7, std::variant<double, std::string>{"seven"}}}},
          {"", {}}};
}

} // namespace

TEST_SUITE_BEGIN("codec");

TEST_CASE("integers of every width round-trip at their limits") {
  CHECK(round_trip(std::numeric_limits<std::int8_t>::min()) == -128);
  CHECK(round_trip(std::numeric_limits<std::uint16_t>::max()) == 65535);
  CHECK(round_trip(std::numeric_limits<std::int32_t>::min()) ==
        std::numeric_limits<std::int32_t>::min());
  CHECK(round_trip(std::numeric_limits<std::uint64_t>::max()) ==
        std::numeric_limits<std::uint64_t>::max());
  CHECK(round_trip(std::numeric_limits<long long>::min()) == std::numeric_limits<long long>::min());
  CHECK(round_trip('x') == 'x');
  CHECK(round_trip(U'\U0001F600') == U'\U0001F600');
  CHECK(round_trip(std::byte{0xab}) == std::byte{0xab});
}

TEST_CASE("floating point round-trips bit for bit with NaN payloads and negative zero") {
  double payload_nan = std::bit_cast<double>(std::uint64_t{0x7ff4000000abcdefULL});
  double negative_nan = std::bit_cast<double>(std::uint64_t{0xfff8000000000123ULL});
  for (double v : {0.0,
                   -0.0,
                   1.0 / 3,
                   -1e308,
                   5e-324,
                   payload_nan,
                   negative_nan,
                   std::numeric_limits<double>::infinity()})
    CHECK(bitwise_equal(round_trip(v), v));
  float f = std::bit_cast<float>(std::uint32_t{0x7fa00001u});
  CHECK(bitwise_equal(round_trip(f), f));
  CHECK(std::signbit(round_trip(-0.0f)));
  CHECK(round_trip(1.0L / 3) == 1.0L / 3);
}

TEST_CASE("bools and enums round-trip") {
  CHECK(round_trip(true));
  CHECK_FALSE(round_trip(false));
  CHECK(round_trip(shop::colour::blue) == shop::colour::blue);
  CHECK(round_trip(shop::first) == shop::first);
  CHECK(round_trip(shop::second) == shop::second);
}

TEST_CASE("strings round-trip with NUL bytes and at length") {
  CHECK(round_trip(std::string{}).empty());
  std::string with_nul{"a\0b", 3};
  CHECK(round_trip(with_nul) == with_nul);
  std::string long_one(100000, 'z');
  CHECK(round_trip(long_one) == long_one);
}

TEST_CASE("standard containers round-trip") {
  CHECK(round_trip(std::vector<int>{1, -2, 3}) == std::vector<int>{1, -2, 3});
  CHECK(round_trip(std::vector<bool>{true, false, true}) == std::vector<bool>{true, false, true});
  CHECK(round_trip(std::vector<std::string>{"x", "", "yz"}) ==
        std::vector<std::string>{"x", "", "yz"});
  CHECK(round_trip(std::deque<short>{4, 5}) == std::deque<short>{4, 5});
  CHECK(round_trip(std::list<std::string>{"l", "m"}) == std::list<std::string>{"l", "m"});
  CHECK(round_trip(std::array<double, 3>{1, 2, 3}) == std::array<double, 3>{1, 2, 3});
  CHECK(round_trip(std::array<std::string, 2>{"p", "q"}) == std::array<std::string, 2>{"p", "q"});
  CHECK(round_trip(std::set<int>{3, 1, 2}) == std::set<int>{1, 2, 3});
  CHECK(round_trip(std::unordered_set<std::string>{"u", "v"}) ==
        std::unordered_set<std::string>{"u", "v"});
  CHECK(round_trip(std::map<int, std::string>{{1, "one"}, {2, "two"}}) ==
        std::map<int, std::string>{{1, "one"}, {2, "two"}});
  CHECK(round_trip(std::unordered_map<std::string, double>{{"pi", 3.14}}) ==
        std::unordered_map<std::string, double>{{"pi", 3.14}});
}

TEST_CASE("std::optional/pair/tuple/variant and durations round-trip") {
  CHECK(round_trip(std::optional<int>{}) == std::nullopt);
  CHECK(round_trip(std::optional<std::string>{"set"}) == "set");
  CHECK(round_trip(std::pair<int, std::string>{4, "four"}) ==
        std::pair<int, std::string>{4, "four"});
  CHECK(round_trip(std::tuple<>{}) == std::tuple<>{});
  CHECK(round_trip(std::tuple<char, double, std::string>{'c', 0.5, "s"}) ==
        std::tuple<char, double, std::string>{'c', 0.5, "s"});
  using alternatives = std::variant<std::monostate, int, std::string>;
  CHECK(round_trip(alternatives{}) == alternatives{});
  CHECK(round_trip(alternatives{"text"}) == alternatives{"text"});
  CHECK(round_trip(std::chrono::milliseconds{1500}) == std::chrono::milliseconds{1500});
  CHECK(round_trip(std::chrono::duration<double>{0.25}) == std::chrono::duration<double>{0.25});
}

TEST_CASE("nested standard types round-trip") {
  CHECK(round_trip(sample_nested()) == sample_nested());
}

TEST_CASE("CONCURRY_TYPE structs round-trip through their fields also when nested") {
  shop::route r{"loop", {{1, 2}, {3, 4}}, shop::point{0, -0.5}};
  CHECK(round_trip(r) == r);
  std::map<std::string, std::vector<shop::route>> routes{{"north", {r, shop::route{}}}};
  CHECK(round_trip(routes) == routes);
}

TEST_CASE("a user type with concurry_encode and concurry_decode round-trips") {
  shop::money m{1999, "EUR"};
  CHECK(round_trip(m) == m);
  std::vector<std::optional<shop::money>> wallet{m, std::nullopt, shop::money{-5, "CHF"}};
  CHECK(round_trip(wallet) == wallet);
}

TEST_CASE("a recursive user type round-trips") {
  shop::tree t{1, {{2, {}}, {3, {{4, {}}}}}};
  CHECK(round_trip(t) == t);
}

TEST_CASE("a call's arguments encode as one tuple") {
  int count = 3;
  std::string label = "three";
  auto bytes_of_refs = concurry::encode(std::forward_as_tuple(count, label));
  CHECK(bytes_of_refs == concurry::encode(std::tuple<int, std::string>{3, "three"}));
  CHECK(concurry::decode<std::tuple<int, std::string>>(bytes_of_refs) ==
        std::tuple<int, std::string>{3, "three"});
}

TEST_CASE("the encoding follows the layout documented in call.capnp") {
  CHECK(concurry::encode(std::uint32_t{0x01020304}) == of({4, 3, 2, 1}));
  CHECK(concurry::encode(true) == of({1}));
  CHECK(concurry::encode(std::string{"ab"}) == of({2, 'a', 'b'}));
  CHECK(concurry::encode(std::vector<std::uint8_t>(300, 7)).size() == 2 + 300);
  CHECK(concurry::encode(std::vector<std::uint8_t>(300, 7))[0] == std::byte{0xac});
  CHECK(concurry::encode(std::vector<std::uint8_t>(300, 7))[1] == std::byte{0x02});
  CHECK(concurry::encode(std::optional<std::int16_t>{}) == of({0}));
  CHECK(concurry::encode(std::optional<std::int16_t>{-2}) == of({1, 0xfe, 0xff}));
  CHECK(concurry::encode(std::variant<int, std::uint8_t>{std::uint8_t{9}}) == of({1, 9}));
  CHECK(concurry::encode(std::map<std::uint8_t, bool>{{5, true}}) == of({1, 5, 1}));
  CHECK(concurry::encode(-0.0) == of({0, 0, 0, 0, 0, 0, 0, 0x80}));
  CHECK(concurry::encode(shop::point{}) == bytes(16, std::byte{0}));
  CHECK(concurry::encode(shop::money{1, ""}) == of({9, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0}));
}

TEST_CASE("a million doubles come back unchanged") {
  std::vector<double> values(1'000'000);
  std::mt19937_64 random{42};
  for (auto& v : values)
    v = std::bit_cast<double>(random());
  auto decoded = concurry::decode<std::vector<double>>(concurry::encode(values));
  REQUIRE(decoded.size() == values.size());
  CHECK(std::memcmp(decoded.data(), values.data(), values.size() * sizeof(double)) == 0);
}

TEST_CASE("every truncation of a valid encoding throws codec_error") {
  auto full = concurry::encode(sample_nested());
  for (std::size_t n = 0; n < full.size(); ++n)
    CHECK_THROWS_AS(decode_only<nested>(bytes(full.begin(), full.begin() + n)),
                    concurry::codec_error);
}

TEST_CASE("bytes left over after the value throw codec_error") {
  auto input = concurry::encode(7);
  input.push_back(std::byte{0});
  CHECK_THROWS_AS(decode_only<int>(input), concurry::codec_error);
}

TEST_CASE("sizes larger than the bytes that remain throw before allocating") {
  bytes huge = of({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f, 1, 2, 3});
  CHECK_THROWS_AS(decode_only<std::vector<double>>(huge), concurry::codec_error);
  CHECK_THROWS_AS(decode_only<std::string>(huge), concurry::codec_error);
  CHECK_THROWS_AS(decode_only<std::vector<std::string>>(huge), concurry::codec_error);
  CHECK_THROWS_AS((decode_only<std::map<int, int>>(huge)), concurry::codec_error);
  CHECK_THROWS_AS(decode_only<std::list<shop::money>>(huge), concurry::codec_error);
}

TEST_CASE("elements that take no bytes are bounded by the memory limit") {
  bytes huge = of({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f});
  CHECK_THROWS_AS(decode_only<std::vector<std::monostate>>(huge), concurry::codec_error);
  CHECK_THROWS_AS(decode_only<std::vector<std::tuple<>>>(huge), concurry::codec_error);
}

TEST_CASE("a decoder refuses values larger than its memory limit") {
  auto input = concurry::encode(std::vector<std::vector<int>>(100, std::vector<int>(100, 1)));
  concurry::decoder small{input, /*memory_limit=*/1000};
  CHECK_THROWS_AS(small.read<std::vector<std::vector<int>>>(), concurry::codec_error);
  concurry::decoder enough{input, /*memory_limit=*/100'000};
  CHECK(enough.read<std::vector<std::vector<int>>>().size() == 100);
}

TEST_CASE("an invalid flag or index or size or a duplicate throws codec_error") {
  CHECK_THROWS_AS(decode_only<bool>(of({2})), concurry::codec_error);
  CHECK_THROWS_AS(decode_only<std::optional<int>>(of({7, 0, 0, 0, 0})), concurry::codec_error);
  CHECK_THROWS_AS((decode_only<std::variant<int, char>>(of({2, 0}))), concurry::codec_error);
  CHECK_THROWS_AS(decode_only<std::set<std::uint8_t>>(of({2, 9, 9})), concurry::codec_error);
  CHECK_THROWS_AS((decode_only<std::map<std::uint8_t, bool>>(of({2, 1, 1, 1, 0}))),
                  concurry::codec_error);
  bytes eleven_byte_size(10, std::byte{0x80});
  eleven_byte_size.push_back(std::byte{0});
  CHECK_THROWS_AS(decode_only<std::string>(eleven_byte_size), concurry::codec_error);
}

TEST_CASE("a user type whose decoder reads less than its encoder wrote throws codec_error") {
  CHECK_THROWS_AS(decode_only<shop::sloppy>(concurry::encode(shop::sloppy{5})),
                  concurry::codec_error);
}

TEST_CASE("an exception from a user type's decoder becomes a codec_error with its message") {
  CHECK_THROWS_WITH_AS(decode_only<shop::percent>(concurry::encode(shop::percent{140})),
                       doctest::Contains("a percentage above 100"),
                       concurry::codec_error);
}

TEST_CASE("user types nested deeper than the decoder's limit throw codec_error") {
  auto chain = [](std::size_t depth) {
    shop::tree root;
    shop::tree* at = &root;
    for (std::size_t i = 1; i < depth; ++i)
      at = &at->children.emplace_back();
    return root;
  };
  CHECK(round_trip(chain(concurry::decoder::max_depth)) == chain(concurry::decoder::max_depth));
  CHECK_THROWS_AS(round_trip(chain(concurry::decoder::max_depth + 1)), concurry::codec_error);
}

TEST_CASE("random mutations of valid encodings only ever throw codec_error") {
  using value = std::tuple<nested,
                           std::vector<shop::route>,
                           shop::tree,
                           std::vector<shop::money>,
                           std::unordered_map<std::string, std::set<std::int16_t>>,
                           std::variant<std::monostate, std::vector<bool>, std::string>>;
  value v{sample_nested(),
          {shop::route{"r", {{1, 2}}, std::nullopt}},
          shop::tree{1, {{2, {}}}},
          {shop::money{3, "USD"}},
          {{"k", {1, -1}}},
          std::vector<bool>{true, false}};
  const auto valid = concurry::encode(v);
  std::mt19937 random{20240601};
  auto pick = [&](std::size_t n) {
    return std::uniform_int_distribution<std::size_t>{0, n - 1}(random);
  };
  std::size_t unexpected = 0;
  for (int i = 0; i < 20'000; ++i) {
    auto input = valid;
    for (int edits = 1 + static_cast<int>(pick(4)); edits > 0 && !input.empty(); --edits) {
      switch (pick(5)) {
      case 0:
        input[pick(input.size())] = static_cast<std::byte>(pick(256));
        break;
      case 1:
        input[pick(input.size())] ^= std::byte{0x80};
        break;
      case 2:
        input.erase(input.begin() + static_cast<std::ptrdiff_t>(pick(input.size())));
        break;
      case 3:
        input.insert(input.begin() + static_cast<std::ptrdiff_t>(pick(input.size())),
                     std::byte{0xff});
        break;
      default:
        input.resize(pick(input.size()));
        break;
      }
    }
    if (!decodes_or_throws_codec_error<value>(input))
      ++unexpected;
  }
  CHECK(unexpected == 0);
}

TEST_CASE("a registered standard exception is rebuilt as itself with its message") {
  auto info = concurry::describe_exception(std::make_exception_ptr(std::out_of_range{"index 9"}));
  CHECK(info.type_name == "std::out_of_range");
  CHECK(info.message == "index 9");
  CHECK(info.registered);
  CHECK_THROWS_WITH_AS(
      std::rethrow_exception(concurry::rebuild_exception(info)), "index 9", std::out_of_range);
}

TEST_CASE("concurry's own errors are registered") {
  auto info =
      concurry::describe_exception(std::make_exception_ptr(concurry::timeout_error{"late"}));
  CHECK(info.type_name == "concurry::timeout_error");
  CHECK_THROWS_WITH_AS(
      std::rethrow_exception(concurry::rebuild_exception(info)), "late", concurry::timeout_error);
  CHECK(concurry::is_exception_registered("concurry::codec_error"));
}

TEST_CASE("a type registered with CONCURRY_EXCEPTION crosses as itself") {
  auto info = concurry::describe_exception(std::make_exception_ptr(shop::quota_exceeded{"spent"}));
  CHECK(info.type_name == "shop::quota_exceeded");
  CHECK(info.registered);
  CHECK_THROWS_WITH_AS(
      std::rethrow_exception(concurry::rebuild_exception(info)), "spent", shop::quota_exceeded);
}

TEST_CASE("a type registered with a factory is rebuilt by it") {
  auto info = concurry::describe_exception(std::make_exception_ptr(shop::http_error{404, "gone"}));
  try {
    std::rethrow_exception(concurry::rebuild_exception(info));
  } catch (const shop::http_error& e) {
    CHECK(e.status_code == 500);
    CHECK(std::string{e.what()} == "gone");
  }
}

TEST_CASE("an unregistered type arrives as remote_error with its name and message") {
  auto info = concurry::describe_exception(
      std::make_exception_ptr(shop::unregistered_failure{"broken invariant"}));
  CHECK_FALSE(info.registered);
  try {
    std::rethrow_exception(concurry::rebuild_exception(info));
    FAIL("nothing was thrown");
  } catch (const concurry::remote_error& e) {
    CHECK(e.type_name() == "shop::unregistered_failure");
    CHECK(e.message() == "broken invariant");
    CHECK(std::string{e.what()} == "shop::unregistered_failure: broken invariant");
  }
}

TEST_CASE("a subclass of a registered type is not registered itself") {
  auto info = concurry::describe_exception(std::make_exception_ptr(shop::derived_quota{"x"}));
  CHECK(info.type_name == "shop::derived_quota");
  CHECK_FALSE(info.registered);
  CHECK_THROWS_AS(std::rethrow_exception(concurry::rebuild_exception(info)),
                  concurry::remote_error);
}

TEST_CASE("a remote_error passed on keeps the original name") {
  auto first = concurry::rebuild_exception({"app::boom", "bang", false});
  auto again = concurry::describe_exception(first);
  CHECK(again.type_name == "app::boom");
  CHECK(again.message == "bang");
  CHECK_FALSE(again.registered);
}

TEST_CASE("a registered name the sender did not register arrives as remote_error") {
  CHECK_THROWS_AS(
      std::rethrow_exception(concurry::rebuild_exception({"std::runtime_error", "m", false})),
      concurry::remote_error);
  CHECK_THROWS_AS(
      std::rethrow_exception(concurry::rebuild_exception({"app::only_there", "m", true})),
      concurry::remote_error);
}

TEST_CASE("a thrown object that is not a std::exception is described by its type") {
  auto info = concurry::describe_exception(std::make_exception_ptr(42));
  CHECK(info.type_name == "int");
  CHECK(info.message.empty());
  CHECK_FALSE(info.registered);
}

TEST_CASE("every message to a worker host survives encoding") {
  using namespace concurry::net;
  auto args = concurry::encode(std::tuple<int, std::string>{1, "a"});
  auto construct = std::get<construct_worker>(
      decode_to_host(encode(to_host{construct_worker{7, 2, "data_processor", args, 1 << 20}})));
  CHECK(construct.pool_id == 7);
  CHECK(construct.worker_index == 2);
  CHECK(construct.worker_type == "data_processor");
  CHECK(construct.arguments == args);
  CHECK(construct.max_message_size == 1 << 20);
  auto call = std::get<host_call>(
      decode_to_host(encode(to_host{host_call{11, 7, 2, 3, "process", 2, args, "square"}})));
  CHECK(call.call_id == 11);
  CHECK(call.task == "square");
  CHECK(call.method_index == 3);
  CHECK(call.method_name == "process");
  CHECK(call.attempt == 2);
  CHECK(call.arguments == args);
  CHECK(std::get<cancel_call>(decode_to_host(encode(to_host{cancel_call{11}}))).call_id == 11);
  CHECK(std::holds_alternative<stop_worker>(decode_to_host(encode(to_host{stop_worker{}}))));
}

TEST_CASE("every message from a worker host survives encoding") {
  using namespace concurry::net;
  auto value = concurry::encode(std::vector<double>{1.5, 2.5});
  auto built = std::get<worker_constructed>(
      decode_from_host(encode(from_host{worker_constructed{7, 2, {}}})));
  CHECK(built.pool_id == 7);
  CHECK_FALSE(built.failure);
  auto failed = std::get<worker_constructed>(decode_from_host(encode(from_host{
      worker_constructed{7, 2, concurry::exception_info{"std::invalid_argument", "bad", true}}})));
  REQUIRE(failed.failure);
  CHECK(failed.failure->type_name == "std::invalid_argument");
  auto result = std::get<call_result>(
      decode_from_host(encode(from_host{call_result{11, value, "too small"}})));
  CHECK(result.value == value);
  CHECK(result.rejection == "too small");
  auto error = std::get<call_error>(decode_from_host(encode(
      from_host{call_error{11, {"shop::quota_exceeded", std::string{"a\0b", 3}, true}, true}})));
  CHECK(error.exception.message == std::string{"a\0b", 3});
  CHECK(error.exception.registered);
  CHECK(error.retry);
  CHECK(std::holds_alternative<worker_stopped>(
      decode_from_host(encode(from_host{worker_stopped{}}))));
  auto line = std::get<output_line>(
      decode_from_host(encode(from_host{output_line{output_line::stream::err, "warning: x"}})));
  CHECK(line.where == output_line::stream::err);
  CHECK(line.line == "warning: x");
}

TEST_CASE("a batch of messages survives encoding in each direction, in order and exact size") {
  using namespace concurry::net;
  auto args = concurry::encode(std::tuple<int>{5});
  std::vector<std::vector<char>> calls;
  std::size_t bytes = 0;
  for (std::uint64_t id = 1; id <= 3; ++id) {
    calls.push_back(encode(to_host{host_call{id, 7, 0, 1, "add", 1, args, {}}}));
    bytes += calls.back().size();
  }
  auto encoded = encode(to_host{message_batch{calls}});
  CHECK(encoded.size() == batch_size(3, bytes));
  auto batch = std::get<message_batch>(decode_to_host(encoded));
  CHECK(batch.messages == calls);
  CHECK(std::get<host_call>(decode_to_host(batch.messages[2])).call_id == 3);
  auto answer = encode(from_host{call_result{4, args, ""}});
  auto back = std::get<message_batch>(decode_from_host(encode(from_host{message_batch{{answer}}})));
  CHECK(back.messages == std::vector<std::vector<char>>{answer});
}

TEST_CASE("packing keeps messages in order and every batch within the limit") {
  using namespace concurry::net;
  std::vector<std::vector<char>> messages;
  for (std::uint64_t id = 0; id < 200; ++id) {
    auto args = concurry::encode(std::string(id % 7 == 0 ? 3'000 : id, 'a'));
    messages.push_back(encode(to_host{host_call{id, 7, 0, 1, "add", 1, args, {}}}));
  }
  const std::size_t limit = 4'096;
  auto packed = pack_to_host(messages, limit);
  CHECK(packed.size() < messages.size() / 4);
  std::vector<std::vector<char>> unpacked;
  for (auto& one : packed) {
    CHECK(one.size() <= limit);
    auto message = decode_to_host(one);
    if (auto* batch = std::get_if<message_batch>(&message))
      unpacked.insert(unpacked.end(), batch->messages.begin(), batch->messages.end());
    else
      unpacked.push_back(one);
  }
  CHECK(unpacked == messages);
}

TEST_CASE("a message larger than a batch may hold is packed alone and unchanged") {
  using namespace concurry::net;
  auto small = encode(from_host{call_result{1, {}, ""}});
  auto large = encode(from_host{call_result{2, std::vector<std::byte>(max_batched_message), ""}});
  auto packed = pack_from_host({small, large, small}, std::size_t{64} << 20);
  REQUIRE(packed.size() == 3);
  CHECK(packed[1] == large);
  CHECK(pack_from_host({small}, 4'096) == std::vector<std::vector<char>>{small});
}

TEST_CASE("malformed batch bytes throw decode_error, and never anything else") {
  using namespace concurry::net;
  auto call = encode(to_host{host_call{1, 7, 0, 1, "add", 1, concurry::encode(5), {}}});
  auto valid = encode(to_host{message_batch{{call, call, call}}});
  std::mt19937 random{11};
  std::size_t unexpected = 0;
  for (int i = 0; i < 5'000; ++i) {
    auto input = valid;
    input[std::uniform_int_distribution<std::size_t>{0, input.size() - 1}(random)] =
        static_cast<char>(random());
    try {
      auto message = decode_to_host(input);
      if (auto* batch = std::get_if<message_batch>(&message))
        for (auto& one : batch->messages)
          (void)decode_to_host(one);
    } catch (const decode_error&) {
    } catch (...) {
      ++unexpected;
    }
  }
  CHECK(unexpected == 0);
  auto cut = valid;
  cut.resize(cut.size() - 8);
  CHECK_THROWS_AS(decode_to_host(cut), decode_error);
}

TEST_CASE("malformed host messages throw decode_error which is a codec_error") {
  using namespace concurry::net;
  CHECK_THROWS_AS(decode_to_host({}), decode_error);
  CHECK_THROWS_AS(decode_to_host(std::vector<char>(7, 'x')), concurry::codec_error);
  CHECK_THROWS_AS(decode_from_host(std::vector<char>(64, '\xff')), concurry::codec_error);
  auto valid = encode(from_host{call_result{1, concurry::encode(std::string(100, 'v')), ""}});
  std::mt19937 random{7};
  std::size_t unexpected = 0;
  for (int i = 0; i < 5'000; ++i) {
    auto input = valid;
    input[std::uniform_int_distribution<std::size_t>{0, input.size() - 1}(random)] =
        static_cast<char>(random());
    try {
      (void)decode_from_host(input);
    } catch (const decode_error&) {
    } catch (...) {
      ++unexpected;
    }
  }
  CHECK(unexpected == 0);
}

TEST_SUITE_END();
