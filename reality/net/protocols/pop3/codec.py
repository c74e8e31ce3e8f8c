"""The POP3 server's wire format, sans-IO: command lines in, responses out.

RFC 1939 3 (commands, status indicators, multi-line responses and their
byte-stuffing; TOP in 7) and RFC 2449 (the 255-octet command line, the
extended response codes ``-ERR [CODE] text``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from reality.lineends import crlf
from reality.net.protocols.basic import (
    BadCommandLine,
    Command,
    CommandLineCodec,
    LineTooLong,
)

__all__ = [
    "MAX_LINE_LENGTH",
    "POP3Event",
    "POP3ServerCodec",
    "err",
    "multi_line",
    "ok",
    "stuff_message",
    "top_of_message",
]

#: RFC 2449 4: a command line is at most 255 octets including its CRLF.
MAX_LINE_LENGTH = 255


POP3Event = Command | LineTooLong | BadCommandLine


class POP3ServerCodec(CommandLineCodec):
    """Frames a POP3 server's input into commands: the shared command-line
    framing with RFC 2449's limit of 255 octets a line by default."""

    __slots__ = ()

    def __init__(self, max_line_length: int = MAX_LINE_LENGTH) -> None:
        super().__init__(max_line_length)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def ok(text: str = "") -> bytes:
    """A positive status line: ``+OK text``."""
    text = _CONTROL.sub("?", text)
    return f"+OK {text}\r\n".encode() if text else b"+OK\r\n"


def err(text: str, code: str | None = None) -> bytes:
    """A negative status line, with an RFC 2449 response code if given: ``-ERR [CODE] text``."""
    text = _CONTROL.sub("?", text)
    if code:
        return f"-ERR [{code}] {text}\r\n".encode()
    return f"-ERR {text}\r\n".encode()


def multi_line(first: str, lines: Sequence[str]) -> bytes:
    """``+OK first``, the lines (byte-stuffed), and the terminating ``.``."""
    out = [ok(first)]
    for line in lines:
        line = _CONTROL.sub("?", line)
        out.append(f".{line}\r\n".encode() if line.startswith(".") else f"{line}\r\n".encode())
    out.append(b".\r\n")
    return b"".join(out)


def stuff_message(data: bytes) -> bytes:
    """A message as the body of a multi-line response: CRLF lines, dot-stuffed, ``.`` ending.

    RFC 1939 3: a line starting with "." gets another "." in front.
    """
    data = crlf(data)
    if data.startswith(b"."):
        data = b"." + data
    return data.replace(b"\r\n.", b"\r\n..") + b".\r\n"


def top_of_message(data: bytes, lines: int) -> bytes:
    """The header, the blank line, and the first ``lines`` lines of the body (RFC 1939 TOP)."""
    data = crlf(data)
    if data.startswith(b"\r\n"):
        head_end = 0
    else:
        found = data.find(b"\r\n\r\n")
        if found < 0:
            return data  # headers only: all of it
        head_end = found + 2
    end = head_end + 2
    for _ in range(lines):
        next_line = data.find(b"\r\n", end)
        if next_line < 0:
            end = len(data)
            break
        end = next_line + 2
    return data[:end]
