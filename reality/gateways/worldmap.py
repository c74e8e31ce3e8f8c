"""The world map: rooms laid out on a grid by their exits, drawn as SVG.

:func:`layout_map` places rooms by their exits' compass directions, one
grid per level (up and down lead to the level above and below);
:func:`map_svg` draws the layout with the ``map.svg`` template. Pure data
in, text out: the website serves the result as ``/map.svg``
(:mod:`reality.gateways.web`), and a big world's map is drawn in the
worker process (:mod:`reality.gateways.worker`), which imports this module
and not the website.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence

from attrs import Factory, define, frozen
from jinja2 import Environment

from reality.game.world import RoomInfo
from reality.gateways.markdown import plain
from reality.gateways.templating import environment

__all__ = [
    "BOX_H",
    "BOX_W",
    "COMPASS",
    "MapBox",
    "MapLayout",
    "MapLevel",
    "MapLine",
    "layout_map",
    "map_svg",
]


#: Grid steps for the compass directions (x grows east, y grows south).
COMPASS: dict[str, tuple[int, int]] = {
    "north": (0, -1),
    "south": (0, 1),
    "east": (1, 0),
    "west": (-1, 0),
    "northeast": (1, -1),
    "northwest": (-1, -1),
    "southeast": (1, 1),
    "southwest": (-1, 1),
}
for _long, _short in (
    ("north", "n"), ("south", "s"), ("east", "e"), ("west", "w"),
    ("northeast", "ne"), ("northwest", "nw"), ("southeast", "se"), ("southwest", "sw"),
):  # fmt: skip
    COMPASS[_short] = COMPASS[_long]
COMPASS["north-east"] = COMPASS["northeast"]
COMPASS["north-west"] = COMPASS["northwest"]
COMPASS["south-east"] = COMPASS["southeast"]
COMPASS["south-west"] = COMPASS["southwest"]

# Up and down have no place on a flat map: the room behind them goes on
# the level above or below (drawn as its own band, in the same column when
# that cell is free), and the exit is a small "up"/"down" marker on the box
# rather than a line that would read as a compass direction. Other named
# exits ("in", "door") stay on the level, in a free neighbouring cell,
# drawn as a dashed labelled line.
_OTHER_CELLS = ((1, 1), (1, -1), (-1, 1), (-1, -1), (1, 0), (0, 1), (-1, 0), (0, -1))
_LEVEL_STEP = {"up": 1, "u": 1, "down": -1, "d": -1}

CELL_W, CELL_H = 180, 92
BOX_W, BOX_H = 140, 44
MARGIN = 24
LABEL_CHARS = 19
MIN_WIDTH = 420
#: The height of a level's heading when the map has more than one level.
LEVEL_HEAD = 30


@frozen
class MapBox:
    """A room drawn as a box: its top-left corner in pixels, grid cell and label lines.

    ``level`` is 0 where the walk started, 1 one ``up``, -1 one ``down``;
    ``cell`` is the grid cell on that level. ``up`` and ``down`` name the
    rooms its up and down exits lead to (on other levels), drawn as markers.
    """

    id: str
    name: str
    label: tuple[str, ...]
    outdoor: bool
    start: bool
    cell: tuple[int, int]
    x: float
    y: float
    level: int = 0
    up: tuple[str, ...] = ()
    down: tuple[str, ...] = ()


@frozen
class MapLine:
    """An exit (or a pair of opposite exits) drawn between two boxes.

    ``one_way`` lines carry an arrow towards ``b``. ``straight`` is False
    for up/down and other non-compass exits, and for compass exits whose
    rooms could not be placed in their direction (inconsistent exits).
    ``label_a``/``label_b`` name the non-compass exits at each end ("" for
    compass ones).
    """

    a: str
    b: str
    x1: float
    y1: float
    x2: float
    y2: float
    one_way: bool
    straight: bool
    label_a: str
    label_b: str

    def label_at(self, end: str) -> tuple[float, float]:
        """Where to write an end's label: a quarter along, beside the line.

        The two ends' labels go on opposite sides, so a short line between
        neighbours ("down" one way, "up" the other) does not overprint.
        """
        dx, dy = self.x2 - self.x1, self.y2 - self.y1
        length = math.hypot(dx, dy) or 1.0
        nx, ny = -dy / length * 9, dx / length * 9
        if end == "a":
            x, y, side = self.x1 + dx * 0.25, self.y1 + dy * 0.25, -1
        else:
            x, y, side = self.x1 + dx * 0.75, self.y1 + dy * 0.75, 1
        return round(x + nx * side, 1), round(y + ny * side + 3, 1)


@frozen
class MapLevel:
    """One level's band: its number, its heading and where the band starts."""

    level: int
    title: str
    y: float


