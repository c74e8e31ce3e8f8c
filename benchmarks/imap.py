"""IMAP benchmark: IDLE push latency under SMTP load, and a FETCH-heavy sync beside a peer.

    .venv/bin/python benchmarks/imap.py                        # both parts, defaults below
    .venv/bin/python benchmarks/imap.py --sessions 200 --rate 200 --seconds 5
    .venv/bin/python benchmarks/imap.py --letters 10000 --peer pop3   # sync beside POP3

Part 1, push: ``run_server.py`` as shipped, on a fresh database with
``--sessions`` accounts. One IMAP session per account logs in, selects
INBOX and idles (RFC 2177). One load process then delivers letters by SMTP
at ``--rate`` a second for ``--seconds`` (round robin over the accounts,
over a few pipelining SMTP connections), and every idling session reads
its ``* n EXISTS``. Printed: letters delivered, and the p50/p99/max of the
time from the end of a letter's DATA to the EXISTS its recipient sees
(the commit, the ``250`` and the push), and from its ``250`` to the EXISTS.

Part 2, sync: a mailbox of ``--letters`` letters (~1.5 KiB each), filled
directly into the store, is synced the way a mail app's first sync goes:
``SELECT INBOX``, ``UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE)``,
then the bodies, ``UID FETCH a:b (BODY.PEEK[])`` 200 at a time. The same
sync runs against Dovecot (Debian's ``dovecot-imapd``) when it is
installed: the benchmark writes it a config and a Maildir holding the same
letters, starts it on a loopback port as its own child and stops it by
its PID. Without Dovecot (or with ``--peer pop3``) the peer is the same
mailbox over Reality's POP3 (``LIST``, then ``RETR`` of every letter,
pipelined 200 at a time). Printed: seconds, letters/s and MB/s.

Every wait is bounded; every process started here is stopped by its PID.
"""

from __future__ import annotations

import os
import re
import selectors
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

ROOT = common.ROOT
DOMAIN = "reality.localhost"
PASSWORD = "benchmark"
BODY = (("The quick brown fox jumps over the lazy dog. " * 2 + "\r\n") * 15).encode()


def message(n: int, to: str) -> bytes:
    return (
        f"From: Load Generator <load@bench.example>\r\nTo: <{to}>\r\n"
        f"Subject: benchmark letter {n}\r\nDate: Fri, 27 Nov 2026 10:00:00 +0000\r\n"
        f"Message-ID: <imap-bench-{n}@bench.example>\r\n\r\n"
    ).encode() + BODY


# -- the server -----------------------------------------------------------------------


class Reality:
    """``run_server.py`` on a fresh database in ``workdir`` with ``accounts``."""

    def __init__(self, workdir: Path, accounts: list[str]) -> None:
        self.workdir = workdir
        self.db = workdir / "reality.sqlite3"
        self.log = workdir / "reality.log"
        self.accounts = accounts
        self.proc: subprocess.Popen[bytes] | None = None
        self.ports: dict[str, int] = {}

    def create(self) -> None:
        from reality.game.accounts import hash_password
        from reality.game.mail import ensure_schema
        from reality.game.store import Store

        store = Store(str(self.db))
        ensure_schema(store)
        stored = hash_password(PASSWORD, n=2**4, r=1, p=1)
        for name in self.accounts:
            store.create_account(name, stored, now=0)
        store.close()

    def start(self) -> None:
        out = open(self.log, "wb")  # noqa: SIM115 - the child owns it until it exits
        argv = common.run_server_argv(ROOT / "world" / "tiny.yaml", self.db,
                                      "--max-per-address", "0")
        self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=self.workdir)
        out.close()
        self.ports = common.wait_listening(self.log, self.proc, ["smtp", "pop3", "imap"], 60)

    def stop(self) -> None:
        if self.proc is not None:
            common.stop_process(self.proc, timeout=20)


def fill_store(db: Path, key: str, letters: int) -> None:
    """``letters`` letters straight into ``key``'s INBOX (past the delivery limit, on purpose)."""
    conn = sqlite3.connect(db)
    try:
        now = time.time()
        rows = []
        for n in range(1, letters + 1):
            data = message(n, f"{key}@{DOMAIN}")
            rows.append((key, n, "load@bench.example", "Load Generator", f"benchmark letter {n}",
                         now, now, BODY.decode(), data))
        with conn:
            conn.executemany(
                "INSERT INTO letters(owner, mailbox, uid, sender, from_header, subject, sent_at,"
                " received_at, body, message) VALUES (?, 'INBOX', ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            conn.execute(
                "INSERT OR REPLACE INTO mail_folders(owner, name, uidvalidity, uidnext)"
                " VALUES (?, 'INBOX', ?, ?)", (key, int(now), letters + 1))
    finally:
        conn.close()


