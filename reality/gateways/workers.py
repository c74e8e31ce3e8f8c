"""A pool of worker processes for CPU-heavy jobs, driven by the reactor.

The server has one thread. Work that costs milliseconds of CPU (scrypt
password hashing, parsing every incoming e-mail message, rendering a homepage's
Markdown, laying out the map, reading and parsing a world file for
``@load``) goes to child processes
running :mod:`reality.gateways.worker`, spoken to in JSON lines over their
stdin and stdout, which the reactor watches like sockets. Each job is a
Deferred; the loop never waits.

Jobs go to the least busy worker. At most ``max_queue`` jobs may be in the
workers' hands; past that a job fails at once with :class:`ServerBusy`, so
a flood of logins cannot queue without bound. A worker that dies is
replaced, and its jobs fail with ServerBusy. A job still running after its
time limit (5 s for rendering, 10 s for parsing mail, 30 s for the rest)
gets its worker killed: it fails with :class:`JobTimeout`, the jobs queued
behind it on that worker with ServerBusy, and a new worker starts. A mail
parse also has a CPU-time limit (5 s) kept by the worker itself, which
abandons the job and goes on: :class:`JobTimeout` with ``cpu=True``.
"""

from __future__ import annotations

import base64
import json
import logging
import sys
from collections import deque
from collections.abc import Sequence
from typing import Any

from reality.game.loader import WorldDefinition
from reality.game.mail.letters import Letter
from reality.game.world import RoomInfo
from reality.gateways.worker import (
    definition_from_json,
    error_from_json,
    letter_from_json,
    rooms_to_json,
)
from reality.net.defer import Deferred, Failure, fail, succeed
from reality.net.interfaces import IProcessTransport, IReactor
from reality.net.protocol import ProcessProtocol

log = logging.getLogger(__name__)

__all__ = ["PARSE_CPU_LIMIT", "PARSE_TIMEOUT", "JobTimeout", "ServerBusy", "WorkerPool"]

#: CPU seconds one e-mail parse may use in a worker (a megabyte of ordinary
#: mail takes a small fraction of a second).
PARSE_CPU_LIMIT = 5.0
#: Wall-clock seconds one e-mail parse may take before its worker is killed.
PARSE_TIMEOUT = 10.0


class ServerBusy(Exception):
    """The workers are overloaded or unavailable."""

    def __str__(self) -> str:
        return "The server is busy; please try again in a moment."


class JobTimeout(Exception):
    """A job ran past its time limit and was abandoned.

    ``cpu`` is True when the job used up its CPU time in the worker (the same
    input would do it again); False when the wall-clock limit ran out and the
    worker was killed (an overloaded machine can do that).
    """

    def __init__(self, cpu: bool = False) -> None:
        super().__init__()
        self.cpu = cpu

    def __str__(self) -> str:
        what = "CPU time" if self.cpu else "time"
        return f"the job ran over its {what} limit and was abandoned"


class _Worker(ProcessProtocol):
    """One worker process and the jobs it is working on, in order."""

    #: Set by spawn_process before any other method runs.
    transport: IProcessTransport

    def __init__(self, pool: WorkerPool) -> None:
        self.pool = pool
        #: The jobs sent, in order: (id, op, Deferred, time limit).
        self.pending: deque[tuple[int, str, Deferred[Any], float]] = deque()
        self.buffer = bytearray()
        self.alive = True
        self.timed_out = False
        self._timer: Any = None

    def request(
        self, ident: int, message: dict[str, Any], d: Deferred[Any], timeout: float
    ) -> None:
        self.pending.append((ident, message["op"], d, timeout))
        if len(self.pending) == 1:
            self._arm()
        self.transport.write(json.dumps(message).encode() + b"\n")

    def _arm(self) -> None:
        # The job at the head is the one being worked on: its time runs now.
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        if self.pending:
            self._timer = self.pool.reactor.call_later(self.pending[0][3], self._too_slow)

    def _too_slow(self) -> None:
        self._timer = None
        if self.pending and self.alive:
            _, op, _, timeout = self.pending[0]
            log.warning("a %s job ran over %.1f s; restarting its worker", op, timeout)
            self.timed_out = True
            self.transport.signal_process("KILL")

    def out_received(self, data: bytes) -> None:
        # Look for the end of a line in the new data only: an answer can be
        # megabytes long and arrive in many reads.
        self.buffer += data
        if b"\n" not in data:
            return
        while (end := self.buffer.find(b"\n")) >= 0:
            line = bytes(self.buffer[:end])
            del self.buffer[: end + 1]
            self._answer(line)

    def _answer(self, line: bytes) -> None:
        if not self.pending:
            log.error("a worker sent an answer nobody asked for: %r", line[:200])
            return
        ident, op, d, _ = self.pending.popleft()
        self._arm()
        try:
            answer = json.loads(line)
        except ValueError:
            d.errback(ServerBusy())
            return
        if answer.get("id") == ident and answer.get("cpu_limit") is True:
            log.warning("a %s job ran over its CPU time limit: abandoned", op)
            d.errback(JobTimeout(cpu=True))
            return
        if answer.get("id") != ident or "error" in answer:
            log.error("worker error for job %s: %r", ident, answer.get("error", answer))
            d.errback(ServerBusy())
            return
        d.callback(answer["result"])

    def err_received(self, data: bytes) -> None:
        log.warning("worker stderr: %s", data.decode(errors="replace").rstrip())

    def process_ended(self, reason: Failure) -> None:
        self.alive = False
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        pending, self.pending = self.pending, deque()
        for index, (_, _, d, _) in enumerate(pending):
            # Only the job that ran out of time is to blame.
            d.errback(JobTimeout() if self.timed_out and index == 0 else ServerBusy())
        self.pool._worker_ended(self, reason)


