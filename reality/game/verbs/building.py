"""The builders' (admins') verbs.

Making: @dig, @open, @create. Changing: @describe, @rename. Removing:
@destroy, @unlink. Running: @teleport, @load, @kick, @shutdown. (@set and
@examine, which read and write attributes, are in
:mod:`reality.game.verbs.attributes`.)

Registered by :mod:`reality.game.commands` (``_register_defaults``); every
one is ``admin=True`` and writes to the audit log. Whatever a builder
changes is committed by the store before the builder is told, and is laid
over the world file on every later load (``@load`` and restarts), so a
world file's thing that was renamed stays renamed and one destroyed stays
destroyed; ``reality export-world`` writes it all back out as a world file.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from reality.audit import audit
from reality.game import markup
from reality.game.loader import (
    EXIT_PATTERN,
    WorldDefinition,
    WorldFileError,
    WorldFileRefused,
    excerpt,
)
from reality.game.store import BuiltExit, BuiltItem, BuiltRoom
from reality.game.things import (
    OPPOSITES,
    Door,
    Exit,
    Item,
    Npc,
    Openable,
    Player,
    Room,
    capitalize,
    expand_direction,
    name_list,
    plural,
)
from reality.game.verbs.core import (
    MAX_CARRIED,
    MAX_DESCRIPTION,
    Ambiguous,
    Context,
    Refusal,
    WorldView,
    _check_markup,
    _connected,
    _find_exit,
    _find_target,
    _plain_name,
    doors_of,
    normalize,
)

log = logging.getLogger(__name__)

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


_DIG_USAGE = "Usage: @dig <exit> <room name>, e.g. @dig north The Tower"


def _exit_name(ctx: Context, words: str) -> str:
    """A new exit's name as typed: lower case, single spaces, checked; refused if taken here."""
    way = expand_direction(" ".join(words.lower().split()))
    if not EXIT_PATTERN.match(way):
        raise Refusal(
            "An exit name is one or a few words in lower-case letters"
            " (at most 32 characters, starting with a letter)."
        )
    if way in ctx.room.exits or _find_exit(ctx.room, way) is not None:
        raise Refusal(f"There is already a way {way} here.")
    return way


def dig(ctx: Context, args: str) -> None:
    """``@dig north The Tower`` or ``@dig red door = The Vault``: a new room, and a way back."""
    world = ctx.world
    room = ctx.room
    if "=" in args:
        way, _, name = args.partition("=")
    else:
        way, _, name = args.strip().partition(" ")
    if not way.strip() or not name.strip():
        raise Refusal(_DIG_USAGE)
    way = _exit_name(ctx, way)
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
    world.room_number(new_room)  # its number for mappers, from now on
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
    world.move(item, player, actor=player, buffer=ctx.buffer, action="create", check=False)
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
    world.move(
        traveller,
        destination,
        buffer=ctx.buffer,
        action="teleport",
        leave=leave,
        arrive=arrive,
        check=False,  # an admin's teleport passes every door
    )
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
        audit(
            "admin.load",
            who=player.name,
            address=getattr(player.session, "peer_host", None),
            target=path,
            result=outcome,
        )
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
    try:
        world.load(result)
    except WorldFileError as error:
        # The world's behaviour modules or parameters: checked as it loads.
        lines = ["{red}The world file has errors; nothing was changed:{/}"]
        lines.extend(markup.escape(line) for line in error.lines(MAX_LOAD_ERRORS_SHOWN))
        return "\n".join(lines)
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


# -- changing what the world file made ----------

def _held_items(holder_contents: list[Any]) -> list[Item]:
    """Every item in ``holder_contents`` and, at any depth, inside the containers among them."""
    found: list[Item] = []
    todo = [t for t in holder_contents if isinstance(t, Item)]
    while todo and len(found) < 10_000:
        item = todo.pop(0)
        found.append(item)
        todo.extend(item.contents)
    return found


