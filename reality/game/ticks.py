"""The world's clockwork: day and night, and the periodic checkpoint.

NPCs act through their behaviours (:mod:`reality.game.behaviours`), each
with its own timers; what is left here is the world's own rhythm. Time
comes from the world's clock (the reactor, or the test ``Clock``), never
from sleeping: there are no threads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol

from reality.game.events import Event, deliver
from reality.game.loader import PHASES, WorldDefinition
from reality.game.things import Player, Room

__all__ = ["CHECKPOINT_SLICE", "Ticking", "Ticks"]

#: Players saved per turn of the loop by a periodic checkpoint.
CHECKPOINT_SLICE = 200


class _Clock(Protocol):
    def seconds(self) -> float: ...

    def call_later(self, delay: float, f: Callable[..., Any], *args: Any) -> Any: ...


class Ticking(Protocol):
    """What the ticks need of the world (:class:`reality.game.world.World` fits)."""

    clock: _Clock
    checkpoint_interval: float
    definition: WorldDefinition | None
    running: bool
    phase: str | None
    rooms: dict[str, Room]

    def checkpoint(self, only: Iterable[Player] | None = None) -> None: ...

    def dirty_players(self) -> list[Player]: ...

    def phase_changed(self) -> None: ...


class Ticks:
    """Day/night phases and checkpoints for one world."""

    def __init__(self, world: Ticking) -> None:
        self.world = world
        self._checkpoint_timer: Any = None
        self._phase_timer: Any = None
        self._phase_due = 0.0

    def start(self) -> None:
        world = self.world
        self._start_daynight()
        self._checkpoint_timer = world.clock.call_later(
            world.checkpoint_interval, self._checkpoint_tick
        )

    def stop(self) -> None:
        for timer in (self._checkpoint_timer, self._phase_timer):
            if timer is not None and timer.active():
                timer.cancel()
        self._checkpoint_timer = self._phase_timer = None

    def loaded(self) -> None:
        """A world file was loaded: its day and night apply from now."""
        world = self.world
        if world.running:
            self._start_daynight()
        elif world.definition is not None and world.definition.daynight is not None:
            world.phase = world.definition.daynight.start
        else:
            world.phase = None

    # -- checkpoints ----------

    def _checkpoint_tick(self) -> None:
        world = self.world
        self._checkpoint_timer = world.clock.call_later(
            world.checkpoint_interval, self._checkpoint_tick
        )
        # Save what is dirty now in slices, one per turn of the loop: a
        # thousand players at once would hold the loop for milliseconds.
        self._checkpoint_slices(list(world.dirty_players()))

    def _checkpoint_slices(self, players: list[Player]) -> None:
        world = self.world
        batch, rest = players[:CHECKPOINT_SLICE], players[CHECKPOINT_SLICE:]
        world.checkpoint(only=batch)
        if rest and world.running:
            world.clock.call_later(0, self._checkpoint_slices, rest)

    # -- day and night ----------

    def _start_daynight(self) -> None:
        world = self.world
        if self._phase_timer is not None and self._phase_timer.active():
            self._phase_timer.cancel()
        self._phase_timer = None
        daynight = world.definition.daynight if world.definition else None
        if daynight is None:
            world.phase = None
            return
        if world.phase not in PHASES:
            world.phase = daynight.start
        self._phase_due = world.clock.seconds() + daynight.cycle / 4
        self._phase_timer = world.clock.call_later(daynight.cycle / 4, self._next_phase)

    def _next_phase(self) -> None:
        world = self.world
        daynight = world.definition.daynight if world.definition else None
        if daynight is None:
            return
        # Scheduled from when this phase was due, not from now: a late tick
        # does not make every later phase late too.
        self._phase_due += daynight.cycle / 4
        delay = max(0.0, self._phase_due - world.clock.seconds())
        self._phase_timer = world.clock.call_later(delay, self._next_phase)
        index = PHASES.index(world.phase) if world.phase in PHASES else 0
        world.phase = PHASES[(index + 1) % len(PHASES)]
        text = daynight.messages[world.phase]
        for room in world.rooms.values():
            if room.outdoor and room.players:
                deliver(Event(room, text))
        # Clients that show the time (GMCP Char.Status) hear of it too.
        world.phase_changed()
