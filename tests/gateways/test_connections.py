"""Connections: the per-address count and limit, and closing everything at shutdown."""

from __future__ import annotations

from reality.gateways.connections import Connections


def test_an_address_is_full_at_the_limit_until_one_of_its_connections_goes():
    """full() is true at max_per_address connections from a host, false again after discard."""
    connections = Connections(max_per_address=2)
    a, b, c = object(), object(), object()
    connections.add(a, "192.0.2.1")
    assert not connections.full("192.0.2.1")
    connections.add(b, "192.0.2.1")
    assert connections.full("192.0.2.1")
    assert not connections.full("192.0.2.2")
    connections.add(c, "192.0.2.2")
    connections.discard(a)
    connections.discard(a)  # twice: harmless
    assert not connections.full("192.0.2.1")
    assert len(connections) == 2 and list(connections) == [b, c]


def test_no_limit_when_zero():
    """max_per_address 0 never refuses."""
    connections = Connections(max_per_address=0)
    for _ in range(100):
        connections.add(object(), "192.0.2.1")
    assert not connections.full("192.0.2.1")


def test_close_all_reaches_every_connection_even_when_one_fails():
    """A close that raises is logged; the others are still closed."""
    connections = Connections()
    closed = []

    def close(connection: str) -> None:
        closed.append(connection)
        connections.discard(connection)  # as connection_lost would, during the loop
        if connection == "b":
            raise RuntimeError("boom")

    for name in "abc":
        connections.add(name, "192.0.2.1")
    connections.close_all(close)
    assert closed == ["a", "b", "c"]
    assert not connections


def test_each_service_is_limited_on_its_own_and_before_the_address():
    """refusal() says "to this service" at max_connections on that service (whatever the
    address), "from your address" at max_per_address, None otherwise; 0 means no limit."""
    from reality.gateways.connections import TOO_MANY_FROM_ADDRESS, TOO_MANY_ON_SERVICE

    connections = Connections(max_per_address=2, max_connections=3)
    for i, host in enumerate(["192.0.2.1", "192.0.2.1", "192.0.2.2"]):
        connections.add(("smtp", i), host, "smtp")
    assert connections.refusal("192.0.2.9", "smtp") == TOO_MANY_ON_SERVICE
    assert connections.refusal("192.0.2.9", "pop3") is None
    assert connections.refusal("192.0.2.1", "pop3") == TOO_MANY_FROM_ADDRESS
    assert connections.open_on("smtp") == 3 and connections.open_on("pop3") == 0
    connections.discard(("smtp", 2))
    assert connections.refusal("192.0.2.9", "smtp") is None
    unlimited = Connections()
    for i in range(20000):
        unlimited.add(i, "192.0.2.1")
    assert unlimited.refusal("192.0.2.1") is None
