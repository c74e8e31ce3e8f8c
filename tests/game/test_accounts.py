"""Account name rules and scrypt password hashing."""

from __future__ import annotations

import time

import pytest

from reality.game.accounts import (
    DEFAULT_N,
    InvalidName,
    InvalidPassword,
    check_name,
    check_password,
    hash_password,
    name_key,
    verify_password,
)


@pytest.mark.parametrize("name", ["Bob", "alice", "A" * 20])
def test_good_names(name: str) -> None:
    """Letters only, 3 to 20 of them, are accepted as given."""
    assert check_name(name) == name


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("Al", "3 to 20 letters"),
        ("A" * 21, "3 to 20 letters"),
        ("Bob1", "only the letters"),
        ("Bøb", "only the letters"),
        ("Bo b", "only the letters"),
        ("Admin", "reserved"),
        ("Postmaster", "reserved"),  # its mail goes to the admins
        ("abuse", "reserved"),
        # Too short *and* the wrong characters: the characters are the problem.
        ("日本", "only the letters A to Z"),
        ("Jo3", "only the letters A to Z"),
        ("é", "only the letters A to Z"),
    ],
)
def test_bad_names_say_why(name: str, why: str) -> None:
    """A refused name comes with the rule it breaks."""
    with pytest.raises(InvalidName, match=why):
        check_name(name)


def test_name_key_ignores_case() -> None:
    """ALICE and alice are the same account."""
    assert name_key("ALICE") == name_key("alice") == "alice"


def test_password_rules() -> None:
    """Passwords are 4 to 128 characters without spaces."""
    assert check_password("s3cret!") == "s3cret!"
    for bad in ("abc", "has space", "x" * 129):
        with pytest.raises(InvalidPassword):
            check_password(bad)


def test_hash_format_and_verify() -> None:
    """The stored form is scrypt$n$r$p$salt$hash, and only the right password verifies."""
    stored = hash_password("hunter22", n=2**10, r=8, p=1)
    parts = stored.split("$")
    assert parts[:4] == ["scrypt", "1024", "8", "1"]
    assert verify_password("hunter22", stored)
    assert not verify_password("hunter23", stored)


def test_salt_makes_hashes_differ() -> None:
    """Two hashes of one password differ (random salt) and both verify."""
    a, b = hash_password("pw", n=2**8), hash_password("pw", n=2**8)
    assert a != b
    assert verify_password("pw", a) and verify_password("pw", b)


def test_default_cost_is_tens_of_milliseconds() -> None:
    """The default parameters cost a real amount of work (at least ~10 ms here)."""
    started = time.perf_counter()
    stored = hash_password("pw")
    elapsed = time.perf_counter() - started
    assert stored.split("$")[1] == str(DEFAULT_N)
    assert elapsed > 0.005


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "plain",
        "scrypt$1024$8$1$salt",
        "scrypt$1000$8$1$AAAA$AAAA",  # n not a power of two
        "scrypt$1073741824$8$1$AAAA$AAAA",  # absurd cost
        "scrypt$1024$8$1$!!!$AAAA",
        "bcrypt$1024$8$1$AAAA$AAAA",
    ],
)
def test_malformed_hash_never_verifies_and_never_raises(stored: str) -> None:
    """A corrupted stored hash is a refusal, not a crash."""
    assert verify_password("pw", stored) is False


def test_every_character_of_the_password_is_hashed() -> None:
    """Passwords that differ only after the 8th (or 64th) character do not match."""
    from reality.game.accounts import hash_password, verify_password

    for base in ("abcdefgh", "p" * 64):
        stored = hash_password(base + "1", n=16, r=1, p=1)
        assert verify_password(base + "1", stored)
        assert not verify_password(base + "2", stored)
        assert not verify_password(base, stored)
