// The limit actor: one shared limit set behind a CAF actor, for workers that cannot reach the
// set's state directly (other processes, other nodes). Requests and replies are Cap'n Proto
// bytes (net/schema/limits.capnp), so the actor is reached the same way from anywhere.
#pragma once

#include "actors/actor_host.hpp"

#include <concurry/limits.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

namespace caf {
class actor;
} // namespace caf

namespace concurry::actors {

/// Runs a limit actor over `set` (whose state stays shared with every other handle of it).
/// Acquisitions held by a requester that goes down are released, and so is what a request it
/// left waiting is granted later. A requester in another process goes down when its connection
/// drops (CAF's remote monitoring; about a millisecond after a SIGKILL here).
class limit_service {
public:
  limit_service(actor_host& host, limit_set set);
  limit_service(const limit_service&) = delete;
  limit_service& operator=(const limit_service&) = delete;
  /// Stops the actor; acquisitions it still holds are released.
  ~limit_service();

  /// The actor, for the link that hands it to worker hosts (actors/ code only).
  [[nodiscard]] caf::actor handle() const;

private:
  friend class limit_client;
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// Acquires and releases through a limit actor from a thread outside the actor system (the
/// shape a worker in another process uses). Thread-safe. What the client still holds when it is
/// destroyed is released by the actor.
class limit_client {
public:
  explicit limit_client(actor_host& host, const limit_service& service);
  ~limit_client();

  /// A granted acquisition's id and amounts; throws timeout_error, config_error (bad request)
  /// or error as the set would.
  struct grant {
    std::uint64_t id = 0;
    amounts granted;
  };

  /// Waits for the acquisition (at most `timeout`, if given).
  grant acquire(const amounts& requested, std::optional<std::chrono::nanoseconds> timeout = {});
  /// Never waits; empty when refused.
  std::optional<grant> try_acquire(const amounts& requested);
  /// Ends an acquisition, with the real usage when known.
  void release(std::uint64_t grant_id, std::optional<amounts> usage = {});
  /// The set's statistics, through the actor.
  limit_set_stats stats();

  /// Sends raw request bytes and returns the raw reply (for tests and tools). Bytes that are
  /// not a well-formed request get an error reply.
  std::vector<char> exchange(const std::vector<char>& request_bytes);

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// The limits of a worker in a worker host: a limit_pool whose sets acquire through the
/// client's limit actors. `services[i]` serves set i of `description` (the bytes of a
/// net::worker_limits); the pool picks among the sets as the client's pool of that worker does.
/// Every grant is held under one actor of this process, made here: when the process dies, its
/// connection drops and the limit actors release what it held. Throws decode_error for a
/// malformed description or a list of services that does not match it.
limit_pool make_remote_limits(actor_host& host,
                              const std::vector<caf::actor>& services,
                              const std::vector<char>& description);

/// A set of `limits` whose state is behind `service` (a limit actor elsewhere: the head's, for
/// a cluster pool): its statistics and acquisitions go there.
limit_set make_remote_set(actor_host& host, caf::actor service, std::vector<limit> limits);

} // namespace concurry::actors
