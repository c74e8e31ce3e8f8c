"""Run ``run_server.py`` as a real subprocess for end-to-end tests.

    with ServerProcess(tmp_path, world=TINY) as server:
        server.ports["telnet"]        # the port it picked (port 0)
        client = server.telnet()      # a logged-out TelnetClient

Every wait is bounded; the process is killed by its PID if it does not stop.
"""

from __future__ import annotations

import codecs
import os
import re
import selectors
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import telnetlib

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "world" / "tiny.yaml"
LISTENING = re.compile(
    r"(telnets|telnet|https|http|smtp|pop3s|pop3|imaps|imap) listening on (\S+):(\d+)"
)
ANSI = re.compile(r"\x1b\[[0-9;]*m")


class ServerProcess:
    """``python run_server.py`` on port 0 for every service, in a temp directory."""

    def __init__(
        self,
        workdir: Path,
        world: Path = TINY,
        db: Path | None = None,
        admins: tuple[str, ...] = (),
        extra: tuple[str, ...] = (),
        expect: tuple[str, ...] = ("telnet",),
        admin_password: str = "secret",
        nofile: int | None = None,
    ) -> None:
        self.workdir = workdir
        #: RLIMIT_NOFILE (soft and hard) for the server process, or None to inherit.
        self.nofile = nofile
        self.world = world
        self.db = db or workdir / "reality.sqlite3"
        #: Each is created with ``reality admin add`` (password ``admin_password``)
        #: before the server starts, and reserved with ``--admin``.
        self.admins = admins
        self.admin_password = admin_password
        self.extra = extra
        self.expect = expect
        self.proc: subprocess.Popen[str] | None = None
        self.ports: dict[str, int] = {}
        self.log: list[str] = []
        self._partial = ""
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")

    def argv(self) -> list[str]:
        argv = [
            sys.executable, str(ROOT / "run_server.py"),
            "--world", str(self.world), "--db", str(self.db),
            "--telnet-port", "0", "--http-port", "0", "--smtp-port", "0", "--pop3-port", "0",
            "--imap-port", "0",
        ]
        for admin in self.admins:
            argv += ["--admin", admin]
        return argv + list(self.extra)

    def reality(
        self, *args: str, stdin: str = "", timeout: float = 30.0
    ) -> subprocess.CompletedProcess[str]:
        """Run the ``reality`` command (e.g. ``admin add``) to completion."""
        return subprocess.run(
            [sys.executable, "-m", "reality", *args], cwd=ROOT, input=stdin,
            capture_output=True, text=True, timeout=timeout,
        )

    def add_admin(self, name: str, password: str, *flags: str) -> subprocess.CompletedProcess[str]:
        """``reality admin add NAME --db DB`` with the password on a pipe."""
        return self.reality("admin", "add", name, "--db", str(self.db), *flags,
                            stdin=password + "\n")

    def start(self, timeout: float = 20.0) -> ServerProcess:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        for admin in self.admins:
            done = self.add_admin(admin, self.admin_password)
            if done.returncode != 0 and "already an admin" not in done.stdout:
                raise AssertionError(f"reality admin add {admin} failed:\n{done.stderr}")
        self.proc = subprocess.Popen(
            self.argv(), cwd=self.workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, env=env, preexec_fn=self._limit if self.nofile is not None else None,
        )
        deadline = time.monotonic() + timeout
        while not all(name in self.ports for name in self.expect):
            line = self.read_line(deadline - time.monotonic())
            if line is None:
                self.kill()
                raise AssertionError("server did not start:\n" + "".join(self.log))
            match = LISTENING.search(line)
            if match:
                self.ports[match.group(1)] = int(match.group(3))
        return self

    def _limit(self) -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_NOFILE, (self.nofile, self.nofile))

    def cpu_seconds(self) -> float:
        """User plus system CPU time the server process has used (from /proc)."""
        assert self.proc is not None
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def open_files(self) -> int:
        """How many descriptors the server process holds (from /proc)."""
        assert self.proc is not None
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def read_line(self, timeout: float) -> str | None:
        """One line of the server's output, or None at exit or timeout."""
        assert self.proc is not None and self.proc.stdout is not None
        # Read the pipe ourselves: a buffered readline() could pull several
        # lines at once, and select() would then wait for lines already read.
        deadline = time.monotonic() + timeout
        while "\n" not in self._partial:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            with selectors.DefaultSelector() as sel:
                sel.register(self.proc.stdout, selectors.EVENT_READ)
                if not sel.select(remaining):
                    return None
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                line, self._partial = self._partial, ""
                if line:
                    self.log.append(line)
                return line or None
            self._partial += self._decoder.decode(chunk)
        line, _, self._partial = self._partial.partition("\n")
        line += "\n"
        self.log.append(line)
        return line

    def output(self) -> str:
        return "".join(self.log)

    def threads(self) -> int:
        """How many threads the server process has (from /proc)."""
        assert self.proc is not None
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("Threads:"):
                    return int(line.split()[1])
        raise AssertionError("no Threads: line")

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM, then wait; returns the exit status. Kills on timeout."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            out, _ = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"server did not stop within {timeout} s")
        self.log.append(self._partial + (out or ""))
        self._partial = ""
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def telnet(self, timeout: float = 10.0) -> TelnetClient:
        return TelnetClient(self.ports["telnet"], timeout)

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.stop()
            except AssertionError:
                pass


class TelnetClient:
    """The standard library's telnetlib, talking to the server like a person would."""

    def __init__(self, port: int, timeout: float = 10.0) -> None:
        self.timeout = timeout
        self.conn = telnetlib.Telnet("127.0.0.1", port, timeout=timeout)
        self.read_prompt()  # the banner

    def read_prompt(self) -> str:
        """Everything up to the next prompt ("> " at the start of a line), colour stripped."""
        data = self.conn.read_until(b"\n> ", timeout=self.timeout)
        if not data.endswith(b"\n> "):
            raise AssertionError(f"no prompt within {self.timeout} s; got {data[-500:]!r}")
        return ANSI.sub("", data.decode("utf-8", "replace"))

    def command(self, line: str) -> str:
        """Send a line and return the output up to the next prompt."""
        self.conn.write(line.encode() + b"\r\n")
        return self.read_prompt()

    def expect(self, text: str, timeout: float | None = None) -> str:
        """Read until ``text`` appears (e.g. something another player did)."""
        data = self.conn.read_until(text.encode(), timeout=timeout or self.timeout)
        decoded = ANSI.sub("", data.decode("utf-8", "replace"))
        if text not in decoded:
            raise AssertionError(f"{text!r} did not arrive; got {decoded[-500:]!r}")
        return decoded

    def read_all(self, timeout: float | None = None) -> str:
        """Everything until the server closes the connection."""
        deadline = time.monotonic() + (timeout or self.timeout)
        chunks = []
        while time.monotonic() < deadline:
            try:
                chunk = self.conn.read_some()
            except (EOFError, OSError):
                break
            if not chunk:
                break
            chunks.append(chunk)
        return ANSI.sub("", b"".join(chunks).decode("utf-8", "replace"))

    def close(self) -> None:
        self.conn.close()
