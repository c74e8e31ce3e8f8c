"""Helpers the benchmark scripts in this folder share.

The scripts are run as ``python benchmarks/<name>.py`` and import this
module as ``common`` (each puts its own folder first on ``sys.path``).
Importing it also puts the repository root on ``sys.path``, so that
``reality`` imports from the working tree.

What is here: a process's CPU time and memory from ``/proc``, a free port,
pinning with ``taskset``, starting processes that say ``ready`` and
stopping them, the ``run_server.py`` command line and the ports it logs,
percentiles, an asyncio server run until SIGTERM, the asyncio stand-in
HTTP server that answers every request with fixed bytes, and HTTP load
(``wrk`` when installed, else the bundled Python load process below).

Run as a script, this module is that Python load process::

    python benchmarks/common.py http-load --port N [--path /] [--connections 50]
                                          [--duration 10]

It keeps ``--connections`` keep-alive connections busy with ``GET`` for
``--duration`` seconds and prints one JSON line: requests/s, p99 latency
in ms and errors. It is itself the bottleneck against a fast server, so
its figures are only comparable with each other.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import asyncio

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CLK_TCK = os.sysconf("SC_CLK_TCK")

#: IAC WONT TTYPE: what a bot sends on connecting. The server's banner waits
#: (up to a second) for a client's TTYPE answers; a bot that refuses TTYPE
#: outright is greeted at once, as a MUD client that answers would be.
NO_TTYPE = bytes([255, 252, 24])


def arg_parser(doc: str | None) -> argparse.ArgumentParser:
    """An argument parser whose ``--help`` shows the script's docstring as written."""
    return argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )


# -- processes ---------------------------------------------------------------------


def cpu_times(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds a process has used, from ``/proc/<pid>/stat``."""
    # The command name (field 2) may hold spaces and parentheses: split after its ")".
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used, from ``/proc/<pid>/stat``."""
    user, system = cpu_times(pid)
    return user + system


def rss_kib(pid: int) -> int:
    """A process's resident set size in KiB, from ``/proc/<pid>/status`` (0 if absent)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (just now)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def can_pin() -> bool:
    """Whether server and load can each have a CPU of their own (taskset, 2+ CPUs)."""
    return shutil.which("taskset") is not None and (os.cpu_count() or 1) > 1


def pinned(cpu: int, argv: Sequence[str]) -> list[str]:
    """``argv`` run on CPU ``cpu`` with ``taskset`` when it can be, else as it is."""
    if can_pin():
        return ["taskset", "-c", str(cpu), *argv]
    return list(argv)


def start_ready(argv: Sequence[str], what: str, timeout: float = 10.0) -> subprocess.Popen[str]:
    """Start a process and wait (at most ``timeout`` s) for it to print ``ready``.

    Raises RuntimeError, the process stopped, if it says anything else or
    nothing in time.
    """
    proc = subprocess.Popen(list(argv), stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    with selectors.DefaultSelector() as ready:
        ready.register(proc.stdout, selectors.EVENT_READ)
        if ready.select(timeout) and proc.stdout.readline().strip() == "ready":
            return proc
    stop_process(proc)
    raise RuntimeError(f"{what} did not start")


def stop_process(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """SIGTERM, wait up to ``timeout`` s, then SIGKILL; returns once it has exited."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def run_server_argv(
    world: str | Path, db: str | Path, *extra: str, python: Sequence[str] = ()
) -> list[str]:
    """``run_server.py`` on ``world`` and ``db`` with every port picked by the system.

    ``python`` goes between the interpreter and the script (e.g. ``-m cProfile``).
    """
    return [
        sys.executable, *python, str(ROOT / "run_server.py"), "--world", str(world),
        "--db", str(db), "--telnet-port", "0", "--http-port", "0", "--smtp-port", "0",
        "--pop3-port", "0", "--imap-port", "0", *extra,
    ]  # fmt: skip


LISTENING = re.compile(r"(\w+) listening on (\S+):(\d+)")


def wait_listening(
    log: Path, proc: subprocess.Popen, services: Sequence[str], timeout: float = 30.0
) -> dict[str, int]:
    """The ports ``services`` listen on, read from the server's log as it logs them.

    The server logs ``<service> listening on <host>:<port>`` at INFO. Raises
    RuntimeError with the log's tail if it exits or ``timeout`` s pass first.
    """
    deadline = time.monotonic() + timeout
    ports: dict[str, int] = {}
    while time.monotonic() < deadline and proc.poll() is None:
        text = log.read_text(errors="replace") if log.exists() else ""
        ports = {m.group(1): int(m.group(3)) for m in LISTENING.finditer(text)}
        if all(service in ports for service in services):
            return ports
        time.sleep(0.05)
    text = log.read_text(errors="replace") if log.exists() else ""
    raise RuntimeError(f"the server did not start listening ({services}):\n{text[-3000:]}")


# -- figures -----------------------------------------------------------------------


