"""World files: the pinned minimum loads; every error names file, line and why."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from reality.game.loader import WorldFileError, load_world, parse_world

WORLD_DIR = Path(__file__).resolve().parents[2] / "world"


def errors_of(text: str) -> list[str]:
    """The error lines ("file:line: message") for a world-file text."""
    with pytest.raises(WorldFileError) as info:
        parse_world(textwrap.dedent(text).lstrip("\n"), "w.yaml")
    return str(info.value).splitlines()


GOOD = """
name: W
start: hall
rooms:
  hall:
    name: The Hall
    exits: {north: library}
  library:
    name: The Library
    exits: {s: hall}
"""


def test_the_pinned_tiny_world_loads() -> None:
    """world/tiny.yaml, the minimal example of the issue, loads as written."""
    world = load_world(WORLD_DIR / "tiny.yaml")
    assert world.name == "Tiny Test World"
    assert world.welcome == "Welcome to the Tiny Test World."
    assert world.start == "hall"
    assert world.rooms["hall"].exits["north"].to == "library"
    assert world.items["lamp"].location == "hall"
    (wander,) = world.npcs["cat"].behaviours
    assert (wander.name, wander.params) == ("wander", {"every": 2.0})


def test_the_default_world_is_big_enough() -> None:
    """The shipped world has 15+ rooms, items, 3+ talking or wandering NPCs, day and night."""
    world = load_world(WORLD_DIR / "default.yaml")
    assert len(world.rooms) >= 15
    assert sum(not i.fixed for i in world.items.values()) >= 5
    assert sum(1 for n in world.npcs.values() if n.behaviours) >= 3
    assert world.daynight is not None
    assert any(r.outdoor for r in world.rooms.values())
    assert any("{" in r.description for r in world.rooms.values())


def test_abbreviated_exits_are_expanded() -> None:
    """An exit written as 's' is the exit 'south'."""
    world = parse_world(textwrap.dedent(GOOD), "w.yaml")
    assert list(world.rooms["library"].exits) == ["south"]


def test_exit_with_details() -> None:
    """An exit may be a mapping with to, description and aliases."""
    world = parse_world(
        textwrap.dedent(
            """
            name: W
            start: a
            rooms:
              a:
                name: A
                exits:
                  door: {to: b, description: A red door., aliases: [red door]}
              b: {name: B}
            """
        ),
        "w.yaml",
    )
    door = world.rooms["a"].exits["door"]
    assert (door.to, door.description, door.aliases) == ("b", "A red door.", ("red door",))


def test_yaml_syntax_error_has_its_line() -> None:
    """Broken YAML is reported at the line where the parser stopped."""
    (line,) = errors_of(
        """
        name: W
        start: hall
        rooms:
          hall: {name: The Hall
          other: x
        """
    )
    # The wording is the YAML parser's (C and Python parsers differ).
    assert line.startswith("w.yaml:5: YAML syntax error: ")
    assert "','" in line


# (world file, the exact error lines): each names the file, the line and what is wrong.
BAD_FILES = [
    pytest.param(
        """
        name: W
        start: hall
        colour: red
        rooms:
          hall:
            name: The Hall
            smell: musty
        """,
        [
            "w.yaml:3: unknown key 'colour' in the world file"
            " (expected one of: name, welcome, start, rooms, doors, items, npcs, daynight,"
            " python, help)",
            "w.yaml:7: unknown key 'smell' in room 'hall'"
            " (expected one of: name, description, exits, outdoor, night, aliases, behaviours,"
            " area, terrain)",
        ],
        id="unknown keys, with the keys allowed there",
    ),
    pytest.param(
        """
        name: W
        start: hall
        rooms:
          hall:
            name: The Hall
            exits:
              north: libary
        """,
        ["w.yaml:7: exit 'north' of room 'hall' leads to unknown room 'libary'"],
        id="exit to an unknown room",
    ),
    pytest.param(
        """
        name: W
        start: hall
        rooms:
          hall:
            name: The Hall
          hall:
            name: The Other Hall
        """,
        ["w.yaml:6: 'rooms': key 'hall' is repeated (first at line 4)"],
        id="repeated key in a section (PyYAML alone keeps the last)",
    ),
    pytest.param(
        """
        name: W
        start: hall
        rooms:
          hall: {name: The Hall}
        items:
          hall: {name: hall stand, location: hall}
        """,
        ["w.yaml:6: id 'hall' in items is already used in rooms (line 4)"],
        id="same id in two sections",
    ),
    pytest.param(
        """
        name: W
        start: hall
        rooms:
          hall:
            name: The Hall
            exits: {north: hall, n: hall}
        """,
        ["w.yaml:6: exit 'n' of room 'hall' repeats exit 'north' (first at line 6)"],
        id="one exit twice, once abbreviated",
    ),
    pytest.param(
        """
        name: W
        start: hall
        rooms:
          hall:
            name: The Hall
            exits: {North!: hall}
        """,
        [
            "w.yaml:6: exit 'North!' of room 'hall': an exit name is a word in lower-case"
            " letters (at most 32)"
        ],
        id="bad exit name",
    ),
    pytest.param(
        """
        name: W
        rooms:
          hall: {name: The Hall}
        """,
        ["w.yaml:1: the world file has no 'start' (it is required)"],
        id="missing start",
    ),
    pytest.param(
        """
        name: W
        start: lobby
        rooms:
          hall: {name: The Hall}
        """,
        ["w.yaml:2: start room 'lobby' is not in 'rooms'"],
        id="unknown start",
    ),
    pytest.param(
        """
        name: W
        start: lamp
        rooms:
          hall: {name: The Hall}
        items:
          lamp: {name: lamp, location: hall}
        """,
        ["w.yaml:2: start room 'lamp' is not in 'rooms' (it is one of the items)"],
        id="start naming an item gets a hint",
    ),
    pytest.param(
        """
        name: W
        start: hall
        rooms:
          hall: {description: Nameless.}
        """,
        ["w.yaml:4: room 'hall' has no 'name'"],
        id="room without a name",
    ),
    pytest.param(
        """
        name: W
        start: hall
        rooms:
          hall:
            name: [The, Hall]
            outdoor: maybe
            exits: north
        npcs:
          cat: {name: cat, location: hall, wander: soon, says: {a: b}}
        """,
        [
            "w.yaml:5: the name of room 'hall' must be text, not a list",
            "w.yaml:6: 'outdoor' of room 'hall' must be true or false, not text",
            "w.yaml:7: the exits of room 'hall' must be a mapping, not text",
            "w.yaml:9: 'wander' of npc 'cat' must be a number of seconds, not text",
            "w.yaml:9: 'says' of npc 'cat' must be a list, not a mapping",
        ],
        id="wrong types, at the value's line",
    ),
    pytest.param(
        """
        name: yes
        start: hall
        rooms:
          hall: {name: The Hall}
        """,
        ["w.yaml:1: the world's 'name' must be text, not a boolean (put it in quotes)"],
        id="a bare yes is a boolean: quote it",
    ),
    pytest.param(
        """
        name: W
        start: hall
        rooms:
          hall:
            name: The {red}Hall
            description: A {blink}hall.
        """,
        [
            "w.yaml:5: the name of room 'hall' must be plain text without braces",
            "w.yaml:6: 'description' of room 'hall': unknown markup tag '{blink}'"
            " (write '{{' for a literal brace)",
        ],
        id="braces in a name, bad markup in a description",
    ),
    pytest.param(
        """
        name: W
        start: hall
        rooms:
          hall: {name: The Hall}
        items:
          lamp: {name: lamp, location: attic}
          key: {name: key}
        npcs:
          cat: {name: cat, location: hall, roams: [hall, garden], wander: 0.1}
        """,
        [
            "w.yaml:6: item 'lamp' is in unknown room or container 'attic'",
            "w.yaml:7: item 'key' has no 'location'",
            "w.yaml:9: 'wander' of npc 'cat' must be 0 or at least 0.5 seconds, not 0.1",
            "w.yaml:9: 'roams' of npc 'cat' names unknown room 'garden'",
        ],
        id="item and npc places, required keys, ranges",
    ),
    pytest.param(
        """
        name: W
        start: hall
        rooms:
          hall: {name: The Hall}
        daynight:
          cycle: 1
          start: noon
          midnight: x
        """,
        [
            "w.yaml:6: 'cycle' of 'daynight' must be at least 4 seconds, not 1",
            "w.yaml:7: 'start' of 'daynight' must be one of dawn, day, dusk, night, not 'noon'",
            "w.yaml:8: unknown key 'midnight' in 'daynight' (expected one of: cycle, start,"
            " dawn, day, dusk, night)",
        ],
        id="day and night: length, first phase, keys",
    ),
    pytest.param(
        """
        name: W
        start: hall
        rooms:
          hall: {name: The Hall}
          "-tower": {name: Tower}
        """,
        [
            "w.yaml:5: id '-tower' in rooms must be letters, digits, '_', '-' or '.'"
            " (at most 64, not starting with '-' or '.'; '@' may lead)"
        ],
        id="bad id",
    ),
    pytest.param(
        """
        name: W
        start: hall
        x-base: &base {name: The Hall}
        rooms:
          hall:
            <<: *base
        """,
        [
            "w.yaml:5: room 'hall' has no 'name'",
            "w.yaml:6: merge keys ('<<') are not supported in room 'hall'",
        ],
        id="merge keys",
    ),
    pytest.param("", ["w.yaml:1: the world file is empty"], id="empty file"),
    pytest.param(
        "- a\n- b\n",
        ["w.yaml:1: the world file must be a mapping, not a list"],
        id="not a mapping",
    ),
    pytest.param(
        """
        name: W
        start: hall
        rooms:
          hall:
            name: The Hall
            description: !!python/object/apply:os.system [echo hi]
        npcs:
          cat: {name: cat, location: hall, wander: !!python/name:os.system ''}
        """,
        [
            "w.yaml:6: 'description' of room 'hall' must be text, not a list",
            "w.yaml:8: 'wander' of npc 'cat' must be a number of seconds, not a value tagged"
            " tag:yaml.org,2002:python/name:os.system",
        ],
        id="python tags build nothing",
    ),
]


@pytest.mark.parametrize(("text", "expected"), BAD_FILES)
def test_bad_world_files_say_file_line_and_why(text: str, expected: list[str]) -> None:
    """Each bad file is refused with exactly these file:line messages, sorted by line."""
    assert errors_of(text) == expected


def test_file_problems(tmp_path: Path) -> None:
    """A missing file and a non-UTF-8 file are errors with the file's name."""
    missing = tmp_path / "nope.yaml"
    with pytest.raises(WorldFileError) as info:
        load_world(missing)
    assert str(info.value) == f"{missing}: cannot read the world file: No such file or directory"
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"name: W\ndescription: caf\xe9\n")
    with pytest.raises(WorldFileError) as info:
        load_world(latin)
    assert info.value.errors == [(str(latin), 2, "the file is not valid UTF-8 text")]


