"""One telnet connection, :class:`TelnetSession`: the login dialogue, then the play loop.

A :class:`~reality.net.protocols.telnet.TelnetProtocol` that is also the
world's *session* for the player (``show``, ``send_data``,
``disconnect``). Before login it hands each line to the world's login set
(:mod:`reality.game.login`; the session is its ``LoginPort``: text,
prompts, echo for passwords, the account checks of the authenticator);
after login every line goes to ``World.execute``, at most
``command_rate`` lines a second after a burst of ``command_burst``,
faster lines waiting in a bounded queue, and each command is followed by
a prompt. The banner waits (at most the gateway's ``banner_wait``) for
the client's TTYPE/MTTS answers, so that a screen reader's client is
greeted in screen-reader form from the first line. What the session needs from its gateway
is :class:`SessionHost`, which :class:`~reality.gateways.telnet.gateway.TelnetGateway`
is.

Output has two speeds. What the session's own commands produce (the
reply, the prompt, telnet negotiation) is written at the end of the
reactor turn. What the player hears from elsewhere (others speaking,
arriving and leaving: :meth:`TelnetSession.show` and
:meth:`TelnetSession.show_many`) is held for at most the gateway's
``output_window`` (a few milliseconds) and then written together with
whatever else came in that window: in a room of 200, one ``send()`` per
listener per window instead of one per listener per loop turn. A reply
flushes what is held along with it, so order is kept; held output past
``hold_limit`` bytes goes out at the end of the turn.

Channel lines (:meth:`TelnetSession.hear_channel`) are noted like a
bystander's and, on a channel of ``crowd_size`` listeners or more, held
for the gateway's crowd window: a line on ``chat`` reaches every player,
and the writes, not the notes, are what it costs. GMCP clients also get
each line as ``Comm.Channel.Text`` (:meth:`TelnetSession.send_channel_gmcp`).

Resuming (docs/operations.md, "Resume tokens"): a connection that must be
closed though its player did nothing (an upgrade cannot carry TLS or
WebSocket into the new process; ``@bounce``) is closed with
:meth:`TelnetSession.close_for_upgrade`, which first gives a GMCP client a
single-use token (``Client.Resume {"token", "expires"}``). The client
presents it on its next connection, before logging in, as GMCP
``Client.Resume {"token"}`` and is logged in without its password (never
as a typed command: a token must not sit in a terminal's scrollback).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Sequence
from time import perf_counter
from typing import Any, Protocol

from reality.audit import audit
from reality.game.accounts import InvalidName, InvalidPassword
from reality.game.login import LOGIN_WORDS, PROMPT, login_line
from reality.game.store import NameTaken
from reality.game.verbs.core import offered_words
from reality.game.world import World
from reality.gateways.auth import Authenticator, AuthError, ResumeRefused
from reality.gateways.connections import Connections
from reality.gateways.gmcp import (
    MAX_SUPPORTS,
    channel_list,
    client_hello,
    inventory_list,
    room_info_with_contents,
    supports_from,
    supports_wants,
    verb_list,
)
from reality.gateways.render import ANSI16, PLAIN_TEXT, SCREEN_READER, render, spoken_prompt
from reality.gateways.telnet.capabilities import (
    capability_for,
    render_escaped,
    screen_reader_for,
)
from reality.net.defer import Deferred, Failure
from reality.net.interfaces import IReactorTime, ITransport
from reality.net.protocols.basic import TLS_HANDSHAKE_RECORD
from reality.net.protocols.telnet import TTYPE, Side, TelnetConfig, TelnetProtocol, TerminalType
from reality.net.protocols.telnet.options import GMCP, encode_gmcp

# The package's logger, as before the split: what operators configure and
# filter on does not depend on which module of the package speaks.
log = logging.getLogger("reality.gateways.telnet")

__all__ = ["LOGIN_WORDS", "PROMPT", "RoomLog", "SessionHost", "TelnetSession"]


#: The login dialogue's states a code upgrade carries over (reality.game.login).
LOGIN_STATES = ("login", "confirm", "password", "new_password", "repeat_password")


class RoomLog:
    """What a room's bystanders heard in one output window, noted once.

    ``texts`` in order; ``skips`` maps the index of an event to the sessions
    that did not hear it (its actor's and target's), ``skipped`` is every
    such session; ``members`` are the sessions that read it.
    """

    __slots__ = ("room", "texts", "size", "skips", "skipped", "members", "most_texts", "most_size")

    def __init__(self, room: Any) -> None:
        self.room = room
        self.texts: list[str] = []
        #: Characters in ``texts``: past ``hold_limit`` the log is settled at once.
        self.size = 0
        self.skips: dict[int, tuple[Any, ...]] = {}
        self.skipped: set[Any] = set()
        self.members: set[TelnetSession] = set()
        #: The smallest ``max_heard`` and ``hold_limit`` of the members: past
        #: either, the log is settled at once.
        self.most_texts = TelnetSession.max_heard
        self.most_size = TelnetSession.hold_limit


class SessionHost(Protocol):
    """What a :class:`TelnetSession` needs from its gateway (and what they all share)."""

    world: World
    authenticator: Authenticator
    clock: IReactorTime
    telnet_config: TelnetConfig
    connections: Connections
    idle_timeout: float
    login_timeout: float
    login_deadline: float
    command_rate: float
    command_burst: int
    max_queued_lines: int
    #: Seconds the banner waits for the client's TTYPE/MTTS answers (0: none).
    banner_wait: float
    #: Lines of input run as game commands since the start.
    commands: int
    #: Where commands are counted and timed (:class:`reality.gateways.metrics.Metrics`), or None.
    metrics: Any

    def banner(self, secure: bool = False) -> str:
        """What a new connection is greeted with (``secure``: it came over TLS)."""
        ...

    def login_help(self) -> str:
        """The login dialogue's help text."""
        ...

    def mssp_variables(self) -> dict[str, Any]:
        """The server's status for MSSP."""
        ...

    def _schedule_flush(self, session: TelnetSession) -> None:
        """Write ``session``'s output at the end of this reactor turn."""
        ...

    output_window: float
    crowd_size: int
    #: The crowded rooms' logs of this window.
    _logs: dict[Any, RoomLog]

    def _open_log(self, room: Any, sessions: Sequence[TelnetSession]) -> RoomLog:
        """A log for ``room`` until the window ends; ``sessions`` read it from its start."""
        ...

    def _settle_log(self, room: Any) -> None:
        """Close ``room``'s log now: every listener takes what it holds."""
        ...

    def _hold_output(self, session: TelnetSession) -> None:
        """Write ``session``'s output at the end of the output window (bystander output)."""
        ...

    crowd_window: float

    def _hold_crowd_output(self, session: TelnetSession) -> None:
        """Write ``session``'s output at the end of the crowd window (a big channel's lines)."""
        ...



