"""The TLS layer over real sockets, on every reactor, against clients nobody here wrote.

The server is an echo protocol (it greets, then answers each chunk in
upper case) behind :class:`TLSServerFactory` on 127.0.0.1. The clients:
Python's ``ssl`` module and Debian's ``openssl s_client``, each in a child
process the reactor drives (no threads), and Reality's own client role.
"""

from __future__ import annotations

import shutil
import socket
import sys
from typing import Any

import pytest

from reality.net.defer import Deferred, Failure
from reality.net.protocol import ClientFactory, Factory, ProcessProtocol, Protocol
from reality.net.testing import wait_for
from reality.net.tls import TLSContexts, TLSProtocol, TLSServerFactory, client_context

OPENSSL = shutil.which("openssl")
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="openssl is not installed")


class Echo(Protocol):
    """Greets, then echoes every chunk in upper case; a STARTTLS line upgrades."""

    def connection_made(self) -> None:
        self.transport.write(b"Welcome\n")

    def data_received(self, data: bytes) -> None:
        self.transport.write(data.upper())


class Child(ProcessProtocol):
    """A child process: collects its output; ``ended`` fires with its exit reason."""

    def __init__(self, close_stdin_on: bytes | None = None) -> None:
        self.out = bytearray()
        self.err = bytearray()
        self.close_stdin_on = close_stdin_on
        self.ended: Deferred[list[Failure]] = Deferred()

    def out_received(self, data: bytes) -> None:
        self.out += data
        if self.close_stdin_on is not None and self.close_stdin_on in self.out:
            self.close_stdin_on = None
            self.transport.close_stdin()

    def err_received(self, data: bytes) -> None:
        self.err += data

    def process_ended(self, reason: Failure) -> None:
        self.ended.callback([reason])


def listen(reactor: Any, certs: Any, **kwargs: Any) -> tuple[Any, int]:
    contexts = TLSContexts(certs.cert_file, certs.key_file)
    factory = TLSServerFactory(Factory.for_protocol(Echo), contexts, clock=reactor, **kwargs)
    port = reactor.listen_tcp(0, factory, interface="127.0.0.1")
    return port, port.get_host().port


PYTHON_CLIENT = r"""
import socket, ssl, sys
port, cafile = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(cafile=cafile)
with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
    with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
        greeting = tls.recv(100)
        tls.sendall(b"hello over tls")
        echo = b""
        while len(echo) < 14:
            echo += tls.recv(100)
        print(tls.version(), greeting, echo)
        tls.unwrap()  # close_notify both ways
        print("unwrapped")
"""


def test_python_ssl_client(reactor, tls_certs):
    """Python's ssl client: verified handshake, data both ways, close_notify answered."""
    port, number = listen(reactor, tls_certs)
    try:
        child = Child()
        reactor.spawn_process(
            child, [sys.executable, "-c", PYTHON_CLIENT, str(number), tls_certs.ca_file]
        )
        (reason,) = wait_for(reactor, child.ended, timeout=20)
        out = child.out.decode()
        assert "TLSv1.3 b'Welcome\\n' b'HELLO OVER TLS'" in out, (out, child.err)
        assert "unwrapped" in out
        assert reason.value.__class__.__name__ == "ProcessDone"
    finally:
        wait_for(reactor, port.stop_listening(), timeout=5)


def s_client(
    reactor: Any, number: int, certs: Any, *extra: str, close_on: bytes
) -> tuple[Child, Any]:
    child = Child(close_stdin_on=close_on)
    argv = [
        OPENSSL, "s_client", "-connect", f"127.0.0.1:{number}", "-servername", "localhost",
        "-CAfile", certs.ca_file, "-verify_return_error", *extra,
    ]
    return child, reactor.spawn_process(child, argv)


@needs_openssl
def test_openssl_s_client(reactor, tls_certs):
    """openssl s_client verifies the certificate, gets the greeting and the echo."""
    port, number = listen(reactor, tls_certs, alpn=("http/1.1",))
    try:
        child, process = s_client(
            reactor, number, tls_certs, "-alpn", "http/1.1", close_on=b"HELLO FROM OPENSSL"
        )
        process.write(b"hello from openssl\n")
        wait_for(reactor, child.ended, timeout=20)
        out = child.out.decode(errors="replace")
        assert "Welcome" in out and "HELLO FROM OPENSSL" in out, (out, child.err)
        assert "Verify return code: 0 (ok)" in out
        assert "ALPN protocol: http/1.1" in out
        assert "TLSv1.3" in out
    finally:
        wait_for(reactor, port.stop_listening(), timeout=5)


