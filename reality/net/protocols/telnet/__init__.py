"""Telnet, split along its seams: a sans-IO codec for both ends, and a thin Protocol adapter.

==================  ===============================================================
:mod:`.options`     command and option numbers, :func:`option_name`, and the
                    option payloads (NAWS, MTTS, CHARSET, MSSP, GMCP)
:mod:`.qmethod`     the RFC 1143 Q method: :data:`Q_TABLE` and
                    :class:`OptionStates`, both sides of every option
:mod:`.config`      :class:`TelnetConfig` (what one end supports and offers),
                    :class:`Role`, :class:`Side`
:mod:`.events`      what the codec returns: :class:`TextLine`, :class:`WindowSize`,
                    :class:`TerminalType` ... and :data:`Event`, their union
:mod:`.codec`       :class:`TelnetCodec`: bytes in, events out; calls in, bytes
                    out; negotiation, subnegotiations, MCCP2, the flood bucket
:mod:`.protocol`    :class:`TelnetProtocol`: the adapter on the engine (hooks,
                    back-pressure, the unread-output bound, the flood hold)
==================  ===============================================================

The same codec serves the server (``TelnetConfig.server()``) and a MUD
client (``TelnetConfig.client(...)``); each module's docstring says how.

What it follows, part by part:

- RFC 854 (NVT, "TELNET COMMAND STRUCTURE"): IAC parsing across any read
  boundary, IAC IAC both ways; CR LF, CR NUL, a bare CR and a bare LF all end
  an input line; output "\\n" becomes CR LF and a lone "\\r" CR NUL. NOP and DM
  are ignored; AYT is answered; IP, BRK and AO become events; EC and EL edit
  the line being typed; GA and EOR (RFC 885) mark a prompt.
- RFC 855: option negotiation and subnegotiation (``IAC SB ... IAC SE``).
  Inside SB only IAC IAC and IAC SE are valid; any other command there
  means SE was lost, so the subnegotiation is dropped and the command obeyed.
- RFC 1143 section 7, the Q method, for both sides of every option
  (:mod:`.qmethod`): no loops, no answer to a redundant request, our
  refused requests are remembered and not re-sent. Options not configured are refused (DONT / WONT).
- ECHO (RFC 857), SGA (RFC 858), TTYPE (RFC 1091) with the MTTS cycle,
  EOR (RFC 885), NAWS (RFC 1073), CHARSET (RFC 2066 sections 3-4, UTF-8 only,
  no translation tables), and the MUD protocols MSSP (70), MCCP2 (86) and
  GMCP (201). LINEMODE and everything else is refused.

Events (frozen attrs classes; :data:`Event` is their union):

=========================  ====================================================
:class:`TextLine`          a line of input, without its line ending
:class:`PartialLine`       text without a line ending yet (client role only)
:class:`Prompt`            GA or EOR arrived; ``text`` is the unfinished line
:class:`WindowSize`        NAWS: the peer's window is ``width`` x ``height``
:class:`TerminalType`      the TTYPE cycle finished: names, client, MTTS flags
:class:`CharsetAgreed`     CHARSET negotiation settled on ``name``
:class:`CharsetRejected`   CHARSET negotiation found nothing in common
:class:`GmcpMessage`       a valid GMCP message ``(package, data)``
:class:`MsspRequested`     the peer agreed to MSSP: send the variables
:class:`MsspData`          the peer sent MSSP variables (client role)
:class:`OptionChanged`     an option became enabled or disabled on one side
:class:`Interrupt`         IAC IP
:class:`Break`             IAC BRK
:class:`AbortOutput`       IAC AO
:class:`LineTooLong`       a line over ``max_line`` bytes was dropped
:class:`SubnegotiationTooLong`  a subnegotiation over its limit was dropped
:class:`Subnegotiation`    a subnegotiation for an enabled option we do not parse
:class:`NegotiationFlood`  too many negotiation commands: some were ignored
:class:`CompressionStarted` / :class:`CompressionEnded`  incoming MCCP2 stream
:class:`ProtocolError`     the input cannot continue; close with ``message``
=========================  ====================================================

Limits, so a peer's bytes cannot hurt the server: a subnegotiation is kept
to ``max_subnegotiation`` bytes (8 KiB) and then discarded (logged); a line
to ``max_line`` bytes (4 KiB) and then dropped with :class:`LineTooLong` (the
connection stays usable); WILL/WONT/DO/DONT, AYT, and the subnegotiations
we must answer (TTYPE SEND, CHARSET REQUEST) spend tokens from a bucket
(burst 100, 20 per second) and are ignored while it is empty, so a peer
cannot make us send more than that; invalid UTF-8 becomes U+FFFD; invalid
GMCP is logged and ignored.
Only a corrupt incoming MCCP2 stream truly cannot continue: it gives
:class:`ProtocolError`. Nothing a peer sends raises out of ``receive``.

The codec reads time only for the flood bucket, through the ``clock``
callable it is given (``time.monotonic`` by default; the adapter passes its
clock's ``seconds``).
"""


