"""The TLS layer on the test doubles: two TLSProtocols back to back in memory, no sockets.

Each test wires a server-side and a client-side :class:`TLSProtocol` with
StringTransports, moves bytes with ``pump`` and time with a ``Clock``.
"""

from __future__ import annotations

import logging
import ssl
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from reality.net.address import Address
from reality.net.defer import Failure
from reality.net.error import ConnectionDone
from reality.net.interfaces import ITLSTransport
from reality.net.protocol import Factory, Protocol
from reality.net.testing import (
    BufferingTransport,
    Clock,
    StringTransportWithDisconnection,
    connected_pair,
    pump,
)
from reality.net.tls import (
    INTERMEDIATE_CIPHERS,
    TLSConfigError,
    TLSContexts,
    TLSError,
    TLSProtocol,
    TLSServerFactory,
    client_context,
    server_context,
    wrap_for_starttls,
)


@pytest.fixture
def certs(tls_certs: Any) -> Any:
    return tls_certs


class Recorder(Protocol):
    """Records what it receives, its end, and pause/resume_writing."""

    def __init__(self, greeting: bytes = b"") -> None:
        self.greeting = greeting
        self.received = bytearray()
        self.lost: Failure | None = None
        self.pauses = 0
        self.resumes = 0
        self.made = False

    def connection_made(self) -> None:
        self.made = True
        if self.greeting:
            self.transport.write(self.greeting)

    def data_received(self, data: bytes) -> None:
        self.received += data

    def connection_lost(self, reason: Failure) -> None:
        self.lost = reason

    def pause_writing(self) -> None:
        self.pauses += 1

    def resume_writing(self) -> None:
        self.resumes += 1


class Pair:
    """A server and a client TLSProtocol connected in memory."""

    def __init__(
        self,
        certs: Any,
        clock: Clock,
        *,
        start: bool = True,
        server_inner: Recorder | None = None,
        alpn: tuple[str, ...] = (),
        client_ctx: ssl.SSLContext | None = None,
        max_buffer: int = 256 * 1024,
    ) -> None:
        self.server_inner = server_inner or Recorder()
        self.client_inner = Recorder()
        self.server = TLSProtocol(
            self.server_inner,
            server_context(certs.cert_file, certs.key_file, alpn=alpn),
            server_side=True,
            clock=clock,
            start=start,
            max_buffer=max_buffer,
        )
        ctx = client_ctx or client_context(certs.ca_file)
        if alpn:
            ctx.set_alpn_protocols(list(alpn))
        self.client = TLSProtocol(
            self.client_inner,
            ctx,
            server_side=False,
            server_hostname="localhost",
            clock=clock,
            start=start,
        )
        self.st, self.ct = connected_pair(self.server, self.client)

    def pump(self) -> None:
        pump(self.server, self.st, self.client, self.ct)


def test_handshake_completes_and_reports_version_cipher_and_alpn(certs):
    """Both ends complete the handshake (TLS 1.3), fire handshake_done and agree on ALPN."""
    clock = Clock()
    pair = Pair(certs, clock, alpn=("http/1.1",))
    assert pair.server.tls_active and not pair.server.handshake_complete
    pair.pump()
    assert pair.server.handshake_done.called and pair.client.handshake_done.called
    assert pair.server.tls_version() == "TLSv1.3"
    assert pair.client.cipher() is not None
    assert pair.server.alpn_protocol() == "http/1.1"
    assert pair.client.alpn_protocol() == "http/1.1"
    assert pair.server_inner.made and pair.client_inner.made
    assert isinstance(pair.server, ITLSTransport)


def test_handshake_timer_is_cancelled_once_done(certs):
    """The handshake deadline is a reactor timer, cancelled when the handshake completes."""
    clock = Clock()
    pair = Pair(certs, clock)
    assert len(clock.get_delayed_calls()) == 2
    pair.pump()
    assert clock.get_delayed_calls() == []


