"""End to end: upgrading the code of a running server without dropping a telnet player (issue 17).

Real processes on 127.0.0.1: the old server, the new one it starts, raw
telnet clients that negotiate NAWS and a colour terminal, smtplib, a
client hammering ``connect()``, and an upgrade to a broken copy of the tree.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from serverproc import ROOT, ServerProcess
from terminal import Tmux
from upgradeclient import RawTelnet

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGUSR2"), reason="POSIX only")

DOMAIN = "reality.localhost"
SHIMMER = "The world shimmers, and steadies."

HAMMER = r"""
import socket, sys, time
port, stop = int(sys.argv[1]), sys.argv[2]
ok = refused = 0
deadline = time.monotonic() + 30
import os
while time.monotonic() < deadline and not os.path.exists(stop):
    s = socket.socket()
    s.settimeout(5)
    try:
        s.connect(("127.0.0.1", port))
        ok += 1
    except ConnectionRefusedError:
        refused += 1
    except OSError:
        pass
    finally:
        s.close()
    time.sleep(0.002)
print(f"ok={ok} refused={refused}", flush=True)
"""


def _pid_of(text: str) -> int:
    match = re.search(r"process (\d+);", text)
    assert match, text
    return int(match.group(1))


def _metric(port: int, name: str) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        body = response.read().decode()
    total = 0.0
    for line in body.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            total += float(line.rsplit(" ", 1)[1])
    return total


def _wait(predicate, timeout: float = 20.0, what: str = "condition") -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _log_until(server: ServerProcess, text: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in server.output():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"{text!r} not in the log:\n{server.output()[-3000:]}")
        server.read_line(remaining)


def _successor(pid_file: Path, old_pid: int) -> int:
    """The new process's pid from the pid file (0: none yet): a failed test must stop it too."""
    try:
        pid = int(pid_file.read_text())
    except (OSError, ValueError):
        return 0
    return pid if pid != old_pid else 0


