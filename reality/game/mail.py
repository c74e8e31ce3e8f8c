"""Letters and mailboxes in the world, the mail verbs, and the mail daemon.

Every player has a mailbox at ``<name>@<mail-domain>``. Letters arrive as
RFC 5322 message bytes, from the SMTP gateway or from the ``mail send``
verb (which writes a proper RFC 5322 message and delivers it the same
way), and are kept in SQLite through the store. No sockets here: the mail
gateway (:mod:`reality.gateways.mail`) turns SMTP and POP3 into calls on
the :class:`PostOffice`.

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
outside the game (``external``, the default of :meth:`PostOffice.deliver`)
is shown under its envelope sender, its From header marked ``[from outside
the game]``; only letters the game wrote (``mail send``) carry a player's
name.

What a mailbox keeps per letter is the text shown in the game and an
RFC 5322 message served by POP3: the message as received when it is a
plain text message, otherwise its header with the MIME headers replaced
by one text/plain part (the text, and a note naming the attachments that
were left out). A ``Return-Path:`` is added (RFC 5321 4.4), and a
``Date:`` or ``Message-ID:`` when the sender left them out. Line ends are
CRLF, so the size POP3 reports is exact.

Durability: :meth:`PostOffice.deliver` queues a delivery and commits every
delivery queued in the same reactor turn in one transaction (one
``fsync``), then calls each one's ``done`` callback: the SMTP gateway
answers ``250`` from there, never before the commit. The store runs
SQLite in WAL mode with ``synchronous=FULL``. The mailbox limit is checked
again inside that transaction (parallel sessions cannot overshoot it), and
a message whose Message-ID and envelope sender the mailbox already got
within :data:`DEDUPE_WINDOW` is acknowledged but not stored twice (a
sender resends when a ``250`` was lost). Postmaster mail that arrives while
there is no admin account is kept in ``held_letters`` and handed to the
first admin who logs in.

The mail daemon, after NetHack's: when a letter arrives for a connected
player, a mail daemon appears in their room (everyone there sees it),
hands over the letter ("You have mail from <from>: <subject>") and
vanishes on the next tick of the clock. Players who were away are told on
login how many unread letters wait (the world's ``unread_count`` hook).

Tables of the ``"mail"`` store component::

    letters(id, owner, sender, from_header, subject, sent_at, received_at,
            body, attachments JSON, message BLOB, read,
            external, envelope_from, message_id)
    held_letters(id, the same columns but owner and read)
"""

from __future__ import annotations

import email
import email.header
import email.parser
import email.policy
import email.utils
import html
import json
import logging
import math
import re
import time
import weakref
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage, Message
from typing import TYPE_CHECKING, Any

from attrs import define, evolve, frozen
from wcwidth import wcwidth

from reality.game import commands, markup
from reality.game.accounts import name_key
from reality.game.commands import Context, Refusal, VerbRegistry, WorldView
from reality.game.events import Event, deliver as deliver_event
from reality.game.store import MIGRATIONS, Migration, Store, register_migrations
from reality.game.text import clean_player_text
from reality.game.things import Npc, Player
from reality.lineends import crlf

if TYPE_CHECKING:
    from reality.game.world import World

log = logging.getLogger(__name__)

__all__ = [
    "Attachment",
    "Letter",
    "LetterSummary",
    "MailboxFull",
    "MailboxLocked",
    "MailboxSession",
    "PostOffice",
    "StoredLetter",
    "compose_letter",
    "ensure_schema",
    "html_to_text",
    "parse_letter",
    "post_office",
    "register_mail_verbs",
]

#: Letters a mailbox may hold; past it SMTP answers 452 4.2.2 and ``mail send`` refuses.
MAX_LETTERS = 1000
#: Longest subject or sender kept (characters).
MAX_HEADER_TEXT = 200
#: Longest body ``mail send`` accepts (characters).
MAX_SEND_BODY = 4000
#: Longest body ``mail read`` shows; POP3 always has the whole text.
MAX_SHOWN = 20_000
#: Letters ``mail`` lists at most (the newest ones).
MAX_LISTED = 50
#: Attachments named per letter at most (the rest are counted).
MAX_ATTACHMENTS = 50
#: MIME parts looked at per message at most: a deeply nested bomb costs nothing.
MAX_PARTS = 500
#: Seconds the mail daemon stays in the room: one tick.
DAEMON_LINGER = 1.0
#: Seconds a Message-ID is remembered per mailbox: the same message (same
#: Message-ID, same envelope sender) arriving again within it is acknowledged
#: and not stored twice. A client whose 250 was lost resends; RFC 5321
#: 4.5.4.1 has senders give up after 4-5 days, so a week covers every retry.
DEDUPE_WINDOW = 7 * 24 * 3600.0
#: Longest Message-ID kept for deduplication (characters); longer ones are not used.
MAX_MESSAGE_ID = 250

