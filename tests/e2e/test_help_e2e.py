"""End to end: help in the game over telnet and on the website over real sockets.

``run_server.py`` runs as a subprocess (port 0) on a world file with
``help:`` topics; the website is read with ``http.client`` and ``curl``,
the game with telnet. Every socket and subprocess has a timeout.
"""

from __future__ import annotations

import http.client
import shutil
import subprocess
from collections.abc import Iterator

import pytest
from serverproc import ServerProcess

TIMEOUT = 10.0
CURL = shutil.which("curl")

WORLD = """\
name: Help Town
start: hall
rooms:
  hall: {name: The Hall, description: A hall., exits: {north: library}}
  library: {name: The Library, exits: {south: hall}}
help:
  rules:
    text: "Be {bold}kind{/}. No spam."
    aliases: [conduct]
    category: About this world
  The town: "A {green}library{/} lies north of the hall."
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    workdir = tmp_path_factory.mktemp("help")
    world = workdir / "help.yaml"
    world.write_text(WORLD)
    with ServerProcess(workdir, world=world, expect=("telnet", "http")) as s:
        yield s
        status = s.stop()
    assert status == 0, s.output()
    assert "Traceback" not in s.output()


def get(server: ServerProcess, path: str) -> tuple[int, dict[str, str], str]:
    conn = http.client.HTTPConnection("127.0.0.1", server.ports["http"], timeout=TIMEOUT)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read().decode("utf-8")
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body
    finally:
        conn.close()


def test_help_pages_over_http_client(server: ServerProcess) -> None:
    """/help lists categories with links; /help/<topic> renders it; unknown is a 404 page."""
    status, headers, body = get(server, "/help")
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert '<html lang="en">' in body and "<main>" in body
    assert 'href="/help/rules"' in body and 'href="/help/the%20town"' in body
    assert "About this world" in body and "@dig" not in body
    status, _, body = get(server, "/help/rules")
    assert status == 200
    assert "<h1>rules</h1>" in body and '<span class="bold">kind</span>' in body
    status, _, body = get(server, "/help/the%20town")
    assert status == 200 and '<span class="fg2">library</span>' in body
    status, _, body = get(server, "/help/look")
    assert status == 200 and "<code>look [thing]</code>" in body
    status, _, body = get(server, "/help/nothing-here")
    assert status == 404 and "There is no help on <strong>nothing-here</strong>" in body
    status, headers, _ = get(server, "/help/ru")
    assert status == 302 and headers["location"] == "/help/rules"
    assert get(server, "/help/@shutdown")[0] == 404
    _, _, front = get(server, "/")
    assert '<a href="/help">Help</a>' in front


@pytest.mark.skipif(CURL is None, reason="curl is not installed")
def test_help_pages_over_curl(server: ServerProcess) -> None:
    """curl follows the prefix redirect to the topic and gets the same page as by name."""
    url = f"http://127.0.0.1:{server.ports['http']}"
    run = subprocess.run(
        [CURL or "curl", "--silent", "--show-error", "--max-time", "10", "--location",
         "--write-out", "\\n%{http_code} %{url_effective}", f"{url}/help/con"],
        capture_output=True, text=True, timeout=20,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    body, _, last = run.stdout.rpartition("\n")
    assert last == f"200 {url}/help/conduct" or last == f"200 {url}/help/rules"
    assert "No spam." in body


def test_help_in_the_game_over_telnet(server: ServerProcess) -> None:
    """help lists the world's topics; help <prefix>, help search and bad queries answer."""
    bob = server.telnet()
    try:
        bob.command("create Bob secret12")
        out = bob.command("help")
        assert "About this world: rules" in out and "guides: colour, movement, The town" in out
        out = bob.command("help con")
        assert "rules (also: conduct)" in out and "Be kind. No spam." in out
        out = bob.command("help search LIBRARY")
        assert "The town: A library lies north of the hall." in out
        assert "Search for what?" in bob.command("help search")
        assert "too long for a help topic" in bob.command("help " + "z" * 80)
    finally:
        bob.close()
