"""World files: YAML in, a validated :class:`WorldDefinition` out, or file:line errors.

``load_world(path)`` reads a world file (the format is documented in
``docs/world-format.md``) and either returns a :class:`WorldDefinition`
(plain frozen values; :meth:`reality.game.world.World.load` turns it into
live rooms) or raises :class:`WorldFileError` listing *every* problem
found, each as ``(file, line, message)`` with a 1-based line (0 when the
problem is with the file as a whole, e.g. it cannot be read).

PyYAML builds plain dicts and silently keeps the last of two equal keys,
and it forgets line numbers. So the file is only *composed* into YAML
nodes (with the C parser when PyYAML has it), and this module walks the
nodes itself: it sees repeated keys, and every value still knows its line.
Scalars are converted by PyYAML's safe constructor, so YAML 1.1 rules for
numbers and booleans hold; no tag can construct an arbitrary object.

Limits, because a world file may come from ``@load`` on a running server
(see ``docs/security.md``):

* only a regular file is read (a FIFO, a device or a directory is refused
  before a byte is read: the file is opened with ``O_NONBLOCK`` and checked
  with ``fstat``), and at most :data:`MAX_WORLD_BYTES` of it;
* at most :data:`MAX_YAML_EVENTS` YAML events (scalars, mappings, lists) are
  composed, counted in a streaming pass first, so a file of millions of
  tiny values is refused before it costs gigabytes of nodes;
* at most :data:`MAX_ROOMS` rooms, :data:`MAX_ITEMS` items and
  :data:`MAX_NPCS` NPCs, because the live world is built from them on the
  server's loop;
* at most :data:`MAX_ERRORS` errors are kept (the rest are counted), and a
  value from the file appears in a message only as an :func:`excerpt`: at
  most :data:`EXCERPT_CHARS` characters, control and invisible characters
  escaped. A file that is not a world file must not be echoed back.

:func:`load_world_file` adds the ``@load`` path policy: only files under the
world directory, symlinks resolved and checked to stay inside.
"""

from __future__ import annotations

import os
import re
import stat
import unicodedata
from collections.abc import Callable, Iterator
from os import PathLike
from typing import Any

import yaml
from attrs import field, frozen
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from reality.game import markup
from reality.game.help import (
    DEFAULT_TOPIC_CATEGORY,
    MAX_HELP_TEXT,
    MAX_HELP_TEXT_TOTAL,
    MAX_HELP_TOPICS,
    TOPIC_NAME,
    HelpTopic,
)
from reality.game.things import expand_direction

__all__ = [
    "EXCERPT_CHARS",
    "MAX_ERRORS",
    "MAX_ITEMS",
    "MAX_NPCS",
    "MAX_ROOMS",
    "MAX_WORLD_BYTES",
    "MAX_YAML_EVENTS",
    "PHASES",
    "BehaviourDef",
    "DayNightDef",
    "DoorDef",
    "ExitDef",
    "ItemDef",
    "NpcDef",
    "RoomDef",
    "WorldDefinition",
    "WorldFileError",
    "WorldFileRefused",
    "excerpt",
    "load_world",
    "load_world_file",
    "parse_world",
    "read_world_bytes",
    "resolve_world_path",
]

_Loader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

#: An id: letters, digits, '_', '-', '.'; a leading '@' marks a thing built in
#: the game (``@the-tower``), which an exported world file keeps.
ID_PATTERN = re.compile(r"@?[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}\Z")
EXIT_PATTERN = re.compile(r"[a-z][a-z0-9 '_-]{0,31}\Z")
MIN_WANDER = 0.5
MIN_CYCLE = 4.0

#: The largest world file read, in bytes (16 MiB).
MAX_WORLD_BYTES = 16 * 1024 * 1024
#: YAML events (each scalar, each start and end of a mapping or list) in one file.
MAX_YAML_EVENTS = 400_000
#: Rooms, items and NPCs in one world file: the live world is built from
#: them on the server's loop, at roughly 25 microseconds a room.
MAX_ROOMS = 5_000
MAX_ITEMS = 5_000
MAX_NPCS = 1_000
#: Errors kept for one file; past this they are only counted.
MAX_ERRORS = 100
#: The longest ``area`` name of a room.
MAX_AREA = 80
#: The longest ``terrain`` word of a room.
MAX_TERRAIN = 32
_TERRAIN = re.compile(rf"[a-z][a-z0-9_-]{{0,{MAX_TERRAIN - 1}}}")
#: Characters of a value from the file quoted in an error message.
EXCERPT_CHARS = 40
#: The longest error message (a last bound, whatever a message quotes).
MAX_MESSAGE = 300

#: The four phases of a day, in order; each lasts a quarter of the cycle.
PHASES = ("dawn", "day", "dusk", "night")

DEFAULT_PHASE_MESSAGES = {
    "dawn": "{yellow}The sky pales in the east: dawn is breaking.{/}",
    "day": "{bright_yellow}The sun climbs high; it is full day.{/}",
    "dusk": "{magenta}The light reddens and fades: dusk is falling.{/}",
    "night": "{blue}Darkness settles; night has come.{/}",
}

_TAG_NAMES = {
    "tag:yaml.org,2002:str": "text",
    "tag:yaml.org,2002:int": "an integer",
    "tag:yaml.org,2002:float": "a number",
    "tag:yaml.org,2002:bool": "a boolean",
    "tag:yaml.org,2002:null": "empty",
    "tag:yaml.org,2002:timestamp": "a date",
    "tag:yaml.org,2002:binary": "binary data",
}


# -- the definition ----------


@frozen
class ExitDef:
    """An exit as the world file gives it."""

    name: str
    to: str
    aliases: tuple[str, ...] = ()
    description: str = ""
    line: int = 0
    #: What bystanders see after the mover's name: "climbs the ladder." ("" = the default).
    leave: str = ""
    arrive: str = ""


#: The longest ``leave``/``arrive`` message of an exit, in characters.
MAX_TRAVEL_MESSAGE = 200


