"""HTTP/1.1 server: a sans-IO request parser, a response writer, the channel
Protocol that drives them, a connection-limiting factory and a small router.

The parser (:class:`RequestParser`) turns bytes into events (:class:`RequestHead`,
:class:`BodyData`, :class:`EndOfMessage`, :class:`ParseError`) and never
touches a socket or a clock; the writer (:class:`ResponseWriter`) turns
:class:`Response` values into bytes. :class:`HTTPChannel` is the thin
adapter between them and a transport: it calls the handler, answers
pipelined requests in order, and owns the timeouts.

Standards followed:

- RFC 9112 (HTTP/1.1 messages): §2.2 message parsing (CRLF only, leading
  empty lines ignored), §3 request line and §3.2 request-target forms
  (origin, absolute, authority for CONNECT, asterisk for OPTIONS), §3.2 Host
  rules, §5 field syntax (no whitespace before the colon, no obs-fold), §6
  message body length (Content-Length, Transfer-Encoding, and refusing
  both: request smuggling), §7.1 chunked coding with trailers, §9.3
  persistence (HTTP/1.1 persistent by default, HTTP/1.0 only with
  keep-alive) and §9.3.2 pipelining (responses in request order).
- RFC 9110 (semantics): §5.3 combining field lines, §6.6.1 Date
  (IMF-fixdate), §8.3 Content-Type, §9.3.2 HEAD, §10.1.1 Expect:
  100-continue (ignored in HTTP/1.0 requests), §15 status codes (400, 404,
  405 with Allow, 408, 413, 414, 417, 431 (RFC 6585), 500, 501, 503, 505).

Limits (see :class:`HTTPLimits`): request target 8 KiB (414), header section
32 KiB or 100 fields (431), body 1 MiB (413). Framing errors are decided by
the parser, before any handler or route sees the request. Deadlines (see
:class:`HTTPChannel`): a request head must arrive within ``header_timeout``
seconds of its first byte and a request body within ``body_timeout`` seconds
of its head, however steadily the bytes trickle in (408). A handler that
knows which requests may carry a body (``body_refusal``, as
:class:`Router` does per route and method) has a body it would not take
refused as soon as the head arrives (404, 405 or 413), without reading it. A client's bytes
never raise out of the parser: every problem becomes a :class:`ParseError`
carrying the status to answer, after which the connection is closed.
"""

from __future__ import annotations

import json as _json
import logging
import re
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import parse_qs, unquote

from attrs import Factory as _AttrsFactory, define, field, frozen

from reality.audit import audit, host_of
from reality.net.defer import Failure, maybe_deferred
from reality.net.protocol import Address, Factory, Protocol

__all__ = [
    "BODY_METHODS",
    "BodyData",
    "DateCache",
    "EndOfMessage",
    "HTTPChannel",
    "HTTPFactory",
    "HTTPLimits",
    "Headers",
    "KNOWN_METHODS",
    "ParseError",
    "Request",
    "RequestHead",
    "RequestParser",
    "Response",
    "ResponseWriter",
    "Router",
    "error_response",
    "http_date",
]

log = logging.getLogger(__name__)

#: Methods this server recognises (RFC 9110 §9 plus PATCH, RFC 5789). A method
#: outside this set is answered 501; one inside it that a resource does not
#: allow is answered 405 by the router.
KNOWN_METHODS: frozenset[str] = frozenset(
    {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}
)

REASONS: dict[int, str] = {
    100: "Continue",
    101: "Switching Protocols",
    200: "OK",
    201: "Created",
    202: "Accepted",
    204: "No Content",
    206: "Partial Content",
    301: "Moved Permanently",
    302: "Found",
    303: "See Other",
    304: "Not Modified",
    307: "Temporary Redirect",
    308: "Permanent Redirect",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    408: "Request Timeout",
    409: "Conflict",
    410: "Gone",
    411: "Length Required",
    412: "Precondition Failed",
    413: "Content Too Large",
    414: "URI Too Long",
    415: "Unsupported Media Type",
    417: "Expectation Failed",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
    505: "HTTP Version Not Supported",
}


@frozen
class HTTPLimits:
    """How much a client may send before it is refused (and with which status)."""

    #: Longest request-target, in bytes (414 beyond it).
    max_target: int = 8192
    #: Largest header section (the field lines after the request line), in bytes (431).
    max_header_bytes: int = 32768
    #: Most header field lines (431 beyond it). Trailers have the same limits.
    max_header_fields: int = 100
    #: Largest request body, in bytes, however it is framed (413).
    max_body: int = 1 << 20
    #: Longest chunk-size line, extensions included (400 beyond it).
    max_chunk_line: int = 4096
    #: Most empty lines tolerated before a request line (RFC 9112 §2.2).
    max_empty_lines: int = 16


DEFAULT_LIMITS = HTTPLimits()


# -- headers ---------------------------------------------------------------------


class Headers:
    """Header fields: an ordered, case-insensitive multi-dict of ``str``.

    ``get`` gives the first value, ``get_all`` every value, ``get_joined``
    the values combined with ", " (RFC 9110 §5.3). Names keep the case they
    were given (request headers arrive lower-cased from the parser).
    """

    __slots__ = ("_fields", "_version")

    def __init__(
        self, fields: Headers | Mapping[str, str] | Iterable[tuple[str, str]] | None = None
    ) -> None:
        # Each field is (lower-case name, name as given, value).
        self._fields: list[tuple[str, str, str]] = []
        # Bumped on every change so a writer can cache its encoding safely.
        self._version = 0
        if fields is None:
            return
        if isinstance(fields, Headers):
            self._fields = list(fields._fields)
            return
        pairs = fields.items() if isinstance(fields, Mapping) else fields
        for name, value in pairs:
            self._fields.append((name.lower(), name, value))

    @classmethod
    def _from_lowered(cls, fields: list[tuple[str, str, str]]) -> Headers:
        headers = cls.__new__(cls)
        headers._fields = fields
        headers._version = 0
        return headers

    def get(self, name: str, default: str | None = None) -> str | None:
        """The first value of ``name``, or ``default``."""
        key = name.lower()
        for lower, _, value in self._fields:
            if lower == key:
                return value
        return default

    def get_all(self, name: str) -> list[str]:
        """Every value of ``name``, in order."""
        key = name.lower()
        return [value for lower, _, value in self._fields if lower == key]

    def get_joined(self, name: str, default: str | None = None) -> str | None:
        """All values of ``name`` joined with ", ", or ``default`` if absent."""
        values = self.get_all(name)
        return ", ".join(values) if values else default

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        key = name.lower()
        return any(lower == key for lower, _, _ in self._fields)

    def __iter__(self) -> Iterator[str]:
        """Field names, in order (repeated names repeat)."""
        return (name for _, name, _ in self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    def items(self) -> list[tuple[str, str]]:
        """``(name, value)`` pairs, in order."""
        return [(name, value) for _, name, value in self._fields]

    def add(self, name: str, value: str) -> None:
        """Append a field (keeping any existing ones of that name)."""
        self._fields.append((name.lower(), name, value))
        self._version += 1

    def set(self, name: str, value: str) -> None:
        """Replace every field called ``name`` with one of this value."""
        self.remove(name)
        self.add(name, value)

    def set_default(self, name: str, value: str) -> str:
        """Add ``name: value`` unless ``name`` is present; return its first value."""
        existing = self.get(name)
        if existing is not None:
            return existing
        self.add(name, value)
        return value

    def remove(self, name: str) -> None:
        """Remove every field called ``name`` (nothing happens if there is none)."""
        key = name.lower()
        self._fields = [f for f in self._fields if f[0] != key]
        self._version += 1

    def copy(self) -> Headers:
        """An independent copy."""
        return Headers(self)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Headers):
            return [(k, v) for k, _, v in self._fields] == [(k, v) for k, _, v in other._fields]
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Headers({self.items()!r})"


HeadersLike = Headers | Mapping[str, str] | Iterable[tuple[str, str]] | None


def _to_headers(value: HeadersLike) -> Headers:
    if type(value) is Headers:
        return value
    return Headers(value)


# -- parser events ---------------------------------------------------------------


@define(slots=True)
class RequestHead:
    """A request line and header section have arrived (RFC 9112 §3, §5).

    ``content_length`` is the body size announced (0 when there is no body);
    ``chunked`` is true when the body uses the chunked coding instead.
    ``expect_continue`` says the client waits for ``100 Continue``.
    ``host`` is the Host field's value ("" without one).
    """

    method: str
    target: str
    version: str
    headers: Headers
    keep_alive: bool = True
    expect_continue: bool = False
    content_length: int = 0
    chunked: bool = False
    host: str = ""


@define(slots=True)
class BodyData:
    """A piece of the request body (chunk framing already removed)."""

    data: bytes


@frozen
class EndOfMessage:
    """The request is complete. ``trailers`` holds a chunked body's trailer fields."""

    trailers: Headers | None = None


_END = EndOfMessage()  # the common, trailer-less end (events are immutable)


@define(slots=True)
class ParseError:
    """The request cannot be accepted: answer ``status`` and close the connection."""

    status: int
    reason: str


Event = RequestHead | BodyData | EndOfMessage | ParseError


# -- the request parser ----------------------------------------------------------

