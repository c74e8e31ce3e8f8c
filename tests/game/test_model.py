"""The object model: one move with vetoes, doors, containers, readable things,
verb sets, behaviours on the test Clock, world behaviour modules, persistence."""

from __future__ import annotations

import random
import textwrap
from pathlib import Path

import pytest
from game_fakes import WallClock

from reality.game.behaviours import Behaviour, Happening
from reality.game.loader import WorldFileError, load_world, parse_world
from reality.game.store import Store
from reality.game.things import Refusal
from reality.game.world import World
from reality.net.testing import Clock

INN = """
name: Inn
start: inn
doors:
  trapdoor: {name: trapdoor, between: [inn, cellar], closed: true, locked: true, key: iron_key}
rooms:
  inn: {name: The Inn, exits: {down: cellar, west: square}}
  cellar: {name: The Cellar, exits: {up: inn}}
  square: {name: The Square, exits: {east: inn}}
items:
  iron_key: {name: iron key, location: inn}
  brass_key: {name: brass key, location: inn}
  chest: {name: oak chest, location: cellar, container: true, closed: true}
  box: {name: small box, location: chest, container: true}
  coin: {name: gold coin, location: box}
  anvil: {name: anvil, location: inn, fixed: true}
  notice: {name: notice board, location: square, fixed: true, text: "Market day is Tuesday."}
  locket: {name: silver locket, location: inn}
npcs:
  marta:
    name: Marta
    location: inn
    behaviours:
      - greet: {say: "Welcome to the Sleeping Fox!"}
      - respond: {keywords: [cellar, key], say: "The cellar key hangs by the fire."}
      - accept: {item: locket, say: "My locket! Thank you."}
"""


@pytest.fixture
def inn(make_world):
    return make_world(INN, admins=["alice"])


# -- the one move and its vetoes ----------


def test_taking_a_fixed_thing_is_vetoed_with_its_reason(inn, join) -> None:
    alice, a = join(inn, "Alice")
    a.take()
    inn.execute(alice, "get anvil")
    assert a.take() == ["The anvil is fixed in place."]
    assert inn.items["anvil"].location is inn.rooms["inn"]


def test_a_veto_changes_nothing_and_tells_no_one(inn, join) -> None:
    """A refused move leaves every container and index as it was; bystanders see nothing."""
    alice, a = join(inn, "Alice")
    bob, b = join(inn, "Bob")
    a.take(), b.take()
    before = list(inn.rooms["inn"].contents)
    with pytest.raises(Refusal, match="fixed in place"):
        inn.move(inn.items["anvil"], alice, actor=alice, action="take")
    assert inn.rooms["inn"].contents == before
    assert alice.inventory == []
    assert b.take() == []


def test_walking_through_a_locked_door_is_refused_by_name(inn, join) -> None:
    alice, a = join(inn, "Alice")
    a.take()
    inn.execute(alice, "down")
    assert a.take() == ["The trapdoor is locked."]
    assert alice.location.id == "inn"


def test_doors_from_both_sides(inn, join) -> None:
    """Unlock and open from the inn: the cellar hears it; close from below: the inn hears it."""
    alice, a = join(inn, "Alice")
    bob, b = join(inn, "Bob")
    inn.execute(bob, "@teleport cellar") if bob.admin else inn.move(
        bob, inn.rooms["cellar"], action="teleport", check=False
    )
    a.take(), b.take()
    inn.execute(alice, "open trapdoor")
    assert a.take() == ["The trapdoor is locked."]
    inn.execute(alice, "unlock trapdoor")
    assert a.take() == ["You have no key that fits the trapdoor."]
    inn.execute(alice, "get brass key")
    inn.execute(alice, "unlock trapdoor with brass key")
    assert a.take()[-1] == "The brass key doesn't fit the trapdoor."
    inn.execute(alice, "get iron key")
    a.take()
    inn.execute(alice, "unlock trapdoor")
    assert a.take() == ["You unlock the trapdoor with the iron key."]
    assert b.take() == ["Something clicks in the trapdoor."]
    inn.execute(alice, "open trapdoor")
    assert a.take() == ["You open the trapdoor."]
    assert b.take() == ["The trapdoor opens."]
    inn.execute(alice, "down")
    assert "The Cellar" in a.take()[0]
    inn.execute(alice, "close trapdoor")
    assert a.take() == ["You close the trapdoor."]
    assert b.take()[-1] == "Alice closes the trapdoor."
    inn.execute(alice, "up")
    assert a.take() == ["The trapdoor is closed."]
    inn.execute(alice, "lock trapdoor")
    assert a.take() == ["You lock the trapdoor with the iron key."]
    assert inn.doors["trapdoor"].locked


