"""Website benchmark: a real server's homepage under keep-alive load, beside asyncio.

    python benchmarks/website.py [--duration 10] [--connections 50] [--reps 1]
                                 [--walk 10] [--load auto|wrk|python]

Starts ``run_server.py`` on the shipped world (port 0 everywhere, a fresh
database in a temporary directory), creates a player over telnet and gives
them a ~6 KiB Markdown homepage. Then, for each target, it runs ``wrk`` (one
thread, ``--connections`` keep-alive connections) or, without wrk, a small
bundled Python load process, and reports requests/s, p99 latency, errors and
the server's CPU time per request (from ``/proc``):

``homepage``      ``GET /~bench``: the cached page, nothing changing
``walking``       the same while its owner walks (``--walk`` moves a second,
                  each one re-renders the page: where they are is on it)
``front``         ``GET /``
``asyncio``       the usual stand-in: an ``asyncio.Protocol`` that counts
                  request ends and writes the homepage's exact response bytes

With ``taskset`` the server is pinned to CPU 0 and the load to CPU 1. The
issue's target: Reality's homepage at no less than half of asyncio's
requests/s, with no errors.

Unlike ``benchmarks/http.py`` (the HTTP codec alone, with a fixed page),
this measures the whole server as players meet it: the real site, the
world ticking, the telnet gateway and the mail ports open.
"""

from __future__ import annotations

import argparse
import os
import re
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
LISTENING = re.compile(r"(telnet|http) listening on (\S+):(\d+)")
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


# -- the server and a player ---------------------------------------------------------


class Telnet:
    """Just enough of a telnet client to create a player and type lines."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.read_until(b"> ")

    def read_until(self, marker: bytes, timeout: float = 10.0) -> bytes:
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
        self.sock.sendall(text.encode() + b"\r\n")
        return self.read_until(wait)

    def send(self, text: str) -> None:
        self.sock.sendall(text.encode() + b"\r\n")

    def drain(self) -> None:
        self.sock.setblocking(False)
        try:
            while self.sock.recv(65536):
                pass
        except OSError:
            pass
        self.sock.setblocking(True)


class Server:
    """run_server.py in a temporary directory, pinned to CPU 0 when possible."""

    def __init__(self, pin: list[str]) -> None:
        self.dir = tempfile.TemporaryDirectory(prefix="reality-bench-")
        argv = [
            *pin, sys.executable, str(ROOT / "run_server.py"),
            "--world", str(ROOT / "world" / "default.yaml"),
            "--db", str(Path(self.dir.name) / "bench.sqlite3"),
            "--telnet-port", "0", "--http-port", "0", "--smtp-port", "0", "--pop3-port", "0",
        ]  # fmt: skip
        self.proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=self.dir.name
        )
        self.ports: dict[str, int] = {}
        selector = selectors.DefaultSelector()
        selector.register(self.proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + 30
        buffered = b""
        while len(self.ports) < 2:
            if time.monotonic() > deadline or not selector.select(deadline - time.monotonic()):
                self.stop()
                raise RuntimeError("the server did not start: " + buffered.decode()[-2000:])
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                raise RuntimeError("the server exited: " + buffered.decode()[-2000:])
            buffered += chunk
            for match in LISTENING.finditer(buffered.decode(errors="replace")):
                self.ports[match.group(1)] = int(match.group(3))
        # Keep reading the log so the pipe never fills and blocks the server.
        self.log = subprocess.Popen(["cat"], stdin=self.proc.stdout, stdout=subprocess.DEVNULL)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if getattr(self, "log", None) is not None:
            self.log.wait(5)
        self.dir.cleanup()


def fetch(port: int, path: str) -> bytes:
    """One whole response (head and body) for GET ``path``, as bytes."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return data


# -- the asyncio stand-in --------------------------------------------------------------