def built_target(ctx: Context, query: str, *, exits: bool = False, people: bool = False) -> Any:
    """What a builder's verb names: ``here``, or a thing, NPC or door here or carried.

    Items inside containers (open or not) count as here. A name that fits
    nothing here is tried as an id anywhere in the world (``@examine
    iron_key``), so a builder can reach what they cannot see.
    """
    query = query.strip()
    if not query:
        raise Refusal("Which one? Give a name, an id, or 'here'.")
    room = ctx.room
    if normalize(query) in ("here", "room"):
        return room
    if exits:
        way = _find_exit(room, normalize(query))
        if way is not None:
            return way
    candidates: list[Any] = [
        *_held_items(room.contents),
        *[t for t in room.contents if isinstance(t, Npc)],
        *_held_items(ctx.player.inventory),
        *doors_of(room),
    ]
    if people:
        candidates.extend(room.players)
    if exits:
        candidates.extend(room.exits.values())
    world = ctx.world
    try:
        return ctx.find(query, candidates)
    except Ambiguous:
        raise
    except Refusal:
        for things in (world.items, world.npcs, world.doors, world.rooms):
            thing = things.get(query)
            if thing is not None:
                return thing
        raise Refusal(
            f"There is no '{markup.escape(query)}' here, and no thing has that id."
        ) from None


def _thing_kind(target: Any) -> str:
    """``item``, ``npc``, ``door`` or ``room``: what the store calls a builder's target."""
    if isinstance(target, Room | Item | Npc | Door):
        return str(target.kind)
    if isinstance(target, Exit):
        raise Refusal(
            "An exit is changed with @describe, or replaced with @unlink and @open."
        )
    if isinstance(target, Player):
        raise Refusal("Players are not built: they change themselves.")
    raise Refusal("That cannot be changed.")


def _label(target: Any) -> str:
    """How a builder's reply names a target: "the oak chest (chest)"."""
    if isinstance(target, Room):
        return f"{target.name} ({target.id})"
    return f"{target.the()} ({target.id})"


def _keys_of(world: WorldView, item: Item) -> list[Openable]:
    """The doors and containers ``item`` is the key of."""
    things: list[Openable] = [*world.doors.values(), *world.items.values()]
    return [thing for thing in things if thing.key == item.id and thing is not item]


def destroy(ctx: Context, args: str) -> None:
    """``@destroy <thing>``: an item or NPC is gone for good (a world file's too, across restarts).

    What it held (a container's contents, an NPC's inventory) falls to the
    room. The store records the destruction before the admin is told.
    """
    if not args.strip():
        raise Refusal("Usage: @destroy <item or NPC>")
    world = ctx.world
    target = built_target(ctx, args, exits=True, people=True)
    if not isinstance(target, Item | Npc):
        what = "an exit" if isinstance(target, Exit) else f"a {target.kind}"
        raise Refusal(f"@destroy takes an item or an NPC, not {what}. (@unlink removes exits.)")
    if isinstance(target, Item):
        locks = _keys_of(world, target)
        if locks:
            names = name_list([t.the() for t in locks])
            raise Refusal(
                f"{target.The()} is the key of {names}: give {'it' if len(locks) == 1 else 'them'}"
                " another key first (@set <thing> key = <item id> or none)."
            )
        held: list[Item] = list(target.contents)
        holder = target.outermost()
    else:
        held = list(target.inventory)
        holder = target.location
    # Where what it held falls: the room it was in (or its holder's room).
    room = holder if isinstance(holder, Room) else getattr(holder, "location", None)
    if not isinstance(room, Room):
        room = ctx.room
    store = world.store
    with store.transaction():
        store.destroy(target.kind, target.id)
        store.checkpoint(items=[(i.id, "room", room.id) for i in held])
    for item in held:
        world.move(item, room, actor=ctx.player, buffer=ctx.buffer, action="drop", check=False)
    name = target.a()
    if isinstance(target, Npc):
        world.move(
            target,
            None,
            actor=ctx.player,
            buffer=ctx.buffer,
            action="destroy",
            check=False,
        )
        for behaviour in target.behaviours:
            behaviour.stop()
        world.npcs.pop(target.id, None)
    else:
        world.move(target, None, actor=ctx.player, buffer=ctx.buffer, action="destroy", check=False)
    spilled = f" {capitalize(name_list([i.a() for i in held]))} fall to the ground." if held else ""
    ctx.act(
        f"{ctx.player.name} points at {name}, and it is gone.{spilled}",
        f"You destroy {name} ({target.id}).{spilled}",
    )
    world.changed("world", None)
    _audit(ctx, "admin.destroy", target=f"{target.kind}:{target.id}")