def test_examine_shows_doors_containers_and_writing(inn, join) -> None:
    alice, a = join(inn, "Alice")
    a.take()
    inn.execute(alice, "x trapdoor")
    assert a.take()[-1] == "The trapdoor is closed and locked."
    inn.execute(alice, "look down")
    assert a.take()[-1] == "The trapdoor is closed and locked."
    inn.move(alice, inn.rooms["square"], check=False)
    a.take()
    inn.execute(alice, "examine notice")
    assert a.take()[-1] == "There is writing on the notice board: type 'read board'."
    inn.execute(alice, "read notice")
    assert a.take() == ["The notice board reads:", "Market day is Tuesday."]
    inn.execute(alice, "read alice")
    assert a.take() == ["There is nothing written on Alice."]


def test_containers_nested_in_containers(inn, join) -> None:
    """A closed chest hides and guards its box; open, the box and its coin can be had."""
    alice, a = join(inn, "Alice")
    inn.move(alice, inn.rooms["cellar"], check=False)
    a.take()
    inn.execute(alice, "get box from chest")
    assert a.take() == ["The oak chest is closed."]
    inn.execute(alice, "x chest")
    assert a.take()[-1] == "The oak chest is closed."
    inn.execute(alice, "open chest")
    assert a.take() == ["You open the oak chest. Inside you see a small box."]
    inn.execute(alice, "get coin from chest")
    assert a.take() == ["There is no 'coin' in the oak chest."]
    inn.execute(alice, "get box from chest")
    assert a.take() == ["You take the small box from the oak chest."]
    inn.execute(alice, "get coin from box")
    assert a.take() == ["You take the gold coin from the small box."]
    assert inn.items["coin"].location is alice
    inn.execute(alice, "put box in box")
    assert a.take() == ["You can't put the small box inside itself."]
    inn.execute(alice, "put coin in box")
    inn.execute(alice, "put box in chest")
    a.take()
    inn.execute(alice, "put chest in box")
    assert a.take() == ["You don't see 'box' here."], "the box is in the chest now"
    # Moving the outer box into its own content is refused however deep.
    with pytest.raises(Refusal, match="inside itself"):
        inn.move(inn.items["chest"], inn.items["box"], action="put")
    inn.execute(alice, "close chest")
    inn.execute(alice, "put coin in chest")
    assert a.take()[-1] == "You aren't carrying 'coin'."
    assert inn.items["coin"].location is inn.items["box"]
    assert inn.items["box"].outermost() is inn.rooms["cellar"]


def test_put_into_a_closed_container_and_a_non_container(inn, join) -> None:
    alice, a = join(inn, "Alice")
    inn.execute(alice, "get iron key")
    inn.move(alice, inn.rooms["cellar"], check=False)
    a.take()
    inn.execute(alice, "put key in chest")
    assert a.take() == ["The oak chest is closed."]
    inn.move(inn.items["anvil"], inn.rooms["cellar"], check=False)
    inn.execute(alice, "put key in anvil")
    assert a.take() == ["You can't put anything in the anvil."]
    assert inn.items["iron_key"].location is alice


def test_giving_to_an_npc_takes_only_what_it_accepts(inn, join, clock) -> None:
    """Marta refuses a key, takes her locket, thanks, and it goes home a second later."""
    inn.start()
    alice, a = join(inn, "Alice")
    bob, b = join(inn, "Bob")
    inn.execute(alice, "get iron key")
    inn.execute(alice, "get locket")
    a.take(), b.take()
    inn.execute(alice, "give iron key to marta")
    assert a.take() == ["Marta is not interested in the iron key."]
    assert b.take() == []
    inn.execute(alice, "give locket to marta")
    assert a.take() == [
        "You give the silver locket to Marta.",
        'Marta says, "My locket! Thank you."',
    ]
    assert b.take() == [
        "Alice gives Marta the silver locket.",
        'Marta says, "My locket! Thank you."',
    ]
    assert inn.items["locket"].location is inn.npcs["marta"]
    clock.advance(1.0)
    assert inn.items["locket"].location is inn.rooms["inn"]


def test_get_all_takes_what_may_be_taken(inn, join) -> None:
    alice, a = join(inn, "Alice")
    a.take()
    inn.execute(alice, "get all")
    assert a.take() == ["You pick up the iron key, the brass key and the silver locket."]