class WorkerPool:
    """``size`` worker processes; each job method returns a Deferred.

    ``cost`` overrides the scrypt parameters of new hashes (tests use a
    cheap one).
    """

    def __init__(
        self,
        reactor: IReactor,
        size: int = 2,
        max_queue: int = 200,
        argv: list[str] | None = None,
        cost: dict[str, int] | None = None,
        job_timeout: float = 30.0,
        render_timeout: float = 5.0,
        parse_cpu_limit: float = PARSE_CPU_LIMIT,
        parse_timeout: float = PARSE_TIMEOUT,
    ) -> None:
        self.reactor = reactor
        self.size = size
        self.job_timeout = job_timeout
        self.render_timeout = render_timeout
        self.parse_cpu_limit = parse_cpu_limit
        self.parse_timeout = parse_timeout
        self.max_queue = max_queue
        #: Jobs handed to a worker since the start (``reality_worker_jobs_total``).
        self.submitted = 0
        self.argv = argv or [sys.executable, "-m", "reality.gateways.worker"]
        self.cost = cost or {}
        self.workers: list[_Worker] = []
        self._next_id = 0
        self._running = False
        self._stopping: Deferred[None] | None = None

    def start(self) -> None:
        """Start the worker processes."""
        self._running = True
        while len(self.workers) < self.size:
            self._spawn()

    def _spawn(self) -> None:
        worker = _Worker(self)
        self.reactor.spawn_process(worker, self.argv)
        self.workers.append(worker)

    def stop(self) -> Deferred[None]:
        """Close the workers' stdin; fires when they have all exited."""
        self._running = False
        if not self.workers:
            return succeed(None)
        self._stopping = Deferred()
        for worker in list(self.workers):
            worker.transport.close_stdin()
        return self._stopping

    def _worker_ended(self, worker: _Worker, reason: Failure) -> None:
        if worker in self.workers:
            self.workers.remove(worker)
        if self._running:
            log.warning("a worker ended (%s); starting another", reason.value)
            self._spawn()
        elif not self.workers and self._stopping is not None:
            d, self._stopping = self._stopping, None
            d.callback(None)

    def queued(self) -> int:
        """How many jobs are in the workers' hands."""
        return sum(len(w.pending) for w in self.workers)

    def _submit(self, message: dict[str, Any], timeout: float | None = None) -> Deferred[Any]:
        live = [w for w in self.workers if w.alive]
        if not self._running or not live or self.queued() >= self.max_queue:
            return fail(ServerBusy())
        worker = min(live, key=lambda w: len(w.pending))
        self.submitted += 1
        self._next_id += 1
        message["id"] = self._next_id
        d: Deferred[Any] = Deferred()
        worker.request(self._next_id, message, d, timeout or self.job_timeout)
        return d

    def hash(self, password: str) -> Deferred[str]:
        """Hash ``password`` (scrypt) in a worker."""
        return self._submit({"op": "hash", "password": password, **self.cost})

    def verify(self, password: str, stored: str) -> Deferred[bool]:
        """Verify ``password`` against ``stored`` in a worker."""
        return self._submit({"op": "verify", "password": password, "stored": stored})

    def parse_letter(
        self,
        data: bytes,
        *,
        received_at: float,
        envelope_from: str,
        domain: str,
        external: bool = True,
    ) -> Deferred[Letter]:
        """Parse an e-mail message into a Letter in a worker.

        The job has :attr:`parse_cpu_limit` seconds of CPU time (then it fails
        with ``JobTimeout(cpu=True)``) and :attr:`parse_timeout` seconds of
        wall-clock time (then its worker is killed: ``JobTimeout()``).
        """
        d = self._submit(
            {
                "op": "parse_letter",
                "data": base64.b64encode(data).decode("ascii"),
                "received_at": received_at,
                "envelope_from": envelope_from,
                "domain": domain,
                "external": external,
                "cpu_limit": self.parse_cpu_limit,
            },
            self.parse_timeout,
        )
        return d.add_callback(letter_from_json)

    def markdown(self, text: str) -> Deferred[str]:
        """The HTML of a homepage's Markdown (raw HTML escaped), from a worker."""
        return self._submit({"op": "markdown", "text": text}, self.render_timeout)

    def map_svg(self, rooms: Sequence[RoomInfo], start: str | None, title: str) -> Deferred[str]:
        """The SVG map of ``rooms``, from a worker."""
        return self._submit(
            {"op": "map", "rooms": rooms_to_json(rooms), "start": start, "title": title},
            self.render_timeout,
        )

    def load_world(self, path: str, world_dir: str) -> Deferred[WorldDefinition]:
        """``@load``: read, check and parse the world file ``path`` under ``world_dir``
        in a worker (within the job time limit); fails with WorldFileError."""
        d = self._submit({"op": "load_world", "path": path, "world_dir": world_dir})
        return d.add_callback(_definition_or_error)


def _definition_or_error(result: dict[str, Any]) -> WorldDefinition:
    if "definition" in result:
        return definition_from_json(result["definition"])
    raise error_from_json(result)
