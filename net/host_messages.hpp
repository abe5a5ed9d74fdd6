// The control messages between a client and its worker host processes as C++ values, and their
// Cap'n Proto encoding (net/schema/host.capnp). Decoding untrusted bytes either yields a
// well-formed message or throws decode_error.
#pragma once

#include "net/limit_messages.hpp"

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace concurry::net {

/// A host's first message: the client's secret, its process id and its worker index.
struct host_hello {
  std::string secret;
  std::int32_t pid = 0;
  std::uint32_t worker = 0;
};

/// The client asks for a pong with the same sequence number.
struct host_ping {
  std::uint64_t sequence = 0;
};

/// The host's answer to a ping.
struct host_pong {
  std::uint64_t sequence = 0;
};

/// The client asks the host to exit.
struct host_shutdown {};

using host_message = std::variant<host_hello, host_ping, host_pong, host_shutdown>;

std::vector<char> encode(const host_message& message);

/// Throws decode_error for anything but a well-formed HostMessage.
host_message decode_host_message(const std::vector<char>& bytes);

} // namespace concurry::net
