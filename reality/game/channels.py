"""Channels: named conversations that reach every member wherever they are.

Every world has the built-in channels :data:`BUILT_IN` (``chat`` and
``newbie``); every player is on them until they leave. Admins add more
with ``@channel create <name>``; those are joined with ``channel join
<name>``. A channel's name is a verb for its members (``chat hello``,
``chat :waves``); everyone on it who is connected sees
``[chat] Alice: hello``, and GMCP clients get ``Comm.Channel.Text``
(``{"channel", "talker", "text"}``) as well.

A channel name never hides a game verb: the names are looked up after the
verbs and the room's exits (:class:`~reality.game.verbs.core.WordSource`),
and a name that is a verb, an alias, the start of one, a direction or a
word a thing of the world offers is refused when the channel is created.

What is kept (the ``"channels"`` store component)::

    channels(name, caption, created_by, created_at)       created by admins
    channel_members(channel, player, joined 0|1)          who chose otherwise
    channel_messages(id, channel, talker, text, emote, at)  the last HISTORY each

Membership changes and created channels are committed before the player is
told. A channel's last :data:`HISTORY` lines are kept in memory and written
behind, every :data:`HISTORY_FLUSH` seconds in one transaction and when the
world stops: a busy channel costs one disk sync a second, not one a line.

Fan-out is the hot path (a line on ``chat`` reaches every connected
player): a channel keeps its connected members' sessions grouped by kind
of session (made again only when someone joins, leaves, connects or
disconnects), and each group goes to the session class's
``hear_channel(sessions, text, package, data)`` when it has one (the
telnet session: one rendering per kind of client, one short step per
listener, held for the crowd window in a big channel); other sessions get
``show(text)`` and ``send_data(package, data)`` one by one.
"""

from __future__ import annotations

import logging
import re
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

from attrs import frozen

from reality.audit import audit
from reality.game import markup
from reality.game.help import HelpTopic
from reality.game.store import MIGRATIONS, Migration, Store, register_migrations
from reality.game.things import ABBREVIATIONS, OPPOSITES, Player, Room, name_list
from reality.game.verbs.core import Context, Refusal, VerbRegistry

log = logging.getLogger(__name__)

__all__ = [
    "BUILT_IN",
    "CHANNEL_MIGRATIONS",
    "HISTORY",
    "MAX_LINE",
    "Channel",
    "ChannelMessage",
    "ChannelWorld",
    "Channels",
    "InvalidChannelName",
    "ensure_schema",
    "parse_line",
    "valid_name",
]

#: The channels every world has, and their captions; every player is on them until they leave.
BUILT_IN: dict[str, str] = {
    "chat": "Chat with everyone in the world",
    "newbie": "Questions and answers for new players",
}
#: Lines of a channel kept (and shown by ``channel history``).
HISTORY = 20
#: Characters of one channel line at most (longer lines are refused, not cut).
MAX_LINE = 400
#: Characters of a created channel's caption at most.
MAX_CAPTION = 80
#: A channel name: a lower-case letter, then letters or digits; 2 to 12 in all.
NAME = re.compile(r"[a-z][a-z0-9]{1,11}\Z")
#: Seconds between writes of the channels' new lines (one transaction each).
HISTORY_FLUSH = 1.0
#: Channel lines a player may send in a burst, then LINE_RATE a second.
LINE_BURST = 10
LINE_RATE = 1.0
#: The GMCP package every channel line is sent as.
TEXT_PACKAGE = "Comm.Channel.Text"

CHANNEL_MIGRATIONS: list[Migration] = [
    Migration(
        "channels, members and recent lines",
        """
        CREATE TABLE channels (
            name TEXT PRIMARY KEY,
            caption TEXT NOT NULL,
            created_by TEXT NOT NULL,
            created_at REAL NOT NULL
        );
        CREATE TABLE channel_members (
            channel TEXT NOT NULL,
            player TEXT NOT NULL,
            joined INTEGER NOT NULL,
            PRIMARY KEY (channel, player)
        );
        CREATE TABLE channel_messages (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            channel TEXT NOT NULL,
            talker TEXT NOT NULL,
            text TEXT NOT NULL,
            emote INTEGER NOT NULL DEFAULT 0,
            at REAL NOT NULL
        );
        CREATE INDEX channel_messages_by_channel ON channel_messages(channel, id);
        """,
    ),
]
register_migrations("channels", CHANNEL_MIGRATIONS)


