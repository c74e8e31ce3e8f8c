"""GMCP as Mudlet and IRE games speak it: Core.Hello, Core.Supports, Room.Info for mappers,
Client.Map, Char.Status; stable room numbers; /map.xml as an MMP map file."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xmlschema
from test_gmcp_inventory import gmcp_messages as messages

from reality.game.loader import parse_world
from reality.game.store import Store
from reality.game.world import World
from reality.gateways.auth import Authenticator, ImmediateHasher
from reality.gateways.gmcp import MAX_CLIENT_NAME, MAX_SUPPORTS
from reality.gateways.mudmap import world_map
from reality.gateways.telnet import TelnetGateway, TelnetSession
from reality.gateways.web.site import WebSite
from reality.net.protocol import Address
from reality.net.protocols.http import Headers, Request
from reality.net.protocols.telnet.options import DO, GMCP, IAC, SB, SE
from reality.net.testing import Clock, StringTransportWithDisconnection

XSD = Path(__file__).with_name("mmp.xsd")

MAPLAND = """
name: Mapland
start: gate
daynight: {cycle: 400, start: day}
rooms:
  gate:
    name: The Gate
    area: The Town
    terrain: road
    outdoor: true
    exits: {north: hall, down: vault}
  hall:
    name: The Hall
    area: The Town
    exits: {south: gate, east: garden}
  garden: {name: The Garden, outdoor: true, exits: {west: hall}}
  vault: {name: The Vault, terrain: cave, exits: {up: gate}}
"""

#: Room.Info at the gate, as the client receives it (after the world's own keys,
#: the gateway's: coords, then the names here).
GATE_INFO = (
    b'Room.Info {"num":1,"id":"gate","name":"The Gate","area":"The Town",'
    b'"environment":"road","exits":{"north":2,"down":4},"coords":[0,0,0],'
    b'"players":[],"items":[],"npcs":[]}'
)


def frame(payload: bytes) -> bytes:
    return bytes([IAC, SB, GMCP]) + payload + bytes([IAC, SE])


def gmcp(package: str, data: object = None) -> bytes:
    body = package if data is None else f"{package} {json.dumps(data)}"
    return frame(body.encode())


class Harness:
    """Mapland, a telnet gateway, and fake connections to it."""

    def __init__(self, store: Store | None = None) -> None:
        self.clock = Clock()
        self.store = store or Store(":memory:")
        self.world = World(self.clock, self.store, admins=["Root"])
        self.world.load(parse_world(MAPLAND, "mapland.yaml"))
        self.auth = Authenticator(self.store, ImmediateHasher(), self.clock)
        self.gateway = TelnetGateway(self.world, self.auth, self.clock, output_window=0)

    def connect(self, *greeting: bytes) -> tuple[TelnetSession, StringTransportWithDisconnection]:
        """A GMCP client that sent ``greeting`` (Core.Hello, Core.Supports...) before logging in."""
        peer = Address("TCP", "192.0.2.7", 40000 + len(self.gateway.connections))
        session = self.gateway.build_protocol(peer)
        transport = StringTransportWithDisconnection(peer=peer)
        transport.protocol = session
        session.make_connection(transport)
        session.data_received(bytes([IAC, DO, GMCP]) + b"".join(greeting))
        transport.clear()
        return session, transport

    def feed(self, session: TelnetSession, data: bytes) -> None:
        """Bytes from the client, and the end of the reactor turn (output is written then)."""
        session.data_received(data)
        self.clock.advance(0)

    def login(self, *greeting: bytes, name: str = "Alice"):
        session, transport = self.connect(*greeting)
        session.data_received(f"create {name} secret\r\n".encode())
        self.clock.advance(0)
        assert session.state == "playing", transport.value()
        return session, transport


@pytest.fixture
def harness():
    h = Harness()
    yield h
    h.store.close()


# -- Core.Hello and Core.Supports ---------------------------------------------------------


def test_core_hello_is_kept_and_needs_no_answer(harness):
    """Core.Hello's client name and version are kept on the session; nothing is sent back."""
    hello = gmcp("Core.Hello", {"client": "Mudlet", "version": "4.17.2"})
    session, transport = harness.connect(hello)
    assert session.gmcp_client == ("Mudlet", "4.17.2")
    harness.feed(session, gmcp("Core.Hello", {"client": "x" * 500, "version": 7}))
    assert session.gmcp_client == ("x" * MAX_CLIENT_NAME, "7")
    assert messages(transport.value()) == []