@needs_openssl
def test_openssl_tls12_renegotiation_is_refused(reactor, tls_certs):
    """A TLS 1.2 client asking to renegotiate ('R') is refused; the server carries on."""
    port, number = listen(reactor, tls_certs)
    try:
        child, process = s_client(reactor, number, tls_certs, "-tls1_2", close_on=b"never")
        process.write(b"R\n")
        wait_for(reactor, child.ended, timeout=20)
        text = (child.out + child.err).decode(errors="replace")
        assert "RENEGOTIATING" in text
        assert "no renegotiation" in text or "no_renegotiation" in text, text
        # Another client is served as before.
        child, process = s_client(reactor, number, tls_certs, close_on=b"AGAIN")
        process.write(b"again\n")
        wait_for(reactor, child.ended, timeout=20)
        assert b"AGAIN" in child.out
    finally:
        wait_for(reactor, port.stop_listening(), timeout=5)


def later(reactor: Any, seconds: float) -> Deferred[None]:
    d: Deferred[None] = Deferred()
    reactor.call_later(seconds, d.callback, None)
    return d


def test_plaintext_to_a_tls_port_is_closed_at_once(reactor, tls_certs):
    """An HTTP request to the TLS port: an alert at most, then the connection is closed."""
    port, number = listen(reactor, tls_certs)
    try:
        client = socket.create_connection(("127.0.0.1", number), timeout=5)
        client.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        wait_for(reactor, later(reactor, 0.3), timeout=5)
        data = b""
        try:
            while chunk := client.recv(4096):
                data += chunk
        except ConnectionResetError:
            pass
        assert len(data) < 64 and b"Welcome" not in data
        client.close()
    finally:
        wait_for(reactor, port.stop_listening(), timeout=5)


def test_a_stalled_handshake_is_closed_at_the_deadline_and_others_are_served(
    reactor, tls_certs
):
    """A client that never says hello is closed after handshake_timeout; others carry on."""
    port, number = listen(reactor, tls_certs, handshake_timeout=0.5)
    try:
        staller = socket.create_connection(("127.0.0.1", number), timeout=5)
        child = Child()
        reactor.spawn_process(
            child, [sys.executable, "-c", PYTHON_CLIENT, str(number), tls_certs.ca_file]
        )
        wait_for(reactor, child.ended, timeout=20)
        assert b"HELLO OVER TLS" in child.out
        wait_for(reactor, later(reactor, 0.8), timeout=5)
        staller.settimeout(2)
        assert staller.recv(100) == b""
        staller.close()
    finally:
        wait_for(reactor, port.stop_listening(), timeout=5)


class Collect(Protocol):
    """A client's inner protocol: sends a line after the greeting, then closes on the echo."""

    def connection_made(self) -> None:
        self.received = bytearray()

    def data_received(self, data: bytes) -> None:
        self.received += data
        if self.received == b"Welcome\n":
            self.transport.write(b"from reality\n")
        elif self.received.endswith(b"FROM REALITY\n"):
            self.transport.lose_connection()

    def connection_lost(self, reason: Failure) -> None:
        self.factory.done.callback(bytes(self.received))


def test_reality_client_role(reactor, tls_certs):
    """Reality's own client side of the layer, over a real connection, on every reactor."""
    port, number = listen(reactor, tls_certs)
    try:
        inner_factory = ClientFactory.for_protocol(Collect)
        inner_factory.done = Deferred()

        class TLSClientFactory(ClientFactory):
            def build_protocol(self, addr: Any) -> TLSProtocol:
                inner = inner_factory.build_protocol(addr)
                return TLSProtocol(
                    inner, client_context(tls_certs.ca_file), server_side=False,
                    server_hostname="localhost", clock=reactor,
                )

        reactor.connect_tcp("127.0.0.1", number, TLSClientFactory())
        received = wait_for(reactor, inner_factory.done, timeout=10)
        assert received == b"Welcome\nFROM REALITY\n"
    finally:
        wait_for(reactor, port.stop_listening(), timeout=5)