_TCHAR = rb"!#$%&'*+\-.^_`|~0-9A-Za-z"
_TOKEN_RE = re.compile(b"[" + _TCHAR + b"]+")
_TARGET_RE = re.compile(rb"[\x21-\x7e]+")
_VERSION_RE = re.compile(rb"HTTP/([0-9])\.([0-9])")
# field-line = field-name ":" OWS field-value OWS; values may hold SP, HTAB,
# VCHAR and obs-text, never CR, LF, NUL or other controls (RFC 9112 §5).
_FIELD_LINE = b"[" + _TCHAR + rb"]+:[\t\x20-\x7e\x80-\xff]*"
_FIELDS_RE = re.compile(_FIELD_LINE + rb"(?:\r\n" + _FIELD_LINE + rb")*")
_HOST_RE = re.compile(rb"[A-Za-z0-9\-._~%!$&'()*+,;=:\[\]]*")
_HOST_STR_RE = re.compile(r"[A-Za-z0-9\-._~%!$&'()*+,;=:\[\]]*")
_HEX_RE = re.compile(rb"[0-9A-Fa-f]+")
_CHUNK_EXT_RE = re.compile(rb"[\t\x20-\x7e\x80-\xff]*")

# States of the parser.
_HEAD = 0
_BODY = 1
_CHUNK_SIZE = 2
_CHUNK_DATA = 3
_CHUNK_END = 4
_TRAILERS = 5
_DONE = 6  # a non-persistent request has ended: nothing after it is read
_ERROR = 7

# Fields that decide framing or connection handling, looked at while parsing.
_SPECIAL = frozenset({"content-length", "transfer-encoding", "host", "connection", "expect"})
# Room in the request line for the method, two spaces and "HTTP/1.1".
_LINE_SLACK = 64


def _target_too_long(limits: HTTPLimits) -> str:
    return f"request target is longer than {limits.max_target} bytes"


