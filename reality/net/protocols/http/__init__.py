"""HTTP/1.1 server, split along its seams: field values, events, a sans-IO request
parser, a response writer, the channel Protocol that drives them, and a
connection-limiting factory.

==================  ==============================================================
:mod:`.headers`     :class:`Headers`, the ordered case-insensitive field multi-dict
:mod:`.events`      what crosses the codec's edges: the parser's events
                    (:class:`RequestHead`, :class:`BodyData`, :class:`EndOfMessage`,
                    :class:`ParseError`), :class:`Request`, :class:`Response`
:mod:`.parser`      :class:`RequestParser`: bytes in, events out; every limit
                    (:class:`HTTPLimits`) and every smuggling defence
:mod:`.writer`      :class:`ResponseWriter`: Response in, bytes out; Date
:mod:`.channel`     :class:`HTTPChannel`: the Protocol adapter (handler calls,
                    pipelining, flow control, streaming, timers)
:mod:`.server`      :class:`HTTPFactory`: a channel per connection, up to a limit
==================  ==============================================================

The parser and the writer never touch a socket or a clock; the channel is
the thin adapter between them and a transport. Routing is the
application's business (the website's router is
:mod:`reality.gateways.router`); a handler is any callable from
:class:`Request` to :class:`Response` (or a Deferred or coroutine of one).

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
knows which requests may carry a body (``body_refusal``, as the website's
router does per route and method) has a body it would not take refused as
soon as the head arrives (404, 405 or 413), without reading it. A client's
bytes never raise out of the parser: every problem becomes a
:class:`ParseError` carrying the status to answer, after which the
connection is closed.
"""

from __future__ import annotations

from reality.net.protocols.http.channel import ChannelWatcher, Handler, HTTPChannel
from reality.net.protocols.http.events import (
    KNOWN_METHODS,
    REASONS,
    Body,
    BodyData,
    EndOfMessage,
    Event,
    ParseError,
    Request,
    RequestHead,
    Response,
    error_response,
)
from reality.net.protocols.http.headers import Headers, HeadersLike
from reality.net.protocols.http.parser import DEFAULT_LIMITS, HTTPLimits, RequestParser
from reality.net.protocols.http.server import HTTPFactory
from reality.net.protocols.http.writer import (
    CONTINUE_LINE,
    LAST_CHUNK,
    DateCache,
    ResponseError,
    ResponseWriter,
    http_date,
)

__all__ = [
    "CONTINUE_LINE",
    "DEFAULT_LIMITS",
    "KNOWN_METHODS",
    "LAST_CHUNK",
    "REASONS",
    "Body",
    "BodyData",
    "ChannelWatcher",
    "DateCache",
    "EndOfMessage",
    "Event",
    "HTTPChannel",
    "HTTPFactory",
    "HTTPLimits",
    "Handler",
    "Headers",
    "HeadersLike",
    "ParseError",
    "Request",
    "RequestHead",
    "RequestParser",
    "Response",
    "ResponseError",
    "ResponseWriter",
    "error_response",
    "http_date",
]
