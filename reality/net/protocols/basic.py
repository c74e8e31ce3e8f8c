"""Basic protocols: lines, and pipelined request/reply commands.

:class:`LineReceiver` splits a byte stream into lines at a configurable
delimiter and calls ``line_received(line)`` for each (without the
delimiter). It never buffers without bound: a line longer than
``max_length`` is dropped (the rest of it, up to the next delimiter, is
discarded as it arrives) and the protocol hears ``line_length_exceeded``.
It can switch to raw mode (``raw_data_received``) and back, as protocols
with a binary payload after a line-based header need.

The buffer is a ``bytearray``: lines are cut from its front, which
CPython does without copying the rest, and each search for the delimiter
starts where the last one stopped, so a long line arriving in many small
reads costs linear time, not quadratic.

For request/reply protocols (SMTP, POP3), :class:`CommandLineCodec` is the
sans-IO framing of their command lines (``VERB argument``, bounded,
UTF-8) and :class:`CommandPipeline` the session loop that answers them in
order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Generic, Protocol as TypingProtocol, TypeVar

from attrs import frozen

from reality.audit import audit, host_of
from reality.net.defer import Deferred, Failure
from reality.net.protocol import Protocol

if TYPE_CHECKING:
    from reality.net.interfaces import IDelayedCall, IReactorTime, ITransport

log = logging.getLogger(__name__)

#: The first byte of a TLS record carrying a handshake (a ClientHello).
TLS_HANDSHAKE_RECORD = 0x16

#: Replies made for pipelined commands are written once they reach this
#: many bytes, before the next command runs (see :class:`CommandPipeline`).
FLUSH_AT = 16 * 1024

__all__ = [
    "CLOSE",
    "BadCommandLine",
    "Close",
    "Command",
    "CommandLineCodec",
    "CommandPipeline",
    "CommandSession",
    "Deadline",
    "LineReceiver",
    "LineTooLong",
]


class LineReceiver(Protocol):
    """A protocol that receives lines (and, in raw mode, bytes)."""

    #: Set by make_connection before any other method runs.
    transport: ITransport

    #: What ends a line.
    delimiter: bytes = b"\r\n"
    #: The longest line accepted, in bytes, without the delimiter.
    max_length: int = 16384

    _buffer: bytearray | None = None
    _scan_from = 0
    _discarding = False
    _discarded = 0
    line_mode = True

    def data_received(self, data: bytes) -> None:
        """Cut ``data`` into lines (or pass it on whole in raw mode)."""
        if not self.line_mode:
            self.raw_data_received(data)
            return
        buffer = self._buffer
        if buffer is None:
            buffer = self._buffer = bytearray()
        buffer += data
        delimiter = self.delimiter
        size = len(delimiter)
        transport = self.transport
        while self.line_mode:
            if transport is not None and getattr(transport, "disconnecting", False):
                # The protocol asked to close: lines after that are not read.
                return
            end = buffer.find(delimiter, self._scan_from)
            if end < 0:
                if self._discarding:
                    # Keep only what could be the start of a delimiter.
                    keep = size - 1
                    self._discarded += max(0, len(buffer) - keep)
                    del buffer[: max(0, len(buffer) - keep)]
                    self._scan_from = 0
                elif len(buffer) > self.max_length + size - 1:
                    self._discarding = True
                    self._discarded = 0
                    continue
                else:
                    self._scan_from = max(0, len(buffer) - size + 1)
                return
            line = bytes(buffer[:end])
            del buffer[: end + size]
            self._scan_from = 0
            if self._discarding:
                self._discarding = False
                length = self._discarded + len(line)
                self._discarded = 0
                self.line_length_exceeded(length)
                continue
            if len(line) > self.max_length:
                self.line_length_exceeded(len(line))
                continue
            self.line_received(line)
        # Raw mode was switched on by a line: what follows is raw data.
        if buffer:
            rest = bytes(buffer)
            buffer.clear()
            self._scan_from = 0
            self.raw_data_received(rest)

    def set_raw_mode(self) -> None:
        """Deliver what follows with ``raw_data_received`` instead of as lines."""
        self.line_mode = False

    def set_line_mode(self, extra: bytes = b"") -> None:
        """Go back to lines; ``extra`` is data to treat as having just arrived."""
        self.line_mode = True
        if extra:
            self.data_received(extra)

    def clear_line_buffer(self) -> bytes:
        """Forget (and return) whatever partial line is buffered."""
        buffer = self._buffer
        if buffer is None:
            return b""
        data = bytes(buffer)
        buffer.clear()
        self._scan_from = 0
        self._discarding = False
        return data

    def send_line(self, line: bytes) -> None:
        """Write ``line`` followed by the delimiter."""
        self.transport.write(line + self.delimiter)

    # -- hooks ------------------------------------------------------------------------

    def line_received(self, line: bytes) -> None:
        """A whole line arrived (without the delimiter). Override."""
        raise NotImplementedError

    def raw_data_received(self, data: bytes) -> None:
        """Bytes arrived in raw mode. Override if you use raw mode."""
        raise NotImplementedError

    def line_length_exceeded(self, length: int) -> None:
        """A line of ``length`` bytes (over ``max_length``) was dropped.

        The default tells the peer nothing and keeps the connection: the
        line is simply gone. Override to answer (``500 Line too long``) or
        to close.
        """
        log.info("dropped a line of %d bytes (limit %d)", length, self.max_length)


@frozen
class Command:
    """A command line: the verb in upper case and the rest of the line after one space."""

    verb: str
    argument: str


@frozen
class LineTooLong:
    """A command line was longer than ``limit`` octets (line end included); it was dropped."""

    limit: int


@frozen
class BadCommandLine:
    """A command line was not UTF-8; it was dropped."""


@frozen
class Close:
    """A session's action: hang up once the replies before it are written."""


