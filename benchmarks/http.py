"""HTTP benchmark: Reality's HTTP server side by side with a minimal asyncio one.

    python benchmarks/http.py [--duration 10] [--connections 50] [--reps 1]
                              [--load auto|wrk|python]

Both servers answer ``GET /`` with the same ~6 KiB HTML page over
keep-alive connections. ``reality`` serves it through the whole stack (the
selector reactor, ``HTTPChannel``'s parser and writer, the ``Router``) from
a cached :class:`Response`, the way the site serves a page between changes.
``asyncio`` is the usual stand-in: an ``asyncio.Protocol`` that parses
nothing, counts ``\\r\\n\\r\\n`` in what it reads and writes the same
pre-rendered response bytes once per request.

The load comes from ``wrk`` (one thread, ``--connections`` keep-alive
connections, ``--latency``) when it is installed, else from a bundled
Python load process that does the same (and is itself the bottleneck, so
its numbers are only comparable with each other). With ``taskset`` the
server is pinned to CPU 0 and the load to CPU 1. Rows are interleaved over
``--reps`` so a noisy neighbour hurts both servers alike.

For each server it prints requests/s, p99 latency, errors, and the
server's CPU time per request (user + system from ``/proc/<pid>/stat``),
then Reality's ratio to asyncio. The target is Reality at no less than
half of asyncio's requests/s.

``page_response()`` builds the page; when the site exists, point it at the
real rendered homepage.
"""

from __future__ import annotations

import argparse
import os
import re
import selectors
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n"


def page_html() -> str:
    """A ~6 KiB HTML page that looks like a player's homepage."""
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
    """The Response the Reality server caches and serves."""
    from reality.net.protocols.http import Response

    return Response.html(page_html())


# -- servers ------------------------------------------------------------------------


def serve_reality(port: int) -> None:
    """Reality: the selector reactor, HTTPFactory and a Router with the page at /."""
    from reality.net.protocols.http import HTTPFactory, Router
    from reality.net.reactor import SelectReactor

    reactor = SelectReactor()
    page = page_response()
    router = Router()
    router.add("/", lambda request: page)
    factory = HTTPFactory(router, reactor, max_connections=4096)
    reactor.listen_tcp(port, factory, interface="127.0.0.1", backlog=1024)
    print("ready", flush=True)
    reactor.run()


