"""The world as mappers see it: grid coordinates and the MMP map file (``/map.xml``).

Mudlet's mapper, and the scripts IRE games ship for it, place a room by
three things: its number (GMCP ``Room.Info``'s ``num``), its coordinates,
and the map file they download once (GMCP ``Client.Map`` says where). The
map file is the Mudlet Map Protocol's XML (Mudlet wiki, *Standards:MMP*):

.. code-block:: xml

    <map>
      <areas><area id="1" name="Lindenford"/></areas>
      <rooms>
        <room id="1" area="1" title="The Village Square" environment="3">
          <coord x="0" y="0" z="0"/>
          <exit direction="north" target="5"/>
        </room>
      </rooms>
      <environments>
        <environment id="3" name="outdoor" color="2" htmlcolor="#4caf50"/>
      </environments>
    </map>

Coordinates come from the very layout ``/map.svg`` draws
(:func:`reality.gateways.worldmap.layout_map`): ``x`` is the grid column,
``y`` the row with north up (Mudlet's y grows northwards; the SVG's grows
down the page, so the sign is turned), ``z`` the level (``up`` is +1).
Room ids are :meth:`World.room_number`; areas are numbered in the order
the world's rooms first name them; environments in name order. ``color``
is an ANSI colour number (0-15, as IRE's files give it) and ``htmlcolor``
the same colour as ``#rrggbb``.

:func:`world_map` keeps one :class:`WorldMap` per world: the layout and
the XML are made when first asked for after a change of the world (a
load, ``@dig``), once for every gateway that asks (laying out 5,000 rooms
takes about 0.1 s).
"""

from __future__ import annotations

import re
import weakref
import zlib
from collections.abc import Sequence
from xml.sax.saxutils import quoteattr

from reality.game.world import RoomInfo, World
from reality.gateways.markdown import plain
from reality.gateways.worldmap import layout_map

__all__ = ["ENVIRONMENT_COLOURS", "WorldMap", "map_xml", "room_coords", "world_map"]

#: Colours of the environments a world file is likely to name: (ANSI number, #rrggbb).
ENVIRONMENT_COLOURS: dict[str, tuple[int, str]] = {
    "indoor": (3, "#a0703c"),
    "outdoor": (2, "#4caf50"),
    "city": (7, "#9e9e9e"),
    "town": (7, "#9e9e9e"),
    "village": (7, "#a8a29a"),
    "road": (8, "#8d8173"),
    "street": (8, "#8d8173"),
    "bridge": (8, "#8a7f70"),
    "field": (10, "#8bc34a"),
    "garden": (10, "#7cb342"),
    "meadow": (10, "#9ccc65"),
    "forest": (2, "#2e7d32"),
    "woods": (2, "#388e3c"),
    "river": (12, "#1e88e5"),
    "water": (4, "#1565c0"),
    "lake": (4, "#1976d2"),
    "sea": (4, "#0d47a1"),
    "swamp": (6, "#4e7d6b"),
    "hills": (11, "#c0a060"),
    "mountain": (15, "#e0e0e0"),
    "cave": (8, "#616161"),
    "underground": (0, "#424242"),
    "desert": (11, "#e6c36a"),
    "beach": (11, "#f0d890"),
    "shop": (13, "#ba68c8"),
    "temple": (14, "#4dd0e1"),
}
#: The 16 ANSI colours as #rrggbb, for environments not in the table above.
_ANSI = (
    "#000000", "#aa0000", "#00aa00", "#aa5500", "#0000aa", "#aa00aa", "#00aaaa", "#aaaaaa",
    "#555555", "#ff5555", "#55ff55", "#ffff55", "#5555ff", "#ff55ff", "#55ffff", "#ffffff",
)
# Characters XML 1.0 cannot carry at all (controls other than tab, LF and CR).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _colour(environment: str) -> tuple[int, str]:
    """An environment's (ANSI number, #rrggbb): from the table, else the same one every time."""
    known = ENVIRONMENT_COLOURS.get(environment)
    if known is not None:
        return known
    # Not black (0): a room drawn black on Mudlet's black map is lost.
    number = 1 + zlib.crc32(environment.encode("utf-8")) % 15
    return number, _ANSI[number]


