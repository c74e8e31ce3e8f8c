"""The things of the world: Thing, Room, Exit, Item, Npc, Player.

Plain classes with ``__slots__``: a crowded world holds thousands of them,
and the benchmark wants a connected player to cost well under 50 KiB.
They hold state and answer questions about themselves (names, articles,
name matching); what *happens* to them is in :mod:`reality.game.world`
and :mod:`reality.game.commands`.

Containment: a :class:`Room` holds its items and NPCs in ``contents`` and
its *connected* players in ``players`` (the list every event in the room
fans out to). A :class:`Player` holds items in ``inventory``. An item's
``location`` is the Room or Player that holds it; a player's ``location``
is a Room while connected and None otherwise (``room_id`` always says
where they are or were).

Names are plain text (no markup, no braces), so they can be put into
markup messages as they are. A name that starts with a capital letter is
proper ("Old Tom"): it takes no article.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

__all__ = [
    "ABBREVIATIONS",
    "EXACT",
    "Door",
    "OPPOSITES",
    "NO_MATCH",
    "PREFIX",
    "WORD_PREFIX",
    "Exit",
    "Item",
    "Npc",
    "Openable",
    "Player",
    "Refusal",
    "Room",
    "Session",
    "Thing",
    "capitalize",
    "expand_direction",
    "name_list",
    "plural",
    "travel_messages",
]

# How well a query matches a name, best last.
NO_MATCH = 0
WORD_PREFIX = 1  # "lamp" for "brass lamp", "br la" for "brass lamp"
PREFIX = 2  # "bra" for "brass lamp"
EXACT = 3  # "brass lamp", or an alias


#: Short forms of the compass and vertical directions.
ABBREVIATIONS: dict[str, str] = {
    "n": "north",
    "s": "south",
    "e": "east",
    "w": "west",
    "ne": "northeast",
    "nw": "northwest",
    "se": "southeast",
    "sw": "southwest",
    "u": "up",
    "d": "down",
}

#: Each direction and the way back.
OPPOSITES: dict[str, str] = {
    "north": "south",
    "south": "north",
    "east": "west",
    "west": "east",
    "northeast": "southwest",
    "southwest": "northeast",
    "northwest": "southeast",
    "southeast": "northwest",
    "up": "down",
    "down": "up",
    "in": "out",
    "out": "in",
}


class Refusal(Exception):
    """Something cannot be done; ``str()`` is the sentence telling the player why not.

    Verbs raise it ("You can't take Bob."), and so does the world's one move
    primitive when a thing involved vetoes a move ("The chest is closed.").
    The world shows the sentence and nothing else happens.
    """


def expand_direction(word: str) -> str:
    """``"n"`` -> ``"north"``; other words are returned unchanged."""
    return ABBREVIATIONS.get(word, word)


def capitalize(text: str) -> str:
    """The text with its first letter upper-cased (the rest untouched)."""
    return text[:1].upper() + text[1:] if text else text


def name_list(names: list[str], conjunction: str = "and") -> str:
    """``"a"``, ``"a and b"``, ``"a, b and c"`` (or ``"a, b or c"``)."""
    if len(names) <= 1:
        return "".join(names)
    return f"{', '.join(names[:-1])} {conjunction} {names[-1]}"


def plural(count: int, word: str, many: str | None = None) -> str:
    """``"1 letter"``, ``"2 letters"`` (``many`` for irregular plurals: ``"NPCs"``)."""
    if count == 1:
        return f"1 {word}"
    return f"{count} {many if many is not None else word + 's'}"


def _match_names(query: str, names: tuple[str, ...]) -> int:
    """How well ``query`` (lower case, single spaces) matches any of ``names``."""
    best = NO_MATCH
    for name in names:
        if query == name:
            return EXACT
        if name.startswith(query):
            best = PREFIX
        elif best < WORD_PREFIX:
            words = name.split()
            wanted = query.split()
            # Every query word must start some later word, in order.
            i = 0
            for word in words:
                if i < len(wanted) and word.startswith(wanted[i]):
                    i += 1
            if i == len(wanted):
                best = WORD_PREFIX
    return best


class Session(Protocol):
    """A connected person, as a gateway presents them to the world.

    A session may also carry ``peer_host`` (its peer's address), which admin
    verbs write to the audit log. It is defined here, beside the
    :class:`Player` that holds one, so that neither this module nor the
    world's has to import the other's for it.
    """

    def attach(self, player: Player) -> None:
        """Speak for ``player`` from now on.

        :meth:`World.connect` calls it before it shows anything, so the
        player's settings (colour, width) shape the first room description.
        """

    def show(self, text: str) -> None:
        """Show markup text (one or more lines) to the person."""

    def send_data(self, kind: str, data: dict[str, Any]) -> None:
        """Send structured state, e.g. ``("Room.Info", {"id", "name", "exits"})`` (GMCP)."""

    def disconnect(self, message: str) -> None:
        """Show ``message``, then close the connection."""


class Thing:
    """Anything with a name that can be looked at."""

    __slots__ = ("id", "name", "aliases", "description", "location", "behaviours", "_names")

    kind = "thing"

    def __init__(
        self, id: str, name: str, description: str = "", aliases: tuple[str, ...] = ()
    ) -> None:
        self.id = id
        self.name = name
        self.aliases = tuple(aliases)
        self.description = description
        self.location: Any = None
        #: Behaviour objects (:mod:`reality.game.behaviours`) attached by the world.
        self.behaviours: tuple[Any, ...] = ()
        self._names = (name.lower(), *(a.lower() for a in self.aliases))

    def rename(self, name: str, aliases: tuple[str, ...] | None = None) -> None:
        """Change the name (and aliases) the thing is called and matched by."""
        self.name = name
        if aliases is not None:
            self.aliases = tuple(aliases)
        self._names = (name.lower(), *(a.lower() for a in self.aliases))

    @property
    def proper(self) -> bool:
        """True for proper names, which take no article."""
        return self.name[:1].isupper()

    def a(self) -> str:
        """The name with an indefinite article: "a brass lamp", "an owl", "Bob"."""
        name = self.name
        if self.proper or name.startswith(("a ", "an ", "the ", "some ")):
            return name
        return ("an " if name[:1] in "aeiou" else "a ") + name

    def the(self) -> str:
        """The name with a definite article: "the brass lamp", "Bob"."""
        name = self.name
        if self.proper or name.startswith("the "):
            return name
        return "the " + name

    def The(self) -> str:  # noqa: N802 - reads like the sentence it starts
        """:meth:`the`, capitalized for the start of a sentence."""
        return capitalize(self.the())

    def match(self, query: str) -> int:
        """How well a lower-case query matches this thing's names (0: not at all)."""
        return _match_names(query, self._names)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id!r} {self.name!r}>"


