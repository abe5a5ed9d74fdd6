// The Cap'n Proto form of limits and their statistics (net/schema/limits.capnp), shared by every
// message that carries them: limit sets travel to worker hosts (limit_messages.cpp) and to the
// head of a cluster (cluster_messages.cpp), and statistics come back from both.
#pragma once

#include "schema/limits.capnp.h"

#include <concurry/limits.hpp>

#include <vector>

namespace concurry::net_internal {

/// Writes the limits of one set, in order.
void put_limit_set(net::schema::LimitSetSpec::Builder out, const std::vector<limit>& in);

void put_limit_stats(net::schema::LimitStats::Builder out, const limit_stats& in);

/// The limits of one set, in order, each checked by its own constructor; throws decode_error for
/// a limit that constructor refuses, an unknown kind or rate algorithm, and two limits sharing a
/// key (as limit_set's constructor would).
std::vector<limit> get_limit_set(net::schema::LimitSetSpec::Reader in);

/// The statistics as sent; they are not checked against any limit.
limit_stats get_limit_stats(net::schema::LimitStats::Reader in);

} // namespace concurry::net_internal
