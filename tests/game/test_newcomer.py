"""Rough edges a new player hit in the first hour (issue 11), seen from each side."""

from __future__ import annotations

import pytest

from reality.game import markup
from reality.game.commands import TOPICS
from reality.game.events import EventBuffer
from reality.game.loader import WorldFileError, parse_world
from reality.game.things import expand_direction

PLACES = """
name: Places
start: square
rooms:
  square:
    name: The Village Square
    description: A square.
    exits:
      southwest: lane
      in: inn
      jump: pond
      ladder:
        to: loft
        leave: climbs the rope ladder.
        arrive: climbs up through the trapdoor.
  lane: {name: Mill Lane, exits: {northeast: square}}
  inn: {name: The Inn, exits: {out: square, down: cellar}}
  cellar: {name: The Cellar, exits: {up: inn}}
  pond: {name: The Pond, exits: {out: square}}
  loft: {name: The Loft, exits: {down: square}}
items:
  shoe: {name: horseshoe, location: square, description: A horseshoe.}
  feather: {name: hawk feather, location: square, description: A feather.}
  sword: {name: sword, location: square, description: A rusty sword.}
  apple1: {name: red apple, location: square}
  apple2: {name: red apple, location: square}
"""


@pytest.fixture
def places(make_world):
    return make_world(PLACES, admins=["alice"])


@pytest.fixture
def pair(places, join):
    """Alice (admin) and Bob in the square, their sessions cleared."""
    alice, a = join(places, "Alice")
    bob, b = join(places, "Bob")
    a.take()
    b.take()
    return places, (alice, a), (bob, b)


# -- item 4: a numbered question, answered by the number -------------------------------------


def test_ambiguity_numbers_the_choices_and_mentions_the_dotted_form(pair) -> None:
    """'get h' fits two things: they are numbered, and both ways to answer are named."""
    world, (alice, a), (bob, b) = pair
    world.execute(alice, "get h")
    assert a.take() == [
        "Which do you mean: 1. the horseshoe, 2. the hawk feather?"
        " Type the number, or e.g. get 2.h."
    ]
    assert b.take() == []


def test_the_number_answers_the_question_with_the_same_verb(pair) -> None:
    """Typing 2 after the question re-runs 'get' with the second thing."""
    world, (alice, a), (bob, b) = pair
    world.execute(alice, "get h")
    a.take()
    world.execute(alice, "2")
    assert world.items["feather"].location is alice
    assert a.take() == ["You pick up the hawk feather."]
    assert b.take() == ["Alice picks up the hawk feather."]


def test_the_number_is_only_the_next_command(pair) -> None:
    """After any other command a bare number is not an answer any more."""
    world, (alice, a), _ = pair
    world.execute(alice, "get h")
    world.execute(alice, "look sword")
    a.take()
    world.execute(alice, "1")
    assert world.items["shoe"].location is world.rooms["square"]
    assert a.take() == ["There is no question to answer: type a command. Type 'help' for a list."]


def test_a_number_out_of_range_asks_again(pair) -> None:
    """A wrong number says which numbers there are, and the question stays open."""
    world, (alice, a), _ = pair
    world.execute(alice, "get h")
    a.take()
    world.execute(alice, "3")
    assert a.take() == ["Type a number from 1 to 2, or a new command."]
    world.execute(alice, "1")
    assert world.items["shoe"].location is alice


def test_the_answer_works_for_identical_names_and_in_longer_commands(pair, join) -> None:
    """Two red apples given to Bob: '2' picks the second apple in 'give apple to bob'."""
    world, (alice, a), (bob, b) = pair
    world.execute(alice, "get all")
    a.take()
    world.execute(alice, "give apple to bob")
    assert a.take() == [
        "Which do you mean: 1. the red apple, 2. the red apple?"
        " Type the number, or e.g. give 2.apple to bob."
    ]
    world.execute(alice, "2")
    assert world.items["apple2"].location is bob
    assert world.items["apple1"].location is alice


