"""HTTP benchmark: the real homepage and the HTTP layer, each beside an asyncio stand-in.

    python benchmarks/http.py [--duration 10] [--connections 50] [--reps 1]
                              [--walk 10] [--load auto|wrk|python]

One run measures these targets, interleaved over ``--reps`` so that a noisy
neighbour hurts them all alike:

``homepage``          ``GET /~bench`` from the real server: ``run_server.py``
                      on the shipped world (port 0 everywhere, a fresh
                      database in a temporary directory, INFO logging, the
                      world ticking, telnet and mail ports open), where a
                      player created over telnet wrote a ~5 KB Markdown
                      homepage with ``homepage edit``; the cached page,
                      nothing changing
``walking``           the same while its owner walks east and west
                      (``--walk`` moves a second; each move re-renders the
                      page: where they are is on it; ``--walk 0`` skips it)
``front``             ``GET /`` from the real server
``http-layer``        the HTTP layer alone: the selector reactor,
                      ``HTTPChannel``'s parser and writer and a ``Router``
                      serving a cached ~6 KiB ``Response`` (a made-up
                      "who is online" page) at ``/``
``asyncio-homepage``  the usual stand-in, an ``asyncio.Protocol`` that parses
``asyncio-front``     nothing, counts request ends and writes fixed bytes:
``asyncio-fixed``     the homepage's, the front page's and the HTTP layer's
                      exact response bytes

The load comes from ``wrk`` (one thread, ``--connections`` keep-alive
connections, ``--latency``) when it is installed, else from the bundled
Python load process in ``common.py`` (itself the bottleneck, so its
numbers are only comparable with each other). With ``taskset`` every
server is pinned to CPU 0 and the load to CPU 1.

For each target it prints requests/s, p99 latency, errors and the server's
CPU time per request (user + system from ``/proc/<pid>/stat``), then each
target's ratio to the stand-in sending the same bytes. The issue's target:
the homepage at no less than half of its stand-in's requests/s, with no
errors.
"""

from __future__ import annotations

import argparse
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

ROOT = common.ROOT
WARMUP = 1.0  # seconds of light load before each measured run (imports, caches)
TELNET_NEGOTIATION = re.compile(rb"\xff[\xfb-\xfe].|\xff\xfa.*?\xff\xf0|\xff[\xf0-\xfa]", re.S)
ANSI = re.compile(rb"\x1b\[[0-9;]*m")

HOMEPAGE = [
    "# The Bench",
    "",
    "I sit in the *Village Square* and count who passes. Ask me about:",
    "",
    *[f"* the **{n}th** visitor, who came from the [market](/map.svg) and left by boat"
      for n in range(4, 40)],  # fmt: skip
    "",
    "> Every player in the game has a home page.",
    "",
    "| hour | visitors |",
    "|---|---|",
    *[f"| {h:02d}:00 | {h * 7 % 23} |" for h in range(24)],
]

#: Each target's stand-in: the asyncio server sending the same bytes.
STAND_INS = {
    "homepage": "asyncio-homepage",
    "walking": "asyncio-homepage",
    "front": "asyncio-front",
    "http-layer": "asyncio-fixed",
}


# -- the HTTP layer alone, with a fixed page -------------------------------------------


def page_html() -> str:
    """A ~6 KiB HTML page that looks like a "who is online" page."""
    rows = "\n".join(
        f'    <li><a href="/~player{i}">player{i}</a> is in '
        f'<a href="/map.svg#room{i}">the room {i}</a>, idle {i % 7} minutes</li>'
        for i in range(48)
    )
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<title>Reality: who is online</title>\n<link rel="stylesheet" href="/style.css">\n'
        "</head>\n<body>\n<h1>Reality</h1>\n<p>Welcome to the world. Telnet to port 4000.</p>\n"
        f"<ul>\n{rows}\n</ul>\n</body>\n</html>\n"
    )


def page_response():  # -> reality.net.protocols.http.Response
    """The Response the HTTP layer caches and serves."""
    from reality.net.protocols.http import Response

    return Response.html(page_html())


def page_bytes() -> bytes:
    """The complete response the HTTP layer sends for the fixed page."""
    from reality.net.protocols.http import ResponseWriter

    response, _ = ResponseWriter().complete(page_response())
    return response


def serve_http_layer(port: int) -> None:
    """The selector reactor, HTTPFactory and a Router with the fixed page at /."""
    from reality.gateways.router import Router
    from reality.net.protocols.http import HTTPFactory
    from reality.net.reactor import SelectReactor

    reactor = SelectReactor()
    page = page_response()
    router = Router()
    router.add("/", lambda request: page)
    factory = HTTPFactory(router, reactor, max_connections=4096)
    reactor.listen_tcp(port, factory, interface="127.0.0.1", backlog=1024)
    print("ready", flush=True)
    reactor.run()


