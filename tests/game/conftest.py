"""Fixtures for world tests: a fake clock, an in-memory store, fake sessions."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from game_fakes import FakeSession, WallClock

from reality.game.loader import load_world, parse_world
from reality.game.store import Store
from reality.game.world import World
from reality.net.testing import Clock

WORLD_DIR = Path(__file__).resolve().parents[2] / "world"
TINY = WORLD_DIR / "tiny.yaml"
DEFAULT = WORLD_DIR / "default.yaml"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store() -> Iterator[Store]:
    s = Store(":memory:")
    yield s
    s.close()


@pytest.fixture
def make_world(clock: Clock, store: Store) -> Callable[..., World]:
    """Build a world on the tiny test world (or YAML text given as ``text``)."""

    def make(text: str | None = None, *, path: Path = TINY, **options: Any) -> World:
        options.setdefault("rng", random.Random(7))
        options.setdefault("wall_clock", WallClock())
        world = World(clock, store, **options)
        world.load(parse_world(text, "test.yaml") if text is not None else load_world(path))
        return world

    return make


@pytest.fixture
def world(make_world: Callable[..., World]) -> World:
    return make_world(admins=["alice"])


def _join(world: World, name: str) -> tuple[Any, FakeSession]:
    if world.store.get_account(name) is None:
        world.store.create_account(name, "scrypt$2$1$1$AA==$AA==", now=0.0)
    session = FakeSession()
    player = world.connect(name, session)
    return player, session


@pytest.fixture
def join() -> Callable[[World, str], tuple[Any, FakeSession]]:
    """``join(world, name)``: create the account if needed, connect a FakeSession."""
    return _join
