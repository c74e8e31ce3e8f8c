"""Attacks on logins, accounts, admin rights and the database, over real sockets.

- 45 telnet and 45 POP3 wrong passwords from one address at once: at most
  the limit (5) are checked, the rest are refused as throttled.
- 24 guesses at one name from 6 addresses, then the right password from a
  7th: the per-account delay refuses it.
- A stranger creating the ``--admin`` name: refused; admin rights come only
  from ``reality admin add``, and a running server sees a change at the
  next login.
- A database truncated to 0 bytes, another program's file, and 8 KiB of
  garbage in the middle of a real database: the server exits 1 with a
  message saying what to do (unless ``--init-db``).
- Sign-ups: the 6th account from one address in an hour is refused.

Every socket has a timeout, every wait is bounded, all traffic is on 127.0.0.1.
"""

from __future__ import annotations

import poplib
import socket
import sqlite3
import subprocess
import warnings
from pathlib import Path

from serverproc import ServerProcess

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import telnetlib

WRONG = "The name or the password is wrong."
THROTTLED = "Too many failed logins"


def telnet_from(port: int, source: str = "127.0.0.1", timeout: float = 10.0) -> telnetlib.Telnet:
    """A telnet connection from a chosen loopback address (Linux routes all of 127/8)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                    source_address=(source, 0))
    conn = telnetlib.Telnet()
    conn.sock = sock
    conn.host, conn.port, conn.timeout = "127.0.0.1", port, timeout
    conn.read_until(b"\n> ", timeout=timeout)
    return conn


def answer(conn: telnetlib.Telnet, line: str, timeout: float = 10.0) -> str:
    conn.write(line.encode() + b"\r\n")
    return conn.read_until(b"\n> ", timeout=timeout).decode("utf-8", "replace")


def run_server(server: ServerProcess, *extra: str, timeout: float = 15.0):
    """Run the server expecting it to refuse to start: (status, output)."""
    done = subprocess.run(server.argv() + list(extra), cwd=server.workdir, timeout=timeout,
                          capture_output=True, text=True)
    return done.returncode, done.stdout + done.stderr


def test_concurrent_wrong_passwords_over_telnet_and_pop3_check_at_most_the_limit(tmp_path):
    """90 wrong passwords sent at once from one address: at most 5 are checked."""
    with ServerProcess(tmp_path, admins=("Root",), expect=("telnet", "pop3")) as server:
        telnets = [telnet_from(server.ports["telnet"]) for _ in range(45)]
        pops = []
        for _ in range(45):
            client = poplib.POP3("127.0.0.1", server.ports["pop3"], timeout=10)
            client.user("Root")
            pops.append(client)
        # Every guess is on the wire before the first answer is read.
        for i, conn in enumerate(telnets):
            conn.write(f"connect Root wrong{i}\r\n".encode())
        for i, client in enumerate(pops):
            client._putcmd(f"PASS wrong{i}")
        checked = throttled = 0
        for conn in telnets:
            reply = conn.read_until(b"\n> ", timeout=10).decode("utf-8", "replace")
            checked += WRONG in reply
            throttled += THROTTLED in reply
            conn.close()
        for client in pops:
            try:
                client._getresp()
                raise AssertionError("a wrong password was accepted")
            except poplib.error_proto as exc:
                reply = str(exc)
            checked += "[AUTH]" in reply
            throttled += "[SYS/TEMP]" in reply
            client.sock.close()
        assert checked + throttled == 90
        assert 1 <= checked <= 5, f"{checked} passwords were checked (limit 5)"
        # And the right password is refused now too: the address is locked out.
        conn = telnet_from(server.ports["telnet"])
        assert THROTTLED in answer(conn, "connect Root secret")
        conn.close()


def test_guessing_from_many_addresses_is_delayed_per_account(tmp_path):
    """24 wrong guesses over 6 addresses, then the right one from a 7th: not let in yet."""
    with ServerProcess(tmp_path, admins=("Root",)) as server:
        port = server.ports["telnet"]
        for a in range(6):
            conn = telnet_from(port, f"127.0.0.{a + 2}")
            for i in range(4):
                reply = answer(conn, f"connect Root guess{a}x{i}")
                assert WRONG in reply or "Please wait" in reply, reply
            conn.close()
        conn = telnet_from(port, "127.0.0.9")
        reply = answer(conn, "connect Root secret")
        assert "Too many failed logins for that name" in reply, reply
        conn.close()


def test_a_stranger_cannot_create_the_admin_name(tmp_path):
    """--admin Root with no such account: `create Root` and the dialogue are refused."""
    with ServerProcess(tmp_path, extra=("--admin", "Root")) as server:
        conn = telnet_from(server.ports["telnet"])
        assert "reserved" in answer(conn, "create Root anything")
        assert "reserved" in answer(conn, "rOOT")
        assert "reserved" in answer(conn, "create root anything")
        conn.close()
        status = server.stop()
    assert status == 0
    with sqlite3.connect(server.db) as db:
        assert db.execute("SELECT COUNT(*) FROM accounts").fetchone()[0] == 0
    db.close()


def test_admin_rights_come_from_reality_admin_and_reach_a_running_server(tmp_path):
    """A player is not an admin; `reality admin add --grant` while running: next login is."""
    with ServerProcess(tmp_path) as server:
        conn = telnet_from(server.ports["telnet"])
        answer(conn, "create Pat secret")
        assert "Only admins" in answer(conn, "@stats")
        done = server.add_admin("Pat", "", "--grant")
        assert done.returncode == 0, done.stderr
        assert "Only admins" in answer(conn, "@stats"), "the change waits for the next login"
        conn.close()
        conn = telnet_from(server.ports["telnet"])
        answer(conn, "connect Pat secret")
        assert "tick lateness" in answer(conn, "@stats")
        conn.close()
        done = server.reality("admin", "remove", "Pat", "--db", str(server.db))
        assert done.returncode == 0, done.stderr
        conn = telnet_from(server.ports["telnet"])
        answer(conn, "connect Pat secret")
        assert "Only admins" in answer(conn, "@stats")
        conn.close()


def test_an_empty_database_file_stops_the_server_unless_init_db(tmp_path):
    """Truncated to 0 bytes: exit 1 with a clear message; --init-db starts fresh on purpose."""
    server = ServerProcess(tmp_path, admins=("Root",))
    server.start()
    server.stop()
    server.db.write_bytes(b"")
    for leftover in (Path(f"{server.db}-wal"), Path(f"{server.db}-shm")):
        leftover.unlink(missing_ok=True)
    bare = ServerProcess(tmp_path, db=server.db, extra=("--admin", "Root"))
    status, output = run_server(bare)
    assert status == 1
    assert "not a Reality database" in output and "--init-db" in output
    assert "Traceback" not in output
    assert server.db.read_bytes() == b"", "the refused file is left as it was"
    # Starting fresh on purpose: and the stranger still cannot take the admin name.
    fresh = ServerProcess(tmp_path, db=server.db, extra=("--admin", "Root", "--init-db"))
    with fresh:
        conn = telnet_from(fresh.ports["telnet"])
        assert "reserved" in answer(conn, "create Root anything")
        conn.close()


def test_another_programs_sqlite_file_stops_the_server(tmp_path):
    """An SQLite file with someone else's tables is not silently taken over."""
    db = tmp_path / "photos.sqlite3"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY)")
    conn.close()
    status, output = run_server(ServerProcess(tmp_path, db=db))
    assert status == 1 and "another program" in output and "Traceback" not in output


