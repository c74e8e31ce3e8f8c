"""Debian's plain ``telnet`` (inetutils) in a real terminal: the README's first client.

Plain telnet switches to character mode with local echo when a server says
WILL SGA, and then every typed line shows ``^M`` and every Backspace ``^?``.
The server offers no SGA, so telnet stays in line mode: what a person types
and corrects looks clean, and the password is hidden (WILL ECHO) without
leaving line mode.
"""

from __future__ import annotations

import shutil

import pytest
from serverproc import ServerProcess
from terminal import Tmux

TELNET = shutil.which("telnet")
pytestmark = pytest.mark.skipif(TELNET is None, reason="telnet is not installed")


@pytest.fixture
def session(tmp_path):
    tmux = Tmux(columns=100, rows=40)
    with ServerProcess(tmp_path) as server:
        tmux.start(f"{TELNET} 127.0.0.1 {server.ports['telnet']}")
        try:
            tmux.wait_for("create <name> <password>")
            yield tmux
        finally:
            tmux.kill()


def test_plain_telnet_types_and_corrects_cleanly(session):
    """A typed command, corrected with Backspace, shows no ^M or ^? and runs as corrected."""
    session.keys("create Tester secret12", "Enter")
    session.wait_for("Welcome to Tiny Test World, Tester!")
    session.keys("lokk")
    session.keys("BSpace", "BSpace")
    session.keys("ok", "Enter")
    session.wait_for("> look\n")
    # The room comes twice: at login, and for the corrected look.
    screen = session.wait_until(lambda text: text.count("The Hall") == 2)
    assert "^M" not in screen and "^?" not in screen, screen
    assert "I don't understand" not in screen, screen



def test_plain_telnet_hides_the_password_then_echoes_again(session):
    """The interactive login hides the password, then typing is shown again, in line mode."""
    session.keys("Wendy", "Enter")
    session.wait_for("Create a new character named Wendy")
    session.keys("y", "Enter")
    session.wait_for("Choose a password:")
    session.keys("hunter2hunter2", "Enter")
    session.wait_for("Repeat the password")
    session.keys("hunter2hunter2", "Enter")
    session.wait_for("Welcome to Tiny Test World, Wendy!")
    session.keys("say hi", "Enter")
    screen = session.wait_for("You say")
    assert "hunter2" not in screen, screen
    assert "> say hi" in screen, screen  # local echo is back
    assert "^M" not in screen and "^?" not in screen, screen


def test_plain_telnet_leaves_a_password_prompt_with_quit(session):
    """quit at the password prompt is not taken as a password: back to the name prompt."""
    session.keys("Wendy", "Enter")
    session.wait_for("Create a new character named Wendy")
    session.keys("y", "Enter")
    session.wait_for("Choose a password:")
    session.keys("quit", "Enter")
    session.wait_for("Never mind. Type your character's name")
    session.keys("look", "Enter")
    screen = session.wait_for("can't be a name")
    assert "Goodbye" not in screen and session.alive(), screen
    session.keys("connect Wendy hunter2hunter2", "Enter")
    screen = session.wait_for("The name or the password is wrong.")
    assert "^M" not in screen and "^?" not in screen, screen
