"""Authentication: one portal for telnet and POP3, hashing in child processes.

In the spirit of Twisted's cred portal, every protocol that needs to know
who someone is asks the same :class:`Authenticator`. It

- hashes and verifies passwords in worker *processes*
  (:class:`~reality.gateways.workers.WorkerPool`), so a
  login costs the loop nothing while scrypt spends its tens of
  milliseconds elsewhere;
- throttles per address: after ``max_failures`` failed logins from one
  address within ``window`` seconds, further attempts from that address
  are refused for ``lockout`` seconds, whichever protocol they come from;
  attempts are counted when they start, so checks in flight count too;
- delays per account name: after a few failures on one name (from any
  address), each further check waits exponentially longer, up to a cap,
  except from an address that has logged in to that account before;
- limits sign-ups per address (``max_signups_per_hour``) and refuses the
  names reserved for admins (``--admin``): admin accounts are made only by
  ``reality admin add``;
- answers a wrong name and a wrong password alike, and spends a hash on an
  unknown name too, so neither the words nor the timing tell which names
  exist;
- refuses banned accounts and addresses (:class:`~reality.game.bans.Bans`):
  a banned account only once its password has been checked (so a ban says
  nothing to someone guessing), a banned address at once, for logins and
  sign-ups alike;
- changes passwords (``password``, :meth:`Authenticator.change_password`):
  the old one is checked like a login (and throttled like one), the new
  one hashed in a worker;
- issues and takes resume tokens (:meth:`Authenticator.issue_resume`,
  :meth:`Authenticator.resume`; :mod:`reality.game.resume`): a connection
  closed for an upgrade comes back logged in without its password, once,
  within two minutes. A refused token counts as a failed login of its
  address; a banned account or address is refused as at any login.

``ImmediateHasher`` does the same work inline with a tiny cost: it is for
unit tests that drive the gateways with a fake clock.
"""

from __future__ import annotations

import base64
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, Protocol as TypingProtocol

from attrs import define, field

from reality.audit import audit
from reality.game import accounts
from reality.game.bans import Ban, Bans
from reality.game.resume import ResumeTokens
from reality.game.store import Account, NameTaken, Store
from reality.gateways.workers import ServerBusy
from reality.net.defer import Deferred, Failure, fail, succeed
from reality.net.interfaces import IReactorTime

log = logging.getLogger(__name__)

__all__ = [
    "AccountBanned",
    "AddressBanned",
    "AuthError",
    "Authenticator",
    "Hasher",
    "ImmediateHasher",
    "LoginDelayed",
    "LoginFailed",
    "LoginThrottled",
    "ResumeRefused",
    "ServerBusy",
    "SignupThrottled",
]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# What an unknown name is checked against: a stored hash of the usual cost
# that no password matches (scrypt giving all zero bytes is a 2**-256
# chance). It costs a worker one real scrypt and the loop nothing.
_NO_ACCOUNT = (
    f"scrypt${accounts.DEFAULT_N}${accounts.DEFAULT_R}${accounts.DEFAULT_P}"
    f"${_b64(bytes(accounts.SALT_BYTES))}${_b64(bytes(accounts.HASH_BYTES))}"
)


class AuthError(Exception):
    """Base class: an authentication request was refused; str() is for the user."""


class LoginFailed(AuthError):
    """Wrong name or password (deliberately not saying which)."""

    def __str__(self) -> str:
        return "The name or the password is wrong."


class LoginThrottled(AuthError):
    """Too many failed logins from this address recently."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after

    def __str__(self) -> str:
        minutes = max(1, round(self.retry_after / 60))
        return (
            "Too many failed logins from your address. "
            f"Please try again in about {minutes} minute{'s' if minutes != 1 else ''}."
        )


class ResumeRefused(AuthError):
    """A resume token that is unknown, used already or expired (never saying which)."""

    def __str__(self) -> str:
        return "The way back into your session has expired; please log in again."


class AccountBanned(AuthError):
    """The password is right but the account is banned (``@ban``)."""

    def __init__(self, ban: Ban) -> None:
        super().__init__(ban.target)
        self.ban = ban

    def __str__(self) -> str:
        reason = f" Reason: {self.ban.reason}" if self.ban.reason else ""
        return f"This character is banned from this server.{reason}"


class AddressBanned(AuthError):
    """The client's address is banned: no login and no new character from it."""

    def __init__(self, ban: Ban, signup: bool = False) -> None:
        super().__init__(ban.target)
        self.ban = ban
        self.signup = signup

    def __str__(self) -> str:
        if self.signup:
            return "No new character can be created from your address: it is banned."
        return "Your address is banned from this server."


