"""Every pinned verb, seen by the actor, the target and the bystanders."""

from __future__ import annotations

from pathlib import Path

import pytest

from reality.game.commands import Context, Refusal, VerbRegistry, default_registry
from reality.game.events import Event

CLUTTER = """
name: Clutter
start: hall
rooms:
  hall:
    name: The Hall
    description: A {red}long{/} hall.
    exits:
      north: library
      door: {to: closet, description: A small red door., aliases: [red door]}
  library: {name: The Library, exits: {south: hall}}
  closet: {name: The Closet, exits: {out: hall}}
items:
  lamp: {name: brass lamp, location: hall, description: A brass lamp.}
  key: {name: brass key, location: hall}
  apple1: {name: red apple, location: hall}
  apple2: {name: red apple, location: hall}
  statue: {name: marble statue, location: hall, fixed: true}
npcs:
  cat: {name: grey cat, description: A grey cat., location: hall}
"""


@pytest.fixture
def clutter(make_world):
    return make_world(CLUTTER, admins=["alice"])


@pytest.fixture
def trio(clutter, join):
    """Alice (admin), Bob and Carol in the hall, their sessions cleared."""
    alice, a = join(clutter, "Alice")
    bob, b = join(clutter, "Bob")
    carol, c = join(clutter, "Carol")
    for s in (a, b, c):
        s.shown.clear()
        s.data.clear()
    return clutter, (alice, a), (bob, b), (carol, c)


# -- looking and moving --------------------------------------------------------------


def test_look_shows_room_things_people_and_exits(trio) -> None:
    """look lists the room's name, description, items, NPCs, other players, exits."""
    world, (alice, a), _, _ = trio
    world.execute(alice, "look")
    assert a.take() == [
        "The Hall",
        "A long hall.",
        "You see a brass lamp, a brass key, a red apple, a red apple and a marble statue here.",
        "A grey cat is here.",
        "Bob and Carol are here.",
        "Exits: north, door.",
    ]


def test_l_is_look_and_look_at_things(trio) -> None:
    """l is look; look <thing> describes items, NPCs, exits and yourself."""
    world, (alice, a), _, _ = trio
    world.execute(alice, "l lamp")
    world.execute(alice, "look at the cat")
    world.execute(alice, "look north")
    world.execute(alice, "look door")
    world.execute(alice, "look key")
    world.execute(alice, "look me")
    assert a.take() == [
        "A brass lamp.",
        "A grey cat.",
        "The way north leads to The Library.",
        "A small red door.",
        "You see nothing special about the brass key.",
        "You look like a perfectly ordinary adventurer.",
    ]


def test_looking_at_a_player_tells_them(trio) -> None:
    """Looking at Bob shows him to Alice and tells Bob, and no one else."""
    world, (alice, a), (bob, b), (carol, c) = trio
    world.execute(alice, "look bob")
    assert a.take() == ["Bob looks like a perfectly ordinary adventurer."]
    assert b.take() == ["Alice looks at you."]
    assert c.take() == []


def test_moving_by_go_bare_exit_and_abbreviation(trio) -> None:
    """go north, north and n all move; everyone sees their own side of it."""
    world, (alice, a), (bob, b), _ = trio
    world.execute(alice, "n")
    assert alice.location.id == "library"
    assert b.take() == ["Alice goes north."]
    assert a.take()[0] == "The Library"
    num = world.room_number
    assert a.data[-1] == (
        "Room.Info",
        {
            "num": num("library"), "id": "library", "name": "The Library",
            "area": world.name, "environment": "indoor", "exits": {"south": num("hall")},
        },
    )
    world.execute(alice, "south")
    assert b.take() == ["Alice arrives from the north."]
    world.execute(alice, "go door")
    assert alice.location.id == "closet"
    world.execute(alice, "out")
    assert alice.location.id == "hall"
    world.execute(alice, "red  door")  # an alias of several words, typed bare
    assert alice.location.id == "closet"


