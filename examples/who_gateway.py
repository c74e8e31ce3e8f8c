"""A worked example from docs/extending.md: a gateway of its own.

A "who" service on its own TCP port: a client connects and is sent the
names of the players online, one a line, then the connection closes. It
plugs in the way every gateway does (:mod:`reality.gateways.context`):
``install(context)`` builds the factory, opens the port with
``context.listen`` and returns the object the server tracks
(``open_connections``, ``close_all``). To serve it, add ``who.install``
to :data:`reality.app.GATEWAYS`.

The gateway reads the world only through its public API
(``world.who_online()``), counts connections per address with
:class:`~reality.gateways.connections.Connections` like the other
gateways, and refuses past the server's connection limits.
"""

from __future__ import annotations

from reality.game.world import World
from reality.gateways.connections import Connections
from reality.gateways.context import GatewayContext
from reality.net.defer import Failure
from reality.net.interfaces import ITransport
from reality.net.protocol import Address, Factory, Protocol

#: The port the example listens on (a real gateway takes it from a Settings field).
WHO_PORT = 7900


class WhoProtocol(Protocol):
    """Sends the list, then closes (lose_connection flushes first)."""

    #: Set by make_connection before any other method runs.
    transport: ITransport

    def __init__(self, gateway: WhoGateway) -> None:
        self.gateway = gateway

    def connection_made(self) -> None:
        self.gateway.connections.add(self, self.transport.get_peer().host)
        names = [player.name for player in self.gateway.world.who_online()]
        text = "\r\n".join(names) if names else "Nobody is online."
        self.transport.write(text.encode("utf-8") + b"\r\n")
        self.transport.lose_connection()

    def connection_lost(self, reason: Failure) -> None:
        self.gateway.connections.discard(self)


class _Refused(Protocol):
    transport: ITransport

    def connection_made(self) -> None:
        self.transport.write(b"Too many connections; try again later.\r\n")
        self.transport.lose_connection()


class WhoGateway(Factory):
    """The factory and the object the server tracks, in one (as TelnetGateway is)."""

    def __init__(self, world: World, max_per_address: int, max_connections: int) -> None:
        self.world = world
        self.connections = Connections(max_per_address, max_connections)

    def build_protocol(self, addr: Address) -> Protocol:
        if self.connections.refusal(addr.host) is not None:
            return _Refused()
        protocol = WhoProtocol(self)
        protocol.factory = self
        return protocol

    # -- what the server asks of a gateway (reality.gateways.context.Gateway) --

    @property
    def open_connections(self) -> int:
        return len(self.connections)

    def close_all(self, message: str) -> None:
        def close(protocol: WhoProtocol) -> None:
            protocol.transport.lose_connection()

        self.connections.close_all(close)


def install(context: GatewayContext) -> WhoGateway:
    """Plug the who service into the server: its port; the gateway is what it tracks."""
    limits = context.limits
    gateway = WhoGateway(context.world, limits.max_per_address, limits.max_connections)
    context.listen("who", WHO_PORT, gateway)
    return gateway
