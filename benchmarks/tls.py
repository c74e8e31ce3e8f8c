"""TLS echo benchmark: Reality's TLS layer beside asyncio's own TLS and uvloop's, in one run.

    python benchmarks/tls.py [--duration 3] [--reps 2] [--conns 100] [--handshakes 2]

Each server runs in its own process (pinned to CPU 0 with ``taskset`` when
it can be); one load process (pinned to CPU 1) does two things against it:

1. keeps ``--conns`` TLS connections in ping-pong with 64-byte messages
   for ``--duration`` seconds after a warm-up, and reports messages/s and
   the server's CPU time per message (user + system, from ``/proc``);
2. makes full TLS handshakes (no session resumption) one after another for
   ``--handshakes`` seconds, each with one echoed message, and reports
   handshakes/s and the server's CPU per handshake.

Every server uses the same context (``reality.net.tls.server_context``:
TLS 1.3 here, an ECDSA P-256 certificate made by ``reality tls-selfsigned``
in a temporary directory), so the figures compare the TLS plumbing, not
the cryptography. Servers: ``reality`` (the TLS layer on the selector
reactor), ``asyncio`` (``loop.create_server(ssl=...)`` on the default
loop), ``uvloop`` (the same on uvloop, when installed). The report ends
with each server's CPU per message and per handshake as a ratio to
asyncio's. Rows are interleaved across reps so a noisy neighbour hurts
every server alike. Everything is on 127.0.0.1 and bounded in time.
"""

from __future__ import annotations

import json
import select
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

MESSAGE = b"x" * 64


# -- servers ------------------------------------------------------------------------


def serve_reality(port: int, cert: str, key: str, reactor_name: str) -> None:
    """Reality's echo protocol behind its TLS layer."""
    from reality.net.protocol import Factory, Protocol
    from reality.net.tls import TLSContexts, TLSServerFactory

    class Echo(Protocol):
        def data_received(self, data: bytes) -> None:
            self.transport.write(data)

    if reactor_name == "selector":
        from reality.net.reactor import SelectReactor

        reactor = SelectReactor()
    else:
        from reality.net.asyncio_reactor import make_reactor

        reactor = make_reactor(reactor_name)
    factory = TLSServerFactory(
        Factory.for_protocol(Echo), TLSContexts(cert, key), clock=reactor
    )
    reactor.listen_tcp(port, factory, interface="127.0.0.1", backlog=2048)
    reactor.call_when_running(print, "ready", flush=True)
    reactor.run()