def test_moving_where_there_is_no_exit_says_why_not(trio) -> None:
    """A direction with no exit, and a go with nothing, get a reason."""
    world, (alice, a), (bob, b), _ = trio
    world.execute(alice, "w")
    world.execute(alice, "go up")
    world.execute(alice, "go")
    assert a.take() == ["You can't go west from here.", "You can't go up from here.", "Go where?"]
    assert b.take() == []
    assert alice.location.id == "hall"


# -- talking ------------------------------------------------------------------------------


def test_say_each_point_of_view_with_the_text_verbatim(trio) -> None:
    """The speaker reads 'You say', the others 'Alice says', braces and all."""
    world, (alice, a), (bob, b), (carol, c) = trio
    world.execute(alice, "say Hello {red}there{/} :)")
    assert a.take() == ['You say, "Hello {red}there{/} :)"']
    assert b.take() == ['Alice says, "Hello {red}there{/} :)"']
    assert c.take() == ['Alice says, "Hello {red}there{/} :)"']


def test_bystanders_get_the_same_string_object(trio) -> None:
    """One event gives every bystander the same str object (the render cache keys on it)."""
    world, (alice, _), (_, b), (_, c) = trio
    world.execute(alice, "'Hi")
    assert b.shown[-1] is c.shown[-1]


def test_say_shortcuts_and_empty_say(trio) -> None:
    """'text and "text are say; an empty say asks what."""
    world, (alice, a), (bob, b), _ = trio
    world.execute(alice, "'one")
    world.execute(alice, '"two')
    world.execute(alice, "say")
    assert a.take() == ['You say, "one"', 'You say, "two"', "Say what?"]
    assert b.take() == ['Alice says, "one"', 'Alice says, "two"']


def test_emote(trio) -> None:
    """emote and : show the action to everyone, the actor included."""
    world, (alice, a), (bob, b), _ = trio
    world.execute(alice, "emote waves.")
    world.execute(alice, ":'s eyes sparkle.")
    expected = ["Alice waves.", "Alice's eyes sparkle."]
    assert a.take() == expected
    assert b.take() == expected


def test_tell(trio, join) -> None:
    """tell reaches a connected player anywhere, privately; prefixes work."""
    world, (alice, a), (bob, b), (carol, c) = trio
    world.execute(bob, "n")
    for s in (a, b, c):
        s.shown.clear()
    world.execute(alice, "tell bo meet me {here}")
    assert a.take() == ['You tell Bob, "meet me {here}"']
    assert b.take() == ['Alice tells you, "meet me {here}"']
    assert c.take() == []
    world.execute(alice, "tell zed hi")
    world.execute(alice, "tell alice hi")
    world.execute(alice, "tell bob")
    assert a.take() == [
        "No one called 'zed' is connected.",
        "You talk to yourself for a while.",
        "Tell whom what? For example: tell bob hello.",
    ]


def test_tell_ambiguous_prefix_asks_which(trio, join) -> None:
    """Two players starting with the same letters: tell asks which."""
    world, (alice, a), _, _ = trio
    join(world, "Bobby")
    a.shown.clear()
    world.execute(alice, "tell bo hi")
    world.execute(alice, "tell bob hi")  # exact name wins
    assert a.take() == [
        "Which do you mean: 1. Bob, 2. Bobby? Type the number, or e.g. tell Bobby hi.",
        'You tell Bob, "hi"',
    ]


def test_who(trio) -> None:
    """who lists everyone connected, admins marked; who <prefix> filters."""
    world, (alice, a), (bob, _), _ = trio
    world.execute(bob, "who")
    world.execute(alice, "who ca")
    assert bob.session.take() == ["3 players online:", "Alice (admin), Bob, Carol"]
    assert a.take() == ["Connected, matching 'ca': Carol"]


# -- things --------------------------------------------------------------------------------