def ensure_schema(store: Store) -> None:
    """Create or update the channel tables (for a store opened before this module was imported)."""
    store.migrate({"channels": MIGRATIONS["channels"]})


class InvalidChannelName(Refusal):
    """A name that cannot be a channel's; ``str()`` says why, to the admin."""


@frozen
class ChannelMessage:
    """One line said on a channel: who, what, whether as an emote, and when (wall clock)."""

    talker: str
    text: str
    emote: bool
    at: float


def valid_name(name: str) -> bool:
    """Whether ``name`` has a channel name's form (lower-case letter, then letters/digits, 2-12)."""
    return NAME.match(name) is not None


def parse_line(args: str) -> tuple[bool, str]:
    """``(emote, text)`` from what follows a channel's name: ``:waves`` is an emote.

    Whitespace is collapsed at the ends; an emote's text is what follows
    the colon. Either may be empty (the caller refuses that).
    """
    text = args.strip()
    if text.startswith(":"):
        return True, text[1:].strip()
    return False, text


def render_line(channel: str, talker: str, text: str, emote: bool) -> tuple[str, str]:
    """``(markup, plain)`` of one channel line: ``[chat] Alice: hello`` / ``[chat] Alice waves.``"""
    if emote:
        sep = "" if text[:1] in ("'", ",", ".") else " "
        if not text.endswith(_SENTENCE_ENDS):
            text += "."
        plain = f"[{channel}] {talker}{sep}{text}"
        shown = f"{{cyan}}[{channel}]{{/}} {talker}{sep}{markup.escape(text)}"
    else:
        plain = f"[{channel}] {talker}: {text}"
        shown = f"{{cyan}}[{channel}]{{/}} {talker}: {markup.escape(text)}"
    return shown, plain


#: What may end an emote as typed; anything else gets a full stop (as ``emote``).
_SENTENCE_ENDS = tuple(".!?…\"')]*~-:;")


class Channel:
    """One channel: its name, who chose to be on it or not, its last lines."""

    __slots__ = (
        "name",
        "caption",
        "builtin",
        "created_by",
        "choices",
        "history",
        "_audience",
        "_audience_key",
    )

    def __init__(self, name: str, caption: str, *, builtin: bool, created_by: str = "") -> None:
        self.name = name
        self.caption = caption
        #: Built-in channels have everyone on them until they leave, and cannot be destroyed.
        self.builtin = builtin
        self.created_by = created_by
        #: Players' keys who chose: True joined, False left. Others: on if built in.
        self.choices: dict[str, bool] = {}
        self.history: deque[ChannelMessage] = deque(maxlen=HISTORY)
        self._audience: list[tuple[Any, list[Any]]] | None = None
        self._audience_key: tuple[int, int] = (-1, -1)

    @property
    def default_on(self) -> bool:
        """Whether a player who never chose is on it (the built-in channels)."""
        return self.builtin

    def has(self, player: Player) -> bool:
        """Whether ``player`` is on this channel."""
        return self.choices.get(player.key, self.builtin)

    def __repr__(self) -> str:
        return f"<Channel {self.name}>"


class ChannelWorld(Protocol):
    """What channels need of :class:`reality.game.world.World` (which makes them).

    A protocol rather than an import: the world imports this module.
    """

    store: Store
    verbs: VerbRegistry
    online: dict[str, Player]
    rooms: dict[str, Room]
    clock: Any

    @property
    def online_version(self) -> int: ...

    def wall(self) -> float: ...

    def behaviours(self) -> Iterator[Any]: ...


