#!/usr/bin/env python3
"""Python's peer figures for bench/thread_pool_bench.cpp.

Measures a trivial call, add(x) = x + 1, on concurrent.futures.ThreadPoolExecutor:

- sequential: one call in flight; p50 and p99 of the round trip in microseconds;
- pipelined: a sliding window of calls in flight (submit `window`, then each time the oldest
  completes, wait on it and submit one more); calls per second, the median of `repeats` runs.

For each worker count it prints one line the C++ benchmark parses, e.g.

    result name=python-2 workers=2 seq_p50_us=41.2 seq_p99_us=88.0 pipelined_calls_per_s=61234.5
        truncated=0 runs=60000.1,61234.5,62000.3

(on one line). Lines that do not start with "result " are informational. Every loop is bounded by
its call count and by --time-limit seconds for the whole script; a run cut short by the time
limit reports truncated=1. Exit status: 0 when every figure was measured, 1 otherwise.
"""

import argparse
import collections
import concurrent.futures
import math
import statistics
import sys
import time


def add(x):
    return x + 1


def percentile(sorted_values, q):
    """Nearest-rank percentile (the same definition as the C++ side uses)."""
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
    """Returns (sorted latencies in microseconds, truncated)."""
    for x in range(warmup):
        check(executor.submit(add, x).result(), x)
    latencies = []
    truncated = False
    for x in range(calls):
        # Checking the clock only now and then keeps it out of most round trips.
        if x % 256 == 0 and time.monotonic() > deadline:
            truncated = True
            break
        start = time.perf_counter_ns()
        value = executor.submit(add, x).result()
        latencies.append((time.perf_counter_ns() - start) / 1000.0)
        check(value, x)
    latencies.sort()
    return latencies, truncated


def pipelined(executor, calls, window, deadline):
    """Returns (calls per second, truncated) of one sliding-window run."""
    in_flight = collections.deque()
    submitted = 0
    completed = 0
    truncated = False
    start = time.perf_counter()
    while submitted < min(window, calls):
        in_flight.append((submitted, executor.submit(add, submitted)))
        submitted += 1
    while in_flight:
        x, future = in_flight.popleft()
        check(future.result(), x)
        completed += 1
        if submitted < calls and not truncated:
            if submitted % 1024 == 0 and time.monotonic() > deadline:
                truncated = True
            else:
                in_flight.append((submitted, executor.submit(add, submitted)))
                submitted += 1
    elapsed = time.perf_counter() - start
    return completed / elapsed, truncated


def measure(workers, args, deadline):
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as executor:
        latencies, seq_truncated = sequential(executor, args.seq_warmup, args.seq_calls, deadline)
        # Warm-up: lets the executor start all its threads before the timed runs.
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
    parser.add_argument("--workers", default="2,24", help="comma-separated worker counts")
    parser.add_argument("--seq-warmup", type=int, default=2000)
    parser.add_argument("--seq-calls", type=int, default=20000)
    parser.add_argument("--pipe-calls", type=int, default=30000)
    parser.add_argument("--window", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--time-limit", type=float, default=40.0,
                        help="seconds for the whole script; runs past it are cut short")
    args = parser.parse_args()
    if min(args.seq_calls, args.pipe_calls, args.window, args.repeats) < 1 or args.seq_warmup < 0:
        parser.error("call counts, window and repeats must be positive")
    worker_counts = [int(w) for w in args.workers.split(",") if w.strip()]
    deadline = time.monotonic() + args.time_limit

    print(f"python {sys.version.split()[0]}, ThreadPoolExecutor", flush=True)
    for workers in worker_counts:
        figures = measure(workers, args, deadline)
        fields = " ".join(
            f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in figures.items())
        print(f"result {fields}", flush=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except CallError as e:
        print(f"python_threadpool.py: wrong result: {e}", file=sys.stderr)
        sys.exit(1)
