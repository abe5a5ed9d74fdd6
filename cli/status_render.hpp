// How `concurry status` shows a cluster's status: text for people, modelled on `ray status`, or
// one JSON object for programs. Pure functions of a net::cluster_status.
#pragma once

#include "net/cluster_messages.hpp"

#include <cstdint>
#include <string>

namespace concurry::cli {

/// The prefix of resource names that stand for worker types: a node that can host workers of
/// type `indexer` offers the resource `worker:indexer`. Rendered as worker types, not resources.
inline constexpr std::string_view worker_type_prefix = "worker:";

/// Renders `status` as text (json false) or as JSON (json true); the result ends with a newline.
///
/// The text has the sections "Node status", "Resources" (used/total of each resource summed over
/// the live nodes, then per node, with CPU as "2.5/4.0 CPU" and the node's worker types on a line
/// of their own), "Pools", "Demands" (pending, and infeasible ones flagged) and "Limits". Names
/// from the cluster are shown with control characters replaced by '?'.
///
/// The JSON object, version 1 (fields are only ever added; a change of meaning bumps "version"):
///
///     {
///       "version": 1,
///       "uptime_ms": 3600000, "clients": 2,
///       "resources": {"cpu": {"used": 2.5, "total": 4}, "gpu": {"used": 1, "total": 2}},
///       "nodes": [{"name": "n1", "pid": 123, "alive": true, "silent_ms": 0, "workers": 3,
///                  "resources": {"cpu": {"used": 1.5, "total": 2}},
///                  "worker_types": ["indexer"]}],
///       "pools": [{"client": "00000000000000ff", "pool": 1, "worker_type": "indexer",
///                  "placed": 2, "pending": 1, "infeasible": 0}],
///       "demands": {"pending": [DEMAND...], "infeasible": [DEMAND...]},
///       "limits": [{"key": "tokens", "kind": "RateLimit", "algorithm": "token_bucket",
///                   "capacity": 100, "window_seconds": 60, "in_use": 50, "available": 50,
///                   "utilization": 0.5, "max_rate": 1.6666666666666667}]
///     }
///
/// where DEMAND is {"worker_type": "indexer", "count": 3, "cpu": 0.5, "resources": {"gpu": 1},
/// "strategy": "pack"|"spread"|"named", "node": ""}. Resource amounts are exact decimals in
/// wholes (at most 4 decimal places); the top-level "resources" sum the live nodes only; resource
/// names are as the cluster spells them ("cpu"), worker types without their "worker:" prefix.
/// Client ids are 16 hex digits as strings (they use all 64 bits). A limit's capacity that is
/// infinite (unlimited) is null. Strings are valid JSON whatever bytes the names hold: invalid
/// UTF-8 becomes U+FFFD.
std::string render_status(const net::cluster_status& status, bool json);

/// An amount in fixed point (10,000 units are one) as the shortest exact decimal: "1", "0.5",
/// "0.0001", "-2".
std::string format_units(std::int64_t units);

/// `text` as a JSON string literal, quotes included.
std::string json_string(std::string_view text);

} // namespace concurry::cli
