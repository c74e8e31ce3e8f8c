"""Display and audit attacks over real sockets: spoofing characters, tracking images, no trail.

Against a live ``run_server.py`` on 127.0.0.1 (port 0): a player says
something full of direction overrides and zero-width characters to
another; a homepage embeds an image from another site; a stranger guesses
passwords and tries to relay mail. Every socket has a timeout.
"""

from __future__ import annotations

import http.client
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from serverproc import ServerProcess

TIMEOUT = 10.0
# The characters of the report, and more of their classes.
SPOOFS = "\u202e\u202c\u200b\ufeff\u2066\u2069\u200e\u200f\u061c\u200d\u2060\x1b\x07"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with ServerProcess(
        tmp_path_factory.mktemp("display"), expect=("telnet", "http", "smtp")
    ) as s:
        yield s


def test_say_and_tell_carry_no_spoofing_characters(server):
    """Bob's screen gets Alice's words without one bidi, zero-width or control character."""
    alice = server.telnet()
    bob = server.telnet()
    try:
        alice.command("create Alice secret")
        bob.command("create Bob secret")
        alice.conn.write(f"say pay {SPOOFS}gnp.exe now\r\n".encode())
        raw = bob.conn.read_until(b"now", timeout=TIMEOUT)
        alice.conn.write(f"tell bob {SPOOFS}psst\r\n".encode())
        raw += bob.conn.read_until(b"psst", timeout=TIMEOUT)
        assert b"now" in raw and b"psst" in raw, raw
        text = raw.decode("utf-8")
        for ch in SPOOFS:
            if ch == "\x1b":
                # Colour codes are the server's own; the player's ESC was not "[" led.
                assert "\x1b\x07" not in text and "\x1bg" not in text
                continue
            assert ch not in text, hex(ord(ch))
        assert "pay gnp.exe now" in re.sub(r"\x1b\[[0-9;]*m", "", text)
    finally:
        alice.close()
        bob.close()


def _get(server: ServerProcess, path: str) -> tuple[int, dict[str, str], str]:
    conn = http.client.HTTPConnection("127.0.0.1", server.ports["http"], timeout=TIMEOUT)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read().decode("utf-8", "replace")
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body
    finally:
        conn.close()


def test_homepage_images_only_from_this_site(server):
    """A tracking pixel in a homepage is a link, and every page forbids off-site images."""
    carol = server.telnet()
    try:
        carol.command("create Carol secret")
        out = carol.command(
            "homepage Hi ![pixel](http://attacker.example/pixel.gif) ![map](/map.svg)"
        )
        assert "Homepage saved" in out
    finally:
        carol.close()
    status, headers, page = _get(server, "/~carol")
    assert status == 200
    assert "<img" in page and 'src="/map.svg"' in page
    assert not re.search(r"<img[^>]+attacker\.example", page)
    assert '<a href="http://attacker.example/pixel.gif"' in page
    for path in ("/", "/who", "/~carol", "/~nobody", "/status.json", "/style.css", "/map.svg"):
        _, headers, _ = _get(server, path)
        policy = headers.get("content-security-policy", "")
        assert "img-src 'self' data:;" in policy + ";", (path, policy)


def test_security_events_leave_an_audit_trail(tmp_path: Path):
    """Failed logins and a refused relay each leave one reality.audit line, with the address."""
    with ServerProcess(tmp_path, expect=("telnet", "smtp")) as s:
        guesser = s.telnet()
        try:
            guesser.command("create Dana secret")
        finally:
            guesser.close()
        guesser = s.telnet()
        try:
            guesser.conn.write(b"connect Dana wrong1\r\n")
            guesser.expect("password is wrong")
            guesser.conn.write(b"connect Dana wrong2\r\n")
            guesser.expect("password is wrong")
        finally:
            guesser.close()
        with socket.create_connection(("127.0.0.1", s.ports["smtp"]), timeout=TIMEOUT) as smtp:
            reader = smtp.makefile("rb")
            reader.readline()
            smtp.sendall(b"HELO x\r\n")
            reader.readline()
            # A quoted local part may hold spaces and '=': it must stay one value.
            smtp.sendall(b'MAIL FROM:<"x target=root@here"@evil.example>\r\n')
            assert reader.readline().startswith(b"250")
            smtp.sendall(b"RCPT TO:<victim@far.example>\r\n")
            assert reader.readline().startswith(b"550 5.7.1")
            smtp.sendall(b"QUIT\r\n")
            reader.readline()
        assert s.stop() == 0
        audit = [line for line in s.output().splitlines() if " reality.audit: " in line]
    failed = [line for line in audit if "login.failed" in line]
    assert len(failed) == 2, audit
    assert all(line.endswith("address=127.0.0.1") for line in failed), failed
    assert "login.failed who=Dana address=127.0.0.1" in failed[0]
    relay = [line for line in audit if "smtp.relay_refused" in line]
    assert len(relay) == 1, audit
    assert relay[0].endswith(
        'smtp.relay_refused who="\\"x target=root@here\\"@evil.example" address=127.0.0.1'
        " target=victim@far.example"
    ), relay
