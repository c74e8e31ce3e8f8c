"""Behaviours: named, parameterised Python classes that bring things to life.

A room, an item or an NPC can carry behaviours. The world file attaches
them by name, with parameters::

    npcs:
      marta:
        name: Marta
        location: inn
        behaviours:
          - greet: {say: "Welcome to the Sleeping Fox!"}
          - respond: {keywords: [cellar, key], say: "The cellar key hangs by the fire."}

A behaviour is a subclass of :class:`Behaviour` with a ``name``. Its
``__init__`` takes the parameters as keyword arguments (their annotations
say what the world file may give: text, numbers, true/false, lists), and
its hooks are called by the world when something happens near its owner:

========== ==================================================================
hook        called when
========== ==================================================================
arrived     someone (a player or an NPC) arrives in the owner's room
left        someone leaves the owner's room
heard       someone says something in the owner's room (``h.text``)
taken       the owner (an item) is picked up (``h.actor`` took it)
dropped     the owner is put down, in a room or a container
given       the owner (an NPC) was given ``h.thing`` (see :meth:`accepts`)
used        a verb the owner gives was used (``h.text`` is the verb)
opened      the owner (a container or door) is opened; also ``closed``,
            ``locked``, ``unlocked``
========== ==================================================================

``allow(h)`` is asked *before* a move or an opening that involves the owner
(``h.action`` is ``take``, ``drop``, ``put``, ``give``, ``leave``,
``enter``, ``open``, ``close``, ``lock`` or ``unlock``): returning a
sentence vetoes it, and the player reads that sentence. ``start()`` runs
when the world starts ticking (use :meth:`Behaviour.every` and
:meth:`Behaviour.after` for timers on the world's clock: they are cancelled
for you when the world stops or loads again).

A behaviour may also give players verbs while its owner is carried, lies
in the room, or is the room: decorate a method with :func:`verb`::

    class Bell(Behaviour):
        name = "bell"

        @verb("ring", help="ring <thing>: ring a bell.")
        def ring(self, ctx: Context, args: str) -> None:
            ctx.act(f"{ctx.player.name} rings {self.owner.the()}.", "You ring the bell.")

A world brings its own behaviours as Python modules named in its file
(``python: [behaviours.py]``). They are *trusted admin code*, like a
Twisted plugin: they run inside the server with its rights, so an admin
loads only code they have read. :func:`load_catalogue` executes them,
reports an error in one as ``file:line``, and checks every behaviour the
world file names (and its parameters) before the world changes at all.
``docs/behaviours.md`` shows how to write one.
"""

from __future__ import annotations

import inspect
import logging
import os
import re
import sys
import types
import typing
from collections.abc import Callable, Iterable, Iterator
from typing import Any, ClassVar

from reality.game.events import Event, EventBuffer
from reality.game.loader import BehaviourDef, WorldDefinition, WorldFileError
from reality.game.things import Item, Player, Room, Thing

log = logging.getLogger(__name__)

__all__ = [
    "BUILTIN",
    "Behaviour",
    "Catalogue",
    "Happening",
    "VerbSpec",
    "load_catalogue",
    "verb",
]

#: The largest behaviour module read, in bytes.
MAX_MODULE_BYTES = 1024 * 1024


class Happening:
    """What a hook is told: what happened, who did it, and how to answer.

    ``actor`` did it (a Player or an Npc, or None for the world), ``thing``
    is what it was done to, ``room`` where, ``text`` what was said (plain
    text, for ``heard``), ``action`` its name (for ``allow``) and
    ``destination`` where a moving thing is going. Answers go into the
    command's buffer, so they follow what the actor sees of their own
    command.
    """

    __slots__ = (
        "world",
        "owner",
        "action",
        "actor",
        "thing",
        "room",
        "text",
        "destination",
        "buffer",
    )

    def __init__(
        self,
        world: Any,
        action: str,
        *,
        actor: Thing | None = None,
        thing: Thing | None = None,
        room: Room | None = None,
        text: str = "",
        destination: Any = None,
        buffer: EventBuffer | None = None,
    ) -> None:
        self.world = world
        self.owner: Thing | None = None
        self.action = action
        self.actor = actor
        self.thing = thing
        self.room = room
        self.text = text
        self.destination = destination
        self.buffer = buffer if buffer is not None else EventBuffer()

    def _owner_room(self) -> Room | None:
        owner = self.owner
        if isinstance(owner, Room):
            return owner
        if isinstance(owner, Item):
            holder = owner.outermost()
            return holder if isinstance(holder, Room) else getattr(holder, "location", None)
        if owner is not None and isinstance(owner.location, Room):
            return owner.location
        return self.room

    def say(self, line: str) -> None:
        """The owner says ``line`` (markup) to its room: ``Marta says, "..."``."""
        room = self._owner_room()
        if room is None or self.owner is None:
            return
        self.buffer.add(Event(room, f'{self.owner.The()} says, "{line}"', actor=self.owner))

    def emote(self, text: str) -> None:
        """The owner does something: ``Marta`` + ``" smiles."``."""
        room = self._owner_room()
        if room is None or self.owner is None:
            return
        self.buffer.add(Event(room, f"{self.owner.The()} {text}", actor=self.owner))

    def show(self, room: Room, text: str) -> None:
        """A line for everyone in ``room``."""
        self.buffer.add(Event(room, text))

    def tell(self, player: Thing | None, text: str) -> None:
        """A line for one player only."""
        if isinstance(player, Player):
            self.buffer.tell(player, text)


