"""@ban, @unban, @bans and password over telnet sessions, with a fake Clock and wires."""

from __future__ import annotations

import ipaddress
import logging
import re

import pytest
from test_telnet_gateway import TINY, Harness, text

from reality.game.loader import load_world
from reality.game.store import Store
from reality.game.world import World
from reality.gateways.auth import AddressBanned, Authenticator, ImmediateHasher, SignupThrottled
from reality.gateways.moderation import Moderation
from reality.gateways.telnet import TelnetGateway
from reality.net.testing import Clock

ADMIN_HOST = "198.51.100.1"


class ModerationHarness(Harness):
    """The telnet harness with the bans wired in as the server wires them."""

    def __init__(self, **options: object) -> None:
        self.clock = Clock()
        self.store = Store(":memory:")
        self.world = World(self.clock, self.store, admins=["Root"])
        self.world.load(load_world(TINY))
        self.auth = Authenticator(self.store, ImmediateHasher(), self.clock,
                                  bans=self.world.bans, **options)  # type: ignore[arg-type]
        self.gateway = TelnetGateway(self.world, self.auth, self.clock)
        self.moderation = Moderation(self.world, self.auth, [self.gateway])
        self.moderation.install()

    def say(self, session, transport, line: str) -> str:
        session.data_received(line.encode() + b"\r\n")
        return text(transport)


@pytest.fixture
def h():
    harness = ModerationHarness()
    yield harness
    harness.store.close()


def test_banning_a_player_closes_their_session_and_refuses_their_login(h):
    """@ban bob = reason: Bob is told why and closed; his right password is then refused."""
    root, root_t = h.login("Root", "rootpass", host=ADMIN_HOST)
    bob, bob_t = h.login("Bob", "bobpass1", host="192.0.2.5")
    said = h.say(root, root_t, "@ban bob = spamming the hall")
    assert "Bob is banned (spamming the hall)." in said
    seen = text(bob_t)
    assert "You have been banned from this server. Reason: spamming the hall" in seen
    assert bob_t.disconnecting and "bob" not in h.world.online

    again, again_t = h.connect("192.0.2.5")
    said = h.say(again, again_t, "connect Bob bobpass1")
    assert "This character is banned from this server. Reason: spamming the hall" in said
    assert again.state == "login"
    # A wrong password gets the usual answer: the ban tells a guesser nothing.
    said = h.say(again, again_t, "connect Bob wrong")
    assert "The name or the password is wrong." in said and "banned" not in said


def test_unban_lets_the_player_back_and_bans_lists_who_when_why(h):
    """@bans shows who banned what, when and why; @unban lifts the ban."""
    root, root_t = h.login("Root", "rootpass", host=ADMIN_HOST)
    h.login("Bob", "bobpass1", host="192.0.2.5")
    h.say(root, root_t, "@ban Bob rude to newcomers")
    h.say(root, root_t, "@ban 2001:db8::/32 = scanner")
    listed = h.say(root, root_t, "@bans")
    assert "Bans (2):" in listed
    assert re.search(r"Bob \(account\), banned by Root on \d{4}-\d\d-\d\d \d\d:\d\d UTC", listed)
    assert ": rude to newcomers" in listed
    assert "2001:db8::/32 (address), banned by Root" in listed and ": scanner" in listed
    assert "Bob" not in h.say(root, root_t, "@bans scanner")
    assert "Bob is no longer banned." in h.say(root, root_t, "@unban bob")
    assert "nobody is not banned" in h.say(root, root_t, "@unban nobody")
    bob, bob_t = h.connect("192.0.2.5")
    h.say(bob, bob_t, "connect Bob bobpass1")
    assert bob.state == "playing"


def test_an_address_ban_refuses_new_connections_and_closes_open_ones(h):
    """@ban 192.0.2.0/24: a session from it is closed; a new one (also as ::ffff:) is refused."""
    root, root_t = h.login("Root", "rootpass", host=ADMIN_HOST)
    carol, carol_t = h.login("Carol", "carolpw", host="192.0.2.77")
    waiting, waiting_t = h.connect("192.0.2.78")  # not logged in yet
    said = h.say(root, root_t, "@ban 192.0.2.0/24 = open proxy")
    assert "192.0.2.0/24 is banned (open proxy)." in said
    for transport in (carol_t, waiting_t):
        assert "You have been banned from this server. Reason: open proxy" in text(transport)
        assert transport.disconnecting
    assert "carol" not in h.world.online
    for host in ("192.0.2.1", "::ffff:192.0.2.200"):
        _, transport = h.connect(host)
        assert "Your address is banned from this server." in text(transport)
        assert transport.disconnecting
    assert len(h.gateway.connections) == 1  # Root's only
    _, other = h.connect("192.0.3.1")
    assert not other.disconnecting


