"""Create or refresh the project's virtualenv, then run inside it.

Only the standard library is used here: this runs on a fresh machine that
has nothing but Python 3.11+. The virtualenv lives in ``.venv`` next to this
file; it is (re)installed whenever ``pyproject.toml`` changes or a command
needs an extra that is not installed yet. ``run_server.py`` needs only the
server's own dependencies; ``run_tests.py`` asks for the ``test`` extra
(pytest, hypothesis, ruff, ...). The stamp file records the hash of
``pyproject.toml`` and the extras installed, so the server command never
installs the test tools and never takes away those already there. Set
``REALITY_NO_BOOTSTRAP=1`` to run with whatever interpreter you started.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".reality-installed"
#: What run_tests.py adds to the server's dependencies.
TEST_EXTRAS = ("test",)
# The extras every install had before the stamp said which (a stamp of
# this form was written by an install with the test extra).
_LEGACY_EXTRAS = "test"


def venv_python() -> Path:
    """The interpreter inside the project's virtualenv."""
    if os.name == "nt":
        return VENV / "Scripts" / "python.exe"
    return VENV / "bin" / "python"


def project_hash(pyproject: bytes) -> str:
    """The hash of ``pyproject.toml`` a stamp records."""
    return hashlib.sha256(pyproject).hexdigest()


def read_stamp(text: str | None, pyproject: bytes) -> tuple[str, frozenset[str]] | None:
    """(pyproject hash, extras installed) from a stamp's text; None if there is none.

    Understands the older one-line stamp (a hash of ``pyproject.toml``
    and ``"test"``), which only an install with the test extra wrote.
    """
    if not text:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        legacy = hashlib.sha256(pyproject)
        legacy.update(_LEGACY_EXTRAS.encode())
        if text.strip() == legacy.hexdigest():
            return project_hash(pyproject), frozenset((_LEGACY_EXTRAS,))
        return None
    if not isinstance(data, dict):
        return None
    digest, extras = data.get("pyproject"), data.get("extras")
    if not isinstance(digest, str) or not isinstance(extras, list):
        return None
    return digest, frozenset(str(extra) for extra in extras)


def write_stamp(pyproject: bytes, extras: Iterable[str]) -> str:
    """The stamp's text for an install of ``extras`` from this ``pyproject.toml``."""
    return json.dumps({"pyproject": project_hash(pyproject), "extras": sorted(set(extras))})


def extras_to_install(
    stamp: str | None, pyproject: bytes, wanted: Iterable[str]
) -> frozenset[str] | None:
    """Which extras to (re)install, or None if the virtualenv already serves.

    Nothing is installed when ``pyproject.toml`` is unchanged and every
    wanted extra is there. Otherwise the install covers the wanted extras
    and those already installed: asking for fewer (the server after the
    tests) never drops the test tools, and a changed ``pyproject.toml``
    refreshes what was there.
    """
    wanted = frozenset(wanted)
    current = read_stamp(stamp, pyproject)
    if current is None:
        return wanted
    digest, installed = current
    if digest == project_hash(pyproject) and wanted <= installed:
        return None
    return wanted | installed


def _install(extras: frozenset[str], pyproject: bytes) -> None:
    python = venv_python()
    if not python.exists():
        print(f"bootstrap: creating {VENV}", file=sys.stderr)
        subprocess.check_call([sys.executable, "-m", "venv", str(VENV)])
    what = f" and the {', '.join(sorted(extras))} extras" if extras else ""
    print(f"bootstrap: installing the project and its dependencies{what}", file=sys.stderr)
    pip = [str(python), "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.check_call([*pip, "install", "--upgrade", "pip"])
    target = f"{ROOT}[{','.join(sorted(extras))}]" if extras else str(ROOT)
    subprocess.check_call([*pip, "install", "-e", target])
    STAMP.write_text(write_stamp(pyproject, extras))


def ensure_venv(extras: Iterable[str] = ()) -> None:
    """Make sure ``.venv`` is current, has ``extras``, and that we run inside it.

    Re-executes the current command with the virtualenv's interpreter when
    started from another one.
    """
    if os.environ.get("REALITY_NO_BOOTSTRAP"):
        return
    lock_path = ROOT / ".venv.lock"
    fd = os.open(lock_path, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        try:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX)
        except ImportError:  # pragma: no cover - not POSIX
            pass
        pyproject = (ROOT / "pyproject.toml").read_bytes()
        stamp = STAMP.read_text() if STAMP.exists() and venv_python().exists() else None
        install = extras_to_install(stamp, pyproject, extras)
        if install is not None:
            _install(install, pyproject)
    finally:
        os.close(fd)
    if Path(sys.prefix).resolve() != VENV.resolve():
        python = str(venv_python())
        os.execv(python, [python, *sys.argv])
