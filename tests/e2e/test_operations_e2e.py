"""Running it like a service, against a real server process: /metrics, /healthz,
systemd's notify socket, the log file's reopen on SIGUSR1, backups while writing."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from serverproc import ROOT, ServerProcess

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def get(port: int, path: str, timeout: float = 10.0) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        conn.close()


def families(text: str) -> dict[str, object]:
    return {family.name: family for family in text_string_to_metric_families(text)}


def sample(fams: dict, name: str, sample_name: str, **labels: str) -> float:
    for s in fams[name].samples:
        if s.name == sample_name and all(s.labels.get(k) == v for k, v in labels.items()):
            return s.value
    raise AssertionError(f"no sample {sample_name}{labels}")


def test_metrics_scraped_by_prometheus_parser_and_one_thread(tmp_path):
    """/metrics parses with prometheus_client's own parser, names every pinned metric,
    counts a player's commands by verb (typos as 'other') and their duration, and the
    serving process still has exactly one thread after the scrape."""
    with ServerProcess(tmp_path, expect=("telnet", "http")) as server:
        alice = server.telnet()
        alice.command("create Alice secret12")
        alice.command("look")
        alice.command("look")
        alice.command("say hello")
        alice.command("xyzzy")
        status, text = get(server.ports["http"], "/metrics")
        assert status == 200
        fams = families(text)
        for name in ("reality_players_online", "reality_connections_open",
                     "reality_commands", "reality_command_duration_seconds",
                     "reality_loop_lag_seconds", "reality_mail_accepted",
                     "reality_mail_rejected", "reality_logins",
                     "reality_checkpoint_duration_seconds", "reality_worker_jobs",
                     "reality_worker_queue_depth", "process_resident_memory_bytes",
                     "process_cpu_seconds"):
            assert name in fams, name
        assert sample(fams, "reality_players_online", "reality_players_online") == 1
        assert sample(fams, "reality_connections_open", "reality_connections_open",
                      service="telnet") == 1
        assert sample(fams, "reality_commands", "reality_commands_total", verb="look") == 2
        assert sample(fams, "reality_commands", "reality_commands_total", verb="say") == 1
        assert sample(fams, "reality_commands", "reality_commands_total", verb="other") == 1
        assert sample(fams, "reality_command_duration_seconds",
                      "reality_command_duration_seconds_count") == 4
        # Creating the account hashed a password in a worker.
        assert sample(fams, "reality_worker_jobs", "reality_worker_jobs_total") >= 1
        assert sample(fams, "reality_loop_lag_seconds", "reality_loop_lag_seconds_count") >= 1
        assert server.threads() == 1
        alice.close()


def test_metrics_only_from_allowed_networks(tmp_path):
    """An address outside --metrics-allow gets the site's 404; /healthz stays open."""
    extra = ("--metrics-allow", "192.0.2.0/24")
    with ServerProcess(tmp_path, extra=extra, expect=("http",)) as server:
        status, body = get(server.ports["http"], "/metrics")
        assert status == 404
        assert "reality_" not in body
        assert get(server.ports["http"], "/healthz") == (200, "ok\n")


def test_healthz_turns_503_after_a_stall_then_200_after_the_window(tmp_path):
    """SIGSTOP for 2 s, SIGCONT: /healthz answers 503 at once, naming the loop, and
    200 once the (test-shortened) window has passed."""
    extra = ("--health-window", "2")
    with ServerProcess(tmp_path, extra=extra, expect=("http",)) as server:
        port = server.ports["http"]
        assert get(port, "/healthz") == (200, "ok\n")
        assert server.proc is not None
        os.kill(server.proc.pid, signal.SIGSTOP)
        try:
            time.sleep(2.0)
        finally:
            os.kill(server.proc.pid, signal.SIGCONT)
        status, body = get(port, "/healthz")
        assert status == 503, body
        assert "loop" in body and "late" in body
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            status, body = get(port, "/healthz")
            if status == 200:
                break
            time.sleep(0.2)
        assert (status, body) == (200, "ok\n")