def test_a_thing_gone_meanwhile_is_not_taken(pair) -> None:
    """If the chosen thing left in between, the answer says so instead of taking another."""
    world, (alice, a), (bob, b) = pair
    world.execute(alice, "get h")
    world.execute(bob, "get feather")
    a.take()
    world.execute(alice, "2")
    assert world.items["feather"].location is bob
    assert world.items["shoe"].location is world.rooms["square"]
    assert a.take() == ["The hawk feather is not here any more."]


def test_tell_to_two_players_can_be_answered_by_number(pair, join) -> None:
    """tell bo: Bob or Bobby, numbered; '2' tells Bobby."""
    world, (alice, a), (bob, b) = pair
    bobby, bb = join(world, "Bobby")
    a.take()
    world.execute(alice, "tell bo hi")
    assert a.take() == [
        "Which do you mean: 1. Bob, 2. Bobby? Type the number, or e.g. tell Bobby hi."
    ]
    world.execute(alice, "2")
    assert a.take() == ['You tell Bobby, "hi"']
    assert bb.take()[-1] == 'Alice tells you, "hi"'


# -- item 5: exit abbreviations wherever an exit is named ------------------------------------


def test_look_and_describe_take_exit_abbreviations(pair) -> None:
    """'look sw' and '@describe sw = ...' name the way southwest, as 'sw' walks it."""
    world, (alice, a), _ = pair
    world.execute(alice, "look sw")
    assert a.take() == ["The way southwest leads to Mill Lane."]
    world.execute(alice, "@describe sw = A muddy lane.")
    world.execute(alice, "look at sw")
    world.execute(alice, "look southwest")
    assert a.take() == ["You describe the way southwest.", "A muddy lane.", "A muddy lane."]
    world.execute(alice, "go sw")
    assert alice.location.id == "lane"
    world.execute(alice, "look ne")
    assert a.take()[-1] == "The way northeast leads to The Village Square."


# -- item 7: arrival and departure for any exit name -----------------------------------------


@pytest.mark.parametrize(
    ("start", "way", "leave", "arrive"),
    [
        ("square", "sw", "Alice goes southwest.", "Alice arrives from the northeast."),
        ("square", "in", "Alice goes in.", "Alice comes in from the Village Square."),
        ("inn", "out", "Alice goes out.", "Alice comes out of the Inn."),
        (
            "square",
            "jump",
            "Alice leaves through the jump exit.",
            "Alice arrives from the Village Square.",
        ),  # noqa: E501
        ("inn", "down", "Alice goes down.", "Alice arrives from above."),
        ("cellar", "up", "Alice goes up.", "Alice arrives from below."),
        (
            "square",
            "ladder",
            "Alice climbs the rope ladder.",
            "Alice climbs up through the trapdoor.",
        ),  # noqa: E501
    ],
)
def test_travel_sentences_work_for_every_exit(places, join, start, way, leave, arrive) -> None:
    """Each kind of exit gives a whole sentence to the room left and the room reached."""
    world = places
    alice, a = join(world, "Alice")
    bob, b = join(world, "Bob")
    carol, c = join(world, "Carol")
    origin = world.rooms[start]
    destination = world.rooms[origin.exits[expand_direction(way)].destination]
    # Alice and Bob stand in the room left, Carol in the room reached.
    _place(world, alice, origin)
    _place(world, bob, origin)
    _place(world, carol, destination)
    b.take()
    c.take()
    world.execute(alice, way)
    assert alice.location is destination
    assert b.take() == [leave]
    assert c.take() == [arrive]


def _place(world, player, room) -> None:
    """Put a player in a room without telling anyone (the buffer is never flushed)."""
    world.move(player, room, buffer=EventBuffer(), action="teleport", check=False)


