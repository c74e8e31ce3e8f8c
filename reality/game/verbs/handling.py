"""The players' verbs for doors, containers and writing: open, close, lock,
unlock, put, read, and what ``look``/``examine`` say of a thing.

Every change of place goes through the world's one move primitive
(``world.move``) and every change of a door or lid through
``world.set_state``, so the things involved can veto ("The chest is
closed.") and their behaviours hear of it.
"""

from __future__ import annotations

import re
from typing import Any

from reality.game import markup
from reality.game.events import Event
from reality.game.things import Door, Item, Openable, Player, Thing, name_list
from reality.game.verbs.core import Context, Refusal, _visible, doors_of

__all__ = [
    "close",
    "describe_thing",
    "door_state",
    "lock",
    "open_",
    "put",
    "read",
    "unlock",
]


def describe_thing(thing: Thing) -> str:
    """What ``look at``/``examine`` shows of an item, an NPC or a door (markup)."""
    lines = [thing.description or f"You see nothing special about {thing.the()}."]
    if isinstance(thing, Door):
        lines.append(door_state(thing))
    elif isinstance(thing, Item):
        if thing.container:
            lines.append(contents_sentence(thing))
        if thing.text:
            lines.append(f"There is writing on {thing.the()}: type 'read {_word(thing)}'.")
    return "\n".join(lines)


def door_state(door: Door) -> str:
    """"The trapdoor is open." / "... closed." / "... closed and locked."."""
    if door.locked:
        return f"{door.The()} is closed and locked."
    return f"{door.The()} is {'closed' if door.closed else 'open'}."


def contents_sentence(box: Item) -> str:
    """What a container shows: closed, empty, or what is inside."""
    if box.closed:
        return f"{box.The()} is {'closed and locked' if box.locked else 'closed'}."
    if not box.contents:
        return f"{box.The()} is open and empty."
    return f"In {box.the()} you see {name_list([i.a() for i in box.contents])}."


def _word(thing: Thing) -> str:
    return thing.name.split()[-1].lower()


def _openable(ctx: Context, query: str, verb: str) -> Door | Item:
    """The door or container ``query`` names, here or carried."""
    if not query.strip():
        raise Refusal(f"{verb.capitalize()} what?")
    thing = ctx.find(query, [*_visible(ctx), *doors_of(ctx.room)])
    if isinstance(thing, Door) or (isinstance(thing, Item) and thing.container):
        return thing
    name = thing.name if isinstance(thing, Player) else thing.the()
    raise Refusal(f"You can't {verb} {name}.")


def _announce(ctx: Context, thing: Door | Item, to_others: str, to_actor: str, far: str) -> None:
    """The room sees it; for a door, the room on the other side hears ``far``."""
    ctx.act(to_others, to_actor)
    if isinstance(thing, Door):
        for room in ctx.world.door_rooms(thing):
            if room is not ctx.room:
                ctx.emit(Event(room, far))


def open_(ctx: Context, args: str) -> None:
    thing = _openable(ctx, args, "open")
    if not thing.closed:
        raise Refusal(f"{thing.The()} is already open.")
    if thing.locked:
        raise Refusal(f"{thing.The()} is locked.")
    ctx.world.set_state(thing, ctx.player, "open", ctx.buffer)
    player = ctx.player
    to_actor = f"You open {thing.the()}."
    if isinstance(thing, Item):
        to_actor += " " + (
            f"Inside you see {name_list([i.a() for i in thing.contents])}."
            if thing.contents
            else "It is empty."
        )
    _announce(ctx, thing, f"{player.name} opens {thing.the()}.", to_actor, f"{thing.The()} opens.")


def close(ctx: Context, args: str) -> None:
    thing = _openable(ctx, args, "close")
    if thing.closed:
        raise Refusal(f"{thing.The()} is already closed.")
    ctx.world.set_state(thing, ctx.player, "close", ctx.buffer)
    _announce(
        ctx,
        thing,
        f"{ctx.player.name} closes {thing.the()}.",
        f"You close {thing.the()}.",
        f"{thing.The()} closes.",
    )


_WITH = re.compile(r"(.+?)\s+with\s+(.+)\Z", re.IGNORECASE)


def _key_for(ctx: Context, thing: Openable, key_query: str | None, verb: str) -> Item:
    """The key the player carries that fits ``thing`` (or the one they named)."""
    player = ctx.player
    if key_query is not None:
        key = ctx.find(
            key_query,
            player.inventory,
            nothing=f"You aren't carrying '{markup.escape(key_query.strip())}'.",
        )
        if thing.key is None or key.id != thing.key:
            raise Refusal(f"{key.The()} doesn't fit {thing.the()}.")
        return key
    if thing.key is None:
        raise Refusal(f"{thing.The()} has no lock you could {verb}.")
    for item in player.inventory:
        if item.id == thing.key:
            return item
    raise Refusal(f"You have no key that fits {thing.the()}.")


def _lock_args(args: str) -> tuple[str, str | None]:
    m = _WITH.match(args.strip())
    return (m.group(1), m.group(2)) if m else (args, None)


def unlock(ctx: Context, args: str) -> None:
    query, key_query = _lock_args(args)
    thing = _openable(ctx, query, "unlock")
    if not thing.locked:
        raise Refusal(f"{thing.The()} is not locked.")
    key = _key_for(ctx, thing, key_query, "unlock")
    ctx.world.set_state(thing, ctx.player, "unlock", ctx.buffer)
    _announce(
        ctx,
        thing,
        f"{ctx.player.name} unlocks {thing.the()}.",
        f"You unlock {thing.the()} with {key.the()}.",
        f"Something clicks in {thing.the()}.",
    )


def lock(ctx: Context, args: str) -> None:
    query, key_query = _lock_args(args)
    thing = _openable(ctx, query, "lock")
    if thing.locked:
        raise Refusal(f"{thing.The()} is already locked.")
    key = _key_for(ctx, thing, key_query, "lock")
    if not thing.closed:
        raise Refusal(f"Close {thing.the()} first.")
    ctx.world.set_state(thing, ctx.player, "lock", ctx.buffer)
    _announce(
        ctx,
        thing,
        f"{ctx.player.name} locks {thing.the()}.",
        f"You lock {thing.the()} with {key.the()}.",
        f"Something clicks in {thing.the()}.",
    )


_INTO = re.compile(r"(.+?)\s+(?:in|into|inside)\s+(.+)\Z", re.IGNORECASE)


def put(ctx: Context, args: str) -> None:
    m = _INTO.match(args.strip())
    if not m:
        raise Refusal("Put what in what? For example: put coin in chest.")
    player = ctx.player
    box = ctx.find(m.group(2), _visible(ctx))
    if not isinstance(box, Item):
        name = box.name if isinstance(box, Player) else box.the()
        raise Refusal(f"You can't put anything in {name}.")
    item = ctx.find(
        m.group(1),
        player.inventory,
        nothing=f"You aren't carrying '{markup.escape(m.group(1).strip())}'.",
    )
    ctx.world.move(item, box, actor=player, buffer=ctx.buffer, action="put")
    ctx.act(
        f"{player.name} puts {item.the()} in {box.the()}.",
        f"You put {item.the()} in {box.the()}.",
    )


def read(ctx: Context, args: str) -> None:
    if not args.strip():
        raise Refusal("Read what?")
    thing: Any = ctx.find(args, _visible(ctx))
    text = getattr(thing, "text", "")
    if not text:
        name = thing.name if isinstance(thing, Player) else thing.the()
        raise Refusal(f"There is nothing written on {name}.")
    ctx.tell(f"{thing.The()} reads:\n{text}")
