"""Attacks on the mail service over real sockets: the world must keep answering.

Issue 10, item 1: a 60 KB HTML message of "<a " repeated froze every service
for 21 s (quadratic HTML-to-text on the loop). Item 9: outside mail forging
an admin's From header showed in the game as the admin's letter.
"""

from __future__ import annotations

import http.client
import smtplib
import threading
import time
from typing import Any

from serverproc import ServerProcess

SERVICES = ("telnet", "http", "smtp")
DOMAIN = "reality.localhost"
#: The message body of the attack: 200 lines of "<a " x 100 (60 KB).
ATTACK = (
    b"Subject: x\r\nContent-Type: text/html\r\n\r\n"
    + b"\r\n".join([b"<a " * 100] * 200)
    + b"\r\n"
)
#: Resident memory the server may reach during the attack (it starts near 50 MB).
RSS_LIMIT_KB = 300_000


def rss_kb(server: ServerProcess) -> int:
    assert server.proc is not None
    with open(f"/proc/{server.proc.pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS line")


def probe(server: ServerProcess) -> float:
    """Seconds one GET /status.json takes (raises if it is not answered within 5 s)."""
    started = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", server.ports["http"], timeout=5)
    try:
        conn.request("GET", "/status.json")
        response = conn.getresponse()
        response.read()
        assert response.status == 200
    finally:
        conn.close()
    return time.monotonic() - started


def send_attack(port: int, outcome: dict[str, Any]) -> None:
    """The attack as smtplib sends it; the reply code (or the error) goes into ``outcome``."""
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=20) as client:
            client.ehlo("a")
            client.mail("a@b.c")
            client.rcpt(f"alice@{DOMAIN}")
            outcome["reply"] = client.data(ATTACK)
    except Exception as exc:  # reported by the test, not raised in the thread
        outcome["error"] = exc


def test_quadratic_html_mail_does_not_stall_the_world(tmp_path):
    """Three copies of the '<a ' message at once: /status.json answers within 1 s throughout."""
    with ServerProcess(tmp_path, expect=SERVICES) as server:
        alice = server.telnet()
        alice.command("create Alice secret")
        probe(server)  # warm: the first page renders its templates
        log_lines = len(server.log)
        outcomes: list[dict[str, Any]] = [{} for _ in range(3)]
        attackers = [
            threading.Thread(target=send_attack, args=(server.ports["smtp"], o), daemon=True)
            for o in outcomes
        ]
        for t in attackers:
            t.start()
        slowest = 0.0
        peak = 0
        deadline = time.monotonic() + 20
        while any(t.is_alive() for t in attackers) and time.monotonic() < deadline:
            slowest = max(slowest, probe(server))
            peak = max(peak, rss_kb(server))
            time.sleep(0.05)
        for t in attackers:
            t.join(5)
        # A few more probes once the messages are in: still answered at once.
        for _ in range(5):
            slowest = max(slowest, probe(server))
        assert slowest < 1.0, f"a probe waited {slowest:.2f} s"
        assert peak < RSS_LIMIT_KB, f"RSS reached {peak} kB"
        for o in outcomes:
            assert "error" not in o, o
            code, _ = o["reply"]
            assert code == 250  # linear now: the letter is simply accepted
        alice.expect("You have mail from a@b.c: x", 5)
        # Drain what the server logged: a handful of lines per message at most.
        while server.read_line(0.5) is not None:
            pass
        assert len(server.log) - log_lines < 40


def test_outside_mail_forging_the_admin_is_not_shown_as_his_letter(tmp_path):
    """Envelope attacker@evil.example, From: Root <root@...>: the player sees who really sent it."""
    with ServerProcess(tmp_path, expect=SERVICES, admins=("Root",)) as server:
        root = server.telnet()
        root.command("create Root rootpass")
        alice = server.telnet()
        alice.command("create Alice secret")
        message = (
            f"From: Root <root@{DOMAIN}>\r\nTo: alice@{DOMAIN}\r\n"
            "Subject: Admin notice\r\n\r\nPlease send me your password.\r\n"
        )
        with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=10) as client:
            refused = client.sendmail("attacker@evil.example", [f"alice@{DOMAIN}"], message)
            assert refused == {}
        said = alice.expect("Admin notice", 5)
        assert "You have mail from attacker@evil.example: Admin notice" in said
        assert "mail from Root" not in said
        listing = alice.command("mail")
        assert "1  *  attacker@evil.ex" in listing and " Root " not in listing
        letter = " ".join(alice.command("mail read 1").split())  # unwrapped
        assert (
            f"From: Root <root@{DOMAIN}> [from outside the game, sent by attacker@evil.example]"
            in letter
        )
