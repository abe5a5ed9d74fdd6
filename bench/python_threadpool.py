#!/usr/bin/env python3
"""Python's peer figures for bench/thread_pool_bench.cpp.

Measures a trivial call, add(x) = x + 1, on concurrent.futures.ThreadPoolExecutor, one executor
for each worker count of --workers; bench_peer.py says what is measured and what is printed.
Exit status: 0 when every figure was measured, 1 otherwise.
"""

import concurrent.futures
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree, where the benchmark runs us
import bench_peer  # noqa: E402 (after the line above)

PACING = bench_peer.Pacing(seq_check_every=256, pipe_check_every=1024, timeout=None)


def make_executor(workers):
    return concurrent.futures.ThreadPoolExecutor(max_workers=workers)


def main():
    args = bench_peer.parse_args(
        __doc__.splitlines()[0], workers="2,24", seq_warmup=2000, seq_calls=20000, pipe_calls=30000)
    return bench_peer.run(args, "ThreadPoolExecutor", make_executor, PACING)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except bench_peer.CallError as e:
        print(f"python_threadpool.py: wrong result: {e}", file=sys.stderr)
        sys.exit(1)
