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

import asyncio
import gc
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

from reality.net.reactor import SelectReactor  # noqa: E402


def delays(count: int, spread: float, seed: int = 1) -> list[float]:
    """``count`` delays spread evenly over ``spread`` seconds, the same for every loop."""
    rng = random.Random(seed)
    return [rng.random() * spread for _ in range(count)]


class Loop(NamedTuple):
    """What the workloads need of an event loop beyond ``call_later`` and ``close``."""

    new: Callable[[], Any]
    stop: Callable[[Any], None]  # from a callback: end ``run``
    run: Callable[[Any], None]  # run until ``stop``
    turn: Callable[[Any], None]  # run one turn without waiting


def _asyncio_turn(loop: asyncio.AbstractEventLoop) -> None:
    loop.call_soon(loop.stop)
    loop.run_forever()


LOOPS = {
    "reality": Loop(
        new=SelectReactor,
        stop=lambda reactor: reactor.crash(),
        run=lambda reactor: reactor.run(install_signal_handlers=False),
        turn=lambda reactor: reactor.iterate(0),
    ),
    "asyncio": Loop(
        new=asyncio.new_event_loop,
        stop=lambda loop: loop.stop(),
        run=lambda loop: loop.run_forever(),
        turn=_asyncio_turn,
    ),
}


# -- workloads: seconds for ``count`` timers on a fresh loop ---------------------------


def schedule(kind: Loop, count: int) -> float:
    """``call_later`` of ``count`` timers spread over an hour."""
    loop = kind.new()
    ds = delays(count, 3600)
    noop = int
    t0 = time.perf_counter()
    for d in ds:
        loop.call_later(d, noop)
    elapsed = time.perf_counter() - t0
    loop.close()
    return elapsed


def fire(kind: Loop, count: int) -> float:
    """Run the loop until ``count`` timers, all already due, have fired."""
    loop = kind.new()
    ds = delays(count, 0.01)
    fired = [0]
    stop = kind.stop

    def tick() -> None:
        fired[0] += 1
        if fired[0] == count:
            stop(loop)

    for d in ds:
        loop.call_later(d, tick)
    time.sleep(0.011)  # every timer is now due: measure dispatch, not waiting
    t0 = time.perf_counter()
    kind.run(loop)
    elapsed = time.perf_counter() - t0
    loop.close()
    assert fired[0] == count
    return elapsed


def cancel(kind: Loop, count: int) -> float:
    """Schedule ``count`` timers, cancel every one, run one loop turn."""
    loop = kind.new()
    ds = delays(count, 3600)
    noop = int
    t0 = time.perf_counter()
    calls = [loop.call_later(d, noop) for d in ds]
    for call in calls:
        call.cancel()
    kind.turn(loop)
    elapsed = time.perf_counter() - t0
    loop.close()
    return elapsed


WORKLOADS: dict[str, Callable[[Loop, int], float]] = {
    "schedule": schedule,
    "fire": fire,
    "schedule+cancel": cancel,
}


def main() -> None:
    parser = common.arg_parser(__doc__)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    results: dict[tuple[str, str], list[float]] = {}
    for _ in range(args.reps):
        for workload, run in WORKLOADS.items():
            for name, kind in LOOPS.items():
                gc.collect()
                results.setdefault((workload, name), []).append(run(kind, args.count) / args.count)
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
