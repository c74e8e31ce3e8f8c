"""The mail gateway: SMTP delivery into players' mailboxes, POP3 and IMAP out of them.

Where the general SMTP and POP3 servers (:mod:`reality.net.protocols.smtp`,
:mod:`reality.net.protocols.pop3`) meet the world's post office
(:mod:`reality.game.mail`). ``install(context)`` (see
:mod:`reality.gateways.context`) listens on ``settings.smtp_port`` and
``settings.pop3_port`` and ``settings.imap_port``.

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

IMAP (RFC 3501), the backend: ``LOGIN`` and ``AUTHENTICATE PLAIN`` go
through the same authenticator as POP3 (the same names, the same
throttles and bans) and give a :class:`~reality.gateways.imap.GameAccount`:
``INBOX`` and ``Sent`` over the post office's folders, every change made
elsewhere pushed to the open sessions (see :mod:`reality.gateways.imap`).
Any number of IMAP sessions may have a mailbox open, beside one POP3
session.

All three ports count connections per address together (``max_per_address``,
as for telnet, in :class:`~reality.gateways.connections.Connections`) and
answer ``421`` / ``-ERR [SYS/TEMP]`` past it. At shutdown the queued
deliveries are committed (and answered) first, then every session is told
and closed.

With TLS configured (``--tls-cert``/``--tls-key``), SMTP offers STARTTLS
(RFC 3207) and POP3 STLS (RFC 2595) on their ports, and POP3S (port
``--pop3s-port``) is the same POP3 service with TLS from the first byte.
A POP3 password is then refused on a plain connection (``-ERR [AUTH]``)
except from ``--plaintext-auth-from`` (default: loopback).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import attrs

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
from reality.gateways.imap import GameAccount
from reality.gateways.workers import JobTimeout, WorkerPool
from reality.net.defer import Deferred, Failure
from reality.net.interfaces import IReactorTime
from reality.net.protocol import Address
from reality.net.protocols import imap, pop3, smtp
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
from reality.net.protocols.starttls import LOOPBACK, Network, address_in, parse_network
from reality.net.tls import TLSServerFactory

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


class _IMAPSession(_Counted, imap.IMAPServerProtocol):
    service = "imap"
    too_many = b"* BYE [UNAVAILABLE] Too many connections from your address\r\n"
    full = b"* BYE [UNAVAILABLE] Too many connections, try again later\r\n"
    banned = b"* BYE [CONTACTADMIN] Your address is banned from this server\r\n"

    def _close_with(self, response: bytes) -> None:
        """Say ``response`` (a ``* BYE`` instead of the greeting) and hang up."""
        if self._done:
            return
        self._out.append(response)
        self._close()

    def kick(self, message: str) -> None:
        """``* BYE message`` and close (a ban, a password changed elsewhere)."""
        self.shutdown(message)

    def shut_down(self) -> None:
        self.shutdown("Server shutting down, try again later")


#: The audit log's word for each refusal.
_AUDIT_REASONS = {BANNED: "banned", TOO_MANY_FROM_ADDRESS: "per-address"}


class _Banned(pop3.POP3AuthError):
    """The account (or the client's address) is banned: ``-ERR [SYS/PERM]``."""

    response_code = "SYS/PERM"
    default_text = "This account is banned"


class _IMAPBanned(imap.IMAPAuthError):
    """The account (or the client's address) is banned: ``NO [CONTACTADMIN]`` (RFC 5530)."""

    response_code = "CONTACTADMIN"
    default_text = "This account is banned"


class _IMAPBusy(imap.IMAPAuthError):
    """The password checkers are overloaded: ``NO [UNAVAILABLE]``."""

    response_code = "UNAVAILABLE"
    default_text = "The server is busy, try again in a moment"


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


class _IMAPFactory(imap.IMAPServerFactory):
    """IMAP sessions; with TLS on, a peer in ``plaintext_from`` may log in without it.

    The same policy as POP3's ``--plaintext-auth-from``: the settings of a
    session from such a peer allow ``LOGIN`` on a plain connection; others
    see ``LOGINDISABLED`` until ``STARTTLS``.
    """

    plaintext_from: tuple[Network, ...] = ()

    def build_protocol(self, addr: Address) -> _IMAPSession:
        settings = self.settings
        if (
            not settings.plaintext_login
            and not self.secure
            and address_in(getattr(addr, "host", ""), self.plaintext_from)
        ):
            settings = attrs.evolve(settings, plaintext_login=True)
        session = _IMAPSession(self.backend, self.clock, settings, secure=self.secure)
        session.factory = self
        return session


class _IMAPBackend:
    """The IMAP ``IMAPBackend`` face of the gateway (its ``authenticate`` differs from POP3's)."""

    def __init__(self, gateway: MailGateway) -> None:
        self.gateway = gateway

    @property
    def connections(self) -> Connections:
        """The gateway's connection counts (what :class:`_Counted` asks the backend for)."""
        return self.gateway.connections

    def authenticate(
        self, user: str, password: str, peer: Address | None
    ) -> Deferred[GameAccount]:
        return self.gateway.authenticate_imap(user, password, peer)


class MailGateway:
    """The SMTP ``DeliveryBackend``, the POP3 ``POP3Backend`` and the IMAP backend of one world.

    ``smtp_factory``, ``pop3_factory`` and ``imap_factory`` make the
    sessions; ``clock`` is the reactor (or a test Clock) for their timers.
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
        imap_settings: imap.IMAPSettings | None = None,
        imap_plaintext_from: tuple[Network, ...] = LOOPBACK,
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
        self.imap_settings = imap_settings or _imap_settings(host)
        self.imap_factory = _IMAPFactory(_IMAPBackend(self), clock, self.imap_settings)
        self.imap_factory.plaintext_from = imap_plaintext_from
        #: IMAPS: the same sessions, TLS from the first byte (used only with TLS on).
        self.imaps_factory = _IMAPFactory(
            _IMAPBackend(self), clock, self.imap_settings, secure=True
        )
        #: Logged-in IMAP accounts (the sessions' GameAccounts), for bans and password changes.
        self.imap_accounts: set[GameAccount] = set()

    # -- sessions ----------

    @property
    def open_connections(self) -> int:
        """SMTP, POP3 and IMAP connections open now."""
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
            if isinstance(session, _POP3Session | _IMAPSession):
                session.kick(message)
            elif not session._closing:
                host = self.smtp_settings.hostname
                session._close_with(Reply(421, f"{host} {message}", "4.7.0"))
        return len(sessions)

    def close_account(self, key: str, message: str) -> int:
        """Close the POP3 and IMAP sessions logged in to ``key``'s mailbox.

        POP3 hears ``-ERR message``, IMAP ``* BYE message``. For a ban, and
        for a password changed from elsewhere (a mail client logged in with
        the old password must log in again).
        """
        sessions = [
            session for session in self.connections
            if (isinstance(session, _POP3Session)
                and getattr(session.mailbox, "key", None) == key)
            or (isinstance(session, _IMAPSession)
                and getattr(session.session.account, "key", None) == key)
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

    def _login_name(self, user: str) -> str:
        """The account name in a mail login: the name itself, or its whole address here."""
        name = user.strip()
        local, at, domain = name.rpartition("@")
        if at and domain.lower() == self.domain:
            name = local
        return name

    def authenticate(
        self, user: str, password: str, peer: Address | None
    ) -> Deferred[MailboxSession]:
        name = self._login_name(user)
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


    # -- IMAP: IMAPBackend ----------

    def authenticate_imap(
        self, user: str, password: str, peer: Address | None
    ) -> Deferred[GameAccount]:
        """IMAP ``LOGIN``/``AUTHENTICATE PLAIN``: the POP3 names, throttles and bans."""
        name = self._login_name(user)
        address = peer.host if peer is not None else "?"
        d = self.authenticator.authenticate(name, password, address)

        def logged_in(account: Any) -> GameAccount:
            game_account = GameAccount(self.office, account.key,
                                       on_logout=self.imap_accounts.discard)
            self.imap_accounts.add(game_account)
            return game_account

        def refused(failure: Failure) -> Any:
            if failure.check(LoginFailed):
                raise imap.BadCredentials()
            if failure.check(AccountBanned, AddressBanned):
                raise _IMAPBanned(str(failure.value).rstrip("."))
            if failure.check(AuthThrottled):
                raise imap.LoginThrottled()
            if failure.check(ServerBusy):
                raise _IMAPBusy()
            return failure

        d.add_callbacks(logged_in, refused)
        return d


def plaintext_networks(given: Sequence[str]) -> tuple[Network, ...]:
    """``--plaintext-auth-from``'s networks: none given, the loopback ones; ``none``, none."""
    if not given:
        return LOOPBACK
    return tuple(parse_network(text) for text in given if text != "none")


def _imap_settings(host: str, **limits: Any) -> imap.IMAPSettings:
    """IMAP settings for the game's mailboxes: the flags the folders keep (no ``\\Draft``)."""
    return imap.IMAPSettings(
        hostname=host,
        permanent_flags=("\\Answered", "\\Flagged", "\\Deleted", "\\Seen"),
        **limits,
    )


def install(context: GatewayContext) -> MailGateway:
    """Plug mail into the server: the SMTP, POP3 and IMAP ports; the gateway is what it tracks."""
    settings, world, tls = context.settings, context.world, context.tls
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
            starttls=tls is not None,
        ),
        pop3_settings=pop3.POP3Settings(
            hostname=world.mail_domain,
            idle_timeout=settings.pop3_idle_timeout,
            session_timeout=settings.pop3_session_timeout,
            tls=tls is not None,
            plaintext_auth_from=plaintext_networks(settings.plaintext_auth_from),
        ),
        imap_settings=_imap_settings(
            world.mail_domain,
            idle_timeout=settings.imap_idle_timeout,
            session_timeout=settings.imap_session_timeout,
            starttls=tls is not None,
            # With TLS on, a password without TLS only from these networks
            # (POP3's policy; each connection is checked by _IMAPFactory).
            plaintext_login=tls is None,
        ),
        imap_plaintext_from=plaintext_networks(settings.plaintext_auth_from),
        parser=context.pool,
    )
    if tls is None:
        context.listen("smtp", settings.smtp_port, gateway.smtp_factory)
        context.listen("pop3", settings.pop3_port, gateway.pop3_factory)
        context.listen("imap", settings.imap_port, gateway.imap_factory)
    else:
        # SMTP, POP3 and IMAP start plain and may upgrade (STARTTLS, STLS);
        # POP3S and IMAPS are the same services, TLS from the first byte.
        timeout = settings.tls_handshake_timeout
        clock = context.reactor

        def secured(factory: Any, start: bool) -> TLSServerFactory:
            return TLSServerFactory(factory, tls, clock=clock, handshake_timeout=timeout,
                                    start=start)

        context.listen("smtp", settings.smtp_port, secured(gateway.smtp_factory, False))
        context.listen("pop3", settings.pop3_port, secured(gateway.pop3_factory, False))
        context.listen("pop3s", settings.pop3s_port, secured(gateway.pop3_factory, True))
        context.listen("imap", settings.imap_port, secured(gateway.imap_factory, False))
        context.listen("imaps", settings.imaps_port, secured(gateway.imaps_factory, True))
    log.info("mail for <name>@%s", world.mail_domain)
    return gateway
