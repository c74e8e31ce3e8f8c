"""State across restarts and world-file changes: players, items, built things."""

from __future__ import annotations

import random
from pathlib import Path

from game_fakes import FakeSession

from reality.game.loader import load_world, parse_world
from reality.game.store import Store
from reality.game.world import World
from reality.net.testing import Clock

TINY = Path(__file__).resolve().parents[2] / "world" / "tiny.yaml"

CHANGED = """
name: Tiny Test World, changed
start: hall
rooms:
  hall:
    name: The Hall
    description: A long hall.
    exits: {east: kitchen}
  kitchen:
    name: The Kitchen
    exits: {west: hall}
items:
  lamp: {name: brass lamp, location: kitchen}
"""


def boot(path: Path, definition=None) -> World:
    """A world on a database file, as a server start would make it."""
    world = World(Clock(), Store(str(path)), admins=["alice"], rng=random.Random(1))
    world.load(definition or load_world(TINY))
    world.start()
    return world


def shut(world: World) -> None:
    world.disconnect_all("bye")
    world.stop()
    world.store.close()


def test_restart_keeps_players_items_and_built_things(tmp_path: Path) -> None:
    """After a restart: players stand where they were, with what they carried; dropped
    items lie where they were dropped; dug rooms and created items still exist."""
    db = tmp_path / "db.sqlite3"
    world = boot(db)
    for name in ("Alice", "Bob"):
        world.store.create_account(name, "x", now=0.0)
    alice = world.connect("Alice", FakeSession())
    bob = world.connect("Bob", FakeSession())
    world.execute(alice, "get lamp")
    world.execute(alice, "n")
    world.execute(alice, "@dig up The Attic")
    world.execute(alice, "@create silver bell")
    world.execute(alice, "@describe bell = Shiny.")
    world.execute(alice, "up")
    world.execute(alice, "drop bell")
    world.execute(bob, "n")
    shut(world)

    world = boot(db)
    alice = world.connect("Alice", FakeSession())
    bob = world.connect("Bob", FakeSession())
    assert alice.location.name == "The Attic"
    assert [i.id for i in alice.inventory] == ["lamp"]
    assert bob.location.id == "library"
    bell = world.items["@silver-bell"]
    assert bell.location is alice.location and bell.description == "Shiny."
    world.execute(alice, "down")
    assert alice.location.id == "library"
    shut(world)


def test_an_offline_players_items_stay_with_them(tmp_path: Path) -> None:
    """Items carried by someone who logged out are not lying around after a restart."""
    db = tmp_path / "db.sqlite3"
    world = boot(db)
    world.store.create_account("Alice", "x", now=0.0)
    alice = world.connect("Alice", FakeSession())
    world.execute(alice, "get lamp")
    world.disconnect(alice)
    shut(world)

    world = boot(db)
    assert world.items["lamp"] not in world.rooms["hall"].contents
    assert world.items["lamp"].location.name == "Alice"
    alice = world.connect("Alice", FakeSession())
    assert [i.id for i in alice.inventory] == ["lamp"]
    shut(world)


def test_a_changed_world_file_merges_with_saved_state(tmp_path: Path) -> None:
    """A room gone from the file: its player goes to start, its item to its new home."""
    db = tmp_path / "db.sqlite3"
    world = boot(db)
    world.store.create_account("Alice", "x", now=0.0)
    alice = world.connect("Alice", FakeSession())
    world.execute(alice, "get lamp")
    world.execute(alice, "n")
    world.execute(alice, "drop lamp")  # the lamp lies in the library
    shut(world)

    world = boot(db, parse_world(CHANGED, "changed.yaml"))  # no library any more
    assert world.items["lamp"].location.id == "kitchen"
    alice = world.connect("Alice", FakeSession())
    assert alice.location.id == "hall"
    shut(world)


def test_reload_keeps_unsaved_moves(tmp_path: Path) -> None:
    """Loading a world keeps items where players put them since the last checkpoint."""
    world = boot(tmp_path / "db.sqlite3")
    world.store.create_account("Alice", "x", now=0.0)
    alice = world.connect("Alice", FakeSession())
    world.execute(alice, "get lamp")
    world.execute(alice, "n")
    world.execute(alice, "drop lamp")
    world.load(load_world(TINY))
    assert world.items["lamp"].location is world.rooms["library"]
    assert alice.location is world.rooms["library"]
    world.checkpoint()
    assert world.store.item_positions()["lamp"] == ("room", "library")
    shut(world)


def test_untouched_items_follow_the_world_file(tmp_path: Path) -> None:
    """Items nobody moved are not pinned in the database: a new file can move them."""
    db = tmp_path / "db.sqlite3"
    world = boot(db)
    world.checkpoint()
    shut(world)
    world = boot(db, parse_world(CHANGED, "changed.yaml"))
    assert world.items["lamp"].location.id == "kitchen"
    shut(world)


def test_a_load_that_fails_halfway_changes_nothing(tmp_path: Path) -> None:
    """If building the new content fails, the running world is exactly as it was."""
    world = boot(tmp_path / "db.sqlite3")
    world.store.create_account("Alice", "x", now=0.0)
    alice = world.connect("Alice", FakeSession())
    world.execute(alice, "n")
    rooms, items = dict(world.rooms), dict(world.items)

    def broken() -> dict:
        raise RuntimeError("database went away")

    world.store.built_items = broken  # late in the build: rooms are made by then
    try:
        world.load(parse_world(CHANGED, "changed.yaml"))
    except RuntimeError:
        pass
    else:
        raise AssertionError("load should have failed")
    assert world.name == "Tiny Test World"
    assert world.rooms == rooms and world.items == items
    assert alice.location is rooms["library"] and alice in rooms["library"].players
    del world.store.built_items
    shut(world)
