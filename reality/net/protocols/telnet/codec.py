"""The telnet codec, :class:`TelnetCodec`: bytes in, events out; method calls in, bytes out.

It never touches a socket: :meth:`TelnetCodec.receive` parses input and
returns a list of events (:mod:`.events`); everything the codec must send
(negotiation answers, AYT answers, text you asked it to send) collects in an
output buffer that :meth:`TelnetCodec.data_to_send` hands over, compressed
once MCCP2 is on. The same codec serves the server (``TelnetConfig.server()``)
and a MUD client (``TelnetConfig.client(...)``); see the package docstring
for the RFCs and the limits. Option negotiation runs the RFC 1143 table of
:mod:`.qmethod`; what an option means once it changes (ask TTYPE, start
MCCP2, request CHARSET) and every subnegotiation is handled here.

The codec reads time only for the flood bucket, through the ``clock``
callable it is given (``time.monotonic`` by default).
"""

from __future__ import annotations

import logging
import time
import zlib
from collections.abc import Callable, Mapping
from typing import Any

from reality.net.protocols.telnet.config import Role, Side, TelnetConfig
from reality.net.protocols.telnet.events import (
    AbortOutput,
    Break,
    CharsetAgreed,
    CharsetRejected,
    CompressionEnded,
    CompressionStarted,
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
    Subnegotiation,
    SubnegotiationTooLong,
    TerminalType,
    TextLine,
    WindowSize,
)
from reality.net.protocols.telnet.options import (
    AO,
    AYT,
    BRK,
    CHARSET,
    CHARSET_ACCEPTED,
    CHARSET_REJECTED,
    CHARSET_REQUEST,
    CHARSET_TTABLE_IS,
    CHARSET_TTABLE_REJECTED,
    DM,
    DO,
    DONT,
    EC,
    ECHO,
    EL,
    EOR,
    EOR_CMD,
    GA,
    GMCP,
    IAC,
    IP,
    MCCP2,
    MSSP,
    NAWS,
    NOP,
    SB,
    SE,
    SGA,
    TTYPE,
    WILL,
    WONT,
    Mtts,
    charset_key,
    decode_charset_request,
    decode_gmcp,
    decode_mssp,
    decode_naws,
    encode_charset_request,
    encode_gmcp,
    encode_mssp,
    encode_naws,
    option_name,
    parse_mtts,
)
from reality.net.protocols.telnet.qmethod import OptionStates, Q, QInput

# The package's logger, as before the split: what operators configure and
# filter on does not depend on which module of the package speaks.
log = logging.getLogger("reality.net.protocols.telnet")

__all__ = ["TelnetCodec"]


# Parser states.
_DATA = 0
_IAC = 1
_NEG = 2
_SB_OPT = 3
_SB = 4
_SB_IAC = 5

_TTYPE_IS = 0
_TTYPE_SEND = 1
_TTYPE_MAX_ASKS = 4  # client name, terminal, MTTS, and one more to see a repeat

_INFLATE_CHUNK = 1 << 16

_TTYPE_SEND_BYTES = bytes([IAC, SB, TTYPE, _TTYPE_SEND, IAC, SE])
_MCCP2_START = bytes([IAC, SB, MCCP2, IAC, SE])


def _edit(text: str) -> str:
    """Apply backspace and DEL to a typed line: each erases the character before it."""
    out: list[str] = []
    for ch in text:
        if ch == "\x08" or ch == "\x7f":
            if out:
                out.pop()
        else:
            out.append(ch)
    return "".join(out)


_new = object.__new__
_set_text = TextLine.__dict__["text"].__set__


def _text_lines(texts: list[str]) -> list[TextLine]:
    """``[TextLine(t) for t in texts]`` at half the cost.

    attrs' frozen ``__init__`` goes through ``object.__setattr__``; storing
    into the slot directly does the same work without it. Every input line
    passes here, so it is worth the trick.
    """
    out: list[TextLine] = []
    append = out.append
    for text in texts:
        line = _new(TextLine)
        _set_text(line, text)
        append(line)
    return out


def _utf8_complete(buf: bytes | bytearray) -> int:
    """How many leading bytes of ``buf`` hold whole UTF-8 characters.

    Only an incomplete sequence at the very end is held back; invalid bytes
    count as complete (they will decode to U+FFFD anyway).
    """
    n = len(buf)
    for back in range(1, min(4, n) + 1):
        byte = buf[n - back]
        if byte < 0x80:
            return n
        if byte >= 0xC0:
            need = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return n - back if back < need else n
    return n


