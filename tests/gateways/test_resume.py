"""Resume tokens: close_for_upgrade gives one, Client.Resume spends it (fake clock, no sockets)."""

from __future__ import annotations

import logging

import pytest
from test_gmcp_inventory import gmcp_messages
from test_telnet_gateway import Harness, text

from reality.game.resume import ResumeTokens, token_hash
from reality.game.store import Store
from reality.gateways.auth import LoginThrottled
from reality.gateways.moderation import Moderation
from reality.net.protocols.telnet.options import DO, GMCP, IAC, SB, SE


@pytest.fixture
def harness():
    h = Harness()
    # Token times on the fake clock (production: wall time).
    h.auth.resume_tokens.now = h.clock.seconds
    Moderation(h.world, h.auth, [h.gateway]).install()
    yield h
    h.store.close()


def gmcp(package: str, body: str = "") -> bytes:
    payload = f"{package} {body}" if body else package
    return bytes([IAC, SB, GMCP]) + payload.encode() + bytes([IAC, SE])


def gmcp_login(harness: Harness, name: str = "Alice", host: str = "192.0.2.10"):
    session, transport = harness.connect(host=host)
    session.data_received(bytes([IAC, DO, GMCP]))
    session.data_received(f"create {name} secret\r\n".encode())
    assert session.state == "playing"
    transport.clear()
    return session, transport


def bounced(harness: Harness, session, transport) -> str:
    """close_for_upgrade ``session``; the token it sent."""
    session.close_for_upgrade("The world shimmers.")
    out = transport.take()
    resumes = [body for package, body in gmcp_messages(out) if package == "Client.Resume"]
    assert len(resumes) == 1, out
    body = resumes[0]
    assert isinstance(body, dict) and body["expires"] == 120
    # The token goes before the last line, and the close is clean.
    assert out.index(b"Client.Resume") < out.index(b"The world shimmers.")
    assert transport.disconnecting
    token = body["token"]
    assert isinstance(token, str) and len(token) >= 32
    return token


def resume(harness: Harness, token: str, host: str = "192.0.2.10"):
    session, transport = harness.connect(host=host)
    session.data_received(bytes([IAC, DO, GMCP]))
    transport.clear()
    session.data_received(gmcp("Client.Resume", f'{{"token": "{token}"}}'))
    return session, transport


def test_close_for_upgrade_sends_a_token_then_the_message_and_closes(harness):
    """A logged-in GMCP client gets Client.Resume, then the line, then a clean close;
    only the token's SHA-256 is stored, with the account and the expiry."""
    session, transport = gmcp_login(harness)
    token = bounced(harness, session, transport)
    rows = [tuple(row) for row in
            harness.store.db.execute("SELECT hash, account, expires FROM resume_tokens")]
    assert len(rows) == 1
    digest, account, expires = rows[0]
    assert (digest, account) == (token_hash(token), "alice")
    assert 119 < expires - harness.clock.seconds() <= 120
    assert token not in repr(rows)
    transport.lose_connection()
    assert "alice" not in harness.world.online


def test_the_token_logs_the_player_in_without_a_password(harness):
    """Client.Resume before login lands the player in the game, as a login does."""
    session, transport = gmcp_login(harness)
    session.data_received(b"north\r\n")
    token = bounced(harness, session, transport)
    transport.lose_connection()
    again, t2 = resume(harness, token)
    assert again.state == "playing"
    seen = text(t2)
    assert "The Library" in seen  # where they were
    assert again.player.name == "Alice"
    assert len(harness.auth.resume_tokens) == 0


def test_a_token_works_once(harness):
    """The second use of a token is refused with a plain sentence, and the login goes on."""
    session, transport = gmcp_login(harness)
    token = bounced(harness, session, transport)
    transport.lose_connection()
    first, t1 = resume(harness, token)
    assert first.state == "playing"
    t1.lose_connection()
    second, t2 = resume(harness, token)
    assert second.state == "login"
    assert "please log in again" in text(t2)
    # The ordinary dialogue still works on that connection.
    second.data_received(b"connect Alice secret\r\n")
    assert second.state == "playing"


def test_an_expired_token_is_refused(harness):
    """Past its 120 s a token is refused (and deleted)."""
    session, transport = gmcp_login(harness)
    token = bounced(harness, session, transport)
    transport.lose_connection()
    harness.clock.advance(121)
    again, t2 = resume(harness, token)
    assert again.state == "login"
    assert "please log in again" in text(t2)
    assert len(harness.auth.resume_tokens) == 0


