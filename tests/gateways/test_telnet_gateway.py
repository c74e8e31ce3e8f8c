"""The telnet gateway driven with StringTransports and a fake Clock: no sockets, no sleeps."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from reality.game.loader import load_world
from reality.game.store import Store
from reality.game.world import World
from reality.gateways.auth import Authenticator, ImmediateHasher
from reality.gateways.telnet import TelnetGateway, TelnetSession
from reality.gateways.telnet.gateway import OUTPUT_WINDOW
from reality.net.protocol import Address
from reality.net.protocols.telnet.options import (
    DO,
    ECHO,
    GMCP,
    IAC,
    NAWS,
    SB,
    SE,
    TTYPE,
    WILL,
)
from reality.net.testing import Clock, StringTransportWithDisconnection

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "world" / "tiny.yaml"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


class TurnTransport(StringTransportWithDisconnection):
    """A StringTransport that ends the reactor turn and the output window before it is read.

    The gateway writes a session's replies once per turn (call_soon) and
    what it hears from others at the end of the output window; with a fake
    Clock, both end when the test advances it.
    """

    def __init__(self, clock: Clock, **kw: object) -> None:
        super().__init__(**kw)
        self.clock = clock

    def value(self) -> bytes:
        self.clock.advance(OUTPUT_WINDOW)
        return super().value()

    def take(self) -> bytes:
        self.clock.advance(OUTPUT_WINDOW)
        return super().take()

    def clear(self) -> None:
        self.clock.advance(OUTPUT_WINDOW)
        super().clear()


class Harness:
    """A world, a gateway and a way to open fake connections to it."""

    def __init__(self, **gateway_options: object) -> None:
        self.clock = Clock()
        self.store = Store(":memory:")
        self.world = World(self.clock, self.store, admins=["Root"])
        self.world.load(load_world(TINY))
        self.auth = Authenticator(self.store, ImmediateHasher(), self.clock)
        # These fake clients answer no negotiation: greet them at once unless
        # a test is about the banner's wait for TTYPE.
        gateway_options.setdefault("banner_wait", 0)
        self.gateway = TelnetGateway(self.world, self.auth, self.clock, **gateway_options)

    def connect(
        self, host: str = "192.0.2.10"
    ) -> tuple[TelnetSession, StringTransportWithDisconnection]:
        peer = Address("TCP", host, 40000 + len(self.gateway.connections))
        protocol = self.gateway.build_protocol(peer)
        transport = TurnTransport(self.clock, peer=peer)
        transport.protocol = protocol
        protocol.make_connection(transport)
        return protocol, transport

    def login(self, name: str, password: str = "secret", **kw: object):
        session, transport = self.connect(**kw)
        session.data_received(f"create {name} {password}\r\n".encode())
        assert session.state == "playing", transport.value()
        transport.clear()
        return session, transport


def text(transport: StringTransportWithDisconnection) -> str:
    """What the client saw, as text without telnet commands or colour."""
    data = transport.take()
    data = re.sub(rb"\xff[\xfb-\xfe].", b"", data)
    data = re.sub(rb"\xff\xfa.*?\xff\xf0", b"", data, flags=re.S)
    data = re.sub(rb"\xff[\xf0-\xf9]", b"", data)
    return ANSI.sub("", data.decode("utf-8", "replace"))


@pytest.fixture
def harness():
    h = Harness()
    yield h
    h.store.close()


def test_banner_and_login_instructions():
    """A new connection sees the world's name, its welcome, and how to log in.

    A client that answers no negotiation (this fake one) is greeted when the
    banner's wait for its TTYPE ends.
    """
    harness = Harness(banner_wait=1.0)
    _, transport = harness.connect()
    assert "Tiny Test World" not in text(transport)
    harness.clock.advance(harness.gateway.banner_wait)
    seen = text(transport)
    assert "Tiny Test World" in seen
    assert "Welcome to the Tiny Test World." in seen
    assert "create <name> <password>" in seen and "connect <name> <password>" in seen
    harness.store.close()


def test_create_shows_the_start_room_and_a_prompt(harness):
    """create logs in, shows the start room and ends with a prompt."""
    session, transport = harness.connect()
    transport.clear()
    session.data_received(b"create Alice secret\r\n")
    seen = text(transport)
    assert "The Hall" in seen and "A long hall." in seen
    assert seen.endswith("> ")
    assert harness.store.get_account("alice") is not None


def test_two_players_see_each_other_speak_from_their_own_point_of_view(harness):
    """Alice's say reads 'You say' to her and 'Alice says' to Bob, text verbatim."""
    alice, a = harness.login("Alice")
    bob, b = harness.login("Bob")
    assert "Bob has entered the game." in text(a)
    alice.data_received(b"say Hello, *world*!\r\n")
    assert 'You say, "Hello, *world*!"' in text(a)
    assert 'Alice says, "Hello, *world*!"' in text(b)
    bob.data_received(b":waves.\r\n")
    assert "Bob waves." in text(a)


