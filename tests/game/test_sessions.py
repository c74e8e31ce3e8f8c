"""Connecting, taking over, disconnecting; hooks for mail and the website."""

from __future__ import annotations

import tracemalloc

import pytest

from reality.game.things import Player
from reality.game.world import UnknownAccount


def test_connect_shows_the_room_and_sends_state(world, join) -> None:
    """Login: Char.Name, Char.Status, the room, Room.Info; the others see the arrival."""
    bob, b = join(world, "Bob")
    b.shown.clear()
    world.store.create_account("Alice", "x", now=0.0)
    alice, a = join(world, "alice")  # typed in lower case: the account's spelling wins
    assert alice.name == "Alice"
    num = world.room_number
    assert a.data == [
        ("Char.Name", {"name": "Alice", "fullname": "Alice"}),
        ("Char.Status", world.char_status(alice)),
        ("Room.Info", {
            "num": num("hall"), "id": "hall", "name": "The Hall", "area": world.name,
            "environment": "indoor", "exits": {"north": num("library")},
        }),
    ]
    assert a.lines()[0] == "The Hall"
    assert "Bob is here." in a.lines()
    assert b.take() == ["Alice has entered the game."]
    assert alice.admin and not bob.admin


def test_taking_over_a_connected_character(world, join) -> None:
    """A second login takes the character over; the old session is told and closed."""
    alice, old = join(world, "Alice")
    bob, b = join(world, "Bob")
    world.execute(alice, "n")
    b.shown.clear()
    again, new = join(world, "Alice")
    assert again is alice
    assert old.closed == "Your character has been taken over by a new connection."
    assert new.lines()[0] == "You take over your character from your other connection."
    assert new.lines()[1] == "The Library"
    assert b.take() == []  # no one saw a departure or an arrival
    # The old connection's end must not log out the new one.
    world.disconnect(alice, old)
    assert world.online["alice"] is alice and alice.session is new
    world.execute(alice, "say still here")
    assert new.last() == 'You say, "still here"'


def test_disconnect_saves_and_announces(world, join) -> None:
    """A connection's end is announced; room, last-seen time and inventory are saved."""
    alice, a = join(world, "Alice")
    bob, b = join(world, "Bob")
    world.execute(alice, "get lamp")
    b.shown.clear()
    world.wall.now = 1_700_000_500.0
    world.disconnect(alice, a)
    assert b.take() == ["Alice has left the game."]
    record = world.store.load_player("alice")
    assert (record.room, record.last_seen) == ("hall", 1_700_000_500.0)
    assert world.store.item_positions()["lamp"] == ("player", "alice")
    world.disconnect(alice, a)  # twice is harmless
    world.execute(alice, "say ghost")  # a stale player's input is ignored
    assert b.take() == []


def test_unread_mail_hook_and_login_hooks(world, join) -> None:
    """On login the world says how many letters wait, and runs every login hook."""
    world.unread_count = lambda key: {"alice": 2, "bob": 1}.get(key, 0)
    greeted = []
    world.login_hooks.append(lambda player: greeted.append(player.name))
    alice, a = join(world, "Alice")
    bob, b = join(world, "Bob")
    carol, c = join(world, "Carol")
    assert "You have 2 unread letters. Type 'mail' to read them." in a.lines()
    assert "You have 1 unread letter. Type 'mail' to read it." in b.lines()
    assert not any("unread" in line for line in c.lines())
    assert greeted == ["Alice", "Bob", "Carol"]


def test_a_failing_hook_does_not_stop_a_login(world, join, caplog) -> None:
    """Broken hooks are logged; the player still gets in."""

    def broken(player: Player) -> None:
        raise RuntimeError("hook broke")

    world.login_hooks.append(broken)
    world.unread_count = lambda key: 1 // 0
    alice, a = join(world, "Alice")
    assert world.online["alice"] is alice
    assert "login hook" in caplog.text and "unread_count hook failed" in caplog.text


