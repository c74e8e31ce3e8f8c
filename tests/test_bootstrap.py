"""bootstrap.py decides what to install: the server's needs, plus the test extra for tests.

No network: the decision is a pure function of the stamp, ``pyproject.toml``
and the extras asked for, and :func:`bootstrap.ensure_venv` is run against a
temporary directory with ``subprocess.check_call`` recorded instead of run.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = b'[project]\nname = "reality"\n'
CHANGED = PYPROJECT + b"# a new dependency\n"
TEST = frozenset({"test"})


def load_bootstrap() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bootstrap_under_test", ROOT / "bootstrap.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bootstrap = load_bootstrap()


def stamp(extras: tuple[str, ...], pyproject: bytes = PYPROJECT) -> str:
    return bootstrap.write_stamp(pyproject, extras)


def test_a_fresh_checkout_installs_only_what_is_asked():
    """No stamp: the server gets no extras, the tests get the test extra."""
    assert bootstrap.extras_to_install(None, PYPROJECT, ()) == frozenset()
    assert bootstrap.extras_to_install(None, PYPROJECT, ("test",)) == TEST


def test_the_server_after_the_tests_installs_nothing():
    """With the test extra installed, the server command finds everything it needs."""
    assert bootstrap.extras_to_install(stamp(("test",)), PYPROJECT, ()) is None
    assert bootstrap.extras_to_install(stamp(("test",)), PYPROJECT, ("test",)) is None


def test_the_tests_after_the_server_add_the_test_extra():
    """A server-only install lacks the test tools: the test command installs them."""
    assert bootstrap.extras_to_install(stamp(()), PYPROJECT, ()) is None
    assert bootstrap.extras_to_install(stamp(()), PYPROJECT, ("test",)) == TEST


def test_a_changed_pyproject_reinstalls_what_was_there():
    """A new pyproject.toml refreshes the install, keeping the test extra if it was there."""
    assert bootstrap.extras_to_install(stamp(("test",)), CHANGED, ()) == TEST
    assert bootstrap.extras_to_install(stamp(()), CHANGED, ()) == frozenset()
    assert bootstrap.extras_to_install(stamp(("fast",)), CHANGED, ("test",)) == {"fast", "test"}


def test_the_older_stamp_means_the_test_extra_is_installed():
    """The one-line stamp of earlier versions was written by an install with the test extra."""
    legacy = hashlib.sha256(PYPROJECT)
    legacy.update(b"test")
    old = legacy.hexdigest()
    assert bootstrap.read_stamp(old, PYPROJECT) == (bootstrap.project_hash(PYPROJECT), TEST)
    assert bootstrap.extras_to_install(old, PYPROJECT, ()) is None
    assert bootstrap.extras_to_install(old, PYPROJECT, ("test",)) is None
    # An old stamp for another pyproject.toml says nothing: install what is asked.
    assert bootstrap.extras_to_install(old, CHANGED, ()) == frozenset()


@pytest.mark.parametrize("text", ["", "garbage", "[]", '{"pyproject": 1}', '{"extras": []}'])
def test_an_unreadable_stamp_installs_what_is_asked(text):
    """A damaged stamp is no stamp."""
    assert bootstrap.extras_to_install(text, PYPROJECT, ("test",)) == TEST


def test_the_stamp_records_the_hash_and_the_extras():
    """The stamp is JSON: the hash of pyproject.toml and the sorted extras."""
    data = json.loads(stamp(("test", "fast", "test")))
    assert data == {"pyproject": hashlib.sha256(PYPROJECT).hexdigest(), "extras": ["fast", "test"]}


def test_ensure_venv_installs_the_server_then_adds_the_test_extra(tmp_path, monkeypatch):
    """The server command pip-installs the bare project; the tests add [test]; then nothing."""
    (tmp_path / "pyproject.toml").write_bytes(PYPROJECT)
    venv = tmp_path / ".venv"
    monkeypatch.setattr(bootstrap, "ROOT", tmp_path)
    monkeypatch.setattr(bootstrap, "VENV", venv)
    monkeypatch.setattr(bootstrap, "STAMP", venv / ".reality-installed")
    monkeypatch.delenv("REALITY_NO_BOOTSTRAP", raising=False)
    monkeypatch.setattr(sys, "prefix", str(venv))  # already inside: no re-exec
    calls: list[list[str]] = []

    def check_call(argv: list[str]) -> int:
        calls.append(argv)
        if argv[1:3] == ["-m", "venv"]:
            python = bootstrap.venv_python()
            python.parent.mkdir(parents=True)
            python.write_text("")
        return 0

    monkeypatch.setattr(subprocess, "check_call", check_call)

    def installs() -> list[str]:
        found = [argv[-1] for argv in calls if argv[-2:-1] == ["-e"]]
        calls.clear()
        return found

    bootstrap.ensure_venv(())
    assert installs() == [str(tmp_path)]
    bootstrap.ensure_venv(())
    assert installs() == []
    bootstrap.ensure_venv(bootstrap.TEST_EXTRAS)
    assert installs() == [f"{tmp_path}[test]"]
    bootstrap.ensure_venv(())  # the server again: the test tools stay
    bootstrap.ensure_venv(bootstrap.TEST_EXTRAS)
    assert installs() == []
    assert json.loads(bootstrap.STAMP.read_text())["extras"] == ["test"]