def test_get_and_drop_points_of_view(trio) -> None:
    """Picking up and dropping are seen by all; the item moves."""
    world, (alice, a), (bob, b), _ = trio
    world.execute(alice, "get lamp")
    assert world.items["lamp"].location is alice
    assert a.take() == ["You pick up the brass lamp."]
    assert b.take() == ["Alice picks up the brass lamp."]
    world.execute(alice, "i")
    assert a.take() == ["You are carrying a brass lamp."]
    world.execute(alice, "drop lamp")
    assert world.items["lamp"].location is world.rooms["hall"]
    assert a.take() == ["You drop the brass lamp."]
    assert b.take() == ["Alice drops the brass lamp."]
    world.execute(alice, "inventory")
    assert a.take() == ["You are empty-handed."]


def test_take_is_get_and_prefix_matching(trio) -> None:
    """take is an alias; 'bra k' finds the brass key by word prefixes."""
    world, (alice, a), _, _ = trio
    world.execute(alice, "take bra k")
    assert a.take() == ["You pick up the brass key."]


def test_ambiguity_asks_which(trio) -> None:
    """'brass' fits the lamp and the key: the player is asked which."""
    world, (alice, a), (bob, b), _ = trio
    world.execute(alice, "get brass")
    assert a.take() == [
        "Which do you mean: 1. the brass lamp, 2. the brass key?"
        " Type the number, or e.g. get 2.brass."
    ]
    assert b.take() == []
    assert world.items["lamp"].location.id == "hall"


def test_identical_names_can_be_numbered(trio) -> None:
    """Two red apples: the question says how to pick, and 2.apple picks the second."""
    world, (alice, a), _, _ = trio
    world.execute(alice, "get apple")
    assert a.take() == [
        "Which do you mean: 1. the red apple, 2. the red apple?"
        " Type the number, or e.g. get 2.apple."
    ]
    world.execute(alice, "get 2.apple")
    assert world.items["apple2"].location is alice
    world.execute(alice, "get 5.apple")
    assert a.take() == ["You pick up the red apple.", "There are only 2 of 'apple' here."]


def test_get_says_why_not(trio) -> None:
    """Fixed things, NPCs, people, things held, and nothing at all each have a reason."""
    world, (alice, a), (bob, b), _ = trio
    world.execute(alice, "get statue")
    world.execute(alice, "get cat")
    world.execute(alice, "get bob")
    world.execute(alice, "get alice")
    world.execute(alice, "get lamp")
    world.execute(alice, "get lamp")
    world.execute(alice, "get unicorn")
    world.execute(alice, "get")
    assert a.take() == [
        "The marble statue is fixed in place.",
        "The grey cat won't let you pick it up.",
        "Bob would not like that.",
        "You can't pick yourself up.",
        "You pick up the brass lamp.",
        "You already have the brass lamp.",
        "You don't see 'unicorn' here.",
        "Get what?",
    ]
    assert b.take() == ["Alice picks up the brass lamp."]


def test_get_all_and_drop_all(trio) -> None:
    """get all takes everything portable; drop all puts it all down."""
    world, (alice, a), _, _ = trio
    world.execute(alice, "get all")
    assert sorted(i.id for i in alice.inventory) == ["apple1", "apple2", "key", "lamp"]
    world.execute(alice, "drop all")
    assert alice.inventory == []
    world.execute(alice, "drop all")
    assert a.take()[-1] == "You are not carrying anything."


def test_drop_what_you_do_not_have(trio) -> None:
    """Dropping something not carried says so."""
    world, (alice, a), _, _ = trio
    world.execute(alice, "drop lamp")
    assert a.take() == ["You aren't carrying 'lamp'."]


def test_give_three_points_of_view(trio) -> None:
    """Giver, receiver and bystander each read their own sentence."""
    world, (alice, a), (bob, b), (carol, c) = trio
    world.execute(alice, "get lamp")
    for s in (a, b, c):
        s.shown.clear()
    world.execute(alice, "give lamp to bob")
    assert world.items["lamp"].location is bob
    assert a.take() == ["You give the brass lamp to Bob."]
    assert b.take() == ["Alice gives you the brass lamp."]
    assert c.take() == ["Alice gives Bob the brass lamp."]