class VerbSpec:
    """A verb a behaviour gives players near its owner (see :func:`verb`)."""

    __slots__ = ("name", "method", "aliases", "help", "usage")

    def __init__(
        self,
        name: str,
        method: Callable[..., None],
        aliases: tuple[str, ...],
        help: str,
        usage: str,
    ) -> None:
        self.name = name
        self.method = method
        self.aliases = aliases
        self.help = help
        self.usage = usage


def verb(
    name: str, *, aliases: Iterable[str] = (), help: str = "", usage: str = ""
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Mark a behaviour method ``(self, ctx, args)`` as a verb players near the owner can use."""

    def mark(method: Callable[..., None]) -> Callable[..., None]:
        method._reality_verb = VerbSpec(  # type: ignore[attr-defined]
            name.lower(), method, tuple(a.lower() for a in aliases), help, usage or name
        )
        return method

    return mark


class Behaviour:
    """The base of every behaviour: hooks that do nothing, timers that clean up.

    Subclasses set ``name`` (what world files call it) and take their
    parameters in ``__init__`` as keyword arguments. ``owner`` and
    ``world`` are set when the world attaches the behaviour.
    """

    #: The name world files use; "" for an abstract base.
    name: ClassVar[str] = ""
    #: The verbs of this class, by word (filled in for each subclass).
    verbs: ClassVar[dict[str, VerbSpec]] = {}

    owner: Thing
    world: Any

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        found: dict[str, VerbSpec] = {}
        for klass in reversed(cls.__mro__):
            for attribute in vars(klass).values():
                spec = getattr(attribute, "_reality_verb", None)
                if isinstance(spec, VerbSpec):
                    for word in (spec.name, *spec.aliases):
                        found[word] = spec
        cls.verbs = found

    def attach(self, owner: Thing, world: Any) -> None:
        """Belong to ``owner`` in ``world`` (the world calls it as it loads)."""
        self.owner = owner
        self.world = world
        self._timers: list[Any] = []

    def verb_handlers(self) -> dict[str, Callable[[Any, str], None]]:
        """The verbs this behaviour gives players near its owner: ``{word: handler(ctx, args)}``."""
        return {word: getattr(self, spec.method.__name__) for word, spec in self.verbs.items()}

    def params(self) -> dict[str, Any]:
        """The parameters this behaviour was made with (for ``@examine`` and export)."""
        return dict(getattr(self, "_params", {}))

    # -- timers ----------

    def start(self) -> None:
        """The world starts ticking: schedule timers here."""

    def stop(self) -> None:
        """Cancel every timer this behaviour made (the world calls it)."""
        for timer in getattr(self, "_timers", ()):
            if timer.active():
                timer.cancel()
        self._timers = []

    def after(self, seconds: float, f: Callable[[], None]) -> None:
        """Call ``f()`` once, ``seconds`` from now on the world's clock."""
        self._timers = [t for t in self._timers if t.active()]
        self._timers.append(self.world.clock.call_later(seconds, self._fire, f))

    def every(self, seconds: float, f: Callable[[], None]) -> None:
        """Call ``f()`` every ``seconds`` on the world's clock until stopped."""

        def again() -> None:
            self.after(seconds, again)
            f()

        self.after(seconds, again)

    def _fire(self, f: Callable[[], None]) -> None:
        if self.owner is None or not self.world.running:
            return
        try:
            f()
        except Exception:
            log.exception("timer of behaviour %r on %r failed", self.name, self.owner)

    # -- hooks (all optional) ----------

    def allow(self, h: Happening) -> str | None:
        """None to allow ``h.action``; a sentence to veto it."""
        return None

    def accepts(self, h: Happening) -> bool:
        """Whether the owner (an NPC) takes ``h.thing``, offered by ``h.actor``."""
        return False

    def arrived(self, h: Happening) -> None: ...

    def left(self, h: Happening) -> None: ...

    def heard(self, h: Happening) -> None: ...

    def taken(self, h: Happening) -> None: ...

    def dropped(self, h: Happening) -> None: ...

    def given(self, h: Happening) -> None: ...

    def used(self, h: Happening) -> None: ...

    def opened(self, h: Happening) -> None: ...

    def closed(self, h: Happening) -> None: ...

    def locked(self, h: Happening) -> None: ...

    def unlocked(self, h: Happening) -> None: ...

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} {self.params()!r}>"


