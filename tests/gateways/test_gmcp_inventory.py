"""GMCP Char.Items.List: what the player carries, for clients that complete item names."""

from __future__ import annotations

import json

import pytest
from test_telnet_gateway import Harness

from reality.gateways.gmcp import INVENTORY_ITEMS, inventory_list
from reality.net.protocols.telnet.options import DO, GMCP, IAC, SB, SE


def gmcp_messages(data: bytes) -> list[tuple[str, object]]:
    """Every GMCP message in what the server wrote, in order."""
    found = []
    start = bytes([IAC, SB, GMCP])
    pos = data.find(start)
    while pos != -1:
        end = data.index(bytes([IAC, SE]), pos)
        package, _, payload = data[pos + 3 : end].decode().partition(" ")
        found.append((package, json.loads(payload) if payload else None))
        pos = data.find(start, end)
    return found


def inventories(data: bytes) -> list[object]:
    return [body for package, body in gmcp_messages(data) if package == "Char.Items.List"]


@pytest.fixture
def harness():
    h = Harness()
    yield h
    h.store.close()


def gmcp_login(harness: Harness, name: str = "Alice"):
    session, transport = harness.connect()
    session.data_received(bytes([IAC, DO, GMCP]))
    transport.clear()
    session.data_received(f"create {name} secret\r\n".encode())
    return session, transport


def test_the_inventory_is_sent_at_login(harness):
    """After login a GMCP client gets Char.Items.List for the inventory (empty here)."""
    _, transport = gmcp_login(harness)
    assert inventories(transport.take()) == [{"location": "inv", "items": []}]


def test_a_command_that_changes_the_inventory_sends_it_again(harness):
    """get and drop each send the new list; a look, which changes nothing, sends none."""
    session, transport = gmcp_login(harness)
    transport.clear()
    session.data_received(b"get lamp\r\n")
    assert inventories(transport.take()) == [
        {"location": "inv", "items": [{"id": "lamp", "name": "brass lamp"}]}
    ]
    session.data_received(b"look\r\n")
    assert inventories(transport.take()) == []
    session.data_received(b"drop lamp\r\n")
    assert inventories(transport.take()) == [{"location": "inv", "items": []}]


def test_the_client_may_ask_for_the_inventory(harness):
    """Char.Items.Inv (the IRE request) is answered with Char.Items.List."""
    session, transport = gmcp_login(harness)
    transport.clear()
    session.data_received(bytes([IAC, SB, GMCP]) + b"Char.Items.Inv" + bytes([IAC, SE]))
    assert inventories(transport.take()) == [{"location": "inv", "items": []}]


def test_clients_without_gmcp_get_no_inventory(harness):
    """A plain telnet client is sent no GMCP at all."""
    session, transport = harness.login("Alice")
    session.data_received(b"get lamp\r\n")
    assert bytes([IAC, SB, GMCP]) not in transport.take()


def test_the_list_is_bounded():
    """A hoarder's list stops at INVENTORY_ITEMS."""

    class Thing:
        def __init__(self, n: int) -> None:
            self.id, self.name = f"i{n}", f"item {n}"

    class Hoarder:
        inventory = [Thing(n) for n in range(INVENTORY_ITEMS + 50)]

    assert len(inventory_list(Hoarder())["items"]) == INVENTORY_ITEMS