@frozen
class BehaviourDef:
    """A behaviour as the world file attaches it: ``- greet: {say: "Hello!"}``.

    ``params`` holds plain values (text, numbers, true/false, lists of
    them); whether the behaviour exists and takes them is checked by
    :func:`reality.game.behaviours.load_catalogue`, which knows the world's
    own modules too.
    """

    name: str
    params: dict[str, Any] = field(factory=dict)
    line: int = 0


@frozen
class RoomDef:
    id: str
    name: str
    description: str = ""
    exits: dict[str, ExitDef] = field(factory=dict)
    outdoor: bool = False
    night: str | None = None
    aliases: tuple[str, ...] = ()
    line: int = 0
    behaviours: tuple[BehaviourDef, ...] = ()
    #: The map area the room belongs to (None: the world's name).
    area: str | None = None
    #: The room's terrain, a word such as ``forest`` (None: indoor or outdoor).
    terrain: str | None = None


@frozen
class ItemDef:
    """An item. ``location`` is a room id, or the id of a container item."""

    id: str
    name: str
    location: str
    description: str = ""
    aliases: tuple[str, ...] = ()
    fixed: bool = False
    line: int = 0
    container: bool = False
    closed: bool = False
    locked: bool = False
    key: str | None = None
    text: str = ""
    behaviours: tuple[BehaviourDef, ...] = ()


@frozen
class NpcDef:
    """An NPC. The old keys ``wander``/``roams`` and ``says``/``talk`` become
    the behaviours ``wander`` and ``talk``."""

    id: str
    name: str
    location: str
    description: str = ""
    aliases: tuple[str, ...] = ()
    line: int = 0
    behaviours: tuple[BehaviourDef, ...] = ()


@frozen
class DoorDef:
    """A door on every exit between two rooms, both ways."""

    id: str
    name: str
    between: tuple[str, str]
    description: str = ""
    aliases: tuple[str, ...] = ()
    closed: bool = False
    locked: bool = False
    key: str | None = None
    line: int = 0


@frozen
class DayNightDef:
    """The day/night cycle: its length, first phase and announcements."""

    cycle: float
    start: str = "day"
    messages: dict[str, str] = field(factory=lambda: dict(DEFAULT_PHASE_MESSAGES))


@frozen
class WorldDefinition:
    """A whole validated world file."""

    name: str
    start: str
    rooms: dict[str, RoomDef]
    items: dict[str, ItemDef] = field(factory=dict)
    npcs: dict[str, NpcDef] = field(factory=dict)
    welcome: str = ""
    daynight: DayNightDef | None = None
    path: str = "<string>"
    doors: dict[str, DoorDef] = field(factory=dict)
    #: The world's behaviour modules as written (relative to the file), with their lines.
    python: tuple[tuple[str, int], ...] = ()
    #: The ``help:`` topics by lower-case name, in the file's order.
    help: dict[str, HelpTopic] = field(factory=dict)


class WorldFileError(Exception):
    """A world file is unreadable or invalid; ``errors`` lists every problem.

    Each error is ``(file, line, message)``; ``str()`` gives one
    ``file:line: message`` per line (``file: message`` when line is 0).
    ``more`` counts the errors found past :data:`MAX_ERRORS`, which are
    not kept.
    """

    def __init__(self, errors: list[tuple[str, int, str]], more: int = 0) -> None:
        self.errors = sorted(errors, key=lambda e: (e[0], e[1]))
        self.more = more
        super().__init__(self.__str__())

    def lines(self, limit: int | None = None) -> list[str]:
        """One ``file:line: message`` per error, at most ``limit`` of them, then a count."""
        shown = self.errors if limit is None else self.errors[:limit]
        lines = [
            f"{file}:{line}: {message}" if line else f"{file}: {message}"
            for file, line, message in shown
        ]
        hidden = len(self.errors) - len(shown) + self.more
        if hidden:
            lines.append(f"... and {hidden} more.")
        return lines

    def __str__(self) -> str:
        return "\n".join(self.lines())


class WorldFileRefused(WorldFileError):
    """``@load`` would not read the file at all: outside the world directory,
    not a regular file, or too big. Nothing of the file was read."""


# -- reading ----------


def excerpt(value: str, limit: int = EXCERPT_CHARS) -> str:
    """``value`` fit to quote in a message: at most ``limit`` characters, then
    ``...``; control, format (bidi, zero-width) and separator characters
    written as escapes (``\\n``, ``\\x1b``, ``\\u202e``)."""
    out = []
    for ch in value[:limit]:
        if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
            out.append(ch.encode("unicode_escape").decode("ascii"))
        else:
            out.append(ch)
    return "".join(out) + ("..." if len(value) > limit else "")


def resolve_world_path(requested: str, world_dir: str | PathLike[str]) -> str:
    """The real path of ``requested``, which must lie under ``world_dir``.

    A relative path is taken relative to ``world_dir``; symlinks (in the
    directory too) are resolved before the check, so ``..`` and a link
    pointing out are refused like an absolute path outside. Raises
    :class:`WorldFileRefused`; nothing is opened here.
    """
    name = excerpt(requested, 80)
    if not requested or "\0" in requested:
        raise WorldFileRefused([(name, 0, "not a file name")])
    root = os.path.realpath(world_dir)
    resolved = os.path.realpath(os.path.join(root, os.path.expanduser(requested)))
    if os.path.commonpath([root, resolved]) != root:
        raise WorldFileRefused([(
            name, 0,
            "refused: @load reads only files under the world directory"
            f" {excerpt(root, 200)} (--world-dir)",
        )])
    return resolved


