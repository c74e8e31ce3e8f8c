"""The builders' (admins') verbs.

Making: @dig, @open, @create. Changing: @describe, @rename, @set.
Removing: @destroy, @unlink. Looking: @examine. Running: @teleport,
@load, @kick, @shutdown.

Registered by :mod:`reality.game.commands` (``_register_defaults``); every
one is ``admin=True`` and writes to the audit log. Whatever a builder
changes is committed by the store before the builder is told, and is laid
over the world file on every later load (``@load`` and restarts), so a
world file's thing that was renamed stays renamed and one destroyed stays
destroyed; ``reality export-world`` writes it all back out as a world file.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
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

#: Aliases one thing may have (``@set <thing> aliases = ...``).
MAX_ALIASES = 20


def _held_items(holder_contents: list[Any]) -> list[Item]:
    """Every item in ``holder_contents`` and, at any depth, inside the containers among them."""
    found: list[Item] = []
    todo = [t for t in holder_contents if isinstance(t, Item)]
    while todo and len(found) < 10_000:
        item = todo.pop(0)
        found.append(item)
        todo.extend(item.contents)
    return found


def _built_target(ctx: Context, query: str, *, exits: bool = False, people: bool = False) -> Any:
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
    target = _built_target(ctx, args, exits=True, people=True)
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
    target = _built_target(ctx, query, exits=True, people=True)
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


# -- @set ----------

#: What ``@set`` can change, by kind: the world file's keys.
SETTABLE: dict[str, tuple[str, ...]] = {
    "item": (
        "name",
        "description",
        "aliases",
        "fixed",
        "container",
        "closed",
        "locked",
        "key",
        "text",
    ),
    "npc": ("name", "description", "aliases"),
    "door": ("name", "description", "aliases", "closed", "locked", "key"),
    "room": ("name", "description", "aliases", "outdoor", "night"),
}

#: The words YAML 1.1 (and so a world file) reads as true and false.
_TRUE = frozenset({"true", "yes", "on"})
_FALSE = frozenset({"false", "no", "off"})

_SET_USAGE = "Usage: @set <thing> <attribute> = <value>  (@examine <thing> lists them)"


def _boolean(attribute: str, value: str) -> bool:
    word = value.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise Refusal(f"{attribute} is true or false, not '{markup.escape(value.strip()[:40])}'.")


def _text_value(attribute: str, value: str) -> str:
    """A text attribute (description, text, night): markup checked, length bounded."""
    value = value.strip()
    if len(value) > MAX_DESCRIPTION:
        raise Refusal(f"That {attribute} is too long (at most {MAX_DESCRIPTION} characters).")
    _check_markup(value)
    return value


def _split_set(args: str) -> tuple[str, str, str]:
    """``"oak chest closed = true"`` -> ``("oak chest", "closed", "true")``."""
    left, sep, value = args.partition("=")
    words = left.split()
    if not sep or len(words) < 2:
        raise Refusal(_SET_USAGE)
    return " ".join(words[:-1]), words[-1].lower(), value


def set_attribute(ctx: Context, args: str) -> None:
    """``@set <thing> <attribute> = <value>``: the world file's attributes, changed in the game.

    Values are read as the world file reads them: ``true``/``false``
    (``yes``/``no``, ``on``/``off``), comma-separated aliases, a key as an
    item's id (``none`` for no key). What is set is saved before the admin
    is told, and wins over the world file on every later load.
    """
    query, attribute, value = _split_set(args)
    target = _built_target(ctx, query, exits=True, people=True)
    kind = _thing_kind(target)
    allowed = SETTABLE[kind]
    if attribute not in allowed:
        raise Refusal(
            f"{'A room' if kind == 'room' else capitalize(target.a())} has no attribute"
            f" '{markup.escape(attribute[:40])}'. Its attributes: {', '.join(allowed)}."
        )
    reply = _SETTERS[attribute](ctx, target, kind, value)
    ctx.world.changed("world", None)
    ctx.tell(reply)
    _audit(
        ctx,
        "admin.set",
        target=f"{kind}:{target.id}",
        attribute=attribute,
        value=excerpt(value.strip(), 80),
    )


def _set_name(ctx: Context, target: Any, kind: str, value: str) -> str:
    return _rename(ctx, target, value)


def _set_description(ctx: Context, target: Any, kind: str, value: str) -> str:
    text = _text_value("description", value)
    if kind == "door":
        # Doors have no row of their own for descriptions: the change is theirs.
        ctx.world.store.change_thing(kind, target.id, {"description": text})
    else:
        # As @describe does, so the two never disagree about which is newer.
        ctx.world.store.set_description(kind, target.id, text)
    target.description = text
    return f"You describe {_label(target)}."


def _set_aliases(ctx: Context, target: Any, kind: str, value: str) -> str:
    aliases = [a for a in (" ".join(part.split()) for part in value.split(",")) if a]
    if len(aliases) > MAX_ALIASES:
        raise Refusal(f"That is too many aliases (at most {MAX_ALIASES}).")
    aliases = [_plain_name(a, "alias") for a in aliases]
    ctx.world.store.change_thing(kind, target.id, {"aliases": aliases})
    target.rename(target.name, tuple(aliases))
    shown = ", ".join(aliases) if aliases else "none"
    return f"{capitalize(_label(target))} now also answers to: {shown}."


def _set_flag(attribute: str) -> Callable[[Context, Any, str, str], str]:
    """A setter for a plain true/false attribute (``fixed``, ``outdoor``)."""

    def setter(ctx: Context, target: Any, kind: str, value: str) -> str:
        flag = _boolean(attribute, value)
        ctx.world.store.change_thing(kind, target.id, {attribute: flag})
        setattr(target, attribute, flag)
        return f"{capitalize(_label(target))}: {attribute} is now {'true' if flag else 'false'}."

    return setter


def _set_container(ctx: Context, target: Any, kind: str, value: str) -> str:
    flag = _boolean("container", value)
    if flag:
        ctx.world.store.change_thing(kind, target.id, {"container": True})
        target.container = True
        return f"{capitalize(_label(target))} is now a container."
    if target.contents:
        raise Refusal(f"{target.The()} holds things: take them out first.")
    # Only a container can be closed, locked or have a key (as in a world file).
    ctx.world.store.change_thing(kind, target.id, {"container": False, "key": None})
    target.container = False
    target.key = None
    _save_state(ctx, target, closed=False, locked=False)
    return f"{capitalize(_label(target))} is no longer a container."


def _openable_target(target: Any, attribute: str) -> Door | Item:
    if isinstance(target, Item) and not target.container:
        raise Refusal(
            f"Only a container can have '{attribute}': @set {target.id} container = true first."
        )
    if not isinstance(target, Door | Item):
        raise Refusal(f"Only doors and containers have '{attribute}'.")
    return target


def _save_state(ctx: Context, thing: Door | Item, *, closed: bool, locked: bool) -> None:
    """Set a door's or lid's state and save it now (the admin is told after)."""
    thing.closed, thing.locked = closed or locked, locked
    ctx.world.store.checkpoint(states=[(thing.kind, thing.id, thing.closed, thing.locked)])


def _set_closed(ctx: Context, target: Any, kind: str, value: str) -> str:
    thing = _openable_target(target, "closed")
    closed = _boolean("closed", value)
    # Open means unlocked too; closing keeps a lock as it was (unlocked).
    _save_state(ctx, thing, closed=closed, locked=thing.locked and closed)
    return f"{capitalize(_label(thing))} is now {'closed' if closed else 'open'}."


def _set_locked(ctx: Context, target: Any, kind: str, value: str) -> str:
    thing = _openable_target(target, "locked")
    locked = _boolean("locked", value)
    # Locked means closed; unlocking leaves it closed.
    _save_state(ctx, thing, closed=thing.closed or locked, locked=locked)
    return f"{capitalize(_label(thing))} is now {'closed and locked' if locked else 'unlocked'}."


def _set_key(ctx: Context, target: Any, kind: str, value: str) -> str:
    thing = _openable_target(target, "key")
    key_id = value.strip()
    if key_id.lower() in ("", "none", "null", "~"):
        ctx.world.store.change_thing(kind, thing.id, {"key": None})
        thing.key = None
        return f"No key fits {_label(thing)} now."
    key = ctx.world.items.get(key_id)
    if key is None:
        raise Refusal(
            f"There is no item with the id '{markup.escape(key_id[:60])}'"
            " (a key is an item's id: @examine the key to see it)."
        )
    ctx.world.store.change_thing(kind, thing.id, {"key": key.id})
    thing.key = key.id
    return f"{key.The()} ({key.id}) is now the key of {_label(thing)}."


def _set_text(ctx: Context, target: Any, kind: str, value: str) -> str:
    text = _text_value("text", value)
    ctx.world.store.change_thing(kind, target.id, {"text": text})
    target.text = text
    label = capitalize(_label(target))
    return f"{label} now reads: {text}" if text else f"{label} is blank now."


def _set_night(ctx: Context, target: Any, kind: str, value: str) -> str:
    text = _text_value("night description", value) or None
    # The live attribute's name, so the world applies it on loading as it is.
    ctx.world.store.change_thing(kind, target.id, {"night_description": text})
    target.night_description = text
    return f"You describe {_label(target)} by night." if text else (
        f"{capitalize(_label(target))} looks the same by night now."
    )


_SETTERS: dict[str, Callable[[Context, Any, str, str], str]] = {
    "name": _set_name,
    "description": _set_description,
    "aliases": _set_aliases,
    "fixed": _set_flag("fixed"),
    "outdoor": _set_flag("outdoor"),
    "container": _set_container,
    "closed": _set_closed,
    "locked": _set_locked,
    "key": _set_key,
    "text": _set_text,
    "night": _set_night,
}


# -- @examine ----------


def examine(ctx: Context, args: str) -> None:
    """``@examine <thing>`` (or ``here``): its id, where it is, every attribute, its behaviours."""
    if not args.strip():
        raise Refusal("Usage: @examine <thing>  (or @examine here)")
    target = _built_target(ctx, args, exits=True, people=True)
    if isinstance(target, Exit):
        lines = _examine_exit(ctx.room, target)
    elif isinstance(target, Player):
        lines = _examine_player(target)
    else:
        lines = _examine_thing(ctx.world, target)
    ctx.tell("\n".join(lines))


def _shown(value: Any) -> str:
    """An attribute's value as a builder reads it: markup shown as typed, not rendered."""
    if value is None or value == "":
        return "{dim}(none){/}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return markup.escape(", ".join(str(v) for v in value)) if value else "{dim}(none){/}"
    return markup.escape(str(value))