# -- part 1: IDLE sessions and SMTP load ---------------------------------------------------


class Idler:
    """One IMAP session: LOGIN, SELECT INBOX, IDLE; then it counts EXISTS."""

    def __init__(self, port: int, user: str) -> None:
        self.user = user
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.setblocking(False)
        self.buf = b""
        self.state = "greeting"
        self.exists = 0
        #: Per letter sent to this user: (end of DATA, time of its 250 or None).
        self.pending: list[list[float | None]] = []
        self.latencies: list[tuple[float, float]] = []

    def send(self, data: bytes) -> None:
        self.sock.setblocking(True)
        self.sock.sendall(data)
        self.sock.setblocking(False)

    def readable(self) -> None:
        try:
            chunk = self.sock.recv(65536)
        except BlockingIOError:
            return
        if not chunk:
            raise RuntimeError(f"IMAP session of {self.user} closed in state {self.state}")
        now = time.perf_counter()
        self.buf += chunk
        while b"\r\n" in self.buf:
            line, self.buf = self.buf.split(b"\r\n", 1)
            self.line(line, now)

    def line(self, line: bytes, now: float) -> None:
        if self.state == "greeting":
            self.send(f"a LOGIN {self.user} {PASSWORD}\r\n".encode())
            self.state = "login"
        elif self.state == "login" and line.startswith(b"a "):
            if not line.startswith(b"a OK"):
                raise RuntimeError(f"login of {self.user}: {line!r}")  # noqa: TRY003
            self.send(b"b SELECT INBOX\r\n")
            self.state = "select"
        elif self.state == "select" and line.startswith(b"b "):
            self.send(b"c IDLE\r\n")
            self.state = "idle?"
        elif self.state == "idle?" and line.startswith(b"+"):
            self.state = "idle"
        elif self.state == "idle" and line.endswith(b" EXISTS"):
            count = int(line.split()[1])
            for _ in range(count - self.exists):
                if self.pending:
                    data_end, acked = self.pending.pop(0)
                    assert data_end is not None
                    self.latencies.append((now - data_end, now - (acked or now)))
            self.exists = count


