"""A message as IMAP sees it: MIME parts by octet, ENVELOPE, BODYSTRUCTURE, sections.

IMAP counts octets (``RFC822.SIZE``, ``BODY[1]<0.100>``, the sizes and
line counts inside ``BODYSTRUCTURE``), so the parts are cut from the
message's own bytes, never from a re-serialized copy: :class:`Part` finds
each part's header and body by its boundaries, and Python's :mod:`email`
package (``compat32``, which keeps header values as they were sent) reads
the header fields and their parameters.

RFC 3501 6.4.5 (sections), 7.4.2 (ENVELOPE, BODY, BODYSTRUCTURE).
"""

from __future__ import annotations

import email.parser
import email.policy
import email.utils
import re
from collections.abc import Sequence
from email.message import Message

from reality.net.protocols.imap.codec import nstring, quoted

__all__ = ["Part", "body_structure", "envelope", "header_fields", "section_bytes"]

_HEADER_PARSER = email.parser.BytesHeaderParser(policy=email.policy.compat32)
#: Nesting of multiparts and attached messages followed (deeper is one opaque part).
MAX_PARTS_DEPTH = 20
#: Parts of one multipart taken (the rest are ignored).
MAX_PARTS = 500


def split_header(data: bytes) -> tuple[bytes, bytes]:
    """``(header, body)``: the header with its blank line, and what follows it."""
    if data.startswith(b"\r\n"):
        return b"\r\n", data[2:]
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return data, b""
    return data[: end + 4], data[end + 4 :]


class Part:
    """One MIME part (the message itself is the outermost) over its raw octets."""

    __slots__ = ("header", "body", "fields", "children", "message", "_depth")

    def __init__(self, data: bytes, depth: int = 0, *, default_type: str = "text/plain") -> None:
        self.header, self.body = split_header(data)
        self.fields: Message = _HEADER_PARSER.parsebytes(self.header)
        if "content-type" not in self.fields:
            self.fields.set_default_type(default_type)
        self._depth = depth
        self.children: list[Part] = []
        self.message: Part | None = None  # the embedded message of a message/rfc822 part
        if depth >= MAX_PARTS_DEPTH:
            return
        maintype = self.maintype
        if maintype == "multipart":
            boundary = self.fields.get_param("boundary")
            if isinstance(boundary, str) and boundary:
                child_type = "message/rfc822" if self.subtype == "digest" else "text/plain"
                self.children = [
                    Part(chunk, depth + 1, default_type=child_type)
                    for chunk in _split_multipart(self.body, boundary.encode("utf-8", "replace"))
                ]
        elif maintype == "message" and self.subtype == "rfc822":
            self.message = Part(self.body, depth + 1)

    @property
    def maintype(self) -> str:
        return self.fields.get_content_maintype()

    @property
    def subtype(self) -> str:
        return self.fields.get_content_subtype()

    def part(self, numbers: Sequence[int]) -> Part | None:
        """The part ``1.2.3`` names (RFC 3501 6.4.5), or None."""
        part: Part = self
        for number in numbers:
            if part.children:
                if not 1 <= number <= len(part.children):
                    return None
                part = part.children[number - 1]
            elif part.message is not None:
                inner = part.message
                if inner.children:
                    if not 1 <= number <= len(inner.children):
                        return None
                    part = inner.children[number - 1]
                elif number == 1:
                    part = inner
                else:
                    return None
            elif number == 1:
                continue  # a single-part message's part 1 is its body
            else:
                return None
        return part


_BOUNDARY_CACHE: dict[bytes, re.Pattern[bytes]] = {}


def _split_multipart(body: bytes, boundary: bytes) -> list[bytes]:
    pattern = _BOUNDARY_CACHE.get(boundary)
    if pattern is None:
        pattern = re.compile(rb"(?:^|\r\n)--" + re.escape(boundary) + rb"(--)?[ \t]*(?:\r\n|$)")
        if len(_BOUNDARY_CACHE) < 64:
            _BOUNDARY_CACHE[boundary] = pattern
    chunks: list[bytes] = []
    start: int | None = None
    for match in pattern.finditer(body):
        if start is not None:
            chunks.append(body[start : match.start()])
            if len(chunks) >= MAX_PARTS:
                return chunks
        if match.group(1):
            return chunks
        start = match.end()
    if start is not None:
        chunks.append(body[start:])  # no close delimiter: the rest is the last part
    return chunks


def _lines(body: bytes) -> int:
    if not body:
        return 0
    return body.count(b"\n") + (0 if body.endswith(b"\n") else 1)


def _unfold(value: str | None) -> str | None:
    if value is None:
        return None
    return re.sub(r"\r?\n(?=[ \t])", "", str(value)).strip()


def _header(fields: Message, name: str) -> str | None:
    value = fields.get(name)
    return _unfold(value) if value is not None else None


def _addresses(fields: Message, name: str) -> bytes:
    values = fields.get_all(name)
    if not values:
        return b"NIL"
    pairs = email.utils.getaddresses([_unfold(v) or "" for v in values])
    out = []
    for display, address in pairs:
        if not address and not display:
            continue
        mailbox, at, host = address.rpartition("@")
        if not at:
            mailbox, host = address, ""
        out.append(
            b"("
            + nstring(display or None)
            + b" NIL "
            + nstring(mailbox or None)
            + b" "
            + nstring(host or None)
            + b")"
        )
    return b"(" + b"".join(out) + b")" if out else b"NIL"