MAIL_MIGRATIONS: list[Migration] = [
    Migration(
        "letters",
        """
        CREATE TABLE letters (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            owner TEXT NOT NULL REFERENCES accounts(key),
            sender TEXT NOT NULL,
            from_header TEXT NOT NULL,
            subject TEXT NOT NULL,
            sent_at REAL,
            received_at REAL NOT NULL,
            body TEXT NOT NULL,
            attachments TEXT NOT NULL DEFAULT '[]',
            message BLOB NOT NULL,
            read INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX letters_by_owner ON letters(owner, id);
        """,
    ),
    Migration(
        # Letters stored before this step are marked as outside mail: the
        # safe reading, since nothing proves they were written in the game.
        "external mark, envelope sender and Message-ID for deduplication",
        """
        ALTER TABLE letters ADD COLUMN external INTEGER NOT NULL DEFAULT 1;
        ALTER TABLE letters ADD COLUMN envelope_from TEXT NOT NULL DEFAULT '';
        ALTER TABLE letters ADD COLUMN message_id TEXT NOT NULL DEFAULT '';
        CREATE INDEX letters_by_message_id ON letters(owner, message_id);
        """,
    ),
    Migration(
        # Mail for postmaster while no admin account exists (RFC 5321 4.5.1:
        # postmaster must always be accepted): kept here until an admin logs in.
        "held postmaster mail",
        """
        CREATE TABLE held_letters (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            sender TEXT NOT NULL,
            from_header TEXT NOT NULL,
            subject TEXT NOT NULL,
            sent_at REAL,
            received_at REAL NOT NULL,
            body TEXT NOT NULL,
            attachments TEXT NOT NULL DEFAULT '[]',
            message BLOB NOT NULL,
            external INTEGER NOT NULL DEFAULT 1,
            envelope_from TEXT NOT NULL DEFAULT '',
            message_id TEXT NOT NULL DEFAULT ''
        );
        """,
    ),
]

#: The recipient key of postmaster mail kept until an admin logs in (not a name
#: anyone can have: names are letters only).
HELD = "@postmaster"
#: The columns a letter has in both ``letters`` and ``held_letters``.
_LETTER_COLUMNS = (
    "sender, from_header, subject, sent_at, received_at, body, attachments, message,"
    " external, envelope_from, message_id"
)

register_migrations("mail", MAIL_MIGRATIONS)


def ensure_schema(store: Store) -> None:
    """Create or update the mail tables in a store opened before this module was imported."""
    store.migrate({"mail": MIGRATIONS["mail"]})


# -- letters ---------------------------------------------------------------------------


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


def _attachment_list(attachments: Sequence[Attachment]) -> str:
    return ", ".join(f"{a.name} ({a.size:,} bytes)" for a in attachments)


def _attachment_note(attachments: Sequence[Attachment], skipped: int) -> str:
    if not attachments:
        return ""
    more = f" and {skipped} more" if skipped else ""
    return f"[Attachments not kept by Reality: {_attachment_list(attachments)}{more}]"


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


# -- the post office ----------------------------------------------------------------------


class MailboxLocked(Exception):
    """A mail client (POP3) has this mailbox open."""


class MailboxFull(Exception):
    """A recipient's mailbox held its limit of letters when the delivery was committed."""

    def __init__(self, key: str) -> None:
        super().__init__(f"the mailbox of {key} is full")
        self.key = key


@define
class _Pending:
    recipients: list[str]
    letter: Letter
    done: Callable[[BaseException | None], None] | None


class _Daemon:
    """A mail daemon standing in a room for one player, until its timer fires."""

    __slots__ = ("npc", "room", "timer")

    def __init__(self, npc: Npc, room: Any, timer: Any) -> None:
        self.npc = npc
        self.room = room
        self.timer = timer


_OFFICES: weakref.WeakKeyDictionary[Any, PostOffice] = weakref.WeakKeyDictionary()


def post_office(world: World | WorldView) -> PostOffice | None:
    """The post office serving ``world``, if one was set up."""
    return _OFFICES.get(world)


