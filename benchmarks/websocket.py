"""WebSocket echo benchmark: Reality's engine beside the ``websockets`` library.

    python benchmarks/websocket.py [--duration 3] [--reps 3] [--conns 100,1000]

Each server runs in its own process (pinned to CPU 0 with ``taskset`` when
it exists); one load process (pinned to CPU 1) opens the connections
(handshake without extensions, so nobody compresses), then keeps every
connection in ping-pong with 64-byte text messages (masked, as a client
must) for a fixed time. Rows are interleaved across reps so that a noisy
neighbour hurts every server alike.

For each server it prints messages/s, the p50 and p99 round-trip time and
the server's CPU time per message (user + system, from
``/proc/<pid>/stat``), then the ratio of each to ``websockets`` on asyncio.
CPU per message is the steadier figure on a shared machine: read it first.

Servers: ``reality`` (the engine's HTTP server, the 101 switch and
:class:`WebSocketProtocol` on the selector reactor), ``reality-asyncio`` and
``reality-uvloop`` (the same on the asyncio-backed reactor),
``websockets`` (the ``websockets`` library's asyncio server, its defaults
but compression off) and ``websockets-uvloop`` (the same on uvloop), those
that can run here.
"""

from __future__ import annotations

import argparse
import json
import select
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import common  # noqa: E402

TEXT = b"x" * 64
MASK = b"\x12\x34\x56\x78"
REPLY_SIZE = 2 + len(TEXT)  # an unmasked 64-byte text frame


# -- servers ------------------------------------------------------------------------


def serve_reality(port: int, reactor_name: str) -> None:
    """The engine: HTTP server, handshake, 101 switch, WebSocketProtocol echo."""
    from reality.net.asyncio_reactor import make_reactor
    from reality.net.protocols.http import HTTPFactory, Request, Response
    from reality.net.protocols.websocket import HandshakeReject, TextMessage, server_handshake
    from reality.net.protocols.websocket.protocol import WebSocketHandler, WebSocketProtocol

    reactor = make_reactor(reactor_name)

    class Echo(WebSocketHandler):
        def connection_made(self, ws: WebSocketProtocol) -> None:
            self.ws = ws

        def message_received(self, message) -> None:  # type: ignore[no-untyped-def]
            if type(message) is TextMessage:
                self.ws.send_text(message.text)
            else:
                self.ws.send_binary(message.data)

    def handle(request: Request) -> Response:
        answer = server_handshake(request.method, request.headers, subprotocols=[])
        if isinstance(answer, HandshakeReject):
            return Response.text(answer.reason, answer.status, answer.headers)
        return Response(
            101,
            answer.response_headers,
            switch_to=lambda: WebSocketProtocol(Echo(), reactor, extensions=answer.extensions),
        )

    factory = HTTPFactory(handle, reactor, max_connections=0)
    reactor.listen_tcp(port, factory, interface="127.0.0.1", backlog=2048)
    reactor.call_when_running(print, "ready", flush=True)
    reactor.run()


def serve_websockets(port: int, loop: str) -> None:
    """The websockets library's asyncio server, echoing."""
    # This directory holds an http.py, which would shadow the standard
    # library's http (that websockets needs) for a script run from here.
    here = str(Path(__file__).resolve().parent)
    sys.path[:] = [p for p in sys.path if str(Path(p or ".").resolve()) != here]
    import asyncio
    import logging

    from websockets.asyncio.server import serve

    # The load drops its connections without a Close when it is done.
    logging.getLogger("websockets").setLevel(logging.CRITICAL)

    if loop == "uvloop":
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())

    async def echo(ws) -> None:  # type: ignore[no-untyped-def]
        async for message in ws:
            await ws.send(message)

    async def start():  # type: ignore[no-untyped-def]
        server = await serve(echo, "127.0.0.1", port, compression=None, backlog=2048)
        return server.server

    common.run_asyncio_server(start, lambda _: print("ready", flush=True))


SERVERS = {
    "reality": ["--serve", "reality", "--reactor", "selector"],
    "reality-asyncio": ["--serve", "reality", "--reactor", "asyncio"],
    "reality-uvloop": ["--serve", "reality", "--reactor", "uvloop"],
    "websockets": ["--serve", "websockets", "--loop", "asyncio"],
    "websockets-uvloop": ["--serve", "websockets", "--loop", "uvloop"],
}


def available_servers() -> list[str]:
    names = ["reality", "reality-asyncio", "websockets"]
    try:
        import uvloop  # noqa: F401

        names += ["reality-uvloop", "websockets-uvloop"]
    except ImportError:
        pass
    return names


# -- load -----------------------------------------------------------------------------


def open_websocket(port: int) -> socket.socket:
    from reality.net.protocols.websocket import client_request, client_verify, parse_response_head
    from reality.net.protocols.websocket.handshake import request_bytes

    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    key, headers = client_request(f"127.0.0.1:{port}", "/", deflate=False)
    s.sendall(request_bytes("/", headers))
    data = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            raise SystemExit("the server closed during the handshake")
        data += chunk
        head = parse_response_head(data)
        if head is not None:
            status, fields, rest = head
            client_verify(key, status, fields, deflate=False)
            assert not rest
            return s


