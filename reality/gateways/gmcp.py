"""GMCP data the telnet gateway adds for MUD clients that complete what players type.

The world sends ``Room.Info`` as ``{"id", "name", "exits"}``. A client such
as ``reality play`` also wants the names it can complete, so the telnet
gateway extends it with

- ``players``: the other players in the room,
- ``items``: the items lying here,
- ``npcs``: the characters here,

each at most :data:`ROOM_INFO_NAMES` long, and after login sends
``Client.Verbs`` as ``{"verbs": [...]}``: every verb name and alias the
player may use (admin verbs only for admins), with the verbs that things
near the player give (``ring`` beside a bell) and the names of the
channels the player is on (``chat``), sorted; sent again after a command
that changed it.

``Room.Info`` also gets ``coords``: ``[x, y, z]`` on the map's grid
(:mod:`reality.gateways.mudmap`, the layout ``/map.svg`` and ``/map.xml``
use).

What the client asked for: :func:`supports_from` reads the package list of
``Core.Supports.Set``/``Add``/``Remove`` (``["Room 1", "Char 1"]``) into
``{package: version}``, and :func:`supports_wants` says whether such a list
covers a message (``Room`` covers ``Room.Info``; ``Core`` is always
covered; no list at all, from a client that never sent one, covers
everything). The telnet session's one gate is
:meth:`~reality.gateways.telnet.session.TelnetSession.gmcp_wants`.

What the player carries goes in the IRE ``Char.Items`` style (as Mudlet
and IRE games use it): ``Char.Items.List`` with ``{"location": "inv",
"items": [{"id", "name"}, ...]}`` (at most :data:`INVENTORY_ITEMS`), sent
after login, after a command that changed it, and in answer to the
client's ``Char.Items.Inv`` request.

Channels (IRE's ``Comm.Channel``): every channel line is also sent as
``Comm.Channel.Text`` ``{"channel", "talker", "text"}`` (``text`` the whole
line as plain text), and a client's ``Comm.Channel.List`` request is
answered with the player's channels, ``[{"name", "caption", "command"}]``
(:func:`channel_list`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from itertools import islice
from typing import Any

from reality.game.verbs.core import offered_words
from reality.gateways.mudmap import world_map

__all__ = [
    "INVENTORY_ITEMS",
    "MAX_CLIENT_NAME",
    "MAX_SUPPORTS",
    "ROOM_INFO_NAMES",
    "channel_list",
    "client_hello",
    "inventory_list",
    "room_info_with_contents",
    "supports_from",
    "supports_wants",
    "verb_list",
]

#: Names of each kind listed in Room.Info at most (a crowded square stays small).
ROOM_INFO_NAMES = 50
#: Items listed in Char.Items.List at most (compared after every command).
INVENTORY_ITEMS = 100
#: Packages a client's Core.Supports list holds at most (more are ignored).
MAX_SUPPORTS = 64
#: Characters kept of Core.Hello's client name and version.
MAX_CLIENT_NAME = 64
# A package name: dotted words ("Comm.Channel"), at most 64 characters.
_PACKAGE = re.compile(r"[A-Za-z][A-Za-z0-9_-]*(?:\.[A-Za-z][A-Za-z0-9_-]*){0,7}")


def client_hello(data: Any) -> tuple[str, str] | None:
    """``(client, version)`` from ``Core.Hello``'s ``{"client", "version"}`` (None: not that shape).

    Each cut to :data:`MAX_CLIENT_NAME` characters, control characters dropped.
    """
    if not isinstance(data, dict):
        return None
    client, version = data.get("client"), data.get("version")
    if not isinstance(client, str):
        return None
    return _printable(client), _printable(version) if isinstance(version, str | int | float) else ""


def _printable(value: object) -> str:
    text = str(value)[:MAX_CLIENT_NAME]
    return "".join(c for c in text if c.isprintable())


def supports_from(data: Any) -> dict[str, int]:
    """``{package (lower case): version}`` from a Core.Supports list such as ``["Room 1"]``.

    What is not a package name and a version (``"Room"`` alone counts as
    version 1) is passed over; at most :data:`MAX_SUPPORTS` are read.
    """
    packages: dict[str, int] = {}
    if not isinstance(data, list):
        return packages
    for entry in islice(data, MAX_SUPPORTS):
        if not isinstance(entry, str) or len(entry) > 80:
            continue
        name, _, version = entry.strip().partition(" ")
        if not _PACKAGE.fullmatch(name) or len(name) > 64:
            continue
        version = version.strip()
        packages[name.lower()] = int(version) if version.isdecimal() and len(version) < 6 else 1
    return packages


def supports_wants(supports: dict[str, int] | None, package: str) -> bool:
    """Whether a client whose Core.Supports list is ``supports`` wants ``package``.

    ``None`` (the client never sent a list) wants everything; ``Core`` is
    always wanted; otherwise the package or one of its parents must be
    listed (``Comm.Channel`` covers ``Comm.Channel.Text``).
    """
    if supports is None:
        return True
    name = package.lower()
    if name == "core" or name.startswith("core."):
        return True
    while True:
        if name in supports:
            return True
        name, dot, _ = name.rpartition(".")
        if not dot:
            return False


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
        "coords": world_map(world).coords(room.id),
        "players": _first(p.name for p in room.players if p.session is not viewer),
        "items": _first(t.name for t in room.contents if t.kind == "item"),
        "npcs": _first(t.name for t in room.contents if t.kind == "npc"),
    }


def _first(names: Iterable[str]) -> list[str]:
    return list(islice(names, ROOM_INFO_NAMES))


def verb_list(world: Any, player: Any) -> dict[str, list[str]]:
    """The ``Client.Verbs`` payload: the words ``player`` may start a command with.

    The playing set's verbs, and those the things near the player give
    (``ring`` beside a bell): sent again when those change.
    """
    admin = bool(getattr(player, "admin", False))
    words = {
        word
        for verb in world.verbs.all()
        if admin or not verb.admin
        for word in (verb.name, *verb.aliases)
    }
    words.update(offered_words(player))
    for source in world.verbs.sources:
        words.update(source.words(player))
    return {"verbs": sorted(words)}


def inventory_list(player: Any) -> dict[str, Any]:
    """The ``Char.Items.List`` payload for what ``player`` carries (IRE style)."""
    items = islice(getattr(player, "inventory", ()), INVENTORY_ITEMS)
    return {"location": "inv", "items": [{"id": i.id, "name": i.name} for i in items]}


def channel_list(world: Any, player: Any) -> list[dict[str, str]]:
    """The ``Comm.Channel.List`` payload: the channels ``player`` is on, as IRE games send it."""
    channels = getattr(world, "channels", None)
    if channels is None or player is None:
        return []
    result: list[dict[str, str]] = channels.channel_list(player)
    return result
