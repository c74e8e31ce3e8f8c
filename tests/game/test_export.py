"""``reality export-world``: the world as it stands, written as a world file that loads back equal.

The property test builds at random (as an admin typing builder and player
verbs), exports, loads the export into a fresh database, and compares it
with the running world: rooms, exits and their doors, names,
descriptions, where every thing is, door and lid states, behaviours and
their parameters. It also restarts the running world on its own store and
compares again, so what the export reads is what a server would load.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from game_fakes import FakeSession, WallClock
from hypothesis import HealthCheck, given, settings, strategies as st

from reality.cli import main
from reality.game.events import EventBuffer
from reality.game.export import dump_world, export_world
from reality.game.loader import parse_world
from reality.game.store import Store
from reality.game.things import Door, Item, Npc, Player, Refusal, Room
from reality.game.world import World
from reality.net.testing import Clock

ROOT = Path(__file__).resolve().parents[2]

WORLD = """
name: The Fox
welcome: "Welcome, {bold}traveller{/}."
start: inn
daynight: {cycle: 400, start: dusk, night: "{blue}Dark.{/}"}
rooms:
  inn:
    name: The Sleeping Fox
    description: |
      A warm {yellow}inn{/}: "fire", 'beer' & {{braces}}.
      Second line   with  spaces.
    aliases: [tavern]
    exits:
      down: cellar
      out: {to: square, description: The door to the square., aliases: [door], leave: steps out.}
  cellar: {name: The Cellar, exits: {up: inn}}
  square:
    name: Market Square
    outdoor: true
    night: "Stars: {cyan}many{/}."
    exits: {in: inn}
    behaviours:
      - sound: {verb: ring, you: You ring the bell., here: rings the bell., nearby: A bell rings.}
doors:
  trapdoor: {name: trapdoor, between: [inn, cellar], closed: true, locked: true, key: iron_key}
items:
  iron_key: {name: iron key, location: inn}
  chest: {name: oak chest, location: cellar, container: true, closed: true}
  coin: {name: gold coin, location: chest}
  notice: {name: notice board, location: square, fixed: true, text: "Market: {red}Tuesday{/}."}
  lamp: {name: brass lamp, location: inn, description: "Brass: shiny."}
  box: {name: tin box, location: inn, container: true}
npcs:
  marta:
    name: Marta
    location: inn
    behaviours:
      - greet: {say: "Welcome to the Sleeping Fox!"}
      - respond: {keywords: [cellar, key], say: "The cellar key hangs by the fire."}
  cat: {name: grey cat, location: square, wander: 2, roams: [square, inn], says: [":purrs."]}
help:
  rules:
    text: |
      Be kind.
      {bold}No{/} spam: "quotes" & {{braces}}.
    aliases: [conduct, house rules]
    category: About this world
  The town: "Lindenford: a {green}green{/} town."
