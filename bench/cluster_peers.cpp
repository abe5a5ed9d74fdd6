#include "cluster_peers.hpp"

#include "caf_remote_peer.hpp"
#include "child_process.hpp"
#include "script_peer.hpp"

#include <chrono>
#include <string>

namespace cluster_peers {

namespace {

using namespace std::chrono_literals;
using peer_measure::peer_figures;

/// Decimals of the microsecond figures the peers print.
constexpr int us_decimals = 1;

/// The python that imports Debian's python3-distributed (only /usr/bin/python3 does).
constexpr const char* dask_python = "/usr/bin/python3";

} // namespace

peer_figures bench_caf_remote(const peers_config& cfg) {
  return caf_remote_peer::bench_caf_remote({.name = "CAF remote request (1 child)",
                                            .measure = cfg.caf,
                                            .settings = caf_remote_peer::caf_settings::concurry,
                                            .children = 1,
                                            .program = cfg.caf_peer_program,
                                            .args = {"cluster_caf_peer"},
                                            .payload_bytes = payload_bytes});
}

peer_figures bench_dask_actors(const peers_config& cfg) {
  const std::string name = "Dask actors, LocalCluster (2)";
  return peer_measure::guarded(name, us_decimals, [&] {
    // NOTE: argv[0] is the full path: Python derives sys.executable from it, and Dask starts its
    // worker processes with sys.executable; "python3" could name another Python on PATH, one
    // without Debian's Dask.
    return script_peer::run_script({.name = name,
                                    .tag = "dask",
                                    .program = dask_python,
                                    .argv0 = dask_python,
                                    .script = cfg.dask_script,
                                    .workers = 2,
                                    .calls = {.seq_warmup = cfg.dask_seq_warmup,
                                              .seq_calls = cfg.dask_seq_calls,
                                              .pipe_calls = cfg.dask_pipe_calls,
                                              .window = cfg.dask_window,
                                              .repeats = cfg.dask_repeats},
                                    .time_limit = cfg.dask_limit,
                                    .margin = 30s,
                                    .grace = 10'000ms,
                                    .failure_hint = " (is python3-distributed installed?)"});
  });
}

void kill_children() noexcept {
  bench_child::kill_live_children();
}

} // namespace cluster_peers