def serve_asyncio(port: int) -> None:
    """The stand-in: an asyncio.Protocol writing fixed response bytes per request."""
    import asyncio

    from reality.net.protocols.http import ResponseWriter

    response, _ = ResponseWriter().complete(page_response())

    class Fixed(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport
            self.tail = b""

        def data_received(self, data: bytes) -> None:
            # Count request ends, carrying a possibly split terminator over.
            data = self.tail + data
            count = data.count(b"\r\n\r\n")
            self.tail = data[-3:]
            if count:
                self.transport.write(response * count)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(Fixed, "127.0.0.1", port, backlog=1024)
        stop = loop.create_future()
        loop.add_signal_handler(signal.SIGTERM, stop.set_result, None)
        print("ready", flush=True)
        await stop
        server.close()

    asyncio.run(main())


SERVERS = {"reality": serve_reality, "asyncio": serve_asyncio}


# -- load --------------------------------------------------------------------------


def load_python(port: int, connections: int, duration: float) -> dict[str, float]:
    """A bundled wrk stand-in: keep-alive GETs on ``connections`` sockets.

    Reads each response by its Content-Length; returns requests/s, p99 (ms)
    and errors.
    """
    selector = selectors.DefaultSelector()
    state: dict[socket.socket, list] = {}
    for _ in range(connections):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.setblocking(False)
        state[sock] = [bytearray(), time.perf_counter()]
        sock.send(REQUEST)
        selector.register(sock, selectors.EVENT_READ)
    latencies: list[float] = []
    errors = 0
    end = time.perf_counter() + duration
    while time.perf_counter() < end and state:
        for key, _ in selector.select(0.5):
            sock = key.fileobj
            buf, started = state[sock]
            try:
                data = sock.recv(262144)
            except OSError:
                data = b""
            if not data:
                errors += 1
                selector.unregister(sock)
                del state[sock]
                continue
            buf += data
            while True:
                head_end = buf.find(b"\r\n\r\n")
                if head_end < 0:
                    break
                match = re.search(rb"\r\nContent-Length: (\d+)", buf[:head_end], re.I)
                length = int(match.group(1)) if match else 0
                if len(buf) < head_end + 4 + length:
                    break
                if not buf.startswith(b"HTTP/1.1 200"):
                    errors += 1
                del buf[: head_end + 4 + length]
                now = time.perf_counter()
                latencies.append(now - started)
                started = now
                state[sock][1] = now
                sock.send(REQUEST)
    for sock in state:
        sock.close()
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99)] * 1000 if latencies else float("nan")
    return {"rps": len(latencies) / duration, "p99_ms": p99, "errors": errors}


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def load_wrk(port: int, connections: int, duration: float, pin: list[str]) -> dict[str, float]:
    """Run wrk (one thread, keep-alive) and read requests/s, p99 and errors."""
    out = subprocess.run(
        [
            *pin,
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{int(duration)}s",
            "--latency",
            "-H",
            "User-Agent: bench",
            f"http://127.0.0.1:{port}/",
        ],
        capture_output=True,
        text=True,
        timeout=duration + 30,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    match = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    p99 = float(match.group(1)) * _UNITS[match.group(2)] if match else float("nan")
    errors = 0
    for pattern in (r"Non-2xx or 3xx responses: (\d+)", r"Socket errors: (.*)"):
        found = re.search(pattern, out)
        if found:
            errors += sum(int(n) for n in re.findall(r"\d+", found.group(1)))
    return {"rps": rps, "p99_ms": p99, "errors": errors}


# -- running -------------------------------------------------------------------------


def cpu_seconds(pid: int) -> tuple[float, float]:
    """(user, system) CPU time of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_one(name: str, args: argparse.Namespace, use_wrk: bool) -> dict[str, float]:
    taskset = shutil.which("taskset")
    server_pin = [taskset, "-c", "0"] if taskset else []
    load_pin = [taskset, "-c", "1"] if taskset else []
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    server = subprocess.Popen(
        [*server_pin, sys.executable, __file__, "--serve", name, "--port", str(port)],
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        ready = selectors.DefaultSelector()
        ready.register(server.stdout, selectors.EVENT_READ)
        if not ready.select(10) or server.stdout.readline().strip() != "ready":
            raise RuntimeError(f"{name} server did not start")
        # Warm up (imports, caches), then measure.
        load_python(port, 4, 0.5)
        cpu_before = cpu_seconds(server.pid)
        if use_wrk:
            result = load_wrk(port, args.connections, args.duration, load_pin)
        else:
            if load_pin:
                os.sched_setaffinity(0, {1})
            result = load_python(port, args.connections, args.duration)
        user, system = (a - b for a, b in zip(cpu_seconds(server.pid), cpu_before, strict=True))
        total = result["rps"] * args.duration
        per = 1e6 / total if total else float("nan")
        result["cpu_us"] = (user + system) * per
        result["user_us"] = user * per
        result["sys_us"] = system * per
        return result
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(5)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per run")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--reps", type=int, default=1)
    parser.add_argument("--load", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--serve", choices=sorted(SERVERS), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        sys.path.insert(0, str(ROOT))
        SERVERS[args.serve](args.port)
        return
    sys.path.insert(0, str(ROOT))
    use_wrk = args.load == "wrk" or (args.load == "auto" and shutil.which("wrk") is not None)
    print(
        f"GET / ({len(page_html().encode())}-byte page), {args.connections} keep-alive "
        f"connections, {args.duration:g} s per run, load: {'wrk' if use_wrk else 'python'}"
        f"{', pinned with taskset' if shutil.which('taskset') else ''}"
    )
    results: dict[str, list[dict[str, float]]] = {name: [] for name in SERVERS}
    for _ in range(args.reps):
        for name in SERVERS:
            results[name].append(run_one(name, args, use_wrk))
    print(
        f"{'server':10} {'requests/s':>12} {'p99 ms':>8} {'errors':>7} "
        f"{'CPU us/req (user+sys)':>22}"
    )
    summary: dict[str, dict[str, float]] = {}
    for name, runs in results.items():
        for run in runs:
            print(
                f"{name:10} {run['rps']:12,.0f} {run['p99_ms']:8.2f} {run['errors']:7d} "
                f"{run['cpu_us']:8.2f} ({run['user_us']:.2f}+{run['sys_us']:.2f})"
            )
        summary[name] = {
            "best_rps": max(r["rps"] for r in runs),
            "median_rps": statistics.median(r["rps"] for r in runs),
            "median_cpu": statistics.median(r["cpu_us"] for r in runs),
            "errors": sum(r["errors"] for r in runs),
        }
    ours, theirs = summary["reality"], summary["asyncio"]
    best = ours["best_rps"] / theirs["best_rps"]
    median = ours["median_rps"] / theirs["median_rps"]
    cpu = theirs["median_cpu"] / ours["median_cpu"]
    verdict = "meets" if median >= 0.5 and not ours["errors"] else "MISSES"
    print(
        f"reality / asyncio: {median:.2f}x requests/s (medians), {best:.2f}x (best runs), "
        f"{cpu:.2f}x by median CPU per request; target >= 0.50x with no errors: {verdict}"
    )


if __name__ == "__main__":
    main()
