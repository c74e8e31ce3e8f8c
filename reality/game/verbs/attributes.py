"""The builders' verbs that read and write a thing's attributes: @set and @examine.

``@set`` changes what a world file says of a thing, with the world file's
own keys and values (:data:`SETTABLE`); the store commits the change
before the builder is told, and every later load lays it over the world
file. ``@examine`` shows a thing as a builder needs it: id, kind, where it
is, every attribute (markup shown as typed), doors on exits, behaviours
with their parameters. Both find their target as the other builder's
verbs do (:func:`reality.game.verbs.building.built_target`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from reality.game import markup
from reality.game.loader import excerpt
from reality.game.things import Door, Exit, Item, Npc, Player, Room, capitalize
from reality.game.verbs.building import _audit, _label, _rename, _thing_kind, built_target
from reality.game.verbs.core import (
    MAX_DESCRIPTION,
    Context,
    Refusal,
    WorldView,
    _check_markup,
    _plain_name,
)

__all__ = ["SETTABLE", "examine", "set_attribute"]

#: Aliases one thing may have (``@set <thing> aliases = ...``).
MAX_ALIASES = 20

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
    target = built_target(ctx, query, exits=True, people=True)
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
    target = built_target(ctx, args, exits=True, people=True)
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