def test_every_error_is_collected() -> None:
    """All problems are reported at once, sorted by line, as (file, line, message)."""
    with pytest.raises(WorldFileError) as info:
        parse_world("name: W\nstart: x\nrooms:\n  a: {name: A, exits: {up: b}}\n", "f.yaml")
    assert info.value.errors == [
        ("f.yaml", 2, "start room 'x' is not in 'rooms'"),
        ("f.yaml", 4, "exit 'up' of room 'a' leads to unknown room 'b'"),
    ]


def test_x_keys_are_ignored_and_anchors_work() -> None:
    """Top-level x- keys are the builder's own; an anchor defined there can be reused."""
    world = parse_world(
        textwrap.dedent(
            """
            name: W
            x-notes: anything at all
            x-desc: &desc A plain room.
            start: a
            rooms:
              a: {name: A, description: *desc}
            """
        ),
        "w.yaml",
    )
    assert world.rooms["a"].description == "A plain room."


# -- limits and the @load path policy ----------

from reality.game import loader  # noqa: E402
from reality.game.loader import (  # noqa: E402
    MAX_WORLD_BYTES,
    WorldFileRefused,
    excerpt,
    load_world_file,
    resolve_world_path,
)

SMALL = "name: S\nstart: h\nrooms:\n  h: {name: H}\n"