def test_give_says_why_not(trio) -> None:
    """Giving what you lack, to an NPC, to yourself, or to no one: each says why."""
    world, (alice, a), _, _ = trio
    world.execute(alice, "give lamp to bob")
    world.execute(alice, "get lamp")
    world.execute(alice, "give lamp to cat")
    world.execute(alice, "give lamp to alice")
    world.execute(alice, "give lamp to zed")
    world.execute(alice, "give lamp")
    assert a.take() == [
        "You aren't carrying 'lamp'.",
        "You pick up the brass lamp.",
        "The grey cat is not interested in the brass lamp.",
        "You already have the brass lamp.",
        "You don't see 'zed' here.",
        "Give what to whom? For example: give lamp to bob.",
    ]


# -- the parser and help ------------------------------------------------------------------


def test_unknown_words_and_verb_prefixes(trio) -> None:
    """Unknown words get a pointer to help; unique verb prefixes work, ambiguous ones ask."""
    world, (alice, a), (bob, b), _ = trio
    world.execute(bob, "xyzzy")
    world.execute(bob, "inve")
    world.execute(bob, "dr")  # drop, only
    world.execute(bob, "he")  # help
    lines = b.take()
    assert lines[0] == "I don't understand 'xyzzy'. Type 'help' for a list of commands."
    assert lines[1] == "You are empty-handed."
    assert lines[2] == "Drop what?"
    assert lines[3].startswith("Commands")
    world.execute(bob, "g")  # one letter is never a prefix
    assert b.take() == ["I don't understand 'g'. Type 'help' for a list of commands."]
    world.execute(bob, "gi")  # give only
    assert b.take() == ["Give what to whom? For example: give lamp to bob."]


def test_help_lists_and_explains(trio) -> None:
    """help lists commands (admin verbs only for admins); help <verb> and topics explain."""
    world, (alice, a), (bob, b), _ = trio
    world.execute(bob, "help")
    text = "\n".join(b.take())
    assert "say" in text and "@dig" not in text and "movement" in text
    world.execute(alice, "help")
    assert "@dig" in "\n".join(a.take())
    world.execute(bob, "help get")
    assert b.take() == [
        "get <item> | get all | get <item> from <container> (also: take)",
        "Pick something up, or take it out of an open container.",
    ]
    world.execute(bob, "help take")
    assert b.take()[0].startswith("get <item>")
    world.execute(bob, "help movement")
    assert b.take()[0] == "Moving around"
    world.execute(bob, "help dig")
    world.execute(bob, "help nothing")
    assert b.take() == [
        "There is no help on 'dig'. Type 'help' for the list,"
        " or 'help search dig' to search the texts.",
        "There is no help on 'nothing'. Type 'help' for the list,"
        " or 'help search nothing' to search the texts.",
    ]
    world.execute(alice, "help dig")
    assert a.take()[0] == "@dig <exit> <room name>"


def test_quit_says_goodbye_and_leaves(trio) -> None:
    """quit closes the session with a farewell; the others see the departure."""
    world, (alice, a), (bob, b), _ = trio
    world.execute(bob, "quit")
    assert b.closed == "Goodbye! Come back soon."
    assert "bob" not in world.online
    assert a.take() == ["Bob has left the game."]


def test_set_settings(trio) -> None:
    """set shows and changes color, brief and width, refusing bad values."""
    world, (alice, a), _, _ = trio
    world.execute(alice, "set colour off")
    world.execute(alice, "set width 100")
    world.execute(alice, "set width 5")
    world.execute(alice, "set speed fast")
    assert alice.settings == {"color": "off", "width": 100}
    assert a.take() == [
        "color is now off.",
        "width is now 100.",
        "Width is 'auto' or a number from 20 to 250.",
        "There is no setting 'speed'. Settings: color, brief, where, screenreader, width.",
    ]
    world.execute(alice, "set")
    assert "  color: off" in a.take()


def test_brief_mode_skips_descriptions_on_moves(trio) -> None:
    """With brief on, moving shows the room name and contents without the description."""
    world, (alice, a), _, _ = trio
    world.execute(alice, "set brief on")
    world.execute(alice, "n")
    a.take()
    world.execute(alice, "s")
    lines = a.take()
    assert lines[0] == "The Hall" and "Exits: north, door." in lines
    assert "A long hall." not in lines