"""

# -- what the builder types -------------------------------------------------------------------

NAMES = st.sampled_from(
    ["Tower", "red box", "Old Hall", "yes", "123", "null", "a: b", "O'Neil", "Ünï", "x - y"]
)
EXITS = st.sampled_from(["north", "red door", "tunnel", "up", "out", "in", "hatch", "down"])
TARGETS = st.sampled_from(
    [
        "lamp", "chest", "coin", "box", "iron key", "marta", "cat", "trapdoor", "here",
        "notice", "orb", "tower", "red", "old", "yes", "123", "iron_key", "@orb",
    ]
)
TEXTS = st.lists(
    st.sampled_from(
        [
            "plain", "{red}red{/}", "{{", "}", "a: b", "# hash", "'q'", '"dq"', "ünï", "- dash",
            "yes", "123", "null", "  two  ", "{bold}b", "~", "&x *y", "%", "|", ">",
        ]
    ),
    min_size=1,
    max_size=4,
).map(" ".join)
ROOMS = st.sampled_from(["inn", "cellar", "square", "tower", "red box", "old hall", "yes"])
SETTINGS = st.sampled_from(
    [
        ("closed", "true"), ("closed", "false"), ("locked", "true"), ("locked", "false"),
        ("container", "true"), ("container", "false"), ("fixed", "yes"), ("fixed", "no"),
        ("key", "iron_key"), ("key", "lamp"), ("key", "none"), ("outdoor", "on"),
        ("aliases", "thing, other"), ("aliases", ""),
    ]
)

COMMANDS = st.one_of(
    st.builds("@dig {} = {}".format, EXITS, NAMES),
    st.builds("@open {} = {}".format, EXITS, ROOMS),
    st.builds("@unlink {}".format, EXITS),
    st.builds("@create {}".format, NAMES),
    st.builds("@rename {} = {}".format, TARGETS, NAMES),
    st.builds(lambda t, s: f"@set {t} {s[0]} = {s[1]}", TARGETS, SETTINGS),
    st.builds("@set {} text = {}".format, TARGETS, TEXTS),
    st.builds("@set here night = {}".format, TEXTS),
    st.builds("@set {} description = {}".format, TARGETS, TEXTS),
    st.builds("@describe {} = {}".format, st.one_of(TARGETS, EXITS), TEXTS),
    st.builds("@destroy {}".format, TARGETS),
    st.builds("@teleport {}".format, ROOMS),
    st.builds("get {}".format, TARGETS),
    st.builds("drop {}".format, TARGETS),
    st.builds("get {} from {}".format, TARGETS, TARGETS),
    st.builds("put {} in {}".format, TARGETS, TARGETS),
    st.builds("give {} to marta".format, TARGETS),
    st.builds("{} {}".format, st.sampled_from(["open", "close", "lock", "unlock"]), TARGETS),
    EXITS,
).map(lambda line: [line])

#: Moves and states by id, through the world's methods (vetoes apply): a typed name
#: would rarely still find its thing after a few random renames.
IDS = st.sampled_from(["lamp", "box", "iron_key", "coin", "chest", "notice", "@orb", "@bell"])
ACTIONS = st.one_of(
    st.tuples(
        st.just("put"),
        st.sampled_from(["lamp", "iron_key", "coin", "@bell", "@orb"]),
        st.sampled_from(["box", "chest", "lamp", "@orb"]),
    ),
    st.tuples(st.just("take"), IDS),
    st.tuples(st.just("drop"), IDS, st.sampled_from(["inn", "cellar", "square"])),
    st.tuples(
        st.just("state"),
        st.sampled_from(["box", "chest", "trapdoor", "lamp", "@orb"]),
        st.sampled_from(["open", "close", "lock", "unlock"]),
    ),
    st.tuples(st.just("line"), st.sampled_from(["@create orb", "@create bell"])),
    st.tuples(st.just("line"), st.builds("@set {} container = true".format, IDS)),
).map(lambda action: [action])
STEPS = st.one_of(ACTIONS, ACTIONS, COMMANDS)


def act(world: World, alice: Player, step: Any) -> None:
    """Run one step: a line alice types, or a move or state change by id."""
    if isinstance(step, str):
        world.execute(alice, step)
        return
    kind, *args = step
    if kind == "line":
        world.execute(alice, args[0])
        return
    thing: Any = world.items.get(args[0]) or world.doors.get(args[0])
    if thing is None:
        return
    try:
        if kind == "put" and args[1] in world.items:
            world.move(thing, world.items[args[1]], actor=alice, action="put")
        elif kind == "take":
            world.move(thing, alice, actor=alice, action="take")
        elif kind == "drop":
            world.move(thing, world.rooms[args[1]], actor=alice, action="drop")
        elif kind == "state" and (isinstance(thing, Door) or thing.container):
            # What the verbs check before they ask the world (the key aside).
            if (args[1], thing.locked, thing.closed) not in (
                ("open", True, True),
                ("lock", False, False),
            ):
                world.set_state(thing, alice, args[1], EventBuffer())
    except Refusal:
        pass


# -- comparing worlds ---------------------------------------------------------------------------


def _place(world: World, item: Item) -> str:
    """Where an item is, as a world file can say it (see reality.game.export)."""
    holder = item.location
    if isinstance(holder, Room | Item):
        return holder.id
    home = item.home
    if home is not None and (home in world.rooms or home in world.items):
        return home
    room = holder.location if isinstance(holder, Player | Npc) else None
    return room.id if isinstance(room, Room) else world.start_id


def snapshot(world: World, *, held_at_home: bool, ids: dict[str, str] | None = None) -> Any:
    """Everything the export promises to keep, with ids renamed by ``ids``."""
    m = (lambda i: ids.get(i, i)) if ids else (lambda i: i)

    def behaviours(thing: Any) -> list[Any]:
        return [(b.name, b.params()) for b in thing.behaviours]

    def lock(thing: Any) -> Any:
        return (thing.closed, thing.locked, m(thing.key) if thing.key else None)

    rooms = {
        m(r.id): (
            r.name, r.description, r.aliases, r.outdoor, r.night_description, behaviours(r),
            {
                name: (
                    m(e.destination), e.aliases, e.description, e.leave, e.arrive,
                    (m(e.door.id), e.door.name, e.door.description, lock(e.door))
                    if e.door else None,
                )
                for name, e in r.exits.items()
            },
        )
        for r in world.rooms.values()
    }
    items = {}
    for i in world.items.values():
        if held_at_home:
            place = _place(world, i)
        else:
            holder = i.location
            place = holder.key if isinstance(holder, Player) else holder.id
        items[m(i.id)] = (
            i.name, i.description, i.aliases, i.fixed, i.container, i.text, m(place),
            lock(i) if i.container else None, behaviours(i),
        )
    npcs = {
        m(n.id): (n.name, n.description, n.aliases, m(n.location.id), behaviours(n))
        for n in world.npcs.values()
    }
    topics = [(t.name, t.text, t.aliases, t.category) for t in world.help_topics]
    return rooms, items, npcs, world.name, world.welcome, m(world.start_id), topics


def new_world(store: Store, text: str) -> World:
    world = World(Clock(), store, admins=["alice"], rng=random.Random(7), wall_clock=WallClock())
    world.load(parse_world(text, "test.yaml"))
    return world


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(steps=st.lists(STEPS, min_size=4, max_size=15))
def test_export_loads_back_into_the_same_world(steps: list[list[Any]]) -> None:
    """Random builds, then export: the export loaded into a fresh database is the same world."""
    store = Store(":memory:")
    world = new_world(store, WORLD)
    store.create_account("Alice", "scrypt$2$1$1$AA==$AA==", now=0.0)
    alice = world.connect("alice", FakeSession())
    for lines in steps:
        for step in lines:
            act(world, alice, step)
    world.save_all()

    # The store holds what the running world shows (a restart reads it back).
    again = new_world(store, WORLD)
    assert snapshot(again, held_at_home=False) == snapshot(world, held_at_home=False)

    export = export_world(again)
    text = dump_world(export.data)
    assert yaml.safe_load(text) == export.data
    fresh = new_world(Store(":memory:"), text)
    assert snapshot(fresh, held_at_home=True) == snapshot(
        world, held_at_home=True, ids=export.renamed
    )
    store.close()


def test_export_keeps_multi_line_text_and_markup_exactly(make_world) -> None:
    """Texts of several lines are '|' blocks; markup, quotes and spaces come back exactly."""
    world = make_world(WORLD)
    text = dump_world(export_world(world).data)
    assert "description: |\n" in text
    fresh = parse_world(text, "out.yaml")
    assert fresh.rooms["inn"].description == world.rooms["inn"].description
    assert fresh.items["notice"].text == "Market: {red}Tuesday{/}."
    assert fresh.daynight is not None and fresh.daynight.messages["night"] == "{blue}Dark.{/}"


TOPIC_NAMES = st.sampled_from(["rules", "The town", "yes", "123", "null", "O'Neil", "a-b", "x_1"])
TOPIC_TEXTS = st.lists(
    st.sampled_from(["plain", "{red}red{/}", "{{", "a: b", "# hash", "yes", "null", "\n", "|"]),
    min_size=1,
    max_size=5,
).map(" ".join).filter(lambda t: t.strip())


@settings(max_examples=40, deadline=None)
@given(
    topics=st.dictionaries(
        TOPIC_NAMES,
        st.tuples(
            TOPIC_TEXTS,
            st.lists(st.sampled_from(["alias", "two words", "no"]), max_size=2, unique=True),
            st.sampled_from(["topics", "About this world", "yes"]),
        ),
        max_size=4,
    )
)
def test_help_topics_export_and_load_back_equal(topics: dict[str, Any]) -> None:
    """help: topics in either form, with markup, aliases and categories, come back exactly."""
    used: set[str] = set()
    section: dict[str, Any] = {}
    for name, (text, aliases, category) in topics.items():
        aliases = [a for a in aliases if a not in used and a != name.lower()]
        used.update(aliases)
        section[name] = {"text": text, "aliases": aliases, "category": category}
    names = {n.lower() for n in section}
    for entry in section.values():
        entry["aliases"] = [a for a in entry["aliases"] if a not in names]
    base = yaml.safe_load(WORLD)
    base["help"] = section
    world = new_world(Store(":memory:"), dump_world(base))
    text = dump_world(export_world(world).data)
    fresh = new_world(Store(":memory:"), text)
    assert snapshot(fresh, held_at_home=True)[-1] == snapshot(world, held_at_home=True)[-1]
    expected = [
        (n, e["text"].strip("\n"), tuple(e["aliases"]), e["category"])
        for n, e in section.items()
    ]
    assert snapshot(world, held_at_home=True)[-1] == expected


def test_built_ids_are_kept_and_served_with_their_database(make_world, join, store) -> None:
    """@the-tower stays @the-tower; loaded again with the same database nothing is doubled."""
    world = make_world(WORLD.replace("  cellar: {", "  the-tower: {name: Attic}\n  cellar: {"))
    alice, _ = join(world, "Alice")
    world.admins = frozenset({"alice"})
    alice.admin = True
    world.execute(alice, "@dig north The Tower")
    world.execute(alice, "@create silver key")
    world.execute(alice, "drop silver key")
    world.execute(alice, "@set box key = @silver-key")
    export = export_world(world)
    assert export.renamed == {}
    data = export.data
    assert data["rooms"]["inn"]["exits"]["north"] == "@the-tower"
    assert data["rooms"]["@the-tower"]["exits"]["south"] == "inn"
    assert data["items"]["box"]["key"] == "@silver-key"
    assert data["items"]["@silver-key"]["location"] == "inn"
    rooms, items = len(world.rooms), len(world.items)
    world.load(parse_world(dump_world(data), "out.yaml"))
    assert (len(world.rooms), len(world.items)) == (rooms, items)
    assert world.items["box"].key == "@silver-key"


def test_held_items_are_written_at_their_world_file_place(make_world, join) -> None:
    """A player's lamp goes home to the inn; a built orb to the room its holder is in."""
    world = make_world(WORLD, admins=["alice"])
    alice, _ = join(world, "Alice")
    world.execute(alice, "get lamp")
    world.execute(alice, "@create orb")
    world.execute(alice, "@teleport square")
    items = export_world(world).data["items"]
    assert items["lamp"]["location"] == "inn"
    assert items["@orb"]["location"] == "square"