def percentile(ordered: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (0-100) of values sorted ascending; NaN when there are none."""
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


# -- asyncio servers -----------------------------------------------------------------


def run_asyncio_server(
    start: Callable[[], Awaitable[asyncio.AbstractServer]],
    on_listening: Callable[[int], None],
) -> None:
    """Run the server ``start`` makes on a fresh asyncio loop until SIGTERM.

    ``on_listening`` gets its port once it listens (print ``ready``, write a file).
    """
    import asyncio

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await start()
        stop = loop.create_future()
        loop.add_signal_handler(signal.SIGTERM, stop.set_result, None)
        on_listening(server.sockets[0].getsockname()[1])
        await stop
        server.close()

    asyncio.run(main())


def serve_asyncio_protocol(
    protocol_factory: Callable[[], asyncio.BaseProtocol], port: int, backlog: int = 1024
) -> None:
    """An ``asyncio.Protocol`` server on 127.0.0.1 that prints ``ready`` and runs until SIGTERM."""
    import asyncio

    async def start() -> asyncio.AbstractServer:
        loop = asyncio.get_running_loop()
        return await loop.create_server(protocol_factory, "127.0.0.1", port, backlog=backlog)

    run_asyncio_server(start, lambda _: print("ready", flush=True))


def serve_fixed_http(port: int, response: bytes) -> None:
    """The usual HTTP stand-in: an ``asyncio.Protocol`` answering with fixed bytes.

    It parses nothing: it counts request ends (``\\r\\n\\r\\n``) in what it
    reads and writes ``response`` once for each, so it is a floor for what
    any HTTP server on asyncio costs. Runs until SIGTERM.
    """
    import asyncio

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

    serve_asyncio_protocol(Fixed, port)


# -- HTTP load -----------------------------------------------------------------------


def http_load(port: int, path: str, connections: int, duration: float) -> dict[str, float]:
    """Keep-alive ``GET path`` on ``connections`` sockets for ``duration`` seconds.

    Each connection has one request in flight; a response is read by its
    Content-Length. Returns requests/s (``rps``), ``p99_ms`` and
    ``errors`` (non-200 answers and closed connections).
    """
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n"
    ).encode()
    selector = selectors.DefaultSelector()
    state: dict[socket.socket, list] = {}  # socket -> [buffer, when its request went]
    for _ in range(connections):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.setblocking(False)
        state[sock] = [bytearray(), time.perf_counter()]
        sock.send(request)
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
    selector.close()
    latencies.sort()
    return {
        "rps": len(latencies) / duration,
        "p99_ms": percentile(latencies, 99) * 1000,
        "errors": errors,
    }


_WRK_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def parse_wrk(out: str) -> dict[str, float]:
    """requests/s (``rps``), ``p99_ms`` and ``errors`` from ``wrk --latency`` output."""
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if found is None:
        raise RuntimeError(f"wrk said no Requests/sec:\n{out[-2000:]}")
    rps = float(found.group(1))
    match = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    p99 = float(match.group(1)) * _WRK_UNITS[match.group(2)] if match else math.nan
    errors = 0
    for pattern in (r"Non-2xx or 3xx responses: (\d+)", r"Socket errors: (.*)"):
        found = re.search(pattern, out)
        if found:
            errors += sum(int(n) for n in re.findall(r"\d+", found.group(1)))
    return {"rps": rps, "p99_ms": p99, "errors": errors}


def use_wrk(choice: str) -> bool:
    """``--load auto|wrk|python``: whether to load with wrk (auto: when installed)."""
    return choice == "wrk" or (choice == "auto" and shutil.which("wrk") is not None)


class HTTPLoad:
    """One run of HTTP load in its own process (pinned to ``cpu``), started at once.

    ``wrk`` (one thread, ``connections`` keep-alive connections,
    ``--latency``) or the bundled Python load process of this module. The
    caller may do other things (walk a player) until :meth:`running` is
    false, then reads :meth:`result`.
    """

    def __init__(
        self, wrk: bool, port: int, path: str, connections: int, duration: float, cpu: int = 1
    ) -> None:
        self.wrk = wrk
        self.duration = duration
        if wrk:
            argv = ["wrk", "-t1", f"-c{connections}", f"-d{int(duration)}s", "--latency",
                    "-H", "User-Agent: bench", f"http://127.0.0.1:{port}{path}"]  # fmt: skip
        else:
            argv = [sys.executable, __file__, "http-load", "--port", str(port), "--path", path,
                    "--connections", str(connections), "--duration", str(duration)]  # fmt: skip
        self.proc = subprocess.Popen(
            pinned(cpu, argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )

    def running(self) -> bool:
        """Whether the load is still going."""
        return self.proc.poll() is None

    def result(self) -> dict[str, float]:
        """Wait for the load to end; requests/s (``rps``), ``p99_ms``, ``errors``."""
        try:
            out, _ = self.proc.communicate(timeout=self.duration + 30)
        except subprocess.TimeoutExpired:
            stop_process(self.proc)
            raise RuntimeError("the load process did not finish in time") from None
        if self.proc.returncode != 0:
            raise RuntimeError(f"the load process failed:\n{out[-2000:]}")
        if self.wrk:
            return parse_wrk(out)
        return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    """The bundled HTTP load process (see the module docstring)."""
    parser = arg_parser(__doc__)
    parser.add_argument("mode", choices=["http-load"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--duration", type=float, default=10.0)
    args = parser.parse_args()
    print(json.dumps(http_load(args.port, args.path, args.connections, args.duration)))


if __name__ == "__main__":
    main()
