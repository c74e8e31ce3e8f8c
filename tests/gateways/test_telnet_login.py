"""The telnet login dialogue, with a fake Clock: settings from the first line, a dialogue
that can be left and corrected, command words that are not names, one failed-login message."""

from __future__ import annotations

import pytest
from test_telnet_gateway import Harness, text

from reality.net.protocols.telnet.options import DO, ECHO, IAC, SB, SE, TTYPE, WILL, WONT

ESC = b"\x1b["


@pytest.fixture
def harness():
    h = Harness()
    yield h
    h.store.close()


def colour_client(harness):
    """A connection whose terminal type promises 256 colours."""
    session, transport = harness.connect()
    session.data_received(bytes([IAC, WILL, TTYPE]))
    for name in (b"XTERM-256COLOR", b"XTERM-256COLOR"):
        session.data_received(bytes([IAC, SB, TTYPE, 0]) + name + bytes([IAC, SE]))
    assert session.capability != "plain"
    transport.clear()
    return session, transport


def save_plain_narrow_settings(harness):
    session, transport = harness.login("Alice", "secret12")
    session.data_received(b"set color off\r\nset width 40\r\n")
    return session, transport


# -- item 2: saved settings apply from the first line after login ------------------------


def test_saved_colour_and_width_shape_the_first_room_and_the_mail_line(harness):
    """After set color off / set width 40 and a new login, nothing is coloured or wider than 40."""
    session, transport = save_plain_narrow_settings(harness)
    session.data_received(b"quit\r\n")
    assert transport.disconnecting
    harness.world.unread_count = lambda key: 3
    session, transport = colour_client(harness)
    session.data_received(b"connect Alice secret12\r\n")
    raw = transport.value()
    assert ESC not in raw, raw
    seen = text(transport)
    assert "The Hall" in seen
    assert "You have 3 unread letters." in seen.replace("\r\n", " ")
    assert max(len(line) for line in seen.split("\r\n")) <= 40, seen


def test_taking_a_character_over_uses_its_settings_at_once(harness):
    """A second connection taking over gets the player's settings from its first line."""
    save_plain_narrow_settings(harness)
    session, transport = colour_client(harness)
    session.data_received(b"connect Alice secret12\r\n")
    raw = transport.value()
    assert b"take over" in raw and b"The Hall" in raw
    assert ESC not in raw, raw


# -- item 3: the dialogue can be left and corrected -------------------------------------


def type_name(harness, name: bytes):
    session, transport = harness.connect()
    transport.clear()
    session.data_received(name + b"\r\n")
    return session, transport


@pytest.mark.parametrize("answer", [b"n", b"no", b"", b"quit"])
def test_a_new_name_is_confirmed_and_no_goes_back_to_the_name_prompt(harness, answer):
    """A new name asks 'Create a new character named Carol? (y/n)'; n, quit or Enter go back."""
    session, transport = type_name(harness, b"Carol")
    seen = text(transport)
    assert "Create a new character named Carol? (y/n) " in seen
    assert bytes([IAC, WILL, ECHO]) not in transport.value()
    session.data_received(answer + b"\r\n")
    seen = text(transport)
    assert session.state == "login" and not transport.disconnecting
    assert "Type your character's name" in seen and seen.endswith("> ")
    assert harness.store.get_account("carol") is None
    # The corrected name goes on normally.
    session.data_received(b"Carl\r\ny\r\n")
    assert "Choose a password" in text(transport)
    assert session.state == "new_password"


def test_an_unclear_answer_asks_again(harness):
    """Anything but y or n at the confirmation asks again and keeps the name."""
    session, transport = type_name(harness, b"Carol")
    text(transport)
    session.data_received(b"maybe\r\n")
    seen = text(transport)
    assert "Please answer y or n." in seen
    assert seen.endswith("Create a new character named Carol? (y/n) ")


@pytest.mark.parametrize("leave", [b"quit", b""])
def test_quit_or_enter_at_a_password_prompt_goes_back_and_echo_returns(harness, leave):
    """quit (or an empty line) at a password prompt is never a password: it goes back."""
    harness.login("Alice", "secret12")
    session, transport = type_name(harness, b"Alice")
    out = transport.take()
    assert bytes([IAC, WILL, ECHO]) in out and b"Password: " in out
    session.data_received(bytes([IAC, DO, ECHO]))
    session.data_received(leave + b"\r\n")
    out = transport.take()
    assert bytes([IAC, WONT, ECHO]) in out  # the client echoes again
    assert session.state == "login" and not transport.disconnecting
    assert b"password is wrong" not in out
    assert b"Type your character's name" in out


def test_quit_at_the_name_prompt_says_goodbye(harness):
    """At the name prompt, quit closes the connection."""
    session, transport = type_name(harness, b"quit")
    assert transport.disconnecting
    assert "Goodbye!" in text(transport)


