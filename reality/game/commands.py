"""The command parser and the verbs.

A line of input is read like this:

1. ``'text`` and ``"text`` are ``say text``; ``:text`` is ``emote text``.
2. The first word, lower-cased, is looked up as a verb name or alias
   (``look``, ``l``, ``get``, ``@dig``...).
3. Otherwise it is tried as an exit of the room (``north``, ``n``, ``door``).
4. Otherwise as the unambiguous start of a verb (``inv`` for ``inventory``).
5. Otherwise the player is told the word is not understood.

A verb handler is ``handler(ctx: Context, args: str) -> None``. It refuses
by raising :class:`Refusal` with a sentence that says why not ("You can't
take Bob."); the world shows that sentence and nothing else happens. It
reports by ``ctx.tell(text)``, ``ctx.act(to_others, to_actor)`` and
``ctx.emit(Event(...))``; those are delivered only when the handler
returns normally.

Other modules add verbs to the shared registry::

    from reality.game.commands import Context, register_verb

    def mail(ctx: Context, args: str) -> None:
        ctx.tell("You have no mail.")

    register_verb("mail", mail, help="mail: list your letters ...", category="mail")

Object names match by alias, whole name, name prefix or word prefixes
("lamp", "bra", "br la" all find "brass lamp"); exact matches beat prefix
matches; a remaining tie asks a numbered question ("Which do you mean:
1. the brass lamp, 2. the brass key? Type the number, or e.g. get 2.brass.").
The player's next line may be just the number: the same command runs again
with that thing (:class:`Ambiguous`, :func:`run`). ``2.lamp`` picks the
second of several at any time. Exits answer to their short forms (``sw``)
wherever one can be named: ``sw``, ``go sw``, ``look sw``, ``@describe sw``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

from attrs import frozen

from reality.audit import audit
from reality.game import markup
from reality.game.events import Event, EventBuffer
from reality.game.loader import (
    EXIT_PATTERN,
    WorldDefinition,
    WorldFileError,
    WorldFileRefused,
    excerpt,
)
from reality.game.store import BuiltExit, BuiltItem, BuiltRoom, Store
from reality.game.things import (
    ABBREVIATIONS,
    EXACT,
    NO_MATCH,
    OPPOSITES,
    Exit,
    Item,
    Npc,
    Player,
    Room,
    Thing,
    capitalize,
    expand_direction,
    name_list,
    plural,
    travel_messages,
)

log = logging.getLogger(__name__)

__all__ = [
    "VERBS",
    "Context",
    "Refusal",
    "Ambiguous",
    "Verb",
    "VerbRegistry",
    "WorldView",
    "register_verb",
    "run",
]

MAX_CARRIED = 50
MAX_HOMEPAGE = 20_000
MAX_SAY = 2_000
MAX_DESCRIPTION = 4_000
MAX_NAME = 60


class Refusal(Exception):
    """A verb cannot be done; ``str()`` is the sentence telling the player why not."""


class Ambiguous(Refusal):
    """A name fits several things; the question numbers them (``str()``).

    The player's next line may be just a number: :func:`run` then runs the
    same command again with ``choices[key]`` set to that candidate.
    """

    def __init__(self, question: str, key: str, candidates: Sequence[Any]) -> None:
        super().__init__(question)
        self.key = key
        self.candidates = tuple(candidates)


@frozen
class PendingChoice:
    """A question waiting for its number: the command that asked it, and the candidates."""

    line: str
    choices: dict[str, Any]
    key: str
    candidates: tuple[Any, ...]


@frozen
class Verb:
    """A registered verb."""

    name: str
    handler: Callable[[Context, str], None]
    aliases: tuple[str, ...] = ()
    admin: bool = False
    help: str = ""
    usage: str = ""
    category: str = "general"


class VerbRegistry:
    """Verbs by name and alias."""

    def __init__(self) -> None:
        self._verbs: dict[str, Verb] = {}
        self._words: dict[str, Verb] = {}

    def register(
        self,
        name: str,
        handler: Callable[[Context, str], None],
        *,
        aliases: Sequence[str] = (),
        admin: bool = False,
        help: str = "",
        usage: str = "",
        category: str = "general",
    ) -> Verb:
        """Add (or replace) a verb; returns it."""
        verb = Verb(name, handler, tuple(aliases), admin, help, usage or name, category)
        old = self._verbs.get(name)
        if old is not None:
            for word in (old.name, *old.aliases):
                self._words.pop(word, None)
        self._verbs[name] = verb
        for word in (name, *aliases):
            self._words[word.lower()] = verb
        return verb

    def lookup(self, word: str) -> Verb | None:
        """The verb with this exact name or alias (lower case)."""
        return self._words.get(word)

    def complete(self, prefix: str, *, admin: bool) -> list[Verb]:
        """Verbs whose name starts with ``prefix`` (admin verbs only for admins)."""
        return [
            v for v in self._verbs.values() if v.name.startswith(prefix) and (admin or not v.admin)
        ]

    def all(self) -> list[Verb]:
        return list(self._verbs.values())


#: The registry the world uses unless it is given another.
VERBS = VerbRegistry()


#: Add a verb to the shared registry :data:`VERBS` (its :meth:`VerbRegistry.register`).
register_verb = VERBS.register


class WorldView(Protocol):
    """The world as a verb handler sees it: the part of :class:`reality.game.world.World` verbs use.

    The world imports this module to run verbs, so this module cannot import
    the world back; ``World`` fits this protocol structurally (mypy checks it
    where the world makes a :class:`Context`).
    """

    store: Store
    verbs: VerbRegistry
    rooms: dict[str, Room]
    items: dict[str, Item]
    npcs: dict[str, Npc]
    online: dict[str, Player]
    loading: str | None
    load_file: Callable[[str, Callable[[WorldDefinition | Exception], None]], None]
    on_shutdown: Callable[[str], None] | None
    wall: Callable[[], float]

    def load(self, definition: WorldDefinition) -> None: ...

    def logout(self, player: Player, message: str) -> None: ...

    def move_player(
        self,
        player: Player,
        room: Room,
        buffer: EventBuffer,
        *,
        leave: str | None,
        arrive: str | None,
    ) -> None: ...

    def move_item(self, item: Item, holder: Room | Player) -> None: ...

    def send_room_info(self, player: Player) -> None: ...

    def describe_room(self, room: Room, viewer: Player, *, brief: bool = False) -> str: ...

    def who_text(self, viewer: Player | None = None) -> str: ...

    def find_online(self, query: str) -> list[Player]: ...

    def mail_address(self, player: Player | str) -> str: ...

    def homepage_url(self, player: Player | str) -> str | None: ...

    def changed(self, topic: str, key: str | None) -> None: ...

    def mark_dirty(self, player: Player) -> None: ...

    def set_homepage(self, player: Player, text: str) -> None: ...


class Context:
    """What a verb handler works with: the world, the player, the output buffer."""

    __slots__ = ("world", "player", "buffer", "after", "verb", "typed", "choices")

    def __init__(self, world: WorldView, player: Player) -> None:
        self.world = world
        self.player = player
        self.buffer = EventBuffer()
        #: Actions run after the output is delivered (e.g. closing a connection).
        self.after: list[Callable[[], None]] = []
        self.verb: Verb | None = None
        #: The command word and its arguments as typed (for examples in questions).
        self.typed: tuple[str, str] = ("", "")
        #: Answers already given to "Which do you mean?": query -> the thing chosen.
        self.choices: dict[str, Any] = {}

    @property
    def room(self) -> Room:
        room = self.player.location
        if room is None:
            raise Refusal("You are nowhere.")
        return room

    def tell(self, text: str) -> None:
        """A line for the player only."""
        self.buffer.tell(self.player, text)

    def emit(self, event: Event) -> None:
        """An event in a room, delivered when the verb has finished."""
        self.buffer.add(event)

    def act(self, to_others: str, to_actor: str) -> None:
        """The player does something here: one sentence for them, one for the others."""
        self.buffer.add(Event(self.room, to_others, actor=self.player, to_actor=to_actor))

    def find(self, query: str, candidates: Iterable[Any], *, nothing: str | None = None) -> Any:
        """:func:`find`, answering from :attr:`choices` and asking a numbered question."""
        return find(query, candidates, nothing=nothing, context=self)

    def example(self, query: str, replacement: str) -> str:
        """The command as typed with ``query`` replaced ("give 2.apple to bob")."""
        word, rest = self.typed
        raw = query.strip()
        if raw and raw in rest:
            return f"{word} {rest.replace(raw, replacement, 1)}"
        return f"{word} {replacement}"


# -- the parser ----------


def run(ctx: Context, line: str) -> None:
    """Parse and run one line for ``ctx.player``.

    A line that is only a number answers the question the previous command
    asked ("Which do you mean: 1. ..., 2. ...?"): that command runs again
    with the chosen thing. Only the very next line can answer.
    """
    line = line.strip()
    if not line:
        return
    player = ctx.player
    pending, player.pending_choice = player.pending_choice, None
    if line.isdigit():
        if pending is None:
            raise Refusal("There is no question to answer: type a command. Type 'help' for a list.")
        number = int(line)
        if not 1 <= number <= len(pending.candidates):
            player.pending_choice = pending
            raise Refusal(f"Type a number from 1 to {len(pending.candidates)}, or a new command.")
        ctx.choices = {**pending.choices, pending.key: pending.candidates[number - 1]}
        line = pending.line
    try:
        _run(ctx, line)
    except Ambiguous as question:
        player.pending_choice = PendingChoice(
            line, dict(ctx.choices), question.key, question.candidates
        )
        raise


def _run(ctx: Context, line: str) -> None:
    first = line[0]
    if first in "'\"":
        line = "say " + line[1:]
    elif first == ":":
        line = "emote " + line[1:]
    word, _, rest = line.partition(" ")
    word = word.lower()
    rest = rest.strip()
    ctx.typed = (word, rest)
    registry = ctx.world.verbs
    verb = registry.lookup(word)
    if verb is not None:
        return _dispatch(ctx, verb, rest)
    # Exit names may have several words ("red door").
    way = _find_exit(ctx.room, " ".join(line.lower().split()))
    if way is not None:
        return go(ctx, way.name)
    if not rest:
        if word in ABBREVIATIONS or word in OPPOSITES:
            raise Refusal(f"You can't go {expand_direction(word)} from here.")
    if len(word) >= 2:
        candidates = registry.complete(word, admin=ctx.player.admin)
        if len(candidates) == 1:
            return _dispatch(ctx, candidates[0], rest)
        if len(candidates) > 1:
            names = name_list(sorted(v.name for v in candidates), "or")
            raise Refusal(f"Which command do you mean: {names}?")
    raise Refusal(
        f"I don't understand '{markup.escape(word[:40])}'. Type 'help' for a list of commands."
    )


def _dispatch(ctx: Context, verb: Verb, args: str) -> None:
    if verb.admin and not ctx.player.admin:
        raise Refusal(f"Only admins can use {verb.name}.")
    ctx.verb = verb
    verb.handler(ctx, args)


def _find_exit(room: Room, word: str) -> Exit | None:
    word = expand_direction(word)
    way = room.exits.get(word)
    if way is not None:
        return way
    for candidate in room.exits.values():
        if candidate.match(word) == EXACT:
            return candidate
    return None


# -- name matching ----------

_ORDINAL = re.compile(r"(\d+)\.(.+)\Z")
_ARTICLES = ("the ", "a ", "an ")


def normalize(query: str) -> str:
    """Lower case, single spaces, no leading article."""
    query = " ".join(query.lower().split())
    for article in _ARTICLES:
        if query.startswith(article) and len(query) > len(article):
            return query[len(article) :]
    return query


def find(
    query: str,
    candidates: Iterable[Any],
    *,
    nothing: str | None = None,
    context: Context | None = None,
) -> Any:
    """The one candidate ``query`` names; :class:`Refusal` if none, :class:`Ambiguous` if several.

    Candidates are Things or Exits (anything with ``match(query)``).
    ``nothing`` is the refusal when nothing matches. With a ``context``,
    an answer the player already gave (its ``choices``) settles a tie,
    and the question's example is the player's own command.
    """
    q = normalize(query)
    if not q:
        raise Refusal("Which one? Give a name.")
    ordinal = None
    m = _ORDINAL.match(q)
    if m:
        ordinal, q = int(m.group(1)), m.group(2)
    best = NO_MATCH
    found: list[Any] = []
    for candidate in candidates:
        score = candidate.match(q)
        if score > best:
            best, found = score, [candidate]
        elif score == best and score:
            found.append(candidate)
    if not found:
        raise Refusal(nothing or f"You don't see '{markup.escape(query)}' here.")
    if ordinal is not None:
        if not 1 <= ordinal <= len(found):
            there = "There is only" if len(found) == 1 else "There are only"
            raise Refusal(f"{there} {len(found)} of '{markup.escape(q)}' here.")
        return found[ordinal - 1]
    # An answer to the question settles it even if the field has changed since.
    if len(found) > 1 or (context is not None and q in context.choices):
        example = context.example(query, f"2.{q}") if context else f"2.{q}"
        return _choose(context, q, found, [_the(c) for c in found], example)
    return found[0]


#: Choices numbered in one question; more are left to the ``3.name`` form.
MAX_CHOICES = 20


def _choose(
    context: Context | None, key: str, found: list[Any], names: list[str], example: str
) -> Any:
    """The candidate the player already chose for ``key``, or a numbered question."""
    if context is not None and key in context.choices:
        chosen = context.choices[key]
        if any(c is chosen for c in found):
            return chosen
        raise Refusal(f"{capitalize(_the(chosen))} is not here any more.")
    numbered = ", ".join(f"{n}. {name}" for n, name in enumerate(names[:MAX_CHOICES], 1))
    if len(names) > MAX_CHOICES:
        numbered += f" and {len(names) - MAX_CHOICES} more"
    raise Ambiguous(
        f"Which do you mean: {numbered}? Type the number, or e.g. {markup.escape(example)}.",
        key,
        found[:MAX_CHOICES],
    )


def _the(thing: Any) -> str:
    if isinstance(thing, Player):
        return thing.name
    if isinstance(thing, Thing):
        return thing.the()
    return f"the way {thing.name}"


def _visible(ctx: Context) -> list[Thing]:
    """Things a player can refer to: here, carried, and people present."""
    room = ctx.room
    return [*room.contents, *ctx.player.inventory, *room.players]


def _find_target(ctx: Context, query: str) -> Any:
    """A thing, person or exit here; an exit's short form (``sw``) names it as ``go`` would."""
    room = ctx.room
    # "sw" names the way southwest wherever an exit can be named, before
    # any "sword" could claim it as a prefix.
    way = _find_exit(room, normalize(query))
    if way is not None:
        return way
    return ctx.find(query, [*_visible(ctx), *room.exits.values()])


