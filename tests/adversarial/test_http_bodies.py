"""Slow and unwanted request bodies must not hold the website.

The reported attack: a POST with ``Content-Length: 100`` sending one byte a
second was still open at 26 s, and 1,104 ``POST /who`` with
``Content-Length: 1000000`` from 23 addresses made every other visitor get
503. No page of the site takes a body, so such requests are now answered
(405) as soon as their head arrives and closed after a bounded linger; a
body a route does take has a total deadline (unit tests in
tests/net/protocols/test_http_channel.py).
"""

from __future__ import annotations

import socket
import time

from serverproc import ServerProcess

POST_WHO = b"POST /who HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"


def _send_quietly(sock: socket.socket, data: bytes) -> bool:
    try:
        sock.sendall(data)
        return True
    except OSError:
        return False


def test_one_byte_a_second_body_is_answered_and_closed_within_seconds(tmp_path):
    """POST /who, Content-Length 100, then a byte every 0.5 s: the server answers 405 and
    closes within 3 s (it used to keep the connection while bytes kept coming)."""
    with ServerProcess(tmp_path, expect=("http",)) as server:
        with socket.create_connection(("127.0.0.1", server.ports["http"]), timeout=5) as s:
            s.settimeout(0.5)
            start = time.monotonic()
            s.sendall(POST_WHO % 100)
            received = b""
            closed_after = None
            while time.monotonic() - start < 5:
                try:
                    chunk = s.recv(65536)
                except TimeoutError:
                    _send_quietly(s, b"a")
                    continue
                except OSError:  # reset after the answer: closed too
                    closed_after = time.monotonic() - start
                    break
                if not chunk:
                    closed_after = time.monotonic() - start
                    break
                received += chunk
            assert received.startswith(b"HTTP/1.1 405 "), received[:200]
            assert closed_after is not None and closed_after < 3.0, closed_after


def test_unwanted_bodies_from_many_addresses_do_not_crowd_out_visitors(tmp_path):
    """240 trickling POST /who with Content-Length 1000000 from six loopback addresses
    against --max-connections 100: 2.5 s later a visitor's GET is answered 200 within 1 s."""
    with ServerProcess(
        tmp_path, expect=("http",), extra=("--max-connections", "100"),
    ) as server:
        port = server.ports["http"]
        flood: list[socket.socket] = []
        try:
            for i in range(240):
                s = socket.socket()
                s.settimeout(2)
                s.bind((f"127.0.0.{2 + i % 6}", 0))
                s.connect(("127.0.0.1", port))
                _send_quietly(s, POST_WHO % 1000000)
                flood.append(s)
            for _ in range(5):
                time.sleep(0.5)
                for s in flood:
                    _send_quietly(s, b"a" * 10)
            start = time.monotonic()
            with socket.create_connection(("127.0.0.1", port), timeout=2) as probe:
                probe.sendall(b"GET /who HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                reply = probe.recv(65536)
            elapsed = time.monotonic() - start
            assert reply.startswith(b"HTTP/1.1 200 "), reply[:200]
            assert elapsed < 1.0, elapsed
        finally:
            for s in flood:
                s.close()