def _rename(ctx: Context, target: Any, name: str) -> str:
    """Give ``target`` a new name, durably; the builder's reply."""
    kind = _thing_kind(target)
    name = _plain_name(name, kind)
    before = _label(target)
    ctx.world.store.change_thing(kind, target.id, {"name": name})
    target.rename(name)
    ctx.world.changed("world", None)
    if isinstance(target, Room):
        for player in target.players:
            ctx.world.send_room_info(player)
    return f"You rename {before}: it is now called {name}."


def rename(ctx: Context, args: str) -> None:
    """``@rename <thing> = <new name>``: a thing, an NPC, a door, or ``here``."""
    query, sep, name = args.partition("=")
    if not sep or not query.strip() or not name.strip():
        raise Refusal("Usage: @rename <thing> = <new name>  (or @rename here = <new name>)")
    target = built_target(ctx, query, exits=True, people=True)
    ctx.tell(_rename(ctx, target, name))
    _audit(ctx, "admin.rename", target=f"{target.kind}:{target.id}", name=name.strip())


def open_exit(ctx: Context, args: str) -> None:
    """``@open <exit name> = <room id>``: a one-way exit from here (a name of several words)."""
    words, sep, where = args.partition("=")
    if not sep or not words.strip() or not where.strip():
        raise Refusal("Usage: @open <exit name> = <room id>, e.g. @open red door = vault")
    world = ctx.world
    room = ctx.room
    way = _exit_name(ctx, words)
    destination = world.rooms.get(where.strip())
    if destination is None:
        destination = _find_room(ctx, where.strip())
    world.store.add_exit(room.id, way, destination.id)
    exit = Exit(way, destination.id)
    # A door is on every way between its two rooms, new ones too (as on loading).
    pair = {room.id, destination.id}
    for door in world.doors.values():
        if set(door.rooms) == pair:
            exit.door = door
    room.add_exit(exit)
    world.changed("world", None)
    ctx.act(
        f"{ctx.player.name} gestures, and a way {way} opens.",
        f"You open a way {way} to {destination.name} ({destination.id}). It is one-way:"
        " @open the way back from there if you want one.",
    )
    for other in room.players:
        world.send_room_info(other)
    _audit(ctx, "admin.open", room=room.id, exit=way, to=destination.id)


def unlink(ctx: Context, args: str) -> None:
    """``@unlink <exit>``: remove a way out of here (a world file's stays removed across loads)."""
    if not args.strip():
        raise Refusal("Usage: @unlink <exit>")
    world = ctx.world
    room = ctx.room
    way = _find_exit(room, normalize(args))
    if way is None:
        way = ctx.find(
            args,
            room.exits.values(),
            nothing=f"There is no way '{markup.escape(args.strip())}' here.",
        )
    world.store.unlink_exit(room.id, way.name)
    del room.exits[way.name]
    world.changed("world", None)
    ctx.act(
        f"{ctx.player.name} gestures, and the way {way.name} is gone.",
        f"You remove the way {way.name} (it led to {way.destination}).",
    )
    for other in room.players:
        world.send_room_info(other)
    _audit(ctx, "admin.unlink", room=room.id, exit=way.name, to=way.destination)
