"""Moderation: bans and password changes, where the world meets every gateway.

:class:`Moderation` adds five verbs to the world's playing set and makes
what they decide reach every protocol:

``password <old> <new>``
    The old password is checked and the new one hashed in the worker pool
    (:meth:`~reality.gateways.auth.Authenticator.change_password`): a wrong
    old password counts toward the failed-login throttles like a login; the
    new one follows the sign-up rules. The player's *other* sessions are
    told ("Your password was changed from <address> ..."): a POP3 session
    of the account is closed with that ``-ERR`` (a mail client logged in
    with the old password logs in again). A player has one telnet session
    at a time (a new login takes the character over), so the telnet
    session told is the one that typed the command. Neither password is
    ever written to a log or to the audit trail (``account.password``
    records who and from where).

``@ban <player or address> [reason]`` (also ``@ban <target> = <reason>``)
    A player's account can no longer log in over any protocol (telnet,
    POP3: everything that asks the :class:`~reality.gateways.auth.Authenticator`);
    their telnet session and POP3 sessions are closed with "You have been
    banned from this server." and the reason. An address or a CIDR network
    (IPv4 or IPv6) is refused by every service when it connects, before a
    protocol byte (see :mod:`reality.gateways.connections`), and what is
    connected from it now is closed. A banned player's homepage is hidden
    (404, as for no such player) until the ban is lifted; nothing of it is
    deleted. Refused: banning yourself, your own address, the last admin,
    and networks wider than /8 (IPv4) or /16 (IPv6).

``@unban <player or address>``, ``@bans [text]``
    Lift a ban; list them (with who banned, when and why; ``text`` filters).

``@bounce <player>``
    Close the player's connection as a live upgrade closes one it cannot
    carry over (TLS, WebSocket): a client that speaks GMCP is given a
    resume token first (:meth:`~reality.gateways.telnet.session.TelnetSession.close_for_upgrade`),
    so the web client and ``reality play`` reconnect and land logged in by
    themselves. For an admin, a way to unstick a client; for the tests, the
    upgrade's close without an upgrade. Audited as ``admin.bounce``.

The bans themselves (:class:`~reality.game.bans.Bans`, persisted in the
store) are the world's (``world.bans``); this module listens to them, so a
ban added by any means (the verb, a test, a future tool) closes what it
covers. Every admin action here is audit-logged (``admin.ban``,
``admin.unban``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from reality.audit import audit
from reality.game import markup
from reality.game.accounts import InvalidPassword, check_password, could_be_name, name_key
from reality.game.bans import ACCOUNT, Ban, Bans, Network, host_address, parse_network
from reality.game.verbs.core import Context, Refusal
from reality.game.world import World
from reality.gateways.auth import Authenticator, AuthError, LoginFailed
from reality.gateways.workers import ServerBusy
from reality.net.defer import Failure

log = logging.getLogger(__name__)

__all__ = ["MAX_LISTED", "MAX_REASON", "Moderation", "ban_message"]

#: Characters of a ban's reason that are kept.
MAX_REASON = 200
#: Bans ``@bans`` lists at once (a filter finds the rest).
MAX_LISTED = 100
#: The widest networks ``@ban`` accepts, per IP version.
WIDEST_PREFIX = {4: 8, 6: 16}


def ban_message(ban: Ban) -> str:
    """What a banned person's connection is told as it is closed."""
    reason = f" Reason: {ban.reason}" if ban.reason else ""
    return f"You have been banned from this server.{reason}"


def _covers(network: Network) -> Callable[[str], bool]:
    def covers(host: str) -> bool:
        address = host_address(host)
        return address is not None and address in network

    return covers