def test_npc_travel_uses_the_same_sentences(make_world, join, clock) -> None:
    """A wandering NPC going out of a room is seen to come out of it."""
    world = make_world(
        """
name: Npc
start: inn
rooms:
  inn: {name: The Inn, exits: {out: yard}}
  yard: {name: The Yard, exits: {}}
npcs:
  cat: {name: grey cat, location: inn, wander: 10}
"""
    )
    bob, b = join(world, "Bob")
    _place(world, bob, world.rooms["yard"])
    b.take()
    world.start()
    clock.advance(10)
    assert b.take() == ["The grey cat comes out of the Inn."]
    world.stop()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('""', "'leave' of exit 'ladder' of room 'square' must not be empty"),
        ("[a, b]", "'leave' of exit 'ladder' of room 'square' must be text, not a list"),
        ('"{blink}jumps."', "unknown markup tag '{blink}'"),
        ('"' + "x" * 201 + '"', "is too long (201 characters, at most 200)"),
    ],
)
def test_loader_checks_travel_messages_with_file_and_line(value, message) -> None:
    """A bad leave text is reported with the file, the line and why."""
    text = f"""\
name: Bad
start: square
rooms:
  square:
    name: Square
    exits:
      ladder:
        to: loft
        leave: {value}
  loft: {{name: Loft, exits: {{down: square}}}}
"""
    with pytest.raises(WorldFileError) as info:
        parse_world(text, "bad.yaml")
    assert "bad.yaml:9:" in str(info.value)
    assert message in str(info.value)


def test_loader_rejects_an_unknown_exit_key() -> None:
    """'arrives' is not a key: the error lists the ones there are."""
    text = (
        "name: B\nstart: a\nrooms:\n  a:\n    name: A\n    exits:\n      up: {to: a, arrives: x}\n"
    )
    with pytest.raises(WorldFileError) as info:
        parse_world(text, "b.yaml")
    assert "b.yaml:7:" in str(info.value) and "arrive" in str(info.value)


# -- item 8: emote's full stop and the help on colour ----------------------------------------


def test_emote_adds_the_full_stop_its_help_promises(pair) -> None:
    """'emote waves' shows 'Alice waves.'; text already ending in punctuation is kept."""
    world, (alice, a), (bob, b) = pair
    world.execute(alice, "emote waves")
    world.execute(alice, ":grins!")
    world.execute(alice, "emote asks, 'ready?'")
    world.execute(alice, "emote 's hat falls off.")
    assert b.take() == [
        "Alice waves.",
        "Alice grins!",
        "Alice asks, 'ready?'",
        "Alice's hat falls off.",
    ]
    assert a.take()[0] == "Alice waves."


def test_help_colour_shows_single_braces(pair) -> None:
    """help colour shows '{red}...{/}' as a builder must type it, and how to write a brace."""
    world, (alice, a), _ = pair
    world.execute(alice, "help colour")
    text = "\n".join(a.take())
    assert "{red}...{/}" in text
    assert "}}" not in text
    assert "Write '{{' for a literal '{'" in text


def test_every_help_text_is_valid_markup_without_doubled_braces(places) -> None:
    """No help text or topic has a markup problem or shows a doubled closing brace."""
    texts = [*TOPICS.values(), *(v.help for v in places.verbs.all())]
    for text in texts:
        assert markup.validate(text) == [], text
        assert "}}" not in markup.strip(text), text


@pytest.mark.parametrize("text", ["{red}", "{{", "}}", "{/}", "a {b} c", "{#ff0000}x{/}"])
def test_markup_about_markup_round_trips(text) -> None:
    """Escaped text shows exactly as typed, and is parsed as one literal run."""
    escaped = markup.escape(text)
    assert markup.strip(escaped) == text
    assert markup.parse(escaped) == [text]


# -- item 14: set where hidden|visible -------------------------------------------------------


def test_who_shows_rooms_only_to_admins_unless_visible(pair, join) -> None:
    """Bob sees no rooms in who; Alice (admin) sees all; 'set where visible' shows Carol's."""
    world, (alice, a), (bob, b) = pair
    carol, c = join(world, "Carol")
    world.execute(carol, "sw")
    world.execute(bob, "who")
    assert b.take()[-1] == "Alice (admin), Bob, Carol"
    world.execute(alice, "who")
    assert a.take()[-1] == (
        "Alice (admin) (The Village Square), Bob (The Village Square), Carol (Mill Lane)"
    )
    c.take()
    world.execute(carol, "set where visible")
    assert c.take() == ["where is now visible: your room shows on the website and in 'who'."]
    world.execute(bob, "who")
    assert b.take()[-1] == "Alice (admin), Bob, Carol (Mill Lane)"
    assert world.player_info("carol").room_name == "Mill Lane"
    assert world.player_info("bob").room_name is None