class PostOffice:
    """Every mailbox of one world: delivery, reading, deleting, locks, the daemon.

    Creating one makes sure the mail tables exist, installs the world's
    ``unread_count`` hook, and makes the ``mail`` verb work in that world.
    """

    def __init__(
        self,
        world: World,
        *,
        max_letters: int = MAX_LETTERS,
        daemon_linger: float = DAEMON_LINGER,
    ) -> None:
        self.world = world
        self.store = world.store
        self.max_letters = max_letters
        self.daemon_linger = daemon_linger
        ensure_schema(self.store)
        self._pending: list[_Pending] = []
        self._flush_call: Any = None
        self._locks: set[str] = set()
        self._daemons: dict[str, _Daemon] = {}
        #: Commits so far and letters in them (for the benchmark and the logs).
        self.commits = 0
        self.letters_stored = 0
        world.unread_count = self.unread_count
        world.login_hooks.append(self._hand_held_mail)
        _OFFICES[world] = self

    # -- delivery ----------

    def deliver(
        self,
        recipients: Iterable[str],
        data: bytes,
        *,
        envelope_from: str = "",
        done: Callable[[BaseException | None], None] | None = None,
        now: bool = False,
        letter: Letter | None = None,
        external: bool = True,
    ) -> Letter:
        """Put a message into the mailboxes of ``recipients`` (player names).

        ``letter`` is the message already parsed (by a worker process);
        otherwise ``data`` is parsed here, as outside mail unless
        ``external`` is False (only for letters the game wrote itself).

        The mailbox limit is checked again at the commit, so deliveries that
        all passed their RCPT check cannot overfill a mailbox together: one
        that would gets ``done(MailboxFull)`` and is stored nowhere. A letter
        whose Message-ID and envelope sender a mailbox got within
        :data:`DEDUPE_WINDOW` is not stored there again, but is acknowledged
        (the sender is resending one whose acknowledgement was lost).

        The letter is committed together with every other delivery queued in
        this turn of the clock (``now=True`` commits at once); then
        ``done(None)`` is called, or ``done(error)`` if it could not be
        stored. Connected recipients get a visit from the mail daemon.
        """
        keys = list(dict.fromkeys(name_key(r) for r in recipients))
        if letter is None:
            letter = parse_letter(
                data,
                received_at=self.world.wall(),
                envelope_from=envelope_from,
                domain=self.world.mail_domain,
                external=external,
            )
        self._pending.append(_Pending(keys, letter, done))
        if now:
            self.flush()
        elif self._flush_call is None:
            # A zero delay runs after every read of this reactor turn, so all
            # the messages that arrived together share one commit.
            self._flush_call = self.world.clock.call_later(0, self.flush)
        return letter

    def flush(self) -> None:
        """Commit every queued delivery now, then tell the senders and the recipients."""
        call, self._flush_call = self._flush_call, None
        if call is not None and call.active():
            call.cancel()
        pending, self._pending = self._pending, []
        if not pending:
            return
        outcomes: list[tuple[_Pending, list[tuple[str, int]], BaseException | None]]
        try:
            with self.store.transaction():
                outcomes = [self._insert_or_refuse(p) for p in pending]
            self.commits += 1
        except Exception as exc:
            if len(pending) == 1:
                log.error("mail delivery failed: %s", exc, exc_info=True)
                outcomes = [(pending[0], [], exc)]
            else:
                # One bad delivery must not fail the others: one at a time.
                log.warning("a batch of %d deliveries failed (%s); retrying one by one",
                            len(pending), exc)
                outcomes = [self._deliver_alone(p) for p in pending]
        for p, ids, error in outcomes:
            if error is None:
                self.letters_stored += len(ids)
            if p.done is not None:
                try:
                    p.done(error)
                except Exception:
                    log.exception("mail delivery callback failed")
        arrivals: dict[str, list[tuple[int, Letter]]] = {}
        for p, ids, error in outcomes:
            if error is None:
                for key, letter_id in ids:
                    if key in self.world.online:
                        arrivals.setdefault(key, []).append((letter_id, p.letter))
        for key, letters in arrivals.items():
            try:
                self._announce(key, letters)
            except Exception:
                log.exception("the mail daemon failed to visit %s", key)

    def _deliver_alone(
        self, p: _Pending
    ) -> tuple[_Pending, list[tuple[str, int]], BaseException | None]:
        try:
            with self.store.transaction():
                outcome = self._insert_or_refuse(p)
        except Exception as exc:
            log.error("mail delivery to %s failed: %s", p.recipients, exc, exc_info=True)
            return (p, [], exc)
        self.commits += 1
        return outcome

    def _insert_or_refuse(
        self, p: _Pending
    ) -> tuple[_Pending, list[tuple[str, int]], BaseException | None]:
        try:
            return (p, self._insert(p), None)
        except MailboxFull as full:
            log.info("mail for %s refused at commit: mailbox full", full.key)
            return (p, [], full)

    def _is_duplicate(self, key: str, letter: Letter) -> bool:
        if not letter.message_id:
            return False
        since = letter.received_at - DEDUPE_WINDOW
        if key == HELD:
            row = self.store.db.execute(
                "SELECT 1 FROM held_letters WHERE message_id = ? AND envelope_from = ?"
                " AND received_at >= ? LIMIT 1",
                (letter.message_id, letter.envelope_from, since),
            ).fetchone()
            return row is not None
        row = self.store.db.execute(
            "SELECT 1 FROM letters WHERE owner = ? AND message_id = ? AND envelope_from = ?"
            " AND received_at >= ? LIMIT 1",
            (key, letter.message_id, letter.envelope_from, since),
        ).fetchone()
        return row is not None

    def _insert(self, p: _Pending) -> list[tuple[str, int]]:
        """Store one delivery (inside the caller's transaction); raises MailboxFull first."""
        letter = p.letter
        keys = [key for key in p.recipients if not self._is_duplicate(key, letter)]
        if len(keys) < len(p.recipients):
            log.info("message %s from <%s> already delivered to %d mailbox(es); kept once",
                     letter.message_id, letter.envelope_from, len(p.recipients) - len(keys))
        # Counted inside the transaction, which sees the letters this batch
        # stored already: sessions that passed RCPT together cannot overshoot.
        for key in keys:
            if self.count(key) >= self.max_letters:
                raise MailboxFull(key)
        attachments = json.dumps([[a.name, a.size] for a in letter.attachments])
        ids = []
        values = (
            letter.sender,
            letter.from_header,
            letter.subject,
            letter.sent_at,
            letter.received_at,
            letter.body,
            attachments,
            letter.message,
            int(letter.external),
            letter.envelope_from,
            letter.message_id,
        )
        marks = ", ".join("?" * len(values))
        for key in keys:
            if key == HELD:
                cursor = self.store.db.execute(
                    f"INSERT INTO held_letters({_LETTER_COLUMNS}) VALUES ({marks})", values
                )
            else:
                cursor = self.store.db.execute(
                    f"INSERT INTO letters(owner, {_LETTER_COLUMNS}) VALUES (?, {marks})",
                    (key, *values),
                )
            ids.append((key, int(cursor.lastrowid or 0)))
        return ids

    def send(self, sender: Player, recipient: str, subject: str, body: str) -> None:
        """An in-game letter from a player, written as RFC 5322 and delivered at once.

        Raises :class:`~reality.game.commands.Refusal` saying why not.
        """
        account = self.store.get_account(recipient)
        if account is None:
            raise Refusal(f"There is no player called '{markup.escape(recipient[:40])}'.")
        if self.is_full(account.key):
            raise Refusal(f"{account.name}'s mailbox is full; your letter was not sent.")
        domain = self.world.mail_domain
        data = compose_letter(
            from_name=sender.name,
            from_address=self.world.mail_address(sender),
            to_name=account.name,
            to_address=self.world.mail_address(account.name),
            subject=subject,
            body=body,
            when=self.world.wall(),
            domain=domain,
        )
        outcome: list[BaseException | None] = []

        def done(error: BaseException | None) -> None:
            outcome.append(error)
            if error is None:
                # Before the daemon's visit, so the sender reads it first.
                title = markup.escape(subject or "(no subject)")
                sender.show(f"You send a letter to {account.name}: {title}")

        self.deliver(
            [account.key],
            data,
            envelope_from=self.world.mail_address(sender),
            done=done,
            now=True,
            external=False,
        )
        if outcome and isinstance(outcome[0], MailboxFull):
            raise Refusal(f"{account.name}'s mailbox is full; your letter was not sent.")
        if not outcome or outcome[0] is not None:
            raise Refusal(
                "The mail daemon dropped your letter; nothing was sent. Please try again."
            )

    # -- the mail daemon ----------

    def _announce(self, key: str, letters: list[tuple[int, Letter]]) -> None:
        player = self.world.online.get(key)
        if player is None:
            return
        first_number = self._number_of(key, letters[0][0])
        lines = []
        for offset, (_letter_id, letter) in enumerate(letters):
            number = first_number + offset
            lines.append(
                f"{{bright_yellow}}You have mail from {markup.escape(letter.sender)}:"
                f" {markup.escape(letter.subject)}{{/}}"
                f"\nType 'mail read {number}' to read it."
            )
        room = player.location  # a connected player always stands somewhere
        what = "a letter" if len(letters) == 1 else f"{len(letters)} letters"
        daemon = self._daemons.get(key)
        if daemon is not None and daemon.room is room and daemon.npc in room.contents:
            daemon.timer.reset(self.daemon_linger)
            more = "another letter" if len(letters) == 1 else f"{len(letters)} more letters"
            deliver_event(
                Event(
                    room,
                    f"The mail daemon hands {player.name} {more}.",
                    target=player,
                    to_target=f"The mail daemon hands you {more}.",
                )
            )
        else:
            npc = Npc(
                f"@mail-daemon-{key}",
                "mail daemon",
                "A small harried daemon in a postman's cap, with a sack of letters.",
                aliases=("daemon",),
            )
            npc.location = room
            room.contents.append(npc)
            timer = self.world.clock.call_later(self.daemon_linger, self._vanish, key, npc)
            self._daemons[key] = _Daemon(npc, room, timer)
            deliver_event(
                Event(
                    room,
                    f"A mail daemon appears in a puff of smoke and hands {player.name} {what}.",
                    target=player,
                    to_target=f"A mail daemon appears in a puff of smoke and hands you {what}.",
                )
            )
        for line in lines:
            player.show(line)

    def _hand_held_mail(self, player: Player) -> None:
        """An admin logs in: postmaster mail kept while there was none goes to their mailbox."""
        if not player.admin or not self.count(HELD):
            return
        room = self.max_letters - self.count(player.key)
        if room <= 0:
            player.show("{bright_yellow}Mail for the postmaster is waiting, but your mailbox"
                        " is full.{/}")
            return
        with self.store.transaction():
            rows = self.store.db.execute(
                "SELECT id FROM held_letters ORDER BY id LIMIT ?", (room,)
            ).fetchall()
            ids = [(int(r[0]),) for r in rows]
            self.store.db.executemany(
                f"INSERT INTO letters(owner, {_LETTER_COLUMNS})"
                f" SELECT ?, {_LETTER_COLUMNS} FROM held_letters WHERE id = ?",
                [(player.key, i) for (i,) in ids],
            )
            self.store.db.executemany("DELETE FROM held_letters WHERE id = ?", ids)
        noun = "letter" if len(ids) == 1 else "letters"
        log.info("%d held postmaster %s handed to %s", len(ids), noun, player.key)
        player.show(
            f"{{bright_yellow}}{len(ids)} {noun} for the postmaster, kept until an admin"
            f" came, {'is' if len(ids) == 1 else 'are'} now in your mailbox.{{/}}"
            " Type 'mail' to read them."
        )

    def _number_of(self, key: str, letter_id: int) -> int:
        """A letter's number in its mailbox (1 = oldest)."""
        row = self.store.db.execute(
            "SELECT COUNT(*) FROM letters WHERE owner = ? AND id <= ?", (key, letter_id)
        ).fetchone()
        return int(row[0])

    def _vanish(self, key: str, npc: Npc) -> None:
        daemon = self._daemons.get(key)
        if daemon is not None and daemon.npc is npc:
            del self._daemons[key]
        room = npc.location
        npc.location = None
        if room is not None and npc in room.contents:
            room.contents.remove(npc)
            deliver_event(Event(room, "The mail daemon vanishes in a puff of smoke."))

    def close(self) -> None:
        """Commit what is queued and send every daemon home (at shutdown)."""
        self.flush()
        if self.commits:
            log.info(
                "post office: %d letters stored in %d commits since start",
                self.letters_stored,
                self.commits,
            )
        for key, daemon in list(self._daemons.items()):
            if daemon.timer.active():
                daemon.timer.cancel()
            self._vanish(key, daemon.npc)

    # -- reading ----------

    def unread_count(self, name: str) -> int:
        """Unread letters in a mailbox (the world's login hook)."""
        row = self.store.db.execute(
            "SELECT COUNT(*) FROM letters WHERE owner = ? AND read = 0", (name_key(name),)
        ).fetchone()
        return int(row[0])

    def count(self, name: str) -> int:
        """Letters in a mailbox (:data:`HELD`: postmaster mail waiting for an admin)."""
        if name == HELD:
            return int(self.store.db.execute("SELECT COUNT(*) FROM held_letters").fetchone()[0])
        row = self.store.db.execute(
            "SELECT COUNT(*) FROM letters WHERE owner = ?", (name_key(name),)
        ).fetchone()
        return int(row[0])

    def is_full(self, name: str) -> bool:
        """True when the mailbox holds :attr:`max_letters` letters."""
        return self.count(name) >= self.max_letters

    def summaries(self, name: str) -> list[LetterSummary]:
        """Every letter in a mailbox, oldest first, numbered from 1."""
        rows = self.store.db.execute(
            "SELECT id, sender, subject, sent_at, received_at, read FROM letters"
            " WHERE owner = ? ORDER BY id",
            (name_key(name),),
        ).fetchall()
        return [
            LetterSummary(n, r[0], r[1], r[2], r[3], r[4], bool(r[5]))
            for n, r in enumerate(rows, 1)
        ]

    def letter(self, name: str, number: int) -> StoredLetter | None:
        """Letter ``number`` (1 = oldest) of a mailbox, or None."""
        key = name_key(name)
        total = self.count(key)
        if not 1 <= number <= total:
            return None
        row = self.store.db.execute(
            "SELECT id, sender, from_header, subject, sent_at, received_at, body, attachments,"
            " read FROM letters WHERE owner = ? ORDER BY id LIMIT 1 OFFSET ?",
            (key, number - 1),
        ).fetchone()
        if row is None:
            return None
        try:
            attachments = tuple(Attachment(str(n), int(s)) for n, s in json.loads(row[7]))
        except (ValueError, TypeError):
            attachments = ()
        return StoredLetter(
            number, total, row[0], key, row[1], row[2], row[3], row[4], row[5], row[6],
            attachments, bool(row[8]),
        )  # fmt: skip

    def mark_read(self, letter: StoredLetter) -> None:
        """Remember that a letter was read (committed on return)."""
        if not letter.read:
            self._mark_read(letter.id, letter.owner)

    def _mark_read(self, letter_id: int, key: str) -> None:
        with self.store.transaction():
            self.store.db.execute(
                "UPDATE letters SET read = 1 WHERE id = ? AND owner = ?", (letter_id, key)
            )

    def delete(self, name: str, number: int) -> StoredLetter:
        """Delete letter ``number``; raises LookupError or :class:`MailboxLocked`."""
        key = name_key(name)
        if key in self._locks:
            raise MailboxLocked(key)
        letter = self.letter(key, number)
        if letter is None:
            raise LookupError(number)
        with self.store.transaction():
            self.store.db.execute(
                "DELETE FROM letters WHERE id = ? AND owner = ?", (letter.id, key)
            )
        return letter

    # -- POP3 sessions ----------

    def open_mailbox(self, name: str) -> MailboxSession:
        """Lock a mailbox for a mail client's session; raises :class:`MailboxLocked`."""
        key = name_key(name)
        if key in self._locks:
            raise MailboxLocked(key)
        session = MailboxSession(self, key)
        self._locks.add(key)
        return session

    def is_locked(self, name: str) -> bool:
        return name_key(name) in self._locks


