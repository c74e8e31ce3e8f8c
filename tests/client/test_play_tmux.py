"""``reality play`` in a real terminal (tmux), checked on the screen a person would see.

tmux runs the client in a 100x30 pseudo-terminal on a private socket;
``send-keys`` types and ``capture-pane`` reads the screen. This shows what
the pipe-input tests cannot: the password drawn as stars, colours drawn,
and a half-typed line still on the input row while another player's
speech scrolls in above it. Skipped when tmux is not installed.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from serverproc import ROOT, ServerProcess  # noqa: E402
from terminal import Tmux  # noqa: E402

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")

COLUMNS, ROWS = 100, 30


def rows(screen: str) -> list[str]:
    lines = screen.split("\n")
    return [line.rstrip() for line in lines[:ROWS]]


def test_screen_masks_the_password_and_keeps_the_typed_line(tmp_path):
    """On a real terminal: stars for the password, colours, typing undisturbed by speech."""
    tmux = Tmux(COLUMNS, ROWS)
    with ServerProcess(tmp_path) as server:
        port = server.ports["telnet"]
        command = (
            f"cd {ROOT} && XDG_DATA_HOME={tmp_path / 'data'} TERM=xterm-256color "
            f"{sys.executable} -m reality play 127.0.0.1 {port}; "
            f"echo EXIT=$?; sleep 5"
        )
        try:
            tmux.start(command)
            tmux.wait_for("Type your character's name")
            tmux.keys("Carol", "Enter")
            tmux.wait_for("Create a new character named Carol? (y/n)")
            tmux.keys("y", "Enter")
            tmux.wait_for("input hidden")
            tmux.keys("hunter22")
            screen = tmux.wait_for("********")
            assert "hunter22" not in screen
            tmux.keys("Enter")
            tmux.wait_for("Repeat the password")
            tmux.keys("hunter22", "Enter")
            screen = tmux.wait_for("exits: north")
            top = rows(screen)[0]
            assert "The Hall" in top and "[Carol]" in top
            assert "hunter22" not in screen

            colours = tmux.screen(escapes=True)
            assert "\x1b[" in colours.split("\n", 1)[1], "server colours reach the screen"

            bob = server.telnet()
            bob.command("create Bob secret")
            tmux.keys("say still typing")
            tmux.wait_for("say still typing")
            bob.command("say Sorry to interrupt!")
            screen = tmux.wait_for('Bob says, "Sorry to interrupt!"')
            lines = rows(screen)
            assert lines[-1].startswith("say still typing"), lines[-3:]
            speech = next(i for i, line in enumerate(lines) if "Sorry to interrupt" in line)
            assert speech < len(lines) - 2, "output stays above the status and input rows"
            tmux.keys(" here", "Enter")
            bob.expect('Carol says, "still typing here"')
            bob.close()

            tmux.keys("C-d")
            tmux.wait_for("EXIT=0")
            assert "disconnected from 127.0.0.1" in tmux.screen()
        finally:
            tmux.kill()
    history = (tmp_path / "data" / "reality" / "history").read_text()
    assert "+say still typing here" in history and "hunter22" not in history
