"""Lindenford's locket quest, played over real telnet against ``run_server.py``.

A newcomer reads the notice board, asks Marta about the key, unlocks and
opens the trapdoor, finds the locket in the oak chest in the cellar and
gives it to the old fisherman; a second player in the chapel hears the
bell the first one rings in the tower. Every read is bounded by the
client's timeout (10 s), and the server is stopped by its PID.
"""

from __future__ import annotations

from serverproc import ROOT, ServerProcess, TelnetClient

DEFAULT_WORLD = ROOT / "world" / "default.yaml"


def _flat(text: str) -> str:
    """The output with wrapping undone (lines are wrapped at the client's width)."""
    return " ".join(text.split())


def _do(player: TelnetClient, line: str) -> str:
    return _flat(player.command(line))


def test_the_locket_quest_over_telnet(tmp_path):
    """Every step of the quest answers as the notice board and Marta promise."""
    with ServerProcess(tmp_path, world=DEFAULT_WORLD) as server:
        alice = server.telnet()
        out = _do(alice, "create Alice secret")
        assert "notice board" in out and "The Village Square" in out
        out = _do(alice, "read notice")
        assert "LOST: a silver locket" in out and "Marta" in out

        out = _do(alice, "east")
        assert "The Sleeping Fox Inn" in out
        assert 'Marta the innkeeper says, "Welcome to the Sleeping Fox!' in out
        out = _do(alice, "say where is the key")
        assert 'You say, "where is the key"' in out
        assert "The cellar key hangs by the fire: the iron one." in out
        assert "in the oak chest down in the cellar" in _do(alice, "say what about the locket?")

        assert "The trapdoor is locked." in _do(alice, "down")
        assert "The trapdoor is locked." in _do(alice, "open trapdoor")
        assert "You pick up the iron key." in _do(alice, "get key")
        assert "You unlock the trapdoor with the iron key." in _do(alice, "unlock trapdoor")
        assert "The trapdoor is closed." in _do(alice, "examine trapdoor")
        assert "You open the trapdoor." in _do(alice, "open trapdoor")
        assert "The trapdoor is open." in _do(alice, "x trapdoor")

        out = _do(alice, "down")
        assert "The Inn Cellar" in out and "oak chest" in out
        assert "The oak chest is closed." in _do(alice, "get locket from chest")
        out = _do(alice, "open chest")
        assert "You open the oak chest. Inside you see a gold coin and a silver locket." in out
        assert "In the oak chest you see a gold coin and a silver locket." in _do(
            alice, "examine chest"
        )
        assert "You take the silver locket from the oak chest." in _do(
            alice, "get locket from chest"
        )
        assert "For Tom, from Elsie" in _do(alice, "x locket")

        assert "The Sleeping Fox Inn" in _do(alice, "up")
        assert "The Village Square" in _do(alice, "west")
        assert "The Stone Bridge" in _do(alice, "south")
        out = _do(alice, "east")
        assert "The Riverbank" in out and "old fisherman" in out
        out = _do(alice, "give locket to fisherman")
        assert "You give the silver locket to the old fisherman." in out
        assert "Elsie's locket! I'd given it up for lost." in out
        alice.close()


def test_the_bell_is_heard_in_the_room_below(tmp_path):
    """``ring bell`` in the bell tower: the ringer and the chapel below both hear it."""
    with ServerProcess(tmp_path, world=DEFAULT_WORLD) as server:
        alice = server.telnet()
        alice.command("create Alice secret")
        bob = server.telnet()
        bob.command("create Bob secret")
        assert "The Old Chapel" in _do(bob, "west")
        assert "The Old Chapel" in _do(alice, "west")
        assert "The Bell Tower" in _do(alice, "up")
        out = _do(alice, "ring bell")
        assert "You swing the clapper: BONG!" in out
        bob.expect("The chapel bell rings out above you")
        # From the chapel, the rope rings it for the square (and the tower) to hear.
        assert "You haul on the rope" in _do(bob, "ring bell")
        alice.expect("The chapel bell rings out over the village")
        alice.close()
        bob.close()