class MailboxSession:
    """A locked mailbox for one POP3 session (the shape ``POP3Backend`` wants).

    The listing is fixed when the session starts (RFC 1939: letters that
    arrive meanwhile wait for the next session). Unique ids are the row id
    and arrival second, so they are never reused, even by a new database.
    """

    def __init__(self, office: PostOffice, key: str) -> None:
        self.office = office
        self.key = key
        rows = office.store.db.execute(
            "SELECT id, received_at, length(message) FROM letters WHERE owner = ? ORDER BY id",
            (key,),
        ).fetchall()
        self._ids = [int(r[0]) for r in rows]
        self._listing = [(f"{r[0]}.{int(r[1])}", int(r[2])) for r in rows]
        self._released = False

    def list_messages(self) -> Sequence[tuple[str, int]]:
        return self._listing

    def message(self, index: int) -> bytes:
        row = self.office.store.db.execute(
            "SELECT message FROM letters WHERE id = ? AND owner = ?", (self._ids[index], self.key)
        ).fetchone()
        if row is None:
            raise LookupError(f"letter {self._ids[index]} is gone")
        return bytes(row[0])

    def retrieved(self, index: int) -> None:
        """RETR sent the whole letter: it counts as read in the game too."""
        self.office._mark_read(self._ids[index], self.key)

    def commit_deletions(self, indices: Sequence[int]) -> None:
        """Delete the marked letters in one transaction (POP3 QUIT)."""
        ids = [(self._ids[i], self.key) for i in indices]
        with self.office.store.transaction():
            self.office.store.db.executemany(
                "DELETE FROM letters WHERE id = ? AND owner = ?", ids
            )
        log.info("POP3: %d letter(s) deleted from %s", len(ids), self.key)

    def release(self) -> None:
        if not self._released:
            self._released = True
            self.office._locks.discard(self.key)