def test_every_move_is_saved_by_the_next_checkpoint(inn, join, store) -> None:
    alice, a = join(inn, "Alice")
    inn.move(alice, inn.rooms["cellar"], check=False)
    inn.execute(alice, "open chest")
    inn.execute(alice, "get box from chest")
    inn.checkpoint()
    assert store.item_positions()["box"] == ("player", "alice")
    assert store.states()[("item", "chest")] == (False, False)


# -- persistence across a restart ----------


def test_doors_containers_and_contents_survive_a_restart(tmp_path: Path) -> None:
    """Door and lid states, things in containers and with NPCs come back after a restart."""
    db = str(tmp_path / "r.sqlite3")
    definition = parse_world(INN, "inn.yaml")

    def start() -> World:
        world = World(Clock(), Store(db), rng=random.Random(1), wall_clock=WallClock())
        world.load(definition)
        return world

    world = start()
    world.store.create_account("Alice", "scrypt$2$1$1$AA==$AA==", now=0.0)
    from game_fakes import FakeSession

    alice = world.connect("Alice", FakeSession())
    world.execute(alice, "get iron key")
    world.execute(alice, "get locket")
    world.execute(alice, "unlock trapdoor")
    world.execute(alice, "open trapdoor")
    world.execute(alice, "down")
    world.execute(alice, "open chest")
    world.execute(alice, "get box from chest")
    world.execute(alice, "get coin from box")
    world.execute(alice, "put box in chest")
    world.execute(alice, "put key in chest")
    world.execute(alice, "up")
    world.execute(alice, "give locket to marta")
    world.stop()
    world.store.close()

    again = start()
    assert not again.doors["trapdoor"].closed and not again.doors["trapdoor"].locked
    assert not again.items["chest"].closed
    assert again.items["iron_key"].location is again.items["chest"]
    assert again.items["box"].location is again.items["chest"]
    assert again.items["locket"].location is again.npcs["marta"]
    assert sorted(i.id for i in again.items["chest"].contents) == ["box", "iron_key"]
    alice = again.connect("Alice", FakeSession())
    assert [i.id for i in alice.inventory] == ["coin"]


def test_the_migration_keeps_old_positions(tmp_path: Path) -> None:
    """A database from before containers keeps its item positions through the migration."""
    import sqlite3

    from reality.game.store import CORE_MIGRATIONS

    db = tmp_path / "old.sqlite3"
    store = Store(str(db), migrations={"core": CORE_MIGRATIONS[:3]})
    assert store.schema_version() == 3
    with pytest.raises(sqlite3.IntegrityError):
        store.checkpoint(items=[("box", "item", "chest")])
    store.checkpoint(items=[("lamp", "room", "library")])
    store.close()
    store = Store(str(db))
    assert store.schema_version() == len(CORE_MIGRATIONS)
    assert store.item_positions() == {"lamp": ("room", "library")}
    store.checkpoint(items=[("lamp", "item", "chest")])
    assert store.item_positions() == {"lamp": ("item", "chest")}
    store.close()


# -- verb sets ----------

BELL = """
name: Bells
start: tower
rooms:
  tower:
    name: The Tower
    exits: {down: nave}
    behaviours:
      - sound: {verb: shout, you: "You shout; the tower echoes.", here: "shouts; the tower echoes."}
  nave: {name: The Nave, exits: {up: tower, out: yard}}
  yard: {name: The Yard, exits: {in: nave}}
items:
  bell:
    name: bronze bell
    location: tower
    fixed: true
    behaviours:
      - sound:
          verb: ring
          you: "You ring the bell. BONG!"
          here: "rings the bell. BONG!"
          nearby: "A bell tolls above."
  gong:
    name: brass gong
    location: tower
    behaviours:
      - sound: {verb: ring, you: "You strike the gong.", here: "strikes the gong."}
  whistle:
    name: tin whistle
    location: nave
    behaviours:
      - sound: {verb: say, you: "You blow the whistle.", here: "blows a whistle."}
"""


