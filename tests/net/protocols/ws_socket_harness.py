"""Real-socket helpers for the WebSocket tests: the engine echo server in a
child process (``ws_echo_server.py``) and a raw client that plays the
Autobahn-style cases (every socket has a timeout)."""

from __future__ import annotations

import os
import selectors
import socket
import subprocess
import sys
import time
from pathlib import Path

from ws_cases import Case, Peer

from reality.net.protocols.websocket import client_request, client_verify, parse_response_head
from reality.net.protocols.websocket.handshake import request_bytes

HERE = Path(__file__).parent
ROOT = HERE.parents[2]
TIMEOUT = 5.0


class EchoServer:
    """``ws_echo_server.py`` on 127.0.0.1, a free port."""

    def __init__(self, *args: str) -> None:
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        self.process = subprocess.Popen(
            [sys.executable, str(HERE / "ws_echo_server.py"), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
        )
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)  # type: ignore[arg-type]
            if not selector.select(10):
                self.stop()
                raise AssertionError("the echo server did not start within 10 s")
        line = self.process.stdout.readline()  # type: ignore[union-attr]
        assert line.startswith("PORT "), line
        self.port = int(line.split()[1])

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/"

    def stop(self) -> str:
        self.process.terminate()
        try:
            _, err = self.process.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, err = self.process.communicate(timeout=5)
        return err


def open_raw(port: int, *, deflate: bool = False) -> tuple[socket.socket, bytes]:
    """A connected, upgraded socket and any bytes that followed the 101."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    key, headers = client_request(f"127.0.0.1:{port}", "/", deflate=deflate)
    sock.sendall(request_bytes("/", headers))
    data = b""
    while True:
        chunk = sock.recv(65536)
        assert chunk, "the server closed during the handshake"
        data += chunk
        head = parse_response_head(data)
        if head is not None:
            status, fields, rest = head
            client_verify(key, status, fields, deflate=deflate)
            return sock, rest


def run_socket(port: int, case: Case) -> Peer:
    """Play ``case`` against the server at ``port``; what the client saw."""
    sock, rest = open_raw(port)
    peer = Peer()
    peer.feed(rest)
    sock.setblocking(False)
    try:
        for data in case.writes():
            view = memoryview(data)
            deadline = time.monotonic() + TIMEOUT
            while view:
                try:
                    sent = sock.send(view)
                    view = view[sent:]
                except BlockingIOError:
                    _drain(sock, peer, 0.01)
                except OSError:
                    view = view[:0]
                    break
                if time.monotonic() > deadline:
                    raise AssertionError("could not send in time")
            _drain(sock, peer, 0)
            if peer.closed:
                break
        deadline = time.monotonic() + TIMEOUT
        while not peer.closed and time.monotonic() < deadline:
            if not _drain(sock, peer, 0.2):
                break
    finally:
        sock.close()
    return peer


def _drain(sock: socket.socket, peer: Peer, wait: float) -> bool:
    """Read what has arrived (waiting up to ``wait``); False at EOF."""
    with selectors.DefaultSelector() as selector:
        selector.register(sock, selectors.EVENT_READ)
        while selector.select(wait):
            try:
                chunk = sock.recv(1 << 20)
            except BlockingIOError:
                return True
            except OSError:
                return False
            if not chunk:
                return False
            peer.feed(chunk)
            wait = 0
    return True
