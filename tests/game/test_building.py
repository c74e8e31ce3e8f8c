"""The builders' verbs: @destroy, @rename, @open, @unlink, @set, @examine and @dig's '=' form.

Every change is durable when the admin is told: each test that changes
the world also builds a second World on the same store, without a
checkpoint, and finds the change there (a restart), and ``@load`` of the
same file keeps it too.
"""

from __future__ import annotations

import random

import pytest
from game_fakes import WallClock

from reality.game.loader import parse_world
from reality.game.world import World

FOX = """
name: The Fox
start: inn
rooms:
  inn:
    name: The Sleeping Fox
    description: A warm {yellow}inn{/}.
    exits: {down: cellar, out: square}
  cellar: {name: The Cellar, exits: {up: inn}}
  square: {name: Market Square, outdoor: true, exits: {in: inn}}
doors:
  trapdoor: {name: trapdoor, between: [inn, cellar], closed: true, locked: true, key: iron_key}
items:
  iron_key: {name: iron key, location: inn}
  chest: {name: oak chest, location: cellar, container: true, closed: true}
  coin: {name: gold coin, location: chest}
  notice: {name: notice board, location: square, fixed: true, text: "Market day is Tuesday."}
  lamp: {name: brass lamp, location: inn}
  box: {name: tin box, location: inn, container: true}
npcs:
  marta:
    name: Marta
    location: inn
    behaviours:
      - greet: {say: "Welcome to the Sleeping Fox!"}
      - respond: {keywords: [cellar, key], say: "The cellar key hangs by the fire."}
"""


@pytest.fixture
def fox(make_world):
    return make_world(FOX, admins=["alice"])


@pytest.fixture
def pair(fox, join):
    """Alice (admin) and Bob in the inn, their sessions cleared."""
    alice, a = join(fox, "Alice")
    bob, b = join(fox, "Bob")
    a.shown.clear()
    b.shown.clear()
    return fox, (alice, a), (bob, b)


@pytest.fixture
def restart(clock):
    """``restart(world)``: a new World on the same store and file, nothing checkpointed first."""

    def make(world: World) -> World:
        new = World(
            clock, world.store, admins=["alice"], rng=random.Random(7), wall_clock=WallClock()
        )
        assert world.definition is not None
        new.load(world.definition)
        return new

    return make


def reload(world: World) -> None:
    """``@load`` of the same file, as the world applies it."""
    assert world.definition is not None
    world.load(parse_world(FOX, "test.yaml"))


# -- @destroy --------------------------------------------------------------------------------


def test_destroy_an_item_here_and_it_stays_destroyed(pair, restart) -> None:
    """@destroy lamp: gone for everyone, and after a restart and a @load of the same file."""
    world, (alice, a), (bob, b) = pair
    world.execute(alice, "@destroy lamp")
    assert a.take() == ["You destroy a brass lamp (lamp)."]
    assert b.take() == ["Alice points at a brass lamp, and it is gone."]
    assert "lamp" not in world.items
    assert all(t.id != "lamp" for t in world.rooms["inn"].contents)
    reload(world)
    assert "lamp" not in world.items
    assert "lamp" not in restart(world).items


def test_destroy_a_container_spills_its_contents_into_the_room(pair, restart) -> None:
    """Items inside a destroyed container fall to its room, and stay there after a restart."""
    world, (alice, a), _ = pair
    world.execute(alice, "@teleport cellar")
    a.shown.clear()
    world.execute(alice, "@destroy chest")
    assert a.take() == ["You destroy an oak chest (chest). A gold coin fall to the ground."]
    coin = world.items["coin"]
    assert coin.location is world.rooms["cellar"]
    again = restart(world)
    assert "chest" not in again.items
    assert again.items["coin"].location is again.rooms["cellar"]


def test_destroy_a_carried_or_built_item(pair, restart) -> None:
    """A carried item goes from the hands; a built one is deleted from the store."""
    world, (alice, a), _ = pair
    world.execute(alice, "@create glass orb")
    world.execute(alice, "get lamp")
    a.shown.clear()
    world.execute(alice, "@destroy orb")
    world.execute(alice, "@destroy lamp")
    assert a.take() == [
        "You destroy a glass orb (@glass-orb).",
        "You destroy a brass lamp (lamp).",
    ]
    assert alice.inventory == []
    assert world.store.built_items() == []
    assert "@glass-orb" not in restart(world).items


