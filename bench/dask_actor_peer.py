#!/usr/bin/python3
"""Dask's peer figures for bench/cluster_bench.cpp: calls to Dask actors.

A LocalCluster of --workers worker processes (2 for the C++ benchmark, one thread each) on
127.0.0.1, with one actor per worker whose method add(x) returns x + 1; calls go round robin over
the actors, as a concurry pool of two workers spreads its calls. bench_peer.py says what is
measured (sequential round trips, a sliding window of --window calls in flight) and prints the
"result ..." line the C++ benchmark parses.

Everything listens on 127.0.0.1 only: Dask opens HTTP listeners on every interface even without a
dashboard, so the scheduler's and the workers' dashboards are bound to 127.0.0.1 as well
(shared/notes/caf-0.17.md); `ss -ltnp` while it runs shows nothing else.

Needs Debian's python3-distributed, which only /usr/bin/python3 imports. Exit status: 0 when every
figure was measured, 1 when a call failed or timed out, 2 when Dask is missing.
"""

import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree, where the benchmark runs us
import bench_peer  # noqa: E402 (after the line above)

try:
    import dask  # noqa: E402
    from distributed import Client, LocalCluster  # noqa: E402
except ImportError as e:
    print(f"dask_actor_peer.py: Dask is not installed ({e}); "
          "apt-get install --no-install-recommends python3-distributed", file=sys.stderr)
    sys.exit(2)

# A call waits at most 10 s: a dead worker must not hang the script.
PACING = bench_peer.Pacing(seq_check_every=32, pipe_check_every=128, timeout=10)


class Adder:
    """The actor: one instance lives in a worker process and answers calls one at a time."""

    def add(self, x):
        return x + 1


class ActorExecutor:
    """A LocalCluster with one Adder actor per worker, behind the executor interface bench_peer
    measures: submit(fn, x) calls add(x) on the next actor and returns its ActorFuture."""

    def __init__(self, workers):
        self._workers = workers

    def __enter__(self):
        # NOTE: every address is 127.0.0.1, dashboards included; see the module comment.
        self._cluster = LocalCluster(
            n_workers=self._workers, threads_per_worker=1, processes=True,
            host="127.0.0.1",
            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
            worker_dashboard_address="127.0.0.1:0")
        self._client = Client(self._cluster)
        addresses = sorted(self._client.scheduler_info()["workers"])
        self._actors = [
            self._client.submit(Adder, actor=True, workers=[a], pure=False).result(timeout=30)
            for a in addresses]
        self._next = 0
        print(f"dask {dask.__version__}: {len(addresses)} workers at {', '.join(addresses)}",
              flush=True)
        return self

    def submit(self, _fn, x):
        actor = self._actors[self._next]
        self._next = (self._next + 1) % len(self._actors)
        return actor.add(x)

    def __exit__(self, *exc):
        self._actors = []
        self._client.close()
        self._cluster.close()
        return False


def main():
    args = bench_peer.parse_args(
        __doc__.splitlines()[0], workers="2", seq_warmup=100, seq_calls=1000, pipe_calls=2000)
    return bench_peer.run(args, "Dask LocalCluster actors", ActorExecutor, PACING)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (bench_peer.CallError, TimeoutError) as e:
        print(f"dask_actor_peer.py: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
