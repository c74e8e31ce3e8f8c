"""Resume tokens: a short-lived, single-use ticket back into a closed session.

When a connection has to be closed although its player did nothing wrong
(a live upgrade cannot carry a TLS or WebSocket connection into the new
process; ``@bounce`` does the same on purpose), the player's client is
given a random token (:func:`secrets.token_urlsafe`, 24 bytes: 192 bits)
bound to the account. Presented once, within :data:`LIFETIME` seconds, on
a new connection, it logs the player in without the password.

Only the SHA-256 of a token is kept, in the store (component ``"resume"``,
table ``resume_tokens``): the token has to survive the old process, so
that the *new* one can honour it, yet a copy of the database (a backup)
must not hold anything that logs anyone in. A token is deleted when it is
used and when it expires; :class:`ResumeTokens` sweeps the expired ones
when it is built (at every start) and as it issues new ones.

Times are wall-clock seconds (``now``): a token crosses a process boundary,
and a monotonic clock starts again at a reboot. Tests pass a fake clock.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable

from reality.game.accounts import name_key
from reality.game.store import MIGRATIONS, Migration, Store, register_migrations

__all__ = ["LIFETIME", "MAX_TOKEN_LENGTH", "RESUME_MIGRATIONS", "ResumeTokens", "token_hash"]

#: Seconds a token is valid: long enough for a browser's backoff and an
#: upgrade; short enough that a token seen later is worth nothing.
LIFETIME = 120.0

#: Longest token accepted (ours are 32 characters); longer ones are not even hashed.
MAX_TOKEN_LENGTH = 128

RESUME_MIGRATIONS: list[Migration] = [
    Migration(
        "resume tokens (hashes only)",
        """
        CREATE TABLE resume_tokens (
            hash TEXT PRIMARY KEY,
            account TEXT NOT NULL,
            expires REAL NOT NULL
        );
        CREATE INDEX resume_tokens_expires ON resume_tokens(expires);
        """,
    ),
]

register_migrations("resume", RESUME_MIGRATIONS)


def token_hash(token: str) -> str:
    """What is stored for ``token``: its SHA-256, in hex."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class ResumeTokens:
    """Issues and takes resume tokens, kept (hashed) in the store."""

    def __init__(
        self,
        store: Store,
        *,
        now: Callable[[], float] = time.time,
        lifetime: float = LIFETIME,
    ) -> None:
        self.store = store
        #: The wall clock (tests hand in a fake one's ``seconds``).
        self.now = now
        self.lifetime = lifetime
        if store.schema_version("resume") < len(MIGRATIONS["resume"]):
            # A store opened before this module was imported.
            store.migrate({"resume": MIGRATIONS["resume"]})
        self.sweep()

    def issue(self, account: str) -> tuple[str, float]:
        """A new token for ``account`` (a name, any case): ``(token, seconds valid)``.

        Committed before it returns: the process may end right after.
        """
        token = secrets.token_urlsafe(24)
        now = self.now()
        with self.store.transaction() as db:
            db.execute("DELETE FROM resume_tokens WHERE expires <= ?", (now,))
            db.execute(
                "INSERT INTO resume_tokens(hash, account, expires) VALUES (?, ?, ?)",
                (token_hash(token), name_key(account), now + self.lifetime),
            )
        return token, self.lifetime

    def take(self, token: str) -> str | None:
        """The account key ``token`` was issued for, or None; a found token is spent.

        None for an unknown, used or expired token (an expired one is
        deleted too). The same answer for all of them: a client learns
        nothing from a refusal.
        """
        if not token or len(token) > MAX_TOKEN_LENGTH:
            return None
        digest = token_hash(token)
        with self.store.transaction() as db:
            row = db.execute(
                "SELECT account, expires FROM resume_tokens WHERE hash = ?", (digest,)
            ).fetchone()
            if row is None:
                return None
            db.execute("DELETE FROM resume_tokens WHERE hash = ?", (digest,))
        account, expires = str(row[0]), float(row[1])
        return account if self.now() < expires else None

    def sweep(self) -> int:
        """Delete the expired tokens; how many there were."""
        with self.store.transaction() as db:
            cursor = db.execute("DELETE FROM resume_tokens WHERE expires <= ?", (self.now(),))
        return cursor.rowcount

    def __len__(self) -> int:
        row = self.store.db.execute("SELECT COUNT(*) FROM resume_tokens").fetchone()
        return int(row[0])