#: The one :class:`Close` (it carries nothing).
CLOSE = Close()


class CommandLineCodec:
    """The command lines of a request/reply protocol (SMTP, POP3), sans-IO.

    Feed bytes with :meth:`receive_data` and pull events one at a time with
    :meth:`next_event` (None: more bytes are needed), so a session can stop
    between commands while a reply is pending without the codec reading
    ahead; :meth:`receive` does both for callers that never pause.

    A line ends with LF; a CR before it is removed, so a person on telnet
    or netcat can talk to the server too. ``max_line_length`` counts the
    line end. A longer line is reported (:class:`LineTooLong`) as soon as
    it is certain and then discarded as it arrives, never held.
    """

    __slots__ = ("_buffer", "_scan", "_discarding", "max_line_length")

    def __init__(self, max_line_length: int) -> None:
        self.max_line_length = max_line_length
        self._buffer = bytearray()
        self._scan = 0  # where to resume looking for the line end
        self._discarding = False  # dropping the rest of an over-long line

    @property
    def buffered(self) -> int:
        """Bytes received but not yet turned into events."""
        return len(self._buffer)

    def receive_data(self, data: bytes) -> None:
        """Add bytes from the client."""
        self._buffer += data

    def receive(self, data: bytes) -> list[Any]:
        """Add bytes and return every event they complete."""
        self.receive_data(data)
        events = []
        while (event := self.next_event()) is not None:
            events.append(event)
        return events

    def next_event(self) -> Any:
        """The next event, or None until more bytes arrive."""
        return self.next_command()

    def next_command(self) -> Command | LineTooLong | BadCommandLine | None:
        """The next command line, or None until more bytes arrive."""
        buf = self._buffer
        limit = self.max_line_length
        while True:
            newline = buf.find(b"\n", self._scan)
            if newline < 0:
                if self._discarding:
                    buf.clear()
                    self._scan = 0
                elif len(buf) >= limit:
                    # With its line end this line can only be longer than the
                    # limit: say so now and drop it as it arrives.
                    buf.clear()
                    self._scan = 0
                    self._discarding = True
                    return LineTooLong(limit)
                else:
                    self._scan = len(buf)
                return None
            end = newline + 1
            self._scan = 0
            if self._discarding:
                del buf[:end]
                self._discarding = False
                continue
            if end > limit:
                del buf[:end]
                return LineTooLong(limit)
            line = bytes(buf[:newline])
            del buf[:end]
            if line.endswith(b"\r"):
                line = line[:-1]
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError:
                return BadCommandLine()
            verb, _, argument = text.partition(" ")
            return Command(verb.upper(), argument)