# -- the built-in behaviours ----------


class Greet(Behaviour):
    """Says ``say`` when a player enters the owner's room."""

    name = "greet"

    def __init__(self, say: str) -> None:
        self.line = say

    def arrived(self, h: Happening) -> None:
        if isinstance(h.actor, Player) and h.actor is not self.owner:
            h.say(self.line)


def _words(text: str) -> set[str]:
    return set(re.findall(r"[\w']+", text.lower()))


class Respond(Behaviour):
    """Says ``say`` when someone in the room says a sentence with one of ``keywords``.

    Keywords are whole words (or phrases of whole words), case-insensitive:
    ``key`` answers "Where is the key?" but not "monkey".
    """

    name = "respond"

    def __init__(self, keywords: list[str], say: str) -> None:
        if not keywords:
            raise ValueError("'keywords' must name at least one word")
        self.keywords = [k.lower().split() for k in keywords if k.strip()]
        self.line = say

    def heard(self, h: Happening) -> None:
        if h.actor is self.owner or not isinstance(h.actor, Player):
            return
        words = re.findall(r"[\w']+", h.text.lower())
        for phrase in self.keywords:
            n = len(phrase)
            if any(words[i : i + n] == phrase for i in range(len(words) - n + 1)):
                h.say(self.line)
                return


class Wander(Behaviour):
    """Walks through a random exit every ``every`` seconds (only into ``roams``, if given).

    It does not walk through closed doors.
    """

    name = "wander"

    def __init__(self, every: float, roams: list[str] | None = None) -> None:
        if every < 0.5:
            raise ValueError("'every' must be at least 0.5 seconds")
        self.seconds = float(every)
        self.roams = frozenset(roams) if roams is not None else None

    def start(self) -> None:
        self.every(self.seconds, self.wander)

    def wander(self) -> None:
        npc = self.owner
        room = npc.location
        if not isinstance(room, Room):
            return
        world = self.world
        choices = [
            e
            for e in room.exits.values()
            if e.destination in world.rooms
            and (self.roams is None or e.destination in self.roams)
            and (e.door is None or not e.door.closed)
        ]
        if not choices:
            return
        way = world.rng.choice(choices)
        buffer = EventBuffer()
        world.walk(npc, way, buffer)
        buffer.flush()


class Talk(Behaviour):
    """Says the lines of ``says`` in turn, every ``every`` seconds, when a player is there.

    A line that starts with ``:`` is an action: ``":ruffles its feathers."``.
    """

    name = "talk"

    def __init__(self, says: list[str], every: float = 30.0) -> None:
        if not says:
            raise ValueError("'says' must have at least one line")
        if every < 0.5:
            raise ValueError("'every' must be at least 0.5 seconds")
        self.lines = list(says)
        self.seconds = float(every)
        self._next = 0

    def start(self) -> None:
        self.every(self.seconds, self.talk)

    def talk(self) -> None:
        room = self.owner.location
        if not isinstance(room, Room) or not room.players:
            return
        line = self.lines[self._next % len(self.lines)]
        self._next += 1
        h = Happening(self.world, "talk", room=room)
        h.owner = self.owner
        if line.startswith(":"):
            h.emote(line[1:].lstrip())
        else:
            h.say(line)
        h.buffer.flush()


