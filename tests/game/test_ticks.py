"""Ticks driven by the test Clock: NPCs wander and talk, day turns to night, checkpoints."""

from __future__ import annotations

import pytest

DAYNIGHT = """
name: Days
start: field
daynight:
  cycle: 8
  start: day
  night: "{blue}Night falls.{/}"
rooms:
  field:
    name: The Field
    outdoor: true
    description: Green grass.
    night: Dark grass.
    exits: {in: hut}
  hut:
    name: The Hut
    exits: {out: field}
"""

TALKERS = """
name: Talk
start: a
rooms:
  a: {name: Room A, exits: {east: b, west: c}}
  b: {name: Room B, exits: {west: a}}
  c: {name: Room C, exits: {east: a}}
npcs:
  parrot:
    name: green parrot
    location: a
    says: ["Pretty bird!", ":ruffles its feathers."]
    talk: 3
  dog:
    name: dog
    location: a
    wander: 1
    roams: [a, b]
"""


def test_npc_wanders_after_its_interval(world, clock, join) -> None:
    """The tiny world's cat (wander: 2) leaves after 2 seconds, not before; both rooms see it."""
    alice, a = join(world, "Alice")
    bob, b = join(world, "Bob")
    world.execute(bob, "n")
    a.shown.clear()
    b.shown.clear()
    world.start()
    cat = world.npcs["cat"]
    clock.advance(1.9)
    assert cat.location.id == "hall"
    clock.advance(0.1)
    assert cat.location.id == "library"
    assert a.take() == ["The grey cat goes north."]
    assert b.take() == ["The grey cat arrives from the south."]
    clock.advance(2)
    assert cat.location.id == "hall"
    world.stop()


def test_npc_roams_only_its_rooms(make_world, clock) -> None:
    """An NPC with roams never walks into a room outside the list."""
    world = make_world(TALKERS)
    world.start()
    seen = set()
    for _ in range(40):
        clock.advance(1)
        seen.add(world.npcs["dog"].location.id)
    assert seen == {"a", "b"}
    world.stop()


def test_npc_talks_in_turn_where_someone_listens(make_world, clock, join) -> None:
    """says lines come every talk seconds, in order; ':' lines are actions."""
    world = make_world(TALKERS)
    alice, a = join(world, "Alice")
    a.shown.clear()
    world.start()
    clock.advance(2.9)
    assert [line for line in a.take() if "parrot" in line] == []
    clock.advance(0.1)
    clock.advance(3)
    clock.advance(3)
    assert [line for line in a.take() if "parrot" in line] == [
        'The green parrot says, "Pretty bird!"',
        "The green parrot ruffles its feathers.",
        'The green parrot says, "Pretty bird!"',
    ]
    world.stop()


def test_day_and_night_are_announced_outdoors_only(make_world, clock, join) -> None:
    """Each quarter cycle the phase moves on; only players outdoors hear it."""
    world = make_world(DAYNIGHT)
    outside, o = join(world, "Alice")
    inside, i = join(world, "Bob")
    world.execute(inside, "in")
    o.shown.clear()
    i.shown.clear()
    world.start()
    assert world.phase == "day"
    clock.advance(2)
    assert world.phase == "dusk"
    clock.advance(2)
    assert world.phase == "night"
    assert o.take() == [
        "The light reddens and fades: dusk is falling.",
        "Night falls.",
    ]
    assert i.take() == []
    world.execute(outside, "look")
    assert "Dark grass." in o.take()
    clock.advance(4)
    assert world.phase == "day"
    world.execute(outside, "look")
    assert "Green grass." in o.take()
    world.stop()


def test_checkpoint_saves_positions_and_inventories(world, clock, join) -> None:
    """Moves and pickups reach the database by the next checkpoint (5 s)."""
    alice, a = join(world, "Alice")
    world.start()
    world.execute(alice, "get lamp")
    world.execute(alice, "n")
    assert world.store.load_player("alice").room != "library"
    clock.advance(5)
    assert world.store.load_player("alice").room == "library"
    assert world.store.item_positions()["lamp"] == ("player", "alice")
    world.execute(alice, "drop lamp")
    clock.advance(5)
    assert world.store.item_positions()["lamp"] == ("room", "library")
    world.stop()


def test_a_failing_checkpoint_is_retried(world, clock, join, caplog) -> None:
    """If the database refuses a checkpoint, nothing is forgotten: the next one saves it."""
    alice, a = join(world, "Alice")
    world.start()
    world.execute(alice, "n")
    real = world.store.checkpoint

    def broken(**kwargs):
        raise OSError("disk full")

    world.store.checkpoint = broken
    clock.advance(5)
    assert "checkpoint failed" in caplog.text
    world.store.checkpoint = real
    clock.advance(5)
    assert world.store.load_player("alice").room == "library"
    world.stop()


def test_stop_cancels_ticks_and_saves(world, clock, join) -> None:
    """stop() leaves no timer behind and writes every position at once."""
    alice, a = join(world, "Alice")
    world.start()
    world.execute(alice, "n")
    world.stop()
    assert clock.get_delayed_calls() == []
    assert world.store.load_player("alice").room == "library"
    cat_room = world.npcs["cat"].location
    clock.advance(100)
    assert world.npcs["cat"].location is cat_room


def test_reload_while_running_restarts_npc_ticks(world, clock) -> None:
    """Loading a world while ticking replaces the NPC timers instead of doubling them."""
    world.start()
    before = len(clock.get_delayed_calls())
    world.load(world.definition)
    assert len(clock.get_delayed_calls()) == before
    clock.advance(2)
    assert world.npcs["cat"].location.id == "library"
    world.stop()


@pytest.mark.parametrize("interval", [1.0, 5.0])
def test_checkpoint_interval_is_configurable(make_world, clock, join, interval: float) -> None:
    """The checkpoint runs every checkpoint_interval seconds."""
    world = make_world(checkpoint_interval=interval)
    alice, _ = join(world, "Alice")
    world.start()
    world.execute(alice, "n")
    clock.advance(interval - 0.01)
    assert world.store.load_player("alice").room != "library"
    clock.advance(0.01)
    assert world.store.load_player("alice").room == "library"
    world.stop()


def test_a_large_checkpoint_is_saved_in_slices_within_the_same_moment(
    world, clock, join
) -> None:
    """450 moved players are saved 200 per loop turn, all before time moves on."""
    from reality.game.ticks import CHECKPOINT_SLICE

    letters = "abcdefghijklmnopqrstuvwxyz"
    players = [join(world, "Bot" + letters[i % 26] + letters[i // 26])[0] for i in range(450)]
    world.start()
    for player in players:
        world.execute(player, "n")
    calls = []
    real = world.store.checkpoint

    def counting(**kwargs):
        calls.append(len(kwargs["players"]))
        return real(**kwargs)

    world.store.checkpoint = counting
    clock.advance(5)  # one tick, then zero-delay slices: Clock runs them too
    assert calls == [CHECKPOINT_SLICE, CHECKPOINT_SLICE, 450 - 2 * CHECKPOINT_SLICE]
    assert all(world.store.load_player(p.key).room == "library" for p in players)
    world.stop()