ActionT = TypeVar("ActionT")


class CommandSession(Generic[ActionT]):
    """The input side of a sans-IO request/reply session (SMTP, POP3), shared.

    Bytes go to the session's ``codec`` (:meth:`receive_data`);
    :meth:`next_actions` takes one complete input, lets the subclass's
    ``_handle(event)`` append its actions to ``self._out``, and returns
    them; it takes nothing while :meth:`_blocked` (a request outstanding,
    or the session over), so the answers to pipelined commands keep their
    order. :meth:`receive` and :meth:`receive_line` do it all at once, for
    transcripts and for callers that never wait.
    """

    __slots__ = ("codec", "_out")

    codec: CommandLineCodec
    _out: list[ActionT]

    @property
    def buffered(self) -> int:
        """Bytes received but not yet handled."""
        return self.codec.buffered

    def receive_data(self, data: bytes) -> None:
        """Bytes from the client; they are handled by :meth:`next_actions`."""
        self.codec.receive_data(data)

    def next_actions(self) -> list[ActionT] | None:
        """Handle the next complete input and return what to do about it.

        None when more bytes are needed, while a request awaits its answer,
        or once the session is over.
        """
        if self._blocked():
            return None
        event = self.codec.next_event()
        if event is None:
            return None
        out: list[ActionT] = []
        self._out = out
        self._handle(event)
        return out

    def receive(self, data: bytes) -> list[ActionT]:
        """Feed ``data`` and handle all it completes, up to a request or the end."""
        self.receive_data(data)
        actions: list[ActionT] = []
        while (more := self.next_actions()) is not None:
            actions += more
        return actions

    def receive_line(self, line: bytes) -> list[ActionT]:
        """One line from the client (without its CRLF): :meth:`receive` of ``line`` CRLF."""
        return self.receive(line + b"\r\n")

    def _blocked(self) -> bool:
        """True while no input may be taken."""
        raise NotImplementedError

    def _handle(self, event: Any) -> None:
        raise NotImplementedError


class PipelineSettings(TypingProtocol):
    """The limits :class:`CommandPipeline` reads from a protocol's settings."""

    @property
    def idle_timeout(self) -> float: ...

    @property
    def max_buffered(self) -> int: ...


class PipelinedSession(TypingProtocol):
    """A sans-IO request/reply session as :class:`CommandPipeline` drives it."""

    @property
    def buffered(self) -> int:
        """Input bytes not yet handled."""
        ...

    def receive_data(self, data: bytes) -> None:
        """Bytes from the client."""
        ...

    def next_actions(self) -> Sequence[object] | None:
        """The actions for the next complete input; None: more bytes, or an answer, needed."""
        ...