def test_excerpt_is_bounded_and_escapes_invisible_characters() -> None:
    """An excerpt keeps 40 characters, then '...'; controls, bidi and zero-width are escaped."""
    assert excerpt("x" * 100) == "x" * 40 + "..."
    assert excerpt("short") == "short"
    assert excerpt("a\nb\x1b[31mc\u202ed\u200be\ufeff") == "a\\nb\\x1b[31mc\\u202ed\\u200be\\ufeff"


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    """A FIFO with no writer is refused at once (opened O_NONBLOCK, checked by fstat)."""
    import os

    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    with pytest.raises(WorldFileRefused) as info:
        load_world_file("pipe.yaml", tmp_path)
    assert info.value.errors == [
        ("pipe.yaml", 0, "refused: it is a FIFO; only regular files are read")
    ]
    with pytest.raises(WorldFileRefused):
        load_world(fifo)  # the command line's --world too


def test_a_directory_is_refused(tmp_path: Path) -> None:
    """A directory under the world dir is not a world file."""
    (tmp_path / "d").mkdir()
    with pytest.raises(WorldFileRefused) as info:
        load_world_file("d", tmp_path)
    assert "it is a directory" in str(info.value)


def test_an_oversize_file_is_refused_before_reading(tmp_path: Path) -> None:
    """A file over 16 MiB is refused from its size alone (a sparse file: nothing is read)."""
    big = tmp_path / "big.yaml"
    with open(big, "wb") as f:
        f.truncate(MAX_WORLD_BYTES + 1)
    with pytest.raises(WorldFileRefused) as info:
        load_world_file("big.yaml", tmp_path)
    assert info.value.errors == [(
        "big.yaml", 0,
        f"refused: the file has {MAX_WORLD_BYTES + 1:,} bytes;"
        f" a world file may have at most {MAX_WORLD_BYTES:,}",
    )]
    small = tmp_path / "small.yaml"
    small.write_text(SMALL)
    with pytest.raises(WorldFileRefused):
        load_world(small, max_bytes=10)
    assert load_world(small, max_bytes=len(SMALL)).name == "S"