@define
class MapLayout:
    """The boxes and lines of a map, its size in pixels, and its levels (top first)."""

    boxes: list[MapBox]
    lines: list[MapLine]
    width: int
    height: int
    levels: list[MapLevel] = Factory(list)


def _ring(wx: int, wy: int, radius: int) -> list[tuple[int, int]]:
    """The cells at Chebyshev distance ``radius`` from (wx, wy), nearest first."""
    r = radius
    cells = [(wx + dx, wy - r) for dx in range(-r, r + 1)]
    cells += [(wx + dx, wy + r) for dx in range(-r, r + 1)]
    cells += [(wx - r, wy + dy) for dy in range(-r + 1, r)]
    cells += [(wx + r, wy + dy) for dy in range(-r + 1, r)]
    cells.sort(key=lambda c: ((c[0] - wx) ** 2 + (c[1] - wy) ** 2, c[1], c[0]))
    return cells


def _nearest_free(
    want: tuple[int, int, int],
    taken: dict[tuple[int, int, int], str],
    search: dict[tuple[int, int, int], tuple[int, list[tuple[int, int, int]], int]],
    limit: int,
) -> tuple[int, int, int]:
    """The free cell on ``want``'s level closest to it (rings outwards; ties by position).

    ``search`` remembers, per wanted cell, the ring being searched and how
    far into it (cells are never freed, so what was taken stays taken):
    many rooms crowding one spot cost a walk over each ring once, not a
    search from the middle every time.
    """
    if want not in taken:
        return want
    wx, wy, level = want
    radius, ring, index = search.get(want, (0, [], 0))
    while radius <= limit:
        while index < len(ring):
            cell = ring[index]
            if cell not in taken:
                search[want] = (radius, ring, index)
                return cell
            index += 1
        radius += 1
        ring, index = [(x, y, level) for x, y in _ring(wx, wy, radius)], 0
    raise AssertionError("no free cell: the grid is larger than the rooms")  # pragma: no cover


def _level_title(level: int) -> str:
    if level == 0:
        return "Ground level"
    count = abs(level)
    return f"{count} level{'s' if count > 1 else ''} {'up' if level > 0 else 'down'}"