def test_supports_set_sends_only_what_was_asked_for(harness):
    """A client that asked for Room alone gets Room.Info at login, byte for byte, only."""
    _, transport = harness.login(gmcp("Core.Supports.Set", ["Room 1"]))
    out = transport.value()
    assert frame(GATE_INFO) in out
    assert [package for package, _ in messages(out)] == ["Room.Info"]


def test_a_package_covers_its_sub_messages(harness):
    """Comm.Channel covers Comm.Channel.Text; Comm covers both; Core is always on."""
    session, _ = harness.connect(gmcp("Core.Supports.Set", ["Comm.Channel 1"]))
    assert session.gmcp_wants("Comm.Channel.Text") and session.gmcp_wants("Comm.Channel.List")
    assert not session.gmcp_wants("Comm") and not session.gmcp_wants("Room.Info")
    assert session.gmcp_wants("Core.Ping")
    harness.feed(session, gmcp("Core.Supports.Set", ["comm 1"]))  # names are not case-sensitive
    assert session.gmcp_wants("Comm.Channel.Text")


def test_supports_add_and_remove(harness):
    """Add starts sending a package (its state at once); Remove stops it."""
    session, transport = harness.login(gmcp("Core.Supports.Set", ["Room 1"]))
    transport.clear()
    harness.feed(session, gmcp("Core.Supports.Add", ["Char 1"]))
    assert [p for p, _ in messages(transport.take())] == ["Char.Items.List", "Char.Status"]
    harness.feed(session, gmcp("Core.Supports.Remove", ["Room"]))
    harness.feed(session, b"north\r\n")
    assert [p for p, _ in messages(transport.take())] == []
    harness.feed(session, gmcp("Core.Supports.Add", ["Room 1"]))
    assert [p for p, _ in messages(transport.take())] == ["Room.Info"]


def test_clients_that_never_send_supports_get_everything(harness):
    """Without Core.Supports a client gets every package, as before there were lists."""
    harness.world.web_url = "http://mud.example:8080"
    session, transport = harness.login()
    assert [p for p, _ in messages(transport.value())] == [
        "Char.Name", "Char.Status", "Room.Info", "Client.Verbs", "Char.Items.List", "Client.Map",
    ]
    assert session.gmcp_wants("Comm.Channel.Text")


def test_bad_gmcp_never_raises_and_keeps_little(harness):
    """Malformed JSON, wrong shapes, unknown packages and huge lists are passed over, bounded."""
    session, transport = harness.connect()
    harness.feed(session, frame(b"Core.Supports.Set [not json"))
    assert session.gmcp_supports is None
    for data in ({"Room": 1}, 42, "Room 1", [1, None, {}, "", " ", "Room x", "Bad!Name 1"]):
        harness.feed(session, gmcp("Core.Supports.Set", data))
    assert session.gmcp_supports in ({}, {"room": 1})
    harness.feed(session, gmcp("Core.Supports.Set", [f"P{i} 1" for i in range(600)]))
    assert len(session.gmcp_supports) == MAX_SUPPORTS
    harness.feed(session, gmcp("Core.Supports.Add", [f"M{i} 1" for i in range(600)]))
    assert len(session.gmcp_supports) == MAX_SUPPORTS
    # Past the codec's bound on a subnegotiation a message is dropped whole.
    harness.feed(session, gmcp("Core.Supports.Set", [f"Pkg{i} 1" for i in range(5000)]))
    assert len(session.gmcp_supports) == MAX_SUPPORTS and "pkg4999" not in session.gmcp_supports
    harness.feed(session, frame(b"Core.Hello " + b"[" * 100_000))
    harness.feed(session, gmcp("Core.Hello", ["Mudlet"]))
    harness.feed(session, gmcp("No.Such.Package", {"x": 1}))
    harness.feed(session, gmcp("Core.Supports.Remove", None))
    assert session.gmcp_client is None
    assert not transport.disconnecting
    harness.feed(session, b"create Alice secret\r\n")
    assert session.state == "playing"