class Exit:
    """A way out of a room: ``name`` (a direction or a word) to ``destination`` (a room id)."""

    __slots__ = (
        "name",
        "destination",
        "aliases",
        "description",
        "leave",
        "arrive",
        "door",
        "_names",
    )

    def __init__(
        self,
        name: str,
        destination: str,
        aliases: tuple[str, ...] = (),
        description: str = "",
        *,
        leave: str = "",
        arrive: str = "",
    ) -> None:
        self.name = name
        self.destination = destination
        self.aliases = tuple(aliases)
        self.description = description
        # The world file's own travel texts (they follow the mover's name);
        # "" means the sentences of :func:`travel_messages`.
        self.leave = leave
        self.arrive = arrive
        #: The door on this way, if any (the same Door object on the way back).
        self.door: Door | None = None
        self._names = (name.lower(), *(a.lower() for a in self.aliases))

    def match(self, query: str) -> int:
        return _match_names(query, self._names)

    def __repr__(self) -> str:
        return f"<Exit {self.name!r} -> {self.destination!r}>"


#: Where someone who went this way is seen to come from.
_COMING_FROM = {"up": "below", "down": "above"}


def travel_messages(name: str, way: Exit, origin: Room) -> tuple[str, str]:
    """What the rooms see when ``name`` goes through ``way`` out of ``origin``.

    Returns ``(leave, arrive)``: the sentence for the room left and the one
    for the room reached. An exit's own ``leave``/``arrive`` texts follow
    the name ("Alice" + "climbs the ladder."); otherwise compass
    directions say where from ("arrives from the south"), up and down say
    "below"/"above", ``in``/``out`` and any other exit name the room left.
    """
    direction = way.name
    where = _mid_sentence(origin.name)
    if direction in _COMING_FROM:
        leave = f"{name} goes {direction}."
        arrive = f"{name} arrives from {_COMING_FROM[direction]}."
    elif direction == "in":
        leave = f"{name} goes in."
        arrive = f"{name} comes in from {where}."
    elif direction == "out":
        leave = f"{name} goes out."
        arrive = f"{name} comes out of {where}."
    elif direction in OPPOSITES:
        leave = f"{name} goes {direction}."
        arrive = f"{name} arrives from the {OPPOSITES[direction]}."
    else:
        leave = f"{name} leaves through the {direction} exit."
        arrive = f"{name} arrives from {where}."
    if way.leave:
        leave = f"{name} {way.leave}"
    if way.arrive:
        arrive = f"{name} {way.arrive}"
    return leave, arrive


