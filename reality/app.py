"""Builds the server: one Application of services from the command-line settings.

The services start in this order and stop in the reverse one:

1. the database (closed last, after everything is saved);
2. the worker processes (password hashing, parsing large mail, rendering
   homepages and the map);
3. the world (ticks; on shutdown it tells every player, disconnects them
   and saves everything);
4. the listening ports: HTTP (:func:`reality.gateways.web.install`), SMTP
   and POP3 (:func:`reality.gateways.mail.install`), then telnet
   (:func:`reality.gateways.telnet.install`).

The gateways are listed in one place, :data:`GATEWAYS`: each ``install``
takes a :class:`~reality.gateways.context.GatewayContext` and returns the
:class:`Gateway` the server tracks in :attr:`Server.gateways`: at shutdown
every one of them says goodbye on its open connections, and the server
waits (bounded) for them to close.

On SIGINT, SIGTERM or ``@shutdown`` the ports stop listening first, then
the world says goodbye and saves, then the workers exit, then the database
closes, and the process exits with status 0.

With ``--tls-cert`` and ``--tls-key`` the server reads them once at start
(a bad file: :class:`~reality.net.tls.TLSConfigError` naming it, and
``reality serve`` exits 1), opens the TLS ports (telnets, https, pop3s)
and offers STARTTLS/STLS. SIGHUP re-reads both files
(:meth:`Server.reload_tls`): new connections and upgrades get the new
certificate, open ones keep theirs; a bad file keeps the old one and the
log says why.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
from collections.abc import Callable
from typing import Any, TypeVar

from reality.game.loader import WorldDefinition
from reality.game.store import Store
from reality.game.things import plural
from reality.game.world import LoadDone, World
from reality.gateways import mail, metrics as metrics_routes, telnet, web, websocket
from reality.gateways.auth import Authenticator
from reality.gateways.context import ConnectionLimits, Gateway, GatewayContext, Install
from reality.gateways.mail import MailGateway
from reality.gateways.metrics import Health, Metrics, ServerCollector, VerbLabels, parse_allow
from reality.gateways.moderation import Moderation
from reality.gateways.telnet import TelnetGateway
from reality.gateways.web import WebFactory, WebSite
from reality.gateways.workers import WorkerPool
from reality.net.defer import Deferred, succeed
from reality.net.interfaces import IReactor
from reality.net.protocol import Address
from reality.net.service import Application, Service, TCPServer
from reality.net.task import LagMonitor
from reality.net.tls import TLSConfigError, TLSContexts
from reality.ops import OpsService
from reality.settings import Settings
from reality.systemd import Notifier
from reality.upgrade import ENV_LISTEN, Successor, Upgrader, inherited_listeners

log = logging.getLogger("reality")

__all__ = ["GATEWAYS", "Gateway", "Server", "Settings", "tls_contexts"]

#: Every gateway's ``install``, in the order their ports open: HTTP, SMTP
#: and POP3, telnet.
GATEWAYS: tuple[Install, ...] = (web.install, mail.install, telnet.install)

_G = TypeVar("_G")


class StoreService(Service):
    """Owns the database connection; closes it when everything else has stopped."""

    def __init__(self, store: Store) -> None:
        self.name = "store"
        self.store = store

    def stop_service(self) -> None:
        super().stop_service()
        self.store.close()


class WorkerService(Service):
    """Runs the worker processes (see :class:`~reality.gateways.workers.WorkerPool`)."""

    def __init__(self, pool: WorkerPool) -> None:
        self.name = "workers"
        self.pool = pool

    def start_service(self) -> None:
        super().start_service()
        self.pool.start()

    def stop_service(self) -> Deferred[None]:
        super().stop_service()
        return self.pool.stop()


class WorldService(Service):
    """Runs the world's ticks; on stop, says goodbye to everyone and saves."""

    def __init__(self, server: Server) -> None:
        self.name = "world"
        self.server = server

    def start_service(self) -> None:
        super().start_service()
        self.server.world.start()
        self.server.lag.start()

    def stop_service(self) -> Deferred[None]:
        super().stop_service()
        server = self.server
        server.lag.stop()
        message = server.shutdown_message or "The server is shutting down. Goodbye!"
        server.world.disconnect_all(message)
        for gateway in server.gateways:
            try:
                gateway.close_all(message)
            except Exception:
                log.exception("error while closing connections")
        server.world.stop()
        return server.wait_for_connections(2.0)


