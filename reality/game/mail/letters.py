"""Letters: RFC 5322 messages read into :class:`Letter` values, and written.

Parsing uses the standard ``email`` package with ``policy.default``
(RFC 5322 headers, RFC 2045-2047 MIME, RFC 2231 file names): the sender,
the subject, the date, the text/plain part (an HTML-only letter is reduced
to text), and the attachments, listed by name and size but not stored.
From and Date are read with ``email.utils`` instead of policy.default's
header classes, which cost a third of the CPU per SMTP message. Header
bytes sent unencoded are read as UTF-8 (RFC 6532). Parsing never raises:
any bytes make *some* letter. The HTML-to-text step is one forward pass,
linear in its input (:func:`html_to_text`); the gateway still parses every
message in a worker process, since what the email package costs depends
on bytes a stranger chose.

Who a letter is from: anyone can write any From header, so a letter from
outside the game (``external``, the default of
:meth:`~reality.game.mail.office.PostOffice.deliver`) is shown under its
envelope sender, its From header marked ``[from outside the game]``; only
letters the game wrote (``mail send``) carry a player's name.

What a mailbox keeps per letter is the text shown in the game and an
RFC 5322 message served by POP3: the message as received when it is a
plain text message, otherwise its header with the MIME headers replaced
by one text/plain part (the text, and a note naming the attachments that
were left out). A ``Return-Path:`` is added (RFC 5321 4.4), and a
``Date:`` or ``Message-ID:`` when the sender left them out. Line ends are
CRLF, so the size POP3 reports is exact.

Pure functions and values: no store, no world, no clock. The worker
process that parses untrusted mail needs nothing more than this module.
"""

from __future__ import annotations

import email
import email.header
import email.parser
import email.policy
import email.utils
import html
import logging
import math
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage, Message

from attrs import evolve, frozen

from reality.game.text import clean_player_text
from reality.lineends import crlf

log = logging.getLogger(__name__)

__all__ = [
    "MAX_ATTACHMENTS",
    "MAX_HEADER_TEXT",
    "MAX_MESSAGE_ID",
    "MAX_PARTS",
    "Attachment",
    "Letter",
    "LetterSummary",
    "StoredLetter",
    "attachment_list",
    "compose_letter",
    "has_control_characters",
    "html_to_text",
    "parse_letter",
]

#: Longest subject or sender kept (characters).
MAX_HEADER_TEXT = 200
#: Attachments named per letter at most (the rest are counted).
MAX_ATTACHMENTS = 50
#: MIME parts looked at per message at most: a deeply nested bomb costs nothing.
MAX_PARTS = 500
#: Longest Message-ID kept for deduplication (characters); longer ones are not used.
MAX_MESSAGE_ID = 250


@frozen
class Attachment:
    """A part of a message that was listed but not kept."""

    name: str
    size: int


@frozen
class Letter:
    """A parsed message, ready to be put into mailboxes."""

    #: Who it is from, short: the display name, or the address.
    sender: str
    #: The From header as text: ``Bob Example <bob@example.com>``.
    from_header: str
    subject: str
    #: The Date header as a POSIX time, None when missing or unreadable.
    sent_at: float | None
    received_at: float
    #: The text shown in the game (``\\n`` line ends, no control characters).
    body: str
    attachments: tuple[Attachment, ...]
    #: The RFC 5322 message POP3 serves (CRLF line ends).
    message: bytes
    #: The Message-ID the sender gave (``<...>``), ``""`` if none or unusable.
    message_id: str = ""
    #: The SMTP reverse-path (``""`` for ``<>``).
    envelope_from: str = ""
    #: True for mail from outside the game: it never shows as a player's letter.
    external: bool = False


@frozen
class LetterSummary:
    """One line of a mailbox listing."""

    number: int
    id: int
    sender: str
    subject: str
    sent_at: float | None
    received_at: float
    read: bool


@frozen
class StoredLetter:
    """A letter in a mailbox, with its number there (1 = oldest)."""

    number: int
    total: int
    id: int
    owner: str
    sender: str
    from_header: str
    subject: str
    sent_at: float | None
    received_at: float
    body: str
    attachments: tuple[Attachment, ...]
    read: bool


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_HEADER_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_MIME_FIELDS = frozenset(
    {
        b"mime-version",
        b"content-type",
        b"content-transfer-encoding",
        b"content-disposition",
        b"content-id",
        b"content-description",
        b"content-language",
        b"content-location",
        b"content-md5",
    }
)
_FIELD_NAME = re.compile(rb"[!-9;-~]+:")


