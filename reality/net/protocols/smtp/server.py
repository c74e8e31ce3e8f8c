"""The SMTP server's I/O: a thin Protocol adapter around :class:`~.session.SMTPSession`.

All of RFC 5321 is in the sans-IO session; this adapter does only what
needs a transport, a clock or a Deferred:

- it feeds the client's bytes to the session and writes the replies, one
  command at a time and in order (:class:`~reality.net.protocols.basic.CommandPipeline`:
  a reply that waits on the backend holds back the later ones; unread
  input past a bound pauses reading);
- it carries the session's requests to a pluggable
  :class:`~.backend.DeliveryBackend` and the answers back;
- it keeps the time limits (RFC 5321 4.5.3.2): a command line within the
  idle time, the message data within ``data_timeout`` in total (from the
  354 to the final "."), the session within ``session_timeout``.

Only what the backend acknowledges is acknowledged: the ``250`` after DATA
is written when the Deferred from :meth:`DeliveryBackend.deliver` fires.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from itertools import count
from typing import TYPE_CHECKING

from reality.net.defer import Failure, maybe_deferred
from reality.net.protocol import Address, Factory
from reality.net.protocols.basic import Close, CommandPipeline
from reality.net.protocols.smtp.backend import DeliveryBackend, DeliveryError, Envelope
from reality.net.protocols.smtp.codec import SMTPServerCodec
from reality.net.protocols.smtp.replies import Reply
from reality.net.protocols.smtp.session import CheckRecipient, Deliver, SMTPSession
from reality.net.protocols.smtp.settings import SMTPSettings
from reality.net.protocols.starttls import StartTLS

if TYPE_CHECKING:
    from reality.net.interfaces import IDelayedCall, IReactorTime

__all__ = ["SMTPServerFactory", "SMTPServerProtocol"]

log = logging.getLogger(__name__)


class SMTPServerProtocol(CommandPipeline):
    """One SMTP connection: an :class:`SMTPSession` on a transport, with its timers."""

    service = "smtp"
    session: SMTPSession
    settings: SMTPSettings

    def __init__(
        self,
        backend: DeliveryBackend,
        clock: IReactorTime,
        settings: SMTPSettings | None = None,
        message_ids: Callable[[], str] | None = None,
    ) -> None:
        self.backend = backend
        self.clock = clock
        self.settings = settings if settings is not None else SMTPSettings()
        self.session = SMTPSession(self.settings, message_ids)
        self.peer: Address | None = None
        self._init_pipeline()
        self._data_timer: IDelayedCall | None = None

    @property
    def codec(self) -> SMTPServerCodec:
        """The session's input framing (how much input waits: ``codec.buffered``)."""
        return self.session.codec

    # -- Protocol hooks ------------------------------------------------------------

    def connection_made(self) -> None:
        self.peer = self.session.peer = self.transport.get_peer()
        # STARTTLS is offered only where the transport can upgrade.
        active, can_start = self._tls_state()
        self.session.tls = active
        self.session.starttls = self.settings.starttls and can_start
        log.debug("SMTP session from %s", self.peer)
        self._perform(self.session.greeting())
        self._flush()
        self._start_pipeline()

    def connection_lost(self, reason: Failure) -> None:
        self._closing = True
        self._stop_timer()
        self._stop_data_timer()
        log.debug("SMTP session from %s ended: %s", self.peer, reason.get_error_message())

    # -- what the session asks for ---------------------------------------------------

    def _perform(self, actions: Sequence[object]) -> None:
        out = self._out
        for action in actions:
            if type(action) is Reply:
                out.append(action.to_bytes())
            elif type(action) is CheckRecipient:
                address = action.address
                self._wait_for(
                    maybe_deferred(self.backend.check_recipient, address),
                    self._recipient_checked,
                    self._recipient_check_failed,
                    address,
                )
            elif type(action) is Deliver:
                envelope = action.envelope
                self._wait_for(
                    maybe_deferred(self.backend.deliver, envelope),
                    self._delivered,
                    self._delivery_failed,
                    envelope,
                )
            elif type(action) is StartTLS:
                self._start_tls()
            elif type(action) is Close:
                self._close()
        # The data timer runs from the 354 to the final "." (RFC 5321 4.5.3.2.6).
        if self.session.in_data:
            if self._data_timer is None and self.settings.data_timeout > 0 and not self._closing:
                self._data_timer = self.clock.call_later(
                    self.settings.data_timeout, self._deadline, "data-deadline"
                )
        elif self._data_timer is not None:
            self._stop_data_timer()

    def _recipient_checked(self, verdict: object, address: str) -> None:
        self._perform(self.session.recipient_checked(verdict))

    def _recipient_check_failed(self, failure: Failure, address: str) -> None:
        log.error(
            "check_recipient(%r) failed:\n%s", address, failure.get_traceback().rstrip()
        )
        self._perform(self.session.recipient_check_failed())

    def _delivered(self, _result: object, envelope: Envelope) -> None:
        self._perform(self.session.delivered())

    def _delivery_failed(self, failure: Failure, envelope: Envelope) -> None:
        if not isinstance(failure.value, DeliveryError):
            log.error(
                "delivery of message %s failed:\n%s", envelope.id,
                failure.get_traceback().rstrip(),
            )
        self._perform(self.session.delivery_failed(failure.value))

    # -- the command loop (CommandPipeline) --------------------------------------------

    def _reading_body(self) -> bool:
        # Message data: each read is activity (RFC 5321 4.5.3.2.5 times the
        # blocks, not the lines); the total is the data timer's.
        return self.session.in_data

    def _timeout_reply(self, reason: str) -> None:
        self._perform(self.session.timed_out(reason))

    # -- closing -----------------------------------------------------------------------

    def _close_with(self, reply: Reply) -> None:
        """Say ``reply`` and hang up (for a refusal or a shutdown decided outside the session)."""
        self._out.append(reply.to_bytes())
        self._close()

    def _close(self) -> None:
        self._flush()
        self._closing = True
        self._stop_timer()
        self._stop_data_timer()
        self.transport.lose_connection()

    def _stop_data_timer(self) -> None:
        timer, self._data_timer = self._data_timer, None
        if timer is not None and timer.active():
            timer.cancel()


class SMTPServerFactory(Factory):
    """Makes an :class:`SMTPServerProtocol` per connection, all sharing one backend.

    Message ids (in ``Received:`` and the final ``250``) are the start time
    in hex and a counter, unique within a process and across restarts.
    """

    def __init__(
        self,
        backend: DeliveryBackend,
        clock: IReactorTime,
        settings: SMTPSettings | None = None,
    ) -> None:
        self.backend = backend
        self.clock = clock
        self.settings = settings if settings is not None else SMTPSettings()
        self._prefix = f"{int(self.settings.wall_clock()):X}"
        self._numbers = count(1)

    def next_message_id(self) -> str:
        """A new message id, e.g. ``6560A1B2.17``."""
        return f"{self._prefix}.{next(self._numbers)}"

    def build_protocol(self, addr: Address) -> SMTPServerProtocol:
        protocol = SMTPServerProtocol(
            self.backend, self.clock, self.settings, message_ids=self.next_message_id
        )
        protocol.factory = self
        return protocol
