"""The first hour over real telnet (issue 11): questions answered by number, exit
short forms, travel sentences, emote, help, name rules, the homepage editor, privacy."""

from __future__ import annotations

from serverproc import ServerProcess

WORLD = """\
name: Newcomer World
start: square
rooms:
  square:
    name: The Village Square
    description: A square.
    exits:
      southwest: lane
      jump: pond
      ladder: {to: loft, leave: climbs the rope ladder., arrive: climbs up through the trapdoor.}
  lane: {name: Mill Lane, description: Mud., exits: {northeast: square}}
  pond: {name: The Pond, description: Wet., exits: {out: square}}
  loft: {name: The Loft, description: Hay., exits: {down: square}}
items:
  shoe: {name: horseshoe, description: Iron., location: square}
  feather: {name: hawk feather, description: Grey., location: square}
"""


def _flat(text: str) -> str:
    """The output with wrapping undone (lines are wrapped at the client's width)."""
    return " ".join(text.split())


def test_first_hour_transcript(tmp_path):
    """Two players over telnet: every rough edge of items 4, 5, 7, 8, 11 and 14, fixed."""
    world = tmp_path / "newcomer.yaml"
    world.write_text(WORLD)
    with ServerProcess(tmp_path, world=world, admins=("Alice",)) as server:
        probe = server.telnet()
        out = _flat(probe.command("create 日本 secret"))
        assert "only the letters A to Z" in out and "letters long" not in out
        probe.close()

        alice = server.telnet()
        alice.command("connect Alice secret")  # made by `reality admin add`
        bob = server.telnet()
        bob.command("create Bob secret")
        alice.expect("Bob has entered the game.")

        # Item 4: a numbered question; the number alone answers it.
        out = _flat(alice.command("get h"))
        assert (
            "Which do you mean: 1. the horseshoe, 2. the hawk feather?"
            " Type the number, or e.g. get 2.h." in out
        )
        assert "You pick up the hawk feather." in alice.command("2")
        bob.expect("Alice picks up the hawk feather.")
        assert "There is no question to answer" in _flat(alice.command("1"))

        # Item 5: the short form names the exit everywhere.
        assert "The way southwest leads to Mill Lane." in _flat(alice.command("look sw"))
        assert "You describe the way southwest." in alice.command("@describe sw = Muddy.")
        assert "Muddy." in alice.command("look sw")

        # Item 7: sentences for any exit, and a world file's own.
        alice.command("jump")
        bob.expect("Alice leaves through the jump exit.")
        alice.command("out")
        bob.expect("Alice comes out of the Pond.")
        alice.command("ladder")
        bob.expect("Alice climbs the rope ladder.")
        alice.command("down")
        bob.expect("Alice arrives from above.")

        # Item 8: emote's full stop; help colour shows what to type.
        alice.command("emote waves")
        bob.expect("Alice waves.")
        out = _flat(bob.command("help colour"))
        assert "{red}...{/}" in out and "}}" not in out

        # Item 14: nobody's room shows unless they allow it; admins always see it.
        assert "(The Village Square)" not in bob.command("who")
        assert "Bob (The Village Square)" in _flat(alice.command("who"))
        bob.command("set where visible")
        assert "Bob (The Village Square)" in _flat(alice.command("who"))

        # Item 11: the homepage editor (its prompt is "homepage> ").
        def edit(line: str) -> str:
            bob.conn.write(line.encode() + b"\r\n")
            return bob.expect("homepage> ")

        bob.conn.write(b"homepage edit\r\n")
        bob.expect("homepage> ")
        edit("# Bob")
        edit("tpyo")
        assert "Line 2 is now: Hello." in edit(".replace 2 Hello.")
        out = edit(".list")
        assert "1 # Bob" in out and "2 Hello." in out
        assert "not saved yet" in edit(".preview")
        assert "Homepage saved." in bob.command(".")
        alice.close()
        bob.close()