def room_coords(rooms: Sequence[RoomInfo], start: str | None) -> dict[str, tuple[int, int, int]]:
    """Every room's ``(x, y, z)`` from ``/map.svg``'s layout, north up."""
    layout = layout_map(rooms, start)
    # 0 - y, not -y: a room on the start's row is at y 0, never -0.
    return {box.id: (box.cell[0], 0 - box.cell[1], box.level) for box in layout.boxes}


def _attr(value: str) -> str:
    return quoteattr(_NOT_XML.sub("", value))


def map_xml(
    rooms: Sequence[RoomInfo],
    coords: dict[str, tuple[int, int, int]],
) -> str:
    """The rooms as an MMP map file (see the module docstring); ``rooms`` carry their numbers."""
    areas: dict[str, int] = {}
    for room in rooms:
        areas.setdefault(room.area, len(areas) + 1)
    environments = {name: i for i, name in enumerate(sorted({r.environment for r in rooms}), 1)}
    numbers = {room.id: room.num for room in rooms}
    out = ['<?xml version="1.0" encoding="UTF-8"?>\n<map>\n  <areas>\n']
    for name, area_id in areas.items():
        out.append(f'    <area id="{area_id}" name={_attr(plain(name) or name)}/>\n')
    out.append("  </areas>\n  <rooms>\n")
    for room in rooms:
        x, y, z = coords.get(room.id, (0, 0, 0))
        title = plain(room.name) or room.id
        out.append(
            f'    <room id="{room.num}" area="{areas[room.area]}" title={_attr(title)}'
            f' environment="{environments[room.environment]}">\n'
            f'      <coord x="{x}" y="{y}" z="{z}"/>\n'
        )
        for direction, dest in room.exits.items():
            target = numbers.get(dest)
            if target is not None:
                out.append(f'      <exit direction={_attr(direction)} target="{target}"/>\n')
        out.append("    </room>\n")
    out.append("  </rooms>\n  <environments>\n")
    for name, env_id in environments.items():
        colour, html = _colour(name)
        out.append(
            f'    <environment id="{env_id}" name={_attr(name)} color="{colour}"'
            f' htmlcolor="{html}"/>\n'
        )
    out.append("  </environments>\n</map>\n")
    return "".join(out)


class WorldMap:
    """One world's coordinates and map file, made again after the world changed."""

    def __init__(self, world: World) -> None:
        self.world = world
        self._coords: dict[str, tuple[int, int, int]] | None = None
        self._xml: str | None = None
        world.subscribe(self._changed)

    def _changed(self, topic: str, key: str | None) -> None:
        if topic == "world":
            self._coords = None
            self._xml = None

    def _rooms(self) -> list[RoomInfo]:
        return self.world.map_rooms()

    def coords(self, room_id: str) -> list[int] | None:
        """``[x, y, z]`` of a room (None: no such room)."""
        coords = self._coords
        if coords is None or (room_id not in coords and room_id in self.world.rooms):
            # Laid out again when the world changed, or when a room the
            # last layout did not know is asked for.
            coords = self._coords = room_coords(self._rooms(), self.world.start_id)
        where = coords.get(room_id)
        return list(where) if where is not None else None

    def xml(self) -> str:
        """The whole world as an MMP map file."""
        if self._xml is None:
            rooms = self._rooms()
            if self._coords is None or any(r.id not in self._coords for r in rooms):
                self._coords = room_coords(rooms, self.world.start_id)
            self._xml = map_xml(rooms, self._coords)
        return self._xml


_MAPS: weakref.WeakKeyDictionary[World, WorldMap] = weakref.WeakKeyDictionary()


def world_map(world: World) -> WorldMap:
    """The :class:`WorldMap` of ``world`` (one for every gateway that asks)."""
    found = _MAPS.get(world)
    if found is None:
        found = _MAPS[world] = WorldMap(world)
    return found
