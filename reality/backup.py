"""Consistent copies of the database while the server runs, and checking them.

:func:`backup` uses SQLite's online backup API (``sqlite3.Connection.backup``):
it copies the database page by page from a read transaction, so the copy is
the database as it stood at one moment, whatever the server writes
meanwhile (in WAL mode writers are never blocked by it). Then it runs
``PRAGMA integrity_check`` on the copy: a backup nobody has checked is a
hope, not a backup. The copy is written to ``OUT.partial`` and renamed to
``OUT`` only when it passed, so ``OUT`` is always a whole, checked copy.

:func:`verify` checks an existing copy: integrity, and that it holds a
Reality schema (``schema_version``), so an operator restores only a file
the server will accept.

Inside the server (``--backup-dir DIR --backup-every SECONDS
--backup-keep N``) the work is done by a child process running ``reality
backup --db DB OUT``, spawned by the reactor (:class:`reality.app.BackupTimer`):
Python's ``Connection.backup`` runs every step in one call (with
``pages=N`` it still loops inside that call, sleeping between steps), so it
cannot be spread over loop turns; and the worker pool is for short jobs
with time limits, where a backup of a large file would hold a slot that
logins need. A child process is off the loop, needs no new machinery,
and its exit status says whether the copy was good.

This module imports only the standard library and attrs.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable

from attrs import frozen

__all__ = ["BackupError", "BackupResult", "backup", "backup_name", "prune", "verify"]

#: Pages copied per step: all of them (-1) by default. SQLite restarts a
#: stepped backup whenever another connection writes the source between two
#: steps, so against a live server (a checkpoint every 5 s) small steps may
#: never finish. In WAL mode one step is one read transaction, which never
#: blocks the server's writers: the copy is consistent and the server is not
#: held up. (It runs in a child process, so the loop does not wait either.)
PAGES_PER_STEP = -1

#: How backups made by the timer are named: ``reality-YYYYmmdd-HHMMSS.sqlite3``.
PREFIX = "reality-"
SUFFIX = ".sqlite3"


class BackupError(Exception):
    """A copy could not be made, or a copy failed its checks."""


@frozen
class BackupResult:
    """What a backup or a verification found."""

    path: str
    size: int
    seconds: float
    pages: int


def _check(db: sqlite3.Connection, path: str) -> None:
    problems = [row[0] for row in db.execute("PRAGMA integrity_check(20)")]
    if problems != ["ok"]:
        raise BackupError(f"{path} failed PRAGMA integrity_check: {'; '.join(problems[:5])}")
    row = db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
    ).fetchone()
    if row is None:
        raise BackupError(f"{path} holds no Reality schema (no schema_version table)")


def backup(
    source: str,
    out: str,
    *,
    pages: int = PAGES_PER_STEP,
    progress: Callable[[int, int, int], object] | None = None,
) -> BackupResult:
    """Copy the database ``source`` to ``out`` consistently, then check the copy.

    ``progress(status, remaining, total)`` is SQLite's progress callback,
    called after each step of ``pages`` pages. Raises :class:`BackupError`
    (nothing is left at ``out`` then).
    """
    if not os.path.exists(source):
        raise BackupError(f"{source} does not exist")
    started = time.monotonic()
    partial = out + ".partial"
    try:
        # Not mode=ro: a read-only connection to a WAL database whose -shm
        # is gone cannot open it. The backup only reads.
        src = sqlite3.connect(source)
    except sqlite3.Error as exc:
        raise BackupError(f"cannot open {source}: {exc}") from None
    try:
        if os.path.exists(partial):
            os.unlink(partial)
        dst = sqlite3.connect(partial)
        try:
            src.backup(dst, pages=pages, progress=progress)
            # The copy is one plain file: no -wal beside it to forget.
            dst.execute("PRAGMA journal_mode=DELETE")
            _check(dst, out)
            page_count = int(dst.execute("PRAGMA page_count").fetchone()[0])
        finally:
            dst.close()
        os.replace(partial, out)
    except sqlite3.Error as exc:
        _remove(partial)
        raise BackupError(f"cannot copy {source} to {out}: {exc}") from None
    except BaseException:
        _remove(partial)
        raise
    finally:
        src.close()
    return BackupResult(out, os.path.getsize(out), time.monotonic() - started, page_count)


def verify(path: str) -> BackupResult:
    """Check a copy: SQLite's integrity_check and a Reality schema; raises BackupError."""
    if not os.path.isfile(path):
        raise BackupError(f"{path} is not a file")
    started = time.monotonic()
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise BackupError(f"cannot open {path}: {exc}") from None
    try:
        _check(db, path)
        pages = int(db.execute("PRAGMA page_count").fetchone()[0])
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} is damaged or not a database ({exc})") from None
    finally:
        db.close()
    return BackupResult(path, os.path.getsize(path), time.monotonic() - started, pages)


def backup_name(when: float) -> str:
    """The file name of a timed backup made at ``when`` (UTC, sortable)."""
    return PREFIX + time.strftime("%Y%m%d-%H%M%S", time.gmtime(when)) + SUFFIX


def prune(directory: str, keep: int) -> list[str]:
    """Delete all but the newest ``keep`` timed backups in ``directory``; the deleted paths."""
    names = sorted(
        name for name in os.listdir(directory)
        if name.startswith(PREFIX) and name.endswith(SUFFIX)
    )
    doomed = names[: max(0, len(names) - keep)] if keep > 0 else []
    removed = []
    for name in doomed:
        path = os.path.join(directory, name)
        if _remove(path):
            removed.append(path)
    return removed


def _remove(path: str) -> bool:
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    return True
