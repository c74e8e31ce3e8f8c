"""The MUD client's connection against the real telnet gateway, over StringTransports.

Both ends are the project's own: the server side is the gateway's
TelnetSession on a fake Clock, the client side is MudClientProtocol; bytes
are pumped between them by hand, so every negotiation really happens.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reality.client.connection import (
    CLIENT_NAME,
    MudClientProtocol,
    client_config,
    mtts_flags,
)
from reality.game.loader import load_world
from reality.game.store import Store
from reality.game.world import World
from reality.gateways.auth import Authenticator, ImmediateHasher
from reality.gateways.gmcp import ROOM_INFO_NAMES
from reality.gateways.telnet import TelnetGateway
from reality.net.defer import Failure
from reality.net.error import ConnectionDone, ConnectionLost
from reality.net.protocol import Address
from reality.net.protocols.telnet import Mtts
from reality.net.protocols.telnet.options import (
    CHARSET,
    ECHO,
    GA,
    GMCP,
    IAC,
    MCCP2,
    NAWS,
    TTYPE,
)
from reality.net.testing import Clock, StringTransportWithDisconnection

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "world" / "tiny.yaml"


class Recorder:
    """A ClientListener that writes down everything it is told."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.protocol: MudClientProtocol | None = None

    def connected(self, protocol: MudClientProtocol) -> None:
        self.protocol = protocol
        self.calls.append(("connected",))

    def line_received(self, text: str) -> None:
        self.calls.append(("line", text))

    def partial_received(self, text: str) -> None:
        self.calls.append(("partial", text))

    def prompt_received(self, text: str) -> None:
        self.calls.append(("prompt", text))

    def gmcp_received(self, package: str, data: Any) -> None:
        self.calls.append(("gmcp", package, data))

    def masked_changed(self, masked: bool) -> None:
        self.calls.append(("masked", masked))

    def disconnected(self, message: str, clean: bool) -> None:
        self.calls.append(("disconnected", message, clean))

    def lines(self) -> list[str]:
        return [c[1] for c in self.calls if c[0] == "line"]

    def gmcp(self, package: str) -> list[Any]:
        return [c[2] for c in self.calls if c[0] == "gmcp" and c[1] == package]

    def take(self) -> list[tuple[Any, ...]]:
        calls, self.calls = self.calls, []
        return calls


class Pair:
    """The gateway and one client, connected by StringTransports on one Clock."""

    def __init__(self, gateway: TelnetGateway, clock: Clock, **config: Any) -> None:
        self.clock = clock
        self.listener = Recorder()
        peer = Address("TCP", "127.0.0.1", 50000 + len(gateway.connections))
        self.server = gateway.build_protocol(peer)
        self.client = MudClientProtocol(self.listener, client_config(**config), clock)
        self.st = StringTransportWithDisconnection(peer=peer)
        self.ct = StringTransportWithDisconnection(peer=Address("TCP", "127.0.0.1", 4000))
        self.st.protocol = self.server
        self.ct.protocol = self.client
        self.server.make_connection(self.st)
        self.client.make_connection(self.ct)
        self.pump()

    def pump(self) -> None:
        """Move bytes both ways until both ends are quiet (the gateway may write per turn)."""
        for _ in range(100):
            self.clock.advance(0)
            to_client, to_server = self.st.take(), self.ct.take()
            if not to_client and not to_server:
                return
            if to_client:
                self.client.data_received(to_client)
            if to_server:
                self.server.data_received(to_server)
        raise AssertionError("the two ends never went quiet")

    def type(self, line: str) -> None:
        self.client.send_line(line)
        self.pump()


@pytest.fixture
def gateway_and_clock():
    clock = Clock()
    store = Store(":memory:")
    world = World(clock, store, admins=["Root"])
    world.load(load_world(TINY))
    auth = Authenticator(store, ImmediateHasher(), clock)
    gateway = TelnetGateway(world, auth, clock)
    yield gateway, clock
    store.close()


def test_client_negotiates_ttype_mtts_naws_charset_gmcp_mccp2(gateway_and_clock):
    """The server learns our name, terminal, real MTTS flags, window size; GMCP and MCCP2 agreed."""
    gateway, clock = gateway_and_clock
    pair = Pair(gateway, clock, terminal="xterm-256color", color_depth_bits=8,
                window_size=(132, 40))
    server = pair.server
    assert server.client_name == CLIENT_NAME
    terminal = server.codec.terminal_type
    assert terminal.terminal == "XTERM-256COLOR"
    assert terminal.mtts == Mtts.ANSI | Mtts.VT100 | Mtts.UTF8 | Mtts.COLORS_256
    assert (server.width, server.height) == (132, 40)
    codec = pair.client.codec
    assert codec.local_enabled(TTYPE) and codec.local_enabled(NAWS)
    assert codec.local_enabled(CHARSET)
    assert codec.remote_enabled(GMCP) and codec.remote_enabled(MCCP2)
    assert codec.decompressing, "the server's output should arrive through MCCP2"
    assert "Tiny Test World" in "\n".join(pair.listener.lines())


def test_resize_sends_naws_again(gateway_and_clock):
    """A resize reaches the server as a new NAWS report; the same size is not resent."""
    gateway, clock = gateway_and_clock
    pair = Pair(gateway, clock)
    pair.client.resize(100, 30)
    pair.pump()
    assert (pair.server.width, pair.server.height) == (100, 30)
    pair.client.resize(100, 30)
    assert pair.ct.value() == b""


