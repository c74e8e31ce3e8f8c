"""What a telnet client can show, and the cache of renderings that sessions share.

:func:`capability_for` reads a client's TTYPE/MTTS answers as a colour
capability of :mod:`reality.gateways.render` (16, 256 or truecolour ANSI,
or plain text). The world speaks colour markup; a session renders it for
its client's capability and width. Renderings are cached per (text,
capability, width), one cache for the whole server, and the world hands
every bystander the same string, so one event in a crowded room is
rendered once per kind of client. What a session heard in one output
window is rendered as one piece (:func:`render_escaped`), cached too: the
bystanders of a room mostly heard the same texts in the same window.
"""

from __future__ import annotations

from functools import lru_cache

from reality.gateways.render import ANSI16, ANSI256, PLAIN_TEXT, TRUECOLOR, render
from reality.net.protocols.telnet import Mtts, TerminalType

__all__ = [
    "CACHE_TEXT_LIMIT",
    "SCREEN_READER_NAMES",
    "capability_for",
    "render_bytes",
    "render_escaped",
    "screen_reader_for",
]

#: Clients whose TTYPE name says they can show ANSI colour.
_COLOUR_TERMINALS = (
    "ANSI", "XTERM", "VT100", "VT102", "VT220", "LINUX", "SCREEN", "TMUX", "RXVT", "PUTTY",
    "MUDLET", "TINTIN", "MUSHCLIENT", "CMUD", "ZMUD", "BLOWTORCH", "MUDRAMMER", "KILDCLIENT",
    "REALITY", "KONSOLE", "ALACRITTY", "KITTY", "WEZTERM", "ITERM", "GNOME",
)


#: Words in a client's TTYPE answers that say a screen reader reads it (case
#: and the separator between "screen" and "reader" do not matter). Clients
#: that know (TinTin++ with ``#config {SCREEN READER} ON``, Mudlet's
#: "advertise screen reader use", MUSHclient, Axmud) say so with MTTS bit 64
#: instead; these names catch the clients and proxies made for blind players
#: that answer TTYPE with their name only: VIPMud, MUSHz, Proxiani, and a
#: name that contains "screen reader" (or an NVDA or JAWS add-on naming itself).
SCREEN_READER_NAMES = ("SCREENREADER", "VIPMUD", "MUSHZ", "PROXIANI", "NVDA", "JAWS")


#: Texts longer than this are one-offs (a help page, a letter, a homepage):
#: rendered each time rather than kept in the cache, where they would crowd
#: out the short event lines that many sessions share.
CACHE_TEXT_LIMIT = 2048


def _render(text: str, capability: str, width: int) -> bytes:
    rendered = render(text, capability, width, "\r\n")
    if not rendered.endswith("\r\n"):
        rendered += "\r\n"
    return rendered.encode("utf-8", "replace")


# One cache for the whole server: a crowded room's bystanders share it.
_render_cached = lru_cache(maxsize=8192)(_render)


def render_bytes(text: str, capability: str, width: int) -> bytes:
    """``text`` (colour markup) rendered for a client, wrapped, CR LF line ends, UTF-8."""
    if len(text) > CACHE_TEXT_LIMIT:
        return _render(text, capability, width)
    return _render_cached(text, capability, width)


#: Texts heard in one window whose total length is above this are rendered
#: each time: the cache of heard sequences holds at most 256 x this many characters.
HEARD_CACHE_LIMIT = 8192


def _render_escaped(texts: tuple[str, ...], capability: str, width: int) -> bytes:
    data = b"".join([render_bytes(text, capability, width) for text in texts])
    if b"\xff" in data:
        data = data.replace(b"\xff", b"\xff\xff")
    return data


_render_escaped_cached = lru_cache(maxsize=256)(_render_escaped)


def render_escaped(texts: tuple[str, ...], capability: str, width: int) -> bytes:
    """``texts`` rendered one after another, as :func:`render_bytes`, with IAC doubled.

    Ready for :meth:`~reality.net.protocols.telnet.TelnetCodec.send_escaped`.
    One lookup for the lot: in a crowded room every listener heard the same
    few lines in the same window, so only the first of them renders them.
    """
    if sum(map(len, texts)) > HEARD_CACHE_LIMIT:
        return _render_escaped(texts, capability, width)
    return _render_escaped_cached(texts, capability, width)


def capability_for(terminal: TerminalType) -> str:
    """The colour capability a client's TTYPE/MTTS answers promise."""
    mtts = terminal.mtts
    if mtts is not None:
        if mtts & Mtts.TRUECOLOR:
            return TRUECOLOR
        if mtts & Mtts.COLORS_256:
            return ANSI256
        if mtts & Mtts.ANSI:
            return ANSI16
        return PLAIN_TEXT
    names = " ".join(terminal.names).upper()
    if "TRUECOLOR" in names or "24BIT" in names:
        return TRUECOLOR
    if "256COLOR" in names or "256-COLOR" in names:
        return ANSI256
    if any(name in names for name in _COLOUR_TERMINALS):
        return ANSI16
    return PLAIN_TEXT



def screen_reader_for(terminal: TerminalType) -> bool:
    """Whether a client's TTYPE/MTTS answers say that a screen reader reads it.

    MTTS bit 64 (``SCREEN_READER``) says so outright; otherwise a name from
    :data:`SCREEN_READER_NAMES` among the answers does ("MUSHz",
    "Screen-Reader", "VIPMUD/2.0" ...).
    """
    if terminal.mtts is not None and terminal.mtts & Mtts.SCREEN_READER:
        return True
    for name in terminal.names:
        squeezed = "".join(ch for ch in name.upper() if ch.isalnum() or ch == " ")
        words = squeezed.replace(" ", "")
        if any(known in words for known in SCREEN_READER_NAMES):
            return True
    return False
