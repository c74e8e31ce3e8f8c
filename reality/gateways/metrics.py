"""What the server measures, ``/metrics`` in Prometheus's text format, and ``/healthz``.

The registry and the text exposition are ``prometheus_client``'s (a
private :class:`~prometheus_client.CollectorRegistry`, never the global
one, and ``generate_latest``); the bytes go out through our own HTTP
server, as two routes on the website (:func:`install`). prometheus_client
imports ``threading`` for its locks but starts no thread (its own HTTP
server, which would, is never used).

Two kinds of figure, chosen by what they cost on the hot path:

- *read at scrape time* (:class:`ServerCollector`): players online,
  connections per service, worker jobs and queue depth, mail accepted and
  rejected. The server already keeps these as plain ints; the collector
  reads them when Prometheus asks, so the loop pays nothing per event.
- *recorded as they happen*: commands by verb and their duration, the
  loop's lateness, logins by result, checkpoint durations. The per-command
  figures are the hot path, so they are plain Python: a dict of ints by
  verb and a :class:`FastHistogram` (a ``bisect`` into the bucket bounds
  and two additions), exported by :class:`CommandCollector` at scrape
  time. prometheus_client's own ``Counter.inc`` and ``Histogram.observe``
  take a lock and check their arguments on every call (about 1 and 2
  microseconds here), which per command would be measurable; they are used
  for the rare events (logins, checkpoints, backups), with label children
  made once and kept (``logins``).

``reality_commands_total{verb=...}`` has a bounded label set: the name of a
registered verb (an alias counts as its verb; ``'`` is ``say``, ``:`` is
``emote``, a direction or exit is ``go``), else ``other``; players' typing
never makes a new label.

Every counter starts at zero when the process starts (Prometheus's
``rate()`` and ``increase()`` handle such resets). The upgrade step can
either let the new process start from zero like any restart, or hand it
:meth:`Metrics.snapshot` and have it call :meth:`Metrics.seed` before
serving, so the counters continue.

Who may read ``/metrics``: addresses inside ``--metrics-allow`` networks
(default: loopback only), parsed like bans (:func:`reality.game.bans.parse_network`);
everyone else gets the site's ordinary 404, so the page's existence is not
advertised. ``/healthz`` is open to all (a load balancer must reach it) and
says only ``ok`` or what is wrong.
"""

from __future__ import annotations

import logging
import time
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Protocol

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from reality.game.bans import Network, host_address, parse_network
from reality.game.things import ABBREVIATIONS, OPPOSITES
from reality.net.protocols.http import Request, Response


class Server(Protocol):
    """What the metrics and the health check read of :class:`reality.app.Server`
    (a protocol, so this module never imports the app that imports it)."""

    world: Any
    store: Any
    pool: Any
    reactor: Any
    lag: Any
    started: float

    @property
    def web(self) -> Any: ...

    def connections_by_service(self) -> dict[str, int]: ...

    def mail_counts(self) -> tuple[int, dict[str, int]]: ...

__all__ = [
    "DEFAULT_ALLOW",
    "EXPORTED",
    "Health",
    "Metrics",
    "ServerCollector",
    "allowed",
    "install",
    "parse_allow",
]

log = logging.getLogger("reality.metrics")

#: ``--metrics-allow`` when none is given: loopback, IPv4 and IPv6.
DEFAULT_ALLOW = ("127.0.0.0/8", "::1/128")

#: Every metric family the server exports (the Grafana dashboard's test reads it).
EXPORTED = (
    "reality_players_online",
    "reality_connections_open",
    "reality_commands_total",
    "reality_command_duration_seconds",
    "reality_loop_lag_seconds",
    "reality_mail_accepted_total",
    "reality_mail_rejected_total",
    "reality_logins_total",
    "reality_checkpoint_duration_seconds",
    "reality_checkpoint_failures_total",
    "reality_worker_jobs_total",
    "reality_worker_queue_depth",
    "reality_worker_processes",
    "reality_backups_total",
    "reality_uptime_seconds",
    "process_cpu_seconds_total",
    "process_resident_memory_bytes",
    "process_virtual_memory_bytes",
    "process_open_fds",
    "process_max_fds",
    "process_start_time_seconds",
    "python_info",
)