class CommandPipeline(Protocol):
    """Answers pipelined commands one at a time, in order, with back-pressure.

    The I/O half of a request/reply protocol (SMTP, POP3) whose whole state
    machine is a sans-IO session: ``self.session.next_actions()`` handles
    the next command (or None) and ``self.session.buffered`` says how many
    bytes wait. While a reply depends on a Deferred (``self._waiting``),
    later commands stay queued, so replies can never come out of order (Twisted's SMTP bug
    #8126). While the transport's send buffer is full (``pause_writing``),
    no new replies are produced; while too much input waits
    (``settings.max_buffered``), the transport stops reading.

    Replies collect in ``self._out`` and go out in one write per batch
    (:meth:`_flush`), a batch ending when the commands that arrived are
    done or when it reaches :data:`FLUSH_AT` bytes: a reply is written
    before the next command runs once a batch is that big, so the
    transport can say ``pause_writing`` in time (400 pipelined ``RETR`` of
    a 1 MiB letter must not build 400 MiB before the first write). While
    writing is paused the transport is not read either, so what one session
    can make the server hold is bounded: the transport's high-water mark
    plus one reply, and ``settings.max_buffered`` plus one read of input.

    Timers (on ``self.clock``), none of which a trickling client can stretch
    (the house rule: every slow-peer timer has a total deadline):

    - the idle timer, ``settings.idle_timeout`` seconds, restarts only when
      a complete command is taken (or a backend's reply is made), never on
      a read: a command line must be complete within the idle time counted
      from the end of the previous one, so one byte a second of a line
      without its line end does not keep the session. Only while
      :meth:`_reading_body` says the input is a message body (SMTP DATA,
      whose own total deadline the subclass keeps) does each read count.
    - the session clock, ``settings.session_timeout`` seconds in total (0:
      none), counts only the time the session waits for the client: not
      while a backend's answer is awaited and not while the client's
      replies are backed up (``pause_writing``). So a client that keeps
      downloading is never cut off, while one that holds its session (and
      its mailbox lock, and a connection slot) with a NOOP every few
      minutes, or with commands trickled a byte at a time, is.

    When one runs out the subclass's ``_timeout_reply(reason)`` is sent
    and the connection closed, with one INFO line and one
    ``connection.timeout`` audit event (``reason``: ``idle``,
    ``partial-command``, ``data-idle``, ``data-deadline``, ``session``);
    if by then the client has not read its replies either (writing
    paused), the connection is aborted instead, since a polite close would
    wait for it forever.

    Subclasses set ``service`` (for the log) and ``session`` (the sans-IO
    state machine, a :class:`PipelinedSession`), call :meth:`_init_pipeline`
    in ``__init__`` and :meth:`_start_pipeline` in ``connection_made``,
    provide ``_perform(actions)`` (what the session asked for: replies into
    ``self._out``, requests to a backend through :meth:`_wait_for`) and
    ``_timeout_reply(reason)`` (which answers and closes).
    """

    #: Set by make_connection before any other method runs.
    transport: ITransport

    #: The service's name in log lines and audit events.
    service = "?"

    session: PipelinedSession
    settings: PipelineSettings
    clock: IReactorTime

    def _init_pipeline(self) -> None:
        self._waiting = False  # a backend call's reply is outstanding
        self._processing = False
        self._closing = False
        self._write_paused = False
        self._read_paused = False
        self._timer: IDelayedCall | None = None
        self._out: list[bytes] = []
        # Bytes in the replies of _out already counted, and how many of them:
        # the batch's size grows with each command, never summed again.
        self._out_size = 0
        self._out_counted = 0
        self._session: Deadline | None = None
        self._first_read = True

    def _start_pipeline(self) -> None:
        """The connection is made: start the idle timer and the session clock."""
        self._start_timer()
        limit = getattr(self.settings, "session_timeout", 0)
        if limit and limit > 0:
            self._session = Deadline(self.clock, limit, self._deadline, "session")
            self._session_clock()

    def data_received(self, data: bytes) -> None:
        if self._closing:
            return
        if self._first_read and data:
            self._first_read = False
            if data[0] == TLS_HANDSHAKE_RECORD:
                self._tls_on_plain_port()
                return
        # Only a complete command restarts the idle timer (see _process): a
        # read does not, unless it is part of a message body.
        if not self._waiting and self._reading_body():
            self._start_timer()
        self.session.receive_data(data)
        self._process()

    def _reading_body(self) -> bool:
        """True while the input is a message body whose every read counts as activity."""
        return False

    def pause_writing(self) -> None:
        # The client is not reading its replies: stop producing them, and
        # stop reading its commands until it does.
        self._write_paused = True
        self._session_clock()
        self._flow_control()

    def resume_writing(self) -> None:
        self._write_paused = False
        # The client has just read (48 KiB, from the high to the low mark):
        # a slow download is activity, not idleness, though no command came.
        if not self._waiting:
            self._start_timer()
        self._session_clock()
        self._process()

    def _session_clock(self) -> None:
        """Run the session clock only while the session waits for the client."""
        session = self._session
        if session is None:
            return
        if self._closing:
            session.cancel()
        elif self._waiting or self._write_paused:
            session.pause()
        else:
            session.resume()

    def _process(self) -> None:
        if self._processing:
            return
        self._processing = True
        try:
            while not (self._waiting or self._closing or self._write_paused):
                actions = self.session.next_actions()
                if actions is None:
                    break
                # A complete command: the client gets a new idle period.
                self._start_timer()
                self._perform(actions)
                # A big batch goes out before the next command, so that a
                # full transport can pause us (pause_writing) in between.
                out = self._out
                for index in range(self._out_counted, len(out)):
                    self._out_size += len(out[index])
                self._out_counted = len(out)
                if self._out_size >= FLUSH_AT:
                    self._flush()
        finally:
            self._processing = False
        self._flush()
        self._flow_control()

    def _flow_control(self) -> None:
        if self._closing or self.transport is None:
            return
        full = self._write_paused or self.session.buffered > self.settings.max_buffered
        if full and not self._read_paused:
            self._read_paused = True
            self.transport.pause_reading()
        elif not full and self._read_paused:
            self._read_paused = False
            self.transport.resume_reading()

    def _wait_for(
        self,
        d: Deferred[Any],
        on_result: Callable[..., None],
        on_failure: Callable[..., None],
        *args: Any,
        always: bool = False,
        on_abandoned: Callable[[Any], None] | None = None,
    ) -> None:
        """Hold the next commands until ``d`` fires and its reply is written.

        ``on_result(result, *args)`` or ``on_failure(failure, *args)`` makes
        the reply. If the session is over by then, only ``on_abandoned`` (if
        any) sees the result, unless ``always``: a step that must finish
        whatever happens (releasing a lock) still runs its handlers.
        """
        self._waiting = True
        self._stop_timer()
        self._session_clock()

        def done(result: Any) -> None:
            self._waiting = False
            self._session_clock()
            if self._closing and not always:
                if on_abandoned is not None:
                    on_abandoned(result)
                return
            if isinstance(result, Failure):
                on_failure(result, *args)
            else:
                try:
                    on_result(result, *args)
                except Exception:
                    # A backend answer we cannot use (wrong type, bad text):
                    # a temporary failure for the client, never a stalled session.
                    on_failure(Failure(), *args)
            self._start_timer()
            # Called from inside _process (the Deferred had already fired)
            # this does nothing and the loop there carries on.
            self._process()

        d.add_both(done)

    def _tls_state(self) -> tuple[bool, bool]:
        """(TLS is on, TLS could start) for the transport: a plain TCP
        transport says (False, False); :func:`~reality.net.tls.wrap_for_starttls`'s
        layer (False, True) until ``start_tls``; a TLS port (True, False)."""
        transport = self.transport
        active = bool(getattr(transport, "tls_active", False))
        return active, not active and callable(getattr(transport, "start_tls", None))

    def _start_tls(self) -> None:
        """The session agreed to STARTTLS/STLS: its reply goes out in the clear, then TLS.

        From here every byte the client sends is TLS: the session made
        sure nothing was already buffered behind the command.
        """
        self._flush()
        transport = self.transport
        if transport is None or transport.disconnecting:
            return
        try:
            transport.start_tls()  # type: ignore[attr-defined]
        except (AttributeError, RuntimeError) as exc:
            log.error("%s: cannot start TLS: %s", self.service, exc)
            transport.abort_connection()

    def _flush(self) -> None:
        """Write the replies made so far in one piece (dropped once the transport closes)."""
        transport = self.transport
        self._out_size = self._out_counted = 0
        if self._out and transport is not None and not transport.disconnecting:
            out = self._out
            self._out = []
            transport.write(b"".join(out))
        else:
            self._out.clear()

    def _start_timer(self) -> None:
        """(Re)start the idle timer."""
        if self._closing:
            return
        timer = self._timer
        if timer is not None and timer.active():
            timer.reset(self.settings.idle_timeout)
        else:
            self._timer = self.clock.call_later(self.settings.idle_timeout, self._timed_out)

    def _stop_timer(self) -> None:
        """Stop the idle timer (and, once the session is closing, every timer)."""
        timer = self._timer
        if timer is not None and timer.active():
            timer.cancel()
        self._timer = None
        if self._closing and self._session is not None:
            self._session.cancel()

    def _timed_out(self) -> None:
        self._timer = None
        if self._reading_body():
            reason = "data-idle"
        elif self.session.buffered:
            # Part of a line came, its end did not: a trickle, not a pause.
            reason = "partial-command"
        else:
            reason = "idle"
        self._deadline(reason)

    def _tls_on_plain_port(self) -> None:
        """A TLS ClientHello on this plain port: close at once.

        No command starts with byte 0x16 (a TLS handshake record), and a
        TLS client could not read a plain reply: waiting for the line's end
        would only hold the connection until the idle timer.
        """
        self._closing = True
        self._stop_timer()
        transport = self.transport
        address = host_of(transport) if transport is not None else None
        log.info("%s %s: TLS handshake on the plain port; closing", self.service, address)
        audit("connection.refused", service=self.service, address=address, reason="tls-on-plain")
        if transport is not None:
            transport.abort_connection()

    def _deadline(self, reason: str) -> None:
        """A timer ran out (``reason``): log it, answer, close."""
        if self._closing:
            return
        transport = self.transport
        address = host_of(transport) if transport is not None else None
        limit = {
            "session": getattr(self.settings, "session_timeout", 0),
            "data-deadline": getattr(self.settings, "data_timeout", 0),
        }.get(reason, self.settings.idle_timeout)
        log.info(
            "%s %s: %s timeout (%ss), closing", self.service, address, reason, limit
        )
        audit("connection.timeout", service=self.service, address=address, reason=reason)
        if self._write_paused and transport is not None:
            # The client does not read its replies either: a goodbye would
            # sit behind them, and lose_connection() would wait forever.
            log.info("%s %s: replies unread; aborting the connection", self.service, address)
            self._closing = True
            self._stop_timer()
            transport.abort_connection()
            return
        self._timeout_reply(reason)

    def _perform(self, actions: Sequence[Any]) -> None:
        """Do what the session asked for (replies, requests, a close)."""
        raise NotImplementedError

    def _timeout_reply(self, reason: str) -> None:
        """A timer ran out (see the class docstring): answer with the protocol's reply, close."""
        raise NotImplementedError


