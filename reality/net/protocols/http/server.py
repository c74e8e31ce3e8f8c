"""The HTTP/1.1 server factory: :class:`HTTPFactory` makes an
:class:`~.channel.HTTPChannel` per connection, up to a limit.

A connection over the limit (or refused by a subclass's :meth:`HTTPFactory.refusal`)
is answered ``503 Service Unavailable`` with ``Retry-After`` (RFC 9110
§15.6.4, §10.2.3) once its request head has arrived (or after a second),
and closed. The factory holds what its channels share: the limits, the
timeouts and one :class:`~.writer.ResponseWriter` with its Date cache.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from reality.audit import audit
from reality.net.defer import Failure
from reality.net.interfaces import IDelayedCall, IReactorTime, ITransport
from reality.net.protocol import Address, Factory, Protocol
from reality.net.protocols.http.channel import Handler, HTTPChannel
from reality.net.protocols.http.events import KNOWN_METHODS, Response, error_response
from reality.net.protocols.http.parser import DEFAULT_LIMITS, HTTPLimits
from reality.net.protocols.http.writer import DateCache, ResponseWriter

__all__ = ["HTTPFactory"]

log = logging.getLogger(__name__)


class _Refusal(Protocol):
    """Over the connection limit: wait briefly for the request, answer 503, close."""

    #: Set by make_connection before any other method runs.
    transport: ITransport

    def __init__(self, clock: IReactorTime, response: bytes) -> None:
        self.clock = clock
        self.response = response
        self._seen = 0
        self._timer: IDelayedCall | None = None
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
    channels alive now. ``date_source`` is the wall clock for Date fields;
    ``fixed_headers`` are fields every response carries (HSTS on HTTPS).

    Subclasses may refuse more (:meth:`refusal`) and follow channels as
    they open and close (:meth:`channel_opened`, :meth:`channel_closed`).
    """

    def __init__(
        self,
        handler: Handler,
        clock: IReactorTime,
        max_connections: int = 1024,
        *,
        limits: HTTPLimits = DEFAULT_LIMITS,
        header_timeout: float = 10.0,
        body_timeout: float = 30.0,
        idle_timeout: float = 15.0,
        max_pipeline: int = 16,
        date_source: Callable[[], float] = time.time,
        known_methods: frozenset[str] | set[str] = KNOWN_METHODS,
        fixed_headers: Sequence[tuple[str, str]] = (),
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
        # Fields every response from this factory carries (HSTS on HTTPS).
        extra = b"".join(f"{name}: {value}\r\n".encode("ascii") for name, value in fixed_headers)
        self.writer = ResponseWriter(DateCache(date_source, extra))
        self.open_connections = 0

    def refusal(self, addr: Address) -> str | None:
        """Why a connection from ``addr`` must be refused (503), or None to accept it."""
        limit = self.max_connections
        if limit > 0 and self.open_connections >= limit:
            return "too many connections"
        return None

    def refusal_response(self, reason: str) -> Response:
        """What a refused connection is answered: ``503`` with ``Retry-After``.

        Subclasses answer their own refusals otherwise (a ban: ``403``).
        """
        return error_response(503, reason, {"Retry-After": "5"})

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
                "HTTP connection from %s refused: %s (%d open)",
                addr,
                reason,
                self.open_connections,
            )
            audit("connection.refused", service="http", address=addr.host, reason=reason)
            data, _ = self.writer.complete(self.refusal_response(reason), keep_alive=False)
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
        channel.watcher = self
        return channel
