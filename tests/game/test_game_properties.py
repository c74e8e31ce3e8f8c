"""Properties: no input line and no world-file text can crash the world or the loader."""

from __future__ import annotations

import random

from game_fakes import FakeSession
from hypothesis import HealthCheck, given, settings, strategies as st

from reality.game.loader import WorldDefinition, WorldFileError, parse_world
from reality.game.store import Store
from reality.game.world import World
from reality.net.testing import Clock

WORDS = [
    "look", "l", "get", "take", "drop", "give", "to", "say", "'", ":", "emote", "tell",
    "who", "i", "inventory", "help", "n", "s", "north", "go", "lamp", "cat", "bob",
    "alice", "all", "2.lamp", "homepage", "edit", ".", "set", "color", "width", "@dig",
    "@create", "@describe", "=", "@teleport", "@kick", "@load", "{red}", "{", "}", "me",
    "here", "brass", "",
]  # fmt: skip


TINY = parse_world(
    "name: T\nstart: hall\nrooms:\n"
    "  hall: {name: The Hall, exits: {north: library}}\n"
    "  library: {name: The Library, exits: {south: hall}}\n"
    "items:\n  lamp: {name: brass lamp, location: hall}\n"
    "npcs:\n  cat: {name: grey cat, location: hall}\n",
    "t.yaml",
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.one_of(
            st.lists(st.sampled_from(WORDS), max_size=6).map(" ".join),
            st.text(max_size=30),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_no_input_crashes_a_verb(lines: list[str]) -> None:
    """Any sequence of lines from an admin and a player leaves both in a room, with replies."""
    world = World(Clock(), Store(":memory:"), admins=["alice"], rng=random.Random(0))
    world.load(TINY)
    for name in ("Alice", "Bob"):
        world.store.create_account(name, "x", now=0.0)
    alice = world.connect("Alice", FakeSession())
    bob = world.connect("Bob", FakeSession())
    for i, line in enumerate(lines):
        if "@load" in line or "@shutdown" in line:
            continue  # file system and process hooks are tested elsewhere
        player = alice if i % 2 else bob
        if player.online:
            before = len(player.session.shown)
            world.execute(player, line)
            if player.online and line.strip() and player.input_handler is None:
                assert len(player.session.shown) >= before
            assert all(isinstance(text, str) for text in player.session.shown)
            assert "Something went wrong" not in "".join(player.session.shown), line
    for player in (alice, bob):
        if player.online:
            assert player in player.location.players
            for item in player.inventory:
                assert item.location is player
    for item in world.items.values():
        holder = item.location
        assert item in (holder.contents if hasattr(holder, "contents") else holder.inventory)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "name: W\n",
                "start: hall\n",
                "rooms:\n",
                "  hall:\n",
                "    name: H\n",
                "    exits: {north: x}\n",
                "  x: {name: X}\n",
                "items:\n",
                "  lamp: {name: l, location: hall}\n",
                "npcs:\n",
                "  c: {name: c, location: x}\n",
                "  hall: 3\n",
                "- a\n",
                "daynight: {cycle: 8}\n",
                "    bogus: 1\n",
                ": :\n",
                "  '{': {name: '{red}'}\n",
                "\t\n",
                "    outdoor: yes\n",
            ]
        ),
        max_size=14,
    )
)
def test_loader_only_ever_raises_world_file_errors(parts: list[str]) -> None:
    """Any jumble of world-file lines gives a definition or a WorldFileError, never a crash."""
    try:
        result = parse_world("".join(parts), "f.yaml")
    except WorldFileError as error:
        assert error.errors
        for file, line, message in error.errors:
            assert file == "f.yaml" and line >= 1 and message
    else:
        assert isinstance(result, WorldDefinition)
        assert result.start in result.rooms
