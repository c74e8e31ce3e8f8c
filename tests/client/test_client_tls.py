"""``reality play --tls``: the client's connection over TLS, on every reactor.

A telnet greeter behind the engine's TLS server factory on 127.0.0.1 (the
server's ``telnets`` port is the same factory around the game), and the
client's :func:`reality.client.connection.connect` with a TLS context.
"""

from __future__ import annotations

from typing import Any

import pytest

from reality.client.connection import connect
from reality.net.defer import Deferred
from reality.net.error import ConnectError
from reality.net.protocol import Factory, Protocol
from reality.net.testing import wait_for
from reality.net.tls import TLSContexts, TLSServerFactory, client_context


class Greeter(Protocol):
    """Says one telnet line, then answers each line with its upper case."""

    def connection_made(self) -> None:
        self.transport.write(b"Welcome over TLS\r\n")

    def data_received(self, data: bytes) -> None:
        self.transport.write(data.upper())


class Listener:
    """The client's listener: collects lines; ``got`` fires at the wanted one."""

    def __init__(self, wanted: str) -> None:
        self.lines: list[str] = []
        self.wanted = wanted
        self.got: Deferred[list[str]] = Deferred()
        self.ended: Deferred[str] = Deferred()

    def connected(self, protocol: Any) -> None:
        pass

    def line_received(self, text: str) -> None:
        self.lines.append(text)
        if text == self.wanted and not self.got.called:
            self.got.callback(self.lines)

    def partial_received(self, text: str) -> None:
        pass

    def prompt_received(self, text: str) -> None:
        pass

    def gmcp_received(self, package: str, data: Any) -> None:
        pass

    def masked_changed(self, masked: bool) -> None:
        pass

    def disconnected(self, message: str, clean: bool) -> None:
        if not self.ended.called:
            self.ended.callback(message)


def listen(reactor: Any, certs: Any) -> tuple[Any, int]:
    contexts = TLSContexts(certs.cert_file, certs.key_file)
    factory = TLSServerFactory(Factory.for_protocol(Greeter), contexts, clock=reactor)
    port = reactor.listen_tcp(0, factory, interface="127.0.0.1")
    return port, port.get_host().port


def test_play_connects_over_tls_and_talks(reactor, tls_certs):
    """The certificate is checked against 'localhost'; lines go both ways through TLS."""
    port, number = listen(reactor, tls_certs)
    try:
        listener = Listener("HELLO")
        d = connect(
            reactor, "localhost", number, listener, tls=client_context(tls_certs.ca_file)
        )
        protocol = wait_for(reactor, d, timeout=10)
        protocol.send_line("hello")
        lines = wait_for(reactor, listener.got, timeout=10)
        assert lines[0] == "Welcome over TLS"
        protocol.close()
        wait_for(reactor, listener.ended, timeout=10)
    finally:
        wait_for(reactor, port.stop_listening(), timeout=5)


def test_play_refuses_a_certificate_it_cannot_check(reactor, tls_certs, make_certs, tmp_path):
    """A CA the server's certificate is not from: the handshake fails, no line is shown."""
    other = make_certs(tmp_path)
    port, number = listen(reactor, tls_certs)
    try:
        listener = Listener("never")
        d = connect(reactor, "localhost", number, listener, tls=client_context(other.ca_file))
        try:
            wait_for(reactor, d, timeout=10)
        except ConnectError:
            pass  # closed before it counted as connected: fine too
        wait_for(reactor, listener.ended, timeout=10)
        assert "Welcome over TLS" not in listener.lines
    finally:
        wait_for(reactor, port.stop_listening(), timeout=5)


@pytest.mark.parametrize("argv", [["play", "--cafile", "x.pem"], ["play", "--insecure"]])
def test_tls_options_need_tls(argv, capsys):
    """--cafile and --insecure without --tls is a usage error, not a silent plain connection."""
    from reality.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert "go with --tls" in capsys.readouterr().err