def test_movement_is_seen_by_both_rooms(harness):
    """Leaving and arriving are announced to the rooms on both sides."""
    alice, a = harness.login("Alice")
    bob, b = harness.login("Bob")
    text(a)
    bob.data_received(b"n\r\n")
    assert "The Library" in text(b)
    assert "Bob" in text(a)
    alice.data_received(b"north\r\n")
    arrival = text(b)
    assert "Alice" in arrival


def test_npc_wanders_on_clock_ticks(harness):
    """The cat wanders on reactor time: advancing the Clock makes it move, no sleeping."""
    alice, a = harness.login("Alice")
    text(a)
    harness.world.start()
    for _ in range(20):
        harness.clock.advance(1)
    seen = text(a)
    assert "cat" in seen
    harness.world.stop()


def test_interactive_login_turns_echo_off_for_the_password(harness):
    """A bare name asks for the password with IAC WILL ECHO, and turns echo back on after."""
    harness.login("Alice", "secret")
    session, transport = harness.connect()
    transport.clear()
    session.data_received(b"Alice\r\n")
    out = transport.take()
    assert bytes([IAC, WILL, ECHO]) in out
    assert b"Password: " in out
    session.data_received(bytes([IAC, DO, ECHO]))
    session.data_received(b"secret\r\n")
    out = transport.take()
    assert bytes([IAC, 252, ECHO]) in out  # WONT ECHO: the client echoes again
    assert session.state == "playing"


def test_new_name_interactive_flow_creates_an_account(harness):
    """A new name is confirmed, asked for a password twice and then created."""
    session, transport = harness.connect()
    session.data_received(b"Newbie\r\n")
    assert "Create a new character named Newbie? (y/n)" in text(transport)
    session.data_received(b"y\r\n")
    assert "Choose a password" in text(transport)
    session.data_received(b"pass1234\r\n")
    assert "Repeat the password" in text(transport)
    session.data_received(b"pass1234\r\n")
    assert session.state == "playing"
    assert harness.store.get_account("newbie") is not None


def test_wrong_password_is_a_generic_refusal_and_throttles(harness):
    """Wrong passwords get a generic answer; the sixth try from the address is throttled."""
    harness.login("Alice", "secret")
    session, transport = harness.connect(host="198.51.100.5")
    for _ in range(5):
        session.data_received(b"connect Alice wrong\r\n")
        assert "The name or the password is wrong." in text(transport)
    session.data_received(b"connect Alice secret\r\n")
    assert "Too many failed logins" in text(transport)
    assert session.state == "login"


def test_lines_typed_during_login_run_afterwards_in_order(harness):
    """Lines that arrive while the password is checked run after login, in order."""
    pending = []

    class SlowHasher(ImmediateHasher):
        def verify(self, password, stored):
            from reality.net.defer import Deferred

            d = Deferred()
            pending.append((d, super().verify(password, stored)))
            return d

    harness.login("Alice")
    harness.auth.hasher = SlowHasher()
    session, transport = harness.connect()
    session.data_received(b"connect Alice secret\r\nsay one\r\nsay two\r\n")
    assert session.state == "waiting"
    d, result = pending.pop()
    result.add_callback(d.callback)
    seen = text(transport)
    assert seen.index('You say, "one"') < seen.index('You say, "two"')


def test_colour_follows_the_terminal_type(harness):
    """A client reporting an xterm gets ANSI colour; a bare client gets plain text."""
    session, transport = harness.connect()
    session.data_received(bytes([IAC, WILL, TTYPE]))
    for name in (b"XTERM-256COLOR", b"XTERM-256COLOR"):
        session.data_received(bytes([IAC, SB, TTYPE, 0]) + name + bytes([IAC, SE]))
    assert session.capability != "plain"
    session.data_received(b"create Alice secret\r\n")
    assert b"\x1b[" in transport.take()
    plain, p = harness.login("Bob")
    plain.data_received(b"look\r\n")
    assert b"\x1b[" not in p.take()