def test_data_both_ways_and_large_writes(certs):
    """Bytes written on either side arrive whole and in order; the wire never shows them."""
    clock = Clock()
    pair = Pair(certs, clock)
    pair.pump()
    pair.client.write(b"hello server")
    wire = pair.ct.value()
    assert b"hello server" not in wire
    pair.pump()
    assert pair.server_inner.received == b"hello server"
    big = bytes(range(256)) * 4096  # 1 MiB: many records
    pair.server.write(big)
    pair.server.write_sequence([b"a", b"b"])
    pair.pump()
    assert pair.client_inner.received == big + b"ab"


def test_writes_before_the_handshake_are_sent_after_it(certs):
    """A greeting written in connection_made waits for the handshake, then arrives."""
    clock = Clock()
    pair = Pair(certs, clock, server_inner=Recorder(greeting=b"Welcome!\r\n"))
    assert pair.server.get_write_buffer_size() == len(b"Welcome!\r\n")
    pair.pump()
    assert pair.client_inner.received == b"Welcome!\r\n"
    assert pair.server.get_write_buffer_size() == 0


def test_lose_connection_during_handshake_sends_pending_then_closes(certs):
    """Write-then-close before the handshake (an HTTP refusal): the peer gets the bytes."""

    class Refuser(Recorder):
        def connection_made(self) -> None:
            self.transport.write(b"503 busy")
            self.transport.lose_connection()

    clock = Clock()
    pair = Pair(certs, clock, server_inner=Refuser())
    pair.pump()
    assert pair.client_inner.received == b"503 busy"
    assert pair.st.disconnecting and not pair.st.aborted


def test_close_notify_on_lose_connection(certs):
    """lose_connection() sends close_notify; the peer answers and closes cleanly."""
    clock = Clock()
    pair = Pair(certs, clock)
    pair.pump()
    pair.client.write(b"bye")
    pair.client.lose_connection()
    assert pair.ct.disconnecting and not pair.ct.aborted
    # The close_notify is in what the client wrote; the server reads it and closes too.
    pair.server.data_received(pair.ct.take())
    assert pair.server_inner.received == b"bye"
    assert pair.st.disconnecting and not pair.st.aborted
    assert pair.server_inner.lost is not None
    assert pair.server_inner.lost.check(ConnectionDone)
    # Writes after the close are dropped, not raised.
    pair.server.write(b"late")


def test_starttls_passes_plaintext_then_upgrades(certs):
    """start=False: plaintext both ways until start_tls(); then TLS, invisible on the wire."""

    class Server(Recorder):
        def data_received(self, data: bytes) -> None:
            self.received += data
            if data == b"STARTTLS\r\n":
                self.transport.write(b"220 go ahead\r\n")
                self.transport.start_tls()

    clock = Clock()
    pair = Pair(certs, clock, start=False, server_inner=Server())
    assert not pair.server.tls_active
    pair.client.write(b"STARTTLS\r\n")
    assert pair.ct.value() == b"STARTTLS\r\n"
    pair.server.data_received(pair.ct.take())
    assert pair.server.tls_active
    assert pair.st.value() == b"220 go ahead\r\n"
    pair.client.data_received(pair.st.take())
    assert pair.client_inner.received == b"220 go ahead\r\n"
    pair.client.start_tls()
    pair.pump()
    assert pair.server.handshake_complete and pair.client.handshake_complete
    pair.client.write(b"EHLO secret")
    assert b"EHLO secret" not in pair.ct.value()
    pair.pump()
    assert pair.server_inner.received == b"STARTTLS\r\nEHLO secret"
    with pytest.raises(RuntimeError):
        pair.server.start_tls()


def test_wrap_for_starttls_and_context_from_contexts(certs):
    """wrap_for_starttls makes a plain server-side layer that upgrades with the current context."""
    clock = Clock()
    contexts = TLSContexts(certs.cert_file, certs.key_file)
    inner = Recorder()
    server = wrap_for_starttls(inner, contexts, clock=clock)
    client_inner = Recorder()
    client = TLSProtocol(
        client_inner, client_context(certs.ca_file), server_side=False,
        server_hostname="localhost", clock=clock, start=False,
    )
    st, ct = connected_pair(server, client)
    assert not server.tls_active
    server.start_tls()
    client.start_tls()
    pump(server, st, client, ct)
    assert server.handshake_complete


