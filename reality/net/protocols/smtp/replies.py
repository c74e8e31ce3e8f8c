"""SMTP replies on the wire (RFC 5321 4.2, RFC 2034 enhanced status codes).

A :class:`Reply` is a code, an optional enhanced status code (RFC 3463)
and one or more lines of text; :meth:`Reply.to_bytes` is its exact form on
the wire.
"""

from __future__ import annotations

import re

from attrs import frozen

__all__ = ["Reply", "clean_text"]

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def clean_text(text: str) -> str:
    """``text`` with every control character (CR and LF too) made ``?``.

    A reply line or a header field must never carry its own line break (it
    would forge a second reply, or a second header).
    """
    return _CONTROL.sub("?", text)


@frozen
class Reply:
    """One SMTP reply: a code, an optional enhanced status, one or more lines of text."""

    code: int
    text: str | tuple[str, ...]
    status: str | None = None

    def to_bytes(self) -> bytes:
        """The reply on the wire: ``250-first`` ... ``250 last``, each line ending CRLF."""
        lines = (self.text,) if isinstance(self.text, str) else self.text
        prefix = f"{self.status} " if self.status else ""
        out = []
        last = len(lines) - 1
        for index, line in enumerate(lines):
            sep = " " if index == last else "-"
            # Per RFC 2034 each line of a multi-line reply carries the status.
            out.append(f"{self.code}{sep}{prefix}{_CONTROL.sub('?', line)}\r\n")
        return "".join(out).encode("utf-8", "replace")
