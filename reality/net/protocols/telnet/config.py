"""What one end of a telnet connection supports and offers: :class:`TelnetConfig`.

Also the two small enums every part of the codec speaks in: :class:`Role`
(which end the codec speaks for) and :class:`Side` (which end performs an
option, RFC 1143's "us" and "him").
"""

from __future__ import annotations

import enum
from typing import Any

from attrs import frozen

from reality.net.protocols.telnet.options import (
    CHARSET,
    ECHO,
    EOR,
    GMCP,
    MCCP2,
    MSSP,
    NAWS,
    SGA,
    TTYPE,
    Mtts,
)

__all__ = ["Role", "Side", "TelnetConfig"]


class Side(enum.Enum):
    """Which end performs an option: ``LOCAL`` is us (WILL/WONT), ``REMOTE`` the peer."""

    LOCAL = "local"
    REMOTE = "remote"


class Role(enum.Enum):
    """Which end of the connection the codec speaks for."""

    SERVER = "server"
    CLIENT = "client"


_SERVER_LOCAL = frozenset({ECHO, SGA, EOR, CHARSET, MSSP, MCCP2, GMCP})
_SERVER_REMOTE = frozenset({SGA, TTYPE, NAWS, CHARSET})
_CLIENT_LOCAL = frozenset({TTYPE, NAWS, CHARSET})
_CLIENT_REMOTE = frozenset({ECHO, SGA, EOR, CHARSET, MSSP, MCCP2, GMCP})


@frozen
class TelnetConfig:
    """What one end of a telnet connection supports and offers.

    ``local_options`` are options we agree to perform when asked (DO -> WILL),
    ``remote_options`` those we let the peer perform (WILL -> DO); anything
    else is refused. ``offer_local`` / ``offer_remote`` are requested by
    :meth:`TelnetCodec.start`. Build one with :meth:`server` or
    :meth:`client` and ``attrs.evolve`` for changes.
    """

    role: Role = Role.SERVER
    local_options: frozenset[int] = _SERVER_LOCAL
    remote_options: frozenset[int] = _SERVER_REMOTE
    #: Local options agreed only when we asked for them. ECHO: a server that
    #: agreed to a client's unasked DO ECHO would have to echo every key.
    ask_only_local: frozenset[int] = frozenset({ECHO})
    #: Not SGA: a plain telnet client (inetutils, BSD) that is told WILL SGA
    #: switches to character mode with local echo and shows ^M and ^? for
    #: every line typed. SGA is still agreed when a client asks (DO SGA), and
    #: a server may offer it later to clients it knows (request_local).
    offer_local: tuple[int, ...] = (EOR, MSSP, GMCP, MCCP2)
    offer_remote: tuple[int, ...] = (TTYPE, NAWS, CHARSET)
    #: Longest input line in bytes; longer ones are dropped with LineTooLong.
    max_line: int = 4096
    #: Longest subnegotiation payload in bytes; longer ones are discarded.
    max_subnegotiation: int = 8192
    #: Apply BS / DEL / IAC EC / IAC EL to the line being typed.
    line_editing: bool = True
    #: Emit PartialLine for unterminated text at the end of every read.
    flush_partial_lines: bool = False
    #: Start MCCP2 as soon as the peer agrees to it (server role).
    auto_compress: bool = True
    compression_level: int = 6
    #: Character sets we accept in CHARSET, most preferred first.
    charsets: tuple[str, ...] = ("UTF-8",)
    #: Our TTYPE answers, in cycle order (client role).
    terminal_names: tuple[str, ...] = ()
    #: Our window size for NAWS (client role).
    window_size: tuple[int, int] = (80, 24)
    #: What we answer to IAC AYT.
    ayt_reply: bytes = b"\r\n[Yes]\r\n"
    #: Negotiation commands accepted in one burst, and refilled per second.
    negotiation_burst: int = 100
    negotiation_rate: float = 20.0

    @classmethod
    def server(cls, **changes: Any) -> TelnetConfig:
        """MUD server defaults: offer EOR, MSSP, GMCP, MCCP2; ask TTYPE, NAWS, CHARSET."""
        return cls(**changes)

    @classmethod
    def client(
        cls,
        client_name: str = "REALITY",
        terminal_type: str = "XTERM-256COLOR",
        mtts: int = int(Mtts.ANSI | Mtts.VT100 | Mtts.UTF8 | Mtts.COLORS_256 | Mtts.TRUECOLOR),
        window_size: tuple[int, int] = (80, 24),
        **changes: Any,
    ) -> TelnetConfig:
        """A MUD client: answers TTYPE with its names and MTTS, NAWS, CHARSET; takes GMCP, MCCP2.

        Long server lines are normal, so the line limit is 1 MiB, and
        unterminated text is delivered as :class:`PartialLine`.
        """
        settings: dict[str, Any] = {
            "role": Role.CLIENT,
            "local_options": _CLIENT_LOCAL,
            "remote_options": _CLIENT_REMOTE,
            "offer_local": (),
            "offer_remote": (),
            "max_line": 1 << 20,
            "max_subnegotiation": 1 << 20,
            "line_editing": False,
            "flush_partial_lines": True,
            "terminal_names": (client_name, terminal_type, f"MTTS {int(mtts)}"),
            "window_size": window_size,
        }
        settings.update(changes)
        return cls(**settings)
