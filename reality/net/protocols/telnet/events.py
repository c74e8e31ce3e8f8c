"""The events of the telnet codec: frozen attrs value classes, and :data:`Event`, their union.

:meth:`TelnetCodec.receive <reality.net.protocols.telnet.codec.TelnetCodec.receive>`
returns them; :class:`~reality.net.protocols.telnet.protocol.TelnetProtocol`
calls one hook per event. :class:`Mtts`, the MTTS bit field a
:class:`TerminalType` carries, is defined with its parser in :mod:`.options`
and exported here too.
"""

from __future__ import annotations

from typing import Any

from attrs import field, frozen

from reality.net.protocols.telnet.config import Side
from reality.net.protocols.telnet.options import Mtts

__all__ = [
    "AbortOutput",
    "Break",
    "CharsetAgreed",
    "CharsetRejected",
    "CompressionEnded",
    "CompressionStarted",
    "Event",
    "GmcpMessage",
    "Interrupt",
    "LineTooLong",
    "Mtts",
    "MsspData",
    "MsspRequested",
    "NegotiationFlood",
    "OptionChanged",
    "PartialLine",
    "Prompt",
    "ProtocolError",
    "Subnegotiation",
    "SubnegotiationTooLong",
    "TerminalType",
    "TextLine",
    "WindowSize",
]


@frozen
class TextLine:
    """A line of input, decoded as UTF-8, without its line ending."""

    text: str


@frozen
class PartialLine:
    """Text that has no line ending yet, delivered at the end of a read (client role)."""

    text: str


@frozen
class Prompt:
    """IAC GA or IAC EOR: ``text`` is the unfinished line it marks as a prompt."""

    text: str


@frozen
class WindowSize:
    """NAWS (RFC 1073): the peer's window size; 0 means unknown."""

    width: int
    height: int


@frozen
class TerminalType:
    """The TTYPE/MTTS cycle finished.

    ``names`` are the distinct answers in order. By MTTS convention the first
    is the client's name and the second its terminal type; with a single
    name both are that name. ``mtts`` is the decoded ``"MTTS <n>"`` answer,
    or None when the client sent none.
    """

    names: tuple[str, ...]
    client: str
    terminal: str
    mtts: Mtts | None


@frozen
class CharsetAgreed:
    """CHARSET (RFC 2066): both sides agreed on the character set ``name``."""

    name: str


@frozen
class CharsetRejected:
    """CHARSET: no character set in common; ``offered`` is what was offered."""

    offered: tuple[str, ...]


@frozen
class GmcpMessage:
    """A GMCP message: ``package`` (e.g. ``"Core.Hello"``) and its JSON ``data`` or None."""

    package: str
    data: Any = field(default=None, hash=False)


@frozen
class MsspRequested:
    """The peer agreed to MSSP: answer with :meth:`TelnetCodec.send_mssp`."""


@frozen
class MsspData:
    """MSSP variables the peer sent, as ``((name, (value, ...)), ...)``."""

    variables: tuple[tuple[str, tuple[str, ...]], ...]

    def as_dict(self) -> dict[str, tuple[str, ...]]:
        """The variables as a dict."""
        return dict(self.variables)


@frozen
class OptionChanged:
    """An option became enabled or disabled on one side (RFC 1143 reached YES or NO)."""

    option: int
    side: Side
    enabled: bool


@frozen
class Interrupt:
    """IAC IP: the user pressed the interrupt key."""


@frozen
class Break:
    """IAC BRK: the user pressed the break key."""


@frozen
class AbortOutput:
    """IAC AO: the peer asks us to drop output we have not sent yet."""


@frozen
class LineTooLong:
    """A line of ``length`` bytes passed ``limit`` and was dropped."""

    length: int
    limit: int


@frozen
class SubnegotiationTooLong:
    """A subnegotiation for ``option`` passed ``limit`` bytes and is being discarded."""

    option: int
    limit: int


@frozen
class Subnegotiation:
    """A subnegotiation for an enabled option the codec does not interpret itself."""

    option: int
    payload: bytes


@frozen
class NegotiationFlood:
    """The peer sent negotiation faster than the limit; extra commands are ignored."""


@frozen
class CompressionStarted:
    """The peer started an MCCP2 stream (``IAC SB 86 IAC SE``); input is inflated now."""


@frozen
class CompressionEnded:
    """The peer ended its MCCP2 stream cleanly; input is plain again."""


@frozen
class ProtocolError:
    """The input cannot be parsed any further; the connection should close."""

    message: str


Event = (
    TextLine
    | PartialLine
    | Prompt
    | WindowSize
    | TerminalType
    | CharsetAgreed
    | CharsetRejected
    | GmcpMessage
    | MsspRequested
    | MsspData
    | OptionChanged
    | Interrupt
    | Break
    | AbortOutput
    | LineTooLong
    | SubnegotiationTooLong
    | Subnegotiation
    | NegotiationFlood
    | CompressionStarted
    | CompressionEnded
    | ProtocolError
)