class Channels:
    """A world's channels: the verbs, membership, delivery and history.

    Made by the :class:`~reality.game.world.World` (``world.channels``),
    which it serves: it adds the verbs ``channels``, ``channel`` and
    ``@channel`` to the world's playing set and itself to its word sources,
    so a channel's name is a verb for its members.
    """

    def __init__(self, world: ChannelWorld) -> None:
        self.world = world
        self.store = world.store
        ensure_schema(self.store)
        self._channels: dict[str, Channel] = {}
        for name, caption in BUILT_IN.items():
            self._channels[name] = Channel(name, caption, builtin=True)
        self._load()
        #: Lines said since the last write: ``(channel name, message)``.
        self._pending: list[tuple[str, ChannelMessage]] = []
        self._flush_call: Any = None
        #: Membership changes so far: part of every cached audience's key.
        self._version = 0
        #: ``player key -> (tokens, when)``: the channel-line rate limit.
        self._buckets: dict[str, tuple[float, float]] = {}
        #: ``player key -> (version, words)``: the channel names a player may type.
        self._words: dict[str, tuple[int, tuple[str, ...]]] = {}
        register_channel_verbs(world.verbs, self)
        if self not in world.verbs.sources:
            world.verbs.sources.append(self)

    def _load(self) -> None:
        db = self.store.db
        for row in db.execute("SELECT name, caption, created_by FROM channels ORDER BY name"):
            if row["name"] not in self._channels:
                self._channels[row["name"]] = Channel(
                    row["name"], row["caption"], builtin=False, created_by=row["created_by"]
                )
        for row in db.execute("SELECT channel, player, joined FROM channel_members"):
            channel = self._channels.get(row["channel"])
            if channel is not None:
                channel.choices[row["player"]] = bool(row["joined"])
        # The newest HISTORY of each channel, oldest first.
        for row in db.execute(
            "SELECT channel, talker, text, emote, at FROM channel_messages m WHERE id IN"
            " (SELECT id FROM channel_messages WHERE channel = m.channel"
            "  ORDER BY id DESC LIMIT ?) ORDER BY id",
            (HISTORY,),
        ):
            channel = self._channels.get(row["channel"])
            if channel is not None:
                channel.history.append(
                    ChannelMessage(row["talker"], row["text"], bool(row["emote"]), row["at"])
                )

    # -- looking channels up ----------

    def get(self, name: str) -> Channel | None:
        """The channel called ``name`` (any case), or None."""
        return self._channels.get(name.strip().lower())

    def all(self) -> list[Channel]:
        """Every channel, built-in ones first, then by name."""
        return sorted(self._channels.values(), key=lambda c: (not c.builtin, c.name))

    def of(self, player: Player) -> list[Channel]:
        """The channels ``player`` is on, in :meth:`all`'s order."""
        return [c for c in self.all() if c.has(player)]

    def named(self, name: str) -> Channel:
        """The channel ``name`` names; :class:`Refusal` saying which exist if none."""
        channel = self.get(name)
        if channel is None:
            known = ", ".join(c.name for c in self.all())
            raise Refusal(
                f"There is no channel called '{markup.escape(name.strip()[:20])}'."
                f" The channels are: {known}."
            )
        return channel

    # -- the word source (reality.game.verbs.core.WordSource) ----------

    def verb_for(self, player: Player, word: str) -> Callable[[Context, str], None] | None:
        """A channel's name as a verb: speak on it (or be told how to join it)."""
        channel = self._channels.get(word)
        if channel is None:
            return None

        def speak(ctx: Context, args: str) -> None:
            self._speak_verb(ctx, channel, args)

        return speak

    def words(self, player: Player) -> Sequence[str]:
        """The names of the channels ``player`` is on (cached until membership changes)."""
        cached = self._words.get(player.key)
        if cached is not None and cached[0] == self._version:
            return cached[1]
        names = tuple(c.name for c in self._channels.values() if c.has(player))
        self._words[player.key] = (self._version, names)
        return names

    # -- membership ----------

    def join(self, channel: Channel, player: Player) -> None:
        """Put ``player`` on ``channel`` (committed on return)."""
        self._choose(channel, player, True)

    def leave(self, channel: Channel, player: Player) -> None:
        """Take ``player`` off ``channel`` (committed on return)."""
        self._choose(channel, player, False)

    def _choose(self, channel: Channel, player: Player, joined: bool) -> None:
        with self.store.transaction() as db:
            if joined == channel.default_on:
                db.execute(
                    "DELETE FROM channel_members WHERE channel = ? AND player = ?",
                    (channel.name, player.key),
                )
            else:
                db.execute(
                    "INSERT INTO channel_members(channel, player, joined) VALUES (?, ?, ?)"
                    " ON CONFLICT(channel, player) DO UPDATE SET joined = excluded.joined",
                    (channel.name, player.key, int(joined)),
                )
        if joined == channel.default_on:
            channel.choices.pop(player.key, None)
        else:
            channel.choices[player.key] = joined
        self._version += 1

    # -- speaking ----------

    def check_rate(self, player: Player) -> None:
        """Spend one of ``player``'s channel-line tokens; :class:`Refusal` when none is left."""
        now = self.world.clock.seconds()
        tokens, then = self._buckets.get(player.key, (float(LINE_BURST), now))
        tokens = min(float(LINE_BURST), tokens + (now - then) * LINE_RATE)
        if tokens < 1.0:
            self._buckets[player.key] = (tokens, now)
            raise Refusal("You are talking on channels too fast; wait a moment.")
        self._buckets[player.key] = (tokens - 1.0, now)
        if len(self._buckets) > 4 * len(self.world.online) + 100:
            # Forget the full buckets of players who stopped talking.
            self._buckets = {
                key: (t, at)
                for key, (t, at) in self._buckets.items()
                if t + (now - at) * LINE_RATE < LINE_BURST
            }

    def say(self, channel: Channel, talker: str, text: str, *, emote: bool = False) -> None:
        """Deliver one line to every connected member now, and keep it in the history.

        ``text`` is plain text as typed (it is escaped here); the caller has
        checked its length and the talker's rate.
        """
        shown, plain = render_line(channel.name, talker, text, emote)
        data = {"channel": channel.name, "talker": talker, "text": plain}
        message = ChannelMessage(talker, text, emote, self.world.wall())
        channel.history.append(message)
        self._pending.append((channel.name, message))
        if self._flush_call is None:
            self._flush_call = self.world.clock.call_later(HISTORY_FLUSH, self._flush_timer)
        for hear, sessions in self._audience(channel):
            if hear is not None:
                hear(sessions, shown, TEXT_PACKAGE, data)
            else:
                for session in sessions:
                    session.show(shown)
                    session.send_data(TEXT_PACKAGE, data)

    def _audience(self, channel: Channel) -> list[tuple[Any, list[Any]]]:
        """``[(hear_channel, sessions)]`` of the channel's connected members, by kind of session."""
        key = (self.world.online_version, self._version)
        if channel._audience is not None and channel._audience_key == key:
            return channel._audience
        groups: dict[type, list[Any]] = {}
        for player in self.world.online.values():
            session = player.session
            if session is not None and channel.has(player):
                groups.setdefault(type(session), []).append(session)
        audience: list[tuple[Any, list[Any]]] = [
            (getattr(kind, "hear_channel", None), group) for kind, group in groups.items()
        ]
        channel._audience = audience
        channel._audience_key = key
        return audience

    def members_online(self, channel: Channel) -> list[Player]:
        """The connected players on ``channel``."""
        return [p for p in self.world.online.values() if channel.has(p)]

    def _speak_verb(self, ctx: Context, channel: Channel, args: str) -> None:
        player = ctx.player
        if not channel.has(player):
            raise Refusal(
                f"You are not on the {channel.name} channel;"
                f" 'channel join {channel.name}' to join."
            )
        emote, text = parse_line(args)
        if not text:
            raise Refusal(
                f"Say what on {channel.name}? For example: {channel.name} hello,"
                f" or {channel.name} :waves."
            )
        if len(text) > MAX_LINE:
            raise Refusal(
                f"That is too long for a channel line ({len(text)} characters;"
                f" at most {MAX_LINE})."
            )
        self.check_rate(player)
        name = player.name
        # Said when the command has succeeded, after anything it told the player.
        ctx.after.append(lambda: self.say(channel, name, text, emote=emote))

    # -- history ----------

    def history(self, channel: Channel) -> list[ChannelMessage]:
        """The channel's last :data:`HISTORY` lines, oldest first."""
        return list(channel.history)

    def _flush_timer(self) -> None:
        self._flush_call = None
        self.flush()

    def flush(self) -> None:
        """Write the lines said since the last write, and trim each channel to HISTORY."""
        call, self._flush_call = self._flush_call, None
        if call is not None and call.active():
            call.cancel()
        pending, self._pending = self._pending, []
        if not pending:
            return
        try:
            with self.store.transaction() as db:
                db.executemany(
                    "INSERT INTO channel_messages(channel, talker, text, emote, at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    [(name, m.talker, m.text, int(m.emote), m.at) for name, m in pending],
                )
                for name in {name for name, _ in pending}:
                    db.execute(
                        "DELETE FROM channel_messages WHERE channel = ? AND id <="
                        " (SELECT id FROM channel_messages WHERE channel = ?"
                        "  ORDER BY id DESC LIMIT 1 OFFSET ?)",
                        (name, name, HISTORY),
                    )
        except Exception:
            # Kept for the next write; the lines were delivered all the same.
            log.exception("could not save channel history; will retry")
            self._pending = pending + self._pending

    # -- admins ----------

    def name_refusal(self, name: str) -> str | None:
        """Why ``name`` cannot be a new channel's name, or None when it can."""
        if not valid_name(name):
            return (
                "A channel name is 2 to 12 lower-case letters or digits, starting with a"
                f" letter; '{markup.escape(name[:20])}' is not."
            )
        if name in self._channels:
            return f"There is already a channel called {name}."
        registry = self.world.verbs
        verb = registry.lookup(name) or registry.lookup("@" + name)
        if verb is not None:
            return (
                f"'{name}' is the command '{verb.name}': a channel may not hide a verb."
                " Choose another name."
            )
        if name in ABBREVIATIONS or name in OPPOSITES:
            return f"'{name}' is a direction: a channel may not hide it. Choose another name."
        starts = sorted(v.name for v in registry.all() if v.name.startswith(name))
        if starts:
            return (
                f"'{name}' is how players shorten {name_list(starts[:5], 'or')}: a channel"
                " may not hide a verb. Choose another name."
            )
        for behaviour in self.world.behaviours():
            if name in behaviour.verb_handlers():
                return (
                    f"'{name}' is a verb something in the world gives: a channel may not"
                    " hide it. Choose another name."
                )
        for room in self.world.rooms.values():
            if name in room.exits:
                return (
                    f"'{name}' is the name of an exit of {room.id}: a channel may not hide"
                    " it. Choose another name."
                )
        return None

    def create(self, name: str, creator: str, caption: str = "") -> Channel:
        """A new channel (committed on return); :class:`InvalidChannelName` says why not."""
        name = name.strip().lower()
        reason = self.name_refusal(name)
        if reason is not None:
            raise InvalidChannelName(reason)
        caption = " ".join(caption.split())[:MAX_CAPTION] or f"The {name} channel"
        with self.store.transaction() as db:
            db.execute(
                "INSERT INTO channels(name, caption, created_by, created_at) VALUES (?, ?, ?, ?)",
                (name, caption, creator, self.world.wall()),
            )
        channel = Channel(name, caption, builtin=False, created_by=creator)
        self._channels[name] = channel
        self._version += 1
        return channel

    def destroy(self, channel: Channel) -> None:
        """Remove a created channel, its members and its history (committed on return)."""
        if channel.builtin:
            raise Refusal(f"{channel.name} is built in: it cannot be destroyed.")
        self._pending = [(n, m) for n, m in self._pending if n != channel.name]
        with self.store.transaction() as db:
            for table, column in (
                ("channels", "name"),
                ("channel_members", "channel"),
                ("channel_messages", "channel"),
            ):
                db.execute(f"DELETE FROM {table} WHERE {column} = ?", (channel.name,))
        del self._channels[channel.name]
        self._version += 1

    # -- GMCP ----------

    def channel_list(self, player: Player) -> list[dict[str, str]]:
        """The ``Comm.Channel.List`` payload: the channels ``player`` is on (IRE style)."""
        return [
            {"name": c.name, "caption": c.caption, "command": c.name} for c in self.of(player)
        ]