def test_a_failing_verb_is_logged_and_the_world_lives(trio, caplog) -> None:
    """A verb that raises shows a short apology, logs the traceback, and sends no events."""
    world, (alice, a), (bob, b), _ = trio
    registry = VerbRegistry()

    def broken(ctx: Context, args: str) -> None:
        ctx.emit(Event(ctx.room, "this is never seen"))
        raise RuntimeError("boom")

    world.verbs = registry
    registry.register("break", broken)
    registry.register("say", default_registry().lookup("say").handler)
    world.execute(alice, "break")
    assert a.take() == ["Something went wrong with that command. It has been logged."]
    assert b.take() == []
    assert "command 'break' by alice failed" in caplog.text
    world.execute(alice, "say still here")
    assert b.take() == ['Alice says, "still here"']


def test_other_modules_register_verbs(trio) -> None:
    """A verb registered later (as mail will) is dispatched and listed in help."""
    world, (alice, a), _, _ = trio
    registry = default_registry()
    world.verbs = registry

    def mail(ctx: Context, args: str) -> None:
        if args == "fail":
            raise Refusal("No such letter.")
        ctx.tell(f"mail: {args or 'list'}")

    registry.register("mail", mail, help="Read your mail.", category="mail")
    world.execute(alice, "mail")
    world.execute(alice, "mail fail")
    world.execute(alice, "help")
    lines = a.take()
    assert lines[:2] == ["mail: list", "No such letter."]
    assert "  mail: mail" in lines


# -- homepages ------------------------------------------------------------------------------


def test_homepage_show_set_and_edit(make_world, join) -> None:
    """homepage shows the URL and text; homepage <md> and homepage edit save durably."""
    world = make_world(web_url="http://127.0.0.1:8080/")
    alice, a = join(world, "Alice")
    a.shown.clear()
    world.execute(alice, "homepage")
    assert a.take()[0] == "Your homepage: http://127.0.0.1:8080/~alice"
    world.execute(alice, "homepage # Alice's page")
    assert a.take() == ["Homepage saved. See it at http://127.0.0.1:8080/~alice"]
    assert world.store.load_player("alice").homepage == "# Alice's page"
    world.execute(alice, "homepage edit")
    assert alice.input_handler.prompt == "homepage> "
    for line in ["# Title", "", "Some *text* {here}", "say this is not a command", "."]:
        world.execute(alice, line)
    lines = a.take()
    assert lines[-1].startswith("Homepage saved.")
    assert alice.input_handler is None
    saved = world.store.load_player("alice").homepage
    assert saved == "# Title\n\nSome *text* {here}\nsay this is not a command"
    world.execute(alice, "homepage")
    assert "Some *text* {here}" in a.take()


def test_homepage_edit_abort_changes_nothing(world, join) -> None:
    """.abort leaves the old homepage alone."""
    alice, a = join(world, "Alice")
    world.execute(alice, "homepage old text")
    world.execute(alice, "homepage edit")
    world.execute(alice, "new text")
    world.execute(alice, ".abort")
    assert a.last() == "Homepage edit cancelled; nothing was changed."
    assert world.store.load_player("alice").homepage == "old text"


def test_homepage_change_is_announced_to_subscribers(world, join) -> None:
    """The website hears ('player', key) when a homepage changes."""
    heard = []
    world.subscribe(lambda topic, key: heard.append((topic, key)))
    alice, _ = join(world, "Alice")
    world.execute(alice, "homepage hi")
    assert ("online", "alice") in heard and ("player", "alice") in heard


# -- admin verbs --------------------------------------------------------------------------------


