"""Channels in the world: speaking, joining and leaving, history, admins' channels (issue 14)."""

from __future__ import annotations

import logging
import random
from pathlib import Path

import pytest
from game_fakes import FakeSession, WallClock
from hypothesis import given, strategies as st

from reality.game import channels as channels_module
from reality.game.channels import (
    BUILT_IN,
    HISTORY,
    LINE_BURST,
    MAX_LINE,
    parse_line,
    valid_name,
)
from reality.game.loader import load_world
from reality.game.store import Store
from reality.game.world import World
from reality.net.testing import Clock

TINY = Path(__file__).resolve().parents[2] / "world" / "tiny.yaml"


@pytest.fixture
def trio(world, join):
    """Alice (an admin), Bob and Carol, connected; what they were shown so far is dropped."""
    alice, a = join(world, "Alice")
    bob, b = join(world, "Bob")
    carol, c = join(world, "Carol")
    for session in (a, b, c):
        session.take()
        session.data.clear()
    return world, (alice, a), (bob, b), (carol, c)


def test_everyone_starts_on_the_built_in_channels(trio) -> None:
    """chat and newbie exist, and every player is on both without doing anything."""
    world, (alice, _), (bob, _), _ = trio
    assert set(BUILT_IN) == {"chat", "newbie"}
    assert [c.name for c in world.channels.of(alice)] == ["chat", "newbie"]
    assert [c.name for c in world.channels.of(bob)] == ["chat", "newbie"]


def test_a_channel_line_reaches_every_member_wherever_they_are(trio) -> None:
    """'chat hello' shows '[chat] Alice: hello' to Alice, Bob and Carol, in any room."""
    world, (alice, a), (bob, b), (carol, c) = trio
    world.execute(carol, "north")
    assert carol.location is not alice.location
    for session in (a, b, c):
        session.take()
    world.execute(alice, "chat hello")
    for session in (a, b, c):
        assert session.take() == ["[chat] Alice: hello"]


def test_the_emote_form(trio) -> None:
    """'newbie :waves' is an action: '[newbie] Bob waves.'"""
    world, (_, a), (bob, b), _ = trio
    world.execute(bob, "newbie :waves")
    assert a.take() == ["[newbie] Bob waves."]
    assert b.take() == ["[newbie] Bob waves."]


def test_gmcp_comm_channel_text_goes_with_every_line(trio) -> None:
    """Each member's session gets Comm.Channel.Text with channel, talker and the plain line."""
    world, (alice, a), (_, b), _ = trio
    world.execute(alice, "chat {red}hi{/}")
    expected = {"channel": "chat", "talker": "Alice", "text": "[chat] Alice: {red}hi{/}"}
    assert ("Comm.Channel.Text", expected) in b.data
    assert ("Comm.Channel.Text", expected) in a.data
    # Markup typed by a player is shown as typed, not as colour.
    assert b.take() == ["[chat] Alice: {red}hi{/}"]


def test_leave_and_join(trio) -> None:
    """After 'channel leave chat' Bob hears nothing on chat; 'chat x' tells him how to rejoin."""
    world, (alice, a), (bob, b), _ = trio
    world.execute(bob, "channel leave chat")
    assert "You leave the chat channel" in b.take()[0]
    world.execute(alice, "chat anyone?")
    assert b.take() == []
    world.execute(bob, "chat hello")
    assert b.take() == ["You are not on the chat channel; 'channel join chat' to join."]
    assert a.take() == ["[chat] Alice: anyone?"]
    world.execute(bob, "channel leave chat")
    assert b.take() == ["You are not on the chat channel."]
    world.execute(bob, "channel join chat")
    assert "You join the chat channel" in b.take()[0]
    world.execute(alice, "chat welcome back")
    assert b.take() == ["[chat] Alice: welcome back"]


def test_channels_lists_every_channel_and_membership(trio) -> None:
    """'channels' names each channel and says whether you are on it."""
    world, _, (bob, b), _ = trio
    world.execute(bob, "channel leave newbie")
    b.take()
    world.execute(bob, "channels")
    text = "\n".join(b.take())
    assert "chat (you are on it)" in text
    assert "newbie (you are not on it)" in text


def test_history_keeps_the_last_twenty(trio, clock) -> None:
    """'channel history chat' shows the last HISTORY lines, oldest first."""
    world, (alice, a), (bob, b), _ = trio
    for n in range(HISTORY + 5):
        clock.advance(1)  # within the rate limit
        world.execute(alice, f"chat line {n}")
    b.take()
    world.execute(bob, "channel history chat")
    lines = b.take()
    assert lines[0] == f"The last {HISTORY} lines on chat (UTC):"
    said = [line.split(" ", 1)[1] for line in lines[1:]]
    assert said == [f"[chat] Alice: line {n}" for n in range(5, HISTORY + 5)]


