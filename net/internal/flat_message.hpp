// What every message file of net/ does the same way: Cap'n Proto messages in flat-array form as
// the bytes CAF carries, and the reading of untrusted bytes back.
#pragma once

#include "net/limit_messages.hpp"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/exception.h>

#include <cstring>
#include <string>
#include <vector>

namespace concurry::net::internal {

/// One visitor out of several lambdas.
template <class... F>
struct overloaded : F... {
  using F::operator()...;
};
template <class... F>
overloaded(F...) -> overloaded<F...>;

/// Text of the whole string, NUL bytes included (a std::string's data is NUL-terminated, as Text
/// needs).
inline capnp::Text::Reader as_text(const std::string& text) {
  return {text.data(), text.size()};
}

/// The message in flat-array form.
inline std::vector<char> to_bytes(capnp::MessageBuilder& message) {
  auto words = capnp::messageToFlatArray(message);
  auto bytes = words.asChars();
  return {bytes.begin(), bytes.end()};
}

/// Reads `bytes` as one flat-array message and gives its reader to `read`. Cap'n Proto reads
/// 8-byte aligned words, so the bytes are copied into words first; the traversal limit follows
/// the message's size, so a message can make the reader visit each word only a few times.
/// Anything malformed, `read`'s own findings included, ends as decode_error naming `what`.
template <class Read>
auto read_flat(const std::vector<char>& bytes, const char* what, Read&& read) {
  if (bytes.empty() || bytes.size() % sizeof(capnp::word) != 0)
    throw decode_error{std::string{what} + " of " + std::to_string(bytes.size()) +
                       " bytes is not a whole number of 8-byte words"};
  auto words = kj::heapArray<capnp::word>(bytes.size() / sizeof(capnp::word));
  std::memcpy(words.begin(), bytes.data(), bytes.size());
  capnp::ReaderOptions options;
  options.traversalLimitInWords = 4 * words.size() + 1024;
  try {
    capnp::FlatArrayMessageReader reader{words, options};
    return read(reader);
  } catch (const kj::Exception& e) {
    throw decode_error{std::string{"a malformed "} + what + ": " + e.getDescription().cStr()};
  }
}

} // namespace concurry::net::internal
