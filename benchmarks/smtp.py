"""SMTP benchmark: durable messages accepted per second, Reality beside an asyncio peer.

    .venv/bin/python benchmarks/smtp.py                   # 1 and 10 senders, 4 s a row, 3 reps
    .venv/bin/python benchmarks/smtp.py --senders 1 10 50 --seconds 3 --reps 1
    .venv/bin/python benchmarks/smtp.py --profile         # cProfile the server, print the top

Servers, each in its own process on a fresh database in a temp directory:

- ``reality``: ``run_server.py`` as shipped (SMTP gateway, post office,
  SQLite WAL with ``synchronous=FULL``, INFO logging). Deliveries that
  arrive in one reactor turn share one commit; each ``250`` is written
  after the commit of its message.
- ``asyncio-per-message``: a small asyncio SMTP server doing the same work
  per message (recipient lookup in SQLite, ``email`` parsing with
  ``policy.default``, insert) with one commit per message before its
  ``250``: the usual way, for comparison.

The load is one process with a selector and N connections. Each connection
sends ``MAIL``/``RCPT``/``DATA`` pipelined (the servers advertise
PIPELINING), waits for the 354, sends a ~1 KiB message and waits for the
``250``; then the next. Rows are interleaved (every server at every sender
count, then again) so that a noisy neighbour hurts all alike. Every row is
bounded in time, and every socket has a timeout.

Printed per row: messages/s, p50 and p99 of the time from the end of DATA
to its 250, and the server's CPU time per message (user + system, from
``/proc/<pid>/stat``). At the end the databases are opened and the letters
counted: every message that got a 250 must be there.
"""

from __future__ import annotations

import argparse
import itertools
import selectors
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

ROOT = common.ROOT
DOMAIN = "reality.localhost"
#: Mailboxes hold 1,000 letters; a hundred of them take a long run.
ACCOUNTS = [f"Bench{a}{b}" for a in "abcdefghij" for b in "abcdefghij"]
BODY = ("The quick brown fox jumps over the lazy dog. " * 22 + "\r\n").encode()
MESSAGE = (
    b"From: Load Generator <load@bench.example>\r\n"
    b"To: Bench <bench@" + DOMAIN.encode() + b">\r\n"
    b"Subject: benchmark letter\r\n"
    b"Date: Fri, 27 Nov 2026 10:00:00 +0000\r\n"
    b"Message-ID: <bench-%d@bench.example>\r\n"
    b"\r\n" + BODY + b".A dotted line, stuffed on the wire.\r\n"
)
ENVELOPES = [
    f"MAIL FROM:<load@bench.example>\r\nRCPT TO:<{name.lower()}@{DOMAIN}>\r\nDATA\r\n".encode()
    for name in ACCOUNTS
]
#: The message as sent, with ``%d`` for a number that makes each Message-ID
#: unique: the server stores a resent Message-ID once (docs/security.md).
DATA = MESSAGE.replace(b"\r\n.", b"\r\n..").replace(b"%", b"%%").replace(
    b"bench-%%d@", b"bench-%d@") + b".\r\n"
_serial = itertools.count()


# -- the peer ---------------------------------------------------------------------------------


