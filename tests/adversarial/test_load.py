"""``@load`` attacks over real sockets: a FIFO, files outside the world directory,
a file too big, a world of 20,000 rooms. A probe player keeps getting answers
within 1 s throughout, and nothing of a file outside the world dir is echoed.

Paths are absolute (inside the world dir) where the attack is the file
itself, so that the same test reproduces the stall on the old server, which
took paths from its working directory. The admin is made with
``ServerProcess(admins=("Root",))`` as the other e2e tests do.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from serverproc import ANSI, ServerProcess, TelnetClient

PROBE_BOUND = 1.0  # seconds: generous, the machine is shared
RSS_BOUND_KIB = 400 * 1024
SECRET = "root:$6$TOPSECRETSALT$abcdefghijklmnopqrstuvwxyz0123456789:19000:0:99999:7:::"


def _world(rooms: int) -> str:
    lines = [f"name: World of {rooms}", "start: r0", "rooms:"]
    for i in range(rooms):
        lines.append(f"  r{i}:")
        lines.append(f"    name: Room {i}")
        lines.append(f"    description: A plain room, number {i}, like the others.")
        lines.append(f"    exits: {{east: r{(i + 1) % rooms}, west: r{(i - 1) % rooms}}}")
    return "\n".join(lines) + "\n"


def _setup(tmp_path: Path) -> Path:
    worlds = tmp_path / "worlds"
    worlds.mkdir()
    return worlds


def _players(server: ServerProcess) -> tuple[TelnetClient, TelnetClient]:
    root = server.telnet()
    root.command("connect Root secret")
    probe = server.telnet()
    probe.command("create Pat secret")
    probe.timeout = PROBE_BOUND  # a prompt later than this fails the test
    return root, probe


def _load_while_probing(
    root: TelnetClient, probe: TelnetClient, command: str, answer: str, limit: float = 30.0
) -> tuple[str, float]:
    """Send ``command`` as the admin; probe with ``look`` until ``answer`` arrives.

    Returns the admin's output and the slowest probe round trip; a probe
    that waits more than PROBE_BOUND raises AssertionError.
    """
    root.conn.write(command.encode() + b"\r\n")
    output = ""
    slowest = 0.0
    deadline = time.monotonic() + limit
    while answer not in output:
        assert time.monotonic() < deadline, f"no {answer!r} within {limit} s: {output[-500:]!r}"
        started = time.monotonic()
        assert "The Hall" in probe.command("look")
        slowest = max(slowest, time.monotonic() - started)
        output += ANSI.sub("", root.conn.read_very_eager().decode("utf-8", "replace"))
        time.sleep(0.05)
    # The rest of the answer (it may be several lines).
    time.sleep(0.2)
    output += ANSI.sub("", root.conn.read_very_eager().decode("utf-8", "replace"))
    return output, slowest


def _rss_kib(server: ServerProcess) -> int:
    assert server.proc is not None
    with open(f"/proc/{server.proc.pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_load_of_a_fifo_is_refused_at_once(tmp_path: Path) -> None:
    """@load of a FIFO in the world dir is refused without waiting for a writer
    (it froze the whole server), and the probe keeps being answered."""
    worlds = _setup(tmp_path)
    os.mkfifo(worlds / "pipe.yaml")
    with ServerProcess(tmp_path, admins=("Root",), extra=("--world-dir", str(worlds))) as server:
        root, probe = _players(server)
        out, slowest = _load_while_probing(
            root, probe, f"@load {worlds / 'pipe.yaml'}", "only regular files"
        )
        assert "refused: it is a FIFO; only regular files are read" in out
        assert slowest < PROBE_BOUND
        assert "The Hall" in root.command("look")  # nothing changed


def test_load_outside_the_world_dir_is_refused_and_echoes_nothing(tmp_path: Path) -> None:
    """/etc/shadow, ../secret, an absolute path and a symlink out of the world dir are
    refused, saying so; not a character of the file reaches the admin."""
    worlds = _setup(tmp_path)
    secret = tmp_path / "secret.txt"
    secret.write_text((SECRET + "\n") * 25)
    (worlds / "link.yaml").symlink_to(secret)
    with ServerProcess(tmp_path, admins=("Root",), extra=("--world-dir", str(worlds))) as server:
        root, probe = _players(server)
        for path in ("/etc/shadow", "../secret.txt", str(secret), "link.yaml"):
            out, slowest = _load_while_probing(root, probe, f"@load {path}", "(--world-dir)", 15)
            assert "refused: @load reads only files under the world directory" in out, out
            assert "TOPSECRET" not in out and "root:" not in out
            assert slowest < PROBE_BOUND
        assert "The Hall" in root.command("look")


def test_load_of_a_big_file_is_refused_by_its_size(tmp_path: Path) -> None:
    """A file over 16 MiB is refused from its size, before a byte is read."""
    worlds = _setup(tmp_path)
    with open(worlds / "big.yaml", "wb") as f:
        f.truncate(106 * 1024 * 1024)  # sparse: the size of the file that stalled the server
    with ServerProcess(tmp_path, admins=("Root",), extra=("--world-dir", str(worlds))) as server:
        root, probe = _players(server)
        out, slowest = _load_while_probing(root, probe, f"@load {worlds / 'big.yaml'}", "at most")
        assert "refused: the file has 111,149,056 bytes; a world file may have at most" in out
        assert slowest < PROBE_BOUND
        assert _rss_kib(server) < RSS_BOUND_KIB


def test_load_of_20000_rooms_is_refused_and_5000_rooms_load_without_a_stall(
    tmp_path: Path,
) -> None:
    """A 20,000-room world (1.9 s on the loop before) is parsed in a worker and refused
    by the room cap; a 5,000-room world is parsed in a worker and swapped in, and the
    probe is answered within 1 s throughout."""
    worlds = _setup(tmp_path)
    (worlds / "huge.yaml").write_text(_world(20_000))
    big = _world(4_999).replace("start: r0", "start: hall").replace(
        "rooms:\n", "rooms:\n  hall: {name: The Hall, exits: {east: r0}}\n", 1
    )
    (worlds / "big.yaml").write_text(big)
    with ServerProcess(tmp_path, admins=("Root",), extra=("--world-dir", str(worlds))) as server:
        root, probe = _players(server)
        out, slowest = _load_while_probing(
            root, probe, f"@load {worlds / 'huge.yaml'}", "at most"
        )
        assert "'rooms' has 20,000 entries; a world file may have at most 5,000" in out
        assert slowest < PROBE_BOUND

        out, slowest = _load_while_probing(root, probe, "@load big.yaml", "NPCs.")
        assert "Loaded 'World of 4999' from big.yaml: 5000 rooms, 0 items, 0 NPCs." in out
        assert "The Hall" in root.command("look")
        assert slowest < PROBE_BOUND
        assert _rss_kib(server) < RSS_BOUND_KIB