def test_things_give_verbs_and_the_arguments_choose_between_them(make_world, join) -> None:
    world = make_world(BELL)
    alice, a = join(world, "Alice")
    bob, b = join(world, "Bob")
    world.move(bob, world.rooms["nave"], check=False)
    a.take(), b.take()
    world.execute(alice, "ring bell")
    assert a.take() == ["You ring the bell. BONG!"]
    assert b.take() == ["A bell tolls above."]
    world.execute(alice, "ring gong")
    assert a.take() == ["You strike the gong."]
    world.execute(alice, "shout")
    assert a.take() == ["You shout; the tower echoes."]
    world.execute(alice, "shout for joy")
    assert a.take() == ["You shout; the tower echoes."], "no playing verb 'shout': the room's"
    world.move(alice, world.rooms["yard"], check=False)
    a.take()
    world.execute(alice, "ring bell")
    assert a.take() == ["I don't understand 'ring'. Type 'help' for a list of commands."]


def test_every_behaviour_of_a_thing_hears_it_used(make_world, join) -> None:
    """'ring bell' runs the sound's verb, then the used hooks of all the bell's behaviours."""
    world = make_world(BELL)
    alice, a = join(world, "Alice")

    class Counter(Behaviour):
        name = "counter"
        count = 0

        def used(self, h: Happening) -> None:
            Counter.count += 1
            h.tell(h.actor, f"The bell has rung {Counter.count} times.")

    counter = Counter()
    bell = world.items["bell"]
    counter.attach(bell, world)
    bell.behaviours += (counter,)
    a.take()
    world.execute(alice, "ring bell")
    world.execute(alice, "ring bell")
    assert a.take() == [
        "You ring the bell. BONG!",
        "The bell has rung 1 times.",
        "You ring the bell. BONG!",
        "The bell has rung 2 times.",
    ]
    world.execute(alice, "ring gong")
    assert a.take() == ["You strike the gong."]
    assert Counter.count == 2


def test_help_lists_the_verbs_things_here_give(make_world, join) -> None:
    world = make_world(BELL)
    alice, a = join(world, "Alice")
    a.take()
    world.execute(alice, "help")
    assert "  here: ring (bronze bell, brass gong), shout (The Tower)" in a.take()
    world.execute(alice, "help ring")
    assert a.take() == [
        "ring <thing>",
        "Something you can do here, with the bronze bell or the brass gong.",
    ]


def test_a_carried_thing_comes_before_the_playing_set(make_world, join) -> None:
    """A whistle's 'say' wins while it is here or carried; 'say hello' (not naming it) does not."""
    world = make_world(BELL)
    alice, a = join(world, "Alice")
    world.move(alice, world.rooms["nave"], check=False)
    a.take()
    world.execute(alice, "say whistle")
    assert a.take() == ["You blow the whistle."]
    world.execute(alice, "say hello")
    assert a.take() == ['You say, "hello"']
    world.execute(alice, "get whistle")
    world.move(alice, world.rooms["yard"], check=False)
    a.take()
    world.execute(alice, "say tin whistle")
    assert a.take() == ["You blow the whistle."]


class Counter(Behaviour):
    """A test behaviour with a verb from the decorator."""

    name = "counter"

    def __init__(self, start: int = 0) -> None:
        self.count = start

    from reality.game.behaviours import verb as _verb

    @_verb("count", help="count: count up.")
    def count_up(self, ctx, args: str) -> None:
        self.count += 1
        ctx.tell(f"{self.count}")


def test_decorated_verbs_are_offered() -> None:
    assert set(Counter.verbs) == {"count"}
    counter = Counter(start=2)
    handlers = counter.verb_handlers()
    assert handlers["count"].__name__ == "count_up"


# -- behaviours on the clock ----------


def test_greet_when_a_player_arrives_not_an_npc(inn, join) -> None:
    alice, a = join(inn, "Alice")
    inn.move(alice, inn.rooms["square"], check=False)
    a.take()
    inn.execute(alice, "east")
    lines = a.take()
    assert "The Inn" in lines[0]
    assert lines[-1] == 'Marta says, "Welcome to the Sleeping Fox!"'


def test_respond_to_whole_keywords_only(inn, join) -> None:
    alice, a = join(inn, "Alice")
    bob, b = join(inn, "Bob")
    a.take(), b.take()
    inn.execute(alice, "say Where is the KEY?")
    assert a.take() == [
        'You say, "Where is the KEY?"',
        'Marta says, "The cellar key hangs by the fire."',
    ]
    assert b.take() == [
        'Alice says, "Where is the KEY?"',
        'Marta says, "The cellar key hangs by the fire."',
    ]
    inn.execute(alice, "say what a monkey")
    assert a.take() == ['You say, "what a monkey"']
    inn.execute(alice, "emote asks about the cellar")
    assert a.take() == ["Alice asks about the cellar."]


