"""The audit logger: one line per event, structured fields, values that cannot forge."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from reality import audit as audit_module
from reality.audit import EVENTS, MAX_PER_SECOND, audit, format_fields, host_of

SECURITY_MD = Path(__file__).resolve().parents[1] / "docs" / "security.md"
FIELD = re.compile(r' ([a-z_]+)=("(?:[^"\\]|\\.)*"|[^ "]+)')


def parse(line: str) -> tuple[str, dict[str, str]]:
    """Read an audit line back: the event and its fields, JSON-quoted values decoded."""
    event, _, rest = line.partition(" ")
    fields: dict[str, str] = {}
    pos = 0
    rest = " " + rest if rest else ""
    while pos < len(rest):
        m = FIELD.match(rest, pos)
        assert m, f"unparsable at {pos}: {rest!r}"
        value = m.group(2)
        fields[m.group(1)] = json.loads(value) if value.startswith('"') else value
        pos = m.end()
    return event, fields


@pytest.fixture(autouse=True)
def _fresh_pace(monkeypatch):
    monkeypatch.setattr(audit_module, "_pace", {})
    monkeypatch.setattr(audit_module, "clock", lambda: 1000.0)


def records(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "reality.audit"]


def test_one_line_with_fields_and_a_dict(caplog):
    """An event is one line ``event key=value ...`` and a dict on the record, at its level."""
    caplog.set_level(logging.INFO, logger="reality.audit")
    audit("admin.kick", who="Root", address="127.0.0.1", target="Bob", reason=None)
    audit("login.failed", who="Mallory", address="192.0.2.7")
    kick, failed = records(caplog)
    assert kick.getMessage() == "admin.kick who=Root address=127.0.0.1 target=Bob"
    assert kick.levelno == logging.INFO
    assert kick.audit == {
        "event": "admin.kick", "who": "Root", "address": "127.0.0.1", "target": "Bob"
    }
    assert failed.levelno == logging.WARNING
    assert failed.audit["who"] == "Mallory"


CRAFTED = [
    "Bob who=Root",
    "Bob\nadmin.shutdown who=Root",
    'Bob" who="Root',
    "Bob\\\" who=Root",
    "a=b=c",
    "\u202eBob\u202c",
    "Bob\r\x1b[2J",
    "",
    " ",
]


@pytest.mark.parametrize("name", CRAFTED)
def test_a_crafted_name_cannot_forge_a_field_or_a_line(caplog, name):
    """Spaces, newlines, quotes, '=' and escapes in a value stay inside that one value."""
    caplog.set_level(logging.INFO, logger="reality.audit")
    audit("login.failed", who=name, address="10.0.0.1")
    (record,) = records(caplog)
    line = record.getMessage()
    assert "\n" not in line and "\r" not in line and line.isascii() and line.isprintable()
    event, fields = parse(line)
    assert event == "login.failed"
    assert fields == {"who": name, "address": "10.0.0.1"}
    assert record.audit["who"] == name


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["who", "target", "reason", "address"]), st.text()))
def test_any_values_read_back_exactly(values):
    """Whatever the values, the line parses back to exactly the fields given."""
    line = format_fields("admin.kick", dict(values))
    assert "\n" not in line and line.isascii()
    assert parse(line) == ("admin.kick", values)


def test_floods_are_paced(caplog, monkeypatch):
    """Past MAX_PER_SECOND lines of one event in a second, the rest is counted, not logged."""
    caplog.set_level(logging.INFO, logger="reality.audit")
    now = [50.0]
    monkeypatch.setattr(audit_module, "clock", lambda: now[0])
    for _ in range(MAX_PER_SECOND + 30):
        audit("input.too_large", service="telnet", address="10.0.0.1", what="line")
    audit("login.failed", who="a", address="10.0.0.1")  # another event is not held back
    assert len(records(caplog)) == MAX_PER_SECOND + 1
    now[0] = 51.2
    audit("input.too_large", service="telnet", address="10.0.0.1", what="line")
    last = records(caplog)[-1]
    assert last.audit["suppressed"] == 30
    assert parse(last.getMessage())[1]["suppressed"] == "30"


def test_host_of():
    """host_of takes an address or a transport, and gives None when there is none."""

    class Addr:
        host = "127.0.0.1"

    class Transport:
        def get_peer(self):
            return Addr()

    class Gone:
        def get_peer(self):
            raise OSError("not connected")

    assert host_of(Addr()) == host_of(Transport()) == "127.0.0.1"
    assert host_of(None) is None and host_of(Gone()) is None


def test_every_event_is_documented():
    """docs/security.md names every audit event and each of its fields."""
    text = SECURITY_MD.read_text()
    section = text.split("## The audit log", 1)[1]
    for event, (_, fields) in EVENTS.items():
        assert f"`{event}`" in section, event
        for field in fields:
            assert f"`{field}`" in section, (event, field)
