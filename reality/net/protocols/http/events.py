"""The values that cross the HTTP codec's edges.

What the parser emits (:class:`RequestHead`, :class:`BodyData`,
:class:`EndOfMessage`, :class:`ParseError`: RFC 9112 §3, §5-§7), what a
handler receives (:class:`Request`) and returns (:class:`Response`), and
the vocabulary they share: the methods this server knows (RFC 9110 §9, plus
PATCH from RFC 5789), the reason phrases of the status codes it sends
(RFC 9110 §15, 431 from RFC 6585), and the request-target forms of RFC 9112
§3.2 (:func:`split_target`).
"""

from __future__ import annotations

import json as _json
from collections.abc import Callable, Iterable
from typing import Any

from attrs import Factory as _AttrsFactory, define, field, frozen

from reality.net.interfaces import IProtocol
from reality.net.protocol import Address
from reality.net.protocols.http.headers import Headers, HeadersLike, to_headers

__all__ = [
    "END",
    "KNOWN_METHODS",
    "REASONS",
    "Body",
    "BodyData",
    "EndOfMessage",
    "Event",
    "ParseError",
    "Request",
    "RequestHead",
    "Response",
    "error_response",
    "split_target",
]

#: Methods this server recognises (RFC 9110 §9 plus PATCH, RFC 5789). A method
#: outside this set is answered 501; one inside it that a resource does not
#: allow is answered 405 by the router.
KNOWN_METHODS: frozenset[str] = frozenset(
    {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}
)

#: Reason phrases of the status codes this server sends (RFC 9110 §15).
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


@define(slots=True)
class RequestHead:
    """A request line and header section have arrived (RFC 9112 §3, §5).

    ``content_length`` is the body size announced (0 when there is no body);
    ``chunked`` is true when the body uses the chunked coding instead.
    ``expect_continue`` says the client waits for ``100 Continue``.
    ``host`` is the Host field's value ("" without one). ``upgrade`` says
    the request asks to switch protocols (``Connection: upgrade`` and an
    ``Upgrade`` field, no body): the parser holds what follows it until the
    answer is known.
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
    upgrade: bool = False


@define(slots=True)
class BodyData:
    """A piece of the request body (chunk framing already removed)."""

    data: bytes


@frozen
class EndOfMessage:
    """The request is complete. ``trailers`` holds a chunked body's trailer fields."""

    trailers: Headers | None = None


END = EndOfMessage()  # the common, trailer-less end (events are immutable)


@define(slots=True)
class ParseError:
    """The request cannot be accepted: answer ``status`` and close the connection."""

    status: int
    reason: str


Event = RequestHead | BodyData | EndOfMessage | ParseError


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

    Switching protocols (RFC 9110 §15.2.2, §7.8): to a request that asks
    to upgrade (``Connection: upgrade`` with an ``Upgrade`` field), answer
    ``Response(101, headers, switch_to=make_protocol)``. Once the 101 head is
    written (after any earlier pipelined responses), the channel calls
    ``make_protocol()`` and hands the connection to the protocol it returns:
    ``make_connection(transport)`` on the same transport, then every byte
    the client sent after the request (already received, or still to come)
    goes to its ``data_received``, and ``pause_writing``, ``resume_writing``,
    ``eof_received`` and ``connection_lost`` follow. From then on the HTTP
    channel's deadlines, idle timeout and limits no longer apply: the new
    protocol owns the connection (and its own timeouts). The connection
    still counts toward its HTTP factory's ``open_connections`` until it
    closes. Any other answer to an upgrade request keeps the connection HTTP.
    """

    status: int = 200
    headers: Headers = field(factory=Headers, converter=to_headers)
    body: Body = b""
    switch_to: Callable[[], IProtocol] | None = field(default=None, kw_only=True)
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


def split_target(target: str) -> tuple[str, str, str | None]:
    """(raw path, query string, authority or None) of a request-target.

    Origin-form, asterisk-form, absolute-form and authority-form (RFC 9112
    §3.2); the parser has already refused a target that fits none of them.
    """
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
