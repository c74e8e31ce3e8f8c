"""The operations pieces on their own: systemd's notify datagrams, the JSON log, the
audit trail's event list, the metrics' labels and seeding, the Grafana dashboard."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import socket
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from reality import logs
from reality.audit import EVENTS, audit
from reality.backup import backup_name, prune
from reality.game.commands import default_registry
from reality.gateways.metrics import (
    EXPORTED,
    Metrics,
    VerbLabels,
    allowed,
    parse_allow,
)
from reality.systemd import Notifier

ROOT = Path(__file__).resolve().parents[1]


def test_notifier_sends_to_an_abstract_socket():
    """NOTIFY_SOCKET=@name reaches a socket in the abstract namespace; MAINPID and
    RELOADING are ready for the upgrade step; the watchdog interval is half WATCHDOG_USEC."""
    name = f"reality-test-{os.getpid()}"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind("\0" + name)
    listener.settimeout(5)
    try:
        notifier = Notifier({"NOTIFY_SOCKET": "@" + name, "WATCHDOG_USEC": "3000000"})
        assert notifier.enabled and notifier.watchdog_interval() == 1.5
        assert notifier.ready("serving")
        assert listener.recv(1024) == b"READY=1\nSTATUS=serving"
        assert notifier.reloading()
        assert listener.recv(1024) == b"RELOADING=1"
        assert notifier.main_pid(4242)
        assert listener.recv(1024) == b"MAINPID=4242\nREADY=1"
        notifier.close()
    finally:
        listener.close()


def test_notifier_without_systemd_does_nothing():
    """No NOTIFY_SOCKET: every call is a no-op returning False; a watchdog for another
    PID does not apply to this process."""
    notifier = Notifier({})
    assert not notifier.enabled and not notifier.ready() and not notifier.watchdog()
    other = Notifier({"NOTIFY_SOCKET": "/nonexistent", "WATCHDOG_USEC": "1000000",
                      "WATCHDOG_PID": str(os.getpid() + 1)})
    assert other.watchdog_interval() is None
    assert not other.ready()  # the socket is not there: logged once, never raises


def test_json_log_lines_carry_audit_fields(tmp_path):
    """--log-format json: one object a line with time, level, logger, message and the
    audit event's fields at the top level (never over the four base keys)."""
    stream = io.StringIO()
    handler = logs.configure("info", fmt="json", stream=stream)
    try:
        audit("login.failed", who='Eve "x"\nlevel=ERROR', address="192.0.2.1")
        logging.getLogger("reality.test").error("plain")
    finally:
        logging.getLogger().removeHandler(handler)
        logs._handler = None
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["event"] == "login.failed" and first["level"] == "WARNING"
    assert first["who"] == 'Eve "x"\nlevel=ERROR' and first["address"] == "192.0.2.1"
    assert first["logger"] == "reality.audit"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["time"])
    assert second == {"time": second["time"], "level": "ERROR", "logger": "reality.test",
                      "message": "plain"}


def test_every_audit_event_in_the_code_is_listed():
    """Every event name passed to audit() (or building's _audit) anywhere in reality/ is
    in EVENTS, with its level and fields: the trail is one documented list."""
    used = set()
    for path in (ROOT / "reality").rglob("*.py"):
        text = path.read_text()
        used |= set(re.findall(r"\b_?audit\(\s*(?:ctx,\s*)?\"([a-z_]+\.[a-z_]+)\"", text))
    assert used, "found no audit calls"
    assert used - set(EVENTS) == set()
    for name in ("admin.command", "server.shutdown", "server.reload", "world.load",
                 "login.throttled", "smtp.relay_refused", "input.too_large", "input.malformed"):
        assert name in EVENTS
    # (tests/test_audit.py checks docs/security.md's table lists them all.)


def test_verb_labels_are_bounded():
    """A typed line counts under its verb's name (aliases, ' and : too), a direction under
    'go', anything else under None ('other'): players' typing never makes a label."""
    label = VerbLabels(default_registry())
    assert label("look") == "look"
    assert label("l") == "look"
    assert label("'hello") == "say"
    assert label(":waves") == "emote"
    assert label("n") == "go"
    assert label("xyzzy plugh") is None
    assert label("") is None


def test_metrics_snapshot_seeds_a_new_registry():
    """A new process seeded with the old one's snapshot continues its counters (what the
    upgrade step will do); the exposition parses with prometheus_client's parser."""
    old = Metrics(process=False)
    old.verb_of = VerbLabels(default_registry())
    for line in ("look", "look", "say hi", "zzz"):
        old.command_line(line)
    old.login("ok")
    old.login("failed")
    new = Metrics(process=False)
    new.seed(json.loads(json.dumps(old.snapshot())))
    new.command("look")
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(new.exposition().decode())
        for s in f.samples
    }
    assert samples[("reality_commands_total", (("verb", "look"),))] == 3
    assert samples[("reality_commands_total", (("verb", "other"),))] == 1
    assert samples[("reality_logins_total", (("result", "failed"),))] == 1


def test_metrics_allow_parses_like_bans():
    """--metrics-allow takes addresses and CIDR networks (host bits allowed); the default
    is loopback; an IPv4-mapped IPv6 peer counts as its IPv4 address."""
    default = parse_allow([])
    assert allowed("127.0.0.1", default) and allowed("::1", default)
    assert not allowed("192.0.2.1", default)
    nets = parse_allow(["10.1.2.3/8", "2001:db8::/32"])
    assert allowed("10.200.0.1", nets) and allowed("::ffff:10.0.0.5", nets)
    assert allowed("2001:db8::7", nets) and not allowed("127.0.0.1", nets)
    assert not allowed("not-an-address", nets) and not allowed(None, nets)
    try:
        parse_allow(["bob"])
    except ValueError as exc:
        assert "bob" in str(exc)
    else:
        raise AssertionError("a name was taken as a network")


def test_grafana_dashboard_uses_only_exported_metrics():
    """docs/grafana-dashboard.json is valid JSON, and every expr names metrics the server
    exports (a histogram's _bucket/_sum/_count and a counter's _total included)."""
    dashboard = json.loads((ROOT / "docs" / "grafana-dashboard.json").read_text())
    exprs = [target["expr"] for panel in dashboard["panels"]
             for target in panel.get("targets", [])]
    assert len(exprs) >= 8
    names = set()
    for name in EXPORTED:
        names.add(name)
        names.update(name + suffix for suffix in ("_bucket", "_sum", "_count"))
        if not name.endswith("_total"):
            names.add(name + "_total")
    for expr in exprs:
        used = set(re.findall(r"\b((?:reality|process|python)_[a-z_]+)\b", expr))
        assert used, expr
        assert used <= names, (expr, used - names)


def test_prune_keeps_the_newest(tmp_path):
    """Timed backups sort by name (UTC time); prune deletes all but the newest N, and
    never a file it did not name."""
    for when in (1_000_000, 2_000_000, 3_000_000):
        (tmp_path / backup_name(when)).write_text("x")
    (tmp_path / "other.sqlite3").write_text("keep me")
    removed = prune(str(tmp_path), 2)
    assert [Path(p).name for p in removed] == [backup_name(1_000_000)]
    assert (tmp_path / "other.sqlite3").exists()
