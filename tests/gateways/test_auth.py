"""The authentication portal: accounts, passwords, throttling, worker processes."""

from __future__ import annotations

import threading

import pytest

from reality.game.accounts import DEFAULT_N, DEFAULT_P, DEFAULT_R, InvalidName, verify_password
from reality.game.store import NameTaken, Store
from reality.gateways.auth import (
    MALFORMED_NAME,
    Authenticator,
    ImmediateHasher,
    LoginDelayed,
    LoginFailed,
    LoginsBusy,
    LoginThrottled,
    SignupThrottled,
)
from reality.gateways.workers import ServerBusy, WorkerPool
from reality.net.defer import CancelledError, Deferred, Failure, fail, gather_results
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


class Pending(ImmediateHasher):
    """A hasher whose verifications stay in flight until the test decides them."""

    def __init__(self) -> None:
        super().__init__()
        self.waiting: list[tuple[Deferred, str, str]] = []

    def verify(self, password, stored):
        d: Deferred = Deferred()
        self.waiting.append((d, password, stored))
        return d

    def finish(self) -> None:
        waiting, self.waiting = self.waiting, []
        for d, password, stored in waiting:
            d.callback(verify_password(password, stored))


def test_attempts_are_counted_when_they_start_not_when_the_hash_finishes(portal):
    """90 concurrent wrong passwords from one address: only the limit (5) reach the hasher."""
    auth, _, _ = portal
    outcome(auth.create_account("Root", "secret", "a"))
    auth.hasher = hasher = Pending()
    started = [auth.authenticate("Root", f"wrong{i}", "192.0.2.66") for i in range(90)]
    assert len(hasher.waiting) == 5
    # The rest wait for those five, unchecked (a crowd behind one address is not refused).
    assert not any(d.called for d in started)
    hasher.finish()
    checked, waited = started[:5], started[5:]
    assert all(outcome(d).check(LoginFailed) for d in checked)
    # The five failures locked the address: every waiting guess is refused, never checked.
    assert all(outcome(d).check(LoginThrottled) for d in waited)
    assert not hasher.waiting
    # Now the address is locked out, right password or not.
    assert outcome(auth.authenticate("Root", "secret", "192.0.2.66")).check(LoginThrottled)


def test_players_behind_one_address_logging_in_at_once_all_get_in(portal):
    """Twenty players behind one address log in at the same moment: more than the
    failure limit are in flight, and nobody is refused for it; they wait their turn."""
    auth, _, _ = portal
    for i in range(20):
        outcome(auth.create_account(f"Player{chr(97 + i)}", "secret", f"10.0.0.{i}"))
    auth.hasher = hasher = Pending()
    started = [auth.authenticate(f"Player{chr(97 + i)}", "secret", "198.51.100.7")
               for i in range(20)]
    assert len(hasher.waiting) == 5
    while hasher.waiting:
        hasher.finish()
    assert [outcome(d).name for d in started] == [f"Player{chr(97 + i)}" for i in range(20)]


def test_too_many_waiting_logins_from_one_address_are_refused_as_busy(portal):
    """Past max_waiting attempts queued behind the checks in flight, the next is refused."""
    auth, _, _ = portal
    auth.hasher = Pending()
    auth.throttle.max_waiting = 3
    started = [auth.authenticate("Nobody", "pw", "203.0.113.3") for _ in range(9)]
    assert [d.called for d in started] == [False] * 8 + [True]
    assert outcome(started[-1]).check(LoginsBusy)


def test_a_waiting_login_whose_client_left_is_never_checked(portal):
    """abandon() drops a queued attempt unchecked and gives its place back; a check
    already running is left to finish and be counted."""
    auth, _, _ = portal
    auth.hasher = hasher = Pending()
    running = [auth.authenticate("Nobody", f"wrong{i}", "203.0.113.8") for i in range(5)]
    queued = [auth.authenticate("Nobody", f"later{i}", "203.0.113.8") for i in range(3)]
    assert len(hasher.waiting) == 5 and len(auth.throttle.waiting["203.0.113.8"]) == 3
    for d in queued:
        auth.abandon(d)
        assert outcome(d).check(CancelledError)
    assert "203.0.113.8" not in auth.throttle.waiting
    auth.abandon(running[0])  # running: not stopped
    assert not running[0].called
    hasher.finish()
    assert not hasher.waiting, "no abandoned attempt reached the hasher"
    assert all(outcome(d).check(LoginFailed) for d in running)