class TelnetCodec:
    """The telnet state machine for one connection, either end. See the module docstring."""

    __slots__ = (
        "config",
        "_clock",
        "_role_server",
        "_local_ok",
        "_remote_ok",
        "_max_line",
        "_max_sb",
        "_editing",
        "_events",
        "_out",
        "_zpending",
        "_deflater",
        "_inflater",
        "_broken",
        "_state",
        "_verb",
        "_text_parts",
        "_after_cr",
        "_line",
        "_line_len",
        "_sb_option",
        "_sb_buf",
        "_sb_len",
        "_sb_overflow",
        "_options",
        "_tokens",
        "_tokens_at",
        "_flooding",
        "_ttype_names",
        "_ttype_asks",
        "_ttype_active",
        "_ttype_index",
        "_charset_requested",
        "_charset_pending",
        "charset",
        "window_size",
        "terminal_type",
    )

    def __init__(
        self,
        config: TelnetConfig | None = None,
        *,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.config = config = config if config is not None else TelnetConfig.server()
        self._clock = clock if clock is not None else time.monotonic
        self._role_server = config.role is Role.SERVER
        self._local_ok = config.local_options
        self._remote_ok = config.remote_options
        self._max_line = config.max_line
        self._max_sb = config.max_subnegotiation
        self._editing = config.line_editing
        self._events: list[Event] = []
        self._out = bytearray()
        self._zpending = bytearray()
        self._deflater: zlib._Compress | None = None
        self._inflater: zlib._Decompress | None = None
        self._broken = False
        self._state = _DATA
        self._verb = 0
        self._text_parts: list[bytes] = []
        self._after_cr = False
        self._line = bytearray()
        self._line_len = 0
        self._sb_option = 0
        self._sb_buf = bytearray()
        self._sb_len = 0
        self._sb_overflow = False
        # RFC 1143 state of both sides of every option.
        self._options = OptionStates()
        self._tokens = float(config.negotiation_burst)
        self._tokens_at = self._clock()
        self._flooding = False
        self._ttype_names: list[str] = []
        self._ttype_asks = 0
        self._ttype_active = False
        self._ttype_index = 0
        self._charset_requested = False
        self._charset_pending = False
        #: The character set agreed by CHARSET, or None.
        self.charset: str | None = None
        #: The window size: the peer's (server role, from NAWS) or ours (client role).
        self.window_size: tuple[int, int] | None = (
            None if self._role_server else (*config.window_size,)
        )
        #: The last TerminalType event, or None.
        self.terminal_type: TerminalType | None = None

    # -- state queries ------------------------------------------------------------

    def local_enabled(self, option: int) -> bool:
        """True if we perform ``option`` (we said WILL and the peer agreed, or vice versa)."""
        return self._options.local_enabled(option)

    def remote_enabled(self, option: int) -> bool:
        """True if the peer performs ``option``."""
        return self._options.remote_enabled(option)

    def option_state(self, side: Side, option: int) -> tuple[Q, bool]:
        """The RFC 1143 state of one side of an option and its queue bit (True = OPPOSITE)."""
        return self._options.state(side, option)

    def refused(self, side: Side, option: int) -> bool:
        """True if the peer refused our request to enable ``option`` on ``side``."""
        return self._options.refused(side, option)

    @property
    def compressing(self) -> bool:
        """True while our output is an MCCP2 stream."""
        return self._deflater is not None

    @property
    def decompressing(self) -> bool:
        """True while the peer's input is an MCCP2 stream."""
        return self._inflater is not None

    @property
    def gmcp_enabled(self) -> bool:
        """True when GMCP was agreed in either direction."""
        return self.local_enabled(GMCP) or self.remote_enabled(GMCP)

    # -- handing a connection to another process --------------------------------------

    def export_state(self) -> dict[str, Any]:
        """What a new process needs to carry on this connection, JSON-ready.

        Option states (both sides), the agreed charset, the window size, the
        terminal type, the unfinished input line and whether output was
        compressed. A zlib stream cannot cross: the caller ends it
        (:meth:`end_compression`) and the new codec starts a new one, as
        MCCP2 allows (:meth:`restore_state`). Input compressed by the
        client (``decompressing``) cannot be carried at all.
        """
        terminal = self.terminal_type
        return {
            "options": self._options.export(),
            "charset": self.charset,
            "window_size": list(self.window_size) if self.window_size is not None else None,
            "terminal": None if terminal is None else {
                "names": list(terminal.names), "client": terminal.client,
                "terminal": terminal.terminal,
                "mtts": None if terminal.mtts is None else int(terminal.mtts),
            },
            "line": bytes(self._line).hex(),
            "after_cr": self._after_cr,
            "compressing": self._deflater is not None,
            "ttype_names": list(self._ttype_names),
        }

    def restore_state(self, state: dict[str, Any]) -> None:
        """Carry on a connection another process's codec exported (instead of :meth:`start`).

        Nothing is negotiated again; if the old codec compressed, a new
        MCCP2 stream starts (``IAC SB MCCP2 IAC SE``, then zlib).
        """
        self._options.restore(state["options"])
        self.charset = state.get("charset")
        size = state.get("window_size")
        self.window_size = (int(size[0]), int(size[1])) if size else self.window_size
        terminal = state.get("terminal")
        if terminal:
            names = tuple(str(n) for n in terminal.get("names", ()))
            mtts = terminal.get("mtts")
            self.terminal_type = TerminalType(
                names, str(terminal.get("client", "")), str(terminal.get("terminal", "")),
                None if mtts is None else Mtts(int(mtts)),
            )
        line = bytes.fromhex(state.get("line", ""))
        self._line = bytearray(line)
        self._line_len = len(line)
        self._after_cr = bool(state.get("after_cr", False))
        self._ttype_names = [str(n) for n in state.get("ttype_names", ())]
        if state.get("compressing"):
            self.start_compression()

    # -- output -------------------------------------------------------------------

    @property
    def pending_output(self) -> int:
        """Bytes queued to send (before compression) that :meth:`data_to_send` has not taken."""
        return len(self._out) + len(self._zpending)

    def allow_reply(self) -> bool:
        """Take a token from the bucket that limits AYT and negotiation answers.

        For answers a layer above makes (a GMCP ``Core.Ping``): False, and a
        :class:`NegotiationFlood` event, when the peer asks faster than
        ``negotiation_rate`` a second after a burst of ``negotiation_burst``.
        """
        return self._spend()

    def data_to_send(self) -> bytes:
        """Everything the codec has to send since the last call, ready for the wire."""
        if self._zpending:
            self._flush_zpending()
        if not self._out:
            return b""
        data = bytes(self._out)
        self._out.clear()
        return data

    def _write(self, data: bytes) -> None:
        if self._deflater is None:
            self._out += data
        else:
            self._zpending += data

    def start(self) -> None:
        """Send the configured offers (WILL for ``offer_local``, DO for ``offer_remote``)."""
        for option in self.config.offer_local:
            self._q(Side.LOCAL, option, QInput.ASK_YES)
        for option in self.config.offer_remote:
            self._q(Side.REMOTE, option, QInput.ASK_YES)

    def send_text(self, text: str) -> None:
        """Queue text: ``"\\n"`` becomes CR LF, a lone ``"\\r"`` CR NUL (RFC 854)."""
        if "\r" in text:
            text = text.replace("\r\n", "\n")
            data = text.encode("utf-8", "replace").replace(b"\r", b"\r\0")
        else:
            data = text.encode("utf-8", "replace")
        if b"\n" in data:
            data = data.replace(b"\n", b"\r\n")
        self._write(data)

    def send_bytes(self, data: bytes) -> None:
        """Queue raw data bytes, doubling IAC; line endings are left as they are."""
        if b"\xff" in data:
            data = data.replace(b"\xff", b"\xff\xff")
        self._write(data)

    def send_escaped(self, data: bytes) -> int:
        """Queue data bytes whose IAC bytes are already doubled; return :attr:`pending_output`.

        For a server that sends one rendering to many connections: the
        escaping is done once for all of them, and the caller learns at once
        how much is waiting (to bound what it holds back).
        """
        if self._deflater is None:
            self._out += data
            return len(self._out) + len(self._zpending)
        self._zpending += data
        return len(self._out) + len(self._zpending)

    def send_prompt(self, text: str) -> None:
        """Queue a prompt: the text, then IAC EOR if agreed, else IAC GA unless SGA is on."""
        self.send_text(text)
        if self.local_enabled(EOR):
            self._write(bytes([IAC, EOR_CMD]))
        elif not self.local_enabled(SGA):
            self._write(bytes([IAC, GA]))

    def set_echo(self, enabled: bool) -> bool:
        """Let the peer echo what the user types (True) or hide it, e.g. for passwords (False).

        Hiding works by offering WILL ECHO (and not echoing). Returns False
        when hiding is impossible because the peer refused ECHO before.
        """
        if enabled:
            self.disable_local(ECHO)
            return True
        return self.request_local(ECHO)

    def request_local(self, option: int, *, retry: bool = False) -> bool:
        """Offer to perform ``option`` (WILL), unless the peer refused it before.

        Returns True when the option is on or being negotiated. ``retry``
        asks again even after a refusal.
        """
        if option not in self._local_ok:
            raise ValueError(f"option {option_name(option)} is not in local_options")
        if not retry and self._options.refused(Side.LOCAL, option):
            return self.local_enabled(option)
        self._q(Side.LOCAL, option, QInput.ASK_YES)
        return True

    def request_remote(self, option: int, *, retry: bool = False) -> bool:
        """Ask the peer to perform ``option`` (DO), unless it refused before."""
        if option not in self._remote_ok:
            raise ValueError(f"option {option_name(option)} is not in remote_options")
        if not retry and self._options.refused(Side.REMOTE, option):
            return self.remote_enabled(option)
        self._q(Side.REMOTE, option, QInput.ASK_YES)
        return True

    def disable_local(self, option: int) -> None:
        """Stop performing ``option`` (WONT)."""
        self._q(Side.LOCAL, option, QInput.ASK_NO)

    def disable_remote(self, option: int) -> None:
        """Ask the peer to stop performing ``option`` (DONT)."""
        self._q(Side.REMOTE, option, QInput.ASK_NO)

    def send_subnegotiation(self, option: int, payload: bytes) -> None:
        """Queue ``IAC SB option payload IAC SE``, doubling IAC in the payload."""
        if b"\xff" in payload:
            payload = payload.replace(b"\xff", b"\xff\xff")
        self._write(bytes([IAC, SB, option]) + payload + bytes([IAC, SE]))

    def send_gmcp(self, package: str, data: Any = None) -> bool:
        """Queue a GMCP message; False (nothing sent) unless GMCP is agreed.

        ``data=None`` sends the package name alone.
        """
        if not self.gmcp_enabled:
            return False
        self.send_subnegotiation(GMCP, encode_gmcp(package, data))
        return True

    def send_mssp(self, variables: Mapping[str, Any]) -> bool:
        """Queue MSSP variables (values may be lists); False unless MSSP is agreed."""
        if not self.local_enabled(MSSP):
            return False
        self.send_subnegotiation(MSSP, encode_mssp(variables))
        return True

    def request_terminal_type(self) -> bool:
        """Start (again) the TTYPE cycle; False unless the peer agreed to TTYPE."""
        if not self.remote_enabled(TTYPE):
            return False
        self._ttype_names = []
        self._ttype_asks = 1
        self._ttype_active = True
        self._write(_TTYPE_SEND_BYTES)
        return True

    def set_window_size(self, width: int, height: int) -> None:
        """Our window size (client role): sent at once if NAWS is on, else kept for later."""
        self.window_size = (width, height)
        if self.local_enabled(NAWS):
            self.send_subnegotiation(NAWS, encode_naws(width, height))

    def start_compression(self) -> bool:
        """Start MCCP2 output: ``IAC SB 86 IAC SE``, then a zlib stream. Needs MCCP2 agreed."""
        if self._deflater is not None or not self.local_enabled(MCCP2):
            return False
        self._write(_MCCP2_START)
        self._deflater = zlib.compressobj(self.config.compression_level)
        return True

    def end_compression(self) -> None:
        """End the MCCP2 stream cleanly (Z_FINISH); later output is plain."""
        if self._deflater is None:
            return
        deflater = self._deflater
        self._out += deflater.compress(self._zpending)
        self._out += deflater.flush(zlib.Z_FINISH)
        self._zpending.clear()
        self._deflater = None

    def _flush_zpending(self) -> None:
        # Z_SYNC_FLUSH so the peer can show what we sent now, not later.
        if self._zpending and self._deflater is not None:
            self._out += self._deflater.compress(self._zpending)
            self._out += self._deflater.flush(zlib.Z_SYNC_FLUSH)
            self._zpending.clear()

    # -- input --------------------------------------------------------------------

    def receive(self, data: bytes) -> list[Event]:
        """Parse bytes from the peer; return the events they complete, in order."""
        # Events from method calls since the last read (an option we turned
        # off ourselves) come first.
        events = self._events
        self._events = []
        if self._broken or not data:
            return events
        self._events = events
        try:
            self._feed(bytes(data))
            if self._text_parts:
                self._flush_text()
            if self.config.flush_partial_lines and self._line_len:
                self._flush_partial()
        except Exception:
            # A bug, not the peer's fault; the parser state is unknown now.
            log.exception("telnet: internal error while parsing input")
            self._broken = True
            events.append(ProtocolError("internal error while decoding telnet input"))
        self._events = []
        return events

    def _feed(self, data: bytes) -> None:
        while data and not self._broken:
            if self._inflater is None:
                start = self._parse(data)
                data = data[start:]
                continue
            data = self._inflate(data)

    def _inflate(self, data: bytes) -> bytes:
        """Inflate MCCP2 input; return what follows the end of the stream, if it ended."""
        inflater = self._inflater
        assert inflater is not None, "_feed inflates only while a stream is open"
        while data:
            try:
                plain = inflater.decompress(data, _INFLATE_CHUNK)
            except zlib.error as exc:
                log.warning("telnet: corrupt MCCP2 stream: %s", exc)
                self._inflater = None
                self._broken = True
                self._events.append(ProtocolError(f"corrupt compressed stream from peer: {exc}"))
                return b""
            data = inflater.unconsumed_tail
            if plain:
                self._parse(plain, inflating=True)
            if inflater.eof:
                self._inflater = None
                self._flush_text()
                self._events.append(CompressionEnded())
                rest: bytes = inflater.unused_data
                return rest
        return b""

    def _parse(self, data: bytes, inflating: bool = False) -> int:
        """Run the parser over ``data``; return where an MCCP2 stream starts, or len(data)."""
        n = len(data)
        pos = 0
        state = self._state
        text = self._text_parts
        find = data.find
        while pos < n:
            if state == _DATA:
                i = find(b"\xff", pos)
                if i < 0:
                    text.append(data[pos:] if pos else data)
                    break
                if i + 1 < n:
                    # The frequent two-byte sequences are handled here, in
                    # data state: an escaped 0xFF, and NOP (keep-alives).
                    c = data[i + 1]
                    if c == IAC:
                        text.append(data[pos : i + 1])
                        pos = i + 2
                        continue
                    if c == NOP:
                        if i > pos:
                            text.append(data[pos:i])
                        pos = i + 2
                        continue
                if i > pos:
                    text.append(data[pos:i])
                pos = i + 1
                state = _IAC
            elif state == _IAC:
                c = data[pos]
                pos += 1
                if c == IAC:
                    text.append(b"\xff")
                    state = _DATA
                elif WILL <= c <= DONT:
                    self._verb = c
                    state = _NEG
                elif c == SB:
                    state = _SB_OPT
                elif c == NOP:
                    state = _DATA
                else:
                    state = _DATA
                    if text:
                        self._flush_text()
                    self._command(c)
            elif state == _NEG:
                option = data[pos]
                pos += 1
                state = _DATA
                if text:
                    self._flush_text()
                self._negotiate(self._verb, option)
            elif state == _SB_OPT:
                self._sb_option = data[pos]
                pos += 1
                self._sb_buf.clear()
                self._sb_len = 0
                self._sb_overflow = False
                if text:
                    self._flush_text()
                state = _SB
            elif state == _SB:
                i = find(b"\xff", pos)
                if i < 0:
                    self._sb_add(data[pos:])
                    break
                if i > pos:
                    self._sb_add(data[pos:i])
                pos = i + 1
                state = _SB_IAC
            else:  # _SB_IAC
                c = data[pos]
                if c == IAC:
                    pos += 1
                    self._sb_add(b"\xff")
                    state = _SB
                elif c == SE:
                    pos += 1
                    state = _DATA
                    self._state = state
                    if self._subnegotiation(inflating):
                        return pos
                else:
                    # RFC 855 allows only IAC IAC and IAC SE inside SB: the
                    # SE was lost. Drop the subnegotiation, obey the command.
                    # Debug only: a peer could send this as fast as it likes.
                    log.debug(
                        "telnet: IAC %d inside SB %s; subnegotiation dropped",
                        c,
                        option_name(self._sb_option),
                    )
                    self._sb_buf.clear()
                    state = _IAC
        self._state = state
        return n

    # -- text ------------------------------------------------------------------

    def _flush_text(self) -> None:
        parts = self._text_parts
        if not parts:
            return
        chunk = parts[0] if len(parts) == 1 else b"".join(parts)
        parts.clear()
        self._text(chunk)

    def _text(self, chunk: bytes) -> None:
        if self._after_cr:
            self._after_cr = False
            # CR LF and CR NUL are one line ending (RFC 854).
            if chunk[0] == 10 or chunk[0] == 0:
                chunk = chunk[1:]
                if not chunk:
                    return
        sep = b"\n"
        if 13 in chunk:
            crlf = chunk.count(b"\r\n")
            if crlf == chunk.count(b"\r") and crlf == chunk.count(b"\n"):
                # The usual case, every line ending a CR LF: split on it as
                # it is rather than rewriting the whole chunk first.
                sep = b"\r\n"
            else:
                self._after_cr = chunk[-1] == 13
                # A bare CR ends a line too: some clients send nothing after it.
                chunk = (
                    chunk.replace(b"\r\n", b"\n").replace(b"\r\0", b"\n").replace(b"\r", b"\n")
                )
        if 0 in chunk:
            chunk = chunk.replace(b"\0", b"")
        first = chunk.find(sep)
        if first < 0:
            self._line_append(chunk)
            return
        self._line_append(chunk[:first])
        self._end_line()
        width = len(sep)
        last = chunk.rfind(sep)
        if last > first:
            self._lines(chunk[first + width : last], sep)
        if last + width < len(chunk):
            self._line_append(chunk[last + width :])

    def _lines(self, block: bytes, sep: bytes) -> None:
        """Emit the complete lines in ``block``, separated by ``sep`` (no other CR/NUL)."""
        # One decode for the whole block: CR and LF never occur inside a
        # UTF-8 sequence, so this equals decoding line by line.
        texts = block.decode("utf-8", "replace").split(sep.decode())
        limit = self._max_line
        if len(block) > limit:
            # A line has at most as many characters as bytes, and exactly as
            # many when the block is ASCII: look at bytes only when unsure.
            longest = max(map(len, texts))
            if longest > limit or (longest * 4 > limit and not block.isascii()):
                self._lines_slow(block.split(sep))
                return
        if self._editing and (8 in block or 127 in block):
            texts = [_edit(t) for t in texts]
        self._events.extend(_text_lines(texts))

    def _lines_slow(self, parts: list[bytes]) -> None:
        limit = self._max_line
        events = self._events
        for part in parts:
            if len(part) > limit:
                log.info("telnet: dropped a line of %d bytes (limit %d)", len(part), limit)
                events.append(LineTooLong(len(part), limit))
            else:
                text = part.decode("utf-8", "replace")
                events.append(TextLine(_edit(text) if self._editing else text))

    def _line_append(self, piece: bytes) -> None:
        if not piece:
            return
        total = self._line_len + len(piece)
        self._line_len = total
        if total <= self._max_line:
            self._line += piece
        elif self._line:
            # Over the limit: keep counting, stop storing.
            self._line.clear()

    def _take_line(self) -> str | None:
        """The unfinished line as text (None if it overflowed); the buffer is emptied."""
        length = self._line_len
        self._line_len = 0
        if length > self._max_line:
            log.info("telnet: dropped a line of %d bytes (limit %d)", length, self._max_line)
            self._events.append(LineTooLong(length, self._max_line))
            return None
        text = self._line.decode("utf-8", "replace")
        self._line.clear()
        return _edit(text) if self._editing else text

    def _end_line(self) -> None:
        text = self._take_line()
        if text is not None:
            self._events.append(TextLine(text))

    def _flush_partial(self) -> None:
        line = self._line
        if self._line_len > self._max_line:
            return
        cut = _utf8_complete(line)
        if not cut:
            return
        text = line[:cut].decode("utf-8", "replace")
        del line[:cut]
        self._line_len = len(line)
        self._events.append(PartialLine(text))

    # -- commands (RFC 854) -----------------------------------------------------

    def _command(self, c: int) -> None:
        if c == GA or c == EOR_CMD:
            text = self._take_line()
            self._events.append(Prompt(text or ""))
        elif c == NOP or c == DM:
            # DM only matters with TCP urgent data, which we never read apart.
            pass
        elif c == AYT:
            if self._spend():
                self._write(self.config.ayt_reply)
        elif c == IP:
            self._events.append(Interrupt())
        elif c == BRK:
            self._events.append(Break())
        elif c == AO:
            self._events.append(AbortOutput())
        elif c == EC:
            if self._editing:
                self._line_append(b"\x08")
        elif c == EL:
            if self._editing and self._line_len <= self._max_line:
                self._line.clear()
                self._line_len = 0
        else:
            log.debug("telnet: ignored command IAC %d", c)

    # -- negotiation (RFC 855, RFC 1143) ---------------------------------------------

    def _spend(self) -> bool:
        """Take a token from the negotiation bucket; False (and a flood event) if empty."""
        config = self.config
        now = self._clock()
        tokens = self._tokens + (now - self._tokens_at) * config.negotiation_rate
        if tokens > config.negotiation_burst:
            tokens = float(config.negotiation_burst)
        self._tokens_at = now
        if tokens >= 1.0:
            self._tokens = tokens - 1.0
            # The flood is over once the bucket has half refilled: a steady
            # flood at the refill rate is logged once, not at every token.
            if tokens >= config.negotiation_burst / 2:
                self._flooding = False
            return True
        self._tokens = tokens
        if not self._flooding:
            self._flooding = True
            log.warning("telnet: negotiation flood from peer; ignoring commands for a while")
            self._events.append(NegotiationFlood())
        return False

    def _negotiate(self, verb: int, option: int) -> None:
        if not self._spend():
            return
        if verb == WILL:
            ok = option in self._remote_ok
            self._q(Side.REMOTE, option, QInput.PEER_YES if ok else QInput.PEER_YES_REFUSED)
        elif verb == WONT:
            self._q(Side.REMOTE, option, QInput.PEER_NO)
        elif verb == DO:
            ok = option in self._local_ok and (
                option not in self.config.ask_only_local or not self._options.local_idle(option)
            )
            self._q(Side.LOCAL, option, QInput.PEER_YES if ok else QInput.PEER_YES_REFUSED)
        else:
            self._q(Side.LOCAL, option, QInput.PEER_NO)

    def _q(self, side: Side, option: int, what: QInput) -> None:
        """Run one RFC 1143 transition for one side of one option; send and act on it."""
        verb, was_enabled, enabled = self._options.step(side, option, what)
        if (
            option == MCCP2
            and not enabled
            and side is Side.LOCAL
            and self._deflater is not None
        ):
            # The compressed stream must end before WONT goes out in clear.
            self.end_compression()
        if verb:
            self._write(bytes([IAC, verb, option]))
        if was_enabled != enabled:
            self._changed(side, option, enabled)

    def _changed(self, side: Side, option: int, enabled: bool) -> None:
        self._events.append(OptionChanged(option, side, enabled))
        if side is Side.REMOTE:
            if option == TTYPE and enabled and self._role_server:
                self.request_terminal_type()
            elif option == CHARSET and enabled:
                self._request_charset()
            return
        if option == NAWS:
            if enabled and self.window_size is not None:
                self.send_subnegotiation(NAWS, encode_naws(*self.window_size))
        elif option == MCCP2:
            if enabled and self.config.auto_compress and self._role_server:
                self.start_compression()
        elif option == MSSP:
            if enabled:
                self._events.append(MsspRequested())
        elif option == CHARSET:
            if enabled:
                self._request_charset()
        elif option == TTYPE:
            self._ttype_index = 0

    # -- subnegotiation ----------------------------------------------------------------

    def _sb_add(self, piece: bytes) -> None:
        total = self._sb_len + len(piece)
        self._sb_len = total
        if self._sb_overflow:
            return
        if total > self._max_sb:
            self._sb_overflow = True
            self._sb_buf.clear()
            log.warning(
                "telnet: subnegotiation for %s longer than %d bytes; discarded",
                option_name(self._sb_option),
                self._max_sb,
            )
            self._events.append(SubnegotiationTooLong(self._sb_option, self._max_sb))
            return
        self._sb_buf += piece

    def _subnegotiation(self, inflating: bool) -> bool:
        """Handle a complete ``IAC SB ... IAC SE``; True if an MCCP2 stream starts after it."""
        option = self._sb_option
        if self._sb_overflow:
            self._sb_overflow = False
            return False
        payload = bytes(self._sb_buf)
        self._sb_buf.clear()
        handler = _SUBNEGOTIATION_HANDLERS.get(option)
        if handler is not None:
            return bool(handler(self, payload, inflating))
        if self.local_enabled(option) or self.remote_enabled(option):
            self._events.append(Subnegotiation(option, payload))
        else:
            log.debug("telnet: subnegotiation for %s ignored", option_name(option))
        return False

    # The handlers of _SUBNEGOTIATION_HANDLERS: (payload, inflating), True
    # when a compressed stream starts right after the subnegotiation.

    def _gmcp(self, payload: bytes, inflating: bool) -> None:
        if not (GMCP in self._local_ok or GMCP in self._remote_ok):
            return
        message = decode_gmcp(payload)
        if message is None:
            log.debug("telnet: invalid GMCP message ignored: %r", payload[:80])
            return
        self._events.append(GmcpMessage(*message))

    def _naws(self, payload: bytes, inflating: bool) -> None:
        if NAWS not in self._remote_ok:
            return
        size = decode_naws(payload)
        if size is None:
            log.info("telnet: malformed NAWS payload %r ignored", payload[:16])
        else:
            self.window_size = size
            self._events.append(WindowSize(*size))

    def _mccp2(self, payload: bytes, inflating: bool) -> bool:
        if (
            not self._role_server
            and MCCP2 in self._remote_ok
            and not inflating
            and self._inflater is None
        ):
            self._inflater = zlib.decompressobj()
            self._events.append(CompressionStarted())
            return True
        return False

    def _mssp(self, payload: bytes, inflating: bool) -> None:
        if self._role_server or MSSP not in self._remote_ok:
            return
        variables = decode_mssp(payload)
        if variables is None:
            log.info("telnet: malformed MSSP payload ignored")
        else:
            self._events.append(MsspData(tuple(variables.items())))

    def _ttype(self, payload: bytes, inflating: bool) -> None:
        if not payload:
            return
        if self._role_server:
            if payload[0] != _TTYPE_IS or TTYPE not in self._remote_ok:
                return
            if not self._ttype_active:
                log.debug("telnet: unsolicited TTYPE IS ignored")
                return
            name = payload[1:].decode("ascii", "replace").strip()
            self._ttype_is(name)
        elif payload[0] == _TTYPE_SEND and self.local_enabled(TTYPE):
            if not self._spend():
                return
            names = self.config.terminal_names or ("UNKNOWN",)
            name = names[min(self._ttype_index, len(names) - 1)]
            self._ttype_index += 1
            self.send_subnegotiation(
                TTYPE, bytes([_TTYPE_IS]) + name.encode("ascii", "replace")
            )

    def _ttype_is(self, name: str) -> None:
        names = self._ttype_names
        repeated = bool(names) and name == names[-1]
        if not repeated:
            names.append(name)
        if repeated or parse_mtts(name) is not None or self._ttype_asks >= _TTYPE_MAX_ASKS:
            self._ttype_active = False
            mtts = None
            plain = []
            for each in names:
                flags = parse_mtts(each)
                if flags is None:
                    plain.append(each)
                elif mtts is None:
                    mtts = flags
            client = plain[0] if plain else ""
            terminal = plain[1] if len(plain) > 1 else client
            event = TerminalType(tuple(names), client, terminal, mtts)
            self.terminal_type = event
            self._events.append(event)
            return
        self._ttype_asks += 1
        self._write(_TTYPE_SEND_BYTES)

    def _request_charset(self) -> None:
        # Only the server starts CHARSET subnegotiation, and only once: both
        # sides sending REQUEST at once is the collision RFC 2066 warns of.
        if not self._role_server or self._charset_requested or not self.config.charsets:
            return
        self._charset_requested = True
        self._charset_pending = True
        self.send_subnegotiation(CHARSET, encode_charset_request(self.config.charsets))

    def _charset(self, payload: bytes, inflating: bool) -> None:
        if not (CHARSET in self._local_ok or CHARSET in self._remote_ok):
            return
        if not payload:
            return
        kind, body = payload[0], payload[1:]
        if kind == CHARSET_REQUEST:
            if not self._spend():
                return
            offered = decode_charset_request(body)
            ours = {charset_key(name) for name in self.config.charsets}
            choice = None
            if not (self._role_server and self._charset_pending):
                # The peer's order is its preference; take the first we know.
                choice = next((name for name in offered if charset_key(name) in ours), None)
            if choice is None:
                self.send_subnegotiation(CHARSET, bytes([CHARSET_REJECTED]))
                self._events.append(CharsetRejected(tuple(offered)))
                return
            self.send_subnegotiation(
                CHARSET, bytes([CHARSET_ACCEPTED]) + choice.encode("ascii", "replace")
            )
            self.charset = choice
            self._events.append(CharsetAgreed(choice))
        elif kind == CHARSET_ACCEPTED:
            if not self._charset_pending:
                log.debug("telnet: unsolicited CHARSET ACCEPTED ignored")
                return
            self._charset_pending = False
            name = body.decode("ascii", "replace")
            if charset_key(name) not in {charset_key(c) for c in self.config.charsets}:
                log.info("telnet: peer accepted charset %r we never offered", name)
                self._events.append(CharsetRejected(tuple(self.config.charsets)))
                return
            self.charset = name
            self._events.append(CharsetAgreed(name))
        elif kind == CHARSET_REJECTED:
            if self._charset_pending:
                self._charset_pending = False
                self._events.append(CharsetRejected(tuple(self.config.charsets)))
        elif kind == CHARSET_TTABLE_IS:
            self.send_subnegotiation(CHARSET, bytes([CHARSET_TTABLE_REJECTED]))


#: How a complete subnegotiation is handled, by option; any other option
#: becomes a Subnegotiation event if it is enabled, and is ignored if not.
_SUBNEGOTIATION_HANDLERS: dict[int, Callable[[TelnetCodec, bytes, bool], bool | None]] = {
    GMCP: TelnetCodec._gmcp,
    NAWS: TelnetCodec._naws,
    TTYPE: TelnetCodec._ttype,
    CHARSET: TelnetCodec._charset,
    MCCP2: TelnetCodec._mccp2,
    MSSP: TelnetCodec._mssp,
}
