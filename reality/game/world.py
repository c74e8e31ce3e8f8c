"""The World: every room, thing and connected player, and the ticks that move them.

One :class:`World` per server. It knows nothing of sockets: a gateway
authenticates a person, then hands the world a :class:`Session` (anything
with ``attach``, ``show``, ``send_data`` and ``disconnect``) and gets a
:class:`~reality.game.things.Player` back. Time arrives through a *clock*
(``seconds()`` and ``call_later()``: the reactor, or the test ``Clock``).

The gateway's side of the contract::

    world = World(clock, Store("reality.sqlite3"), admins=["alice"])
    world.load(load_world("world/default.yaml"))   # replaces content atomically
    world.start()                                  # NPC, day/night and checkpoint ticks

    player = world.connect("alice", session)       # after authentication
    world.execute(player, "say hello")             # one line of input
    world.disconnect(player, session)              # when the connection ends

    world.stop()                                   # cancel ticks, save everything

* ``connect`` binds the session to the player first (``attach(player)``,
  so the player's settings shape everything shown from the first line on),
  takes over a character that is already connected (the old
  session gets ``disconnect(...)``), shows the room, sends ``Char.Name``
  and ``Room.Info``, announces the arrival and says how many letters wait
  (``unread_count`` hook).
* ``disconnect`` is safe to call twice and ignores a *session* that has been
  taken over (pass it, so a stale connection cannot log out its successor).
  It saves the player's room and inventory before it returns.
* ``execute`` never raises: a failing verb is logged and the player is told
  that something went wrong. Every line is passed through
  :func:`~reality.game.text.clean_player_text` first, so no verb ever sees
  a control, bidi or zero-width character. While a multi-line mode is active
  (``player.input_handler``, e.g. the homepage editor), lines go there;
  its ``prompt`` attribute is the prompt a gateway may show meanwhile.
* Hooks the application fills in: ``load_file(path, done)`` for
  ``@load`` (see :meth:`World.load_file`); ``on_shutdown(message)`` for
  ``@shutdown``; ``unread_count(name) -> int`` and ``login_hooks`` for
  mail; ``subscribe(callback)`` to hear ``("online"|"player"|"world", key)``
  changes (the website re-renders cached pages on them).

Each player's ``settings`` dict holds ``color`` (``"auto"``, ``"on"``,
``"off"``) and ``width`` (``"auto"`` or an int): the gateway reads them
when it renders for that player. ``where`` (``"hidden"``, the default, or
``"visible"``) says whether others may see the player's room: the website
(:meth:`player_info`, :meth:`where_visible`) and ``who`` for non-admins
show it only when visible.

Persistence: accounts, homepages, things built by admins and their
descriptions are committed by the store before the player is told;
positions, inventories and login times are checkpointed every
``checkpoint_interval`` seconds (5 by default) in one transaction, at
logout, and in :meth:`stop`.
"""

from __future__ import annotations

import gc
import logging
import os
import random
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

from attrs import frozen

from reality.game import commands, markup
from reality.game.accounts import name_key
from reality.game.bans import Bans
from reality.game.behaviours import Behaviour, Catalogue, Happening, load_catalogue
from reality.game.channels import Channels
from reality.game.events import Event, EventBuffer, deliver
from reality.game.help import HelpIndex, HelpTopic
from reality.game.loader import BehaviourDef, WorldDefinition, WorldFileError, load_world_file
from reality.game.login import login_verbs
from reality.game.roomnumbers import RoomNumbers
from reality.game.store import Store
from reality.game.text import clean_player_text
from reality.game.things import (
    OPPOSITES,
    Door,
    Exit,
    Item,
    Npc,
    Player,
    Refusal,
    Room,
    Session,
    Thing,
    capitalize,
    name_list,
    plural,
    travel_messages,
)
from reality.game.ticks import Ticks

log = logging.getLogger(__name__)

__all__ = [
    "Clock",
    "Counts",
    "LoadDone",
    "PlayerInfo",
    "RoomInfo",
    "Session",
    "UnknownAccount",
    "World",
]

#: What ``@load`` is told when the file has been read: the definition, or
#: why not (a WorldFileError, or another exception whose ``str()`` says why).
LoadDone = Callable[[WorldDefinition | Exception], None]

#: The most things one container holds.
MAX_CONTAINED = 50

#: Names listed in a room description before "and N others".
ROOM_LIST_LIMIT = 10

#: Names listed by ``who`` before "and N more".
WHO_LIST_LIMIT = 60


class UnknownAccount(LookupError):
    """:meth:`World.connect` was given a name that has no account in the store."""


class Clock(Protocol):
    """What the world needs of time: the reactor and the test Clock both fit."""

    def seconds(self) -> float: ...

    def call_later(self, delay: float, f: Callable[..., Any], *args: Any, **kwargs: Any) -> Any: ...


@frozen
class PlayerInfo:
    """A player's public face, for the website."""

    name: str
    online: bool
    room_id: str | None
    room_name: str | None
    last_seen: float | None
    homepage: str
    homepage_updated: float | None


@frozen
class RoomInfo:
    """A room for the map: its exits as ``{direction: room id}``.

    ``num`` is its stable number (:meth:`World.room_number`), ``area`` and
    ``environment`` what :meth:`World.room_area` and
    :meth:`World.room_environment` say: what a mapper's map file needs.
    """

    id: str
    name: str
    outdoor: bool
    exits: dict[str, str]
    num: int = 0
    area: str = ""
    environment: str = ""


@frozen
class Counts:
    rooms: int
    players: int
    online: int


