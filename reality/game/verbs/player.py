"""The players' verbs: looking, moving, talking, things, settings, homepages, help.

Registered by :mod:`reality.game.commands` (``_register_defaults``).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from reality.game import markup
from reality.game.events import Event
from reality.game.help import BUILTIN_TOPICS, HelpIndex, parse_query
from reality.game.things import (
    Exit,
    Item,
    Npc,
    Player,
    name_list,
    plural,
)
from reality.game.verbs.core import (
    MAX_CARRIED,
    MAX_HOMEPAGE,
    MAX_SAY,
    Context,
    Refusal,
    VerbRegistry,
    _connected,
    _find_target,
    _visible,
    offered_verbs,
)
from reality.game.verbs.handling import describe_thing, door_state

log = logging.getLogger(__name__)

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
        if target.door is not None:
            text += "\n" + door_state(target.door)
        ctx.tell(text)
        return
    if isinstance(target, Player):
        ctx.tell(_describe_player(target, viewer=ctx.player))
        if target is not ctx.player:
            ctx.emit(Event(room, None, target=target, to_target=f"{ctx.player.name} looks at you."))
        return
    ctx.tell(describe_thing(target))


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


# -- talking ----------


def say(ctx: Context, args: str) -> None:
    if not args:
        raise Refusal("Say what?")
    text = markup.escape(args[:MAX_SAY])
    ctx.act(f'{ctx.player.name} says, "{text}"', f'You say, "{text}"')
    # NPCs and things here may answer (the respond behaviour), after the line.
    ctx.world.heard(ctx.room, ctx.player, args[:MAX_SAY], ctx.buffer)


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
    what = args.strip()
    if not what:
        raise Refusal("Get what?")
    m = _FROM.match(what)
    if m:
        _get_from(ctx, m.group(1), m.group(2))
        return
    if what.lower() == "all":
        portable = [t for t in room.contents if isinstance(t, Item) and not t.fixed]
        if not portable:
            raise Refusal("There is nothing here you can take.")
        if len(player.inventory) >= MAX_CARRIED:
            raise Refusal("You can't carry any more.")
        taken = _move_all(ctx, portable[: MAX_CARRIED - len(player.inventory)], player, "take")
    else:
        thing = ctx.find(what, _visible(ctx))
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
        ctx.world.move(thing, player, actor=player, buffer=ctx.buffer, action="take")
        taken = [thing]
    names = name_list([i.the() for i in taken])
    ctx.act(f"{player.name} picks up {names}.", f"You pick up {names}.")


_FROM = re.compile(r"(.+?)\s+(?:from|out of|in)\s+(.+)\Z", re.IGNORECASE)


def _get_from(ctx: Context, what: str, where: str) -> None:
    player = ctx.player
    box = ctx.find(where, _visible(ctx))
    if not isinstance(box, Item) or not box.container:
        raise Refusal(f"You can't take anything out of {_the(box)}.")
    if box.closed:
        raise Refusal(f"{box.The()} is closed.")
    if what.strip().lower() == "all":
        if not box.contents:
            raise Refusal(f"{box.The()} is empty.")
        if len(player.inventory) >= MAX_CARRIED:
            raise Refusal("You can't carry any more.")
        taken = _move_all(ctx, box.contents[: MAX_CARRIED - len(player.inventory)], player, "take")
    else:
        thing = ctx.find(
            what, box.contents, nothing=f"There is no '{markup.escape(what)}' in {box.the()}."
        )
        ctx.world.move(thing, player, actor=player, buffer=ctx.buffer, action="take")
        taken = [thing]
    names = name_list([i.the() for i in taken])
    ctx.act(
        f"{player.name} takes {names} from {box.the()}.", f"You take {names} from {box.the()}."
    )


def _move_all(ctx: Context, things: list[Item], to: Any, action: str) -> list[Item]:
    """Move each of ``things`` that nothing vetoes; a refusal only if none could move."""
    moved: list[Item] = []
    refusal: Refusal | None = None
    for item in list(things):
        try:
            ctx.world.move(item, to, actor=ctx.player, buffer=ctx.buffer, action=action)
        except Refusal as why:
            refusal = refusal or why
        else:
            moved.append(item)
    if not moved:
        raise refusal or Refusal("There is nothing to move.")
    return moved


def _the(thing: Any) -> str:
    return thing.name if isinstance(thing, Player) else thing.the()


def drop(ctx: Context, args: str) -> None:
    room = ctx.room
    player = ctx.player
    if not args.strip():
        raise Refusal("Drop what?")
    if args.strip().lower() == "all":
        if not player.inventory:
            raise Refusal("You are not carrying anything.")
        dropped = _move_all(ctx, player.inventory, room, "drop")
    else:
        thing = ctx.find(
            args,
            player.inventory,
            nothing=f"You aren't carrying '{markup.escape(args.strip())}'.",
        )
        ctx.world.move(thing, room, actor=player, buffer=ctx.buffer, action="drop")
        dropped = [thing]
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
    name = target.name if isinstance(target, Player) else target.the()
    # The event comes first: what the NPC says on receiving it follows.
    ctx.emit(
        Event(
            room,
            f"{player.name} gives {name} {item.the()}.",
            actor=player,
            to_actor=f"You give {item.the()} to {name}.",
            target=target,
            to_target=f"{player.name} gives you {item.the()}.",
        )
    )
    ctx.world.move(item, target, actor=player, buffer=ctx.buffer, action="give")


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
    # Text for a screen reader (docs/accessibility.md); auto: as the client says (MTTS/TTYPE).
    "screenreader": ("auto", "on", "off"),
}


def set_(ctx: Context, args: str) -> None:
    player = ctx.player
    key, _, value = args.strip().lower().partition(" ")
    value = value.strip()
    if key == "colour":
        key = "color"
    elif key in ("screen-reader", "screen_reader", "sr"):
        key = "screenreader"
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
            f"There is no setting '{markup.escape(key)}'."
            " Settings: color, brief, where, screenreader, width."
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
    if key == "screenreader":
        ctx.tell(
            "screenreader is now on: no colour, no decoration, exits with where they lead,"
            " tables read as lines, short prompts."
            if new == "on"
            else f"screenreader is now {new}"
            + (": as your client says." if new == "auto" else ".")
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
        stripped = line.rstrip("\r\n")
        command = stripped.strip()
        if command.startswith("..") or not command.startswith("."):
            self._add(ctx, stripped[1:] if command.startswith("..") else stripped)
            return
        # The editor set: its own commands, before any other verb.
        word, _, rest = command.partition(" ")
        verb = EDITOR_VERBS.lookup(word.lower()) or EDITOR_VERBS.lookup(".help")
        assert verb is not None
        verb.handler(ctx, rest)

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


def _editor(ctx: Context) -> HomepageEditor:
    editor = ctx.player.input_handler
    assert isinstance(editor, HomepageEditor)
    return editor


def _editor_save(ctx: Context, args: str) -> None:
    editor = _editor(ctx)
    ctx.player.input_handler = None
    _save_homepage(ctx, "\n".join(editor.lines).strip("\n"))


def _editor_abort(ctx: Context, args: str) -> None:
    ctx.player.input_handler = None
    ctx.tell("Homepage edit cancelled; nothing was changed.")


def _editor_list(ctx: Context, args: str) -> None:
    ctx.tell(_editor(ctx)._listing())


def _editor_preview(ctx: Context, args: str) -> None:
    text = "\n".join(_editor(ctx).lines).strip("\n")
    ctx.tell(
        "{dim}--- your homepage as it will be saved"
        f" ({plural(len(text), 'character')} of {MAX_HOMEPAGE}) ---{{/}}\n"
        + (markup.escape(text) if text else "(empty)")
        + "\n{dim}--- not saved yet: '.' saves, '.abort' cancels ---{/}"
    )


def _editor_delete(ctx: Context, args: str) -> None:
    editor = _editor(ctx)
    number = editor._line_number(args)
    del editor.lines[number - 1]
    editor._resize()
    ctx.tell(f"Line {number} deleted; {plural(len(editor.lines), 'line')} left.")


def _editor_replace(ctx: Context, args: str) -> None:
    editor = _editor(ctx)
    number_text, _, text = args.partition(" ")
    number = editor._line_number(number_text)
    old = editor.lines[number - 1]
    editor.lines[number - 1] = text
    if editor._resize() > MAX_HOMEPAGE:
        editor.lines[number - 1] = old
        editor._resize()
        raise Refusal(f"That would make the page too long (at most {MAX_HOMEPAGE} characters).")
    ctx.tell(f"Line {number} is now: {markup.escape(text)}")


def _editor_help(ctx: Context, args: str) -> None:
    ctx.tell(EDITOR_HELP)


def editor_verbs() -> VerbRegistry:
    """The editor set: the homepage editor's commands (any other '.word' shows the help)."""
    registry = VerbRegistry()
    r = registry.register
    r(".", _editor_save, usage=".", category="editor", help="Save the page and leave the editor.")
    r(
        ".abort",
        _editor_abort,
        usage=".abort",
        category="editor",
        help="Leave the editor without changing your homepage.",
    )
    r(".list", _editor_list, usage=".list", category="editor", help="Show the lines, numbered.")
    r(
        ".preview",
        _editor_preview,
        usage=".preview",
        category="editor",
        help="Show the page as it will be saved, before you save it.",
    )
    r(".delete", _editor_delete, usage=".delete N", category="editor", help="Remove line N.")
    r(
        ".replace",
        _editor_replace,
        usage=".replace N text",
        category="editor",
        help="Put 'text' in place of line N.",
    )
    r(".help", _editor_help, usage=".help", category="editor", help="Show the editor's commands.")
    return registry