# -- Room.Info, Client.Map, Char.Status -------------------------------------------------------


def test_room_info_carries_what_mappers_need(harness):
    """num, name, area, environment, coords and exits by number, from room to room."""
    session, transport = harness.login(gmcp("Core.Supports.Set", ["Room 1"]))
    transport.clear()
    harness.feed(session, b"north\r\n")
    assert frame(
        b'Room.Info {"num":2,"id":"hall","name":"The Hall","area":"The Town",'
        b'"environment":"indoor","exits":{"south":1,"east":3},"coords":[0,1,0],'
        b'"players":[],"items":[],"npcs":[]}'
    ) in transport.take()
    harness.feed(session, b"east\r\n")
    assert frame(
        b'Room.Info {"num":3,"id":"garden","name":"The Garden","area":"Mapland",'
        b'"environment":"outdoor","exits":{"west":2},"coords":[1,1,0],'
        b'"players":[],"items":[],"npcs":[]}'
    ) in transport.take()
    harness.feed(session, b"west\r\nsouth\r\ndown\r\n")
    info = [d for p, d in messages(transport.take()) if p == "Room.Info"][-1]
    assert (info["num"], info["environment"], info["coords"]) == (4, "cave", [0, 0, -1])


def test_client_map_after_login(harness):
    """Client.Map gives the absolute address of /map.xml on the website, byte for byte."""
    harness.world.web_url = "http://mud.example:8080"
    _, transport = harness.login(gmcp("Core.Supports.Set", ["Client 1"]))
    out = transport.value()
    assert frame(b'Client.Map {"url":"http://mud.example:8080/map.xml"}') in out


def test_no_client_map_without_a_website(harness):
    """Without a website there is no map file to point at."""
    _, transport = harness.login(gmcp("Core.Supports.Set", ["Client 1"]))
    assert "Client.Map" not in [p for p, _ in messages(transport.value())]


def test_char_status_on_login_and_when_the_time_of_day_changes(harness):
    """Char.Status: the name and the time of day at login, and again at dusk, night, dawn."""
    harness.world.start()
    try:
        session, transport = harness.login(gmcp("Core.Supports.Set", ["Char 1"]))
        assert frame(b'Char.Status {"name":"Alice","fullname":"Alice","time":"day"}') in (
            transport.take()
        )
        harness.clock.advance(100)  # a quarter of the day
        assert frame(b'Char.Status {"name":"Alice","fullname":"Alice","time":"dusk"}') in (
            transport.take()
        )
        harness.clock.advance(100)
        assert messages(transport.take()) == [
            ("Char.Status", {"name": "Alice", "fullname": "Alice", "time": "night"})
        ]
    finally:
        harness.world.stop()


def test_char_status_is_not_sent_to_who_did_not_ask(harness):
    """A client that asked for Room only hears nothing when the day turns."""
    harness.world.start()
    try:
        _, transport = harness.login(gmcp("Core.Supports.Set", ["Room 1"]))
        transport.clear()
        harness.clock.advance(100)
        assert messages(transport.take()) == []
    finally:
        harness.world.stop()


# -- room numbers ---------------------------------------------------------------------------