class World:
    """The shared world: registry, lookups, sessions, ticks."""

    def __init__(
        self,
        clock: Clock,
        store: Store,
        *,
        admins: Iterable[str] = (),
        mail_domain: str = "reality.localhost",
        web_url: str | None = None,
        telnet_address: str | None = None,
        verbs: commands.VerbRegistry | None = None,
        rng: random.Random | None = None,
        wall_clock: Callable[[], float] = time.time,
        checkpoint_interval: float = 5.0,
        world_dir: str | os.PathLike[str] = ".",
    ) -> None:
        self.clock = clock
        self.store = store
        self.admins = frozenset(name_key(a) for a in admins)
        self.mail_domain = mail_domain
        self.web_url = web_url.rstrip("/") if web_url else None
        self.telnet_address = telnet_address
        #: The playing set; things near a player add theirs (``verbs.core.offered_verbs``).
        self.verbs = verbs if verbs is not None else commands.default_registry()
        #: The login set: what a connection may type before it is a player.
        self.login_verbs = login_verbs()
        #: The world file's ``help:`` topics (see :attr:`help`).
        self.help_topics: tuple[HelpTopic, ...] = ()
        self._help: HelpIndex | None = None
        self.rng = rng if rng is not None else random.Random()
        self.wall = wall_clock
        self.checkpoint_interval = checkpoint_interval
        #: Told ``(seconds, error or None)`` after each checkpoint that wrote something.
        self.on_checkpoint: Callable[[float, BaseException | None], object] | None = None
        #: ``@load`` reads only files under this directory.
        self.world_dir = os.fspath(world_dir)
        #: Every room id's stable number, kept in the store (see room_number).
        self.room_numbers = RoomNumbers(store)

        self.definition: WorldDefinition | None = None
        self.name = "Reality"
        self.welcome = ""
        self.start_id = ""
        self.rooms: dict[str, Room] = {}
        self.items: dict[str, Item] = {}
        self.npcs: dict[str, Npc] = {}
        self.doors: dict[str, Door] = {}
        self.catalogue = Catalogue()
        #: Player objects in memory: everyone online, and offline holders of items.
        self.players: dict[str, Player] = {}
        #: Connected players by key.
        self.online: dict[str, Player] = {}
        #: Banned accounts and addresses (``@ban``), kept in the store.
        self.bans = Bans(store)
        self.phase: str | None = None

        #: ``load_file(path, done)``: see :meth:`_load_file_inline`.
        self.load_file: Callable[[str, LoadDone], None] = self._load_file_inline
        #: The file ``@load`` is reading now (one at a time), or None.
        self.loading: str | None = None
        self.on_shutdown: Callable[[str], None] | None = None
        self.unread_count: Callable[[str], int] | None = None
        self.login_hooks: list[Callable[[Player], None]] = []
        self._watchers: list[Callable[[str, str | None], None]] = []

        self._dirty_players: set[Player] = set()
        self._dirty_items: set[Item] = set()
        self._logins: dict[str, float] = {}
        self._dirty_states: set[Door | Item] = set()
        self.ticks = Ticks(self)
        self._who_cache: tuple[int, list[Player]] | None = None
        # room id -> (first names, others' count, the "... are here." line): see _others_here.
        self._others_cache: dict[str, tuple[tuple[str, ...], int, str]] = {}
        self._online_version = 0
        self.running = False
        #: The channels (``chat``, ``newbie`` and those admins made): see reality.game.channels.
        self.channels = Channels(self)

    # -- content ----------

    @property
    def help(self) -> HelpIndex:
        """The help index: every verb's own help and the world file's topics.

        Made again when the playing set is replaced or a world file is
        loaded; verbs registered later are read by the index itself.
        """
        index = self._help
        if index is None or index.verbs is not self.verbs:
            index = self._help = HelpIndex(
                self.verbs, self.help_topics, extra=(commands.EDITOR_VERBS,)
            )
        return index

    @property
    def start_room(self) -> Room:
        return self.rooms[self.start_id]

    def load(self, definition: WorldDefinition) -> None:
        """Replace the world's content with a validated definition, atomically.

        Things built at run time and item positions come from the store and
        from the running world. Players in removed rooms move to the start;
        items whose room is gone return to their world-file place.

        This runs on the loop: about 10 microseconds of CPU a room, so the
        loader caps a file at 5,000 rooms. The cyclic collector is paused
        while the new objects are made (all of them are kept; its passes
        over the growing heap doubled the time).
        """
        paused = gc.isenabled()
        gc.disable()
        try:
            self._load(definition)
        finally:
            if paused:
                gc.enable()

    def _load(self, definition: WorldDefinition) -> None:
        # Everything that can fail comes first: the world's behaviour
        # modules, every behaviour's parameters, the new objects.
        catalogue = load_catalogue(definition, self.world_dir)
        destroyed = self.store.destroyed()
        changes = self.store.thing_changes()
        states = self.store.states()
        rooms = self._build_rooms(definition, destroyed)
        # In the file's order: a new world's rooms are numbered 1, 2, 3...
        self.room_numbers.assign(rooms)
        start = rooms[definition.start]
        overrides = self.store.descriptions()
        for (kind, thing_id), text in overrides.items():
            if kind == "room" and thing_id in rooms:
                rooms[thing_id].description = text
            elif kind == "exit":
                room_id, _, exit_name = thing_id.rpartition("/")
                if room_id in rooms and exit_name in rooms[room_id].exits:
                    rooms[room_id].exits[exit_name].description = text
        doors = self._build_doors(definition, rooms)
        for door in doors.values():
            door.description = overrides.get(("door", door.id), door.description)

        items: dict[str, Item] = {}
        for item_def in definition.items.values():
            if ("item", item_def.id) in destroyed:
                continue
            item = Item(
                item_def.id,
                item_def.name,
                overrides.get(("item", item_def.id), item_def.description),
                aliases=item_def.aliases,
                fixed=item_def.fixed,
                home=item_def.location,
                container=item_def.container,
                closed=item_def.closed,
                locked=item_def.locked,
                key=item_def.key,
                text=item_def.text,
            )
            item.behaviours = self._behaviours(
                catalogue, item, item_def.behaviours, definition.path
            )
            items[item.id] = item
        for built in self.store.built_items():
            if built.id in items:
                log.warning("built item %s is shadowed by the world file", built.id)
                continue
            items[built.id] = Item(built.id, built.name, built.description)

        npcs: dict[str, Npc] = {}
        for npc_def in definition.npcs.values():
            if ("npc", npc_def.id) in destroyed:
                continue
            npc = Npc(
                npc_def.id,
                npc_def.name,
                overrides.get(("npc", npc_def.id), npc_def.description),
                aliases=npc_def.aliases,
                home=npc_def.location,
            )
            npc.behaviours = self._behaviours(catalogue, npc, npc_def.behaviours, definition.path)
            npcs[npc.id] = npc
        for room_def in definition.rooms.values():
            room = rooms.get(room_def.id)
            if room is not None:
                room.behaviours = self._behaviours(
                    catalogue, room, room_def.behaviours, definition.path
                )

        # What builders changed in the game, then doors' and lids' states.
        for (kind, thing_id), attributes in changes.items():
            target: Any = {"room": rooms, "item": items, "npc": npcs, "door": doors}.get(
                kind, {}
            ).get(thing_id)
            if target is not None:
                apply_attributes(target, attributes)
        for (kind, thing_id), (closed, locked) in states.items():
            openable: Any = (items if kind == "item" else doors if kind == "door" else {}).get(
                thing_id
            )
            if openable is not None:
                openable.closed, openable.locked = closed or locked, locked
        for thing in (*self.items.values(), *self.doors.values()):
            # Opened or closed since the last checkpoint: newer than the store.
            if thing in self._dirty_states:
                twin: Any = (items if isinstance(thing, Item) else doors).get(thing.id)
                if twin is not None:
                    twin.closed, twin.locked = thing.closed, thing.locked

        positions = self.store.item_positions()
        # What moved since the last checkpoint is newer than the store.
        for item in self.items.values():
            where = _position(item)
            if where is not None:
                positions[item.id] = where
        held: dict[Player, list[Item]] = {}
        holders: dict[str, Player | None] = {}
        for npc in npcs.values():
            home = rooms.get(npc.home or "") or start
            old = self.npcs.get(npc.id)
            if old is not None and isinstance(old.location, Room) and old.location.id in rooms:
                home = rooms[old.location.id]
            npc.location = home
            home.contents.append(npc)
        placed: set[str] = set()

        def place(item: Item, trail: frozenset[str] = frozenset()) -> None:
            if item.id in placed:
                return
            placed.add(item.id)
            kind, where = positions.get(item.id, ("", ""))
            if not kind:
                kind = "item" if (item.home or "") in items else "room"
                where = item.home or ""
            if kind == "player":
                if where not in holders:
                    holders[where] = self._player(where)
                holder = holders[where]
                if holder is not None:
                    item.location = holder
                    held.setdefault(holder, []).append(item)
                    return
            elif kind == "npc" and where in npcs:
                item.location = npcs[where]
                npcs[where].inventory.append(item)
                return
            elif kind == "item" and where in items and where not in trail and where != item.id:
                box = items[where]
                if box.container:
                    place(box, trail | {item.id})
                    item.location = box
                    box.contents.append(item)
                    return
            # The holder is gone: the item goes home, or to the start.
            room = rooms.get(where) if kind == "room" else None
            if room is None:
                room = rooms.get(item.home or "") or start
            item.location = room
            room.contents.append(item)

        for item in items.values():
            place(item)

        # Everything is built: from here on nothing can fail halfway.
        self._stop_behaviours()
        moved: list[Player] = []
        for player in self.online.values():
            room = rooms.get(player.room_id or "")
            if room is None:
                room = start
                moved.append(player)
            player.location = room
            player.room_id = room.id
            room.enter(player)
            self._dirty_players.add(player)
        for player in self.players.values():
            player.inventory = []
        for holder, carried in held.items():
            holder.inventory = carried
            self.players.setdefault(holder.key, holder)
        self.definition = definition
        self.catalogue = catalogue
        self.name = definition.name
        self.welcome = definition.welcome
        self.help_topics = tuple(definition.help.values())
        self._help = None
        self.start_id = definition.start
        self.rooms = rooms
        self.items = items
        self.npcs = npcs
        self.doors = doors
        # Items moved since the last checkpoint still need saving.
        self._dirty_items = {items[i.id] for i in self._dirty_items if i.id in items}
        dirty = {(t.kind, t.id) for t in self._dirty_states}
        kept: set[Door | Item] = {t for t in items.values() if (t.kind, t.id) in dirty}
        kept.update(t for t in doors.values() if (t.kind, t.id) in dirty)
        self._dirty_states = kept
        if self.running:
            self._start_behaviours()
        phase = self.phase
        self.ticks.loaded()
        log.info(
            "world %r loaded from %s: %d rooms, %d items, %d npcs, %d doors",
            self.name,
            definition.path,
            len(rooms),
            len(items),
            len(npcs),
            len(doors),
        )
        for player in moved:
            player.show("{yellow}The world shifts around you.{/}")
            player.show(self.describe_room(player.location, player))
        for player in self.online.values():
            self.send_room_info(player)
        if self.phase != phase:
            self.phase_changed()
        self.changed("world", None)

    def _behaviours(
        self,
        catalogue: Catalogue,
        owner: Thing,
        definitions: Iterable[BehaviourDef],
        path: str,
    ) -> tuple[Behaviour, ...]:
        """The behaviours of one thing, made and attached (not yet started)."""
        made = []
        for definition in definitions:
            try:
                behaviour = catalogue.make(definition)
            except Exception as error:
                raise WorldFileError(
                    [(path, definition.line, f"behaviour '{definition.name}': {error}")]
                ) from error
            behaviour.attach(owner, self)
            made.append(behaviour)
        return tuple(made)

    def _build_doors(self, definition: WorldDefinition, rooms: dict[str, Room]) -> dict[str, Door]:
        """The doors, each put on every exit between its two rooms (both ways)."""
        doors: dict[str, Door] = {}
        for door_def in definition.doors.values():
            door = Door(
                door_def.id,
                door_def.name,
                door_def.between,
                door_def.description,
                aliases=door_def.aliases,
                closed=door_def.closed,
                locked=door_def.locked,
                key=door_def.key,
            )
            doors[door.id] = door
            a, b = door_def.between
            for here, there in ((a, b), (b, a)):
                room = rooms.get(here)
                if room is None:
                    continue
                for way in room.exits.values():
                    if way.destination == there:
                        way.door = door
        return doors

    def _load_file_inline(self, path: str, done: LoadDone) -> None:
        """Read and validate the world file ``path`` (as an admin typed it) for
        ``@load``, then call ``done`` with the definition or the error.

        This default reads the file here and now, which suits tests and
        embedding. The server replaces ``world.load_file`` with a hook that
        does the same in a worker process with a time limit, and calls
        ``done`` later, from the loop: reading and parsing a big file must
        not stall every player. It is a plain callback, not a Deferred,
        because the game imports nothing from the engine; the application
        adapts its Deferred to it. Either way ``done`` is called exactly
        once, and the path policy (under :attr:`world_dir`) is the same.
        """
        try:
            definition = load_world_file(path, self.world_dir)
        except WorldFileError as error:
            done(error)
            return
        done(definition)

    def _build_rooms(
        self, definition: WorldDefinition, destroyed: set[tuple[str, str]]
    ) -> dict[str, Room]:
        rooms: dict[str, Room] = {}
        unlinked = self.store.unlinked_exits()
        for room_def in definition.rooms.values():
            if ("room", room_def.id) in destroyed and room_def.id != definition.start:
                continue
            room = Room(
                room_def.id,
                room_def.name,
                room_def.description,
                aliases=room_def.aliases,
                outdoor=room_def.outdoor,
                night_description=room_def.night,
                area=room_def.area,
                terrain=room_def.terrain,
            )
            for exit_def in room_def.exits.values():
                if (room_def.id, exit_def.name) in unlinked:
                    continue
                room.add_exit(
                    Exit(
                        exit_def.name,
                        exit_def.to,
                        exit_def.aliases,
                        exit_def.description,
                        leave=exit_def.leave,
                        arrive=exit_def.arrive,
                    )
                )
            rooms[room.id] = room
        for built in self.store.built_rooms():
            if ("room", built.id) in destroyed:
                continue
            if built.id in rooms:
                log.warning("built room %s is shadowed by the world file", built.id)
                continue
            rooms[built.id] = Room(built.id, built.name, built.description, outdoor=built.outdoor)
        for built_exit in self.store.built_exits():
            room = rooms.get(built_exit.room)
            if room is not None and built_exit.destination in rooms:
                room.add_exit(Exit(built_exit.name, built_exit.destination))
        # An exit into a room that is gone leads nowhere: it goes too.
        for room in rooms.values():
            for name in [n for n, e in room.exits.items() if e.destination not in rooms]:
                del room.exits[name]
        return rooms

    def _player(self, key: str) -> Player | None:
        """The Player object in memory, or loaded from the store (None: no such player)."""
        player = self.players.get(key)
        if player is not None:
            return player
        return self._player_from_store(key)

    def _player_from_store(self, name: str) -> Player | None:
        key = name_key(name)
        record = self.store.load_player(key)
        if record is None:
            return None
        account = self.store.get_account(key)
        player = Player(
            account.name if account else name,
            admin=key in self.admins or (account is not None and account.admin),
        )
        player.room_id = record.room
        player.settings = dict(record.settings)
        player.homepage = record.homepage
        player.homepage_updated = record.homepage_updated
        player.last_seen = record.last_seen
        if record.description:
            player.description = record.description
        return player

    # -- admins ----------

    def is_admin(self, name: str) -> bool:
        """Whether an account has admin rights now.

        The flag in the database (set by ``reality admin``) is read at each
        login, so a change reaches a running server at the next login. The
        constructor's ``admins`` list is for tests that build a World alone.
        """
        key = name_key(name)
        if key in self.admins:
            return True
        account = self.store.get_account(key)
        return account is not None and account.admin

    def admin_keys(self) -> list[str]:
        """Every admin's key, sorted (the constructor's list and the database's flags)."""
        return sorted(self.admins.union(self.store.admin_keys()))

    # -- sessions ----------

    def connect(self, name: str, session: Session) -> Player:
        """Bring an authenticated account into the world with a session."""
        key = name_key(name)
        player = self.online.get(key)
        if player is not None:
            old = player.session
            player.session = session
            room = player.location
            # The new session hears from now on (rooms' and channels' audiences).
            self._online_version += 1
            if isinstance(room, Room):
                room.audience = None
                entered = getattr(session, "entered_room", None)
                if entered is not None:
                    entered(room)
            session.attach(player)
            if old is not None and old is not session:
                try:
                    old.disconnect("Your character has been taken over by a new connection.")
                except Exception:
                    log.exception("error disconnecting the old session of %s", key)
            player.admin = self.is_admin(key)
            player.show("{yellow}You take over your character from your other connection.{/}")
            self._welcome(player)
            return player

        player, room = self._bring_online(name, key, session)
        self._dirty_players.add(player)
        # Written by the next checkpoint: a burst of logins must not cost a
        # disk sync each on the reactor's loop.
        self._logins[key] = player.connected_at
        # Others hear of the arrival before the player joins the room's list.
        deliver(Event(room, f"{player.name} has entered the game."))
        self.move(player, room, action="connect", check=False)
        self._welcome(player)
        if self.unread_count is not None:
            try:
                unread = self.unread_count(key)
            except Exception:
                log.exception("unread_count hook failed for %s", key)
                unread = 0
            if unread:
                player.show(
                    f"{{bright_yellow}}You have {plural(unread, 'unread letter')}.{{/}}"
                    f" Type 'mail' to read {'it' if unread == 1 else 'them'}."
                )
        for hook in list(self.login_hooks):
            try:
                hook(player)
            except Exception:
                log.exception("login hook %r failed for %s", hook, key)
        self.changed("online", key)
        return player

    def resume(self, name: str, session: Session) -> Player:
        """Bring a player back with a session carried over from another process (an upgrade).

        Quietly: the player never left, so nobody hears them arrive and
        they are not greeted again. They are put in the room the old
        process saved (it checkpointed before handing the connection over).
        """
        key = name_key(name)
        if key in self.online:
            return self.connect(name, session)
        player, room = self._bring_online(name, key, session)
        self.move(player, room, action="connect", check=False)
        self.changed("online", key)
        return player

    def _bring_online(self, name: str, key: str, session: Session) -> tuple[Player, Room]:
        """The player of ``key`` attached to ``session`` and counted online; and their room.

        What a login and an upgrade's resume share; the caller puts the
        player in the room (loudly or quietly).
        """
        player = self._player(key)
        if player is None:
            # The gateway authenticates first; a player without an account
            # could never be saved, so refuse loudly instead.
            raise UnknownAccount(f"no account named {name!r}: create it before connecting")
        player.admin = self.is_admin(key)
        player.session = session
        session.attach(player)
        player.connected_at = self.wall()
        room = self.rooms.get(player.room_id or "") or self.start_room
        self.players[key] = player
        self.online[key] = player
        self._online_version += 1
        return player, room

    def hand_off(self, player: Player) -> None:
        """The player's connection went to another process (an upgrade): forget them here.

        Nothing is saved (the world was checkpointed before the handover,
        and the other process owns the database from now on) and nobody
        is told: for everyone else the player is still there.
        """
        if self.online.get(player.key) is not player:
            return
        room = player.location
        if isinstance(room, Room):
            room.leave(player)
        player.location = None
        player.session = None
        del self.online[player.key]
        self._online_version += 1
        self._dirty_players.discard(player)

    def _welcome(self, player: Player) -> None:
        session = player.session
        if session is None:
            return
        session.send_data("Char.Name", {"name": player.name, "fullname": player.name})
        self.send_char_status(player)
        player.show(self.describe_room(player.location, player))
        self.send_room_info(player)

    def disconnect(self, player: Player, session: Session | None = None) -> None:
        """A connection ended: the player leaves the world and is saved.

        Ignored when the player is not connected, or when ``session`` is
        given and is no longer the player's session (it was taken over).
        """
        if self.online.get(player.key) is not player:
            return
        if session is not None and player.session is not session:
            return
        room = player.location
        if room is not None:
            self.move(player, None, action="disconnect", check=False)
        player.session = None
        player.input_handler = None
        player.pending_choice = None
        del self.online[player.key]
        self._online_version += 1
        player.last_seen = self.wall()
        self._save_leaving(player)
        if room is not None:
            deliver(Event(room, f"{player.name} has left the game."))
        self.changed("online", player.key)

    def _save_leaving(self, player: Player) -> None:
        """Save a player who left, with what they carry (committed on return)."""
        carried = [(i.id, "player", player.key) for i in player.inventory]
        try:
            self.store.checkpoint(
                players=[(player.key, player.room_id, player.settings, player.last_seen)],
                items=carried,
            )
        except Exception:
            # Kept dirty (and in memory): the next checkpoint tries again.
            log.exception("could not save %s at logout", player.key)
            self._dirty_players.add(player)
            self._dirty_items.update(player.inventory)
            return
        self._dirty_players.discard(player)
        self._dirty_items.difference_update(player.inventory)
        if not player.inventory:
            # Nothing refers to a saved offline player without items: let it go.
            self.players.pop(player.key, None)

    def logout(self, player: Player, message: str) -> None:
        """Log a player out from inside the world (``quit``, ``@kick``)."""
        session = player.session
        self.disconnect(player)
        if session is not None:
            try:
                session.disconnect(message)
            except Exception:
                log.exception("error closing the session of %s", player.key)

    def execute(self, player: Player, line: str) -> None:
        """Run one line of a player's input. Never raises."""
        if self.online.get(player.key) is not player:
            return
        # The one door player text comes in by: nothing invisible or
        # direction-changing reaches anyone else (reality.game.text).
        line = clean_player_text(line)
        context = commands.Context(self, player)
        try:
            handler = player.input_handler
            if handler is not None:
                handler(context, line)
            else:
                commands.run(context, line)
        except commands.Refusal as refusal:
            # The context, with what the verb had buffered, is dropped unsent.
            player.show(str(refusal))
            return
        except Exception:
            log.exception("command %r by %s failed", line[:200], player.key)
            player.show("{red}Something went wrong with that command.{/} It has been logged.")
            return
        context.buffer.flush()
        for action in context.after:
            try:
                action()
            except Exception:
                log.exception("after-command action failed for %s", player.key)

    def disconnect_all(self, message: str) -> None:
        """Disconnect every player with ``message``, saving them in one transaction."""
        try:
            with self.store.transaction():
                for player in tuple(self.online.values()):
                    self.logout(player, message)
        except Exception:
            log.exception("could not save everyone while disconnecting them all")
            self._dirty_players.update(self.players.values())

    # -- the one move ----------

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
    ) -> None:
        """Move ``thing`` into ``to``: the only way anything changes place.

        ``thing`` is a Player (``to``: a Room), an Npc (a Room, or None to
        take it out of the world) or an Item (a Room, a Player, a
        container Item, an Npc, or None to destroy it). ``action`` names
        the deed for vetoes and hooks: ``walk``, ``take``, ``drop``,
        ``put``, ``give``, ``teleport``, ``create``, ``destroy``,
        ``deliver``... With ``check`` (the default), every thing involved
        is asked first (:meth:`Behaviour.allow`, closed doors and lids,
        full hands) and a veto raises :class:`Refusal` with the sentence
        the player reads; nothing has changed then. Bystanders read
        ``leave`` in the room left and ``arrive`` in the room reached;
        hooks (``arrived``, ``left``, ``taken``, ``dropped``, ``given``)
        run after the move, their answers in ``buffer`` after those lines.
        The move is marked for the next checkpoint.
        """
        own_buffer = buffer is None
        out = EventBuffer() if buffer is None else buffer
        old = thing.location
        if check:
            self._check_move(thing, old, to, actor, action, via, out)
        if isinstance(thing, Player):
            if isinstance(old, Room):
                old.leave(thing)
        elif old is not None:
            _holding(old).remove(thing)
        if to is not None:
            if isinstance(thing, Player):
                to.enter(thing)
            else:
                _holding(to).append(thing)
        thing.location = to
        self._moved(thing, old, to, actor, action, out, leave, arrive)
        if own_buffer:
            out.flush()

    def _check_move(
        self,
        thing: Thing,
        old: Any,
        to: Any,
        actor: Thing | None,
        action: str,
        via: Exit | None,
        buffer: EventBuffer,
    ) -> None:
        """Raise :class:`Refusal` if anything involved forbids the move."""
        if isinstance(thing, Item):
            if thing.fixed and action in ("take", "put", "give"):
                raise Refusal(f"{thing.The()} is fixed in place.")
            if isinstance(old, Item) and old.closed:
                raise Refusal(_shut(old))
            if isinstance(to, Item):
                if not to.container:
                    raise Refusal(f"You can't put anything in {to.the()}.")
                if to is thing or thing in to.holders():
                    raise Refusal(f"You can't put {thing.the()} inside itself.")
                if to.closed:
                    raise Refusal(_shut(to))
                if len(to.contents) >= MAX_CONTAINED:
                    raise Refusal(f"{to.The()} is full.")
            elif isinstance(to, Player):
                if len(to.inventory) >= commands.MAX_CARRIED:
                    raise Refusal(
                        "You can't carry any more."
                        if to is actor
                        else f"{to.name} can't carry any more."
                    )
            elif isinstance(to, Npc):
                h = Happening(self, action, actor=actor, thing=thing, destination=to, buffer=buffer)
                if not any(_ask(b, "accepts", h) for b in to.behaviours):
                    raise Refusal(f"{to.The()} is not interested in {thing.the()}.")
        if via is not None and via.door is not None and via.door.closed:
            raise Refusal(_shut(via.door))
        h = Happening(self, action, actor=actor, thing=thing, destination=to, buffer=buffer)
        parties: list[Any] = [thing, old, to]
        if via is not None and via.door is not None:
            parties.append(via.door)
        for party in parties:
            if isinstance(party, Thing) and party.behaviours:
                for behaviour in party.behaviours:
                    h.owner = party
                    reason = _ask(behaviour, "allow", h)
                    if reason:
                        raise Refusal(reason)

    def _moved(
        self,
        thing: Thing,
        old: Any,
        to: Any,
        actor: Thing | None,
        action: str,
        buffer: EventBuffer,
        leave: str | None,
        arrive: str | None,
    ) -> None:
        """Bookkeeping, bystanders' lines and hooks after ``thing`` moved."""
        if isinstance(thing, Item):
            self._dirty_items.add(thing)
            if to is None:
                self.items.pop(thing.id, None)
        mover = isinstance(thing, Player | Npc)
        if mover:
            if leave and isinstance(old, Room):
                buffer.add(Event(old, leave, actor=thing))
            if arrive and isinstance(to, Room):
                buffer.add(Event(to, arrive, actor=thing))
        if isinstance(thing, Player):
            if to is not None:
                thing.room_id = to.id
            self._dirty_players.add(thing)
            if action not in ("connect", "disconnect") and to is not None:
                buffer.tell(thing, self.describe_room(to, thing, brief=self._brief(thing)))
                self.send_room_info(thing)
                self.changed("player", thing.key)
        if action in ("connect", "disconnect"):
            return
        h = Happening(self, action, actor=actor or thing, thing=thing, buffer=buffer)
        if mover:
            if isinstance(old, Room) and old is not to:
                h.room = old
                self._tell_room(old, "left", h, skip=thing)
            if isinstance(to, Room) and old is not to:
                h.room = to
                self._tell_room(to, "arrived", h, skip=thing)
            return
        hook = {
            "take": "taken",
            "get": "taken",
            "drop": "dropped",
            "put": "dropped",
            "give": "taken",
        }.get(action)
        if hook is not None:
            h.destination = to
            self._tell_thing(thing, hook, h)
        if action == "give" and isinstance(to, Npc):
            self._tell_thing(to, "given", h)

    def _tell_thing(self, owner: Thing, hook: str, h: Happening) -> None:
        """Run one hook of every behaviour of ``owner``."""
        for behaviour in owner.behaviours:
            h.owner = owner
            _ask(behaviour, hook, h)

    def _tell_room(self, room: Room, hook: str, h: Happening, *, skip: Thing | None) -> None:
        """Run one hook of the room's behaviours and of everything lying in it."""
        if room.behaviours:
            self._tell_thing(room, hook, h)
        for thing in tuple(room.contents):
            if thing.behaviours and thing is not skip:
                self._tell_thing(thing, hook, h)

    def heard(self, room: Room, speaker: Thing, text: str, buffer: EventBuffer) -> None:
        """Someone said ``text`` (plain) in ``room``: the ``heard`` hooks there run."""
        h = Happening(self, "say", actor=speaker, room=room, text=text, buffer=buffer)
        self._tell_room(room, "heard", h, skip=speaker)

    def used(self, thing: Thing, actor: Thing, verb: str, buffer: EventBuffer) -> None:
        """``actor`` used ``thing`` through a verb it gives: its ``used`` hooks run."""
        h = Happening(self, "use", actor=actor, thing=thing, text=verb, buffer=buffer)
        self._tell_thing(thing, "used", h)

    def walk(self, mover: Player | Npc, way: Exit, buffer: EventBuffer) -> None:
        """``mover`` goes through ``way`` (a closed door refuses); bystanders see it."""
        origin = mover.location
        destination = self.rooms.get(way.destination)
        if destination is None or not isinstance(origin, Room):
            raise Refusal(f"The way {way.name} leads nowhere at the moment.")
        name = mover.name if isinstance(mover, Player) else mover.The()
        leave, arrive = travel_messages(name, way, origin)
        self.move(
            mover,
            destination,
            actor=mover,
            buffer=buffer,
            action="walk",
            via=way,
            leave=leave,
            arrive=arrive,
        )

    def return_home(self, item: Item) -> None:
        """Put an item back where the world file has it (its home room or container)."""
        home = self.items.get(item.home or "") or self.rooms.get(item.home or "") or self.start_room
        if self.items.get(item.id) is item and item.location is not home:
            self.move(item, home, action="return", check=False)

    def set_state(
        self,
        thing: Door | Item,
        actor: Thing | None,
        action: str,
        buffer: EventBuffer,
    ) -> None:
        """Open, close, lock or unlock a door or a container, if nothing vetoes it.

        ``action`` is ``open``, ``close``, ``lock`` or ``unlock``; the verb
        has checked the key. The state is saved at the next checkpoint, and
        the thing's ``opened``/``closed``/``locked``/``unlocked`` hooks run.
        """
        h = Happening(self, action, actor=actor, thing=thing, buffer=buffer)
        for behaviour in thing.behaviours:
            h.owner = thing
            reason = _ask(behaviour, "allow", h)
            if reason:
                raise Refusal(reason)
        if action == "open":
            thing.closed = False
        elif action == "close":
            thing.closed = True
        elif action == "lock":
            thing.closed = thing.locked = True
        elif action == "unlock":
            thing.locked = False
        else:
            raise ValueError(f"unknown action {action!r}")
        self._dirty_states.add(thing)
        past = {"open": "opened", "close": "closed", "lock": "locked", "unlock": "unlocked"}
        self._tell_thing(thing, past[action], h)

    def door_rooms(self, door: Door) -> list[Room]:
        """The rooms on both sides of a door (those that exist)."""
        return [self.rooms[r] for r in door.rooms if r in self.rooms]

    # -- what mappers need ----------

    def room_number(self, room: Room | str) -> int:
        """``room``'s stable number (by room or id): the same after restarts and reloads.

        Given the first time the world sees the id (at a load, or when
        ``@dig`` makes the room) and committed to the store.
        """
        return self.room_numbers.number(room if isinstance(room, str) else room.id)

    def room_area(self, room: Room) -> str:
        """The map area ``room`` belongs to: its ``area:``, else the world's name."""
        return room.area or self.name

    @staticmethod
    def room_environment(room: Room) -> str:
        """``room``'s environment for a mapper: its ``terrain:``, else indoor or outdoor."""
        return room.terrain or ("outdoor" if room.outdoor else "indoor")

    def send_room_info(self, player: Player) -> None:
        """GMCP ``Room.Info`` (IRE style): number, name, area, environment, exits by number.

        ``id`` (the world file's id) is kept for clients that know it; a
        gateway adds what it knows besides (the map's coordinates, the
        names of who and what is here).
        """
        room = player.location
        if room is None or player.session is None:
            return
        number = self.room_numbers.number
        player.session.send_data(
            "Room.Info",
            {
                "num": number(room.id),
                "id": room.id,
                "name": room.name,
                "area": self.room_area(room),
                "environment": self.room_environment(room),
                "exits": {name: number(e.destination) for name, e in room.exits.items()},
            },
        )

    def char_status(self, player: Player) -> dict[str, Any]:
        """GMCP ``Char.Status``: the player's name and the world's time of day.

        ``time`` is the day/night phase (``dawn``, ``day``, ``dusk``,
        ``night``), absent when the world has no day and night.
        """
        status: dict[str, Any] = {"name": player.name, "fullname": player.name}
        if self.phase is not None:
            status["time"] = self.phase
        return status

    def send_char_status(self, player: Player) -> None:
        """Send ``Char.Status`` to ``player``'s session."""
        if player.session is not None:
            player.session.send_data("Char.Status", self.char_status(player))

    def phase_changed(self) -> None:
        """The time of day changed (the day/night tick, a load): tell every player's client."""
        for player in list(self.online.values()):
            self.send_char_status(player)

    def _brief(self, player: Player) -> bool:
        return player.settings.get("brief") == "on"

    # -- describing ----------

    def describe_room(self, room: Room, viewer: Player, *, brief: bool = False) -> str:
        """What ``viewer`` sees on looking around ``room`` (markup)."""
        lines = [f"{{bold}}{room.name}{{/}}"]
        if not brief:
            description = room.description
            if room.outdoor and self.phase == "night" and room.night_description:
                description = room.night_description
            if description:
                lines.append(description)
        things = [t for t in room.contents if isinstance(t, Item)]
        if things:
            lines.append(f"You see {name_list([t.a() for t in things])} here.")
        npcs = [t for t in room.contents if isinstance(t, Npc)]
        if npcs:
            verb = "is" if len(npcs) == 1 else "are"
            lines.append(f"{capitalize(name_list([n.a() for n in npcs]))} {verb} here.")
        others = self._others_here(room, viewer)
        if others:
            lines.append(others)
        if room.exits:
            rooms = self.rooms
            ways = ", ".join(
                markup.exit_link(_exit_label(way), _destination_name(rooms, way))
                for way in room.exits.values()
            )
            lines.append(f"{{green}}Exits: {ways}.{{/}}")
        else:
            lines.append("{green}There is no obvious way out.{/}")
        return "\n".join(lines)

    def _others_here(self, room: Room, viewer: Player) -> str:
        """describe_room's "Alice, Bob and 210 others are here." line for ``viewer`` ("": none).

        It names only the first ROOM_LIST_LIMIT others, so a look in a room
        of 220 reads those few and the count, never the whole list, and
        reuses the line while those names and the count are unchanged (a
        viewer among the first few gets a line of their own). A connected
        player is in ``room.players`` exactly when their location is the room.
        """
        players = room.players
        head = players[: ROOM_LIST_LIMIT + 1]
        if viewer in head or viewer.location is not room:
            others = [p for p in head if p is not viewer][:ROOM_LIST_LIMIT]
            count = len(players) - (1 if viewer in head else 0)
            return _others_line([p.name for p in others], count)
        names = tuple([p.name for p in head[:ROOM_LIST_LIMIT]])
        count = len(players) - 1
        cached = self._others_cache.get(room.id)
        if cached is not None and cached[1] == count and cached[0] == names:
            return cached[2]
        line = _others_line(list(names), count)
        self._others_cache[room.id] = (names, count, line)
        return line

    def who_text(self, viewer: Player | None = None) -> str:
        """The ``who`` listing as ``viewer`` sees it.

        Rooms are shown to admins, and to everyone for players who chose
        ``set where visible``. The sorted list is cached until someone logs
        in or out; rooms are looked up per call (they change with every step).
        """
        cached = self._who_cache
        if cached is not None and cached[0] == self._online_version:
            players = cached[1]
        else:
            players = self.who_online()
            self._who_cache = (self._online_version, players)
        count = len(players)
        if not count:
            return "{bold}Nobody is online.{/}"
        heading = f"{{bold}}{plural(count, 'player')} online:{{/}}"
        admin = viewer is not None and viewer.admin
        names = []
        for p in players[:WHO_LIST_LIMIT]:
            # "Alice (admin) (The Inn)" on a screen; "Alice, admin, in The Inn" read aloud.
            entry = p.name + (markup.alt(" {yellow}(admin){/}", ", admin") if p.admin else "")
            if p.location is not None and (admin or self.where_visible(p)):
                where = markup.strip(p.location.name)
                entry += markup.alt(f" {{dim}}({p.location.name}){{/}}", f", in {where}")
            names.append(entry)
        text = heading + "\n" + ", ".join(names)
        if count > WHO_LIST_LIMIT:
            text += (
                f", and {count - WHO_LIST_LIMIT} more. Type 'who <name>' to look for someone."
            )
        return text

    @staticmethod
    def where_visible(player: Player) -> bool:
        """True if ``player`` lets others see which room they are in (``set where``)."""
        return player.settings.get("where") == "visible"

    # -- lookups for verbs and the website ----------

    def is_command_word(self, word: str) -> bool:
        """Whether players type ``word`` as a command: a verb, an alias or a direction.

        No new character may be named so: "look" as a name would make every
        sentence about them read like an instruction, and a login dialogue
        could not tell the two apart.
        """
        word = name_key(word)
        return (
            self.verbs.lookup(word) is not None
            or self.verbs.lookup("@" + word) is not None
            or word in OPPOSITES
        )

    def find_online(self, query: str) -> list[Player]:
        """Connected players whose name is ``query`` or starts with it."""
        q = query.lower()
        exact = self.online.get(q)
        if exact is not None:
            return [exact]
        return sorted((p for k, p in self.online.items() if k.startswith(q)), key=lambda p: p.key)

    def player_info(self, name: str) -> PlayerInfo | None:
        """A player's public information, online or not (None: no such player).

        A banned player's is None too: their homepage is hidden while the
        ban lasts (it may hold what they were banned for) and back, unchanged,
        when it is lifted.
        """
        key = name_key(name)
        if self.bans.account(key) is not None:
            return None
        player = self._player(key)
        if player is None:
            return None
        # Where someone is stays private unless they chose 'set where visible'.
        room = self.rooms.get(player.room_id or "") if self.where_visible(player) else None
        return PlayerInfo(
            name=player.name,
            online=player.online,
            room_id=room.id if room else None,
            room_name=room.name if room else None,
            last_seen=player.last_seen,
            homepage=player.homepage,
            homepage_updated=player.homepage_updated,
        )

    def map_rooms(self) -> list[RoomInfo]:
        """Every room with its exits, number, area and environment, for drawing a map."""
        number = self.room_numbers.number
        return [
            RoomInfo(
                room.id,
                room.name,
                room.outdoor,
                {name: e.destination for name, e in room.exits.items()},
                number(room.id),
                self.room_area(room),
                self.room_environment(room),
            )
            for room in self.rooms.values()
        ]

    def who_online(self) -> list[Player]:
        """Connected players, sorted by name."""
        return sorted(self.online.values(), key=lambda p: p.key)

    def counts(self) -> Counts:
        return Counts(len(self.rooms), self.store.count_accounts(), len(self.online))

    def mail_address(self, player: Player | str) -> str:
        name = player.name if isinstance(player, Player) else player
        return f"{name.lower()}@{self.mail_domain}"

    def homepage_url(self, player: Player | str) -> str | None:
        if self.web_url is None:
            return None
        name = player.name if isinstance(player, Player) else player
        return f"{self.web_url}/~{name.lower()}"

    def subscribe(self, callback: Callable[[str, str | None], None]) -> None:
        """Call ``callback(topic, key)`` on changes: ``online``, ``player``, ``world``."""
        self._watchers.append(callback)

    def changed(self, topic: str, key: str | None) -> None:
        """Tell subscribers about a change (the world's methods and the verbs call it)."""
        for watcher in self._watchers:
            try:
                watcher(topic, key)
            except Exception:
                log.exception("world watcher %r failed", watcher)

    # -- persistence ----------

    def mark_dirty(self, player: Player) -> None:
        """Have the next checkpoint save this player's position and settings."""
        self._dirty_players.add(player)

    def set_homepage(self, player: Player, text: str) -> None:
        """Save a homepage durably (committed on return), then update memory."""
        now = self.wall()
        self.store.set_homepage(player.key, text, now)
        player.homepage = text
        player.homepage_updated = now
        self.changed("player", player.key)

    def checkpoint(self, only: Iterable[Player] | None = None) -> None:
        """Save changed positions, inventories and logins in one transaction.

        ``only`` limits the players saved to those (still dirty) among them;
        items and logins are always saved.
        """
        if (
            not self._dirty_players
            and not self._dirty_items
            and not self._logins
            and not self._dirty_states
        ):
            return
        if only is None:
            players = list(self._dirty_players)
        else:
            players = [p for p in only if p in self._dirty_players]
        items = list(self._dirty_items)
        logins = list(self._logins.items())
        states = list(self._dirty_states)
        now = self.wall()
        rows = []
        for player in players:
            if player.online:
                player.last_seen = now
            rows.append((player.key, player.room_id, player.settings, player.last_seen))
        item_rows = [(i.id, *where) for i in items if (where := _position(i)) is not None]
        started = time.perf_counter()
        try:
            self.store.checkpoint(
                players=rows,
                items=item_rows,
                logins=logins,
                states=[(t.kind, t.id, t.closed, t.locked) for t in states],
            )
        except Exception as exc:
            log.exception("checkpoint failed; will retry")
            self._checkpointed(time.perf_counter() - started, exc)
            return
        self._checkpointed(time.perf_counter() - started, None)
        self._dirty_players.difference_update(players)
        self._dirty_items.difference_update(items)
        self._dirty_states.difference_update(states)
        for key, when in logins:
            if self._logins.get(key) == when:
                del self._logins[key]
        for player in players:
            # Nothing refers to a saved offline player without items: let it go.
            if not player.online and not player.inventory and player not in self._dirty_players:
                if self.players.get(player.key) is player:
                    del self.players[player.key]

    def _checkpointed(self, seconds: float, error: BaseException | None) -> None:
        """Tell :attr:`on_checkpoint` how a checkpoint went (metrics and /healthz listen)."""
        if self.on_checkpoint is not None:
            try:
                self.on_checkpoint(seconds, error)
            except Exception:
                log.exception("on_checkpoint failed")

    def save_all(self) -> None:
        """Save every connected player and every changed item."""
        self._dirty_players.update(self.online.values())
        self.checkpoint()

    # -- ticks ----------

    def start(self) -> None:
        """Start the ticks: behaviours (NPCs), day and night, checkpoints."""
        if self.running:
            return
        self.running = True
        self._start_behaviours()
        self.ticks.start()

    def stop(self) -> None:
        """Cancel the ticks and save everything."""
        self.running = False
        self._stop_behaviours()
        self.ticks.stop()
        self.save_all()
        self.channels.flush()

    @property
    def online_version(self) -> int:
        """A number that changes whenever a player connects, disconnects or is taken over."""
        return self._online_version

    def dirty_players(self) -> list[Player]:
        """Players with changes the next checkpoint will save."""
        return list(self._dirty_players)

    def behaviours(self) -> Iterator[Behaviour]:
        """Every behaviour in the world: rooms', items' and NPCs'."""
        for things in (self.rooms.values(), self.items.values(), self.npcs.values()):
            for thing in things:
                yield from thing.behaviours

    def _start_behaviours(self) -> None:
        for behaviour in self.behaviours():
            try:
                behaviour.start()
            except Exception:
                log.exception("behaviour %r of %r failed to start", behaviour.name, behaviour.owner)

    def _stop_behaviours(self) -> None:
        for behaviour in self.behaviours():
            behaviour.stop()


