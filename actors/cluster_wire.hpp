// What the actors of cluster mode share: the atoms their CAF messages carry (everything else is
// Cap'n Proto bytes, net/schema/cluster.capnp), and the guards of their handlers. Includes CAF:
// for actors/ sources only.
#pragma once

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/fwd.hpp>

#include <exception>
#include <string>

namespace concurry::actors {

/// A ClusterMessage's bytes follow.
using cluster_atom = caf::atom_constant<caf::atom("cluster")>;
/// The head's owner asks it to tell every node to stop.
using stop_nodes_atom = caf::atom_constant<caf::atom("stopnodes")>;

/// Compares without an early exit, so the time taken says nothing about the secret.
bool same_secret(const std::string& a, const std::string& b);

/// An exception escaping a handler (bytes from another process may be anything) becomes a log
/// line, not a dead actor.
caf::error log_exception(caf::scheduled_actor*, std::exception_ptr& e);

} // namespace concurry::actors
