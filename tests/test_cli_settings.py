"""``reality serve``'s flags come from Settings; the light commands stay light."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import attrs
import pytest

from reality.cli import _parser
from reality.settings import Settings, flags

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "world" / "tiny.yaml"


def test_every_serve_flag_is_a_setting_with_the_settings_default():
    """With no flags, serve's options are exactly Settings' defaults, field by field."""
    args = _parser().parse_args(["serve"])
    given = {attribute.name: getattr(args, attribute.name) for attribute, _ in flags()}
    assert Settings(**given) == Settings()
    names = {flag.name for _, flag in flags()}
    assert {"--world", "--telnet-port", "--http-port", "--smtp-port", "--pop3-port",
            "--admin", "--idle-timeout", "--reactor", "--log-level"} <= names


def test_serve_flags_reach_the_settings():
    """Each flag sets its setting (a repeated --admin collects, --init-db switches on,
    --idle-timeout becomes seconds as a float)."""
    args = _parser().parse_args([
        "serve", "--telnet-port", "0", "--http-port", "81", "--admin", "Root", "--admin",
        "Boss", "--init-db", "--idle-timeout", "30", "--reactor", "asyncio",
    ])
    settings = Settings(**{a.name: getattr(args, a.name) for a, _ in flags()})
    assert (settings.telnet_port, settings.http_port) == (0, 81)
    assert settings.admins == ["Root", "Boss"]
    assert settings.init_db is True
    assert settings.idle_timeout == 30.0 and isinstance(settings.idle_timeout, float)
    assert settings.reactor == "asyncio"
    assert Settings().admins == []  # a repeated flag never appends to the default


@pytest.mark.parametrize("argv", [["serve", "--telnet-port", "65536"],
                                  ["serve", "--max-connections", "-1"],
                                  ["serve", "--reactor", "twisted"]])
def test_bad_values_are_refused(argv):
    """The flags' checks come with them: a port past 65535, a negative limit, an unknown
    reactor."""
    with pytest.raises(SystemExit):
        _parser().parse_args(argv)


def test_play_and_admin_share_serves_defaults():
    """play's ports are serve's telnet and telnets ports, admin's database is serve's
    (written once); play picks the port when none is given, by --tls."""
    from reality import cli

    fields = attrs.fields(Settings)
    assert _parser().parse_args(["play"]).port is None
    assert cli.TELNET_PORT == fields.telnet_port.default
    assert cli.TELNETS_PORT == fields.telnets_port.default
    assert _parser().parse_args(["admin", "remove", "x"]).db == fields.db.default


LIGHT = """
import sys
from reality.cli import main
try:
    status = main(sys.argv[1:])
except SystemExit as exit:
    status = exit.code
heavy = sorted(m for m in ("jinja2", "reality.app", "reality.gateways", "markdown_it")
               if m in sys.modules)
print("HEAVY", ",".join(heavy))
"""


@pytest.mark.parametrize("argv", [["play", "--help"], ["check-world", str(TINY)],
                                  ["admin", "remove", "Nobody", "--db", "{db}"]])
def test_light_commands_do_not_import_the_server(argv, tmp_path):
    """play, check-world and admin import neither Jinja2 nor the server and its gateways
    (checked in a fresh interpreter's sys.modules)."""
    argv = [a.format(db=tmp_path / "db.sqlite3") for a in argv]
    result = subprocess.run([sys.executable, "-c", LIGHT, *argv], capture_output=True,
                            text=True, timeout=60, cwd=ROOT)
    assert "Traceback" not in result.stderr, result.stderr
    assert "HEAVY \n" in result.stdout, result.stdout
