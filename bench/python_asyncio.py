#!/usr/bin/env python3
"""Python's peer figures for bench/asyncio_bench.cpp: asyncio.gather of --calls coroutines that each
await asyncio.sleep(--sleep-ms / 1000) and return their argument, on one event loop.

Measured as the C++ variants are: the wall time from the first call to the last result; the
process's threads, sampled every millisecond from /proc/self/status by a thread of this script
(which counts itself), at their peak and before the calls; the peak resident memory
(resource.getrusage ru_maxrss, in KB on Linux) and the resident memory before the calls (VmRSS).
Prints one line the benchmark parses, e.g.

    result variant=python-asyncio calls=1000 wall_s=0.104 threads_before=2 threads_peak=2
        rss_before_kb=9800 rss_peak_kb=11200

(on one line); other lines are informational. The gather is bounded by --time-limit seconds, past
which it is cancelled and the script exits 1.
"""

import argparse
import asyncio
import platform
import resource
import sys
import threading
import time


def read_status():
    """The process's thread count and resident memory (KB) from /proc/self/status."""
    fields = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("Threads", "VmRSS"):
                fields[key] = int(value.split()[0])
    return fields["Threads"], fields["VmRSS"]


class ThreadSampler:
    """Samples the thread count every millisecond on a thread of its own until stop()."""

    def __init__(self):
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self):
        # Bounded by stop(); daemon, so it cannot keep the process alive.
        while not self._stop.is_set():
            self.peak = max(self.peak, read_status()[0])
            self._stop.wait(0.001)

    def stop(self):
        self._stop.set()
        self._thread.join()
        return self.peak


async def nap(x, seconds):
    await asyncio.sleep(seconds)
    return x


async def timed_gather(calls, seconds):
    """Returns (seconds from the first call to the last result, the results)."""
    start = time.perf_counter()
    results = await asyncio.gather(*(nap(x, seconds) for x in range(calls)))
    return time.perf_counter() - start, results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--sleep-ms", type=int, default=100)
    parser.add_argument("--time-limit", type=float, default=60.0)
    args = parser.parse_args()
    print(f"Python {platform.python_version()}", flush=True)

    sampler = ThreadSampler()
    threads_before, rss_before_kb = read_status()
    try:
        wall_s, results = asyncio.run(asyncio.wait_for(
            timed_gather(args.calls, args.sleep_ms / 1000), timeout=args.time_limit))
    except asyncio.TimeoutError:
        print(f"failed the calls were not done within {args.time_limit} s", flush=True)
        return 1
    threads_peak = sampler.stop()
    rss_peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    if results != list(range(args.calls)):
        print("failed a call returned a value other than its argument", flush=True)
        return 1
    print(f"result variant=python-asyncio calls={args.calls} wall_s={wall_s:.6f} "
          f"threads_before={threads_before} threads_peak={threads_peak} "
          f"rss_before_kb={rss_before_kb} rss_peak_kb={rss_peak_kb}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
