"""Events: what happens in a room, told to each observer from their point of view.

An :class:`Event` carries up to three renderings of one happening, in the
manner of Imaginary: one for the *actor* ("You give the lamp to Bob."),
one for the *target* ("Alice gives you the lamp.") and one for everybody
else in the room, the *bystanders* ("Alice gives Bob the lamp."). A None
rendering means that observer is not told.

Events are collected while a command runs and delivered only after it has
finished without error (:class:`EventBuffer`): a failed action tells no one
anything, and everyone sees the world after the change, never halfway.

Fan-out is the hot path of a crowded room. A room keeps its listeners'
sessions grouped by kind (``Room.audience``, made again only after
someone enters or leaves), and each group is handed to the session
class's ``show_many(sessions, text, skip)`` when it has one (the telnet
session does: it renders once per kind of client and queues the same
bytes for all), passing over the actor's and the target's sessions, who
get their own sentences; other sessions are shown one by one. A room of
200 listeners then costs one rendering per kind of client and one short
step per listener.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reality.game.things import Player, Room, Thing

__all__ = ["Event", "EventBuffer", "deliver"]


class Event:
    """One happening in one room, rendered per observer (markup text)."""

    __slots__ = ("room", "to_others", "actor", "to_actor", "target", "to_target")

    def __init__(
        self,
        room: Room,
        to_others: str | None,
        *,
        actor: Thing | None = None,
        to_actor: str | None = None,
        target: Thing | None = None,
        to_target: str | None = None,
    ) -> None:
        self.room = room
        self.to_others = to_others
        self.actor = actor
        self.to_actor = to_actor
        self.target = target
        self.to_target = to_target

    def __repr__(self) -> str:
        return f"<Event in {self.room.id!r}: {self.to_others!r}>"


def deliver(event: Event) -> None:
    """Tell every connected player in the event's room their version of it.

    The actor and the target (if in the room and connected) get their own
    sentences; everyone else there gets ``to_others``. A connected player
    is in ``room.players`` exactly when their location is the room (the
    world's one move keeps it so), which is what is asked here instead of
    searching the list.
    """
    room = event.room
    actor = event.actor
    target = event.target
    if event.to_actor is not None and actor is not None and actor.location is room:
        session = getattr(actor, "session", None)
        if session is not None:
            session.show(event.to_actor)
    if (
        event.to_target is not None
        and target is not None
        and target is not actor
        and target.location is room
    ):
        session = getattr(target, "session", None)
        if session is not None:
            session.show(event.to_target)
    others = event.to_others
    if others is None:
        return
    # The room's listeners, grouped by kind of session, are kept until
    # someone enters or leaves: per event, one pass over them in total.
    skip = (getattr(actor, "session", None), getattr(target, "session", None))
    for hear, show_many, sessions in _audience(room):
        if hear is not None:
            hear(room, sessions, others, skip)
        elif show_many is not None:
            show_many(sessions, others, skip)
        else:
            for session in sessions:
                if session is not skip[0] and session is not skip[1]:
                    session.show(others)


def _audience(room: Room) -> list[tuple[Any, Any, list[Any]]]:
    """``[(hear, show_many, sessions)]`` for the connected players of ``room``, by kind.

    ``hear(room, sessions, text, skip)`` (a staticmethod of the session's
    class, if it has one) notes the event once for the whole room;
    ``show_many(sessions, text, skip)`` tells each session; with neither,
    each session is shown the text.
    """
    audience = room.audience
    if audience is not None:
        return audience
    groups: dict[type, list[Any]] = {}
    for player in room.players:
        session = player.session
        if session is not None:
            groups.setdefault(type(session), []).append(session)
    audience = [
        (getattr(kind, "hear", None), getattr(kind, "show_many", None), group)
        for kind, group in groups.items()
    ]
    room.audience = audience
    return audience


class EventBuffer:
    """Events waiting for the end of a command, plus private lines to players."""

    __slots__ = ("_items",)

    def __init__(self) -> None:
        self._items: list[Event | tuple[Player, str]] = []

    def add(self, event: Event) -> None:
        self._items.append(event)

    def tell(self, player: Player, text: str) -> None:
        """A line for one player only, kept in order with the events."""
        self._items.append((player, text))

    def flush(self) -> None:
        """Deliver everything in order and empty the buffer."""
        items, self._items = self._items, []
        for item in items:
            if isinstance(item, Event):
                deliver(item)
            else:
                item[0].show(item[1])