def test_admin_verbs_are_refused_to_others(trio) -> None:
    """A player without admin rights is told so, and nothing happens."""
    world, _, (bob, b), _ = trio
    for verb in (
        "@dig north X",
        "@create thing",
        "@describe here = x",
        "@teleport library",
        "@load x.yaml",
        "@kick alice",
        "@shutdown",
    ):
        world.execute(bob, verb)
    assert b.take() == [
        f"Only admins can use {v}."
        for v in ("@dig", "@create", "@describe", "@teleport", "@load", "@kick", "@shutdown")
    ]
    assert len(world.rooms) == 3


def test_dig_makes_a_room_with_a_way_back(trio) -> None:
    """@dig up The Tower: a new room up, with 'down' back; others see the way open."""
    world, (alice, a), (bob, b), _ = trio
    world.execute(alice, "@dig u The Tower")
    assert a.take() == ["You dig up to The Tower (@the-tower); the way back is 'down'."]
    assert b.take() == ["Alice gestures, and a way up opens."]
    world.execute(alice, "up")
    assert alice.location.name == "The Tower"
    assert alice.location.exits["down"].destination == "hall"
    world.execute(alice, "@dig portal Strange Place")
    assert "the way back is 'back'" in a.take()[-1]
    world.execute(alice, "@dig down Cellar")
    world.execute(alice, "@dig up")
    assert a.take() == [
        "There is already a way down here.",
        "Usage: @dig <exit> <room name>, e.g. @dig north The Tower",
    ]
    # Durable at once, before the admin was told.
    assert [r.id for r in world.store.built_rooms()] == ["@the-tower", "@strange-place"]


@pytest.mark.parametrize(
    ("way", "back"),
    [("s", "north"), ("east", "west"), ("ne", "southwest"), ("nw", "southeast"), ("d", "up")],
)
def test_dig_names_the_way_back_by_the_opposite_direction(trio, way: str, back: str) -> None:
    """north/south, east/west, ne/sw, nw/se, up/down: the new room's exit leads back."""
    world, (alice, _), _, _ = trio
    world.execute(alice, f"@dig {way} Somewhere")
    new_room = world.rooms["@somewhere"]
    assert new_room.exits[back].destination == "hall"


def test_create_and_describe(trio) -> None:
    """@create puts a new item in the admin's hands; @describe sets descriptions."""
    world, (alice, a), (bob, b), _ = trio
    world.execute(alice, "@create silver bell")
    assert a.take() == ["You create a silver bell (@silver-bell). It is in your hands."]
    assert b.take() == ["Alice makes a silver bell out of thin air."]
    world.execute(alice, "@describe bell = It {yellow}gleams{/}.")
    world.execute(alice, "@describe here = A grand hall.")
    world.execute(alice, "@describe bob = A tall fellow.")
    world.execute(alice, "@describe north = A dark arch.")
    world.execute(alice, "@describe cat = Fluffy.")
    assert a.take() == [
        "You describe the silver bell.",
        "You describe The Hall.",
        "You describe Bob.",
        "You describe the way north.",
        "You describe the grey cat.",
    ]
    assert world.items["@silver-bell"].description == "It {yellow}gleams{/}."
    world.execute(alice, "drop bell")
    b.shown.clear()
    world.execute(bob, "look bell")
    world.execute(bob, "look north")
    world.execute(bob, "look me")
    assert b.take() == ["It gleams.", "A dark arch.", "A tall fellow."]
    assert world.store.load_player("bob").description == "A tall fellow."


def test_describe_refuses_bad_markup(trio) -> None:
    """A description with a broken tag is refused with the problem named."""
    world, (alice, a), _, _ = trio
    world.execute(alice, "@describe here = A {blink}hall")
    world.execute(alice, "@describe here")
    assert a.take() == [
        "That text has a markup problem: unknown markup tag '{blink}'"
        " (write '{{' for a literal brace)",
        "Usage: @describe <target> = <text>  (target: here, me, or a name)",
    ]
    assert world.rooms["hall"].description == "A {red}long{/} hall."


