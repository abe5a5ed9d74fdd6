"""What python_threadpool.py and python_processpool.py share: Python's peer figures for the C++
benchmarks, measured on a concurrent.futures executor that each script makes its own way.

The call is add(x) = x + 1. For each worker count:

- sequential: one call in flight at a time; p50 and p99 of the round trip in microseconds;
- pipelined: `window` calls in flight (a sliding window: whenever the oldest call is done, wait on
  it and submit one more); calls per second, the median of `repeats` runs.

Each count ends in one line the C++ benchmark parses (peer_measure.hpp, parse_result_line), e.g.

    result name=python-2 workers=2 seq_p50_us=41.2 seq_p99_us=88.0 pipelined_calls_per_s=61234.5
        truncated=0 runs=60000.1,61234.5,62000.3

(on one line). Lines that do not start with "result " are informational. Every loop is bounded by
its call count and by --time-limit seconds for the whole script; a run cut short by the limit
reports truncated=1.

The scripts import this module from their own folder, which Python puts first on sys.path when it
runs a script by its path.
"""

import argparse
import collections
import math
import statistics
import sys
import time
from dataclasses import dataclass
from typing import Optional


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


@dataclass(frozen=True)
class Pacing:
    """How a script's loops look at the clock and wait on a call."""
    seq_check_every: int  # sequential calls between two looks at the clock for the deadline
    pipe_check_every: int  # pipelined submissions between two looks at the clock
    timeout: Optional[float]  # seconds to wait on one call's result; None: no limit


def sequential(executor, warmup, calls, deadline, pacing):
    """Returns (sorted round trips in microseconds, truncated)."""
    for x in range(warmup):
        check(executor.submit(add, x).result(timeout=pacing.timeout), x)
    latencies = []
    truncated = False
    for x in range(calls):
        # Checking the clock only now and then keeps it out of most round trips.
        if x % pacing.seq_check_every == 0 and time.monotonic() > deadline:
            truncated = True
            break
        start = time.perf_counter_ns()
        value = executor.submit(add, x).result(timeout=pacing.timeout)
        latencies.append((time.perf_counter_ns() - start) / 1000.0)
        check(value, x)
    latencies.sort()
    return latencies, truncated


def pipelined(executor, calls, window, deadline, pacing):
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
        check(future.result(timeout=pacing.timeout), x)
        completed += 1
        if submitted < calls and not truncated:
            if submitted % pacing.pipe_check_every == 0 and time.monotonic() > deadline:
                truncated = True
            else:
                in_flight.append((submitted, executor.submit(add, submitted)))
                submitted += 1
    elapsed = time.perf_counter() - start
    return completed / elapsed, truncated


def measure(executor, workers, args, deadline, pacing):
    """Both measurements on `executor` of `workers` workers; returns the result line's fields."""
    latencies, seq_truncated = sequential(
        executor, args.seq_warmup, args.seq_calls, deadline, pacing)
    # Untimed: the executor starts all its threads (and processes) before the timed runs.
    pipelined(executor, min(args.pipe_calls, 2 * args.window), args.window, deadline, pacing)
    runs = []
    pipe_truncated = False
    for _ in range(args.repeats):
        rate, truncated = pipelined(executor, args.pipe_calls, args.window, deadline, pacing)
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


def parse_args(description, workers, seq_warmup, seq_calls, pipe_calls):
    """The command line of both scripts; the arguments are their defaults."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--workers", default=workers, help="comma-separated worker counts")
    parser.add_argument("--seq-warmup", type=int, default=seq_warmup)
    parser.add_argument("--seq-calls", type=int, default=seq_calls)
    parser.add_argument("--pipe-calls", type=int, default=pipe_calls)
    parser.add_argument("--window", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--time-limit", type=float, default=40.0,
                        help="seconds for the whole script; runs past it are cut short")
    args = parser.parse_args()
    try:
        args.workers = [int(w) for w in args.workers.split(",") if w.strip()]
    except ValueError:
        parser.error("--workers takes comma-separated whole numbers")
    if min(args.workers + [args.seq_calls, args.pipe_calls, args.window, args.repeats]) < 1 or \
            args.seq_warmup < 0:
        parser.error("workers, call counts, window and repeats must be positive")
    return args


def run(args, executor_name, make_executor, pacing):
    """Measures a fresh `make_executor(workers)` for each worker count and prints its result line.
    Returns the exit status: 0 (a failed call raises)."""
    deadline = time.monotonic() + args.time_limit
    print(f"python {sys.version.split()[0]}, {executor_name}", flush=True)
    for workers in args.workers:
        with make_executor(workers) as executor:
            figures = measure(executor, workers, args, deadline, pacing)
        fields = " ".join(
            f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in figures.items())
        print(f"result {fields}", flush=True)
    return 0
