"""HTTPFactory (reality.net.protocols.http.server): the connection limit and what it
hands its channels, over a StringTransport with a fake Clock."""

from __future__ import annotations

from http_harness import GET, Harness, get, hello

from reality.net.protocols.http import HTTPLimits

# -- the factory's connection limit -------------------------------------------------


def test_connections_over_the_limit_get_503_and_close():
    """Over max_connections, a new connection is answered 503 with Retry-After, then closed."""
    h = Harness(hello, max_connections=1)
    assert h.factory.open_connections == 1
    transport, refusal = h.connect()
    refusal.data_received(GET)
    out = transport.take()
    assert out.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
    assert b"Retry-After: 5\r\n" in out and b"Connection: close\r\n" in out
    assert transport.disconnecting
    assert h.factory.open_connections == 1


def test_refused_connection_is_answered_even_if_silent():
    """A refused client that sends nothing still gets its 503 after a second."""
    h = Harness(hello, max_connections=1)
    transport, _ = h.connect()
    h.clock.advance(1)
    assert transport.take().startswith(b"HTTP/1.1 503 ")


def test_closed_connections_free_their_place():
    """When a connection ends, the factory's count drops and a new one is served."""
    h = Harness(hello, max_connections=1)
    h.send(get("/", b"Connection: close\r\n"))
    assert h.factory.open_connections == 0
    transport, channel = h.connect()
    channel.data_received(GET)
    assert transport.take().startswith(b"HTTP/1.1 200 OK")


def test_smaller_limits_reach_the_channel():
    """HTTPFactory passes its limits to each channel's parser."""
    h = Harness(hello, limits=HTTPLimits(max_body=4))
    out = h.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 413 ")
