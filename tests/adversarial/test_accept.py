"""Accepting under attack: running out of descriptors must not spin the loop.

The reported attack held ~20,000 connections (within --max-per-address)
until accept() failed with EMFILE; the server then retried at once, burning
4.77 s of CPU per 5 s and writing 913,991 identical log lines. Here the
server runs with a low descriptor limit and the flood is a few hundred
idle connections.
"""

from __future__ import annotations

import socket
import time

from serverproc import ServerProcess

NOFILE = 200
FLOOD = 320


def _get(port: int, timeout: float = 5.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.settimeout(timeout)
        s.sendall(b"GET /status.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return data
            data += chunk


def _drain_log(server: ServerProcess, seconds: float) -> list[str]:
    """Read the server's output for ``seconds`` (so it never blocks on a full pipe)."""
    lines = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        line = server.read_line(left)
        if line is None:
            if server.proc is not None and server.proc.poll() is not None:
                break
            continue
        lines.append(line)
    return lines


def test_descriptor_exhaustion_backs_off_logs_little_and_recovers(tmp_path):
    """With the server's descriptors used up by a flood of idle connections, the server
    uses little CPU (< 0.3 s in 3 s; it spun at ~100 % before), logs a bounded number
    of lines, and once the flood closes a new HTTP request is answered within seconds."""
    with ServerProcess(
        tmp_path, nofile=NOFILE, expect=("telnet", "http"),
        extra=("--max-per-address", "0", "--max-connections", "0"),
    ) as server:
        http = server.ports["http"]
        assert f"open-file limit: {NOFILE} (hard limit {NOFILE})" in server.output()
        assert _get(http).startswith(b"HTTP/1.1 200")
        flood = []
        try:
            for _ in range(FLOOD):
                s = socket.socket()
                s.settimeout(2)
                s.connect(("127.0.0.1", http))  # completes in the kernel's backlog
                flood.append(s)
            _drain_log(server, 0.5)  # let it accept what it can
            assert server.open_files() >= NOFILE - 5, "the flood did not exhaust descriptors"
            cpu_before = server.cpu_seconds()
            lines = _drain_log(server, 3.0)
            cpu = server.cpu_seconds() - cpu_before
            assert cpu < 0.3, f"the server used {cpu:.2f} s of CPU in 3 s while exhausted"
            assert len(lines) <= 20, lines[:20]
            assert 1 <= server.output().count("cannot accept") <= 3
        finally:
            for s in flood:
                s.close()
        deadline = time.monotonic() + 10
        while True:
            _drain_log(server, 0.2)
            try:
                reply = _get(http, timeout=2)
            except OSError:
                reply = b""
            if reply.startswith(b"HTTP/1.1 200") or time.monotonic() > deadline:
                break
        assert reply.startswith(b"HTTP/1.1 200"), "not served after the flood closed"
        _drain_log(server, 0.5)
        assert "accepting connections on" in server.output()
        assert server.output().count("cannot accept") <= 3