def test_where_is_kept_with_the_settings_across_logins(pair, join) -> None:
    """'set where visible' is saved with the player's settings and holds after reconnecting."""
    world, (alice, a), (bob, b) = pair
    world.execute(bob, "set")
    assert "  where: hidden" in b.take()
    world.execute(bob, "set where visible")
    world.disconnect(bob)
    assert world.player_info("bob").room_name == "The Village Square"
    bob, b = join(world, "Bob")
    world.execute(bob, "set")
    assert "  where: visible" in b.take()
    world.execute(bob, "set where everywhere")
    assert b.take() == ["where is one of: hidden, visible."]


# -- item 11: the small ones -------------------------------------------------------------


def test_one_unread_letter_is_read_as_it(make_world, join) -> None:
    """'You have 1 unread letter. Type 'mail' to read it.'; two are 'them'."""
    world = make_world()
    world.unread_count = lambda key: {"alice": 1, "bob": 2}.get(key, 0)
    _, a = join(world, "Alice")
    _, b = join(world, "Bob")
    assert "You have 1 unread letter. Type 'mail' to read it." in a.lines()
    assert "You have 2 unread letters. Type 'mail' to read them." in b.lines()


def test_homepage_editor_lists_replaces_deletes_and_previews(pair) -> None:
    """The editor can list, replace and delete a line and preview before '.' saves."""
    world, (alice, a), _ = pair
    for line in ["homepage edit", "# Alice", "I like lamps.", "typo line", "More."]:
        world.execute(alice, line)
    a.take()
    world.execute(alice, ".list")
    assert a.take() == ["1 # Alice", "2 I like lamps.", "3 typo line", "4 More."]
    world.execute(alice, ".replace 2 I like {red} lamps.")
    world.execute(alice, ".delete 3")
    world.execute(alice, ".delete 9")
    assert a.take() == [
        "Line 2 is now: I like {red} lamps.",
        "Line 3 deleted; 3 lines left.",
        "Give a line number from 1 to 3 ('.list' shows them).",
    ]
    world.execute(alice, ".preview")
    assert a.take() == [
        "--- your homepage as it will be saved (33 characters of 20000) ---",
        "# Alice",
        "I like {red} lamps.",
        "More.",
        "--- not saved yet: '.' saves, '.abort' cancels ---",
    ]
    assert alice.homepage == ""
    world.execute(alice, "..dotted")
    world.execute(alice, ".")
    assert alice.homepage == "# Alice\nI like {red} lamps.\nMore.\n.dotted"
    assert alice.input_handler is None


def test_homepage_editor_abort_changes_nothing(pair) -> None:
    """'.abort' after edits leaves the saved page as it was."""
    world, (alice, a), _ = pair
    world.execute(alice, "homepage Old page")
    for line in ["homepage edit", "New", ".replace 1 Newer", ".abort"]:
        world.execute(alice, line)
    assert alice.homepage == "Old page"
    assert a.take()[-1] == "Homepage edit cancelled; nothing was changed."


def test_homepage_help_says_how_tintin_sends_hash_lines(pair) -> None:
    """help homepage names the editor commands and TinTin++'s \\# escape."""
    world, (alice, a), _ = pair
    world.execute(alice, "help homepage")
    text = "\n".join(a.take())
    for needed in (".list", ".replace N text", ".delete N", ".preview", "\\# Title", "TinTin++"):
        assert needed in text, needed


def test_teleport_question_is_answered_by_number(pair) -> None:
    """'@teleport the' fits several rooms; a number picks one (no question asked twice)."""
    world, (alice, a), _ = pair
    world.execute(alice, "@teleport the")
    question = a.take()[-1]
    assert question.startswith("Which do you mean: 1. The Village Square, 2. The Inn,")
    world.execute(alice, "2")
    assert alice.location is world.rooms["inn"]
    assert a.take()[0] == "The Inn"
    assert alice.pending_choice is None
