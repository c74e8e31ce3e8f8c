"""The IMAP server's wire format, sans-IO: commands in, response pieces out.

Input (RFC 3501 9, RFC 7888): a command is a tag, a name and arguments on
one line, except that a line ending in a literal marker ``{n}`` (or the
non-synchronizing ``{n+}`` of LITERAL+) is followed by exactly ``n``
octets and then the rest of the command. :class:`IMAPServerCodec` frames
that and turns each complete command into an :class:`IMAPCommand` whose
arguments are tokens:

- ``str``: an atom (``FLAGS``, ``1:*``, ``\\Seen``, ``BODY[HEADER.FIELDS
  (From)]<0.100>``: brackets keep what they enclose in the atom);
- ``bytes``: a string, quoted or literal;
- ``list``: a parenthesized list of tokens.

Every input is bounded before it is held: a line (``max_line_length``),
a literal (refused when announced, before one octet of it is read:
:class:`LiteralTooBig`), a whole command (``max_command``), the tokens
(``max_items``) and the nesting (``max_depth``). Nothing in here raises on
any bytes, and the work is linear in the input: each line end is searched
for once, each token matched once.

Output helpers (:func:`quoted`, :func:`astring`, :func:`nstring`,
:func:`literal`) choose the form a string can travel in, and
:func:`parse_sequence_set` / :func:`format_sequence_set` handle the
sequence sets of RFC 3501 9 (``1:*``, ``2,4:7``).
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence

from attrs import frozen

__all__ = [
    "BadSyntax",
    "Continue",
    "IMAPCommand",
    "IMAPEvent",
    "IMAPServerCodec",
    "LineTooLong",
    "LiteralTooBig",
    "RawLine",
    "SequenceSet",
    "Token",
    "astring",
    "format_sequence_set",
    "literal",
    "nstring",
    "parse_sequence_set",
    "quoted",
    "resolve_sequence_set",
]

Token = str | bytes | list  # type: ignore[type-arg]


@frozen
class IMAPCommand:
    """A whole command: ``tag``, ``name`` in upper case (``FETCH``, also for
    ``UID FETCH``, where ``uid`` is True) and its argument tokens."""

    tag: str
    name: str
    args: list  # type: ignore[type-arg]
    uid: bool = False


@frozen
class Continue:
    """A synchronizing literal was announced and is within bounds: send ``+``."""


@frozen
class LiteralTooBig:
    """A literal of ``size`` octets was announced over the bound and refused unread.

    ``sync``: it was a synchronizing literal (the client waits for ``+``,
    which it will not get: a tagged answer ends its command). A
    non-synchronizing one is on its way regardless: the session must close.
    """

    tag: str | None
    size: int
    sync: bool


@frozen
class LineTooLong:
    """A command line was longer than ``limit`` octets; the command was dropped.

    ``nonsync_literal``: the dropped line announced a LITERAL+ literal,
    whose octets are coming and cannot be told apart from commands.
    """

    tag: str | None
    limit: int
    nonsync_literal: bool = False


@frozen
class BadSyntax:
    """A complete command that could not be parsed: tagged (if a tag was read) ``BAD``."""

    tag: str | None
    text: str


@frozen
class RawLine:
    """A line taken as it is, not as a command (an AUTHENTICATE response, IDLE's ``DONE``)."""

    line: bytes


IMAPEvent = IMAPCommand | Continue | LiteralTooBig | LineTooLong | BadSyntax | RawLine

_LITERAL_MARK = re.compile(rb"\{(\d{1,20})(\+?)\}\r?$")
_TAG = re.compile(r"[!#$&',\-./0-9:;<=>?@A-Z\[^_`a-z|}~]+")
_TAG_BYTES = re.compile(rb"[!#$&',\-./0-9:;<=>?@A-Z\[^_`a-z|}~]{1,64}(?= )")
_TOKEN = re.compile(
    rb' +|(\()|(\))|"((?:[^"\\\r\n]|\\[\\"])*)"'
    rb'|([^ ()"\x00-\x1f\x7f\[\]{]*(?:\[[^\]\r\n]*\][^ ()"\x00-\x1f\x7f\[\]{]*)*)'
)
_UNESCAPE = re.compile(rb"\\([\\\"])")


class _SyntaxError(Exception):
    pass


class IMAPServerCodec:
    """Frames an IMAP server's input into events (see the module docstring).

    Feed bytes with :meth:`receive_data` and pull events with
    :meth:`next_event` (None: more bytes are needed). Set :attr:`raw` to
    take the next line as a :class:`RawLine` (AUTHENTICATE, IDLE).
    """

    __slots__ = (
        "max_line_length",
        "max_literal",
        "max_command",
        "max_items",
        "max_depth",
        "raw",
        "_buffer",
        "_scan",
        "_discarding",
        "_tail",
        "_parts",
        "_size",
        "_literal",
    )

    def __init__(
        self,
        max_line_length: int = 8192,
        max_literal: int = 64 * 1024,
        max_command: int = 256 * 1024,
        max_items: int = 4096,
        max_depth: int = 16,
    ) -> None:
        self.max_line_length = max_line_length
        self.max_literal = max_literal
        self.max_command = max_command
        self.max_items = max_items
        self.max_depth = max_depth
        #: Take the next line whole (a :class:`RawLine`), not as a command.
        self.raw = False
        self._buffer = bytearray()
        self._scan = 0
        self._discarding = False
        self._tail = b""  # the end of a line being discarded
        self._parts: list[bytes] = []  # lines and literals of the command so far
        self._size = 0
        self._literal: int | None = None  # octets of the literal being read

    @property
    def buffered(self) -> int:
        """Bytes received and not yet turned into events (a partial command included)."""
        return len(self._buffer) + self._size

    @property
    def pending_input(self) -> bool:
        """True if anything follows the last event (the STARTTLS injection check)."""
        return bool(self._buffer) or bool(self._parts)

    def receive_data(self, data: bytes) -> None:
        """Add bytes from the client."""
        self._buffer += data

    def receive(self, data: bytes) -> list[IMAPEvent]:
        """Add bytes and return every event they complete."""
        self.receive_data(data)
        events = []
        while (event := self.next_event()) is not None:
            events.append(event)
        return events

    def _reset(self) -> None:
        self._parts = []
        self._size = 0
        self._literal = None

    def _tag(self) -> str | None:
        first = self._parts[0] if self._parts else bytes(self._buffer[:80])
        match = _TAG_BYTES.match(first)
        return match.group().decode("ascii") if match else None

    def next_event(self) -> IMAPEvent | None:
        """The next event, or None until more bytes arrive."""
        buf = self._buffer
        while True:
            if self._literal is not None:
                size = self._literal
                if len(buf) < size:
                    return None
                self._parts.append(bytes(buf[:size]))
                del buf[:size]
                self._literal = None
                continue
            newline = buf.find(b"\n", self._scan)
            if newline < 0:
                if self._discarding:
                    self._tail = (self._tail + bytes(buf[-32:]))[-32:]
                    buf.clear()
                    self._scan = 0
                elif len(buf) >= self.max_line_length:
                    tag = self._tag()
                    self._tail = bytes(buf[-32:])
                    buf.clear()
                    self._scan = 0
                    self._discarding = True
                    self._reset()
                    return LineTooLong(tag, self.max_line_length)
                else:
                    self._scan = len(buf)
                return None
            end = newline + 1
            self._scan = 0
            if self._discarding:
                tail = (self._tail + bytes(buf[max(0, newline - 32) : newline]))[-32:]
                del buf[:end]
                self._discarding = False
                self._tail = b""
                mark = _LITERAL_MARK.search(tail)
                if mark and mark.group(2):
                    return LineTooLong(None, self.max_line_length, nonsync_literal=True)
                continue
            if end > self.max_line_length:
                tag = self._tag()
                mark = _LITERAL_MARK.search(bytes(buf[max(0, newline - 32) : newline]))
                del buf[:end]
                self._reset()
                return LineTooLong(
                    tag, self.max_line_length, nonsync_literal=bool(mark and mark.group(2))
                )
            line = bytes(buf[:newline])
            del buf[:end]
            if line.endswith(b"\r"):
                line = line[:-1]
            if self.raw and not self._parts:
                self.raw = False
                return RawLine(line)
            self._parts.append(line)
            self._size += len(line) + 2
            mark = _LITERAL_MARK.search(line)
            if mark is None:
                parts = self._parts
                self._reset()
                return self._parse(parts)
            size = int(mark.group(1))
            sync = not mark.group(2)
            if size > self.max_literal or self._size + size > self.max_command:
                tag = self._tag()
                self._reset()
                return LiteralTooBig(tag, size, sync)
            self._size += size
            self._literal = size
            if sync:
                return Continue()

    # -- parsing -------------------------------------------------------------------

    def _parse(self, parts: list[bytes]) -> IMAPCommand | BadSyntax:
        tag = None
        try:
            tokens = self._tokens(parts)
            if not tokens or type(tokens[0]) is not str or not _TAG.fullmatch(tokens[0]):
                return BadSyntax(None, "Missing or invalid tag")
            tag = tokens[0]
            if len(tokens) < 2 or type(tokens[1]) is not str:
                return BadSyntax(tag, "Missing command")
            name = tokens[1].upper()
            args = tokens[2:]
            if name == "UID":
                if not args or type(args[0]) is not str:
                    return BadSyntax(tag, "UID needs a command")
                return IMAPCommand(tag, args[0].upper(), args[1:], True)
            return IMAPCommand(tag, name, args)
        except _SyntaxError as error:
            return BadSyntax(tag if tag is not None else _tag_of(parts), str(error))

    def _tokens(self, parts: list[bytes]) -> list[Token]:
        top: list[Token] = []
        stack: list[list[Token]] = [top]
        items = 0
        max_items = self.max_items
        max_depth = self.max_depth
        last = len(parts) - 1
        for index in range(0, len(parts), 2):
            text = parts[index]
            if index < last:
                mark = _LITERAL_MARK.search(text)
                assert mark is not None
                text = text[: mark.start()]
            pos = 0
            size = len(text)
            while pos < size:
                match = _TOKEN.match(text, pos)
                if match is None or match.end() == pos:
                    raise _SyntaxError("Invalid characters in command")
                pos = match.end()
                if text[match.start()] == 0x20:
                    continue
                items += 1
                if items > max_items:
                    raise _SyntaxError("Too many items in command")
                if match.group(1) is not None:
                    if len(stack) > max_depth:
                        raise _SyntaxError("Lists nested too deeply")
                    new: list[Token] = []
                    stack[-1].append(new)
                    stack.append(new)
                elif match.group(2) is not None:
                    if len(stack) == 1:
                        raise _SyntaxError("Unbalanced parentheses")
                    stack.pop()
                elif match.group(3) is not None:
                    stack[-1].append(_UNESCAPE.sub(rb"\1", match.group(3)))
                else:
                    try:
                        stack[-1].append(match.group(4).decode("utf-8"))
                    except UnicodeDecodeError:
                        raise _SyntaxError("Atom is not valid UTF-8") from None
            if index < last:
                items += 1
                if items > max_items:
                    raise _SyntaxError("Too many items in command")
                stack[-1].append(parts[index + 1])
        if len(stack) != 1:
            raise _SyntaxError("Unbalanced parentheses")
        return top


def _tag_of(parts: list[bytes]) -> str | None:
    match = _TAG_BYTES.match(parts[0]) if parts else None
    return match.group().decode("ascii") if match else None


# -- output ------------------------------------------------------------------------

_QUOTABLE = re.compile(rb"[^\x00\r\n\x80-\xff]{0,1024}")
_ATOM = re.compile(rb"[!#$&'+\-./0-9:;<=>?@A-Z\[^_`a-z|}~]+")


def literal(data: bytes) -> bytes:
    """``{n}`` CRLF and the octets."""
    return b"{%d}\r\n%s" % (len(data), data)


def quoted(value: str | bytes) -> bytes:
    """A quoted string if the value can be one, else a literal."""
    data = value.encode("utf-8") if isinstance(value, str) else value
    if _QUOTABLE.fullmatch(data):
        return b'"' + data.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'
    return literal(data)


def nstring(value: str | bytes | None) -> bytes:
    """``NIL`` for None, else :func:`quoted`."""
    return b"NIL" if value is None else quoted(value)


def astring(value: str) -> bytes:
    """An atom if the value is one (and not ``NIL``), else :func:`quoted`."""
    data = value.encode("utf-8")
    if _ATOM.fullmatch(data) and data.upper() != b"NIL":
        return data
    return quoted(data)


# -- sequence sets -----------------------------------------------------------------

#: A parsed sequence set: ``(low, high)`` pieces, None standing for ``*``.
SequenceSet = list[tuple[int | None, int | None]]

_SET_PIECE = re.compile(r"(\d{1,10}|\*)(?::(\d{1,10}|\*))?")


def parse_sequence_set(text: str, max_pieces: int = 2048) -> SequenceSet | None:
    """``2,4:7,9:*`` as pieces; None if it is not a valid set (or has too many pieces).

    Numbers are 1 to 4294967295 (RFC 3501 9 ``nz-number``).
    """
    if not text or len(text) > 24 * max_pieces:
        return None
    pieces: SequenceSet = []
    for chunk in text.split(","):
        match = _SET_PIECE.fullmatch(chunk)
        if match is None:
            return None
        low_text, high_text = match.group(1), match.group(2)
        low = None if low_text == "*" else int(low_text)
        high = low if high_text is None else (None if high_text == "*" else int(high_text))
        for number in (low, high):
            if number is not None and not 1 <= number <= 0xFFFFFFFF:
                return None
        pieces.append((low, high))
        if len(pieces) > max_pieces:
            return None
    return pieces


def resolve_sequence_set(pieces: SequenceSet, numbers: Sequence[int]) -> list[int]:
    """Indices (0-based, ascending, each once) into the ascending ``numbers`` that the set names.

    ``numbers`` are the sequence numbers ``1..n`` or the UIDs of the
    mailbox; ``*`` is the largest of them (RFC 3501 6.4.8: ``UID 5:*``
    names the last message even if its UID is below 5). Linear in the
    pieces and the result, whatever ranges are asked for.
    """
    if not numbers:
        return []
    largest = numbers[-1]
    spans: list[tuple[int, int]] = []
    for low, high in pieces:
        a = largest if low is None else low
        b = largest if high is None else high
        if a > b:
            a, b = b, a
        start = bisect_left(numbers, a)
        stop = bisect_right(numbers, b)
        if start < stop:
            spans.append((start, stop))
    spans.sort()
    out: list[int] = []
    reached = 0
    for start, stop in spans:
        start = max(start, reached)
        if start < stop:
            out.extend(range(start, stop))
            reached = stop
    return out


def format_sequence_set(numbers: Iterable[int]) -> str:
    """The shortest ``a:b,c`` form of these numbers (sorted first)."""
    out: list[str] = []
    run_start: int | None = None
    previous = 0
    for number in sorted(set(numbers)):
        if run_start is not None and number == previous + 1:
            previous = number
            continue
        if run_start is not None:
            out.append(str(run_start) if run_start == previous else f"{run_start}:{previous}")
        run_start = previous = number
    if run_start is not None:
        out.append(str(run_start) if run_start == previous else f"{run_start}:{previous}")
    return ",".join(out)
