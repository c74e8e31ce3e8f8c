"""A gateway's open connections: counted per peer address, and closed together.

Telnet, SMTP and POP3 each allow at most ``max_per_address`` concurrent
connections from one address (``--max-per-address``; 0: no limit) and, at
shutdown, say goodbye on every connection still open. :class:`Connections`
is that bookkeeping, once: a gateway asks :meth:`~Connections.full` before
it admits a connection, :meth:`~Connections.add`\\ s it when it is made and
:meth:`~Connections.discard`\\ s it when it is lost.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

log = logging.getLogger(__name__)

__all__ = ["Connections"]


class Connections:
    """Open connections and how many each peer address holds."""

    __slots__ = ("max_per_address", "_hosts", "_per_address")

    def __init__(self, max_per_address: int = 0) -> None:
        #: Connections one address may hold at once; 0 means no limit.
        self.max_per_address = max_per_address
        self._hosts: dict[Any, str] = {}
        self._per_address: dict[str, int] = {}

    def full(self, host: str) -> bool:
        """Whether ``host`` already holds as many connections as one address may."""
        limit = self.max_per_address
        return limit > 0 and self._per_address.get(host, 0) >= limit

    def add(self, connection: Any, host: str) -> None:
        """Count ``connection``, made from ``host``."""
        if connection not in self._hosts:
            self._hosts[connection] = host
            self._per_address[host] = self._per_address.get(host, 0) + 1

    def discard(self, connection: Any) -> None:
        """Forget ``connection`` (closed); nothing happens if it was not counted."""
        host = self._hosts.pop(connection, None)
        if host is None:
            return
        count = self._per_address[host] - 1
        if count:
            self._per_address[host] = count
        else:
            del self._per_address[host]

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