def _mid_sentence(title: str) -> str:
    """A room's title inside a sentence: "The Hall" reads "the Hall"."""
    if title.startswith(("The ", "A ", "An ")):
        return title[0].lower() + title[1:]
    return title


class Room(Thing):
    """A place: exits, things lying here, and the connected players present."""

    __slots__ = (
        "exits", "outdoor", "night_description", "area", "terrain", "contents", "players",
        "audience",
    )

    kind = "room"

    def __init__(
        self,
        id: str,
        name: str,
        description: str = "",
        *,
        aliases: tuple[str, ...] = (),
        outdoor: bool = False,
        night_description: str | None = None,
        area: str | None = None,
        terrain: str | None = None,
    ) -> None:
        super().__init__(id, name, description, aliases)
        self.exits: dict[str, Exit] = {}
        self.outdoor = outdoor
        self.night_description = night_description
        #: The world file's ``area:`` and ``terrain:`` (None: the world's name,
        #: and indoor/outdoor): what a mapper groups and colours rooms by.
        self.area = area
        self.terrain = terrain
        self.contents: list[Item | Npc] = []
        self.players: list[Player] = []
        #: Who hears events here, grouped for delivery; None after a change
        #: (:func:`reality.game.events.deliver` builds it again when needed).
        self.audience: Any = None

    @property
    def proper(self) -> bool:
        # Room names are titles ("The Hall"); never add articles to them.
        return True

    def add_exit(self, exit: Exit) -> None:
        self.exits[exit.name] = exit

    def enter(self, player: Player) -> None:
        """``player`` is now among the connected players here (the world's move calls it).

        A session may have ``entered_room(room)``: told here, it hears the
        room from now on (the telnet session keeps a place in the room's log).
        """
        self.players.append(player)
        self.audience = None
        entered = getattr(player.session, "entered_room", None)
        if entered is not None:
            entered(self)

    def leave(self, player: Player) -> None:
        """``player`` is here no more (the world's move calls it); ``left_room(room)`` likewise."""
        left = getattr(player.session, "left_room", None)
        if left is not None:
            left(self)
        self.players.remove(player)
        self.audience = None


class Openable(Thing):
    """A thing with a lid or a leaf: it may be closed, and locked with a key.

    ``key`` is the id of the item that locks and unlocks it (None: no key
    fits). A locked thing is always closed.
    """

    __slots__ = ("closed", "locked", "key")

    def __init__(
        self,
        id: str,
        name: str,
        description: str = "",
        aliases: tuple[str, ...] = (),
        *,
        closed: bool = False,
        locked: bool = False,
        key: str | None = None,
    ) -> None:
        super().__init__(id, name, description, aliases)
        self.closed = closed or locked
        self.locked = locked
        self.key = key


