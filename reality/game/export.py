"""World -> YAML: the world as it stands, written back out as a world file.

``reality export-world --world FILE --db FILE OUT`` loads the world file
and the database into a :class:`~reality.game.world.World` (nothing is
served, nothing ticks) and writes what a builder has made of it: the world
file merged with every room, exit and item built in the game, every
rename, ``@set``, ``@describe``, destruction and unlinked exit, where every
item and NPC is now (items inside containers included), door and lid
states, and every behaviour with its parameters. The result passes
``reality check-world`` and loads into the same world.

What a world file cannot say, and what the export does instead:

* **Ids of things built in the game** start with ``@`` (``@the-tower``)
  and are kept: a world file may use them. Served with the database it
  was exported from, the file's ``@the-tower`` is the built room (the
  database's row is shadowed, not doubled), so a builder can keep the
  world in git and go on building. An id the loader would refuse (none
  today) is rewritten, and every reference follows.
* **Players' inventories** live in the database, not in world files: an
  item a player (or an NPC, given it) holds is written at its world-file
  place (``location`` in the original file); an item built in the game
  has none, so it is written in the room its holder is (or was last) in.
* **Doors** are written only while an exit still joins their two rooms
  (a world file may not hold a door between rooms with no way between
  them), and a **key** only while its item exists.
* **python:** entries are rewritten relative to the output's directory, so
  they name the same files. ``check-world`` and the server run only
  modules inside the world directory: write the export into the
  original's directory (or one that holds its modules).

YAML is written by PyYAML's safe dumper (a subclass that writes text of
several lines as ``|`` blocks, where YAML can keep it exactly), keys in
the world file's order; every text, markup and all, loads back exactly.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from typing import Any

import yaml
from attrs import define, field

from reality.game.help import DEFAULT_TOPIC_CATEGORY, HelpTopic
from reality.game.loader import DEFAULT_PHASE_MESSAGES, ID_PATTERN, load_world
from reality.game.store import Store
from reality.game.things import Door, Exit, Item, Npc, Player, Room, Thing
from reality.game.world import World

__all__ = ["Export", "ExportError", "dump_world", "export_world", "export_world_file"]


class ExportError(Exception):
    """The world could not be exported; ``str()`` says why."""


@define
class Export:
    """An exported world: the world file as data, the ids it renamed, and notes."""

    #: The world file as plain data (dicts, lists, text, numbers, booleans).
    data: dict[str, Any]
    #: ``{id in the running world: id in the file}`` for every id that changed.
    renamed: dict[str, str] = field(factory=dict)
    #: What the builder should know (a module outside the output's directory...).
    notes: list[str] = field(factory=list)


def export_world(world: World, out_dir: str | None = None) -> Export:
    """The world as it stands, as world-file data (see the module's docstring).

    ``out_dir`` is the directory the file will be written to: ``python:``
    paths are made relative to it (default: the original file's directory).
    """
    definition = world.definition
    if definition is None:
        raise ExportError("the world has no world file loaded")
    export = Export({})
    ids = _file_ids(world, export.renamed)
    data: dict[str, Any] = {"name": world.name}
    if world.welcome:
        data["welcome"] = world.welcome
    data["start"] = ids[world.start_id]
    if definition.python:
        data["python"] = _python_paths(definition.path, definition.python, out_dir, export.notes)
    daynight = definition.daynight
    if daynight is not None:
        cycle: dict[str, Any] = {"cycle": daynight.cycle, "start": daynight.start}
        for phase, text in daynight.messages.items():
            if DEFAULT_PHASE_MESSAGES.get(phase) != text:
                cycle[phase] = text
        data["daynight"] = cycle
    data["rooms"] = {ids[room.id]: _room(room, ids) for room in world.rooms.values()}
    doors = _doors(world, ids)
    if doors:
        data["doors"] = doors
    items = {ids[item.id]: _item(world, item, ids) for item in world.items.values()}
    _break_cycles(items, ids[world.start_id])
    if items:
        data["items"] = items
    npcs = {ids[npc.id]: _npc(world, npc, ids) for npc in world.npcs.values()}
    if npcs:
        data["npcs"] = npcs
    if world.help_topics:
        data["help"] = {topic.name: _help_topic(topic) for topic in world.help_topics}
    export.data = data
    return export


def _file_ids(world: World, renamed: dict[str, str]) -> dict[str, str]:
    """Every id of the world -> its id in the file (one namespace, as the loader has)."""
    ids: dict[str, str] = {}
    things = [*world.rooms, *world.items, *world.npcs, *world.doors]
    taken = {thing_id for thing_id in things if ID_PATTERN.match(thing_id)}
    for thing_id in things:
        if ID_PATTERN.match(thing_id):
            ids[thing_id] = thing_id
            continue
        base = "".join(c if c.isascii() and (c.isalnum() or c in "_-") else "-" for c in thing_id)
        base = base.strip("-.")[:56] or "thing"
        candidate, n = base, 1
        while candidate in taken:
            n += 1
            candidate = f"{base}-{n}"
        taken.add(candidate)
        ids[thing_id] = renamed[thing_id] = candidate
    return ids


def _python_paths(
    world_path: str, modules: tuple[tuple[str, int], ...], out_dir: str | None, notes: list[str]
) -> list[str]:
    base = os.path.dirname(os.path.abspath(world_path))
    target = os.path.abspath(out_dir) if out_dir is not None else base
    paths = []
    for relative, _line in modules:
        module = os.path.normpath(os.path.join(base, relative))
        path = os.path.relpath(module, target).replace(os.sep, "/")
        if path.startswith("../"):
            notes.append(
                f"the behaviour module {module} is outside {target}: check-world and the"
                " server run only modules under the world file's directory; write the"
                " export next to the original"
            )
        paths.append(path)
    return paths


def _compact(entry: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    """``entry`` without the keys whose value is the world file's default."""
    return {k: v for k, v in entry.items() if k not in defaults or defaults[k] != v}


def _behaviours(thing: Thing) -> list[Any]:
    entries: list[Any] = []
    for behaviour in thing.behaviours:
        params = behaviour.params()
        entries.append({behaviour.name: params} if params else behaviour.name)
    return entries


def _room(room: Room, ids: dict[str, str]) -> dict[str, Any]:
    entry = _compact(
        {
            "name": room.name,
            "description": room.description,
            "aliases": list(room.aliases),
            "outdoor": room.outdoor,
            "night": room.night_description,
            "area": room.area,
            "terrain": room.terrain,
        },
        {
            "description": "", "aliases": [], "outdoor": False, "night": None,
            "area": None, "terrain": None,
        },
    )
    exits = {way.name: _exit(way, ids) for way in room.exits.values()}
    if exits:
        entry["exits"] = exits
    behaviours = _behaviours(room)
    if behaviours:
        entry["behaviours"] = behaviours
    return entry


def _help_topic(topic: HelpTopic) -> Any:
    """A ``help:`` topic: the short form (just its text) when it has nothing else."""
    entry = _compact(
        {"text": topic.text, "aliases": list(topic.aliases), "category": topic.category},
        {"aliases": [], "category": DEFAULT_TOPIC_CATEGORY},
    )
    return entry["text"] if len(entry) == 1 else entry


def _exit(way: Exit, ids: dict[str, str]) -> Any:
    entry = _compact(
        {
            "to": ids[way.destination],
            "description": way.description,
            "aliases": list(way.aliases),
            "leave": way.leave,
            "arrive": way.arrive,
        },
        {"description": "", "aliases": [], "leave": "", "arrive": ""},
    )
    return entry["to"] if len(entry) == 1 else entry


def _lock(thing: Door | Item, world: World, ids: dict[str, str]) -> dict[str, Any]:
    """``closed``, ``locked`` and ``key`` as they are now (a key only while it exists)."""
    entry: dict[str, Any] = {}
    if thing.closed or thing.locked:
        entry["closed"] = True
    if thing.locked:
        entry["locked"] = True
    if thing.key is not None and thing.key in world.items:
        entry["key"] = ids[thing.key]
    return entry


def _doors(world: World, ids: dict[str, str]) -> dict[str, Any]:
    doors: dict[str, Any] = {}
    for door in world.doors.values():
        a, b = door.rooms
        if a not in world.rooms or b not in world.rooms:
            continue
        joined = any(w.destination == b for w in world.rooms[a].exits.values()) or any(
            w.destination == a for w in world.rooms[b].exits.values()
        )
        if not joined:
            continue
        entry = _compact(
            {
                "name": door.name,
                "between": [ids[a], ids[b]],
                "description": door.description,
                "aliases": list(door.aliases),
            },
            {"description": "", "aliases": []},
        )
        entry.update(_lock(door, world, ids))
        doors[ids[door.id]] = entry
    return doors


def _item(world: World, item: Item, ids: dict[str, str]) -> dict[str, Any]:
    entry = _compact(
        {
            "name": item.name,
            "location": _place(world, item, ids),
            "description": item.description,
            "aliases": list(item.aliases),
            "fixed": item.fixed,
            "container": item.container,
            "text": item.text,
        },
        {"description": "", "aliases": [], "fixed": False, "container": False, "text": ""},
    )
    if item.container:
        entry.update(_lock(item, world, ids))
    behaviours = _behaviours(item)
    if behaviours:
        entry["behaviours"] = behaviours
    return entry


def _place(world: World, item: Item, ids: dict[str, str]) -> str:
    """Where the file puts an item: its room or container now, else its world-file place."""
    holder = item.location
    if isinstance(holder, Room):
        return ids[holder.id]
    if isinstance(holder, Item) and holder.container and holder.id in world.items:
        return ids[holder.id]
    # Held by a player or an NPC (or nowhere): the world file's place...
    home = item.home
    if home is not None and home in world.rooms:
        return ids[home]
    if home is not None and home in world.items and world.items[home].container:
        return ids[home]
    # ... or, for a thing built in the game, where its holder is.
    room_id = None
    if isinstance(holder, Player):
        room_id = holder.location.id if holder.location is not None else holder.room_id
    elif isinstance(holder, Npc) and isinstance(holder.location, Room):
        room_id = holder.location.id
    return ids[room_id] if room_id in world.rooms else ids[world.start_id]


def _break_cycles(items: dict[str, dict[str, Any]], start: str) -> None:
    """Put in the start room any item whose file place leads back to itself.

    Possible only for items written at their world-file place (a box held
    by a player, whose home is a container now inside that box).
    """
    for item_id in items:
        seen = {item_id}
        place = items[item_id]["location"]
        while place in items:
            if place in seen:
                items[item_id]["location"] = start
                break
            seen.add(place)
            place = items[place]["location"]


def _npc(world: World, npc: Npc, ids: dict[str, str]) -> dict[str, Any]:
    room = npc.location if isinstance(npc.location, Room) else world.rooms.get(npc.home or "")
    entry = _compact(
        {
            "name": npc.name,
            "location": ids[room.id] if room is not None else ids[world.start_id],
            "description": npc.description,
            "aliases": list(npc.aliases),
        },
        {"description": "", "aliases": []},
    )
    behaviours = _behaviours(npc)
    if behaviours:
        entry["behaviours"] = behaviours
    return entry


# -- writing ----------


class _Dumper(yaml.SafeDumper):
    """The safe dumper, writing text of several lines as a ``|`` block and no anchors."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # The emitter falls back to quotes where a block cannot keep the text
    # exactly (trailing spaces, control characters).
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def dump_world(data: dict[str, Any]) -> str:
    """World-file data as YAML text: block style, keys in the order given."""
    text: str = yaml.dump(
        data,
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=100,
    )
    return text


class _StillClock:
    """Time for a world that is loaded, not run: nothing may be scheduled."""

    def seconds(self) -> float:
        return time.monotonic()

    def call_later(self, delay: float, f: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("an exported world does not run")


def export_world_file(world_path: str, db_path: str, out_path: str) -> Export:
    """Load ``world_path`` and ``db_path`` into a World and write it to ``out_path``.

    The database must exist (the export never creates one). ``out_path``
    is replaced atomically, so a failed export leaves it as it was.
    Raises :class:`~reality.game.loader.WorldFileError` for a bad world
    file, :class:`ExportError` or a store error for the rest.
    """
    if not os.path.isfile(db_path):
        raise ExportError(f"there is no database at {db_path}")
    definition = load_world(world_path)
    store = Store(db_path)
    try:
        world = World(
            _StillClock(), store, world_dir=os.path.dirname(os.path.abspath(world_path))
        )
        world.load(definition)
        out_dir = os.path.dirname(os.path.abspath(out_path))
        export = export_world(world, out_dir)
    finally:
        store.close()
    header = (
        f"# Exported by 'reality export-world' from {os.path.basename(world_path)}"
        f" and {os.path.basename(db_path)}.\n"
    )
    text = header + dump_world(export.data)
    fd, temporary = tempfile.mkstemp(prefix=".export-", suffix=".yaml", dir=out_dir)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(temporary, out_path)
    except BaseException:
        os.unlink(temporary)
        raise
    return export