def test_prompt_goes_to_the_listener_and_partial_text_is_assembled(gateway_and_clock):
    """The banner ends in the server's prompt (EOR); text split across reads makes one line."""
    gateway, clock = gateway_and_clock
    pair = Pair(gateway, clock)
    assert ("prompt", "> ") in pair.listener.calls
    # A bare client (no MCCP2 agreed) to feed by hand.
    client, listener = bare_client()
    client.data_received(b"Hello, ")
    client.data_received(b"world\r\nand a prompt: ")
    client.data_received(bytes([IAC, GA]))
    assert listener.take() == [
        ("partial", "Hello, "),
        ("line", "Hello, world"),
        ("partial", "and a prompt: "),
        ("prompt", "and a prompt: "),
    ]


def test_password_masked_while_server_echo_is_on(gateway_and_clock):
    """The server's WILL ECHO for a password masks input; WONT ECHO after it unmasks."""
    gateway, clock = gateway_and_clock
    Pair(gateway, clock).type("create Alice secret")
    pair = Pair(gateway, clock)
    pair.listener.take()
    pair.type("Alice")
    assert pair.client.masked
    assert ("masked", True) in pair.listener.calls
    assert pair.client.codec.remote_enabled(ECHO)
    pair.type("secret")
    assert not pair.client.masked
    assert ("masked", False) in pair.listener.calls
    assert any("The Hall" in line for line in pair.listener.lines())


def test_room_info_names_players_items_npcs_and_verbs_follow_login(gateway_and_clock):
    """Room.Info lists who and what is here (not ourselves); Client.Verbs lists verbs."""
    gateway, clock = gateway_and_clock
    bob = Pair(gateway, clock)
    bob.type("create Bob secret")
    alice = Pair(gateway, clock)
    alice.type("create Alice secret")
    info = alice.listener.gmcp("Room.Info")[-1]
    assert info["name"] == "The Hall"
    assert info["exits"] == {"north": gateway.world.room_number("library")}
    assert info["players"] == ["Bob"]
    assert info["items"] == ["brass lamp"]
    assert info["npcs"] == ["grey cat"]
    verbs = alice.listener.gmcp("Client.Verbs")[-1]["verbs"]
    assert {"look", "say", "go", "get"} <= set(verbs)
    assert "shutdown" not in verbs and "@shutdown" not in verbs, "admin verbs are for admins"
    assert verbs == sorted(verbs)
    core = [c for c in alice.listener.calls if c[0] == "gmcp" and c[1].startswith("Core")]
    assert core == [], "the server does not echo Core.* back"


def test_room_info_is_resent_after_a_command_only_when_the_room_changed(gateway_and_clock):
    """Bob's arrival shows in Alice's Room.Info after her next command; no change, none sent."""
    gateway, clock = gateway_and_clock
    alice = Pair(gateway, clock)
    alice.type("create Alice secret")
    alice.listener.take()
    alice.type("look")
    assert alice.listener.gmcp("Room.Info") == [], "nothing changed: nothing resent"
    bob = Pair(gateway, clock)
    bob.type("create Bob secret")
    alice.pump()
    alice.listener.take()
    alice.type("look")
    assert alice.listener.gmcp("Room.Info")[-1]["players"] == ["Bob"]
    alice.type("get lamp")
    assert alice.listener.gmcp("Room.Info")[-1]["items"] == []


def test_room_info_names_are_bounded(gateway_and_clock):
    """A crowded room lists at most ROOM_INFO_NAMES players."""
    gateway, clock = gateway_and_clock
    world = gateway.world
    hall = world.rooms["hall"]

    class Ghost:
        session = None

        def __init__(self, n: int) -> None:
            self.name = f"Ghost{n}"

    hall.players.extend(Ghost(n) for n in range(ROOM_INFO_NAMES + 20))
    alice = Pair(gateway, clock)
    alice.type("create Alice secret")
    info = alice.listener.gmcp("Room.Info")[-1]
    assert len(info["players"]) == ROOM_INFO_NAMES


def bare_client() -> tuple[MudClientProtocol, Recorder]:
    """A client on a StringTransport with nothing negotiated yet."""
    listener = Recorder()
    client = MudClientProtocol(listener, client_config(), Clock())
    transport = StringTransportWithDisconnection(peer=Address("TCP", "127.0.0.1", 4000))
    transport.protocol = client
    client.make_connection(transport)
    listener.take()
    return client, listener


def test_disconnect_reports_clean_or_lost_and_flushes_partial_text():
    """A clean close and a lost connection are told apart; unterminated text is kept."""
    for reason, clean in ((ConnectionDone("closed"), True), (ConnectionLost("reset"), False)):
        client, listener = bare_client()
        client.data_received(b"Goodbye")
        client.connection_lost(Failure(reason))
        calls = listener.take()
        assert calls[-2] == ("line", "Goodbye")
        assert calls[-1][0] == "disconnected" and calls[-1][2] is clean


def test_mtts_flags_follow_the_terminal():
    """MTTS reports the colour depth and UTF-8 the terminal really has."""
    assert mtts_flags(1, False, "dumb") == 0
    assert mtts_flags(1, True) == Mtts.VT100 | Mtts.UTF8
    assert mtts_flags(4, True) == Mtts.VT100 | Mtts.UTF8 | Mtts.ANSI
    assert mtts_flags(24, True) == (
        Mtts.VT100 | Mtts.UTF8 | Mtts.ANSI | Mtts.COLORS_256 | Mtts.TRUECOLOR
    )