# -- the real server and a player ------------------------------------------------------


class Telnet:
    """Just enough of a telnet client to create a player and type lines."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.read_until(b"> ")

    def read_until(self, marker: bytes, timeout: float = 10.0) -> bytes:
        """Read (negotiation and colour stripped) until ``marker`` arrives."""
        data = b""
        deadline = time.monotonic() + timeout
        while marker not in data:
            if time.monotonic() > deadline:
                raise RuntimeError(f"telnet: {marker!r} did not arrive; got {data[-300:]!r}")
            chunk = self.sock.recv(65536)
            if not chunk:
                raise RuntimeError("telnet: the server closed the connection")
            data += ANSI.sub(b"", TELNET_NEGOTIATION.sub(b"", chunk))
        return data

    def line(self, text: str, wait: bytes = b"\n> ") -> bytes:
        """Type a line and read until ``wait``."""
        self.sock.sendall(text.encode() + b"\r\n")
        return self.read_until(wait)

    def send(self, text: str) -> None:
        """Type a line without waiting for the answer."""
        self.sock.sendall(text.encode() + b"\r\n")

    def drain(self) -> None:
        """Read whatever has arrived, as a client would, without waiting."""
        self.sock.setblocking(False)
        try:
            while self.sock.recv(65536):
                pass
        except OSError:
            pass
        self.sock.setblocking(True)


class RealServer:
    """``run_server.py`` on the shipped world in ``workdir``, pinned to CPU 0 when possible."""

    def __init__(self, workdir: Path) -> None:
        argv = common.run_server_argv(ROOT / "world" / "default.yaml", workdir / "bench.sqlite3")
        log = workdir / "server.log"
        with open(log, "wb") as out:  # the child holds its own copy of the descriptor
            self.proc = subprocess.Popen(
                common.pinned(0, argv), stdout=out, stderr=subprocess.STDOUT, cwd=workdir
            )
        try:
            self.ports = common.wait_listening(log, self.proc, ["telnet", "http"])
        except BaseException:
            self.stop()
            raise

    @property
    def pid(self) -> int:
        """The server's process id."""
        return self.proc.pid

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL)."""
        common.stop_process(self.proc, timeout=15)


def fetch(port: int, path: str) -> bytes:
    """One whole response (head and body) for GET ``path``, as bytes."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return data


def persistent(response: bytes) -> bytes:
    """A response fetched with ``Connection: close``, as a keep-alive one would be."""
    head, _, body = response.partition(b"\r\n\r\n")
    return head.replace(b"\r\nConnection: close", b"") + b"\r\n\r\n" + body


def set_up_player(telnet_port: int) -> Telnet:
    """Create the player Bench and give them the ~5 KB Markdown homepage."""
    bench = Telnet(telnet_port)
    bench.line("create Bench benchpass")
    bench.line("homepage edit", wait=b"homepage> ")
    for line in [*HOMEPAGE, "."]:
        bench.send(line)
    bench.read_until(b"Homepage saved.")
    bench.drain()
    return bench


# -- measuring ------------------------------------------------------------------------


def measure(
    port: int, pid: int, path: str, args: argparse.Namespace,
    player: Telnet | None = None, walk: bool = False,
) -> dict[str, float]:  # fmt: skip
    """Load ``GET path`` on ``port`` for ``--duration`` s; the figures and server CPU."""
    common.http_load(port, path, 4, WARMUP)
    before = common.cpu_times(pid)
    load = common.HTTPLoad(args.wrk, port, path, args.connections, args.duration)
    moves = 0
    while load.running():
        if walk and player is not None:
            player.send("east" if moves % 2 == 0 else "west")
            moves += 1
            time.sleep(1.0 / args.walk)
        else:
            time.sleep(0.1)
        if player is not None:
            player.drain()  # read what the world tells them, as a client would
    result = load.result()
    after = common.cpu_times(pid)
    user, system = (a - b for a, b in zip(after, before, strict=True))
    total = result["rps"] * args.duration
    per = 1e6 / total if total else float("nan")
    result["cpu_us"] = (user + system) * per
    result["user_us"] = user * per
    result["sys_us"] = system * per
    result["moves"] = moves
    return result


def measure_process(serve: list[str], what: str, args: argparse.Namespace) -> dict[str, float]:
    """Start this script with ``--serve ...`` on a free port, pinned; measure ``GET /``."""
    port = common.free_port()
    argv = [sys.executable, __file__, *serve, "--port", str(port)]
    proc = common.start_ready(common.pinned(0, argv), what)
    try:
        return measure(port, proc.pid, "/", args)
    finally:
        common.stop_process(proc, timeout=5)


