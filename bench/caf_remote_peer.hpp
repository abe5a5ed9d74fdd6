// The ceiling that process_pool_bench and cluster_bench measure concurry against: CAF 0.17's own
// remote request, with no concurry layer, to an increment actor in each of some child processes,
// over the middleman on 127.0.0.1. Both sides live here: the child, which publishes the actor and
// serves until its stdin ends, and the measurement, which calls it from a scoped_actor (a blocking
// caller, as a concurry user waits on futures) and from an event-based actor, and keeps the better
// figures of the two. Every child is reaped however the measurement ends, and dies with this
// process; bench_child::kill_live_children (child_process.hpp) kills them for a watchdog.
#pragma once

#include "peer_measure.hpp"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace caf_remote_peer {

/// How an actor system of the peer is configured: as concurry configures its own
/// (actors/actor_host.cpp: the sharing scheduler, no middleman workers), or with CAF's defaults.
enum class caf_settings { concurry, defaults };

/// "concurry" or "defaults": the word the child takes on its command line.
const char* to_string(caf_settings settings);

/// The settings `word` names (to_string); concurry's for any other word.
caf_settings settings_from_string(std::string_view word);

/// How the peer is measured.
struct remote_config {
  /// The row's name, in the table and in the progress lines.
  std::string name;
  /// The calls of each phase; the warm-ups run from each caller.
  peer_measure::measure_config measure;
  /// The actor systems' settings, on both sides.
  caf_settings settings = caf_settings::concurry;
  /// Children started, each with one actor; the calls go round robin over them.
  std::size_t children = 1;
  /// How a child starts: the program and its arguments (argv[0] first). It must run serve_child.
  std::string program;
  std::vector<std::string> args;
  /// The bytes of each request and answer (a std::vector<char>, the int in the first four); 0
  /// sends a bare int.
  std::size_t payload_bytes = 0;
};

/// The row of CAF's remote request: the lower p50 and the higher pipelined rate of its two
/// callers. Prints the systems' settings and each caller's figures as progress lines; a failure
/// (a wrong answer, a child that does not start, a hung run) becomes a failed row.
peer_measure::peer_figures bench_caf_remote(const remote_config& cfg);

/// The child's side: publishes an increment actor (an int, or a std::vector<char> with the int
/// in its first four bytes) on 127.0.0.1 at an ephemeral port in a system with `settings`,
/// prints "port <n>" on stdout, and exits at the end of its stdin (the parent closes it, or
/// dies). `program` names this process in its error messages.
[[noreturn]] void serve_child(caf_settings settings, const char* program);

} // namespace caf_remote_peer
