// What the `concurry` tool asks a head: its status, and to stop the cluster.
#pragma once

#include "net/cluster_messages.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace concurry::runtime_internal {

/// "host:port" split; throws config_error for anything else (a missing or zero port).
struct cluster_address {
  std::string host;
  std::uint16_t port = 0;
};
cluster_address parse_cluster_address(const std::string& text);

/// How long a head has to greet a new connection before it counts as unavailable.
inline constexpr std::chrono::milliseconds head_greeting_timeout{3000};

/// Whether a CAF node listens at host:port and greets a connection within `timeout`: empty when
/// it does, otherwise why not. CAF's own connect waits as long as the peer takes, so a frozen
/// peer (or a port that is not CAF's) would hold it for ever; this is asked first.
std::optional<std::string>
head_greets(const std::string& host, std::uint16_t port, std::chrono::milliseconds timeout);

/// The head's status. Throws auth_error for a wrong token, cluster_unavailable when the head
/// cannot be reached or does not answer within `timeout`.
net::cluster_status query_cluster_status(const cluster_address& head,
                                         const std::string& token,
                                         std::chrono::milliseconds timeout);

/// Asks the head to stop every node and itself; returns once the head said it is stopping.
/// Throws as query_cluster_status.
void stop_cluster(const cluster_address& head,
                  const std::string& token,
                  std::chrono::milliseconds timeout);

} // namespace concurry::runtime_internal