#: The editor set (the same for every editor: its commands find their editor in the context).
EDITOR_VERBS = editor_verbs()


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

#: The built-in guides' texts by name (the world file may replace them: see reality.game.help).
TOPICS: dict[str, str] = {t.name: t.text for t in BUILTIN_TOPICS}

#: ``help homepage``: the homepage verb's own help.
HOMEPAGE_HELP = (
    "homepage            show your page's address and text\n"
    "homepage <markdown> replace it with one line of Markdown\n"
    "homepage edit       write several lines; a lone '.' saves, '.abort' cancels\n"
    "In the editor: .list shows the lines numbered, .replace N text changes line N,"
    " .delete N removes it, .preview shows the page before you save.\n"
    "TinTin++ keeps lines starting with '#' or '!' for itself and splits lines at ';':"
    " type \\# Title to send '# Title' (a Markdown heading) and \\; for a ';',"
    " or switch '#verbatim' on while you write."
)


def help_(ctx: Context, args: str) -> None:
    """``help``, ``help <topic>``, ``help search <words>`` (see :mod:`reality.game.help`)."""
    query = parse_query(args)
    if query.action == "refuse":
        raise Refusal(query.text)
    index = ctx.world.help
    admin = ctx.player.admin
    if query.action == "list":
        ctx.tell(_help_list(ctx, index, admin))
        return
    if query.action == "search":
        ctx.tell(_help_search(index, query.text, admin))
        return
    topic = query.text
    found = index.find(topic, admin=admin)
    near = [
        (owner, getattr(handler, "_reality_verb", None))
        for word, owner, handler in offered_verbs(ctx)
        if word == topic
    ]
    if near and not found.exact:
        # A verb a thing here gives, with its own help when the behaviour wrote one.
        spec = next((spec for _, spec in near if spec is not None), None)
        usage = spec.usage if spec is not None and spec.usage != spec.name else f"{topic} <thing>"
        lines = [f"{{bold}}{markup.escape(usage)}{{/}}"]
        lines.extend(dict.fromkeys(s.help for _, s in near if s is not None and s.help))
        owners = name_list(list(dict.fromkeys(owner.the() for owner, _ in near)), "or")
        lines.append(f"Something you can do here, with {owners}.")
        ctx.tell("\n".join(lines))
        return
    if found.entries:
        ctx.tell("\n\n".join(entry.render() for entry in found.entries))
        return
    if found.candidates:
        names = list(dict.fromkeys(e.name for e in found.candidates))
        more = len(names) - MAX_LISTED
        listed = name_list(names[:MAX_LISTED], "or") if more <= 0 else (
            ", ".join(names[:MAX_LISTED]) + f" or {more} more"
        )
        raise Refusal(f"Help on which: {markup.escape(listed)}? Type more of the name.")
    raise Refusal(
        f"There is no help on '{markup.escape(topic)}'. Type 'help' for the list,"
        f" or 'help search {markup.escape(topic.split()[0][:20])}' to search the texts."
    )