def serve_asyncio(port: int, cert: str, key: str, loop: str) -> None:
    """An asyncio.Protocol echo server with asyncio's own TLS (``ssl=``)."""
    import asyncio

    from reality.net.tls import server_context

    if loop == "uvloop":
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    context = server_context(cert, key)

    class Echo(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport

        def data_received(self, data: bytes) -> None:
            self.transport.write(data)

    async def start() -> asyncio.AbstractServer:
        running = asyncio.get_running_loop()
        return await running.create_server(
            Echo, "127.0.0.1", port, backlog=2048, ssl=context
        )

    common.run_asyncio_server(start, lambda _: print("ready", flush=True))


SERVERS = {
    "reality": ["--serve", "reality", "--loop", "selector"],
    "asyncio": ["--serve", "asyncio", "--loop", "asyncio"],
    "uvloop": ["--serve", "asyncio", "--loop", "uvloop"],
}


def available_servers() -> list[str]:
    names = ["reality", "asyncio"]
    try:
        import uvloop  # noqa: F401

        names.append("uvloop")
    except ImportError:
        pass
    return names


# -- load -----------------------------------------------------------------------------


def client_context() -> ssl.SSLContext:
    # The load checks nothing: it measures the server, not certificate checking.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def connect(port: int, context: ssl.SSLContext) -> ssl.SSLSocket:
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return context.wrap_socket(raw, server_hostname="localhost")


def run_load(port: int, conns: int, duration: float, warmup: float, handshakes: float,
             server_pid: int) -> dict[str, float]:
    """Ping-pong on ``conns`` TLS connections, then serial full handshakes."""
    context = client_context()
    ep = select.epoll()
    socks: dict[int, ssl.SSLSocket] = {}
    got: dict[int, int] = {}
    for _ in range(conns):
        s = connect(port, context)
        s.setblocking(False)
        socks[s.fileno()] = s
        got[s.fileno()] = 0
        ep.register(s.fileno(), select.EPOLLIN)
    for s in socks.values():
        s.send(MESSAGE)
    now = time.perf_counter
    start = now()
    window_start, end = start + warmup, start + warmup + duration
    measuring, count, cpu0, wall0 = False, 0, (0.0, 0.0), start
    size = len(MESSAGE)
    while True:
        t = now()
        if not measuring and t >= window_start:
            measuring, cpu0, wall0 = True, common.cpu_times(server_pid), t
        if t >= end:
            break
        for fd, _ in ep.poll(0.5):
            s = socks[fd]
            while True:
                try:
                    data = s.recv(65536)
                except (ssl.SSLWantReadError, BlockingIOError):
                    break
                if not data:
                    raise SystemExit("the server closed a connection")
                got[fd] += len(data)
                while got[fd] >= size:
                    got[fd] -= size
                    if measuring:
                        count += 1
                    s.send(MESSAGE)
                if not s.pending():
                    break
    cpu1 = common.cpu_times(server_pid)
    wall = now() - wall0
    for s in socks.values():
        s.close()
    ep.close()
    result = {
        "messages": count,
        "rate": count / wall,
        "cpu_us": ((cpu1[0] - cpu0[0]) + (cpu1[1] - cpu0[1])) / count * 1e6 if count else 0.0,
    }
    # Full handshakes, one after another (a new context each time would be
    # unfair to nobody, but one context without a session cache is enough:
    # the client never offers a ticket).
    done = 0
    cpu0 = common.cpu_times(server_pid)
    t0 = now()
    while now() - t0 < handshakes:
        with connect(port, context) as s:
            s.sendall(MESSAGE)
            received = 0
            while received < size:
                chunk = s.recv(65536)
                if not chunk:
                    raise SystemExit("the server closed a connection mid-handshake test")
                received += len(chunk)
        done += 1
    wall = now() - t0
    cpu1 = common.cpu_times(server_pid)
    result["handshakes"] = done / wall
    cpu = (cpu1[0] - cpu0[0]) + (cpu1[1] - cpu0[1])
    result["cpu_per_handshake_us"] = cpu / done * 1e6 if done else 0.0
    return result


# -- orchestration ---------------------------------------------------------------------


def measure(server: str, cert: str, key: str, args) -> dict[str, float]:
    port = common.free_port()
    argv = [sys.executable, __file__, *SERVERS[server], "--port", str(port),
            "--cert", cert, "--key", key]
    proc = common.start_ready(common.pinned(0, argv), f"the {server} server")
    try:
        load = subprocess.run(
            common.pinned(1, [sys.executable, __file__, "--load", "--port", str(port),
                              "--conns", str(args.conns), "--duration", str(args.duration),
                              "--warmup", str(args.warmup), "--handshakes",
                              str(args.handshakes), "--server-pid", str(proc.pid)]),
            capture_output=True, text=True,
            timeout=args.duration + args.warmup + args.handshakes + 60,
        )
        if load.returncode != 0:
            raise SystemExit(f"load against {server} failed:\n{load.stderr}")
        return json.loads(load.stdout)
    finally:
        common.stop_process(proc)


def report(results: dict[str, list[dict[str, float]]], servers: list[str], conns: int) -> None:
    def med(server: str, key: str) -> float:
        return statistics.median(r[key] for r in results[server])

    print()
    print(f"{conns} connections, 64-byte messages (medians of {len(results[servers[0]])} reps)")
    print(f"{'server':<10} {'cpu/msg us':>11} {'msgs/s':>9} {'handshakes/s':>13} "
          f"{'cpu/handshake us':>17}")
    for server in servers:
        print(f"{server:<10} {med(server, 'cpu_us'):>11.2f} {med(server, 'rate'):>9.0f} "
              f"{med(server, 'handshakes'):>13.0f} {med(server, 'cpu_per_handshake_us'):>17.0f}")
    if "asyncio" in servers:
        print()
        print("ratios to asyncio (CPU: lower is better)")
        base_msg, base_hs = med("asyncio", "cpu_us"), med("asyncio", "cpu_per_handshake_us")
        for server in servers:
            if server != "asyncio":
                print(f"  {server:<10} cpu/msg x{med(server, 'cpu_us') / base_msg:.2f}, "
                      f"cpu/handshake x{med(server, 'cpu_per_handshake_us') / base_hs:.2f}")


def main() -> None:
    parser = common.arg_parser(__doc__)
    parser.add_argument("--duration", type=float, default=3.0, help="seconds of ping-pong measured")
    parser.add_argument("--warmup", type=float, default=0.5, help="seconds before measuring")
    parser.add_argument("--handshakes", type=float, default=2.0,
                        help="seconds of serial full handshakes")
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--conns", type=int, default=100)
    parser.add_argument("--servers", default=None, help="comma-separated (default: all available)")
    # internal: the server and load processes
    parser.add_argument("--serve", help=__import__("argparse").SUPPRESS)
    parser.add_argument("--loop", help=__import__("argparse").SUPPRESS)
    parser.add_argument("--port", type=int, help=__import__("argparse").SUPPRESS)
    parser.add_argument("--cert", help=__import__("argparse").SUPPRESS)
    parser.add_argument("--key", help=__import__("argparse").SUPPRESS)
    parser.add_argument("--load", action="store_true", help=__import__("argparse").SUPPRESS)
    parser.add_argument("--server-pid", type=int, help=__import__("argparse").SUPPRESS)
    args = parser.parse_args()
    if args.serve == "reality":
        serve_reality(args.port, args.cert, args.key, args.loop)
        return
    if args.serve == "asyncio":
        serve_asyncio(args.port, args.cert, args.key, args.loop)
        return
    if args.load:
        print(json.dumps(run_load(args.port, args.conns, args.duration, args.warmup,
                                  args.handshakes, args.server_pid)))
        return
    servers = args.servers.split(",") if args.servers else available_servers()
    from reality.selfsigned import write_self_signed

    with tempfile.TemporaryDirectory() as tmp:
        cert, key = (str(p) for p in write_self_signed(tmp))
        results: dict[str, list[dict[str, float]]] = {s: [] for s in servers}
        for rep in range(args.reps):
            for server in servers:
                row = measure(server, cert, key, args)
                results[server].append(row)
                print(f"rep {rep + 1} {server:<10} cpu/msg {row['cpu_us']:.2f} us, "
                      f"{row['rate']:.0f} msgs/s, {row['handshakes']:.0f} handshakes/s, "
                      f"{row['cpu_per_handshake_us']:.0f} us/handshake", flush=True)
    report(results, servers, args.conns)


if __name__ == "__main__":
    main()