class Door(Openable):
    """A door on every exit between two rooms, both ways.

    It has no location of its own: it is found through the exits that
    carry it (``Exit.door``), and ``rooms`` names the two rooms it joins.
    """

    __slots__ = ("rooms",)

    kind = "door"

    def __init__(
        self,
        id: str,
        name: str,
        rooms: tuple[str, str],
        description: str = "",
        *,
        aliases: tuple[str, ...] = (),
        closed: bool = False,
        locked: bool = False,
        key: str | None = None,
    ) -> None:
        super().__init__(id, name, description, aliases, closed=closed, locked=locked, key=key)
        self.rooms = rooms


class Item(Openable):
    """Something that can lie in a room, be carried (unless ``fixed``) or sit in a container.

    A ``container`` holds other items in ``contents`` and may be closed and
    locked like a door. ``text`` makes it readable.
    """

    __slots__ = ("fixed", "home", "container", "contents", "text")

    kind = "item"

    def __init__(
        self,
        id: str,
        name: str,
        description: str = "",
        *,
        aliases: tuple[str, ...] = (),
        fixed: bool = False,
        home: str | None = None,
        container: bool = False,
        closed: bool = False,
        locked: bool = False,
        key: str | None = None,
        text: str = "",
    ) -> None:
        super().__init__(id, name, description, aliases, closed=closed, locked=locked, key=key)
        self.fixed = fixed
        # Where the world file puts it: where it goes back to if its room is gone.
        self.home = home
        self.container = container
        self.contents: list[Item] = []
        self.text = text

    def holders(self) -> Iterator[Any]:
        """What holds this item, innermost first: containers, then a room or a player."""
        holder = self.location
        while holder is not None:
            yield holder
            holder = holder.location if isinstance(holder, Item) else None

    def outermost(self) -> Any:
        """The room or player that ultimately holds this item (None: nowhere)."""
        holder = self.location
        while isinstance(holder, Item):
            holder = holder.location
        return holder


class Npc(Thing):
    """A character run by the world: what it does is in its behaviours."""

    __slots__ = ("home", "inventory")

    kind = "npc"

    def __init__(
        self,
        id: str,
        name: str,
        description: str = "",
        *,
        aliases: tuple[str, ...] = (),
        home: str | None = None,
    ) -> None:
        super().__init__(id, name, description, aliases)
        self.home = home
        #: What players gave it (see the ``accept`` behaviour).
        self.inventory: list[Item] = []


class Player(Thing):
    """A person's character. ``session`` is set while they are connected."""

    __slots__ = (
        "key",
        "session",
        "admin",
        "inventory",
        "room_id",
        "settings",
        "homepage",
        "homepage_updated",
        "last_seen",
        "connected_at",
        "input_handler",
        "pending_choice",
        "__weakref__",
    )

    kind = "player"

    def __init__(self, name: str, *, description: str = "", admin: bool = False) -> None:
        super().__init__(name.lower(), name, description)
        self.key = name.lower()
        self.session: Session | None = None
        self.admin = admin
        self.inventory: list[Item] = []
        self.room_id: str | None = None
        self.settings: dict[str, Any] = {}
        self.homepage = ""
        self.homepage_updated: float | None = None
        self.last_seen: float | None = None
        self.connected_at: float | None = None
        # A multi-line mode (e.g. the homepage editor) takes input lines
        # before the verb parser does.
        self.input_handler: Any = None
        # The "Which do you mean?" question the next line may answer by number.
        self.pending_choice: Any = None

    @property
    def proper(self) -> bool:
        return True

    @property
    def online(self) -> bool:
        return self.session is not None

    def show(self, text: str) -> None:
        """Send markup text to this player's session, if connected."""
        session = self.session
        if session is not None:
            session.show(text)
