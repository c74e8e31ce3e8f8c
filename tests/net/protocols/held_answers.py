"""Backend answers for the mail session tests: given at once, or held until released."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reality.net.defer import Deferred, fail, succeed


class HeldAnswers:
    """Makes a fake backend's answers as fired Deferreds, or holds them.

    With ``hold=True`` each answer is a Deferred that fires only when the
    test calls :meth:`release` (the oldest) or :meth:`release_all`: that is
    how the tests make a session wait on its backend.
    """

    def __init__(self, hold: bool = False) -> None:
        self.hold = hold
        self.pending: list[tuple[Deferred[Any], Callable[[], Any]]] = []

    def answer(self, compute: Callable[[], Any]) -> Deferred[Any]:
        if self.hold:
            d: Deferred[Any] = Deferred()
            self.pending.append((d, compute))
            return d
        try:
            return succeed(compute())
        except Exception as exc:
            return fail(exc)

    def release(self) -> None:
        d, compute = self.pending.pop(0)
        try:
            result = compute()
        except Exception as exc:
            d.errback(exc)
        else:
            d.callback(result)

    def release_all(self) -> None:
        while self.pending:
            self.release()
