"""The world's website: front page, player homepages, who, status, map.

Where HTTP meets the world. The HTTP/1.1 server is
:mod:`reality.net.protocols.http`; this module gives it one handler,
:class:`WebSite`, that answers from the running world:

=====================  ==========================================================
``/``                  the world's name and welcome, how to connect (telnet host
                       and port), who is online now, counts, the map
``/~<name>``           a player's homepage (also ``/players/<name>``): their
                       Markdown, whether they are online and where, last seen
``/who``               everyone online, and where they are
``/status.json``       players online, uptime, rooms, version (for machines)
``/map.svg``           rooms as boxes, exits as lines, laid out by compass
``/style.css``         the one stylesheet
=====================  ==========================================================

Pages are rendered with Jinja2 (autoescape on). A homepage is Markdown
rendered by markdown-it-py with raw HTML disabled, so whatever a player
writes arrives as text: no ``<script>``, no event attribute, no
``javascript:`` link from a player ever reaches a browser. Colour markup in
world text (:mod:`reality.game.markup`) becomes ``<span>`` elements.

Markdown and the map are rendered in the server's worker processes
(:class:`~reality.gateways.workers.WorkerPool`), not on the loop: markdown-it-py can
spend a third of a second on 20,000 hostile characters, and a world of
thousands of rooms takes a second to lay out. A request for a page whose
text changed (or for the map after the world changed) waits for it (a
Deferred); a text that takes over 5 s, or workers that are busy, is
shown escaped in ``<pre>``, and the map says it cannot be drawn.

Caching: a page is rendered when what it shows changes, not per request.
:meth:`WebSite.changed` is subscribed to the world's change topics and
marks the pages a change touches as stale (``online``: the front page,
``/who``, ``/status.json`` and that player's homepage; ``player``:
``/who`` and that player's homepage; ``world``: everything). The next
request renders a stale page again; every other request gets the same
:class:`~reality.net.protocols.http.Response` object, whose encoding the
response writer keeps, so serving a cached page costs a dictionary lookup.
``/status.json`` carries the uptime and is also rendered at most once a
second.

Conditional requests follow RFC 9110: every 200 page has a strong
``ETag`` (a hash of its body, §8.8.3) and a ``Last-Modified`` (§8.8.2,
kept when a re-rendering comes out the same); ``If-None-Match`` (§13.1.2,
weak comparison) wins over ``If-Modified-Since`` (§13.1.3, §13.2.2) and
a match is answered ``304 Not Modified`` (§15.4.5). Pages say
``Cache-Control: no-cache`` (RFC 9111 §5.2.2.4): a browser may keep them
but asks again, cheaply, each time.

:func:`install` plugs the site into :class:`reality.app.Server`: it listens
on ``settings.http_port`` and, once the port is known, sets the world's
``web_url`` (which the telnet banner and ``homepage`` show).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Sequence
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from attrs import Factory, define, frozen
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markdown_it import MarkdownIt
from markdown_it.token import Token
from markupsafe import Markup, escape

from reality import __version__
from reality.game import markup
from reality.game.accounts import NAME_MAX
from reality.game.text import clean_player_text
from reality.game.world import PlayerInfo, RoomInfo, World
from reality.gateways.connections import TOO_MANY_FROM_ADDRESS, Connections
from reality.gateways.router import Router
from reality.gateways.workers import JobTimeout
from reality.net.defer import Deferred, Failure
from reality.net.protocol import Address
from reality.net.protocols.http import (
    Headers,
    HTTPChannel,
    HTTPFactory,
    Request,
    RequestHead,
    Response,
    http_date,
)

__all__ = [
    "MapBox",
    "MapLayout",
    "MapLevel",
    "MapLine",
    "WebFactory",
    "WebSite",
    "install",
    "layout_map",
    "map_svg",
    "markup_html",
    "render_markdown",
]

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"

#: Homepages kept rendered (least recently used ones are dropped beyond this).
MAX_CACHED_HOMEPAGES = 1024
#: Names listed on the front page before "and N more".
FRONT_PAGE_NAMES = 50

# Player text and world text never bring their own scripts, frames or
# plugins; colour spans need inline styles. Images come only from this
# site (or inline data: URLs): an image from elsewhere would tell that
# site the address of everyone who looks at a homepage. render_markdown
# turns off-site images into links, so the browser never even tries.
_CSP = (
    "default-src 'self'; script-src 'none'; object-src 'none'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'; img-src 'self' data:; "
    "style-src 'self' 'unsafe-inline'"
)
_HTML = "text/html; charset=utf-8"
_SVG = "image/svg+xml"
_CSS = "text/css; charset=utf-8"
_JSON = "application/json"

# Account names are letters only (reality.game.accounts); anything else in a
# homepage path is answered 404 without asking the store.
_PLAYER_NAME = re.compile(rf"[A-Za-z]{{1,{NAME_MAX}}}")
# C0 controls but tab and newline, DEL and C1: invalid in XML, useless in HTML.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


# -- markup and Markdown -------------------------------------------------------------


def _style_attributes(style: markup.Style) -> str:
    """The class (and style) attributes of a span for one markup tag."""
    classes: list[str] = []
    inline: list[str] = []
    for colour, prefix, css in ((style.fg, "fg", "color"), (style.bg, "bg", "background-color")):
        if colour is None:
            continue
        if isinstance(colour, int):
            classes.append(f"{prefix}{colour:d}")
        else:
            r, g, b = colour
            inline.append(f"{css}:#{r:02x}{g:02x}{b:02x}")
    for flag in ("bold", "dim", "italic", "underline", "reverse"):
        if getattr(style, flag):
            classes.append(flag)
    attributes = f' class="{" ".join(classes)}"' if classes else ""
    if inline:
        attributes += f' style="{";".join(inline)}"'
    return attributes


def markup_html(text: str) -> Markup:
    """World markup (``{red}...{/}``) as escaped HTML with ``<span>`` elements.

    Unknown tags stay literal text, a ``{/}`` that closes nothing is
    dropped, and tags left open are closed at the end, so the result is
    always well nested.
    """
    text = _CONTROL.sub("", text)
    parts: list[str] = []
    depth = 0
    for token in markup.parse(text):
        if isinstance(token, str):
            parts.append(str(escape(token)))
        elif token is markup.CLOSE:
            if depth:
                parts.append("</span>")
                depth -= 1
        else:
            parts.append(f"<span{_style_attributes(token)}>")  # type: ignore[arg-type]
            depth += 1
    parts.append("</span>" * depth)
    return Markup("".join(parts))


def plain(text: str) -> str:
    """World markup as plain text (for titles, alt texts and the map)."""
    return _CONTROL.sub("", markup.strip(text))


def _markdown() -> MarkdownIt:
    # CommonMark with raw HTML off: "<script>" in a homepage is text, and
    # markdown-it's link validation drops javascript:, vbscript: and file: URLs.
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    return md


_MD = _markdown()


def render_markdown(text: str) -> Markup:
    """A player's Markdown as safe HTML.

    Raw HTML is escaped, headings move one level down (the page's own
    ``<h1>`` is the player's name), and links get ``rel="nofollow ugc"``.
    Invisible and direction-changing characters are dropped
    (:func:`~reality.game.text.clean_player_text`), also from pages saved
    before the game dropped them at the door. An image from another site
    becomes a plain link to it, labelled with its alt text: the page
    loads images only from its own origin (see ``_CSP``).
    """
    text = clean_player_text(_CONTROL.sub("", text), multiline=True)
    env: dict[str, Any] = {}
    tokens = _MD.parse(text, env)
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(6, int(token.tag[1:]) + 1)}"
        if token.children and any(c.type == "image" for c in token.children):
            token.children = _offsite_images_as_links(token.children)
        for child in token.children or ():
            if child.type == "link_open":
                child.attrSet("rel", "nofollow ugc noopener")
    return Markup(_MD.renderer.render(tokens, _MD.options, env))


# Browsers drop ASCII tab and newline anywhere in a URL and leading C0
# controls and spaces, and read "\" as "/": judge the URL they would load.
_URL_NOISE = re.compile(r"[\x00-\x20]")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")


def same_origin_image(src: str) -> bool:
    """Whether an image URL from a homepage loads from this site (or is inline data)."""
    url = _URL_NOISE.sub("", src).replace("\\", "/")
    if url.startswith("//"):
        return False  # scheme-relative: another host
    if _SCHEME.match(url):
        # markdown-it only lets data:image/gif|png|jpeg|webp through.
        return url[:11].lower() == "data:image/"
    return True  # a path on this site


def _offsite_images_as_links(children: list[Token]) -> list[Token]:
    """Inline tokens with each off-site image replaced by a link to it."""
    out: list[Token] = []
    for child in children:
        src = child.attrGet("src") if child.type == "image" else None
        if src is None or same_origin_image(str(src)):
            out.append(child)
            continue
        label = child.content or str(src)
        link = Token("link_open", "a", 1, attrs={"href": str(src)})
        text = Token("text", "", 0, content=f"[image: {label}]")
        out += [link, text, Token("link_close", "a", -1)]
    return out


# -- the map -------------------------------------------------------------------------

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
        x, y = corner(room.id)
        cx, cy, cz = cells[room.id]
        ups, downs = markers.get(room.id, ((), ()))
        boxes.append(
            MapBox(
                room.id,
                name,
                _label_lines(name),
                room.outdoor,
                room.id == start,
                (cx, cy),
                x,
                y,
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
        _ENV = _environment()
    return _ENV.get_template("map.svg").render(
        world_title=plain(title),
        layout=layout_map(rooms, start),
        BOX_W=BOX_W,
        BOX_H=BOX_H,
        MARGIN=MARGIN,
    )


_NO_MAP = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 420 60" width="420" height="60">'
    '<text x="12" y="34" font-family="sans-serif" font-size="14">'
    "The map cannot be drawn just now.</text></svg>\n"
)


# -- cached pages --------------------------------------------------------------------


class Page:
    """One rendered resource: the response, its 304 twin, and when it goes stale."""

    __slots__ = ("response", "not_modified", "etag", "last_modified", "expires", "stale")

    def __init__(
        self,
        response: Response,
        not_modified: Response | None,
        etag: str,
        last_modified: int,
        expires: float | None = None,
    ) -> None:
        self.response = response
        self.not_modified = not_modified
        self.etag = etag
        self.last_modified = last_modified
        self.expires = expires
        self.stale = False


class RenderBudget:
    """A token bucket: ``burst`` renderings at once, then ``rate`` a second."""

    __slots__ = ("rate", "burst", "tokens", "last")

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = max(1.0, burst)
        self.tokens = self.burst
        self.last: float | None = None

    def take(self, now: float) -> bool:
        """Spend one rendering if there is one to spend."""
        if self.last is not None:
            self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


def _etag_matches(header: str, etag: str) -> bool:
    """``If-None-Match`` against our strong tag, by weak comparison (RFC 9110 §8.8.3.2)."""
    if header.strip() == "*":
        return True
    for candidate in header.split(","):
        candidate = candidate.strip()
        if candidate.startswith("W/"):
            candidate = candidate[2:]
        if candidate == etag:
            return True
    return False


def _not_modified_since(header: str, last_modified: int) -> bool:
    """``If-Modified-Since``: True when the page is no newer than the date given.

    An invalid date is ignored (RFC 9110 §13.1.3).
    """
    try:
        since = parsedate_to_datetime(header.strip()).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return False
    return last_modified <= since


def _format_time(seconds: float | None) -> Markup:
    """A wall-clock time as a ``<time>`` element, in UTC to the minute."""
    if seconds is None:
        return Markup("")
    t = time.gmtime(seconds)
    return Markup('<time datetime="{}">{}</time>').format(
        time.strftime("%Y-%m-%dT%H:%M:%SZ", t), time.strftime("%Y-%m-%d %H:%M UTC", t)
    )


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["time"] = _format_time
    env.filters["plural"] = _plural
    env.filters["markup"] = markup_html
    env.filters["plain"] = plain
    return env


@define
class _Telnet:
    host: str
    port: str


def _split_address(address: str | None) -> _Telnet | None:
    if not address:
        return None
    host, sep, port = address.rpartition(":")
    if not sep:
        return _Telnet(address, "23")
    return _Telnet(host, port)


class WebSite:
    """The site's HTTP handler: a :class:`Router` over cached, world-driven pages.

    ``clock`` gives the uptime (``seconds()``); ``wall`` is the calendar
    time for Last-Modified. :meth:`changed` is subscribed to the world's
    change topics.
    With a ``renderer`` (the :class:`~reality.gateways.workers.WorkerPool`,
    or anything with ``markdown(text)`` and ``map_svg(rooms, start,
    title)`` returning Deferreds), homepage Markdown and the map are
    rendered in a worker process and a request for such a page waits for it
    (a Deferred); without one they are rendered inline.

    ``/`` and ``/who`` are rendered again at most ``render_burst`` times in
    a row and then ``render_rate`` times a second while their content keeps
    changing; in between, the last rendering is served (at most a moment old).
    """

    def __init__(
        self,
        world: World,
        clock: Any,
        *,
        started: float | None = None,
        wall: Callable[[], float] = time.time,
        max_homepages: int = MAX_CACHED_HOMEPAGES,
        renderer: Any = None,
        render_rate: float = 2.0,
        render_burst: float = 5.0,
    ) -> None:
        self.world = world
        #: Where Markdown is rendered: a child process, or (None) inline.
        self.renderer = renderer
        self.clock = clock
        self.started = clock.seconds() if started is None else started
        self.wall = wall
        self.max_homepages = max(1, max_homepages)
        self.renders = 0  # pages rendered since the start (tests and benchmarks read it)
        self._env = _environment()
        self._pages: dict[str, Page] = {}
        self._homepages: OrderedDict[str, Page] = OrderedDict()
        self._markdown: dict[str, tuple[str, Markup]] = {}
        self._jobs: dict[str, tuple[str, list[Deferred[None]]]] = {}
        self._map_job: list[Deferred[None]] | None = None
        # The pages that cost O(players online) and change with every login
        # (front) or move (who): a steady stream of changes and requests
        # must not mean a rendering per request.
        self._budgets = {
            "/": RenderBudget(render_rate, render_burst),
            "/who": RenderBudget(render_rate, render_burst),
        }
        self._map_changed = False
        # Served pages by request path (the canonical paths only, so it is
        # bounded): (page, homepage key or None).
        self._fast: dict[str, tuple[Page, str | None]] = {}
        css = (STATIC / "style.css").read_bytes()
        self._css = self._page(css, _CSS, cache_control="public, max-age=86400")
        self.css_url = "/style.css?v=" + self._css.etag.strip('"')[:12]
        self._fast["/style.css"] = (self._css, None)
        self.router = Router(not_found=self._not_found)
        self.router.add("/", self._front)
        self.router.add("/who", self._who)
        self.router.add("/status.json", self._status)
        self.router.add("/map.svg", self._map)
        self.router.add("/style.css", self._style)
        self.router.add("/~{name}", self._homepage)
        self.router.add("/players/{name}", self._homepage)
        # A homepage is a page, not a directory, but people and link
        # checkers add the slash: send them to the one address.
        self.router.add("/~{name}/", self._without_slash)
        self.router.add("/players/{name}/", self._without_slash)
        world.subscribe(self.changed)

    # -- the handler -------------------------------------------------------------------

    def __call__(self, request: Request) -> Response | Deferred[Response]:
        # The common case, a page served again: one lookup by the path as
        # received, instead of routing, name checks and cache bookkeeping.
        hit = self._fast.get(request.raw_path)
        if hit is not None:
            page, key = hit
            if not page.stale and (request.method == "GET" or request.method == "HEAD"):
                if key is not None:
                    self._homepages.move_to_end(key)
                return _answer(request, page)
        return self.router(request)

    def body_refusal(self, head: RequestHead) -> Response | None:
        """Refuse a request body the route does not take, before it is read (see Router)."""
        return self.router.body_refusal(head)

    def changed(self, topic: str, key: str | None) -> None:
        """The world changed: mark the pages that show it as stale."""
        if topic == "world":
            self.invalidate()
            return
        pages = self._pages
        for name in ("/who", "/", "/status.json") if topic == "online" else ("/who",):
            page = pages.get(name)
            if page is not None:
                page.stale = True
        if key is not None:
            # Also a name cached as unknown: a new account's first login says "online".
            page = self._homepages.get(key)
            if page is not None:
                page.stale = True

    def invalidate(self) -> None:
        """Mark every page stale (a world load; the site's or telnet's address known)."""
        if self._map_job is not None:
            self._map_changed = True
        for page in self._pages.values():
            page.stale = True
        for page in self._homepages.values():
            page.stale = True

    # -- routes ------------------------------------------------------------------------

    def _cached(self, name: str, render: Callable[[Page | None], Page]) -> Page:
        page = self._pages.get(name)
        if page is None or page.stale or (
            page.expires is not None and self.clock.seconds() >= page.expires
        ):
            budget = self._budgets.get(name)
            if page is not None and budget is not None and not budget.take(self.clock.seconds()):
                # Changing faster than it may be drawn: the last drawing, for now.
                return page
            page = render(page)
            self._pages[name] = page
            if page.expires is None and name.startswith("/"):
                self._fast[name] = (page, None)
        return page

    def _front(self, request: Request) -> Response:
        return _answer(request, self._cached("/", self._render_front))

    def _who(self, request: Request) -> Response:
        return _answer(request, self._cached("/who", self._render_who))

    def _status(self, request: Request) -> Response:
        return _answer(request, self._cached("/status.json", self._render_status))

    def _map(self, request: Request) -> Response | Deferred[Response]:
        page = self._pages.get("/map.svg")
        if self.renderer is None or (page is not None and not page.stale):
            return _answer(request, self._cached("/map.svg", self._render_map))
        # A big world's map takes a while to lay out: the renderer draws it.
        if self._map_job is None:
            world = self.world
            self._map_job = []
            self.renderer.map_svg(world.map_rooms(), world.start_id, world.name).add_callbacks(
                self._map_done, self._map_failed
            )
        waiter: Deferred[None] = Deferred()
        self._map_job.append(waiter)
        return waiter.add_callback(lambda _: _answer(request, self._pages["/map.svg"]))

    def _map_done(self, svg: str) -> None:
        self._store_map(svg, stale=False)

    def _map_failed(self, failure: Failure) -> None:
        log.warning("the map could not be drawn: %s", failure.value)
        # After a timeout, wait for the world to change; otherwise try again.
        self._store_map(_NO_MAP, stale=not failure.check(JobTimeout))

    def _store_map(self, svg: str, *, stale: bool) -> None:
        page = self._page(svg.encode("utf-8"), _SVG, previous=self._pages.get("/map.svg"))
        # A change that arrived while the map was drawn makes it stale again.
        page.stale = stale or self._map_changed
        self._map_changed = False
        self._pages["/map.svg"] = page
        self._fast["/map.svg"] = (page, None)
        waiters, self._map_job = self._map_job or [], None
        for waiter in waiters:
            waiter.callback(None)

    def _style(self, request: Request) -> Response:
        return _answer(request, self._css)

    def _not_found(self, request: Request) -> Response:
        return self._cached("404", self._render_not_found).response

    def _without_slash(self, request: Request) -> Response:
        """``/~alice/`` is ``301 Moved Permanently`` to ``/~alice`` (RFC 9110 §15.4.2)."""
        if not _PLAYER_NAME.fullmatch(request.params.get("name", "")):
            return self._not_found(request)
        # The name is letters only, so the path as received is safe to send back.
        location = (request.raw_path or request.path)[:-1]
        if request.query_string:
            location += "?" + request.query_string
        return Response.redirect(location, 301)

    def _homepage(self, request: Request) -> Response | Deferred[Response]:
        name = request.params.get("name", "")
        if not _PLAYER_NAME.fullmatch(name):
            # Not a name anyone can have: the plain 404, without asking the store.
            return self._not_found(request)
        key = name.lower()
        page = self._homepages.get(key)
        if page is None or page.stale:
            built = self._build_homepage(key, page)
            if isinstance(built, Deferred):
                # Its Markdown is being rendered in the renderer process.
                return built.add_callback(lambda page: _answer(request, page))
            page = built
        else:
            self._homepages.move_to_end(key)
        return _answer(request, page)

    def _build_homepage(self, key: str, previous: Page | None) -> Page | Deferred[Page]:
        """Render a homepage and cache it, or a Deferred if its Markdown must be rendered."""
        info = self.world.player_info(key)
        if info is None:
            page = self._html("not_found.html", previous, 404, player=key)
        else:
            text = info.homepage
            cached = self._markdown.get(key)
            if cached is not None and cached[0] == text:
                html = cached[1]
            elif not text.strip():
                html = Markup("")
            elif self.renderer is None:
                html = render_markdown(text)
                self._remember_markdown(key, text, html)
            else:
                # Come back when the Markdown is ready (the text may have
                # changed again by then: this method looks again).
                ready = self._markdown_job(key, text)
                return ready.add_callback(lambda _: self._build_homepage(key, previous))
            page = self._render_homepage(info, key, html, previous)
        pages = self._homepages
        pages[key] = page
        self._fast[f"/~{key}"] = self._fast[f"/players/{key}"] = (page, key)
        if len(pages) > self.max_homepages:
            dropped, _ = pages.popitem(last=False)
            self._fast.pop(f"/~{dropped}", None)
            self._fast.pop(f"/players/{dropped}", None)
        return page

    def _remember_markdown(self, key: str, text: str, html: Markup) -> None:
        # Markdown is parsed again only when the text changes, not on every move.
        self._markdown[key] = (text, html)
        if len(self._markdown) > self.max_homepages:
            self._markdown.pop(next(iter(self._markdown)))

    def _markdown_job(self, key: str, text: str) -> Deferred[None]:
        """A Deferred that fires once ``text`` (``key``'s homepage) is rendered.

        Requests for one page while its Markdown renders share one job.
        """
        job = self._jobs.get(key)
        if job is None or job[0] != text:
            waiters: list[Deferred[None]] = []
            job = self._jobs[key] = (text, waiters)
            assert self.renderer is not None
            self.renderer.markdown(text).add_callbacks(
                self._markdown_done, self._markdown_failed, (key, text), None, (key, text)
            )
        waiter: Deferred[None] = Deferred()
        job[1].append(waiter)
        return waiter

    def _markdown_done(self, html: str, key: str, text: str) -> None:
        self._remember_markdown(key, text, Markup(html))
        self._wake(key, text)

    def _markdown_failed(self, failure: Failure, key: str, text: str) -> None:
        # Show the text as it was written, escaped, rather than nothing; a
        # text that took too long stays that way until it is changed.
        log.warning("homepage of %s shown as plain text: %s", key, failure.value)
        self._remember_markdown(key, text, Markup('<pre class="source">{}</pre>').format(text))
        self._wake(key, text)

    def _wake(self, key: str, text: str) -> None:
        job = self._jobs.get(key)
        if job is not None and job[0] == text:
            del self._jobs[key]
            for waiter in job[1]:
                waiter.callback(None)

    # -- rendering -----------------------------------------------------------------------

    def _common(self) -> dict[str, Any]:
        world = self.world
        return {
            "world_title": plain(world.name),
            "world_name": markup_html(world.name),
            "telnet": _split_address(world.telnet_address),
            "version": __version__,
            "css_url": self.css_url,
        }

    def _html(
        self, template: str, previous: Page | None, status: int = 200, **context: Any
    ) -> Page:
        body = self._env.get_template(template).render(**self._common(), **context)
        return self._page(body.encode("utf-8"), _HTML, status=status, previous=previous)

    def _page(
        self,
        body: bytes,
        content_type: str,
        *,
        status: int = 200,
        previous: Page | None = None,
        cache_control: str = "no-cache",
        expires: float | None = None,
        extra: Iterable[tuple[str, str]] = (),
    ) -> Page:
        """A Page for ``body``; the previous one again if nothing changed."""
        self.renders += 1
        etag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
        if previous is not None and previous.etag == etag and previous.response.status == status:
            # Same bytes: keep the Response (and its cached encoding) and the
            # Last-Modified date, so browsers' copies stay valid.
            previous.stale = False
            previous.expires = expires
            return previous
        modified = int(self.wall())
        headers = [("Content-Type", content_type), ("Cache-Control", cache_control)]
        if status == 200:
            headers += [("ETag", etag), ("Last-Modified", http_date(modified))]
        # Every page, whatever its type, carries the policy (img-src 'self' data:).
        headers += [("X-Content-Type-Options", "nosniff"), ("Content-Security-Policy", _CSP)]
        headers.extend(extra)
        response = Response(status, Headers(headers), body)
        not_modified = None
        if status == 200:
            not_modified = Response(
                304,
                Headers(
                    [
                        ("Cache-Control", cache_control),
                        ("ETag", etag),
                        ("Last-Modified", http_date(modified)),
                    ]
                ),
                b"",
            )
        return Page(response, not_modified, etag, modified, expires)

    def _render_front(self, previous: Page | None) -> Page:
        world = self.world
        online = world.who_online()
        return self._html(
            "front.html",
            previous,
            welcome=markup_html(world.welcome) if world.welcome else "",
            online=online[:FRONT_PAGE_NAMES],
            more=max(0, len(online) - FRONT_PAGE_NAMES),
            counts=world.counts(),
        )

    def _render_who(self, previous: Page | None) -> Page:
        world = self.world
        rows = []
        for player in world.who_online():
            room = player.location if world.where_visible(player) else None
            rows.append((player, room.id if room else None, room.name if room else None))
        return self._html("who.html", previous, rows=rows)

    def _render_status(self, previous: Page | None) -> Page:
        world = self.world
        now = self.clock.seconds()
        counts = world.counts()
        status = {
            "name": plain(world.name),
            "version": __version__,
            "uptime": int(now - self.started),
            "players_online": counts.online,
            "online": [p.name for p in world.who_online()],
            "players": counts.players,
            "rooms": counts.rooms,
            "telnet": world.telnet_address,
        }
        body = json.dumps(status, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        # The uptime moves on: render again once its second has passed.
        expires = self.started + int(now - self.started) + 1
        return self._page(
            body,
            _JSON,
            previous=previous,
            expires=expires,
            extra=[("Access-Control-Allow-Origin", "*")],
        )

    def _render_map(self, previous: Page | None) -> Page:
        world = self.world
        body = map_svg(world.map_rooms(), world.start_id, world.name)
        return self._page(body.encode("utf-8"), _SVG, previous=previous)

    def _render_not_found(self, previous: Page | None) -> Page:
        return self._html("not_found.html", previous, 404, player=None)

    def _render_homepage(
        self, info: PlayerInfo, key: str, html: Markup, previous: Page | None
    ) -> Page:
        return self._html(
            "homepage.html",
            previous,
            info=info,
            key=key,
            page=html,
            room=markup_html(info.room_name) if info.room_name else "",
            last_seen=_format_time(info.last_seen),
            updated=_format_time(info.homepage_updated),
            mail=self.world.mail_address(info.name),
        )


def _answer(request: Request, page: Page) -> Response:
    """The page, or its ``304 Not Modified`` twin if the client's copy is current."""
    not_modified = page.not_modified
    if not_modified is not None:
        headers = request.headers
        match = headers.get("if-none-match")
        if match is not None:
            if _etag_matches(match, page.etag):
                return not_modified
        else:
            since = headers.get("if-modified-since")
            if since is not None and _not_modified_since(since, page.last_modified):
                return not_modified
    return page.response


# -- plugging in -------------------------------------------------------------------------


class WebFactory(HTTPFactory):
    """An :class:`HTTPFactory` that counts its connections per address.

    At most ``max_per_address`` connections from one address and
    ``max_connections`` in all (0: no limit), like the other gateways; more
    are answered 503. At shutdown
    :meth:`close_all` closes them all once what they were sent is flushed.
    """

    def __init__(
        self, handler: Callable[[Request], Any], clock: Any, max_per_address: int = 0,
        max_connections: int = 10000, **options: Any,
    ) -> None:
        super().__init__(handler, clock, max_connections, **options)
        self.connections = Connections(max_per_address)

    def refusal(self, addr: Address) -> str | None:
        # The service's limit first: it is the one that protects everyone.
        reason = super().refusal(addr)
        if reason is None and self.connections.full(addr.host):
            reason = TOO_MANY_FROM_ADDRESS
        return reason

    def channel_opened(self, channel: HTTPChannel) -> None:
        super().channel_opened(channel)
        try:
            host = channel.transport.get_peer().host
        except OSError:  # reset before we could ask; counted under no address
            host = "?"
        self.connections.add(channel, host)

    def channel_closed(self, channel: HTTPChannel) -> None:
        super().channel_closed(channel)
        self.connections.discard(channel)

    def close_all(self, message: str = "") -> None:
        """Close every open connection once what it has been sent is flushed."""

        def close(channel: HTTPChannel) -> None:
            transport = channel.transport
            if transport is not None and not transport.disconnecting:
                transport.lose_connection()

        self.connections.close_all(close)


def site_url(host: str, port: int) -> str:
    """``http://host:port/``, with brackets around an IPv6 literal."""
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}/"


def install(server: Any) -> WebSite:
    """Plug the website into an assembled :class:`reality.app.Server`.

    Listens on ``settings.http_port``; when the port is open (its number is
    known only then, with port 0) the world learns the site's URL, so the
    telnet banner and ``homepage`` can tell players their address.
    """
    site = WebSite(server.world, server.reactor, started=server.started, renderer=server.pool)
    factory = WebFactory(
        site, server.reactor, max_per_address=server.settings.max_per_address,
        max_connections=server.settings.max_connections,
    )

    def listening(address: Address) -> None:
        url = site_url(server.public_host(), address.port)
        server.world.web_url = url.rstrip("/")
        site.invalidate()
        log.info("website at %s", url)

    server.listen("http", server.settings.http_port, factory, listening)
    server.gateways.append(factory)
    return site
