"""Child processes as transports: pipes registered with the reactor.

This is how CPU-heavy work (password hashing) leaves the loop without a
thread: the work runs in a child process, and the reactor watches the
child's stdout and stderr like sockets and writes to its stdin without
blocking.

The child's exit is noticed through a pidfd where Linux offers one
(readable when the child exits), and otherwise on SIGCHLD, which the
reactor turns into a wakeup. ``process_ended`` is called once the child
has exited and both its output pipes are closed, so no output is lost.
"""

from __future__ import annotations

import errno
import logging
import os
import signal
import subprocess
from collections.abc import Iterable, MutableMapping, Sequence

from reality.net import error
from reality.net.defer import Failure
from reality.net.interfaces import IProcessProtocol, IReactorIO

log = logging.getLogger(__name__)

__all__ = ["Process"]

READ_SIZE = 65536


class Process:
    """A running child process; the transport of a :class:`ProcessProtocol`.

    ``processes`` is the reactor's table of running children (by pid): the
    process is in it from start to end, so that the reactor can reap it
    on SIGCHLD.
    """

    def __init__(
        self,
        reactor: IReactorIO,
        processes: MutableMapping[int, Process],
        protocol: IProcessProtocol,
        argv: Sequence[str],
        env: dict[str, str] | None = None,
        path: str | None = None,
    ) -> None:
        self.reactor = reactor
        self.protocol = protocol
        self._processes = processes
        self._popen = subprocess.Popen(
            list(argv),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=path,
            close_fds=True,
            bufsize=0,
        )
        pid = self._popen.pid
        self.pid: int | None = pid
        self.status: int | None = None
        # Popen made all three pipes (stdin/stdout/stderr=PIPE above).
        assert self._popen.stdin and self._popen.stdout and self._popen.stderr
        self._stdin = self._popen.stdin.fileno()
        self._stdout = self._popen.stdout.fileno()
        self._stderr = self._popen.stderr.fileno()
        for fd in (self._stdin, self._stdout, self._stderr):
            os.set_blocking(fd, False)
        self._open_outputs = {self._stdout, self._stderr}
        self._buffer = bytearray()
        self._stdin_open = True
        self._close_stdin_when_flushed = False
        self._ended = False
        self._pidfd: int | None = None
        self._polling = False
        processes[pid] = self
        reactor.add_reader(self._stdout, self._read_stdout)
        reactor.add_reader(self._stderr, self._read_stderr)
        pidfd_open = getattr(os, "pidfd_open", None)
        if pidfd_open is not None:
            try:
                self._pidfd = pidfd_open(pid)
            except OSError:
                self._pidfd = None
        if self._pidfd is not None:
            reactor.add_reader(self._pidfd, self.check_exited)
        try:
            protocol.make_connection(self)
        except Exception:
            log.exception("Unhandled error in %r.connection_made", protocol)

    # -- output from the child -------------------------------------------------------

    def _read(self, fd: int) -> bytes | None:
        try:
            data = os.read(fd, READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return None
        except OSError:
            data = b""
        if not data:
            self.reactor.remove_reader(fd)
            self._open_outputs.discard(fd)
            self._closed_fd(fd)
            self._maybe_ended()
            return None
        return data

    def _read_stdout(self) -> None:
        data = self._read(self._stdout)
        if data:
            try:
                self.protocol.out_received(data)
            except Exception:
                log.exception("Unhandled error in %r.out_received", self.protocol)

    def _read_stderr(self) -> None:
        data = self._read(self._stderr)
        if data:
            try:
                self.protocol.err_received(data)
            except Exception:
                log.exception("Unhandled error in %r.err_received", self.protocol)

    def _closed_fd(self, fd: int) -> None:
        pipe = {self._stdout: self._popen.stdout, self._stderr: self._popen.stderr}.get(fd)
        if pipe is not None:
            pipe.close()

    # -- input to the child ---------------------------------------------------------

    def write(self, data: bytes) -> None:
        """Write to the child's stdin without blocking (buffering what does not fit)."""
        if not self._stdin_open or not data:
            return
        if not self._buffer:
            try:
                written = os.write(self._stdin, data)
            except (BlockingIOError, InterruptedError):
                written = 0
            except OSError as exc:
                self._stdin_failed(exc)
                return
            if written == len(data):
                return
            self._buffer += memoryview(data)[written:]
            self.reactor.add_writer(self._stdin, self._do_write)
        else:
            self._buffer += data

    def write_sequence(self, data: Iterable[bytes]) -> None:
        """Write several byte strings to the child's stdin."""
        self.write(b"".join(data))

    def _do_write(self) -> None:
        try:
            written = os.write(self._stdin, self._buffer)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._stdin_failed(exc)
            return
        del self._buffer[:written]
        if not self._buffer:
            self.reactor.remove_writer(self._stdin)
            if self._close_stdin_when_flushed:
                self._really_close_stdin()

    def _stdin_failed(self, exc: OSError) -> None:
        if exc.errno != errno.EPIPE:
            log.warning("writing to process %s failed: %s", self.pid, exc)
        self._buffer.clear()
        self._really_close_stdin()

    def close_stdin(self) -> None:
        """Close the child's stdin once what was written has gone out."""
        if not self._stdin_open:
            return
        if self._buffer:
            self._close_stdin_when_flushed = True
        else:
            self._really_close_stdin()

    def _really_close_stdin(self) -> None:
        if not self._stdin_open:
            return
        self._stdin_open = False
        self.reactor.remove_all(self._stdin)
        stdin = self._popen.stdin
        try:
            if stdin is not None:
                stdin.close()
        except OSError:
            pass
        try:
            self.protocol.in_connection_lost()
        except Exception:
            log.exception("Unhandled error in %r.in_connection_lost", self.protocol)

    def lose_connection(self) -> None:
        """Close stdin (the child sees end of file); output is still read."""
        self.close_stdin()

    # -- signals and exit ---------------------------------------------------------------

    def signal_process(self, signum: int | str) -> None:
        """Send a signal ("TERM", "KILL", "INT" or a number) to the child, if it still runs."""
        if isinstance(signum, str):
            signum = int(getattr(signal, "SIG" + signum.upper().removeprefix("SIG")))
        if self.status is None and self.pid is not None:
            try:
                os.kill(self.pid, signum)
            except ProcessLookupError:
                pass

    def check_exited(self) -> None:
        """Reap the child if it has exited (called on pidfd readiness or SIGCHLD)."""
        if self.status is not None:
            return
        code = self._popen.poll()
        if code is None:
            return
        self.status = code
        if self._pidfd is not None:
            self.reactor.remove_all(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = None
        reason = self._reason()
        try:
            self.protocol.process_exited(Failure(reason))
        except Exception:
            log.exception("Unhandled error in %r.process_exited", self.protocol)
        self._maybe_ended()

    def _reason(self) -> Exception:
        code = self.status
        assert code is not None
        if code == 0:
            return error.ProcessDone(0)
        if code < 0:
            return error.ProcessTerminated(signal=-code, status=code)
        return error.ProcessTerminated(exit_code=code, status=code)

    def _maybe_ended(self) -> None:
        if self._ended or self._open_outputs:
            return
        if self.status is None:
            if self._pidfd is None and not self._polling:
                # No pidfd: poll until the child is reaped (a SIGCHLD may have
                # come before we were ready to hear it).
                self._polling = True
                self.reactor.call_later(0.05, self._poll_exit)
            return
        self._ended = True
        self._really_close_stdin()
        self._processes.pop(self._popen.pid, None)
        try:
            self.protocol.process_ended(Failure(self._reason()))
        except Exception:
            log.exception("Unhandled error in %r.process_ended", self.protocol)

    def _poll_exit(self) -> None:
        self.check_exited()
        if self.status is None:
            self.reactor.call_later(0.05, self._poll_exit)

    def __repr__(self) -> str:
        return f"<Process pid={self.pid} status={self.status}>"