def test_systemd_notify_socket_hears_ready_watchdog_and_stopping(tmp_path):
    """A fake NOTIFY_SOCKET (a datagram socket the test binds) gets READY=1 once the
    ports listen, WATCHDOG=1 pings (WATCHDOG_USEC set), and STOPPING=1 at SIGTERM."""
    path = str(tmp_path / "notify.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(path)
    listener.settimeout(10)
    env = {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "400000"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        server = ServerProcess(tmp_path, extra=("--pid-file", str(tmp_path / "reality.pid")))
        server.start()
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    try:
        messages: list[str] = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and sum("WATCHDOG=1" in m for m in messages) < 2:
            messages.append(listener.recv(4096).decode())
        assert any("READY=1" in m and "STATUS=serving" in m for m in messages), messages
        assert sum("WATCHDOG=1" in m for m in messages) >= 2
        assert server.proc is not None
        pid_text = (tmp_path / "reality.pid").read_text()
        assert pid_text == f"{server.proc.pid}\n"
        assert server.stop() == 0
        while True:
            message = listener.recv(4096).decode()
            if "STOPPING=1" in message:
                break
        assert not (tmp_path / "reality.pid").exists()
    finally:
        server.kill()
        listener.close()


def _wait_for(path: Path, pattern: str, timeout: float = 20.0) -> re.Match[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            match = re.search(pattern, path.read_text())
            if match:
                return match
        time.sleep(0.05)
    raise AssertionError(f"{pattern!r} not in {path}:\n{path.read_text() if path.exists() else ''}")


def test_log_file_reopened_on_sigusr1_in_json(tmp_path):
    """--log-file with --log-format json: one JSON object a line (audit fields at the top
    level); after the file is renamed and SIGUSR1 sent, new lines go to a new file."""
    log = tmp_path / "reality.log"
    extra = ("--log-file", str(log), "--log-format", "json")
    with ServerProcess(tmp_path, extra=extra, expect=()) as server:
        match = _wait_for(log, r"telnet listening on \S+:(\d+)")
        server.ports["telnet"] = int(match.group(1))
        _wait_for(log, r"server\.start")
        lines = [json.loads(line) for line in log.read_text().splitlines()]
        assert {"time", "level", "logger", "message"} <= set(lines[0])
        start = next(e for e in lines if e.get("event") == "server.start")
        assert start["logger"] == "reality.audit" and start["pid"] == server.proc.pid
        rotated = tmp_path / "reality.log.1"
        log.rename(rotated)
        assert server.proc is not None
        server.proc.send_signal(signal.SIGUSR1)
        _wait_for(log, "log file reopened")
        client = server.telnet()
        client.command("connect Nobody wrongpass1")
        client.close()
        _wait_for(log, "login.failed")
        assert "login.failed" not in rotated.read_text()
        failed = next(json.loads(line) for line in log.read_text().splitlines()
                      if "login.failed" in line)
        assert failed["event"] == "login.failed" and failed["address"] == "127.0.0.1"


def test_backup_while_writing_then_restart_from_the_copy(tmp_path):
    """reality backup copies a live server's database while 1,000 writes land; the copy
    passes --verify and a server starts from it with the accounts it held."""
    db = tmp_path / "live.sqlite3"
    with ServerProcess(tmp_path, db=db) as server:
        alice = server.telnet()
        alice.command("create Alice secret12")
        alice.close()
        writer = sqlite3.connect(db, timeout=10, isolation_level=None)
        writer.execute("CREATE TABLE filler (n INTEGER PRIMARY KEY, data BLOB)")
        copy = tmp_path / "copy.sqlite3"
        child = None
        try:
            for n in range(1000):
                writer.execute("INSERT INTO filler VALUES (?, ?)", (n, os.urandom(2048)))
                if n == 300:
                    child = subprocess.Popen(
                        [sys.executable, "-m", "reality", "backup", "--db", str(db), str(copy)],
                        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                    )
            assert child is not None
            out, err = child.communicate(timeout=60)
        finally:
            writer.close()
            if child is not None and child.poll() is None:
                child.kill()
        assert child.returncode == 0, err
        assert "integrity_check ok" in out
    verified = subprocess.run(
        [sys.executable, "-m", "reality", "backup", "--verify", str(copy)],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert verified.returncode == 0, verified.stderr
    with sqlite3.connect(copy) as check:
        assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = check.execute("SELECT COUNT(*) FROM filler").fetchone()[0]
        assert 301 <= rows <= 1000
    (tmp_path / "second").mkdir()
    with ServerProcess(tmp_path / "second", db=copy) as restored:
        alice = restored.telnet()
        assert "Exits" in alice.command("connect Alice secret12")
        assert "Alice" in alice.command("who")
        alice.close()


def test_backup_verify_refuses_a_damaged_copy(tmp_path):
    """--verify exits 1 naming the problem for a file that is not a Reality database."""
    bad = tmp_path / "bad.sqlite3"
    bad.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    done = subprocess.run(
        [sys.executable, "-m", "reality", "backup", "--verify", str(bad)],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 1
    assert str(bad) in done.stderr


def test_timed_backups_inside_the_server_keep_the_newest(tmp_path):
    """--backup-dir/--backup-every/--backup-keep: checked copies appear on the timer, only
    the newest N are kept, and /metrics counts them."""
    backups = tmp_path / "backups"
    extra = ("--backup-dir", str(backups), "--backup-every", "1", "--backup-keep", "2")
    with ServerProcess(tmp_path, extra=extra, expect=("http",)) as server:
        deadline = time.monotonic() + 30
        ok = 0.0
        while time.monotonic() < deadline:
            fams = families(get(server.ports["http"], "/metrics")[1])
            ok = sample(fams, "reality_backups", "reality_backups_total", result="ok")
            if ok >= 3:
                break
            time.sleep(0.2)
        assert ok >= 3, server.output()
        names = sorted(p.name for p in backups.iterdir() if p.suffix == ".sqlite3")
        assert 1 <= len(names) <= 2, names
        for name in names:
            done = subprocess.run(
                [sys.executable, "-m", "reality", "backup", "--verify", str(backups / name)],
                cwd=ROOT, capture_output=True, text=True, timeout=60,
            )
            assert done.returncode == 0, done.stderr
