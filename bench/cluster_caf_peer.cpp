// The far end of cluster_bench's ceiling: one CAF 0.17 actor in a process of its own, published
// on 127.0.0.1 with an ephemeral port, in an actor system configured as concurry configures its
// own (actors/actor_host.cpp: the sharing scheduler, no middleman workers). It answers each
// std::vector<char> with the same bytes, the little-endian int32 in the first four incremented,
// so builtin types alone cross the wire, as a worker host's calls do.
//
// Started by cluster_bench (cluster_peers.cpp), never by hand: prints "port <n>" on stdout, then
// serves until its stdin ends (the benchmark closes it, or dies; it also dies with its parent).
//
// Usage: cluster_caf_peer
#include "actors/actor_host.hpp"

#include <caf/all.hpp>
#include <caf/io/middleman.hpp>

#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

namespace {

// NOTE: the step goes in as a spawn argument: CAF 0.17 dereferences a null pointer to its empty
// argument tuple when spawning a function without arguments.
caf::behavior increment_actor(caf::event_based_actor*, std::int32_t step) {
  return {[step](std::vector<char>& bytes) {
    std::int32_t x = 0;
    if (bytes.size() >= sizeof x) {
      std::memcpy(&x, bytes.data(), sizeof x);
      x += step;
      std::memcpy(bytes.data(), &x, sizeof x);
    }
    return std::move(bytes);
  }};
}

/// Blocks until stdin ends: the parent never writes to it.
void wait_for_end_of_input() {
  char byte = 0;
  for (;;) {
    const auto n = ::read(0, &byte, 1);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return;
  }
}

} // namespace

int main() {
  // NOTE: never destroyed: the process ends with _exit, as concurry's worker hosts do, so no
  // actor's shutdown can hang it.
  auto* host = new concurry::actors::actor_host{2};
  auto& system = host->system();
  auto actor = system.spawn(increment_actor, 1);
  auto port = system.middleman().publish(actor, 0, "127.0.0.1", /*reuse_addr=*/true);
  if (!port) {
    std::fprintf(
        stderr, "cluster_caf_peer: cannot publish: %s\n", system.render(port.error()).c_str());
    std::fflush(stderr);
    ::_exit(4);
  }
  std::printf("port %u\n", static_cast<unsigned>(*port));
  std::fflush(stdout);
  wait_for_end_of_input();
  std::fflush(nullptr);
  ::_exit(0);
}
