"""Network addresses: the value a transport reports for either end of a connection."""

from __future__ import annotations

from attrs import frozen

__all__ = ["Address"]


@frozen
class Address:
    """A network endpoint: ``Address("TCP", "127.0.0.1", 4000)``."""

    type: str
    host: str
    port: int

    def __str__(self) -> str:
        if ":" in self.host:
            return f"[{self.host}]:{self.port}"
        return f"{self.host}:{self.port}"