def serve_asyncio(port: int, response_file: str) -> None:
    """An asyncio.Protocol writing fixed response bytes once per request end."""
    import asyncio

    response = Path(response_file).read_bytes()

    class Fixed(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport
            self.tail = b""

        def data_received(self, data: bytes) -> None:
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


# -- load ------------------------------------------------------------------------------

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk(port: int, path: str, connections: int, duration: float, pin: list[str]):
    """Start wrk; the caller waits for it (so it can walk a player meanwhile)."""
    argv = [*pin, "wrk", "-t1", f"-c{connections}", f"-d{int(duration)}s", "--latency",
            f"http://127.0.0.1:{port}{path}"]  # fmt: skip
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wrk_result(out: str) -> dict[str, float]:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    match = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    p99 = float(match.group(1)) * _UNITS[match.group(2)] if match else float("nan")
    errors = 0
    for pattern in (r"Non-2xx or 3xx responses: (\d+)", r"Socket errors: (.*)"):
        found = re.search(pattern, out)
        if found:
            errors += sum(int(n) for n in re.findall(r"\d+", found.group(1)))
    return {"rps": rps, "p99_ms": p99, "errors": errors}


def python_load(port: int, path: str, connections: int, duration: float) -> dict[str, float]:
    """A small wrk stand-in: keep-alive GETs on ``connections`` sockets (itself a bottleneck)."""
    request = f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode()
    selector = selectors.DefaultSelector()
    state: dict[socket.socket, list] = {}
    for _ in range(connections):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.setblocking(False)
        sock.send(request)
        state[sock] = [bytearray(), time.perf_counter()]
        selector.register(sock, selectors.EVENT_READ)
    latencies: list[float] = []
    errors = 0
    end = time.perf_counter() + duration
    while time.perf_counter() < end and state:
        for key, _ in selector.select(0.5):
            sock = key.fileobj
            buf = state[sock][0]
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
            while (head_end := buf.find(b"\r\n\r\n")) >= 0:
                match = re.search(rb"\r\nContent-Length: (\d+)", buf[:head_end], re.I)
                length = int(match.group(1)) if match else 0
                if len(buf) < head_end + 4 + length:
                    break
                if not buf.startswith(b"HTTP/1.1 200"):
                    errors += 1
                del buf[: head_end + 4 + length]
                now = time.perf_counter()
                latencies.append(now - state[sock][1])
                state[sock][1] = now
                sock.send(request)
    for sock in state:
        sock.close()
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99)] * 1000 if latencies else float("nan")
    return {"rps": len(latencies) / duration, "p99_ms": p99, "errors": errors}


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (and its waited-for children), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def measure(
    port: int, pid: int, path: str, args: argparse.Namespace, use_wrk: bool,
    player: Telnet | None = None, walk: bool = False,
) -> dict[str, float]:  # fmt: skip
    taskset = shutil.which("taskset")
    load_pin = [taskset, "-c", "1"] if taskset else []
    python_load(port, path, 4, 1.0)  # warm up
    before = cpu_seconds(pid)
    moves = 0
    if use_wrk:
        load = wrk(port, path, args.connections, args.duration, load_pin)
        while load.poll() is None:
            if walk and player is not None:
                player.send("east" if moves % 2 == 0 else "west")
                moves += 1
                time.sleep(1.0 / args.walk)
            else:
                time.sleep(0.1)
            if player is not None:
                player.drain()  # read what the world tells them, as a client would
        out, _ = load.communicate(timeout=args.duration + 30)
        result = wrk_result(out)
    else:
        if walk:
            raise SystemExit("walking needs wrk (the Python load process runs in this process)")
        result = python_load(port, path, args.connections, args.duration)
    cpu = cpu_seconds(pid) - before
    total = result["rps"] * args.duration
    result["cpu_us"] = cpu / total * 1e6 if total else float("nan")
    result["moves"] = moves
    return result