def test_destroy_an_npc(pair, restart) -> None:
    """An NPC vanishes, its behaviours stop, and it does not come back."""
    world, (alice, a), (bob, b) = pair
    world.execute(alice, "@destroy marta")
    assert a.take() == ["You destroy Marta (marta)."]
    assert b.take() == ["Alice points at Marta, and it is gone."]
    assert "marta" not in world.npcs
    world.execute(bob, "say where is the cellar key?")
    assert all("Marta" not in line for line in b.take())
    assert "marta" not in restart(world).npcs


def test_destroy_by_id_reaches_things_out_of_sight(pair) -> None:
    """A name that fits nothing here is tried as an id anywhere (the coin in the cellar's chest)."""
    world, (alice, a), _ = pair
    world.execute(alice, "@destroy coin")
    assert a.take() == ["You destroy a gold coin (coin)."]
    assert world.items["chest"].contents == []


def test_destroy_says_why_not(pair) -> None:
    """Rooms, exits, people, keys in use and unknown names are refused; nothing changes."""
    world, (alice, a), (bob, b) = pair
    for line in (
        "@destroy",
        "@destroy here",
        "@destroy bob",
        "@destroy trapdoor",
        "@destroy out",
        "@destroy iron key",
        "@destroy unicorn",
    ):
        world.execute(alice, line)
    assert a.take() == [
        "Usage: @destroy <item or NPC>",
        "@destroy takes an item or an NPC, not a room. (@unlink removes exits.)",
        "@destroy takes an item or an NPC, not a player. (@unlink removes exits.)",
        "@destroy takes an item or an NPC, not a door. (@unlink removes exits.)",
        "@destroy takes an item or an NPC, not an exit. (@unlink removes exits.)",
        "The iron key is the key of the trapdoor: give it another key first"
        " (@set <thing> key = <item id> or none).",
        "There is no 'unicorn' here, and no thing has that id.",
    ]
    world.execute(bob, "@destroy lamp")
    assert b.take() == ["Only admins can use @destroy."]
    assert "lamp" in world.items and "iron_key" in world.items


# -- @rename ---------------------------------------------------------------------------------


def test_rename_things_npcs_doors_and_the_room(pair, restart) -> None:
    """@rename works on an item, an NPC, a door and 'here'; the new names match and persist."""
    world, (alice, a), (bob, b) = pair
    world.execute(alice, "@rename lamp = silver lantern")
    world.execute(alice, "@rename marta = Old Marta")
    world.execute(alice, "@rename trapdoor = cellar hatch")
    world.execute(alice, "@rename here = The Drowsy Fox")
    assert a.take() == [
        "You rename the brass lamp (lamp): it is now called silver lantern.",
        "You rename Marta (marta): it is now called Old Marta.",
        "You rename the trapdoor (trapdoor): it is now called cellar hatch.",
        "You rename The Sleeping Fox (inn): it is now called The Drowsy Fox.",
    ]
    world.execute(bob, "get lantern")
    assert b.take() == ["You pick up the silver lantern."]
    world.execute(bob, "open hatch")
    assert b.take() == ["The cellar hatch is locked."]
    num = world.room_number
    assert ("Room.Info", {
        "num": num("inn"), "id": "inn", "name": "The Drowsy Fox", "area": world.name,
        "environment": "indoor", "exits": {"down": num("cellar"), "out": num("square")},
    }) in b.data
    for again in (restart(world), world):
        reload(again)
        assert again.items["lamp"].name == "silver lantern"
        assert again.npcs["marta"].name == "Old Marta"
        assert again.doors["trapdoor"].name == "cellar hatch"
        assert again.rooms["inn"].name == "The Drowsy Fox"


def test_rename_says_why_not(pair) -> None:
    """A missing '=', a name with braces, an exit and a player are refused."""
    world, (alice, a), _ = pair
    for line in (
        "@rename lamp",
        "@rename lamp = a {red}lamp",
        "@rename down = stairs",
        "@rename bob = Robert",
    ):
        world.execute(alice, line)
    assert a.take() == [
        "Usage: @rename <thing> = <new name>  (or @rename here = <new name>)",
        "Names are plain text: no braces, please.",
        "An exit is changed with @describe, or replaced with @unlink and @open.",
        "Players are not built: they change themselves.",
    ]
    assert world.items["lamp"].name == "brass lamp"


# -- @open and @unlink -----------------------------------------------------------------------