def run_load(port: int, conns: int, duration: float, warmup: float, server_pid: int) -> dict:
    """Keep ``conns`` WebSockets in 64-byte ping-pong; measure the window after warm-up."""
    from reality.net.protocols.websocket import encode_frame

    frame = encode_frame(1, TEXT, mask=MASK)
    ep = select.epoll()
    socks: dict[int, socket.socket] = {}
    sent_at: dict[int, float] = {}
    got: dict[int, int] = {}
    for _ in range(conns):
        s = open_websocket(port)
        s.setblocking(False)
        socks[s.fileno()] = s
        ep.register(s.fileno(), select.EPOLLIN)
    now = time.perf_counter
    for fd, s in socks.items():
        sent_at[fd] = now()
        got[fd] = 0
        s.send(frame)
    start = now()
    window_start = start + warmup
    end = window_start + duration
    measuring = False
    count = 0
    rtts: list[float] = []
    cpu0 = (0.0, 0.0)
    wall0 = start
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
            while got[fd] >= REPLY_SIZE:
                got[fd] -= REPLY_SIZE
                t2 = now()
                if measuring:
                    count += 1
                    if len(rtts) < 2_000_000:
                        rtts.append(t2 - sent_at[fd])
                sent_at[fd] = t2
                s.send(frame)
    cpu1 = common.cpu_times(server_pid)
    wall = now() - wall0
    for s in socks.values():
        s.close()
    rtts.sort()
    return {
        "messages": count,
        "rate": count / wall,
        "p50_us": common.percentile(rtts, 50) * 1e6,
        "p99_us": common.percentile(rtts, 99) * 1e6,
        "cpu_user_us": (cpu1[0] - cpu0[0]) / count * 1e6 if count else 0.0,
        "cpu_sys_us": (cpu1[1] - cpu0[1]) / count * 1e6 if count else 0.0,
    }


# -- orchestration ---------------------------------------------------------------------


def measure(server: str, conns: int, duration: float, warmup: float) -> dict:
    port = common.free_port()
    argv = [sys.executable, __file__, *SERVERS[server], "--port", str(port)]
    proc = common.start_ready(common.pinned(0, argv), f"the {server} server")
    try:
        load = subprocess.run(
            common.pinned(
                1,
                [
                    sys.executable,
                    __file__,
                    "--load",
                    "--port",
                    str(port),
                    "--conns",
                    str(conns),
                    "--duration",
                    str(duration),
                    "--warmup",
                    str(warmup),
                    "--server-pid",
                    str(proc.pid),
                ],
            ),
            capture_output=True,
            text=True,
            timeout=duration + warmup + 120,
        )
        if load.returncode != 0:
            raise SystemExit(f"load against {server} failed:\n{load.stderr}")
        return json.loads(load.stdout)
    finally:
        common.stop_process(proc)


def report(results: dict[tuple[str, int], list[dict]], servers: list[str], conn_list: list[int]):
    def med(rows: list[dict], key: str) -> float:
        return statistics.median(r[key] for r in rows)

    def cpu(rows: list[dict]) -> float:
        return med(rows, "cpu_user_us") + med(rows, "cpu_sys_us")

    print()
    print(
        f"{'server':<18} {'conns':>5} {'cpu/msg us':>11} {'(user+sys)':>14} "
        f"{'msgs/s':>9} {'p50 us':>8} {'p99 us':>8}"
    )
    for conns in conn_list:
        for server in servers:
            rows = results[(server, conns)]
            print(
                f"{server:<18} {conns:>5} {cpu(rows):>11.2f} "
                f"{med(rows, 'cpu_user_us'):>6.2f}+{med(rows, 'cpu_sys_us'):<6.2f} "
                f"{med(rows, 'rate'):>9.0f} {med(rows, 'p50_us'):>8.0f} {med(rows, 'p99_us'):>8.0f}"
            )
    if "websockets" in servers:
        print()
        print(
            "ratios to websockets on asyncio (cpu/msg: lower is better; msgs/s: higher is better)"
        )
        for conns in conn_list:
            base = results[("websockets", conns)]
            for server in servers:
                if server == "websockets":
                    continue
                rows = results[(server, conns)]
                print(
                    f"  {server:<18} {conns:>5} conns: cpu/msg x{cpu(rows) / cpu(base):.2f}, "
                    f"msgs/s x{med(rows, 'rate') / med(base, 'rate'):.2f}"
                )


def main() -> None:
    parser = common.arg_parser(__doc__)
    parser.add_argument("--duration", type=float, default=3.0, help="seconds measured per row")
    parser.add_argument("--warmup", type=float, default=0.5, help="seconds before measuring")
    parser.add_argument("--reps", type=int, default=3, help="interleaved repetitions")
    parser.add_argument("--conns", default="100,1000", help="connection counts")
    parser.add_argument("--servers", default=None, help="comma-separated subset of servers")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--reactor", default="selector", help=argparse.SUPPRESS)
    parser.add_argument("--loop", default="asyncio", help=argparse.SUPPRESS)
    parser.add_argument("--load", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--server-pid", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.serve == "reality":
        serve_reality(args.port, args.reactor)
        return
    if args.serve == "websockets":
        serve_websockets(args.port, args.loop)
        return
    if args.load:
        print(
            json.dumps(
                run_load(args.port, int(args.conns), args.duration, args.warmup, args.server_pid)
            )
        )
        return

    servers = args.servers.split(",") if args.servers else available_servers()
    conn_list = [int(c) for c in args.conns.split(",")]
    results: dict[tuple[str, int], list[dict]] = {}
    print(
        f"websocket echo benchmark: {len(servers)} servers x {conn_list} connections x "
        f"{args.reps} reps, {args.duration}s each, 64-byte text ping-pong; "
        f"python {sys.version.split()[0]}"
    )
    for rep in range(args.reps):
        for conns in conn_list:
            for server in servers:
                r = measure(server, conns, args.duration, args.warmup)
                results.setdefault((server, conns), []).append(r)
                print(
                    f"rep {rep + 1} {server:<18} {conns:>5} conns: {r['rate']:>8.0f} msg/s "
                    f"cpu {r['cpu_user_us'] + r['cpu_sys_us']:.2f} us/msg",
                    flush=True,
                )
    report(results, servers, conn_list)


if __name__ == "__main__":
    main()