def _position(item: Item) -> tuple[str, str] | None:
    """Where an item is, as the store keeps it: ``(kind, id)``."""
    holder = item.location
    if isinstance(holder, Room):
        return ("room", holder.id)
    if isinstance(holder, Player):
        return ("player", holder.key)
    if isinstance(holder, Item):
        return ("item", holder.id)
    if isinstance(holder, Npc):
        return ("npc", holder.id)
    return None


def _destination_name(rooms: dict[str, Room], way: Exit) -> str:
    """The name of the room ``way`` leads to, as plain text ("" if it leads nowhere known)."""
    room = rooms.get(way.destination)
    return markup.strip(room.name) if room is not None else ""


def _exit_label(way: Exit) -> str:
    """An exit as the room lists it: ``down``, or ``down (closed trapdoor)``."""
    door = way.door
    if door is None or not door.closed:
        return way.name
    return f"{way.name} (closed {door.name})"


def _shut(thing: Door | Item) -> str:
    """The veto of a closed door or lid: "The trapdoor is locked." / "The chest is closed."."""
    return f"{thing.The()} is {'locked' if thing.locked else 'closed'}."


def _holding(holder: Any) -> list[Any]:
    """The list a holder keeps things in: a room's contents, an inventory, a box."""
    if isinstance(holder, Room | Item):
        return holder.contents
    return holder.inventory


def _ask(behaviour: Behaviour, hook: str, h: Happening) -> Any:
    """Call one hook of a behaviour; a failing hook is logged, and counts as silent."""
    try:
        return getattr(behaviour, hook)(h)
    except Exception:
        log.exception("hook %s of behaviour %r on %r failed", hook, behaviour.name, h.owner)
        return None


def apply_attributes(thing: Any, attributes: dict[str, Any]) -> None:
    """Set attributes a builder changed (``@set``, ``@rename``) on a live thing."""
    for key, value in attributes.items():
        if key == "name":
            thing.rename(value)
        elif key == "aliases":
            thing.rename(thing.name, tuple(value))
        elif key == "key":
            thing.key = value or None
        elif hasattr(thing, key):
            setattr(thing, key, value)
    if getattr(thing, "locked", False):
        thing.closed = True


def _others_line(names: list[str], count: int) -> str:
    """ "A, B and N others are here." for the first ``names`` of ``count`` others ("": none)."""
    if count <= 0:
        return ""
    if count > len(names):
        names = [*names, plural(count - len(names), "other")]
    verb = "is" if count == 1 else "are"
    return f"{{cyan}}{name_list(names)} {verb} here.{{/}}"