def test_open_makes_a_one_way_exit_with_a_name_of_several_words(pair, restart) -> None:
    """@open red door = square: walkable by its whole name, one way only, persistent."""
    world, (alice, a), (bob, b) = pair
    world.execute(alice, "@open red door = square")
    assert a.take() == [
        "You open a way red door to Market Square (square). It is one-way:"
        " @open the way back from there if you want one.",
    ]
    assert b.take()[0] == "Alice gestures, and a way red door opens."
    world.execute(bob, "red door")
    assert bob.location.id == "square"
    assert "red door" not in world.rooms["square"].exits.values()
    again = restart(world)
    assert again.rooms["inn"].exits["red door"].destination == "square"
    reload(world)
    assert world.rooms["inn"].exits["red door"].destination == "square"


def test_open_by_room_name_and_doors_apply_to_new_ways(pair, restart) -> None:
    """The room may be named; a new way between a door's rooms carries that door."""
    world, (alice, a), _ = pair
    world.execute(alice, "@open ladder = the cellar")
    way = world.rooms["inn"].exits["ladder"]
    assert way.destination == "cellar"
    assert way.door is world.doors["trapdoor"]
    world.execute(alice, "ladder")
    assert a.take()[-1] == "The trapdoor is locked."
    assert restart(world).rooms["inn"].exits["ladder"].door is not None


def test_open_says_why_not(pair) -> None:
    """A taken name, an unknown room, a bad name and a missing '=' are refused."""
    world, (alice, a), _ = pair
    for line in (
        "@open down = square",
        "@open d = square",
        "@open gate = atlantis",
        "@open Big_Gate! = square",
        "@open gate square",
    ):
        world.execute(alice, line)
    assert a.take() == [
        "There is already a way down here.",
        "There is already a way down here.",
        "There is no room called 'atlantis'.",
        "An exit name is one or a few words in lower-case letters"
        " (at most 32 characters, starting with a letter).",
        "Usage: @open <exit name> = <room id>, e.g. @open red door = vault",
    ]
    assert set(world.rooms["inn"].exits) == {"down", "out"}


def test_unlink_a_world_file_exit_and_a_built_one(pair, restart) -> None:
    """@unlink removes a way; a world file's stays removed after a restart and a @load."""
    world, (alice, a), (bob, b) = pair
    world.execute(alice, "@open red door = square")
    a.shown.clear()
    b.shown.clear()
    world.execute(alice, "@unlink out")
    world.execute(alice, "@unlink red door")
    assert a.take() == [
        "You remove the way out (it led to square).",
        "You remove the way red door (it led to square).",
    ]
    assert b.take()[0] == "Alice gestures, and the way out is gone."
    assert set(world.rooms["inn"].exits) == {"down"}
    world.execute(bob, "out")
    assert bob.location.id == "inn"
    for again in (restart(world), world):
        reload(again)
        assert set(again.rooms["inn"].exits) == {"down"}
    world.execute(alice, "@unlink sideways")
    assert a.take()[-1] == "There is no way 'sideways' here."


def test_an_unlinked_name_can_be_opened_again(pair, restart) -> None:
    """@unlink out then @open out = cellar: the new way wins, now and after a restart."""
    world, (alice, _), _ = pair
    world.execute(alice, "@unlink out")
    world.execute(alice, "@open out = cellar")
    assert world.rooms["inn"].exits["out"].destination == "cellar"
    assert restart(world).rooms["inn"].exits["out"].destination == "cellar"


# -- @dig with '=' ---------------------------------------------------------------------------


def test_dig_with_several_words_and_the_one_word_form(pair, restart) -> None:
    """@dig red door = The Vault digs a way of two words; @dig north X keeps working."""
    world, (alice, a), _ = pair
    world.execute(alice, "@dig red door = The Vault")
    world.execute(alice, "@dig north The Tower")
    assert a.take() == [
        "You dig red door to The Vault (@the-vault); the way back is 'back'.",
        "You dig north to The Tower (@the-tower); the way back is 'south'.",
    ]
    world.execute(alice, "red door")
    assert alice.location.id == "@the-vault"
    world.execute(alice, "back")
    world.execute(alice, "@dig red door = Another")
    assert a.take()[-1] == "There is already a way red door here."
    again = restart(world)
    assert again.rooms["inn"].exits["red door"].destination == "@the-vault"
    assert again.rooms["@the-vault"].exits["back"].destination == "inn"


# -- @set ------------------------------------------------------------------------------------


