"""Echo benchmark: Reality's reactor side by side with asyncio, in one run.

    python benchmarks/echo.py [--duration 3] [--reps 3] [--conns 1,100,1000]

Each server runs in its own process (pinned to CPU 0 with ``taskset`` when
it exists); one load process (pinned to CPU 1) keeps every connection in
ping-pong with 64-byte messages for a fixed time. The rows are interleaved
(rep 1: every server at every connection count, then rep 2, ...) so that a
noisy neighbour hurts every server alike.

For each server it prints messages/s, the p50 and p99 round-trip time,
and the server's CPU time per message (user + system, read from
``/proc/<pid>/stat``), then the ratios to asyncio. CPU per message is the
steadier figure on a shared machine: read it first.

Servers: ``raw`` (the floor: a bare ``selectors`` loop that accepts,
reads and writes back, nothing else), ``reality`` (the selector reactor),
``asyncio`` (an asyncio.Protocol echo server on the default loop, as
shipped: 256 KiB reads), ``asyncio-64k`` (the same with 64 KiB reads,
asyncio at its best on this workload), and, when available,
``reality-asyncio`` and ``reality-uvloop`` (Reality's reactor interface on
an asyncio loop). ``uvloop`` (the asyncio.Protocol server on a uvloop loop)
is there for ``--servers``. The report ends with each server's ratio to
the floor and to asyncio.
"""

from __future__ import annotations

import argparse
import json
import select
import selectors
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

MESSAGE = b"x" * 64


# -- servers ------------------------------------------------------------------------


def serve_raw(port: int) -> None:
    """The floor: a bare ``selectors`` loop that accepts, reads and writes back.

    Nothing else: no transport, no protocol object, no buffering, no error
    handling beyond closing. A 64-byte reply always fits in an empty socket
    buffer, so ``send`` is not checked for a short count: this server is only
    good for this benchmark. Like Reality it reads at most 64 KiB per
    ``recv`` and turns Nagle's algorithm off. Runs until SIGTERM kills it.
    """
    selector = selectors.DefaultSelector()
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(2048)
    listener.setblocking(False)
    listening = listener.fileno()
    selector.register(listener, selectors.EVENT_READ)
    select_ = selector.select
    print("ready", flush=True)
    while True:
        for key, _ in select_():
            if key.fd == listening:
                for _ in range(128):
                    try:
                        conn, _ = listener.accept()
                    except (BlockingIOError, InterruptedError):
                        break
                    conn.setblocking(False)
                    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    selector.register(conn, selectors.EVENT_READ)
                continue
            sock = key.fileobj
            try:
                data = sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            if data:
                sock.send(data)
            else:
                selector.unregister(sock)
                sock.close()