def test_path_policy_relative_dotdot_absolute_and_symlinks(tmp_path: Path) -> None:
    """Relative paths are taken from the world dir; '..', absolute paths outside and
    symlinks pointing out are refused; a symlink that stays inside is followed."""
    worlds = tmp_path / "worlds"
    (worlds / "sub").mkdir(parents=True)
    (worlds / "sub" / "w.yaml").write_text(SMALL)
    (tmp_path / "outside.yaml").write_text(SMALL)
    (worlds / "out.yaml").symlink_to(tmp_path / "outside.yaml")
    (worlds / "outdir").symlink_to(tmp_path)
    (worlds / "in.yaml").symlink_to(worlds / "sub" / "w.yaml")

    assert load_world_file("sub/w.yaml", worlds).name == "S"
    assert load_world_file(str(worlds / "sub" / "w.yaml"), worlds).name == "S"
    assert load_world_file("in.yaml", worlds).name == "S"
    assert load_world_file("sub/../sub/w.yaml", worlds).name == "S"
    assert resolve_world_path("in.yaml", worlds) == str((worlds / "sub" / "w.yaml").resolve())
    for path in (
        "../outside.yaml",
        str(tmp_path / "outside.yaml"),
        "out.yaml",
        "outdir/outside.yaml",
        "/etc/shadow",
        "/etc/passwd",
        ".",
        "",
        "a\0b",
    ):
        with pytest.raises(WorldFileRefused) as info:
            load_world_file(path, worlds)
        assert info.value.errors[0][1] == 0


def test_a_missing_file_under_the_world_dir_says_so(tmp_path: Path) -> None:
    """A missing file inside the world dir is an error naming it as the admin typed it."""
    with pytest.raises(WorldFileError) as info:
        load_world_file("nope.yaml", tmp_path)
    assert str(info.value) == "nope.yaml: cannot read the world file: No such file or directory"


def test_errors_are_capped_and_counted() -> None:
    """Past 100 errors the rest are only counted; lines(n) shows n and a count."""
    text = "name: W\nstart: a\nrooms:\n  a: {name: A}\n" + "".join(
        f"k{i}: 1\n" for i in range(250)
    )
    with pytest.raises(WorldFileError) as info:
        parse_world(text, "w.yaml")
    error = info.value
    assert len(error.errors) == loader.MAX_ERRORS
    assert error.more == 150
    assert error.lines(10)[-1] == "... and 240 more."
    assert len(error.lines(10)) == 11


def test_too_many_rooms_is_refused_before_building(monkeypatch) -> None:
    """More rooms (items, NPCs) than the cap: one error, nothing else walked."""
    monkeypatch.setattr(loader, "MAX_ROOMS", 3)
    text = "name: W\nstart: r0\nrooms:\n" + "".join(f"  r{i}: {{name: R}}\n" for i in range(4))
    assert errors_of(text) == ["w.yaml:4: 'rooms' has 4 entries; a world file may have at most 3"]


def test_too_many_yaml_values_is_refused_before_composing(monkeypatch) -> None:
    """A file of very many tiny values is refused by the streaming count, not composed."""
    monkeypatch.setattr(loader, "MAX_YAML_EVENTS", 1000)
    text = "name: W\nx-list: [" + ", ".join("a" for _ in range(2000)) + "]\n"
    composed = []
    monkeypatch.setattr(loader.yaml, "compose", lambda *a, **k: composed.append(1))
    errors = errors_of(text)
    assert errors == ["w.yaml:2: the file has more than 1,000 YAML values; too big for a world"]
    assert not composed