class TelnetSession(TelnetProtocol):
    """One telnet connection: the login dialogue, then a player's session."""

    gateway: SessionHost
    #: A session is always built with its gateway's clock, and used only
    #: once connected (make_connection sets the transport first).
    clock: IReactorTime
    transport: ITransport
    #: Room.Info as the world sent it and as we sent it (with the names in the room).
    _room_info: tuple[dict[str, Any], dict[str, Any]] | None = None
    #: The password check or sign-up under way (cancelled if the client leaves).
    _check: Deferred[Any] | None = None
    #: Char.Items.List as last sent (None: not sent yet).
    _inventory: dict[str, Any] | None = None
    #: Client.Verbs as last sent (None: not sent yet), and the offered words in it.
    _verbs: dict[str, list[str]] | None = None
    _offered: list[str] | None = None
    #: GMCP Core.Hello's (client, version), when the client sent it.
    gmcp_client: tuple[str, str] | None = None
    #: The client's Core.Supports list as ``{package: version}``; None until
    #: it sends one (and then it gets every package, as before there were lists).
    gmcp_supports: dict[str, int] | None = None
    #: gmcp_wants' answers for the current list, by package (a few names).
    _wants: dict[str, bool] | None = None
    #: Held output past this many bytes is written at the end of the turn,
    #: not at the end of the output window.
    hold_limit: int = 16 * 1024
    #: Texts heard and not rendered yet past which they are rendered (and
    #: checked against hold_limit) at once.
    max_heard: int = 64
    #: Whether GMCP is agreed (kept by option_changed: read once per channel line).
    _gmcp_on: bool = False

    def __init__(
        self, gateway: SessionHost, config: TelnetConfig | None = None,
        *, resume: dict[str, Any] | None = None,
    ) -> None:
        # ``resume``: the state of a connection carried over from another
        # process (:meth:`hand_over` there); see :meth:`_resume_connection`.
        # ``config``: the gateway's, unless the connection needs its own (no
        # MCCP over WebSocket: reality.gateways.websocket).
        super().__init__(gateway.telnet_config if config is None else config, gateway.clock)
        self.gateway = gateway
        self.world = gateway.world
        self.player: Any = None
        self.state = "login"
        self.capability = PLAIN_TEXT
        self.width = 80
        self.height = 24
        self.client_name = ""
        #: The client said a screen reader reads it (MTTS bit 64, or its TTYPE name).
        self.screen_reader = False
        self.peer_host = "?"
        #: The login dialogue's name and new password while it asks for them.
        self.pending_name: str | None = None
        self.pending_password: str | None = None
        self._queued: deque[str] = deque()
        self._idle: Any = None
        self._login_deadline: Any = None
        self._closed = False
        # True while our prompt is the last thing on the client's screen line:
        # output that arrives then starts on a new line.
        self._after_prompt = False
        self._flush_pending = False
        # perf_counter() when the oldest command whose output is not written yet ran (0: none).
        self._command_started = 0.0
        # In the gateway's list of sessions whose output waits for the window's end.
        self._output_held = False
        # Texts shown and not rendered yet (None once closed): see _spill.
        self._heard: list[str] | None = []
        # The command-rate token bucket (see the module docstring).
        self._tokens = float(gateway.command_burst)
        self._tokens_at = gateway.clock.seconds()
        self._drain_call: Any = None
        self._dropped = 0
        # The banner is sent once, when the client has said what it is (or
        # refused to, or the wait is over); the timer that ends the wait.
        self._greeted = False
        self._first_read = True
        self._banner_call: Any = None
        self._resume_state = resume

    # -- connection ------------------------------------------------------------------

    def connection_made(self) -> None:
        if self._resume_state is not None:
            state, self._resume_state = self._resume_state, None
            self._resume_connection(state)
            return
        super().connection_made()
        self.peer_host = self.transport.get_peer().host
        self.gateway.connections.add(self, self.peer_host)
        self._reset_idle()
        if self.gateway.login_deadline > 0:
            self._login_deadline = self.clock.call_later(
                self.gateway.login_deadline, self._login_too_slow
            )
        wait = self.gateway.banner_wait
        if wait > 0:
            self._banner_call = self.clock.call_later(wait, self._greet)
        else:
            self._greet()

    #: The one line a player sees when a code upgrade carried them to a new process.
    UPGRADE_LINE = "{bright_cyan}The world shimmers, and steadies.{/}"

    @property
    def can_hand_over(self) -> bool:
        """Whether this connection can cross to another process (plain TCP, no client MCCP).

        TLS and WebSocket keep state in this process's memory (keys, frames)
        that no descriptor carries; a client-side zlib stream cannot be
        restarted from our end.
        """
        transport = self.transport
        return (
            not self._closed
            and not self._closing
            and callable(getattr(transport, "detach", None))
            and not getattr(transport, "tls_active", False)
            and not self.codec.decompressing
        )

    def quiesce(self) -> None:
        """Stop reading and running this connection's commands (a handover is coming)."""
        transport = self.transport
        if transport is not None:
            transport.pause_reading()
        call, self._drain_call = self._drain_call, None
        if call is not None and call.active():
            call.cancel()

    def hand_over(self) -> tuple[Any, dict[str, Any]]:
        """Give up the connection to another process: ``(socket, state)``.

        Output still held is written out first; an MCCP2 stream is ended
        (the new process starts another); what the kernel had not taken is
        in the state (``unsent``) for the new process to write first. The
        player leaves this world without a word or a save
        (:meth:`World.hand_off`): for everyone else they never left.
        """
        from reality.net.protocols.telnet.events import TextLine

        self._spill()
        codec_state = self.codec.export_state()  # before the stream ends: it says it was on
        self.codec.end_compression()
        TelnetProtocol.flush(self)
        queued = list(self._queued)
        queued += [e.text for e in self._events if type(e) is TextLine]
        player = self.player
        state: dict[str, Any] = {
            "codec": codec_state,
            "player": player.name if player is not None and self.state == "playing" else None,
            "capability": self.capability,
            "width": self.width,
            "height": self.height,
            "client_name": self.client_name,
            "screen_reader": self.screen_reader,
            "gmcp_client": list(self.gmcp_client) if self.gmcp_client else None,
            "gmcp_supports": self.gmcp_supports,
            "queued": queued,
            "unparsed": bytes(self._held).hex(),
            "after_prompt": self._after_prompt,
            # The login dialogue where it stands (a name asked, a password
            # typed once): carried on a private socketpair, never logged.
            "login": None if self.state in ("playing", "waiting", "closed") else {
                "state": self.state, "name": self.pending_name,
                "password": self.pending_password,
            },
        }
        sock, unsent = self.transport.detach()  # type: ignore[attr-defined]
        state["unsent"] = unsent.hex()
        self._closed = True
        self._closing = True
        self._heard = None
        for name in ("_idle", "_login_deadline", "_banner_call", "_drain_call"):
            call = getattr(self, name)
            setattr(self, name, None)
            if call is not None and call.active():
                call.cancel()
        self._queued.clear()
        self._held.clear()
        self._events.clear()
        self.gateway.connections.discard(self)
        if player is not None:
            self.player = None
            self.world.hand_off(player)
        self.state = "closed"
        self.transport = None  # type: ignore[assignment]
        return sock, state

    def _resume_connection(self, state: dict[str, Any]) -> None:
        """Carry on a connection another process handed over (a code upgrade).

        What the old process had not sent goes first, then (if it
        compressed) a new MCCP2 stream; the player is back in their room
        without a login, sees :data:`UPGRADE_LINE`, and what they had typed
        (half a line included) carries on.
        """
        unsent = bytes.fromhex(state.get("unsent", ""))
        if unsent:
            self.transport.write(unsent)
        self.resume_state = state["codec"]
        try:
            TelnetProtocol.connection_made(self)
        finally:
            self.resume_state = None
        self.peer_host = self.transport.get_peer().host
        self.gateway.connections.add(self, self.peer_host)
        self._greeted = True
        self._first_read = False
        self.capability = str(state.get("capability", PLAIN_TEXT))
        self.width = int(state.get("width", 80))
        self.height = int(state.get("height", 24))
        self.client_name = str(state.get("client_name", ""))
        self.screen_reader = bool(state.get("screen_reader", False))
        hello = state.get("gmcp_client")
        self.gmcp_client = (str(hello[0]), str(hello[1])) if hello else None
        supports = state.get("gmcp_supports")
        self.gmcp_supports = (
            {str(k): int(v) for k, v in supports.items()} if isinstance(supports, dict) else None
        )
        self._gmcp_on = self.codec.gmcp_enabled
        name = state.get("player")
        login = state.get("login")
        if name:
            self.state = "playing"
            self.player = self.world.resume(str(name), self)
        elif isinstance(login, dict) and login.get("state") in LOGIN_STATES:
            self.state = str(login["state"])
            self.pending_name = login.get("name")
            self.pending_password = login.get("password")
        self.show(self.UPGRADE_LINE)
        if self.state == "login" or (self.state == "playing" and state.get("after_prompt")):
            self.send_prompt(PROMPT)
        self._reset_idle()
        self._queued.extend(str(line) for line in state.get("queued", ()))
        self._held += bytes.fromhex(state.get("unparsed", ""))
        if self._queued:
            self._drain_queue()
        self._pump()

    def _greet(self) -> None:
        """Send the banner and the first prompt: once, as soon as the client is known.

        The client is known when its TTYPE cycle ends (its MTTS may ask for
        the screen-reader form), when it refuses TTYPE, when it sends a
        line before that, or when ``banner_wait`` is over: the wait is a
        timer on the reactor's clock, so nothing stalls meanwhile.
        """
        if self._greeted or self._closed:
            return
        self._greeted = True
        call, self._banner_call = self._banner_call, None
        if call is not None and call.active():
            call.cancel()
        secure = bool(getattr(self.transport, "tls_active", False))
        self.show(self.gateway.banner(secure))
        self.send_prompt(PROMPT)

    def data_received(self, data: bytes) -> None:
        if self._first_read and data:
            self._first_read = False
            if data[0] == TLS_HANDSHAKE_RECORD and self.transport is not None:
                # A TLS client on the plain port (a "secure" connection to the
                # wrong port): no telnet client starts with 0x16, and this one
                # could not read a line of ours. Close now, not at the login
                # timer.
                log.info("telnet %s: TLS handshake on the plain port; closing", self.peer_host)
                audit("connection.refused", service="telnet", address=self.peer_host,
                      reason="tls-on-plain")
                self.transport.abort_connection()
                return
        super().data_received(data)
        if not self._greeted and not self._closed and self.codec.refused(Side.REMOTE, TTYPE):
            self._greet()  # the client will not say what it is: no reason to wait

    def connection_lost(self, reason: Failure) -> None:
        super().connection_lost(reason)
        self._closed = True
        self._heard = None
        # A login still waiting its turn is given up: no hash for a client gone.
        check, self._check = self._check, None
        if check is not None and not check.called:
            self.gateway.authenticator.abandon(check)
        if self._idle is not None and self._idle.active():
            self._idle.cancel()
        self._idle = None
        self._cancel_login_deadline()
        banner, self._banner_call = self._banner_call, None
        if banner is not None and banner.active():
            banner.cancel()
        if self._drain_call is not None and self._drain_call.active():
            self._drain_call.cancel()
        self._drain_call = None
        self._queued.clear()
        self.gateway.connections.discard(self)
        if self.player is not None:
            player, self.player = self.player, None
            self.world.disconnect(player, self)
        self.state = "closed"

    def _reset_idle(self) -> None:
        timeout = (
            self.gateway.idle_timeout if self.state == "playing" else self.gateway.login_timeout
        )
        if not timeout:
            return
        if self._idle is not None and self._idle.active():
            self._idle.reset(timeout)
        else:
            self._idle = self.clock.call_later(timeout, self._idle_out)

    def _cancel_login_deadline(self) -> None:
        call, self._login_deadline = self._login_deadline, None
        if call is not None and call.active():
            call.cancel()

    def _login_too_slow(self) -> None:
        self._login_deadline = None
        if self._closed or self.state == "playing":
            return
        log.info("telnet: %s did not log in within %gs; closing",
                 self.peer_host, self.gateway.login_deadline)
        audit("connection.timeout", service="telnet", address=self.peer_host, reason="login")
        seconds = self.gateway.login_deadline
        within = f"{round(seconds / 60)} minutes" if seconds >= 120 else f"{seconds:g} seconds"
        self.disconnect(f"You did not log in within {within}. Goodbye!")

    def _idle_out(self) -> None:
        self._idle = None
        minutes = round(
            (self.gateway.idle_timeout if self.state == "playing" else self.gateway.login_timeout)
            / 60
        )
        self.disconnect(f"You have been idle for {minutes} minutes. Goodbye!")

    def flush(self) -> None:
        """Write what the codec holds: at the end of this reactor turn, once.

        A session in a busy room hears many events per turn; writing them in
        one ``send`` instead of one each is most of what fan-out costs.
        Closing flushes at once.
        """
        if self._dispatching or self.transport is None:
            return
        if self._closing:
            self._spill()
            TelnetProtocol.flush(self)
        elif not self._flush_pending and (self.codec.pending_output or self._heard):
            self._flush_pending = True
            self.gateway._schedule_flush(self)

    def _flush_now(self) -> None:
        self._flush_pending = False
        if self.transport is None:
            return
        self._spill()
        TelnetProtocol.flush(self)
        started = self._command_started
        if started:
            # reality_command_duration_seconds: from the line to its output written.
            self._command_started = 0.0
            self.gateway.metrics.command_written(started)
        if self._closing or self._closed:
            return
        # Output went out: input held back for it may run now (and its
        # output goes out at the end of the next turn).
        if self.input_waiting and not self.output_full():
            self._pump()
        if self._queued and not self.output_full():
            self._drain_queue()

    def _write_held(self) -> None:
        """The output window ended: write what was heard, the short way when it can be."""
        if self._log is not None:
            self._catch_up()
        heard = self._heard
        codec = self.codec
        if not heard or self._closing or codec.pending_output or codec.compressing:
            self._flush_now()
            return
        data = render_escaped(tuple(heard), *self._render_key())
        heard.clear()
        if self._after_prompt:
            self._after_prompt = False
            data = b"\r\n" + data
        self.write_out(data)

    def output_drained(self) -> None:
        if self._queued and not self._closed:
            self._drain_queue()

    def input_paused(self) -> bool:
        # A full queue: parse no more of this client's input until it has
        # room (the flood then waits in the kernel, costing us nothing).
        return len(self._queued) >= self.gateway.max_queued_lines

    # -- the world's session interface --------------------------------------------------

    def attach(self, player: Any) -> None:
        """Bound to ``player`` by World.connect: their settings apply from the first line."""
        self.player = player

    def show(self, text: str) -> None:
        """Show markup text: rendered for this client and sent by the end of the output window.

        Sooner when this session's own command produced it: the prompt
        that ends the command writes everything queued before it.
        """
        heard = self._heard
        if heard is None:
            return
        if self._log is not None:
            self._catch_up()  # what the room said before this comes first
        heard.append(text)
        if len(heard) == 1:
            self._hold()
        elif len(heard) > self.max_heard:
            self._spill_held()

    # -- a room's log: one step per event, however many listen -----------------------------

    #: The room log this session reads (see :meth:`hear`), and how far it has read.
    _log: RoomLog | None = None
    _cursor: int = 0

    @staticmethod
    def hear(
        room: Any, sessions: Sequence[TelnetSession], text: str, skip: tuple[Any, ...]
    ) -> None:
        """What a room's bystanders hear: in a crowd, noted once in the room's log.

        :func:`reality.game.events.deliver` calls it once per event for the
        room's telnet sessions. In a room of fewer than the gateway's
        ``crowd_size`` listeners each of them notes the event
        (:meth:`show_many`) for the short output window. In a crowd, the
        first event of a crowd window opens the room's log
        (each listener gets a place in it); later ones are one append. A
        session takes what it has not read when it next writes anything
        (its own reply, a private line, the end of the window), in order,
        passing over the events of ``skip`` (the actor's and the target's
        sessions, who got their own sentences).
        """
        gateway = sessions[0].gateway
        log = gateway._logs.get(room)
        if log is None and (gateway.output_window <= 0 or len(sessions) < gateway.crowd_size):
            # A small room: each listener notes it, for the short window.
            TelnetSession.show_many(sessions, text, skip)
            return
        if log is None:
            log = gateway._open_log(room, sessions)
        first, second = skip
        if first is not None or second is not None:
            log.skips[len(log.texts)] = skip
            log.skipped.update(s for s in skip if s is not None)
        log.texts.append(text)
        log.size += len(text)
        if len(log.texts) >= log.most_texts or log.size > log.most_size:
            # A busy window: the listeners take it now, and their own bounds apply.
            gateway._settle_log(room)

    def _catch_up(self) -> None:
        """Take what the room's log holds that this session has not read yet."""
        log = self._log
        if log is None:
            return
        texts = log.texts
        start, end = self._cursor, len(texts)
        if start >= end:
            return
        self._cursor = end
        heard = self._heard
        if heard is None:
            return
        if self in log.skipped:
            skips = log.skips
            heard.extend(
                text
                for i, text in enumerate(texts[start:end], start)
                if self not in skips.get(i, ())
            )
        else:
            heard.extend(texts[start:end])
        if len(heard) > self.max_heard:
            self._spill_held()

    def entered_room(self, room: Any) -> None:
        """The player came into ``room``: hear its log from here on (if a window is open)."""
        log = self.gateway._logs.get(room)
        if log is not None and self._heard is not None:
            self._log = log
            self._cursor = len(log.texts)
            log.members.add(self)

    def left_room(self, room: Any) -> None:
        """The player leaves ``room``: take what was said there until now, then stop."""
        log = self._log
        if log is None or log.room is not room:
            return
        self._catch_up()
        log.members.discard(self)
        self._log = None
        if self._heard:
            self._hold()

    @staticmethod
    def show_many(
        sessions: Sequence[TelnetSession], text: str, skip: tuple[Any, ...] = (None, None)
    ) -> None:
        """Show ``text`` to each of ``sessions``, doing per listener only what must be.

        The world's fan-out to a room's bystanders (:func:`reality.game.events.deliver`)
        calls this once per event instead of :meth:`show` once per listener.
        A listener only notes the text; it is rendered when the session's
        output is written (at most once per kind of client: the renderings
        are cached, and the world hands every bystander the same ``str``).
        The two sessions of ``skip`` (the actor's and the target's, who get
        their own sentences) are passed over.
        """
        first, second = skip
        for session in sessions:
            # show(), written out: this loop runs once per listener per event.
            if session is first or session is second:
                continue
            heard = session._heard
            if heard is None:
                continue
            heard.append(text)
            if len(heard) == 1:
                session._hold()
            elif len(heard) > session.max_heard:
                session._spill_held()

    @staticmethod
    def hear_channel(
        sessions: Sequence[TelnetSession], text: str, package: str, data: dict[str, Any]
    ) -> None:
        """A channel line for each of ``sessions`` (its connected members): noted, not rendered.

        :meth:`reality.game.channels.Channels.say` calls it once per line
        for the channel's telnet sessions. Each listener first takes what
        its room's log holds (order is kept), then notes the line; it is
        rendered when the output is written, once per kind of client (the
        same ``str`` for all). On a channel of ``crowd_size`` listeners or
        more the output waits for the crowd window, as in a crowded room:
        every player is on ``chat``, and one write per listener per window
        is the cost that grows. GMCP sessions also get ``package``, encoded
        once for all of them.
        """
        if not sessions:
            return
        gateway = sessions[0].gateway
        crowd = len(sessions) >= gateway.crowd_size and gateway.crowd_window > 0
        payload: bytes | None = None
        # This loop runs once per listener per line: calls only when needed.
        for session in sessions:
            heard = session._heard
            if heard is None:
                continue
            log = session._log
            if log is not None and session._cursor < len(log.texts):
                session._catch_up()
            heard.append(text)
            count = len(heard)
            if count == 1:
                if session._output_held or session._flush_pending or session._dispatching:
                    pass  # written by the end of this turn or window anyway
                elif crowd:
                    session._hold_crowd()
                else:
                    session._hold()
            elif count > session.max_heard:
                session._spill_held()
            if session._gmcp_on:
                if payload is None:
                    payload = encode_gmcp(package, data)
                session.send_channel_gmcp(package, payload)

    def send_channel_gmcp(self, package: str, payload: bytes) -> None:
        """Send one ``Comm.Channel.*`` GMCP message (``payload``: already encoded).

        The one place channel GMCP leaves a session, through the one gate
        (:meth:`gmcp_wants`): a client that listed its packages
        (``Core.Supports``) without ``Comm.Channel`` gets none; clients that
        never said get every channel message.
        """
        if self._closed or not self.gmcp_wants(package):
            return
        self._spill()  # the line it carries goes first
        self.codec.send_subnegotiation(GMCP, payload)
        self.flush()

    def _hold_crowd(self) -> None:
        """A big channel's line was heard: have it written by the end of the crowd window."""
        if self._flush_pending or self._dispatching or self._output_held:
            return
        self._output_held = True
        self.gateway._hold_crowd_output(self)

    def _hold(self) -> None:
        """Something was heard: have it written by the end of the output window."""
        if self._flush_pending or self._dispatching or self._output_held:
            return  # written at the end of this turn, or of the window, anyway
        self._output_held = True
        self.gateway._hold_output(self)

    def _spill_held(self) -> None:
        # Many texts heard in one window: render them now, and past
        # hold_limit bytes write them at the end of the turn.
        self._spill()
        if self.codec.pending_output > self.hold_limit:
            self.flush()

    def _spill(self) -> None:
        """Render what was heard and queue it in the codec, before anything sent after it."""
        if self._log is not None:
            self._catch_up()
        heard = self._heard
        if not heard:
            return
        data = render_escaped(tuple(heard), *self._render_key())
        heard.clear()
        if self._after_prompt:
            self._after_prompt = False
            data = b"\r\n" + data
        self.codec.send_escaped(data)

    def _stop_hearing(self) -> None:
        self._spill()
        self._heard = None

    def _render_key(self) -> tuple[str, int]:
        """(capability, width) this session's text is rendered for."""
        player = self.player
        if player is None or not player.settings:
            if self.screen_reader:
                return SCREEN_READER, 0
            return self.capability, self.width
        if self._screen_reader():
            # No wrapping: the screen reader and the braille display do their own.
            return SCREEN_READER, 0
        return self._colour(), self._width()

    def _screen_reader(self) -> bool:
        """Whether this session's text is rendered for a screen reader (``set screenreader``)."""
        player = self.player
        setting = player.settings.get("screenreader", "auto") if player is not None else "auto"
        if setting == "auto":
            return self.screen_reader
        return bool(setting == "on")

    def send_prompt(self, text: str) -> None:
        """Send a prompt (EOR/GA-marked); later output starts on a fresh line.

        A screen reader gets the short form (:func:`~reality.gateways.render.spoken_prompt`).
        """
        self._spill()
        if self._screen_reader():
            text = spoken_prompt(text)
        super().send_prompt(text)
        # (An empty prompt leaves the client's cursor at the start of a line.)
        self._after_prompt = bool(text)

    def send_text(self, text: str) -> None:
        self._spill()
        if text and self._screen_reader():
            # The login dialogue's plain text, in the form a screen reader reads well.
            ending = "\n" if text.endswith("\n") else ""
            text = render(text.replace("{", "{{"), SCREEN_READER, 0, "\n") + ending
        if self._after_prompt and text:
            self._after_prompt = False
            text = "\n" + text
        super().send_text(text)

    # What was heard goes before anything queued after it.

    def gmcp_wants(self, package: str) -> bool:
        """Whether GMCP is on and the client asked for ``package`` (the one gate of GMCP output).

        A client that never sent ``Core.Supports`` gets everything;
        otherwise only the packages it listed (``Comm.Channel`` covers
        ``Comm.Channel.Text``; ``Core`` is always on). :meth:`send_gmcp`
        asks it, so a message nobody asked for is never sent; ask it first
        to spare building a message that would not be.
        """
        if not self.codec.gmcp_enabled:
            return False
        supports = self.gmcp_supports
        if supports is None:
            return True
        wants = self._wants
        if wants is None:
            wants = self._wants = {}
        answer = wants.get(package)
        if answer is None:
            answer = supports_wants(supports, package)
            if len(wants) < 64:  # the packages we send: a handful
                wants[package] = answer
        return answer

    def send_gmcp(self, package: str, data: Any = None) -> bool:
        """Send a GMCP message if the client wants it (:meth:`gmcp_wants`); whether it was sent."""
        if not self.gmcp_wants(package):
            return False
        self._spill()
        return super().send_gmcp(package, data)

    def set_echo(self, enabled: bool) -> bool:
        self._spill()
        return super().set_echo(enabled)

    def close(self, message: str | None = None) -> None:
        if self._heard is not None and self.transport is not None and not self._closing:
            self._stop_hearing()
        super().close(message)

    def send_data(self, kind: str, data: dict[str, Any]) -> None:
        """Structured state from the world, sent as GMCP when the client speaks it."""
        if self._closed or not self.gmcp_wants(kind):
            return
        if kind == "Room.Info":
            self._room_info = (data, room_info_with_contents(self.world, data, self))
            data = self._room_info[1]
        self.send_gmcp(kind, data)

    def _refresh_room_info(self) -> None:
        # Others come and go between our commands: a completing client
        # learns of it after the player's next command, if anything changed.
        last = self._room_info
        if last is None or self._closed or not self.gmcp_wants("Room.Info"):
            return
        info = room_info_with_contents(self.world, last[0], self)
        if info != last[1]:
            self._room_info = (last[0], info)
            self.send_gmcp("Room.Info", info)

    def _refresh_verbs(self) -> None:
        # The verbs things near the player give come and go with the room.
        if self.player is None or self._closed or not self.gmcp_wants("Client.Verbs"):
            return
        offered = offered_words(self.player)
        for source in self.world.verbs.sources:
            offered.extend(source.words(self.player))
        if self._verbs is not None and offered == self._offered:
            return  # the common case: nothing near gives other verbs
        self._offered = offered
        verbs = verb_list(self.world, self.player)
        if verbs != self._verbs:
            self._verbs = verbs
            self.send_gmcp("Client.Verbs", verbs)

    def _refresh_inventory(self, always: bool = False) -> None:
        # Like Room.Info: what the player carries, after a command changed it.
        if self.player is None or self._closed or not self.gmcp_wants("Char.Items.List"):
            return
        inventory = inventory_list(self.player)
        if always or inventory != self._inventory:
            self._inventory = inventory
            self.send_gmcp("Char.Items.List", inventory)

    def disconnect(self, message: str) -> None:
        """Close the connection with a last message."""
        if self._closed:
            return
        self._closed = True
        if self._heard is not None and self.transport is not None and not self._closing:
            self._stop_hearing()  # what was heard goes before the goodbye
        self._heard = None
        if self.player is not None:
            player, self.player = self.player, None
            self.world.disconnect(player, self)
        self.close(message)

    def _colour(self) -> str:
        setting = self.player.settings.get("color", "auto") if self.player is not None else "auto"
        if setting == "off":
            return PLAIN_TEXT
        if setting == "on" and self.capability == PLAIN_TEXT:
            return ANSI16
        return self.capability

    def _width(self) -> int:
        setting = self.player.settings.get("width", "auto") if self.player is not None else "auto"
        if isinstance(setting, int) and setting > 0:
            return max(20, min(setting, 500))
        return self.width

    # -- telnet events --------------------------------------------------------------------

    def window_size_changed(self, width: int, height: int) -> None:
        if width > 0:
            self.width = max(20, min(width, 500))
        if height > 0:
            self.height = height

    def terminal_type_received(self, terminal: TerminalType) -> None:
        self.capability = capability_for(terminal)
        self.client_name = terminal.client
        self.screen_reader = screen_reader_for(terminal)
        self._greet()

    def mssp_variables(self) -> dict[str, Any]:
        return self.gateway.mssp_variables()

    def option_changed(self, option: int, side: Any, enabled: bool) -> None:
        super().option_changed(option, side, enabled)
        if option == GMCP:
            self._gmcp_on = self.codec.gmcp_enabled

    def gmcp_received(self, package: str, data: Any) -> None:
        # The codec bounds a message's size; what is kept of one here is
        # bounded too (a name, a version, at most MAX_SUPPORTS packages),
        # and a message of a shape we do not know is passed over.
        name = package.lower()
        if name == "core.ping":
            # Limited like IAC AYT: a ping flood gets a burst of answers, then a trickle.
            if self.codec.allow_reply():
                self.send_gmcp("Core.Ping")
        elif name == "core.hello":
            hello = client_hello(data)
            if hello is not None:
                self.gmcp_client = hello
        elif name in ("core.supports.set", "core.supports.add", "core.supports.remove"):
            self._supports_changed(name.rpartition(".")[2], data)
        elif name == "char.items.inv":
            self._refresh_inventory(always=True)
        elif name == "client.resume":
            token = data.get("token") if isinstance(data, dict) else None
            if isinstance(token, str):
                self._resume(token)
        elif package == "Comm.Channel.List" and self.player is not None:
            payload = encode_gmcp(package, channel_list(self.world, self.player))
            self.send_channel_gmcp(package, payload)

    def _supports_changed(self, how: str, data: Any) -> None:
        """Core.Supports.Set replaces the client's list; Add and Remove change it.

        Add or Remove before any Set start from an empty list: from then on
        the client gets what it listed.
        """
        listed = supports_from(data)
        if how == "set":
            supports = listed
        else:
            supports = dict(self.gmcp_supports or {})
            if how == "add":
                for package, version in listed.items():
                    if package in supports or len(supports) < MAX_SUPPORTS:
                        supports[package] = version
            else:
                for package in listed:
                    supports.pop(package, None)
        had = self.gmcp_supports
        self.gmcp_supports = supports
        self._wants = None
        if self.state == "playing" and not self._closed:
            self._send_new_packages(had)

    def _send_new_packages(self, had: dict[str, int] | None) -> None:
        """A package the client has just asked for gets its current state at once (as IRE does)."""
        def new(package: str) -> bool:
            return self.gmcp_wants(package) and (
                had is not None and not supports_wants(had, package)
            )

        if new("Room.Info") and self.player is not None:
            self.world.send_room_info(self.player)
        if new("Char.Items.List"):
            self._refresh_inventory(always=True)
        if new("Client.Verbs"):
            self._verbs = None
            self._refresh_verbs()
        if new("Char.Status") and self.player is not None:
            self.world.send_char_status(self.player)
        if new("Client.Map"):
            self._send_client_map()

    def _send_client_map(self) -> None:
        """GMCP ``Client.Map``: where the world's MMP map file is (when the website is on)."""
        web_url = self.world.web_url
        if web_url:
            self.send_gmcp("Client.Map", {"url": f"{web_url}/map.xml"})

    def interrupt_received(self) -> None:
        # IAC IP: drop what is queued, as a terminal would on ^C.
        self._queued.clear()

    def line_received(self, text: str) -> None:
        if self._closed:
            return
        if not self._greeted:
            self._greet()  # a line before the client said what it is: greet it first
        # The client's Enter already moved its cursor to a new line.
        self._after_prompt = False
        self._reset_idle()
        if self._queued or self.state == "waiting" or not self._take_token():
            self._enqueue(text)
            return
        self._handle(text)

    def _take_token(self) -> bool:
        """Spend one of the session's command tokens; False when it has none now."""
        rate = self.gateway.command_rate
        if rate <= 0:
            return True
        now = self.clock.seconds()
        tokens = self._tokens + (now - self._tokens_at) * rate
        self._tokens_at = now
        burst = self.gateway.command_burst
        if tokens > burst:
            tokens = float(burst)
        # (A hair under 1 is rounding, not a missing token.)
        if tokens >= 1.0 - 1e-9:
            self._tokens = max(0.0, tokens - 1.0)
            return True
        self._tokens = tokens
        return False

    def _enqueue(self, text: str) -> None:
        if len(self._queued) < self.gateway.max_queued_lines:
            self._queued.append(text)
            self._schedule_drain()
            return
        self._dropped += 1
        if self._dropped == 1:
            # Once per flood: the log and the player hear of it, not of every line.
            log.info(
                "telnet: %s sends commands faster than %g a second; dropping the excess",
                self.peer_host,
                self.gateway.command_rate,
            )
            self.send_text(
                f"You are sending commands faster than {self.gateway.command_rate:g} a second;"
                " some were dropped.\n"
            )

    def _schedule_drain(self) -> None:
        if self.state == "waiting" or self._closed:
            return  # the login's answer drains the queue
        call = self._drain_call
        if call is not None and call.active():
            return
        rate = self.gateway.command_rate
        # At least a millisecond: a timer due "now" would run again at once.
        delay = max(0.001, (1.0 - self._tokens) / rate) if rate > 0 else 0.001
        self._drain_call = self.clock.call_later(delay, self._drain_timer)

    def _drain_timer(self) -> None:
        self._drain_call = None
        self._drain_queue()

    def _handle(self, text: str) -> None:
        if self.state == "playing":
            gateway = self.gateway
            gateway.commands += 1
            metrics = gateway.metrics
            if metrics is not None:
                metrics.command_line(text)
                if not self._command_started:
                    self._command_started = perf_counter()
            self.world.execute(self.player, text)
            if not self._closed:
                self._refresh_room_info()
                self._refresh_inventory()
                self._refresh_verbs()
                handler = self.player.input_handler if self.player is not None else None
                prompt = getattr(handler, "prompt", None) if handler is not None else None
                self.send_prompt(prompt or PROMPT)
            return
        login_line(self.world.login_verbs, self, text)

    # -- what the login set needs (reality.game.login.LoginPort) ----------------------------

    def login_help(self) -> str:
        return self.gateway.login_help()

    def who_text(self) -> str:
        return self.world.who_text()

    def is_command_word(self, word: str) -> bool:
        return self.world.is_command_word(word)

    def account_exists(self, name: str) -> bool:
        return self.gateway.authenticator.store.get_account(name) is not None

    def sign_up_refusal(self, name: str) -> str | None:
        try:
            self.gateway.authenticator.check_new_name(name, self.peer_host)
        except (AuthError, InvalidName, NameTaken) as exc:
            return str(exc)
        return None

    def begin_login(self, name: str, password: str, *, create: bool) -> None:
        if create:
            self._create(name, password)
        else:
            self._connect(name, password)

    def _create(self, name: str, password: str) -> None:
        self.state = "waiting"
        d = self.gateway.authenticator.create_account(name, password, self.peer_host)
        self._check = d
        d.add_callbacks(self._logged_in, self._login_failed, callback_args=(True,))

    def _connect(self, name: str, password: str) -> None:
        self.state = "waiting"
        d = self.gateway.authenticator.authenticate(name, password, self.peer_host)
        self._check = d
        d.add_callbacks(self._logged_in, self._login_failed, callback_args=(False,))

    def _logged_in(self, account: Any, created: bool) -> None:
        if self._closed:
            return
        self.state = "playing"
        self._cancel_login_deadline()
        if created:
            self.show(f"Welcome to {self.world.name}, {account.name}!")
            log.info("account %s created from %s", account.name, self.peer_host)
        self.player = self.world.connect(account.name, self)
        if not self._closed and self.codec.gmcp_enabled:
            self._refresh_verbs()
            self._refresh_inventory()
            self._send_client_map()
        self._reset_idle()
        if not self._closed:
            self.send_prompt(PROMPT)
        self._drain_queue()

    def _resume(self, token: str) -> None:
        """GMCP ``Client.Resume``: log in with a resume token (only at the login step).

        Anywhere else (playing, a password being checked, half-way through
        the dialogue) it is passed over, and the token stays unspent.
        """
        if self._closed or self.state != "login":
            return
        if not self._greeted:
            self._greet()  # the banner first, as for a line typed before it
        self.state = "waiting"
        d = self.gateway.authenticator.resume(token, self.peer_host)
        self._check = d
        d.add_callbacks(self._logged_in, self._login_failed, callback_args=(False,))

    def close_for_upgrade(self, message: str) -> None:
        """Close this connection as an upgrade must, so that its client comes back logged in.

        A logged-in player whose client speaks GMCP (and wants
        ``Client.Resume``: the web client and ``reality play`` do) is first
        sent ``Client.Resume {"token": ..., "expires": seconds}`` (a
        single-use token, stored hashed: :meth:`Authenticator.issue_resume`),
        then ``message`` as the last line; then the connection is closed
        cleanly (what is buffered is written first). Nobody logged in, or no
        GMCP: just the message and the close. Closed already: nothing.
        """
        if self._closed or self.transport is None:
            return
        player = self.player
        if self.state == "playing" and player is not None and self.gmcp_wants("Client.Resume"):
            token, lifetime = self.gateway.authenticator.issue_resume(
                player.name, self.peer_host
            )
            self.send_gmcp("Client.Resume", {"token": token, "expires": round(lifetime)})
        self.disconnect(message)

    def _login_failed(self, failure: Failure) -> None:
        if self._closed:
            return
        self.state = "login"
        error = failure.value
        if isinstance(error, ResumeRefused):
            log.info("telnet: %s presented a resume token that is not valid", self.peer_host)
        if isinstance(error, (AuthError, InvalidName, InvalidPassword, NameTaken)):
            self.send_text(f"{error}\n")
        else:
            log.error("login failed unexpectedly:\n%s", failure.get_traceback())
            self.send_text("Something went wrong; please try again.\n")
        self.send_prompt(PROMPT)
        self._drain_queue()

    def _drain_queue(self) -> None:
        while self._queued and self.state not in ("waiting", "closed") and not self._closed:
            if self.output_full():
                return  # output_drained() or the next flush carries on
            if not self._take_token():
                self._schedule_drain()
                return
            self._handle(self._queued.popleft())
        if not self._queued and self._dropped:
            log.info("telnet: %s: %d commands dropped", self.peer_host, self._dropped)
            self._dropped = 0
        if self.input_waiting and not self.input_paused() and not self._closed:
            self._pump()