def serve_asyncio_peer(db_path: str, port_file: str) -> None:
    """An asyncio SMTP server that commits each message before its 250."""
    import asyncio
    import email
    import email.policy

    db = sqlite3.connect(db_path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE IF NOT EXISTS accounts (key TEXT PRIMARY KEY)")
    db.executemany(
        "INSERT OR IGNORE INTO accounts VALUES (?)", [(name.lower(),) for name in ACCOUNTS]
    )
    db.execute(
        "CREATE TABLE IF NOT EXISTS letters (id INTEGER PRIMARY KEY, owner TEXT,"
        " subject TEXT, body TEXT, message BLOB)"
    )

    def store(recipient: str, data: bytes) -> None:
        msg = email.message_from_bytes(data, policy=email.policy.default)
        part = msg.get_body(preferencelist=("plain", "html"))
        body = part.get_content() if part is not None else ""
        db.execute("BEGIN IMMEDIATE")
        db.execute(
            "INSERT INTO letters(owner, subject, body, message) VALUES (?, ?, ?, ?)",
            (recipient, str(msg["Subject"]), body, data),
        )
        db.execute("COMMIT")

    async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 peer ESMTP\r\n")
        recipient = ""
        while True:
            line = await reader.readline()
            if not line:
                break
            verb = line[:4].upper()
            if verb == b"EHLO":
                writer.write(b"250-peer\r\n250-PIPELINING\r\n250 8BITMIME\r\n")
            elif verb == b"RCPT":
                local = line.split(b"<", 1)[1].split(b"@", 1)[0].decode().lower()
                if db.execute("SELECT 1 FROM accounts WHERE key = ?", (local,)).fetchone():
                    recipient = local
                    writer.write(b"250 2.1.5 OK\r\n")
                else:
                    writer.write(b"550 5.1.1 User unknown\r\n")
            elif verb in (b"MAIL", b"HELO", b"RSET", b"NOOP"):
                writer.write(b"250 OK\r\n")
            elif verb == b"DATA":
                writer.write(b"354 go ahead\r\n")
                lines = []
                while True:
                    data_line = await reader.readline()
                    if data_line in (b".\r\n", b""):
                        break
                    lines.append(data_line[1:] if data_line.startswith(b".") else data_line)
                store(recipient, b"".join(lines))
                writer.write(b"250 2.0.0 OK queued\r\n")
            elif verb == b"QUIT":
                writer.write(b"221 bye\r\n")
                await writer.drain()
                break
            else:
                writer.write(b"500 unknown\r\n")
            await writer.drain()
        writer.close()

    common.run_asyncio_server(
        lambda: asyncio.start_server(session, "127.0.0.1", 0),
        lambda port: Path(port_file).write_text(str(port)),
    )
    db.close()


# -- servers as processes ------------------------------------------------------------------------


class Server:
    def __init__(self, name: str, workdir: Path, profile: bool = False) -> None:
        self.name = name
        self.workdir = workdir
        self.db = workdir / f"{name}.sqlite3"
        self.log = workdir / f"{name}.log"
        self.profile_file = workdir / f"{name}.prof" if profile else None
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    def start(self, timeout: float = 30.0) -> None:
        out = open(self.log, "wb")  # noqa: SIM115 - the child owns it until it exits
        if self.name == "reality":
            from reality.game.accounts import hash_password
            from reality.game.store import Store

            store = Store(str(self.db))
            stored = hash_password("benchmark", n=2**4, r=1, p=1)
            for name in ACCOUNTS:
                store.create_account(name, stored, now=0)
            store.close()
            profile = ()
            if self.profile_file is not None:
                profile = ("-m", "cProfile", "-o", str(self.profile_file))
            argv = common.run_server_argv(
                ROOT / "world" / "tiny.yaml", self.db, "--max-per-address", "0", python=profile
            )
        else:
            port_file = self.workdir / "peer.port"
            argv = [sys.executable, __file__, "--serve-peer", str(self.db), str(port_file)]
        self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=self.workdir)
        out.close()
        if self.name == "reality":
            self.port = common.wait_listening(self.log, self.proc, ["smtp"], timeout)["smtp"]
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            if port_file.exists() and port_file.read_text():
                self.port = int(port_file.read_text())
                return
            time.sleep(0.05)
        raise SystemExit(f"{self.name} did not start:\n{self.log.read_text(errors='replace')}")

    def cpu(self) -> float:
        """User + system CPU seconds the server has used."""
        assert self.proc is not None
        return common.cpu_seconds(self.proc.pid)

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 20 s)."""
        if self.proc is not None:
            common.stop_process(self.proc, timeout=20)

    def stored(self) -> int:
        db = sqlite3.connect(self.db)
        try:
            return int(db.execute("SELECT COUNT(*) FROM letters").fetchone()[0])
        finally:
            db.close()


# -- the load ---------------------------------------------------------------------------------


class Sender:
    """One SMTP client connection as a state machine on a shared selector."""

    def __init__(self, port: int, deadline: float, latencies: list[float], first: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.turn = first
        self.sock.setblocking(False)
        self.deadline = deadline
        self.latencies = latencies
        self.buffer = b""
        self.expected: list[str] = ["greeting"]
        self.sent_at = 0.0
        self.accepted = 0
        self.errors = 0
        self.done = False

    def send(self, data: bytes) -> None:
        # Small writes into an empty socket buffer: a blocking sendall is fine.
        self.sock.setblocking(True)
        self.sock.sendall(data)
        self.sock.setblocking(False)

    def readable(self) -> None:
        try:
            chunk = self.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            self.errors += 1
            self.done = True
            return
        if not chunk:
            self.done = True
            return
        self.buffer += chunk
        while b"\r\n" in self.buffer:
            line, self.buffer = self.buffer.split(b"\r\n", 1)
            if len(line) >= 4 and line[3:4] == b"-":
                continue  # a multi-line reply goes on
            self.reply(int(line[:3]))

    def reply(self, code: int) -> None:
        step = self.expected.pop(0)
        if step == "greeting":
            self.send(b"EHLO load.example\r\n")
            self.expected = ["ehlo"]
        elif step == "ehlo":
            self.next_message()
        elif step in ("mail", "rcpt"):
            if code != 250:
                self.errors += 1
        elif step == "data":
            if code == 354:
                self.sent_at = time.perf_counter()
                self.send(DATA % next(_serial))
                self.expected = ["message"]
            else:
                self.errors += 1
                self.next_message()
        elif step == "message":
            if code == 250:
                self.accepted += 1
                self.latencies.append(time.perf_counter() - self.sent_at)
            else:
                self.errors += 1
            self.next_message()
        elif step == "quit":
            self.done = True

    def next_message(self) -> None:
        if time.monotonic() >= self.deadline:
            self.send(b"QUIT\r\n")
            self.expected = ["quit"]
            return
        self.turn += 1
        self.send(ENVELOPES[self.turn % len(ENVELOPES)])
        self.expected = ["mail", "rcpt", "data"]


def run_load(port: int, senders: int, seconds: float) -> tuple[int, int, list[float], float]:
    """Drive ``senders`` connections for ``seconds``; (accepted, errors, latencies, elapsed)."""
    latencies: list[float] = []
    started = time.monotonic()
    deadline = started + seconds
    clients = [Sender(port, deadline, latencies, n * 7) for n in range(senders)]
    with selectors.DefaultSelector() as sel:
        for client in clients:
            sel.register(client.sock, selectors.EVENT_READ, client)
        hard_stop = deadline + 15
        while not all(c.done for c in clients) and time.monotonic() < hard_stop:
            for key, _ in sel.select(timeout=1.0):
                key.data.readable()
                if key.data.done:
                    sel.unregister(key.fileobj)
    elapsed = time.monotonic() - started
    for client in clients:
        client.sock.close()
    accepted = sum(c.accepted for c in clients)
    errors = sum(c.errors for c in clients) + sum(1 for c in clients if not c.done)
    return accepted, errors, latencies, elapsed


def main() -> None:
    parser = common.arg_parser(__doc__)
    parser.add_argument("--senders", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--servers", nargs="+", default=["reality", "asyncio-per-message"])
    parser.add_argument("--profile", action="store_true",
                        help="run reality under cProfile and print where its time went")
    parser.add_argument("--keep", action="store_true",
                        help="keep the databases and server logs (the path is printed)")
    parser.add_argument("--serve-peer", nargs=2, metavar=("DB", "PORTFILE"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_peer:
        serve_asyncio_peer(*args.serve_peer)
        return

    rows: dict[tuple[str, int], list[tuple[float, float, float, float]]] = {}
    accepted_total: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="smtp-bench-") as tmp:
        if args.keep:
            tmp = tempfile.mkdtemp(prefix="smtp-bench-")
            print(f"databases and server logs are kept in {tmp}")
        servers = [Server(name, Path(tmp), profile=args.profile) for name in args.servers]
        for server in servers:
            server.start()
            accepted_total[server.name] = 0
        try:
            for rep in range(args.reps):
                for senders in args.senders:
                    for server in servers:
                        cpu0 = server.cpu()
                        accepted, errors, lat, elapsed = run_load(
                            server.port, senders, args.seconds
                        )
                        cpu = server.cpu() - cpu0
                        accepted_total[server.name] += accepted
                        rate = accepted / elapsed
                        per_msg = cpu / accepted * 1e6 if accepted else float("nan")
                        lat.sort()
                        p50 = common.percentile(lat, 50) * 1e3
                        p99 = common.percentile(lat, 99) * 1e3
                        rows.setdefault((server.name, senders), []).append(
                            (rate, p50, p99, per_msg)
                        )
                        print(
                            f"rep {rep + 1} {server.name:<20} senders={senders:<3}"
                            f" {rate:8.0f} msg/s  p50 {p50:6.2f} ms  p99 {p99:6.2f} ms"
                            f"  cpu {per_msg:6.0f} us/msg  errors {errors}",
                            flush=True,
                        )
        finally:
            for server in servers:
                server.stop()

        print("\nMedians:")
        print("| server | senders | msgs/s | p50 ms | p99 ms | server CPU µs/msg |")
        print("|---|---:|---:|---:|---:|---:|")
        for (name, senders), values in rows.items():
            rate, p50, p99, per_msg = (statistics.median(v) for v in zip(*values, strict=True))
            print(f"| {name} | {senders} | {rate:,.0f} | {p50:.2f} | {p99:.2f} | {per_msg:,.0f} |")

        print("\nDurability: every 250 is in the database after the server stopped?")
        for server in servers:
            stored = server.stored()
            verdict = "yes" if stored >= accepted_total[server.name] else "NO: LOST MAIL"
            print(f"  {server.name}: {accepted_total[server.name]} acknowledged,"
                  f" {stored} stored: {verdict}")

        for server in servers:
            for line in server.log.read_text(errors="replace").splitlines():
                if "post office:" in line:
                    print(f"  {server.name}: {line.split('post office: ', 1)[1]}")

        for server in servers:
            if server.profile_file is not None and server.profile_file.exists():
                import pstats

                print(f"\nProfile of {server.name} (cumulative, top 25):")
                pstats.Stats(str(server.profile_file)).sort_stats("cumulative").print_stats(25)
                pstats.Stats(str(server.profile_file)).sort_stats("tottime").print_stats(20)


if __name__ == "__main__":
    main()
