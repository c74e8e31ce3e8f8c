"""HTTP/1.1 response serialisation, sans-IO: :class:`~.events.Response` values in, bytes out.

RFC 9112 §4 (status line), §6 (message body length: Content-Length, the
chunked coding of §7.1, or close-delimited for HTTP/1.0), §9.3
(``Connection: close`` / ``keep-alive``); RFC 9110 §6.2 (every response is
HTTP/1.1), §6.6.1 and §5.6.7 (Date as an IMF-fixdate), §8.3 (Content-Type;
a text type without a charset gets UTF-8), §9.3.2 (HEAD: the head of a GET
without its body), §15 (no body or length for 204 and 304).

A response's encoded fields are cached on the :class:`~.events.Response`
and recomputed only when its headers change, so a page rendered once and
served many times costs a dictionary lookup and the Date line.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from reality.net.protocols.http.events import REASONS, Response

__all__ = [
    "CONTINUE_LINE",
    "LAST_CHUNK",
    "DateCache",
    "ResponseError",
    "ResponseWriter",
    "encode_fields",
    "http_date",
]

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
    calendar time); tests pass a fixed function. ``extra`` is field lines
    (each ending CRLF) that every response of this writer carries after
    Date, such as ``Strict-Transport-Security`` on an HTTPS port: they ride
    on the Date line so that a cached rendering served on both a plain and
    a TLS port gets them on one only.
    """

    __slots__ = ("now", "extra", "_second", "_line")

    def __init__(self, now: Callable[[], float] = time.time, extra: bytes = b"") -> None:
        self.now = now
        self.extra = extra
        self._second = -1
        self._line = b""

    def line(self) -> bytes:
        """``b"Date: <IMF-fixdate>\\r\\n"`` for the current second."""
        second = int(self.now())
        if second != self._second:
            self._second = second
            self._line = b"Date: " + http_date(second).encode("ascii") + b"\r\n" + self.extra
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


def encode_fields(response: Response) -> tuple[bytes, bool, bool, int]:
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
        block, _, has_type, _ = encode_fields(response)
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

    def switching_head(self, response: Response) -> bytes:
        """The head of a ``101 Switching Protocols`` answer (RFC 9110 §15.2.2):
        the status line, Date, the response's fields and ``Connection:
        Upgrade`` (RFC 9110 §7.8); no framing fields, since what follows
        belongs to the new protocol."""
        block, _, _, _ = encode_fields(response)
        return b"".join(
            (
                b"HTTP/1.1 101 Switching Protocols\r\n",
                self.dates.line(),
                block,
                b"Connection: Upgrade\r\n\r\n",
            )
        )

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
        # Only a bytes-like body comes here: the channel streams iterables.
        body: bytes | bytearray | memoryview = response.body  # type: ignore[assignment]
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
        block, wants_close, has_type, _ = encode_fields(response)
        keep = keep_alive and not wants_close
        sent_body: bytes | bytearray | memoryview
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
