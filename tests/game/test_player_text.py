"""Invisible, direction-changing and control characters never pass from one player to another."""

from __future__ import annotations

import sys
import unicodedata

import pytest
from hypothesis import given, settings, strategies as st

from reality.game.mail import open_post_office, parse_letter
from reality.game.text import REMOVED_CATEGORIES, clean_player_text, is_clean

# The characters of the report (RLO, PDF, ZWSP, BOM) and the rest of their classes.
SPOOFS = {
    "RLO": "\u202e",
    "PDF": "\u202c",
    "LRE": "\u202a",
    "RLE": "\u202b",
    "LRO": "\u202d",
    "LRI": "\u2066",
    "RLI": "\u2067",
    "FSI": "\u2068",
    "PDI": "\u2069",
    "LRM": "\u200e",
    "RLM": "\u200f",
    "ALM": "\u061c",
    "ZWSP": "\u200b",
    "ZWNJ": "\u200c",
    "ZWJ": "\u200d",
    "WJ": "\u2060",
    "BOM": "\ufeff",
    "SHY": "\u00ad",
    "TAG": "\U000e0041",
    "ESC": "\x1b",
    "BEL": "\x07",
    "NUL": "\x00",
    "DEL": "\x7f",
    "CSI": "\x9b",
    "NEL": "\x85",
    "LS": "\u2028",
    "PS": "\u2029",
    "CR": "\r",
}
IDS = list(SPOOFS)
CHARS = [SPOOFS[k] for k in IDS]


def _bad(ch: str, *, newline_ok: bool = False) -> bool:
    if newline_ok and ch == "\n":
        return False
    return unicodedata.category(ch) in REMOVED_CATEGORIES


# -- the function ------------------------------------------------------------------------


@pytest.mark.parametrize("ch", CHARS, ids=IDS)
def test_each_character_is_removed_or_made_a_space(ch):
    """Every bidi control, zero-width character and control leaves nothing invisible."""
    out = clean_player_text(f"abc{ch}def")
    assert out in ("abcdef", "abc def")
    assert ch not in out


def test_ordinary_text_is_untouched():
    """Letters in any script, emoji, combining marks and no-break spaces pass as typed."""
    for text in ("hello, world!", "Grüße aus Köln", "שלום עולם", "مرحبا", "日本語のテキスト",
                 "e\u0301", "caf\u00e9\u00a0au lait", "👍🏽 ok", ""):  # fmt: skip
        assert clean_player_text(text) == text
        assert clean_player_text(text, multiline=True) == text


def test_line_breaks_and_tabs():
    """One line: breaks and tabs become spaces. Several: breaks become LF, tabs spaces."""
    assert clean_player_text("a\tb\r\nc\nd\u2028e") == "a b  c d e"
    assert clean_player_text("a\tb\r\nc\rd\u2029e", multiline=True) == "a       b\nc\nd\ne"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec=None, max_codepoint=sys.maxunicode)), st.booleans())
def test_no_format_or_control_character_survives(text, multiline):
    """For any text, the result holds no Cc, Cf, Cs, Zl or Zp character (but LF if allowed)."""
    out = clean_player_text(text, multiline=multiline)
    assert not any(_bad(ch, newline_ok=multiline) for ch in out)
    # Cleaning twice changes nothing more, and only removed/turned characters differ.
    assert clean_player_text(out, multiline=multiline) == out
    assert is_clean(out, multiline=multiline)
    kept = [ch for ch in text if not _bad(ch) and ch != "\t"]
    assert [ch for ch in out if ch not in " \n"] == [ch for ch in kept if ch not in " \n"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([*CHARS, "a", "b", " ", "\n", "\t"]), max_size=60))
def test_spoof_soup(chars):
    """Any mixture of the reported characters with letters comes out clean."""
    out = clean_player_text("".join(chars))
    assert not any(_bad(ch) for ch in out)
    assert set(out) <= {"a", "b", " "}


# -- every verb players talk with ----------------------------------------------------------


@pytest.fixture
def pair(world, join):
    alice, a = join(world, "Alice")
    bob, b = join(world, "Bob")
    a.take()
    b.take()
    return world, (alice, a), (bob, b)


def _saw(session) -> str:
    return "\n".join(session.shown)


@pytest.mark.parametrize("ch", CHARS, ids=IDS)
@pytest.mark.parametrize(
    "line",
    ["say hi{}there", "'hi{}there", '"hi{}there', "emote waves{}there", ":waves{}there",
     "pose waves{}there", "tell bob hi{}there", "whisper bob hi{}there", "page bob hi{}there"],
)  # fmt: skip
def test_talking_verbs_deliver_no_spoofing_character(pair, line, ch):
    """say, emote and tell (and their short forms and aliases) show the text without it."""
    world, (alice, a), (bob, b) = pair
    world.execute(alice, line.format(ch))
    seen = _saw(b)
    assert "there" in seen, seen
    assert ch not in seen and ch not in _saw(a)
    assert not any(_bad(c, newline_ok=True) for c in seen)


@pytest.mark.parametrize("ch", CHARS, ids=IDS)
def test_mail_send_subject_and_body(pair, ch):
    """A letter written in the game keeps none of them, in its subject or its body."""
    world, (alice, a), (bob, b) = pair
    office = open_post_office(world)
    world.execute(alice, f"mail send bob sub{ch}ject = bo{ch}dy text")
    letter = office.letter("bob", 1)
    assert letter is not None, a.take()
    assert ch not in letter.subject and ch not in letter.body
    assert letter.subject.replace(" ", "") == "subject"
    assert letter.body.replace(" ", "") == "bodytext"


@pytest.mark.parametrize("ch", CHARS, ids=IDS)
def test_homepage_line_and_editor(pair, ch):
    """A homepage set in one line, or written in the editor, keeps none of them."""
    world, (alice, a), (bob, b) = pair
    world.execute(alice, f"homepage I am{ch} Alice")
    assert ch not in alice.homepage and "Alice" in alice.homepage
    world.execute(bob, "homepage edit")
    world.execute(bob, f"line{ch}one")
    world.execute(bob, f"line two{ch}")
    world.execute(bob, ".")
    assert ch not in bob.homepage and "two" in bob.homepage


@pytest.mark.parametrize("ch", CHARS, ids=IDS)
def test_describe(pair, ch):
    """@describe texts (here, me, a thing) keep none of them."""
    world, (alice, a), (bob, b) = pair
    world.execute(alice, f"@describe here = A quiet{ch} room.")
    world.execute(alice, f"@describe me = A tall{ch} person.")
    assert ch not in alice.location.description and "quiet" in alice.location.description
    assert ch not in alice.description and "tall" in alice.description


@pytest.mark.parametrize("ch", CHARS, ids=IDS)
def test_mail_from_outside(ch):
    """A letter from outside shows its subject and text without them."""
    raw = (
        f"From: Carol <carol@example.com>\r\nSubject: Pay{ch}ment\r\n\r\n"
        f"Dear{ch} Bob,\r\nsend money.\r\n"
    ).encode()
    letter = parse_letter(raw, received_at=0.0)
    assert ch not in letter.subject and ch not in letter.body
    assert not any(_bad(c, newline_ok=True) for c in letter.subject + letter.body)
    assert "send money." in letter.body
