"""Every admin verb leaves exactly one line on the audit log, with who, what and target
(besides the ``admin.command`` line every admin verb writes when typed)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from reality import audit as audit_module

HOUSE = """
name: House
start: hall
rooms:
  hall: {name: The Hall, exits: {north: library}}
  library: {name: The Library, exits: {south: hall}}
items:
  lamp: {name: brass lamp, location: hall}
"""


@pytest.fixture(autouse=True)
def _fresh_pace(monkeypatch):
    monkeypatch.setattr(audit_module, "_pace", {})


@pytest.fixture
def admin(make_world, join, caplog):
    """Root (an admin, connected from 203.0.113.5) and Bob in the hall; the log cleared."""
    world = make_world(HOUSE, admins=["root"])
    root, r = join(world, "Root")
    r.peer_host = "203.0.113.5"  # what a telnet session carries
    bob, b = join(world, "Bob")
    caplog.set_level(logging.INFO, logger="reality.audit")
    caplog.clear()
    return world, root, bob, caplog


def lines(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records
            if r.name == "reality.audit" and r.audit["event"] != "admin.command"]


def test_every_admin_verb_typed_is_on_the_trail(admin):
    """admin.command: who typed which admin verb with what, from where, before it runs
    (the verb's own event follows it)."""
    world, root, bob, caplog = admin
    world.execute(root, "@kick bob being rude")
    typed = [r.audit for r in caplog.records
             if r.name == "reality.audit" and r.audit["event"] == "admin.command"]
    assert typed == [
        {"event": "admin.command", "who": "Root", "address": "203.0.113.5", "verb": "@kick",
         "args": "bob being rude"},
    ]


def one(caplog, event: str) -> dict[str, object]:
    (record,) = lines(caplog)
    assert record.audit["event"] == event
    assert "\n" not in record.getMessage()
    assert record.getMessage().startswith(event + " who=Root address=203.0.113.5 ")
    return record.audit


def test_kick(admin):
    """@kick: who, address, target, reason."""
    world, root, bob, caplog = admin
    world.execute(root, "@kick bob being rude")
    assert one(caplog, "admin.kick") == {
        "event": "admin.kick", "who": "Root", "address": "203.0.113.5",
        "target": "Bob", "reason": "being rude",
    }  # fmt: skip


def test_teleport(admin):
    """@teleport: the traveller and the room they were sent to."""
    world, root, bob, caplog = admin
    world.execute(root, "@teleport bob = library")
    fields = one(caplog, "admin.teleport")
    assert fields["target"] == "Bob" and fields["to"] == "library"


def test_dig(admin):
    """@dig: the new room, the exit and the room it was dug from."""
    world, root, bob, caplog = admin
    world.execute(root, "@dig east The Tower")
    fields = one(caplog, "admin.dig")
    assert fields["target"] == "@the-tower" and fields["exit"] == "east"
    assert fields["room"] == "hall"


def test_create(admin):
    """@create: the new item's id and name."""
    world, root, bob, caplog = admin
    world.execute(root, "@create golden key")
    fields = one(caplog, "admin.create")
    assert fields["target"] == "@golden-key" and fields["name"] == "golden key"


@pytest.mark.parametrize(
    ("target", "expected"),
    [("here", "room:hall"), ("me", "player:root"), ("bob", "player:bob"),
     ("lamp", "item:lamp"), ("north", "exit:hall/north")],
)  # fmt: skip
def test_describe(admin, target, expected):
    """@describe: what was described, as kind:id (not the text, which may be long)."""
    world, root, bob, caplog = admin
    world.execute(root, f"@describe {target} = Something new.")
    assert one(caplog, "admin.describe")["target"] == expected


def test_load(admin, tmp_path: Path):
    """@load: the path and whether it was loaded or refused."""
    world, root, bob, caplog = admin
    world.world_dir = str(tmp_path)  # @load reads only under the world directory
    good = tmp_path / "good.yaml"
    good.write_text("name: Renewed\nstart: hall\nrooms:\n  hall: {name: The Hall}\n")
    world.execute(root, f"@load {good}")
    fields = one(caplog, "admin.load")
    assert fields["target"] == str(good) and fields["result"] == "loaded"
    caplog.clear()
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: B\nstart: nowhere\nrooms:\n  hall: {name: H}\n")
    world.execute(root, f"@load {bad}")
    fields = one(caplog, "admin.load")
    assert fields["target"] == str(bad) and str(fields["result"]).startswith("refused")


def test_shutdown(admin):
    """@shutdown: a WARNING with the message."""
    world, root, bob, caplog = admin
    world.on_shutdown = lambda message: None
    world.execute(root, "@shutdown Back soon")
    fields = one(caplog, "admin.shutdown")
    assert fields["reason"] == "Back soon"
    assert lines(caplog)[0].levelno == logging.WARNING


def test_refused_and_ordinary_commands_leave_nothing(admin):
    """An admin verb that is refused, or by someone not an admin, and plain verbs: no line."""
    world, root, bob, caplog = admin
    world.execute(root, "@kick zed")
    world.execute(root, "@dig north Again")  # there is already a way north
    world.execute(bob, "@kick root")
    world.execute(bob, "say hello")
    assert lines(caplog) == []


def test_a_crafted_reason_cannot_forge(admin):
    """A kick reason with '=', quotes and a fake field stays one value on one line."""
    world, root, bob, caplog = admin
    world.execute(root, '@kick bob x" who=Bob target=Root')
    (record,) = lines(caplog)
    message = record.getMessage()
    assert message.count("who=") == 2  # the real field, and the quoted text
    assert message.startswith("admin.kick who=Root address=203.0.113.5 target=Bob reason=")
    assert record.audit["reason"] == 'x" who=Bob target=Root'
