"""Help: the verbs' own texts and the world file's ``help:`` topics, by prefix and by search."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from reality.game import markup
from reality.game.behaviours import BUILTIN, Behaviour, verb
from reality.game.help import (
    MAX_QUERY,
    MAX_SEARCH,
    HelpIndex,
    HelpTopic,
    parse_query,
)
from reality.game.loader import WorldFileError, load_world, parse_world
from reality.game.login import login_verbs
from reality.game.verbs.player import EDITOR_VERBS

ROOT = Path(__file__).resolve().parents[2]

WORLD = """
name: Help Town
start: hall
rooms:
  hall: {name: The Hall, exits: {north: library}}
  library: {name: The Library, exits: {south: hall}}
items:
  lamp: {name: brass lamp, location: hall}
help:
  rules:
    text: |
      Be {bold}kind{/} to everyone.
      No spam, no flooding.
    aliases: [conduct, house rules]
    category: About this world
  The town: "The town has a {green}library{/} north of the hall."
  movement: "Our own way of walking: type a direction."
  look: "In this world, looking at the sky shows the time."
"""


def _world(make_world, text: str = WORLD):
    return make_world(text, admins=["alice"])


def test_the_world_file_topics_are_in_help(make_world, join) -> None:
    """help lists the world's topics under their categories; help <topic> shows one."""
    world = _world(make_world)
    bob, b = join(world, "Bob")
    b.take()
    world.execute(bob, "help")
    lines = b.take()
    assert lines[0].startswith("Commands")
    assert "  About this world: rules" in lines
    assert "  guides: colour, look, movement, The town" in lines
    world.execute(bob, "help rules")
    assert b.take() == [
        "rules (also: conduct, house rules)",
        "Be kind to everyone.",
        "No spam, no flooding.",
    ]
    world.execute(bob, "help house rules")
    assert b.take()[0].startswith("rules")
    world.execute(bob, "help THE TOWN")
    assert b.take() == ["The town", "The town has a library north of the hall."]


def test_a_world_topic_replaces_a_built_in_guide_and_joins_a_verb(make_world, join) -> None:
    """'movement' in the file replaces the built-in guide; 'look' shows the verb, then the topic."""
    world = _world(make_world)
    bob, b = join(world, "Bob")
    b.take()
    world.execute(bob, "help movement")
    assert b.take() == ["movement", "Our own way of walking: type a direction."]
    world.execute(bob, "help look")
    lines = b.take()
    assert lines[0] == "look [thing] (also: l, examine, x)"
    assert lines[-2:] == ["look", "In this world, looking at the sky shows the time."]


def test_prefixes_find_one_and_list_several(make_world, join) -> None:
    """A unique prefix shows its entry; an ambiguous one names the candidates; exact wins."""
    world = _world(make_world)
    bob, b = join(world, "Bob")
    b.take()
    world.execute(bob, "help inv")
    assert b.take()[0].startswith("inventory")
    world.execute(bob, "help ru")
    assert b.take()[0].startswith("rules")
    world.execute(bob, "help con")  # 'conduct' (an alias of rules) only
    assert b.take()[0].startswith("rules")
    world.execute(bob, "help g")
    assert b.take() == ["Help on which: get, give or go? Type more of the name."]
    world.execute(bob, "help lo")  # look, lock: 'lo' is no name, so both are listed
    assert b.take() == ["Help on which: lock or look? Type more of the name."]
    world.execute(bob, "help lock")  # exact beats the prefix of nothing else
    assert b.take()[0].startswith("lock <thing>")


def test_admin_verbs_only_for_admins_and_the_at_may_be_left_out(make_world, join) -> None:
    """Admins find @dig as 'dig' or '@d...'; players neither see nor find admin verbs."""
    world = _world(make_world)
    alice, a = join(world, "Alice")
    bob, b = join(world, "Bob")
    a.take(), b.take()
    world.execute(alice, "help dig")
    assert a.take()[0] == "@dig <exit> <room name>"
    world.execute(alice, "help @sh")
    assert a.take()[0] == "@shutdown [message]"
    world.execute(bob, "help @dig")
    assert b.take()[0].startswith("There is no help on '@dig'")
    world.execute(bob, "help search room")
    assert "@dig" not in "\n".join(b.take())
    assert all(not e.admin for e in world.help.entries(admin=False))