class Hasher(TypingProtocol):
    """Hashes and verifies passwords, asynchronously."""

    def hash(self, password: str) -> Deferred[str]:
        """The stored form of ``password``."""

    def verify(self, password: str, stored: str) -> Deferred[bool]:
        """Whether ``password`` matches ``stored``."""


class ImmediateHasher:
    """Hashes inline with a cheap scrypt cost. For tests only."""

    def __init__(self, n: int = 2**4) -> None:
        self.n = n

    def hash(self, password: str) -> Deferred[str]:
        return succeed(accounts.hash_password(password, n=self.n, r=1, p=1))

    def verify(self, password: str, stored: str) -> Deferred[bool]:
        return succeed(accounts.verify_password(password, stored))


#: Seconds between two sweeps of a throttle table past its size (a sweep is
#: a walk of the table: not something to do on every login).
PRUNE_INTERVAL = 60.0
#: The per-account key of every name that cannot be an account's.
MALFORMED_NAME = "\0malformed"


class _Throttle:
    """Logins per address: failures in a sliding window, plus checks in flight.

    An attempt is counted when it *starts* (:meth:`begin`), not when its hash
    finishes: otherwise a burst of concurrent guesses would all be checked
    before the first failure was recorded. Failures plus checks in flight
    never exceed ``max_failures``.
    """

    #: Attempts that may wait per address; more are refused (LoginsBusy).
    max_waiting = 100

    def __init__(
        self, clock: IReactorTime, max_failures: int, window: float, lockout: float
    ) -> None:
        self.clock = clock
        self._next_prune = 0.0
        self.max_failures = max_failures
        self.window = window
        self.lockout = lockout
        self.failures: dict[str, deque[float]] = {}
        self.pending: dict[str, int] = {}
        self.locked_until: dict[str, float] = {}
        #: Attempts waiting for a check in flight from the same address.
        self.waiting: dict[str, deque[Callable[[], None]]] = {}
        self._releasing: set[str] = set()

    def _recent(self, address: str, now: float) -> int:
        times = self.failures.get(address)
        if not times:
            return 0
        while times and times[0] <= now - self.window:
            times.popleft()
        return len(times)

    def begin(self, address: str) -> bool:
        """Count an attempt that is about to be checked: True if it may start now.

        False means the attempt must wait (:meth:`wait`) for a check in
        flight to be decided; raises LoginThrottled while the address is
        locked out.
        """
        now = self.clock.seconds()
        until = self.locked_until.get(address)
        if until is not None:
            if now < until:
                raise LoginThrottled(until - now)
            del self.locked_until[address]
        in_flight = self.pending.get(address, 0)
        if self._recent(address, now) + in_flight >= self.max_failures:
            return False
        self.pending[address] = in_flight + 1
        return True

    def wait(self, address: str, start: Callable[[], None]) -> None:
        """Call ``start`` when a check in flight from ``address`` is decided.

        Players behind one address (a household, a campus) log in at the
        same moment and must not be refused for it; a guesser's burst
        waits here too, and what it finds when its turn comes is the
        lockout its first failures caused. Raises LoginsBusy past
        :attr:`max_waiting` attempts waiting per address.
        """
        queue = self.waiting.setdefault(address, deque())
        if len(queue) >= self.max_waiting:
            raise LoginsBusy(1.0)
        queue.append(start)

    def end(self, address: str, ok: bool) -> None:
        """The attempt counted by :meth:`begin` is decided; a waiting one may start."""
        left = self.pending.get(address, 1) - 1
        if left > 0:
            self.pending[address] = left
        else:
            self.pending.pop(address, None)
        if not ok:
            self.failed(address)
        self._release(address)

    def forget(self, address: str, start: Callable[[], None]) -> None:
        """A waiting attempt is given up (its client left): it gives its place back."""
        queue = self.waiting.get(address)
        if queue is not None:
            try:
                queue.remove(start)
            except ValueError:
                pass  # already started
            if not queue:
                del self.waiting[address]

    def _release(self, address: str) -> None:
        # Start waiting attempts while there is room; once the address is
        # locked out, every one of them fails at once (and none is checked).
        # A started attempt that ends at once calls end() and so _release()
        # again: the loop below carries on instead, so a hundred waiting
        # attempts do not make a hundred nested calls.
        if address in self._releasing:
            return
        self._releasing.add(address)
        try:
            queue = self.waiting.get(address)
            while queue:
                now = self.clock.seconds()
                locked = self.locked_until.get(address, 0.0) > now
                if not locked and (
                    self._recent(address, now) + self.pending.get(address, 0)
                    >= self.max_failures
                ):
                    break
                start = queue.popleft()
                start()
            if queue is not None and not queue and self.waiting.get(address) is queue:
                del self.waiting[address]
        finally:
            self._releasing.discard(address)

    def failed(self, address: str) -> None:
        now = self.clock.seconds()
        times = self.failures.setdefault(address, deque())
        times.append(now)
        if self._recent(address, now) >= self.max_failures:
            self.locked_until[address] = now + self.lockout
            times.clear()
            log.warning("too many failed logins from %s: locked out for %.0f s",
                        address, self.lockout)
            audit("login.locked", address=address, seconds=round(self.lockout))
        if now >= self._next_prune:
            self._next_prune = now + PRUNE_INTERVAL
            self._prune(now)

    def _prune(self, now: float) -> None:
        # Keep the tables bounded: forget addresses with no recent failures.
        if len(self.failures) > 10_000:
            stale = now - self.window
            for address in [a for a, t in self.failures.items() if not t or t[-1] <= stale]:
                del self.failures[address]
        if len(self.locked_until) > 10_000:
            for address in [a for a, u in self.locked_until.items() if u <= now]:
                del self.locked_until[address]