def test_bans_refuse_sensibly(h):
    """Yourself, your own address, too wide a network, someone unknown: refused with why."""
    root, root_t = h.login("Root", "rootpass", host=ADMIN_HOST)
    assert "You can't ban yourself." in h.say(root, root_t, "@ban root")
    said = h.say(root, root_t, "@ban 198.51.100.0/24")
    assert "holds your own address (198.51.100.1)" in said
    assert "too wide to ban" in h.say(root, root_t, "@ban 10.0.0.0/4")
    assert "There is no player called Nobody." in h.say(root, root_t, "@ban Nobody")
    assert "Usage: @ban" in h.say(root, root_t, "@ban")
    assert len(h.world.bans) == 0 and not root_t.disconnecting
    bob, bob_t = h.login("Bob", "bobpass1", host="192.0.2.5")
    h.say(bob, bob_t, "@ban root")  # not an admin: the verb is not his
    assert len(h.world.bans) == 0 and "root" in h.world.online


def test_password_changes_after_the_old_one_is_checked(h, caplog):
    """password old new: changed; the new one logs in, the old does not; never logged."""
    caplog.set_level(logging.DEBUG)
    alice, alice_t = h.login("Alice", "first-pw", host="192.0.2.20")
    said = h.say(alice, alice_t, "password first-pw second-pw")
    assert "Your password has been changed." in said
    h.say(alice, alice_t, "quit")
    again, again_t = h.connect("192.0.2.20")
    assert "wrong" in h.say(again, again_t, "connect Alice first-pw")
    h.say(again, again_t, "connect Alice second-pw")
    assert again.state == "playing"
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "account.password who=Alice address=192.0.2.20" in logged
    assert "first-pw" not in logged and "second-pw" not in logged


def test_a_wrong_old_password_is_refused_and_counts_as_a_failed_login(h, caplog):
    """Five wrong old passwords lock the address out of logging in, like five failed logins."""
    caplog.set_level(logging.DEBUG)
    alice, alice_t = h.login("Alice", "first-pw", host="192.0.2.20")
    said = h.say(alice, alice_t, "password guess-1 second-pw")
    assert "Your old password is wrong; your password was not changed." in said
    assert "password too short" not in said
    assert "A password must be 4 to 128" in h.say(alice, alice_t, "password first-pw x")
    for i in range(2, 6):
        h.say(alice, alice_t, f"password guess-{i} second-pw")
    said = h.say(alice, alice_t, "password first-pw second-pw")
    assert "Too many failed logins from your address" in said
    other, other_t = h.connect("192.0.2.20")
    assert "Too many failed logins" in h.say(other, other_t, "connect Alice first-pw")
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert logged.count("login.failed who=Alice") == 5
    assert "guess-" not in logged and "second-pw" not in logged


def test_sign_ups_from_a_banned_address_are_refused_and_the_hourly_limit_still_applies():
    """A banned address creates nothing; others still get --max-signups-per-hour."""
    h = ModerationHarness(max_signups_per_hour=2)
    h.world.bans.ban_address(ipaddress.ip_network("203.0.113.0/24"), by="Root", now=0.0)
    with pytest.raises(AddressBanned, match="No new character can be created"):
        h.auth.check_new_name("Mallory", "203.0.113.9")
    failures = []
    h.auth.create_account("Mallory", "secret", "203.0.113.9").add_errback(failures.append)
    assert "No new character can be created from your address" in str(failures[0].value)
    assert h.store.get_account("Mallory") is None
    # Another address: two sign-ups, then the hourly limit, as before bans.
    h.login("Anna", "secret", host="192.0.2.40")
    h.login("Bert", "secret", host="192.0.2.40")
    session, transport = h.connect("192.0.2.40")
    said = h.say(session, transport, "create Cleo secret")
    assert str(SignupThrottled()) in said.replace("\r\n", " ")
    h.clock.advance(3601)  # an hour on (that connection timed out meanwhile)
    session, transport = h.connect("192.0.2.40")
    h.say(session, transport, "create Cleo secret")
    assert session.state == "playing"
    h.store.close()


def test_a_banned_players_homepage_is_hidden_until_the_ban_is_lifted(h):
    """player_info (what /~name shows) is None while the account is banned."""
    h.login("Bob", "bobpass1", host="192.0.2.5")
    h.world.bans.ban_account("Bob", by="Root", now=1.0)
    assert h.world.player_info("bob") is None and "bob" not in h.world.online
    h.world.bans.unban("bob")
    assert h.world.player_info("bob").name == "Bob"
