"""The command parser, the verb registry and what a verb handler works with.

A line of input is read like this:

1. ``'text`` and ``"text`` are ``say text``; ``:text`` is ``emote text``.
2. The first word, lower-cased, is looked up as a verb name or alias
   (``look``, ``l``, ``get``, ``@dig``...).
3. Otherwise it is tried as an exit of the room (``north``, ``n``, ``door``).
4. Otherwise it is offered to the registry's *word sources* (e.g. the
   world's channels: ``chat hello``), which answer for words of their own.
5. Otherwise as the unambiguous start of a verb (``inv`` for ``inventory``).
6. Otherwise the player is told the word is not understood.

A verb handler is ``handler(ctx: Context, args: str) -> None``. It refuses
by raising :class:`Refusal` with a sentence that says why not ("You can't
take Bob."); the world shows that sentence and nothing else happens. It
reports by ``ctx.tell(text)``, ``ctx.act(to_others, to_actor)`` and
``ctx.emit(Event(...))``; those are delivered only when the handler
returns normally.

The world owns its verbs. Each command is looked up in sets merged in
order, the nearest first: verbs given by the things the player carries,
then by things in the room, then by the room itself (a behaviour's
``@verb`` methods, see :mod:`reality.game.behaviours`), then the world's
playing set ``world.verbs`` (a :class:`VerbRegistry`). While a
multi-line mode is on (``player.input_handler``, e.g. the homepage
editor) that mode's own commands come before all of them. Last come the
registry's :class:`WordSource` s (``VerbRegistry.sources``): words that
are not verbs of the game but name something the player can speak to, like
a channel; a source never hides a game verb or an exit, which are looked
up first. A service adds
its verbs to the world it serves, never on import::

    def mail(ctx: Context, args: str) -> None:
        ctx.tell("You have no mail.")

    world.verbs.register("mail", mail, help="mail: list your letters ...", category="mail")

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
from reality.game.help import HelpIndex
from reality.game.loader import (
    WorldDefinition,
)
from reality.game.store import Store
from reality.game.things import (
    ABBREVIATIONS,
    EXACT,
    NO_MATCH,
    OPPOSITES,
    Door,
    Exit,
    Item,
    Npc,
    Player,
    Refusal,
    Room,
    Thing,
    capitalize,
    expand_direction,
    name_list,
)

log = logging.getLogger(__name__)

__all__ = [
    "Context",
    "Refusal",
    "Ambiguous",
    "Verb",
    "VerbRegistry",
    "WordSource",
    "WorldView",
    "run",
]

MAX_CARRIED = 50
MAX_HOMEPAGE = 20_000
MAX_SAY = 2_000
MAX_DESCRIPTION = 4_000
MAX_NAME = 60


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
    #: ``handler(ctx, args)``: ``ctx`` is a :class:`Context` in the playing
    #: set, the connection (a ``LoginPort``) in the login set.
    handler: Callable[[Any, str], None]
    aliases: tuple[str, ...] = ()
    admin: bool = False
    help: str = ""
    usage: str = ""
    category: str = "general"


class WordSource(Protocol):
    """Words a player may start a command with that are not verbs: a channel's name.

    Asked only after the game's verbs and the room's exits have not matched
    (so it can never hide them), in the order of ``VerbRegistry.sources``.
    """

    def verb_for(self, player: Player, word: str) -> Callable[[Context, str], None] | None:
        """The handler for ``word`` (lower case) typed by ``player``, or None."""
        ...

    def words(self, player: Player) -> Sequence[str]:
        """The words ``player`` may use now (for a client's completion: ``Client.Verbs``)."""
        ...


class VerbRegistry:
    """Verbs by name and alias."""

    def __init__(self) -> None:
        self._verbs: dict[str, Verb] = {}
        self._words: dict[str, Verb] = {}
        #: Words beyond the verbs (a channel's name), asked after verbs and exits.
        self.sources: list[WordSource] = []
        #: Help topics from code beyond the verbs: ``{topic: markup text}``
        #: (:class:`reality.game.help.HelpIndex` lists them; a world file's
        #: topics are in its ``help:`` section, not here).
        #: (A value may also be a ``HelpTopic``, for its category and title.)
        self.topics: dict[str, Any] = {}
        #: Counts changes, so the help index knows when to read the verbs again.
        self.version = 0

    def register(
        self,
        name: str,
        handler: Callable[[Any, str], None],
        *,
        aliases: Sequence[str] = (),
        admin: bool = False,
        help: str = "",
        usage: str = "",
        category: str = "general",
    ) -> Verb:
        """Add (or replace) a verb; returns it.

        ``help`` is the verb's help text (markup), ``usage`` how to type it
        (shown as the heading of ``help <verb>``), ``category`` where
        ``help`` lists it: this is the one place a verb's help lives.
        """
        self.version += 1
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
    doors: dict[str, Door]
    online: dict[str, Player]
    loading: str | None
    load_file: Callable[[str, Callable[[WorldDefinition | Exception], None]], None]
    on_shutdown: Callable[[str], None] | None
    wall: Callable[[], float]

    @property
    def help(self) -> HelpIndex: ...

    def load(self, definition: WorldDefinition) -> None: ...

    def logout(self, player: Player, message: str) -> None: ...

    def move(
        self,
        thing: Thing,
        to: Room | Player | Item | Npc | None,
        *,
        actor: Thing | None = None,
        buffer: EventBuffer | None = None,
        action: str = "move",
        via: Exit | None = None,
        leave: str | None = None,
        arrive: str | None = None,
        check: bool = True,
    ) -> None: ...

    def walk(self, mover: Player | Npc, way: Exit, buffer: EventBuffer) -> None: ...

    def set_state(
        self, thing: Door | Item, actor: Thing | None, action: str, buffer: EventBuffer
    ) -> None: ...

    def heard(self, room: Room, speaker: Thing, text: str, buffer: EventBuffer) -> None: ...

    def used(self, thing: Thing, actor: Thing, verb: str, buffer: EventBuffer) -> None: ...

    def door_rooms(self, door: Door) -> list[Room]: ...

    def send_room_info(self, player: Player) -> None: ...

    def room_number(self, room: Room | str) -> int: ...

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
    # The nearer set first: verbs given by things carried, things here, the room.
    offer = _contributed(ctx, word, rest)
    if offer is not None:
        owner, handler = offer
        handler(ctx, rest)
        # Every behaviour of the thing hears it was used (a bell's counter).
        ctx.world.used(owner, ctx.player, word, ctx.buffer)
        return
    registry = ctx.world.verbs
    verb = registry.lookup(word)
    if verb is not None:
        return _dispatch(ctx, verb, rest)
    # Exit names may have several words ("red door").
    way = _find_exit(ctx.room, " ".join(line.lower().split()))
    if way is not None:
        return go(ctx, way.name)
    for source in registry.sources:
        spoken = source.verb_for(ctx.player, word)
        if spoken is not None:
            return spoken(ctx, rest)
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


def offered_verbs(ctx: Context) -> list[tuple[str, Thing, Callable[[Context, str], None]]]:
    """``(word, owner, handler)`` for each verb the things near the player give.

    Carried things come first, then things in the room, then the room
    itself: the nearer offer wins (see :func:`_contributed`).
    """
    room = ctx.player.location
    places: list[Thing] = list(ctx.player.inventory)
    if room is not None:
        places.extend(room.contents)
        places.append(room)
    offers = []
    for thing in places:
        for behaviour in thing.behaviours:
            for word, handler in behaviour.verb_handlers().items():
                offers.append((word, thing, handler))
    return offers


def offered_words(player: Player) -> list[str]:
    """The words of the verbs things near ``player`` give (for a client's completion)."""
    words: list[str] = []
    room = player.location
    for things in (player.inventory, room.contents if room is not None else (), (room,)):
        for thing in things:
            if thing is not None and thing.behaviours:
                for behaviour in thing.behaviours:
                    words.extend(behaviour.verb_handlers())
    return words


def _contributed(
    ctx: Context, word: str, rest: str
) -> tuple[Thing, Callable[[Context, str], None]] | None:
    """The thing and handler of a verb a nearby thing gives for ``word``, if one fits.

    With several offers, the thing the arguments name is chosen ("ring
    bell" with a bell and a gong here). When the arguments name none of
    them, the playing verb of that name wins if there is one ("say hello"
    beside a whistle that gives "say"); otherwise the nearest offer takes
    the arguments as its own ("wish for gold" at a fountain).
    """
    offers = [(t, h) for w, t, h in offered_verbs(ctx) if w == word]
    if not offers:
        return None
    if rest:
        query = normalize(rest)
        named = [(t, h) for t, h in offers if t.match(query) or t.match(query.split()[-1])]
        if named:
            return named[0]
        if ctx.world.verbs.lookup(word) is not None:
            return None
    return offers[0]


def _dispatch(ctx: Context, verb: Verb, args: str) -> None:
    if verb.admin:
        # Every admin verb, whoever typed it and whatever it then does: the
        # audit trail's "who tried what" (the verb's own event says what changed).
        address = getattr(ctx.player.session, "peer_host", None)
        allowed = bool(ctx.player.admin)
        audit("admin.command", who=ctx.player.name, address=address, verb=verb.name,
              args=args[:200] or None, allowed=None if allowed else "no")
        if not allowed:
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


def doors_of(room: Room) -> list[Door]:
    """The doors on a room's exits, each once."""
    found: list[Door] = []
    for way in room.exits.values():
        if way.door is not None and way.door not in found:
            found.append(way.door)
    return found


def _find_target(ctx: Context, query: str) -> Any:
    """A thing, person, door or exit here.

    An exit's short form (``sw``) names it as ``go`` would.
    """
    room = ctx.room
    # "sw" names the way southwest wherever an exit can be named, before
    # any "sword" could claim it as a prefix.
    way = _find_exit(room, normalize(query))
    if way is not None:
        return way
    return ctx.find(query, [*_visible(ctx), *doors_of(room), *room.exits.values()])


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


def _connected(ctx: Context, name: str) -> Player:
    """The one connected player ``name`` is or starts; :class:`Refusal` if none or several."""
    matches = ctx.world.find_online(name)
    if not matches:
        raise Refusal(f"No one called '{markup.escape(name)}' is connected.")
    if len(matches) > 1 or name.lower() in ctx.choices:
        example = ctx.example(name, matches[-1].name)
        return _choose(ctx, name.lower(), matches, [p.name for p in matches], example)
    return matches[0]


# -- moving (the parser's fallback for an exit's name) ----------


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
    ctx.world.walk(ctx.player, way, ctx.buffer)