def test_history_survives_a_restart(tmp_path: Path, join) -> None:
    """Lines, a created channel and who left what are all there after the store is reopened."""
    path = str(tmp_path / "world.sqlite3")

    def boot() -> tuple[World, Store]:
        store = Store(path)
        world = World(Clock(), store, admins=["alice"], rng=random.Random(1),
                      wall_clock=WallClock())
        world.load(load_world(TINY))
        return world, store

    world, store = boot()
    alice, _ = join(world, "Alice")
    bob, _ = join(world, "Bob")
    world.execute(alice, "chat before the restart")
    world.execute(alice, "@channel create trade = Buying and selling")
    world.execute(bob, "channel join trade")
    world.execute(bob, "trade :sells apples")
    world.execute(bob, "channel leave newbie")
    world.stop()
    store.close()

    world, store = boot()
    alice, _ = join(world, "Alice")
    bob, b = join(world, "Bob")
    b.take()
    world.execute(bob, "channel history chat")
    assert b.take()[1].endswith("[chat] Alice: before the restart")
    world.execute(bob, "channel history trade")
    assert b.take()[1].endswith("[trade] Bob sells apples.")
    assert [c.name for c in world.channels.of(bob)] == ["chat", "trade"]
    assert [c.name for c in world.channels.of(alice)] == ["chat", "newbie"]
    assert world.channels.get("trade").caption == "Buying and selling"
    world.stop()
    store.close()


def test_history_is_trimmed_in_the_store(world, join, clock) -> None:
    """The store keeps at most HISTORY lines a channel, however many were said."""
    alice, _ = join(world, "Alice")
    for n in range(HISTORY * 2):
        clock.advance(1)
        world.execute(alice, f"chat {n}")
    clock.advance(channels_module.HISTORY_FLUSH)
    count = world.store.db.execute(
        "SELECT COUNT(*) FROM channel_messages WHERE channel = 'chat'"
    ).fetchone()[0]
    assert count == HISTORY


def test_admins_create_and_destroy_channels(trio, caplog) -> None:
    """@channel create/destroy work for admins, are audit-logged, and others are told."""
    world, (alice, a), (bob, b), _ = trio
    with caplog.at_level(logging.INFO, logger="reality.audit"):
        world.execute(alice, "@channel create trade")
        assert "You create the trade channel" in a.take()[0]
        world.execute(bob, "trade hi")
        assert b.take() == ["You are not on the trade channel; 'channel join trade' to join."]
        world.execute(bob, "channel join trade")
        b.take()
        world.execute(bob, "trade hi")
        assert b.take() == ["[trade] Bob: hi"]
        assert a.take() == []  # Alice made it but never joined
        world.execute(alice, "@channel destroy trade")
    assert a.take() == ["You destroy the trade channel."]
    assert b.take() == ["The trade channel has been closed."]
    assert world.channels.get("trade") is None
    events = [r.audit for r in caplog.records if hasattr(r, "audit")]
    assert {"event": "admin.channel_create", "who": "Alice", "target": "trade"} in events
    assert {"event": "admin.channel_destroy", "who": "Alice", "target": "trade"} in events


def test_only_admins_make_channels(trio) -> None:
    """Bob is no admin: @channel is refused."""
    world, _, (bob, b), _ = trio
    world.execute(bob, "@channel create secret")
    assert b.take() == ["Only admins can use @channel."]


def test_built_in_channels_cannot_be_destroyed(trio) -> None:
    world, (alice, a), _, _ = trio
    world.execute(alice, "@channel destroy chat")
    assert a.take() == ["chat is built in: it cannot be destroyed."]


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("look", "is the command 'look'"),
        ("l", "2 to 12 lower-case"),
        ("x", "2 to 12 lower-case"),
        ("inv", "is the command 'inventory'"),
        ("channel", "is the command 'channel'"),
        ("dig", "is the command '@dig'"),
        ("ne", "is a direction"),
        ("north", "is a direction"),
        ("lo", "how players shorten lock or look"),
        ("Trade!", "2 to 12 lower-case"),
        ("averyveryverylongname", "2 to 12 lower-case"),
        ("chat", "already a channel"),
    ],
)
def test_a_channel_name_never_hides_a_verb(trio, name, why) -> None:
    """Names that are verbs, aliases, verb prefixes, directions or malformed are refused."""
    world, (alice, a), _, _ = trio
    world.execute(alice, f"@channel create {name}")
    assert why in a.take()[0]


