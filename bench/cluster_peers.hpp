// The peers cluster_bench measures concurry's cluster mode against, in the same run:
//
//   - the ceiling: CAF 0.17's own remote request (what concurry's client-to-worker-host calls
//     ride on), to one actor in a child process (cluster_caf_peer) over the middleman on
//     127.0.0.1, with a std::vector<char> of 64 bytes each way, both systems configured as
//     concurry configures its own;
//   - the peer: calls to Dask actors on a LocalCluster of two worker processes on 127.0.0.1
//     (dask_actor_peer.py, run by /usr/bin/python3).
//
// Each returns a row of figures (peer_measure.hpp), or a row that says what failed.
#pragma once

#include "peer_measure.hpp"

#include <chrono>
#include <cstddef>
#include <string>

namespace cluster_peers {

/// The bytes each CAF request carries, and its answer.
inline constexpr std::size_t payload_bytes = 64;

/// How the peers are measured.
struct peers_config {
  /// The CAF ceiling's calls; its window is concurry's (256).
  peer_measure::measure_config caf;
  /// cluster_caf_peer's path (a CMake-built program beside the benchmark).
  std::string caf_peer_program;
  /// dask_actor_peer.py's path, its call counts and window (1,000 in flight), and the time it
  /// may take in all; the figures of a run cut short are marked.
  std::string dask_script;
  std::size_t dask_seq_warmup = 100;
  std::size_t dask_seq_calls = 1'000;
  std::size_t dask_pipe_calls = 2'000;
  std::size_t dask_window = 1'000;
  std::size_t dask_repeats = 3;
  std::chrono::seconds dask_limit{60};
};

/// CAF's remote request from a blocking caller (a scoped_actor, as a concurry user waits on
/// result()) and from an event-based actor; the row takes the lower p50 and the higher
/// pipelined rate of the two: the ceiling is CAF at its best. Prints progress lines.
peer_measure::peer_figures bench_caf_remote(const peers_config& cfg);

/// Dask actors (dask_actor_peer.py as a child; its output lines are echoed). A missing Dask
/// becomes a failed row, which the benchmark reports but does not fail on.
peer_measure::peer_figures bench_dask_actors(const peers_config& cfg);

/// Kills every child these peers started and have not reaped; for the watchdog. Takes no lock.
void kill_children() noexcept;

} // namespace cluster_peers