#: Login results counted by ``reality_logins_total``.
LOGIN_RESULTS = ("ok", "failed", "throttled", "banned", "error")

# Commands are fast: most take well under a millisecond.
_COMMAND_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
)
_LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_CHECKPOINT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


def parse_allow(texts: Sequence[str] | None) -> list[Network]:
    """The ``--metrics-allow`` networks (loopback when none); ValueError names a bad one."""
    networks = []
    for text in texts or DEFAULT_ALLOW:
        network = parse_network(text)
        if network is None:
            raise ValueError(f"--metrics-allow {text!r} is not an address or a CIDR network")
        networks.append(network)
    return networks


def allowed(host: str | None, networks: Iterable[Network]) -> bool:
    """True when ``host`` (a peer's address text) lies in one of ``networks``."""
    if host is None:
        return False
    address = host_address(host)
    if address is None:
        return False
    return any(address.version == n.version and address in n for n in networks)


class Metrics:
    """The registry and the figures recorded as things happen."""

    def __init__(self, registry: CollectorRegistry | None = None, *,
                 process: bool = True) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        if process:
            ProcessCollector(registry=r)
            PlatformCollector(registry=r)
        #: verb name ("other" for the rest) -> commands run (reality_commands_total).
        self.commands: dict[str, int] = {}
        self.command_duration = FastHistogram(_COMMAND_BUCKETS)
        self.loop_lag = FastHistogram(_LAG_BUCKETS)
        r.register(CommandCollector(self))
        self.logins_counter = Counter(
            "reality_logins", "Login attempts, by result.", ["result"], registry=r,
        )
        #: result -> the labelled child (made once: no label work per login).
        self.logins = {result: self.logins_counter.labels(result) for result in LOGIN_RESULTS}
        self.checkpoint_duration = Histogram(
            "reality_checkpoint_duration_seconds",
            "How long saving positions and inventories took.",
            buckets=_CHECKPOINT_BUCKETS, registry=r,
        )
        self.checkpoint_failures = Counter(
            "reality_checkpoint_failures", "Checkpoints that failed (retried next time).",
            registry=r,
        )
        self.backups_counter = Counter(
            "reality_backups", "Timed backups, by result.", ["result"], registry=r,
        )
        self.backups = {result: self.backups_counter.labels(result) for result in ("ok", "failed")}
        self._observe_command = self.command_duration.observe
        #: Maps a typed line to its verb's name (:class:`VerbLabels`); None: all ``other``.
        self.verb_of: VerbLabels | None = None

    # -- commands (the hot path) --------------------------------------------------------

    def command(self, verb: str | None) -> None:
        """Count one command of ``verb`` (a registered verb's name; None: ``other``)."""
        key = "other" if verb is None else verb
        commands = self.commands
        commands[key] = commands.get(key, 0) + 1

    def command_line(self, line: str) -> None:
        """Count the command ``line`` under the verb it runs (see :class:`VerbLabels`)."""
        verb_of = self.verb_of
        self.command(verb_of(line) if verb_of is not None else None)

    def command_written(self, started: float) -> None:
        """A command's output has been written; ``started`` was ``perf_counter()`` at its line."""
        self._observe_command(time.perf_counter() - started)

    def checkpoint(self, seconds: float, ok: bool) -> None:
        """The world saved (or failed to): its duration."""
        self.checkpoint_duration.observe(seconds)
        if not ok:
            self.checkpoint_failures.inc()

    def login(self, result: str) -> None:
        """One login attempt's result (one of :data:`LOGIN_RESULTS`)."""
        self.logins.get(result, self.logins["error"]).inc()

    # -- exposition -----------------------------------------------------------------------

    def exposition(self) -> bytes:
        """The registry in Prometheus's text format (0.0.4)."""
        return generate_latest(self.registry)

    def _counters(self) -> tuple[Counter, ...]:
        return (self.logins_counter, self.checkpoint_failures, self.backups_counter)

    def snapshot(self) -> list[tuple[str, dict[str, str], float]]:
        """Every counter recorded here as ``(name, labels, value)``: for :meth:`seed`.

        JSON-serialisable, so the upgrade step can send it to the new process.
        (The figures read at scrape time come from the new process's own state.)
        """
        values: list[tuple[str, dict[str, str], float]] = [
            ("reality_commands_total", {"verb": verb}, float(count))
            for verb, count in self.commands.items()
        ]
        for counter in self._counters():
            for family in counter.collect():
                for sample in family.samples:
                    if sample.name.endswith("_total"):
                        values.append((sample.name, dict(sample.labels), sample.value))
        return values

    def seed(self, values: Iterable[Sequence[Any]]) -> None:
        """Continue the counters from a previous process's :meth:`snapshot`."""
        by_name = {counter._name + "_total": counter for counter in self._counters()}
        for name, labels, value in values:
            if name == "reality_commands_total":
                verb = str(labels.get("verb", "other"))
                self.commands[verb] = self.commands.get(verb, 0) + int(value)
                continue
            counter = by_name.get(name)
            if counter is None or value <= 0:
                continue
            (counter.labels(**labels) if labels else counter).inc(value)


