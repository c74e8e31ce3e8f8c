"""The POP3 server's I/O: a thin Protocol adapter around :class:`~.session.POP3Session`.

All of RFC 1939 is in the sans-IO session; this adapter does only what
needs a transport, a clock, a Deferred or the mailbox object:

- it feeds the client's bytes to the session and writes the responses,
  one command at a time and in order
  (:class:`~reality.net.protocols.basic.CommandPipeline`, bounded input);
- it carries the session's requests to a pluggable
  :class:`~.backend.POP3Backend` and to the :class:`~.backend.Mailbox`
  that authentication lends, and the answers back;
- it owns the mailbox for the session and releases it exactly once when
  the session ends, however it ends (QUIT, a timeout, a dropped
  connection), so its lock is never left behind; deletions are committed
  only at QUIT (the UPDATE state);
- it keeps the time limits: the autologout timer (RFC 1939 3: at least 10
  minutes) and the session's total.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from reality.net.defer import Failure, maybe_deferred
from reality.net.protocol import Address, Factory
from reality.net.protocols.basic import Close, CommandPipeline
from reality.net.protocols.pop3.backend import Mailbox, POP3AuthError, POP3Backend
from reality.net.protocols.pop3.codec import POP3ServerCodec
from reality.net.protocols.pop3.session import (
    Authenticate,
    CommitDeletions,
    MarkRetrieved,
    POP3Session,
    ReadMessage,
    Release,
)
from reality.net.protocols.pop3.settings import POP3Settings
from reality.net.protocols.starttls import StartTLS

if TYPE_CHECKING:
    from reality.net.interfaces import IReactorTime

__all__ = ["POP3ServerFactory", "POP3ServerProtocol"]

log = logging.getLogger(__name__)


class POP3ServerProtocol(CommandPipeline):
    """One POP3 connection: a :class:`POP3Session` on a transport, with its timers and mailbox."""

    service = "pop3"
    session: POP3Session
    settings: POP3Settings

    def __init__(
        self, backend: POP3Backend, clock: IReactorTime, settings: POP3Settings | None = None
    ) -> None:
        self.backend = backend
        self.clock = clock
        self.settings = settings if settings is not None else POP3Settings()
        self.session = POP3Session(self.settings)
        self.mailbox: Mailbox | None = None
        self.peer: Address | None = None
        self._init_pipeline()
        self._done = False

    @property
    def codec(self) -> POP3ServerCodec:
        """The session's input framing (how much input waits: ``codec.buffered``)."""
        return self.session.codec

    # -- Protocol hooks ------------------------------------------------------------

    def connection_made(self) -> None:
        self.peer = self.session.peer = self.transport.get_peer()
        # POP3S is TLS from the start; STLS is offered only where the
        # transport can upgrade.
        active, can_start = self._tls_state()
        self.session.tls = active
        self.session.stls = self.settings.tls and can_start
        self._perform(self.session.greeting())
        self._flush()
        self._start_pipeline()

    def connection_lost(self, reason: Failure) -> None:
        self._closing = True
        self._stop_timer()
        if not self.session.committing:
            # Without QUIT there is no UPDATE state (RFC 1939 6): only unlock.
            self._release()
        log.debug("POP3 session from %s ended: %s", self.peer, reason.get_error_message())

    # -- what the session asks for ---------------------------------------------------

    def _perform(self, actions: Sequence[object]) -> None:
        for action in actions:
            if type(action) is bytes:
                self._out.append(action)
            elif type(action) is ReadMessage:
                assert self.mailbox is not None
                index = action.index
                self._wait_for(
                    maybe_deferred(self.mailbox.message, index), self._read, self._read_failed,
                    index,
                )
            elif type(action) is MarkRetrieved:
                self._mark_retrieved(action.index)
            elif type(action) is Authenticate:
                self._wait_for(
                    maybe_deferred(
                        self.backend.authenticate, action.user, action.password, self.peer
                    ),
                    self._authenticated,
                    self._authentication_failed,
                    action.user,
                    on_abandoned=self._abandoned_login,
                )
            elif type(action) is CommitDeletions:
                assert self.mailbox is not None
                self._wait_for(
                    maybe_deferred(self.mailbox.commit_deletions, list(action.indices)),
                    self._committed,
                    self._commit_failed,
                    always=True,
                )
            elif type(action) is Release:
                self._release()
            elif type(action) is StartTLS:
                self._start_tls()
            elif type(action) is Close:
                self._close()

    def _authenticated(self, mailbox: Mailbox, user: str) -> None:
        self.mailbox = mailbox
        try:
            listing = mailbox.list_messages()
        except Exception:
            log.exception("POP3 mailbox of %r could not be listed", user)
            listing = None
        self._perform(self.session.logged_in(listing))

    def _authentication_failed(self, failure: Failure, user: str) -> None:
        if not isinstance(failure.value, POP3AuthError):
            log.error(
                "POP3 authenticate(%r) failed:\n%s", user, failure.get_traceback().rstrip()
            )
        self._perform(self.session.login_failed(failure.value))

    def _abandoned_login(self, result: object) -> None:
        # The client left while its credentials were checked: unlock what it won.
        if not isinstance(result, Failure):
            self.mailbox = result  # type: ignore[assignment]
            self._release()

    def _read(self, data: object, index: int) -> None:
        self._perform(self.session.message_read(data))

    def _read_failed(self, failure: Failure, index: int) -> None:
        log.error(
            "POP3 reading message %d failed:\n%s", index + 1, failure.get_traceback().rstrip()
        )
        self._perform(self.session.message_read_failed())

    def _mark_retrieved(self, index: int) -> None:
        hook = getattr(self.mailbox, "retrieved", None)
        if hook is not None:
            try:
                hook(index)
            except Exception:
                log.exception("POP3: marking message %d as read failed", index + 1)

    def _committed(self, _result: object) -> None:
        self._perform(self.session.deletions_committed())

    def _commit_failed(self, failure: Failure) -> None:
        log.error("POP3 deletions failed:\n%s", failure.get_traceback().rstrip())
        self._perform(self.session.deletions_failed())

    # -- the command loop (CommandPipeline) --------------------------------------------

    def _timeout_reply(self, reason: str) -> None:
        self._perform(self.session.timed_out(reason))

    # -- closing -----------------------------------------------------------------------

    def _close_with(self, response: bytes) -> None:
        """Say ``response`` and hang up (a refusal or a shutdown decided outside the session)."""
        if self._done:
            return
        self._out.append(response)
        self._close()

    def _close(self) -> None:
        if self._done:
            return
        self._done = True
        self._flush()
        self._closing = True
        self._stop_timer()
        if self.transport is not None and not self.transport.disconnecting:
            self.transport.lose_connection()
        if not self.session.committing:
            self._release()

    def _release(self) -> None:
        mailbox, self.mailbox = self.mailbox, None
        if mailbox is None:
            return
        try:
            mailbox.release()
        except Exception:
            log.exception("POP3 releasing the mailbox failed")


class POP3ServerFactory(Factory):
    """Makes a :class:`POP3ServerProtocol` per connection, all sharing one backend."""

    def __init__(
        self, backend: POP3Backend, clock: IReactorTime, settings: POP3Settings | None = None
    ) -> None:
        self.backend = backend
        self.clock = clock
        self.settings = settings if settings is not None else POP3Settings()

    def build_protocol(self, addr: Address) -> POP3ServerProtocol:
        protocol = POP3ServerProtocol(self.backend, self.clock, self.settings)
        protocol.factory = self
        return protocol
