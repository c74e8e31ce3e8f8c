"""The shipped world, Lindenford: its quest, its bell and its own behaviour module.

These run on ``world/default.yaml`` and ``world/behaviours.py`` as shipped,
with the test ``Clock``, so that a change to either that breaks what a
newcomer can do fails here before it fails over telnet (tests/e2e).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from game_fakes import FakeSession, WallClock

from reality.game.loader import load_world
from reality.game.store import Store
from reality.game.world import World
from reality.net.testing import Clock

WORLD_DIR = Path(__file__).resolve().parents[2] / "world"
DEFAULT = WORLD_DIR / "default.yaml"
Join = Callable[[World, str], tuple[Any, FakeSession]]


@pytest.fixture
def lindenford(clock: Clock, store: Store) -> Iterator[World]:
    world = World(
        clock, store, rng=random.Random(7), wall_clock=WallClock(), world_dir=WORLD_DIR
    )
    world.load(load_world(DEFAULT))
    world.start()
    yield world
    world.stop()


def _say(world: World, player: Any, session: FakeSession, line: str) -> str:
    session.take()
    world.execute(player, line)
    return " ".join(" ".join(session.take()).split())


def _walk(world: World, player: Any, *ways: str) -> None:
    for way in ways:
        world.execute(player, way)


def test_the_locket_quest_can_be_played_through(lindenford: World, join: Join) -> None:
    """Notice, Marta's hint, the key, the trapdoor, the chest, the fisherman's thanks."""
    world = lindenford
    alice, a = join(world, "alice")
    assert "LOST: a silver locket" in _say(world, alice, a, "read notice")
    out = _say(world, alice, a, "e")
    assert 'Marta the innkeeper says, "Welcome to the Sleeping Fox!' in out
    out = _say(world, alice, a, "say where is the key?")
    assert "The cellar key hangs by the fire: the iron one." in out
    assert "Old Tom's locket?" in _say(world, alice, a, "say I am looking for a locket")
    assert "The trapdoor is locked." in _say(world, alice, a, "down")
    assert "The trapdoor is closed and locked." in _say(world, alice, a, "examine trapdoor")
    assert "You pick up the iron key." in _say(world, alice, a, "get key")
    assert "The trapdoor is locked." in _say(world, alice, a, "open trapdoor")
    assert "You unlock the trapdoor with the iron key." in _say(world, alice, a, "unlock trapdoor")
    assert "You open the trapdoor." in _say(world, alice, a, "open trapdoor")
    assert "The Inn Cellar" in _say(world, alice, a, "d")
    out = _say(world, alice, a, "open chest")
    assert "You open the oak chest. Inside you see a gold coin and a silver locket." in out
    assert "You take the silver locket from the oak chest." in _say(
        world, alice, a, "get locket from chest"
    )
    _walk(world, alice, "u", "w", "s", "e")
    assert alice.location.id == "riverbank"
    out = _say(world, alice, a, "give locket to fisherman")
    assert "You give the silver locket to the old fisherman." in out
    assert "Elsie's locket! I'd given it up for lost." in out
    # The locket goes back to the chest, so the next newcomer can do it too.
    world.clock.advance(2)
    assert world.items["locket"].location is world.items["chest"]


def test_the_bell_is_heard_next_door(lindenford: World, join: Join) -> None:
    """``ring bell`` in the tower booms there and is heard in the chapel below."""
    world = lindenford
    alice, a = join(world, "alice")
    bob, b = join(world, "bob")
    carol, c = join(world, "carol")
    _walk(world, alice, "w", "u")
    _walk(world, bob, "w")
    for s in (a, b, c):
        s.take()
    world.execute(alice, "ring bell")
    assert any("BONG!" in line and line.startswith("You swing") for line in a.take())
    assert "The chapel bell rings out above you: BONG!" in b.take()
    assert not any("BONG" in line for line in c.take())
    # The rope in the chapel rings it too, and the square hears that.
    world.execute(bob, "ring bell")
    assert "The chapel bell rings out over the village: BONG... BONG..." in c.take()


def test_the_fountain_answers_a_wish_once_a_moment_later(lindenford: World, join: Join) -> None:
    """``wish`` is the fountain's verb; many wishes make one answer, after the delay."""
    world = lindenford
    alice, a = join(world, "alice")
    a.take()
    for _ in range(5):
        world.execute(alice, "wish")
    assert a.take().count("You close your eyes and make a wish at the stone fountain.") == 5
    world.clock.advance(2.5)
    (answer,) = a.take()
    assert answer in world.items["fountain"].behaviours[0].answers


def test_the_sack_is_too_heavy_with_full_arms(lindenford: World, join: Join) -> None:
    """The ``heavy`` behaviour vetoes taking the sack while carrying more than two things."""
    world = lindenford
    alice, a = join(world, "alice")
    _walk(world, alice, "n", "get all", "s", "s", "e", "get rod", "e")
    assert alice.location.id == "mill" and len(alice.inventory) == 3
    out = _say(world, alice, a, "get sack")
    assert "The sack of flour is too heavy to lift with your arms this full." in out
    world.execute(alice, "drop rod")
    assert "You pick up the sack of flour." in _say(world, alice, a, "get sack")


def test_a_dropped_iron_key_goes_home(lindenford: World, join: Join) -> None:
    """The ``homing`` key dropped in the cellar is back by the fire after its wait."""
    world = lindenford
    alice, a = join(world, "alice")
    _walk(world, alice, "e", "get key", "unlock trapdoor", "open trapdoor", "d", "drop key")
    key = world.items["iron_key"]
    assert key.location is world.rooms["cellar"]
    world.clock.advance(299)
    assert key.location is world.rooms["cellar"]
    world.clock.advance(2)
    assert key.location is world.rooms["inn"]


def test_the_iron_key_leaves_a_player_who_leaves_the_game(lindenford: World, join: Join) -> None:
    """Carried off by someone who logs out, the key is back by the fire a wait later."""
    world = lindenford
    alice, a = join(world, "alice")
    _walk(world, alice, "e", "get key")
    key = world.items["iron_key"]
    world.clock.advance(301)
    assert key.location is alice, "while she plays, it stays with her"
    world.execute(alice, "quit")
    world.clock.advance(301)
    assert key.location is world.rooms["inn"]
    assert key not in alice.inventory
    world.checkpoint()
    assert world.store.item_positions()["iron_key"] == ("room", "inn")
