"""Line ends of Internet messages: the one place that makes them CRLF.

RFC 5322 2.1 and RFC 1939 3 (POP3) write a message with CRLF line ends.
The game stores letters in that form and counts their sizes in it, and the
POP3 server sends (and counts) whatever a mailbox gives it in the same
form, so that a ``LIST`` size is exactly the octets a ``RETR`` sends. One
function for both keeps the two counts from ever drifting apart.

Neither the engine (:mod:`reality.net`) nor the world (:mod:`reality.game`)
may import the other, so this lives beside them, importing nothing.
"""

from __future__ import annotations

__all__ = ["crlf"]


def crlf(data: bytes) -> bytes:
    """Every line end CRLF and a final CRLF (empty stays empty)."""
    if b"\n" in data:
        data = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    if data and not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data
