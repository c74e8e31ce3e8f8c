"""The mail gateway: SMTP delivery into players' mailboxes, POP3 out of them.

Where the general SMTP and POP3 servers (:mod:`reality.net.protocols.smtp`,
:mod:`reality.net.protocols.pop3`) meet the world's post office
(:mod:`reality.game.mail`). ``install(context)`` (see
:mod:`reality.gateways.context`) listens on ``settings.smtp_port`` and
``settings.pop3_port``.

SMTP (RFC 5321), the backend:

- ``RCPT TO:<name@mail-domain>``, the domain in any letter case: an
  existing player's name in any letter case (``+tag`` ignored) is accepted
  (``250 2.1.5``); ``postmaster@`` and a bare ``<postmaster>`` (RFC 5321
  4.5.1) are always accepted and go to the admins, or, while no admin
  account exists, are kept for the first admin who logs in; an unknown
  name gets ``550 5.1.1``; a full
  mailbox ``452 4.2.2``; any other domain ``550 5.7.1``: never an open relay.
- ``DATA``: the message goes to the post office, which commits every
  message that arrived in the same reactor turn in one transaction; the
  ``250`` is written when that commit has returned, so a crash after the
  ``250`` loses nothing and a crash before it leaves the client to retry
  (RFC 5321 6.1). A failed commit answers ``451 4.3.0``.
- Every message is parsed in the worker pool, never on the loop: a parse
  over its CPU-time limit answers ``554 5.6.0`` (the same bytes would do it
  again); a worker killed at the wall-clock limit, or no worker free,
  ``451 4.3.0``. A mailbox found full at the commit (sessions that passed
  RCPT together) answers ``452 4.2.2`` and stores nothing. A resent message
  (same Message-ID and envelope sender within the post office's dedupe
  window) is acknowledged and kept once.
- Mail from here is outside mail: it shows in the game under its envelope
  sender, its From header marked, never as a player's letter.

POP3 (RFC 1939, RFC 2449), the backend: ``USER``/``PASS`` are checked by the
server's one :class:`~reality.gateways.auth.Authenticator` (so failed
logins are throttled per address together with telnet); ``USER`` may be
the name or the whole address. A mailbox is open in one session at a time:
another ``PASS`` gets ``-ERR [IN-USE]``. Deletions happen at ``QUIT`` in one
transaction.

Both ports count connections per address together (``max_per_address``,
as for telnet, in :class:`~reality.gateways.connections.Connections`) and
answer ``421`` / ``-ERR [SYS/TEMP]`` past it. At shutdown the queued
deliveries are committed (and answered) first, then every session is told
and closed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from reality.audit import audit
from reality.game.accounts import name_key
from reality.game.mail import (
    HELD,
    Letter,
    MailboxFull,
    MailboxLocked,
    MailboxSession,
    PostOffice,
    open_post_office,
)
from reality.game.world import World
from reality.gateways.auth import (
    AccountBanned,
    AddressBanned,
    Authenticator,
    LoginFailed,
    LoginThrottled as AuthThrottled,
    ServerBusy,
)
from reality.gateways.connections import BANNED, TOO_MANY_FROM_ADDRESS, Connections
from reality.gateways.context import GatewayContext
from reality.gateways.workers import JobTimeout, WorkerPool
from reality.net.defer import Deferred, Failure
from reality.net.interfaces import IReactorTime
from reality.net.protocol import Address
from reality.net.protocols import pop3, smtp
from reality.net.protocols.smtp import (
    ACCEPT,
    RELAY_DENIED,
    UNKNOWN_USER,
    Envelope,
    RecipientVerdict,
    Reply,
    SMTPServerProtocol,
    SMTPSettings,
)

log = logging.getLogger(__name__)

__all__ = ["MAILBOX_FULL", "MailGateway", "install"]

#: RCPT for a mailbox at its limit: temporary, the sender tries again later.
MAILBOX_FULL = RecipientVerdict(452, "4.2.2", "Mailbox full, try again later")


class _ServerBusy(pop3.POP3AuthError):
    """The password checkers are overloaded: ``-ERR [SYS/TEMP]``."""

    response_code = "SYS/TEMP"
    default_text = "The server is busy, try again in a moment"


class _Counted:
    """A mail session the gateway (its backend) counts; past a limit: ``too_many``, closed.

    The per-address limit counts SMTP and POP3 together; ``--max-connections``
    counts each of them (``service``) on its own.
    """

    backend: MailGateway
    #: Which service the session belongs to, for ``--max-connections``.
    service: str
    #: The refusals, in the session's protocol: too many from the address, or
    #: in all; a banned address.
    too_many: Any
    full: Any
    banned: Any

    def connection_made(self) -> None:
        peer = self.transport.get_peer()  # type: ignore[attr-defined]
        connections = self.backend.connections
        reason = connections.refusal(peer.host, self.service)
        if reason is not None:
            log.warning("mail: refusing %s connection from %s: %s (%d open)",
                        self.service, peer.host, reason, connections.open_on(self.service))
            audit("connection.refused", service=self.service, address=peer.host,
                  reason=_AUDIT_REASONS.get(reason, "per-service"))
            self.peer = peer
            if reason == BANNED:
                answer = self.banned
            else:
                answer = self.too_many if reason == TOO_MANY_FROM_ADDRESS else self.full
            self._close_with(answer)  # type: ignore[attr-defined]
            return
        connections.add(self, peer.host, self.service)
        super().connection_made()  # type: ignore[misc]

    def connection_lost(self, reason: Failure) -> None:
        super().connection_lost(reason)  # type: ignore[misc]
        self.backend.connections.discard(self)


class _SMTPSession(_Counted, SMTPServerProtocol):
    service = "smtp"
    too_many = Reply(421, "Too many connections from your address", "4.7.0")
    full = Reply(421, "Too many connections, try again later", "4.3.2")
    #: RFC 5321 3.1: 554 instead of the greeting, and no transaction.
    banned = Reply(554, "Your address is banned from this server", "5.7.1")

    def shut_down(self) -> None:
        """Tell the client we are going away (RFC 5321 3.8) and close."""
        if not self._closing:
            host = self.settings.hostname
            self._close_with(Reply(421, f"{host} Service shutting down", "4.3.2"))


class _POP3Session(_Counted, pop3.POP3ServerProtocol):
    service = "pop3"
    too_many = pop3.err("Too many connections from your address", "SYS/TEMP")
    full = pop3.err("Too many connections, try again later", "SYS/TEMP")
    banned = pop3.err("Your address is banned from this server", "SYS/PERM")

    def kick(self, message: str) -> None:
        """Close now with ``-ERR message`` (a ban, a password changed elsewhere).

        Nothing marked for deletion is deleted: the session never reaches UPDATE.
        """
        if not self._closing:
            self._close_with(pop3.err(message, "SYS/PERM"))

    def shut_down(self) -> None:
        """Close without entering UPDATE: nothing marked is deleted (RFC 1939 6)."""
        if not self._closing:
            self._close_with(pop3.err("Server shutting down, try again later", "SYS/TEMP"))


#: The audit log's word for each refusal.
_AUDIT_REASONS = {BANNED: "banned", TOO_MANY_FROM_ADDRESS: "per-address"}


class _Banned(pop3.POP3AuthError):
    """The account (or the client's address) is banned: ``-ERR [SYS/PERM]``."""

    response_code = "SYS/PERM"
    default_text = "This account is banned"


class _SMTPFactory(smtp.SMTPServerFactory):
    def build_protocol(self, addr: Address) -> _SMTPSession:
        session = _SMTPSession(
            self.backend, self.clock, self.settings, message_ids=self.next_message_id
        )
        session.factory = self
        return session


class _POP3Factory(pop3.POP3ServerFactory):
    def build_protocol(self, addr: Address) -> _POP3Session:
        session = _POP3Session(self.backend, self.clock, self.settings)
        session.factory = self
        return session


class MailGateway:
    """The SMTP ``DeliveryBackend`` and the POP3 ``POP3Backend`` of one world.

    ``smtp_factory`` and ``pop3_factory`` make the sessions; ``clock`` is the
    reactor (or a test Clock) for their idle timers.
    """

    def __init__(
        self,
        world: World,
        office: PostOffice,
        authenticator: Authenticator,
        clock: IReactorTime,
        *,
        max_per_address: int = 50,
        max_connections: int = 10000,
        smtp_settings: SMTPSettings | None = None,
        pop3_settings: pop3.POP3Settings | None = None,
        parser: WorkerPool | None = None,
    ) -> None:
        self.world = world
        #: Every message is parsed by ``parser`` (None: on the loop, for tests).
        self.parser = parser
        self.office = office
        self.authenticator = authenticator
        self.clock = clock
        self.domain = world.mail_domain.lower()
        host = world.mail_domain
        self.smtp_settings = smtp_settings or SMTPSettings(hostname=host)
        self.pop3_settings = pop3_settings or pop3.POP3Settings(hostname=host)
        self.connections = Connections(max_per_address, max_connections, authenticator.bans)
        self.smtp_factory = _SMTPFactory(self, clock, self.smtp_settings)
        #: Messages accepted (250) and refusals by reason, since the start:
        #: read by the metrics (``reality_mail_accepted_total``/``_rejected_total``).
        self.accepted = 0
        self.rejected: dict[str, int] = {}
        self.pop3_factory = _POP3Factory(self, clock, self.pop3_settings)

    # -- sessions ----------

    @property
    def open_connections(self) -> int:
        """SMTP and POP3 connections open now."""
        return len(self.connections)

    def close_all(self, message: str = "") -> None:
        """Shutdown: commit and answer what is queued, then close every session."""
        try:
            self.office.close()
        except Exception:
            log.exception("mail: committing queued deliveries at shutdown failed")
        self.connections.close_all(lambda session: session.shut_down())

    def close_banned(self, covers: Callable[[str], bool], message: str) -> int:
        """A new address ban: close every SMTP and POP3 session from an address it covers.

        SMTP is told ``421`` (RFC 5321 3.8: the client keeps its message and
        may try elsewhere); POP3 ``-ERR``, and nothing marked is deleted.
        """
        sessions = self.connections.matching(covers)
        for session in sessions:
            if isinstance(session, _POP3Session):
                session.kick(message)
            elif not session._closing:
                host = self.smtp_settings.hostname
                session._close_with(Reply(421, f"{host} {message}", "4.7.0"))
        return len(sessions)

    def close_account(self, key: str, message: str) -> int:
        """Close the POP3 sessions holding ``key``'s mailbox, with ``-ERR message``.

        For a ban, and for a password changed from elsewhere (a mail client
        logged in with the old password must log in again).
        """
        sessions = [
            session for session in self.connections
            if isinstance(session, _POP3Session)
            and getattr(session.mailbox, "key", None) == key
        ]
        for session in sessions:
            session.kick(message)
        return len(sessions)

    # -- SMTP: DeliveryBackend ----------

    def _local_keys(self, address: str) -> list[str] | None:
        """The mailbox keys an address delivers to; None for another domain, [] for nobody."""
        local, at, domain = address.rpartition("@")
        if not at:
            # RFC 5321 4.5.1: <postmaster> with no domain must be accepted.
            return self._postmaster() if address.lower() == "postmaster" else None
        if domain.lower() != self.domain:
            return None
        local = local.partition("+")[0]
        if not local or not local.isascii() or not local.isalpha():
            return []
        key = name_key(local)
        if key == "postmaster":
            return self._postmaster()
        if self.world.store.get_account(key) is not None:
            return [key]
        return []

    def _postmaster(self) -> list[str]:
        """The admins' mailboxes; with no admin account yet, the held box (RFC 5321 4.5.1).

        Always the admins, even if a player is called Postmaster: reports
        about the server are for the people who run it. An admin whose
        mailbox is full is left out while another has room: postmaster is
        reached through any of them, and one full mailbox must not refuse
        the letter for all (the commit refuses a message if any recipient
        is full).
        """
        admins = [a for a in sorted(self.world.admin_keys()) if self.world.store.get_account(a)]
        with_room = [a for a in admins if not self.office.is_full(a)]
        return with_room or admins or [HELD]

    def _rejected(self, reason: str) -> None:
        self.rejected[reason] = self.rejected.get(reason, 0) + 1

    def check_recipient(self, address: str) -> RecipientVerdict:
        keys = self._local_keys(address)
        if keys is None:
            self._rejected("relay_denied")
            return RELAY_DENIED
        if not keys:
            self._rejected("unknown_user")
            return UNKNOWN_USER
        if all(self.office.is_full(key) for key in keys):
            self._rejected("mailbox_full")
            return MAILBOX_FULL
        return ACCEPT

    def deliver(self, envelope: Envelope) -> Deferred[None]:
        keys: list[str] = []
        for address in envelope.rcpt_to:
            keys.extend(self._local_keys(address) or ())
        d: Deferred[None] = Deferred()
        if not keys:
            # Every recipient was accepted a moment ago; nothing can take an
            # account away, but say something sensible if it ever happens.
            d.errback(smtp.DeliveryError(550, "5.1.1", "No such mailbox any more"))
            return d

        def done(error: BaseException | None) -> None:
            if error is None:
                self.accepted += 1
                d.callback(None)
            elif isinstance(error, MailboxFull):
                self._rejected("mailbox_full")
                # Checked again at the commit: sessions that passed RCPT
                # together must not overfill it. Nothing was stored.
                d.errback(smtp.DeliveryError(452, "4.2.2", "Mailbox full, try again later"))
            else:
                self._rejected("error")
                d.errback(error)

        parser = self.parser
        if parser is None:
            # Only without a worker pool (unit tests): the server always has one.
            self.office.deliver(keys, envelope.data, envelope_from=envelope.mail_from, done=done)
            return d

        # What a message costs the email package depends on its bytes, which
        # a stranger chose: every message is parsed in a worker process, under
        # a time limit, never on the loop.
        def parsed(letter: Letter) -> None:
            self.office.deliver(
                keys, envelope.data, envelope_from=envelope.mail_from, done=done, letter=letter
            )

        def not_parsed(failure: Failure) -> None:
            error = failure.value
            log.warning("message %s (%d bytes from <%s>) not parsed: %s",
                        envelope.id, len(envelope.data), envelope.mail_from, error)
            self._rejected("unparsed")
            if isinstance(error, JobTimeout) and error.cpu:
                # The same bytes would use up the same CPU again: permanent.
                d.errback(smtp.DeliveryError(
                    554, "5.6.0", "Message too costly to process (over its time limit)"
                ))
            else:
                d.errback(smtp.DeliveryError(
                    451, "4.3.0", "Temporary failure processing the message, try again later"
                ))

        parser.parse_letter(
            envelope.data,
            received_at=self.world.wall(),
            envelope_from=envelope.mail_from,
            domain=self.world.mail_domain,
            external=True,
        ).add_callbacks(parsed, not_parsed)
        return d

    # -- POP3: POP3Backend ----------

    def authenticate(
        self, user: str, password: str, peer: Address | None
    ) -> Deferred[MailboxSession]:
        name = user.strip()
        local, at, domain = name.rpartition("@")
        if at and domain.lower() == self.domain:
            name = local
        address = peer.host if peer is not None else "?"
        d = self.authenticator.authenticate(name, password, address)

        def opened(account: Any) -> MailboxSession:
            try:
                return self.office.open_mailbox(account.key)
            except MailboxLocked:
                raise pop3.MailboxInUse() from None

        def refused(failure: Failure) -> Any:
            if failure.check(LoginFailed):
                raise pop3.BadCredentials()
            if failure.check(AccountBanned, AddressBanned):
                raise _Banned(str(failure.value).rstrip("."))
            if failure.check(AuthThrottled):
                raise pop3.LoginThrottled()
            if failure.check(ServerBusy):
                raise _ServerBusy()
            return failure

        d.add_callbacks(opened, refused)
        return d


def install(context: GatewayContext) -> MailGateway:
    """Plug mail into the server: the SMTP and POP3 ports; the gateway is what it tracks."""
    settings, world = context.settings, context.world
    gateway = MailGateway(
        world,
        open_post_office(world),
        context.authenticator,
        context.reactor,
        max_per_address=context.limits.max_per_address,
        max_connections=context.limits.max_connections,
        smtp_settings=SMTPSettings(
            hostname=world.mail_domain,
            idle_timeout=settings.smtp_idle_timeout,
            data_timeout=settings.smtp_data_timeout,
            session_timeout=settings.smtp_session_timeout,
        ),
        pop3_settings=pop3.POP3Settings(
            hostname=world.mail_domain,
            idle_timeout=settings.pop3_idle_timeout,
            session_timeout=settings.pop3_session_timeout,
        ),
        parser=context.pool,
    )
    context.listen("smtp", settings.smtp_port, gateway.smtp_factory)
    context.listen("pop3", settings.pop3_port, gateway.pop3_factory)
    log.info("mail for <name>@%s", world.mail_domain)
    return gateway