# -- the verbs --------------------------------------------------------------------------------

USAGE = "mail | mail read <n> | mail delete <n> | mail send <player> <subject> = <text>"

HELP = (
    "{bold}Mail{/}\n"
    "Every player has a mailbox at <name>@<mail domain>: letters sent there with any mail"
    " program arrive in the game, brought by the mail daemon.\n"
    "mail                                    list your letters (* marks unread ones)\n"
    "mail read <n>                           read letter n\n"
    "mail delete <n>                         throw letter n away\n"
    "mail send <player> <subject> = <text>   write to a player, online or not\n"
    "Read the whole mailbox with a POP3 mail client: your name and password log you in."
)


def _short_date(stamp: float | None) -> str:
    """A date in exactly 16 columns: ``2023-11-14 22:13`` (UTC)."""
    if stamp is None:
        return "unknown date    "
    try:
        text = time.strftime("%Y-%m-%d %H:%M", time.gmtime(stamp))
    except (OverflowError, OSError, ValueError):
        text = "unknown date"
    return text[:16].ljust(16)


def _date_text(stamp: float | None) -> str:
    if stamp is None:
        return "unknown date"
    try:
        return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(stamp))
    except (OverflowError, OSError, ValueError):
        return "unknown date"


def _columns_of(text: str) -> int:
    """Terminal columns ``text`` takes (wcwidth: wide CJK and emoji 2, combining marks 0)."""
    if text.isascii():
        return len(text)
    return sum(max(0, wcwidth(ch)) for ch in text)