def test_doors_without_a_way_and_unlinked_exits_are_left_out(make_world, join) -> None:
    """With every exit between its rooms unlinked, a door is not written; check passes."""
    world = make_world(WORLD, admins=["alice"])
    alice, _ = join(world, "Alice")
    world.execute(alice, "@unlink down")
    world.execute(alice, "@teleport cellar")
    world.execute(alice, "@unlink up")
    data = export_world(world).data
    assert "doors" not in data
    assert "exits" not in data["rooms"]["cellar"]
    parse_world(dump_world(data), "out.yaml")


# -- the command -------------------------------------------------------------------------------


def _built_database(tmp_path: Path, world_file: Path) -> Path:
    """A database where Alice dug a tower, opened the trapdoor and renamed the lamp."""
    db = tmp_path / "reality.sqlite3"
    store = Store(str(db))
    world = World(Clock(), store, admins=["alice"], world_dir=str(world_file.parent))
    from reality.game.loader import load_world

    world.load(load_world(world_file))
    store.create_account("Alice", "scrypt$2$1$1$AA==$AA==", now=0.0)
    alice = world.connect("alice", FakeSession())
    for line in (
        "@dig north = The Tower",
        "@rename lamp = Aladdin's lamp",
        "@set trapdoor locked = false",
        "@set trapdoor closed = false",
        "@create bell",
        "drop bell",
    ):
        world.execute(alice, line)
    world.stop()
    store.close()
    return db


