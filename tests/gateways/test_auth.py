"""The authentication portal: accounts, passwords, throttling, worker processes."""

from __future__ import annotations

import threading

import pytest

from reality.game.accounts import DEFAULT_N, DEFAULT_P, DEFAULT_R, InvalidName, verify_password
from reality.game.store import NameTaken, Store
from reality.gateways.auth import (
    Authenticator,
    ImmediateHasher,
    LoginFailed,
    LoginThrottled,
)
from reality.gateways.workers import ServerBusy, WorkerPool
from reality.net.defer import Deferred, gather_results
from reality.net.testing import Clock, wait_for


def outcome(d: Deferred):
    box: list[object] = []
    d.add_both(box.append)
    assert box, "not fired"
    return box[0]


@pytest.fixture
def portal():
    store = Store(":memory:")
    clock = Clock()
    auth = Authenticator(store, ImmediateHasher(), clock)
    yield auth, store, clock
    store.close()


def test_create_then_authenticate(portal):
    """A created account is stored with a scrypt hash and its password logs in."""
    auth, store, _ = portal
    account = outcome(auth.create_account("Alice", "secret", "192.0.2.1"))
    assert account.name == "Alice"
    assert store.get_account("alice").password_hash.startswith("scrypt$")
    assert outcome(auth.authenticate("ALICE", "secret", "192.0.2.1")).name == "Alice"


def test_bad_names_and_taken_names_are_refused(portal):
    """Invalid names and names taken in any letter case are refused with a reason."""
    auth, _, _ = portal
    outcome(auth.create_account("Alice", "secret", "a"))
    assert outcome(auth.create_account("x1", "secret", "a")).check(InvalidName)
    assert outcome(auth.create_account("aLiCe", "secret", "a")).check(NameTaken)


def test_wrong_password_and_unknown_name_look_the_same(portal):
    """A wrong password and an unknown account give the same LoginFailed message."""
    auth, _, _ = portal
    outcome(auth.create_account("Alice", "secret", "a"))
    wrong = outcome(auth.authenticate("Alice", "nope", "a"))
    unknown = outcome(auth.authenticate("Nobody", "nope", "a"))
    assert wrong.check(LoginFailed) and unknown.check(LoginFailed)
    assert str(wrong.value) == str(unknown.value)


def test_an_unknown_name_costs_one_real_verification_in_the_hasher(portal):
    """An unknown name is verified by the hasher against a full-cost hash no password matches."""
    auth, _, _ = portal
    seen: list[str] = []

    class Recording(ImmediateHasher):
        def verify(self, password, stored):
            seen.append(stored)
            return super().verify(password, stored)

    auth.hasher = Recording()
    assert outcome(auth.authenticate("Nobody", "", "a")).check(LoginFailed)
    (stored,) = seen
    assert stored.startswith(f"scrypt${DEFAULT_N}${DEFAULT_R}${DEFAULT_P}$")
    assert not verify_password("", stored)


def test_five_failures_lock_the_address_out_for_five_minutes(portal):
    """After 5 failures in 5 minutes from one address, it is refused for 5 minutes."""
    auth, _, clock = portal
    outcome(auth.create_account("Alice", "secret", "a"))
    # Guesses at five different names (unknown ones too): the per-account
    # delay stays out of it, and an address is throttled whatever it guesses.
    for name in ("Alice", "Bob", "Carol", "Dave", "Erin"):
        clock.advance(10)
        assert outcome(auth.authenticate(name, "wrong", "198.51.100.7")).check(LoginFailed)
    refused = outcome(auth.authenticate("Alice", "secret", "198.51.100.7"))
    assert refused.check(LoginThrottled)
    assert "try again" in str(refused.value)
    # Another address is not affected.
    assert outcome(auth.authenticate("Alice", "secret", "198.51.100.8")).name == "Alice"
    clock.advance(301)
    assert outcome(auth.authenticate("Alice", "secret", "198.51.100.7")).name == "Alice"


def test_failures_spread_over_more_than_the_window_do_not_lock(portal):
    """Failures older than the 5-minute window are forgotten."""
    auth, _, clock = portal
    outcome(auth.create_account("Alice", "secret", "a"))
    for _ in range(8):
        clock.advance(100)
        assert outcome(auth.authenticate("Alice", "wrong", "x")).check(LoginFailed)
    clock.advance(100)
    assert outcome(auth.authenticate("Alice", "secret", "x")).name == "Alice"


def test_hash_pool_hashes_in_child_processes_without_threads(reactor):
    """The pool hashes and verifies in worker processes; the reactor's process has one thread."""
    pool = WorkerPool(reactor, size=2, cost={"n": 2**10})
    pool.start()
    try:
        hashes = wait_for(reactor, gather_results([pool.hash(f"pw{i}") for i in range(6)]), 30)
        assert all(verify_password(f"pw{i}", h) for i, h in enumerate(hashes))
        checks = gather_results([pool.verify("pw0", hashes[0]), pool.verify("bad", hashes[0])])
        assert wait_for(reactor, checks, 30) == [True, False]
        assert threading.active_count() == 1
    finally:
        wait_for(reactor, pool.stop(), 10)


def test_hash_pool_refuses_when_queue_is_full(reactor):
    """Past max_queue outstanding requests the pool answers ServerBusy at once."""
    pool = WorkerPool(reactor, size=1, max_queue=2, cost={"n": 2**10})
    pool.start()
    try:
        ds = [pool.hash("a"), pool.hash("b"), pool.hash("c")]
        assert outcome(ds[2]).check(ServerBusy)
        wait_for(reactor, gather_results(ds[:2]), 30)
    finally:
        wait_for(reactor, pool.stop(), 10)


def test_dead_worker_is_replaced_and_its_requests_fail(reactor):
    """If a worker dies, its pending requests fail with ServerBusy and a new worker starts."""
    pool = WorkerPool(reactor, size=1, cost={"n": 2**14})
    pool.start()
    try:
        d = pool.hash("slow")
        pool.workers[0].transport.signal_process("KILL")
        with pytest.raises(ServerBusy):
            wait_for(reactor, d, 20)
        assert len(pool.workers) == 1
        assert verify_password("ok", wait_for(reactor, pool.hash("ok"), 20))
    finally:
        wait_for(reactor, pool.stop(), 10)
