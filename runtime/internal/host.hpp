// The process-wide actor host: the one the concurry::runtime object owns, or a default one
// started on first use when the program has none.
#pragma once

#include "actors/actor_host.hpp"

#include <concurry/detail/pool_core.hpp>

#include <memory>

namespace concurry::runtime_internal {

/// The current actor host; starts the default one if no runtime object exists.
std::shared_ptr<actors::actor_host> current_host();

/// Remembers a live pool so that the end of the runtime can stop it.
void track_pool(const std::shared_ptr<detail::pool_core>& pool);

} // namespace concurry::runtime_internal