def test_a_banned_accounts_token_is_refused(harness):
    """A ban after the token was given: the token no longer logs anyone in."""
    session, transport = gmcp_login(harness)
    token = bounced(harness, session, transport)
    transport.lose_connection()
    harness.world.bans.ban_account("Alice", by="Root", reason="spam", now=0.0)
    again, t2 = resume(harness, token)
    assert again.state == "login"
    assert "banned" in text(t2)


def test_made_up_tokens_are_throttled_like_failed_logins(harness):
    """Wrong tokens count as failed logins of the address: after five, it is locked out."""
    for i in range(5):
        session, transport = resume(harness, f"guess{i}", host="198.51.100.9")
        assert session.state == "login"
        transport.lose_connection()
    session, transport = resume(harness, "guess-again", host="198.51.100.9")
    assert "Too many failed logins" in text(transport)
    with pytest.raises(LoginThrottled):
        harness.auth.throttle.begin("198.51.100.9")


def test_client_resume_is_ignored_once_playing(harness):
    """A token sent by a player already in the game is neither used nor spent."""
    alice, a = gmcp_login(harness)
    token = bounced(harness, alice, a)
    a.lose_connection()
    bob, b = gmcp_login(harness, "Bob")
    bob.data_received(gmcp("Client.Resume", f'{{"token": "{token}"}}'))
    assert bob.player.name == "Bob"
    assert len(harness.auth.resume_tokens) == 1


def test_no_token_without_gmcp_or_login(harness):
    """A plain telnet player, or a connection at the login prompt: the message and the close."""
    session, transport = harness.login("Alice")
    session.close_for_upgrade("The world shimmers.")
    out = transport.take()
    assert b"Client.Resume" not in out and b"The world shimmers." in out
    assert transport.disconnecting
    anon, t2 = harness.connect()
    anon.data_received(bytes([IAC, DO, GMCP]))
    anon.close_for_upgrade("The world shimmers.")
    assert b"Client.Resume" not in t2.take() and t2.disconnecting
    assert len(harness.auth.resume_tokens) == 0
    anon.close_for_upgrade("twice")  # closed already: nothing


def test_a_client_that_listed_its_packages_without_client_resume_gets_none(harness):
    """Core.Supports without Client (or Client.Resume): no token is issued."""
    session, transport = gmcp_login(harness)
    session.data_received(gmcp("Core.Supports.Set", '["Core 1", "Room 1"]'))
    session.close_for_upgrade("bye")
    assert b"Client.Resume" not in transport.take()
    other, t2 = gmcp_login(harness, "Bob")
    other.data_received(gmcp("Core.Supports.Set", '["Core 1", "Client.Resume 1"]'))
    t2.clear()
    bounced(harness, other, t2)


def test_bounce_closes_with_a_token_and_is_audited(harness, caplog):
    """@bounce (admin only) closes the player's connection as an upgrade would."""
    alice, a = gmcp_login(harness)
    root, r = harness.login("Root")
    assert harness.world.is_admin("root")
    with caplog.at_level(logging.INFO, logger="reality.audit"):
        root.data_received(b"@bounce alice\r\n")
    assert "You bounce Alice" in text(r)
    out = a.take()
    assert b"Client.Resume" in out and a.disconnecting
    events = [rec.audit["event"] for rec in caplog.records if hasattr(rec, "audit")]
    assert "admin.bounce" in events and "login.resume_issued" in events
    root.data_received(b"@bounce nobody\r\n")
    assert "nobody is not connected" in text(r)
    a.lose_connection()
    harness.clock.advance(1)
    # Not for players.
    bob, b = gmcp_login(harness, "Bob")
    bob.data_received(b"@bounce root\r\n")
    assert not r.disconnecting


def test_tokens_survive_a_restart_and_old_ones_are_swept(tmp_path):
    """A token issued by one process is honoured by the next (the same file);
    expired rows are deleted when the store is opened again."""
    db = str(tmp_path / "world.db")
    store = Store(db, init_db=True)
    now = [1000.0]
    tokens = ResumeTokens(store, now=lambda: now[0])
    fresh, _ = tokens.issue("Alice")
    tokens.issue("Bob")
    now[0] += 100
    carol, _ = tokens.issue("Carol")
    store.close()
    now[0] += 30  # Alice's and Bob's are 130 s old now
    store = Store(db)
    tokens = ResumeTokens(store, now=lambda: now[0])
    assert len(tokens) == 1
    assert tokens.take(fresh) is None
    assert tokens.take(carol) == "carol"
    assert tokens.take(carol) is None
    store.close()