def layout_map(rooms: Sequence[RoomInfo], start: str | None = None) -> MapLayout:
    """Place rooms on a grid by their exits' compass directions, one grid per level.

    A breadth-first walk from ``start`` (then from each room not reached,
    each such part of the world to the right of the last) puts the room
    behind ``north`` one cell up, ``east`` one cell right, and so on.
    The room behind ``up`` goes on the level above, in the same cell when
    it is free (``down``: the level below); levels are drawn as bands, the
    highest first, and an up/down exit between levels is a marker on its
    room's box, not a line. Compass exits are followed before up, down and
    named exits (whose rooms go to a free neighbouring cell on the same
    level), so they keep their direction when they can. A room whose cell
    is taken (a loop whose sides do not add up, or two exits claiming one
    cell) goes to the nearest free cell. Loops are drawn as the lines
    between placed rooms; exits to rooms that do not exist, and exits to
    the room itself, are not drawn.
    """
    by_id = {room.id: room for room in rooms}
    cells: dict[str, tuple[int, int, int]] = {}
    taken: dict[tuple[int, int, int], str] = {}
    full: dict[tuple[int, int, int], tuple[int, list[tuple[int, int, int]], int]] = {}
    limit = len(by_id) + 1
    # The extent so far (to put unconnected parts beside it), and the top
    # and bottom of the current row of parts.
    left = top = bottom = row_top = row_right = 0
    # Parts go left to right, in rows about as wide as the world is tall.
    row_width = max(12, int(math.sqrt(len(by_id))) * 2)

    def place(room_id: str, spot: tuple[int, int, int]) -> None:
        nonlocal left, top, bottom, row_right
        cells[room_id] = spot
        taken[spot] = room_id
        left, row_right = min(left, spot[0]), max(row_right, spot[0])
        top, bottom = min(top, spot[1]), max(bottom, spot[1])

    order = ([start] if start in by_id else []) + [room.id for room in rooms]
    for root in order:
        if root in cells:
            continue
        if not taken:
            place(root, (0, 0, 0))
        else:
            # Another part of the world, not joined to what is placed: beside
            # it, or at the start of a new row below.
            if row_right - left >= row_width:
                row_top, row_right = bottom + 2, left - 2
            place(root, (row_right + 2, row_top, 0))
        # Compass exits spread out first, over the whole part of the world
        # they reach; only then does an up, down or named exit claim a cell
        # (one at a time, each followed by the compass walk from its room),
        # so a door never takes the cell a street needs.
        queue = deque([root])
        later: deque[tuple[str, str, str]] = deque()
        while queue or later:
            if queue:
                here = queue.popleft()
                x, y, z = cells[here]
                for direction, dest in by_id[here].exits.items():
                    if dest not in by_id or dest in cells:
                        continue
                    step = COMPASS.get(direction.lower())
                    if step is None:
                        later.append((here, direction, dest))
                        continue
                    want = (x + step[0], y + step[1], z)
                    place(dest, _nearest_free(want, taken, full, limit))
                    queue.append(dest)
                continue
            here, direction, dest = later.popleft()
            if dest in cells:
                continue
            x, y, z = cells[here]
            rise = _LEVEL_STEP.get(direction.lower())
            if rise is not None:
                place(dest, _nearest_free((x, y, z + rise), taken, full, limit))
            else:
                free = [
                    (x + dx, y + dy, z)
                    for dx, dy in _OTHER_CELLS
                    if (x + dx, y + dy, z) not in taken
                ]
                spot = free[0] if free else _nearest_free((x + 1, y + 1, z), taken, full, limit)
                place(dest, spot)
            queue.append(dest)

    if cells:
        min_x = min(x for x, _, _ in cells.values())
        max_x = max(x for x, _, _ in cells.values())
    else:
        min_x = max_x = 0
    # Each level is a band of the rows it uses (a cellar and a cave far
    # apart leave no empty rows between them), the highest level first.
    used: dict[int, set[int]] = {}
    for _, y, z in cells.values():
        used.setdefault(z, set()).add(y)
    row_of: dict[tuple[int, int], int] = {}
    band_top: dict[int, float] = {}
    levels: list[MapLevel] = []
    y_pos = float(MARGIN)
    for z in sorted(used, reverse=True):
        if len(used) > 1:
            levels.append(MapLevel(z, _level_title(z), y_pos))
            y_pos += LEVEL_HEAD
        band_top[z] = y_pos
        for index, y in enumerate(sorted(used[z])):
            row_of[z, y] = index
        y_pos += len(used[z]) * CELL_H

    def corner(room_id: str) -> tuple[float, float]:
        cx, cy, cz = cells[room_id]
        return (
            MARGIN + (cx - min_x) * CELL_W + (CELL_W - BOX_W) / 2,
            band_top[cz] + row_of[cz, cy] * CELL_H + (CELL_H - BOX_H) / 2,
        )

    # Up and down between levels are markers on the box; every other exit
    # (up and down too, when their rooms ended up on one level) is a line.
    arrows: dict[tuple[str, str], str] = {}
    markers: dict[str, tuple[list[str], list[str]]] = {}
    for room in rooms:
        for direction, dest in room.exits.items():
            if dest not in by_id or dest == room.id:
                continue
            rise = _LEVEL_STEP.get(direction.lower())
            if rise is not None and cells[dest][2] != cells[room.id][2]:
                ups, downs = markers.setdefault(room.id, ([], []))
                (ups if rise > 0 else downs).append(plain(by_id[dest].name) or dest)
                continue
            # The first exit between two rooms names the line at that end.
            arrows.setdefault((room.id, dest), direction)

    boxes = []
    for room in rooms:
        if room.id not in cells:  # pragma: no cover - every room is placed
            continue
        name = plain(room.name) or room.id
        left_x, top_y = corner(room.id)
        cx, cy, cz = cells[room.id]
        ups, downs = markers.get(room.id, ([], []))
        boxes.append(
            MapBox(
                room.id,
                name,
                _label_lines(name),
                room.outdoor,
                room.id == start,
                (cx, cy),
                left_x,
                top_y,
                cz,
                tuple(ups),
                tuple(downs),
            )
        )

    lines = []
    drawn: set[frozenset[str]] = set()
    for (a, b), direction in arrows.items():
        pair = frozenset((a, b))
        if pair in drawn:
            continue
        drawn.add(pair)
        back = arrows.get((b, a))
        (ax, ay, az), (bx, by, bz) = cells[a], cells[b]
        straight = (
            az == bz
            and _fits(direction, ax, ay, bx, by)
            and (back is None or _fits(back, bx, by, ax, ay))
        )
        x1, y1, x2, y2 = _clip(corner(a), corner(b))
        lines.append(
            MapLine(
                a,
                b,
                x1,
                y1,
                x2,
                y2,
                one_way=back is None,
                straight=straight,
                label_a="" if direction.lower() in COMPASS else direction,
                label_b="" if back is None or back.lower() in COMPASS else back,
            )
        )
    # Wide enough for the legend even when the world is one room.
    width = max(MIN_WIDTH, 2 * MARGIN + (max_x - min_x + 1) * CELL_W)
    height = int(y_pos) + MARGIN if cells else 2 * MARGIN + CELL_H
    return MapLayout(boxes, lines, width, height, levels)