def serve_asyncio(port: int, max_size: int | None = None, loop: str = "asyncio") -> None:
    """A minimal asyncio.Protocol echo server on the default event loop.

    With ``max_size`` the transport reads at most that many bytes per recv
    (asyncio's default is 256 KiB, past glibc's mmap threshold). With
    ``loop="uvloop"`` the same protocol runs on a uvloop loop.
    """
    import asyncio
    import asyncio.selector_events

    if loop == "uvloop":
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    if max_size is not None:
        asyncio.selector_events._SelectorSocketTransport.max_size = max_size

    class Echo(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport

        def data_received(self, data: bytes) -> None:
            self.transport.write(data)

    common.serve_asyncio_protocol(Echo, port, backlog=2048)


def serve_reality(port: int, reactor_name: str) -> None:
    """Reality's echo server on the named reactor."""
    from reality.net.protocol import Factory, Protocol

    class Echo(Protocol):
        def data_received(self, data: bytes) -> None:
            self.transport.write(data)

    if reactor_name == "selector":
        from reality.net.reactor import SelectReactor

        reactor = SelectReactor()
    else:
        from reality.net.asyncio_reactor import make_reactor  # type: ignore[import-not-found]

        reactor = make_reactor(reactor_name)
    reactor.listen_tcp(port, Factory.for_protocol(Echo), interface="127.0.0.1", backlog=2048)
    reactor.call_when_running(print, "ready", flush=True)
    reactor.run()


SERVERS = {
    "raw": ["--serve", "raw"],
    "reality": ["--serve", "reality", "--reactor", "selector"],
    "asyncio": ["--serve", "asyncio"],
    "asyncio-64k": ["--serve", "asyncio", "--max-size", "65536"],
    "reality-asyncio": ["--serve", "reality", "--reactor", "asyncio"],
    "reality-uvloop": ["--serve", "reality", "--reactor", "uvloop"],
    "uvloop": ["--serve", "asyncio", "--loop", "uvloop"],
}


def available_servers() -> list[str]:
    """The servers this machine can run, in the order of the report (not ``uvloop``)."""
    names = ["raw", "reality", "asyncio", "asyncio-64k"]
    try:
        import reality.net.asyncio_reactor  # type: ignore[import-not-found]  # noqa: F401

        names.append("reality-asyncio")
        try:
            import uvloop  # noqa: F401

            names.append("reality-uvloop")
        except ImportError:
            pass
    except ImportError:
        pass
    return names


# -- load -----------------------------------------------------------------------------


def run_load(port: int, conns: int, duration: float, warmup: float, server_pid: int) -> dict:
    """Keep ``conns`` connections in 64-byte ping-pong; measure the window after warm-up."""
    ep = select.epoll()
    socks: dict[int, socket.socket] = {}
    sent_at: dict[int, float] = {}
    got: dict[int, int] = {}
    for _ in range(conns):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.setblocking(False)
        socks[s.fileno()] = s
        ep.register(s.fileno(), select.EPOLLIN)
    now = time.perf_counter
    for fd, s in socks.items():
        sent_at[fd] = now()
        got[fd] = 0
        s.send(MESSAGE)
    start = now()
    window_start = start + warmup
    end = window_start + duration
    measuring = False
    count = 0
    rtts: list[float] = []
    cpu0 = (0.0, 0.0)
    size = len(MESSAGE)
    while True:
        t = now()
        if not measuring and t >= window_start:
            measuring = True
            cpu0 = common.cpu_times(server_pid)
            wall0 = t
        if t >= end:
            break
        for fd, _ in ep.poll(0.5):
            s = socks[fd]
            try:
                data = s.recv(65536)
            except BlockingIOError:
                continue
            if not data:
                raise SystemExit("the server closed a connection")
            got[fd] += len(data)
            while got[fd] >= size:
                got[fd] -= size
                t2 = now()
                if measuring:
                    count += 1
                    if len(rtts) < 2_000_000:
                        rtts.append(t2 - sent_at[fd])
                sent_at[fd] = t2
                s.send(MESSAGE)
    cpu1 = common.cpu_times(server_pid)
    wall = now() - wall0
    for s in socks.values():
        s.close()
    rtts.sort()
    user = cpu1[0] - cpu0[0]
    system = cpu1[1] - cpu0[1]
    return {
        "messages": count,
        "rate": count / wall,
        "p50_us": common.percentile(rtts, 50) * 1e6,
        "p99_us": common.percentile(rtts, 99) * 1e6,
        "cpu_user_us": user / count * 1e6 if count else 0.0,
        "cpu_sys_us": system / count * 1e6 if count else 0.0,
    }


# -- orchestration ---------------------------------------------------------------------


def measure(server: str, conns: int, duration: float, warmup: float) -> dict:
    """Start ``server`` pinned to CPU 0, run the load process on CPU 1; its figures."""
    port = common.free_port()
    argv = [sys.executable, __file__, *SERVERS[server], "--port", str(port)]
    proc = common.start_ready(common.pinned(0, argv), f"the {server} server")
    try:
        load = subprocess.run(
            common.pinned(1, [sys.executable, __file__, "--load", "--port", str(port),
                       "--conns", str(conns), "--duration", str(duration),
                       "--warmup", str(warmup), "--server-pid", str(proc.pid)]),
            capture_output=True, text=True, timeout=duration + warmup + 60,
        )
        if load.returncode != 0:
            raise SystemExit(f"load against {server} failed:\n{load.stderr}")
        return json.loads(load.stdout)
    finally:
        common.stop_process(proc)


def report(results: dict[tuple[str, int], list[dict]], servers: list[str], conn_list: list[int]):
    def med(rows: list[dict], key: str) -> float:
        return statistics.median(r[key] for r in rows)

    print()
    print(f"{'server':<16} {'conns':>5} {'cpu/msg us':>11} {'(user+sys)':>14} "
          f"{'msgs/s':>9} {'p50 us':>8} {'p99 us':>8}")
    for conns in conn_list:
        for server in servers:
            rows = results[(server, conns)]
            cpu = med(rows, "cpu_user_us") + med(rows, "cpu_sys_us")
            print(f"{server:<16} {conns:>5} {cpu:>11.2f} "
                  f"{med(rows, 'cpu_user_us'):>6.2f}+{med(rows, 'cpu_sys_us'):<6.2f} "
                  f"{med(rows, 'rate'):>9.0f} {med(rows, 'p50_us'):>8.0f} "
                  f"{med(rows, 'p99_us'):>8.0f}")
    for base_name, title in (("raw", "the floor (raw selectors loop)"), ("asyncio", "asyncio")):
        if base_name not in servers:
            continue
        print()
        print(f"ratios to {title} (CPU per message: lower is better; msgs/s: higher is better)")
        for conns in conn_list:
            base = results[(base_name, conns)]
            base_cpu = med(base, "cpu_user_us") + med(base, "cpu_sys_us")
            for server in servers:
                if server == base_name:
                    continue
                rows = results[(server, conns)]
                cpu = med(rows, "cpu_user_us") + med(rows, "cpu_sys_us")
                print(f"  {server:<16} {conns:>5} conns: cpu/msg x{cpu / base_cpu:.2f}, "
                      f"msgs/s x{med(rows, 'rate') / med(base, 'rate'):.2f}")


def main() -> None:
    parser = common.arg_parser(__doc__)
    parser.add_argument("--duration", type=float, default=3.0, help="seconds measured per row")
    parser.add_argument("--warmup", type=float, default=0.5, help="seconds before measuring")
    parser.add_argument("--reps", type=int, default=3, help="interleaved repetitions")
    parser.add_argument("--conns", default="1,100,1000", help="connection counts")
    parser.add_argument("--servers", default=None, help="comma-separated subset of servers")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--reactor", default="selector", help=argparse.SUPPRESS)
    parser.add_argument("--max-size", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--loop", default="asyncio", help=argparse.SUPPRESS)
    parser.add_argument("--load", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--server-pid", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.serve == "raw":
        serve_raw(args.port)
        return
    if args.serve == "asyncio":
        serve_asyncio(args.port, args.max_size, args.loop)
        return
    if args.serve == "reality":
        serve_reality(args.port, args.reactor)
        return
    if args.load:
        result = run_load(args.port, int(args.conns), args.duration, args.warmup, args.server_pid)
        print(json.dumps(result))
        return

    servers = args.servers.split(",") if args.servers else available_servers()
    conn_list = [int(c) for c in args.conns.split(",")]
    results: dict[tuple[str, int], list[dict]] = {}
    version = sys.version.split()[0]
    print(f"echo benchmark: {len(servers)} servers x {conn_list} connections x "
          f"{args.reps} reps, {args.duration}s each, 64-byte ping-pong; python {version}")
    for rep in range(args.reps):
        for conns in conn_list:
            for server in servers:
                r = measure(server, conns, args.duration, args.warmup)
                results.setdefault((server, conns), []).append(r)
                print(f"rep {rep + 1} {server:<16} {conns:>5} conns: {r['rate']:>8.0f} msg/s "
                      f"cpu {r['cpu_user_us'] + r['cpu_sys_us']:.2f} us/msg", flush=True)
    report(results, servers, conn_list)


if __name__ == "__main__":
    main()
