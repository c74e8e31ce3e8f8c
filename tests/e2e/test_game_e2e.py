"""End to end: run_server.py in a subprocess, played over real sockets with telnetlib."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from serverproc import ROOT, TINY, ServerProcess

GOOD_WORLD = """\
name: Reloaded World
start: hall
rooms:
  hall:
    name: The Great Hall
    description: Rebuilt and taller.
    exits: {east: annex}
  annex:
    name: The Annex
    description: New paint.
    exits: {west: hall}
items:
  lamp: {name: brass lamp, description: A brass lamp., location: hall}
"""

BAD_WORLD = """\
name: Broken
start: hall
rooms:
  hall:
    name: Hall
    description: x
    exits: {north: nowhere}
"""


def test_play_create_look_move_say_get_drop_give(tmp_path):
    """Two players over real telnet: create, look, move, speech, get/drop/give, one thread."""
    with ServerProcess(tmp_path) as server:
        alice = server.telnet()
        out = alice.command("create Alice secret")
        assert "The Hall" in out
        bob = server.telnet()
        assert "The Hall" in bob.command("create Bob secret")
        alice.expect("Bob has entered the game.")

        out = alice.command("look")
        assert "A long hall." in out and "Bob" in out and "brass lamp" in out

        alice.command("say Hello, Bob!")
        bob.expect('Alice says, "Hello, Bob!"')

        assert "You pick up the brass lamp" in alice.command("get lamp")
        bob.expect("Alice picks up the brass lamp")
        assert "brass lamp" in alice.command("inventory")
        out = alice.command("give lamp to Bob")
        assert "You give the brass lamp to Bob" in out
        bob.expect("Alice gives you the brass lamp")
        assert "brass lamp" in bob.command("i")
        assert "You drop the brass lamp" in bob.command("drop lamp")

        assert "The Library" in alice.command("n")
        bob.expect("Alice")
        assert "Alice" in bob.command("who")
        assert server.threads() == 1
        alice.close()
        bob.close()


def test_sigterm_saves_state_and_restart_restores_it(tmp_path):
    """SIGTERM tells players, exits 0 in time; after restart positions and items persist."""
    with ServerProcess(tmp_path) as server:
        alice = server.telnet()
        alice.command("create Alice secret")
        alice.command("get lamp")
        alice.command("n")
        bob = server.telnet()
        bob.command("create Bob secret")
        bob.command("n")
        bob.command("s")
        started = time.monotonic()
        status = server.stop(timeout=10)
        assert status == 0, server.output()
        assert time.monotonic() - started < 5
        assert "shutting down" in alice.read_all(timeout=5).lower()
    with ServerProcess(tmp_path) as server:
        alice = server.telnet()
        out = alice.command("connect Alice secret")
        assert "The Library" in out
        assert "brass lamp" in alice.command("i")
        bob = server.telnet()
        assert "The Hall" in bob.command("connect Bob secret")
        assert "wrong" in server.telnet().command("connect Alice nope")


def test_admin_load_good_and_bad_world_files(tmp_path):
    """@load of a bad file reports file:line and changes nothing; a good one replaces the world."""
    good = tmp_path / "good.yaml"
    good.write_text(GOOD_WORLD)
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD_WORLD)
    with ServerProcess(
        tmp_path, admins=("Root",), extra=("--world-dir", str(tmp_path))
    ) as server:
        root = server.telnet()
        root.command("connect Root secret")
        player = server.telnet()
        player.command("create Pat secret")
        player.command("n")

        stats = root.command("@stats")
        assert "tick lateness" in stats and "2 players online" in stats
        assert "Only admins can use @stats." in player.command("@stats")

        # The file is read in a worker: the answer follows the prompt.
        out = root.command("@load bad.yaml") + root.expect("nowhere")
        assert "bad.yaml:7" in out and "nowhere" in out
        assert "The Hall" in root.command("look")

        out = root.command(f"@load {good}") + root.expect("Loaded 'Reloaded World'")
        assert "The Great Hall" in root.command("look")
        # Pat stood in the library, which is gone: back to the start room.
        assert "The Great Hall" in player.command("look")
        assert "The Annex" in root.command("e")

        assert "Only admins can use @load." in player.command("@load bad.yaml")


def test_bad_world_file_refuses_to_start_with_file_and_line(tmp_path):
    """The server exits 1 on a bad world file, printing file:line and the problem, no traceback."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD_WORLD)
    result = subprocess.run(
        [sys.executable, str(ROOT / "run_server.py"), "--world", str(bad), "--db",
         str(tmp_path / "db.sqlite3"), "--telnet-port", "0"],
        capture_output=True, text=True, timeout=30,
    )
    assert result.returncode == 1
    assert f"{bad}:7" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("db", ["missing-dir/reality.sqlite3", "not-a-database.txt"])
def test_a_database_that_cannot_be_opened_is_a_message_and_status_1(tmp_path, db):
    """A --db in a missing directory, or a file that is not SQLite: status 1, a message."""
    (tmp_path / "not-a-database.txt").write_text("hello, this is not SQLite\n" * 100)
    result = subprocess.run(
        [sys.executable, str(ROOT / "run_server.py"), "--world", str(TINY), "--db", db,
         "--telnet-port", "0", "--http-port", "0", "--smtp-port", "0", "--pop3-port", "0"],
        capture_output=True, text=True, timeout=30, cwd=tmp_path,
    )
    assert result.returncode == 1
    assert f"cannot open the database {db}" in result.stderr
    assert "Traceback" not in result.stderr


def test_help_documents_every_flag():
    """run_server.py --help names every flag the issue pins, and exits 0."""
    result = subprocess.run([sys.executable, str(ROOT / "run_server.py"), "--help"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    for flag in ("--world", "--db", "--bind", "--telnet-port", "--http-port", "--smtp-port",
                 "--pop3-port", "--mail-domain", "--admin", "--max-per-address",
                 "--idle-timeout", "--reactor", "--world-dir"):
        assert flag in result.stdout, flag


def test_check_world_command(tmp_path):
    """reality check-world exits 0 for a good file and 1 with file:line errors for a bad one."""
    ok = subprocess.run([sys.executable, "-m", "reality", "check-world", str(TINY)],
                        capture_output=True, text=True, timeout=30, cwd=ROOT)
    assert ok.returncode == 0, ok.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD_WORLD)
    result = subprocess.run([sys.executable, "-m", "reality", "check-world", str(bad)],
                            capture_output=True, text=True, timeout=30, cwd=ROOT)
    assert result.returncode == 1
    assert f"{bad}:7" in result.stderr


def test_world_dir_must_be_a_directory(tmp_path):
    """serve --world-dir with something that is not a directory exits 1 with a message."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "run_server.py"), "--world", str(TINY), "--db",
         str(tmp_path / "db.sqlite3"), "--telnet-port", "0", "--world-dir",
         str(tmp_path / "nope")],
        capture_output=True, text=True, timeout=30,
    )
    assert result.returncode == 1
    assert "--world-dir" in result.stderr and "is not a directory" in result.stderr
    assert "Traceback" not in result.stderr


def test_default_world_is_playable(tmp_path):
    """The shipped world loads and can be walked."""
    with ServerProcess(tmp_path, world=ROOT / "world" / "default.yaml") as server:
        player = server.telnet()
        out = player.command("create Walker secret")
        assert "Exits:" in out
        assert "Exits:" in player.command("n")