def _label_lines(name: str) -> tuple[str, ...]:
    """A room name in at most two lines of :data:`LABEL_CHARS`, cut with "…"."""
    if len(name) <= LABEL_CHARS:
        return (name,)
    words = name.split()
    first = ""
    while words and len(first) + len(words[0]) + (1 if first else 0) <= LABEL_CHARS:
        first = f"{first} {words.pop(0)}" if first else words.pop(0)
    if not first:  # one long word: break it
        first, rest = name[:LABEL_CHARS], name[LABEL_CHARS:]
    else:
        rest = " ".join(words)
    if len(rest) > LABEL_CHARS:
        rest = rest[: LABEL_CHARS - 1].rstrip() + "…"
    return (first, rest)


def _fits(direction: str, ax: int, ay: int, bx: int, by: int) -> bool:
    """Whether room b lies exactly one compass step from a in ``direction``."""
    step = COMPASS.get(direction.lower())
    return step is not None and (ax + step[0], ay + step[1]) == (bx, by)


def _clip(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float, float, float]:
    """The segment between two boxes' centres, cut at the edges of both boxes."""
    ax, ay = a[0] + BOX_W / 2, a[1] + BOX_H / 2
    bx, by = b[0] + BOX_W / 2, b[1] + BOX_H / 2
    dx, dy = bx - ax, by - ay
    length = math.hypot(dx, dy)
    if length == 0:  # pragma: no cover - two rooms never share a cell
        return ax, ay, bx, by
    # Fraction of the segment inside one box (from its centre to its edge).
    inside = min(
        (BOX_W / 2) / abs(dx) if dx else math.inf,
        (BOX_H / 2) / abs(dy) if dy else math.inf,
    )
    gap = 3 / length  # a little air between line ends and boxes
    t = min(0.5, inside + gap)
    return (
        round(ax + dx * t, 1),
        round(ay + dy * t, 1),
        round(bx - dx * t, 1),
        round(by - dy * t, 1),
    )


_ENV: Environment | None = None


def map_svg(rooms: Sequence[RoomInfo], start: str | None, title: str) -> str:
    """The map as an SVG document (see :func:`layout_map`)."""
    global _ENV
    if _ENV is None:
        _ENV = environment()
    return _ENV.get_template("map.svg").render(
        world_title=plain(title),
        layout=layout_map(rooms, start),
        BOX_W=BOX_W,
        BOX_H=BOX_H,
        MARGIN=MARGIN,
    )