class Accept(Behaviour):
    """Takes ``item`` (an item id) when a player gives it, and says ``say``.

    With ``keep: false`` the item is handed back to the world at its home
    a moment later, so a quest can be done again by the next player.
    """

    name = "accept"

    def __init__(self, item: str, say: str, keep: bool = False) -> None:
        self.item = item
        self.line = say
        self.keep = keep

    def accepts(self, h: Happening) -> bool:
        return h.thing is not None and h.thing.id == self.item

    def given(self, h: Happening) -> None:
        if h.thing is None or h.thing.id != self.item:
            return
        h.say(self.line)
        if not self.keep:
            thing = h.thing
            self.after(1.0, lambda: self.world.return_home(thing))


class Sound(Behaviour):
    """Gives the verb ``verb`` (e.g. ``ring``) for the owner; the neighbours hear it.

    ``you`` is what the player reads, ``here`` what the room reads (after
    the player's name), ``nearby`` what every room one exit away reads.
    """

    name = "sound"

    def __init__(self, verb: str, you: str, here: str, nearby: str = "") -> None:
        self.word = verb.lower().strip()
        if not self.word.isalpha():
            raise ValueError("'verb' must be one word of letters")
        self.you = you
        self.here = here
        self.nearby = nearby

    def verb_handlers(self) -> dict[str, Callable[[Any, str], None]]:
        return {self.word: self.use}

    def use(self, ctx: Any, args: str) -> None:
        player = ctx.player
        room = ctx.room
        ctx.act(f"{player.name} {self.here}", self.you)
        if self.nearby:
            seen = {room.id}
            for way in room.exits.values():
                other = self.world.rooms.get(way.destination)
                if other is not None and other.id not in seen:
                    seen.add(other.id)
                    ctx.emit(Event(other, self.nearby))


BUILTIN: dict[str, type[Behaviour]] = {
    cls.name: cls for cls in (Greet, Respond, Wander, Talk, Accept, Sound)
}


# -- the catalogue: built-ins plus a world's modules ----------


class Catalogue:
    """The behaviours a world can name: the built-ins and those of its modules."""

    def __init__(self, classes: dict[str, type[Behaviour]] | None = None) -> None:
        self.classes: dict[str, type[Behaviour]] = dict(BUILTIN if classes is None else classes)
        #: Where each world module's behaviours came from: ``{name: path}``.
        self.origins: dict[str, str] = {}

    def make(self, definition: BehaviourDef) -> Behaviour:
        """A new behaviour for ``definition`` (already checked by :meth:`check`)."""
        cls = self.classes[definition.name]
        behaviour = cls(**definition.params)
        behaviour._params = dict(definition.params)  # type: ignore[attr-defined]
        return behaviour

    def check(self, definition: BehaviourDef, filename: str) -> list[tuple[str, int, str]]:
        """The problems with one behaviour entry of a world file, as ``(file, line, message)``."""
        cls = self.classes.get(definition.name)
        line = definition.line
        if cls is None:
            known = ", ".join(sorted(self.classes))
            return [(filename, line, f"unknown behaviour '{definition.name}' (known: {known})")]
        try:
            signature = inspect.signature(cls.__init__)
        except (TypeError, ValueError):
            return []
        hints = _hints(cls)
        params = [
            p
            for p in list(signature.parameters.values())[1:]
            if p.kind
            not in (
                inspect.Parameter.VAR_POSITIONAL,
                inspect.Parameter.VAR_KEYWORD,
            )
        ]
        names = {p.name for p in params}
        problems = []
        for key, value in definition.params.items():
            if key not in names:
                expected = ", ".join(p.name for p in params) or "none"
                problems.append(
                    (
                        filename,
                        line,
                        f"behaviour '{definition.name}' has no parameter '{key}'"
                        f" (it takes: {expected})",
                    )
                )
                continue
            hint = hints.get(key)
            if hint is not None and not _fits(value, hint):
                problems.append(
                    (
                        filename,
                        line,
                        f"parameter '{key}' of behaviour '{definition.name}' must be"
                        f" {_describe(hint)}",
                    )
                )
        for p in params:
            if p.default is inspect.Parameter.empty and p.name not in definition.params:
                problems.append(
                    (
                        filename,
                        line,
                        f"behaviour '{definition.name}' needs the parameter '{p.name}'",
                    )
                )
        if not problems:
            try:
                cls(**definition.params)
            except Exception as error:
                problems.append((filename, line, f"behaviour '{definition.name}': {error}"))
        return problems


