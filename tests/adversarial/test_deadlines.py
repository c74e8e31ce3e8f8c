"""Slow peers against total deadlines, on a live server (issue 10; STYLE: "one byte per
second must not keep a connection forever").

The server runs with its time limits shortened (Settings fields that the
command line does not expose, set by a small launcher): a command line,
the SMTP message data, the session and the telnet login each must be done
within a total, whatever trickles in meanwhile. Every connection here
keeps sending (so an idle timer that restarts on each read would never
fire) and must be closed by its deadline, with its protocol's answer.
"""

from __future__ import annotations

import re
import socket
import sys
import time
from pathlib import Path

from serverproc import ROOT, ServerProcess

# Seconds, as the launcher sets them.
TIMES = {
    "login_timeout": 2.0,
    "login_deadline": 3.0,
    "smtp_idle_timeout": 2.0,
    "smtp_data_timeout": 3.0,
    "smtp_session_timeout": 4.0,
    "pop3_idle_timeout": 2.0,
    "pop3_session_timeout": 4.0,
}

LAUNCHER = f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
import attrs
from reality import cli

Settings = cli.Settings
TIMES = {TIMES!r}

def shortened(**kwargs):
    settings = Settings(**kwargs)
    known = attrs.fields_dict(Settings)
    return attrs.evolve(settings, **{{k: v for k, v in TIMES.items() if k in known}})

cli.Settings = shortened
sys.exit(cli.main(["serve", *sys.argv[1:]]))
"""


class ShortDeadlines(ServerProcess):
    """``reality serve`` with the slow-peer limits shortened to seconds."""

    def argv(self) -> list[str]:
        argv = super().argv()
        assert argv[1].endswith("run_server.py")
        return [sys.executable, "-c", LAUNCHER, *argv[2:]]


class Trickler:
    """One connection that sends ``steps`` (delay, bytes) in turn and records what comes back."""

    def __init__(self, name: str, port: int, steps: list[tuple[float, bytes]]) -> None:
        self.name = name
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.sock.setblocking(False)
        self.steps = list(steps)
        self.next_at = time.monotonic() + (self.steps[0][0] if self.steps else 0)
        self.received = bytearray()
        self.closed_at: float | None = None
        self.last_sent = time.monotonic()

    def tick(self, now: float) -> None:
        if self.closed_at is not None:
            return
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    self.closed_at = now
                    return
                self.received += chunk
        except BlockingIOError:
            pass
        except OSError:
            self.closed_at = now
            return
        if self.steps and now >= self.next_at:
            _, data = self.steps.pop(0)
            try:
                self.sock.send(data)
            except OSError:
                self.closed_at = now
                return
            self.last_sent = now
            if self.steps:
                self.next_at = now + self.steps[0][0]
            elif not self.steps:
                # Keep trickling the last piece forever (bounded by the test).
                self.steps.append((0.3, data if len(data) == 1 else b"x"))
                self.next_at = now + 0.3

    def text(self) -> str:
        return self.received.decode("utf-8", "replace")


def every(seconds: float, data: bytes, times: int) -> list[tuple[float, bytes]]:
    return [(seconds, data)] * times


def bytewise(data: bytes, seconds: float) -> list[tuple[float, bytes]]:
    return [(seconds, bytes([b])) for b in data]


def test_trickling_clients_are_closed_by_their_deadlines(tmp_path: Path):
    """SMTP and POP3 command lines and SMTP data a byte at a time, commands and telnet lines
    just inside the idle time: each closed by its total deadline with its protocol's answer."""
    with ShortDeadlines(tmp_path, admins=("Root",), expect=("telnet", "smtp", "pop3")) as server:
        smtp, pop3, telnet = server.ports["smtp"], server.ports["pop3"], server.ports["telnet"]
        start = time.monotonic()
        clients = [
            # A command line without its line end, a byte every 0.3 s.
            Trickler("smtp-line", smtp, [(0.2, b"EHLO a\r\n")] + bytewise(b"NOOP" * 20, 0.3)),
            # A message body a byte every 0.3 s (never idle for 2 s).
            Trickler("smtp-data", smtp, [
                (0.2, b"EHLO a\r\n"), (0.2, b"MAIL FROM:<x@far.example>\r\n"),
                (0.2, b"RCPT TO:<root@reality.localhost>\r\n"), (0.2, b"DATA\r\n"),
            ] + bytewise(b"Subject: slow\r\n\r\n" + b"y" * 60, 0.3)),
            # Complete commands every 1.5 s: never idle, but the session ends.
            Trickler("smtp-session", smtp, every(1.5, b"NOOP\r\n", 20)),
            Trickler("pop3-line", pop3, bytewise(b"CAPA" * 20, 0.3)),
            Trickler("pop3-session", pop3, every(1.5, b"NOOP\r\n", 20)),
            # A line every 1.5 s before login: inside the idle time, never logging in.
            Trickler("telnet-login", telnet, every(1.5, b"who\r\n", 20)),
        ]
        try:
            while time.monotonic() - start < 9 and any(c.closed_at is None for c in clients):
                now = time.monotonic()
                for client in clients:
                    client.tick(now)
                time.sleep(0.05)
        finally:
            for client in clients:
                client.sock.close()

        took = {c.name: None if c.closed_at is None else c.closed_at - start for c in clients}
        assert all(t is not None for t in took.values()), took
        # Each by its deadline (generous slack: the machine is shared).
        assert took["smtp-line"] < 0.2 + 2 + 1.5, took
        assert took["smtp-data"] < 0.8 + 3 + 1.5, took
        assert took["smtp-session"] < 4 + 1.5 + 1.5, took
        assert took["pop3-line"] < 2 + 1.5, took
        assert took["pop3-session"] < 4 + 1.5 + 1.5, took
        assert took["telnet-login"] < 3 + 1.5, took

        text = {c.name: c.text() for c in clients}
        assert text["smtp-line"].endswith("421 4.4.2 reality.localhost Error: command line not"
                                          " completed in time\r\n"), text["smtp-line"]
        assert "354 " in text["smtp-data"]
        assert text["smtp-data"].endswith("421 4.4.2 reality.localhost Error: message data not"
                                          " completed in time\r\n"), text["smtp-data"]
        assert text["smtp-session"].endswith(
            "421 4.4.2 reality.localhost Error: session too long, closing\r\n"
        ), text["smtp-session"]
        assert text["pop3-line"].endswith(
            "-ERR Autologout: command line not completed in time\r\n"
        ), text["pop3-line"]
        assert text["pop3-session"].endswith("-ERR Autologout: session too long\r\n")
        assert "You did not log in within 3 seconds. Goodbye!" in text["telnet-login"]

        # The server is still fine: a fresh SMTP session is answered at once.
        with socket.create_connection(("127.0.0.1", smtp), timeout=2) as probe:
            probe.settimeout(1)
            assert probe.recv(1024).startswith(b"220 ")

        # One audit line per closed connection, each with its reason.
        time.sleep(0.2)
        while server.read_line(0.2) is not None:
            pass
        audits = re.findall(r"connection\.timeout service=(\w+) address=\S+ reason=(\S+)",
                            server.output())
        assert sorted(audits) == sorted([
            ("smtp", "partial-command"), ("smtp", "data-deadline"), ("smtp", "session"),
            ("pop3", "partial-command"), ("pop3", "session"), ("telnet", "login"),
        ]), audits