def test_set_item_attributes(pair, restart) -> None:
    """Every item attribute, read as the world file reads it, and kept after a restart."""
    world, (alice, a), (bob, b) = pair
    for line in (
        "@set lamp description = A {yellow}bright{/} lamp.",
        "@set lamp aliases = lantern, light",
        "@set lamp fixed = yes",
        "@set lamp text = Made in {bold}Lindenford{/}.",
        "@set box closed = true",
        "@set box key = iron_key",
        "@set box locked = on",
        "@set lamp name = old lamp",
    ):
        world.execute(alice, line)
    assert a.take() == [
        "You describe the brass lamp (lamp).",
        "The brass lamp (lamp) now also answers to: lantern, light.",
        "The brass lamp (lamp): fixed is now true.",
        "The brass lamp (lamp) now reads: Made in Lindenford.",
        "The tin box (box) is now closed.",
        "The iron key (iron_key) is now the key of the tin box (box).",
        "The tin box (box) is now closed and locked.",
        "You rename the brass lamp (lamp): it is now called old lamp.",
    ]
    world.execute(bob, "get light")
    world.execute(bob, "read lantern")
    world.execute(bob, "open box")
    assert b.take() == [
        "The old lamp is fixed in place.",
        "The old lamp reads:",
        "Made in Lindenford.",
        "The tin box is locked.",
    ]
    for again in (restart(world), world):
        reload(again)
        lamp, box = again.items["lamp"], again.items["box"]
        assert (lamp.name, lamp.aliases, lamp.fixed) == ("old lamp", ("lantern", "light"), True)
        assert lamp.description == "A {yellow}bright{/} lamp."
        assert lamp.text == "Made in {bold}Lindenford{/}."
        assert (box.closed, box.locked, box.key) == (True, True, "iron_key")


def test_set_container_and_opening(pair, restart) -> None:
    """An item becomes a container; closed = false opens (and unlocks); emptying comes first."""
    world, (alice, a), _ = pair
    world.execute(alice, "put iron key in lamp")
    world.execute(alice, "@set lamp container = true")
    world.execute(alice, "put iron key in lamp")
    assert a.take()[-1] == "You aren't carrying 'iron key'."
    world.execute(alice, "get iron key")
    world.execute(alice, "put iron key in lamp")
    world.execute(alice, "@set lamp container = false")
    assert a.take()[-1] == "The brass lamp holds things: take them out first."
    world.execute(alice, "@set trapdoor closed = false")
    assert a.take() == ["The trapdoor (trapdoor) is now open."]
    door = world.doors["trapdoor"]
    assert (door.closed, door.locked) == (False, False)
    world.execute(alice, "down")
    assert alice.location.id == "cellar"
    again = restart(world)
    assert again.items["lamp"].container
    assert (again.doors["trapdoor"].closed, again.doors["trapdoor"].locked) == (False, False)


def test_set_room_attributes(pair, restart) -> None:
    """here: name, description, aliases, outdoor and night (shown at night)."""
    world, (alice, a), _ = pair
    for line in (
        "@set here outdoor = true",
        "@set here night = Stars over the {blue}roofs{/}.",
        "@set here description = A yard.",
        "@set here name = The Yard",
    ):
        world.execute(alice, line)
    assert a.take() == [
        "The Sleeping Fox (inn): outdoor is now true.",
        "You describe The Sleeping Fox (inn) by night.",
        "You describe The Sleeping Fox (inn).",
        "You rename The Sleeping Fox (inn): it is now called The Yard.",
    ]
    for again in (restart(world), world):
        reload(again)
        inn = again.rooms["inn"]
        assert (inn.name, inn.outdoor, inn.description) == ("The Yard", True, "A yard.")
        assert inn.night_description == "Stars over the {blue}roofs{/}."


def test_set_npc_and_door_attributes(pair, restart) -> None:
    """An NPC's and a door's description and aliases; a door's key may be cleared."""
    world, (alice, a), (bob, b) = pair
    world.execute(alice, "@set marta description = The innkeeper.")
    world.execute(alice, "@set marta aliases = innkeeper")
    world.execute(alice, "@set trapdoor description = A heavy hatch.")
    world.execute(alice, "@set trapdoor key = none")
    assert a.take()[-1] == "No key fits the trapdoor (trapdoor) now."
    world.execute(bob, "look innkeeper")
    assert b.take() == ["The innkeeper."]
    for again in (restart(world), world):
        reload(again)
        assert again.npcs["marta"].description == "The innkeeper."
        assert again.npcs["marta"].aliases == ("innkeeper",)
        assert again.doors["trapdoor"].description == "A heavy hatch."
        assert again.doors["trapdoor"].key is None