def _hints(cls: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(vars(cls).get("__init__") or cls.__init__)  # type: ignore[misc]
    except Exception:
        return {}


def _fits(value: Any, hint: Any) -> bool:
    """Whether a world file's value fits a parameter's annotation (simple types only)."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, a) for a in args)
    if hint is type(None):
        return value is None
    if origin is list:
        return (
            isinstance(value, list) and all(_fits(v, args[0]) for v in value)
            if args
            else (isinstance(value, list))
        )
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint in (str, bool):
        return isinstance(value, hint)
    return True


def _describe(hint: Any) -> str:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in args if a is not type(None))
    if origin is list:
        return f"a list of {_describe(args[0])}s" if args else "a list"
    return {str: "text", float: "a number", int: "a whole number", bool: "true or false"}.get(
        hint, getattr(hint, "__name__", str(hint))
    )


#: Counter for the module names of world code (a reload gets fresh modules).
_loads = 0


def load_catalogue(definition: WorldDefinition, world_dir: str | os.PathLike[str]) -> Catalogue:
    """Execute the world's behaviour modules and check every behaviour the file names.

    Raises :class:`WorldFileError` with every problem as ``file:line``: a
    module outside ``world_dir``, unreadable, with a syntax error or one
    that fails as it runs; an unknown behaviour; a parameter it does not
    take or of the wrong kind. Nothing of the running world is touched.
    """
    global _loads
    errors: list[tuple[str, int, str]] = []
    catalogue = Catalogue()
    base = os.path.dirname(os.path.abspath(definition.path))
    root = os.path.realpath(world_dir)
    for relative, line in definition.python:
        path = os.path.realpath(os.path.join(base, relative))
        if os.path.commonpath([root, path]) != root:
            errors.append(
                (definition.path, line, f"'{relative}' is outside the world directory {root}")
            )
            continue
        _loads += 1
        classes, problem = _run_module(path, f"reality_world_{_loads}")
        if problem is not None:
            errors.append(problem)
            continue
        for cls in classes:
            if cls.name in catalogue.classes:
                where = catalogue.origins.get(cls.name, "the built-ins")
                errors.append(
                    (
                        path,
                        _class_line(cls),
                        f"behaviour '{cls.name}' is already defined by {where}",
                    )
                )
                continue
            catalogue.classes[cls.name] = cls
            catalogue.origins[cls.name] = path
    for entry in _behaviour_defs(definition):
        errors.extend(catalogue.check(entry, definition.path))
    if errors:
        raise WorldFileError(errors)
    return catalogue


def _behaviour_defs(definition: WorldDefinition) -> Iterator[BehaviourDef]:
    for room in definition.rooms.values():
        yield from room.behaviours
    for item in definition.items.values():
        yield from item.behaviours
    for npc in definition.npcs.values():
        yield from npc.behaviours


def _run_module(
    path: str, module_name: str
) -> tuple[list[type[Behaviour]], tuple[str, int, str] | None]:
    """Run a world module; its Behaviour classes, or the problem as ``(file, line, message)``."""
    try:
        with open(path, "rb") as f:
            source = f.read(MAX_MODULE_BYTES + 1)
    except OSError as error:
        return [], (path, 0, f"cannot read the behaviour module: {error.strerror or error}")
    if len(source) > MAX_MODULE_BYTES:
        return [], (path, 0, f"the behaviour module is larger than {MAX_MODULE_BYTES:,} bytes")
    try:
        code = compile(source, path, "exec")
    except SyntaxError as error:
        return [], (path, error.lineno or 0, f"syntax error: {error.msg}")
    except ValueError as error:
        return [], (path, 0, str(error))
    module = types.ModuleType(module_name)
    module.__file__ = path
    sys.modules[module_name] = module
    try:
        exec(code, module.__dict__)
    except Exception as error:
        sys.modules.pop(module_name, None)
        line = 0
        for frame, lineno in _frames(error.__traceback__):
            if frame == path:
                line = lineno
        return [], (path, line, f"{type(error).__name__}: {error}")
    classes = [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, Behaviour)
        and value.__module__ == module_name
        and value.name
    ]
    if not classes:
        return [], (path, 0, "the module defines no behaviour (a Behaviour subclass with a name)")
    return classes, None


def _frames(tb: types.TracebackType | None) -> Iterator[tuple[str, int]]:
    while tb is not None:
        yield tb.tb_frame.f_code.co_filename, tb.tb_lineno
        tb = tb.tb_next


def _class_line(cls: type) -> int:
    try:
        return inspect.getsourcelines(cls)[1]
    except (OSError, TypeError):
        return 0