def envelope(part: Part) -> bytes:
    """RFC 3501 7.4.2 ENVELOPE of a message's header."""
    fields = part.fields
    sender = "sender" if fields.get("sender") else "from"
    reply_to = "reply-to" if fields.get("reply-to") else "from"
    items = [
        nstring(_header(fields, "date")),
        nstring(_header(fields, "subject")),
        _addresses(fields, "from"),
        _addresses(fields, sender),
        _addresses(fields, reply_to),
        _addresses(fields, "to"),
        _addresses(fields, "cc"),
        _addresses(fields, "bcc"),
        nstring(_header(fields, "in-reply-to")),
        nstring(_header(fields, "message-id")),
    ]
    return b"(" + b" ".join(items) + b")"


def _params(fields: Message, header: str) -> bytes:
    params = fields.get_params(header=header)
    if not params:
        return b"NIL"
    out = []
    for index, (key, value) in enumerate(params):
        if index == 0 and header == "content-type":
            continue  # the type itself
        if not key:
            continue
        if index == 0 and header == "content-disposition":
            continue
        value = email.utils.collapse_rfc2231_value(value) if isinstance(value, tuple) else value
        out.append(quoted(key.upper()) + b" " + quoted(str(value)))
    return b"(" + b" ".join(out) + b")" if out else b"NIL"


def _disposition(fields: Message) -> bytes:
    value = fields.get("content-disposition")
    if value is None:
        return b"NIL"
    kind = _unfold(str(value)).split(";", 1)[0].strip()  # type: ignore[union-attr]
    if not kind:
        return b"NIL"
    return b"(" + quoted(kind.upper()) + b" " + _params(fields, "content-disposition") + b")"


def _language(fields: Message) -> bytes:
    value = _header(fields, "content-language")
    if not value:
        return b"NIL"
    tags = [t.strip() for t in value.split(",") if t.strip()]
    if len(tags) == 1:
        return quoted(tags[0])
    return b"(" + b" ".join(quoted(t) for t in tags) + b")"


def body_structure(part: Part, extended: bool = True) -> bytes:
    """``BODYSTRUCTURE`` (``extended``) or ``BODY`` of a part (RFC 3501 7.4.2)."""
    fields = part.fields
    if part.children:
        out = b"".join(body_structure(child, extended) for child in part.children)
        out += b" " + quoted(part.subtype.upper())
        if extended:
            out += (
                b" "
                + _params(fields, "content-type")
                + b" "
                + _disposition(fields)
                + b" "
                + _language(fields)
                + b" "
                + nstring(_header(fields, "content-location"))
            )
        return b"(" + out + b")"
    encoding = (_header(fields, "content-transfer-encoding") or "7BIT").upper()
    items = [
        quoted(part.maintype.upper()),
        quoted(part.subtype.upper()),
        _params(fields, "content-type"),
        nstring(_header(fields, "content-id")),
        nstring(_header(fields, "content-description")),
        quoted(encoding),
        b"%d" % len(part.body),
    ]
    if part.message is not None:
        items.append(envelope(part.message))
        items.append(body_structure(part.message, extended))
        items.append(b"%d" % _lines(part.body))
    elif part.maintype == "text":
        items.append(b"%d" % _lines(part.body))
    if extended:
        items += [
            nstring(_header(fields, "content-md5")),
            _disposition(fields),
            _language(fields),
            nstring(_header(fields, "content-location")),
        ]
    return b"(" + b" ".join(items) + b")"


def header_fields(header: bytes, names: Sequence[str], *, exclude: bool) -> bytes:
    """The header lines named (or, with ``exclude``, not named), and a blank line."""
    wanted = {name.lower() for name in names}
    out: list[bytes] = []
    keep = False
    for line in header.split(b"\r\n"):
        if not line:
            continue
        if line[:1] in (b" ", b"\t"):
            if keep:
                out.append(line)
            continue
        name = line.split(b":", 1)[0].strip().decode("ascii", "replace").lower()
        keep = (name in wanted) != exclude
        if keep:
            out.append(line)
    return b"".join(line + b"\r\n" for line in out) + b"\r\n"


def section_bytes(
    message: Part, numbers: Sequence[int], text: str, names: Sequence[str]
) -> bytes | None:
    """The octets of ``BODY[numbers.text (names)]``; None if there is no such part.

    ``text`` is ``""``, ``HEADER``, ``HEADER.FIELDS``, ``HEADER.FIELDS.NOT``,
    ``TEXT`` or ``MIME`` (RFC 3501 6.4.5).
    """
    part = message.part(numbers)
    if part is None:
        return None
    if not numbers:
        whole = part
    else:
        whole = part
    if text == "":
        if not numbers:
            return message.header + message.body
        return part.body
    if text == "MIME":
        if not numbers:
            return None
        return part.header
    # HEADER, HEADER.FIELDS[.NOT], TEXT of a message: the top one, or a message/rfc822 part.
    target = whole if not numbers else whole.message
    if target is None:
        return None
    if text == "HEADER":
        return target.header
    if text == "TEXT":
        return target.body
    if text == "HEADER.FIELDS":
        return header_fields(target.header, names, exclude=False)
    if text == "HEADER.FIELDS.NOT":
        return header_fields(target.header, names, exclude=True)
    return None
