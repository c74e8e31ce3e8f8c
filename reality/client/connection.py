"""The MUD client's connection: the telnet codec in its client role, on any reactor.

:class:`MudClientProtocol` is a :class:`~reality.net.protocols.telnet.TelnetProtocol`
configured as a MUD client (``TelnetConfig.client``). It answers the
server's negotiation as a good MUD client does:

- TTYPE (RFC 1091) with the MTTS cycle: the client's name (``REALITY``),
  then the terminal type, then ``MTTS <n>`` with the capabilities this
  terminal really has (:func:`mtts_flags`);
- NAWS (RFC 1073) with the real window size, and again on every resize
  (:meth:`MudClientProtocol.resize`);
- CHARSET (RFC 2066): UTF-8;
- GMCP: agreed, then ``Core.Hello`` and ``Core.Supports.Set`` are sent,
  and ``Client.Resume {"token"}`` when the connection was made with a
  resume token (the server gave one as it closed the last connection for
  an upgrade: the player lands logged in);
- MCCP2: agreed; the codec inflates the stream;
- ECHO (RFC 857): when the server says WILL ECHO it will not echo what we
  type (a password), so the client masks its input until WONT ECHO.

It knows nothing of the screen: it assembles what the server sends into
whole lines (the codec hands over unterminated text as it arrives), prompts
(text ended by IAC GA or IAC EOR) and GMCP messages, and tells a
:class:`ClientListener`. The prompt-toolkit UI is one listener; tests
can be another.
"""

from __future__ import annotations

import logging
import ssl
from typing import Any, Protocol as TypingProtocol

from reality import __version__
from reality.net.defer import Deferred, Failure
from reality.net.error import ConnectionDone
from reality.net.protocol import Address, ClientFactory
from reality.net.protocols.telnet import (
    Mtts,
    Side,
    TelnetConfig,
    TelnetProtocol,
)
from reality.net.protocols.telnet.options import ECHO, GMCP
from reality.net.tls import TLSProtocol

log = logging.getLogger(__name__)

__all__ = [
    "CLIENT_NAME",
    "ClientListener",
    "MudClientFactory",
    "MudClientProtocol",
    "client_config",
    "connect",
    "mtts_flags",
]

#: Our name in the TTYPE cycle (the first answer, by MTTS convention).
CLIENT_NAME = "REALITY"
#: GMCP modules we ask for in Core.Supports.Set.
GMCP_SUPPORTS = ("Core 1", "Char 1", "Room 1", "Client 1")


class ClientListener(TypingProtocol):
    """What a :class:`MudClientProtocol` tells about the server's output."""

    def connected(self, protocol: MudClientProtocol) -> None:
        """The connection is up; ``protocol`` sends lines and window sizes."""

    def line_received(self, text: str) -> None:
        """A complete line of output (ANSI escapes included, no line ending)."""

    def partial_received(self, text: str) -> None:
        """Unterminated text so far (the whole of it, not just the new part)."""

    def prompt_received(self, text: str) -> None:
        """The server marked ``text`` as its prompt (IAC GA or IAC EOR)."""

    def gmcp_received(self, package: str, data: Any) -> None:
        """A GMCP message."""

    def masked_changed(self, masked: bool) -> None:
        """The server turned its echo on (``masked``: input is secret) or off."""

    def disconnected(self, message: str, clean: bool) -> None:
        """The connection ended; ``clean`` when it was closed rather than lost."""


def mtts_flags(color_depth_bits: int, utf8: bool, terminal: str = "") -> int:
    """The MTTS bit field a terminal with these capabilities deserves.

    ``color_depth_bits`` is 1 (no colour), 4 (16 colours), 8 (256) or 24
    (truecolour), as prompt-toolkit's ``ColorDepth`` reports it.
    """
    flags = Mtts(0)
    if terminal.lower() != "dumb":
        flags |= Mtts.VT100
    if color_depth_bits >= 4:
        flags |= Mtts.ANSI
    if color_depth_bits >= 8:
        flags |= Mtts.COLORS_256
    if color_depth_bits >= 24:
        flags |= Mtts.TRUECOLOR
    if utf8:
        flags |= Mtts.UTF8
    return int(flags)


def client_config(
    terminal: str = "ansi",
    color_depth_bits: int = 4,
    utf8: bool = True,
    window_size: tuple[int, int] = (80, 24),
) -> TelnetConfig:
    """The telnet configuration of ``reality play`` for this terminal."""
    return TelnetConfig.client(
        client_name=CLIENT_NAME,
        terminal_type=(terminal or "ansi").upper(),
        mtts=mtts_flags(color_depth_bits, utf8, terminal),
        window_size=window_size,
    )