class Sender:
    """One SMTP connection delivering one letter at a time (MAIL/RCPT/DATA pipelined)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.file = self.sock.makefile("rb")
        self.file.readline()
        self.sock.sendall(b"EHLO bench.example\r\n")
        while not self.file.readline().startswith(b"250 "):
            pass
        self.sock.setblocking(False)
        self.buf = b""
        self.busy: tuple[Idler, list[float | None], bytes] | None = None
        self.replies = 0
        self.acked = 0

    def start(self, idler: Idler, n: int) -> None:
        to = f"{idler.user.lower()}@{DOMAIN}"
        entry: list[float | None] = [None, None]
        self.busy = (idler, entry, message(n, to).replace(b"\r\n.", b"\r\n.."))
        self.replies = 0
        self.sock.setblocking(True)
        self.sock.sendall(f"MAIL FROM:<load@bench.example>\r\nRCPT TO:<{to}>\r\nDATA\r\n".encode())
        self.sock.setblocking(False)

    def readable(self) -> None:
        try:
            chunk = self.sock.recv(65536)
        except BlockingIOError:
            return
        now = time.perf_counter()
        self.buf += chunk
        while b"\r\n" in self.buf and self.busy is not None:
            line, self.buf = self.buf.split(b"\r\n", 1)
            idler, entry, data = self.busy
            self.replies += 1
            if line.startswith(b"354"):
                self.sock.setblocking(True)
                self.sock.sendall(data + b"\r\n.\r\n")
                self.sock.setblocking(False)
                entry[0] = time.perf_counter()
                idler.pending.append(entry)
            elif self.replies == 4:
                if not line.startswith(b"250"):
                    raise RuntimeError(f"delivery refused: {line!r}")
                entry[1] = now
                self.acked += 1
                self.busy = None
            elif not line.startswith(b"250"):
                raise RuntimeError(f"SMTP: {line!r}")


def push(sessions: int, rate: float, seconds: float, senders: int) -> None:
    accounts = [f"Idle{chr(97 + i // 26 // 26 % 26)}{chr(97 + i // 26 % 26)}{chr(97 + i % 26)}"
                for i in range(sessions)]
    with tempfile.TemporaryDirectory(prefix="imap-bench-") as tmp:
        server = Reality(Path(tmp), accounts)
        server.create()
        server.start()
        sel = selectors.DefaultSelector()
        try:
            # A few logins at a time: one address's concurrent password checks
            # are bounded by the authenticator (a guesser's burst waits), and
            # this is one address.
            idlers: list[Idler] = []
            deadline = time.monotonic() + 120
            while len(idlers) < len(accounts) or any(i.state != "idle" for i in idlers):
                if time.monotonic() > deadline:
                    raise RuntimeError("sessions did not all reach IDLE in 120 s")
                while (len(idlers) < len(accounts)
                       and sum(i.state in ("greeting", "login") for i in idlers) < 4):
                    idler = Idler(server.ports["imap"], accounts[len(idlers)])
                    sel.register(idler.sock, selectors.EVENT_READ, idler)
                    idlers.append(idler)
                for key, _ in sel.select(0.5):
                    key.data.readable()
            pool = [Sender(server.ports["smtp"]) for _ in range(senders)]
            for s in pool:
                sel.register(s.sock, selectors.EVENT_READ, s)
            total = int(rate * seconds)
            started = time.perf_counter()
            sent = 0
            deadline = time.monotonic() + seconds + 30
            while time.monotonic() < deadline:
                now = time.perf_counter()
                due = min(total, int((now - started) * rate) + 1)
                while sent < due:
                    free = next((s for s in pool if s.busy is None), None)
                    if free is None:
                        break
                    free.start(idlers[sent % len(idlers)], sent)
                    sent += 1
                received = sum(len(i.latencies) for i in idlers)
                if sent == total and received == total:
                    break
                for key, _ in sel.select(0.002):
                    key.data.readable()
            elapsed = time.perf_counter() - started
            data_to_exists = sorted(a for i in idlers for a, _ in i.latencies)
            ack_to_exists = sorted(b for i in idlers for _, b in i.latencies)
            acked = sum(s.acked for s in pool)
            print(f"push: {sessions} idling sessions, {acked} letters acknowledged in"
                  f" {elapsed:.1f} s ({acked / elapsed:.0f}/s), {len(data_to_exists)} EXISTS seen")
            for name, values in (("end of DATA -> EXISTS", data_to_exists),
                                 ("250 -> EXISTS", ack_to_exists)):
                if values:
                    print(f"  {name:22} p50 {1000 * common.percentile(values, 50):6.1f} ms"
                          f"  p99 {1000 * common.percentile(values, 99):6.1f} ms"
                          f"  max {1000 * values[-1]:6.1f} ms")
        finally:
            sel.close()
            server.stop()


# -- part 2: a FETCH-heavy sync ----------------------------------------------------------


def read_response(sock: socket.socket, tag: bytes, buf: bytearray) -> tuple[int, int]:
    """Read until the tagged reply ``tag``; literals skipped by their size. (literals, octets)"""
    literals = octets = 0
    while True:
        end = buf.find(b"\r\n")
        while end < 0:
            chunk = sock.recv(1 << 20)
            if not chunk:
                raise RuntimeError("connection closed mid-response")
            buf += chunk
            end = buf.find(b"\r\n")
        line = bytes(buf[:end])
        del buf[: end + 2]
        match = re.search(rb"\{(\d+)\}$", line)
        if match:
            size = int(match.group(1))
            while len(buf) < size:
                chunk = sock.recv(1 << 20)
                if not chunk:
                    raise RuntimeError("connection closed mid-literal")
                buf += chunk
            del buf[:size]
            literals += 1
            octets += size
            continue
        if line.startswith(tag + b" "):
            if not line.startswith(tag + b" OK"):
                raise RuntimeError(f"{line!r}")
            return literals, octets


def imap_sync(port: int, user: str, password: str, letters: int, batch: int = 200
              ) -> tuple[float, int]:
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    buf = bytearray()
    try:
        started = time.perf_counter()
        while b"\r\n" not in buf:
            buf += sock.recv(4096)
        del buf[: buf.find(b"\r\n") + 2]
        sock.sendall(f"a LOGIN {user} {password}\r\nb SELECT INBOX\r\n".encode())
        read_response(sock, b"a", buf)
        read_response(sock, b"b", buf)
        sock.sendall(b"c UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE)\r\n")
        read_response(sock, b"c", buf)
        got = octets = 0
        for first in range(1, letters + 1, batch):
            last = min(letters, first + batch - 1)
            sock.sendall(f"d{first} UID FETCH {first}:{last} (BODY.PEEK[])\r\n".encode())
            n, size = read_response(sock, f"d{first}".encode(), buf)
            got += n
            octets += size
        elapsed = time.perf_counter() - started
        sock.sendall(b"z LOGOUT\r\n")
    finally:
        sock.close()
    if got != letters:
        raise RuntimeError(f"synced {got} of {letters} letters")
    return elapsed, octets


def pop3_sync(port: int, user: str, password: str, letters: int, batch: int = 200
              ) -> tuple[float, int]:
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    f = sock.makefile("rb")
    try:
        started = time.perf_counter()
        f.readline()
        sock.sendall(f"USER {user}\r\nPASS {password}\r\nLIST\r\n".encode())
        f.readline()
        if not f.readline().startswith(b"+OK"):
            raise RuntimeError("POP3 login failed")
        while f.readline() != b".\r\n":
            pass
        octets = got = 0
        for first in range(1, letters + 1, batch):
            last = min(letters, first + batch - 1)
            sock.sendall(b"".join(b"RETR %d\r\n" % n for n in range(first, last + 1)))
            for _ in range(first, last + 1):
                if not f.readline().startswith(b"+OK"):
                    raise RuntimeError("RETR refused")
                while (line := f.readline()) != b".\r\n":
                    octets += len(line)
                got += 1
        elapsed = time.perf_counter() - started
        sock.sendall(b"QUIT\r\n")
    finally:
        sock.close()
    return elapsed, octets


DOVECOT_CONF = """\
base_dir = {dir}/run
state_dir = {dir}/state
log_path = {dir}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = dovecot
default_login_user = dovenull
first_valid_uid = 0
mail_location = maildir:{dir}/Maildir
passdb {{
  driver = static
  args = password={password}
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={dir}/home
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
"""


def dovecot_sync(workdir: Path, letters: int) -> tuple[float, int] | None:
    binary = shutil.which("dovecot") or ("/usr/sbin/dovecot"
                                         if os.path.exists("/usr/sbin/dovecot") else None)
    if binary is None:
        return None
    home = workdir / "dovecot"
    maildir = home / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True, exist_ok=True)
    (home / "run").mkdir()
    (home / "state").mkdir()
    (home / "home").mkdir()
    now = int(time.time())
    for n in range(1, letters + 1):
        (maildir / "cur" / f"{now}.M{n}P1.bench:2,").write_bytes(message(n, f"bench@{DOMAIN}"))
    uid, gid = os.getuid(), os.getgid()
    if uid == 0:
        # Dovecot will not read mail as root: the mail belongs to its own user.
        import pwd

        user = pwd.getpwnam("dovecot")
        uid, gid = user.pw_uid, user.pw_gid
        for path in [home, *home.rglob("*")]:
            os.chown(path, uid, gid)
        for parent in home.parents:
            if parent == Path(tempfile.gettempdir()):
                break
            os.chmod(parent, 0o755)
    port = common.free_port()
    conf = home / "dovecot.conf"
    conf.write_text(DOVECOT_CONF.format(dir=home, port=port, password=PASSWORD, uid=uid, gid=gid))
    proc = subprocess.Popen([binary, "-F", "-c", str(conf)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log = (home / "dovecot.log")
                    print("dovecot did not start:",
                          log.read_text()[-2000:] if log.exists() else "(no log)")
                    return None
                time.sleep(0.1)
        imap_sync(port, "bench", PASSWORD, letters)  # its first SELECT builds the index
        return imap_sync(port, "bench", PASSWORD, letters)
    finally:
        common.stop_process(proc, timeout=10)


def sync(letters: int, peer: str) -> None:
    with tempfile.TemporaryDirectory(prefix="imap-sync-") as tmp:
        workdir = Path(tmp)
        server = Reality(workdir, ["Bench"])
        server.create()
        fill_store(server.db, "bench", letters)
        server.start()
        try:
            imap_sync(server.ports["imap"], "bench", PASSWORD, letters)  # warm: page cache
            rows = [("reality IMAP", imap_sync(server.ports["imap"], "bench", PASSWORD, letters))]
            done = dovecot_sync(workdir, letters) if peer in ("auto", "dovecot") else None
            if done is not None:
                rows.append(("dovecot IMAP", done))
            if done is None or peer == "pop3":
                rows.append(("reality POP3", pop3_sync(server.ports["pop3"], "bench", PASSWORD,
                                                       letters)))
        finally:
            server.stop()
        print(f"sync of a {letters}-letter INBOX (list, then BODY.PEEK[] 200 at a time):")
        for name, (seconds, octets) in rows:
            print(f"  {name:14} {seconds:6.2f} s  {letters / seconds:8.0f} letters/s"
                  f"  {octets / seconds / 1e6:6.1f} MB/s")


def main() -> None:
    parser = common.arg_parser(__doc__)
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--rate", type=float, default=200.0, help="letters a second")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--senders", type=int, default=8, help="SMTP connections")
    parser.add_argument("--letters", type=int, default=10_000)
    parser.add_argument("--peer", choices=("auto", "dovecot", "pop3"), default="auto")
    parser.add_argument("--part", choices=("both", "push", "sync"), default="both")
    args = parser.parse_args()
    if args.part in ("both", "push"):
        push(args.sessions, args.rate, min(args.seconds, 30.0), args.senders)
    if args.part in ("both", "sync"):
        sync(min(args.letters, 20_000), args.peer)


if __name__ == "__main__":
    main()
