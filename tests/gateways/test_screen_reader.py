"""Screen-reader mode over telnet: detection before the banner, and what every message reads like.

Driven like test_telnet_gateway: StringTransports and a fake Clock, the
client's TTYPE/MTTS answers written as the bytes a MUD client sends.
"""

from __future__ import annotations

import re

import pytest
from test_telnet_gateway import Harness, text

from reality.game.mail import open_post_office
from reality.gateways.render import SCREEN_READER, render, speakable, spoken_prompt
from reality.gateways.telnet.capabilities import screen_reader_for
from reality.net.protocols.telnet import Mtts, TerminalType
from reality.net.protocols.telnet.options import IAC, SB, SE, TTYPE, WILL, WONT

ESC = "\x1b"


def answer_ttype(session, *names: str) -> None:
    """What a MUD client sends: WILL TTYPE, then one IS answer per SEND."""
    session.data_received(bytes([IAC, WILL, TTYPE]))
    for name in names:
        session.data_received(bytes([IAC, SB, TTYPE, 0]) + name.encode() + bytes([IAC, SE]))


def terminal(*names: str, mtts: int | None = None) -> TerminalType:
    return TerminalType(names, names[0] if names else "", names[-1] if names else "",
                        None if mtts is None else Mtts(mtts))


# -- detection ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("names", "mtts", "expected"),
    [
        (("TINTIN++", "XTERM-256COLOR"), 335, True),  # #config {SCREEN READER} ON
        (("TINTIN++", "XTERM-256COLOR"), 271, False),  # the same, off
        (("MUDLET", "ANSI-TRUECOLOR"), 2383, True),  # Mudlet's "advertise screen reader use"
        (("MUDLET", "ANSI-TRUECOLOR"), 2319, False),
        (("VIPMUD",), None, True),
        (("VipMud 2.0",), None, True),
        (("MUSHz",), None, True),
        (("Proxiani",), None, True),
        (("Some Screen-Reader Client",), None, True),
        (("XTERM",), None, False),
        (("MUSHCLIENT", "ANSI"), 9, False),
        ((), None, False),
    ],
)
def test_screen_reader_detection(names, mtts, expected):
    """MTTS bit 64, or a TTYPE that names a screen reader's client, turns the mode on."""
    assert screen_reader_for(terminal(*names, mtts=mtts)) is expected


def test_banner_waits_for_mtts_and_comes_in_screen_reader_form():
    """TinTin++ with its screen reader on (MTTS 335): the very banner is plain and speakable."""
    h = Harness(banner_wait=1.0)
    session, transport = h.connect()
    assert "Tiny Test World" not in text(transport)
    answer_ttype(session, "TINTIN++", "XTERM-256COLOR", "MTTS 335")
    assert session.screen_reader
    seen = text_of(transport.take())
    assert ESC not in seen
    assert "Tiny Test World" in seen and "===" not in seen
    assert "create name password, connect name password, who, quit" in seen
    h.clock.advance(2)  # the wait's timer was cancelled: no second banner
    assert "Tiny Test World" not in text(transport)
    h.store.close()


def test_banner_waits_no_longer_than_the_client_needs():
    """A client that refuses TTYPE is greeted at once; one that says nothing, after the wait."""
    h = Harness(banner_wait=1.0)
    refusing, t1 = h.connect()
    refusing.data_received(bytes([IAC, WONT, TTYPE]))
    assert "Tiny Test World" in text(t1)
    silent, t2 = h.connect()
    h.clock.advance(0.9)
    assert "Tiny Test World" not in text(t2)
    h.clock.advance(0.2)
    seen = text(t2)
    assert "Tiny Test World" in seen and "===" in seen  # decoration, for a screen
    typing, t3 = h.connect()
    typing.data_received(b"who\r\n")
    seen = text(t3)
    assert seen.index("Tiny Test World") < seen.index("online")  # greeted first
    h.store.close()


def text_of(data: bytes) -> str:
    """Bytes from the server without telnet commands (negotiation, EOR/GA), as text."""
    data = re.sub(rb"\xff[\xfb-\xfe].", b"", data)
    data = re.sub(rb"\xff\xfa.*?\xff\xf0", b"", data, flags=re.S)
    return re.sub(rb"\xff[\xef\xf0-\xf9]", b"", data).decode("utf-8", "replace")


def test_a_colour_client_is_not_a_screen_reader():
    """Mudlet without the screen-reader bit gets colour and the usual form."""
    h = Harness(banner_wait=1.0)
    session, transport = h.connect()
    answer_ttype(session, "MUDLET", "ANSI-TRUECOLOR", "MTTS 2319")
    assert not session.screen_reader
    assert "===" in text(transport)
    h.store.close()


# -- a transcript of every kind of message ---------------------------------------------------


def screen_reader_login(h: Harness, name: str):
    session, transport = h.connect()
    answer_ttype(session, "TINTIN++", "XTERM-256COLOR", "MTTS 335")
    session.data_received(f"create {name} secret\r\n".encode())
    return session, transport


def spoken(transport) -> str:
    """What the client got, telnet commands taken out, CR LF as LF: nothing else removed."""
    seen = text_of(transport.take())
    assert ESC not in seen, seen
    return seen.replace("\r\n", "\n")