def run_asyncio(response: bytes, args: argparse.Namespace, use_wrk: bool) -> dict[str, float]:
    taskset = shutil.which("taskset")
    pin = [taskset, "-c", "0"] if taskset else []
    with tempfile.NamedTemporaryFile(prefix="reality-bench-", delete=False) as f:
        f.write(response)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [*pin, sys.executable, __file__, "--serve-asyncio", f.name, "--port", str(port)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        ready = selectors.DefaultSelector()
        ready.register(proc.stdout, selectors.EVENT_READ)
        if not ready.select(10) or proc.stdout.readline().strip() != "ready":
            raise RuntimeError("the asyncio stand-in did not start")
        return measure(port, proc.pid, "/", args, use_wrk)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        os.unlink(f.name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per run")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--reps", type=int, default=1)
    parser.add_argument("--walk", type=float, default=10.0, help="moves a second in 'walking'")
    parser.add_argument("--load", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--serve-asyncio", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_asyncio:
        serve_asyncio(args.port, args.serve_asyncio)
        return
    use_wrk = args.load == "wrk" or (args.load == "auto" and shutil.which("wrk") is not None)
    taskset = shutil.which("taskset")
    server = Server([taskset, "-c", "0"] if taskset else [])
    try:
        http = server.ports["http"]
        bench = Telnet(server.ports["telnet"])
        bench.line("create Bench benchpass")
        bench.line("homepage edit", wait=b"homepage> ")
        for line in [*HOMEPAGE, "."]:
            bench.send(line)
        bench.read_until(b"Homepage saved.")
        bench.drain()
        response = fetch(http, "/~bench")
        head, _, body = response.partition(b"\r\n\r\n")
        assert response.startswith(b"HTTP/1.1 200 OK"), response[:200]
        assert b"The Bench" in body
        # The stand-in sends the same bytes, but persistent: drop "Connection: close".
        stand_in = head.replace(b"\r\nConnection: close", b"") + b"\r\n\r\n" + body
        print(
            f"GET /~bench ({len(body)}-byte page, {len(response)} bytes with its head), "
            f"{args.connections} keep-alive connections, {args.duration:g} s per run, "
            f"load: {'wrk' if use_wrk else 'python'}"
            f"{', pinned with taskset' if taskset else ''}"
        )
        rows: list[tuple[str, dict[str, float]]] = []
        for _ in range(args.reps):
            rows.append(("homepage", measure(http, server.pid, "/~bench", args, use_wrk, bench)))
            if use_wrk and args.walk > 0:
                walking = measure(http, server.pid, "/~bench", args, use_wrk, bench, walk=True)
                rows.append(("walking", walking))
            rows.append(("front", measure(http, server.pid, "/", args, use_wrk, bench)))
            rows.append(("asyncio", run_asyncio(stand_in, args, use_wrk)))
    finally:
        server.stop()
    print(f"{'target':10} {'requests/s':>12} {'p99 ms':>8} {'errors':>7} {'CPU us/req':>11}")
    best: dict[str, dict[str, float]] = {}
    for name, row in rows:
        extra = f"   ({row['moves']:.0f} moves)" if row.get("moves") else ""
        print(
            f"{name:10} {row['rps']:12,.0f} {row['p99_ms']:8.2f} {row['errors']:7.0f} "
            f"{row['cpu_us']:11.2f}{extra}"
        )
        if name not in best or row["rps"] > best[name]["rps"]:
            best[name] = row
    ratio = best["homepage"]["rps"] / best["asyncio"]["rps"]
    cpu = min(r["cpu_us"] for n, r in rows if n == "asyncio") / min(
        r["cpu_us"] for n, r in rows if n == "homepage"
    )
    verdict = "meets" if ratio >= 0.5 and best["homepage"]["errors"] == 0 else "MISSES"
    print(
        f"homepage / asyncio: {ratio:.2f}x requests/s (best runs), {cpu:.2f}x by CPU per "
        f"request (least); target >= 0.50x requests/s: {verdict}"
    )


if __name__ == "__main__":
    main()