def test_handshake_timeout_aborts_a_silent_peer(certs):
    """A client that connects and says nothing is aborted at the deadline, not before."""
    clock = Clock()
    inner = Recorder()
    server = TLSProtocol(
        inner, server_context(certs.cert_file, certs.key_file),
        server_side=True, clock=clock, handshake_timeout=10,
    )
    transport = StringTransportWithDisconnection()
    transport.protocol = server
    server.make_connection(transport)
    clock.advance(9.9)
    assert not transport.disconnecting
    clock.advance(0.2)
    assert transport.aborted
    assert inner.lost is not None
    errors: list[Failure] = []
    server.handshake_done.add_errback(errors.append)
    assert errors and errors[0].check(TLSError)


def test_handshake_timeout_aborts_a_peer_stalled_mid_handshake(certs):
    """Half a ClientHello, then silence: aborted at the deadline."""
    clock = Clock()
    pair = Pair(certs, clock)
    hello = pair.ct.take()
    pair.server.data_received(hello[: len(hello) // 2])
    clock.advance(10.5)
    assert pair.st.aborted
    failure = []
    pair.server.handshake_done.add_errback(failure.append)
    assert failure and failure[0].check(TLSError)


def test_plaintext_on_a_tls_port_is_aborted_without_a_traceback(certs, caplog):
    """An HTTP request to a TLS port: aborted at once, logged in one line, no traceback."""
    caplog.set_level(logging.DEBUG, logger="reality.net.tls")
    clock = Clock()
    inner = Recorder()
    server = TLSProtocol(
        inner, server_context(certs.cert_file, certs.key_file), server_side=True, clock=clock
    )
    transport = StringTransportWithDisconnection()
    transport.protocol = server
    server.make_connection(transport)
    server.data_received(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert transport.aborted
    assert inner.received == b""
    assert clock.get_delayed_calls() == []
    (record,) = [r for r in caplog.records if r.name == "reality.net.tls"]
    assert "192.0.2.1" in record.getMessage() and record.exc_info is None


def test_garbage_records_after_the_handshake_abort(certs):
    """A forged application-data record (bad MAC) after the handshake aborts the connection."""
    clock = Clock()
    pair = Pair(certs, clock)
    pair.pump()
    pair.server.data_received(b"\x17\x03\x03\x00\x20" + b"\x00" * 32)
    assert pair.st.aborted
    assert pair.server_inner.received == b""


def test_undecrypted_records_are_bounded_while_reading_is_paused(certs):
    """Reading paused, the peer keeps sending: past max_buffer the connection is aborted."""
    clock = Clock()
    pair = Pair(certs, clock, max_buffer=64 * 1024)
    pair.pump()
    pair.server.pause_reading()
    assert pair.st.reading_paused
    pair.client.write(b"x" * 100_000)
    wire = pair.ct.take()
    pair.server.data_received(wire[:30_000])
    assert pair.server_inner.received == b""
    assert not pair.st.aborted
    pair.server.data_received(wire[30_000:])
    assert pair.st.aborted


def test_pause_and_resume_reading_hold_back_decrypted_data(certs):
    """Records that arrive while paused are delivered on the turn after resume_reading."""
    clock = Clock()
    pair = Pair(certs, clock)
    pair.pump()
    pair.server.pause_reading()
    pair.client.write(b"held")
    pair.server.data_received(pair.ct.take())
    assert pair.server_inner.received == b""
    pair.server.resume_reading()
    assert not pair.st.reading_paused
    assert pair.server_inner.received == b""
    clock.advance(0)
    assert pair.server_inner.received == b"held"


def test_plaintext_waiting_for_the_handshake_is_bounded(certs):
    """More than max_buffer written before the handshake completes aborts the connection."""
    clock = Clock()
    pair = Pair(certs, clock, server_inner=Recorder(greeting=b"x" * 70_000), max_buffer=65536)
    assert pair.st.aborted


def test_many_tiny_records_are_delivered_in_linear_time(certs):
    """20,000 one-byte records, fed in 64 KiB reads: every byte arrives, nothing is kept."""
    clock = Clock()
    pair = Pair(certs, clock)
    pair.pump()
    for _ in range(20_000):
        pair.client.write(b"z")
    wire = pair.ct.take()
    for i in range(0, len(wire), 65536):
        pair.server.data_received(wire[i : i + 65536])
    assert pair.server_inner.received == b"z" * 20_000
    assert not pair.st.disconnecting


def test_slow_reader_pauses_the_inner_writer(certs):
    """The transport's pause_writing/resume_writing reach the inner protocol."""
    clock = Clock()
    inner = Recorder()
    server = TLSProtocol(
        inner, server_context(certs.cert_file, certs.key_file), server_side=True, clock=clock
    )
    client_inner = Recorder()
    client = TLSProtocol(
        client_inner, client_context(certs.ca_file), server_side=False,
        server_hostname="localhost", clock=clock,
    )
    st = BufferingTransport(high_water=32 * 1024, low_water=8 * 1024)
    st.protocol = server
    ct = StringTransportWithDisconnection()
    ct.protocol = client
    server.make_connection(st)
    client.make_connection(ct)
    for _ in range(10):
        if ct.value():
            server.data_received(ct.take())
        if st.io:
            client.data_received(st.drain())
    assert server.handshake_complete
    server.write(b"y" * 100_000)
    assert inner.pauses == 1
    assert server.get_write_buffer_size() > 32 * 1024
    client.data_received(st.drain())
    assert inner.resumes == 1
    assert client_inner.received == b"y" * 100_000


def test_a_client_that_does_not_trust_the_server_fails_the_handshake(certs, make_certs, tmp_path):
    """Certificate verification on the client side: another CA's certificate is refused."""
    other = make_certs(tmp_path, prefix="other-")
    clock = Clock()
    pair = Pair(certs, clock, client_ctx=client_context(other.ca_file))
    pair.pump()
    assert pair.ct.aborted
    assert not pair.server.handshake_complete


def test_contexts_are_tls12_and_13_intermediate_without_renegotiation(certs):
    """Server contexts: TLS 1.2 minimum, intermediate ciphers, no compression or renegotiation."""
    ctx = server_context(certs.cert_file, certs.key_file)
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2
    assert ctx.options & ssl.OP_NO_COMPRESSION
    assert ctx.options & ssl.OP_NO_RENEGOTIATION
    names = {c["name"] for c in ctx.get_ciphers() if c["protocol"] == "TLSv1.2"}
    assert names == set(INTERMEDIATE_CIPHERS.split(":"))


def test_tls12_only_client_handshakes_too(certs):
    """A TLS 1.2 client gets an ECDHE AEAD suite from the intermediate list."""
    clock = Clock()
    ctx = client_context(certs.ca_file)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    pair = Pair(certs, clock, client_ctx=ctx)
    pair.pump()
    assert pair.server.tls_version() == "TLSv1.2"
    cipher = pair.server.cipher()
    assert cipher is not None and cipher[0] in INTERMEDIATE_CIPHERS.split(":")


def test_server_context_says_what_is_wrong(certs, make_certs, tmp_path: Path):
    """Missing, garbage, mismatched and encrypted files: TLSConfigError naming the file."""
    missing = str(tmp_path / "nope.pem")
    with pytest.raises(TLSConfigError, match="cannot read the TLS certificate .*nope.pem"):
        server_context(missing, certs.key_file)
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    with pytest.raises(TLSConfigError, match="garbage.pem holds no PEM certificate"):
        server_context(str(garbage), certs.key_file)
    with pytest.raises(TLSConfigError, match="garbage.pem holds no PEM private key"):
        server_context(certs.cert_file, str(garbage))
    broken = tmp_path / "broken.pem"
    broken.write_text("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    with pytest.raises(TLSConfigError, match="cannot load the TLS certificate"):
        server_context(str(broken), certs.key_file)
    other = make_certs(tmp_path, prefix="other-")
    with pytest.raises(TLSConfigError, match="does not belong to the certificate"):
        server_context(certs.cert_file, other.key_file)
    key = ec.generate_private_key(ec.SECP256R1())
    encrypted = tmp_path / "encrypted.pem"
    encrypted.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    with pytest.raises(TLSConfigError, match="passphrase"):
        server_context(certs.cert_file, str(encrypted))


def test_reload_replaces_contexts_and_keeps_old_ones_on_bad_files(
    certs, make_certs, tmp_path: Path
):
    """reload(): new files → new contexts; bad files → the old ones stay, with the reason."""
    mine = make_certs(tmp_path)
    contexts = TLSContexts(mine.cert_file, mine.key_file)
    first = contexts.get()
    https = contexts.get(("http/1.1",))
    # An open connection on the first context survives everything below.
    clock = Clock()
    inner = Recorder()
    server = TLSProtocol(inner, contexts.getter(), server_side=True, clock=clock)
    client_inner = Recorder()
    client = TLSProtocol(
        client_inner, client_context(mine.ca_file), server_side=False,
        server_hostname="localhost", clock=clock,
    )
    st, ct = connected_pair(server, client)
    pump(server, st, client, ct)
    assert server.handshake_complete

    renewed = make_certs(tmp_path, prefix="renewed-")
    Path(mine.cert_file).write_bytes(Path(renewed.cert_file).read_bytes())
    Path(mine.key_file).write_bytes(Path(renewed.key_file).read_bytes())
    assert contexts.reload() is None
    assert contexts.get() is not first and contexts.get(("http/1.1",)) is not https
    current = contexts.get()

    Path(mine.cert_file).write_text("garbage")
    reason = contexts.reload()
    assert reason is not None and "holds no PEM certificate" in reason
    assert contexts.get() is current

    Path(mine.cert_file).write_bytes(Path(certs.cert_file).read_bytes())  # key mismatch
    reason = contexts.reload()
    assert reason is not None and "does not belong" in reason
    assert contexts.get() is current

    client.write(b"still here")
    pump(server, st, client, ct)
    assert inner.received == b"still here"


def test_server_factory_wraps_forwards_and_keeps_refusals(certs):
    """TLSServerFactory wraps what the inner factory builds; None stays None; start/stop pass."""

    class Inner(Factory):
        protocol = Recorder
        refuse = False
        started = 0
        stopped = 0

        def build_protocol(self, addr: Address) -> Protocol | None:
            return None if self.refuse else super().build_protocol(addr)

        def start_factory(self) -> None:
            self.started += 1

        def stop_factory(self) -> None:
            self.stopped += 1

    inner = Inner()
    contexts = TLSContexts(certs.cert_file, certs.key_file)
    factory = TLSServerFactory(inner, contexts, clock=Clock(), alpn=("http/1.1",))
    factory.do_start()
    wrapper = factory.build_protocol(Address("TCP", "127.0.0.1", 1))
    assert isinstance(wrapper, TLSProtocol) and isinstance(wrapper.inner, Recorder)
    assert wrapper.factory is factory
    inner.refuse = True
    assert factory.build_protocol(Address("TCP", "127.0.0.1", 1)) is None
    factory.do_stop()
    assert (inner.started, inner.stopped) == (1, 1)


def test_connection_lost_mid_handshake_fails_handshake_done(certs):
    """The transport ends mid-handshake: handshake_done fails, the inner protocol hears it."""
    clock = Clock()
    pair = Pair(certs, clock)
    pair.st.lose_connection()
    assert pair.server_inner.lost is not None
    errors = []
    pair.server.handshake_done.add_errback(errors.append)
    assert errors and errors[0].check(TLSError)
    assert clock.get_delayed_calls() == [c for c in clock.get_delayed_calls() if c.active()]