def _fit(text: str, width: int) -> str:
    """``text`` cut (with "...") and padded to exactly ``width`` terminal columns."""
    used = _columns_of(text)
    if used > width:
        keep: list[str] = []
        used = 0
        for ch in text:
            w = max(0, wcwidth(ch))
            if used + w > width - 3:
                break
            keep.append(ch)
            used += w
        text = "".join(keep) + "..."
        used += 3
    return text + " " * (width - used)


def _player_columns(player: Player) -> int:
    """The width to lay a table out for: the player's setting, else their terminal's, else 80."""
    setting = player.settings.get("width", "auto")
    if isinstance(setting, int) and setting > 0:
        return max(20, min(setting, 500))
    # A telnet session knows the window size (NAWS); others may not.
    width = getattr(player.session, "width", None)
    if isinstance(width, int) and width > 0:
        return max(20, min(width, 500))
    return 80


#: Columns of a listing row that are not the sender or the subject: the
#: spaces around the mark, the mark, two spaces before the date, the date.
_ROW_FIXED = 1 + 1 + 1 + 1 + 2 + 16


def _office(ctx: Context) -> PostOffice:
    office = post_office(ctx.world)
    if office is None:
        raise Refusal("There is no mail service in this world.")
    return office


def _number(text: str) -> int:
    text = text.strip()
    if not text:
        raise Refusal("Which letter? Give its number, as 'mail' lists them.")
    if not text.isdigit() or len(text) > 9:
        raise Refusal(f"'{markup.escape(text[:20])}' is not a letter number.")
    return int(text)


