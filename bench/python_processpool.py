#!/usr/bin/env python3
"""Python's peer figures for bench/process_pool_bench.cpp.

Times a trivial call, add(x) = x + 1, on concurrent.futures.ProcessPoolExecutor:

- sequential: one call in flight at a time; p50 and p99 of the round trip in microseconds;
- pipelined: `window` calls in flight (a sliding window: whenever the oldest call is done, one
  more is submitted); calls per second, the median of `repeats` runs.

Prints one line the C++ benchmark parses, e.g.

    result name=python-2 workers=2 seq_p50_us=180.3 seq_p99_us=420.0 pipelined_calls_per_s=9876.5
        truncated=0 runs=9800.1,9876.5,9900.3

(on one line). Lines that do not start with "result " are informational. Every loop is bounded by
its call count and by --time-limit seconds for the whole script; a run cut short by the limit
reports truncated=1. The worker processes die with this script (PR_SET_PDEATHSIG), however it
ends. Exit status: 0 when every figure was measured, 1 otherwise.
"""

import argparse
import collections
import concurrent.futures
import ctypes
import math
import multiprocessing
import statistics
import sys
import time

PR_SET_PDEATHSIG = 1
SIGKILL = 9


def add(x):
    return x + 1


def die_with_parent():
    """Runs first in each worker process: a parent killed by the watchdog takes it along."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass  # not Linux: the pool's own shutdown still ends the workers


def percentile(sorted_values, q):
    """Nearest-rank percentile, as the C++ side computes it."""
    if not sorted_values:
        return float("nan")
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


class CallError(Exception):
    pass


def check(value, x):
    if value != x + 1:
        raise CallError(f"add({x}) returned {value!r}")


def sequential(executor, warmup, calls, deadline):
    """Returns (sorted round trips in microseconds, truncated)."""
    for x in range(warmup):
        check(executor.submit(add, x).result(timeout=10), x)
    latencies = []
    truncated = False
    for x in range(calls):
        if x % 128 == 0 and time.monotonic() > deadline:
            truncated = True
            break
        start = time.perf_counter_ns()
        value = executor.submit(add, x).result(timeout=10)
        latencies.append((time.perf_counter_ns() - start) / 1000.0)
        check(value, x)
    latencies.sort()
    return latencies, truncated


def pipelined(executor, calls, window, deadline):
    """Returns (calls per second, truncated) of one sliding-window run."""
    in_flight = collections.deque()
    submitted = 0
    done = 0
    truncated = False
    start = time.perf_counter()
    while submitted < min(window, calls):
        in_flight.append((submitted, executor.submit(add, submitted)))
        submitted += 1
    while in_flight:
        x, future = in_flight.popleft()
        check(future.result(timeout=10), x)
        done += 1
        if submitted == calls or truncated:
            continue
        if submitted % 512 == 0 and time.monotonic() > deadline:
            truncated = True
            continue
        in_flight.append((submitted, executor.submit(add, submitted)))
        submitted += 1
    return done / (time.perf_counter() - start), truncated


def measure(workers, args, deadline):
    context = multiprocessing.get_context("fork")
    with concurrent.futures.ProcessPoolExecutor(
            max_workers=workers, mp_context=context, initializer=die_with_parent) as executor:
        latencies, seq_truncated = sequential(executor, args.seq_warmup, args.seq_calls, deadline)
        # Untimed: the feeder thread and both workers are busy before the timed runs.
        pipelined(executor, min(args.pipe_calls, 2 * args.window), args.window, deadline)
        runs = []
        pipe_truncated = False
        for _ in range(args.repeats):
            rate, truncated = pipelined(executor, args.pipe_calls, args.window, deadline)
            runs.append(rate)
            pipe_truncated = pipe_truncated or truncated
    return {
        "name": f"python-{workers}",
        "workers": workers,
        "seq_p50_us": percentile(latencies, 0.50),
        "seq_p99_us": percentile(latencies, 0.99),
        "pipelined_calls_per_s": statistics.median(runs),
        "truncated": int(seq_truncated or pipe_truncated),
        "runs": ",".join(f"{r:.1f}" for r in runs),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seq-warmup", type=int, default=500)
    parser.add_argument("--seq-calls", type=int, default=5000)
    parser.add_argument("--pipe-calls", type=int, default=20000)
    parser.add_argument("--window", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--time-limit", type=float, default=40.0,
                        help="seconds for the whole script; runs past it are cut short")
    args = parser.parse_args()
    if min(args.workers, args.seq_calls, args.pipe_calls, args.window, args.repeats) < 1 or \
            args.seq_warmup < 0:
        parser.error("workers, call counts, window and repeats must be positive")
    deadline = time.monotonic() + args.time_limit

    print(f"python {sys.version.split()[0]}, ProcessPoolExecutor (fork)", flush=True)
    figures = measure(args.workers, args, deadline)
    fields = " ".join(
        f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in figures.items())
    print(f"result {fields}", flush=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (CallError, concurrent.futures.TimeoutError,
            concurrent.futures.process.BrokenProcessPool) as e:
        print(f"python_processpool.py: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