class LoginsBusy(LoginThrottled):
    """Too many logins from one address are waiting for their check already."""

    def __str__(self) -> str:
        return "Too many logins from your address at once. Please try again in a moment."


class LoginDelayed(LoginThrottled):
    """Too many failed logins for this account name recently: wait, then try again."""

    def __str__(self) -> str:
        seconds = max(1, round(self.retry_after))
        return (
            "Too many failed logins for that name recently. "
            f"Please wait {seconds} second{'s' if seconds != 1 else ''} and try again."
        )


@define(slots=True)
class _AccountState:
    failures: int = 0
    last_failure: float = 0.0
    pending: int = 0
    #: Addresses that logged in to this account successfully: address -> when.
    trusted: dict[str, float] = field(factory=dict)


class _AccountDelay:
    """Failed logins per account name, answered with an exponential delay.

    The first ``free`` failures cost nothing; after that the next check of
    that name may start only ``base * 2**(failures - free)`` seconds (at
    most ``cap``) after the last failure, and only one at a time. Refused
    attempts are not checked and not counted, so guessing from many
    addresses gains an attacker at most one guess per ``cap`` seconds.

    It is a delay, not a lock: it ends on its own, a success resets it, and
    an address that logged in to the account within ``trust`` seconds is
    not delayed at all, so a stranger's guessing cannot lock the player out
    of their own account. Unknown names are counted exactly like existing
    ones, so the delay does not tell which names exist.
    """

    def __init__(
        self, clock: IReactorTime, free: int, base: float, cap: float, trust: float = 30 * 86400.0
    ) -> None:
        self.clock = clock
        self._next_prune = 0.0
        self.free = free
        self.base = base
        self.cap = cap
        self.trust = trust
        self.accounts: dict[str, _AccountState] = {}

    def delay(self, failures: int) -> float:
        """How long after the last failure the next check may start."""
        if failures < self.free:
            return 0.0
        return min(self.cap, self.base * 2.0 ** min(failures - self.free, 64))

    def begin(self, key: str, address: str) -> None:
        now = self.clock.seconds()
        state = self.accounts.get(key)
        if state is None:
            state = self.accounts[key] = _AccountState()
        if state.failures and now - state.last_failure > 2 * self.cap:
            state.failures = 0  # quiet for long enough: a clean slate
        trusted = state.trusted.get(address)
        if trusted is not None and now - trusted < self.trust:
            state.pending += 1
            return
        if state.failures + state.pending >= self.free:
            wait = state.last_failure + self.delay(state.failures) - now
            if state.pending or wait > 0:
                raise LoginDelayed(max(wait, 1.0))
        state.pending += 1

    def end(self, key: str, address: str, ok: bool) -> None:
        now = self.clock.seconds()
        state = self.accounts.get(key)
        if state is None:  # pruned meanwhile
            state = self.accounts[key] = _AccountState()
        state.pending = max(0, state.pending - 1)
        if ok:
            state.failures = 0
            state.trusted[address] = now
            if len(state.trusted) > 16:
                oldest = min(state.trusted, key=state.trusted.__getitem__)
                del state.trusted[oldest]
        else:
            state.failures += 1
            state.last_failure = now
            if state.failures == self.free:
                log.warning("%d failed logins for %r: delaying further attempts",
                            state.failures, key)
        if now >= self._next_prune:
            self._next_prune = now + PRUNE_INTERVAL
            self._prune(now)

    def _prune(self, now: float) -> None:
        # Bounded: forget names whose delay has long run out and that have
        # nothing in flight and no trusted address worth keeping.
        if len(self.accounts) <= 10_000:
            return
        for key in list(self.accounts):
            state = self.accounts[key]
            if state.pending or state.trusted:
                continue
            if now - state.last_failure > max(self.cap, self.delay(state.failures)) * 2:
                del self.accounts[key]


