// A peer written in Python (on bench_peer.py: python_processpool.py, dask_actor_peer.py), run as
// a child of the benchmark: its stdout is read line by line until it ends, the "result ..." line
// becomes the row, and every other line is echoed as progress. Header-only, for the benchmarks.
#pragma once

#include "child_process.hpp"
#include "peer_measure.hpp"

#include <chrono>
#include <cstdio>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace script_peer {

/// How one script peer runs: its command line and how long it may take.
struct script_run {
  /// The row's name; the tag of the lines the script prints that are no result line.
  std::string name;
  std::string tag;
  /// The interpreter, its argv[0] and the script's path.
  std::string program;
  std::string argv0;
  std::string script;
  /// The options of bench_peer.py: the pool's workers, the calls of each phase (their
  /// seq_warmup, seq_calls, pipe_calls, window and repeats) and the time the script may take.
  std::size_t workers = 2;
  peer_measure::measure_config calls;
  std::chrono::seconds time_limit{0};
  /// Past `time_limit` plus this margin (the pool's start and stop) the script is taken as hung.
  std::chrono::seconds margin{0};
  /// How long it may take to exit once its output ends; then it is killed.
  std::chrono::milliseconds grace{0};
  /// Added to the error of a script that failed or was killed (what may be missing).
  std::string failure_hint = {};
};

/// The script's command line, argv[0] first.
inline std::vector<std::string> script_arguments(const script_run& run) {
  const std::pair<const char*, std::size_t> options[] = {
      {"--workers", run.workers},
      {"--seq-warmup", run.calls.seq_warmup},
      {"--seq-calls", run.calls.seq_calls},
      {"--pipe-calls", run.calls.pipe_calls},
      {"--window", run.calls.window},
      {"--repeats", run.calls.repeats},
      {"--time-limit", static_cast<std::size_t>(run.time_limit.count())},
  };
  std::vector<std::string> args{run.argv0, run.script};
  for (const auto& [option, value] : options) {
    args.emplace_back(option);
    args.push_back(std::to_string(value));
  }
  return args;
}

/// Runs the script to its end and returns the figures of its last result line, named `run.name`.
/// Throws when the script fails, is killed or prints no result line; it is reaped either way.
inline peer_measure::peer_figures run_script(const script_run& run) {
  using peer_measure::clock_type;
  auto [out_read, out_write] = bench_child::make_pipe();
  auto [in_read, in_write] = bench_child::make_pipe();
  auto child =
      bench_child::spawn_child(run.program, script_arguments(run), in_read.get(), out_write.get());
  in_read.reset();
  in_write.reset();
  out_write.reset();

  // Bounded: the script ends by its --time-limit; past that and the margin it is killed.
  std::optional<peer_measure::peer_figures> figures;
  const auto deadline = clock_type::now() + run.time_limit + run.margin;
  while (clock_type::now() < deadline) {
    auto line = bench_child::read_line(
        out_read.get(),
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now()));
    if (!line)
      break;
    if (auto parsed = peer_measure::parse_result_line(*line))
      figures = std::move(parsed);
    else
      std::printf("  %s: %s\n", run.tag.c_str(), line->c_str());
  }

  const std::string file = run.script.substr(run.script.rfind('/') + 1);
  if (!child.end(run.grace))
    throw std::runtime_error(file + " failed or was killed" + run.failure_hint);
  if (!figures)
    throw std::runtime_error(file + " printed no result line");
  figures->name = run.name;
  return *figures;
}

} // namespace script_peer