class Moderation:
    """The moderation verbs, and the bans made to reach every gateway.

    ``gateways`` are the server's gateways; those with ``close_banned(covers,
    message)`` close connections from a newly banned address, those with
    ``close_account(key, message)`` close an account's sessions (POP3).
    """

    def __init__(
        self, world: World, authenticator: Authenticator, gateways: Iterable[object] = ()
    ) -> None:
        self.world = world
        self.authenticator = authenticator
        self.bans: Bans = world.bans
        if authenticator.bans is None:
            authenticator.bans = world.bans
        self.gateways = list(gateways)
        self.bans.listeners.append(self._ban_changed)

    def install(self) -> None:
        """Add ``password``, ``@ban``, ``@unban`` and ``@bans`` to the world's verbs."""
        r = self.world.verbs.register
        r("password", self._password, usage="password <old password> <new password>",
          help="Change your password. The new one has 4 to 128 characters and no spaces;"
          " your other sessions (a mail client) are told and must log in again.")
        r("@ban", self._ban, admin=True, category="admin",
          usage="@ban <player or address/CIDR> [= reason]",
          help="Ban a player (no login over any protocol; their sessions are closed) or an"
          " address or network such as 203.0.113.7 or 2001:db8::/32 (no connection to any"
          " service). The reason is shown to them and in @bans.")
        r("@unban", self._unban, admin=True, category="admin",
          usage="@unban <player or address/CIDR>", help="Lift a ban.")
        r("@bounce", self._bounce, admin=True, category="admin", usage="@bounce <player>",
          help="Close a player's connection as a server upgrade would: the web client and"
          " 'reality play' reconnect and log back in by themselves (other clients just"
          " reconnect as usual).")
        r("@bans", self._list, admin=True, category="admin", usage="@bans [text]",
          help="List the bans: what, who banned it, when and why (only those containing"
          " text, if given).")

    # -- what a ban does to what is connected ----------

    def _ban_changed(self, ban: Ban, added: bool) -> None:
        world = self.world
        if ban.kind == ACCOUNT:
            if added:
                message = ban_message(ban)
                player = world.online.get(ban.target)
                if player is not None:
                    world.logout(player, message)
                for gateway in self.gateways:
                    close = getattr(gateway, "close_account", None)
                    if close is not None:
                        close(ban.target, message)
            # Their homepage is hidden (or shown again), and /who drawn again.
            world.changed("player", ban.target)
            return
        if not added:
            return
        network = parse_network(ban.target)
        if network is None:
            return
        covers = _covers(network)
        message = ban_message(ban)
        closed = 0
        for gateway in self.gateways:
            close = getattr(gateway, "close_banned", None)
            if close is not None:
                closed += close(covers, message)
        if closed:
            log.info("ban of %s closed %d connection(s)", ban.shown, closed)

    # -- the verbs ----------

    @staticmethod
    def _address(ctx: Context) -> str | None:
        return getattr(ctx.player.session, "peer_host", None)

    def _password(self, ctx: Context, args: str) -> None:
        # Nothing here may raise past a Refusal: World.execute logs the line
        # of a command that fails, and this line holds two passwords.
        words = args.split()
        if len(words) != 2:
            raise Refusal(
                "Usage: password <old password> <new password> (a password has no spaces)."
            )
        old, new = words
        try:
            check_password(new)
        except InvalidPassword as exc:
            raise Refusal(f"{exc} Your password was not changed.") from None
        if new == old:
            raise Refusal("That is the password you have now; nothing was changed.")
        player = ctx.player
        session = player.session
        address = self._address(ctx) or "?"
        world = self.world

        def tell(text: str) -> None:
            if player.online and player.session is session:
                player.show(text)

        def changed(account: Any) -> None:
            audit("account.password", who=account.name, address=address)
            tell("{green}Your password has been changed.{/}")
            when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(world.wall()))
            notice = (
                f"Your password was changed from {address} at {when}."
                " If that was not you, tell an admin at once."
            )
            current = player.session
            if player.online and current is not None and current is not session:
                player.show(f"{{yellow}}{markup.escape(notice)}{{/}}")
            for gateway in self.gateways:
                close = getattr(gateway, "close_account", None)
                if close is not None:
                    close(account.key, notice + " Log in again with the new password.")

        def failed(failure: Failure) -> None:
            error = failure.value
            if isinstance(error, LoginFailed):
                tell("{red}Your old password is wrong;{/} your password was not changed.")
            elif isinstance(error, (AuthError, InvalidPassword, ServerBusy)):
                tell(f"{markup.escape(str(error))} Your password was not changed.")
            else:
                # The exception's type only: its text or traceback could
                # hold what was being hashed.
                log.error("password change for %s failed: %s", player.key, type(error).__name__)
                tell("Something went wrong; your password was not changed.")

        self.authenticator.change_password(player.name, old, new, address).add_callbacks(
            changed, failed
        )

    @staticmethod
    def _target_and_reason(args: str, usage: str) -> tuple[str, str]:
        target, _, reason = args.strip().partition(" ")
        if "=" in target:  # "@ban bob=spam"
            target, _, rest = target.partition("=")
            reason = f"{rest} {reason}"
        reason = reason.strip()
        if reason.startswith("="):
            reason = reason[1:].strip()
        target = target.strip()
        if not target:
            raise Refusal(f"Usage: {usage}")
        return target, " ".join(reason.split())[:MAX_REASON]

    def _ban(self, ctx: Context, args: str) -> None:
        target, reason = self._target_and_reason(args, "@ban <player or address/CIDR> [= reason]")
        admin = ctx.player
        mine = self._address(ctx)
        network = parse_network(target)
        if network is not None:
            if network.prefixlen < WIDEST_PREFIX[network.version]:
                raise Refusal(
                    f"{network} is too wide to ban (at most /{WIDEST_PREFIX[network.version]}"
                    f" for IPv{network.version})."
                )
            if mine is not None and _covers(network)(mine):
                raise Refusal(
                    f"{network} holds your own address ({mine}): you would be shut out."
                )
            ban = self.bans.ban_address(network, by=admin.name, reason=reason,
                                        now=self.world.wall())
        else:
            if any(ch in target for ch in ".:/"):
                raise Refusal(f"'{markup.escape(target)}' is neither a name nor an address.")
            account = self.world.store.get_account(target)
            if account is None:
                raise Refusal(f"There is no player called {markup.escape(target)}.")
            if account.key == admin.key:
                raise Refusal("You can't ban yourself.")
            if self.world.is_admin(account.key):
                others = [
                    key for key in self.world.admin_keys()
                    if key != account.key and self.bans.account(key) is None
                ]
                if not others:
                    raise Refusal(
                        f"{account.name} is the last admin: nobody could lift bans then."
                    )
            ban = self.bans.ban_account(account.name, by=admin.name, reason=reason,
                                        now=self.world.wall())
            target = account.name
        shown = ban.shown if network is not None else target
        audit("admin.ban", who=admin.name, address=mine, target=shown, kind=ban.kind,
              reason=reason or None)
        said = f" ({markup.escape(reason)})" if reason else ""
        ctx.tell(f"{markup.escape(shown)} is banned{said}.")

    def _bounce(self, ctx: Context, args: str) -> None:
        name = args.strip()
        if not name:
            raise Refusal("Usage: @bounce <player>")
        victim = self.world.online.get(name_key(name)) if could_be_name(name) else None
        if victim is None:
            raise Refusal(f"{markup.escape(name)} is not connected.")
        session = victim.session
        close = getattr(session, "close_for_upgrade", None)
        if close is None:
            raise Refusal(f"{victim.name}'s connection cannot be bounced.")
        audit("admin.bounce", who=ctx.player.name, address=self._address(ctx),
              target=victim.name)
        ctx.tell(f"You bounce {victim.name}: their client may reconnect by itself.")
        message = "The server closed your connection for a moment; your client may reconnect."
        # After the command: bouncing yourself must not cut this reply off.
        ctx.after.append(lambda: close(message))

    def _display(self, ban: Ban) -> str:
        """A ban's target as people know it: the account's own spelling, an address."""
        if ban.kind == ACCOUNT:
            account = self.world.store.get_account(ban.target)
            return account.name if account is not None else ban.target
        return ban.shown

    def _unban(self, ctx: Context, args: str) -> None:
        target = args.strip()
        if not target:
            raise Refusal("Usage: @unban <player or address/CIDR>")
        ban = self.bans.unban(target)
        if ban is None:
            raise Refusal(f"{markup.escape(target)} is not banned. Type @bans for the list.")
        shown = self._display(ban)
        audit("admin.unban", who=ctx.player.name, address=self._address(ctx), target=shown,
              kind=ban.kind)
        ctx.tell(f"{markup.escape(shown)} is no longer banned.")

    def _list(self, ctx: Context, args: str) -> None:
        text = args.strip().lower()
        bans = self.bans.all()
        if text:
            bans = [
                b for b in bans
                if text in b.shown.lower() or text in b.reason.lower() or text in b.by.lower()
            ]
        if not bans:
            ctx.tell(f"No ban mentions '{markup.escape(text)}'." if text else "Nobody is banned.")
            return
        lines = [f"{{bold}}Bans ({len(bans)}):{{/}}"]
        for ban in bans[:MAX_LISTED]:
            when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ban.when))
            name = self._display(ban)
            reason = f": {ban.reason}" if ban.reason else ""
            lines.append(markup.escape(
                f"  {name} ({ban.kind}), banned by {ban.by} on {when}{reason}"
            ))
        if len(bans) > MAX_LISTED:
            lines.append(f"  ... and {len(bans) - MAX_LISTED} more: '@bans <text>' narrows it.")
        ctx.tell("\n".join(lines))

