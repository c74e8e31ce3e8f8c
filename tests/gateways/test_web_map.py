"""The map's layout: compass placement, loops, up/down, inconsistent exits, islands."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from hypothesis import given, settings, strategies as st

from reality.game.world import RoomInfo
from reality.gateways.templating import environment as _environment
from reality.gateways.worldmap import BOX_H, BOX_W, MapLayout, layout_map


def rooms(spec: dict[str, dict[str, str]], outdoor: tuple[str, ...] = ()) -> list[RoomInfo]:
    return [RoomInfo(rid, rid.title(), rid in outdoor, dict(exits)) for rid, exits in spec.items()]


def cells(layout: MapLayout) -> dict[str, tuple[int, int]]:
    return {box.id: box.cell for box in layout.boxes}


def line(layout: MapLayout, a: str, b: str):
    found = [ln for ln in layout.lines if {ln.a, ln.b} == {a, b}]
    assert len(found) == 1, found
    return found[0]


def test_compass_exits_place_rooms_in_their_direction():
    """north is one cell up, east one right, southwest one down-left, from the start."""
    layout = layout_map(
        rooms(
            {
                "hub": {"north": "n", "east": "e", "sw": "sw", "west": "w"},
                "n": {"south": "hub"},
                "e": {"west": "hub"},
                "sw": {"ne": "hub"},
                "w": {"east": "hub"},
            }
        ),
        start="hub",
    )
    c = cells(layout)
    assert c == {"hub": (0, 0), "n": (0, -1), "e": (1, 0), "sw": (-1, 1), "w": (-1, 0)}
    for other in ("n", "e", "sw", "w"):
        ln = line(layout, "hub", other)
        assert not ln.one_way and ln.straight and not ln.label_a and not ln.label_b


def test_a_consistent_loop_closes():
    """Four rooms in a square: each placed once, four two-way straight lines."""
    layout = layout_map(
        rooms(
            {
                "a": {"east": "b", "south": "d"},
                "b": {"west": "a", "south": "c"},
                "c": {"north": "b", "west": "d"},
                "d": {"east": "c", "north": "a"},
            }
        ),
        start="a",
    )
    assert cells(layout) == {"a": (0, 0), "b": (1, 0), "d": (0, 1), "c": (1, 1)}
    assert len(layout.lines) == 4
    assert all(ln.straight and not ln.one_way for ln in layout.lines)


def test_an_inconsistent_loop_gets_a_bent_line_and_arrows():
    """A->B->C east, C 'west' back to A: C->A is one way and drawn bent (dashed)."""
    layout = layout_map(
        rooms(
            {
                "a": {"east": "b"},
                "b": {"west": "a", "east": "c"},
                "c": {"west": "a"},
            }
        ),
        start="a",
    )
    assert cells(layout) == {"a": (0, 0), "b": (1, 0), "c": (2, 0)}
    assert line(layout, "a", "b").straight and not line(layout, "a", "b").one_way
    bc = line(layout, "b", "c")
    assert bc.one_way and (bc.a, bc.b) == ("b", "c") and bc.straight
    ca = line(layout, "c", "a")
    assert ca.one_way and (ca.a, ca.b) == ("c", "a") and not ca.straight


def test_two_exits_claiming_one_cell_do_not_overlap():
    """When a room's compass cell is taken it goes to the nearest free cell."""
    layout = layout_map(
        rooms(
            {
                "a": {"north": "b", "east": "c"},
                "b": {"south": "a"},
                "c": {"west": "a", "northwest": "x"},  # x wants b's cell
                "x": {"southeast": "c"},
            }
        ),
        start="a",
    )
    c = cells(layout)
    assert c["b"] == (0, -1) and c["c"] == (1, 0)
    assert c["x"] != c["b"] and len(set(c.values())) == 4
    assert max(abs(c["x"][0] - 0), abs(c["x"][1] + 1)) == 1  # next to where it wanted to be
    assert not line(layout, "c", "x").straight


def levels(layout: MapLayout) -> dict[str, int]:
    return {box.id: box.level for box in layout.boxes}


INN = {
    "inn": {"up": "attic", "down": "cellar", "west": "street"},
    "attic": {"down": "inn"},
    "cellar": {"up": "inn"},
    "street": {"east": "inn"},
}


def test_up_and_down_go_to_their_own_level_in_the_same_column():
    """The attic is one level up and the cellar one down, both in the inn's cell."""
    layout = layout_map(rooms(INN), start="inn")
    c, z = cells(layout), levels(layout)
    assert c["street"] == (-1, 0) and c["inn"] == (0, 0)
    assert (c["attic"], z["attic"]) == ((0, 0), 1)
    assert (c["cellar"], z["cellar"]) == ((0, 0), -1)
    assert z["inn"] == z["street"] == 0
    boxes = {box.id: box for box in layout.boxes}
    # Same column, so it reads as "above" and "below", never as east of the inn.
    assert boxes["attic"].x == boxes["inn"].x == boxes["cellar"].x
    assert boxes["attic"].y < boxes["inn"].y < boxes["cellar"].y
    assert [(lv.level, lv.title) for lv in layout.levels] == [
        (1, "1 level up"),
        (0, "Ground level"),
        (-1, "1 level down"),
    ]


