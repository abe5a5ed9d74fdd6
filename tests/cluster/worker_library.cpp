// A worker library for concurry-node --worker-library: its static registrations add
// library_worker to the node's registry. It links no concurry of its own: the symbols come from
// the concurry-node that loads it.
#include "cluster_workers.hpp"