def report(results: dict[str, list[dict[str, float]]]) -> None:
    """Every run, then each target's ratio to its stand-in."""
    print(f"{'target':17} {'requests/s':>12} {'p99 ms':>8} {'errors':>7} "
          f"{'CPU us/req (user+sys)':>22}")  # fmt: skip
    for name, runs in results.items():
        for run in runs:
            extra = f"   ({run['moves']:.0f} moves)" if run.get("moves") else ""
            print(
                f"{name:17} {run['rps']:12,.0f} {run['p99_ms']:8.2f} {run['errors']:7.0f} "
                f"{run['cpu_us']:8.2f} ({run['user_us']:.2f}+{run['sys_us']:.2f}){extra}"
            )
    print("ratio to the stand-in sending the same bytes (target >= 0.50x requests/s, no errors):")
    for name, stand_in in STAND_INS.items():
        if name not in results:
            continue
        ours, theirs = results[name], results[stand_in]
        median = statistics.median(r["rps"] for r in ours) / statistics.median(
            r["rps"] for r in theirs
        )
        best = max(r["rps"] for r in ours) / max(r["rps"] for r in theirs)
        cpu = statistics.median(r["cpu_us"] for r in theirs) / statistics.median(
            r["cpu_us"] for r in ours
        )
        errors = sum(r["errors"] for r in ours)
        verdict = "meets" if median >= 0.5 and not errors else "MISSES"
        print(
            f"  {name:10} / {stand_in:16}: {median:.2f}x requests/s (medians), "
            f"{best:.2f}x (best runs), {cpu:.2f}x by median CPU per request: {verdict}"
        )


def main() -> None:
    parser = common.arg_parser(__doc__)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per run")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--reps", type=int, default=1)
    parser.add_argument("--walk", type=float, default=10.0, help="moves a second in 'walking'")
    parser.add_argument("--load", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--serve", choices=["http-layer", "asyncio"], help=argparse.SUPPRESS)
    parser.add_argument("--response-file", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve == "http-layer":
        serve_http_layer(args.port)
        return
    if args.serve == "asyncio":
        common.serve_fixed_http(args.port, Path(args.response_file).read_bytes())
        return
    args.wrk = common.use_wrk(args.load)

    results: dict[str, list[dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="reality-bench-") as tmp:
        workdir = Path(tmp)
        server = RealServer(workdir)
        try:
            http = server.ports["http"]
            bench = set_up_player(server.ports["telnet"])
            homepage = fetch(http, "/~bench")
            assert homepage.startswith(b"HTTP/1.1 200 OK"), homepage[:200]
            assert b"The Bench" in homepage
            front = fetch(http, "/")
            assert front.startswith(b"HTTP/1.1 200 OK"), front[:200]
            # The stand-ins send the same bytes as each target, kept alive.
            files = {
                "asyncio-homepage": persistent(homepage),
                "asyncio-front": persistent(front),
                "asyncio-fixed": page_bytes(),
            }
            for name, data in files.items():
                (workdir / name).write_bytes(data)
            print(
                f"GET /~bench ({len(files['asyncio-homepage'])} bytes with its head), "
                f"GET / ({len(files['asyncio-front'])}), fixed page "
                f"({len(files['asyncio-fixed'])}); {args.connections} keep-alive connections, "
                f"{args.duration:g} s per run, load: {'wrk' if args.wrk else 'python'}"
                f"{', pinned with taskset' if common.can_pin() else ''}",
                flush=True,
            )

            def stand_in(name: str) -> dict[str, float]:
                serve = ["--serve", "asyncio", "--response-file", str(workdir / name)]
                return measure_process(serve, f"the {name} stand-in", args)

            runs = {
                "homepage": lambda: measure(http, server.pid, "/~bench", args, bench),
                "walking": lambda: measure(http, server.pid, "/~bench", args, bench, walk=True),
                "asyncio-homepage": lambda: stand_in("asyncio-homepage"),
                "front": lambda: measure(http, server.pid, "/", args, bench),
                "asyncio-front": lambda: stand_in("asyncio-front"),
                "http-layer": lambda: measure_process(
                    ["--serve", "http-layer"], "the HTTP layer", args
                ),
                "asyncio-fixed": lambda: stand_in("asyncio-fixed"),
            }
            if args.walk <= 0:
                del runs["walking"]
            for rep in range(args.reps):
                for name, run in runs.items():
                    result = run()
                    results.setdefault(name, []).append(result)
                    print(f"rep {rep + 1} {name:17} {result['rps']:10,.0f} requests/s", flush=True)
        finally:
            server.stop()
    report(results)


if __name__ == "__main__":
    main()
