"""Back-pressure in CommandPipeline (POP3 and SMTP) against a client that does not read.

Pipelined commands run one at a time while the transport is writable:
``pause_writing`` stops taking commands, ``resume_writing`` continues, and
a session whose replies are not read stops being read. Hypothesis splits
the flood any way it likes: what the server holds stays under the bound.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings, strategies as st
from pop3_fakes import SETTINGS as POP3_SETTINGS, FakePOP3Backend
from smtp_fakes import SETTINGS as SMTP_SETTINGS, FakeBackend

from reality.net.protocols.basic import FLUSH_AT
from reality.net.protocols.pop3 import POP3ServerFactory
from reality.net.protocols.smtp import SMTPServerFactory
from reality.net.testing import BufferingTransport, Clock

BIG = (b"x" * 1023 + b"\n") * 64  # a 64 KiB letter (65 KiB with CRLF)
READ = 65536  # what one socket read may bring at most


def connect(factory: Any) -> tuple[Any, BufferingTransport]:
    transport = BufferingTransport()
    protocol = factory.build_protocol(transport.get_peer())
    transport.protocol = protocol
    protocol.make_connection(transport)
    return protocol, transport


def pop3_session() -> tuple[Any, BufferingTransport, Clock]:
    backend = FakePOP3Backend()
    backend.messages["alice"] = [("uid-1", BIG)]
    clock = Clock()
    protocol, transport = connect(POP3ServerFactory(backend, clock, POP3_SETTINGS))
    protocol.data_received(b"USER alice\r\nPASS secret\r\n")
    transport.drain()
    return protocol, transport, clock


def smtp_session() -> tuple[Any, BufferingTransport, Clock]:
    clock = Clock()
    protocol, transport = connect(SMTPServerFactory(FakeBackend(), clock, SMTP_SETTINGS))
    protocol.data_received(b"EHLO client.example\r\n")
    transport.drain()
    return protocol, transport, clock


def test_retr_flood_stops_at_the_high_water_mark():
    """400 pipelined RETRs of a 64 KiB letter to a non-reader: a few replies, not 400."""
    protocol, transport, _ = pop3_session()
    protocol.data_received(b"RETR 1\r\n" * 400)
    assert transport.writing_paused
    assert transport.reading_paused
    # The high-water mark, plus the reply that crossed it.
    assert transport.peak < transport.high_water + len(BIG) * 2 + FLUSH_AT
    assert transport.value().count(b"+OK") <= 3


def test_retr_flood_is_answered_in_full_as_the_client_reads():
    """Reading resumes the pipeline: every RETR gets its letter, in order, none lost."""
    protocol, transport, _ = pop3_session()
    protocol.data_received(b"RETR 1\r\n" * 40 + b"NOOP\r\n")
    received = bytearray()
    for _ in range(1000):
        received += transport.drain()
        if not transport.io and not transport.writing_paused:
            break
    assert received.count(b"+OK 65600 octets\r\n") == 40
    assert received.endswith(b"+OK\r\n")
    assert not transport.reading_paused


def test_smtp_noop_flood_pauses_reading():
    """SMTP: 20,000 pipelined NOOPs to a non-reader stop at the mark and pause reading."""
    protocol, transport, _ = smtp_session()
    protocol.data_received(b"NOOP\r\n" * 20000)
    assert transport.writing_paused
    assert transport.reading_paused
    assert transport.peak < transport.high_water + FLUSH_AT + 1024
    replies = 0
    for _ in range(1000):
        replies += transport.drain().count(b"250 ")
        if not transport.io and not transport.writing_paused:
            break
    assert replies == 20000
    assert not transport.reading_paused


def test_unread_replies_abort_at_the_idle_timeout():
    """A client that neither reads nor sends is cut off at the idle timeout, not kept forever."""
    protocol, transport, clock = pop3_session()
    protocol.data_received(b"RETR 1\r\n" * 10)
    assert transport.writing_paused
    clock.advance(POP3_SETTINGS.idle_timeout + 1)
    assert transport.aborted


def test_pause_writing_then_resume_writing_runs_the_rest():
    """pause_writing holds the commands already received; resume_writing answers them."""
    protocol, transport, _ = smtp_session()
    protocol.pause_writing()
    assert transport.reading_paused
    protocol.data_received(b"NOOP\r\nNOOP\r\n")
    assert transport.value() == b""
    protocol.resume_writing()
    assert transport.value().count(b"250 ") == 2
    assert not transport.reading_paused


def _flood(make: Any, commands: bytes, splits: list[int], repeat: int) -> None:
    protocol, transport, _ = make()
    data = commands * repeat
    pos = 0
    cuts = iter(splits)
    # A never-reading peer: bytes arrive only while the server reads.
    while pos < len(data) and not transport.reading_paused and not transport.disconnecting:
        size = min(next(cuts, READ), READ)
        protocol.data_received(data[pos : pos + size])
        pos += size
        buffered_input = protocol.codec.buffered
        assert buffered_input <= protocol.settings.max_buffered + READ
        assert transport.get_write_buffer_size() < transport.high_water + 2 * len(BIG) + FLUSH_AT


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from([b"RETR 1\r\n", b"NOOP\r\nRETR 1\n", b"STAT\r\n", b"LIST\r\n", b"TOP 1 5\r\n"]),
    st.lists(st.integers(1, READ), max_size=50),
    st.integers(1, 2000),
)
def test_pop3_pipelining_stays_bounded(commands, splits, repeat):
    """POP3: however a flood is split and however long it is, the server's buffers stay bounded."""
    _flood(pop3_session, commands, splits, repeat)


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from([b"NOOP\r\n", b"HELP\r\n", b"RSET\r\nNOOP\n", b"VRFY alice\r\n"]),
    st.lists(st.integers(1, READ), max_size=50),
    st.integers(1, 20000),
)
def test_smtp_pipelining_stays_bounded(commands, splits, repeat):
    """SMTP: however a flood is split and however long it is, the server's buffers stay bounded."""
    _flood(smtp_session, commands, splits, repeat)