def test_search_finds_substrings_in_every_text(make_world, join) -> None:
    """help search finds every word anywhere (names first), with a snippet; misses say so."""
    world = _world(make_world)
    bob, b = join(world, "Bob")
    b.take()
    world.execute(bob, "help search SPAM")
    lines = b.take()
    assert lines[0] == "Help mentioning 'spam' (1 entry):"
    assert lines[1] == "  rules: Be kind to everyone. No spam, no flooding."
    world.execute(bob, "help search lock")
    lines = b.take()
    names = [line.split(":")[0].strip() for line in lines[1:]]
    assert names[:2] == ["lock", "unlock"]  # name hits first
    world.execute(bob, "help search library hall")
    assert [line.split(":")[0].strip() for line in b.take()[1:]] == ["The town"]
    world.execute(bob, "help search xyzzy")
    assert b.take() == ["No help mentions 'xyzzy'. Type 'help' for the list."]


def test_search_snippets_show_the_hit_in_bold_and_escape_the_rest(make_world, join) -> None:
    """The snippet marks the hit with bold markup; text from the file is escaped markup."""
    world = _world(make_world)
    shown, total = world.help.search("library", admin=False)
    assert total == 1
    entry, snippet = shown[0]
    assert entry.name == "The town"
    assert "{bold}library{/}" in snippet
    assert markup.validate(snippet) == []


def test_bad_queries_get_a_clear_answer(make_world, join) -> None:
    """An empty search and overlong queries are answered with what would work."""
    world = _world(make_world)
    bob, b = join(world, "Bob")
    b.take()
    world.execute(bob, "help search")
    world.execute(bob, "help search " + "x" * (MAX_SEARCH + 1))
    world.execute(bob, "help " + "y" * (MAX_QUERY + 1))
    lines = b.take()
    assert lines[0] == "Search for what? For example: help search door."
    assert lines[1].startswith("That is too long to search for (at most 40 characters)")
    assert lines[2].startswith("That is too long for a help topic (at most 60 characters)")


def test_help_find_is_help_on_the_verb_find(make_world, join) -> None:
    """'help find' alone is a topic query (it finds nothing here), not an empty search."""
    assert parse_query("find").action == "topic"
    assert parse_query("find door").action == "search"
    assert parse_query("  Search   Two  WORDS ").text == "two words"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_the_query_parser_never_raises(text: str) -> None:
    """Whatever follows 'help', the parser answers with one of its four actions, bounded."""
    query = parse_query(text)
    assert query.action in ("list", "topic", "search", "refuse")
    if query.action == "topic":
        assert 0 < len(query.text) <= MAX_QUERY
    if query.action == "search":
        assert 0 < len(query.text) <= MAX_SEARCH


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=80))
def test_help_never_fails_on_any_text(text: str) -> None:
    """help with any text answers (or refuses) and never raises anything else."""
    world = SHARED_WORLD
    world.execute(SHARED_PLAYER, "help " + text)
    world.execute(SHARED_PLAYER, "help search " + text)
    assert not SHARED_SESSION.closed
    assert all("Something went wrong" not in line for line in SHARED_SESSION.take())


def _shared():
    import random

    from game_fakes import FakeSession, WallClock

    from reality.game.store import Store
    from reality.game.world import World
    from reality.net.testing import Clock

    store = Store(":memory:")
    world = World(Clock(), store, rng=random.Random(1), wall_clock=WallClock())
    world.load(parse_world(WORLD, "t.yaml"))
    store.create_account("Bob", "scrypt$2$1$1$AA==$AA==", now=0.0)
    session = FakeSession()
    return world, world.connect("bob", session), session


SHARED_WORLD, SHARED_PLAYER, SHARED_SESSION = _shared()