#: Candidates named when a help prefix fits several.
MAX_LISTED = 20


def _help_list(ctx: Context, index: HelpIndex, admin: bool) -> str:
    lines = [
        "{bold}Commands{/} (type 'help <command>' for more,"
        " 'help search <word>' to search every text):"
    ]
    topics: list[str] = []
    for category, entries in index.categories(admin=admin):
        if category == "editor" and not isinstance(ctx.player.input_handler, HomepageEditor):
            # The editor's own commands are noise until the editor is open
            # ('help .list' still finds them; '.help' lists them there).
            continue
        names = ", ".join(e.name for e in entries)
        line = f"  {{green}}{markup.escape(category)}:{{/}} {markup.escape(names)}"
        (lines if entries[0].kind == "verb" else topics).append(line)
    offers: dict[str, list[str]] = {}
    for word, owner, _ in offered_verbs(ctx):
        owners = offers.setdefault(word, [])
        if owner.name not in owners:
            owners.append(owner.name)
    if offers:
        here = ", ".join(f"{word} ({', '.join(names)})" for word, names in offers.items())
        lines.append(f"  {{green}}here:{{/}} {markup.escape(here)}")
    if topics:
        lines.append("{bold}Topics{/} (type 'help <topic>'):")
        lines.extend(topics)
    return "\n".join(lines)


def _help_search(index: HelpIndex, words: str, admin: bool) -> str:
    shown, total = index.search(words, admin=admin)
    quoted = markup.escape(words)
    if not shown:
        return f"No help mentions '{quoted}'. Type 'help' for the list."
    lines = [f"{{bold}}Help mentioning '{quoted}'{{/}} ({plural(total, 'entry', 'entries')}):"]
    for entry, snippet in shown:
        lines.append(f"  {{green}}{markup.escape(entry.name)}:{{/}} {snippet}")
    if total > len(shown):
        lines.append(f"  ... and {total - len(shown)} more: add a word to narrow it.")
    return "\n".join(lines)