def _clean_line(text: str, limit: int = MAX_HEADER_TEXT) -> str:
    """One line of header text: no control characters, single spaces, bounded."""
    text = " ".join(_HEADER_CONTROL.sub(" ", clean_player_text(_text(text))).split())
    if len(text) > limit:
        text = text[: limit - 3].rstrip() + "..."
    return text


def _clean_body(text: str) -> str:
    """Body text with ``\\n`` line ends and no control characters but tabs."""
    text = _text(text).replace("\r\n", "\n").replace("\r", "\n")
    return clean_player_text(_CONTROL.sub("", text), multiline=True).strip("\n").rstrip()


def has_control_characters(text: str) -> bool:
    """True when ``text`` holds a control character other than tab and newline."""
    return _CONTROL.search(text) is not None


def parse_letter(
    data: bytes,
    *,
    received_at: float,
    envelope_from: str = "",
    domain: str = "reality.localhost",
    external: bool = False,
) -> Letter:
    """Read a message (RFC 5322 bytes) into a :class:`Letter`. Never raises.

    ``envelope_from`` (the SMTP reverse-path, ``""`` for ``<>``) names the
    sender when the message has no usable From header, and becomes the
    ``Return-Path:``; ``domain`` names generated Message-IDs.

    ``external`` is for mail from outside the game. Anyone can write any
    From header, so such a letter is never shown under the name in it: the
    sender shown is the envelope sender, and the From header is shown marked
    as outside mail, with the envelope sender beside it when they differ.
    """
    data = crlf(bytes(data))
    letter = _parse_any(data, received_at, envelope_from, domain)
    fields, _ = _split_header(data)
    letter = evolve(letter, message_id=_message_id(fields), envelope_from=envelope_from)
    if external:
        letter = _mark_external(letter, envelope_from)
    return letter


def _mark_external(letter: Letter, envelope_from: str) -> Letter:
    """Outside mail: shown under its envelope sender, its From header marked."""
    path = _clean_line(envelope_from, MAX_HEADER_TEXT - 20)
    shown = path if "@" in path else f"<{path}>"
    _, address = email.utils.parseaddr(letter.from_header)
    if address and path and address.lower() == path.lower():
        note = "[from outside the game]"
    else:
        note = f"[from outside the game, sent by {shown}]"
    return evolve(
        letter, sender=shown, from_header=f"{letter.from_header} {note}", external=True
    )


def _message_id(fields: Sequence[bytes]) -> str:
    """The first Message-ID field's value, unfolded, or ``""``."""
    for field in fields:
        if _field_name(field) == b"message-id":
            value = " ".join(field.split(b":", 1)[1].decode("utf-8", "replace").split())
            return value if 0 < len(value) <= MAX_MESSAGE_ID else ""
    return ""


def _parse_any(data: bytes, received_at: float, envelope_from: str, domain: str) -> Letter:
    try:
        return _parse(data, received_at, envelope_from, domain)
    except Exception as exc:
        # The email package is lenient, but some messages still defeat it (a
        # multipart nested thousands deep exhausts its recursion). The letter
        # must not be lost: read the header alone and keep the rest as text.
        log.warning("message from <%s> kept as plain text: %r", envelope_from, exc)
    sender = _clean_line(envelope_from) or "unknown sender"
    from_header, subject, sent_at = sender, "(unreadable message)", None
    fields, rest = _split_header(data)
    try:
        msg = email.parser.BytesParser(policy=email.policy.default).parsebytes(
            b"".join(fields) + b"\r\n", headersonly=True
        )
        sender, from_header = _sender(msg, envelope_from)
        subject = _clean_line(_header_text(msg, "Subject")) or subject
        sent_at = _date(msg)
    except Exception:
        pass
    return Letter(
        sender=sender,
        from_header=from_header,
        subject=subject,
        sent_at=sent_at,
        received_at=received_at,
        body=_clean_body(rest.decode("utf-8", "replace")),
        attachments=(),
        message=_return_path(envelope_from) + data,
    )