def test_room_numbers_are_stable_across_restarts_reloads_and_dig(tmp_path):
    """Numbers follow the file's order, survive a reopened store and a changed world file,
    @dig rooms get the next number, and no number is ever given twice."""
    db = str(tmp_path / "w.sqlite3")
    h = Harness(Store(db))
    world = h.world
    assert [world.room_number(r) for r in ("gate", "hall", "garden", "vault")] == [1, 2, 3, 4]
    world.store.create_account("Root", "scrypt$2$1$1$AA==$AA==", now=0.0)

    class Quiet:
        def attach(self, player): ...
        def show(self, text): ...
        def send_data(self, kind, data): ...
        def disconnect(self, message): ...

    root = world.connect("Root", Quiet())
    world.execute(root, "@dig west The Tower")
    tower = next(r for r in world.rooms.values() if r.name == "The Tower")
    assert world.room_number(tower) == 5
    world.save_all()
    h.store.close()

    again = Harness(Store(db))
    assert [again.world.room_number(r) for r in ("gate", "hall", "garden", "vault")] == [1, 2, 3, 4]
    assert again.world.room_number(tower.id) == 5
    # A new file: rooms in another order, one gone, one new.
    changed = MAPLAND.replace(
        "  vault: {name: The Vault, terrain: cave, exits: {up: gate}}",
        "  well: {name: The Well, exits: {up: gate}}",
    ).replace("down: vault", "down: well")
    again.world.load(parse_world(changed, "mapland.yaml"))
    assert again.world.room_number("hall") == 2
    assert again.world.room_number("well") == 6
    assert again.world.room_number("vault") == 4  # still its own, never another's
    again.store.close()


# -- /map.xml --------------------------------------------------------------------------------


def get(site: WebSite, path: str):
    request = Request(
        "GET", path, {}, Headers([("Host", "mud.example")]), b"", "1.1",
        Address("TCP", "192.0.2.9", 5555), path, path, "", "mud.example",
    )
    return site(request)


def test_map_xml_is_a_valid_mmp_file_that_matches_room_info(harness):
    """/map.xml validates against the MMP schema, is served as application/xml, and each
    room in it has Room.Info's number, name, area, environment, coordinates and exits."""
    site = WebSite(harness.world, harness.clock)
    response = get(site, "/map.xml")
    assert response.status == 200
    assert response.headers.get("Content-Type") == "application/xml"
    body = response.body
    xmlschema.XMLSchema(str(XSD)).validate(body.decode())
    root = ET.fromstring(body)
    areas = {a.get("id"): a.get("name") for a in root.iter("area")}
    environments = {e.get("id"): e.get("name") for e in root.iter("environment")}
    rooms = {int(r.get("id")): r for r in root.iter("room")}
    assert sorted(areas.values()) == ["Mapland", "The Town"]
    assert len(rooms) == 4
    session, transport = harness.login(gmcp("Core.Supports.Set", ["Room 1"]))
    for step in (b"", b"north\r\n", b"east\r\n", b"west\r\n", b"south\r\n", b"down\r\n"):
        harness.feed(session, step)
    walked = [d for p, d in messages(transport.value()) if p == "Room.Info"]
    assert len({info["num"] for info in walked}) == 4
    for info in walked:
        room = rooms[info["num"]]
        coord = room.find("coord")
        assert room.get("title") == info["name"]
        assert areas[room.get("area")] == info["area"]
        assert environments[room.get("environment")] == info["environment"]
        assert [int(coord.get(k)) for k in "xyz"] == info["coords"]
        assert {e.get("direction"): int(e.get("target")) for e in room.iter("exit")} == (
            info["exits"]
        )


def test_map_xml_follows_a_dig(harness):
    """A room dug at run time is in the next /map.xml, under its number."""
    site = WebSite(harness.world, harness.clock)
    get(site, "/map.xml")
    session, _ = harness.login(name="Root")
    harness.feed(session, b"@dig east The Shed\r\n")
    body = get(site, "/map.xml").body
    titles = {r.get("title"): int(r.get("id")) for r in ET.fromstring(body).iter("room")}
    assert titles["The Shed"] == 5
    assert world_map(harness.world).coords(
        next(r.id for r in harness.world.rooms.values() if r.name == "The Shed")
    ) == [1, 0, 0]