def test_export_world_command_writes_a_file_check_world_accepts(tmp_path: Path, capsys) -> None:
    """export-world writes OUT; check-world accepts it; it loads into the same world."""
    source = tmp_path / "world"
    source.mkdir()
    (source / "bells.py").write_text(
        "from reality.game.behaviours import Behaviour\n\n"
        "class Chime(Behaviour):\n"
        "    name = 'chime'\n\n"
        "    def __init__(self, tune: str = 'ding') -> None:\n"
        "        self.tune = tune\n"
    )
    world_file = source / "fox.yaml"
    world_file.write_text(
        WORLD.replace("name: The Fox\n", "name: The Fox\npython: [bells.py]\n").replace(
            "      - greet:", "      - chime: {tune: dong}\n      - greet:"
        )
    )
    db = _built_database(tmp_path, world_file)
    out = source / "exported.yaml"
    status = main(["export-world", "--world", str(world_file), "--db", str(db), str(out)])
    assert status == 0
    assert capsys.readouterr().out.startswith(f"{out}: 4 rooms, 7 items, 2 NPCs, 1 doors\n")
    assert main(["check-world", str(out)]) == 0
    data = yaml.safe_load(out.read_text())
    assert data["python"] == ["bells.py"]
    assert data["rooms"]["inn"]["exits"]["north"] == "@the-tower"
    assert data["items"]["lamp"]["name"] == "Aladdin's lamp"
    assert data["items"]["@bell"]["location"] == "inn"
    assert "closed" not in data["doors"]["trapdoor"]
    assert data["npcs"]["marta"]["behaviours"][0] == {"chime": {"tune": "dong"}}