def _parse(data: bytes, received_at: float, envelope_from: str, domain: str) -> Letter:
    msg = email.message_from_bytes(data, policy=email.policy.default)
    sender, from_header = _sender(msg, envelope_from)
    subject = _clean_line(_header_text(msg, "Subject")) or "(no subject)"
    sent_at = _date(msg)

    try:
        body_part = msg.get_body(preferencelist=("plain", "html"))
    except Exception:
        body_part = None
    text = ""
    if body_part is not None:
        text = _part_text(body_part)
        if body_part.get_content_type() == "text/html":
            text = html_to_text(text)
    extra_text, attachments, skipped = _other_parts(msg, body_part)
    text = "\n\n".join(t for t in map(_clean_body, (text, *extra_text)) if t)

    simple = (
        not msg.is_multipart()
        and body_part is msg
        and msg.get_content_type() == "text/plain"
        and not attachments
    )
    extra = b""
    if "date" not in msg:
        stamp = datetime.fromtimestamp(received_at, UTC)
        extra += f"Date: {email.utils.format_datetime(stamp)}\r\n".encode()
    if "message-id" not in msg:
        extra += f"Message-ID: {email.utils.make_msgid(domain=domain)}\r\n".encode()
    fields, rest = _split_header(data)
    if simple:
        message = _return_path(envelope_from) + b"".join(fields) + extra + b"\r\n" + rest
    else:
        kept = [f for f in fields if _field_name(f) not in _MIME_FIELDS]
        note = _attachment_note(attachments, skipped)
        message = (
            _return_path(envelope_from)
            + b"".join(kept)
            + extra
            + _text_part("\n\n".join(t for t in (text, note) if t))
        )
    return Letter(
        sender=sender,
        from_header=from_header,
        subject=subject,
        sent_at=sent_at,
        received_at=received_at,
        body=text,
        attachments=tuple(attachments),
        message=message,
    )


def _header_text(msg: Message, name: str) -> str:
    try:
        value = msg[name]
    except Exception:
        # policy.default parses on access; a malformed field falls back to raw.
        raw = [v for k, v in msg.raw_items() if k.lower() == name.lower()]
        return str(raw[0]) if raw else ""
    return "" if value is None else str(value)


def _raw_header(msg: Message, name: str) -> str | None:
    """The first ``name`` field as received (8-bit bytes read as UTF-8), unfolded."""
    wanted = name.lower()
    for key, value in msg.raw_items():
        if key.lower() == wanted:
            return " ".join(_text(str(value)).split())
    return None


def _text(value: str) -> str:
    """Header text with the parser's stand-ins for 8-bit bytes turned back into UTF-8."""
    try:
        raw = value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raw = value.encode("utf-8", "replace")
    return raw.decode("utf-8", "replace")


def _decode_words(text: str) -> str:
    """RFC 2047 encoded words decoded; text that will not decode is kept as it is."""
    if "=?" not in text:
        return text
    try:
        return str(email.header.make_header(email.header.decode_header(text)))
    except Exception:
        return text


def _sender(msg: Message, envelope_from: str) -> tuple[str, str]:
    # email.utils on the raw field: the same answer as policy.default's
    # address parser for real addresses, at a tenth of the cost (profiled:
    # it was a third of the CPU per SMTP message).
    raw = _raw_header(msg, "From")
    short = full = ""
    if raw:
        name, address = email.utils.parseaddr(raw)
        name = _clean_line(_decode_words(name))
        address = _clean_line(address)
        short = name or address
        full = f"{name} <{address}>" if name and address else short
        if not short:
            short = full = _clean_line(_decode_words(raw))
    if not short:
        short = full = _clean_line(envelope_from) or "unknown sender"
    return short, full


def _date(msg: Message) -> float | None:
    raw = _raw_header(msg, "Date")
    if not raw:
        return None
    try:
        when = email.utils.parsedate_to_datetime(raw)
        if when.tzinfo is None:
            # RFC 5322 3.3: "-0000" means the zone is unknown; read it as UTC.
            when = when.replace(tzinfo=UTC)
        stamp = when.timestamp()
    except Exception:
        return None
    return stamp if math.isfinite(stamp) else None


def _part_text(part: Message) -> str:
    try:
        content = part.get_content()
        if isinstance(content, bytes):
            content = content.decode("utf-8", "replace")
        return str(content)
    except Exception:
        pass
    try:
        payload = part.get_payload(decode=True) or b""
        if not isinstance(payload, bytes):
            return ""
        charset = part.get_content_charset() or "utf-8"
        try:
            return payload.decode(charset, "replace")
        except LookupError:
            return payload.decode("utf-8", "replace")
    except Exception:
        return ""