class Server:
    """The assembled server: settings, world, gateways and the Application.

    Nothing listens until it runs.
    """

    def __init__(
        self, settings: Settings, reactor: IReactor, definition: WorldDefinition,
        *, notifier: Notifier | None = None,
    ) -> None:
        self.settings = settings
        self.reactor = reactor
        #: The world file as loaded at start (an upgrade's new process reloads
        #: the world's state with it once the old one has saved).
        self.definition = definition
        #: Every listening port's service, in the order they open.
        self.listeners: list[TCPServer] = []
        #: Set by the old process of an upgrade once it has handed over.
        self.upgraded = False
        #: Listening sockets inherited from the process this one upgrades.
        self._inherited = inherited_listeners()
        os.environ.pop(ENV_LISTEN, None)
        #: This process's side of the upgrade that started it, or None.
        self.successor = Successor.from_environ(self)
        self.shutdown_message: str | None = None
        self.gateways: list[Gateway] = []
        self.addresses: dict[str, Address] = {}
        self.app = Application("reality")
        #: The certificate and key, or None without TLS (checked before anything opens).
        self.tls = tls_contexts(settings)

        self.store = Store(settings.db, init_db=settings.init_db)
        StoreService(self.store).set_service_parent(self.app)

        self.pool = WorkerPool(reactor, size=settings.workers)
        WorkerService(self.pool).set_service_parent(self.app)

        # No admins= here: a running server takes admin rights only from the
        # database's flag, read at each login.
        self.world = World(
            reactor,
            self.store,
            mail_domain=settings.mail_domain,
            checkpoint_interval=settings.checkpoint_interval,
            world_dir=os.path.abspath(
                settings.world_dir or os.path.dirname(os.path.abspath(settings.world))
            ),
        )
        self.world.load_file = self._load_world_file
        self.world.load(definition)
        self.world.on_shutdown = self.shutdown
        self.lag = LagMonitor(reactor)
        self.started = reactor.seconds()
        self.world.verbs.register(
            "@reload", self._reload_verb, admin=True, usage="@reload",
            help="Upgrade the server's code without dropping anyone: a new process starts"
            " from the code and world file on disk and takes over every telnet player.",
            category="admin",
        )
        self.world.verbs.register(
            "@stats", self._stats_verb, admin=True, usage="@stats [reset]",
            help="Show the server's health: players, commands, tick lateness, memory.",
            category="admin",
        )
        self.authenticator = Authenticator(
            self.store,
            self.pool,
            reactor,
            max_signups_per_hour=settings.max_signups_per_hour,
            reserved=settings.admins,
            bans=self.world.bans,
        )
        WorldService(self).set_service_parent(self.app)

        # A second port of one install (HTTPS) is tracked right after it.
        extra: list[Gateway] = []
        context = GatewayContext(
            reactor=reactor,
            world=self.world,
            store=self.store,
            settings=settings,
            pool=self.pool,
            authenticator=self.authenticator,
            limits=ConnectionLimits.from_settings(settings),
            listen=self.listen,
            public_host=self.public_host,
            started=self.started,
            tls=self.tls,
            track=extra.append,
        )
        for install in GATEWAYS:
            self.gateways.append(install(context))
            self.gateways += extra
            extra.clear()
        #: ``/ws``: the game over WebSocket, on the website's port, played in
        #: sessions of the telnet gateway (which counts and closes them).
        self.websocket = websocket.install(context, self._gateway(WebFactory), self.telnet)
        #: ``password``, ``@ban``, ``@unban``, ``@bans``; a ban closes what it
        #: covers on every gateway.
        self.moderation = Moderation(self.world, self.authenticator, self.gateways)
        self.moderation.install()

        # Seeing inside: /metrics and /healthz on the website (docs/operations.md).
        self.metrics = Metrics()
        self.metrics.verb_of = VerbLabels(self.world.verbs)
        self.metrics.registry.register(ServerCollector(self))
        self.health = Health(self, window=settings.health_window,
                             limit=settings.health_lateness)
        self.lag.observers.append(self.metrics.loop_lag.observe)
        self.lag.observers.append(self.health.sample)
        self.authenticator.on_login = self.metrics.login
        self.world.on_checkpoint = self._checkpointed
        self.telnet.metrics = self.metrics
        metrics_routes.install(self, self.metrics, self.health,
                               parse_allow(settings.metrics_allow))
        #: pid file, systemd, SIGUSR1, timed backups: the last service to start
        #: (every port listens by then) and the first to stop.
        self.ops = OpsService(self, notifier)
        self.ops.set_service_parent(self.app)
        #: @reload and SIGUSR2: the code upgrade (reality.upgrade).
        self.upgrader = Upgrader(self)

    def _gateway(self, kind: type[_G]) -> _G:
        for gateway in self.gateways:
            if isinstance(gateway, kind):
                return gateway
        raise LookupError(f"no {kind.__name__} is installed")

    @property
    def telnet(self) -> TelnetGateway:
        """The telnet gateway."""
        return self._gateway(TelnetGateway)

    @property
    def web(self) -> WebSite:
        """The website."""
        site = self._gateway(WebFactory).site
        assert site is not None
        return site

    @property
    def mail(self) -> MailGateway:
        """The mail gateway (SMTP and POP3)."""
        return self._gateway(MailGateway)

    def _load_world_file(self, path: str, done: LoadDone) -> None:
        """``@load``'s hook: the file is read and parsed in a worker, within the
        job time limit; ``done`` gets the definition or the error (WorldFileError,
        ServerBusy, JobTimeout) on the loop, and the world swaps it in there."""
        d = self.pool.load_world(path, self.world.world_dir)
        d.add_callbacks(done, lambda failure: done(failure.value))

    def listen(
        self,
        service: str,
        port: int,
        factory: Any,
        on_listening: Callable[[Address], object] | None = None,
    ) -> TCPServer:
        """Add a listening port; logs ``<service> listening on <host>:<port>``.

        ``on_listening(address)`` follows, when the port is open (with port 0,
        only then is its number known).
        """

        def listening(address: Address) -> None:
            self.addresses[service] = address
            log.info("%s listening on %s:%s", service, address.host, address.port)
            if on_listening is not None:
                on_listening(address)

        fd = self._inherited.pop(service, None)
        sock = socket.socket(fileno=fd) if fd is not None else None
        server = TCPServer(
            self.reactor, port, factory, self.settings.bind, on_listening=listening, sock=sock
        )
        server.set_name(service)
        self.listeners.append(server)
        server.set_service_parent(self.app)
        return server

    def connections_by_service(self) -> dict[str, int]:
        """Connections open now by service name (``reality_connections_open``)."""
        counts: dict[str, int] = {}
        for gateway in self.gateways:
            name = getattr(gateway, "service_name", None) or _SERVICE_NAMES.get(
                type(gateway).__name__, type(gateway).__name__.lower()
            )
            counts[name] = counts.get(name, 0) + gateway.open_connections
        return counts

    def mail_counts(self) -> tuple[int, dict[str, int]]:
        """Messages accepted, and refusals by reason, since the start."""
        try:
            gateway = self.mail
        except LookupError:
            return 0, {}
        return gateway.accepted, dict(gateway.rejected)

    def _checkpointed(self, seconds: float, error: BaseException | None) -> None:
        self.metrics.checkpoint(seconds, error is None)
        self.health.checkpoint_error = None if error is None else str(error) or type(error).__name__

    def backup_done(self, ok: bool) -> None:
        """A timed backup ended (``reality_backups_total``)."""
        self.metrics.backups["ok" if ok else "failed"].inc()

    def open_connections(self) -> int:
        """Connections open now, over every gateway."""
        return sum(gateway.open_connections for gateway in self.gateways)

    def stats(self) -> dict[str, float]:
        """Figures for admins and benchmarks: uptime, load, tick lateness, memory."""
        return {
            "uptime": self.reactor.seconds() - self.started,
            "online": len(self.world.online),
            "connections": self.open_connections(),
            "commands": self.telnet.commands,
            "lateness_p50_ms": self.lag.percentile(0.5) * 1000,
            "lateness_p99_ms": self.lag.percentile(0.99) * 1000,
            "lateness_max_ms": self.lag.percentile(1.0) * 1000,
            "rss_kib": _rss_kib(),
        }

    def _reload_verb(self, ctx: Any, args: str) -> None:
        player = ctx.player
        world = self.world
        assert player is not None
        key, show = player.key, player.show

        def reply(text: str) -> None:
            if world.online.get(key) is player:
                show(text)

        reason = self.upgrader.start(player.name, reply)
        if reason is None:
            ctx.tell("Upgrading: a new server process is starting from the code on disk.")
        else:
            ctx.tell(f"Cannot upgrade now: {reason}.")

    def _stats_verb(self, ctx: Any, args: str) -> None:
        if args.strip().lower() == "reset":
            self.lag.samples.clear()
            ctx.tell("Tick lateness samples cleared.")
            return
        figures = self.stats()
        ctx.tell(
            "{bold}Server statistics{/}\n"
            f"process {os.getpid()}; uptime {figures['uptime']:.0f} s;"
            f" {plural(int(figures['online']), 'player')}"
            f" online; {plural(int(figures['connections']), 'connection')};"
            f" {plural(int(figures['commands']), 'command')}\n"
            f"tick lateness p50 {figures['lateness_p50_ms']:.2f} ms, "
            f"p99 {figures['lateness_p99_ms']:.2f} ms, max {figures['lateness_max_ms']:.2f} ms\n"
            f"memory (RSS) {figures['rss_kib']:.0f} KiB"
        )

    def public_host(self) -> str:
        """The host name to put in URLs and instructions."""
        bind = self.settings.bind
        if bind in ("", "0.0.0.0", "::"):
            return socket.getfqdn()
        return bind

    def shutdown(self, message: str) -> None:
        """``@shutdown``: stop the server with a message for the players."""
        self.shutdown_message = message
        if self.reactor.running:
            self.reactor.call_soon(self.reactor.stop)

    def wait_for_connections(self, limit: float) -> Deferred[None]:
        """Fire when every connection has closed, or after ``limit`` seconds."""
        if not self.open_connections():
            return succeed(None)
        d: Deferred[None] = Deferred()
        deadline = self.reactor.seconds() + limit

        def check() -> None:
            if not self.open_connections() or self.reactor.seconds() >= deadline:
                d.callback(None)
            else:
                self.reactor.call_later(0.02, check)

        self.reactor.call_later(0.02, check)
        return d

    def reload_tls(self) -> str | None:
        """SIGHUP: re-read the certificate and key; None if done, else why not (logged).

        Open connections are not touched; new ones (and STARTTLS/STLS
        upgrades) use the new certificate. A bad file keeps the old one.
        """
        tls = self.tls
        if tls is None:
            log.info("SIGHUP: no TLS configured, nothing to re-read")
            return None
        reason = tls.reload()
        if reason is None:
            log.info("TLS certificate re-read from %s and %s", tls.cert_file, tls.key_file)
        else:
            log.error("TLS certificate not re-read, keeping the old one: %s", reason)
        return reason

    def run(self, install_signal_handlers: bool = True) -> int:
        """Run until shut down; the exit status (0, or 1 if starting failed)."""
        restore = self._catch_sighup() if install_signal_handlers else None
        try:
            self.app.run(self.reactor, install_signal_handlers=install_signal_handlers)
        finally:
            if restore is not None:
                restore()
        if self.app.start_failure is not None:
            return 1
        return 0

    def _catch_sighup(self) -> Callable[[], None] | None:
        """Have SIGHUP call :meth:`reload_tls` on the loop; returns how to undo it.

        The handler only queues the call and wakes the loop (``wake`` is
        safe from a signal handler on both reactors): the files are read
        between two callbacks, never inside whatever the signal interrupted.
        """
        sighup = getattr(signal, "SIGHUP", None)
        if sighup is None:
            return None
        reactor = self.reactor

        def handler(signum: int, frame: object) -> None:
            reactor.call_soon(self.reload_tls)
            reactor.wake()

        try:
            old = signal.signal(sighup, handler)
        except ValueError:  # not the main thread: no signals here
            return None

        def restore() -> None:
            signal.signal(sighup, old)

        return restore


def tls_contexts(settings: Settings) -> TLSContexts | None:
    """The server's TLS contexts from ``--tls-cert`` and ``--tls-key``, or None without them.

    Raises :class:`~reality.net.tls.TLSConfigError` naming the file that
    is missing, unreadable or wrong, or the flag given without its partner.
    """
    cert, key = settings.tls_cert, settings.tls_key
    if not cert and not key:
        return None
    if not cert or not key:
        given, missing = ("--tls-cert", "--tls-key") if cert else ("--tls-key", "--tls-cert")
        raise TLSConfigError(f"{given} needs {missing} too (the certificate and its key)")
    return TLSContexts(cert, key)


#: ``reality_connections_open``'s service label for each gateway class.
_SERVICE_NAMES = {"TelnetGateway": "telnet", "WebFactory": "http", "MailGateway": "mail"}


def _rss_kib() -> float:
    """This process's resident memory in KiB (Linux /proc; peak RSS elsewhere)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return float(line.split()[1])
    except OSError:
        pass
    import resource

    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
