// The messages of the limit actor as C++ values, and their Cap'n Proto encoding
// (net/schema/limits.capnp). Bytes from another process are untrusted: decoding them either
// yields a well-formed message or throws decode_error, never anything worse.
#pragma once

#include <concurry/codec.hpp>
#include <concurry/limits.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace concurry::net {

/// Bytes that are not a well-formed message of the expected schema. A codec_error, so one catch
/// sees malformed messages and malformed values in them alike.
class decode_error : public concurry::codec_error {
public:
  using concurry::codec_error::codec_error;
};

/// Asks for an acquisition; `timeout` empty means no deadline.
struct limit_acquire {
  amounts requested;
  std::optional<std::chrono::nanoseconds> timeout;
  bool try_only = false;
};

/// Ends an acquisition, with the real usage when the holder reported one.
struct limit_release {
  std::uint64_t grant = 0;
  std::optional<amounts> usage;
};

/// Asks for the statistics of the set.
struct limit_stats_request {};

struct limit_request {
  std::uint64_t id = 0;
  std::variant<limit_acquire, limit_release, limit_stats_request> body;
};

struct limit_granted {
  std::uint64_t grant = 0;
  amounts granted;
};
struct limit_refused {};
struct limit_released {};
struct limit_failure {
  enum class kind { timeout, invalid, internal };
  kind what = kind::internal;
  std::string message;
};

struct limit_reply {
  std::uint64_t id = 0;
  std::variant<limit_granted, limit_refused, limit_failure, limit_released, limit_set_stats> body;
};

/// The limits of one worker in a worker host: the sets of its limit pool, in order, and how
/// the pool picks among them (limit_pool's constructor).
struct worker_limits {
  std::vector<std::vector<limit>> sets;
  load_balancing lb = load_balancing::round_robin;
  std::size_t worker_offset = 0;
};

std::vector<char> encode(const limit_request& request);
std::vector<char> encode(const limit_reply& reply);
std::vector<char> encode(const worker_limits& limits);

/// Throws decode_error for anything but a well-formed LimitRequest.
limit_request decode_limit_request(const std::vector<char>& bytes);
/// Throws decode_error for anything but a well-formed LimitReply.
limit_reply decode_limit_reply(const std::vector<char>& bytes);
/// Throws decode_error for anything but a well-formed WorkerLimits whose limits are valid.
worker_limits decode_worker_limits(const std::vector<char>& bytes);

} // namespace concurry::net
