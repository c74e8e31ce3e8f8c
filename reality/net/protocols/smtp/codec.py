"""The SMTP server's input framing, sans-IO: command lines, then message data.

RFC 5321 4.5.2 (dot-stuffing: a leading "." is removed, a lone "." ends
the data) and 4.5.3.1 (the 1,000-octet line and the message size limit,
applied while reading: an oversized message is read to its end and
dropped, never held). In DATA mode only CRLF ends a line and only
CRLF "." CRLF ends the message: a bare LF is data, which closes the door on
"SMTP smuggling" through differing line ends.

It knows nothing of the session rules: :class:`~.session.SMTPSession`
tells it when message data begins (:meth:`SMTPServerCodec.begin_data`).
"""

from __future__ import annotations

from attrs import frozen

from reality.net.protocols.basic import (
    BadCommandLine,
    Command,
    CommandLineCodec,
    LineTooLong,
)

__all__ = [
    "MAX_LINE_LENGTH",
    "MAX_MESSAGE_SIZE",
    "MessageLineTooLong",
    "MessageReceived",
    "MessageTooLarge",
    "SMTPEvent",
    "SMTPServerCodec",
]

#: RFC 5321 4.5.3.1.6: a text line is at most 1,000 octets with its CRLF.
#: Command lines get the same room (4.5.3.1.4 allows 512, but extensions
#: such as SIZE may lengthen them, and being generous costs nothing here).
MAX_LINE_LENGTH = 1000
#: The default message size limit, advertised as ``SIZE`` (RFC 1870).
MAX_MESSAGE_SIZE = 1 << 20


@frozen
class MessageReceived:
    """The message data, dot-unstuffed, up to (not including) the final ``.`` line."""

    data: bytes


@frozen
class MessageTooLarge:
    """The message passed the size limit; it was read to its end and dropped."""

    limit: int


@frozen
class MessageLineTooLong:
    """A line of the message passed the line limit; it was read to its end and dropped."""

    limit: int


SMTPEvent = (
    Command | LineTooLong | BadCommandLine | MessageReceived | MessageTooLarge | MessageLineTooLong
)

_COMMAND_MODE = 0
_AWAIT_DATA = 1  # a DATA command was returned: wait to be told whether data follows
_DATA_MODE = 2


class SMTPServerCodec(CommandLineCodec):
    """Frames an SMTP server's input: command lines, then message data after DATA.

    Command lines are framed as by :class:`CommandLineCodec` (pulled one
    at a time with :meth:`next_event`). After a ``DATA`` command
    :meth:`next_event` gives None until the session calls
    :meth:`begin_data` or :meth:`refuse_data`. In DATA mode only CRLF ends
    a line, and only CRLF ``.`` CRLF ends the message: a bare LF inside
    the data is data, which closes the door on "SMTP smuggling" through
    differing line ends.
    """

    __slots__ = (
        "_state",
        "_chunks",
        "_size",
        "_too_large",
        "_line_too_long",
        "max_message_size",
    )

    def __init__(
        self, max_line_length: int = MAX_LINE_LENGTH, max_message_size: int = MAX_MESSAGE_SIZE
    ) -> None:
        super().__init__(max_line_length)
        self.max_message_size = max_message_size
        self._state = _COMMAND_MODE
        self._chunks: list[bytes] = []
        self._size = 0
        self._too_large = False
        self._line_too_long = False

    @property
    def in_data(self) -> bool:
        """True while message data is being read (after :meth:`begin_data`, until its end)."""
        return self._state == _DATA_MODE

    @property
    def awaiting_data(self) -> bool:
        """True after a ``DATA`` command until :meth:`begin_data` or :meth:`refuse_data`."""
        return self._state == _AWAIT_DATA

    def begin_data(self) -> None:
        """The server answered DATA with 354: what follows is message data."""
        if self._state != _AWAIT_DATA:
            raise RuntimeError("begin_data() is only valid right after a DATA command")
        self._state = _DATA_MODE
        self._chunks = []
        self._size = 0
        self._too_large = False
        self._line_too_long = False

    def refuse_data(self) -> None:
        """The server refused DATA: what follows is commands again."""
        if self._state != _AWAIT_DATA:
            raise RuntimeError("refuse_data() is only valid right after a DATA command")
        self._state = _COMMAND_MODE

    def next_event(self) -> SMTPEvent | None:
        """The next event, or None if more bytes (or a DATA decision) are needed."""
        if self._state == _COMMAND_MODE:
            event = self.next_command()
            if type(event) is Command and event.verb == "DATA":
                self._state = _AWAIT_DATA
            return event
        if self._state == _DATA_MODE:
            return self._next_message()
        return None

    # -- message data ----------------------------------------------------------------

    def _next_message(self) -> SMTPEvent | None:
        buf = self._buffer
        limit = self.max_line_length
        max_size = self.max_message_size
        chunks = self._chunks
        pos = 0
        scan = self._scan
        try:
            while True:
                crlf = buf.find(b"\r\n", scan)
                if crlf < 0:
                    pending = len(buf) - pos
                    # A trailing CR may be the first half of a CRLF still on its way.
                    tail_cr = 1 if pending and buf[-1] == 13 else 0
                    if self._discarding:
                        pos = len(buf) - tail_cr
                    elif pending - tail_cr > limit - 2:
                        self._line_too_long = True
                        self._discarding = True
                        chunks.clear()
                        pos = len(buf) - tail_cr
                    scan = max(pos, len(buf) - 1)
                    return None
                end = crlf + 2
                scan = end
                if self._discarding:
                    self._discarding = False
                    pos = end
                    continue
                length = end - pos
                if length == 3 and buf[pos] == 46:  # the lone "." line
                    pos = end
                    scan = end
                    return self._finish_message()
                if length > limit:
                    self._line_too_long = True
                    chunks.clear()
                    pos = end
                    continue
                start = pos + 1 if buf[pos] == 46 else pos  # RFC 5321 4.5.2 unstuffing
                self._size += end - start
                if self._size > max_size:
                    self._too_large = True
                    chunks.clear()
                elif not (self._too_large or self._line_too_long):
                    chunks.append(bytes(buf[start:end]))
                pos = end
        finally:
            del buf[:pos]
            self._scan = scan - pos if scan > pos else 0

    def _finish_message(self) -> SMTPEvent:
        self._state = _COMMAND_MODE
        chunks = self._chunks
        self._chunks = []
        event: SMTPEvent
        if self._line_too_long:
            event = MessageLineTooLong(self.max_line_length)
        elif self._too_large:
            event = MessageTooLarge(self.max_message_size)
        else:
            event = MessageReceived(b"".join(chunks))
        self._size = 0
        self._too_large = self._line_too_long = False
        return event

