"""TinTin++ in a real terminal: what the game's help tells its users works as typed.

TinTin++ keeps lines starting with ``#`` for its own commands and splits
lines at ``;``. ``help homepage`` says how to send a Markdown heading
anyway (``\\# Title``); this types exactly that into TinTin++ under tmux
and reads the homepage editor's own listing and the page on the web.
"""

from __future__ import annotations

import http.client
import os
import shutil

import pytest
from serverproc import ServerProcess
from terminal import Tmux


def find_tintin() -> str | None:
    found = shutil.which("tt++")
    if found is None and os.access("/usr/games/tt++", os.X_OK):
        found = "/usr/games/tt++"
    return found


TINTIN = find_tintin()
pytestmark = pytest.mark.skipif(TINTIN is None, reason="TinTin++ (tt++) is not installed")


def test_tintin_sends_a_heading_the_way_help_says(tmp_path):
    """`help homepage` names `\\#`; typed in TinTin++, it reaches the editor as `# Title`."""
    tmux = Tmux(columns=110, rows=45)
    with ServerProcess(tmp_path, expect=("telnet", "http")) as server:
        tmux.start(f"cd {tmp_path} && HOME={tmp_path} TERM=xterm {TINTIN}")
        try:
            tmux.wait_for("T I N T I N")
            tmux.keys(f"#session s 127.0.0.1 {server.ports['telnet']}", "Enter")
            tmux.wait_for("create <name> <password>")
            tmux.keys("create Tina secret12", "Enter")
            tmux.wait_for("Welcome to Tiny Test World, Tina!")
            tmux.keys("help homepage", "Enter")
            screen = tmux.wait_for("Title")
            assert "\\# Title" in screen, screen
            tmux.keys("homepage edit", "Enter")
            tmux.wait_for("homepage>")
            tmux.keys("\\# Travels of Tina", "Enter")
            tmux.keys("I walked north\\; then south.", "Enter")
            tmux.keys(".list", "Enter")
            screen = tmux.wait_for("2 I walked north; then south.")
            assert "1 # Travels of Tina" in screen, screen
            tmux.keys(".", "Enter")
            tmux.wait_for("Homepage saved.")
        finally:
            tmux.kill()
        web = http.client.HTTPConnection("127.0.0.1", server.ports["http"], timeout=10)
        web.request("GET", "/~tina")
        page = web.getresponse().read().decode()
        web.close()
        assert "<h2>Travels of Tina</h2>" in page  # headings sit under the page's own h1
        assert "I walked north; then south." in page


def test_tintin_with_its_screen_reader_on_gets_screen_reader_text(tmp_path):
    """`#config {SCREEN READER} ON` (MTTS 335): plain, speakable text from the banner on."""
    tmux = Tmux(columns=110, rows=45)
    with ServerProcess(tmp_path, expect=("telnet", "http")) as server:
        tmux.start(f"cd {tmp_path} && HOME={tmp_path} TERM=xterm {TINTIN}")
        try:
            tmux.wait_for("T I N T I N")
            tmux.keys("#config {SCREEN READER} ON", "Enter")
            tmux.keys(f"#session s 127.0.0.1 {server.ports['telnet']}", "Enter")
            # The login help's "create <name> <password> | connect ..." as words.
            screen = tmux.wait_for("create name password, connect name password")
            assert "===" not in screen, screen  # the banner's rule is decoration
            tmux.keys("create Sam secret12", "Enter")
            tmux.wait_for("Welcome to Tiny Test World, Sam!")
            screen = tmux.wait_for("Exits: north to The Library.")
            tmux.keys("n", "Enter")
            screen = tmux.wait_for("Exits: south to The Hall.")
            tmux.keys("set", "Enter")
            screen = tmux.wait_for("screenreader: auto")
        finally:
            tmux.kill()
