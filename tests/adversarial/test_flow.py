"""Back-pressure and command floods against a live server (issue 10, items 2, 3 and 19).

Each attacker writes as fast as the server reads and never reads what it
is sent (except the GMCP pinger, which counts its answers). Meanwhile a
probe player runs ``look`` and must be answered within 1 s every time;
the server's RSS must grow by less than 100 MB and its log stay short.
"""

from __future__ import annotations

import smtplib
import socket
import time
from email.message import EmailMessage

import pytest
from serverproc import ServerProcess

MB = 1024 * 1024
RSS_GROWTH = 100 * MB  # the stated bound on what one attack may cost
PROBE_RTT = 1.0  # generous: the machine is shared
ATTACK_SECONDS = 4.0
MAX_LOG_LINES = 50
IAC, DO, SB, SE, GMCP = 255, 253, 250, 240, 201


def rss(server: ServerProcess) -> int:
    """The server's resident set size in bytes, from /proc."""
    assert server.proc is not None
    with open(f"/proc/{server.proc.pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS: line")


def drain_log(server: ServerProcess) -> None:
    """Read what the server logged so far (its stdout pipe must never fill up)."""
    while server.read_line(0.001) is not None:
        pass


def raw(port: int, rcvbuf: int = 4096) -> socket.socket:
    """A client socket with a small receive buffer, so unread output backs up soon."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(5)
    sock.connect(("127.0.0.1", port))
    return sock


_offsets: dict[socket.socket, int] = {}


def push(sock: socket.socket, data: bytes, seconds: float = 0.2) -> int:
    """Send ``data`` over and over (a whole stream, never cut short) for ``seconds``."""
    sent = 0
    offset = _offsets.get(sock, 0)
    deadline = time.monotonic() + seconds
    sock.setblocking(False)
    try:
        while time.monotonic() < deadline:
            try:
                n = sock.send(data[offset:] if offset else data)
            except (BlockingIOError, InterruptedError):
                time.sleep(0.005)  # the server is not reading: that is the point
                continue
            sent += n
            offset = (offset + n) % len(data)
    finally:
        _offsets[sock] = offset
        sock.settimeout(5)
    return sent


def attack(server: ServerProcess, probe, send_some, seconds: float = ATTACK_SECONDS) -> dict:
    """Run ``send_some()`` in a loop for ``seconds`` while the probe runs `look`; measure."""
    drain_log(server)
    log_before = len(server.log)
    base = rss(server)
    peak = base
    worst = 0.0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        send_some()
        started = time.monotonic()
        answer = probe.command("look")
        worst = max(worst, time.monotonic() - started)
        assert "The Hall" in answer
        peak = max(peak, rss(server))
        drain_log(server)
    return {
        "growth": peak - base,
        "probe": worst,
        "log_lines": len(server.log) - log_before,
    }


def check(result: dict) -> None:
    assert result["probe"] < PROBE_RTT, result
    assert result["growth"] < RSS_GROWTH, result
    assert result["log_lines"] < MAX_LOG_LINES, result


@pytest.fixture
def server(tmp_path):
    with ServerProcess(tmp_path, expect=("telnet", "smtp", "pop3")) as server:
        yield server


def test_pop3_retr_flood_with_a_1_mib_letter(server):
    """400 pipelined RETRs of a ~1 MiB letter per write to a non-reader: bounded, others served."""
    probe = server.telnet()
    probe.command("create Probe secret")
    server.telnet().command("create Alice secret")
    msg = EmailMessage()
    msg["From"] = "carol@far.example"
    msg["To"] = "alice@reality.localhost"
    msg["Subject"] = "big"
    msg.set_content(("x" * 76 + "\n") * 12_000)  # ~0.9 MiB
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=10) as client:
        assert client.send_message(msg) == {}
    sock = raw(server.ports["pop3"])
    try:
        sock.recv(100)
        sock.sendall(b"USER alice\r\nPASS secret\r\n")
        time.sleep(0.5)  # the login answer, then never read again
        flood = b"RETR 1\r\n" * 400
        result = attack(server, probe, lambda: push(sock, flood))
    finally:
        sock.close()
    check(result)


def telnet_flood(server: ServerProcess, line: bytes, login: bool, attackers: int = 5) -> dict:
    """``attackers`` connections (one address, within --max-per-address) flood ``line``."""
    probe = server.telnet()
    probe.command("create Probe secret")
    socks = [raw(server.ports["telnet"]) for _ in range(attackers)]
    try:
        if login:
            for i, sock in enumerate(socks):
                sock.sendall(f"create Mallory{'abcdefgh'[i]} secret\r\n".encode())
            time.sleep(0.5)
        flood = line * 10_000

        def send_some() -> None:
            for sock in socks:
                push(sock, flood, seconds=0.05)

        return attack(server, probe, send_some)
    finally:
        for sock in socks:
            sock.close()


def test_telnet_look_flood_logged_in(server):
    """A player sends `look` x 10,000 per write and never reads: bounded, others served."""
    check(telnet_flood(server, b"look\r\n", login=True))


def test_telnet_help_flood_before_login(server):
    """Before login, `help` x 10,000 per write, never read: bounded, others served."""
    check(telnet_flood(server, b"help\r\n", login=False))


def test_gmcp_ping_flood_gets_few_answers(server):
    """20,000 GMCP Core.Ping per write get a burst of answers and a trickle, not 20,000."""
    probe = server.telnet()
    probe.command("create Probe secret")
    sock = raw(server.ports["telnet"], rcvbuf=1 << 20)
    sock.sendall(bytes([IAC, DO, GMCP]))
    ping = bytes([IAC, SB, GMCP]) + b"Core.Ping" + bytes([IAC, SE])
    flood = ping * 20_000
    received = bytearray()

    def send_and_read() -> None:
        push(sock, flood, seconds=0.05)
        sock.setblocking(False)
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                received.extend(chunk)
        except (BlockingIOError, InterruptedError):
            pass
        finally:
            sock.settimeout(5)

    try:
        result = attack(server, probe, send_and_read, seconds=2.0)
    finally:
        sock.close()
    check(result)
    answers = received.count(b"Core.Ping")
    # The negotiation bucket: a burst of 100, then 20 a second.
    assert answers < 100 + 20 * 4, answers
