"""SEARCH criteria (RFC 3501 6.4.4): parsed from tokens, matched against messages.

:func:`parse_search` turns the argument tokens into a tree of tuples;
:func:`needs_message` says whether matching it needs the messages' bytes
(header and text keys) or only what the session knows (flags, UIDs,
dates, sizes); :func:`matches` decides one message. Strings match as
case-insensitive substrings of the decoded header value or text
(RFC 3501: "a message matches the key if the string is a substring of
the field").
"""

from __future__ import annotations

import datetime as dt
import email
import email.header
import email.policy
import email.utils
import re
from collections.abc import Callable
from typing import Any

from reality.net.protocols.imap.codec import SequenceSet, parse_sequence_set
from reality.net.protocols.imap.message import Part

__all__ = ["SearchError", "matches", "needs_message", "parse_date", "parse_search"]

Node = tuple[Any, ...]

_MONTHS = {
    m: i
    for i, m in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1
    )
}
_DATE = re.compile(r"(\d{1,2})-([A-Za-z]{3})-(\d{4})")

_FLAG_KEYS = {
    "ANSWERED": ("\\Answered", True),
    "UNANSWERED": ("\\Answered", False),
    "DELETED": ("\\Deleted", True),
    "UNDELETED": ("\\Deleted", False),
    "DRAFT": ("\\Draft", True),
    "UNDRAFT": ("\\Draft", False),
    "FLAGGED": ("\\Flagged", True),
    "UNFLAGGED": ("\\Flagged", False),
    "SEEN": ("\\Seen", True),
    "UNSEEN": ("\\Seen", False),
    "RECENT": ("\\Recent", True),
    "OLD": ("\\Recent", False),
}
_HEADER_KEYS = {"FROM", "TO", "CC", "BCC", "SUBJECT"}
_DATE_KEYS = {
    "SINCE": ("internal", "since"),
    "BEFORE": ("internal", "before"),
    "ON": ("internal", "on"),
    "SENTSINCE": ("sent", "since"),
    "SENTBEFORE": ("sent", "before"),
    "SENTON": ("sent", "on"),
}


#: Nesting of NOT, OR and groups taken (each level is a recursion).
MAX_DEPTH = 64


class SearchError(Exception):
    """The criteria are not valid: tagged BAD with this text."""


def parse_date(token: object) -> dt.date | None:
    """``1-Feb-1994`` (an atom or a quoted string) as a date; None if it is not one."""
    text = token.decode("ascii", "replace") if isinstance(token, bytes) else token
    if not isinstance(text, str):
        return None
    match = _DATE.fullmatch(text)
    if match is None:
        return None
    month = _MONTHS.get(match.group(2).lower())
    if month is None:
        return None
    try:
        return dt.date(int(match.group(3)), month, int(match.group(1)))
    except ValueError:
        return None


def _string(token: object, charset: str) -> str:
    if isinstance(token, bytes):
        try:
            return token.decode("utf-8" if charset == "UTF-8" else "ascii")
        except UnicodeDecodeError:
            raise SearchError("Search string is not valid in its charset") from None
    if isinstance(token, str):
        return token
    raise SearchError("Expected a string")


def parse_search(tokens: list[Any], charset: str = "UTF-8", max_pieces: int = 2048) -> Node:
    """The criteria as a tree (an AND of the keys); :class:`SearchError` if invalid."""
    position = [0]

    def take() -> Any:
        if position[0] >= len(tokens_):
            raise SearchError("Missing search key or argument")
        token = tokens_[position[0]]
        position[0] += 1
        return token

    tokens_ = tokens

    def number(token: object) -> int:
        if isinstance(token, str) and token.isdigit() and token.isascii() and len(token) <= 20:
            return int(token)
        raise SearchError("Expected a number")

    def key(depth: int) -> Node:
        nonlocal tokens_
        if depth > MAX_DEPTH:
            raise SearchError("Search criteria nested too deeply")
        token = take()
        if isinstance(token, list):
            if not token:
                raise SearchError("Empty search group")
            saved_tokens, saved_position = tokens_, position[0]
            tokens_, position[0] = token, 0
            nodes = []
            while position[0] < len(tokens_):
                nodes.append(key(depth + 1))
            tokens_, position[0] = saved_tokens, saved_position
            return ("and", nodes)
        if not isinstance(token, str):
            raise SearchError("Expected a search key")
        name = token.upper()
        if name == "ALL":
            return ("all",)
        if name in _FLAG_KEYS:
            flag, present = _FLAG_KEYS[name]
            return ("flag", flag, present)
        if name == "NEW":
            return ("and", [("flag", "\\Recent", True), ("flag", "\\Seen", False)])
        if name in ("KEYWORD", "UNKEYWORD"):
            word = take()
            if not isinstance(word, str):
                raise SearchError("Expected a keyword")
            return ("flag", word, name == "KEYWORD")
        if name in _HEADER_KEYS:
            return ("header", name.lower(), _string(take(), charset).lower())
        if name == "HEADER":
            field = _string(take(), charset)
            return ("header", field.lower(), _string(take(), charset).lower())
        if name in ("BODY", "TEXT"):
            return (name.lower(), _string(take(), charset).lower())
        if name in _DATE_KEYS:
            date = parse_date(take())
            if date is None:
                raise SearchError("Expected a date like 1-Feb-2024")
            which, op = _DATE_KEYS[name]
            return ("date", which, op, date)
        if name in ("LARGER", "SMALLER"):
            return ("size", name == "LARGER", number(take()))
        if name == "UID":
            return ("uid", _set(take(), max_pieces))
        if name == "NOT":
            return ("not", key(depth + 1))
        if name == "OR":
            left = key(depth + 1)
            return ("or", left, key(depth + 1))
        numbers = parse_sequence_set(name, max_pieces)
        if numbers is not None:
            return ("seq", numbers)
        raise SearchError(f"Unknown search key {token[:40]!r}")

    nodes = []
    while position[0] < len(tokens_):
        nodes.append(key(0))
    if not nodes:
        raise SearchError("Missing search key")
    return ("and", nodes) if len(nodes) != 1 else nodes[0]


