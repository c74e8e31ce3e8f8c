"""The telnet gateway: :class:`TelnetGateway`, a session per connection, and :func:`install`.

The gateway holds what every session shares: the world, the
authenticator, the limits (connections per address and in all, login
time, command rate and queue), and the writes of every session's output:
at the end of the reactor turn for a session's own replies, at the end
of the output window (:data:`OUTPUT_WINDOW`) for what it hears from
elsewhere. It refuses a connection over a limit with a message,
and answers MSSP with the server's status.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from reality import __version__
from reality.audit import audit
from reality.game import markup
from reality.game.world import World
from reality.gateways.auth import Authenticator
from reality.gateways.connections import (
    BANNED,
    TOO_MANY_FROM_ADDRESS,
    Connections,
    refusal_message,
)
from reality.gateways.context import GatewayContext
from reality.gateways.telnet.session import RoomLog, TelnetSession
from reality.net.protocol import Address, Factory
from reality.net.protocols.telnet import TelnetConfig, TelnetProtocol
from reality.net.tls import TLSServerFactory

# The package's logger (see session.py).
log = logging.getLogger("reality.gateways.telnet")

__all__ = [
    "COMMAND_BURST",
    "COMMAND_RATE",
    "LOGIN_DEADLINE",
    "LOGIN_TIMEOUT",
    "BANNER_WAIT",
    "MAX_QUEUED_LINES",
    "OUTPUT_WINDOW",
    "TelnetGateway",
    "install",
]

#: Lines kept waiting (for a password check, or for the rate limit); more are dropped.
MAX_QUEUED_LINES = 100
#: Seconds without a line before login, and in all from connecting to being
#: logged in: the idle time restarts with each line, the deadline does not, so
#: a line every 299 s cannot keep a connection that never logs in.
LOGIN_TIMEOUT = 300.0
LOGIN_DEADLINE = 600.0
#: Lines a session may run per second, after a burst of COMMAND_BURST (Evennia: 80/s).
COMMAND_RATE = 20.0
COMMAND_BURST = 60
#: Seconds a session's bystander output (others speaking, coming and going)
#: may wait so that all of it in that time goes out in one write: in a
#: crowded room the per-listener ``send()`` calls were half of the server's
#: time. Its own replies do not wait. 0: write at the end of every turn.
OUTPUT_WINDOW = 0.05
#: In a crowd (a room with CROWD_SIZE listeners or more), what the room's
#: listeners hear is noted once in the room's log and written every
#: CROWD_WINDOW seconds: fewer, larger writes where there are most of them.
#: A DikuMUD pulse, the unit its whole world runs on, is 0.25 s.
CROWD_WINDOW = 0.2
CROWD_SIZE = 32

#: Seconds a new connection's banner waits for the client's TTYPE/MTTS answers
#: (a MUD client answers within a few round trips; a client that refuses TTYPE
#: or sends a line is greeted at once; a bare TCP client waits this long).
BANNER_WAIT = 1.0

#: Sessions whose held output one turn of the loop writes (the rest: next turns).
HELD_SLICE = 250


#: The audit log's word for each refusal.
_AUDIT_REASONS = {BANNED: "banned", TOO_MANY_FROM_ADDRESS: "per-address"}


class _Refusal(TelnetProtocol):
    """Says why the connection is refused, then closes."""

    def __init__(self, message: str, clock: Any) -> None:
        super().__init__(TelnetConfig.server(offer_local=(), offer_remote=()), clock)
        self.message = message

    def connection_made(self) -> None:
        super().connection_made()
        self.close(self.message)


class TelnetGateway(Factory):
    """Makes a :class:`TelnetSession` per connection and holds what they share."""

    def __init__(
        self,
        world: World,
        authenticator: Authenticator,
        clock: Any,
        *,
        max_per_address: int = 50,
        max_connections: int = 10000,
        idle_timeout: float = 3600.0,
        login_timeout: float = LOGIN_TIMEOUT,
        login_deadline: float = LOGIN_DEADLINE,
        command_rate: float = COMMAND_RATE,
        command_burst: int = COMMAND_BURST,
        max_queued_lines: int = MAX_QUEUED_LINES,
        output_window: float = OUTPUT_WINDOW,
        crowd_window: float = CROWD_WINDOW,
        crowd_size: int = CROWD_SIZE,
        banner_wait: float = BANNER_WAIT,
    ) -> None:
        self.world = world
        self.authenticator = authenticator
        self.clock = clock
        self.idle_timeout = idle_timeout
        #: Seconds without a line before login (restarts with each line; 0: none).
        self.login_timeout = login_timeout
        #: Seconds from connecting to being logged in, in all (0: no limit).
        self.login_deadline = login_deadline
        #: Lines a session runs per second (0: no limit), after a burst; the queue beyond.
        self.command_rate = command_rate
        self.command_burst = command_burst
        self.max_queued_lines = max_queued_lines
        #: Seconds the banner waits for the client's TTYPE/MTTS (see BANNER_WAIT).
        self.banner_wait = banner_wait
        self.telnet_config = TelnetConfig.server()
        #: When the server started, wall-clock (MSSP's UPTIME).
        self.started = time.time()
        self.connections = Connections(max_per_address, max_connections, authenticator.bans)
        #: Lines of input run as game commands since the start.
        self.commands = 0
        #: Counts and times commands (:class:`reality.gateways.metrics.Metrics`); None: not.
        self.metrics: Any = None
        #: Sessions to write at the end of this reactor turn (see TelnetSession.flush).
        self._to_flush: list[TelnetSession] = []
        #: Seconds bystander output may be held (see OUTPUT_WINDOW).
        self.output_window = output_window
        self.crowd_window = crowd_window
        self.crowd_size = crowd_size
        #: Sessions whose bystander output waits for the end of the window.
        self._held: list[TelnetSession] = []
        #: Sessions whose output waits for the end of the crowd window (big channels).
        self._held_crowd: list[TelnetSession] = []
        #: The one timer of the crowd window: crowded rooms' logs and big
        #: channels' listeners are written together when it fires.
        self._crowd_call: Any = None
        self._logs: dict[Any, RoomLog] = {}
        self.address: Address | None = None
        #: The telnets port (TLS from the first byte), once it listens.
        self.secure_address: Address | None = None

    def build_protocol(self, addr: Address) -> TelnetProtocol:
        reason = self.refusal(addr.host)
        if reason is not None:
            return _Refusal(refusal_message(reason), self.clock)
        session = TelnetSession(self)
        session.factory = self
        return session

    def refusal(self, host: str, service: str = "telnet") -> str | None:
        """Why a new game connection from ``host`` must be refused (logged and audited), or None.

        Telnet and the game over WebSocket (``service="websocket"``) share
        the counts: a WebSocket player is a telnet session.
        """
        reason = self.connections.refusal(host)
        if reason is not None:
            log.warning("refusing %s connection from %s: %s (%d open)",
                        service, host, reason, len(self.connections))
            audit("connection.refused", service=service, address=host,
                  reason=_AUDIT_REASONS.get(reason, "per-service"))
        return reason

    def adopt(self, sock: Any, state: dict[str, Any]) -> TelnetSession:
        """Carry on a connection a previous process handed over (a code upgrade).

        ``state`` is what :meth:`TelnetSession.hand_over` gave there; the
        session runs on this process's reactor from now on.
        """
        session = TelnetSession(self, resume=state)
        session.factory = self
        self.clock.adopt_tcp_connection(sock, session)
        return session

    def handover_sessions(self) -> tuple[list[TelnetSession], list[TelnetSession]]:
        """Open sessions as (those that can cross to a new process, those that cannot)."""
        crossing: list[TelnetSession] = []
        staying: list[TelnetSession] = []
        for session in self.connections.matching(lambda host: True):
            if not isinstance(session, TelnetSession):
                continue
            (crossing if session.can_hand_over else staying).append(session)
        return crossing, staying

    def websocket_session(self, config: TelnetConfig) -> TelnetSession:
        """A session for a player over WebSocket, with its own ``config`` (no MCCP there)."""
        session = TelnetSession(self, config)
        session.factory = self
        return session

    def _schedule_flush(self, session: TelnetSession) -> None:
        if not self._to_flush:
            self.clock.call_soon(self._flush_sessions)
        self._to_flush.append(session)

    def _flush_sessions(self) -> None:
        sessions, self._to_flush = self._to_flush, []
        for session in sessions:
            try:
                session._flush_now()
            except Exception:
                log.exception("error writing to %r", session)

    def _hold_output(self, session: TelnetSession) -> None:
        # One timer for every held session: the window starts with the first
        # of them, so none waits longer than output_window.
        if self.output_window <= 0:
            session._output_held = False
            session.flush()
            return
        if not self._held:
            self.clock.call_later(self.output_window, self._flush_held)
        self._held.append(session)

    def _hold_crowd_output(self, session: TelnetSession) -> None:
        # As _hold_output, for the crowd window: a line on a channel every
        # player is on must not cost every player a write per output window.
        # One crowd window for rooms and channels: a listener in a crowded
        # room who hears a channel too is written once per window, not twice.
        if self.crowd_window <= 0:
            self._hold_output(session)
            return
        self._start_crowd_window()
        self._held_crowd.append(session)

    def _start_crowd_window(self) -> None:
        if self._crowd_call is None:
            self._crowd_call = self.clock.call_later(self.crowd_window, self._flush_logs)

    def _open_log(self, room: Any, sessions: Sequence[TelnetSession]) -> RoomLog:
        log = RoomLog(room)
        for session in sessions:
            if session._heard is not None:
                session._log = log
                session._cursor = 0
                log.members.add(session)
                log.most_texts = min(log.most_texts, session.max_heard)
                log.most_size = min(log.most_size, session.hold_limit)
        self._start_crowd_window()
        self._logs[room] = log
        return log

    def _settle_log(self, room: Any) -> None:
        log = self._logs.pop(room, None)
        if log is None:
            return
        for session in log.members:
            if session._log is log:
                session._catch_up()
                session._log = None
                if log.size > session.hold_limit or len(log.texts) >= session.max_heard:
                    session._spill_held()  # written at the end of this turn
                elif session._heard:
                    session._hold()

    def _flush_held(self) -> None:
        sessions, self._held = self._held, []
        self._write_held_slices(sessions)

    def _flush_logs(self) -> None:
        """The crowd window ended: every crowded room's listeners and big channels' write."""
        self._crowd_call = None
        sessions, self._held_crowd = self._held_crowd, []
        logs, self._logs = self._logs, {}
        for log in logs.values():
            for session in log.members:
                if session._log is not log:
                    continue
                session._catch_up()
                session._log = None
                if session._heard and not session._output_held:
                    session._output_held = True
                    sessions.append(session)
        self._write_held_slices(sessions)

    def _write_held_slices(self, sessions: list[TelnetSession]) -> None:
        # A slice per turn of the loop: two thousand writes at once would
        # hold every command that arrives meanwhile for tens of milliseconds.
        sessions, rest = sessions[:HELD_SLICE], sessions[HELD_SLICE:]
        if rest:
            self.clock.call_later(0, self._write_held_slices, rest)
        for session in sessions:
            session._output_held = False
            if session._flush_pending:
                continue  # written at the end of this turn
            try:
                session._write_held()
            except Exception:
                log.exception("error writing to %r", session)

    @property
    def open_connections(self) -> int:
        """Telnet connections open now, logged in or not."""
        return len(self.connections)

    def close_all(self, message: str) -> None:
        """Tell every connection (logged in or not) ``message`` and close it."""
        self.connections.close_all(lambda session: session.disconnect(message))

    def close_banned(self, covers: Callable[[str], bool], message: str) -> int:
        """A new address ban: tell every connection from an address it covers, and close it."""
        sessions = self.connections.matching(covers)
        for session in sessions:
            try:
                session.disconnect(message)
            except Exception:
                log.exception("error closing %r", session)
        return len(sessions)

    # -- texts ---------------------------------------------------------------------------

    def banner(self, secure: bool = False) -> str:
        """The greeting: the world's name, underlined (decoration a screen reader skips).

        On a plain connection, when the TLS port is open, it says where the
        secure one is: the password typed next would cross the network in
        the clear.
        """
        world = self.world
        rule = "=" * max(3, min(60, len(markup.strip(world.name))))
        lines = ["", f"  {world.name}", "  " + markup.deco(rule), ""]
        if world.welcome:
            lines += [f"  {world.welcome}", ""]
        if world.web_url:
            lines.append(f"  On the web: {world.web_url}/  (the map: {world.web_url}/map.svg)")
            lines.append("")
        if self.secure_address is not None and not secure:
            lines.append(
                f"  This connection is not encrypted. Secure (TLS) port: {self.secure_address.port}"
            )
            lines.append("  (Mudlet: tick \"Secure\"; TinTin++: #ssl).")
            lines.append("")
        lines.append(self.login_help())
        return "\n".join(lines)

    @staticmethod
    def login_help() -> str:
        return (
            "Type your character's name to log in or to create a new character,\n"
            "or: create <name> <password> | connect <name> <password> | who | quit\n"
        )

    def mssp_variables(self) -> dict[str, Any]:
        world = self.world
        counts = world.counts()
        variables: dict[str, Any] = {
            "NAME": world.name,
            "PLAYERS": str(counts.online),
            "UPTIME": str(int(self.started)),
            "CODEBASE": f"Reality {__version__}",
            "FAMILY": "Custom",
            "LANGUAGE": "English",
            "ROOMS": str(counts.rooms),
            "ANSI": "1",
            "UTF-8": "1",
            "GMCP": "1",
            "MCCP": "1",
            "XTERM 256 COLORS": "1",
            "XTERM TRUE COLORS": "1",
        }
        if self.address is not None:
            variables["PORT"] = str(self.address.port)
        if self.secure_address is not None:
            # MSSP's "SSL": the port of the TLS connection.
            variables["SSL"] = str(self.secure_address.port)
        if self.world.web_url:
            variables["WEBSITE"] = f"{self.world.web_url}/"
        return variables


def install(context: GatewayContext) -> TelnetGateway:
    """Plug telnet into the server: its port; the gateway is what the server tracks.

    When the port is open the world learns its address (the website shows
    how to connect, so the world's change makes it draw its pages again).
    """
    world, limits = context.world, context.limits
    gateway = TelnetGateway(
        world,
        context.authenticator,
        context.reactor,
        max_per_address=limits.max_per_address,
        max_connections=limits.max_connections,
        idle_timeout=limits.idle_timeout,
        login_timeout=context.settings.login_timeout,
        login_deadline=context.settings.login_deadline,
    )

    def listening(address: Address) -> None:
        gateway.address = address
        world.telnet_address = f"{context.public_host()}:{address.port}"
        world.changed("world", None)

    context.listen("telnet", context.settings.telnet_port, gateway, listening)
    if context.tls is not None:
        # The same gateway behind TLS: the same limits, bans and takeover.
        def secure_listening(address: Address) -> None:
            gateway.secure_address = address

        secure = TLSServerFactory(gateway, context.tls, clock=context.reactor,
                                  handshake_timeout=context.settings.tls_handshake_timeout)
        context.listen("telnets", context.settings.telnets_port, secure, secure_listening)
    return gateway
