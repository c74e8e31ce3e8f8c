"""The HTTP/1.1 server connection: :class:`HTTPChannel`, the Protocol adapter
between a transport, the sans-IO :class:`~.parser.RequestParser` and
:class:`~.writer.ResponseWriter`, and a request handler.

What lives here is what needs a transport or a clock: calling the handler
(a Response, a Deferred or a coroutine), answering pipelined requests in
order (RFC 9112 §9.3.2) with at most ``max_pipeline`` in flight, flow
control (reading pauses while responses are pending or the transport's
buffer is full), streamed bodies, ``100 Continue`` (RFC 9110 §10.1.1), the
deadlines for a request's head and body (408), the idle timeout, and the
lingering close after an error. Which bytes are a request, and which
requests are refused, is decided by the parser.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any, Protocol as TypingProtocol
from urllib.parse import parse_qs, unquote

from reality.audit import audit, host_of
from reality.net.defer import Failure, maybe_deferred
from reality.net.interfaces import IDelayedCall, IProtocol, IReactorTime, ITransport
from reality.net.protocol import Address, Protocol
from reality.net.protocols.http.events import (
    END,
    KNOWN_METHODS,
    BodyData,
    EndOfMessage,
    Event,
    ParseError,
    Request,
    RequestHead,
    Response,
    error_response,
    split_target,
)
from reality.net.protocols.http.parser import DEFAULT_LIMITS, HTTPLimits, RequestParser
from reality.net.protocols.http.writer import (
    CONTINUE_LINE,
    LAST_CHUNK,
    ResponseError,
    ResponseWriter,
    encode_fields,
)

__all__ = ["ChannelWatcher", "HTTPChannel", "Handler"]

log = logging.getLogger(__name__)

Handler = Callable[[Request], Any]


class _Slot:
    """One request awaiting its response, in pipeline order."""

    __slots__ = ("request", "head_only", "http10", "keep_alive", "response", "stream", "upgrade")

    def __init__(
        self,
        request: Request | None,
        head_only: bool,
        http10: bool,
        keep_alive: bool,
        upgrade: bool = False,
    ) -> None:
        self.request = request
        self.head_only = head_only
        self.http10 = http10
        self.keep_alive = keep_alive
        self.upgrade = upgrade  # the request asked to switch protocols
        self.response: Response | None = None
        self.stream: _Stream | None = None


class _Stream:
    """State of an iterable body being written."""

    __slots__ = ("iterator", "chunked", "remaining")

    def __init__(self, iterator: Iterator[object], chunked: bool, remaining: int) -> None:
        self.iterator = iterator
        self.chunked = chunked
        self.remaining = remaining  # declared Content-Length left, or -1


def _identity(value: Any) -> Any:
    return value


class ChannelWatcher(TypingProtocol):
    """Told when a channel connects and when it is gone (:class:`~.server.HTTPFactory`
    counts its connections this way)."""

    def channel_opened(self, channel: HTTPChannel) -> None: ...

    def channel_closed(self, channel: HTTPChannel) -> None: ...


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
    (the website's router has), a request head announcing a body is shown to it
    first: a Response is answered at once and the connection closed, and
    the body is never read into memory (it is only discarded while the
    answer lingers).

    Reading is paused while a response is pending or the transport asks us
    to stop writing, so a client cannot make the server buffer without bound.

    ``watcher`` (set by the factory that made the channel) is told when the
    connection is made and when it is lost.

    A handler may hand the connection to another protocol (a WebSocket) by
    answering an upgrade request with ``Response(101, ..., switch_to=...)``
    (see :class:`~.events.Response`): the channel then only passes the
    transport's calls on to that protocol, and none of its own timers or
    limits apply any more.
    """

    #: Set by make_connection before any other method runs.
    transport: ITransport

    watcher: ChannelWatcher | None = None

    def __init__(
        self,
        handler: Handler,
        clock: IReactorTime,
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
        self._body_timer: IDelayedCall | None = None
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
        self._header_timer: IDelayedCall | None = None
        self._idle_timer: IDelayedCall | None = None
        self._last_activity = 0.0
        self._linger_timer: IDelayedCall | None = None
        self._lingering = False
        self._linger_budget = 0
        self._linger_until = 0.0
        self._stream_call: IDelayedCall | None = None
        self._eof = False  # the client has closed its sending side
        self._switched: IProtocol | None = None  # the protocol after a 101
        self._first_read = True

    # -- Protocol hooks ------------------------------------------------------------

    def connection_made(self) -> None:
        try:
            self._peer = self.transport.get_peer()
        except OSError:  # reset before we got to ask
            self._peer = None
        self._last_activity = self.clock.seconds()
        self._idle_timer = self.clock.call_later(self.idle_timeout, self._idle_fired)
        watcher = self.watcher
        if watcher is not None:
            watcher.channel_opened(self)

    def data_received(self, data: bytes) -> None:
        if self._switched is not None:
            self._switched.data_received(data)
            return
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
        if self._first_read and data:
            self._first_read = False
            if data[0] == 0x16:
                # A TLS ClientHello on the plain port (https:// to the http
                # port): no request line starts with byte 0x16, and the
                # client could not read a plain 400. Close now rather than
                # at the header timer.
                address = host_of(self.transport)
                log.info("http %s: TLS handshake on the plain port; closing", address)
                audit("connection.refused", service="http", address=address,
                      reason="tls-on-plain")
                self._closing = True
                self.transport.abort_connection()
                return
        self._last_activity = self.clock.seconds()
        queue = self._queue
        parser = self._parser
        room = self.max_pipeline - len(queue)
        events = parser.receive(data, room if room > 0 else 0)
        if (
            len(events) == 2
            and events[1] is END
            and type(events[0]) is RequestHead
            and not queue
            and not self._advancing
        ):
            # The common case, without the general loop: one request without a
            # body, and nothing before it still waiting for its answer.
            self._head = events[0]
            self._continue_owed = False
            self._advancing = True
            try:
                self._dispatch(END)
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
        if self._switched is not None:
            eof_received = getattr(self._switched, "eof_received", None)
            return bool(eof_received()) if eof_received is not None else False
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
        switched = self._switched
        if switched is not None:
            switched.connected = False
            try:
                switched.connection_lost(reason)
            except Exception:
                log.exception("Unhandled error in %r.connection_lost", switched)
        self._closed = True
        self._closing = True
        self._cancel_timers()
        for slot in self._queue:
            self._close_stream(slot)
        self._queue.clear()
        watcher = self.watcher
        if watcher is not None:
            watcher.channel_closed(self)

    def pause_writing(self) -> None:
        if self._switched is not None:
            self._switched.pause_writing()
            return
        self._write_paused = True
        self._update_reading()

    def resume_writing(self) -> None:
        if self._switched is not None:
            self._switched.resume_writing()
            return
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
            raw_path, query_string, authority = split_target(target)
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
            and not head.upgrade
            and result.switch_to is None
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
        slot = _Slot(request, head_only, http10, head.keep_alive, head.upgrade)
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
        log.debug(
            "HTTP %s %s from %s: body refused with %d",
            head.method,
            head.target[:200],
            self._peer,
            response.status,
        )
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
            audit(
                "input.too_large",
                service="http",
                address=host_of(self._peer),
                what=f"{error.status} {error.reason}",
            )
        else:
            audit("input.malformed", service="http", address=host_of(self._peer),
                  reason=f"{error.status} {error.reason}")
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
        if slot.upgrade or response.switch_to is not None:
            if self._upgrade(slot, response):
                return False
            response = slot.response  # type: ignore[assignment]
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

    def _upgrade(self, slot: _Slot, response: Response) -> bool:
        """Answer a request that may switch protocols; True if it switched.

        Otherwise the request stays HTTP: the parser reads on, and
        ``slot.response`` is what to send (a 500 in place of a 101 that
        cannot be honoured).
        """
        switch_to = response.switch_to
        if slot.upgrade and response.status == 101 and switch_to is not None:
            try:
                head = self.writer.switching_head(response)
                protocol = switch_to()
            except Exception:
                log.error(
                    "HTTP switch_to failed for %s:\n%s",
                    slot.request.target if slot.request else "?",
                    Failure().get_traceback().rstrip(),
                )
            else:
                self.transport.write(head)
                self._switch(protocol)
                return True
            slot.response = error_response(500)
        elif switch_to is not None:
            log.error(
                "HTTP handler for %s answered with switch_to a request that did not ask "
                "to upgrade, or with status %d (a switch needs 101)",
                slot.request.target if slot.request else "?",
                response.status,
            )
            slot.response = error_response(500)
        else:
            slot.response = response
        if slot.upgrade:
            slot.upgrade = False
            self._parser.upgrade_declined()
        return False

    def _cancel_timers(self) -> None:
        """Stop every timer of the HTTP exchange (the connection ends, or is switched)."""
        for timer in (
            self._header_timer,
            self._idle_timer,
            self._linger_timer,
            self._stream_call,
            self._body_timer,
        ):
            if timer is not None and timer.active():
                timer.cancel()
        self._header_timer = self._idle_timer = self._linger_timer = self._stream_call = None
        self._body_timer = None

    def _switch(self, protocol: IProtocol) -> None:
        """Hand the connection to ``protocol``: HTTP is over on it."""
        self._closing = True
        self._switched = protocol
        self._cancel_timers()
        self._queue.clear()
        data = self._parser.take_upgrade_data()
        if self._reading_paused:
            self._reading_paused = False
            self.transport.resume_reading()
        protocol.make_connection(self.transport)
        if self._write_paused and not self._closed:
            protocol.pause_writing()
        if data and not self._closed:
            protocol.data_received(data)

    @property
    def switched_to(self) -> IProtocol | None:
        """The protocol this connection was handed to by a 101, or None."""
        return self._switched

    def _start_stream(self, slot: _Slot, response: Response) -> bool:
        _, wants_close, _, declared = encode_fields(response)
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
        iterator = iter(response.body)
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