def test_wander_and_talk_run_on_the_clock_and_stop_with_the_world(make_world, join, clock) -> None:
    world = make_world(
        """
        name: W
        start: a
        doors:
          gate: {name: gate, between: [a, c], closed: true}
        rooms:
          a: {name: Room A, exits: {east: b, west: c}}
          b: {name: Room B, exits: {west: a}}
          c: {name: Room C, exits: {east: a}}
        npcs:
          dog:
            name: dog
            location: a
            behaviours:
              - wander: {every: 1}
              - talk: {every: 1.5, says: ["Woof!", ":wags its tail."]}
        """
    )
    alice, a = join(world, "Alice")
    world.start()
    dog = world.npcs["dog"]
    seen = set()
    for _ in range(20):
        clock.advance(1)
        seen.add(dog.location.id)
    assert seen == {"a", "b"}, "the dog never goes through the closed gate"
    world.stop()
    where = dog.location.id
    clock.advance(10)
    assert dog.location.id == where


def test_talk_says_its_lines_in_turn_to_listeners(make_world, join, clock) -> None:
    world = make_world(
        """
        name: T
        start: a
        rooms:
          a: {name: Room A}
        npcs:
          parrot:
            name: green parrot
            location: a
            behaviours: [{talk: {every: 2, says: ["Hello!", ":preens."]}}]
        """
    )
    alice, a = join(world, "Alice")
    world.start()
    a.take()
    clock.advance(2)
    clock.advance(2)
    assert a.take() == ['The green parrot says, "Hello!"', "The green parrot preens."]


def test_a_failing_hook_is_logged_and_the_command_still_works(make_world, join, caplog) -> None:
    world = make_world(INN)
    alice, a = join(world, "Alice")

    class Broken(Behaviour):
        name = "broken"

        def heard(self, h: Happening) -> None:
            raise RuntimeError("boom")

    broken = Broken()
    broken.attach(world.npcs["marta"], world)
    world.npcs["marta"].behaviours += (broken,)
    a.take()
    world.execute(alice, "say hello")
    assert a.take() == ['You say, "hello"']
    assert "hook heard of behaviour 'broken'" in caplog.text


def test_an_allow_hook_vetoes_with_its_sentence(make_world, join) -> None:
    world = make_world(INN)
    alice, a = join(world, "Alice")

    class Heavy(Behaviour):
        name = "heavy"

        def allow(self, h: Happening) -> str | None:
            return "The locket is stuck to the table." if h.action == "take" else None

    heavy = Heavy()
    heavy.attach(world.items["locket"], world)
    world.items["locket"].behaviours = (heavy,)
    a.take()
    world.execute(alice, "get locket")
    assert a.take() == ["The locket is stuck to the table."]
    assert isinstance(world.items["locket"].location, type(world.rooms["inn"]))


# -- world behaviour modules ----------

MODULE = '''
from reality.game.behaviours import Behaviour, Happening


class Echo(Behaviour):
    """Repeats the last word said in its room."""

    name = "echo"

    def __init__(self, times: int = 1) -> None:
        self.times = times

    def heard(self, h: Happening) -> None:
        word = h.text.split()[-1]
        h.emote(" ".join([word] * self.times) + "...")
'''

CAVE = """
name: Cave
start: cave
python: [behaviours.py]
rooms:
  cave: {name: The Cave}
items:
  rock:
    name: rock
    location: cave
    behaviours:
      - echo: {times: 2}
"""


def _write(tmp_path: Path, module: str, world: str = CAVE) -> Path:
    (tmp_path / "behaviours.py").write_text(textwrap.dedent(module))
    path = tmp_path / "cave.yaml"
    path.write_text(textwrap.dedent(world))
    return path


def _cave(tmp_path: Path) -> World:
    return World(
        Clock(), Store(":memory:"), world_dir=tmp_path, rng=random.Random(1), wall_clock=WallClock()
    )


def test_a_world_module_is_loaded_used_and_reloaded(tmp_path: Path, join) -> None:
    path = _write(tmp_path, MODULE)
    world = _cave(tmp_path)
    world.load(load_world(path))
    alice, a = join(world, "Alice")
    a.take()
    world.execute(alice, "say hello there")
    assert a.take() == ['You say, "hello there"', "The rock there there..."]
    _write(tmp_path, MODULE.replace('"..."', '"!"'))
    world.load(load_world(path))
    world.execute(alice, "say hello there")
    assert a.take() == ['You say, "hello there"', "The rock there there!"]


