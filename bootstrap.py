"""Create or refresh the project's virtualenv, then run inside it.

Only the standard library is used here: this runs on a fresh machine that
has nothing but Python 3.11+. The virtualenv lives in ``.venv`` next to this
file; it is (re)installed whenever ``pyproject.toml`` changes. Set
``REALITY_NO_BOOTSTRAP=1`` to run with whatever interpreter you started.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".reality-installed"
EXTRAS = "test"


def venv_python() -> Path:
    """The interpreter inside the project's virtualenv."""
    if os.name == "nt":
        return VENV / "Scripts" / "python.exe"
    return VENV / "bin" / "python"


def _fingerprint() -> str:
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes())
    digest.update(EXTRAS.encode())
    return digest.hexdigest()


def _install() -> None:
    python = venv_python()
    if not python.exists():
        print(f"bootstrap: creating {VENV}", file=sys.stderr)
        subprocess.check_call([sys.executable, "-m", "venv", str(VENV)])
    print("bootstrap: installing the project and its dependencies", file=sys.stderr)
    pip = [str(python), "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.check_call([*pip, "install", "--upgrade", "pip"])
    subprocess.check_call([*pip, "install", "-e", f"{ROOT}[{EXTRAS}]"])
    STAMP.write_text(_fingerprint())


def ensure_venv() -> None:
    """Make sure ``.venv`` is current and that we are running inside it.

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
        current = STAMP.exists() and STAMP.read_text() == _fingerprint()
        if not current:
            _install()
    finally:
        os.close(fd)
    if Path(sys.prefix).resolve() != VENV.resolve():
        python = str(venv_python())
        os.execv(python, [python, *sys.argv])