def test_export_world_command_as_a_process_rewrites_module_paths(tmp_path: Path) -> None:
    """python -m reality export-world into another directory: module paths still name the files."""
    source = tmp_path / "world"
    source.mkdir()
    (source / "bells.py").write_text(
        "from reality.game.behaviours import Behaviour\n\n"
        "class Chime(Behaviour):\n    name = 'chime'\n"
    )
    world_file = source / "fox.yaml"
    world_file.write_text(WORLD.replace("name: The Fox\n", "name: The Fox\npython: [bells.py]\n"))
    db = _built_database(tmp_path, world_file)
    out = source / "sub" / "exported.yaml"
    out.parent.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "reality", "export-world", "--world", str(world_file),
         "--db", str(db), str(out)],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "outside" in done.stderr  # the note: check-world runs modules under OUT's directory
    assert yaml.safe_load(out.read_text())["python"] == ["../bells.py"]


def test_export_world_command_errors(tmp_path: Path, capsys) -> None:
    """No database, or a bad world file: status 1 and the reason, and OUT is not written."""
    world_file = tmp_path / "fox.yaml"
    world_file.write_text(WORLD)
    out = tmp_path / "out.yaml"
    missing = tmp_path / "missing.sqlite3"
    assert main(["export-world", "--world", str(world_file), "--db", str(missing), str(out)]) == 1
    assert "there is no database" in capsys.readouterr().err
    assert not missing.exists() and not out.exists()
    db = tmp_path / "db.sqlite3"
    Store(str(db)).close()
    world_file.write_text("name: x\n")
    assert main(["export-world", "--world", str(world_file), "--db", str(db), str(out)]) == 1
    assert "has no 'start'" in capsys.readouterr().err
    assert not out.exists()