# -- the verbs ----------


def _when(at: float) -> str:
    return time.strftime("%H:%M", time.gmtime(at))


def register_channel_verbs(registry: VerbRegistry, channels: Channels) -> None:
    """Add ``channels``, ``channel`` and ``@channel`` (over ``channels``) to a playing set."""

    def list_channels(ctx: Context, args: str) -> None:
        player = ctx.player
        lines = ["{bold}Channels:{/}"]
        for channel in channels.all():
            on = "you are on it" if channel.has(player) else "you are not on it"
            lines.append(f"  {channel.name} ({on}): {markup.escape(channel.caption)}.")
        lines.append(
            "Speak on one by its name: 'chat hello' ('chat :waves' for an action)."
            " 'channel join <name>', 'channel leave <name>', 'channel history <name>'."
        )
        ctx.tell("\n".join(lines))

    def channel_verb(ctx: Context, args: str) -> None:
        action, _, name = args.strip().partition(" ")
        action = action.lower()
        name = name.strip()
        if action not in ("join", "leave", "history") or not name:
            raise Refusal(
                "Use: channel join <name>, channel leave <name> or channel history <name>."
                " 'channels' lists them."
            )
        channel = channels.named(name)
        player = ctx.player
        if action == "join":
            if channel.has(player):
                raise Refusal(f"You are already on the {channel.name} channel.")
            channels.join(channel, player)
            ctx.tell(
                f"You join the {channel.name} channel. Speak on it with"
                f" '{channel.name} <text>'."
            )
        elif action == "leave":
            if not channel.has(player):
                raise Refusal(f"You are not on the {channel.name} channel.")
            channels.leave(channel, player)
            ctx.tell(
                f"You leave the {channel.name} channel."
                f" 'channel join {channel.name}' to come back."
            )
        else:
            said = channels.history(channel)
            if not said:
                ctx.tell(f"Nothing has been said on {channel.name} yet.")
                return
            heading = "The last line" if len(said) == 1 else f"The last {len(said)} lines"
            lines = [f"{{bold}}{heading} on {channel.name} (UTC):{{/}}"]
            for message in said:
                shown, _ = render_line(channel.name, message.talker, message.text, message.emote)
                lines.append(f"{_when(message.at)} {shown}")
            ctx.tell("\n".join(lines))

    def admin_channel(ctx: Context, args: str) -> None:
        action, _, rest = args.strip().partition(" ")
        action = action.lower()
        name, _, caption = rest.partition("=")
        name = name.strip().lower()
        if action not in ("create", "destroy") or not name:
            raise Refusal("Use: @channel create <name> [= caption] or @channel destroy <name>.")
        address = getattr(ctx.player.session, "peer_host", None)
        if action == "create":
            channel = channels.create(name, ctx.player.name, caption)
            audit("admin.channel_create", who=ctx.player.name, address=address, target=name)
            publish_help()
            ctx.tell(
                f"You create the {channel.name} channel. Players join it with"
                f" 'channel join {channel.name}'."
            )
        else:
            channel = channels.named(name)
            if channel.builtin:
                raise Refusal(f"{channel.name} is built in: it cannot be destroyed.")
            members = [p for p in channels.members_online(channel) if p is not ctx.player]
            channels.destroy(channel)
            audit("admin.channel_destroy", who=ctx.player.name, address=address, target=name)
            publish_help()
            ctx.tell(f"You destroy the {channel.name} channel.")
            for member in members:
                ctx.buffer.tell(member, f"The {channel.name} channel has been closed.")

    def publish_help() -> None:
        # A channel's name is a command for its members, so 'help chat' and
        # '/help/chat' say how to speak on it (topics beyond the verbs).
        stale = [
            name
            for name, topic in registry.topics.items()
            if isinstance(topic, HelpTopic) and topic.category == "channels"
            and channels.get(name) is None
        ]
        for name in stale:
            del registry.topics[name]
        for channel in channels.all():
            registry.topics[channel.name] = HelpTopic(
                channel.name,
                f"{markup.escape(channel.caption)}. '{channel.name} <text>' speaks on it,"
                f" '{channel.name} :<action>' acts on it; everyone on it sees the line,"
                f" wherever they are. 'channel leave {channel.name}' to stop hearing it,"
                f" 'channel history {channel.name}' for its last {HISTORY} lines.",
                category="channels",
                title=f"The {channel.name} channel",
            )

    registry.register(
        "channels",
        list_channels,
        usage="channels",
        category="communication",
        help="List every channel and whether you are on it. Everyone starts on chat and newbie.",
    )
    registry.register(
        "channel",
        channel_verb,
        usage="channel join <name> | channel leave <name> | channel history <name>",
        category="communication",
        help=(
            "Join or leave a channel, or read its last 20 lines. On a channel, its name"
            " is a command: 'chat hello' says hello to everyone on chat, wherever they are;"
            " 'chat :waves' acts it out."
        ),
    )
    registry.register(
        "@channel",
        admin_channel,
        admin=True,
        usage="@channel create <name> [= caption] | @channel destroy <name>",
        category="admin",
        help=(
            "Make a new channel (players join it with 'channel join <name>') or remove one"
            " with its history. A name is 2-12 lower-case letters or digits and may not be"
            " a command, an exit or a direction. chat and newbie are built in."
        ),
    )
    publish_help()
