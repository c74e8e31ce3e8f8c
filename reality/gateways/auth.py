"""Authentication: one portal for telnet and POP3, hashing in child processes.

In the spirit of Twisted's cred portal, every protocol that needs to know
who someone is asks the same :class:`Authenticator`. It

- hashes and verifies passwords in worker *processes*
  (:class:`~reality.gateways.workers.WorkerPool`), so a
  login costs the loop nothing while scrypt spends its tens of
  milliseconds elsewhere;
- throttles: after ``max_failures`` failed logins from one address within
  ``window`` seconds, further attempts from that address are refused for
  ``lockout`` seconds, whichever protocol they come from;
- answers a wrong name and a wrong password alike, and spends a hash on an
  unknown name too, so neither the words nor the timing tell which names
  exist.

``ImmediateHasher`` does the same work inline with a tiny cost: it is for
unit tests that drive the gateways with a fake clock.
"""

from __future__ import annotations

import base64
import logging
import time
from collections import deque
from typing import Any, Protocol as TypingProtocol

from reality.audit import audit
from reality.game import accounts
from reality.game.store import Account, NameTaken, Store
from reality.gateways.workers import ServerBusy
from reality.net.defer import Deferred, fail, succeed

log = logging.getLogger(__name__)

__all__ = [
    "AuthError",
    "Authenticator",
    "Hasher",
    "ImmediateHasher",
    "LoginFailed",
    "LoginThrottled",
    "ServerBusy",
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


class _Throttle:
    """Failed logins per address, in a sliding window, with a lockout."""

    def __init__(self, clock: Any, max_failures: int, window: float, lockout: float) -> None:
        self.clock = clock
        self.max_failures = max_failures
        self.window = window
        self.lockout = lockout
        self.failures: dict[str, deque[float]] = {}
        self.locked_until: dict[str, float] = {}

    def check(self, address: str) -> None:
        now = self.clock.seconds()
        until = self.locked_until.get(address)
        if until is not None:
            if now < until:
                raise LoginThrottled(until - now)
            del self.locked_until[address]

    def failed(self, address: str) -> None:
        now = self.clock.seconds()
        times = self.failures.setdefault(address, deque())
        times.append(now)
        while times and times[0] <= now - self.window:
            times.popleft()
        if len(times) >= self.max_failures:
            self.locked_until[address] = now + self.lockout
            times.clear()
            log.warning("too many failed logins from %s: locked out for %.0f s",
                        address, self.lockout)
            audit("login.locked", address=address, seconds=round(self.lockout))
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


class Authenticator:
    """Creates accounts and checks passwords, for every protocol, with throttling."""

    def __init__(
        self,
        store: Store,
        hasher: Hasher,
        clock: Any,
        *,
        max_failures: int = 5,
        window: float = 300.0,
        lockout: float = 300.0,
    ) -> None:
        self.store = store
        self.hasher = hasher
        self.clock = clock
        self.throttle = _Throttle(clock, max_failures, window, lockout)

    def create_account(self, name: str, password: str, address: str) -> Deferred[Account]:
        """Make an account (committed before the Deferred fires).

        Fails with InvalidName / InvalidPassword / NameTaken (messages for
        the user) or ServerBusy.
        """
        try:
            accounts.check_name(name)
            accounts.check_password(password)
        except (accounts.InvalidName, accounts.InvalidPassword) as exc:
            return fail(exc)
        if self.store.get_account(name) is not None:
            return fail(NameTaken(f"The name '{name}' is already taken."))

        def store_it(stored: str) -> Account:
            # The name may have been taken while the hash was computed.
            return self.store.create_account(name, stored, now=time.time())

        d = self.hasher.hash(password)
        d.add_callback(store_it)
        return d

    def authenticate(self, name: str, password: str, address: str) -> Deferred[Account]:
        """The account if ``password`` is right; else LoginFailed or LoginThrottled."""
        try:
            self.throttle.check(address)
        except LoginThrottled as exc:
            audit("login.throttled", who=name, address=address)
            return fail(exc)
        account = self.store.get_account(name) if name else None
        stored = _NO_ACCOUNT if account is None else account.password_hash

        def checked(ok: bool) -> Account:
            if ok and account is not None:
                return account
            audit("login.failed", who=name, address=address)
            self.throttle.failed(address)
            raise LoginFailed()

        d = self.hasher.verify(password, stored)
        d.add_callback(checked)
        return d
