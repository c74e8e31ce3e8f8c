"""A gateway's open connections: counted per peer address and per service,
and closed together.

Telnet, HTTP, SMTP and POP3 each allow at most ``max_per_address``
concurrent connections from one address (``--max-per-address``; 0: no
limit) and at most ``max_connections`` in all on each service
(``--max-connections``, counted for each service separately; 0: no limit),
and, at shutdown, say goodbye on every connection still open.
:class:`Connections` is that bookkeeping, once: a gateway asks
:meth:`~Connections.refusal` before it admits a connection (and answers a
refused client in its own protocol: a telnet line, HTTP 503, SMTP 421,
POP3 ``-ERR``, then a close), :meth:`~Connections.add`\\ s it when it is
made and :meth:`~Connections.discard`\\ s it when it is lost.

It is also where a banned address (``@ban 203.0.113.0/24``, see
:class:`~reality.game.bans.Bans`) is turned away: :meth:`~Connections.refusal`
answers :data:`BANNED` before any other limit, so every service refuses it
at accept time, before a protocol byte is exchanged (telnet: a line; SMTP:
``554``; POP3: ``-ERR``; HTTP: ``403``), and :meth:`~Connections.matching`
finds the connections already open from an address banned later.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reality.game.bans import Bans

log = logging.getLogger(__name__)

__all__ = [
    "BANNED", "Connections", "TOO_MANY_FROM_ADDRESS", "TOO_MANY_ON_SERVICE", "refusal_message"
]

#: :meth:`Connections.refusal` when the peer's address is banned.
BANNED = "your address is banned"

#: :meth:`Connections.refusal` when the peer's address holds its share.
TOO_MANY_FROM_ADDRESS = "too many connections from your address"
#: :meth:`Connections.refusal` when the service holds ``max_connections``.
TOO_MANY_ON_SERVICE = "too many connections to this service"


def refusal_message(reason: str) -> str:
    """What a refused player is told (telnet's line, the WebSocket's 503 body)."""
    if reason == BANNED:
        return "Your address is banned from this server."
    if reason == TOO_MANY_FROM_ADDRESS:
        return "Too many connections from your address; please close one and try again."
    return "The server is full; please try again later."


class Connections:
    """Open connections: how many each peer address holds, and each service."""

    __slots__ = (
        "max_per_address", "max_connections", "bans", "_hosts", "_per_address", "_per_service"
    )

    def __init__(
        self, max_per_address: int = 0, max_connections: int = 0, bans: Bans | None = None
    ) -> None:
        #: The bans in force (None: no address is ever banned here).
        self.bans = bans
        #: Connections one address may hold at once (over all services counted
        #: here); 0 means no limit.
        self.max_per_address = max_per_address
        #: Connections each service may hold at once; 0 means no limit.
        self.max_connections = max_connections
        self._hosts: dict[Any, tuple[str, str]] = {}
        self._per_address: dict[str, int] = {}
        self._per_service: dict[str, int] = {}

    def full(self, host: str) -> bool:
        """Whether ``host`` already holds as many connections as one address may."""
        limit = self.max_per_address
        return limit > 0 and self._per_address.get(host, 0) >= limit

    def refusal(self, host: str, service: str = "") -> str | None:
        """Why a new connection from ``host`` to ``service`` must be refused, or None.

        A banned address first: it is refused whatever the counts.
        """
        if self.banned(host):
            return BANNED
        limit = self.max_connections
        if limit > 0 and self._per_service.get(service, 0) >= limit:
            return TOO_MANY_ON_SERVICE
        if self.full(host):
            return TOO_MANY_FROM_ADDRESS
        return None

    def banned(self, host: str) -> bool:
        """Whether ``host`` is a banned address (one set probe per prefix length in use)."""
        bans = self.bans
        return bans is not None and bans.address(host) is not None

    def matching(self, covers: Callable[[str], bool]) -> list[Any]:
        """The open connections whose peer host ``covers`` says yes to (a new ban's)."""
        return [c for c, (host, _) in self._hosts.items() if covers(host)]

    def open_on(self, service: str = "") -> int:
        """Connections open now on ``service``."""
        return self._per_service.get(service, 0)

    def add(self, connection: Any, host: str, service: str = "") -> None:
        """Count ``connection``, made from ``host`` to ``service``."""
        if connection not in self._hosts:
            self._hosts[connection] = (host, service)
            self._per_address[host] = self._per_address.get(host, 0) + 1
            self._per_service[service] = self._per_service.get(service, 0) + 1

    def discard(self, connection: Any) -> None:
        """Forget ``connection`` (closed); nothing happens if it was not counted."""
        counted = self._hosts.pop(connection, None)
        if counted is None:
            return
        host, service = counted
        _decrement(self._per_address, host)
        _decrement(self._per_service, service)

    def close_all(self, close: Callable[[Any], object]) -> None:
        """Call ``close(connection)`` on each open connection; one failing stops no other."""
        for connection in list(self._hosts):
            try:
                close(connection)
            except Exception:
                log.exception("error closing %r", connection)

    def __len__(self) -> int:
        return len(self._hosts)

    def __iter__(self) -> Iterator[Any]:
        return iter(list(self._hosts))

    def __contains__(self, connection: object) -> bool:
        return connection in self._hosts


def _decrement(counts: dict[str, int], key: str) -> None:
    count = counts[key] - 1
    if count:
        counts[key] = count
    else:
        del counts[key]