def test_output_is_wrapped_to_the_window_width(harness):
    """After NAWS says 30 columns, no line of output is longer than 30 characters."""
    session, transport = harness.login("Alice")
    session.data_received(bytes([IAC, WILL, NAWS]))
    session.data_received(bytes([IAC, SB, NAWS, 0, 30, 0, 24, IAC, SE]))
    session.data_received(b"say " + b"word " * 40 + b"\r\n")
    lines = text(transport).split("\r\n")
    assert max(len(line) for line in lines) <= 30


def test_gmcp_room_info_on_login_and_move(harness):
    """A GMCP client gets Char.Name and Room.Info at login and Room.Info on each move."""
    session, transport = harness.connect()
    session.data_received(bytes([IAC, DO, GMCP]))
    transport.clear()
    session.data_received(b"create Alice secret\r\n")
    out = transport.take()
    assert b"Char.Name" in out and b"Room.Info" in out
    session.data_received(b"n\r\n")
    out = transport.take()
    start = out.index(b"Room.Info ") + len(b"Room.Info ")
    payload = json.loads(out[start: out.index(bytes([IAC, SE]), start)])
    assert payload["name"] == "The Library"
    assert payload["id"] == "library"
    assert payload["exits"] == {"south": harness.world.room_number("hall")}


def test_connection_limit_per_address(harness):
    """Past max_per_address, a connection is told why and closed; others are unaffected."""
    h = Harness(max_per_address=2)
    h.connect(host="203.0.113.1")
    h.connect(host="203.0.113.1")
    session, transport = h.connect(host="203.0.113.1")
    assert b"Too many connections" in transport.value()
    assert transport.disconnecting
    _, other = h.connect(host="203.0.113.2")
    assert not other.disconnecting
    h.store.close()


def test_idle_connections_are_closed():
    """A player idle past the idle timeout is told and disconnected; activity resets it."""
    h = Harness(idle_timeout=600, login_timeout=60)
    session, transport = h.login("Alice")
    h.clock.advance(500)
    session.data_received(b"look\r\n")
    h.clock.advance(500)
    assert not transport.disconnecting
    h.clock.advance(101)
    assert "idle" in text(transport)
    assert transport.disconnecting
    assert "alice" not in h.world.online
    lurker, lt = h.connect()
    h.clock.advance(61)
    assert lt.disconnecting
    h.store.close()


def test_logging_in_twice_takes_the_session_over(harness):
    """A second login to the same account takes over; the old connection is told and closed."""
    first, t1 = harness.login("Alice")
    second, t2 = harness.connect()
    second.data_received(b"connect Alice secret\r\n")
    assert "taken over" in text(t1)
    assert t1.disconnecting
    assert "take over" in text(t2)
    second.data_received(b"look\r\n")
    assert "The Hall" in text(t2)


def test_lost_connection_logs_the_player_out(harness):
    """When a connection drops, the player leaves the world and others are told."""
    alice, a = harness.login("Alice")
    bob, b = harness.login("Bob")
    text(a)
    b.lose_connection()
    assert "Bob has left the game." in text(a)
    assert "bob" not in harness.world.online


def test_garbage_bytes_never_break_the_session(harness):
    """Random binary input, overlong lines and invalid UTF-8 leave the session usable."""
    session, transport = harness.login("Alice")
    session.data_received(bytes(range(256)) * 4)
    session.data_received(b"x" * 10000 + b"\r\n")
    session.data_received(b"say caf\xe9 \xff\xff ok\r\n")
    transport.clear()
    session.data_received(b"\r\nlook\r\n")
    assert "The Hall" in text(transport)
    assert not transport.disconnecting


def test_quit_says_goodbye_and_closes(harness):
    """quit closes the connection and the player is saved where they stand."""
    alice, a = harness.login("Alice")
    alice.data_received(b"n\r\nquit\r\n")
    assert a.disconnecting
    assert harness.store.load_player("alice").room == "library"


def test_mssp_variables_describe_the_server(harness):
    """MSSP answers name the world, the player count and the uptime."""
    harness.login("Alice")
    variables = harness.gateway.mssp_variables()
    assert variables["NAME"] == "Tiny Test World"
    assert variables["PLAYERS"] == "1"
    assert int(variables["UPTIME"]) > 0