TRANSCRIPT = """\
> look
The Hall
A long hall.
You see a brass lamp here.
A grey cat and a mail daemon are here.
Root is here.
Exits: north to The Library.
> say Hello -> there | friend ***
You say, "Hello to there, friend"
> :waves ~3 times
Alice waves about 3 times.
> tell root #3 is 50% done & more
You tell Root, "number 3 is 50 percent done and more"
> who
2 players online:
Alice, Root, admin
> inventory
You are empty-handed.
> get unicorn
You don't see 'unicorn' here.
> get lamp
You pick up the brass lamp.
> inventory
You are carrying a brass lamp.
> mail
Your mailbox (alice@reality.localhost): 1 letter, 1 unread.
Letter 1, unread, from Carol, subject Tea to at 5, sent 2023-11-14 22:13
Type 'mail read n' to read a letter. Times are UTC.
> help
Commands (type 'help command' for more, 'help search word' to search every text):
general: close, drop, emote, get, give, go, help, inventory, lock, look, open, put, quit, read, \
say, set, tell, unlock, who
communication: channel, channels
mail: mail
web: homepage
Topics (type 'help topic'):
channels: chat, newbie
guides: colour, movement
> frobnicate
I don't understand 'frobnicate'. Type 'help' for a list of commands.
> homepage edit
Editing your homepage (Markdown). Type lines; a line with a single '.' saves, '.abort' cancels; \
'.list', '.replace N text', '.delete N' and '.preview' help on the way ('.help' for more).
homepage: > .abort
Homepage edit cancelled; nothing was changed.
> (Root says something)
Root says, "Look: the map to north"
> n
The Library
Dusty shelves.
Exits: south to The Hall.
"""


def test_transcript_of_every_kind_of_message_in_screen_reader_mode():
    """Room, speech, who, inventory, mail, help, errors, prompts: plain, speakable, one line a row.

    The prompt after each command is empty (only its EOR/GA mark is sent),
    except the homepage editor's, which is short ("homepage: ").
    """
    h = Harness(banner_wait=1.0)
    office = open_post_office(h.world)
    alice, a = screen_reader_login(h, "Alice")
    root, r = h.login("Root")
    office.deliver(
        ["alice"],
        b"From: Carol <carol@example.com>\r\nSubject: Tea --> at 5\r\n"
        b"Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n\r\nCome.\r\n",
        now=True,
        external=False,
    )
    spoken(a)
    out = []
    commands = [
        "look", "say Hello -> there | friend ***", ":waves ~3 times",
        "tell root #3 is 50% done & more", "who", "inventory", "get unicorn", "get lamp",
        "inventory", "mail", "help", "frobnicate", "homepage edit", ".abort",
    ]
    for command in commands:
        alice.data_received(command.encode() + b"\r\n")
        out.append(f"> {command}\n" + spoken(a))
    root.data_received(b"say Look: *** the map -> north ***\r\n")
    out.append("> (Root says something)\n" + spoken(a))
    alice.data_received(b"n\r\n")
    out.append("> n\n" + spoken(a))
    # Each prompt is the empty string: the lines end where the next command is typed.
    assert "".join(out) == TRANSCRIPT
    # Root's client is not a screen reader: the same room, in the screen's form.
    r.take()
    root.data_received(b"look\r\n")
    seen = text_of(r.take())
    assert "Exits: north." in seen and "to The Library" not in seen and seen.endswith("> ")
    h.store.close()


def test_set_screenreader_overrides_what_the_client_says():
    """set screenreader on for a colour client, off for a screen reader's: obeyed at once."""
    h = Harness(banner_wait=1.0)
    bob, b = h.login("Bob")
    bob.data_received(b"set screenreader on\r\n")
    assert "screenreader is now on" in text(b)
    bob.data_received(b"look\r\n")
    assert "Exits: north to The Library." in spoken(b)
    alice, a = screen_reader_login(h, "Alice")
    alice.data_received(b"set screenreader off\r\n")
    spoken(a)
    alice.data_received(b"look\r\n")
    seen = text_of(a.take())
    assert "Exits: north." in re.sub(ESC + r"\[[0-9;]*m", "", seen) and ESC in seen
    assert seen.endswith("> ")  # the usual prompt again
    h.store.close()


# -- the renderer's pieces ---------------------------------------------------------------------


def test_prose_is_left_exactly_as_it_is():
    """Ordinary sentences, with commas, dashes in words, quotes and numbers, are untouched."""
    prose = 'Alice says, "It\'s a well-known place; 3 roads meet here (north and east)."'
    assert speakable(prose) == prose
    assert render(prose, SCREEN_READER, 0) == prose


def test_spoken_prompts_are_short():
    """'> ' becomes nothing, 'homepage> ' becomes 'homepage: ', other prompts stay."""
    assert spoken_prompt("> ") == ""
    assert spoken_prompt("homepage> ") == "homepage: "
    assert spoken_prompt("Password: ") == "Password: "
    assert spoken_prompt("Create a new character named Al? (y/n) ") == (
        "Create a new character named Al? (yes or no) "
    )
