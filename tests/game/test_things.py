"""The model: names, articles, matching, slots."""

from __future__ import annotations

import pytest

from reality.game.things import (
    EXACT,
    NO_MATCH,
    PREFIX,
    WORD_PREFIX,
    Exit,
    Item,
    Npc,
    Player,
    Room,
    expand_direction,
)


def test_articles() -> None:
    """Common names take a/an/the; proper names, players and rooms take none."""
    lamp, owl = Item("lamp", "brass lamp"), Item("owl", "owl")
    assert (lamp.a(), lamp.the(), lamp.The()) == (
        "a brass lamp",
        "the brass lamp",
        "The brass lamp",
    )
    assert owl.a() == "an owl"
    marta = Npc("marta", "Marta the innkeeper")
    assert (marta.a(), marta.the()) == ("Marta the innkeeper", "Marta the innkeeper")
    assert Player("Alice").the() == "Alice"
    assert Room("hall", "the hall").the() == "the hall"
    assert Item("x", "some coins").a() == "some coins"


@pytest.mark.parametrize(
    ("query", "score"),
    [
        ("brass lamp", EXACT),
        ("lantern", EXACT),  # alias
        ("bra", PREFIX),
        ("brass l", PREFIX),
        ("lamp", WORD_PREFIX),
        ("lam", WORD_PREFIX),
        ("br la", WORD_PREFIX),
        ("lamp brass", NO_MATCH),
        ("cat", NO_MATCH),
    ],
)
def test_name_matching(query: str, score: int) -> None:
    """Exact names and aliases beat name prefixes, which beat word prefixes."""
    assert Item("lamp", "brass lamp", aliases=("lantern",)).match(query) == score


def test_exit_matching() -> None:
    """Exits match their name and aliases."""
    door = Exit("door", "hall", aliases=("red door",))
    assert door.match("door") == EXACT
    assert door.match("red door") == EXACT
    assert door.match("re") == PREFIX


def test_directions() -> None:
    """Abbreviations expand; other words pass through."""
    assert [expand_direction(w) for w in ("n", "sw", "u", "door")] == [
        "north",
        "southwest",
        "up",
        "door",
    ]


def test_things_have_slots() -> None:
    """Hot objects carry no __dict__ (memory per player matters)."""
    for thing in (Player("Alice"), Room("r", "R"), Item("i", "i"), Npc("n", "n"), Exit("n", "r")):
        assert not hasattr(thing, "__dict__")
        with pytest.raises(AttributeError):
            thing.nonsense = 1  # type: ignore[attr-defined]
