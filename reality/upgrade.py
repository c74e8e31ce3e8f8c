"""Upgrading the code without dropping a player (tbaMUD's copyover, nginx's binary upgrade).

``@reload`` or SIGUSR2 starts an upgrade (:meth:`Upgrader.start`):

1. The old process starts ``python -m reality serve ...`` again (the same
   arguments, the code and world file on disk) with its listening sockets
   inherited (``REALITY_LISTEN_FDS=name:fd,...``): the new process adopts
   them instead of binding, so the ports never close and no connection
   attempt is refused; both processes may accept for a moment. A Unix
   ``SOCK_SEQPACKET`` socketpair (``REALITY_UPGRADE_FD``) carries the
   messages, one JSON object each, some with a descriptor attached.
2. The new process loads the code, the world and the database, opens its
   ports on the inherited sockets and says ``ready``. If it does not (it
   exits, or says ``failed``, or is silent for :data:`READY_TIMEOUT`
   seconds), the old process kills it and goes on as if nothing happened;
   the admin who asked and the log are told why (the first error line of
   its stderr, which went to a temporary file until then).
3. On ``ready``, in one turn of the loop, the old process stops accepting,
   tells the TLS and WebSocket players and the IMAP sessions (whose state
   cannot cross) and closes them, stops reading its telnet connections,
   stops the world's ticks and saves it, sends ``state`` (the metrics'
   counters, who asked), then each plain telnet connection (``session``:
   its descriptor by ``SCM_RIGHTS`` and its state, see
   :meth:`~reality.gateways.telnet.session.TelnetSession.hand_over`),
   then ``done``.
4. The new process, on ``state``, reloads the world's state from the
   database (saved by then); on each ``session`` it carries on the
   connection, logged in, in the player's room; on ``done`` it answers
   ``adopted``, tells systemd ``MAINPID=`` and ``READY=1`` and writes
   ``--pid-file``.
5. The old process lets its HTTP, SMTP and POP3 exchanges finish (at most
   :data:`DRAIN_LIMIT` seconds), then stops as on SIGTERM and exits 0.

Everything runs on the reactor: the only waits are sends on the control
socket (blocking, bounded), which the new process reads from its loop.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable
from typing import IO, Any

from reality.audit import audit
from reality.game.accounts import name_key
from reality.game.things import plural

__all__ = [
    "CLOSE_MESSAGE",
    "DRAIN_LIMIT",
    "ENV_CONTROL",
    "ENV_LISTEN",
    "ENV_STDERR",
    "READY_TIMEOUT",
    "Successor",
    "Upgrader",
    "inherited_listeners",
    "serve_argv",
    "set_serve_argv",
]

log = logging.getLogger("reality.upgrade")

#: Environment variables the old process gives the new one.
ENV_LISTEN = "REALITY_LISTEN_FDS"
ENV_CONTROL = "REALITY_UPGRADE_FD"
ENV_STDERR = "REALITY_UPGRADE_STDERR"
#: Seconds the new process has to say it is ready.
READY_TIMEOUT = 30.0
#: Seconds the old process waits for in-flight HTTP, SMTP and POP3 exchanges.
DRAIN_LIMIT = 10.0
#: Seconds a send on the control socket may block.
SEND_TIMEOUT = 10.0
#: A session's state larger than this (a client that stopped reading, with
#: a megabyte of output waiting) is not carried: it is closed instead.
MAX_MESSAGE = 160 * 1024
#: The line the TLS and WebSocket players read before their connection closes.
CLOSE_MESSAGE = (
    "The server is being upgraded; this connection cannot follow. "
    "Reconnect in a moment and carry on."
)

#: The arguments ``reality`` was started with (``serve ...``); see :func:`set_serve_argv`.
_serve_argv: list[str] = []


def set_serve_argv(argv: list[str]) -> None:
    """Remember the command line (``["serve", ...]``) the new process will get."""
    _serve_argv[:] = argv


def serve_argv() -> list[str]:
    """The new process's arguments after ``python -m reality``."""
    if _serve_argv:
        return list(_serve_argv)
    args = sys.argv[1:]
    return args if args[:1] == ["serve"] else ["serve", *args]


def inherited_listeners(environ: dict[str, str] | None = None) -> dict[str, int]:
    """``REALITY_LISTEN_FDS`` read as ``{service name: descriptor}`` (empty without it)."""
    text = (os.environ if environ is None else environ).get(ENV_LISTEN, "")
    found: dict[str, int] = {}
    for part in text.split(","):
        name, _, fd = part.partition(":")
        if name and fd.isdigit():
            found[name] = int(fd)
    return found


def _encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode()