def test_teleport(trio) -> None:
    """@teleport goes to a room (by id or name) or a player, or sends a player."""
    world, (alice, a), (bob, b), (carol, c) = trio
    world.execute(alice, "@teleport library")
    assert alice.location.id == "library"
    assert b.take() == ["Alice vanishes in a puff of smoke."]
    world.execute(alice, "@tel bob")
    assert alice.location.id == "hall"
    assert b.take() == ["Alice appears in a puff of smoke."]
    c.shown.clear()
    world.execute(alice, "@teleport carol = the closet")
    assert carol.location.id == "closet"
    assert c.take()[0] == "Alice sends you elsewhere."
    assert b.take() == ["Carol vanishes."]
    world.execute(alice, "@teleport nowhere-land")
    assert a.take()[-1] == "There is no room called 'nowhere-land'."
    world.execute(alice, "@teleport zed = library")
    assert a.take() == ["No one called 'zed' is connected."]


def test_load_good_and_bad_files(trio, tmp_path: Path) -> None:
    """@load applies a good file atomically and reports a bad one by file:line, changing nothing."""
    world, (alice, a), (bob, b), _ = trio
    world.world_dir = str(tmp_path)
    world.execute(bob, "get lamp")
    a.shown.clear()
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: B\nstart: hall\nrooms:\n  hall: {name: H, exits: {up: sky}}\n")
    world.execute(alice, "@load bad.yaml")
    assert a.take() == [
        "Reading bad.yaml ...",
        "The world file has errors; nothing was changed:",
        "bad.yaml:4: exit 'up' of room 'hall' leads to unknown room 'sky'",
    ]
    assert world.name == "Clutter"
    assert world.loading is None

    good = tmp_path / "good.yaml"
    good.write_text(
        "name: Renewed\nstart: lobby\nrooms:\n"
        "  lobby: {name: The Lobby}\n"
        "  hall: {name: The New Hall, exits: {east: lobby}}\n"
        "items:\n  lamp: {name: brass lamp, location: lobby}\n"
    )
    world.execute(bob, "n")  # Bob stands in the library, which the new file removes
    b.shown.clear()
    world.execute(alice, f"@load {good}")  # an absolute path inside the world dir is fine
    assert a.take()[-1] == f"Loaded 'Renewed' from {good}: 2 rooms, 1 item, 0 NPCs."
    assert world.name == "Renewed"
    assert alice.location is world.rooms["hall"]  # her room still exists
    assert bob.location is world.rooms["lobby"]  # his did not: start room
    assert b.take()[:2] == ["The world shifts around you.", "The Lobby"]
    assert [i.id for i in bob.inventory] == ["lamp"]  # he keeps what he carried


def test_load_relative_path_is_taken_from_the_world_dir(trio, tmp_path: Path) -> None:
    """@load takes a relative path relative to the world directory, not the working one."""
    world, (alice, a), _, _ = trio
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "w.yaml").write_text("name: Rel\nstart: hall\nrooms:\n  hall: {name: H}\n")
    world.world_dir = str(tmp_path)
    world.execute(alice, "@load sub/w.yaml")
    assert world.name == "Rel"


