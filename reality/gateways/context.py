"""How a gateway plugs into the server: ``install(context) -> Gateway``, one way for all.

Each gateway module (:mod:`reality.gateways.telnet`,
:mod:`reality.gateways.web`, :mod:`reality.gateways.mail`) has an
``install`` function that takes a :class:`GatewayContext` (what the
assembled server offers: the reactor, the world, the store, the settings,
the worker pool, the one authenticator, the connection limits,
``listen`` to open a port, and the TLS contexts when TLS is configured)
and returns a :class:`Gateway`: what the server tracks to count connections
and to close them at shutdown.
:mod:`reality.app` lists the install functions in one place.

A gateway meets the others only in the world: the telnet gateway tells the
world its address (``world.telnet_address``) and the website, subscribed
to the world's changes, draws its pages again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from attrs import frozen

from reality.game.store import Store
from reality.game.world import World
from reality.gateways.auth import Authenticator
from reality.gateways.workers import WorkerPool
from reality.net.interfaces import IReactor
from reality.net.protocol import Address
from reality.net.tls import TLSContexts
from reality.settings import Settings

__all__ = ["ConnectionLimits", "Gateway", "GatewayContext", "Install", "Listen"]


class Gateway(Protocol):
    """What the server asks of each gateway: its connections, and to close them."""

    @property
    def open_connections(self) -> int:
        """Connections open now."""

    def close_all(self, message: str) -> None:
        """Say goodbye (``message``, where the protocol can say one) and close them all."""


class Listen(Protocol):
    """Open a listening port as one of the server's services (see ``Server.listen``).

    ``on_listening(address)`` runs when the port is open: with port 0, only
    then is its number known.
    """

    def __call__(
        self,
        service: str,
        port: int,
        factory: Any,
        on_listening: Callable[[Address], object] | None = None,
    ) -> object: ...


@frozen
class ConnectionLimits:
    """The limits every gateway applies to its connections (0: no limit).

    Their defaults and flags are in :class:`~reality.settings.Settings`.
    """

    #: Connections open at once from one address, on one service.
    max_per_address: int
    #: Connections open at once on one service.
    max_connections: int
    #: Seconds a player's connection may stay without input.
    idle_timeout: float

    @classmethod
    def from_settings(cls, settings: Settings) -> ConnectionLimits:
        """The limits ``reality serve`` was given."""
        return cls(settings.max_per_address, settings.max_connections, settings.idle_timeout)


@frozen
class GatewayContext:
    """What an assembled server offers a gateway's ``install``."""

    reactor: IReactor
    world: World
    store: Store
    settings: Settings
    #: Where CPU-heavy work runs (hashing, parsing mail, Markdown, the map).
    pool: WorkerPool
    #: The one authenticator, so failed logins are throttled across protocols.
    authenticator: Authenticator
    limits: ConnectionLimits
    listen: Listen
    #: The host name to put in URLs and instructions (asked when a port opens).
    public_host: Callable[[], str]
    #: When the server started, on the reactor's clock.
    started: float
    #: The server's certificate and key (``--tls-cert``/``--tls-key``), or
    #: None: then no TLS service starts and STARTTLS/STLS are not offered.
    tls: TLSContexts | None = None
    #: Track another gateway (a second port of an install, such as HTTPS):
    #: the server counts its connections and closes them at shutdown.
    track: Callable[[Gateway], object] | None = None


#: A gateway's ``install`` function.
Install = Callable[[GatewayContext], Gateway]