def test_verbs_registered_later_are_in_help_at_once(make_world, join) -> None:
    """A verb registered after the world loaded (a service's, a channel's) is listed and found."""
    world = _world(make_world)
    bob, b = join(world, "Bob")
    b.take()
    world.execute(bob, "help")
    assert "poke" not in "\n".join(b.take())
    world.verbs.register(
        "poke", lambda ctx, args: None, usage="poke <someone>", help="Poke someone.",
        category="fun",
    )
    world.execute(bob, "help")
    assert "  fun: poke" in b.take()
    world.execute(bob, "help poke")
    assert b.take() == ["poke <someone>", "Poke someone."]


def test_load_replaces_the_topics(make_world, join) -> None:
    """A world file loaded again (as @load does) brings its new help and drops the old."""
    world = _world(make_world)
    world.load(parse_world(WORLD.replace("  rules:\n", "  etiquette:\n"), "again.yaml"))
    assert not world.help.find("rules", admin=False).entries
    assert world.help.find("etiquette", admin=False).exact


class Bell(Behaviour):
    name = "test-help-bell"

    @verb("ding", help="Ding the bell: everyone here hears it.", usage="ding <bell>")
    def ding(self, ctx, args: str) -> None:
        ctx.tell("Ding.")


def test_verbs_things_here_give_show_their_own_help(make_world, join, monkeypatch) -> None:
    """'help ding' beside a bell shows the behaviour's usage and help, and names the bell."""
    monkeypatch.setitem(BUILTIN, Bell.name, Bell)
    text = WORLD.replace(
        "  lamp: {name: brass lamp, location: hall}",
        "  lamp: {name: brass lamp, location: hall}\n"
        "  bell: {name: bell, location: hall, behaviours: [test-help-bell]}",
    )
    world = _world(make_world, text)
    bob, b = join(world, "Bob")
    b.take()
    world.execute(bob, "help")
    assert "  here: ding (bell)" in b.take()
    world.execute(bob, "help ding")
    assert b.take() == [
        "ding <bell>",
        "Ding the bell: everyone here hears it.",
        "Something you can do here, with the bell.",
    ]


def test_every_verb_of_every_set_has_help(make_world) -> None:
    """Playing, admin, editor, login, mail and the default world's behaviour verbs all have help."""
    from reality.game.mail.verbs import register_mail_verbs

    world = make_world(path=ROOT / "world" / "default.yaml")
    register_mail_verbs(world.verbs)
    sets = [world.verbs.all(), EDITOR_VERBS.all(), login_verbs().all()]
    for verbs in sets:
        for v in verbs:
            assert v.help.strip(), v.name
            assert markup.validate(v.help) == [], v.name
    for behaviour in world.behaviours():
        for word, spec in type(behaviour).verbs.items():
            assert spec.help.strip(), (behaviour.name, word)


def test_the_default_world_has_real_help(make_world) -> None:
    """The shipped world has rules, a newcomers' guide and the town, with aliases."""
    world = make_world(path=ROOT / "world" / "default.yaml")
    for query in ("rules", "conduct", "newbie", "guide", "town", "lindenford"):
        found = world.help.find(query, admin=False)
        assert found.exact and found.entries[0].kind == "topic", query
        assert found.entries[0].category == "About this world"


def test_the_index_alone() -> None:
    """HelpIndex over a bare registry: categories in order, exact/prefix/candidates."""
    from reality.game.commands import default_registry

    index = HelpIndex(
        default_registry(), [HelpTopic("zebra", "Stripes.", ("horse",), "Animals")]
    )
    categories = [name for name, _ in index.categories(admin=True)]
    assert categories[0] == "general" and categories[-2:] == ["Animals", "guides"]
    assert index.find("horse", admin=False).entries[0].name == "zebra"
    assert index.find("zeb", admin=False).exact is False
    assert [e.name for e in index.find("dr", admin=False).entries] == ["drop"]
    assert {e.name for e in index.find("d", admin=True).candidates} >= {"drop", "@dig"}


# -- the loader ----------------------------------------------------------------------------

BASE = "name: W\nstart: a\nrooms:\n  a: {name: A}\n"

