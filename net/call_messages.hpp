// The messages between a client and a worker host about its worker and the calls to it, as C++
// values, and their Cap'n Proto encoding (net/schema/call.capnp). Arguments and results stay in
// the value codec's bytes (concurry/codec.hpp); this layer neither encodes nor decodes them.
// Bytes from another process are untrusted: decoding them either yields a well-formed message or
// throws decode_error (a concurry::codec_error), never anything worse.
#pragma once

#include "net/limit_messages.hpp"

#include <concurry/exceptions.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace concurry::net {

/// Builds the host's worker from its registered name and E(constructor arguments).
struct construct_worker {
  std::uint64_t pool_id = 0;
  std::uint32_t worker_index = 0;
  std::string worker_type;
  std::vector<std::byte> arguments;
  std::uint64_t max_message_size = 0; ///< the largest FromHost message; 0: the default (64 MiB)
};

/// One call of a method of the host's worker.
struct host_call {
  std::uint64_t call_id = 0;
  std::uint64_t pool_id = 0;
  std::uint32_t worker_index = 0;
  std::uint32_t method_index = 0;
  std::string method_name; ///< empty: the host does not check it against method_index
  std::uint32_t attempt = 1;
  std::vector<std::byte> arguments;
  std::string task; ///< a task worker's call: the registered function; empty for a method call
};

/// Drops a call that has not started.
struct cancel_call {
  std::uint64_t call_id = 0;
};

/// Finish the calls received, destroy the worker, answer worker_stopped.
struct stop_worker {};

/// Several whole messages of one direction, each the bytes of one encoded to_host or from_host
/// (never a batch), handled in order as if each had come alone.
struct message_batch {
  std::vector<std::vector<char>> messages;
};

/// What a client sends to a worker host.
using to_host = std::variant<construct_worker, host_call, cancel_call, stop_worker, message_batch>;

/// The worker was built, or its constructor threw `failure`.
struct worker_constructed {
  std::uint64_t pool_id = 0;
  std::uint32_t worker_index = 0;
  std::optional<exception_info> failure;
};

/// A call returned: E(result), empty for void.
struct call_result {
  std::uint64_t call_id = 0;
  std::vector<std::byte> value;
  std::string rejection; ///< why retry_until rejected the result; empty when it passed
};

/// A call threw or could not be made.
struct call_error {
  std::uint64_t call_id = 0;
  exception_info exception;
  bool retry = false; ///< the host's retry_on verdict: another attempt may follow
};

/// The worker is destroyed after stop_worker.
struct worker_stopped {};

/// One line of the host's output, without its line break.
struct output_line {
  enum class stream { out, err };
  stream where = stream::out;
  std::string line;
};

/// What a worker host sends to its client.
using from_host = std::variant<worker_constructed,
                               call_result,
                               call_error,
                               worker_stopped,
                               output_line,
                               message_batch>;

std::vector<char> encode(const to_host& message);
std::vector<char> encode(const from_host& message);

/// Throws decode_error for anything but a well-formed ToHost.
to_host decode_to_host(const std::vector<char>& bytes);
/// Throws decode_error for anything but a well-formed FromHost.
from_host decode_from_host(const std::vector<char>& bytes);

/// The size in bytes of the encoded message_batch of `count` messages of `bytes` bytes in all
/// (each a whole message, a multiple of 8 bytes), in either direction.
[[nodiscard]] constexpr std::size_t batch_size(std::size_t count, std::size_t bytes) noexcept {
  return 32 + 8 * count + bytes;
}

/// The most bytes of messages packed into one batch, and the largest message that joins one:
/// copying large messages into a batch costs more than the message it saves.
inline constexpr std::size_t max_batch_bytes = std::size_t{256} << 10;
inline constexpr std::size_t max_batched_message = std::size_t{16} << 10;

/// Packs whole encoded ToHost messages, in order, into as few messages as it can: runs of
/// several become one message_batch of at most `limit` bytes (and max_batch_bytes); a message
/// alone in its run, or larger than max_batched_message, stays as it is. Sending the result in
/// order is sending `messages` in order.
std::vector<std::vector<char>> pack_to_host(std::vector<std::vector<char>> messages,
                                            std::size_t limit);
/// As pack_to_host, for FromHost messages.
std::vector<std::vector<char>> pack_from_host(std::vector<std::vector<char>> messages,
                                              std::size_t limit);

/// The call id of bytes that decode_to_host refused, when they still read as a ToHost call or
/// cancel far enough to hold one (a truncated or partly corrupt call); otherwise nullopt. For
/// answering the sender of a malformed call with an error on that call. Never throws.
std::optional<std::uint64_t> peek_call_id(const std::vector<char>& bytes) noexcept;

} // namespace concurry::net
