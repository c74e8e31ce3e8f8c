"""Player text made safe to show to other players: no invisible or control characters.

Everything one player sends another (``say``, ``emote``, ``tell``, letters
written with ``mail send``, homepages, ``@describe`` texts, and whatever
verbs are added later) enters the world through :func:`clean_player_text`,
which :meth:`reality.game.world.World.execute` applies to every input line
before a verb sees it. Letters from outside go through it too (their
subject and body, :mod:`reality.game.mail`).

What goes, and why (Unicode general categories, UAX #44):

* ``Cf`` format characters. They are invisible, and several of them change
  how the *surrounding* text is displayed: the bidi embeddings, overrides
  and isolates (U+202A-202E, U+2066-2069), the marks U+200E/200F and
  U+061C reorder what follows them, so ``say`` could show another player a
  sentence that reads differently from what was typed (the "Trojan Source"
  trick, CVE-2021-42574); zero-width spaces and joiners (U+200B-200D),
  the word joiner (U+2060), the BOM (U+FEFF), the soft hyphen (U+00AD)
  and the tag characters (U+E0000-E007F) make two different texts look the
  same, which spoofs names and hides words from filters.
* ``Cc`` controls (C0, DEL, C1): escape sequences, bells, carriage returns
  that overwrite a line. Tab, CR, LF, VT, FF and NEL become one space, or
  (in multi-line texts) LF stays LF.
* ``Zl``/``Zp`` (U+2028, U+2029): line breaks that would start a line the
  world did not write; they become a space (LF in multi-line texts).
* ``Cs`` lone surrogates (only reachable through ``surrogateescape``
  decoding): not characters at all.

Everything else passes untouched: letters in any script, combining marks,
emoji, no-break and other spaces, private-use characters.

The fast path is :meth:`str.isprintable` (in C): ordinary text, which is
printable, costs one scan; otherwise one linear pass. Text longer than a
homepage is not expected here, but the cost is linear whatever the input.
"""

from __future__ import annotations

import unicodedata

__all__ = ["REMOVED_CATEGORIES", "clean_player_text", "is_clean"]

#: Unicode general categories that never reach another player.
REMOVED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})

# Line-breaking characters: a space in a one-line text, LF in a multi-line one.
_BREAKS = frozenset("\n\r\x0b\x0c\x85\u2028\u2029")


def clean_player_text(text: str, *, multiline: bool = False) -> str:
    """``text`` without invisible, direction-changing or control characters.

    Line breaks (CR LF, CR, LF, VT, FF, NEL, U+2028, U+2029) and tabs
    become one space each, or with ``multiline=True`` every line break
    becomes ``\\n`` (CR LF counting as one) and tabs are expanded to
    spaces (8-column stops). Every
    other character of category Cc, Cf, Cs, Zl or Zp is removed. The
    result never contains such a character except ``\\n`` when
    ``multiline`` is true.
    """
    # isprintable() is False for every removed category (and for some
    # harmless ones, such as U+00A0, which the slow path keeps).
    if text.isprintable():
        return text
    if multiline:
        # Tabs keep their columns in a letter's table; CR LF is one break.
        text = text.replace("\r\n", "\n").expandtabs(8)
    out: list[str] = []
    category = unicodedata.category
    for ch in text:
        if ch.isprintable():
            out.append(ch)
        elif ch in _BREAKS:
            out.append("\n" if multiline else " ")
        elif ch == "\t":
            out.append(" ")
        elif category(ch) not in REMOVED_CATEGORIES:
            out.append(ch)
    return "".join(out)


def is_clean(text: str, *, multiline: bool = False) -> bool:
    """Whether ``text`` holds nothing :func:`clean_player_text` would change."""
    return clean_player_text(text, multiline=multiline) == text