class SignupThrottled(AuthError):
    """Too many accounts created from this address in the last hour."""

    def __str__(self) -> str:
        return (
            "Too many new characters have been created from your address in the last hour. "
            "Please try again later, or log in to an existing one."
        )


class _SignupLimit:
    """Accounts created per address in a sliding hour (0: no limit)."""

    def __init__(self, clock: IReactorTime, per_hour: int) -> None:
        self.clock = clock
        self.per_hour = per_hour
        self.created: dict[str, deque[float]] = {}

    def _recent(self, address: str) -> int:
        # Looking adds nothing to the table: a name prompt is not a sign-up.
        times = self.created.get(address)
        if not times:
            return 0
        now = self.clock.seconds()
        while times and times[0] <= now - 3600.0:
            times.popleft()
        return len(times)

    def check(self, address: str) -> None:
        if self.per_hour and self._recent(address) >= self.per_hour:
            raise SignupThrottled()

    def begin(self, address: str) -> float:
        """Count a sign-up as it starts (so concurrent ones cannot race past)."""
        when = self.clock.seconds()
        if not self.per_hour:
            return when
        self.check(address)
        self.created.setdefault(address, deque()).append(when)
        if len(self.created) > 10_000:
            for a in [a for a, t in self.created.items() if not t]:
                del self.created[a]
        return when

    def refund(self, address: str, when: float) -> None:
        """A sign-up that created nothing (name taken, server busy) does not count."""
        times = self.created.get(address)
        if times is not None:
            try:
                times.remove(when)
            except ValueError:
                pass