def test_set_says_why_not(pair) -> None:
    """Unknown attributes and values, keys that are not items, lids on non-containers."""
    world, (alice, a), _ = pair
    for line in (
        "@set lamp",
        "@set lamp colour = red",
        "@set marta fixed = true",
        "@set lamp fixed = maybe",
        "@set box key = dragon",
        "@set lamp closed = true",
        "@set here text = hello",
        "@set lamp description = a {blink}lamp",
        "@set down description = x",
        "@set lamp aliases = a{b",
    ):
        world.execute(alice, line)
    assert a.take() == [
        "Usage: @set <thing> <attribute> = <value>  (@examine <thing> lists them)",
        "A brass lamp has no attribute 'colour'. Its attributes: name, description, aliases,"
        " fixed, container, closed, locked, key, text.",
        "Marta has no attribute 'fixed'. Its attributes: name, description, aliases.",
        "fixed is true or false, not 'maybe'.",
        "There is no item with the id 'dragon' (a key is an item's id: @examine the key"
        " to see it).",
        "Only a container can have 'closed': @set lamp container = true first.",
        "A room has no attribute 'text'. Its attributes: name, description, aliases,"
        " outdoor, night.",
        "That text has a markup problem: unknown markup tag '{blink}'"
        " (write '{{' for a literal brace)",
        "An exit is changed with @describe, or replaced with @unlink and @open.",
        "Names are plain text: no braces, please.",
    ]
    assert world.store.thing_changes() == {}


def test_set_and_rename_are_audited(pair, caplog) -> None:
    """Each builder's verb writes one audit line with its target."""
    world, (alice, _), _ = pair
    caplog.set_level("INFO")
    world.execute(alice, "@set lamp fixed = true")
    world.execute(alice, "@rename lamp = lantern")
    world.execute(alice, "@open gate = square")
    world.execute(alice, "@unlink gate")
    world.execute(alice, "@destroy lantern")
    text = caplog.text
    for event in ("admin.set", "admin.rename", "admin.open", "admin.unlink", "admin.destroy"):
        assert event in text


# -- @examine --------------------------------------------------------------------------------


def test_examine_an_item_in_a_container(pair) -> None:
    """@examine shows id, kind, where, every attribute and what it is the key of."""
    world, (alice, a), _ = pair
    world.execute(alice, "@examine coin")
    assert a.take() == [
        "gold coin: item coin",
        "Where: inside the oak chest (item chest)",
        "World-file place: chest",
        "name: gold coin",
        "description: (none)",
        "aliases: (none)",
        "fixed: false",
        "container: false",
        "closed: false",
        "locked: false",
        "key: (none)",
        "text: (none)",
        "Behaviours: (none)",
    ]
    world.execute(alice, "@ex iron key")
    lines = a.take()
    assert "Where: in the room The Sleeping Fox (inn)" in lines
    assert "Key of: trapdoor (trapdoor)" in lines


def test_examine_an_npc_shows_behaviours_with_parameters(pair) -> None:
    """Behaviours are listed with their parameters as the world file gives them."""
    world, (alice, a), _ = pair
    world.execute(alice, "@examine marta")
    lines = a.take()
    assert lines[:2] == ["Marta: npc marta", "Where: in the room The Sleeping Fox (inn)"]
    assert lines[-1] == (
        'Behaviours: greet {say: "Welcome to the Sleeping Fox!"};'
        ' respond {keywords: ["cellar", "key"], say: "The cellar key hangs by the fire."}'
    )


def test_examine_here_a_door_an_exit_and_a_player(pair) -> None:
    """The room lists exits with doors and what is here; doors, exits and players too."""
    world, (alice, a), (bob, b) = pair
    world.execute(alice, "@examine here")
    lines = a.take()
    assert lines[0] == "The Sleeping Fox: room inn"
    assert "description: A warm {yellow}inn{/}." in lines
    assert "Exit down -> cellar, door trapdoor (locked, key iron_key)" in lines
    assert "Exit out -> square" in lines
    assert "Players: Alice, Bob" in lines
    world.execute(alice, "@examine trapdoor")
    lines = a.take()
    assert lines[:2] == ["trapdoor: door trapdoor", "Between: inn, cellar"]
    assert "locked: true" in lines and "key: iron_key" in lines
    world.execute(alice, "@examine down")
    assert a.take()[:2] == ["down: exit of inn", "To: cellar"]
    world.execute(alice, "@examine bob")
    assert a.take()[:2] == ["Bob: player bob", "Where: in the room The Sleeping Fox (inn)"]
    world.execute(bob, "@examine lamp")
    assert b.take() == ["Only admins can use @examine."]
