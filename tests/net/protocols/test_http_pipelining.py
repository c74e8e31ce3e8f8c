"""Property: HTTP pipelining from a peer that never reads keeps the server bounded.

A client may send any number of pipelined requests in any split and never
read a byte of the answers. The channel must stop writing when the
transport's buffer passes its high-water mark, stop reading while its
answers are not drained, and so hold at most a bounded amount: what is
written stays under the high-water mark plus one response, requests
waiting for an answer stay under ``max_pipeline``, and unparsed input
stays under what arrived in the last read.
"""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from reality.net.defer import Deferred
from reality.net.protocols.http import HTTPFactory, Request, Response
from reality.net.testing import Clock, StringTransportWithDisconnection

HIGH_WATER = 8192
MAX_PIPELINE = 8


class NeverReadPeer(StringTransportWithDisconnection):
    """A transport whose peer never reads: past the high-water mark the protocol is
    paused for good, as a real transport's would be."""

    def __init__(self) -> None:
        super().__init__()
        self.write_paused = False

    def write(self, data: bytes) -> None:
        super().write(data)
        if not self.write_paused and len(self.value()) > HIGH_WATER:
            self.write_paused = True
            self.protocol.pause_writing()


@settings(max_examples=60, deadline=None)
@given(
    count=st.integers(1, 300),
    size=st.integers(1, 20000),
    splits=st.lists(st.integers(1, 3000), min_size=1, max_size=50),
    later=st.booleans(),
)
def test_a_never_reading_peer_cannot_make_the_channel_buffer_without_bound(
    count, size, splits, later
):
    """Whatever the number of requests, response size, read sizes and whether answers
    come at once or later (Deferreds): once the peer's buffer is full the channel stops
    reading, and output, pending requests and unparsed input all stay bounded."""
    clock = Clock()
    pending: list[Deferred] = []

    def handler(request: Request):
        response = Response(200, body=b"x" * size)
        if not later:
            return response
        d: Deferred = Deferred()
        pending.append(d)
        clock.call_later(0.01, d.callback, response)
        return d

    factory = HTTPFactory(handler, clock, max_pipeline=MAX_PIPELINE, date_source=lambda: 0)
    transport = NeverReadPeer()
    channel = factory.build_protocol(transport.get_peer())
    transport.protocol = channel
    channel.make_connection(transport)

    data = b"GET /p HTTP/1.1\r\nHost: x\r\n\r\n" * count
    pos = 0
    largest_read = 0
    turn = 0
    while pos < len(data) and turn < 10000:
        turn += 1
        clock.advance(0.01)
        if transport.reading_paused or transport.disconnecting:
            continue  # a paused transport delivers nothing
        step = splits[turn % len(splits)]
        chunk = data[pos:pos + step]
        largest_read = max(largest_read, len(chunk))
        pos += len(chunk)
        channel.data_received(chunk)
        assert len(channel._queue) <= MAX_PIPELINE
        assert channel._parser.buffered <= largest_read + len(data[:step]) + 64
        assert len(transport.value()) <= HIGH_WATER + size + 512
    for _ in range(200):  # let late answers (and the requests they unblock) finish
        clock.advance(0.01)

    written = len(transport.value())
    assert written <= HIGH_WATER + size + 512
    if transport.write_paused:
        # The peer is not reading: neither are we, and input is left unread.
        assert transport.reading_paused
        if written < 30 * count:  # not every answer fitted before the pause
            assert pos < len(data) or channel._queue or channel._parser.buffered
    else:
        # Everything fitted below the mark: every request was answered.
        assert written >= count * size
    assert len(channel._queue) <= MAX_PIPELINE