def test_garbage_in_the_middle_of_the_database_stops_the_server(tmp_path):
    """8 KiB of garbage mid-file in a real database: exit 1, saying how to restore."""
    server = ServerProcess(tmp_path, admins=("Root",))
    server.start()
    assert server.stop() == 0
    # Enough rows to make a file of a few hundred pages.
    with sqlite3.connect(server.db) as db:
        db.executemany(
            "INSERT INTO descriptions(kind, id, text) VALUES ('room', ?, ?)",
            [(f"r{i}", "words " * 100) for i in range(2000)],
        )
    db.close()
    size = server.db.stat().st_size
    assert size > 400_000
    with open(server.db, "r+b") as f:
        f.seek(size // 2)
        f.write(bytes((i * 131 + 7) % 251 for i in range(8192)))
    status, output = run_server(ServerProcess(tmp_path, db=server.db))
    assert status == 1, output
    assert "quick_check" in output or "malformed" in output
    assert "backup" in output and "Traceback" not in output


def test_signups_per_address_are_limited(tmp_path):
    """--max-signups-per-hour 5 (the default): the 6th character from one address is refused."""
    with ServerProcess(tmp_path) as server:
        conn = telnet_from(server.ports["telnet"])
        for name in ("Anna", "Bert", "Cleo", "Dora", "Emil"):
            assert "Welcome to" in answer(conn, f"create {name} secret")
            conn.close()
            conn = telnet_from(server.ports["telnet"])
        assert "Too many new characters" in answer(conn, "create Fred secret")
        assert "Too many new characters" in answer(conn, "Gina")
        conn.close()
        # Another address may still sign up.
        other = telnet_from(server.ports["telnet"], "127.0.0.5")
        assert "Welcome to" in answer(other, "create Hugo secret")
        other.close()