def _where(holder: Any) -> str:
    """Where something is, with ids: "in the room The Cellar (cellar)"."""
    if holder is None:
        return "nowhere"
    if isinstance(holder, Room):
        return f"in the room {holder.name} ({holder.id})"
    if isinstance(holder, Player):
        return f"carried by {holder.name} (player {holder.key})"
    if isinstance(holder, Npc):
        return f"given to {holder.name} (npc {holder.id})"
    return f"inside {holder.the()} (item {holder.id})"


def _params(behaviour: Any) -> str:
    params = behaviour.params()
    if not params:
        return behaviour.name
    shown = ", ".join(
        f"{key}: {json.dumps(value, ensure_ascii=False)}" for key, value in params.items()
    )
    return f"{behaviour.name} {{{{{markup.escape(shown)}}}"


def _examine_thing(world: WorldView, thing: Any) -> list[str]:
    kind = _thing_kind(thing)
    lines = [f"{{bold}}{markup.escape(thing.name)}{{/}}: {kind} {markup.escape(thing.id)}"]
    if isinstance(thing, Door):
        lines.append("Between: " + ", ".join(thing.rooms))
    elif isinstance(thing, Item | Npc):
        lines.append("Where: " + _where(thing.location))
        if thing.home is not None:
            lines.append(f"World-file place: {markup.escape(thing.home)}")
        elif isinstance(thing, Item):
            lines.append("World-file place: (none: built in the game)")
    for attribute in SETTABLE[kind]:
        value = {"night": "night_description"}.get(attribute, attribute)
        lines.append(f"{attribute}: {_shown(getattr(thing, value, None))}")
    if isinstance(thing, Item) and thing.container:
        inside = [f"{i.name} ({i.id})" for i in thing.contents]
        lines.append(f"Contents: {_shown(inside)}")
    if isinstance(thing, Npc):
        lines.append(f"Carries: {_shown([f'{i.name} ({i.id})' for i in thing.inventory])}")
    if isinstance(thing, Room):
        for way in thing.exits.values():
            lines.append("Exit " + _exit_line(way))
        things = [f"{t.name} ({t.kind} {t.id})" for t in thing.contents]
        lines.append(f"Here: {_shown(things)}")
        lines.append(f"Players: {_shown([p.name for p in thing.players])}")
    if isinstance(thing, Item | Door):
        opened = [t for t in (*world.doors.values(), *world.items.values()) if t.key == thing.id]
        if opened:
            lines.append(f"Key of: {_shown([f'{t.name} ({t.id})' for t in opened])}")
    behaviours = [_params(b) for b in thing.behaviours]
    lines.append("Behaviours: " + ("; ".join(behaviours) if behaviours else "{dim}(none){/}"))
    return lines