def test_up_and_down_are_markers_not_lines():
    """No line joins rooms on different levels; their boxes carry up/down markers."""
    layout = layout_map(rooms(INN), start="inn")
    assert [{ln.a, ln.b} for ln in layout.lines] == [{"street", "inn"}]
    boxes = {box.id: box for box in layout.boxes}
    assert (boxes["inn"].up, boxes["inn"].down) == (("Attic",), ("Cellar",))
    assert (boxes["attic"].up, boxes["attic"].down) == ((), ("Inn",))
    assert (boxes["cellar"].up, boxes["cellar"].down) == (("Inn",), ())
    assert boxes["street"].up == boxes["street"].down == ()


def test_a_one_level_world_has_no_level_headings():
    """Without up or down there is one level and no band headings."""
    layout = layout_map(rooms({"a": {"east": "b"}, "b": {"west": "a"}}), start="a")
    assert layout.levels == []
    assert {box.level for box in layout.boxes} == {0}


def test_a_level_band_has_no_empty_rows():
    """Two cellars far apart north-south on the ground sit in adjacent rows below."""
    spec = {
        "a": {"south": "b", "down": "ca"},
        "b": {"south": "c"},
        "c": {"south": "d"},
        "d": {"down": "cd"},
        "ca": {"up": "a"},
        "cd": {"up": "d"},
    }
    layout = layout_map(rooms(spec), start="a")
    boxes = {box.id: box for box in layout.boxes}
    assert boxes["cd"].y - boxes["ca"].y == 92  # one row apart, not four


def test_up_on_one_level_with_its_room_is_a_labelled_line():
    """An 'up' whose room was placed on the same level (by a compass exit) is drawn as before."""
    layout = layout_map(
        rooms({"a": {"up": "b", "east": "b"}, "b": {"west": "a"}}),
        start="a",
    )
    assert levels(layout) == {"a": 0, "b": 0}
    (ln,) = layout.lines
    assert not ln.straight and (ln.label_a, ln.label_b) == ("up", "")
    assert all(box.up == box.down == () for box in layout.boxes)


def test_compass_exits_win_cells_over_named_exits():
    """Even listed first, a door never takes the cell a compass exit leads to."""
    layout = layout_map(
        rooms(
            {
                "a": {"door": "u", "east": "b"},
                "b": {"west": "a", "south": "c"},  # c is at (1, 1): the door's first choice
                "c": {"north": "b"},
                "u": {"out": "a"},
            }
        ),
        start="a",
    )
    c = cells(layout)
    assert c["b"] == (1, 0) and c["c"] == (1, 1)
    assert c["u"] not in (c["b"], c["c"]) and c["u"] == (1, -1)


def test_named_exits_are_labelled():
    """A door or a portal is a bent line labelled with the exit's name."""
    layout = layout_map(rooms({"a": {"door": "b"}, "b": {"out": "a"}}), start="a")
    ln = line(layout, "a", "b")
    assert (ln.label_a, ln.label_b) == ("door", "out") and not ln.straight


def test_unconnected_parts_are_placed_side_by_side():
    """Rooms not reachable from the start are laid out to the right, without overlap."""
    layout = layout_map(
        rooms(
            {
                "a": {"east": "b"},
                "b": {"west": "a"},
                "island": {"north": "peak"},
                "peak": {"south": "island"},
            }
        ),
        start="a",
    )
    c = cells(layout)
    assert c["a"] == (0, 0) and c["b"] == (1, 0)
    assert c["island"][0] >= 3 and c["peak"] == (c["island"][0], c["island"][1] - 1)
    boxes = {box.id: box for box in layout.boxes}
    assert boxes["island"].x > boxes["b"].x + BOX_W


def test_many_unconnected_parts_wrap_into_rows():
    """400 lone rooms make a roughly square picture, not one row 800 cells long."""
    layout = layout_map([RoomInfo(f"r{i}", f"R{i}", False, {}) for i in range(400)])
    xs = {box.cell[0] for box in layout.boxes}
    ys = {box.cell[1] for box in layout.boxes}
    assert len(xs) <= 30 and len(ys) <= 30
    assert len({box.cell for box in layout.boxes}) == 400


def test_rooms_crowding_one_cell_all_find_places():
    """A hub with 300 rooms behind non-compass exits: each in its own cell near the hub."""
    spec = {"hub": {f"door{i}": f"r{i}" for i in range(300)}}
    spec.update({f"r{i}": {"out": "hub"} for i in range(300)})
    layout = layout_map(rooms(spec), start="hub")
    c = cells(layout)
    assert len(set(c.values())) == 301
    assert max(max(abs(x), abs(y)) for x, y in c.values()) <= 10  # packed, not strung out