BAD_HELP = [
    ("help: [rules]\n", ["w.yaml:5: 'help' must be a mapping, not a list"]),
    (
        "help:\n  rules: {text: Hi, colour: red}\n",
        [
            "w.yaml:6: unknown key 'colour' in help topic 'rules'"
            " (expected one of: text, aliases, category)"
        ],
    ),
    ("help:\n  rules: {aliases: [x]}\n", ["w.yaml:6: help topic 'rules' has no 'text'"]),
    ("help:\n  rules: ''\n", ["w.yaml:6: the text of help topic 'rules' must not be empty"]),
    (
        "help:\n  rules: 'a {bogus} tag'\n",
        [
            "w.yaml:6: the text of help topic 'rules': unknown markup tag '{bogus}'"
            " (write '{{' for a literal brace)"
        ],
    ),
    (
        "help:\n  '@rules': Hi\n",
        [
            "w.yaml:6: help topic '@rules': a topic name is letters, digits, spaces, '-', '_'"
            " or an apostrophe, at most 40, starting with a letter or digit"
        ],
    ),
    (
        "help:\n  search: Hi\n",
        ["w.yaml:6: help topic 'search': 'search' is a word of 'help' itself"],
    ),
    (
        "help:\n  rules: Hi\n  Rules: Again\n",
        ["w.yaml:7: help topic 'Rules': 'Rules' is already a name of help topic 'rules' (line 6)"],
    ),
    (
        "help:\n  rules: {text: Hi, aliases: [town]}\n  town: There\n",
        ["w.yaml:7: help topic 'town': 'town' is already a name of help topic 'rules' (line 6)"],
    ),
    (
        "help:\n  rules: {text: Hi, category: '{red}x'}\n",
        ["w.yaml:6: 'category' of help topic 'rules' must be plain text without braces"],
    ),
    (
        "help:\n  rules: {text: Hi, aliases: ['a/b']}\n",
        [
            "w.yaml:6: alias 'a/b' of help topic 'rules' must be letters, digits, spaces, '-',"
            " '_' or an apostrophe (at most 40)"
        ],
    ),
    (
        "help:\n  rules: {text: [Hi]}\n",
        ["w.yaml:6: the text of help topic 'rules' must be text, not a list"],
    ),
]


@pytest.mark.parametrize(("section", "expected"), BAD_HELP)
def test_bad_help_sections_say_file_line_and_why(section: str, expected: list[str]) -> None:
    """Each bad help: section is refused with exactly these file:line messages."""
    with pytest.raises(WorldFileError) as caught:
        parse_world(BASE + section, "w.yaml")
    assert caught.value.lines() == expected


def test_help_text_limits() -> None:
    """A topic's text and the number of topics are bounded, with file:line errors."""
    from reality.game.help import MAX_HELP_TEXT, MAX_HELP_TOPICS

    with pytest.raises(WorldFileError) as caught:
        parse_world(BASE + f"help:\n  big: {'x' * (MAX_HELP_TEXT + 1)}\n", "w.yaml")
    assert caught.value.lines()[0].startswith("w.yaml:6: the text of help topic 'big' is too long")
    many = "".join(f"  t{n}: Hi\n" for n in range(MAX_HELP_TOPICS + 1))
    with pytest.raises(WorldFileError) as caught:
        parse_world(BASE + "help:\n" + many, "w.yaml")
    assert caught.value.lines() == [
        f"w.yaml:6: 'help' has {MAX_HELP_TOPICS + 1} topics; a world file may have at most"
        f" {MAX_HELP_TOPICS}"
    ]


def test_check_world_reports_help_errors_and_counts_topics(tmp_path: Path, capsys) -> None:
    """reality check-world prints file:line for a bad topic and counts good ones."""
    from reality.cli import main

    bad = tmp_path / "bad.yaml"
    bad.write_text(BASE + "help:\n  rules: ''\n")
    assert main(["check-world", str(bad)]) == 1
    assert f"{bad}:6: the text of help topic 'rules' must not be empty" in capsys.readouterr().err
    good = tmp_path / "good.yaml"
    good.write_text(BASE + "help:\n  rules: Be kind.\n  town: {text: Here., aliases: [village]}\n")
    assert main(["check-world", str(good)]) == 0
    assert "2 help topics" in capsys.readouterr().out
    assert load_world(good).help["town"].aliases == ("village",)