class _Reject(Exception):
    """Internal: stop parsing and answer ``status``."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(status, reason)
        self.status = status
        self.reason = reason


class RequestParser:
    """Sans-IO HTTP/1.1 request parser: ``receive(bytes) -> list[Event]``.

    Feed it whatever arrived; it returns the events that the bytes complete
    and keeps any partial message. ``max_requests`` bounds how many complete
    requests one call returns (the rest stays buffered and :attr:`blocked` is
    true; call ``receive(b"")`` later to go on): that lets a server bound
    pipelining. After a :class:`ParseError` or the end of a non-persistent
    request, further input is discarded.
    """

    __slots__ = (
        "limits",
        "known_methods",
        "_methods",
        "_buf",
        "_state",
        "_remaining",
        "_body_total",
        "_keep_alive",
        "_scan",
        "_line_len",
        "_head_started",
        "_empty_lines",
        "_blocked",
        "_last_block",
        "_last_fields",
        "_last_special",
    )

    def __init__(
        self,
        limits: HTTPLimits = DEFAULT_LIMITS,
        known_methods: frozenset[str] | set[str] = KNOWN_METHODS,
    ) -> None:
        self.limits = limits
        self.known_methods = frozenset(known_methods)
        self._methods = {m.encode("ascii"): m for m in self.known_methods}
        self._buf = bytearray()
        self._state = _HEAD
        self._remaining = 0  # body or chunk bytes still to come
        self._body_total = 0  # chunked: body bytes so far
        self._keep_alive = True
        self._scan = 0  # head: offset from the head's start already searched
        self._line_len = -1  # head: request line length once its CRLF is seen
        self._head_started = False
        self._empty_lines = 0
        self._blocked = False
        self._last_block = b""
        self._last_fields: list[tuple[str, str, str]] = []
        self._last_special: dict[str, list[str]] = {}

    # -- state for the adapter ---------------------------------------------------

    @property
    def head_started(self) -> bool:
        """Bytes of a request head have arrived but not the whole head."""
        return self._state == _HEAD and self._head_started

    @property
    def blocked(self) -> bool:
        """The last ``receive`` stopped at ``max_requests`` with input left over."""
        return self._blocked

    @property
    def finished(self) -> bool:
        """No further request will be parsed on this connection (error or close)."""
        return self._state >= _DONE

    @property
    def buffered(self) -> int:
        """How many received bytes are held, not yet turned into events."""
        return len(self._buf)

    def close(self) -> None:
        """Parse nothing more on this connection (after a timeout, say)."""
        self._state = _DONE
        self._buf.clear()
        self._blocked = False
        self._head_started = False

    # -- parsing ------------------------------------------------------------------

    def receive(self, data: bytes, max_requests: int | None = None) -> list[Event]:
        """Take newly received bytes; return the events they complete."""
        events: list[Event] = []
        self._blocked = False
        if self._state >= _DONE:
            return events
        buf = self._buf
        if buf:
            if data:
                buf += data
            src: bytes | bytearray = buf
        else:
            # Nothing held back: parse the new bytes where they are and keep
            # only what is left over (usually nothing).
            src = data if type(data) is bytes else bytes(data)
            if (
                self._state == _HEAD
                and not self._head_started
                and max_requests != 0
                and len(src) > 4
                and src.find(b"\r\n\r\n") == len(src) - 4
                and src[:2] != b"\r\n"
            ):
                # The usual case: exactly one request head, nothing after it.
                try:
                    head = self._parse_request(src[:-4])
                except _Reject as reject:
                    self._fail(events, reject.status, reject.reason)
                    return events
                except Exception as exc:  # see below
                    log.exception("HTTP parser failed on client input")
                    self._fail(events, 400, f"unparseable request ({type(exc).__name__})")
                    return events
                events.append(head)
                if self._state == _HEAD:
                    events.append(_END)
                    if not self._keep_alive:
                        self._state = _DONE
                return events
        try:
            pos = self._parse(src, events, max_requests)
        except _Reject as reject:
            self._fail(events, reject.status, reject.reason)
            return events
        except Exception as exc:  # a bug must not let a client's bytes escape as an exception
            log.exception("HTTP parser failed on client input")
            self._fail(events, 400, f"unparseable request ({type(exc).__name__})")
            return events
        if self._state >= _DONE:
            buf.clear()
        elif src is buf:
            if pos:
                del buf[:pos]
        elif pos < len(src):
            buf += memoryview(src)[pos:]
        return events

    def _fail(self, events: list[Event], status: int, reason: str) -> None:
        self._state = _ERROR
        self._buf.clear()
        self._blocked = False
        events.append(ParseError(status, reason))

    def _parse(self, buf: bytes | bytearray, events: list[Event], max_requests: int | None) -> int:
        pos = 0
        done = 0
        limits = self.limits
        while True:
            state = self._state
            n = len(buf)
            if state == _HEAD:
                if max_requests is not None and done >= max_requests:
                    if pos < n:
                        self._blocked = True
                    return pos
                if pos >= n:
                    return pos
                pos, complete = self._parse_head(buf, pos, n, events)
                if not complete:
                    return pos
                if self._state == _HEAD:  # no body: the request is complete
                    events.append(_END)
                    done += 1
                    if not self._keep_alive:
                        self._state = _DONE
                        return pos
            elif state == _BODY or state == _CHUNK_DATA:
                avail = n - pos
                if avail <= 0:
                    return pos
                take = self._remaining if self._remaining < avail else avail
                events.append(BodyData(bytes(buf[pos : pos + take])))
                pos += take
                self._remaining -= take
                if self._remaining == 0:
                    if state == _CHUNK_DATA:
                        self._state = _CHUNK_END
                    else:
                        done += self._end_message(events, None)
                        if self._state == _DONE:
                            return pos
            elif state == _CHUNK_SIZE:
                eol = buf.find(b"\r\n", pos, pos + limits.max_chunk_line + 2)
                if eol < 0:
                    if n - pos > limits.max_chunk_line:
                        raise _Reject(400, "chunk size line is too long")
                    if buf.find(b"\n", pos) >= 0:
                        raise _Reject(400, "chunk size line must end with CRLF")
                    return pos
                self._chunk_size(bytes(buf[pos:eol]))
                pos = eol + 2
            elif state == _CHUNK_END:
                if n - pos < 2:
                    if n > pos and buf[pos] != 0x0D:
                        raise _Reject(400, "chunk data is not followed by CRLF")
                    return pos
                if buf[pos] != 0x0D or buf[pos + 1] != 0x0A:
                    raise _Reject(400, "chunk data is not followed by CRLF")
                pos += 2
                self._state = _CHUNK_SIZE
            elif state == _TRAILERS:
                if n - pos < 2:
                    return pos
                if buf[pos] == 0x0D and buf[pos + 1] == 0x0A:
                    pos += 2
                    done += self._end_message(events, None)
                    if self._state == _DONE:
                        return pos
                    continue
                end = buf.find(b"\r\n\r\n", pos)
                if end < 0:
                    if n - pos > limits.max_header_bytes + 2:
                        raise _Reject(431, "trailer section is too large")
                    if buf.find(b"\n\n", pos) >= 0:
                        raise _Reject(400, "trailer section must use CRLF line endings")
                    return pos
                trailers, _ = self._parse_fields(bytes(buf[pos:end]), "trailer section")
                pos = end + 4
                done += self._end_message(events, trailers)
                if self._state == _DONE:
                    return pos
            else:  # pragma: no cover - _DONE and _ERROR return before parsing
                return pos

    def _end_message(self, events: list[Event], trailers: Headers | None) -> int:
        events.append(_END if trailers is None else EndOfMessage(trailers))
        self._state = _HEAD if self._keep_alive else _DONE
        return 1

    def _chunk_size(self, line: bytes) -> None:
        size_text, semi, ext = line.partition(b";")
        if semi:
            size_text = size_text.rstrip(b" \t")
            if not _CHUNK_EXT_RE.fullmatch(ext):
                raise _Reject(400, "invalid character in chunk extension")
        if not _HEX_RE.fullmatch(size_text):
            raise _Reject(400, "invalid chunk size")
        if len(size_text) > 16:
            raise _Reject(413, "chunk is too large")
        size = int(size_text, 16)
        self._body_total += size
        if self._body_total > self.limits.max_body:
            raise _Reject(413, f"request body is larger than {self.limits.max_body} bytes")
        if size == 0:
            self._state = _TRAILERS
        else:
            self._state = _CHUNK_DATA
            self._remaining = size

    # -- the request head ---------------------------------------------------------

    def _parse_head(
        self, buf: bytes | bytearray, pos: int, n: int, events: list[Event]
    ) -> tuple[int, bool]:
        """Parse a head starting at ``pos``: (bytes consumed up to, head complete)."""
        # RFC 9112 §2.2: ignore empty lines before the request line.
        while buf.startswith(b"\r\n", pos):
            self._head_started = True
            pos += 2
            self._empty_lines += 1
            if self._empty_lines > self.limits.max_empty_lines:
                raise _Reject(400, "too many empty lines before the request line")
        if pos >= n:
            # Only empty lines so far: consumed, but the head has begun.
            self._scan = 0
            return pos, False
        self._head_started = True
        end = buf.find(b"\r\n\r\n", pos + self._scan)
        if end < 0:
            self._check_partial_head(buf, pos, n)
            # Re-search only the tail next time (the terminator may straddle).
            self._scan = max(0, n - pos - 3)
            return pos, False
        head = buf[pos:end]
        if type(head) is not bytes:
            head = bytes(head)
        self._scan = 0
        self._line_len = -1
        self._empty_lines = 0
        self._head_started = False
        events.append(self._parse_request(head))
        return end + 4, True

    def _check_partial_head(self, buf: bytes | bytearray, pos: int, n: int) -> None:
        """Refuse an unfinished head early once it is already too long or malformed."""
        limits = self.limits
        max_line = limits.max_target + _LINE_SLACK
        if self._line_len < 0:
            eol = buf.find(b"\r\n", pos, pos + max_line + 2)
            if eol < 0:
                if n - pos > max_line:
                    # A space in the first bytes means a method was given and the
                    # target is what runs on.
                    if buf.find(b" ", pos, pos + _LINE_SLACK) >= 0:
                        raise _Reject(414, _target_too_long(limits))
                    raise _Reject(400, "request line is too long")
            else:
                self._line_len = eol - pos
                line = bytes(buf[pos:eol])
                first = line.find(b" ")
                last = line.rfind(b" ")
                if first > 0 and last > first and last - first - 1 > limits.max_target:
                    raise _Reject(414, f"request target is longer than {limits.max_target} bytes")
        if self._line_len >= 0 and n - pos - self._line_len - 2 > limits.max_header_bytes + 2:
            raise _Reject(431, f"header section is larger than {limits.max_header_bytes} bytes")
        if buf.find(b"\n\n", pos + self._scan) >= 0:
            raise _Reject(400, "request head must use CRLF line endings")

    def _parse_request(self, head: bytes) -> RequestHead:
        limits = self.limits
        line_end = head.find(b"\r\n")
        if line_end < 0:
            line, fields = head, b""
        else:
            line, fields = head[:line_end], head[line_end + 2 :]

        # Request line: method SP request-target SP HTTP-version (RFC 9112 §3).
        parts = line.split(b" ")
        if len(parts) != 3:
            first = line.find(b" ")
            last = line.rfind(b" ")
            if first > 0 and last - first - 1 > limits.max_target:
                raise _Reject(414, _target_too_long(limits))
            raise _Reject(400, "malformed request line")
        method, target, version_text = parts
        if len(target) > limits.max_target:
            raise _Reject(414, _target_too_long(limits))
        method_str = self._methods.get(method)
        if method_str is None and not _TOKEN_RE.fullmatch(method):
            raise _Reject(400, "malformed method in request line")
        if not _TARGET_RE.fullmatch(target):
            raise _Reject(400, "malformed request target")
        if version_text == b"HTTP/1.1":
            version = "1.1"
        elif version_text == b"HTTP/1.0":
            version = "1.0"
        else:
            match = _VERSION_RE.fullmatch(version_text)
            if match is None:
                raise _Reject(400, "malformed HTTP version in request line")
            if match.group(1) != b"1":
                raise _Reject(505, "only HTTP/1.x is supported")
            # RFC 9110 §6.2: a higher minor version is answered as the highest we speak.
            version = "1.1" if match.group(2) != b"0" else "1.0"
        http11 = version == "1.1"

        if fields == self._last_block and fields:
            # A persistent connection tends to repeat its header section word
            # for word; parsing is a function of the bytes, so reuse the result
            # (with a fresh Headers: handlers may change theirs). Built
            # inline: this is the per-request path of every keep-alive client.
            headers = Headers.__new__(Headers)
            headers._fields = self._last_fields[:]
            headers._version = 0
            special = self._last_special
            hosts = special.get("host")
        else:
            headers, special = self._parse_fields(fields, "header section")
            # Host (RFC 9112 §3.2): one, and a valid one.
            hosts = special.get("host")
            if hosts is not None:
                if len(hosts) > 1:
                    raise _Reject(400, "more than one Host header")
                if not _HOST_STR_RE.fullmatch(hosts[0]):
                    raise _Reject(400, "invalid Host header")
            self._last_block = fields
            self._last_fields = headers._fields[:]
            self._last_special = special
        # ... and required in HTTP/1.1.
        if hosts is None and http11:
            raise _Reject(400, "HTTP/1.1 request without a Host header")

        content_length = 0
        chunked = False
        expect_continue = False
        if hosts is not None and len(special) == 1 and method_str is not None:
            # The common case: a Host and nothing that changes framing or
            # persistence; only the target's form is left to check.
            keep_alive = http11
            if target[0] != 0x2F:
                self._check_target_form(method_str, target)
            elif method_str == "CONNECT":
                raise _Reject(400, "CONNECT needs an authority-form target")
            self._keep_alive = keep_alive
            return RequestHead(
                method_str,
                target.decode("ascii"),
                version,
                headers,
                keep_alive,
                False,
                0,
                False,
                hosts[0],  # type: ignore[index]
            )

        # Body length (RFC 9112 §6).
        te_values = special.get("transfer-encoding")
        cl_values = special.get("content-length")
        if te_values is not None:
            if cl_values is not None:
                raise _Reject(400, "both Content-Length and Transfer-Encoding")
            if not http11:
                raise _Reject(400, "Transfer-Encoding in an HTTP/1.0 request")
            codings = [c.strip(" \t").lower() for v in te_values for c in v.split(",")]
            codings = [c for c in codings if c]
            if not codings or codings[-1] != "chunked":
                raise _Reject(400, "the final transfer coding must be chunked")
            if len(codings) > 1:
                if "chunked" in codings[:-1]:
                    raise _Reject(400, "chunked transfer coding applied twice")
                raise _Reject(501, "unsupported transfer coding")
            chunked = True
        elif cl_values is not None:
            content_length = _content_length(cl_values, limits)

        # Expect (RFC 9110 §10.1.1): only 100-continue is known; HTTP/1.0 ignores it.
        expects = special.get("expect")
        if expects is not None and http11:
            wanted = {e.strip(" \t").lower() for v in expects for e in v.split(",")} - {""}
            if wanted - {"100-continue"}:
                raise _Reject(417, "unsupported expectation")
            expect_continue = bool(wanted) and (chunked or content_length > 0)

        # Persistence (RFC 9112 §9.3).
        connection = special.get("connection")
        if connection is None:
            keep_alive = http11
        else:
            tokens = {t.strip(" \t").lower() for v in connection for t in v.split(",")}
            if "close" in tokens:
                keep_alive = False
            else:
                keep_alive = http11 or "keep-alive" in tokens

        if method_str is None:
            name = method.decode("ascii")[:32]
            raise _Reject(501, f"method {name} is not implemented")

        if target[0] != 0x2F:  # not "/": not origin-form
            self._check_target_form(method_str, target)
        elif method_str == "CONNECT":
            raise _Reject(400, "CONNECT needs an authority-form target")

        if chunked:
            self._state = _CHUNK_SIZE
            self._body_total = 0
        elif content_length:
            self._state = _BODY
            self._remaining = content_length
        self._keep_alive = keep_alive
        return RequestHead(
            method_str,
            target.decode("ascii"),
            version,
            headers,
            keep_alive,
            expect_continue,
            content_length,
            chunked,
            hosts[0] if hosts else "",
        )

    @staticmethod
    def _check_target_form(method: str, target: bytes) -> None:
        """A target that is not origin-form must suit the method (RFC 9112 §3.2)."""
        if method == "CONNECT":
            if not _HOST_RE.fullmatch(target) or b":" not in target:
                raise _Reject(400, "CONNECT needs an authority-form target")
        elif target == b"*":
            if method != "OPTIONS":
                raise _Reject(400, "asterisk-form target is only for OPTIONS")
        elif not (target[:7].lower() == b"http://" or target[:8].lower() == b"https://"):
            raise _Reject(400, "malformed request target")

    def _parse_fields(self, block: bytes, what: str) -> tuple[Headers, dict[str, list[str]]]:
        """Parse field lines: the headers, and the values of the fields that
        decide framing and persistence (by lower-case name)."""
        special: dict[str, list[str]] = {}
        if not block:
            return Headers._from_lowered([]), special
        limits = self.limits
        if len(block) > limits.max_header_bytes:
            raise _Reject(431, f"{what} is larger than {limits.max_header_bytes} bytes")
        if block.count(b"\r\n") >= limits.max_header_fields:
            raise _Reject(431, f"{what} has more than {limits.max_header_fields} fields")
        if not _FIELDS_RE.fullmatch(block):
            raise _Reject(400, _diagnose_fields(block.split(b"\r\n")))
        # Validated: names are tokens and values hold no CR, LF or NUL, so the
        # block can be decoded once (Latin-1 keeps obs-text bytes as they are).
        fields: list[tuple[str, str, str]] = []
        append = fields.append
        for line in block.decode("latin-1").split("\r\n"):
            name, _, value = line.partition(":")
            key = name.lower()
            value = value.strip(" \t")
            if key in _SPECIAL:
                if key in special:
                    special[key].append(value)
                else:
                    special[key] = [value]
            append((key, key, value))
        return Headers._from_lowered(fields), special


def _content_length(values: list[str], limits: HTTPLimits) -> int:
    """The body length from Content-Length values; identical repeats are one value."""
    length = -1
    for value in values:
        for part in value.split(","):
            part = part.strip(" \t")
            if not (part.isascii() and part.isdigit()):
                raise _Reject(400, "invalid Content-Length")
            if len(part) > 19:
                raise _Reject(413, f"request body is larger than {limits.max_body} bytes")
            number = int(part)
            if length >= 0 and number != length:
                raise _Reject(400, "conflicting Content-Length values")
            length = number
    if length > limits.max_body:
        raise _Reject(413, f"request body is larger than {limits.max_body} bytes")
    return length


def _diagnose_fields(lines: list[bytes]) -> str:
    """Say what is wrong with a header section that failed validation."""
    for line in lines:
        if line[:1] in (b" ", b"\t"):
            return "obsolete line folding in header section"
        name, colon, value = line.partition(b":")
        if not colon:
            return "header line without a colon"
        if name != name.rstrip(b" \t"):
            return "whitespace between header field name and colon"
        if not _TOKEN_RE.fullmatch(name):
            return "invalid header field name"
        if b"\r" in value or b"\n" in value:
            return "bare CR or LF in header section"
        if not re.fullmatch(rb"[\t\x20-\x7e\x80-\xff]*", value):
            return "invalid character in header field value"
    return "malformed header section"


# -- requests and responses ------------------------------------------------------


@define(slots=True, eq=False)
class Request:
    """One HTTP request as a handler sees it.

    ``path`` is percent-decoded (UTF-8); ``raw_path`` is as received.
    ``query`` maps each parameter to its values. ``params`` holds what the
    router captured from the path pattern (decoded). ``peer`` is the
    client's address.
    """

    method: str
    path: str
    query: dict[str, list[str]]
    headers: Headers
    body: bytes = b""
    version: str = "1.1"
    peer: Address | None = None
    target: str = ""
    raw_path: str = ""
    query_string: str = ""
    host: str = ""
    params: dict[str, str] = _AttrsFactory(dict)
    trailers: Headers | None = None

    def arg(self, name: str, default: str | None = None) -> str | None:
        """The first value of query parameter ``name``, or ``default``."""
        values = self.query.get(name)
        return values[0] if values else default


Body = bytes | bytearray | memoryview | Iterable[bytes]


@define(slots=True, eq=False)
class Response:
    """What a handler returns: a status, header fields, and a body.

    ``body`` is bytes, or an iterable of bytes that is streamed (chunked to
    HTTP/1.1 clients unless a Content-Length is given). The server adds
    Date, Content-Length or Transfer-Encoding, and Connection; a text/*
    Content-Type without a charset gets ``; charset=utf-8``.

    A Response may be served many times (cache rendered pages as Response
    values): the encoded header fields are cached and recomputed only when
    ``headers`` changes.
    """

    status: int = 200
    headers: Headers = field(factory=Headers, converter=_to_headers)
    body: Body = b""
    _wire: tuple[Any, ...] | None = field(default=None, init=False, repr=False)
    _tails: dict[tuple[Any, ...], list[Any]] | None = field(default=None, init=False, repr=False)

    @classmethod
    def html(cls, text: str, status: int = 200, headers: HeadersLike = None) -> Response:
        """An HTML page, UTF-8 encoded."""
        h = Headers(headers)
        h.set_default("Content-Type", "text/html; charset=utf-8")
        return cls(status, h, text.encode("utf-8"))

    @classmethod
    def text(cls, text: str, status: int = 200, headers: HeadersLike = None) -> Response:
        """Plain text, UTF-8 encoded."""
        h = Headers(headers)
        h.set_default("Content-Type", "text/plain; charset=utf-8")
        return cls(status, h, text.encode("utf-8"))

    @classmethod
    def json(cls, value: Any, status: int = 200, headers: HeadersLike = None) -> Response:
        """A JSON document (RFC 8259: always UTF-8, so no charset parameter)."""
        h = Headers(headers)
        h.set_default("Content-Type", "application/json")
        body = _json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return cls(status, h, body)

    @classmethod
    def redirect(cls, location: str, status: int = 303) -> Response:
        """A redirect to ``location``."""
        return cls(status, Headers([("Location", location)]), b"")


def error_response(status: int, detail: str = "", headers: HeadersLike = None) -> Response:
    """A short plain-text answer for an error status, e.g. ``404 Not Found``."""
    text = f"{status} {REASONS.get(status, 'Error')}"
    if detail:
        text += f": {detail}"
    return Response.text(text + "\n", status, headers)


# -- the response writer ---------------------------------------------------------

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def http_date(seconds: float) -> str:
    """``seconds`` since the epoch as an IMF-fixdate (RFC 9110 §5.6.7)."""
    t = time.gmtime(seconds)
    return (
        f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year:04d} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT"
    )


class DateCache:
    """The ``Date:`` field line, formatted once per second of wall-clock time.

    ``now`` is the wall clock (not the reactor's monotonic clock: Date is a
    calendar time); tests pass a fixed function.
    """

    __slots__ = ("now", "_second", "_line")

    def __init__(self, now: Callable[[], float] = time.time) -> None:
        self.now = now
        self._second = -1
        self._line = b""

    def line(self) -> bytes:
        """``b"Date: <IMF-fixdate>\\r\\n"`` for the current second."""
        second = int(self.now())
        if second != self._second:
            self._second = second
            self._line = b"Date: " + http_date(second).encode("ascii") + b"\r\n"
        return self._line


_STATUS_LINES: dict[int, bytes] = {
    code: b"HTTP/1.1 %d %s\r\n" % (code, reason.encode("ascii"))
    for code, reason in REASONS.items()
    if code >= 200  # a 1xx is never a final response
}
# Fields the writer decides itself; a handler's values for them are dropped
# (Connection: close from a handler is honoured).
_OWN_FIELDS = frozenset({"content-length", "transfer-encoding", "connection", "date"})
_BAD_VALUE_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_TOKEN_STR_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_CONNECTION_CLOSE = b"Connection: close\r\n"
_CONNECTION_KEEP_ALIVE = b"Connection: keep-alive\r\n"
_CHUNKED = b"Transfer-Encoding: chunked\r\n"
_DEFAULT_TYPE = b"Content-Type: application/octet-stream\r\n"
#: The terminating chunk of a chunked body (no trailers).
LAST_CHUNK = b"0\r\n\r\n"
CONTINUE_LINE = b"HTTP/1.1 100 Continue\r\n\r\n"


class ResponseError(ValueError):
    """A handler's Response cannot be sent (bad status, header or body type)."""


def _status_line(status: int) -> bytes:
    line = _STATUS_LINES.get(status)
    if line is None:
        if type(status) is not int or not 200 <= status <= 599:
            raise ResponseError(f"status must be an int from 200 to 599, not {status!r}")
        line = b"HTTP/1.1 %d \r\n" % status
    return line


def _encode_fields(response: Response) -> tuple[bytes, bool, bool, int]:
    """The handler's header fields as bytes: (block, wants close, has type, length)."""
    headers = response.headers
    cached = response._wire
    if cached is not None and cached[0] is headers and cached[1] == headers._version:
        return cached[2], cached[3], cached[4], cached[5]
    parts: list[bytes] = []
    wants_close = False
    has_type = False
    declared = -1
    for lower, name, value in headers._fields:
        if not isinstance(value, str):
            value = str(value)
        if not _TOKEN_STR_RE.fullmatch(name):
            raise ResponseError(f"invalid header field name {name!r}")
        if _BAD_VALUE_RE.search(value):
            raise ResponseError(f"control character in the value of header {name!r}")
        if lower in _OWN_FIELDS:
            if lower == "connection":
                wants_close = "close" in [t.strip().lower() for t in value.split(",")]
            elif lower == "content-length":
                if not value.strip().isdigit():
                    raise ResponseError(f"invalid Content-Length {value!r}")
                declared = int(value)
            continue
        if lower == "content-type":
            has_type = True
            if value[:5].lower() == "text/" and "charset" not in value.lower():
                value += "; charset=utf-8"
        parts.append(f"{name}: {value}\r\n".encode("latin-1", "replace"))
    block = b"".join(parts)
    response._wire = (headers, headers._version, block, wants_close, has_type, declared)
    return block, wants_close, has_type, declared


class ResponseWriter:
    """Sans-IO response serialisation (RFC 9112 §4, §6, §7; RFC 9110 §6.6.1).

    Every response is sent as HTTP/1.1 (RFC 9110 §6.2), with Date, framing
    by Content-Length or chunked coding (never chunked to an HTTP/1.0
    client: it gets a close-delimited body), and ``Connection: close`` when
    the connection will close after it (``keep-alive`` when an HTTP/1.0
    client asked for persistence).
    """

    __slots__ = ("dates",)

    def __init__(self, dates: DateCache | None = None) -> None:
        self.dates = dates or DateCache()

    def head(
        self,
        response: Response,
        *,
        length: int | None,
        chunked: bool = False,
        keep_alive: bool = True,
        http10: bool = False,
    ) -> bytes:
        """The status line and header section; ``length`` None means no Content-Length."""
        status = response.status
        block, _, has_type, _ = _encode_fields(response)
        parts = [_status_line(status), self.dates.line(), block]
        if not has_type and length and status not in (204, 304):
            parts.append(_DEFAULT_TYPE)
        if status != 204 and status != 304:
            if chunked:
                parts.append(_CHUNKED)
            elif length is not None:
                parts.append(b"Content-Length: %d\r\n" % length)
        if not keep_alive:
            parts.append(_CONNECTION_CLOSE)
        elif http10:
            parts.append(_CONNECTION_KEEP_ALIVE)
        parts.append(b"\r\n")
        return b"".join(parts)

    def complete(
        self,
        response: Response,
        *,
        head_only: bool = False,
        keep_alive: bool = True,
        http10: bool = False,
    ) -> tuple[bytes, bool]:
        """A whole response with a bytes body; returns (bytes, keep the connection).

        ``head_only`` (a HEAD request) sends the header section that a GET
        would have had, without the body.
        """
        return self._complete(response, head_only, keep_alive, http10)

    def _complete(
        self, response: Response, head_only: bool, keep_alive: bool, http10: bool
    ) -> tuple[bytes, bool]:
        body = response.body
        tails = response._tails
        if tails is not None and type(body) is bytes:
            # Served before: everything but the Date line is known, as long as
            # status, headers and body are the ones it was rendered from; and
            # within one second (one Date line) the whole answer is.
            entry = tails.get((response.status, head_only, keep_alive, http10))
            if (
                entry is not None
                and entry[0] is body
                and entry[1] is response.headers
                and entry[2] == response.headers._version
            ):
                date = self.dates.line()
                if entry[6] is not date:
                    entry[6] = date
                    entry[7] = b"".join((entry[3], date, entry[4]))
                return entry[7], entry[5]
        status = response.status
        line = _STATUS_LINES.get(status) or _status_line(status)
        block, wants_close, has_type, _ = _encode_fields(response)
        keep = keep_alive and not wants_close
        if status == 204 or status == 304:
            framing = b""
            sent_body = b""
        else:
            framing = b"Content-Length: %d\r\n" % len(body)
            if not has_type and body:
                framing = _DEFAULT_TYPE + framing
            sent_body = b"" if head_only else body
        if not keep:
            framing += _CONNECTION_CLOSE
        elif http10:
            framing += _CONNECTION_KEEP_ALIVE
        tail = b"".join((block, framing, b"\r\n", sent_body))
        date = self.dates.line()
        data = b"".join((line, date, tail))
        if type(body) is bytes:
            if tails is None or len(tails) >= 16:
                tails = response._tails = {}
            key = (status, head_only, keep_alive, http10)
            headers = response.headers
            tails[key] = [body, headers, headers._version, line, tail, keep, date, data]
        return data, keep

    @staticmethod
    def chunk(data: bytes) -> bytes:
        """One chunk of a chunked body (``data`` must not be empty)."""
        return b"%x\r\n%s\r\n" % (len(data), data)


# -- the channel -----------------------------------------------------------------

Handler = Callable[[Request], Any]


class _Slot:
    """One request awaiting its response, in pipeline order."""

    __slots__ = ("request", "head_only", "http10", "keep_alive", "response", "stream")

    def __init__(self, request: Request | None, head_only: bool, http10: bool, keep_alive: bool):
        self.request = request
        self.head_only = head_only
        self.http10 = http10
        self.keep_alive = keep_alive
        self.response: Response | None = None
        self.stream: _Stream | None = None


class _Stream:
    """State of an iterable body being written."""

    __slots__ = ("iterator", "chunked", "remaining")

    def __init__(self, iterator: Iterator[bytes], chunked: bool, remaining: int):
        self.iterator = iterator
        self.chunked = chunked
        self.remaining = remaining  # declared Content-Length left, or -1


def _identity(value: Any) -> Any:
    return value


def _split_target(target: str) -> tuple[str, str, str | None]:
    """(raw path, query string, authority or None) of a request-target."""
    if target[0] == "/":
        path, _, query = target.partition("?")
        return path, query, None
    if target == "*":
        return "*", "", None
    if "://" in target:  # absolute-form (RFC 9112 §3.2.2)
        rest = target.split("://", 1)[1]
        slash = rest.find("/")
        question = rest.find("?")
        cut = min(i for i in (slash, question, len(rest)) if i >= 0)
        authority, remainder = rest[:cut], rest[cut:]
        path, _, query = remainder.partition("?")
        return path or "/", query, authority
    return target, "", target  # authority-form (CONNECT)


_MAX_STREAM_STEPS = 64  # chunks written per turn before yielding to the reactor
_LINGER_QUIET = 0.25  # after an error, close once input has paused this long


class HTTPChannel(Protocol):
    """One HTTP/1.1 server connection: parser in, handler, writer out.

    ``handler(request)`` returns a :class:`Response` or a Deferred (or
    coroutine) of one. Pipelined requests (up to ``max_pipeline`` at once)
    are handled concurrently and answered in order. A handler exception or
    failure becomes a logged 500, and the connection lives on.

    Timeouts use ``clock`` (``seconds()``/``call_later()``): a request head
    must be complete ``header_timeout`` seconds after its first byte, and a
    request body ``body_timeout`` seconds after its head (deadlines, not
    reset by each byte: one byte a second must not keep a connection; the
    answer is 408 and a close), and a connection waiting on its client
    (between requests, in a body, or not reading our output) for
    ``idle_timeout`` seconds is closed.

    If ``handler`` has a ``body_refusal(head) -> Response | None`` method
    (:class:`Router` has), a request head announcing a body is shown to it
    first: a Response is answered at once and the connection closed, and
    the body is never read into memory (it is only discarded while the
    answer lingers).

    Reading is paused while a response is pending or the transport asks us
    to stop writing, so a client cannot make the server buffer without bound.
    """

    def __init__(
        self,
        handler: Handler,
        clock: Any,
        *,
        limits: HTTPLimits = DEFAULT_LIMITS,
        header_timeout: float = 10.0,
        idle_timeout: float = 15.0,
        max_pipeline: int = 16,
        writer: ResponseWriter | None = None,
        known_methods: frozenset[str] | set[str] = KNOWN_METHODS,
        linger: float = 2.0,
        body_timeout: float = 30.0,
    ) -> None:
        self.handler = handler
        self.clock = clock
        self.limits = limits
        self.header_timeout = header_timeout
        self.body_timeout = body_timeout
        self._body_refusal: Callable[[RequestHead], Response | None] | None = getattr(
            handler, "body_refusal", None
        )
        self._body_timer: Any = None
        self.idle_timeout = idle_timeout
        self.max_pipeline = max(1, max_pipeline)
        self.writer = writer or ResponseWriter()
        self.linger = linger
        self._parser = RequestParser(limits, known_methods)
        self._queue: deque[_Slot] = deque()
        self._head: RequestHead | None = None
        self._body: list[bytes] = []
        self._continue_owed = False
        self._peer: Address | None = None
        self._reading_paused = False
        self._write_paused = False
        self._closing = False  # no more responses will be written
        self._closed = False
        self._advancing = False
        self._again = False
        self._header_timer: Any = None
        self._idle_timer: Any = None
        self._last_activity = 0.0
        self._linger_timer: Any = None
        self._lingering = False
        self._linger_budget = 0
        self._linger_until = 0.0
        self._stream_call: Any = None
        self._eof = False  # the client has closed its sending side

    # -- Protocol hooks ------------------------------------------------------------

    def connection_made(self) -> None:
        try:
            self._peer = self.transport.get_peer()
        except OSError:  # reset before we got to ask
            self._peer = None
        self._last_activity = self.clock.seconds()
        self._idle_timer = self.clock.call_later(self.idle_timeout, self._idle_fired)
        factory = self.factory
        if isinstance(factory, HTTPFactory):
            factory.channel_opened(self)

    def data_received(self, data: bytes) -> None:
        if self._closing:
            if self._lingering:
                self._linger_budget -= len(data)
                if self._linger_budget < 0:
                    self.transport.abort_connection()
                elif self._linger_timer is not None:
                    # Still arriving: wait for a quiet moment, within the total.
                    left = self._linger_until - self.clock.seconds()
                    self._linger_timer.reset(max(0.0, min(_LINGER_QUIET, left)))
            return
        self._last_activity = self.clock.seconds()
        queue = self._queue
        parser = self._parser
        room = self.max_pipeline - len(queue)
        events = parser.receive(data, room if room > 0 else 0)
        if (
            len(events) == 2
            and events[1] is _END
            and type(events[0]) is RequestHead
            and not queue
            and not self._advancing
        ):
            # The common case, without the general loop: one request without a
            # body, and nothing before it still waiting for its answer.
            self._head = events[0]  # type: ignore[assignment]
            self._continue_owed = False
            self._advancing = True
            try:
                self._dispatch(_END)
            finally:
                self._advancing = False
            if (
                queue
                or self._again
                or self._closing
                or parser._blocked
                or parser._head_started
                or self._reading_paused
                or self._header_timer is not None
            ):
                self._advance()
            return
        self._advance(events)

    def eof_received(self) -> bool:
        """The client closed its sending side: finish what it asked, then close."""
        if self._closing or self._closed:
            return False
        if self._queue or self._parser.blocked:
            # Answer what is already in; close when the queue drains.
            self._eof = True
            return True
        return False

    def connection_lost(self, reason: Failure) -> None:
        if self._closed:
            return
        self._closed = True
        self._closing = True
        for timer in (
            self._header_timer, self._idle_timer, self._linger_timer, self._stream_call,
            self._body_timer,
        ):
            if timer is not None and timer.active():
                timer.cancel()
        self._header_timer = self._idle_timer = self._linger_timer = self._stream_call = None
        self._body_timer = None
        for slot in self._queue:
            self._close_stream(slot)
        self._queue.clear()
        factory = self.factory
        if isinstance(factory, HTTPFactory):
            factory.channel_closed(self)

    def pause_writing(self) -> None:
        self._write_paused = True
        self._update_reading()

    def resume_writing(self) -> None:
        self._write_paused = False
        if not self._closed:
            self._last_activity = self.clock.seconds()
            self._advance()

    # -- events from the parser ----------------------------------------------------

    def _handle(self, events: list[Event]) -> None:
        for event in events:
            if self._closing:
                return  # a response closed the connection: the rest is moot
            kind = type(event)
            if kind is RequestHead:
                if (
                    (event.content_length or event.chunked)  # type: ignore[union-attr]
                    and self._body_refusal is not None
                    and self._refuse_body(event)  # type: ignore[arg-type]
                ):
                    return  # the rest of the input is the unwanted body: not ours
                self._head = event  # type: ignore[assignment]
                self._body = []
                self._continue_owed = event.expect_continue  # type: ignore[union-attr]
            elif kind is BodyData:
                self._body.append(event.data)  # type: ignore[union-attr]
                self._continue_owed = False
            elif kind is EndOfMessage:
                self._continue_owed = False
                self._dispatch(event)  # type: ignore[arg-type]
            else:
                self._reject(event)  # type: ignore[arg-type]

    def _dispatch(self, end: EndOfMessage) -> None:
        head = self._head
        self._head = None
        assert head is not None
        if self._body:
            body = b"".join(self._body)
            self._body = []
        else:
            body = b""
        target = head.target
        if target[0] == "/" and "?" not in target:  # the common case, cheaply
            raw_path = target
            query_string = ""
            query: dict[str, list[str]] = {}
            host = head.host
        else:
            raw_path, query_string, authority = _split_target(target)
            query = parse_qs(query_string, keep_blank_values=True) if query_string else {}
            host = authority if authority is not None else head.host
        path = unquote(raw_path, errors="replace") if "%" in raw_path else raw_path
        request = Request(
            head.method,
            path,
            query,
            head.headers,
            body,
            head.version,
            self._peer,
            target,
            raw_path,
            query_string,
            host,
            {},
            end.trailers,
        )
        head_only = head.method == "HEAD"
        http10 = head.version == "1.0"
        try:
            result = self.handler(request)
        except Exception:
            result = self._handler_failed(Failure(), request)
        if (
            type(result) is Response
            and type(result.body) is bytes
            and not self._queue
            and not self._write_paused
        ):
            # Nothing is ahead of this request: answer it at once.
            try:
                data, keep = self.writer._complete(result, head_only, head.keep_alive, http10)
            except Exception:
                pass  # the careful path below logs it and answers 500 instead
            else:
                self.transport.write(data)
                if not keep:
                    self._close()
                return
        slot = _Slot(request, head_only, http10, head.keep_alive)
        self._queue.append(slot)
        if type(result) is Response:
            slot.response = result
            return
        d = maybe_deferred(_identity, result)
        d.add_callbacks(self._got_response, self._got_failure, (slot,), None, (slot,))

    def _got_response(self, response: Any, slot: _Slot) -> None:
        if not isinstance(response, Response):
            request = slot.request
            log.error(
                "HTTP handler for %s %s returned %r, not a Response",
                request.method if request else "?",
                request.target if request else "?",
                response,
            )
            response = error_response(500)
        slot.response = response
        if not self._closed:
            self._advance()

    def _got_failure(self, failure: Failure, slot: _Slot) -> None:
        slot.response = self._handler_failed(failure, slot.request)
        if not self._closed:
            self._advance()

    def _handler_failed(self, failure: Failure, request: Request | None) -> Response:
        log.error(
            "HTTP handler failed for %s %s:\n%s",
            request.method if request else "?",
            request.target if request else "?",
            failure.get_traceback().rstrip(),
        )
        return error_response(500)

    def _refuse_body(self, head: RequestHead) -> bool:
        """Ask the handler whether it takes this head's body; if not, answer and close."""
        try:
            response = self._body_refusal(head)  # type: ignore[misc]
        except Exception:
            log.exception("HTTP body_refusal failed for %s %s", head.method, head.target[:200])
            response = error_response(500)
        if response is None:
            return False
        log.debug("HTTP %s %s from %s: body refused with %d", head.method,
                  head.target[:200], self._peer, response.status)
        # Nothing more is parsed: the body is discarded by the lingering close.
        self._parser.close()
        self._head = None
        self._continue_owed = False
        slot = _Slot(None, head.method == "HEAD", head.version == "1.0", False)
        slot.response = response
        self._queue.append(slot)
        return True

    def _reject(self, error: ParseError) -> None:
        """Answer a request the parser refused (after those before it) and close."""
        log.debug("HTTP request from %s refused: %d %s", self._peer, error.status, error.reason)
        if error.status in (413, 431):
            audit("input.too_large", service="http", address=host_of(self._peer),
                  what=f"{error.status} {error.reason}")
        head = self._head
        self._head = None
        self._continue_owed = False
        slot = _Slot(None, head is not None and head.method == "HEAD", False, False)
        slot.response = error_response(error.status, error.reason)
        self._queue.append(slot)

    # -- writing, in order ----------------------------------------------------------

    def _advance(self, events: list[Event] | None = None) -> None:
        """Handle events, write what is ready, parse what is buffered; then
        settle reading and timers.

        Re-entrant calls (a handler's Deferred firing while we are handling
        events) only ask the running loop to go round again, so requests are
        always dispatched and answered in order.
        """
        if self._advancing:
            self._again = True
            return
        self._advancing = True
        try:
            if events:
                self._handle(events)
            while True:
                self._again = False
                if self._queue:
                    self._flush()
                if self._closing:
                    break
                parser = self._parser
                if parser._blocked and not self._write_paused:
                    room = self.max_pipeline - len(self._queue)
                    if room > 0:
                        events = parser.receive(b"", room)
                        if events:
                            self._handle(events)
                            continue
                if not self._again:
                    break
        finally:
            self._advancing = False
        if self._closing:
            return
        parser = self._parser
        if not self._queue:
            if self._eof and not parser._blocked:
                self._close()
                return
            if self._continue_owed:
                self._continue_owed = False
                self.transport.write(CONTINUE_LINE)
            if self._reading_paused or self._write_paused or parser._blocked:
                self._update_reading()
        else:
            self._update_reading()
        if self._header_timer is not None or parser._head_started:
            self._update_header_timer()
        if self._body_timer is not None or self._head is not None:
            self._update_body_timer()

    def _flush(self) -> None:
        queue = self._queue
        while queue and not self._closing:
            slot = queue[0]
            if slot.stream is not None:
                if not self._pump(slot):
                    return
            else:
                response = slot.response
                if response is None or self._write_paused:
                    return
                if not self._start(slot, response):
                    return
            queue.popleft()
            if not slot.keep_alive:
                self._close(error=slot.request is None)
                return

    def _start(self, slot: _Slot, response: Response, fallback: bool = False) -> bool:
        """Write a response (or begin streaming it); True if it is fully written."""
        body = response.body
        try:
            if isinstance(body, (bytes, bytearray, memoryview)):
                data, keep = self.writer.complete(
                    response,
                    head_only=slot.head_only,
                    keep_alive=slot.keep_alive,
                    http10=slot.http10,
                )
                slot.keep_alive = keep
                self.transport.write(data)
                return True
            if isinstance(body, str):
                raise ResponseError("a Response body must be bytes or iterable of bytes, not str")
            return self._start_stream(slot, response)
        except Exception:
            failure = Failure()
            log.error(
                "HTTP response for %s cannot be sent:\n%s",
                slot.request.target if slot.request else "an error",
                failure.get_traceback().rstrip(),
            )
            self._close_stream_response(response)
            if fallback:  # pragma: no cover - our own error page is always valid
                self._abort()
                return False
            slot.response = error_response(500)
            return self._start(slot, slot.response, fallback=True)

    def _start_stream(self, slot: _Slot, response: Response) -> bool:
        _, wants_close, _, declared = _encode_fields(response)
        keep_alive = slot.keep_alive and not wants_close
        no_body = slot.head_only or response.status in (204, 304)
        if declared >= 0:
            chunked = False
            length: int | None = declared
        elif slot.http10:
            # No chunked coding for HTTP/1.0: the body ends when the connection does.
            chunked = False
            length = None
            if not no_body:
                keep_alive = False
        else:
            chunked = True
            length = None
        slot.keep_alive = keep_alive
        iterator = iter(response.body)  # type: ignore[arg-type]
        self.transport.write(
            self.writer.head(
                response, length=length, chunked=chunked, keep_alive=keep_alive, http10=slot.http10
            )
        )
        if no_body:
            _close_iterator(iterator)
            return True
        slot.stream = _Stream(iterator, chunked, declared)
        return self._pump(slot)

    def _pump(self, slot: _Slot) -> bool:
        """Write more of a streamed body; True once it is complete."""
        stream = slot.stream
        assert stream is not None
        write = self.transport.write
        for _ in range(_MAX_STREAM_STEPS):
            if self._write_paused or self._closing:
                return False
            try:
                chunk = next(stream.iterator)
            except StopIteration:
                slot.stream = None
                if stream.chunked:
                    write(LAST_CHUNK)
                elif stream.remaining > 0:
                    log.error(
                        "streamed body ended %d bytes short of its Content-Length", stream.remaining
                    )
                    self._abort()
                    return False
                return True
            except Exception:
                log.error("HTTP body iterator failed:\n%s", Failure().get_traceback().rstrip())
                slot.stream = None
                # The head is out: the only honest way to signal this is to cut.
                self._abort()
                return False
            if not isinstance(chunk, (bytes, bytearray, memoryview)):
                log.error("HTTP body iterator yielded %s, not bytes", type(chunk).__name__)
                slot.stream = None
                self._abort()
                return False
            if not chunk:
                continue
            if stream.chunked:
                write(ResponseWriter.chunk(bytes(chunk)))
            else:
                if stream.remaining >= 0:
                    stream.remaining -= len(chunk)
                    if stream.remaining < 0:
                        log.error("streamed body is longer than its Content-Length")
                        self._abort()
                        return False
                write(bytes(chunk))
        # A long or endless body: let the reactor serve others, then go on.
        if self._stream_call is None or not self._stream_call.active():
            self._stream_call = self.clock.call_later(0, self._advance)
        return False

    def _close_stream(self, slot: _Slot) -> None:
        if slot.stream is not None:
            _close_iterator(slot.stream.iterator)
            slot.stream = None

    def _close_stream_response(self, response: Response) -> None:
        if not isinstance(response.body, (bytes, bytearray, memoryview, str)):
            _close_iterator(response.body)

    # -- closing --------------------------------------------------------------------

    def _close(self, error: bool = False) -> None:
        """Close after what is written; linger after an error so it is read."""
        if self._closing:
            return
        self._closing = True
        for slot in self._queue:
            self._close_stream(slot)
        self._queue.clear()
        for timer in (self._header_timer, self._body_timer):
            if timer is not None and timer.active():
                timer.cancel()
        self._header_timer = self._body_timer = None
        if error and self.linger > 0 and not self._eof:
            # Closing with unread input makes the kernel send RST, which can
            # destroy our error response before the client reads it: read and
            # discard until the input is quiet for a moment, for at most
            # ``linger`` seconds (as nginx's lingering_close does).
            self._lingering = True
            # Enough to swallow a refused body; the linger time bounds the rest.
            self._linger_budget = max(4 * self.limits.max_body, 1 << 20)
            self._linger_until = self.clock.seconds() + self.linger
            self._linger_timer = self.clock.call_later(
                min(_LINGER_QUIET, self.linger), self._linger_over
            )
            if self._reading_paused:
                self._reading_paused = False
                self.transport.resume_reading()
            return
        self.transport.lose_connection()

    def _linger_over(self) -> None:
        self._linger_timer = None
        self._lingering = False
        if not self._closed:
            self.transport.lose_connection()

    def _abort(self) -> None:
        self._closing = True
        self._queue.clear()
        self.transport.abort_connection()

    # -- flow control and timers --------------------------------------------------

    def _update_reading(self) -> None:
        want_paused = bool(self._queue) or self._write_paused or self._parser.blocked
        if want_paused != self._reading_paused:
            self._reading_paused = want_paused
            if want_paused:
                self.transport.pause_reading()
            else:
                self.transport.resume_reading()

    def _update_header_timer(self) -> None:
        # The deadline runs only while we wait on the client for a head; time
        # spent paused on our own pending responses is not the client's.
        waiting = self._parser.head_started and not self._queue
        timer = self._header_timer
        if waiting:
            if timer is None:
                self._header_timer = self.clock.call_later(self.header_timeout, self._header_fired)
        elif timer is not None:
            timer.cancel()
            self._header_timer = None

    def _header_fired(self) -> None:
        self._header_timer = None
        if self._closing or self._closed:
            return
        log.debug("HTTP client %s did not send its request head in time", self._peer)
        self._parser.close()  # forget the partial head
        slot = _Slot(None, False, False, False)
        slot.response = error_response(408, "the request head took too long")
        self._queue.append(slot)
        self._advance()

    def _update_body_timer(self) -> None:
        # Like the head's deadline: it runs while a body is awaited from the
        # client, not while responses of our own hold the pipeline up.
        waiting = self._head is not None and not self._queue and not self._closing
        timer = self._body_timer
        if waiting:
            if timer is None:
                self._body_timer = self.clock.call_later(self.body_timeout, self._body_fired)
        elif timer is not None:
            timer.cancel()
            self._body_timer = None

    def _body_fired(self) -> None:
        self._body_timer = None
        if self._closing or self._closed or self._head is None:
            return
        log.debug("HTTP client %s did not send its request body in time", self._peer)
        self._reject(ParseError(408, "the request body took too long"))
        self._parser.close()
        self._advance()

    def _idle_fired(self) -> None:
        self._idle_timer = None
        if self._closed:
            return
        now = self.clock.seconds()
        waiting_on_client = self._write_paused or not self._queue
        if self._closing and not self._lingering:
            return
        if waiting_on_client and now - self._last_activity >= self.idle_timeout:
            if self._lingering:
                self.transport.lose_connection()
                return
            if self._head is not None and not self._queue:
                # Stalled in the middle of a request body.
                self._reject(ParseError(408, "the request body stalled"))
                self._parser.close()
                self._advance()
            else:
                log.debug("closing idle HTTP connection from %s", self._peer)
                self._closing = True
                if self._write_paused:
                    self.transport.abort_connection()
                else:
                    self.transport.lose_connection()
            return
        if not waiting_on_client:
            # Our handler is working: the client is not idle. Count from now.
            self._last_activity = now
        delay = self._last_activity + self.idle_timeout - now
        self._idle_timer = self.clock.call_later(max(delay, 0.0), self._idle_fired)


def _close_iterator(iterator: Any) -> None:
    close = getattr(iterator, "close", None)
    if close is not None:
        try:
            close()
        except Exception:
            log.exception("closing a response body iterator failed")


# -- the factory -----------------------------------------------------------------


class _Refusal(Protocol):
    """Over the connection limit: wait briefly for the request, answer 503, close."""

    def __init__(self, clock: Any, response: bytes) -> None:
        self.clock = clock
        self.response = response
        self._seen = 0
        self._timer: Any = None
        self._done = False

    def connection_made(self) -> None:
        # Answering before the request arrives and closing at once invites an
        # RST that can destroy the answer; wait for the head (briefly).
        self._timer = self.clock.call_later(1.0, self._answer)

    def data_received(self, data: bytes) -> None:
        self._seen += len(data)
        if not self._done and (b"\r\n\r\n" in data or self._seen > 16384):
            self._answer()

    def _answer(self) -> None:
        if self._done:
            return
        self._done = True
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self.transport.write(self.response)
        self.transport.lose_connection()

    def connection_lost(self, reason: Failure) -> None:
        self._done = True
        if self._timer is not None and self._timer.active():
            self._timer.cancel()


class HTTPFactory(Factory):
    """Makes :class:`HTTPChannel` connections for ``handler``, up to ``max_connections``
    (0: no limit).

    A connection over the limit is answered ``503 Service Unavailable``
    (with ``Retry-After``) and closed. ``open_connections`` counts the
    channels alive now. ``date_source`` is the wall clock for Date fields.

    Subclasses may refuse more (:meth:`refusal`) and follow channels as
    they open and close (:meth:`channel_opened`, :meth:`channel_closed`).
    """

    def __init__(
        self,
        handler: Handler,
        clock: Any,
        max_connections: int = 1024,
        *,
        limits: HTTPLimits = DEFAULT_LIMITS,
        header_timeout: float = 10.0,
        body_timeout: float = 30.0,
        idle_timeout: float = 15.0,
        max_pipeline: int = 16,
        date_source: Callable[[], float] = time.time,
        known_methods: frozenset[str] | set[str] = KNOWN_METHODS,
    ) -> None:
        self.handler = handler
        self.clock = clock
        self.max_connections = max_connections
        self.limits = limits
        self.header_timeout = header_timeout
        self.body_timeout = body_timeout
        self.idle_timeout = idle_timeout
        self.max_pipeline = max_pipeline
        self.known_methods = frozenset(known_methods)
        self.writer = ResponseWriter(DateCache(date_source))
        self.open_connections = 0

    def refusal(self, addr: Address) -> str | None:
        """Why a connection from ``addr`` must be refused (503), or None to accept it."""
        limit = self.max_connections
        if limit > 0 and self.open_connections >= limit:
            return "too many connections"
        return None

    def channel_opened(self, channel: HTTPChannel) -> None:
        """A channel made by this factory is connected."""
        self.open_connections += 1

    def channel_closed(self, channel: HTTPChannel) -> None:
        """A channel made by this factory has lost its connection."""
        self.open_connections -= 1

    def build_protocol(self, addr: Address) -> Protocol:
        reason = self.refusal(addr)
        if reason is not None:
            log.warning(
                "HTTP connection from %s refused: %s (%d open)", addr, reason,
                self.open_connections,
            )
            audit("connection.refused", service="http", address=addr.host, reason=reason)
            busy = error_response(503, reason, {"Retry-After": "5"})
            data, _ = self.writer.complete(busy, keep_alive=False)
            refusal = _Refusal(self.clock, data)
            refusal.factory = self
            return refusal
        channel = HTTPChannel(
            self.handler,
            self.clock,
            limits=self.limits,
            header_timeout=self.header_timeout,
            body_timeout=self.body_timeout,
            idle_timeout=self.idle_timeout,
            max_pipeline=self.max_pipeline,
            writer=self.writer,
            known_methods=self.known_methods,
        )
        channel.factory = self
        return channel


# -- the router ------------------------------------------------------------------

_NO_PARAMS: dict[str, str] = {}  # returned, never stored: a static route has no parameters
_PARAM_RE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_UNRESERVED_ESCAPE_RE = re.compile(r"%(2[DEde]|5[Ff]|7[Ee]|3[0-9]|[46][1-9A-Fa-f]|[57][0-9Aa])")


def _normalize_path(raw_path: str) -> str:
    """Decode percent-escaped unreserved characters (RFC 3986 §6.2.2.2) only.

    ``%7E`` is ``~``, but ``%2F`` stays escaped so it cannot split a segment.
    """
    if "%" not in raw_path:
        return raw_path
    return _UNRESERVED_ESCAPE_RE.sub(lambda m: chr(int(m.group(1), 16)), raw_path)


#: Methods whose routes take a request body unless told otherwise (``Router.add(body=...)``).
BODY_METHODS: frozenset[str] = frozenset({"POST", "PUT", "PATCH"})


@define(slots=True)
class _Route:
    pattern: str
    handlers: dict[str, Handler]
    regex: re.Pattern[str] | None = None
    #: The methods of this route that take a request body.
    bodies: set[str] = field(factory=set)

    @property
    def allow(self) -> str:
        return ", ".join(sorted(self.handlers))


class Router:
    """Routes requests by path pattern and method to handlers.

    Patterns are paths whose segments may hold ``{name}`` parameters, each
    matching one non-empty segment piece: ``"/~{name}"``,
    ``"/players/{name}"``. Captured values are percent-decoded into
    ``request.params``. A route for GET also answers HEAD. A known path
    with another method gets 405 with ``Allow``; a method the server does
    not know gets 501; an unknown path gets 404 (or ``not_found(request)``).

    Each route says which of its methods take a request body (by default
    POST, PUT and PATCH; ``add(..., body=False)`` or ``True`` decides).
    :meth:`body_refusal` answers a request announcing any other body as
    soon as its head arrives (404, 405 or 413), so the body is never read.
    """

    def __init__(self, not_found: Handler | None = None) -> None:
        self.not_found = not_found
        self._static: dict[str, _Route] = {}
        self._dynamic: list[_Route] = []

    def add(
        self,
        pattern: str,
        handler: Handler,
        methods: Iterable[str] = ("GET",),
        *,
        body: bool | None = None,
    ) -> None:
        """Serve ``pattern`` with ``handler`` for ``methods`` (GET implies HEAD).

        ``body`` says whether these methods take a request body here; None
        means those of :data:`BODY_METHODS` do and the others do not.
        """
        if not pattern.startswith("/"):
            raise ValueError(f"a route pattern must start with '/', not {pattern!r}")
        methods = [m.upper() for m in methods]
        if "GET" in methods and "HEAD" not in methods:
            methods.append("HEAD")
        route = self._find_pattern(pattern)
        if route is None:
            route = _Route(pattern, {})
            if _PARAM_RE.search(pattern):
                route.regex = _compile_pattern(pattern)
                self._dynamic.append(route)
            else:
                if "{" in pattern or "}" in pattern:
                    raise ValueError(f"malformed parameter in route pattern {pattern!r}")
                self._static[pattern] = route
        for method in methods:
            if method in route.handlers and route.handlers[method] is not handler:
                raise ValueError(f"{method} {pattern} already has a handler")
            route.handlers[method] = handler
            takes_body = method in BODY_METHODS if body is None else body
            if takes_body:
                route.bodies.add(method)
            else:
                route.bodies.discard(method)

    def route(
        self, pattern: str, methods: Iterable[str] = ("GET",), *, body: bool | None = None
    ) -> Callable[[Handler], Handler]:
        """Decorator form of :meth:`add`."""

        def register(handler: Handler) -> Handler:
            self.add(pattern, handler, methods, body=body)
            return handler

        return register

    def body_refusal(self, head: RequestHead) -> Response | None:
        """The answer to a request head announcing a body its route does not take, or None.

        :class:`HTTPChannel` asks before reading the body: no such path is
        404, a method the path does not allow 405 (with ``Allow``), a method
        that takes no body here 413.
        """
        raw_path, _, _ = _split_target(head.target)
        route, _ = self.match(raw_path)
        if route is None:
            return error_response(404)
        method = head.method
        if method not in route.handlers:
            return error_response(405, headers={"Allow": route.allow})
        if method not in route.bodies:
            return error_response(413, f"{method} {route.pattern} takes no request body")
        return None

    def _find_pattern(self, pattern: str) -> _Route | None:
        if pattern in self._static:
            return self._static[pattern]
        for route in self._dynamic:
            if route.pattern == pattern:
                return route
        return None

    def match(self, raw_path: str) -> tuple[_Route | None, dict[str, str]]:
        """The route for ``raw_path`` and its decoded parameters (None if no route)."""
        path = _normalize_path(raw_path)
        route = self._static.get(path)
        if route is not None:
            return route, _NO_PARAMS
        for route in self._dynamic:
            assert route.regex is not None
            m = route.regex.fullmatch(path)
            if m is not None:
                params = {k: unquote(v, errors="replace") for k, v in m.groupdict().items()}
                return route, params
        return None, {}

    def __call__(self, request: Request) -> Any:
        method = request.method
        if method not in KNOWN_METHODS:
            return error_response(501, f"method {method[:32]} is not implemented")
        raw_path = request.raw_path or request.path
        route = self._static.get(raw_path) if "%" not in raw_path else None
        if route is None:
            route, params = self.match(raw_path)
        else:
            params = _NO_PARAMS
        if route is None:
            if self.not_found is not None:
                return self.not_found(request)
            return error_response(404)
        handler = route.handlers.get(method)
        if handler is None:
            return error_response(405, headers={"Allow": route.allow})
        if params:
            request.params = params
        return handler(request)


def _compile_pattern(pattern: str) -> re.Pattern[str]:
    parts: list[str] = []
    names: set[str] = set()
    pos = 0
    for m in _PARAM_RE.finditer(pattern):
        literal = pattern[pos : m.start()]
        if "{" in literal or "}" in literal:
            raise ValueError(f"malformed parameter in route pattern {pattern!r}")
        parts.append(re.escape(literal))
        name = m.group(1)
        if name in names:
            raise ValueError(f"parameter {name!r} appears twice in {pattern!r}")
        names.add(name)
        parts.append(f"(?P<{name}>[^/]+)")
        pos = m.end()
    tail = pattern[pos:]
    if "{" in tail or "}" in tail:
        raise ValueError(f"malformed parameter in route pattern {pattern!r}")
    parts.append(re.escape(tail))
    return re.compile("".join(parts))
