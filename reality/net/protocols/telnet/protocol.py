"""The telnet adapter on the engine: :class:`TelnetProtocol`, a codec plus one hook per event.

It builds a :class:`~reality.net.protocols.telnet.codec.TelnetCodec` in
``connection_made`` (the server side sends its offers at once), feeds it
``data_received``, calls one overridable hook per event, and writes what the
codec produced. What it adds to the codec is what needs a transport or a
clock: back-pressure (input parsed only while output flows), the bound on
output the peer leaves unread, and the hold on a peer's input while it
floods negotiation.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from reality.audit import audit, host_of
from reality.net.defer import Failure
from reality.net.interfaces import IDelayedCall, IReactorTime
from reality.net.protocol import Protocol
from reality.net.protocols.telnet.codec import TelnetCodec
from reality.net.protocols.telnet.config import Side, TelnetConfig
from reality.net.protocols.telnet.events import (
    Break,
    CharsetAgreed,
    Event,
    GmcpMessage,
    Interrupt,
    LineTooLong,
    MsspData,
    MsspRequested,
    NegotiationFlood,
    OptionChanged,
    PartialLine,
    Prompt,
    ProtocolError,
    TerminalType,
    TextLine,
    WindowSize,
)

# The package's logger, as before the split (see codec.py).
log = logging.getLogger("reality.net.protocols.telnet")

__all__ = ["TelnetProtocol"]



def _hook_table() -> dict[type, Callable[[TelnetProtocol, Any], None]]:
    return {
        TextLine: lambda p, e: p.line_received(e.text),
        PartialLine: lambda p, e: p.partial_line_received(e.text),
        Prompt: lambda p, e: p.prompt_received(e.text),
        WindowSize: lambda p, e: p.window_size_changed(e.width, e.height),
        TerminalType: lambda p, e: p.terminal_type_received(e),
        GmcpMessage: lambda p, e: p.gmcp_received(e.package, e.data),
        MsspRequested: lambda p, e: p.mssp_requested(),
        MsspData: lambda p, e: p.mssp_received(e.as_dict()),
        CharsetAgreed: lambda p, e: p.charset_agreed(e.name),
        OptionChanged: lambda p, e: p.option_changed(e.option, e.side, e.enabled),
        Interrupt: lambda p, e: p.interrupt_received(),
        Break: lambda p, e: p.break_received(),
        LineTooLong: lambda p, e: p.line_too_long(e.length, e.limit),
        ProtocolError: lambda p, e: p.protocol_error(e.message),
    }


class TelnetProtocol(Protocol):
    """A telnet connection on the engine: a :class:`TelnetCodec` plus hooks.

    Subclasses override the hooks (``line_received`` and friends) and call
    ``send_text``, ``send_prompt``, ``send_gmcp``, ``set_echo``... which write
    at once (output produced while events are being handled is written in
    one piece when they are done). Close with :meth:`close`, which ends an
    MCCP2 stream cleanly first; calling ``transport.lose_connection()``
    directly would cut the stream short.

    ``telnet_config`` picks the end and the options; ``clock`` (anything
    with ``seconds()``) times the negotiation flood limit.

    Back-pressure: input is parsed :attr:`input_chunk` bytes at a time and
    its events handled only while less than :attr:`output_high_water`
    bytes of output wait (in the codec and the transport) and the
    transport has not said ``pause_writing``. Otherwise the rest of the
    input waits here unparsed and the transport stops reading until the
    output drains (``resume_writing``, or :meth:`flush` finding room), so
    a client that sends commands without reading the answers holds at most
    one read of input and the high-water mark of output. A subclass whose
    own queue is full says so with :meth:`input_paused`, with the same
    effect. Output the peer
    still does not read (what others make: room events, channels) is
    allowed up to :attr:`max_unsent_output` bytes; past that the
    connection is aborted and the reason logged.
    """

    telnet_config: TelnetConfig = TelnetConfig.server()
    clock: IReactorTime | None = None
    codec: TelnetCodec
    #: Output waiting to be sent past which input is no longer handled or read.
    output_high_water: int = 64 * 1024
    #: Output the peer has not read past which the connection is closed.
    max_unsent_output: int = 1024 * 1024
    #: Input parsed at once while output flows (the rest waits unparsed).
    input_chunk: int = 4096
    #: A connection carried on from another process (a code upgrade): the
    #: codec state it exported (:meth:`TelnetCodec.export_state`), restored
    #: at connection_made instead of sending our offers again.
    resume_state: dict[str, Any] | None = None

    _HOOKS = _hook_table()

    def __init__(
        self, config: TelnetConfig | None = None, clock: IReactorTime | None = None
    ) -> None:
        if config is not None:
            self.telnet_config = config
        if clock is not None:
            self.clock = clock
        self._dispatching = False
        self._closing = False
        self._held = bytearray()  # input not parsed yet
        self._events: deque[Event] = deque()  # parsed, not handled yet
        self._write_paused = False  # the transport said pause_writing
        self._read_paused = False  # we said pause_reading
        self._pumping = False
        # The delayed call that ends a negotiation-flood pause.
        self._flood_hold: IDelayedCall | None = None

    # -- engine side ---------------------------------------------------------------

    def connection_made(self) -> None:
        """Build the codec and send our offers."""
        seconds = self.clock.seconds if self.clock is not None else None
        self.codec = TelnetCodec(self.telnet_config, clock=seconds)
        self._dispatching = False
        self._closing = False
        self._held = bytearray()
        self._events = deque()
        self._write_paused = False
        self._read_paused = False
        self._pumping = False
        self._flood_hold = None
        if self.resume_state is not None:
            self.codec.restore_state(self.resume_state)
        else:
            self.codec.start()
        self.flush()

    def data_received(self, data: bytes) -> None:
        """Feed the codec and call a hook per event, while output flows; write what came out."""
        if self._closing:
            return
        self._held += data
        self._pump()

    def pause_writing(self) -> None:
        # The peer is not reading: handle no more of its input for now.
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        self._pump()
        if not self.output_full():
            self.output_drained()

    def output_full(self) -> bool:
        """Whether enough output waits that no more input should be handled now."""
        if self._write_paused:
            return True
        transport = self.transport
        unsent = self.codec.pending_output
        if transport is not None:
            unsent += transport.get_write_buffer_size()
        return unsent > self.output_high_water

    @property
    def input_waiting(self) -> bool:
        """Whether input was received that is not handled yet (output is not flowing)."""
        return bool(self._held or self._events)

    def _pump(self) -> None:
        """Handle held input while output flows; pause or resume reading to match."""
        if self._pumping or self.transport is None:
            return
        self._pumping = True
        try:
            # Partial-line events mark the end of each read: parse a read whole then.
            chunk = len(self._held) if self.telnet_config.flush_partial_lines else self.input_chunk
            hooks = self._HOOKS
            while not self._closing:
                self._dispatching = True
                try:
                    while self._events and not self.output_full() and not self._closing:
                        self._dispatch(hooks, self._events.popleft())
                    if (
                        self._held
                        and not self._events
                        and self._flood_hold is None
                        and not self.output_full()
                        and not self.input_paused()
                    ):
                        data = bytes(self._held[:chunk])
                        del self._held[:chunk]
                        self._events.extend(self.codec.receive(data))
                        continue
                finally:
                    self._dispatching = False
                self.flush()
                # The transport may have taken everything: carry on if so.
                if not self.input_waiting or self.output_full():
                    break
                if not self._events and (self.input_paused() or self._flood_hold is not None):
                    break
        finally:
            self._pumping = False
        if self._closing:
            self._held.clear()
            self._events.clear()
            return
        self._flow_control()

    def _dispatch(
        self, hooks: dict[type, Callable[[TelnetProtocol, Any], None]], event: Event
    ) -> None:
        if type(event) is NegotiationFlood:
            self._hold_for_flood()
        hook = hooks.get(type(event))
        try:
            if hook is None:
                self.event_received(event)
            else:
                hook(self, event)
        except Exception:
            # One failing hook must not lose the events after it.
            log.exception("telnet: error in the handler for %r", event)

    def _hold_for_flood(self) -> None:
        # The codec ignores negotiation past its bucket, but parsing what it
        # ignores still costs the loop: a peer that keeps flooding (20,000
        # GMCP pings a write) would keep it busy. So its input waits unparsed,
        # and unread, until half the bucket has refilled.
        if self.clock is None or self._flood_hold is not None:
            return
        config = self.telnet_config
        delay = config.negotiation_burst / 2 / max(config.negotiation_rate, 0.001)
        self._flood_hold = self.clock.call_later(delay, self._end_flood_hold)

    def _end_flood_hold(self) -> None:
        self._flood_hold = None
        if not self._closing:
            self._pump()

    def _flow_control(self) -> None:
        transport = self.transport
        if transport is None or self._closing:
            return
        waiting = self.input_waiting
        if waiting and not self._read_paused:
            self._read_paused = True
            transport.pause_reading()
        elif not waiting and self._read_paused:
            self._read_paused = False
            transport.resume_reading()

    def connection_lost(self, reason: Failure) -> None:
        """End a compressed stream if there is still a transport to finish it on."""
        self._held.clear()
        self._events.clear()
        hold, self._flood_hold = self._flood_hold, None
        if hold is not None and hold.active():
            hold.cancel()
        codec = getattr(self, "codec", None)
        if codec is not None and codec.compressing:
            codec.end_compression()
            tail = codec.data_to_send()
            transport = self.transport
            if tail and transport is not None and not getattr(transport, "disconnected", True):
                try:
                    transport.write(tail)
                except Exception:
                    log.debug("telnet: could not write the end of the MCCP2 stream")

    def flush(self) -> None:
        """Write whatever the codec has queued (deferred while hooks run).

        If the peer has left more than :attr:`max_unsent_output` bytes
        unread, the connection is aborted (and the reason logged): nothing
        it could still read would catch up.
        """
        if self._dispatching or self.transport is None:
            return
        data = self.codec.data_to_send()
        if data:
            self.write_out(data)

    def write_out(self, data: bytes) -> None:
        """Write bytes ready for the wire, past the codec, and apply the unread bound.

        For output the caller has IAC-escaped itself while the codec holds
        nothing and does not compress (else queue it with
        ``codec.send_escaped`` and :meth:`flush`): one copy fewer.
        """
        transport = self.transport
        if transport is None:
            return
        transport.write(data)
        if not self._closing:
            unsent = transport.get_write_buffer_size()
            if unsent > self.max_unsent_output:
                self._closing = True
                peer = transport.get_peer()
                log.warning(
                    "telnet: closing the connection from %s: %d bytes of output unread "
                    "(limit %d)",
                    getattr(peer, "host", peer),
                    unsent,
                    self.max_unsent_output,
                )
                transport.abort_connection()

    def close(self, message: str | None = None) -> None:
        """Say ``message`` (if any), end MCCP2 cleanly, and close after sending."""
        if self._closing or self.transport is None:
            return
        self._closing = True
        if message:
            self.codec.send_text(message if message.endswith("\n") else message + "\n")
        self.codec.end_compression()
        self._dispatching = False
        self.flush()
        self.transport.lose_connection()

    # -- output ----------------------------------------------------------------------

    def send_text(self, text: str) -> None:
        """Send text ("\\n" -> CR LF)."""
        self.codec.send_text(text)
        self.flush()

    def send_prompt(self, text: str) -> None:
        """Send a prompt, marked with EOR or GA as negotiated."""
        self.codec.send_prompt(text)
        self.flush()

    def send_gmcp(self, package: str, data: Any = None) -> bool:
        """Send a GMCP message if GMCP is agreed; returns whether it was sent."""
        sent = self.codec.send_gmcp(package, data)
        self.flush()
        return sent

    def send_mssp(self, variables: Mapping[str, Any]) -> bool:
        """Send MSSP variables if MSSP is agreed."""
        sent = self.codec.send_mssp(variables)
        self.flush()
        return sent

    def set_echo(self, enabled: bool) -> bool:
        """Let the client echo typing (True) or hide it for a password (False)."""
        result = self.codec.set_echo(enabled)
        self.flush()
        return result

    def set_window_size(self, width: int, height: int) -> None:
        """Client role: report a new window size over NAWS."""
        self.codec.set_window_size(width, height)
        self.flush()

    def request_local(self, option: int) -> bool:
        """Offer to perform an option (WILL)."""
        result = self.codec.request_local(option)
        self.flush()
        return result

    def request_remote(self, option: int) -> bool:
        """Ask the peer to perform an option (DO)."""
        result = self.codec.request_remote(option)
        self.flush()
        return result

    # -- hooks -----------------------------------------------------------------------

    def output_drained(self) -> None:
        """Output fell below the high-water mark again: a subclass may make more."""

    def input_paused(self) -> bool:
        """Whether a subclass wants no more input parsed now (its own queue is full).

        Input then waits unparsed and the transport is not read; call
        :meth:`_pump` when it may continue.
        """
        return False

    def line_received(self, text: str) -> None:
        """A line of input arrived (without its line ending)."""

    def partial_line_received(self, text: str) -> None:
        """Client role: text without a line ending yet (a prompt, most likely)."""

    def prompt_received(self, text: str) -> None:
        """GA or EOR marked ``text`` as a prompt."""

    def window_size_changed(self, width: int, height: int) -> None:
        """NAWS: the peer's window is now ``width`` x ``height``."""

    def terminal_type_received(self, terminal: TerminalType) -> None:
        """The TTYPE/MTTS cycle finished."""

    def gmcp_received(self, package: str, data: Any) -> None:
        """A GMCP message arrived."""

    def mssp_requested(self) -> None:
        """The peer wants MSSP: sends :meth:`mssp_variables` if it returns any."""
        variables = self.mssp_variables()
        if variables:
            self.send_mssp(variables)

    def mssp_variables(self) -> Mapping[str, Any]:
        """The MSSP variables to send (NAME, PLAYERS, UPTIME, ...). Override."""
        return {}

    def mssp_received(self, variables: dict[str, tuple[str, ...]]) -> None:
        """Client role: the server's MSSP variables arrived."""

    def charset_agreed(self, name: str) -> None:
        """CHARSET settled on ``name``."""

    def option_changed(self, option: int, side: Side, enabled: bool) -> None:
        """An option was enabled or disabled on one side."""

    def interrupt_received(self) -> None:
        """IAC IP."""

    def break_received(self) -> None:
        """IAC BRK."""

    def line_too_long(self, length: int, limit: int) -> None:
        """A line over the limit was dropped: tell the user."""
        audit("input.too_large", service="telnet", address=host_of(self.transport), what="line",
              size=length, limit=limit)
        self.send_text(
            f"Your line was {length} bytes long; the limit is {limit}. It was ignored.\n"
        )

    def protocol_error(self, message: str) -> None:
        """The peer's input cannot be parsed further: close with the reason."""
        log.warning("telnet: closing connection: %s", message)
        self.close(f"Closing the connection: {message}")

    def event_received(self, event: Event) -> None:
        """Any event without a hook of its own (CharsetRejected, NegotiationFlood, ...)."""