def test_a_hundred_waiting_logins_start_without_nesting(portal):
    """Attempts released at once (each refused at once by the per-account delay) start
    one after another in a loop, not as a hundred nested calls."""
    auth, _, clock = portal
    auth.hasher = hasher = Pending()
    for i in range(10):  # the name's free failures, spent slowly from other addresses
        d = auth.authenticate("Target", "wrong", f"198.51.100.{i}")
        hasher.finish()
        outcome(d)
        clock.advance(400)
    first = [auth.authenticate("Target", "wrong", "192.0.2.9") for _ in range(1)]
    waiting = [auth.authenticate("Nobody", "x", "192.0.2.9") for _ in range(4)]
    waiting += [auth.authenticate("Target", "wrong", "192.0.2.9") for _ in range(100)]
    release = auth.throttle._release
    depth = deepest = 0

    def counted(address: str) -> None:
        nonlocal depth, deepest
        depth += 1
        deepest = max(deepest, depth)
        try:
            release(address)
        finally:
            depth -= 1

    auth.throttle._release = counted
    hasher.finish()
    assert all(d.called for d in first + waiting)
    assert all(outcome(d).check(LoginThrottled) for d in waiting[4:])
    for d in first + waiting[:4]:
        outcome(d)
    assert deepest <= 2, f"{deepest} nested releases"


def test_a_hasher_failure_frees_its_slot_without_counting_a_failure(portal):
    """A check that never ran (worker busy) does not count against the address or account."""
    auth, _, _ = portal
    outcome(auth.create_account("Alice", "secret", "a"))

    class Busy(ImmediateHasher):
        def verify(self, password, stored):
            return fail(ServerBusy("busy"))

    auth.hasher = Busy()
    for _ in range(20):
        assert outcome(auth.authenticate("Alice", "secret", "x")).check(ServerBusy)
    auth.hasher = ImmediateHasher()
    assert outcome(auth.authenticate("Alice", "secret", "x")).name == "Alice"


def test_failed_logins_for_unknown_names_lock_an_address_like_known_ones(portal):
    """Guesses at names that do not exist are throttled too (and so reveal nothing)."""
    auth, _, _ = portal
    for i in range(5):
        assert outcome(auth.authenticate("Ghost", f"x{i}", "192.0.2.5")).check(LoginFailed)
    refused = outcome(auth.authenticate("Ghost", "x", "192.0.2.5"))
    assert refused.check(LoginThrottled)
    outcome(auth.create_account("Alice", "secret", "a"))
    for i in range(5):
        assert outcome(auth.authenticate("Alice", f"x{i}", "192.0.2.6")).check(LoginFailed)
    assert str(outcome(auth.authenticate("Alice", "x", "192.0.2.6")).value) == str(refused.value)


def test_per_account_delay_stops_guessing_spread_over_many_addresses(portal):
    """Many addresses guessing one name: after 10 failures each check waits 1, 2, 4... s."""
    auth, _, clock = portal
    outcome(auth.create_account("Root", "secret", "a"))
    for i in range(24):  # 4 per address, under the per-address limit
        result = outcome(auth.authenticate("Root", f"wrong{i}", f"198.51.100.{i // 4}"))
        assert result.check(LoginFailed, LoginThrottled)
    # The right password from a seventh address is not even checked yet.
    delayed = outcome(auth.authenticate("Root", "secret", "203.0.113.7"))
    assert delayed.check(LoginDelayed)
    assert "wait" in str(delayed.value)
    clock.advance(1.5)
    # Delay after the 10th failure was 1 s; each further failure doubles it.
    assert outcome(auth.authenticate("Root", "wrong", "203.0.113.8")).check(LoginFailed)
    assert outcome(auth.authenticate("Root", "secret", "203.0.113.7")).check(LoginDelayed)
    clock.advance(1.0)
    assert outcome(auth.authenticate("Root", "secret", "203.0.113.7")).check(LoginDelayed)
    clock.advance(1.5)
    assert outcome(auth.authenticate("Root", "secret", "203.0.113.7")).name == "Root"


def test_per_account_delays_unknown_names_exactly_like_existing_ones(portal):
    """The per-account delay counts guesses at a missing name the same way."""
    auth, _, _ = portal
    outcome(auth.create_account("Alice", "secret", "a"))
    for name in ("Alice", "Nobody"):
        for i in range(10):
            result = outcome(auth.authenticate(name, "wrong", f"198.51.{i}.1"))
            assert result.check(LoginFailed)
        assert outcome(auth.authenticate(name, "wrong", "198.51.99.1")).check(LoginDelayed)


