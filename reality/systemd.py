"""systemd's ``Type=notify`` protocol, without libsystemd: a few datagrams.

systemd starts a ``Type=notify`` service with ``NOTIFY_SOCKET`` in its
environment: the path of a Unix datagram socket (``@name`` for one in the
Linux abstract namespace). The service sends it newline-separated
``KEY=value`` assignments (``sd_notify(3)``):

``READY=1``
    every port listens: ``systemctl start`` returns, dependants start.
``STOPPING=1``
    an orderly shutdown has begun.
``RELOADING=1`` / ``MAINPID=<pid>``
    a code upgrade is under way / the service's main process is now
    ``pid`` (the upgrade step hands the service to a new process; systemd
    must then watch that one). :meth:`Notifier.reloading` and
    :meth:`Notifier.main_pid` are ready for it.
``WATCHDOG=1``
    the loop is alive. With ``WatchdogSec=`` in the unit, systemd sets
    ``WATCHDOG_USEC`` and restarts the service when the pings stop:
    :meth:`Notifier.watchdog_interval` says how often to ping (half the
    interval, as ``sd_watchdog_enabled(3)`` advises), and the server pings
    from a reactor timer, so a hung loop stops pinging.
``STATUS=<text>``
    a line ``systemctl status`` shows.

Without ``NOTIFY_SOCKET`` every call does nothing, so the server calls them
unconditionally. A failed send is logged once and never raises: systemd
going away must not take the game down.

This module imports only the standard library.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

__all__ = ["Notifier"]

log = logging.getLogger("reality.systemd")


class Notifier:
    """Sends ``sd_notify`` messages to ``NOTIFY_SOCKET``, if systemd gave one.

    ``environ`` defaults to :data:`os.environ`; tests pass their own.
    ``WATCHDOG_PID``, when set, must name this process for the watchdog to
    apply to it (as ``sd_watchdog_enabled`` checks).
    """

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        path = env.get("NOTIFY_SOCKET", "")
        #: Where the messages go (bytes for the abstract namespace), or None.
        self.address: str | bytes | None = None
        if path.startswith("@"):
            self.address = b"\0" + path[1:].encode()
        elif path.startswith("/"):
            self.address = path
        self._watchdog_usec = 0
        try:
            usec = int(env.get("WATCHDOG_USEC", "0"))
            pid = env.get("WATCHDOG_PID")
            if usec > 0 and (pid is None or int(pid) == os.getpid()):
                self._watchdog_usec = usec
        except ValueError:
            pass
        self._socket: socket.socket | None = None
        self._failed = False
        #: Every message sent (tests and ``@stats`` may read it); bounded.
        self.sent: list[str] = []

    @property
    def enabled(self) -> bool:
        """True when systemd asked to be told (``NOTIFY_SOCKET`` is set)."""
        return self.address is not None

    def watchdog_interval(self) -> float | None:
        """Seconds between ``WATCHDOG=1`` pings (half ``WATCHDOG_USEC``), or None."""
        if not self.enabled or self._watchdog_usec <= 0:
            return None
        return self._watchdog_usec / 2_000_000

    def notify(self, *assignments: str) -> bool:
        """Send ``KEY=value`` assignments in one datagram; True if it was sent."""
        if self.address is None:
            return False
        message = "\n".join(assignments)
        try:
            if self._socket is None:
                kind = socket.SOCK_DGRAM | socket.SOCK_CLOEXEC
                self._socket = socket.socket(socket.AF_UNIX, kind)
                self._socket.setblocking(False)
            self._socket.sendto(message.encode(), self.address)
        except OSError as exc:
            if not self._failed:
                log.warning("cannot notify systemd at %r: %s", self.address, exc)
                self._failed = True
            return False
        if len(self.sent) < 1000:
            self.sent.append(message)
        return True

    def ready(self, status: str | None = None) -> bool:
        """``READY=1``: every port listens."""
        return self.notify("READY=1", *(() if status is None else (f"STATUS={status}",)))

    def stopping(self) -> bool:
        """``STOPPING=1``: an orderly shutdown has begun."""
        return self.notify("STOPPING=1")

    def reloading(self) -> bool:
        """``RELOADING=1``: a code upgrade has begun (the upgrade step sends it)."""
        return self.notify("RELOADING=1")

    def main_pid(self, pid: int, *, ready: bool = True) -> bool:
        """``MAINPID=pid`` (and ``READY=1``): another process is now the service.

        The upgrade step's old process sends it when the new one has taken
        over, so systemd watches (and sends signals to) the new process.
        """
        return self.notify(f"MAINPID={pid}", *(("READY=1",) if ready else ()))

    def watchdog(self) -> bool:
        """``WATCHDOG=1``: the loop is alive."""
        return self.notify("WATCHDOG=1")

    def status(self, text: str) -> bool:
        """``STATUS=text``: one line for ``systemctl status``."""
        return self.notify("STATUS=" + text.replace("\n", " "))

    def close(self) -> None:
        """Close the socket (the next message opens another)."""
        if self._socket is not None:
            self._socket.close()
            self._socket = None