class Deadline:
    """A total time limit that runs only while resumed: ``pause()`` stops it
    counting, ``resume()`` carries on with what is left; when none is left,
    ``callback(*args)`` is called (once). Starts paused.

    For limits on time that is the peer's (waiting for its input), not the
    server's own (waiting for a backend, or for the peer to read).
    """

    __slots__ = ("clock", "left", "callback", "args", "_call", "_since")

    def __init__(
        self, clock: IReactorTime, seconds: float, callback: Callable[..., None], *args: Any
    ) -> None:
        self.clock = clock
        #: Seconds left (None once cancelled or spent).
        self.left: float | None = float(seconds)
        self.callback = callback
        self.args = args
        self._call: IDelayedCall | None = None
        self._since = 0.0

    @property
    def running(self) -> bool:
        """Whether the time is counting now."""
        return self._call is not None

    def resume(self) -> None:
        """Start counting (no-op while counting, or once cancelled)."""
        if self._call is None and self.left is not None:
            self._since = self.clock.seconds()
            self._call = self.clock.call_later(max(0.0, self.left), self._fire)

    def pause(self) -> None:
        """Stop counting, keeping what is left."""
        call = self._call
        if call is not None:
            self._call = None
            call.cancel()
            if self.left is not None:
                self.left = max(0.0, self.left - (self.clock.seconds() - self._since))

    def cancel(self) -> None:
        """Never fire."""
        self.pause()
        self.left = None

    def _fire(self) -> None:
        self._call = None
        self.left = None
        self.callback(*self.args)