def _kill_pid(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def test_upgrade_keeps_telnet_players_and_never_refuses(tmp_path: Path) -> None:
    pid_file = tmp_path / "reality.pid"
    server = ServerProcess(tmp_path, admins=("Boss",), extra=("--pid-file", str(pid_file)),
                           expect=("telnet", "http", "smtp"))
    server.start()
    new_pid = 0
    hammer = None
    try:
        port = server.ports["telnet"]
        old_pid = server.proc.pid  # type: ignore[union-attr]
        admin = RawTelnet(port)
        admin.expect("\n> ")
        admin.command("connect Boss secret")
        assert _pid_of(admin.command("@stats")) == old_pid
        alice = RawTelnet(port, width=132)
        alice.expect("\n> ")
        alice.command("create Alice wonderland1")
        bob = RawTelnet(port, width=60, ttype="DUMB", mccp=True)
        bob.expect("\n> ")
        bob.command("create Bobby builder12")
        carol = RawTelnet(port)  # half-way through the login dialogue
        carol.expect("\n> ")
        carol.line("Carol")
        carol.expect("(y/n)")
        seen = alice.command("look")
        assert "\x1b[" in seen, seen  # an XTERM-256COLOR terminal gets colour
        assert "\x1b[" not in bob.command("look")  # a dumb one does not
        alice.command("north")
        assert bob.streams_started == 1 and bob.streams_ended == 0  # MCCP2 on
        commands_before = _metric(server.ports["http"], "reality_commands_total")
        assert commands_before >= 4

        # An SMTP transaction in flight across the upgrade.
        smtp = smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=10)
        smtp.ehlo("tester.example")
        assert smtp.mail("friend@far.example")[0] == 250
        assert smtp.rcpt(f"alice@{DOMAIN}")[0] == 250

        stop_file = tmp_path / "stop-hammer"
        hammer = subprocess.Popen([sys.executable, "-c", HAMMER, str(port), str(stop_file)],
                                  stdout=subprocess.PIPE, text=True)
        time.sleep(0.3)
        alice.send(b"say half")  # half a line, finished after the upgrade

        os.kill(old_pid, signal.SIGUSR2)
        for client in (admin, alice, bob, carol):
            client.expect(SHIMMER, timeout=30)
        _wait(lambda: pid_file.exists() and pid_file.read_text().strip() != str(old_pid),
              what="the new process's pid file")
        new_pid = int(pid_file.read_text())
        assert new_pid != old_pid

        for client in (admin, bob):
            client.drain()
        carol.line("y")  # the dialogue carries on where it was
        carol.expect("assword", timeout=10)
        alice.send(b"way there\r\n")
        said = alice.expect("halfway there")  # one line: "say half" + "way there"
        assert "You say" in said, said
        alice.expect("\n> ")
        alice.drain()
        # The same sockets answer, from the new process.
        assert _pid_of(admin.command("@stats")) == new_pid
        here = alice.command("look")
        assert "Library" in here and "\x1b[" in here, here  # same room, still in colour
        # NAWS kept: 110 characters fit on one line at 132 columns, not at 60.
        words = " ".join(["abcdefghi"] * 11)
        wide = alice.command(f"say {words}")
        assert words in wide, wide
        narrow = bob.command(f"say {words}")
        assert words not in narrow and "\x1b[" not in narrow, narrow
        # MCCP2: the old stream ended cleanly and the new process started another.
        assert bob.streams_ended == 1 and bob.streams_started == 2

        # The SMTP transaction finishes on the old process; the letter is kept.
        code, _ = smtp.data(b"Subject: across\r\n\r\nSent during an upgrade.\r\n")
        assert code == 250
        smtp.quit()
        _wait(lambda: "across" in alice.command("mail"), what="the letter")

        # Counters continue.
        assert _metric(server.ports["http"], "reality_commands_total") >= commands_before

        # The old process exits 0 once its exchanges are done.
        assert server.proc.wait(timeout=20) == 0  # type: ignore[union-attr]
        stop_file.write_text("stop")
        out, _ = hammer.communicate(timeout=40)
        ok, refused = (int(x) for x in re.findall(r"=(\d+)", out))
        assert ok > 20 and refused == 0, out
        hammer = None
        assert _pid_of(admin.command("@stats")) == new_pid
        for client in (admin, alice, bob, carol):
            client.close()
    finally:
        if hammer is not None:
            hammer.kill()
            hammer.wait(timeout=10)
        new_pid = new_pid or _successor(pid_file, server.proc.pid)  # type: ignore[union-attr]
        if new_pid:
            _kill_pid(new_pid)
        server.kill()


class _CopyServer(ServerProcess):
    """The server run from a copy of the tree (``python -m reality`` in it)."""

    def __init__(self, workdir: Path, tree: Path, **kwargs: object) -> None:
        super().__init__(workdir, **kwargs)  # type: ignore[arg-type]
        self.tree = tree

    def argv(self) -> list[str]:
        argv = super().argv()
        return [sys.executable, "-m", "reality", "serve", *argv[2:]]

    def start(self, timeout: float = 20.0) -> ServerProcess:
        os.environ["PYTHONPATH"] = str(self.tree)
        try:
            saved, self.workdir = self.workdir, self.tree
            return super().start(timeout)
        finally:
            self.workdir = saved
            del os.environ["PYTHONPATH"]


