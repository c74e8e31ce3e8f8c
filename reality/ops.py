"""Running the server as a service: systemd, the pid file, SIGUSR1, timed backups.

:class:`OpsService` is the last service the :class:`~reality.app.Server`
starts, so its ``start_service`` runs when every port listens: it writes
``--pid-file``, tells systemd ``READY=1`` (:mod:`reality.systemd`), starts
the watchdog pings when systemd asked for them, makes SIGUSR1 reopen the
log file (:func:`reality.logs.reopen`) and starts :class:`BackupTimer`.
Being the last to start it is the first to stop: ``STOPPING=1`` goes out
before the ports close.

Signals reach the loop, never run work themselves: the handler only queues
a call (``reactor.call_soon``) and wakes the loop (the reactor's wakeup fd
makes ``select`` return), so the work runs between two events like any
other callback. :meth:`OpsService.on_signal` is there for the upgrade
step's SIGUSR2.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

from reality import __version__, backup as backups, logs
from reality.audit import audit
from reality.net.defer import Failure
from reality.net.interfaces import IDelayedCall, IReactor
from reality.net.protocol import ProcessProtocol
from reality.net.service import Service
from reality.systemd import Notifier

#: The :class:`reality.app.Server` (not imported: the app imports this module).
Server = Any

__all__ = ["BackupTimer", "OpsService"]

log = logging.getLogger("reality.ops")


class BackupTimer:
    """Every ``every`` seconds, a checked copy of the database in ``directory``.

    The copy is made by a child process (``python -m reality backup --db DB
    OUT``, see :mod:`reality.backup` for why not on the loop or in the
    worker pool); the loop only starts it and hears its exit status. One
    backup at a time: a timer that comes round while one is still running
    skips its turn (logged). After a good copy, all but the newest ``keep``
    are deleted.
    """

    def __init__(self, reactor: IReactor, db: str, directory: str, every: float, keep: int,
                 *, on_done: Callable[[bool], object] | None = None,
                 wall: Callable[[], float] = time.time) -> None:
        self.reactor = reactor
        self.db = os.path.abspath(db)
        self.directory = os.path.abspath(directory)
        self.every = every
        self.keep = keep
        self.on_done = on_done
        self.wall = wall
        self.running: Any = None
        self.last: str | None = None
        self.last_error: str | None = None
        self._call: IDelayedCall | None = None

    def start(self) -> None:
        """Make the directory if need be; the first backup is ``every`` seconds from now."""
        os.makedirs(self.directory, exist_ok=True)
        if self.every > 0:
            self._call = self.reactor.call_later(self.every, self._tick)

    def stop(self) -> None:
        """No more backups (one running finishes on its own)."""
        if self._call is not None and self._call.active():
            self._call.cancel()
        self._call = None

    def _tick(self) -> None:
        self._call = self.reactor.call_later(self.every, self._tick)
        self.run_now()

    def run_now(self) -> bool:
        """Start a backup now; False when one is still running."""
        if self.running is not None:
            log.warning("backup: the previous one is still running; skipping this turn")
            return False
        out = os.path.join(self.directory, backups.backup_name(self.wall()))
        argv = [sys.executable, "-m", "reality", "backup", "--db", self.db, out]
        self.running = _BackupChild(self, out)
        try:
            self.reactor.spawn_process(self.running, argv, env=dict(os.environ))
        except OSError as exc:
            self.running = None
            self._finished(out, False, f"cannot start: {exc}")
            return False
        return True

    def _finished(self, out: str, ok: bool, detail: str) -> None:
        self.running = None
        if ok:
            self.last, self.last_error = out, None
            removed = backups.prune(self.directory, self.keep)
            log.info("backup: %s written and checked%s", out,
                     f"; {len(removed)} old ones deleted" if removed else "")
            audit("server.backup", target=out, result="ok")
        else:
            self.last_error = detail
            log.error("backup to %s failed: %s", out, detail)
            audit("server.backup", target=out, result="failed", reason=detail)
        if self.on_done is not None:
            self.on_done(ok)


class _BackupChild(ProcessProtocol):
    def __init__(self, timer: BackupTimer, out: str) -> None:
        self.timer = timer
        self.out = out
        self.errors = bytearray()

    def err_received(self, data: bytes) -> None:
        if len(self.errors) < 4096:
            self.errors += data[: 4096 - len(self.errors)]

    def process_ended(self, reason: Failure) -> None:
        code = getattr(reason.value, "exit_code", None)
        ok = code == 0
        detail = self.errors.decode("utf-8", "replace").strip() or f"exit status {code}"
        self.timer._finished(self.out, ok, detail)


class OpsService(Service):
    """pid file, systemd notifications and watchdog, SIGUSR1, timed backups."""

    def __init__(self, server: Server, notifier: Notifier | None = None) -> None:
        self.name = "ops"
        self.server = server
        self.reactor = server.reactor
        #: systemd's ``NOTIFY_SOCKET`` (does nothing without one).
        self.notifier = notifier or Notifier()
        settings = server.settings
        self.backups: BackupTimer | None = None
        if settings.backup_dir and settings.backup_every > 0:
            self.backups = BackupTimer(
                server.reactor, settings.db, settings.backup_dir, settings.backup_every,
                settings.backup_keep, on_done=server.backup_done,
            )
        self._watchdog: IDelayedCall | None = None
        self._old_handlers: dict[int, Any] = {}
        self._pid_written: str | None = None

    def start_service(self) -> None:
        super().start_service()
        settings = self.server.settings
        successor = getattr(self.server, "successor", None)
        if settings.pid_file and successor is None:
            self.write_pid_file(settings.pid_file)
        self.on_signal(signal.SIGUSR1, logs.reopen)
        upgrader = getattr(self.server, "upgrader", None)
        if upgrader is not None and hasattr(signal, "SIGUSR2"):
            self.on_signal(signal.SIGUSR2, lambda: upgrader.start("signal"))
        if self.backups is not None:
            self.backups.start()
        interval = self.notifier.watchdog_interval()
        if interval is not None:
            self._ping()
            log.info("systemd watchdog: pinging every %.1f s", interval)
        ports = ", ".join(f"{name} {a.port}" for name, a in self.server.addresses.items())
        world = self.server.world
        audit("world.load", target=settings.world, rooms=len(getattr(world, "rooms", ())),
              result="ok")
        audit("server.start", pid=os.getpid(), version=__version__, ports=ports)
        if successor is not None:
            # An upgrade's new process: systemd hears MAINPID= and READY=1, and
            # the pid file is written, once the connections are ours.
            successor.ready()
        else:
            self.notifier.ready(f"serving ({ports})")

    def stop_service(self) -> None:
        super().stop_service()
        if getattr(self.server, "upgraded", False):
            # The new process is the service now: no STOPPING=1 for it.
            audit("server.shutdown", who="upgrade", reason="handed over to a new process")
        else:
            self.notifier.stopping()
            message = self.server.shutdown_message
            audit("server.shutdown", who="admin" if message is not None else "signal",
                  reason=message)
        if self._watchdog is not None and self._watchdog.active():
            self._watchdog.cancel()
        self._watchdog = None
        if self.backups is not None:
            self.backups.stop()
        for signum, handler in self._old_handlers.items():
            try:
                signal.signal(signum, handler)
            except (ValueError, OSError):
                pass
        self._old_handlers.clear()
        if self._pid_written is not None:
            try:
                with open(self._pid_written) as f:
                    mine = f.read().strip() == str(os.getpid())
                if mine:  # an upgrade's new process may have written its own
                    os.unlink(self._pid_written)
            except OSError:
                pass
            self._pid_written = None

    def write_pid_file(self, path: str, pid: int | None = None) -> None:
        """Write ``pid`` (this process) to ``path`` atomically (the upgrade step rewrites it)."""
        pid = os.getpid() if pid is None else pid
        partial = f"{path}.{os.getpid()}.tmp"
        with open(partial, "w") as f:
            f.write(f"{pid}\n")
        os.replace(partial, path)
        self._pid_written = path if pid == os.getpid() else None

    def on_signal(self, signum: int, f: Callable[[], object]) -> bool:
        """Run ``f()`` on the loop whenever ``signum`` arrives; False where that is impossible."""
        reactor = self.reactor

        def handler(signum: int, frame: FrameType | None) -> None:
            reactor.call_soon(f)
            reactor.wake()

        try:
            old = signal.signal(signum, handler)
        except ValueError:  # not the main thread (tests running the server inside)
            return False
        self._old_handlers.setdefault(signum, old)
        return True

    def _ping(self) -> None:
        self.notifier.watchdog()
        interval = self.notifier.watchdog_interval()
        if interval is not None and self.running:
            self._watchdog = self.reactor.call_later(interval, self._ping)