class FastHistogram:
    """A histogram for the hot path: bucket counts in a list, no lock, no checks.

    ``observe`` is a ``bisect`` and two additions. Exported (cumulative, as
    Prometheus wants) by :meth:`family`.
    """

    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(sorted(bounds))
        #: One count per bound, and one past the last (+Inf).
        self.counts = [0] * (len(self.bounds) + 1)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        """Count one observation of ``value`` (seconds)."""
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value

    @property
    def count(self) -> int:
        """Observations so far."""
        return sum(self.counts)

    def family(self, name: str, documentation: str) -> HistogramMetricFamily:
        """This histogram as a metric family for a collector."""
        buckets = []
        total = 0
        for bound, count in zip((*self.bounds, float("inf")), self.counts, strict=True):
            total += count
            buckets.append((floatToGoString(bound), total))
        return HistogramMetricFamily(name, documentation, buckets=buckets, sum_value=self.sum)


class CommandCollector(Collector):
    """Exports what :class:`Metrics` counts on the hot path, when Prometheus scrapes."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        metrics = self.metrics
        commands = CounterMetricFamily(
            "reality_commands", "Commands players ran, by verb ('other' for the rest).",
            labels=["verb"],
        )
        for verb, count in sorted(metrics.commands.items()):
            commands.add_metric([verb], count)
        yield commands
        yield metrics.command_duration.family(
            "reality_command_duration_seconds",
            "From a command line received to its output written.",
        )
        yield metrics.loop_lag.family(
            "reality_loop_lag_seconds",
            "How late a reactor timer ran (sampled every 0.1 s): the loop's lateness.",
        )


class VerbLabels:
    """Maps a typed line to the verb it runs, for ``reality_commands_total``'s label.

    Cheap and bounded: the first word is looked up in the world's verb
    registry (names and aliases), so the labels are verb names; directions
    and exits are ``go``; anything else is None (``other``).
    """

    #: Words remembered (those that name a verb or a direction): bounded.
    CACHE = 1024

    def __init__(self, registry: Any) -> None:
        self.registry = registry
        self._cache: dict[str, str] = {}
        self._version = getattr(registry, "version", None)

    def __call__(self, line: str) -> str | None:
        word = line.partition(" ")[0]
        hit = self._cache.get(word)
        if hit is not None and self._version == self.registry.version:
            return hit
        label = self._label(line, word)
        if label is not None and line[:1] not in ("'", '"', ":"):
            if self._version != self.registry.version:
                self._cache.clear()
                self._version = self.registry.version
            if len(self._cache) < self.CACHE:
                self._cache[word] = label
        return label

    def _label(self, line: str, word: str) -> str | None:
        if not line:
            return None
        first = line[0]
        if first in "'\"":
            return "say"
        if first == ":":
            return "emote"
        word = word.lower()
        verb = self.registry.lookup(word)
        if verb is not None:
            return str(verb.name)
        if word in ABBREVIATIONS or word in OPPOSITES:
            return "go"
        return None


class ServerCollector(Collector):
    """Figures the server keeps anyway, read when Prometheus scrapes (no hot-path cost)."""

    def __init__(self, server: Server) -> None:
        self.server = server

    def collect(self) -> Iterator[Metric]:
        server = self.server
        yield GaugeMetricFamily(
            "reality_players_online", "Players logged in now.", value=len(server.world.online)
        )
        connections = GaugeMetricFamily(
            "reality_connections_open", "Connections open now, by service.", labels=["service"]
        )
        for service, count in server.connections_by_service().items():
            connections.add_metric([service], count)
        yield connections
        pool = server.pool
        yield CounterMetricFamily(
            "reality_worker_jobs", "Jobs sent to the worker processes.",
            value=getattr(pool, "submitted", 0),
        )
        yield GaugeMetricFamily(
            "reality_worker_queue_depth", "Jobs in the workers' hands now.", value=pool.queued()
        )
        yield GaugeMetricFamily(
            "reality_worker_processes", "Worker processes alive.",
            value=sum(1 for w in pool.workers if w.alive),
        )
        mail = server.mail_counts()
        yield CounterMetricFamily(
            "reality_mail_accepted", "Messages accepted (SMTP 250).", value=mail[0]
        )
        rejected = CounterMetricFamily(
            "reality_mail_rejected", "Recipients or messages refused, by reason.",
            labels=["reason"],
        )
        for reason, count in sorted(mail[1].items()):
            rejected.add_metric([reason], count)
        yield rejected
        yield GaugeMetricFamily(
            "reality_uptime_seconds", "Seconds since the server started.",
            value=server.reactor.seconds() - server.started,
        )


class Health:
    """``/healthz``'s verdict: is the loop on time, does the database answer, did the
    last checkpoint work?

    The loop is late when any lateness sample in the last ``window`` seconds
    (10 by default) passed ``limit`` (1 s), or when the lag timer is overdue
    by more than ``limit`` now (a request answered in the very turn after a
    stall, before the lag timer has run, must still see it).
    """

    def __init__(self, server: Server, *, window: float = 10.0, limit: float = 1.0) -> None:
        self.server = server
        self.window = window
        self.limit = limit
        #: Clock time of the last sample over the limit, and that lateness.
        self.late_at: float | None = None
        self.late_by = 0.0
        #: Why the last checkpoint failed (None: it worked).
        self.checkpoint_error: str | None = None

    def sample(self, lateness: float) -> None:
        """The lag timer's sample (seconds late)."""
        if lateness > self.limit:
            self.late_at = self.server.reactor.seconds()
            self.late_by = lateness

    def problems(self) -> list[str]:
        """What is wrong now (empty: healthy)."""
        problems = []
        server = self.server
        now = server.reactor.seconds()
        overdue = server.lag.overdue()
        if overdue > self.limit:
            self.late_at, self.late_by = now, overdue
        if self.late_at is not None and now - self.late_at <= self.window:
            problems.append(
                f"loop: ran {self.late_by:.1f} s late within the last {self.window:g} s"
            )
        try:
            server.store.db.execute("SELECT 1").fetchone()
        except Exception as exc:
            problems.append(f"database: does not answer ({exc})")
        if self.checkpoint_error is not None:
            problems.append(f"checkpoint: the last one failed ({self.checkpoint_error})")
        return problems


def install(server: Server, metrics: Metrics, health: Health, allow: Sequence[Network]) -> None:
    """Add ``/metrics`` and ``/healthz`` to the website's router."""
    site = server.web
    not_found = site._not_found

    def metrics_page(request: Request) -> Response:
        peer = request.peer
        if peer is None or not allowed(peer.host, allow):
            return not_found(request)
        body = metrics.exposition()
        return Response(200, {"Content-Type": CONTENT_TYPE_LATEST,
                              "Cache-Control": "no-store"}, body)

    def healthz_page(request: Request) -> Response:
        problems = health.problems()
        headers = {"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store"}
        if problems:
            return Response(503, headers, ("\n".join(problems) + "\n").encode())
        return Response(200, headers, b"ok\n")

    site.router.add("/metrics", metrics_page)
    site.router.add("/healthz", healthz_page)
