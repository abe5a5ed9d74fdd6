// The far end of cluster_bench's ceiling: one CAF 0.17 actor in a process of its own, published
// on 127.0.0.1 with an ephemeral port, in an actor system configured as concurry configures its
// own (actors/actor_host.cpp: the sharing scheduler, no middleman workers). It answers each
// std::vector<char> with the same bytes, the little-endian int32 in the first four incremented,
// so builtin types alone cross the wire, as a worker host's calls do (caf_remote_peer.hpp).
//
// Started by cluster_bench (cluster_peers.cpp), never by hand: prints "port <n>" on stdout, then
// serves until its stdin ends (the benchmark closes it, or dies; it also dies with its parent).
//
// Usage: cluster_caf_peer
#include "caf_remote_peer.hpp"

int main() {
  caf_remote_peer::serve_child(caf_remote_peer::caf_settings::concurry, "cluster_caf_peer");
}