def read_world_bytes(
    path: str | PathLike[str],
    max_bytes: int = MAX_WORLD_BYTES,
    name: str | None = None,
    *,
    follow_symlinks: bool = True,
) -> bytes:
    """The bytes of a regular file of at most ``max_bytes``; :class:`WorldFileError` if not.

    The file is opened with ``O_NONBLOCK`` (opening a FIFO for reading would
    otherwise wait for a writer, and reading it wait for data that may
    never come) and refused by ``fstat`` unless it is a regular file, before
    anything is read. ``follow_symlinks=False`` adds ``O_NOFOLLOW``, so a
    symlink swapped in after :func:`resolve_world_path` looked is refused.
    """
    filename = name if name is not None else str(path)
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
    if not follow_symlinks:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        # A device is refused without being opened (opening some devices
        # has side effects); fstat below is the check that counts.
        mode = os.stat(path, follow_symlinks=follow_symlinks).st_mode
        if not stat.S_ISREG(mode):
            raise WorldFileRefused([(filename, 0, _not_regular(mode))])
        fd = os.open(path, flags)
    except OSError as e:
        raise WorldFileError([(filename, 0, f"cannot read the world file: {e.strerror or e}")])
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise WorldFileRefused([(filename, 0, _not_regular(info.st_mode))])
        if info.st_size > max_bytes:
            raise WorldFileRefused([(filename, 0, _too_big(info.st_size, max_bytes))])
        chunks = []
        total = 0
        while True:
            # One byte past the limit tells a file that grew since fstat.
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > max_bytes:
                raise WorldFileRefused([(filename, 0, _too_big(total, max_bytes))])
        return b"".join(chunks)
    except OSError as e:
        raise WorldFileError([(filename, 0, f"cannot read the world file: {e.strerror or e}")])
    finally:
        os.close(fd)


def _not_regular(mode: int) -> str:
    kind = (
        "a FIFO" if stat.S_ISFIFO(mode)
        else "a directory" if stat.S_ISDIR(mode)
        else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
        else "a socket" if stat.S_ISSOCK(mode)
        else "not a regular file"
    )
    return f"refused: it is {kind}; only regular files are read"


def _too_big(size: int, limit: int) -> str:
    return f"refused: the file has {size:,} bytes; a world file may have at most {limit:,}"


def load_world(
    path: str | PathLike[str],
    max_bytes: int = MAX_WORLD_BYTES,
    name: str | None = None,
    *,
    follow_symlinks: bool = True,
) -> WorldDefinition:
    """Read and validate a world file; raises :class:`WorldFileError`.

    ``name`` is how the file is called in messages (default: ``path``).
    """
    filename = name if name is not None else str(path)
    data = read_world_bytes(path, max_bytes, name, follow_symlinks=follow_symlinks)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise WorldFileError([(filename, line, "the file is not valid UTF-8 text")])
    return parse_world(text, filename)


def load_world_file(
    requested: str, world_dir: str | PathLike[str], max_bytes: int = MAX_WORLD_BYTES
) -> WorldDefinition:
    """``@load``: the world file ``requested`` names under ``world_dir``, validated.

    Errors name the file as the admin wrote it (bounded and escaped).
    Raises :class:`WorldFileRefused` for a path outside ``world_dir``, a file
    that is not regular or is too big; :class:`WorldFileError` for the rest.
    """
    resolved = resolve_world_path(requested, world_dir)
    return load_world(
        resolved, max_bytes, name=excerpt(requested.strip(), 80), follow_symlinks=False
    )


def parse_world(text: str, filename: str = "<string>") -> WorldDefinition:
    """Validate world-file text; ``filename`` is used in error messages."""
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        _count_events(text, filename)
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark is not None else 1
        problem = excerpt(e.problem or e.context or "invalid YAML", 100)
        raise WorldFileError([(filename, line, f"YAML syntax error: {problem}")])
    except yaml.YAMLError as e:
        raise WorldFileError([(filename, 1, f"YAML error: {excerpt(str(e), 100)}")])
    reader = _Reader(filename)
    if root is None:
        raise WorldFileError([(filename, 1, "the world file is empty")])
    definition = reader.world(root)
    if reader.errors or definition is None:
        raise WorldFileError(reader.errors, reader.more)
    return definition


def _count_events(text: str, filename: str) -> None:
    """Refuse a file of more than :data:`MAX_YAML_EVENTS` events before composing it.

    Events stream through and are dropped, so this pass costs time (about
    half of composing) but no memory; composed nodes cost ~300 bytes each.
    """
    for count, event in enumerate(yaml.parse(text, Loader=_Loader)):
        if count >= MAX_YAML_EVENTS:
            line = event.start_mark.line + 1 if event.start_mark is not None else 1
            raise WorldFileError([(
                filename, line,
                f"the file has more than {MAX_YAML_EVENTS:,} YAML values; too big for a world",
            )])


def _q(value: str) -> str:
    return excerpt(value)


def _line(node: Node) -> int:
    return node.start_mark.line + 1