class Upgrader:
    """The old process's side: start a new process, hand over, drain, exit.

    ``server`` is the :class:`reality.app.Server`; one upgrade at a time.
    """

    def __init__(self, server: Any) -> None:
        self.server = server
        self.reactor = server.reactor
        self.child: subprocess.Popen[bytes] | None = None
        self.control: socket.socket | None = None
        self.stderr: IO[bytes] | None = None
        self.reply: Callable[[str], object] | None = None
        self.requester: str | None = None
        #: "idle", "starting", "handing over", "draining"
        self.phase = "idle"
        self.handed_over = 0
        self._timer: Any = None
        self._poll: Any = None
        self._drain_deadline = 0.0
        #: Why the last upgrade failed (tests and @stats read it), or None.
        self.last_error: str | None = None

    # -- starting ---------------------------------------------------------------------

    def start(
        self, who: str = "signal", reply: Callable[[str], object] | None = None
    ) -> str | None:
        """Start an upgrade; None if it is under way, else why not."""
        if self.phase != "idle":
            return "an upgrade is already under way"
        successor = getattr(self.server, "successor", None)
        if successor is not None and successor.control is not None:
            return "this process is still taking over from the previous one"
        self.reply = reply
        self.requester = who if who != "signal" else None
        self.server.ops.notifier.reloading()
        audit("server.reload", who=who, result="started")
        log.info("upgrade requested by %s: starting a new server process", who)
        listeners = self._listening_sockets()
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        stderr_copy = os.dup(2)
        self.stderr = tempfile.TemporaryFile(prefix="reality-upgrade-")
        env = dict(os.environ)
        env[ENV_LISTEN] = ",".join(f"{name}:{fd}" for name, fd in listeners.items())
        env[ENV_CONTROL] = str(child.fileno())
        env[ENV_STDERR] = str(stderr_copy)
        argv = [sys.executable, "-m", "reality", *serve_argv()]
        try:
            self.child = subprocess.Popen(
                argv, pass_fds=(*listeners.values(), child.fileno(), stderr_copy),
                stdin=subprocess.DEVNULL, stderr=self.stderr, env=env,
            )
        except OSError as exc:
            parent.close()
            return self._failed(f"cannot start {argv[0]}: {exc}")
        finally:
            child.close()
            os.close(stderr_copy)
        self.phase = "starting"
        parent.setblocking(False)
        self.control = parent
        self.reactor.add_reader(parent.fileno(), self._readable)
        self._timer = self.reactor.call_later(READY_TIMEOUT, self._too_slow)
        self._poll = self.reactor.call_later(0.1, self._check_child)
        log.info("upgrade: new process %d started; waiting for it to be ready", self.child.pid)
        return None

    def _listening_sockets(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for service in self.server.listeners:
            sock = getattr(service.port, "socket", None)
            if sock is not None:
                found[service.name] = sock.fileno()
        return found

    def _check_child(self) -> None:
        self._poll = None
        child = self.child
        if child is None or self.phase != "starting":
            return
        code = child.poll()
        if code is not None:
            self._failed(f"the new process exited with status {code} before it was ready"
                         + self._stderr_reason())
            return
        self._poll = self.reactor.call_later(0.1, self._check_child)

    def _too_slow(self) -> None:
        self._timer = None
        if self.phase == "starting":
            self._failed(f"the new process was not ready within {READY_TIMEOUT:g} s"
                         + self._stderr_reason())

    def _stderr_reason(self) -> str:
        """What the new process said last on stderr (a traceback's last line), as ``: text``."""
        f = self.stderr
        if f is None:
            return ""
        try:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 16384))
            text = f.read().decode("utf-8", "replace")
        except (OSError, ValueError):
            return ""
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        if not lines:
            return ""
        first = lines[-1]
        if not any(line.startswith("Traceback") for line in lines):
            # Our own refusals ("reality: refusing to start ...") follow the
            # line that says why: take the first line that looks like an error.
            for line in lines:
                if "rror" in line or line.startswith("reality:"):
                    first = line
                    break
        return f": {first[:300]}"

    def _failed(self, reason: str) -> str:
        """The upgrade did not happen: back to serving, and say why."""
        self.last_error = reason
        log.error("upgrade failed, the old process carries on: %s", reason)
        audit("server.reload", who=self.requester or "signal", result="failed", reason=reason)
        child, self.child = self.child, None
        if child is not None and child.poll() is None:
            try:
                child.kill()
                child.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                log.warning("upgrade: could not reap the new process %d", child.pid)
        self._stop_waiting()
        self._cleanup_files()
        self.phase = "idle"
        self.server.ops.notifier.ready("serving (upgrade failed)")
        self._tell(f"{{red}}The upgrade failed; still running the old code.{{/}} {reason}")
        return reason

    def _stop_waiting(self) -> None:
        for name in ("_timer", "_poll"):
            call = getattr(self, name)
            setattr(self, name, None)
            if call is not None and call.active():
                call.cancel()
        self._close_control()

    def _close_control(self) -> None:
        control, self.control = self.control, None
        if control is not None:
            self.reactor.remove_all(control.fileno())
            control.close()

    def _cleanup_files(self) -> None:
        f, self.stderr = self.stderr, None
        if f is not None:
            f.close()

    def _tell(self, text: str) -> None:
        reply = self.reply
        if reply is not None:
            try:
                reply(text)
            except Exception:
                log.exception("upgrade: could not tell the admin")

    # -- messages from the new process ---------------------------------------------------

    def _readable(self) -> None:
        control = self.control
        while control is not None and self.control is control:
            try:
                data = control.recv(65536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                data = b""
                log.warning("upgrade: control socket: %s", exc)
            if not data:
                self._control_closed()
                return
            try:
                message = json.loads(data)
            except ValueError:
                log.warning("upgrade: a message that is not JSON: %r", data[:100])
                continue
            self._message(message)

    def _message(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "ready" and self.phase == "starting":
            self._hand_over()
        elif kind == "failed" and self.phase == "starting":
            self._failed(str(message.get("error", "the new process gave up")))
        elif kind == "adopted" and self.phase == "draining":
            log.info("upgrade: the new process has taken over %s connections",
                     message.get("count"))
            self._close_control()

    def _control_closed(self) -> None:
        if self.phase == "starting":
            child = self.child
            try:
                code = child.wait(timeout=2) if child is not None else None
            except subprocess.TimeoutExpired:
                code = None
            self._failed(f"the new process exited with status {code} before it was ready"
                         + self._stderr_reason())
        else:
            self._close_control()

    # -- the handover -------------------------------------------------------------------

    def _hand_over(self) -> None:
        """The new process is ready: everything happens in this one turn of the loop."""
        self.phase = "handing over"
        child, control = self.child, self.control
        assert child is not None and control is not None
        for name in ("_timer", "_poll"):
            call = getattr(self, name)
            setattr(self, name, None)
            if call is not None and call.active():
                call.cancel()
        server = self.server
        # 1. Stop accepting: the new process accepts on the same sockets.
        for service in server.listeners:
            port, service.port = service.port, None
            if port is not None:
                port.stop_listening()
        # 2. What cannot cross is told and closed (before the world is saved:
        #    their players' leaving is saved with it).
        crossing, staying = server.telnet.handover_sessions()
        for session in staying:
            close = getattr(session, "close_for_upgrade", None)
            try:
                if close is not None:
                    close(CLOSE_MESSAGE)
                else:
                    session.disconnect(CLOSE_MESSAGE)
            except Exception:
                log.exception("upgrade: error closing %r", session)
        try:
            mail = server.mail
        except LookupError:
            mail = None
        if mail is not None:
            for connection in mail.connections.matching(lambda host: True):
                shutdown = getattr(connection, "shutdown", None)
                if getattr(connection, "service", "") == "imap" and shutdown is not None:
                    try:
                        shutdown("Server upgrading, reconnect in a moment")
                    except Exception:
                        log.exception("upgrade: error closing %r", connection)
        # 3. No more commands run here; the world stops and is saved.
        for session in crossing:
            session.quiesce()
        server.world.stop()
        # 4. The state, then every connection, then "done".
        control.setblocking(True)
        control.settimeout(SEND_TIMEOUT)
        count = 0
        try:
            control.send(_encode({
                "type": "state",
                "metrics": server.metrics.snapshot(),
                "requester": self.requester,
            }))
            for session in crossing:
                count += self._send_session(control, session)
            control.send(_encode({"type": "done", "count": count}))
        except OSError as exc:
            # The new process went away mid-way: what was sent is its; the
            # rest cannot come back. Say so; this process still exits.
            log.error("upgrade: the handover broke off after %d connections: %s", count, exc)
        control.setblocking(False)
        self.handed_over = count
        log.info("upgrade: %d connections handed to process %d; draining", count, child.pid)
        audit("server.reload", who=self.requester or "signal", result="handed-over",
              pid=child.pid, connections=count)
        server.upgraded = True
        self.phase = "draining"
        self._drain_deadline = self.reactor.seconds() + DRAIN_LIMIT
        self.reactor.call_later(0.02, self._drain)

    def _send_session(self, control: socket.socket, session: Any) -> int:
        try:
            sock, state = session.hand_over()
        except Exception:
            log.exception("upgrade: could not hand over %r", session)
            return 0
        try:
            data = _encode({"type": "session", "state": state})
            if len(data) > MAX_MESSAGE:
                log.warning("upgrade: a connection with %d bytes of state is not carried over",
                            len(data))
                return 0
            socket.send_fds(control, [data], [sock.fileno()])
        finally:
            sock.close()
        return 1

    def _drain(self) -> None:
        """Wait for the in-flight exchanges (bounded), then stop as on SIGTERM."""
        server = self.server
        if server.open_connections() and self.reactor.seconds() < self._drain_deadline:
            self.reactor.call_later(0.05, self._drain)
            return
        left = server.open_connections()
        if left:
            log.warning("upgrade: %d connections still open after %g s; closing them",
                        left, DRAIN_LIMIT)
        self.child = None  # it lives on without us
        self._cleanup_files()
        server.shutdown(CLOSE_MESSAGE)


class Successor:
    """The new process's side: ``ready``, then take the state and the connections."""

    def __init__(self, server: Any, control: socket.socket, stderr_fd: int | None) -> None:
        self.server = server
        self.reactor = server.reactor
        self.control: socket.socket | None = control
        self.stderr_fd = stderr_fd
        self.adopted = 0
        self.requester: str | None = None

    @classmethod
    def from_environ(cls, server: Any) -> Successor | None:
        """The successor side when this process was started by an upgrade, else None."""
        fd = os.environ.pop(ENV_CONTROL, "")
        stderr = os.environ.pop(ENV_STDERR, "")
        if not fd.isdigit():
            return None
        control = socket.socket(fileno=int(fd))
        return cls(server, control, int(stderr) if stderr.isdigit() else None)

    def ready(self) -> None:
        """Every port listens (on the inherited sockets): say so, and listen for the rest."""
        control = self.control
        assert control is not None
        if self.stderr_fd is not None:
            # From now on this process's errors go where the old one's went.
            try:
                sys.stderr.flush()
                os.dup2(self.stderr_fd, 2)
                os.close(self.stderr_fd)
            except OSError:
                pass
            self.stderr_fd = None
        control.setblocking(True)
        control.settimeout(SEND_TIMEOUT)
        control.send(_encode({"type": "ready", "pid": os.getpid()}))
        control.setblocking(False)
        self.reactor.add_reader(control.fileno(), self._readable)
        log.info("upgrade: this process (%d) is ready; waiting for the handover", os.getpid())

    def _readable(self) -> None:
        while self.control is not None:
            control = self.control
            try:
                data, fds, _flags, _addr = socket.recv_fds(control, MAX_MESSAGE + 4096, 4)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                log.warning("upgrade: control socket: %s", exc)
                data, fds = b"", []
            if not data:
                for fd in fds:
                    os.close(fd)
                self._finish(ended=True)
                return
            try:
                message = json.loads(data)
            except ValueError:
                message = {}
            try:
                self._message(message, fds)
            except Exception:
                log.exception("upgrade: error taking over a connection")

    def _message(self, message: dict[str, Any], fds: list[int]) -> None:
        kind = message.get("type")
        server = self.server
        for extra in fds[1:]:
            os.close(extra)
        if kind == "session" and fds:
            sock = socket.socket(fileno=fds[0])
            try:
                server.telnet.adopt(sock, message["state"])
            except Exception:
                sock.close()
                raise
            self.adopted += 1
            return
        for fd in fds[:1]:
            os.close(fd)
        if kind == "state":
            metrics = message.get("metrics")
            if metrics:
                server.metrics.seed(metrics)
            requester = message.get("requester")
            self.requester = str(requester) if requester else None
            # The old process saved the world just now: take its state.
            server.world.load(server.definition)
        elif kind == "done":
            self._finish(ended=False)

    def _finish(self, *, ended: bool) -> None:
        """The handover is over (or the old process went away): this is the server now."""
        control, self.control = self.control, None
        if control is None:
            return
        self.reactor.remove_all(control.fileno())
        if not ended:
            try:
                control.send(_encode({"type": "adopted", "count": self.adopted}))
            except OSError:
                pass
        control.close()
        server = self.server
        pid = os.getpid()
        server.ops.notifier.main_pid(pid)
        if server.settings.pid_file:
            server.ops.write_pid_file(server.settings.pid_file)
        log.info("upgrade complete: process %d carries on with %d connections", pid, self.adopted)
        audit("server.reload", who=self.requester or "signal", result="ok", pid=pid,
              connections=self.adopted)
        if self.requester:
            player = server.world.online.get(name_key(self.requester))
            if player is not None:
                player.show(f"{{green}}Upgrade complete:{{/}} process {pid} now runs the world"
                            f" ({plural(self.adopted, 'connection')} carried over).")
