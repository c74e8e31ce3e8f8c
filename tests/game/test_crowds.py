"""Crowds: the "others are here" line of a look, and fan-out to a room's bystanders."""

from __future__ import annotations

from typing import Any

from game_fakes import FakeSession

from reality.game.events import Event, deliver
from reality.game.world import ROOM_LIST_LIMIT


def _others(world, player) -> str:
    lines = world.describe_room(player.location, player).split("\n")
    found = [line for line in lines if line.endswith("here.{/}") and "{cyan}" in line]
    return found[0] if found else ""


def test_a_crowded_room_names_the_first_few_and_counts_the_rest(world, join) -> None:
    """In a room of 15 a look names ROOM_LIST_LIMIT others and counts the rest; never oneself."""
    players = [join(world, f"Crowd{chr(97 + i)}")[0] for i in range(15)]
    viewer = players[-1]
    line = _others(world, viewer)
    assert line.startswith("{cyan}Crowda, Crowdb,")
    assert f"and {14 - ROOM_LIST_LIMIT} others are here." in line
    assert "Crowdo" not in line
    # A viewer among the first few is left out of their own line, and the count is right.
    first = _others(world, players[0])
    assert "Crowda" not in first
    assert first.startswith("{cyan}Crowdb,") and "Crowdk" in first
    assert f"and {14 - ROOM_LIST_LIMIT} others are here." in first


def test_the_line_is_shared_and_changes_when_someone_enters_or_leaves(world, join) -> None:
    """Viewers past the first few share one cached line; arrivals and departures change it."""
    players = [join(world, f"Crowd{chr(97 + i)}")[0] for i in range(14)]
    a, b = players[-1], players[-2]
    line = _others(world, a)
    room = a.location
    # The cached line itself, not a rebuilt one.
    assert world._others_here(room, b) is world._others_here(room, a)
    assert _others(world, b) == line
    assert f"and {13 - ROOM_LIST_LIMIT} others" in line
    late = join(world, "Latecomer")[0]
    after = _others(world, a)
    assert f"and {14 - ROOM_LIST_LIMIT} others" in after
    world.execute(late, "n")
    assert _others(world, a) == line
    # Someone among the first few leaves: the names change, not only the count.
    world.execute(players[0], "n")
    gone = _others(world, a)
    assert "Crowda" not in gone and gone.startswith("{cyan}Crowdb,") and "Crowdk" in gone
    assert f"and {12 - ROOM_LIST_LIMIT} others" in gone


def test_a_small_room_reads_as_before(world, join) -> None:
    """One other: "Bob is here."; alone: no line at all."""
    alice = join(world, "Alice")[0]
    assert _others(world, alice) == ""
    join(world, "Bob")
    assert _others(world, alice) == "{cyan}Bob is here.{/}"
    join(world, "Carol")
    assert _others(world, alice) == "{cyan}Bob and Carol are here.{/}"


class ManySession(FakeSession):
    """A session kind that takes a whole room's bystanders at once."""

    batches: list[tuple[int, str]] = []

    @staticmethod
    def show_many(sessions: Any, text: str, skip: tuple[Any, ...] = (None, None)) -> None:
        told = [s for s in sessions if s not in skip]
        ManySession.batches.append((len(told), text))
        for session in told:
            session.shown.append(text)


def test_bystanders_are_told_in_one_call_per_session_kind(world, join) -> None:
    """deliver hands the bystanders to show_many once per event; the actor hears their own line."""
    ManySession.batches = []
    world.store.create_account("Alice", "x", now=0.0)
    alice_session = FakeSession()
    alice = world.connect("Alice", alice_session)
    listeners = []
    for i in range(5):
        name = f"Listener{chr(97 + i)}"
        world.store.create_account(name, "x", now=0.0)
        session = ManySession()
        world.connect(name, session)
        listeners.append(session)
    plain = join(world, "Plain")[1]
    for s in [*listeners, plain, alice_session]:
        s.shown.clear()
    ManySession.batches = []
    deliver(Event(alice.location, "Alice waves.", actor=alice, to_actor="You wave."))
    assert ManySession.batches == [(5, "Alice waves.")]
    assert all(s.shown == ["Alice waves."] for s in listeners)
    assert plain.shown == ["Alice waves."]
    assert alice_session.shown == ["You wave."]
    # The audience is kept until someone enters or leaves, then made again.
    audience = alice.location.audience
    assert audience is not None
    world.execute(alice, "say hi")
    assert alice.location.audience is audience
    world.disconnect(world.online["plain"])
    assert alice.location.audience is not audience, "made again without Plain"
    deliver(Event(alice.location, "Alice nods."))
    assert plain.shown[-1] != "Alice nods."
    assert ManySession.batches[-1] == (5, "Alice nods.")


