"""Test doubles for the world's side of the gateway contract."""

from __future__ import annotations

from typing import Any

from reality.game.markup import strip


class FakeSession:
    """A Session that records everything the world sends it."""

    def __init__(self) -> None:
        self.shown: list[str] = []
        self.data: list[tuple[str, dict[str, Any]]] = []
        self.closed: str | None = None
        self.player: Any = None

    def attach(self, player: Any) -> None:
        self.player = player

    def show(self, text: str) -> None:
        self.shown.append(text)

    def send_data(self, kind: str, data: dict[str, Any]) -> None:
        self.data.append((kind, data))

    def disconnect(self, message: str) -> None:
        self.closed = message

    # -- for tests --

    def text(self) -> str:
        """Everything shown so far, markup stripped, one string."""
        return "\n".join(strip(t) for t in self.shown)

    def lines(self) -> list[str]:
        return [line for t in self.shown for line in strip(t).split("\n")]

    def take(self) -> list[str]:
        """Lines shown since the last take (markup stripped)."""
        lines = self.lines()
        self.shown.clear()
        return lines

    def last(self) -> str:
        return strip(self.shown[-1]) if self.shown else ""


class WallClock:
    """A settable wall clock for last-seen and homepage times."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
