"""Players benchmark: many telnet bots playing the default world, and the knee.

    python benchmarks/players.py [--bots 1000] [--rates 250,500,1000,1500,2000] [--phase 10]
    python benchmarks/players.py --rates '' --crowd-rate 0 --flooder 1000   # the flood row

Starts ``run_server.py`` (pinned to CPU 0 with ``taskset`` when it exists)
on the shipped world with a fresh database holding one account per bot,
then one load process (pinned to CPU 1) that connects the bots, logs them
in, and runs phases of increasing total command rate. Each bot sends
commands at its share of the rate, in a realistic mix (about half
``look``, a quarter moves through an exit it saw, a fifth ``say``, the
rest ``who``), one at a time, and times each command from sending it to
the prompt that ends the answer (the prompt is marked with IAC GA, since
the bots negotiate nothing, like a plain socket client).

Per phase it prints the achieved commands/s, round-trip p50/p99, server
CPU per command (from ``/proc``), and the server's tick lateness (its own
``LagMonitor``, read with the admin verb ``@stats``). It reports RSS per
connected player and the knee: the highest rate whose p99 stays under
50 ms. Everything is bounded: connection and login time, each phase, and
the whole run.

``--flooder N`` adds a last phase, ``flood``: every bot sends one command a
second while one more session (``Floodbot``) sends ``look`` N times a
second without waiting for answers. The row shows the bots' round trips:
one session's flood must not slow the others (target p99 < 50 ms); the
server runs the flooder's commands at its per-session rate and drops the
excess (docs/security.md).

``--crowd`` runs the crowd workload instead (issue 13)::

    python benchmarks/players.py --crowd [--bots 2000] [--seconds 20] [--ramp 5]
    python benchmarks/players.py --crowd --bots 300 --seconds 5        # a quick run
    python benchmarks/players.py --crowd --profile py-spy              # or: cprofile
    python benchmarks/players.py --crowd --npc --bots 400              # an NPC hears the inn

A world of 9 rooms in a 3x3 grid whose exits wrap around (a torus: every
room has four neighbours, so random walking keeps the bots evenly spread,
which a plain grid's corners would not); the bots start spread evenly (about
220 a room at 2,000 bots). Each bot sends one command a second: half
``look``, a quarter a move to a neighbouring room, a fifth ``say``, the rest
``who``. The server is pinned to CPU 0 and the load to CPU 1
(``os.sched_setaffinity``). After ``--ramp`` seconds of load it measures
``--seconds``: round trips p50/p99 and the server's CPU seconds per command
(utime+stime from ``/proc/<pid>/stat`` over the window). ``--profile``
samples the server during the window with py-spy (a flame graph when
``--profile-out`` ends in ``.svg``, else collapsed stacks) or runs it under
cProfile (a pstats file); the path is printed.

``--chat`` (with ``--crowd``; issue 14) changes the mix so that 5 % of the
commands are ``chat <text>`` (taken from ``look``: 45 % look, 25 % move,
20 % say, 5 % chat, 5 % who): every chat line reaches every bot, wherever
it stands::

    python benchmarks/players.py --crowd --chat --bots 1000 --seconds 20

``--websocket`` (issue 15) connects the bots to the game over WebSocket
instead: ``/ws`` on the HTTP port, subprotocol ``telnet.mudstandards.org``,
each command a masked BINARY message and the answer read from the server's
BINARY messages (the engine's own codec in the client role; no
permessage-deflate). The same telnet session runs behind it::

    python benchmarks/players.py --websocket --bots 1000 --rates 1000 --crowd-rate 0 --warmup 5

The bots' accounts are stored with a cheap scrypt cost (n=2**10) so that
1,000 logins measure the game, not the password hash; real accounts use
the full cost, which the hashing workers pay off the loop.
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import random
import re
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

ROOT = common.ROOT
PROMPT = b"> \xff\xf9"  # prompt + IAC GA
EXITS = re.compile(rb"Exits: ([^\r\n]*?)\.")
PASSWORD = "benchpass"


def bot_name(index: int) -> str:
    letters = ""
    n = index
    for _ in range(4):
        letters += chr(ord("a") + n % 26)
        n //= 26
    return "Bot" + letters


# -- the load process ---------------------------------------------------------------


class Bot:
    __slots__ = (
        "index", "sock", "buffer", "state", "sent_at", "exits", "owed", "fd", "kind", "ws"
    )

    def __init__(self, index: int, sock: socket.socket, ws: Any = None) -> None:
        self.index = index
        self.sock = sock
        #: The WebSocket codec (client role) when the bot plays over /ws.
        self.ws = ws
        self.fd = sock.fileno()
        self.buffer = bytearray()
        self.state = "banner"
        self.sent_at = 0.0
        self.exits: list[str] = []
        self.owed = False
        self.kind = ""


def ws_connect(port: int) -> tuple[socket.socket, Any, bytes]:
    """A blocking WebSocket handshake to ``/ws`` (telnet.mudstandards.org).

    Returns the socket, the client codec and whatever bytes followed the 101.
    """
    from reality.net.protocols.websocket import Role, WebSocketConnection, client_request
    from reality.net.protocols.websocket.handshake import request_bytes

    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    _, headers = client_request(
        f"127.0.0.1:{port}", "/ws", subprotocols=["telnet.mudstandards.org"], deflate=False
    )
    sock.sendall(request_bytes("/ws", headers))
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise SystemExit("the server closed a WebSocket handshake")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 101"):
        raise SystemExit(f"WebSocket handshake refused: {head[:200]!r}")
    return sock, WebSocketConnection(Role.CLIENT), rest


def ws_unwrap(bot: Bot, data: bytes) -> bytes:
    """The telnet bytes in what the server sent a WebSocket bot (answering pings)."""
    ws = bot.ws
    out = b"".join(bytes(getattr(e, "data", b"")) for e in ws.receive_data(data))
    reply = ws.data_to_send()
    if reply:
        bot.sock.sendall(reply)
    return out


def choose_command(bot: Bot, rng: random.Random, walk_only: bool = False) -> str:
    if walk_only:
        return rng.choice(bot.exits) if bot.exits else "look"
    roll = rng.random()
    if roll < 0.50:
        return "look"
    if roll < 0.75 and bot.exits:
        return rng.choice(bot.exits)
    if roll < 0.95:
        return f"say hello from {bot_name(bot.index)} number {rng.randrange(1000)}"
    return "who"


def run_load(args: argparse.Namespace) -> None:
    rng = random.Random(7)
    ep = select.epoll()
    bots: dict[int, Bot] = {}
    server_pid = args.server_pid
    deadline = time.monotonic() + args.connect_timeout
    base_rss = common.rss_kib(server_pid)

    def send(bot: Bot, line: str) -> None:
        if bot.ws is not None:
            bot.ws.send_binary(line.encode() + b"\r\n")
            bot.sock.sendall(bot.ws.data_to_send())
            return
        bot.sock.sendall(line.encode() + b"\r\n")

    def pump(timeout: float, on_prompt) -> None:
        for fd, _ in ep.poll(timeout):
            bot = bots[fd]
            try:
                data = bot.sock.recv(65536)
            except BlockingIOError:
                continue
            if not data:
                raise SystemExit(f"the server closed bot {bot.index}'s connection")
            if bot.ws is not None:
                data = ws_unwrap(bot, data)
            bot.buffer += data
            if PROMPT in bot.buffer:
                text = bytes(bot.buffer)
                bot.buffer.clear()
                on_prompt(bot, text)
            elif len(bot.buffer) > 1 << 20:
                del bot.buffer[: -len(PROMPT)]

    # Connect and log in, in batches, so the listen backlog never overflows.
    logged_in = 0

    def login_step(bot: Bot, text: bytes) -> None:
        nonlocal logged_in
        if bot.state == "banner":
            bot.state = "login"
            send(bot, f"connect {bot_name(bot.index)} {PASSWORD}")
        elif bot.state == "login":
            if b"The" not in text and b"Exits" not in text:
                raise SystemExit(f"bot {bot.index} could not log in: {text[-300:]!r}")
            bot.state = "idle"
            found = EXITS.findall(text)
            if found:
                bot.exits = [e.strip().decode() for e in found[-1].split(b",")]
            logged_in += 1

    t_login = time.monotonic()
    for start in range(0, args.bots, 50):
        for index in range(start, min(start + 50, args.bots)):
            if args.ws_port:
                sock, ws, rest = ws_connect(args.ws_port)
                ws.send_binary(common.NO_TTYPE)
                sock.sendall(ws.data_to_send())
                sock.setblocking(False)
                bot = Bot(index, sock, ws)
                if rest:
                    bot.buffer += ws_unwrap(bot, rest)
            else:
                sock = socket.create_connection(("127.0.0.1", args.port), timeout=10)
                sock.sendall(common.NO_TTYPE)
                sock.setblocking(False)
                bot = Bot(index, sock)
            bots[bot.fd] = bot
            ep.register(bot.fd, select.EPOLLIN)
        while logged_in < min(start + 50, args.bots):
            if time.monotonic() > deadline:
                raise SystemExit(f"only {logged_in} bots logged in before the deadline")
            pump(0.5, login_step)
    login_seconds = time.monotonic() - t_login
    # Let the arrival announcements drain.
    settle = time.monotonic() + 2.0
    while time.monotonic() < settle:
        pump(0.1, lambda bot, text: None)
    rss_per_player = (common.rss_kib(server_pid) - base_rss) / args.bots

    # The admin connection that reads @stats.
    admin = socket.create_connection(("127.0.0.1", args.port), timeout=10)
    admin.sendall(common.NO_TTYPE)

    def admin_command(line: str) -> bytes:
        admin.sendall(line.encode() + b"\r\n")
        data = b""
        end = time.monotonic() + 10
        while PROMPT not in data and time.monotonic() < end:
            data += admin.recv(65536)
        return data

    admin.settimeout(10)
    data = b""
    while PROMPT not in data:
        data += admin.recv(65536)
    admin_command(f"connect Statsadmin {PASSWORD}")

    flooder = None
    if args.flooder:
        flooder = socket.create_connection(("127.0.0.1", args.port), timeout=10)
        flooder.sendall(common.NO_TTYPE)
        data = b""
        while PROMPT not in data:
            data += flooder.recv(65536)
        flooder.sendall(f"connect Floodbot {PASSWORD}\r\n".encode())
        data = b""
        while PROMPT not in data:
            data += flooder.recv(65536)
        flooder.setblocking(False)
    flood_pending = bytearray()

    # Phase 1: the crowd -- every bot still stands in the start room.
    # Then an unmeasured walk spreads them over the world, and the measured
    # phases run at increasing rates on a world in its steady state.
    plan = []
    if args.crowd_rate:
        plan.append(("crowd", args.crowd_rate, args.phase, False))
    if args.warmup:
        plan.append(("walk", min(1000, args.bots), args.warmup, True))
    plan += [("spread", rate, args.phase, False) for rate in args.rates]
    if flooder is not None:
        plan.append(("flood", args.bots, args.phase, False))
    phases = []
    for label, rate, duration, walk_only in plan:
        per_bot_interval = args.bots / rate
        admin_command("@stats reset")
        heap = [(time.monotonic() + rng.random() * per_bot_interval, fd) for fd in bots]
        heapq.heapify(heap)
        rtts: list[float] = []
        phase_end = time.monotonic() + duration
        cpu0 = common.cpu_seconds(server_pid)
        t0 = time.monotonic()

        def answered(
            bot: Bot, text: bytes, rtts: list[float] = rtts, phase_end: float = phase_end
        ) -> None:
            if bot.state != "busy":
                return
            now = time.monotonic()
            rtts.append(now - bot.sent_at)
            found = EXITS.findall(text)
            if found:
                bot.exits = [e.strip().decode() for e in found[-1].split(b",")]
            bot.state = "idle"
            if bot.owed and now < phase_end:
                bot.owed = False
                fire(bot, now)

        def fire(bot: Bot, now: float, walk_only: bool = walk_only) -> None:
            bot.state = "busy"
            bot.sent_at = now
            send(bot, choose_command(bot, rng, walk_only))

        flood_sent = 0
        while True:
            now = time.monotonic()
            if now >= phase_end:
                break
            if label == "flood" and flooder is not None:
                # Keep the flooder's line count on schedule; read and discard.
                due_lines = int((now - t0) * args.flooder) - flood_sent
                if due_lines > 0:
                    flood_pending += b"look\r\n" * due_lines
                    flood_sent += due_lines
                if flood_pending:
                    try:
                        del flood_pending[: flooder.send(flood_pending)]
                    except BlockingIOError:
                        pass
                try:
                    while flooder.recv(65536):
                        pass
                except BlockingIOError:
                    pass
            while heap and heap[0][0] <= now:
                due, fd = heapq.heappop(heap)
                bot = bots[fd]
                if bot.state == "idle":
                    fire(bot, now)
                else:
                    bot.owed = True
                heapq.heappush(heap, (due + per_bot_interval, fd))
            timeout = max(0.0, min(heap[0][0] - time.monotonic(), phase_end - now))
            if label == "flood":
                timeout = min(timeout, 0.005)
            pump(timeout, answered)
        elapsed = time.monotonic() - t0
        cpu = common.cpu_seconds(server_pid) - cpu0
        # Drain answers still in flight before the next phase.
        drain_end = time.monotonic() + 5
        while any(b.state == "busy" for b in bots.values()) and time.monotonic() < drain_end:
            pump(0.1, answered)
        for b in bots.values():
            b.owed = False
        stats = admin_command("@stats").decode("utf-8", "replace")
        late = re.search(r"tick lateness p50 ([\d.]+) ms, p99 ([\d.]+) ms, max ([\d.]+)", stats)
        rtts.sort()
        if walk_only:
            continue
        phases.append({
            "label": label,
            "target": rate,
            "achieved": len(rtts) / elapsed,
            "p50_ms": common.percentile(rtts, 50) * 1000 if rtts else None,
            "p99_ms": common.percentile(rtts, 99) * 1000 if rtts else None,
            "cpu_us": cpu / len(rtts) * 1e6 if rtts else None,
            "late_p50_ms": float(late.group(1)) if late else None,
            "late_p99_ms": float(late.group(2)) if late else None,
        })
        print(json.dumps(phases[-1]), file=sys.stderr, flush=True)
        if rtts and phases[-1]["p99_ms"] > 1000:
            break  # far past the knee: stop loading the machine
    print(json.dumps({
        "bots": args.bots,
        "websocket": bool(args.ws_port),
        "login_seconds": login_seconds,
        "rss_per_player_kib": rss_per_player,
        "base_rss_kib": base_rss,
        "phases": phases,
    }))


# -- the crowd workload (issue 13) ------------------------------------------------------

CROWD_SIDE = 3
CROWD_EXITS = {"north": (-1, 0), "south": (1, 0), "east": (0, 1), "west": (0, -1)}


def crowd_room(row: int, col: int) -> str:
    return f"r{row % CROWD_SIDE}{col % CROWD_SIDE}"


def crowd_rooms() -> list[str]:
    return [crowd_room(r, c) for r in range(CROWD_SIDE) for c in range(CROWD_SIDE)]


def crowd_world() -> str:
    """The 9-room world as YAML: a 3x3 grid whose exits wrap around (see the docstring)."""
    lines = ["name: Crowdtown", "start: r00", "rooms:"]
    for row in range(CROWD_SIDE):
        for col in range(CROWD_SIDE):
            exits = ", ".join(
                f"{name}: {crowd_room(row + dr, col + dc)}"
                for name, (dr, dc) in CROWD_EXITS.items()
            )
            lines += [
                f"  {crowd_room(row, col)}:",
                f"    name: Plaza {row * CROWD_SIDE + col + 1}",
                "    description: A wide paved plaza where a great many people mill about,",
                "      talking, walking and looking at one another.",
                f"    exits: {{{exits}}}",
            ]
    return "\n".join(lines) + "\n"


def npc_world() -> str:
    """``--npc``: the inn, where Marta greets everyone who comes in and answers every
    sentence with 'key' or 'cellar' in it, and the yard outside."""
    return (
        "name: Marta's\nstart: r00\nrooms:\n"
        "  r00:\n    name: The Inn\n    description: A busy inn.\n    exits: {out: r01}\n"
        "  r01:\n    name: The Yard\n    description: A busy yard.\n    exits: {in: r00}\n"
        "npcs:\n  marta:\n    name: Marta\n    location: r00\n    behaviours:\n"
        '      - greet: {say: "Welcome to the Sleeping Fox!"}\n'
        '      - respond: {keywords: [cellar, key], say: "The cellar key hangs by the fire."}\n'
    )


def choose_crowd_command(
    bot: Bot, rng: random.Random, npc: bool = False, chat: bool = False
) -> str:
    roll = rng.random()
    if chat and roll < 0.05:
        return f"chat news from {bot_name(bot.index)} number {rng.randrange(1000)}"
    if roll < 0.50:
        return "look"
    if roll < 0.75:
        return rng.choice(bot.exits) if bot.exits else "look"
    if roll < 0.95:
        if npc and rng.random() < 0.5:
            return f"say where is the cellar key, {bot_name(bot.index)}?"
        return f"say hello from {bot_name(bot.index)} number {rng.randrange(1000)}"
    return "who"


def core_times(cpu: int) -> tuple[float, float]:
    """(busy, total) jiffies of one CPU, every process counted, from ``/proc/stat``."""
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith(f"cpu{cpu} "):
            fields = [int(f) for f in line.split()[1:]]
            idle = fields[3] + fields[4]  # idle + iowait
            return sum(fields) - idle, sum(fields)
    return 0.0, 0.0


def run_crowd_load(args: argparse.Namespace) -> None:
    """The load process of ``--crowd``: log the bots in, ramp, measure, print one JSON line."""
    rng = random.Random(13)
    ep = select.epoll()
    bots: dict[int, Bot] = {}
    server_pid = args.server_pid
    deadline = time.monotonic() + args.connect_timeout

    def send(bot: Bot, line: str) -> None:
        try:
            bot.sock.sendall(line.encode() + b"\r\n")
        except BlockingIOError:
            raise SystemExit(f"bot {bot.index}'s socket is full: the server stopped reading")

    def pump(timeout: float, on_prompt) -> None:
        for fd, _ in ep.poll(timeout):
            bot = bots[fd]
            try:
                data = bot.sock.recv(262144)
            except BlockingIOError:
                continue
            if not data:
                raise SystemExit(f"the server closed bot {bot.index}'s connection")
            bot.buffer += data
            if PROMPT in bot.buffer:
                text = bytes(bot.buffer)
                bot.buffer.clear()
                on_prompt(bot, text)
            elif len(bot.buffer) > 1 << 20:
                del bot.buffer[: -len(PROMPT)]

    logged_in = 0

    def login_step(bot: Bot, text: bytes) -> None:
        nonlocal logged_in
        if bot.state == "banner":
            bot.state = "login"
            send(bot, f"connect {bot_name(bot.index)} {PASSWORD}")
        elif bot.state == "login":
            found = EXITS.findall(text)
            if not found:
                raise SystemExit(f"bot {bot.index} could not log in: {text[-300:]!r}")
            bot.exits = [e.strip().decode() for e in found[-1].split(b",")]
            bot.state = "idle"
            logged_in += 1

    t_login = time.monotonic()
    for start in range(0, args.bots, 50):
        for index in range(start, min(start + 50, args.bots)):
            sock = socket.create_connection(("127.0.0.1", args.port), timeout=10)
            sock.sendall(common.NO_TTYPE)
            sock.setblocking(False)
            bot = Bot(index, sock)
            bots[bot.fd] = bot
            ep.register(bot.fd, select.EPOLLIN)
        while logged_in < min(start + 50, args.bots):
            if time.monotonic() > deadline:
                raise SystemExit(f"only {logged_in} bots logged in before the deadline")
            pump(0.5, login_step)
    login_seconds = time.monotonic() - t_login
    settle = time.monotonic() + 2.0
    while time.monotonic() < settle:
        pump(0.1, lambda bot, text: None)

    # One command a second per bot, each at its own phase; the first --ramp
    # seconds are not measured (the server's caches and buffers warm up).
    interval = 1.0
    t0 = time.monotonic()
    heap = [(t0 + rng.random() * interval, fd) for fd in bots]
    heapq.heapify(heap)
    measure_from = t0 + args.ramp
    measure_to = measure_from + args.seconds
    rtts: list[float] = []
    kinds: dict[str, list[float]] = {"look": [], "move": [], "say": [], "who": []}
    if args.chat:
        kinds["chat"] = []
    cpu0: tuple[float, float] | None = None
    load0 = 0.0
    core0 = (0.0, 0.0)
    late = 0

    def answered(bot: Bot, text: bytes) -> None:
        nonlocal late
        if bot.state != "busy":
            return
        now = time.monotonic()
        if measure_from <= bot.sent_at < measure_to:
            rtt = now - bot.sent_at
            rtts.append(rtt)
            kinds[bot.kind].append(rtt)
        found = EXITS.findall(text)
        if found and bot.kind == "move":
            bot.exits = [e.strip().decode() for e in found[-1].split(b",")]
        bot.state = "idle"
        if bot.owed and now < measure_to:
            bot.owed = False
            late += 1
            fire(bot, now)

    def fire(bot: Bot, now: float) -> None:
        command = choose_crowd_command(bot, rng, args.npc, args.chat)
        bot.kind = (
            command if command in ("look", "who")
            else "say" if command.startswith("say ")
            else "chat" if command.startswith("chat ")
            else "move"
        )
        bot.state = "busy"
        bot.sent_at = now
        send(bot, command)

    sent_in_window = 0
    while True:
        now = time.monotonic()
        if cpu0 is None and now >= measure_from:
            cpu0 = common.cpu_times(server_pid)
            load0 = time.process_time()
            core0 = core_times(0)
            if args.profile_ready:
                Path(args.profile_ready).write_text("go")
        if now >= measure_to:
            break
        while heap and heap[0][0] <= now:
            due, fd = heapq.heappop(heap)
            bot = bots[fd]
            if measure_from <= now < measure_to:
                sent_in_window += 1
            if bot.state == "idle":
                fire(bot, now)
            else:
                bot.owed = True
            heapq.heappush(heap, (due + interval, fd))
        timeout = max(0.0, min(heap[0][0] - time.monotonic(), measure_to - now))
        pump(timeout, answered)
    cpu1 = common.cpu_times(server_pid)
    load_cpu = time.process_time() - load0
    core1 = core_times(0)
    core_busy = (core1[0] - core0[0]) / max(1, core1[1] - core0[1])
    assert cpu0 is not None
    drain_end = time.monotonic() + 5
    while any(b.state == "busy" for b in bots.values()) and time.monotonic() < drain_end:
        pump(0.1, answered)
    rtts.sort()
    user, system = cpu1[0] - cpu0[0], cpu1[1] - cpu0[1]
    result = {
        "bots": args.bots,
        "login_seconds": login_seconds,
        "seconds": args.seconds,
        "commands": len(rtts),
        "due": sent_in_window,
        "late_sends": late,
        "rate": len(rtts) / args.seconds,
        "p50_ms": common.percentile(rtts, 50) * 1000,
        "p99_ms": common.percentile(rtts, 99) * 1000,
        "max_ms": rtts[-1] * 1000 if rtts else None,
        "cpu_ms": (user + system) / max(1, len(rtts)) * 1000,
        "user_ms": user / max(1, len(rtts)) * 1000,
        "sys_ms": system / max(1, len(rtts)) * 1000,
        "busy": (user + system) / args.seconds,
        # The bots' own process: near 1.0, the round trips measure it too.
        "load_busy": load_cpu / args.seconds,
        # CPU 0 with everything on it: far above "busy", others shared the server's core.
        "core0_busy": core_busy,
        "kinds": {
            kind: {"n": len(v), "p50_ms": common.percentile(sorted(v), 50) * 1000,
                   "p99_ms": common.percentile(sorted(v), 99) * 1000}
            for kind, v in kinds.items()
        },
    }  # fmt: skip
    print(json.dumps(result))


def pin(pid: int, cpu: int) -> None:
    """Run ``pid`` (every thread of it) on CPU ``cpu`` only, when there are two CPUs to share."""
    if (os.cpu_count() or 1) < 2:
        return
    for task in os.listdir(f"/proc/{pid}/task"):
        os.sched_setaffinity(int(task), {cpu})


def crowd_main(args: argparse.Namespace) -> None:
    """``--crowd``: the 9-room world, the server on CPU 0, the bots on CPU 1."""
    workdir = Path(tempfile.mkdtemp(prefix="reality-crowd-"))
    world = workdir / "crowd.yaml"
    world.write_text(npc_world() if args.npc else crowd_world())
    db = workdir / "bench.sqlite3"
    rooms = ["r00", "r01"] if args.npc else crowd_rooms()
    prepare_database(db, args.bots, rooms=[rooms[i % len(rooms)] for i in range(args.bots)])
    python: tuple[str, ...] = ()
    profile_out = None
    if args.profile == "cprofile":
        profile_out = Path(args.profile_out or "crowd.pstats").resolve()
        python = ("-m", "cProfile", "-o", str(profile_out))
    server_argv = common.run_server_argv(
        world, db, "--max-per-address", "0", "--idle-timeout", "0", python=python
    )
    log_path = workdir / "server.log"
    server_log = open(log_path, "wb")
    server = subprocess.Popen(
        server_argv, stdout=server_log, stderr=subprocess.STDOUT,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )  # fmt: skip
    spy = None
    try:
        pin(server.pid, 0)
        ports = common.wait_listening(log_path, server, ["telnet", "http"])
        port = ports["telnet"]
        pin(server.pid, 0)  # threads started since (none are expected)
        ready = workdir / "measuring"
        argv = [sys.executable, __file__, "--crowd", "--load", "--port", str(port),
                *(["--npc"] if args.npc else []), *(["--chat"] if args.chat else []),
                "--server-pid", str(server.pid), "--bots", str(args.bots),
                "--seconds", str(args.seconds), "--ramp", str(args.ramp),
                "--connect-timeout", str(args.connect_timeout),
                "--profile-ready", str(ready) if args.profile == "py-spy" else ""]  # fmt: skip
        budget = args.connect_timeout + args.ramp + args.seconds + 60
        load = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            preexec_fn=lambda: os.sched_setaffinity(0, {1}) if (os.cpu_count() or 1) > 1 else None,
        )  # fmt: skip
        if args.profile == "py-spy":
            profile_out = Path(args.profile_out or "crowd-profile.svg").resolve()
            end = time.monotonic() + budget
            while not ready.exists() and load.poll() is None and time.monotonic() < end:
                time.sleep(0.05)
            if ready.exists():
                spy = subprocess.Popen(
                    [str(Path(sys.executable).parent / "py-spy"), "record", "--pid",
                     str(server.pid), "--duration", str(int(args.seconds)), "--rate", "200",
                     "--output", str(profile_out), "--nonblocking",
                     "--format", "flamegraph" if profile_out.suffix == ".svg" else "raw"],
                    stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                )  # fmt: skip
        try:
            out, err = load.communicate(timeout=budget)
        except subprocess.TimeoutExpired:
            common.stop_process(load)
            raise SystemExit("the load process did not finish in time") from None
        if load.returncode != 0:
            raise SystemExit(f"the load process failed:\n{err[-3000:]}")
        result = json.loads(out)
    finally:
        if spy is not None:
            try:
                spy.wait(30)
            except subprocess.TimeoutExpired:
                common.stop_process(spy)
        common.stop_process(server, timeout=30)
        server_log.close()
        shutil.rmtree(workdir, ignore_errors=True)
    where = (
        f"in the inn and its yard (~{result['bots'] / 2:.0f} a room), Marta greeting and"
        " answering in the inn"
        if args.npc
        else f"in 9 rooms (~{result['bots'] / 9:.0f} a room)"
    )
    if args.chat:
        where += ", 5 % of commands on chat (every line reaches every bot)"
    print(f"players benchmark, crowd: {result['bots']} bots {where}, 1 command/s each;"
          f" python {sys.version.split()[0]}")
    print(f"logins: {result['bots']} in {result['login_seconds']:.1f} s; measured "
          f"{result['seconds']:g} s after a {args.ramp:g} s ramp: {result['commands']} commands "
          f"({result['rate']:.0f}/s)")
    print(f"round trip p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms, "
          f"max {result['max_ms']:.1f} ms")
    print(f"server CPU per command {result['cpu_ms']:.3f} ms (user {result['user_ms']:.3f} + "
          f"sys {result['sys_ms']:.3f}); server core {result['busy'] * 100:.0f} % busy, "
          f"bots' core {result['load_busy'] * 100:.0f} % busy; CPU 0 with other processes "
          f"{result['core0_busy'] * 100:.0f} % busy")
    print("  " + "  ".join(f"{k}: n={v['n']} p50 {v['p50_ms']:.1f} p99 {v['p99_ms']:.1f}"
                           for k, v in result["kinds"].items()))
    if profile_out is not None:
        print(f"profile: {profile_out}")


# -- orchestration ---------------------------------------------------------------------


def prepare_database(path: Path, bots: int, rooms: list[str] | None = None) -> None:
    """One account per bot (and the admin and flooder); ``rooms[i]`` is where bot i starts."""
    from reality.game.accounts import hash_password
    from reality.game.store import Store

    store = Store(str(path))
    cheap = hash_password(PASSWORD, n=2**10)
    now = time.time()
    with store.transaction():
        for index in range(bots):
            store.db.execute(
                "INSERT INTO accounts(key, name, password_hash, created_at) VALUES (?, ?, ?, ?)",
                (bot_name(index).lower(), bot_name(index), cheap, now),
            )
            store.db.execute(
                "INSERT INTO players(key, room) VALUES (?, ?)",
                (bot_name(index).lower(), rooms[index] if rooms else None),
            )
    store.create_account("Statsadmin", cheap, now=now, admin=True)
    store.create_account("Floodbot", cheap, now=now)
    store.close()


def main() -> None:
    parser = common.arg_parser(__doc__)
    parser.add_argument("--bots", type=int, default=None,
                        help="bots (default 1000; with --crowd 2000)")
    parser.add_argument("--crowd", action="store_true",
                        help="the crowd workload: 9 rooms, 1 command/s per bot (see above)")
    parser.add_argument("--seconds", type=float, default=20.0,
                        help="--crowd: the measured window, after the ramp")
    parser.add_argument("--ramp", type=float, default=5.0,
                        help="--crowd: seconds of load before measuring")
    parser.add_argument("--profile", choices=["py-spy", "cprofile"],
                        help="--crowd: profile the server during the run")
    parser.add_argument("--profile-out", help="--crowd: where the profile goes")
    parser.add_argument("--profile-ready", default="", help=argparse.SUPPRESS)
    parser.add_argument("--rates", default="250,500,1000,1500,2000",
                        help="total commands per second, one phase each")
    parser.add_argument("--phase", type=float, default=10.0, help="seconds per phase")
    parser.add_argument("--crowd-rate", type=int, default=250,
                        help="rate of the first phase, with every bot in the start room (0: skip)")
    parser.add_argument("--warmup", type=float, default=15.0,
                        help="seconds of unmeasured walking that spread the bots out")
    parser.add_argument("--connect-timeout", type=float, default=120.0)
    parser.add_argument("--flooder", type=int, default=0,
                        help="add a 'flood' phase: bots at 1 command/s each plus one session "
                             "sending this many commands/s (0: no such phase)")
    parser.add_argument("--load", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--npc", action="store_true",
                        help="--crowd: two rooms, an NPC with greet and respond hearing the"
                             " inn (use --bots 400 for ~200 in its room)")
    parser.add_argument("--chat", action="store_true",
                        help="--crowd: 5 %% of commands are 'chat <text>', heard by every bot"
                             " (use --bots 1000; issue 14)")
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--websocket", action="store_true",
                        help="the bots play over WebSocket (/ws, telnet.mudstandards.org)")
    parser.add_argument("--ws-port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--server-pid", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.rates = [int(r) for r in str(args.rates).split(",") if r.strip()]
    if args.bots is None:
        args.bots = 2000 if args.crowd else 1000
    if args.crowd:
        if args.load:
            run_crowd_load(args)
        else:
            crowd_main(args)
        return
    if args.load:
        run_load(args)
        return

    workdir = Path(tempfile.mkdtemp(prefix="reality-players-"))
    db = workdir / "bench.sqlite3"
    prepare_database(db, args.bots)
    server_argv = common.run_server_argv(
        ROOT / "world/default.yaml", db, "--max-per-address", "0", "--idle-timeout", "0",
        "--admin", "Statsadmin",
    )
    # The server's log goes to a file: a pipe nobody reads would fill up and
    # stall the server mid-run.
    log_path = workdir / "server.log"
    server_log = open(log_path, "wb")
    server = subprocess.Popen(
        common.pinned(0, server_argv), stdout=server_log, stderr=subprocess.STDOUT,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )
    try:
        ports = common.wait_listening(log_path, server, ["telnet", "http"])
        port = ports["telnet"]
        total_budget = (args.connect_timeout + (len(args.rates) + 2) * (args.phase + 20)
                        + args.warmup + 60)
        load = subprocess.run(
            common.pinned(1, [sys.executable, __file__, "--load", "--port", str(port),
                       "--server-pid", str(server.pid), "--bots", str(args.bots),
                       "--rates", ",".join(map(str, args.rates)), "--phase", str(args.phase),
                       "--crowd-rate", str(args.crowd_rate), "--warmup", str(args.warmup),
                       "--connect-timeout", str(args.connect_timeout),
                       "--flooder", str(args.flooder),
                       "--ws-port", str(ports["http"] if args.websocket else 0)]),
            capture_output=True, text=True, timeout=total_budget,
        )
        if load.returncode != 0:
            raise SystemExit(f"the load process failed:\n{load.stderr[-3000:]}")
        result = json.loads(load.stdout)
    finally:
        common.stop_process(server, timeout=15)
        server_log.close()
        shutil.rmtree(workdir, ignore_errors=True)
    report(result)


def report(result: dict) -> None:
    over = " over WebSocket (/ws)" if result.get("websocket") else ""
    print(f"players benchmark: {result['bots']} bots on world/default.yaml{over}; "
          f"python {sys.version.split()[0]}")
    print(f"logins: {result['bots']} in {result['login_seconds']:.1f} s; "
          f"RSS per connected player: {result['rss_per_player_kib']:.1f} KiB "
          f"(server base {result['base_rss_kib'] / 1024:.1f} MiB)")
    print(f"{'phase':<7} {'target/s':>8} {'achieved/s':>10} {'p50 ms':>7} {'p99 ms':>7} "
          f"{'CPU/cmd us':>10} {'late p50':>8} {'late p99':>8}")
    knee = None
    for phase in result["phases"]:
        def fmt(value: float | None, spec: str) -> str:
            return "-" if value is None else format(value, spec)

        print(f"{phase['label']:<7} {phase['target']:>8} {phase['achieved']:>10.0f} "
              f"{fmt(phase['p50_ms'], '7.1f')} "
              f"{fmt(phase['p99_ms'], '7.1f')} {fmt(phase['cpu_us'], '10.0f')} "
              f"{fmt(phase['late_p50_ms'], '8.2f')} {fmt(phase['late_p99_ms'], '8.2f')}")
        if phase["label"] == "spread" and phase["p99_ms"] is not None and phase["p99_ms"] < 50 and (
            phase["achieved"] >= 0.95 * phase["target"]
        ):
            knee = phase
    for phase in result["phases"]:
        if phase["label"] == "flood" and phase["p99_ms"] is not None:
            verdict = "under" if phase["p99_ms"] < 50 else "OVER"
            print(f"flood: the other {result['bots']} players' p99 {phase['p99_ms']:.1f} ms "
                  f"({verdict} the 50 ms target) while one session sent commands flat out")
    if knee:
        print(f"knee: {knee['achieved']:.0f} commands/s with p99 {knee['p99_ms']:.1f} ms "
              f"(highest spread phase with p99 < 50 ms; the top rate tried was "
              f"{max(p['target'] for p in result['phases'])}/s)")
    else:
        print("knee: no phase kept p99 under 50 ms")


if __name__ == "__main__":
    main()
