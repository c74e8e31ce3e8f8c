"""The command parser and the built-in verbs, as one module to import.

The parser, the registry and :class:`Context` live in
:mod:`reality.game.verbs.core` (whose docstring says how a line is read and
how a verb handler reports or refuses), the players' verbs in
:mod:`reality.game.verbs.player` and the builders' in
:mod:`reality.game.verbs.building`; this module makes a world's playing set
(:func:`default_registry`) and re-exports the names other modules use.
"""

from __future__ import annotations

from reality.game.verbs.attributes import examine, set_attribute
from reality.game.verbs.building import (
    create,
    describe,
    destroy,
    dig,
    kick,
    load_,
    open_exit,
    rename,
    shutdown,
    teleport,
    unlink,
)
from reality.game.verbs.core import (
    MAX_CARRIED,
    MAX_CHOICES,
    MAX_DESCRIPTION,
    MAX_HOMEPAGE,
    MAX_NAME,
    MAX_SAY,
    Ambiguous,
    Context,
    PendingChoice,
    Refusal,
    Verb,
    VerbRegistry,
    WorldView,
    find,
    go,
    normalize,
    run,
)
from reality.game.verbs.handling import close, lock, open_, put, read, unlock
from reality.game.verbs.player import (
    EDITOR_HELP,
    EDITOR_VERBS,
    HOMEPAGE_HELP,
    TOPICS,
    HomepageEditor,
    drop,
    emote,
    get,
    give,
    help_,
    homepage,
    inventory,
    look,
    quit_,
    say,
    set_,
    tell,
    who,
)

__all__ = [
    "EDITOR_HELP",
    "EDITOR_VERBS",
    "MAX_CARRIED",
    "MAX_CHOICES",
    "MAX_DESCRIPTION",
    "MAX_HOMEPAGE",
    "MAX_NAME",
    "MAX_SAY",
    "TOPICS",
    "Ambiguous",
    "Context",
    "HomepageEditor",
    "PendingChoice",
    "Refusal",
    "Verb",
    "VerbRegistry",
    "WorldView",
    "default_registry",
    "find",
    "normalize",
    "run",
]


# -- the registry ----------


def _register_defaults(registry: VerbRegistry) -> None:
    r = registry.register
    r(
        "look",
        look,
        aliases=["l", "examine", "x"],
        usage="look [thing]",
        help=(
            "Look around, or at a thing, person or exit: 'examine chest' (or 'x chest')"
            " also shows what is in an open container and whether a door is open."
        ),
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
    r(
        "get",
        get,
        aliases=["take"],
        usage="get <item> | get all | get <item> from <container>",
        help="Pick something up, or take it out of an open container.",
    )
    r(
        "put",
        put,
        usage="put <item> in <container>",
        help="Put something you carry into a container (open it first).",
    )
    r("open", open_, usage="open <door or container>", help="Open a door, a chest, a box.")
    r("close", close, aliases=["shut"], usage="close <door or container>", help="Close it again.")
    r(
        "unlock",
        unlock,
        usage="unlock <thing> [with <key>]",
        help="Unlock a door or container with a key you carry.",
    )
    r(
        "lock",
        lock,
        usage="lock <thing> [with <key>]",
        help="Lock a closed door or container with a key you carry.",
    )
    r("read", read, usage="read <thing>", help="Read what is written on a thing: a notice, a book.")
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
        help=HOMEPAGE_HELP,
        category="web",
    )
    r(
        "@dig",
        dig,
        admin=True,
        usage="@dig <exit> <room name>",
        category="admin",
        help="Make a new room through a new exit here, with a way back. An exit name"
        " of several words needs the '=' form: @dig red door = The Vault.",
    )
    r(
        "@open",
        open_exit,
        admin=True,
        usage="@open <exit name> = <room id>",
        category="admin",
        help="Make a one-way exit from here to an existing room (by id or name);"
        " the name may have several words: @open red door = vault.",
    )
    r(
        "@unlink",
        unlink,
        admin=True,
        usage="@unlink <exit>",
        category="admin",
        help="Remove an exit from here (a world file's exit stays removed after @load).",
    )
    r(
        "@destroy",
        destroy,
        admin=True,
        usage="@destroy <item or NPC>",
        category="admin",
        help="Destroy an item or NPC here or carried (or by id); what it held falls"
        " to the room. A world file's thing stays destroyed after restarts and @load.",
    )
    r(
        "@rename",
        rename,
        admin=True,
        usage="@rename <thing> = <new name>",
        category="admin",
        help="Rename a thing, NPC or door here, or the room (@rename here = ...).",
    )
    r(
        "@set",
        set_attribute,
        admin=True,
        usage="@set <thing> <attribute> = <value>",
        category="admin",
        help="Change an attribute the world file sets: items: name, description,"
        " aliases, fixed, container, closed, locked, key, text; NPCs: name, description,"
        " aliases; doors: name, description, aliases, closed, locked, key; rooms (here):"
        " name, description, aliases, outdoor, night. true/false values; aliases"
        " comma-separated; a key is an item id (or none).",
    )
    r(
        "@examine",
        examine,
        aliases=["@ex"],
        admin=True,
        usage="@examine <thing> | @examine here",
        category="admin",
        help="Show a thing's id, where it is, every attribute, its doors and behaviours.",
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


def _no_mail(ctx: Context, args: str) -> None:
    raise Refusal("There is no mail service in this world.")


def default_registry() -> VerbRegistry:
    """A fresh playing set: the built-in verbs (each world makes its own).

    ``mail`` answers that there is no mail service until a post office
    (:func:`reality.game.mail.open_post_office`) puts the real verb in.
    """
    registry = VerbRegistry()
    _register_defaults(registry)
    registry.register(
        "mail", _no_mail, usage="mail", help="Read and send letters.", category="mail"
    )
    return registry