def test_missing_destinations_and_self_exits_are_not_drawn():
    """An exit to a room that does not exist, or to itself, draws nothing."""
    layout = layout_map(
        rooms({"a": {"north": "ghost", "east": "a", "south": "b"}, "b": {"north": "a"}}),
        start="a",
    )
    assert [{ln.a, ln.b} for ln in layout.lines] == [{"a", "b"}]
    assert set(cells(layout)) == {"a", "b"}


def test_long_names_are_cut_into_two_lines():
    """A long room name is shown in two lines, the second cut with an ellipsis."""
    info = [RoomInfo("r", "The Extraordinarily Long Hall of Many Mirrors", False, {})]
    (box,) = layout_map(info, start="r").boxes
    assert box.label == ("The Extraordinarily", "Long Hall of Many…")
    assert box.name == "The Extraordinarily Long Hall of Many Mirrors"
    info = [RoomInfo("r", "Supercalifragilisticexpialidocious", False, {})]
    (box,) = layout_map(info).boxes
    assert box.label == ("Supercalifragilisti", "cexpialidocious")


def test_lines_end_at_box_edges():
    """Lines are cut where they meet the boxes, so arrowheads are visible."""
    layout = layout_map(rooms({"a": {"east": "b"}, "b": {}}), start="a")
    (ln,) = layout.lines
    a, b = layout.boxes
    assert a.x + BOX_W < ln.x1 < ln.x2 < b.x
    assert ln.y1 == ln.y2 == a.y + BOX_H / 2


TEMPLATE = _environment().get_template("map.svg")


def render(layout: MapLayout) -> bytes:
    return TEMPLATE.render(
        world_title="W", layout=layout, BOX_W=BOX_W, BOX_H=BOX_H, MARGIN=24
    ).encode()


DIRECTIONS = ["north", "south", "east", "west", "ne", "nw", "se", "sw", "up", "down", "door"]


@st.composite
def worlds(draw: st.DrawFn) -> list[RoomInfo]:
    count = draw(st.integers(1, 12))
    ids = [f"r{i}" for i in range(count)]
    result = []
    for rid in ids:
        exits = draw(
            st.dictionaries(
                st.sampled_from(DIRECTIONS), st.sampled_from([*ids, "nowhere"]), max_size=5
            )
        )
        name = draw(st.text(alphabet="ab <>&\"'\x01é{}", max_size=30))
        result.append(RoomInfo(rid, name, draw(st.booleans()), exits))
    return result


@settings(max_examples=200, deadline=None)
@given(worlds())
def test_any_world_lays_out_and_renders_as_valid_svg(world):
    """Any rooms and exits: every room in its own cell, lines between real rooms, valid XML."""
    layout = layout_map(world, start=world[0].id)
    c = cells(layout)
    assert set(c) == {room.id for room in world}
    z = levels(layout)
    assert len({(c[rid], z[rid]) for rid in c}) == len(c)
    ids = set(c)
    for ln in layout.lines:
        assert ln.a in ids and ln.b in ids and ln.a != ln.b
    for box in layout.boxes:
        assert 0 <= box.x and box.x + BOX_W <= layout.width
        assert 0 <= box.y and box.y + BOX_H <= layout.height
    root = ET.fromstring(render(layout))
    texts = "".join(root.itertext())
    assert "\x01" not in texts


SVG = "{http://www.w3.org/2000/svg}"


def test_the_svg_scales_to_the_window():
    """A viewBox and no fixed size: width 100% (height from the ratio), capped at its own size."""
    layout = layout_map(rooms(INN), start="inn")
    root = ET.fromstring(render(layout))
    assert root.get("viewBox") == f"0 0 {layout.width} {layout.height + 58}"
    assert root.get("width") in (None, "100%") and root.get("height") is None
    assert root.get("preserveAspectRatio") == "xMidYMin meet"
    style = "".join(root.find(f"{SVG}style").itertext())
    assert "height: auto" in style and f"max-width: {layout.width}px" in style


def test_the_svg_draws_up_and_down_as_markers_on_the_boxes():
    """The inn's box holds an "up" and a "down" marker; no line leads to the cellar."""
    root = ET.fromstring(render(layout_map(rooms(INN), start="inn")))
    groups = {g.get("id"): g for g in root.iter(f"{SVG}g") if g.get("id")}
    inn = groups["room-inn"]
    markers = {
        g.get("class"): "".join(g.find(f"{SVG}text").itertext())
        for g in inn.iter(f"{SVG}g")
        if "stairs" in g.get("class", "")
    }
    assert markers == {"stairs up": "▲ up", "stairs down": "▼ down"}
    titles = ["".join(t.itertext()) for t in inn.iter(f"{SVG}title")]
    assert "up to Attic" in titles and "down to Cellar" in titles
    assert len(list(root.iter(f"{SVG}line"))) == 1 + 2  # street-inn, and two level rules
    headings = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "level"]
    assert headings == ["1 level up", "Ground level", "1 level down"]