@pytest.mark.parametrize("state_line", [b"Alice", b"Carol\r\ny", b"Carol\r\ny\r\nabcd1234"])
def test_connect_typed_at_any_password_prompt_logs_in(harness, state_line):
    """'connect Alice secret12' at Password:, Choose a password: or Repeat the password: logs in."""
    harness.login("Alice", "secret12")
    session, transport = type_name(harness, state_line)
    assert session.state in ("password", "new_password", "repeat_password")
    session.data_received(b"connect Alice secret12\r\n")
    seen = text(transport)
    assert session.state == "playing", seen
    assert session.player.name == "Alice"
    assert "may not contain spaces" not in seen
    assert harness.store.get_account("carol") is None


def test_create_typed_at_the_confirmation_creates_that_character(harness):
    """'create Dora pw123456' at the y/n question creates Dora instead."""
    session, transport = type_name(harness, b"Carol")
    session.data_received(b"create Dora pw123456\r\n")
    assert session.state == "playing"
    assert harness.store.get_account("dora") is not None
    assert harness.store.get_account("carol") is None


def test_who_and_help_at_a_password_prompt_answer_and_ask_again(harness):
    """who and help are understood at a password prompt, which is then shown again."""
    harness.login("Alice", "secret12")
    session, transport = type_name(harness, b"Alice")
    text(transport)
    session.data_received(b"who\r\n")
    seen = text(transport)
    assert "player online" in seen and seen.endswith("Password: ")
    session.data_received(b"help\r\n")
    seen = text(transport)
    assert "create <name> <password>" in seen and seen.endswith("Password: ")
    assert session.state == "password"
    session.data_received(b"secret12\r\n")
    assert session.state == "playing"


def test_two_different_passwords_ask_for_a_new_one(harness):
    """When the repeated password differs, the password is chosen again, echo still off."""
    session, transport = type_name(harness, b"Carol\r\ny\r\nabcd1234\r\nabcd9999")
    seen = text(transport)
    assert "The two passwords differ" in seen and seen.endswith("Choose a password: ")
    session.data_received(b"abcd1234\r\nabcd1234\r\n")
    assert session.state == "playing"
    assert session.player.name == "Carol"


@pytest.mark.parametrize(
    "word", [b"look", b"Look", b"quit", b"new", b"admin", b"north", b"inventory", b"help"]
)
def test_command_words_are_not_names(harness, word):
    """Verbs (from the world's registry), directions and login words are refused as names."""
    session, transport = type_name(harness, word)
    seen = text(transport)
    assert session.state == "login" or transport.disconnecting
    assert "Create a new character" not in seen
    if word not in (b"quit", b"help"):
        assert "can't be a name" in seen or "reserved" in seen, seen
        session.data_received(b"create " + word + b" pw123456\r\n")
        assert session.state == "login"
        assert harness.store.get_account(word.decode()) is None


def test_every_registered_verb_is_a_command_word(harness):
    """The world asks its verb registry: a verb added later is refused as a name too."""
    world = harness.world
    for verb in world.verbs.all():
        for word in (verb.name, *verb.aliases):
            assert world.is_command_word(word.lstrip("@")), word
    world.verbs.register("dance", lambda ctx, args: None)
    try:
        session, transport = type_name(harness, b"Dance")
        assert "can't be a name" in text(transport)
    finally:
        world.verbs._verbs.pop("dance", None)
        world.verbs._words.pop("dance", None)


# -- item 10: names are public, passwords are not ---------------------------------------


def test_a_failed_login_says_the_same_for_an_unknown_name_and_a_wrong_password(harness):
    """connect with an unknown name, a wrong password, or through the prompt: one message."""
    harness.login("Alice", "secret12")
    answers = []
    for line in (b"connect Alice wrong123", b"connect Nobody wrong123", b"Alice\r\nwrong123"):
        session, transport = harness.connect(host=f"198.51.100.{len(answers) + 1}")
        transport.clear()
        session.data_received(line + b"\r\n")
        seen = text(transport)
        answers.append(seen[seen.index("The name or"):])
    assert answers[0] == answers[1] == answers[2] == "The name or the password is wrong.\r\n> "


def test_unknown_names_cost_the_same_password_check_as_known_ones(harness):
    """Both paths run one verification against a hash of the same cost, then fail alike."""
    harness.login("Alice", "secret12")
    checked = []
    real_verify = harness.auth.hasher.verify

    def verify(password, stored):
        checked.append(stored.split("$")[:4])
        return real_verify(password, stored)

    harness.auth.hasher.verify = verify
    harness.auth.hasher.hash = lambda password: pytest.fail("no hash on a login")
    from reality.game import accounts

    # What a real server stores: every hash at the default cost.
    stored = accounts.hash_password("secret12", n=accounts.DEFAULT_N)
    harness.store.db.execute("UPDATE accounts SET password_hash = ? WHERE key = 'alice'",
                             (stored,))
    for line in (b"connect Alice wrong123\r\n", b"connect Nobody wrong123\r\n"):
        session, transport = harness.connect()
        session.data_received(line)
        assert session.state == "login"
    assert len(checked) == 2 and checked[0] == checked[1]