def _other_parts(
    msg: Message, body_part: Message | None
) -> tuple[list[str], list[Attachment], int]:
    """Inline text parts beside the body, the attachments, and how many were not named."""
    texts: list[str] = []
    found: list[Attachment] = []
    skipped = 0
    # An explicit stack: a message nested a thousand deep must not recurse.
    stack: list[tuple[Message, bool]] = [(msg, False)]
    seen = 0
    while stack and seen < MAX_PARTS:
        part, in_alternative = stack.pop()
        seen += 1
        if part is body_part:
            continue
        # Each header lookup re-parses the field under policy.default: look once.
        ctype = part.get_content_type()
        maintype = ctype.partition("/")[0]
        if maintype == "multipart":
            try:
                children = list(part.iter_parts())
            except Exception:
                children = []
            alternative = in_alternative or ctype == "multipart/alternative"
            stack.extend((child, alternative) for child in reversed(children))
            continue
        if len(found) >= MAX_ATTACHMENTS:
            if not in_alternative:
                skipped += 1
            continue
        try:
            filename = part.get_filename()
        except Exception:
            filename = None
        disposition = part.get_content_disposition()
        if filename is None and disposition != "attachment":
            if in_alternative:
                continue  # another rendering of the body
            if ctype == "text/plain":
                texts.append(_part_text(part))
                continue
        name = _clean_line(filename or "", 100) or f"unnamed {ctype}"
        found.append(Attachment(name, _part_size(part, maintype)))
    return texts, found, skipped


def _part_size(part: Message, maintype: str) -> int:
    try:
        if maintype == "message":
            inner = part.get_payload()
            if isinstance(inner, list) and inner:
                return len(inner[0].as_bytes())
        payload = part.get_payload(decode=True)
        return len(payload) if isinstance(payload, bytes) else 0
    except Exception:
        return 0


def attachment_list(attachments: Sequence[Attachment]) -> str:
    """Attachments as one line of text: ``name (1,234 bytes), ...``."""
    return ", ".join(f"{a.name} ({a.size:,} bytes)" for a in attachments)


def _attachment_note(attachments: Sequence[Attachment], skipped: int) -> str:
    if not attachments:
        return ""
    more = f" and {skipped} more" if skipped else ""
    return f"[Attachments not kept by Reality: {attachment_list(attachments)}{more}]"


def _split_header(data: bytes) -> tuple[list[bytes], bytes]:
    """The header fields (each with its continuation lines and CRLF) and the body."""
    fields: list[bytes] = []
    pos = 0
    while pos < len(data):
        end = data.find(b"\r\n", pos)
        if end < 0:
            end = len(data) - 2
        line = data[pos : end + 2]
        if line == b"\r\n":
            return fields, data[end + 2 :]
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += line
        elif _FIELD_NAME.match(line):
            fields.append(line)
        else:
            # Not a header line: the message has no blank line, the body starts here.
            return fields, data[pos:]
        pos = end + 2
    return fields, b""


def _field_name(field: bytes) -> bytes:
    return field.split(b":", 1)[0].strip().lower()


def _return_path(envelope_from: str) -> bytes:
    path = _HEADER_CONTROL.sub("", envelope_from)[:256]
    return f"Return-Path: <{path}>\r\n".encode("ascii", "replace")


def _text_part(text: str) -> bytes:
    part = EmailMessage(policy=email.policy.SMTP)
    part.set_content(text + "\n" if text else "")
    return crlf(part.as_bytes())


def compose_letter(
    *,
    from_name: str,
    from_address: str,
    to_name: str,
    to_address: str,
    subject: str,
    body: str,
    when: float,
    domain: str,
) -> bytes:
    """An in-game letter as a proper RFC 5322 message (From, To, Subject, Date, Message-ID)."""
    msg = EmailMessage(policy=email.policy.SMTP)
    from_local, _, from_domain = from_address.partition("@")
    to_local, _, to_domain = to_address.partition("@")
    msg["From"] = Address(display_name=from_name, username=from_local, domain=from_domain)
    msg["To"] = Address(display_name=to_name, username=to_local, domain=to_domain)
    msg["Subject"] = subject
    msg["Date"] = email.utils.format_datetime(datetime.fromtimestamp(when, UTC))
    msg["Message-ID"] = email.utils.make_msgid(domain=domain)
    msg["X-Mailer"] = "Reality (in-game mail)"
    msg.set_content(body + "\n")
    return msg.as_bytes()


