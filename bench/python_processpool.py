#!/usr/bin/env python3
"""Python's peer figures for bench/process_pool_bench.cpp.

Times a trivial call, add(x) = x + 1, on concurrent.futures.ProcessPoolExecutor (forked workers),
one executor for each worker count of --workers (the C++ benchmark asks for 2); bench_peer.py
says what is measured and what is printed. The worker processes die with this script
(PR_SET_PDEATHSIG), however it ends. Exit status: 0 when every figure was measured, 1 otherwise.
"""

import concurrent.futures
# NOTE: imported by name: the except clause at the end needs the submodule even when the
# arguments were wrong and no executor was ever made.
import concurrent.futures.process
import ctypes
import multiprocessing
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree, where the benchmark runs us
import bench_peer  # noqa: E402 (after the line above)

PR_SET_PDEATHSIG = 1
SIGKILL = 9

# A call to a worker process waits at most 10 s: a dead worker must not hang the script.
PACING = bench_peer.Pacing(seq_check_every=128, pipe_check_every=512, timeout=10)


def die_with_parent():
    """Runs first in each worker process: a parent killed by the watchdog takes it along."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass  # not Linux: the pool's own shutdown still ends the workers


def make_executor(workers):
    return concurrent.futures.ProcessPoolExecutor(
        max_workers=workers, mp_context=multiprocessing.get_context("fork"),
        initializer=die_with_parent)


def main():
    args = bench_peer.parse_args(
        __doc__.splitlines()[0], workers="2", seq_warmup=500, seq_calls=5000, pipe_calls=20000)
    return bench_peer.run(args, "ProcessPoolExecutor (fork)", make_executor, PACING)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (bench_peer.CallError, concurrent.futures.TimeoutError,
            concurrent.futures.process.BrokenProcessPool) as e:
        print(f"python_processpool.py: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