def test_game_verbs_win_over_channel_names(trio) -> None:
    """Even a channel whose name became a verb later: the verb runs, not the channel."""
    world, (alice, a), _, _ = trio
    world.execute(alice, "@channel create dance")
    a.take()
    world.verbs.register("dance", lambda ctx, args: ctx.tell("You dance."))
    world.execute(alice, "channel join dance")
    a.take()
    world.execute(alice, "dance now")
    assert a.take() == ["You dance."]


def test_lines_are_limited_in_length_and_rate(trio) -> None:
    """A line over MAX_LINE is refused; past a burst of LINE_BURST lines the talker must wait."""
    world, (alice, a), (_, b), _ = trio
    world.execute(alice, "chat " + "x" * (MAX_LINE + 1))
    assert "too long for a channel line" in a.take()[0]
    for n in range(LINE_BURST):
        world.execute(alice, f"chat {n}")
    a.take()
    b.take()
    world.execute(alice, "chat one too many")
    assert a.take() == ["You are talking on channels too fast; wait a moment."]
    assert b.take() == []


def test_empty_line_and_bad_usage(trio) -> None:
    world, (alice, a), _, _ = trio
    world.execute(alice, "chat")
    assert a.take()[0].startswith("Say what on chat?")
    world.execute(alice, "channel frobnicate chat")
    assert a.take()[0].startswith("Use: channel join <name>")
    world.execute(alice, "channel join nosuch")
    assert a.take() == ["There is no channel called 'nosuch'. The channels are: chat, newbie."]


def test_channel_list_payload(trio) -> None:
    """Comm.Channel.List lists the player's channels as IRE games do."""
    world, (alice, _), _, _ = trio
    assert world.channels.channel_list(alice) == [
        {"name": "chat", "caption": BUILT_IN["chat"], "command": "chat"},
        {"name": "newbie", "caption": BUILT_IN["newbie"], "command": "newbie"},
    ]


def test_channel_words_are_offered_for_completion(trio) -> None:
    """Client.Verbs names the channels the player is on, and no others."""
    from reality.gateways.gmcp import verb_list

    world, _, (bob, _), _ = trio
    assert {"chat", "newbie"} <= set(verb_list(world, bob)["verbs"])
    world.execute(bob, "channel leave newbie")
    assert "newbie" not in verb_list(world, bob)["verbs"]


def test_a_taken_over_character_hears_on_its_new_session(trio) -> None:
    """The channel's cached audience follows a session takeover."""
    world, (alice, a), (bob, _), _ = trio
    world.execute(alice, "chat one")
    fresh = FakeSession()
    world.connect("Bob", fresh)
    fresh.take()
    world.execute(alice, "chat two")
    assert fresh.take() == ["[chat] Alice: two"]


# -- the parser's properties --------------------------------------------------------------

_names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789!-_ A", max_size=15)


@given(_names)
def test_valid_names_are_short_lowercase_words(name: str) -> None:
    """A valid name is 2-12 characters, lower-case letters and digits, starting with a letter."""
    ok = valid_name(name)
    assert ok == (
        2 <= len(name) <= 12
        and name[0].isalpha()
        and all(ch.islower() or ch.isdigit() for ch in name)
        and name.isascii()
    )


@given(st.text(max_size=60))
def test_parse_line_splits_emotes(args: str) -> None:
    """':text' is an emote of 'text'; otherwise the stripped text is said; nothing is lost."""
    emote, text = parse_line(args)
    stripped = args.strip()
    assert emote == stripped.startswith(":")
    assert text == (stripped[1:].strip() if emote else stripped)


def test_help_names_each_channel_while_it_exists(trio) -> None:
    """'help chat' says how to speak on chat; a created channel has help until destroyed."""
    world, (alice, a), (bob, b), _ = trio
    world.execute(bob, "help chat")
    shown = "\n".join(b.take())
    assert "The chat channel" in shown and "'chat <text>' speaks on it" in shown
    world.execute(alice, "@channel create trade = Buying and selling")
    a.take()
    world.execute(bob, "help trade")
    assert "Buying and selling." in "\n".join(b.take())
    world.execute(alice, "@channel destroy trade")
    a.take()
    b.take()
    world.execute(bob, "help trade")
    assert "The trade channel" not in "\n".join(b.take())
