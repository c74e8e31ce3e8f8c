"""Memory per idle connection: Reality's reactors beside the floor and asyncio.

    python benchmarks/idle_memory.py [--conns 5000] [--reps 3] [--servers raw,reality,...]

Each server is the echo server of ``benchmarks/echo.py`` (the same
processes, the same Echo protocols as a user writes them), started on its
own. This script opens ``--warmup`` connections first (so that imports,
first allocations and the listening code's one-off costs are paid), reads
the server's resident set size (``VmRSS`` from ``/proc/<pid>/status``),
then opens ``--conns`` more connections and echoes one 64-byte message on
each (so every connection has been accepted, read from and written to,
and is then idle, as a player who has typed a line), and reads the RSS
again. The difference divided by ``--conns`` is the figure: KB per idle
connection, on the server side only (the kernel's socket buffers are not
in RSS). Medians of ``--reps`` runs, then each server's ratio to the floor
(``raw``: a bare ``selectors`` loop that keeps nothing but the socket).

Servers: ``raw``, ``reality`` (the selector reactor), ``asyncio`` (an
asyncio.Protocol server on the default loop), and when available
``reality-asyncio``, ``reality-uvloop`` (Reality's reactor interface on an
asyncio or uvloop loop) and ``uvloop`` (the asyncio.Protocol server on a
uvloop loop).
"""

from __future__ import annotations

import socket
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402
import echo  # noqa: E402

MESSAGE = b"x" * 64


def available_servers() -> list[str]:
    """The servers to measure: the echo benchmark's, and plain uvloop when installed."""
    names = [name for name in echo.available_servers() if name != "asyncio-64k"]
    if "reality-uvloop" in names:
        names.append("uvloop")
    return names


def open_idle(port: int, count: int, into: list[socket.socket]) -> None:
    """Open ``count`` connections, one at a time, each echoing one message; keep them open.

    One at a time so the listen backlog never overflows (an overflowing
    backlog makes the kernel drop SYNs and the client wait a second).
    """
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        into.append(sock)
        sock.sendall(MESSAGE)
        got = 0
        while got < len(MESSAGE):
            data = sock.recv(4096)
            if not data:
                raise SystemExit("the server closed a connection")
            got += len(data)


def settled_rss(pid: int) -> int:
    """The server's RSS in KiB once it stops moving (the last replies have gone out)."""
    last = common.rss_kib(pid)
    for _ in range(20):
        time.sleep(0.1)
        now = common.rss_kib(pid)
        if now == last:
            return now
        last = now
    return last


def measure(server: str, conns: int, warmup: int) -> float:
    """Bytes of server RSS per idle connection for one run of ``server``."""
    port = common.free_port()
    argv = [sys.executable, echo.__file__, *echo.SERVERS[server], "--port", str(port)]
    proc = common.start_ready(argv, f"the {server} server")
    socks: list[socket.socket] = []
    try:
        open_idle(port, warmup, socks)
        before = settled_rss(proc.pid)
        open_idle(port, conns, socks)
        after = settled_rss(proc.pid)
    finally:
        for sock in socks:
            sock.close()
        common.stop_process(proc)
    return (after - before) * 1024 / conns


def main() -> None:
    parser = common.arg_parser(__doc__)
    parser.add_argument("--conns", type=int, default=5000, help="idle connections measured")
    parser.add_argument("--warmup", type=int, default=200, help="connections opened first")
    parser.add_argument("--reps", type=int, default=3, help="interleaved repetitions")
    parser.add_argument("--servers", default=None, help="comma-separated subset of servers")
    args = parser.parse_args()

    servers = args.servers.split(",") if args.servers else available_servers()
    version = sys.version.split()[0]
    print(f"idle memory: {len(servers)} servers x {args.conns} idle connections "
          f"(after {args.warmup} warm-up) x {args.reps} reps; python {version}")
    results: dict[str, list[float]] = {}
    for rep in range(args.reps):
        for server in servers:
            per_conn = measure(server, args.conns, args.warmup)
            results.setdefault(server, []).append(per_conn)
            print(f"rep {rep + 1} {server:<16} {per_conn / 1024:6.2f} KB/conn", flush=True)

    print()
    print(f"{'server':<16} {'KB/conn':>8} {'(min-max)':>14} {'x raw':>6}")
    floor = statistics.median(results["raw"]) if "raw" in results else None
    for server in servers:
        rows = results[server]
        med = statistics.median(rows)
        ratio = f"{med / floor:6.2f}" if floor else "     -"
        print(f"{server:<16} {med / 1024:8.2f} {min(rows) / 1024:6.2f}-{max(rows) / 1024:<6.2f} "
              f"{ratio}")


if __name__ == "__main__":
    main()
