"""GMCP data the telnet gateway adds for MUD clients that complete what players type.

The world sends ``Room.Info`` as ``{"id", "name", "exits"}``. A client such
as ``reality play`` also wants the names it can complete, so the telnet
gateway extends it with

- ``players``: the other players in the room,
- ``items``: the items lying here,
- ``npcs``: the characters here,

each at most :data:`ROOM_INFO_NAMES` long, and after login sends
``Client.Verbs`` as ``{"verbs": [...]}``: every verb name and alias the
player may use (admin verbs only for admins), sorted.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import islice
from typing import Any

__all__ = ["ROOM_INFO_NAMES", "room_info_with_contents", "verb_list"]

#: Names of each kind listed in Room.Info at most (a crowded square stays small).
ROOM_INFO_NAMES = 50


def room_info_with_contents(world: Any, info: dict[str, Any], viewer: Any) -> dict[str, Any]:
    """``info`` (the world's Room.Info) plus the names in that room, as ``viewer`` sees them.

    ``viewer`` is the receiving player's session: that player is not listed.
    """
    room = world.rooms.get(info.get("id", ""))
    if room is None:
        return info
    # Sent again after every command: stop at the limit, not after the crowd.
    return {
        **info,
        "players": _first(p.name for p in room.players if p.session is not viewer),
        "items": _first(t.name for t in room.contents if t.kind == "item"),
        "npcs": _first(t.name for t in room.contents if t.kind == "npc"),
    }


def _first(names: Iterable[str]) -> list[str]:
    return list(islice(names, ROOM_INFO_NAMES))


def verb_list(world: Any, player: Any) -> dict[str, list[str]]:
    """The ``Client.Verbs`` payload: the words ``player`` may start a command with."""
    admin = bool(getattr(player, "admin", False))
    words = {
        word
        for verb in world.verbs.all()
        if admin or not verb.admin
        for word in (verb.name, *verb.aliases)
    }
    return {"verbs": sorted(words)}
