"""The sans-IO HTTP/1.1 request parser: ``RequestParser.receive(bytes) -> events``.

It never touches a socket or a clock. Every limit (:class:`HTTPLimits`) and
every framing rule is decided here, before any handler sees a request:

- RFC 9112 §2.2 message parsing: CRLF only (a bare LF is refused), leading
  empty lines ignored (at most ``max_empty_lines``).
- §3 the request line and §3.2 the request-target forms (origin, absolute,
  authority for CONNECT, asterisk for OPTIONS); §3.2 Host: exactly one in
  HTTP/1.1, and a valid one.
- §5 field syntax: no whitespace before the colon, no obs-fold, no control
  characters in values.
- §6 message body length, and request smuggling refused: Content-Length
  and Transfer-Encoding together, conflicting Content-Lengths, a
  Transfer-Encoding whose final coding is not chunked, chunked applied
  twice, Transfer-Encoding in HTTP/1.0.
- §7.1 the chunked coding with extensions and trailers.
- §9.3 persistence (HTTP/1.1 persistent by default, HTTP/1.0 only with
  keep-alive); RFC 9110 §10.1.1 Expect: 100-continue (ignored in HTTP/1.0).

Limits: request target 8 KiB (414), header section 32 KiB or 100 fields
(431), body 1 MiB (413), checked while the bytes arrive so an endless head
is refused before it ends. A client's bytes never raise out of the parser:
every problem becomes a :class:`~.events.ParseError` carrying the status to
answer, after which the parser reads nothing more.
"""

from __future__ import annotations

import logging
import re

from attrs import frozen

from reality.net.protocols.http.events import (
    END,
    KNOWN_METHODS,
    BodyData,
    EndOfMessage,
    Event,
    ParseError,
    RequestHead,
)
from reality.net.protocols.http.headers import Headers

__all__ = ["DEFAULT_LIMITS", "HTTPLimits", "RequestParser"]

log = logging.getLogger(__name__)


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
# A request asked to switch protocols (Upgrade): what follows its head may
# not be HTTP, so it is held, unparsed, until the handler's answer says
# (upgrade_declined: parse on as HTTP; take_upgrade_data: it is the new
# protocol's). Above _DONE, so that nothing reads it as HTTP meanwhile.
_UPGRADE = 8

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
        "_upgrade",
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
        self._upgrade = False
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
        return self._state == _DONE or self._state == _ERROR

    @property
    def upgrade_pending(self) -> bool:
        """A request asking to switch protocols has been parsed; what follows
        it is held until :meth:`upgrade_declined` or :meth:`take_upgrade_data`."""
        return self._state == _UPGRADE

    def upgrade_declined(self) -> None:
        """The upgrade was refused: parse what follows as HTTP again."""
        if self._state == _UPGRADE:
            self._state = _HEAD if self._keep_alive else _DONE
            if self._state == _DONE:
                self._buf.clear()
            self._blocked = bool(self._buf)

    def take_upgrade_data(self) -> bytes:
        """The protocol switched: the bytes received after the request, which are
        the new protocol's; the parser reads nothing more."""
        data = bytes(self._buf)
        self._buf.clear()
        self._state = _DONE
        self._blocked = False
        return data

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
            if self._state == _UPGRADE and data:
                self._buf += data
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
                    events.append(END)
                    if head.upgrade:
                        self._state = _UPGRADE
                    elif not self._keep_alive:
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
        if self._state == _DONE or self._state == _ERROR:
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
                    events.append(END)
                    done += 1
                    if self._upgrade:
                        self._state = _UPGRADE
                        return pos
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
        events.append(END if trailers is None else EndOfMessage(trailers))
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
        chunked = expect_continue = upgrade = False
        if hosts is not None and len(special) == 1 and method_str is not None:
            # The common case: a Host and nothing that changes framing or
            # persistence; only the target's form is left to check.
            keep_alive = http11
        else:
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
                # RFC 9110 §7.8: a request to switch protocols (without a body:
                # a body would come before the switch, and we do not take one).
                upgrade = (
                    http11
                    and "upgrade" in tokens
                    and not chunked
                    and not content_length
                    and "upgrade" in headers
                )
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
        self._upgrade = upgrade
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
            upgrade,
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