def _exit_line(way: Exit) -> str:
    line = f"{markup.escape(way.name)} -> {markup.escape(way.destination)}"
    if way.aliases:
        line += f" (aliases: {markup.escape(', '.join(way.aliases))})"
    door = way.door
    if door is not None:
        state = "locked" if door.locked else "closed" if door.closed else "open"
        key = f", key {markup.escape(door.key)}" if door.key else ""
        line += f", door {markup.escape(door.id)} ({state}{key})"
    return line


def _examine_exit(room: Room, way: Exit) -> list[str]:
    return [
        f"{{bold}}{markup.escape(way.name)}{{/}}: exit of {room.id}",
        "To: " + markup.escape(way.destination),
        f"aliases: {_shown(way.aliases)}",
        f"description: {_shown(way.description)}",
        f"leave: {_shown(way.leave)}",
        f"arrive: {_shown(way.arrive)}",
        "Door: " + (_exit_line(way).partition(", door ")[2] or "{dim}(none){/}"),
    ]


def _examine_player(player: Player) -> list[str]:
    return [
        f"{{bold}}{player.name}{{/}}: player {player.key}"
        + (" {yellow}(admin){/}" if player.admin else ""),
        "Where: " + _where(player.location),
        f"description: {_shown(player.description)}",
        f"Carries: {_shown([f'{i.name} ({i.id})' for i in player.inventory])}",
    ]