def test_output_of_one_turn_reaches_a_bystander_in_one_write(harness):
    """Several events for one session within a reactor turn are written with one write()."""
    alice, a = harness.login("Alice")
    bob, b = harness.login("Bob")
    a.take()
    writes: list[bytes] = []
    original = a.write
    a.write = lambda data: (writes.append(data), original(data))
    bob.data_received(b"say one\r\nsay two\r\nsay three\r\n")
    assert writes == []  # nothing yet: the turn has not ended
    seen = text(a)
    assert len(writes) == 1
    assert seen.index('"one"') < seen.index('"two"') < seen.index('"three"')


def test_one_event_is_rendered_once_per_kind_of_client(harness, monkeypatch):
    """Twenty bystanders with the same client cost one rendering of a say; long texts
    (help pages, letters) are rendered each time and never kept in the cache."""
    from reality.gateways.telnet import capabilities

    calls: list[str] = []
    real = capabilities.render

    def counting(text, *args):
        calls.append(text)
        return real(text, *args)

    monkeypatch.setattr(capabilities, "render", counting)
    capabilities._render_cached.cache_clear()
    speaker, _ = harness.login("Speaker")
    listeners = [harness.login("Bot" + "abcdefghijklmnopqrst"[i])[1] for i in range(20)]
    calls.clear()
    speaker.data_received(b"say a fine morning\r\n")
    for transport in listeners:
        assert 'Speaker says, "a fine morning"' in text(transport)
    assert sum('Speaker says, "a fine morning"' in c for c in calls) == 1
    long_text = "x " * 1500
    before = capabilities._render_cached.cache_info().currsize
    assert capabilities.render_bytes(long_text, "plain", 80) == capabilities.render_bytes(
        long_text, "plain", 80)
    assert capabilities._render_cached.cache_info().currsize == before


def test_admin_rights_come_from_the_database_flag_at_each_login():
    """The flag set by `reality admin` is read at login: granted, then taken away."""
    h = Harness()
    h.world.admins = frozenset()  # as in the running server: no list, only the flag
    session, _ = h.login("Alice")
    assert not session.player.admin
    h.store.set_admin("alice", True)
    assert not session.player.admin, "a change waits for the next login"
    again, _ = h.connect()
    again.data_received(b"connect Alice secret\r\n")
    assert again.player.admin
    h.store.set_admin("alice", False)
    third, _ = h.connect()
    third.data_received(b"connect Alice secret\r\n")
    assert not third.player.admin
    h.store.close()


def test_a_reserved_admin_name_is_refused_before_the_password_is_asked():
    """Typing an --admin name that has no account yet says it is reserved; no password prompt."""
    h = Harness()
    h.auth.reserved = frozenset({"root"})
    session, transport = h.connect()
    transport.clear()
    session.data_received(b"Root\r\n")
    seen = text(transport)
    assert "reserved" in seen and "password" not in seen.lower()
    assert session.state == "login"
    session.data_received(b"create Root secret\r\n")
    assert "reserved" in text(transport)
    assert h.store.get_account("root") is None
    h.store.close()


def test_the_signup_limit_covers_create_and_the_new_character_dialogue():
    """Past --max-signups-per-hour, both ways of making a character are refused, with why."""
    h = Harness()
    h.auth.signups.per_hour = 2
    h.login("Anna", host="192.0.2.77")
    h.login("Bert", host="192.0.2.77")
    session, transport = h.connect(host="192.0.2.77")
    transport.clear()
    session.data_received(b"create Cleo secret\r\n")
    assert "Too many new characters" in text(transport)
    session.data_received(b"Dora\r\n")
    seen = text(transport)
    assert "Too many new characters" in seen and "Choose a password" not in seen
    assert h.store.get_account("cleo") is None and h.store.get_account("dora") is None
    # Logging in to an existing character is not a sign-up.
    session.data_received(b"connect Anna secret\r\n")
    assert session.state == "playing"
    h.store.close()


def test_connection_limit_per_service():
    """Past max_connections on telnet, a connection from any address is told the server
    is full, then closed; a closed connection frees a place."""
    h = Harness(max_per_address=0, max_connections=2)
    first, first_transport = h.connect(host="203.0.113.1")
    h.connect(host="203.0.113.2")
    _, transport = h.connect(host="203.0.113.3")
    assert b"The server is full; please try again later." in transport.value()
    assert transport.disconnecting
    first_transport.lose_connection()
    h.clock.advance(0)
    _, again = h.connect(host="203.0.113.3")
    assert not again.disconnecting
    h.store.close()
