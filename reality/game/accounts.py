"""Account names and password hashing.

Pure functions, no I/O: the telnet and POP3 gateways call
:func:`hash_password` and :func:`verify_password` in a worker *child
process* (scrypt costs tens of milliseconds on purpose, which would stall
every player if it ran on the reactor's loop).

Names: 3 to 20 ASCII letters, unique without regard to case; the account
keeps the spelling it was created with for display, and :func:`name_key`
(lower case) is what is stored as the key and compared.

Passwords are hashed with ``hashlib.scrypt`` (RFC 7914) and stored as::

    scrypt$<n>$<r>$<p>$<salt, base64>$<hash, base64>

so the cost can be raised later without breaking old hashes: each hash
is verified with the parameters it was made with.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re

__all__ = [
    "DEFAULT_N",
    "DEFAULT_P",
    "DEFAULT_R",
    "InvalidName",
    "InvalidPassword",
    "check_name",
    "check_password",
    "hash_password",
    "name_key",
    "verify_password",
]

#: scrypt cost: N=2**14, r=8, p=1 is about 40 ms and 16 MiB here.
DEFAULT_N = 2**14
DEFAULT_R = 8
DEFAULT_P = 1
SALT_BYTES = 16
HASH_BYTES = 32

NAME_MIN = 3
NAME_MAX = 20
PASSWORD_MIN = 4
PASSWORD_MAX = 128

_NAME = re.compile(r"[A-Za-z]+\Z")

# Names a player may not take: they would be confusing in messages or mail.
RESERVED_NAMES = frozenset(
    {"admin", "all", "everyone", "here", "me", "nobody", "self", "someone", "system", "you",
     # Mail to these reaches the admins (RFC 5321 4.5.1, RFC 2142), never a player.
     "postmaster", "abuse"}
)


class InvalidName(ValueError):
    """A proposed account name breaks the name rules; str() says which."""


class InvalidPassword(ValueError):
    """A proposed password breaks the password rules; str() says which."""


def name_key(name: str) -> str:
    """The case-insensitive key of a name (what uniqueness is about)."""
    return name.lower()


def could_be_name(name: str) -> bool:
    """Whether an account could have ``name`` (letters, 3 to 20): a cheap shape check."""
    return NAME_MIN <= len(name) <= NAME_MAX and _NAME.match(name) is not None


def check_name(name: str) -> str:
    """Return ``name`` if it is a valid new account name, else raise :class:`InvalidName`."""
    # The characters first: "日本" is two characters, but the trouble with
    # it is what they are, not how many.
    if name and not _NAME.match(name):
        raise InvalidName(
            "A name may contain only the letters A to Z (no digits, spaces, accents or"
            " other alphabets)."
        )
    if not NAME_MIN <= len(name) <= NAME_MAX:
        raise InvalidName(f"A name must be {NAME_MIN} to {NAME_MAX} letters long.")
    if name.lower() in RESERVED_NAMES:
        raise InvalidName(f"'{name}' is reserved; please choose another name.")
    return name


def check_password(password: str) -> str:
    """Return ``password`` if it is acceptable, else raise :class:`InvalidPassword`."""
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise InvalidPassword(
            f"A password must be {PASSWORD_MIN} to {PASSWORD_MAX} characters long."
        )
    if any(ch.isspace() for ch in password):
        raise InvalidPassword("A password may not contain spaces.")
    return password


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(
    password: str,
    *,
    n: int = DEFAULT_N,
    r: int = DEFAULT_R,
    p: int = DEFAULT_P,
    salt: bytes | None = None,
) -> str:
    """Hash a password with a fresh random salt; returns the stored string form."""
    if salt is None:
        salt = os.urandom(SALT_BYTES)
    digest = _scrypt(password, salt, n, r, p, HASH_BYTES)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(digest)}"


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, size: int) -> bytes:
    # scrypt needs 128*r*(n+p) bytes; OpenSSL's default cap is 32 MiB.
    maxmem = 128 * r * (n + p) + 2**20
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=maxmem, dklen=size
    )


def _parse(stored: str) -> tuple[int, int, int, bytes, bytes] | None:
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        return None
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt = base64.b64decode(parts[4], validate=True)
        digest = base64.b64decode(parts[5], validate=True)
    except ValueError:
        return None
    # Refuse parameters that are not a power of two or absurdly costly:
    # a corrupted row must not make verification eat the machine.
    if n < 2 or n & (n - 1) or n > 2**20 or not 1 <= r <= 32 or not 1 <= p <= 16:
        return None
    if not salt or not digest:
        return None
    return n, r, p, salt, digest


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches the stored hash. A malformed hash is False."""
    parsed = _parse(stored)
    if parsed is None:
        return False
    n, r, p, salt, digest = parsed
    return hmac.compare_digest(_scrypt(password, salt, n, r, p, len(digest)), digest)