def test_the_delay_cannot_lock_a_player_out_from_a_known_address(portal):
    """An address that logged in to the account before is not delayed by strangers' guesses."""
    auth, _, clock = portal
    outcome(auth.create_account("Alice", "secret", "a"))
    assert outcome(auth.authenticate("Alice", "secret", "192.0.2.1")).name == "Alice"
    for i in range(40):
        clock.advance(1000)  # let every delay run out: the count climbs to the cap
        assert outcome(auth.authenticate("Alice", "wrong", f"198.51.{i}.1")).check(LoginFailed)
    assert outcome(auth.authenticate("Alice", "secret", "203.0.113.1")).check(LoginDelayed)
    assert outcome(auth.authenticate("Alice", "secret", "192.0.2.1")).name == "Alice"
    # The delay is capped (15 min), so a new address gets its turn too.
    clock.advance(901)
    assert outcome(auth.authenticate("Alice", "secret", "203.0.113.1")).name == "Alice"


def test_the_whole_password_is_hashed_not_only_its_first_8_characters(portal):
    """Passwords equal in their first 8 characters but different after are different."""
    auth, _, _ = portal
    outcome(auth.create_account("Alice", "abcdefgh-one", "a"))
    assert outcome(auth.authenticate("Alice", "abcdefgh-two", "b")).check(LoginFailed)
    assert outcome(auth.authenticate("Alice", "abcdefgh", "c")).check(LoginFailed)
    assert outcome(auth.authenticate("Alice", "abcdefgh-one", "d")).name == "Alice"


def test_signups_are_limited_per_address_per_hour(portal):
    """The 6th account in an hour from one address is refused; others and later are fine."""
    auth, _, clock = portal
    auth.signups.per_hour = 5
    for name in ("Anna", "Bert", "Cleo", "Dora", "Emil"):
        assert outcome(auth.create_account(name, "secret", "192.0.2.9")).name == name
    # A refused attempt (the name is taken) does not use up the allowance...
    refused = outcome(auth.create_account("Fred", "secret", "192.0.2.9"))
    assert refused.check(SignupThrottled)
    assert "last hour" in str(refused.value)
    assert outcome(auth.create_account("Fred", "secret", "192.0.2.10")).name == "Fred"
    clock.advance(3601)
    assert outcome(auth.create_account("Gina", "secret", "192.0.2.9")).name == "Gina"


def test_a_sign_up_that_fails_does_not_count(portal):
    """Taken names and busy servers do not use up the hourly allowance."""
    auth, _, _ = portal
    auth.signups.per_hour = 1
    outcome(auth.create_account("Anna", "secret", "elsewhere"))
    assert outcome(auth.create_account("Anna", "secret", "x")).check(NameTaken)

    class Busy(ImmediateHasher):
        def hash(self, password):
            return fail(ServerBusy("busy"))

    auth.hasher = Busy()
    assert outcome(auth.create_account("Bert", "secret", "x")).check(ServerBusy)
    auth.hasher = ImmediateHasher()
    assert outcome(auth.create_account("Bert", "secret", "x")).name == "Bert"
    assert outcome(auth.create_account("Cleo", "secret", "x")).check(SignupThrottled)


def test_zero_means_no_signup_limit(portal):
    """max_signups_per_hour=0 lets an address create as many accounts as it likes."""
    auth, _, _ = portal
    auth.signups.per_hour = 0
    for i in range(12):
        assert not isinstance(outcome(auth.create_account("Bot" + "abcdefghijkl"[i], "pw12", "x")),
                              Failure)


def test_reserved_admin_names_cannot_be_created_over_the_network(portal):
    """A name given with --admin cannot be created by anyone, in any letter case."""
    _, store, clock = portal
    auth = Authenticator(store, ImmediateHasher(), clock, reserved=["Root"])
    refused = outcome(auth.create_account("rOOt", "secret", "x"))
    assert refused.check(InvalidName)
    assert "reserved" in str(refused.value)
    assert store.get_account("root") is None


def test_asking_about_a_name_stores_nothing_for_the_signup_limit():
    """The dialogue's name check from many addresses leaves the sign-up table empty;
    with no limit, sign-ups are not recorded at all."""
    store = Store(":memory:")
    auth = Authenticator(store, ImmediateHasher(), Clock(), max_signups_per_hour=5)
    for i in range(1000):
        auth.check_new_name("Newcomer", f"10.1.{i // 256}.{i % 256}")
    assert auth.signups.created == {}
    unlimited = Authenticator(store, ImmediateHasher(), Clock(), max_signups_per_hour=0)
    outcome(unlimited.create_account("Freely", "secret", "10.2.0.1"))
    assert unlimited.signups.created == {}
    store.close()


def test_names_no_account_can_have_share_one_per_account_entry(portal):
    """Made-up strings (digits, 4 KiB of junk) cannot fill the per-account table."""
    auth, _, clock = portal
    for i in range(200):
        junk = f"x{i}" + "#" * (i * 20)
        outcome(auth.authenticate(junk, "pw", f"10.3.{i // 256}.{i % 256}"))
        clock.advance(1)
    assert set(auth.account_delay.accounts) == {MALFORMED_NAME}