def test_upgrade_to_broken_code_leaves_the_old_process_serving(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    shutil.copytree(ROOT / "reality", tree / "reality",
                    ignore=shutil.ignore_patterns("__pycache__"))
    pid_file = tmp_path / "reality.pid"
    server = _CopyServer(tmp_path, tree, admins=("Boss",),
                         extra=("--pid-file", str(pid_file)))
    server.start()
    try:
        old_pid = server.proc.pid  # type: ignore[union-attr]
        admin = RawTelnet(server.ports["telnet"])
        admin.expect("\n> ")
        admin.command("connect Boss secret")
        # A syntax error in a module the new process imports at start.
        with open(tree / "reality" / "upgrade.py", "a") as f:
            f.write("\ndef broken(:\n")
        os.kill(old_pid, signal.SIGUSR2)
        _log_until(server, "upgrade failed")
        assert "SyntaxError" in server.output(), server.output()
        assert _pid_of(admin.command("@stats")) == old_pid
        assert pid_file.read_text().strip() == str(old_pid)
        # @reload tells the admin why.
        admin.line("@reload")
        told = admin.expect("still running the old code", timeout=30)
        assert "Upgrading" in told
        assert "SyntaxError" in admin.expect("\n")
        assert _pid_of(admin.command("@stats")) == old_pid
        admin.close()
    finally:
        server.kill()


def _tintin() -> str | None:
    found = shutil.which("tt++")
    if found is None and os.access("/usr/games/tt++", os.X_OK):
        found = "/usr/games/tt++"
    return found


@pytest.mark.skipif(_tintin() is None, reason="TinTin++ (tt++) is not installed")
def test_tintin_keeps_playing_across_an_upgrade(tmp_path: Path) -> None:
    """TinTin++ under tmux (its own negotiation: NAWS, TTYPE/MTTS...): same session, new process."""
    pid_file = tmp_path / "reality.pid"
    tmux = Tmux(columns=110, rows=45)
    server = ServerProcess(tmp_path, extra=("--pid-file", str(pid_file)))
    server.start()
    new_pid = 0
    try:
        old_pid = server.proc.pid  # type: ignore[union-attr]
        tmux.start(f"cd {tmp_path} && HOME={tmp_path} TERM=xterm {_tintin()}")
        tmux.wait_for("T I N T I N")
        tmux.keys(f"#session s 127.0.0.1 {server.ports['telnet']}", "Enter")
        tmux.wait_for("create <name> <password>")
        tmux.keys("create Tina secret12", "Enter")
        tmux.wait_for("Welcome to Tiny Test World, Tina!")
        tmux.keys("north", "Enter")
        tmux.wait_for("Dusty shelves.")
        os.kill(old_pid, signal.SIGUSR2)
        tmux.wait_for(SHIMMER, timeout=30)
        _wait(lambda: pid_file.exists() and pid_file.read_text().strip() != str(old_pid),
              what="the new process's pid file")
        new_pid = int(pid_file.read_text())
        assert server.proc.wait(timeout=20) == 0  # type: ignore[union-attr]
        tmux.keys("say still here", "Enter")
        tmux.wait_for('You say, "still here"')
        tmux.keys("look", "Enter")
        screen = tmux.wait_for("Exits: south")
        assert "#SESSION 's' DIED" not in screen, screen
    finally:
        tmux.kill()
        new_pid = new_pid or _successor(pid_file, server.proc.pid)  # type: ignore[union-attr]
        if new_pid:
            _kill_pid(new_pid)
        server.kill()


def test_systemd_hears_reloading_then_the_new_main_pid(tmp_path: Path) -> None:
    """A fake NOTIFY_SOCKET: RELOADING=1 from the old process, MAINPID=<new> READY=1 from the
    new one, and no STOPPING=1 from the old one as it hands over."""
    path = str(tmp_path / "notify.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(path)
    listener.settimeout(10)
    os.environ["NOTIFY_SOCKET"] = path
    try:
        server = ServerProcess(tmp_path, extra=("--pid-file", str(tmp_path / "reality.pid")))
        server.start()
    finally:
        del os.environ["NOTIFY_SOCKET"]
    new_pid = 0
    try:
        old_pid = server.proc.pid  # type: ignore[union-attr]
        assert "READY=1" in listener.recv(4096).decode()
        os.kill(old_pid, signal.SIGUSR2)
        messages = []
        while not any("MAINPID=" in m for m in messages):
            messages.append(listener.recv(4096).decode())
        assert "RELOADING=1" in messages[0], messages
        match = re.search(r"MAINPID=(\d+)", messages[-1])
        assert match and "READY=1" in messages[-1], messages
        new_pid = int(match.group(1))
        assert new_pid != old_pid
        assert server.proc.wait(timeout=20) == 0  # type: ignore[union-attr]
        listener.settimeout(0.5)
        later = []
        try:
            while True:
                later.append(listener.recv(4096).decode())
        except TimeoutError:
            pass
        assert not any("STOPPING=1" in m for m in later), later
        assert (tmp_path / "reality.pid").read_text().strip() == str(new_pid)
    finally:
        old = server.proc.pid  # type: ignore[union-attr]
        new_pid = new_pid or _successor(tmp_path / "reality.pid", old)
        if new_pid:
            _kill_pid(new_pid)
        server.kill()
        listener.close()


def _imap_line(sock: socket.socket, tag: bytes, timeout: float = 10.0) -> bytes:
    """Read until the tagged answer ``tag`` (or the close); everything read."""
    sock.settimeout(timeout)
    data = b""
    while not re.search(rb"(^|\r\n)" + re.escape(tag) + rb" (OK|NO|BAD)", data):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def test_upgrade_closes_websocket_and_imap_cleanly_and_the_web_player_resumes(
    tmp_path: Path,
) -> None:
    """What cannot cross the process boundary is told and closed cleanly: a WebSocket player
    gets a resume token, the line and a clean close, then lands logged in on the new process
    with the token alone; an IMAP session gets ``* BYE`` (issues 17 and 18)."""
    from wsclient import WSPlayer

    pid_file = tmp_path / "reality.pid"
    server = ServerProcess(tmp_path, extra=("--pid-file", str(pid_file)),
                           expect=("telnet", "http", "imap"))
    server.start()
    new_pid = 0
    try:
        old_pid = server.proc.pid  # type: ignore[union-attr]
        web = WSPlayer(server.ports["http"])
        assert "Welcome" in web.command("create Webby secret99")
        web.command("north")

        imap = socket.create_connection(("127.0.0.1", server.ports["imap"]), timeout=10)
        assert _imap_line(imap, b"*").startswith(b"* OK")
        imap.sendall(b"a LOGIN Webby secret99\r\n")
        assert b"a OK" in _imap_line(imap, b"a")
        imap.sendall(b"b SELECT INBOX\r\n")
        assert b"b OK" in _imap_line(imap, b"b")

        os.kill(old_pid, signal.SIGUSR2)
        token = web.gmcp_named("Client.Resume", timeout=30)["token"]
        said = web.closed_with(timeout=30)
        assert "upgrade" in said.lower() or "shimmer" in said.lower(), said
        imap.settimeout(30)
        rest = b""
        while True:
            chunk = imap.recv(65536)
            if not chunk:
                break
            rest += chunk
        assert rest.startswith(b"* BYE"), rest
        imap.close()

        _wait(lambda: pid_file.exists() and pid_file.read_text().strip() != str(old_pid),
              what="the new process's pid file")
        new_pid = int(pid_file.read_text())
        # The web client's way back: a new socket, GMCP Client.Resume, no password.
        again = WSPlayer(server.ports["http"])
        assert again.codec.send_gmcp("Client.Resume", {"token": token}), again.raw[:200]
        again.ws.send(again.codec.data_to_send())
        back = again.expect("Library", timeout=15)
        assert "Webby" in back or "Library" in back, back
        assert "Library" in again.command("look")
        # The token was single use.
        third = WSPlayer(server.ports["http"])
        third.codec.send_gmcp("Client.Resume", {"token": token})
        third.ws.send(third.codec.data_to_send())
        assert "please log in again" in third.expect("please log in again", timeout=15)
        for player in (again, third):
            player.close()
        assert server.proc.wait(timeout=20) == 0  # type: ignore[union-attr]
    finally:
        new_pid = new_pid or _successor(pid_file, server.proc.pid)  # type: ignore[union-attr]
        if new_pid:
            _kill_pid(new_pid)
        server.kill()
