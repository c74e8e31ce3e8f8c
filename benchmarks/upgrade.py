"""Upgrade benchmark (issue 17): the code upgrade with many telnet players connected.

    python benchmarks/upgrade.py [--bots 1000] [--probes 50] [--seconds 4]

Starts ``run_server.py`` on the shipped world with one account per bot,
connects and logs in every bot (plain sockets, no negotiation: prompts end
with IAC GA), and keeps them playing: ``--probes`` of them send
``inventory`` every 100 ms, the rest every ``--interval`` seconds (2 s:
the whole load stays under the server's knee on a shared 2-core machine),
one command at a time. Then it sends SIGUSR2 and measures:

- the upgrade time: from the signal to the last bot reading "The world
  shimmers" (every player on the new process);
- the longest pause any bot saw: the largest gap between two answers of
  one bot over the whole run, minus its sending interval (a probe's
  normal gap is ~100 ms);
- bots dropped (a closed connection) and connection attempts refused.

Everything is bounded: connecting, the run, the upgrade (30 s).
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402
from players import PASSWORD, bot_name, prepare_database  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
GA = b"\xff\xf9"
SHIMMER = b"The world shimmers"


class Bot:
    __slots__ = ("index", "sock", "buf", "state", "interval", "next_at", "waiting",
                 "last_answer", "max_gap", "shimmered", "closed", "prompts")

    def __init__(self, index: int, sock: socket.socket, interval: float) -> None:
        self.index = index
        self.sock = sock
        self.buf = bytearray()
        self.state = "login"
        self.interval = interval
        self.next_at = 0.0
        self.waiting = False
        self.last_answer = 0.0
        self.max_gap = 0.0
        self.shimmered = 0.0
        self.closed = False
        self.prompts = 0


def run(args: object) -> dict[str, float]:
    bots_n: int = args.bots  # type: ignore[attr-defined]
    workdir = Path(tempfile.mkdtemp(prefix="reality-upgrade-"))
    db = workdir / "bench.sqlite3"
    pid_file = workdir / "reality.pid"
    prepare_database(db, bots_n)
    argv = common.run_server_argv(
        ROOT / "world/default.yaml", db, "--max-per-address", "0", "--idle-timeout", "0",
        "--pid-file", str(pid_file),
    )
    log_path = workdir / "server.log"
    log = open(log_path, "wb")
    server = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                              env=dict(os.environ, PYTHONUNBUFFERED="1"))
    new_pid = 0
    sel = selectors.DefaultSelector()
    try:
        port = common.wait_listening(log_path, server, ["telnet"])["telnet"]
        bots: list[Bot] = []
        for i in range(bots_n):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            sock.setblocking(False)
            interval = 0.1 if i < args.probes else args.interval  # type: ignore[attr-defined]
            bot = Bot(i, sock, interval)
            sock.send(f"connect {bot_name(i)} {PASSWORD}\r\n".encode())
            sel.register(sock, selectors.EVENT_READ, bot)
            bots.append(bot)

        def pump(timeout: float) -> None:
            for key, _ in sel.select(timeout):
                bot = key.data
                try:
                    data = bot.sock.recv(65536)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    data = b""
                if not data:
                    bot.closed = True
                    sel.unregister(bot.sock)
                    continue
                bot.buf += data
                now = time.monotonic()
                if not bot.shimmered and SHIMMER in bot.buf:
                    bot.shimmered = now
                answers = bot.buf.count(GA)
                if answers:
                    del bot.buf[:bot.buf.rindex(GA) + 2]
                    if bot.state == "login":
                        # The banner's prompt, then the one after logging in.
                        bot.prompts += answers
                        if bot.prompts < 2:
                            continue
                        bot.state = "playing"
                    elif bot.last_answer:
                        bot.max_gap = max(bot.max_gap, now - bot.last_answer)
                    bot.last_answer = now
                    bot.waiting = False
                    bot.next_at = max(bot.next_at, now)

        def send_due() -> None:
            now = time.monotonic()
            for bot in bots:
                if bot.state == "playing" and not bot.waiting and not bot.closed \
                        and now >= bot.next_at:
                    try:
                        bot.sock.send(b"inventory\r\n")
                    except OSError:
                        bot.closed = True
                        continue
                    bot.waiting = True
                    bot.next_at = now + bot.interval

        # Connect and log in (the banner's prompt, then the login's).
        deadline = time.monotonic() + 120
        while sum(b.state == "playing" for b in bots) < bots_n:
            if time.monotonic() > deadline:
                raise SystemExit("the bots did not all log in within 120 s")
            pump(0.05)
        # Play a while, then reset the gaps (the log-in burst is not the upgrade).
        end = time.monotonic() + 3
        while time.monotonic() < end:
            send_due()
            pump(0.01)
        for bot in bots:
            bot.max_gap = 0.0
        print(f"{bots_n} bots playing; signalling the upgrade", file=sys.stderr)
        signalled = time.monotonic()
        os.kill(server.pid, signal.SIGUSR2)
        deadline = signalled + 30
        while not all(b.shimmered or b.closed for b in bots):
            if time.monotonic() > deadline:
                break
            send_due()
            pump(0.01)
        everyone = max((b.shimmered for b in bots if b.shimmered), default=0.0) - signalled
        end = time.monotonic() + args.seconds  # type: ignore[attr-defined]
        while time.monotonic() < end:
            send_due()
            pump(0.01)
        try:
            new_pid = int(pid_file.read_text())
        except (OSError, ValueError):
            new_pid = 0
        probes = [b for b in bots if b.interval <= 0.1]
        rest = [b for b in bots if b.interval > 0.1]
        result = {
            "bots": bots_n,
            "upgrade_s": round(everyone, 3),
            "shimmered": sum(1 for b in bots if b.shimmered),
            "dropped": sum(1 for b in bots if b.closed),
            "probe_max_gap_s": round(max((b.max_gap for b in probes), default=0.0), 3),
            "max_pause_s": round(max(
                [b.max_gap - b.interval for b in bots if b.max_gap] or [0.0]), 3),
            "rest_max_gap_s": round(max((b.max_gap for b in rest), default=0.0), 3),
            "old_exit": server.wait(timeout=20),
            "new_pid_differs": bool(new_pid and new_pid != server.pid),
        }
        return result
    finally:
        sel.close()
        if new_pid:
            try:
                os.kill(new_pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            for _ in range(200):
                try:
                    os.kill(new_pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.05)
        common.stop_process(server, timeout=15)
        log.close()
        if os.environ.get("KEEP_LOG"):
            print(f"server log: {log_path}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = common.arg_parser(__doc__)
    parser.add_argument("--bots", type=int, default=1000)
    parser.add_argument("--probes", type=int, default=50,
                        help="bots sending a command every 100 ms")
    parser.add_argument("--interval", type=float, default=2.0,
                        help="seconds between the other bots' commands")
    parser.add_argument("--seconds", type=float, default=4.0,
                        help="seconds of play measured after everyone is on the new process")
    args = parser.parse_args()
    result = run(args)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