def _set(token: object, max_pieces: int) -> SequenceSet:
    pieces = parse_sequence_set(token, max_pieces) if isinstance(token, str) else None
    if pieces is None:
        raise SearchError("Expected a sequence set")
    return pieces


def needs_message(node: Node) -> bool:
    """True if matching needs the message's bytes."""
    kind = node[0]
    if kind in ("header", "body", "text"):
        return True
    if kind == "date":
        return bool(node[1] == "sent")
    if kind == "and":
        return any(needs_message(n) for n in node[1])
    if kind == "or":
        return needs_message(node[1]) or needs_message(node[2])
    if kind == "not":
        return needs_message(node[1])
    return False


class Candidate:
    """What :func:`matches` may ask of one message."""

    __slots__ = ("seq", "uid", "flags", "internaldate", "size", "part", "in_set")

    def __init__(
        self,
        seq: int,
        uid: int,
        flags: frozenset[str],
        internaldate: float,
        size: int,
        part: Part | None,
        in_set: Callable[[SequenceSet, bool, int], bool],
    ) -> None:
        self.seq = seq
        self.uid = uid
        self.flags = flags
        self.internaldate = internaldate
        self.size = size
        self.part = part
        #: ``in_set(pieces, uid_set, number)``: the session's set lookup.
        self.in_set = in_set


def _decoded(value: str) -> str:
    try:
        return str(email.header.make_header(email.header.decode_header(value)))
    except Exception:
        return value


def _text_of(part: Part) -> str:
    """The decoded text of a part's leaves (text/* and message/* bodies), for BODY/TEXT."""
    if part.children:
        return "\n".join(_text_of(child) for child in part.children)
    if part.message is not None:
        inner = part.message
        return inner.header.decode("utf-8", "replace") + _text_of(inner)
    if part.maintype != "text":
        return ""
    encoding = (part.fields.get("content-transfer-encoding") or "").strip().lower()
    data = part.body
    if encoding in ("base64", "quoted-printable"):
        decoded = email.message_from_bytes(
            b"Content-Transfer-Encoding: " + encoding.encode() + b"\r\n\r\n" + data,
            policy=email.policy.compat32,
        ).get_payload(decode=True)
        if isinstance(decoded, bytes):
            data = decoded
    charset = part.fields.get_content_charset() or "utf-8"
    try:
        return data.decode(charset, "replace")
    except LookupError:
        return data.decode("utf-8", "replace")


def _sent_date(part: Part) -> dt.date | None:
    value = part.fields.get("date")
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(str(value)).date()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def matches(node: Node, message: Candidate) -> bool:
    """Whether ``message`` matches the criteria ``node``."""
    kind = node[0]
    if kind == "and":
        return all(matches(n, message) for n in node[1])
    if kind == "all":
        return True
    if kind == "flag":
        return bool((node[1] in message.flags) == node[2])
    if kind == "not":
        return not matches(node[1], message)
    if kind == "or":
        return matches(node[1], message) or matches(node[2], message)
    if kind == "seq":
        return message.in_set(node[1], False, message.seq)
    if kind == "uid":
        return message.in_set(node[1], True, message.uid)
    if kind == "size":
        return bool(message.size > node[2] if node[1] else message.size < node[2])
    if kind == "date":
        if node[1] == "internal":
            day: dt.date | None = dt.datetime.fromtimestamp(message.internaldate, dt.UTC).date()
        else:
            day = _sent_date(message.part) if message.part is not None else None
        if day is None:
            return False
        op = node[2]
        return bool(
            day >= node[3] if op == "since" else day < node[3] if op == "before" else day == node[3]
        )
    part = message.part
    if part is None:
        return False
    if kind == "header":
        needle = node[2]
        values = part.fields.get_all(node[1]) or []
        if not values:
            return False
        if not needle:
            return True
        return any(needle in _decoded(str(v)).lower() for v in values)
    if kind == "body":
        return bool(node[1] in _text_of(part).lower())
    if kind == "text":
        needle = node[1]
        header = part.header.decode("utf-8", "replace")
        return needle in _decoded(header).lower() or needle in _text_of(part).lower()
    return False