def _check_markup(text: str) -> None:
    problems = markup.validate(text)
    if problems:
        raise Refusal("That text has a markup problem: " + markup.escape(problems[0]))


def _plain_name(name: str, what: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise Refusal(f"Give the {what} a name.")
    if "{" in name or "}" in name:
        raise Refusal("Names are plain text: no braces, please.")
    if len(name) > MAX_NAME:
        raise Refusal(f"That name is too long (at most {MAX_NAME} characters).")
    return name


# -- looking ----------


def look(ctx: Context, args: str) -> None:
    world = ctx.world
    room = ctx.room
    args = args.strip()
    if args.lower().startswith("at "):
        args = args[3:].strip()
    if not args or args.lower() in ("here", "around", "room"):
        ctx.tell(world.describe_room(room, ctx.player))
        return
    if args.lower() in ("me", "self", "myself"):
        ctx.tell(_describe_player(ctx.player, viewer=ctx.player))
        return
    target = _find_target(ctx, args)
    if isinstance(target, Exit):
        destination = world.rooms.get(target.destination)
        text = (
            target.description
            or f"The way {target.name} leads to {destination.name if destination else 'nowhere'}."
        )
        ctx.tell(text)
        return
    if isinstance(target, Player):
        ctx.tell(_describe_player(target, viewer=ctx.player))
        if target is not ctx.player:
            ctx.emit(Event(room, None, target=target, to_target=f"{ctx.player.name} looks at you."))
        return
    description = target.description or f"You see nothing special about {target.the()}."
    ctx.tell(description)


def _describe_player(player: Player, *, viewer: Player) -> str:
    you = player is viewer
    lines = [
        player.description
        or (
            "You look like a perfectly ordinary adventurer."
            if you
            else f"{player.name} looks like a perfectly ordinary adventurer."
        )
    ]
    if player.inventory:
        carried = name_list([i.a() for i in player.inventory])
        lines.append(
            f"You are carrying {carried}." if you else f"{player.name} is carrying {carried}."
        )
    return "\n".join(lines)


# -- moving ----------


def go(ctx: Context, args: str) -> None:
    args = args.strip().lower()
    if not args:
        raise Refusal("Go where?")
    room = ctx.room
    way = _find_exit(room, args)
    if way is None:
        direction = expand_direction(args)
        way = ctx.find(
            args,
            room.exits.values(),
            nothing=f"You can't go {markup.escape(direction)} from here.",
        )
    destination = ctx.world.rooms.get(way.destination)
    if destination is None:
        raise Refusal(f"The way {way.name} leads nowhere at the moment.")
    player = ctx.player
    leave, arrive = travel_messages(player.name, way, room)
    ctx.world.move_player(player, destination, ctx.buffer, leave=leave, arrive=arrive)


# -- talking ----------


def say(ctx: Context, args: str) -> None:
    if not args:
        raise Refusal("Say what?")
    text = markup.escape(args[:MAX_SAY])
    ctx.act(f'{ctx.player.name} says, "{text}"', f'You say, "{text}"')


def emote(ctx: Context, args: str) -> None:
    if not args:
        raise Refusal("Emote what? For example: emote waves.")
    text = markup.escape(args[:MAX_SAY].rstrip())
    sep = "" if text[0] in "',." else " "
    # The help promises "Alice waves.": a sentence ends in punctuation.
    if not text.endswith(_SENTENCE_ENDS):
        text += "."
    ctx.emit(Event(ctx.room, f"{ctx.player.name}{sep}{text}"))


#: What may end an emote as typed; anything else gets a full stop.
_SENTENCE_ENDS = tuple(".!?…\"')]*~-:;")


def tell(ctx: Context, args: str) -> None:
    name, _, text = args.strip().partition(" ")
    if not name or not text.strip():
        raise Refusal("Tell whom what? For example: tell bob hello.")
    target = _connected(ctx, name)
    if target is ctx.player:
        raise Refusal("You talk to yourself for a while.")
    text = markup.escape(text.strip()[:MAX_SAY])
    ctx.tell(f'You tell {target.name}, "{text}"')
    ctx.buffer.tell(target, f'{{magenta}}{ctx.player.name} tells you,{{/}} "{text}"')


def _connected(ctx: Context, name: str) -> Player:
    """The one connected player ``name`` is or starts; :class:`Refusal` if none or several."""
    matches = ctx.world.find_online(name)
    if not matches:
        raise Refusal(f"No one called '{markup.escape(name)}' is connected.")
    if len(matches) > 1 or name.lower() in ctx.choices:
        example = ctx.example(name, matches[-1].name)
        return _choose(ctx, name.lower(), matches, [p.name for p in matches], example)
    return matches[0]


def who(ctx: Context, args: str) -> None:
    args = args.strip().lower()
    if not args:
        ctx.tell(ctx.world.who_text(ctx.player))
        return
    matches = ctx.world.find_online(args)
    if not matches:
        ctx.tell(f"No one whose name starts with '{markup.escape(args)}' is connected.")
        return
    ctx.tell(
        f"{{bold}}Connected, matching '{markup.escape(args)}':{{/}} "
        + ", ".join(p.name for p in matches[:60])
    )


# -- things ----------


def inventory(ctx: Context, args: str) -> None:
    carried = ctx.player.inventory
    if not carried:
        ctx.tell("You are empty-handed.")
    else:
        ctx.tell(f"You are carrying {name_list([i.a() for i in carried])}.")


def get(ctx: Context, args: str) -> None:
    room = ctx.room
    player = ctx.player
    if not args.strip():
        raise Refusal("Get what?")
    if args.strip().lower() == "all":
        portable = [t for t in room.contents if isinstance(t, Item) and not t.fixed]
        if not portable:
            raise Refusal("There is nothing here you can take.")
        room_for = MAX_CARRIED - len(player.inventory)
        if room_for <= 0:
            raise Refusal("You can't carry any more.")
        taken = portable[:room_for]
    else:
        thing = ctx.find(args, _visible(ctx))
        if isinstance(thing, Player):
            raise Refusal(
                "You can't pick yourself up."
                if thing is player
                else f"{thing.name} would not like that."
            )
        if isinstance(thing, Npc):
            raise Refusal(f"{thing.The()} won't let you pick it up.")
        if thing.location is player:
            raise Refusal(f"You already have {thing.the()}.")
        if isinstance(thing, Item) and thing.fixed:
            raise Refusal(f"{thing.The()} is fixed in place.")
        if len(player.inventory) >= MAX_CARRIED:
            raise Refusal("You can't carry any more.")
        taken = [thing]
    for item in taken:
        ctx.world.move_item(item, player)
    names = name_list([i.the() for i in taken])
    ctx.act(f"{player.name} picks up {names}.", f"You pick up {names}.")


def drop(ctx: Context, args: str) -> None:
    room = ctx.room
    player = ctx.player
    if not args.strip():
        raise Refusal("Drop what?")
    if args.strip().lower() == "all":
        if not player.inventory:
            raise Refusal("You are not carrying anything.")
        dropped = list(player.inventory)
    else:
        thing = ctx.find(
            args,
            player.inventory,
            nothing=f"You aren't carrying '{markup.escape(args.strip())}'.",
        )
        dropped = [thing]
    for item in dropped:
        ctx.world.move_item(item, room)
    names = name_list([i.the() for i in dropped])
    ctx.act(f"{player.name} drops {names}.", f"You drop {names}.")


_GIVE = re.compile(r"(.+?)\s+to\s+(.+)\Z", re.IGNORECASE)


def give(ctx: Context, args: str) -> None:
    m = _GIVE.match(args.strip())
    if not m:
        raise Refusal("Give what to whom? For example: give lamp to bob.")
    room = ctx.room
    player = ctx.player
    item = ctx.find(
        m.group(1),
        player.inventory,
        nothing=f"You aren't carrying '{markup.escape(m.group(1))}'.",
    )
    target = ctx.find(
        m.group(2), [*room.players, *(t for t in room.contents if isinstance(t, Npc))]
    )
    if target is player:
        raise Refusal(f"You already have {item.the()}.")
    if isinstance(target, Npc):
        raise Refusal(f"{target.The()} is not interested in {item.the()}.")
    if len(target.inventory) >= MAX_CARRIED:
        raise Refusal(f"{target.name} can't carry any more.")
    ctx.world.move_item(item, target)
    ctx.emit(
        Event(
            room,
            f"{player.name} gives {target.name} {item.the()}.",
            actor=player,
            to_actor=f"You give {item.the()} to {target.name}.",
            target=target,
            to_target=f"{player.name} gives you {item.the()}.",
        )
    )


# -- the session ----------


def quit_(ctx: Context, args: str) -> None:
    world = ctx.world
    player = ctx.player
    ctx.after.append(lambda: world.logout(player, "Goodbye! Come back soon."))


_SETTINGS = {
    "color": ("auto", "on", "off"),
    "brief": ("off", "on"),
    # Whether others see your room: on the website and in 'who' (admins always do).
    "where": ("hidden", "visible"),
}


def set_(ctx: Context, args: str) -> None:
    player = ctx.player
    key, _, value = args.strip().lower().partition(" ")
    value = value.strip()
    if key == "colour":
        key = "color"
    if not key:
        width = player.settings.get("width", "auto")
        lines = ["{bold}Your settings:{/}"]
        for name, choices in _SETTINGS.items():
            lines.append(f"  {name}: {player.settings.get(name, choices[0])}")
        lines.append(f"  width: {width}")
        lines.append("Change one with: set <name> <value>  (e.g. set color off, set width 100)")
        ctx.tell("\n".join(lines))
        return
    if key == "width":
        if value == "auto":
            new: Any = "auto"
        elif value.isdigit() and 20 <= int(value) <= 250:
            new = int(value)
        else:
            raise Refusal("Width is 'auto' or a number from 20 to 250.")
    elif key in _SETTINGS:
        if value not in _SETTINGS[key]:
            raise Refusal(f"{key} is one of: {', '.join(_SETTINGS[key])}.")
        new = value
    else:
        raise Refusal(
            f"There is no setting '{markup.escape(key)}'. Settings: color, brief, where, width."
        )
    player.settings[key] = new
    ctx.world.mark_dirty(player)
    if key == "where":
        # The website's pages that show (or hide) the room render again.
        ctx.world.changed("player", player.key)
        ctx.tell(
            "where is now visible: your room shows on the website and in 'who'."
            if new == "visible"
            else "where is now hidden: only admins see which room you are in."
        )
        return
    ctx.tell(f"{key} is now {new}.")


# -- homepages ----------


def homepage(ctx: Context, args: str) -> None:
    world = ctx.world
    player = ctx.player
    args = args.strip()
    if not args:
        url = world.homepage_url(player)
        lines = [f"Your homepage: {url}" if url else "Your homepage (the website is not running)."]
        if player.homepage:
            lines.append("{dim}--- its text ---{/}")
            lines.append(markup.escape(player.homepage))
            lines.append("{dim}---{/}")
        else:
            lines.append("It is empty. Write it with 'homepage <markdown>' or 'homepage edit'.")
        ctx.tell("\n".join(lines))
        return
    if args.lower() == "edit":
        player.input_handler = HomepageEditor()
        ctx.tell(
            "Editing your homepage (Markdown). Type lines; a line with a single '.'"
            " saves, '.abort' cancels; '.list', '.replace N text', '.delete N' and"
            " '.preview' help on the way ('.help' for more)."
        )
        return
    _save_homepage(ctx, args)


def _save_homepage(ctx: Context, text: str) -> None:
    if len(text) > MAX_HOMEPAGE:
        raise Refusal(f"That is too long for a homepage (at most {MAX_HOMEPAGE} characters).")
    ctx.world.set_homepage(ctx.player, text)
    url = ctx.world.homepage_url(ctx.player)
    ctx.tell("Homepage saved." + (f" See it at {url}" if url else ""))


class HomepageEditor:
    """Multi-line input for ``homepage edit``: lines until a lone ``.``.

    Lines starting with ``.`` are editor commands (``.list``, ``.replace N
    text``, ``.delete N``, ``.preview``, ``.abort``, ``.help``); every
    other line is added to the page. ``..text`` adds a line ``.text``.
    """

    __slots__ = ("lines", "size")

    prompt = "homepage> "

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.size = 0

    def __call__(self, ctx: Context, line: str) -> None:
        player = ctx.player
        stripped = line.rstrip("\r\n")
        command = stripped.strip()
        if command == ".":
            player.input_handler = None
            _save_homepage(ctx, "\n".join(self.lines).strip("\n"))
            return
        if command.startswith("..") or not command.startswith("."):
            self._add(ctx, stripped[1:] if command.startswith("..") else stripped)
            return
        word, _, rest = command.partition(" ")
        word = word.lower()
        if word == ".abort":
            player.input_handler = None
            ctx.tell("Homepage edit cancelled; nothing was changed.")
        elif word == ".list":
            ctx.tell(self._listing())
        elif word == ".preview":
            text = "\n".join(self.lines).strip("\n")
            ctx.tell(
                "{dim}--- your homepage as it will be saved"
                f" ({plural(len(text), 'character')} of {MAX_HOMEPAGE}) ---{{/}}\n"
                + (markup.escape(text) if text else "(empty)")
                + "\n{dim}--- not saved yet: '.' saves, '.abort' cancels ---{/}"
            )
        elif word == ".delete":
            number = self._line_number(rest)
            del self.lines[number - 1]
            self._resize()
            ctx.tell(f"Line {number} deleted; {plural(len(self.lines), 'line')} left.")
        elif word == ".replace":
            number_text, _, text = rest.partition(" ")
            number = self._line_number(number_text)
            old = self.lines[number - 1]
            self.lines[number - 1] = text
            if self._resize() > MAX_HOMEPAGE:
                self.lines[number - 1] = old
                self._resize()
                raise Refusal(
                    f"That would make the page too long (at most {MAX_HOMEPAGE} characters)."
                )
            ctx.tell(f"Line {number} is now: {markup.escape(text)}")
        else:
            ctx.tell(EDITOR_HELP)

    def _add(self, ctx: Context, text: str) -> None:
        self.size += len(text) + 1
        if self.size > MAX_HOMEPAGE:
            ctx.player.input_handler = None
            raise Refusal(
                f"That is too long for a homepage (at most {MAX_HOMEPAGE} characters);"
                " the edit was cancelled."
            )
        self.lines.append(text)

    def _resize(self) -> int:
        self.size = sum(len(line) + 1 for line in self.lines)
        return self.size

    def _line_number(self, text: str) -> int:
        count = len(self.lines)
        if not count:
            raise Refusal("There are no lines yet.")
        if not text.isdigit() or not 1 <= int(text) <= count:
            raise Refusal(f"Give a line number from 1 to {count} ('.list' shows them).")
        return int(text)

    def _listing(self) -> str:
        if not self.lines:
            return "No lines yet."
        width = len(str(len(self.lines)))
        return "\n".join(
            f"{{dim}}{n:>{width}}{{/}} {markup.escape(line)}"
            for n, line in enumerate(self.lines, 1)
        )


EDITOR_HELP = (
    "{bold}The homepage editor{/}: every line you type is added to the page. Commands:\n"
    ".list              show the lines so far, numbered\n"
    ".replace N text    put 'text' in place of line N\n"
    ".delete N          remove line N\n"
    ".preview           show the page as it will be saved\n"
    ".                  save and leave the editor\n"
    ".abort             leave without changing anything\n"
    "..text             a line that starts with '.'\n"
    "TinTin++ keeps lines starting with '#' or '!' for itself and splits lines at ';':"
    " type \\# Title for a heading '# Title' and \\; for a ';'"
    " (or switch '#verbatim' on while you write)."
)


# -- help ----------

TOPICS: dict[str, str] = {
    "movement": (
        "{bold}Moving around{/}\n"
        "Type an exit's name (north, door...) or 'go <exit>'. Short forms: n s e w ne nw se sw"
        " u d. 'look' shows where you are and the ways out."
    ),
    "colour": (
        "{bold}Colour{/}\n"
        # This text is markup itself: "{{" shows one "{", a "}" needs no escape.
        "World text uses tags like {{red}...{{/}: colour names (red, bright_blue, grey...),"
        " #rrggbb, on_<colour> for backgrounds, and bold, dim, italic, underline, reverse."
        " Write '{{{{' for a literal '{{' (a '}' alone needs no escaping)."
        " 'set color off' turns colour off for you."
    ),
    "homepage": (
        "{bold}Your homepage{/}\n"
        "homepage            show your page's address and text\n"
        "homepage <markdown> replace it with one line of Markdown\n"
        "homepage edit       write several lines; a lone '.' saves, '.abort' cancels\n"
        "In the editor: .list shows the lines numbered, .replace N text changes line N,"
        " .delete N removes it, .preview shows the page before you save.\n"
        "TinTin++ keeps lines starting with '#' or '!' for itself and splits lines at ';':"
        " type \\# Title to send '# Title' (a Markdown heading) and \\; for a ';',"
        " or switch '#verbatim' on while you write."
    ),
}
TOPICS["color"] = TOPICS["colour"]


def help_(ctx: Context, args: str) -> None:
    registry = ctx.world.verbs
    topic = args.strip().lower()
    admin = ctx.player.admin
    if not topic:
        by_category: dict[str, list[str]] = {}
        for verb in registry.all():
            if verb.admin and not admin:
                continue
            by_category.setdefault(verb.category, []).append(verb.name)
        lines = ["{bold}Commands{/} (type 'help <command>' for more):"]
        for category in sorted(by_category, key=lambda c: (c != "general", c)):
            lines.append(f"  {{green}}{category}:{{/}} {', '.join(sorted(by_category[category]))}")
        lines.append("Topics: " + ", ".join(sorted(k for k in TOPICS if k != "color")) + ".")
        ctx.tell("\n".join(lines))
        return
    if topic in TOPICS:
        ctx.tell(TOPICS[topic])
        return
    verb = (
        registry.lookup(topic)
        or registry.lookup(topic.lstrip("@"))
        or (registry.lookup("@" + topic) if admin else None)
    )
    if verb is None or (verb.admin and not admin):
        raise Refusal(f"There is no help on '{markup.escape(topic)}'. Type 'help' for the list.")
    aliases = f" (also: {', '.join(verb.aliases)})" if verb.aliases else ""
    ctx.tell(f"{{bold}}{markup.escape(verb.usage)}{{/}}{aliases}\n{verb.help}")


# -- admin verbs ----------


def _audit(ctx: Context, event: str, **fields: object) -> None:
    """One line on the audit log for an admin action by ``ctx.player``."""
    # A gateway's session may carry its peer's host as ``peer_host`` (telnet's does).
    address = getattr(ctx.player.session, "peer_host", None)
    audit(event, who=ctx.player.name, address=address, **fields)


def _new_id(world: WorldView, name: str) -> str:
    slug = "-".join(re.sub(r"[^a-z0-9 ]", "", name.lower()).split())[:40] or "thing"
    base = "@" + slug
    taken = set(world.rooms) | set(world.items) | set(world.npcs)
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def dig(ctx: Context, args: str) -> None:
    world = ctx.world
    room = ctx.room
    way, _, name = args.strip().partition(" ")
    way = expand_direction(way.lower())
    if not way or not name.strip():
        raise Refusal("Usage: @dig <exit> <room name>, e.g. @dig north The Tower")
    if not EXIT_PATTERN.match(way):
        raise Refusal("An exit name is a word in lower-case letters.")
    if way in room.exits:
        raise Refusal(f"There is already a way {way} here.")
    name = _plain_name(name, "room")
    back = OPPOSITES.get(way, "back")
    new_id = _new_id(world, name)
    new_room = Room(new_id, name, "")
    world.store.add_built_room(
        BuiltRoom(new_id, name, "", False, ctx.player.key),
        [BuiltExit(room.id, way, new_id), BuiltExit(new_id, back, room.id)],
        now=world.wall(),
    )
    world.rooms[new_id] = new_room
    room.add_exit(Exit(way, new_id))
    new_room.add_exit(Exit(back, room.id))
    world.changed("world", None)
    ctx.act(
        f"{ctx.player.name} gestures, and a way {way} opens.",
        f"You dig {way} to {name} ({new_id}); the way back is '{back}'.",
    )
    for other in room.players:
        world.send_room_info(other)
    _audit(ctx, "admin.dig", target=new_id, exit=way, room=room.id)


def create(ctx: Context, args: str) -> None:
    world = ctx.world
    player = ctx.player
    name = _plain_name(args, "item")
    if len(player.inventory) >= MAX_CARRIED:
        raise Refusal("You can't carry any more.")
    new_id = _new_id(world, name)
    item = Item(new_id, name, "")
    world.store.add_built_item(
        BuiltItem(new_id, name, "", player.key), kind="player", place=player.key, now=world.wall()
    )
    world.items[new_id] = item
    item.location = player
    player.inventory.append(item)
    ctx.act(
        f"{player.name} makes {item.a()} out of thin air.",
        f"You create {item.a()} ({new_id}). It is in your hands.",
    )
    _audit(ctx, "admin.create", target=new_id, name=name)


def describe(ctx: Context, args: str) -> None:
    world = ctx.world
    target_name, sep, text = args.partition("=")
    target_name, text = target_name.strip(), text.strip()
    if not sep or not target_name:
        raise Refusal("Usage: @describe <target> = <text>  (target: here, me, or a name)")
    if len(text) > MAX_DESCRIPTION:
        raise Refusal(f"That description is too long (at most {MAX_DESCRIPTION} characters).")
    _check_markup(text)
    room = ctx.room
    lowered = target_name.lower()
    if lowered in ("here", "room"):
        target: Any = room
    elif lowered in ("me", "self"):
        target = ctx.player
    else:
        target = _find_target(ctx, target_name)
    if isinstance(target, Player):
        world.store.set_player_description(target.key, text or None)
        target.description = text
        label = target.name
    elif isinstance(target, Exit):
        world.store.set_description("exit", f"{room.id}/{target.name}", text)
        target.description = text
        label = f"the way {target.name}"
    else:
        world.store.set_description(target.kind, target.id, text)
        target.description = text
        label = target.the()
    world.changed("world", None)
    _audit(ctx, "admin.describe", target=_audit_target(target, room))
    ctx.tell(f"You describe {label}.")


def _audit_target(target: Any, room: Room) -> str:
    """What an admin verb acted on, for the audit log: a kind and an id."""
    if isinstance(target, Player):
        return f"player:{target.key}"
    if isinstance(target, Exit):
        return f"exit:{room.id}/{target.name}"
    return f"{target.kind}:{target.id}"


def teleport(ctx: Context, args: str) -> None:
    world = ctx.world
    who_part, sep, where = args.partition("=")
    if sep:
        traveller = _connected(ctx, who_part.strip())
        destination = _find_room(ctx, where.strip())
    else:
        traveller = ctx.player
        query = args.strip()
        if not query:
            raise Refusal("Usage: @teleport <player or room>  or  @teleport <player> = <room>")
        people = world.find_online(query)
        if len(people) == 1:
            destination = people[0].location
        else:
            destination = _find_room(ctx, query)
    if destination is None:
        raise Refusal("That place is nowhere.")
    if destination is traveller.location:
        raise Refusal(
            "You are already there."
            if traveller is ctx.player
            else f"{traveller.name} is already there."
        )
    if traveller is ctx.player:
        leave = f"{traveller.name} vanishes in a puff of smoke."
        arrive = f"{traveller.name} appears in a puff of smoke."
    else:
        ctx.tell(f"You send {traveller.name} to {destination.name}.")
        ctx.buffer.tell(traveller, f"{ctx.player.name} sends you elsewhere.")
        leave = f"{traveller.name} vanishes."
        arrive = f"{traveller.name} appears out of nowhere."
    world.move_player(traveller, destination, ctx.buffer, leave=leave, arrive=arrive)
    _audit(ctx, "admin.teleport", target=traveller.name, to=destination.id)


def _find_room(ctx: Context, query: str) -> Room:
    world = ctx.world
    if query in world.rooms:
        return world.rooms[query]
    return ctx.find(
        query, world.rooms.values(), nothing=f"There is no room called '{markup.escape(query)}'."
    )


#: Error lines of a bad world file shown to the admin (the rest are counted).
MAX_LOAD_ERRORS_SHOWN = 10


def load_(ctx: Context, args: str) -> None:
    """``@load FILE``: read a world file off the loop, then swap it in atomically.

    The file is asked for through ``world.load_file`` (a worker process on
    a server), so the verb returns at once with "Reading ..."; the answer
    reaches the admin when the file has been read, parsed and applied.
    One load at a time.
    """
    path = args.strip()
    if not path:
        raise Refusal("Usage: @load <world file>")
    world = ctx.world
    if world.loading is not None:
        raise Refusal(
            f"Still reading {markup.escape(excerpt(world.loading, 80))}; wait for it to finish."
        )
    player = ctx.player
    world.loading = path
    ctx.tell(f"Reading {markup.escape(excerpt(path, 80))} ...")
    # Asked after "Reading" is delivered, so that an answer given at once
    # (the inline hook) comes after it.
    ctx.after.append(lambda: _ask_for_world_file(world, player, path))


def _ask_for_world_file(world: WorldView, player: Player, path: str) -> None:
    answered = False

    def done(result: WorldDefinition | Exception) -> None:
        nonlocal answered
        if answered:
            return
        answered = True
        world.loading = None
        try:
            text = _apply_world_file(world, path, result)
            if isinstance(result, WorldFileError):
                outcome = f"refused: {len(result.errors) + result.more} errors"
            elif isinstance(result, Exception):
                outcome = f"refused: {type(result).__name__}"
            else:
                outcome = "loaded"
        except Exception:
            log.exception("applying world file %r failed", path[:200])
            text = "{red}Something went wrong while loading the world.{/} It has been logged."
            outcome = "failed"
        audit("admin.load", who=player.name, address=getattr(player.session, "peer_host", None),
              target=path, result=outcome)
        if world.online.get(player.key) is player:
            player.show(text)

    try:
        world.load_file(path, done)
    except Exception as exc:  # a broken hook must not leave @load stuck
        log.exception("the load_file hook failed for %r", path[:200])
        done(exc)


def _apply_world_file(world: WorldView, path: str, result: WorldDefinition | Exception) -> str:
    """Apply a definition (or report why not); the text for the admin."""
    shown = markup.escape(excerpt(path, 80))
    if isinstance(result, WorldFileRefused):
        lines = ["{red}Not loaded; nothing was changed:{/}"]
        lines.extend(markup.escape(line) for line in result.lines(MAX_LOAD_ERRORS_SHOWN))
        return "\n".join(lines)
    if isinstance(result, WorldFileError):
        lines = ["{red}The world file has errors; nothing was changed:{/}"]
        lines.extend(markup.escape(line) for line in result.lines(MAX_LOAD_ERRORS_SHOWN))
        return "\n".join(lines)
    if isinstance(result, Exception):
        reason = markup.escape(excerpt(str(result) or type(result).__name__, 200))
        return f"{{red}}Could not load {shown}: {reason}; nothing was changed.{{/}}"
    world.load(result)
    return (
        f"Loaded '{markup.escape(result.name)}' from {shown}:"
        f" {plural(len(result.rooms), 'room')}, {plural(len(result.items), 'item')},"
        f" {plural(len(result.npcs), 'NPC')}."
    )


def kick(ctx: Context, args: str) -> None:
    name, _, reason = args.strip().partition(" ")
    if not name:
        raise Refusal("Usage: @kick <player> [reason]")
    victim = _connected(ctx, name)
    if victim is ctx.player:
        raise Refusal("Use 'quit' to leave.")
    message = f"You have been kicked out by {ctx.player.name}."
    if reason.strip():
        message += f" Reason: {reason.strip()}"
    ctx.tell(f"You kick {victim.name} out.")
    world = ctx.world
    ctx.after.append(lambda: world.logout(victim, message))
    _audit(ctx, "admin.kick", target=victim.name, reason=reason.strip() or None)


def shutdown(ctx: Context, args: str) -> None:
    world = ctx.world
    if world.on_shutdown is None:
        raise Refusal("This server has no shutdown hook; stop it from outside.")
    message = args.strip() or "The server is shutting down."
    hook = world.on_shutdown
    ctx.tell("Shutting down.")
    _audit(ctx, "admin.shutdown", reason=message)
    ctx.after.append(lambda: hook(message))


# -- the registry ----------


def _register_defaults(registry: VerbRegistry) -> None:
    r = registry.register
    r(
        "look",
        look,
        aliases=["l", "examine", "x"],
        usage="look [thing]",
        help="Look around, or at a thing, person or exit.",
    )
    r(
        "go",
        go,
        usage="go <exit>",
        help="Go through an exit. Typing the exit's name (north, n, door...) does the same.",
    )
    r("say", say, usage="say <text>", help="Say something to everyone here. Short form: 'text")
    r(
        "emote",
        emote,
        aliases=["pose", "me"],
        usage="emote <action>",
        help="Act something out: 'emote waves' shows 'Alice waves.' Short form: :waves",
    )
    r(
        "tell",
        tell,
        aliases=["whisper", "page"],
        usage="tell <player> <text>",
        help="Say something privately to a connected player, wherever they are.",
    )
    r("who", who, usage="who [name]", help="List the connected players.")
    r(
        "inventory",
        inventory,
        aliases=["i", "inv"],
        usage="inventory",
        help="List what you are carrying.",
    )
    r("get", get, aliases=["take"], usage="get <item> | get all", help="Pick something up.")
    r("drop", drop, usage="drop <item> | drop all", help="Put down something you carry.")
    r(
        "give",
        give,
        usage="give <item> to <player>",
        help="Hand something you carry to someone here.",
    )
    r("help", help_, aliases=["?"], usage="help [topic]", help="List commands, or explain one.")
    r("quit", quit_, usage="quit", help="Leave the game (you keep your place and things).")
    r(
        "set",
        set_,
        usage="set [setting value]",
        help=(
            "Show or change your settings: color auto|on|off, brief on|off, width auto|20-250,"
            " where hidden|visible (whether the website and 'who' show your room;"
            " hidden by default, admins always see it)."
        ),
    )
    r(
        "homepage",
        homepage,
        usage="homepage [edit | <markdown>]",
        help=TOPICS["homepage"],
        category="web",
    )
    r(
        "@dig",
        dig,
        admin=True,
        usage="@dig <exit> <room name>",
        category="admin",
        help="Make a new room through a new exit here, with a way back.",
    )
    r(
        "@create",
        create,
        admin=True,
        usage="@create <item name>",
        category="admin",
        help="Make a new item; it appears in your hands.",
    )
    r(
        "@describe",
        describe,
        admin=True,
        usage="@describe <target> = <text>",
        category="admin",
        help="Set the description of here, me, or a thing, person or exit. Colour markup allowed.",
    )
    r(
        "@teleport",
        teleport,
        aliases=["@tel"],
        admin=True,
        category="admin",
        usage="@teleport <player or room> | @teleport <player> = <room>",
        help="Go to a player or room, or send a player to a room.",
    )
    r(
        "@load",
        load_,
        admin=True,
        usage="@load <world file>",
        category="admin",
        help="Load a world file (a path under the server's world directory) into the"
        " running world. A bad file changes nothing.",
    )
    r(
        "@kick",
        kick,
        admin=True,
        usage="@kick <player> [reason]",
        category="admin",
        help="Disconnect a player.",
    )
    r(
        "@shutdown",
        shutdown,
        admin=True,
        usage="@shutdown [message]",
        category="admin",
        help="Save everything and stop the server, telling everyone the message.",
    )


_register_defaults(VERBS)


def default_registry() -> VerbRegistry:
    """A fresh registry holding only the built-in verbs (for tests and embedding)."""
    registry = VerbRegistry()
    _register_defaults(registry)
    return registry