class Authenticator:
    """Creates accounts and checks passwords, for every protocol, with throttling."""

    def __init__(
        self,
        store: Store,
        hasher: Hasher,
        clock: IReactorTime,
        *,
        max_failures: int = 5,
        window: float = 300.0,
        lockout: float = 300.0,
        account_free_failures: int = 10,
        account_delay_base: float = 1.0,
        account_delay_cap: float = 900.0,
        max_signups_per_hour: int = 0,
        reserved: Iterable[str] = (),
        bans: Bans | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        #: Resume tokens (hashed, in the store): see :meth:`resume`. Their
        #: times are ``wall_clock``'s, since a token outlives the process.
        self.resume_tokens = ResumeTokens(store, now=wall_clock)
        #: The bans in force (None: none are checked). The gateways' connection
        #: counters read it too, to refuse a banned address before any byte.
        self.bans = bans
        self.hasher = hasher
        self.clock = clock
        self.throttle = _Throttle(clock, max_failures, window, lockout)
        #: Told every login's result (``ok``, ``failed``, ``throttled``,
        #: ``banned``, ``error``): the metrics' ``reality_logins_total``.
        self.on_login: Callable[[str], object] | None = None
        #: Logins waiting their turn behind checks in flight (see abandon()).
        self._queued: set[Deferred[Account]] = set()
        self.account_delay = _AccountDelay(
            clock, account_free_failures, account_delay_base, account_delay_cap
        )
        self.signups = _SignupLimit(clock, max_signups_per_hour)
        #: Names nobody may create over the network (``--admin``): only
        #: ``reality admin add`` makes them.
        self.reserved = frozenset(accounts.name_key(name) for name in reserved)

    def check_new_name(self, name: str, address: str) -> None:
        """Raise (InvalidName, NameTaken, SignupThrottled) if ``name`` cannot be created now.

        The telnet new-character dialogue asks this before the password, so
        nobody types a password twice only to be refused.
        """
        accounts.check_name(name)
        self._check_address(address, signup=True)
        if accounts.name_key(name) in self.reserved:
            raise accounts.InvalidName(f"'{name}' is reserved; please choose another name.")
        if self.store.get_account(name) is not None:
            raise NameTaken(f"The name '{name}' is already taken.")
        self.signups.check(address)

    def create_account(self, name: str, password: str, address: str) -> Deferred[Account]:
        """Make an account (committed before the Deferred fires).

        Fails with InvalidName / InvalidPassword / NameTaken / SignupThrottled
        (messages for the user) or ServerBusy.
        """
        try:
            self.check_new_name(name, address)
            accounts.check_password(password)
            started = self.signups.begin(address)
        except (accounts.InvalidName, accounts.InvalidPassword, NameTaken,
                SignupThrottled, AddressBanned) as exc:
            return fail(exc)

        def store_it(stored: str) -> Account:
            # The name may have been taken while the hash was computed.
            return self.store.create_account(name, stored, now=time.time())

        def refund(failure: Any) -> Any:
            self.signups.refund(address, started)
            return failure

        # The chain turns the hash (str) into the account: its type follows.
        return self.hasher.hash(password).add_callback(store_it).add_errback(refund)

    def _check_address(self, address: str, *, signup: bool = False) -> None:
        """Raise AddressBanned if ``address`` is banned (a connection made before the ban)."""
        bans = self.bans
        if bans is not None:
            ban = bans.address(address)
            if ban is not None:
                raise AddressBanned(ban, signup)

    def change_password(
        self, name: str, old: str, new: str, address: str
    ) -> Deferred[Account]:
        """Check ``old`` like a login from ``address``, then store ``new``'s hash.

        Both hashes are computed in a worker. A wrong ``old`` fails with
        LoginFailed and counts toward the throttles exactly as a failed
        login does (a stolen session must not be a free password oracle);
        ``new`` must follow the sign-up rules (InvalidPassword). The
        account is committed with its new hash before the Deferred fires.
        """
        try:
            accounts.check_password(new)
        except accounts.InvalidPassword as exc:
            return fail(exc)

        def store_it(stored: str) -> Account:
            account = self.store.set_password_hash(name, stored)
            if account is None:
                raise LoginFailed()  # deleted meanwhile: nothing to change
            return account

        def rehash(_account: Account) -> Deferred[str]:
            return self.hasher.hash(new)

        d = self.authenticate(name, old, address)
        return d.add_callback(rehash).add_callback(store_it)

    def abandon(self, check: Deferred[Any]) -> None:
        """The client of a login has gone: if it still waits its turn, drop it unchecked.

        A check already running is left to finish and be counted like any
        other (cancelling it would free its slot early, and a client could
        then keep the workers hashing by connecting and closing).
        """
        if check in self._queued:
            self._queued.discard(check)
            check.cancel()

    def issue_resume(self, name: str, address: str | None = None) -> tuple[str, float]:
        """A single-use resume token for account ``name``: ``(token, seconds valid)``.

        Stored (hashed) before it returns; audited as ``login.resume_issued``.
        """
        token, lifetime = self.resume_tokens.issue(name)
        audit("login.resume_issued", who=name, address=address, seconds=round(lifetime))
        return token, lifetime

    def resume(self, token: str, address: str) -> Deferred[Account]:
        """The account ``token`` was issued for, logging in without a password.

        Fails with ResumeRefused (unknown, used or expired: counted as a
        failed login of ``address``, so tokens cannot be guessed faster
        than passwords), LoginThrottled (the address is locked out: the
        token is not even looked at, so it stays valid), AddressBanned or
        AccountBanned (the token is spent). Decided at once: no hash to
        compute, so nothing waits in a worker.
        """
        d = self._resume(token, address)
        if self.on_login is not None:
            d.add_both(self._login_done)
        return d

    def _resume(self, token: str, address: str) -> Deferred[Account]:
        try:
            self._check_address(address)
        except AddressBanned as exc:
            audit("login.banned", who=None, address=address)
            return fail(exc)
        try:
            if not self.throttle.begin(address):
                # Password checks from this address fill its slots: a token
                # waits for nothing, it is refused like the surplus login.
                raise LoginsBusy(1.0)
        except LoginThrottled as exc:
            audit("login.throttled", who=None, address=address)
            return fail(exc)
        key = self.resume_tokens.take(token) if isinstance(token, str) else None
        account = self.store.get_account(key) if key is not None else None
        if account is None:
            audit("login.resume", who=None, address=address, result="refused")
            self.throttle.end(address, ok=False)
            return fail(ResumeRefused())
        self.throttle.end(address, ok=True)
        ban = self.bans.account(account.key) if self.bans is not None else None
        if ban is not None:
            audit("login.banned", who=account.name, address=address)
            return fail(AccountBanned(ban))
        audit("login.resume", who=account.name, address=address, result="ok")
        return succeed(account)

    def authenticate(self, name: str, password: str, address: str) -> Deferred[Account]:
        """The account if ``password`` is right; else LoginFailed or LoginThrottled.

        Both limits count the attempt now, before the hash is computed.
        """
        d = self._authenticate(name, password, address)
        if self.on_login is not None:
            d.add_both(self._login_done)
        return d

    def _login_done(self, result: Any) -> Any:
        """Tell :attr:`on_login` how a login ended; passes ``result`` on unchanged."""
        if isinstance(result, Failure):
            if result.check(AccountBanned, AddressBanned):
                outcome = "banned"
            elif result.check(LoginThrottled):
                outcome = "throttled"
            elif result.check(LoginFailed, ResumeRefused):
                outcome = "failed"
            else:
                outcome = "error"
        else:
            outcome = "ok"
        if self.on_login is not None:
            try:
                self.on_login(outcome)
            except Exception:
                log.exception("on_login failed")
        return result

    def _authenticate(self, name: str, password: str, address: str) -> Deferred[Account]:
        # Names no account can have share one key, so that strings a client
        # makes up cannot fill the per-account table (they are still hashed
        # and throttled per address like any other guess).
        key = accounts.name_key(name) if accounts.could_be_name(name) else MALFORMED_NAME
        try:
            self._check_address(address)
        except AddressBanned as exc:
            audit("login.banned", who=name, address=address)
            return fail(exc)
        try:
            if not self.throttle.begin(address):

                def start() -> None:
                    self._queued.discard(waited)
                    if waited.called:  # cancelled: the client has gone
                        return
                    # Not chained: cancelling once the check runs must not stop
                    # it (its slot is freed, and its failure counted, when the
                    # hash is done, as for any other check).
                    self._authenticate(name, password, address).add_callbacks(
                        lambda result: None if waited.called else waited.callback(result),
                        lambda failure: None if waited.called else waited.errback(failure),
                    )

                # Cancelling (the connection closed) gives up its place unchecked.
                waited: Deferred[Account] = Deferred(
                    canceller=lambda _: self.throttle.forget(address, start)
                )
                self.throttle.wait(address, start)
                self._queued.add(waited)
                return waited
        except LoginThrottled as exc:
            audit("login.throttled", who=name, address=address)
            return fail(exc)
        try:
            self.account_delay.begin(key, address)
        except LoginThrottled as exc:
            self.throttle.end(address, ok=True)  # refused unchecked: not a failure
            return fail(exc)
        account = self.store.get_account(name) if name else None
        stored = _NO_ACCOUNT if account is None else account.password_hash

        def checked(ok: bool) -> Account:
            ok = bool(ok) and account is not None
            if not ok:
                # Before end(), which may log the lockout this failure causes.
                audit("login.failed", who=name, address=address)
            self.throttle.end(address, ok)
            self.account_delay.end(key, address, ok)
            if ok and account is not None:
                # Only now: a ban must not tell a guesser the name exists.
                ban = self.bans.account(account.key) if self.bans is not None else None
                if ban is not None:
                    audit("login.banned", who=account.name, address=address)
                    raise AccountBanned(ban)
                return account
            raise LoginFailed()

        def unchecked(failure: Any) -> Any:
            # The hasher failed (busy, worker died): release the slots
            # without counting a failure the person did not make.
            self.throttle.end(address, ok=True)
            state = self.account_delay.accounts.get(key)
            if state is not None:
                state.pending = max(0, state.pending - 1)
            return failure

        return self.hasher.verify(password, stored).add_callbacks(checked, unchecked)
