"""The IMAP server's I/O: a thin Protocol adapter around :class:`~.session.IMAPSession`.

All of the protocol is in the sans-IO session; this adapter does what
needs a transport, a clock or a Deferred:

- it feeds the client's bytes to the session and writes the responses, one
  command at a time and in order (:class:`~reality.net.protocols.basic.CommandPipeline`:
  bounded input, the autologout timer);
- it carries out the session's :class:`~.session.Call` actions: a backend
  that answers at once is answered in a loop (a FETCH of 10,000 letters
  makes 10,000 calls, never 10,000 stack frames), a Deferred holds the
  next commands until it fires;
- back-pressure inside one command: once a batch of responses reaches
  :data:`~reality.net.protocols.basic.FLUSH_AT` bytes it is written, and
  if the transport then says ``pause_writing`` the rest of the command
  waits for ``resume_writing``. A client that leaves its responses unread
  for ``settings.stall_timeout`` seconds is cut off;
- it pushes the session's untagged updates while the client idles (the
  session's :attr:`~.session.IMAPSession.wakeup`);
- it starts TLS for ``STARTTLS`` and releases the session's mailbox and
  account exactly once, however the connection ends.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from reality.audit import audit, host_of
from reality.net.defer import Deferred, Failure
from reality.net.protocol import Address, Factory
from reality.net.protocols.basic import FLUSH_AT, Close, CommandPipeline
from reality.net.protocols.imap.backend import IMAPBackend
from reality.net.protocols.imap.codec import IMAPServerCodec
from reality.net.protocols.imap.session import Call, IMAPSession, StartTLS
from reality.net.protocols.imap.settings import IMAPSettings

if TYPE_CHECKING:
    from reality.net.interfaces import IDelayedCall, IReactorTime

__all__ = ["IMAPServerFactory", "IMAPServerProtocol"]

log = logging.getLogger(__name__)


class IMAPServerProtocol(CommandPipeline):
    """One IMAP connection: an :class:`IMAPSession` on a transport, with its timers."""

    service = "imap"
    session: IMAPSession
    settings: IMAPSettings

    def __init__(
        self,
        backend: IMAPBackend,
        clock: IReactorTime,
        settings: IMAPSettings | None = None,
        *,
        secure: bool = False,
    ) -> None:
        self.backend = backend
        self.clock = clock
        self.settings = settings if settings is not None else IMAPSettings()
        self.session = IMAPSession(backend, self.settings, secure=secure)
        self.session.wakeup = self._wakeup
        self.peer: Address | None = None
        self._init_pipeline()
        self._done = False
        self._held: deque[Any] | None = None
        self._batch = 0
        self._stall: IDelayedCall | None = None

    @property
    def codec(self) -> IMAPServerCodec:
        """The session's input framing."""
        return self.session.codec

    # -- Protocol hooks ----------------------------------------------------------------

    def connection_made(self) -> None:
        self.peer = self.session.peer = self.transport.get_peer()
        if getattr(self.transport, "tls_active", False):
            self.session.secure = True
        self._perform(self.session.greeting())
        self._flush()
        self._start_pipeline()

    def connection_lost(self, reason: Failure) -> None:
        self._closing = True
        self._stop_timer()
        self._stop_stall()
        self._held = None
        self.session.release()
        log.debug("IMAP session from %s ended: %s", self.peer, reason.get_error_message())

    def pause_writing(self) -> None:
        super().pause_writing()
        if self._stall is None and not self._closing and self.settings.stall_timeout > 0:
            self._stall = self.clock.call_later(self.settings.stall_timeout, self._stalled)

    def resume_writing(self) -> None:
        self._stop_stall()
        held = self._held
        if held is not None:
            self._held = None
            self._write_paused = False
            self._waiting = False
            self._perform(held)
            if self._held is not None:
                return  # paused again inside the command
        super().resume_writing()
        if self.session.idling:
            self._wakeup()

    # -- what the session asks for -------------------------------------------------------

    def _perform(self, actions: Sequence[object]) -> None:
        queue = actions if isinstance(actions, deque) else deque(actions)
        session = self.session
        while queue:
            action = queue.popleft()
            kind = type(action)
            if kind is bytes:
                assert isinstance(action, bytes)
                self._out.append(action)
                self._batch += len(action)
                if self._batch >= FLUSH_AT:
                    self._flush()
                    if self._write_paused and queue and not self._closing:
                        # The client is not keeping up: finish this command later.
                        self._held = queue
                        self._waiting = True
                        return
            elif kind is Call:
                assert isinstance(action, Call)
                if self._closing:
                    return
                try:
                    result = action.function(*action.args)
                except Exception as error:
                    more = session.call_failed(error)
                else:
                    if isinstance(result, Deferred):
                        self._wait_for(result, self._called, self._call_failed, always=True)
                        return
                    more = session.call_done(result)
                queue.extendleft(reversed(more))
            elif kind is StartTLS:
                self._start_tls()
            elif kind is Close or isinstance(action, Close):
                self._close()

    def _called(self, result: object) -> None:
        self._perform(self.session.call_done(result))

    def _call_failed(self, failure: Failure) -> None:
        self._perform(self.session.call_failed(failure.value))

    def _flush(self) -> None:
        self._batch = 0
        super()._flush()

    def _start_tls(self) -> None:
        self._flush()
        start = getattr(self.transport, "start_tls", None)
        if start is None:
            log.error("IMAP %s: STARTTLS on a transport that cannot start TLS", self.peer)
            self._close()
            return
        try:
            start()
        except RuntimeError:
            log.exception("IMAP %s: starting TLS failed", self.peer)
            self._close()
            return
        self.session.tls_started()

    def _wakeup(self) -> None:
        """The session has updates for an idling client: push them now."""
        if self._closing or self._waiting or self._write_paused:
            return
        actions = self.session.updates()
        if actions:
            self._perform(actions)
            self._flush()

    # -- the command loop (CommandPipeline) ----------------------------------------------

    def _timeout_reply(self, reason: str) -> None:
        self._perform(self.session.timed_out(reason))
        self._close()

    def shutdown(self, text: str = "Server shutting down") -> None:
        """Say ``* BYE text`` and close (a server shutdown or an upgrade that cannot hand over)."""
        if self._done:
            return
        self._perform(self.session.shutdown(text))
        self._close()

    def _stalled(self) -> None:
        self._stall = None
        if self._closing:
            return
        address = host_of(self.transport) if self.transport is not None else None
        log.info(
            "imap %s: responses unread for %ss; aborting", address, self.settings.stall_timeout
        )
        audit("connection.timeout", service="imap", address=address, reason="stalled")
        self._closing = True
        self._stop_timer()
        self._held = None
        if self.transport is not None:
            self.transport.abort_connection()
        self.session.release()

    def _stop_stall(self) -> None:
        stall, self._stall = self._stall, None
        if stall is not None and stall.active():
            stall.cancel()

    # -- closing -------------------------------------------------------------------------

    def _close(self) -> None:
        if self._done:
            return
        self._done = True
        self._flush()
        self._closing = True
        self._stop_timer()
        self._stop_stall()
        if self.transport is not None and not self.transport.disconnecting:
            self.transport.lose_connection()
        self.session.release()


class IMAPServerFactory(Factory):
    """Makes an :class:`IMAPServerProtocol` per connection, all sharing one backend.

    ``secure``: the connections are TLS from the first byte (IMAPS) even if
    the transport does not say so.
    """

    def __init__(
        self,
        backend: IMAPBackend,
        clock: IReactorTime,
        settings: IMAPSettings | None = None,
        *,
        secure: bool = False,
    ) -> None:
        self.backend = backend
        self.clock = clock
        self.settings = settings if settings is not None else IMAPSettings()
        self.secure = secure

    def build_protocol(self, addr: Address) -> IMAPServerProtocol:
        protocol = IMAPServerProtocol(self.backend, self.clock, self.settings, secure=self.secure)
        protocol.factory = self
        return protocol