def _kind(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    return _TAG_NAMES.get(node.tag, f"a value tagged {node.tag}")


class _Reader:
    """Walks composed YAML nodes, collecting errors instead of stopping."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.errors: list[tuple[str, int, str]] = []
        self.more = 0  # errors past MAX_ERRORS, counted only
        self.constructor = SafeConstructor()
        self.ids: dict[str, tuple[str, int]] = {}  # id -> (section, line)
        self.item_lines: dict[str, int] = {}  # item id -> line of its 'location'
        self.keys: list[tuple[str, int, str]] = []  # (key id, line, what it locks)

    def error(self, line: int, message: str) -> None:
        if len(self.errors) >= MAX_ERRORS:
            self.more += 1
            return
        # Values are quoted as excerpts where messages are made; this is
        # the last bound on whatever a message quotes.
        self.errors.append((self.filename, line, excerpt(message, MAX_MESSAGE)))

    # -- generic shapes ----------

    def mapping(self, node: Node, what: str) -> dict[str, tuple[Node, Node]] | None:
        """A mapping node as ``{key: (key_node, value_node)}``, reporting repeats."""
        if not isinstance(node, MappingNode):
            self.error(_line(node), f"{what} must be a mapping, not {_kind(node)}")
            return None
        result: dict[str, tuple[Node, Node]] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                self.error(_line(key_node), f"merge keys ('<<') are not supported in {what}")
                continue
            if not isinstance(key_node, ScalarNode) or key_node.tag == "tag:yaml.org,2002:null":
                self.error(
                    _line(key_node), f"a key in {what} must be a name, not {_kind(key_node)}"
                )
                continue
            key = str(key_node.value)
            if key in result:
                first = _line(result[key][0])
                self.error(
                    _line(key_node), f"{what}: key '{_q(key)}' is repeated (first at line {first})"
                )
                continue
            result[key] = (key_node, value_node)
        return result

    def check_keys(
        self, entries: dict[str, tuple[Node, Node]], allowed: tuple[str, ...], what: str
    ) -> None:
        for key, (key_node, _) in entries.items():
            if key not in allowed:
                self.error(
                    _line(key_node),
                    f"unknown key '{_q(key)}' in {what} (expected one of: {', '.join(allowed)})",
                )

    def text(self, node: Node, what: str, *, markup_ok: bool = True) -> str | None:
        """A text value. Plain numbers are taken as written ("1984")."""
        if isinstance(node, ScalarNode) and node.tag in (
            "tag:yaml.org,2002:str",
            "tag:yaml.org,2002:int",
            "tag:yaml.org,2002:float",
        ):
            value = str(node.value)
            if markup_ok:
                for problem in markup.validate(value):
                    self.error(_line(node), f"{what}: {problem}")
            elif "{" in value or "}" in value:
                self.error(_line(node), f"{what} must be plain text without braces")
                return None
            return value
        hint = " (put it in quotes)" if _kind(node) in ("a boolean", "a date") else ""
        self.error(_line(node), f"{what} must be text, not {_kind(node)}{hint}")
        return None

    def name(self, node: Node, what: str) -> str | None:
        value = self.text(node, what, markup_ok=False)
        if value is not None and not value.strip():
            self.error(_line(node), f"{what} must not be empty")
            return None
        return value.strip() if value is not None else None

    def number(self, node: Node, what: str, *, minimum: float, zero_ok: bool) -> float | None:
        value = self._scalar(node)
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.error(_line(node), f"{what} must be a number of seconds, not {_kind(node)}")
            return None
        if value == 0 and zero_ok:
            return 0.0
        if value < minimum:
            lowest = f"0 or at least {minimum:g}" if zero_ok else f"at least {minimum:g}"
            self.error(_line(node), f"{what} must be {lowest} seconds, not {value:g}")
            return None
        return float(value)

    def boolean(self, node: Node, what: str) -> bool | None:
        value = self._scalar(node)
        if not isinstance(value, bool):
            self.error(_line(node), f"{what} must be true or false, not {_kind(node)}")
            return None
        return value

    def text_list(self, node: Node, what: str, convert: Callable[[Node, str], Any]) -> list[Any]:
        """A list of values (a single scalar is taken as a list of one)."""
        if isinstance(node, ScalarNode) and node.tag != "tag:yaml.org,2002:null":
            value = convert(node, what)
            return [] if value is None else [value]
        if not isinstance(node, SequenceNode):
            self.error(_line(node), f"{what} must be a list, not {_kind(node)}")
            return []
        values = []
        for item in node.value:
            value = convert(item, what)
            if value is not None:
                values.append(value)
        return values

    def _scalar(self, node: Node) -> Any:
        if not isinstance(node, ScalarNode):
            return node  # reported by the caller as a wrong type
        try:
            return self.constructor.construct_object(node, deep=True)
        except (ConstructorError, ValueError):
            return node

    def ident(self, key_node: Node, section: str) -> str | None:
        ident = str(key_node.value)
        if not ID_PATTERN.match(ident):
            self.error(
                _line(key_node),
                f"id '{_q(ident)}' in {section} must be letters, digits, '_', '-' or '.'"
                " (at most 64, not starting with '-' or '.'; '@' may lead)",
            )
            return None
        if ident in self.ids:
            other, line = self.ids[ident]
            self.error(
                _line(key_node),
                f"id '{_q(ident)}' in {section} is already used in {other} (line {line})",
            )
            return None
        self.ids[ident] = (section, _line(key_node))
        return ident

    def reference(
        self, node: Node, what: str, kind: str = "a room id"
    ) -> tuple[str, int] | None:
        """An id used as a value: (id, line), checked later against its section."""
        if isinstance(node, ScalarNode) and node.tag in (
            "tag:yaml.org,2002:str",
            "tag:yaml.org,2002:int",
        ):
            return str(node.value), _line(node)
        self.error(_line(node), f"{what} must be {kind}, not {_kind(node)}")
        return None

    # -- the world ----------

    def world(self, root: Node) -> WorldDefinition | None:
        top = self.mapping(root, "the world file")
        if top is None:
            return None
        allowed = (
            "name",
            "welcome",
            "start",
            "rooms",
            "doors",
            "items",
            "npcs",
            "daynight",
            "python",
            "help",
        )
        # Top-level keys starting with "x-" are the builder's own (a place
        # for YAML anchors, notes): ignored, as in docker-compose files.
        top_known = {k: v for k, v in top.items() if not k.startswith("x-")}
        self.check_keys(top_known, allowed, "the world file")
        for required in ("name", "start", "rooms"):
            if required not in top:
                self.error(_line(root), f"the world file has no '{required}' (it is required)")
        too_many = False
        sections = (
            ("rooms", MAX_ROOMS),
            ("doors", MAX_ROOMS),
            ("items", MAX_ITEMS),
            ("npcs", MAX_NPCS),
        )
        for section, limit in sections:
            node = top.get(section, (None, None))[1]
            if isinstance(node, MappingNode) and len(node.value) > limit:
                too_many = True
                # Refused before anything is walked: the rest is not worth checking.
                self.error(
                    _line(node),
                    f"'{section}' has {len(node.value):,} entries; a world file may have"
                    f" at most {limit:,}",
                )
        if too_many:
            return None
        name = self.name(top["name"][1], "the world's 'name'") if "name" in top else None
        welcome = self.text(top["welcome"][1], "'welcome'") if "welcome" in top else ""
        start_ref = self.reference(top["start"][1], "'start'") if "start" in top else None

        rooms: dict[str, RoomDef] = {}
        pending: list[tuple[str, int, str]] = []  # (room id, line, what): checked below
        if "rooms" in top:
            self.rooms(top["rooms"][1], rooms, pending)
        items: dict[str, ItemDef] = {}
        if "items" in top:
            self.items(top["items"][1], items, pending)
        npcs: dict[str, NpcDef] = {}
        if "npcs" in top:
            self.npcs(top["npcs"][1], npcs, pending)
        daynight = self.daynight(top["daynight"][1]) if "daynight" in top else None
        doors: dict[str, DoorDef] = {}
        if "doors" in top:
            self.doors(top["doors"][1], doors, pending)
        python: list[tuple[str, int]] = []
        if "python" in top:
            python = self.text_list(top["python"][1], "'python'", self.module_path)
        help_topics = self.help(top["help"][1]) if "help" in top else {}

        if start_ref is not None:
            pending.append(
                (start_ref[0], start_ref[1], f"start room '{_q(start_ref[0])}' is not in 'rooms'")
            )
        for room_id, line, message in pending:
            # Checked against every declared room id, so one broken room
            # does not bring a cascade of "unknown room" errors with it.
            known = self.ids.get(room_id)
            if known is None or known[0] != "rooms":
                extra = f" (it is one of the {known[0]})" if known else ""
                self.error(line, message + extra)
        self.check_items(items)
        self.check_doors(doors, rooms, items)
        if name is None or start_ref is None or not rooms:
            return None
        return WorldDefinition(
            name=name,
            start=start_ref[0],
            rooms=rooms,
            items=items,
            npcs=npcs,
            welcome=welcome or "",
            daynight=daynight,
            path=self.filename,
            doors=doors,
            python=tuple(python),
            help=help_topics,
        )

    def entries(
        self,
        node: Node,
        section: str,
        singular: str,
        allowed: tuple[str, ...],
        required: tuple[str, ...],
    ) -> Iterator[tuple[str, Node, str, dict[str, tuple[Node, Node]]]]:
        """``(id, key node, what, fields)`` for each usable entry of a section.

        Entries with a bad or repeated id, a value that is not a mapping, or
        a required key missing are reported and skipped; unknown keys are
        reported.
        """
        entries = self.mapping(node, f"'{section}'")
        if entries is None:
            return
        for key, (key_node, value) in entries.items():
            ident = self.ident(key_node, section)
            what = f"{singular} '{_q(key)}'"
            fields = self.mapping(value, what)
            if ident is None or fields is None:
                continue
            self.check_keys(fields, allowed, what)
            missing = [k for k in required if k not in fields]
            for k in missing:
                self.error(_line(key_node), f"{what} has no '{k}'")
            if not missing:
                yield ident, key_node, what, fields

    def rooms(
        self, node: Node, rooms: dict[str, RoomDef], pending: list[tuple[str, int, str]]
    ) -> None:
        if isinstance(node, MappingNode) and not node.value:
            self.error(_line(node), "'rooms' is empty: a world needs at least one room")
        allowed = (
            "name", "description", "exits", "outdoor", "night", "aliases", "behaviours",
            "area", "terrain",
        )
        entries = self.entries(node, "rooms", "room", allowed, ("name",))
        for ident, key_node, what, fields in entries:
            name = self.name(fields["name"][1], f"the name of {what}")
            description = self._opt_text(fields, "description", what)
            night = self._opt_text(fields, "night", what) or None
            outdoor = self._opt(fields, "outdoor", what, self.boolean, False)
            area = self._opt(fields, "area", what, self.area, None)
            terrain = self._opt(fields, "terrain", what, self.terrain, None)
            aliases = self._aliases(fields, what)
            exits = self.exits(fields["exits"][1], what, pending) if "exits" in fields else {}
            behaviours = self.behaviours(fields, what)
            if name is None:
                continue
            rooms[ident] = RoomDef(
                id=ident,
                name=name,
                description=description,
                exits=exits,
                outdoor=outdoor,
                night=night,
                aliases=aliases,
                line=_line(key_node),
                behaviours=behaviours,
                area=area,
                terrain=terrain,
            )

    def area(self, node: Node, what: str) -> str | None:
        """A room's ``area``: a plain name, at most :data:`MAX_AREA` characters."""
        value = self.name(node, what)
        if value is not None and len(value) > MAX_AREA:
            self.error(_line(node), f"{what} is longer than {MAX_AREA} characters")
            return None
        return value

    def terrain(self, node: Node, what: str) -> str | None:
        """A room's ``terrain``: one lower-case word (``forest``, ``river-bank``)."""
        value = self.name(node, what)
        if value is None:
            return None
        if not _TERRAIN.fullmatch(value):
            self.error(
                _line(node),
                f"{what} must be one lower-case word of letters, digits, '-' or '_'"
                f" (at most {MAX_TERRAIN} characters), not '{_q(value)}'",
            )
            return None
        return value

    def exits(
        self, node: Node, room_what: str, pending: list[tuple[str, int, str]]
    ) -> dict[str, ExitDef]:
        entries = self.mapping(node, f"the exits of {room_what}")
        if entries is None:
            return {}
        exits: dict[str, ExitDef] = {}
        lines: dict[str, int] = {}
        for key, (key_node, value) in entries.items():
            name = expand_direction(key.lower())
            what = f"exit '{_q(key)}' of {room_what}"
            if not EXIT_PATTERN.match(name):
                self.error(
                    _line(key_node),
                    f"{what}: an exit name is a word in lower-case letters (at most 32)",
                )
                continue
            if name in exits:
                self.error(
                    _line(key_node),
                    f"{what} repeats exit '{_q(name)}' (first at line {lines[name]})",
                )
                continue
            aliases: tuple[str, ...] = ()
            description = leave = arrive = ""
            if isinstance(value, MappingNode):
                fields = self.mapping(value, what)
                if fields is None:
                    continue
                self.check_keys(fields, ("to", "description", "aliases", "leave", "arrive"), what)
                if "to" not in fields:
                    self.error(_line(key_node), f"{what} has no 'to' (the room it leads to)")
                    continue
                ref = self.reference(fields["to"][1], f"'to' of {what}")
                description = self._opt_text(fields, "description", what)
                aliases = tuple(a.lower() for a in self._aliases(fields, what))
                leave = self._travel_message(fields, "leave", what)
                arrive = self._travel_message(fields, "arrive", what)
            else:
                ref = self.reference(value, what)
            if ref is None:
                continue
            pending.append((ref[0], ref[1], f"{what} leads to unknown room '{_q(ref[0])}'"))
            exits[name] = ExitDef(
                name, ref[0], aliases, description, _line(key_node), leave, arrive
            )
            lines[name] = _line(key_node)
        return exits

    def items(
        self, node: Node, items: dict[str, ItemDef], pending: list[tuple[str, int, str]]
    ) -> None:
        allowed = (
            "name",
            "description",
            "location",
            "aliases",
            "fixed",
            "container",
            "closed",
            "locked",
            "key",
            "text",
            "behaviours",
        )
        entries = self.entries(node, "items", "item", allowed, ("name", "location"))
        for ident, key_node, what, fields in entries:
            name = self.name(fields["name"][1], f"the name of {what}")
            # Checked in check_items: a room, or a container among the items.
            ref = self.reference(fields["location"][1], f"'location' of {what}")
            description = self._opt_text(fields, "description", what)
            fixed = self._opt(fields, "fixed", what, self.boolean, False)
            aliases = self._aliases(fields, what)
            container = self._opt(fields, "container", what, self.boolean, False)
            closed, locked, key = self.lock_fields(fields, what)
            if (closed or locked or key is not None) and not container:
                for word in ("closed", "locked", "key"):
                    if word in fields:
                        self.error(
                            _line(fields[word][0]),
                            f"'{word}' of {what}: only a container (container: true)"
                            " can be closed, locked or have a key",
                        )
                        break
            text = self._opt_text(fields, "text", what)
            behaviours = self.behaviours(fields, what)
            if name is None or ref is None:
                continue
            items[ident] = ItemDef(
                id=ident,
                name=name,
                location=ref[0],
                description=description,
                aliases=aliases,
                fixed=fixed,
                line=_line(key_node),
                container=container,
                closed=closed,
                locked=locked,
                key=key,
                text=text,
                behaviours=behaviours,
            )
            self.item_lines[ident] = ref[1]

    def lock_fields(
        self, fields: dict[str, tuple[Node, Node]], what: str
    ) -> tuple[bool, bool, str | None]:
        """``closed``, ``locked`` and ``key`` of a door or a container."""
        closed = self._opt(fields, "closed", what, self.boolean, False)
        locked = self._opt(fields, "locked", what, self.boolean, False)
        key = None
        if "key" in fields:
            ref = self.reference(fields["key"][1], f"'key' of {what}", "an item id")
            if ref is not None:
                key = ref[0]
                self.keys.append((ref[0], ref[1], what))
        return closed or locked, locked, key

    def check_items(self, items: dict[str, ItemDef]) -> None:
        """Every item is in a room or a container, and no container is inside itself."""
        for item in items.values():
            line = self.item_lines.get(item.id, item.line)
            what = f"item '{_q(item.id)}'"
            place = item.location
            if place in items:
                if not items[place].container:
                    self.error(
                        line,
                        f"{what} is in item '{_q(place)}', which is not a container"
                        " (give it container: true)",
                    )
                    continue
                seen = {item.id}
                while place in items:
                    if place in seen:
                        self.error(line, f"{what} is inside itself (through '{_q(place)}')")
                        break
                    seen.add(place)
                    place = items[place].location
                continue
            known = self.ids.get(place)
            if known is None or known[0] != "rooms":
                extra = f" (it is one of the {known[0]})" if known else ""
                self.error(line, f"{what} is in unknown room or container '{_q(place)}'{extra}")
        for key, line, what in self.keys:
            if key not in items:
                known = self.ids.get(key)
                extra = f" (it is one of the {known[0]})" if known else ""
                self.error(line, f"the key of {what}, '{_q(key)}', is not an item{extra}")

    def doors(
        self, node: Node, doors: dict[str, DoorDef], pending: list[tuple[str, int, str]]
    ) -> None:
        allowed = ("name", "between", "description", "aliases", "closed", "locked", "key")
        entries = self.entries(node, "doors", "door", allowed, ("name", "between"))
        for ident, key_node, what, fields in entries:
            name = self.name(fields["name"][1], f"the name of {what}")
            description = self._opt_text(fields, "description", what)
            aliases = self._aliases(fields, what)
            closed, locked, key = self.lock_fields(fields, what)
            refs = self.text_list(fields["between"][1], f"'between' of {what}", self.reference)
            if len(refs) != 2 or refs[0][0] == refs[1][0]:
                self.error(
                    _line(fields["between"][1]),
                    f"'between' of {what} must name two different rooms: [room, room]",
                )
                continue
            for ref in refs:
                pending.append((ref[0], ref[1], f"{what} is between unknown room '{_q(ref[0])}'"))
            if name is None:
                continue
            doors[ident] = DoorDef(
                id=ident,
                name=name,
                between=(refs[0][0], refs[1][0]),
                description=description,
                aliases=aliases,
                closed=closed,
                locked=locked,
                key=key,
                line=_line(key_node),
            )

    def check_doors(
        self, doors: dict[str, DoorDef], rooms: dict[str, RoomDef], items: dict[str, ItemDef]
    ) -> None:
        """A door joins two rooms an exit joins, and no two doors share a way."""
        taken: dict[frozenset[str], str] = {}
        for door in doors.values():
            a, b = door.between
            if a not in rooms or b not in rooms:
                continue  # reported with the other room references
            ways = [e for e in rooms[a].exits.values() if e.to == b]
            ways += [e for e in rooms[b].exits.values() if e.to == a]
            what = f"door '{_q(door.id)}'"
            if not ways:
                self.error(
                    door.line,
                    f"{what} is between '{_q(a)}' and '{_q(b)}', but no exit leads"
                    " from one to the other",
                )
            pair = frozenset(door.between)
            if pair in taken:
                self.error(
                    door.line,
                    f"{what} is on the same way as door '{_q(taken[pair])}'"
                    " (one door per pair of rooms)",
                )
            taken[pair] = door.id

    def module_path(self, node: Node, what: str) -> tuple[str, int] | None:
        """A behaviour module named in ``python``: a relative ``.py`` path, with its line."""
        value = self.text(node, what, markup_ok=False)
        if value is None:
            return None
        if not value.endswith(".py") or os.path.isabs(value):
            self.error(
                _line(node),
                f"{what}: '{_q(value)}' must be a .py file relative to the world file",
            )
            return None
        return value, _line(node)

    def behaviours(
        self, fields: dict[str, tuple[Node, Node]], what: str
    ) -> tuple[BehaviourDef, ...]:
        """``behaviours:``: a list of names, or of ``name: {param: value}`` mappings."""
        if "behaviours" not in fields:
            return ()
        node = fields["behaviours"][1]
        where = f"'behaviours' of {what}"
        if not isinstance(node, SequenceNode):
            self.error(_line(node), f"{where} must be a list, not {_kind(node)}")
            return ()
        found: list[BehaviourDef] = []
        for entry in node.value:
            if isinstance(entry, ScalarNode) and entry.tag == "tag:yaml.org,2002:str":
                found.append(BehaviourDef(str(entry.value), {}, _line(entry)))
                continue
            mapping = self.mapping(entry, f"a behaviour in {where}")
            if mapping is None:
                continue
            if len(mapping) != 1:
                self.error(
                    _line(entry),
                    f"a behaviour in {where} is one 'name: {{parameters}}', not {len(mapping)}",
                )
                continue
            ((name, (name_node, params_node)),) = mapping.items()
            params: dict[str, Any] = {}
            null = isinstance(params_node, ScalarNode) and (
                params_node.tag == "tag:yaml.org,2002:null"
            )
            if not null:
                values = self.mapping(params_node, f"the parameters of '{_q(name)}' in {where}")
                if values is None:
                    continue
                for key, (_, value_node) in values.items():
                    value = self.param(value_node, f"parameter '{_q(key)}' of '{_q(name)}'")
                    if value is not None:
                        params[key] = value
            found.append(BehaviourDef(name, params, _line(name_node)))
        return tuple(found)

    def param(self, node: Node, what: str) -> Any:
        """A behaviour's parameter: text, a number, true/false, or a list of those."""
        if isinstance(node, SequenceNode):
            values = [self.param(item, what) for item in node.value]
            return None if any(v is None for v in values) else values
        value = self._scalar(node)
        if isinstance(value, str):
            for problem in markup.validate(value):
                self.error(_line(node), f"{what}: {problem}")
            return value
        if isinstance(value, bool | int | float):
            return value
        self.error(
            _line(node),
            f"{what} must be text, a number, true/false or a list, not {_kind(node)}",
        )
        return None

    def npcs(
        self, node: Node, npcs: dict[str, NpcDef], pending: list[tuple[str, int, str]]
    ) -> None:
        allowed = (
            "name",
            "description",
            "location",
            "aliases",
            "wander",
            "roams",
            "says",
            "talk",
            "behaviours",
        )
        entries = self.entries(node, "npcs", "npc", allowed, ("name", "location"))
        for ident, key_node, what, fields in entries:
            name = self.name(fields["name"][1], f"the name of {what}")
            location = self.location(fields, what, pending)
            description = self._opt_text(fields, "description", what)
            aliases = self._aliases(fields, what)
            # The short forms: wander/roams and says/talk are behaviours too.
            shorthand: list[BehaviourDef] = []
            wander = self._opt(fields, "wander", what, self._seconds, 0.0)
            roams: list[str] | None = None
            if "roams" in fields:
                refs = self.text_list(fields["roams"][1], f"'roams' of {what}", self.reference)
                for ref in refs:
                    pending.append(
                        (ref[0], ref[1], f"'roams' of {what} names unknown room '{_q(ref[0])}'")
                    )
                roams = [ref[0] for ref in refs]
            if wander:
                params: dict[str, Any] = {"every": wander}
                if roams is not None:
                    params["roams"] = roams
                shorthand.append(BehaviourDef("wander", params, _line(fields["wander"][0])))
            says: list[str] = []
            if "says" in fields:
                says = self.text_list(fields["says"][1], f"'says' of {what}", self.text)
            talk = self._opt(fields, "talk", what, self._seconds, 30.0 if says else 0.0)
            if talk and says:
                line = _line(fields["says"][0])
                shorthand.append(BehaviourDef("talk", {"every": talk, "says": says}, line))
            behaviours = (*shorthand, *self.behaviours(fields, what))
            if name is None or location is None:
                continue
            npcs[ident] = NpcDef(
                id=ident,
                name=name,
                location=location,
                description=description,
                aliases=aliases,
                line=_line(key_node),
                behaviours=behaviours,
            )

    def location(
        self, fields: dict[str, tuple[Node, Node]], what: str, pending: list[tuple[str, int, str]]
    ) -> str | None:
        """The room an item or NPC starts in, checked with the other references."""
        ref = self.reference(fields["location"][1], f"'location' of {what}")
        if ref is None:
            return None
        pending.append((ref[0], ref[1], f"{what} is in unknown room '{_q(ref[0])}'"))
        return ref[0]

    def _seconds(self, node: Node, what: str) -> float | None:
        return self.number(node, what, minimum=MIN_WANDER, zero_ok=True)

    def daynight(self, node: Node) -> DayNightDef | None:
        fields = self.mapping(node, "'daynight'")
        if fields is None:
            return None
        self.check_keys(fields, ("cycle", "start", *PHASES), "'daynight'")
        if "cycle" not in fields:
            self.error(_line(node), "'daynight' has no 'cycle' (seconds in a whole day)")
            return None
        cycle = self.number(
            fields["cycle"][1], "'cycle' of 'daynight'", minimum=MIN_CYCLE, zero_ok=False
        )
        start = "day"
        if "start" in fields:
            value = self.text(fields["start"][1], "'start' of 'daynight'", markup_ok=False)
            if value is not None and value not in PHASES:
                self.error(
                    _line(fields["start"][1]),
                    f"'start' of 'daynight' must be one of {', '.join(PHASES)}, not '{_q(value)}'",
                )
            elif value is not None:
                start = value
        messages = dict(DEFAULT_PHASE_MESSAGES)
        for phase in PHASES:
            if phase in fields:
                value = self.text(fields[phase][1], f"'{phase}' of 'daynight'")
                if value is not None:
                    messages[phase] = value
        if cycle is None:
            return None
        return DayNightDef(cycle=cycle, start=start, messages=messages)

    def help(self, node: Node) -> dict[str, HelpTopic]:
        """The ``help:`` section: ``topic: text`` or ``topic: {text, aliases, category}``."""
        if isinstance(node, MappingNode) and len(node.value) > MAX_HELP_TOPICS:
            self.error(
                _line(node),
                f"'help' has {len(node.value):,} topics; a world file may have at most"
                f" {MAX_HELP_TOPICS:,}",
            )
            return {}
        entries = self.mapping(node, "'help'")
        if entries is None:
            return {}
        topics: dict[str, HelpTopic] = {}
        words: dict[str, tuple[str, int]] = {}  # name or alias -> (topic, line)
        total = 0
        for key, (key_node, value) in entries.items():
            line = _line(key_node)
            what = f"help topic '{_q(key)}'"
            if not TOPIC_NAME.match(key):
                self.error(
                    line,
                    f"{what}: a topic name is letters, digits, spaces, '-', '_' or an"
                    " apostrophe, at most 40, starting with a letter or digit",
                )
                continue
            if key.lower() in ("search", "find"):
                self.error(line, f"{what}: '{key.lower()}' is a word of 'help' itself")
                continue
            text, aliases, category = self._help_fields(value, what)
            if text is None:
                continue
            total += len(text)
            for word in (key, *aliases):
                other = words.get(word.lower())
                if other is not None:
                    self.error(
                        line,
                        f"{what}: '{_q(word)}' is already a name of help topic"
                        f" '{_q(other[0])}' (line {other[1]})",
                    )
                    break
            else:
                for word in (key, *aliases):
                    words[word.lower()] = (key, line)
                topics[key.lower()] = HelpTopic(key, text, aliases, category, line)
        if total > MAX_HELP_TEXT_TOTAL:
            self.error(
                _line(node),
                f"the help topics hold {total:,} characters; a world file may have at most"
                f" {MAX_HELP_TEXT_TOTAL:,}",
            )
        return topics

    def _help_fields(
        self, node: Node, what: str
    ) -> tuple[str | None, tuple[str, ...], str]:
        """``(text, aliases, category)`` of one topic (text None when it is unusable)."""
        category = DEFAULT_TOPIC_CATEGORY
        aliases: tuple[str, ...] = ()
        if isinstance(node, ScalarNode):
            text_node: Node | None = node
        else:
            fields = self.mapping(node, what)
            if fields is None:
                return None, (), category
            self.check_keys(fields, ("text", "aliases", "category"), what)
            text_node = fields["text"][1] if "text" in fields else None
            if text_node is None:
                self.error(_line(node), f"{what} has no 'text'")
            if "aliases" in fields:
                listed = self.text_list(fields["aliases"][1], f"'aliases' of {what}", self.name)
                for alias in listed:
                    if not TOPIC_NAME.match(alias):
                        self.error(
                            _line(fields["aliases"][1]),
                            f"alias '{_q(alias)}' of {what} must be letters, digits, spaces,"
                            " '-', '_' or an apostrophe (at most 40)",
                        )
                aliases = tuple(a for a in listed if TOPIC_NAME.match(a))
            if "category" in fields:
                value = self.name(fields["category"][1], f"'category' of {what}")
                if value is not None and len(value) > 40:
                    self.error(
                        _line(fields["category"][1]),
                        f"'category' of {what} is too long (at most 40 characters)",
                    )
                elif value is not None:
                    category = value
        if text_node is None:
            return None, aliases, category
        text = self.text(text_node, f"the text of {what}")
        if text is None:
            return None, aliases, category
        text = text.strip("\n")
        if not text.strip():
            self.error(_line(text_node), f"the text of {what} must not be empty")
            return None, aliases, category
        if len(text) > MAX_HELP_TEXT:
            self.error(
                _line(text_node),
                f"the text of {what} is too long ({len(text):,} characters, at most"
                f" {MAX_HELP_TEXT:,})",
            )
            return None, aliases, category
        return text, aliases, category

    def _travel_message(self, fields: dict[str, tuple[Node, Node]], key: str, what: str) -> str:
        """An exit's ``leave``/``arrive`` text: one line that follows the mover's name."""
        if key not in fields:
            return ""
        node = fields[key][1]
        value = self._opt_text(fields, key, what)
        text = " ".join(value.split())
        if not text:
            self.error(_line(node), f"'{key}' of {what} must not be empty")
        elif "\n" in value.strip():
            self.error(_line(node), f"'{key}' of {what} must be one line")
        elif len(text) > MAX_TRAVEL_MESSAGE:
            self.error(
                _line(node),
                f"'{key}' of {what} is too long ({len(text)} characters, at most"
                f" {MAX_TRAVEL_MESSAGE})",
            )
        else:
            return text
        return ""

    def _opt_text(self, fields: dict[str, tuple[Node, Node]], key: str, what: str) -> str:
        if key not in fields:
            return ""
        value = fields[key][1]
        if isinstance(value, ScalarNode) and value.tag == "tag:yaml.org,2002:null":
            return ""
        return self.text(value, f"'{key}' of {what}") or ""

    def _opt(
        self,
        fields: dict[str, tuple[Node, Node]],
        key: str,
        what: str,
        read: Callable[[Node, str], Any],
        default: Any,
    ) -> Any:
        """An optional value read by ``read``; ``default`` when absent (or reported bad)."""
        if key not in fields:
            return default
        value = read(fields[key][1], f"'{key}' of {what}")
        return default if value is None else value

    def _aliases(self, fields: dict[str, tuple[Node, Node]], what: str) -> tuple[str, ...]:
        if "aliases" not in fields:
            return ()
        return tuple(self.text_list(fields["aliases"][1], f"'aliases' of {what}", self.name))