def test_disconnect_all(world, join) -> None:
    """disconnect_all closes every session with the message."""
    alice, a = join(world, "Alice")
    bob, b = join(world, "Bob")
    world.disconnect_all("The server is shutting down.")
    assert a.closed == b.closed == "The server is shutting down."
    assert world.online == {}


def test_website_queries(make_world, join) -> None:
    """player_info, map_rooms, counts and who_online answer for the website."""
    world = make_world(web_url="http://example.test")
    alice, a = join(world, "Alice")
    join(world, "Bob")
    world.execute(alice, "homepage Hello *world*")
    world.execute(alice, "set where visible")
    world.disconnect(world.online["bob"])
    info = world.player_info("ALICE")
    assert (info.name, info.online, info.room_id, info.room_name) == (
        "Alice",
        True,
        "hall",
        "The Hall",
    )
    assert info.homepage == "Hello *world*" and info.homepage_updated is not None
    bob = world.player_info("bob")
    assert (bob.online, bob.room_name) == (False, None)  # Bob's 'where' is hidden
    assert bob.last_seen is not None
    assert world.player_info("nobody") is None
    rooms = {r.id: r for r in world.map_rooms()}
    assert rooms["hall"].exits == {"north": "library"}
    assert (world.counts().rooms, world.counts().players, world.counts().online) == (2, 2, 1)
    assert [p.name for p in world.who_online()] == ["Alice"]
    assert world.homepage_url(alice) == "http://example.test/~alice"
    assert world.mail_address(alice) == "alice@reality.localhost"


def test_memory_per_connected_player_is_small(world, join) -> None:
    """A connected player costs the world far less than 50 KiB."""
    join(world, "Warmup")
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    names = ["P" + "".join(chr(97 + (i // 26**k) % 26) for k in range(3)) for i in range(200)]
    for name in names:
        world.store.create_account(name, "x", now=0.0)
    after_accounts = tracemalloc.take_snapshot()
    for name in names:
        join(world, name)
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    del before
    used = sum(s.size_diff for s in after.compare_to(after_accounts, "filename"))
    per_player = used / len(names)
    print(f"world memory per connected player: {per_player:.0f} bytes")
    assert per_player < 50 * 1024, per_player


def test_connect_needs_an_account(world) -> None:
    """Connecting a name without an account is a programming error, refused clearly."""
    with pytest.raises(UnknownAccount, match="no account named 'Ghost'"):
        world.connect("Ghost", object())
    assert world.online == {}


def test_login_times_are_batched_into_the_checkpoint(world, join) -> None:
    """Login times reach the database with the next checkpoint, not one sync per login."""
    world.wall.now = 1_700_000_100.0
    alice, a = join(world, "Alice")
    assert world.store.get_account("alice").last_login is None
    world.checkpoint()
    assert world.store.get_account("alice").last_login == 1_700_000_100.0


def test_a_failed_logout_save_is_kept_for_the_checkpoint(world, join, caplog) -> None:
    """If saving at logout fails, the player stays in memory and the checkpoint saves them."""
    alice, a = join(world, "Alice")
    world.execute(alice, "n")
    real = world.store.checkpoint

    def broken(**kwargs):
        raise OSError("disk full")

    world.store.checkpoint = broken
    world.disconnect(alice, a)
    assert "could not save alice at logout" in caplog.text
    again, _ = join(world, "Alice")  # returns before any save: the newest state
    assert again.location.id == "library"
    world.disconnect(again)
    world.store.checkpoint = real
    world.checkpoint()
    assert world.store.load_player("alice").room == "library"
    assert "alice" not in world.players  # saved, offline, empty-handed: forgotten


def test_disconnect_all_saves_everyone_in_one_transaction(world, join) -> None:
    """Shutting everyone out commits once, not once per player."""
    players = [join(world, name)[0] for name in ("Alice", "Bob", "Carol")]
    for player in players:
        world.execute(player, "n")
    commits = []
    world.store.db.set_trace_callback(lambda sql: commits.append(sql) if sql == "COMMIT" else None)
    world.disconnect_all("bye")
    world.store.db.set_trace_callback(None)
    assert len(commits) == 1
    assert all(world.store.load_player(p.key).room == "library" for p in players)