from __future__ import annotations

from reality.net.protocols.telnet.codec import TelnetCodec
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
    CHARSET_TTABLE_ACK,
    CHARSET_TTABLE_IS,
    CHARSET_TTABLE_NAK,
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
    LINEMODE,
    MCCP2,
    MSSP,
    MSSP_VAL,
    MSSP_VAR,
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
from reality.net.protocols.telnet.protocol import TelnetProtocol
from reality.net.protocols.telnet.qmethod import (
    Q_TABLE,
    QUEUE_EMPTY,
    QUEUE_OPPOSITE,
    SEND_NO,
    SEND_NONE,
    SEND_YES,
    OptionStates,
    Q,
    QInput,
)

__all__ = [
    "AO",
    "AYT",
    "AbortOutput",
    "BRK",
    "Break",
    "CHARSET",
    "CHARSET_ACCEPTED",
    "CHARSET_REJECTED",
    "CHARSET_REQUEST",
    "CHARSET_TTABLE_ACK",
    "CHARSET_TTABLE_IS",
    "CHARSET_TTABLE_NAK",
    "CHARSET_TTABLE_REJECTED",
    "CharsetAgreed",
    "CharsetRejected",
    "CompressionEnded",
    "CompressionStarted",
    "DM",
    "DO",
    "DONT",
    "EC",
    "ECHO",
    "EL",
    "EOR",
    "EOR_CMD",
    "Event",
    "GA",
    "GMCP",
    "GmcpMessage",
    "IAC",
    "IP",
    "Interrupt",
    "LINEMODE",
    "LineTooLong",
    "MCCP2",
    "MSSP",
    "MSSP_VAL",
    "MSSP_VAR",
    "MsspData",
    "MsspRequested",
    "Mtts",
    "NAWS",
    "NOP",
    "NegotiationFlood",
    "OptionChanged",
    "OptionStates",
    "PartialLine",
    "Prompt",
    "ProtocolError",
    "Q",
    "QInput",
    "QUEUE_EMPTY",
    "QUEUE_OPPOSITE",
    "Q_TABLE",
    "Role",
    "SB",
    "SE",
    "SEND_NO",
    "SEND_NONE",
    "SEND_YES",
    "SGA",
    "Side",
    "Subnegotiation",
    "SubnegotiationTooLong",
    "TTYPE",
    "TelnetCodec",
    "TelnetConfig",
    "TelnetProtocol",
    "TerminalType",
    "TextLine",
    "WILL",
    "WONT",
    "WindowSize",
    "charset_key",
    "decode_charset_request",
    "decode_gmcp",
    "decode_mssp",
    "decode_naws",
    "encode_charset_request",
    "encode_gmcp",
    "encode_mssp",
    "encode_naws",
    "option_name",
    "parse_mtts",
]