class MudClientProtocol(TelnetProtocol):
    """A MUD client's telnet connection: assembles lines and prompts, tells a listener."""

    def __init__(self, listener: ClientListener, config: TelnetConfig, clock: Any) -> None:
        super().__init__(config, clock)
        self.listener = listener
        self.partial = ""
        self.masked = False
        self.peer: Address | None = None
        #: Sent as GMCP ``Client.Resume`` once GMCP is agreed, then forgotten.
        self.resume_token: str | None = None

    # -- engine side ----------------------------------------------------------------

    def connection_made(self) -> None:
        super().connection_made()
        self.partial = ""
        self.masked = False
        assert self.transport is not None  # make_connection set it before calling us
        self.peer = self.transport.get_peer()
        self.listener.connected(self)
        factory = getattr(self, "factory", None)
        if isinstance(factory, MudClientFactory):
            factory.connection_made(self)

    def connection_lost(self, reason: Failure) -> None:
        super().connection_lost(reason)
        if self.partial:
            # Text the server sent last without a line ending is still output.
            text, self.partial = self.partial, ""
            self.listener.line_received(text)
        clean = reason.check(ConnectionDone) is not None
        message = "the server closed the connection" if clean else (
            f"the connection was lost ({reason.get_error_message()})"
        )
        self.listener.disconnected(message, clean)

    # -- what the user does -----------------------------------------------------------

    def send_line(self, text: str) -> None:
        """Send one line of input (CR LF is added)."""
        self.send_text(text + "\n")

    def resize(self, width: int, height: int) -> None:
        """The window changed size: tell the server over NAWS (if it asked)."""
        width = max(1, min(width, 0xFFFF))
        height = max(1, min(height, 0xFFFF))
        if self.codec.window_size != (width, height):
            self.set_window_size(width, height)

    def close(self, message: str | None = None) -> None:
        """Close the connection (nothing is said to the server)."""
        super().close(None)

    # -- the codec's events ---------------------------------------------------------------

    def line_received(self, text: str) -> None:
        if self.partial:
            text, self.partial = self.partial + text, ""
        self.listener.line_received(text)

    def partial_line_received(self, text: str) -> None:
        self.partial += text
        self.listener.partial_received(self.partial)

    def prompt_received(self, text: str) -> None:
        if self.partial:
            text, self.partial = self.partial + text, ""
        self.listener.prompt_received(text)

    def gmcp_received(self, package: str, data: Any) -> None:
        self.listener.gmcp_received(package, data)

    def option_changed(self, option: int, side: Side, enabled: bool) -> None:
        if side is Side.REMOTE and option == ECHO:
            # WILL ECHO from the server: it will not echo, and neither must we.
            self.masked = enabled
            self.listener.masked_changed(enabled)
        elif side is Side.REMOTE and option == GMCP and enabled:
            self.send_gmcp("Core.Hello", {"client": "Reality", "version": __version__})
            self.send_gmcp("Core.Supports.Set", list(GMCP_SUPPORTS))
            token, self.resume_token = self.resume_token, None
            if token:
                self.send_gmcp("Client.Resume", {"token": token})

    def line_too_long(self, length: int, limit: int) -> None:
        # The server role answers the peer; a client just says so locally.
        self.listener.line_received(
            f"[reality play: a line of {length} bytes from the server was dropped]"
        )

    def protocol_error(self, message: str) -> None:
        log.warning("closing the connection: %s", message)
        self.listener.line_received(f"[reality play: {message}; closing the connection]")
        self.close()


class MudClientFactory(ClientFactory):
    """Makes the one :class:`MudClientProtocol`; ``deferred`` fires when connected."""

    def __init__(
        self,
        listener: ClientListener,
        config: TelnetConfig,
        clock: Any,
        *,
        tls: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
        resume_token: str | None = None,
    ) -> None:
        self.listener = listener
        self.resume_token = resume_token
        self.config = config
        self.clock = clock
        self.tls = tls
        self.server_hostname = server_hostname
        self.deferred: Deferred[MudClientProtocol] = Deferred()

    def build_protocol(self, addr: Address) -> Any:  # the protocol, or TLS around it
        protocol = MudClientProtocol(self.listener, self.config, self.clock)
        protocol.factory = self
        protocol.resume_token = self.resume_token
        if self.tls is None:
            return protocol
        # TLS from the first byte (the server's telnets port): the telnet
        # protocol runs unchanged over the TLS layer, which holds what it
        # writes until the handshake is done.
        return TLSProtocol(
            protocol,
            self.tls,
            server_side=False,
            clock=self.clock,
            server_hostname=self.server_hostname,
        )

    def connection_made(self, protocol: MudClientProtocol) -> None:
        """The protocol is connected (called from its ``connection_made``)."""
        if not self.deferred.called:
            self.deferred.callback(protocol)

    def client_connection_failed(self, connector: Any, reason: Failure) -> None:
        if not self.deferred.called:
            self.deferred.errback(reason)

    def client_connection_lost(self, connector: Any, reason: Failure) -> None:
        # Closed before connection_made finished: the caller must not wait forever.
        if not self.deferred.called:
            self.deferred.errback(reason)


def connect(
    reactor: Any,
    host: str,
    port: int,
    listener: ClientListener,
    config: TelnetConfig | None = None,
    timeout: float = 10.0,
    tls: ssl.SSLContext | None = None,
    resume_token: str | None = None,
) -> Deferred[MudClientProtocol]:
    """Connect to a MUD; the Deferred fires with the protocol or fails with the reason.

    The failure is a :class:`~reality.net.error.ConnectError` subclass:
    ``ConnectionRefusedError``, ``ConnectingTimeoutError`` or ``DNSLookupError``.
    With ``tls`` (a client context, :func:`reality.net.tls.client_context`)
    the connection is TLS from the first byte, the certificate checked
    against ``host``; a failed handshake closes it with the reason shown.
    ``resume_token`` (from the server's ``Client.Resume``) is presented once
    GMCP is agreed, to log in without the password.
    """
    factory = MudClientFactory(
        listener, config or client_config(), reactor, tls=tls, server_hostname=host,
        resume_token=resume_token,
    )
    reactor.connect_tcp(host, port, factory, timeout=timeout)
    return factory.deferred
