"""Timer benchmark: Reality's reactor side by side with asyncio, in one run.

    python benchmarks/timers.py [--count 100000] [--reps 5]

Three workloads, each on a fresh loop, interleaved across repetitions:

- schedule: ``call_later`` of ``count`` timers with spread-out delays;
- fire: schedule ``count`` timers due within 10 ms, run the loop until all
  have fired (measures heap pops and dispatch; the wait itself is excluded
  by scheduling them all in the past relative to the run);
- cancel: schedule ``count`` timers, cancel every one, and run one loop turn
  (measures lazy cancellation and heap compaction).

Prints the median time per timer in microseconds and the ratio to asyncio.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reality.net.reactor import SelectReactor  # noqa: E402


def delays(count: int, spread: float, seed: int = 1) -> list[float]:
    rng = random.Random(seed)
    return [rng.random() * spread for _ in range(count)]


# -- Reality ---------------------------------------------------------------------------


def reality_schedule(count: int) -> float:
    reactor = SelectReactor()
    ds = delays(count, 3600)
    noop = int
    t0 = time.perf_counter()
    for d in ds:
        reactor.call_later(d, noop)
    elapsed = time.perf_counter() - t0
    reactor.close()
    return elapsed


def reality_fire(count: int) -> float:
    reactor = SelectReactor()
    ds = delays(count, 0.01)
    fired = [0]

    def tick() -> None:
        fired[0] += 1
        if fired[0] == count:
            reactor.crash()

    for d in ds:
        reactor.call_later(d, tick)
    time.sleep(0.011)  # every timer is now due: measure dispatch, not waiting
    t0 = time.perf_counter()
    reactor.run(install_signal_handlers=False)
    elapsed = time.perf_counter() - t0
    reactor.close()
    assert fired[0] == count
    return elapsed


def reality_cancel(count: int) -> float:
    reactor = SelectReactor()
    ds = delays(count, 3600)
    noop = int
    t0 = time.perf_counter()
    calls = [reactor.call_later(d, noop) for d in ds]
    for call in calls:
        call.cancel()
    reactor.iterate(0)
    elapsed = time.perf_counter() - t0
    reactor.close()
    return elapsed


# -- asyncio ---------------------------------------------------------------------------


def asyncio_schedule(count: int) -> float:
    loop = asyncio.new_event_loop()
    ds = delays(count, 3600)
    noop = int
    t0 = time.perf_counter()
    for d in ds:
        loop.call_later(d, noop)
    elapsed = time.perf_counter() - t0
    loop.close()
    return elapsed


def asyncio_fire(count: int) -> float:
    loop = asyncio.new_event_loop()
    ds = delays(count, 0.01)
    fired = [0]

    def tick() -> None:
        fired[0] += 1
        if fired[0] == count:
            loop.stop()

    for d in ds:
        loop.call_later(d, tick)
    time.sleep(0.011)
    t0 = time.perf_counter()
    loop.run_forever()
    elapsed = time.perf_counter() - t0
    loop.close()
    assert fired[0] == count
    return elapsed


def asyncio_cancel(count: int) -> float:
    loop = asyncio.new_event_loop()
    ds = delays(count, 3600)
    noop = int
    t0 = time.perf_counter()
    handles = [loop.call_later(d, noop) for d in ds]
    for handle in handles:
        handle.cancel()
    loop.call_soon(loop.stop)
    loop.run_forever()
    elapsed = time.perf_counter() - t0
    loop.close()
    return elapsed


WORKLOADS: dict[str, dict[str, Callable[[int], float]]] = {
    "schedule": {"reality": reality_schedule, "asyncio": asyncio_schedule},
    "fire": {"reality": reality_fire, "asyncio": asyncio_fire},
    "schedule+cancel": {"reality": reality_cancel, "asyncio": asyncio_cancel},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    results: dict[tuple[str, str], list[float]] = {}
    for _ in range(args.reps):
        for workload, impls in WORKLOADS.items():
            for name, fn in impls.items():
                gc.collect()
                results.setdefault((workload, name), []).append(fn(args.count) / args.count)
    print(f"timers benchmark: {args.count} timers, median of {args.reps} interleaved runs; "
          f"python {sys.version.split()[0]}")
    print(f"{'workload':<16} {'reality us':>11} {'asyncio us':>11} {'ratio':>7}")
    for workload in WORKLOADS:
        r = statistics.median(results[(workload, "reality")]) * 1e6
        a = statistics.median(results[(workload, "asyncio")]) * 1e6
        print(f"{workload:<16} {r:>11.3f} {a:>11.3f} {r / a:>7.2f}")
    print("(time per timer; ratio < 1 means Reality is faster)")


if __name__ == "__main__":
    main()