# HTML to text in one pass. The standard library's HTMLParser rescans from
# every '<' that does not close (a message of "<a " repeated cost seconds
# for 30 KB: quadratic), so this reads the markup itself: every step starts
# where the last one ended and no scan goes back, so the cost is linear in
# the input. It follows what browsers do where it matters for the text: a
# tag left open at the end of the input is dropped, a quoted attribute
# value may hold '>', script and style content is never text.

#: Where markup begins: a comment, a declaration or processing instruction,
#: or a start or end tag. A '<' before anything else is text.
_MARKUP = re.compile(r"<(?:!--|[!?]|/?[A-Za-z])")
_TAG_NAME = re.compile(r"/?([A-Za-z][^\s/>]*)")
#: Inside a tag: its end, or the start of a quoted attribute value.
_IN_TAG = re.compile(r">|=\s*([\"'])")
_RAW_END = {name: re.compile(f"</{name}", re.IGNORECASE) for name in ("script", "style")}
_SPACES = re.compile(r"\s+")

_BLOCKS = frozenset(
    {
        "p", "div", "br", "tr", "li", "ul", "ol", "table", "h1", "h2", "h3", "h4",
        "h5", "h6", "blockquote", "pre", "hr", "section", "article", "header",
        "footer", "dt", "dd", "title",
    }
)  # fmt: skip


class _TextWriter:
    """The text side of :func:`html_to_text`: block elements break lines, <head> is hidden."""

    __slots__ = ("hidden", "out", "pre")

    def __init__(self) -> None:
        self.out: list[str] = []
        self.hidden = 0
        self.pre = 0

    def start(self, tag: str) -> None:
        if tag == "head":
            self.hidden += 1
        elif tag == "li":
            self.out.append("\n* ")
        elif tag in _BLOCKS:
            self.out.append("\n")
        if tag == "pre":
            self.pre += 1

    def end(self, tag: str) -> None:
        if tag == "head":
            self.hidden = max(0, self.hidden - 1)
        elif tag in _BLOCKS and tag != "li":
            self.out.append("\n")
        if tag == "pre":
            self.pre = max(0, self.pre - 1)

    def data(self, data: str) -> None:
        if self.hidden:
            return
        data = html.unescape(data)
        if not self.pre:
            data = _SPACES.sub(" ", data)
            if not self.out or self.out[-1].endswith("\n"):
                # Indentation in HTML source is not meant to be seen.
                data = data.lstrip(" ")
            if not data:
                return
        self.out.append(data)


def _tag_end(source: str, pos: int) -> int:
    """Where the tag whose attributes start at ``pos`` ends (after its '>'); -1 if it never does."""
    while True:
        m = _IN_TAG.search(source, pos)
        if m is None:
            return -1
        if m.group() == ">":
            return m.end()
        close = source.find(m.group(1), m.end())
        if close < 0:
            return -1
        pos = close + 1


def html_to_text(source: str) -> str:
    """Readable plain text from an HTML body (for HTML-only mail), in time linear in its length."""
    writer = _TextWriter()
    pos, end = 0, len(source)
    while pos < end:
        m = _MARKUP.search(source, pos)
        if m is None:
            writer.data(source[pos:])
            break
        if m.start() > pos:
            writer.data(source[pos : m.start()])
        marker = m.group()
        if marker == "<!--":
            close = source.find("-->", m.end())
            pos = end if close < 0 else close + 3
            continue
        if marker in ("<!", "<?"):
            close = source.find(">", m.end())
            pos = end if close < 0 else close + 1
            continue
        name = _TAG_NAME.match(source, m.start() + 1)
        assert name is not None  # _MARKUP saw a letter
        tag = name.group(1).lower()
        pos = _tag_end(source, name.end())
        if pos < 0:
            break  # a tag still open at the end of the input is not shown
        if name.group().startswith("/"):
            writer.end(tag)
            continue
        writer.start(tag)
        raw_end = _RAW_END.get(tag)
        if raw_end is not None:
            # Script and style hold no markup and no text: skip to their end tag.
            close = raw_end.search(source, pos)
            pos = -1 if close is None else _tag_end(source, close.end())
            if pos < 0:
                break
    lines = [line.rstrip() for line in "".join(writer.out).split("\n")]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n")
