"""Where telnet meets the world: login, the command loop, prompts, colour, wrapping.

=======================  ==========================================================
:mod:`.capabilities`     :func:`capability_for` (TTYPE/MTTS -> colour), the shared
                         render cache
:mod:`.session`          :class:`TelnetSession`: the login dialogue, the play
                         loop, the command-rate queue; :class:`SessionHost`
:mod:`.gateway`          :class:`TelnetGateway` (the factory: limits, refusals,
                         MSSP, end-of-turn writes) and :func:`install`
=======================  ==========================================================

Each connection is a :class:`TelnetSession`, a :class:`TelnetProtocol`
that is also the world's *session* for the player (``show``,
``send_data``, ``disconnect``). A line travels::

    TelnetCodec -> TelnetSession.line_received -> World.execute
      -> Player.show(markup) -> TelnetSession.show -> render -> codec -> transport

Before login, the session speaks a small language of its own:

- ``create <name> <password>`` makes an account and logs in;
- ``connect <name> <password>`` logs in;
- a bare name starts the interactive flow: for a known name ``Password:``
  with the client's echo turned off (IAC WILL ECHO); for a new one a
  confirmation ("Create a new character named Carol? (y/n)"), then a
  password chosen twice, echo off;
- ``who``, ``help`` and ``quit`` work too.

These words are understood at every prompt of the dialogue, the password
prompts included; there ``quit``, ``n`` or an empty line go back to the
name prompt. A word players type as a command (every verb and direction
the world knows, the login words) is not a name. Names are public (``who``,
homepages, mail addresses), so the dialogue may say that a name is new;
a failed login gets one message whatever was wrong (docs/security.md).

Passwords are checked by the :class:`~reality.gateways.auth.Authenticator`
(scrypt in worker processes, throttled per address). Lines typed while a
check is under way wait in a small queue and run, in order, afterwards.

Floods: each session runs at most ``command_rate`` lines a second after a
burst of ``command_burst`` (a token bucket, before and after login); faster
lines wait in that session's queue (``max_queued_lines``). While the queue
is full the session's input is not parsed or read (it waits in the
kernel), and the lines of the chunk that filled it are dropped with a
message to the player, so one session's flood costs the others next to
nothing. GMCP ``Core.Ping`` answers share the
codec's bucket for AYT and negotiation. Output back-pressure (input not
handled while output is not drained; the connection closed when too much
stays unread) is the :class:`TelnetProtocol`'s.

Rendering: the world speaks colour markup; each session renders it to ANSI
(16, 256 or truecolour, from the client's TTYPE/MTTS answers) or to plain
text, word-wrapped to the NAWS width (80 until the client says). Renderings
are cached per (text, capability, width), and the world hands every
bystander the same string, so one event in a crowded room is rendered once
per kind of client. After each command the session sends a prompt, marked
with EOR or GA as negotiated. GMCP clients get ``Char.Name`` and
``Room.Info`` (and whatever else the world sends with ``send_data``);
MSSP clients get the server's status. For completing clients, Room.Info
also names who and what is in the room (sent again after a command when
that changed), and ``Client.Verbs`` follows login (see gateways/gmcp.py).
"""

from __future__ import annotations

from reality.gateways.telnet.capabilities import (
    CACHE_TEXT_LIMIT,
    _render_cached,
    capability_for,
    render_bytes,
)
from reality.gateways.telnet.gateway import (
    COMMAND_BURST,
    COMMAND_RATE,
    LOGIN_DEADLINE,
    LOGIN_TIMEOUT,
    MAX_QUEUED_LINES,
    TelnetGateway,
    install,
)
from reality.gateways.telnet.session import LOGIN_WORDS, PROMPT, SessionHost, TelnetSession

__all__ = [
    "CACHE_TEXT_LIMIT",
    "COMMAND_BURST",
    "COMMAND_RATE",
    "LOGIN_DEADLINE",
    "LOGIN_TIMEOUT",
    "LOGIN_WORDS",
    "MAX_QUEUED_LINES",
    "PROMPT",
    "SessionHost",
    "TelnetGateway",
    "TelnetSession",
    "_render_cached",
    "capability_for",
    "install",
    "render_bytes",
]