@pytest.mark.parametrize(
    ("module", "world", "expected"),
    [
        (
            MODULE.replace("def heard(self", "def heard(self,"),
            CAVE,
            "behaviours.py:13: syntax error",
        ),
        (MODULE + "\nraise ValueError('no')\n", CAVE, "behaviours.py:17: ValueError: no"),
        (
            MODULE,
            CAVE.replace("echo: {times: 2}", "echoes: {times: 2}"),
            "cave.yaml:12: unknown behaviour 'echoes'",
        ),
        (
            MODULE,
            CAVE.replace("times: 2", "loud: true"),
            "cave.yaml:12: behaviour 'echo' has no parameter 'loud' (it takes: times)",
        ),
        (
            MODULE,
            CAVE.replace("times: 2", "times: twice"),
            "cave.yaml:12: parameter 'times' of behaviour 'echo' must be a whole number",
        ),
        (
            MODULE,
            CAVE.replace("[behaviours.py]", "[../elsewhere.py]"),
            "is outside the world directory",
        ),
        ("x = 1\n", CAVE, "behaviours.py: the module defines no behaviour"),
    ],
    ids=["syntax", "raises", "unknown", "parameter", "type", "outside", "empty"],
)
def test_a_broken_world_module_names_file_and_line_and_changes_nothing(
    tmp_path: Path, join, module: str, world: str, expected: str
) -> None:
    path = _write(tmp_path, MODULE)
    live = _cave(tmp_path)
    live.load(load_world(path))
    rock = live.items["rock"]
    _write(tmp_path, module, world)
    with pytest.raises(WorldFileError) as error:
        live.load(load_world(path))
    assert expected in str(error.value)
    assert live.items["rock"] is rock, "the running world is untouched"


def test_check_world_runs_the_modules(tmp_path: Path, capsys) -> None:
    from reality.cli import main

    path = _write(tmp_path, MODULE, CAVE.replace("times: 2", "times: no"))
    assert main(["check-world", str(path)]) == 1
    assert "cave.yaml:12: parameter 'times' of behaviour 'echo'" in capsys.readouterr().err
    path = _write(tmp_path, MODULE)
    assert main(["check-world", str(path)]) == 0


# -- the world file's checks ----------


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ("between: [inn, cellar]", "between: [cellar, square]"),
            "test.yaml:5: door 'trapdoor' is between 'cellar' and 'square', but no exit leads",
        ),
        (
            ("key: iron_key}", "key: marta}"),
            "test.yaml:5: the key of door 'trapdoor', 'marta', is not an item"
            " (it is one of the npcs)",
        ),
        (
            ("location: chest, container: true}", "location: box, container: true}"),
            "item 'box' is inside itself",
        ),
        (
            ("location: box}", "location: anvil}"),
            "item 'coin' is in item 'anvil', which is not a container",
        ),
        (("greet: {say:", "greeet: {say:"), "unknown behaviour 'greeet'"),
        (("{item: locket,", "{thing: locket,"), "behaviour 'accept' has no parameter 'thing'"),
        (
            ("anvil, location: inn, fixed: true}", "anvil, location: inn, locked: true}"),
            "only a container (container: true) can be closed, locked or have a key",
        ),
    ],
)
def test_bad_doors_containers_and_behaviours_are_named(change, expected, tmp_path: Path) -> None:
    from reality.game.behaviours import load_catalogue

    text = INN.replace(*change)
    assert text != INN
    with pytest.raises(WorldFileError) as error:
        definition = parse_world(text, "test.yaml")
        load_catalogue(definition, tmp_path)
    assert expected in str(error.value)


def test_the_short_forms_are_behaviours() -> None:
    definition = parse_world(
        "name: x\nstart: a\nrooms: {a: {name: A}}\n"
        "npcs: {cat: {name: cat, location: a, wander: 2, roams: [a], says: [Meow]}}\n"
    )
    names = [(b.name, b.params) for b in definition.npcs["cat"].behaviours]
    assert names == [
        ("wander", {"every": 2.0, "roams": ["a"]}),
        ("talk", {"every": 30.0, "says": ["Meow"]}),
    ]


def test_a_room_lists_a_closed_door_on_its_exit(inn, join) -> None:
    alice, a = join(inn, "Alice")
    assert a.take()[-1] == "Exits: down (closed trapdoor), west."
    inn.doors["trapdoor"].locked = inn.doors["trapdoor"].closed = False
    inn.execute(alice, "look")
    assert a.take()[-1] == "Exits: down, west."