class _LaterHook:
    """A load_file hook that answers when the test says so, like a worker."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, object]] = []

    def __call__(self, path: str, done) -> None:
        self.asked.append((path, done))


def test_load_answers_later_through_the_hook_one_at_a_time(trio, tmp_path: Path) -> None:
    """@load asks world.load_file and returns at once; a second @load waits its turn;
    the answer is applied when it comes, and told to the admin if still online."""
    world, (alice, a), (bob, b), _ = trio
    hook = _LaterHook()
    world.load_file = hook
    world.execute(alice, "@load next.yaml")
    assert a.take() == ["Reading next.yaml ..."]
    assert [p for p, _ in hook.asked] == ["next.yaml"]
    world.execute(alice, "@load other.yaml")
    assert a.take() == ["Still reading next.yaml; wait for it to finish."]
    assert len(hook.asked) == 1
    assert world.name == "Clutter"  # nothing changes until the answer

    from reality.game.loader import parse_world

    definition = parse_world("name: Later\nstart: hall\nrooms:\n  hall: {name: H}\n", "x")
    _, done = hook.asked[0]
    done(definition)
    assert world.name == "Later"
    assert a.take()[-1] == "Loaded 'Later' from next.yaml: 1 room, 0 items, 0 NPCs."
    assert world.loading is None

    # An answer that is an error (the worker busy, timed out) changes nothing.
    world.execute(alice, "@load again.yaml")
    a.take()
    world.logout(alice, "bye")  # the admin left before the answer: no one to tell
    hook.asked[-1][1](RuntimeError("the job took too long and was abandoned"))
    assert world.name == "Later" and world.loading is None


def test_load_error_excerpts_are_bounded_and_escaped(trio, tmp_path: Path) -> None:
    """A file that is not a world file is not echoed back: each quoted value is at most
    40 characters with control characters escaped, and at most 10 errors are shown."""
    world, (alice, a), _, _ = trio
    world.world_dir = str(tmp_path)
    secret = "".join(
        f"user{i}:$6$SECRETSALT$" + "h" * 80 + ":19000:0:99999:7:::\n" for i in range(25)
    )
    (tmp_path / "shadow").write_text(secret)
    world.execute(alice, "@load shadow")
    lines = a.take()
    assert lines[1] == "The world file has errors; nothing was changed:"
    errors = lines[2:]
    assert len(errors) == 11 and errors[-1] == "... and 18 more."
    text = "\n".join(lines)
    assert "user0:$6$SECRETSALT$hhhhhhhhhhhhhhhhhhhh..." in text
    assert "h" * 41 not in text
    assert "user0" in text and "user24" not in text

    (tmp_path / "escapes.yaml").write_text('name: W\n"evil\\e[2Jkey": 1\nrtl\u202ekey: 2\n')
    world.execute(alice, "@load escapes.yaml")
    text = "\n".join(a.take())
    assert "\x1b" not in text and "\u202e" not in text
    assert "evil\\x1b[2Jkey" in text and "rtl\\u202ekey" in text


def test_load_refuses_paths_outside_the_world_dir(trio, tmp_path: Path) -> None:
    """@load of ../x, of an absolute path outside, of a symlink out: refused, saying why."""
    world, (alice, a), _, _ = trio
    inside = tmp_path / "worlds"
    inside.mkdir()
    (tmp_path / "secret.yaml").write_text("name: S\nstart: h\nrooms:\n  h: {name: H}\n")
    (inside / "link.yaml").symlink_to(tmp_path / "secret.yaml")
    world.world_dir = str(inside)
    for path in ("../secret.yaml", str(tmp_path / "secret.yaml"), "link.yaml", "/etc/shadow"):
        world.execute(alice, f"@load {path}")
        lines = a.take()
        assert lines[1] == "Not loaded; nothing was changed:", lines
        assert "refused: @load reads only files under the world directory" in lines[2]
    assert world.name == "Clutter"


def test_kick(trio) -> None:
    """@kick disconnects the victim with a message; the room sees them leave."""
    world, (alice, a), (bob, b), (carol, c) = trio
    world.execute(alice, "@kick bob being rude")
    assert b.closed == "You have been kicked out by Alice. Reason: being rude"
    assert "bob" not in world.online
    assert a.take() == ["You kick Bob out.", "Bob has left the game."]
    assert c.take() == ["Bob has left the game."]
    world.execute(alice, "@kick alice")
    world.execute(alice, "@kick zed")
    assert a.take() == ["Use 'quit' to leave.", "No one called 'zed' is connected."]


def test_shutdown_calls_the_hook(trio) -> None:
    """@shutdown calls world.on_shutdown with the message; without a hook it says so."""
    world, (alice, a), _, _ = trio
    world.execute(alice, "@shutdown")
    assert a.take() == ["This server has no shutdown hook; stop it from outside."]
    calls = []
    world.on_shutdown = calls.append
    world.execute(alice, "@shutdown Back soon!")
    world.execute(alice, "@shutdown")
    assert calls == ["Back soon!", "The server is shutting down."]


def test_who_with_nobody_online(world) -> None:
    """Before anyone logs in (the login set's 'who'), one line says so."""
    assert world.who_text() == "{bold}Nobody is online.{/}"
