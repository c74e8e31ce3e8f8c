"""Attacks against a live server while a probe player measures round trips.

    python benchmarks/adversarial.py [--duration 5] [--only NAME[,NAME...]]

Starts ``run_server.py`` on the shipped world with every port picked by the
system, then runs, one after another, each attack of the hardening issue
for ``--duration`` seconds while a probe player (a separate process, so the
attack's own loop does not delay it) types ``look`` every 60 ms and times
the answer.
For each attack it prints the probe's p50/p99/max round trip (target: p99
under 100 ms), how many probes were answered, and the server's peak RSS
sampled every 50 ms, beside the same run with no attack. Every loop here is
bounded in count and in time; all traffic goes to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

ROOT = common.ROOT
PASSWORD = "benchpass1"
PROMPT = b"> "
#: Seconds between the probe's commands: under the per-session command rate.
PROBE_INTERVAL = 0.06
IAC, SB, SE = 255, 250, 240
GMCP = 201


# -- the probe (a child process) --------------------------------------------------------


def read_until(sock: socket.socket, marker: bytes, deadline: float) -> bytes:
    data = bytearray()
    while marker not in data:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return bytes(data)


def run_probe(port: int, duration: float) -> None:
    """Log in as Probe, then ``look`` every 60 ms for ``duration`` s; print the round trips.

    Every 60 ms, not faster: a player may run 20 commands a second (after a
    burst of 60), and a faster probe would measure its own rate limit.
    """
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(common.NO_TTYPE)
    read_until(sock, PROMPT, time.monotonic() + 10)
    sock.sendall(f"connect Probe {PASSWORD}\r\n".encode())
    read_until(sock, b"Exits", time.monotonic() + 10)
    time.sleep(0.2)
    sock.settimeout(0.2)
    try:
        while sock.recv(65536):
            pass
    except OSError:
        pass
    print("ready", flush=True)
    samples: list[float] = []
    lost = 0
    end = time.monotonic() + duration
    while time.monotonic() < end:
        start = time.monotonic()
        try:
            sock.sendall(b"look\r\n")
            data = read_until(sock, b"Exits", start + 5.0)
            if PROMPT not in data[data.index(b"Exits"):]:
                read_until(sock, PROMPT, start + 5.0)
            samples.append(time.monotonic() - start)
        except OSError:
            lost += 1
            break
        time.sleep(PROBE_INTERVAL)
    print(json.dumps({"samples": samples, "lost": lost}), flush=True)


# -- attacks ------------------------------------------------------------------------


class Attack:
    """A bounded attack: ``start`` opens its connections, ``step`` runs for a turn."""

    def __init__(self, ports: dict[str, int]) -> None:
        self.ports = ports
        self.socks: list[socket.socket] = []

    def connect(self, service: str, source: str = "127.0.0.1") -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.settimeout(5)
        sock.bind((source, 0))
        sock.connect(("127.0.0.1", self.ports[service]))
        self.socks.append(sock)
        return sock

    def start(self) -> None:
        pass

    def step(self) -> None:
        time.sleep(0.05)

    def close(self) -> None:
        for sock in self.socks:
            try:
                sock.close()
            except OSError:
                pass
        self.socks.clear()


def _send_quietly(sock: socket.socket, data: bytes) -> bool:
    """Send what the kernel takes now; False once the peer is gone."""
    sock.setblocking(False)
    try:
        sock.send(data)
    except BlockingIOError:
        pass
    except OSError:
        return False
    return True


class NoAttack(Attack):
    """The baseline: nothing but the probe."""


class HtmlMail(Attack):
    """Item 1: 60 KB of ``<a `` as text/html, sent again and again."""

    BODY = "\r\n".join(["<a " * 100] * 200)

    def step(self) -> None:
        message = ("From: a@b.c\r\nTo: victim@reality.localhost\r\nSubject: x\r\n"
                   "Content-Type: text/html\r\n\r\n" + self.BODY + "\r\n")
        try:
            with smtplib.SMTP("127.0.0.1", self.ports["smtp"], timeout=10) as smtp:
                smtp.sendmail("a@b.c", ["victim@reality.localhost"], message)
        except (OSError, smtplib.SMTPException):
            time.sleep(0.05)


class Pop3Retr(Attack):
    """Item 2: ``RETR 1`` x 400 in one write for a 1 MiB letter, never read."""

    def start(self) -> None:
        sock = self.connect("pop3")
        read_until(sock, b"\r\n", time.monotonic() + 5)
        sock.sendall(f"USER victim\r\nPASS {PASSWORD}\r\n".encode())
        read_until(sock, b"+OK", time.monotonic() + 10)
        _send_quietly(sock, b"RETR 1\r\n" * 400)


class TelnetLook(Attack):
    """Item 3: a logged-in player sends ``look`` x 10,000 per write and never reads."""

    def start(self) -> None:
        sock = self.connect("telnet")
        read_until(sock, PROMPT, time.monotonic() + 5)
        sock.sendall(f"connect Flooder {PASSWORD}\r\n".encode())
        read_until(sock, b"Exits", time.monotonic() + 10)
        self.sock = sock

    def step(self) -> None:
        if self.socks and not _send_quietly(self.sock, b"look\r\n" * 10_000):
            self.close()
        time.sleep(0.05)


class TelnetHelp(Attack):
    """Item 3: before login, ``help`` x 10,000 per write, never read."""

    def start(self) -> None:
        self.sock = self.connect("telnet")

    def step(self) -> None:
        if self.socks and not _send_quietly(self.sock, b"help\r\n" * 10_000):
            self.close()
        time.sleep(0.05)


class GmcpPing(Attack):
    """Item 3: GMCP ``Core.Ping`` x 20,000 in one write, never read."""

    def start(self) -> None:
        self.sock = self.connect("telnet")
        self.sock.sendall(bytes([IAC, 253, GMCP]))  # DO GMCP

    def step(self) -> None:
        ping = bytes([IAC, SB, GMCP]) + b"Core.Ping" + bytes([IAC, SE])
        if self.socks and not _send_quietly(self.sock, ping * 20_000):
            self.close()
        time.sleep(0.05)


class SlowBodies(Attack):
    """Item 5: ``POST /who`` with Content-Length 1,000,000 from 20 addresses, 1 byte a second."""

    def start(self) -> None:
        self.last = 0.0
        for index in range(200):
            try:
                sock = self.connect("http", f"127.0.0.{2 + index % 20}")
                sock.sendall(b"POST /who HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n")
            except OSError:
                pass

    def step(self) -> None:
        if time.monotonic() - self.last >= 1.0:
            self.last = time.monotonic()
            for sock in list(self.socks):
                if not _send_quietly(sock, b"x"):
                    self.socks.remove(sock)
        time.sleep(0.05)


class ConnectionFlood(Attack):
    """Item 4: 1,000 idle telnet connections from 20 loopback addresses."""

    def start(self) -> None:
        for index in range(1000):
            try:
                self.connect("telnet", f"127.0.0.{2 + index % 20}")
            except OSError:
                break


class LoginRace(Attack):
    """Item 8: 45 telnet and 45 POP3 wrong passwords for one account, all at once."""

    def step(self) -> None:
        batch: list[socket.socket] = []
        for index in range(45):
            try:
                sock = self.connect("telnet", "127.0.0.9")
                sock.sendall(f"connect Victim wrong{index}\r\n".encode())
                batch.append(sock)
                sock = self.connect("pop3", "127.0.0.9")
                sock.sendall(f"USER victim\r\nPASS wrong{index}\r\n".encode())
                batch.append(sock)
            except OSError:
                break
        time.sleep(1.0)
        self.close()


class CommandFlood(Attack):
    """Item 19: one player sends 1,000 commands a second and reads what comes back."""

    def start(self) -> None:
        sock = self.connect("telnet")
        read_until(sock, PROMPT, time.monotonic() + 5)
        sock.sendall(f"connect Flooder {PASSWORD}\r\n".encode())
        read_until(sock, b"Exits", time.monotonic() + 10)
        sock.setblocking(False)
        self.sock = sock

    def step(self) -> None:
        if not self.socks:
            time.sleep(0.05)
            return
        try:
            while self.sock.recv(1 << 20):
                pass
        except BlockingIOError:
            pass
        except OSError:
            self.close()
            return
        _send_quietly(self.sock, b"look\r\n" * 50)
        time.sleep(0.05)


ATTACKS: dict[str, Callable[[dict[str, int]], Attack]] = {
    "none": NoAttack,
    "html-mail": HtmlMail,
    "pop3-retr": Pop3Retr,
    "telnet-look": TelnetLook,
    "telnet-help": TelnetHelp,
    "gmcp-ping": GmcpPing,
    "slow-bodies": SlowBodies,
    "connections": ConnectionFlood,
    "login-race": LoginRace,
    "command-flood": CommandFlood,
}


# -- orchestration ------------------------------------------------------------------


def prepare_database(path: Path) -> None:
    from reality.game.accounts import hash_password
    from reality.game.store import Store

    store = Store(str(path))
    cheap = hash_password(PASSWORD, n=2**10)
    for name in ("Probe", "Flooder", "Victim"):
        store.create_account(name, cheap, now=time.time())
    store.close()


def run_attack(name: str, ports: dict[str, int], server_pid: int, duration: float) -> dict:
    try:
        return _run_attack(name, ports, server_pid, duration)
    except (OSError, RuntimeError, ValueError, subprocess.SubprocessError) as e:
        # The server did not hold: that is the finding, not a crash of the benchmark.
        return {"attack": name, "failed": f"{type(e).__name__}: {e}"}


def _run_attack(name: str, ports: dict[str, int], server_pid: int, duration: float) -> dict:
    probe = common.start_ready(
        [sys.executable, __file__, "--probe", "--port", str(ports["telnet"]),
         "--duration", str(duration)], "the probe", timeout=20)  # fmt: skip
    attack = ATTACKS[name](ports)
    peak = common.rss_kib(server_pid)
    cpu_before = common.cpu_seconds(server_pid)
    try:
        attack.start()
        end = time.monotonic() + duration
        while time.monotonic() < end:
            attack.step()
            peak = max(peak, common.rss_kib(server_pid))
    finally:
        attack.close()
    out, _ = probe.communicate(timeout=duration + 30)
    result = json.loads(out.strip().splitlines()[-1])
    samples = sorted(result["samples"])
    return {
        "attack": name,
        "probes": len(samples),
        "stalled": result["lost"],
        "p50_ms": common.percentile(samples, 50) * 1000,
        "p99_ms": common.percentile(samples, 99) * 1000,
        "max_ms": (samples[-1] if samples else float("nan")) * 1000,
        "peak_rss_mib": peak / 1024,
        "server_cpu_s": common.cpu_seconds(server_pid) - cpu_before,
    }


def main() -> None:
    parser = common.arg_parser(__doc__)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per attack")
    parser.add_argument("--only", default="", help="comma-separated attack names")
    parser.add_argument("--probe", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        run_probe(args.port, args.duration)
        return
    names = [n for n in args.only.split(",") if n] or list(ATTACKS)
    if "none" not in names:
        names.insert(0, "none")
    workdir = Path(tempfile.mkdtemp(prefix="reality-adversarial-"))
    db = workdir / "bench.sqlite3"
    prepare_database(db)
    log_path = workdir / "server.log"
    server_log = open(log_path, "wb")
    server = subprocess.Popen(
        common.run_server_argv(ROOT / "world/default.yaml", db),
        stdout=server_log, stderr=subprocess.STDOUT, env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )
    rows = []
    try:
        ports = common.wait_listening(log_path, server, ["telnet", "http", "smtp", "pop3"])
        big = "x" * 76 + "\r\n"
        with smtplib.SMTP("127.0.0.1", ports["smtp"], timeout=30) as smtp:
            smtp.sendmail("a@b.c", ["victim@reality.localhost"],
                          "Subject: big\r\n\r\n" + big * (1_000_000 // len(big)))
        for name in names:
            rows.append(run_attack(name, ports, server.pid, args.duration))
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
            time.sleep(1.0)
        log_lines = sum(1 for _ in open(log_path, "rb"))
    finally:
        common.stop_process(server, timeout=15)
        server_log.close()
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"{'attack':<14} {'probes':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} "
          f"{'peak RSS MiB':>12} {'server CPU s':>12}  stalled")
    for row in rows:
        if "failed" in row:
            print(f"{row['attack']:<14} the probe could not play: {row['failed']}")
            continue
        print(f"{row['attack']:<14} {row['probes']:>6} {row['p50_ms']:>8.1f} "
              f"{row['p99_ms']:>8.1f} {row['max_ms']:>8.1f} {row['peak_rss_mib']:>12.1f} "
              f"{row['server_cpu_s']:>12.2f}  {'yes' if row['stalled'] else 'no'}")
    print(f"server log: {log_lines} lines over the whole run")


if __name__ == "__main__":
    main()