def _no_letter(office: PostOffice, player: Player, number: int) -> Refusal:
    total = office.count(player.key)
    if total == 0:
        return Refusal("Your mailbox is empty.")
    return Refusal(f"There is no letter {number}: you have {total}.")


def mail(ctx: Context, args: str) -> None:
    """The ``mail`` verb: list, read, delete, send (see :data:`USAGE`)."""
    office = _office(ctx)
    word, _, rest = args.strip().partition(" ")
    word = word.lower()
    if not word or word in ("list", "ls"):
        _list(ctx, office)
    elif word in ("read", "r", "show"):
        _read(ctx, office, rest)
    elif word.isdigit():
        _read(ctx, office, word)
    elif word in ("delete", "del", "d", "rm"):
        _delete(ctx, office, rest)
    elif word in ("send", "s", "write"):
        _send(ctx, office, rest)
    else:
        raise Refusal(f"Usage: {USAGE}")


def _list(ctx: Context, office: PostOffice) -> None:
    player = ctx.player
    address = ctx.world.mail_address(player)
    letters = office.summaries(player.key)
    if not letters:
        ctx.tell(f"Your mailbox is empty. Your address is {address}.")
        return
    unread = sum(1 for letter in letters if not letter.read)
    noun = "letter" if len(letters) == 1 else "letters"
    lines = [f"{{bold}}Your mailbox ({address}): {len(letters)} {noun}, {unread} unread.{{/}}"]
    shown = letters[-MAX_LISTED:]
    if len(shown) < len(letters):
        lines.append(f"(The newest {len(shown)}; 'mail read <n>' reads any of them.)")
    # Laid out in terminal columns, not characters (a subject in 日本語 or
    # with an emoji must not push the date), to fit the player's width.
    number_width = len(str(letters[-1].number))
    room = _player_columns(player) - number_width - _ROW_FIXED
    sender_width = max(6, min(24, room // 3))
    subject_width = max(6, room - sender_width)
    for letter in shown:
        mark = "{bright_yellow}*{/}" if not letter.read else " "
        sender = markup.escape(_fit(letter.sender, sender_width))
        subject = markup.escape(_fit(letter.subject, subject_width))
        when = _short_date(letter.sent_at or letter.received_at)
        lines.append(f"{letter.number:>{number_width}} {mark} {sender} {subject}  {when}")
    lines.append("Type 'mail read <n>' to read a letter. Times are UTC.")
    ctx.tell("\n".join(lines))


def _read(ctx: Context, office: PostOffice, rest: str) -> None:
    player = ctx.player
    number = _number(rest)
    letter = office.letter(player.key, number)
    if letter is None:
        raise _no_letter(office, player, number)
    lines = [
        f"{{bold}}Letter {letter.number} of {letter.total}{{/}}",
        f"From: {markup.escape(letter.from_header)}",
        f"Date: {_date_text(letter.sent_at or letter.received_at)}",
        f"Subject: {markup.escape(letter.subject)}",
    ]
    if letter.attachments:
        listed = _attachment_list(letter.attachments)
        lines.append(f"Attachments (not kept): {markup.escape(listed)}")
    body = letter.body
    if len(body) > MAX_SHOWN:
        body = body[:MAX_SHOWN] + "\n[... the rest is in your POP3 mailbox]"
    lines.append("")
    lines.append(markup.escape(body) if body else "(The letter is empty.)")
    ctx.tell("\n".join(lines))
    try:
        office.mark_read(letter)
    except Exception:
        # Reading worked; only the unread mark stays. Not worth failing the verb.
        log.exception("could not mark letter %s read", letter.id)


def _delete(ctx: Context, office: PostOffice, rest: str) -> None:
    player = ctx.player
    number = _number(rest)
    try:
        letter = office.delete(player.key, number)
    except MailboxLocked:
        raise Refusal(
            "Your mailbox is open in a mail program (POP3) right now;"
            " delete letters when it has finished."
        ) from None
    except LookupError:
        raise _no_letter(office, player, number) from None
    ctx.tell(
        f"You throw away letter {number}, from {markup.escape(letter.sender)}:"
        f" {markup.escape(letter.subject)}."
    )


def _send(ctx: Context, office: PostOffice, rest: str) -> None:
    head, sep, body = rest.partition("=")
    name, _, subject = head.strip().partition(" ")
    subject = " ".join(subject.split())
    body = body.strip()
    if not sep or not name:
        raise Refusal("Write: mail send <player> <subject> = <text>")
    if not body:
        raise Refusal("What does the letter say? Write it after the '='.")
    if len(subject) > MAX_HEADER_TEXT:
        raise Refusal(f"That subject is too long (at most {MAX_HEADER_TEXT} characters).")
    if len(body) > MAX_SEND_BODY:
        raise Refusal(f"That letter is too long (at most {MAX_SEND_BODY} characters).")
    if _CONTROL.search(subject + body):
        raise Refusal("A letter cannot contain control characters.")
    office.send(ctx.player, name, subject or "(no subject)", body)


def register_mail_verbs(registry: VerbRegistry) -> None:
    """Add ``mail`` to a verb registry (the shared one gets it on import)."""
    registry.register("mail", mail, usage=USAGE, help=HELP, category="mail")


register_mail_verbs(commands.VERBS)
commands.TOPICS.setdefault("mail", HELP)
