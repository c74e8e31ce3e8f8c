"""The game over WebSocket: ``/ws`` on the website's port, the MUD Standards subprotocols.

A browser (the site's own client at ``/play``, or any web MUD client) opens
``ws://host:8080/ws``; the HTTP server hands the connection to the engine's
:mod:`WebSocket protocol <reality.net.protocols.websocket>` and the player
gets a :class:`~reality.gateways.telnet.session.TelnetSession`, made by the
telnet gateway like any other, over a
:class:`~reality.net.protocols.websocket.WebSocketTransport`: the same login,
verbs, prompts, colour, GMCP, takeover, idle timeout, limits, bans and audit.

The subprotocols are those of the MUD Standards WebSocket proposal
(https://mudstandards.org/websocket/), in this order of preference:

``telnet.mudstandards.org`` (:data:`TELNET`)
    BINARY messages carry exactly the telnet byte stream a telnet client
    gets: negotiation, GMCP, EOR/GA after prompts; in both directions. MCCP
    is neither offered nor agreed (permessage-deflate compresses already).
    A client that asks for no subprotocol gets this one (what
    telnet-over-WebSocket proxies and their clients expect); the handshake
    then names none, as RFC 6455 §4.1 makes a client fail on a
    subprotocol it did not ask for.
``gmcp.mudstandards.org`` (:data:`GMCP`)
    BINARY messages carry the game's text with its ANSI codes, UTF-8, no
    telnet; TEXT messages carry one GMCP message each, ``Package.Name
    <json>``, both ways.
``terminal.mudstandards.org`` (:data:`TERMINAL`)
    BINARY messages carry the text with its ANSI codes, UTF-8; nothing else.

For the last two the session still speaks telnet: a :class:`TelnetBridge`
is the telnet *client* end inside the server (the engine's
:class:`~reality.net.protocols.telnet.TelnetCodec` in the client role),
which agrees to what the session offers, answers TTYPE with
``WEBSOCKET-GMCP``/``WEBSOCKET-TERMINAL``, ``XTERM-256COLOR`` and MTTS 269
(ANSI, UTF-8, 256 colours, true colour), and turns text and GMCP into
messages. The player's input (a BINARY or TEXT message of text in those
modes) is one or more lines.

Cross-site WebSocket hijacking: a browser sends ``Origin`` with every
WebSocket handshake, and a page from another site must not play as the
person who opened it. :func:`origin_allowed` accepts the site's own origin
(``http``/``https`` with the request's ``Host``, or the site's public URL),
those listed with ``--ws-allow-origin``, and a request without ``Origin``
(not a browser); anything else is answered ``403``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import attrs

from reality.audit import audit
from reality.gateways.connections import BANNED, refusal_message
from reality.net.interfaces import IReactorTime, ITransport
from reality.net.protocol import Address
from reality.net.protocols.http import Request, Response
from reality.net.protocols.http.events import error_response
from reality.net.protocols.telnet import (
    GmcpMessage,
    Mtts,
    PartialLine,
    Prompt,
    TelnetCodec,
    TelnetConfig,
    TextLine,
)
from reality.net.protocols.telnet.options import (
    CHARSET,
    ECHO,
    EOR,
    GMCP as GMCP_OPTION,
    MCCP2,
    SGA,
    TTYPE,
)
from reality.net.protocols.websocket import (
    BinaryMessage,
    HandshakeReject,
    TextMessage,
    server_handshake,
)
from reality.net.protocols.websocket.protocol import (
    ByteStreamHandler,
    WebSocketHandler,
    WebSocketProtocol,
    WebSocketTransport,
)

if TYPE_CHECKING:
    from reality.gateways.context import GatewayContext
    from reality.gateways.telnet.gateway import TelnetGateway
    from reality.gateways.telnet.session import TelnetSession
    from reality.gateways.web.gateway import WebFactory

__all__ = [
    "GMCP",
    "GameSocket",
    "PING_INTERVAL",
    "PING_TIMEOUT",
    "SUBPROTOCOLS",
    "TELNET",
    "TERMINAL",
    "TelnetBridge",
    "normalize_origin",
    "origin_allowed",
    "install",
    "websocket_telnet_config",
]

log = logging.getLogger("reality.gateways.websocket")

TELNET = "telnet.mudstandards.org"
GMCP = "gmcp.mudstandards.org"
TERMINAL = "terminal.mudstandards.org"
#: Ours, most preferred first: the first a client offers is chosen.
SUBPROTOCOLS = (TELNET, GMCP, TERMINAL)
#: What a client that asks for no subprotocol gets.
DEFAULT_SUBPROTOCOL = TELNET

#: The MTTS the bridge answers for gmcp/terminal clients: ANSI, UTF-8, 256 colours, true colour.
BRIDGE_MTTS = int(Mtts.ANSI | Mtts.UTF8 | Mtts.COLORS_256 | Mtts.TRUECOLOR)

#: Seconds between pings to a quiet WebSocket, and to wait for its pong
#: before the connection is closed (1001): a browser tab that went away
#: without a Close (a laptop shut, a phone out of range) is let go.
PING_INTERVAL = 30.0
PING_TIMEOUT = 30.0
#: The largest message a client may send (a line of input, a GMCP message);
#: bigger ones close the connection with 1009.
MAX_MESSAGE = 64 * 1024

_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def normalize_origin(text: str) -> str | None:
    """``scheme://host[:port]`` in lower case, without a default port (RFC 6454 §6.2).

    None for what is not a serialised origin (``null``, a path, garbage).
    """
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if scheme not in _DEFAULT_PORTS or not host or parts.path not in ("", "/"):
        return None
    if ":" in host:
        host = f"[{host}]"
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def origin_allowed(
    origin: str | None, host: str, allowed: Iterable[str] = (), site_url: str | None = None
) -> bool:
    """Whether a WebSocket handshake with this ``Origin`` may go on.

    No ``Origin`` (a MUD client, a script, not a browser): yes. Otherwise
    the origin must be the site's own — ``http://`` or ``https://`` with the
    request's ``Host``, or the origin of ``site_url`` (the site's public
    address) — or one of ``allowed`` (``--ws-allow-origin``).
    """
    if origin is None:
        return True
    wanted = normalize_origin(origin)
    if wanted is None:
        return False
    own = set()
    if host:
        for scheme in ("http", "https"):
            mine = normalize_origin(f"{scheme}://{host}")
            if mine is not None:
                own.add(mine)
    if site_url:
        mine = normalize_origin(site_url.rstrip("/"))
        if mine is not None:
            own.add(mine)
    if wanted in own:
        return True
    return any(normalize_origin(item) == wanted for item in allowed)


def websocket_telnet_config(config: TelnetConfig) -> TelnetConfig:
    """The telnet gateway's configuration for a session over WebSocket: no MCCP.

    MCCP2 is neither offered nor agreed when a client asks: the WebSocket
    has permessage-deflate, and a browser's telnet code has no zlib stream.
    """
    return attrs.evolve(
        config,
        local_options=config.local_options - {MCCP2},
        offer_local=tuple(option for option in config.offer_local if option != MCCP2),
        auto_compress=False,
    )


class TelnetBridge:
    """The telnet client end of a session, inside the server (gmcp and terminal modes).

    ``to_session(bytes)`` feeds the session what a telnet client would
    send; ``send_binary(bytes)`` and ``send_text(str)`` send WebSocket
    messages. :meth:`from_session` takes what the session writes.
    """

    __slots__ = ("codec", "to_session", "send_binary", "send_text", "gmcp")

    def __init__(
        self,
        subprotocol: str,
        to_session: Callable[[bytes], object],
        send_binary: Callable[[bytes], object],
        send_text: Callable[[str], object],
    ) -> None:
        self.gmcp = subprotocol == GMCP
        remote = {ECHO, SGA, EOR} | ({GMCP_OPTION} if self.gmcp else set())
        name = "WEBSOCKET-GMCP" if self.gmcp else "WEBSOCKET-TERMINAL"
        self.codec = TelnetCodec(
            TelnetConfig.client(
                client_name=name,
                terminal_type="XTERM-256COLOR",
                mtts=BRIDGE_MTTS,
                local_options=frozenset({TTYPE, CHARSET}),
                remote_options=frozenset(remote),
            )
        )
        self.to_session = to_session
        self.send_binary = send_binary
        self.send_text = send_text

    def _answer(self) -> None:
        reply = self.codec.data_to_send()
        if reply:
            self.to_session(reply)

    def from_session(self, data: bytes) -> None:
        """The session wrote ``data`` (telnet): send its text and GMCP as messages."""
        text: list[str] = []
        for event in self.codec.receive(data):
            if isinstance(event, TextLine):
                text.append(event.text)
                text.append("\r\n")
            elif isinstance(event, (PartialLine, Prompt)):
                text.append(event.text)
            elif isinstance(event, GmcpMessage) and self.gmcp:
                if text:
                    self.send_binary("".join(text).encode("utf-8"))
                    text = []
                payload = event.package
                if event.data is not None:
                    payload += " " + json.dumps(
                        event.data, ensure_ascii=False, separators=(",", ":")
                    )
                self.send_text(payload)
        if text:
            joined = "".join(text)
            if joined:
                self.send_binary(joined.encode("utf-8"))
        self._answer()

    def from_client_text(self, text: str) -> None:
        """A line (or lines) the player typed."""
        data = text.encode("utf-8", "replace")
        if not data.endswith(b"\n"):
            data += b"\r\n"
        self.to_session(data.replace(b"\xff", b"\xff\xff"))

    def from_client_gmcp(self, message: str) -> None:
        """A GMCP message from the client (gmcp mode): ``Package.Name [json]``."""
        package, _, rest = message.strip().partition(" ")
        if not package:
            return
        data: Any = None
        if rest.strip():
            try:
                data = json.loads(rest)
            except ValueError:
                log.debug("websocket gmcp: bad JSON for %s dropped", package)
                return
        if self.codec.send_gmcp(package, data):
            self._answer()


class BridgedTransport:
    """What a session behind a :class:`TelnetBridge` writes to: the bridge, then the socket.

    Everything but writing is the WebSocket transport's.
    """

    def __init__(self, inner: ITransport, bridge: TelnetBridge) -> None:
        self.inner = inner
        self.bridge = bridge

    def write(self, data: bytes) -> None:
        self.bridge.from_session(data)

    def write_sequence(self, data: Iterable[bytes]) -> None:
        self.bridge.from_session(b"".join(data))

    def lose_connection(self) -> None:
        self.inner.lose_connection()

    def abort_connection(self) -> None:
        self.inner.abort_connection()

    def get_peer(self) -> Address:
        return self.inner.get_peer()

    def get_host(self) -> Address:
        return self.inner.get_host()

    def pause_reading(self) -> None:
        self.inner.pause_reading()

    def resume_reading(self) -> None:
        self.inner.resume_reading()

    def get_write_buffer_size(self) -> int:
        return self.inner.get_write_buffer_size()

    def __getattr__(self, name: str) -> Any:
        # Attributes a protocol may read (``disconnecting``) are the inner transport's.
        return getattr(self.inner, name)


class BridgedHandler(ByteStreamHandler):
    """A session over a :class:`TelnetBridge` (gmcp and terminal): messages to and from it.

    Closing and flow control are :class:`ByteStreamHandler`'s; what differs
    is the transport (the bridge turns telnet into the subprotocol's
    messages) and the way a client's messages reach the session.
    """

    def __init__(self, session: TelnetSession, subprotocol: str) -> None:
        super().__init__(session)
        self.session = session
        self.subprotocol = subprotocol
        self.bridge: TelnetBridge | None = None

    def connection_made(self, ws: WebSocketProtocol) -> None:
        session = self.session
        bridge = self.bridge = TelnetBridge(
            self.subprotocol, session.data_received, ws.send_binary, ws.send_text
        )
        session.make_connection(BridgedTransport(WebSocketTransport(ws), bridge))

    def message_received(self, message: TextMessage | BinaryMessage) -> None:
        bridge = self.bridge
        if bridge is None:
            return
        if type(message) is BinaryMessage:
            bridge.from_client_text(message.data.decode("utf-8", "replace"))
        elif bridge.gmcp:
            bridge.from_client_gmcp(message.text)  # type: ignore[union-attr]
        else:
            bridge.from_client_text(message.text)  # type: ignore[union-attr]


class GameSocket:
    """The handler of ``/ws``: checks, the opening handshake, then a game session.

    A request is refused (and nothing is upgraded) when its ``Origin`` is
    another site's (403), when its address is banned (403) or holds its
    share of connections, or the game is full (503: telnet's limits, which
    the session will count it under), when it is not a valid WebSocket
    handshake (400, 405, 426), or when it offers only subprotocols we do not
    speak (400).
    """

    def __init__(
        self,
        telnet: TelnetGateway,
        clock: IReactorTime,
        *,
        allowed_origins: Iterable[str] = (),
        site_url: Callable[[], str | None] = lambda: None,
        ping_interval: float | None = PING_INTERVAL,
        ping_timeout: float = PING_TIMEOUT,
        max_message: int = MAX_MESSAGE,
    ) -> None:
        self.telnet = telnet
        #: The telnet gateway's configuration without MCCP.
        self.telnet_config = websocket_telnet_config(telnet.telnet_config)
        self.clock = clock
        self.allowed_origins = tuple(allowed_origins)
        self.site_url = site_url
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.max_message = max_message
        #: Handshakes accepted since the start, by subprotocol.
        self.accepted: dict[str, int] = {}

    def __call__(self, request: Request) -> Response:
        peer = request.peer.host if request.peer is not None else "?"
        origin = request.headers.get("origin")
        host = request.host or request.headers.get("host") or ""
        if not origin_allowed(origin, host, self.allowed_origins, self.site_url()):
            log.warning("websocket: refusing %s from origin %r", peer, origin)
            audit("connection.refused", service="websocket", address=peer, reason="origin")
            return error_response(403, "This game does not accept connections from that site.")
        answer = server_handshake(
            request.method, request.headers, subprotocols=SUBPROTOCOLS,
            default_subprotocol=DEFAULT_SUBPROTOCOL,
        )
        if isinstance(answer, HandshakeReject):
            response = error_response(answer.status, answer.reason)
            for name, value in answer.headers:
                response.headers.set(name, value)
            return response
        subprotocol = answer.subprotocol
        if subprotocol is None:
            return error_response(
                400, "None of the offered subprotocols is spoken here; ask for one of: "
                + ", ".join(SUBPROTOCOLS) + "."
            )
        refusal = self.telnet.refusal(peer, "websocket")
        if refusal is not None:
            if refusal == BANNED:
                return error_response(403, "Your address is banned from this server.")
            return error_response(503, refusal_message(refusal))
        extensions = answer.extensions

        def switch() -> WebSocketProtocol:
            session = self.telnet.websocket_session(self.telnet_config)
            handler: WebSocketHandler
            if subprotocol == TELNET:
                handler = ByteStreamHandler(session)
            else:
                handler = BridgedHandler(session, subprotocol)
            self.accepted[subprotocol] = self.accepted.get(subprotocol, 0) + 1
            return WebSocketProtocol(
                handler, self.clock, extensions=extensions, subprotocol=subprotocol,
                max_message=self.max_message, ping_interval=self.ping_interval,
                ping_timeout=self.ping_timeout,
            )

        return Response(101, answer.response_headers, b"", switch_to=switch)


def install(context: GatewayContext, web: WebFactory, telnet: TelnetGateway) -> GameSocket:
    """Put the game on the website: ``/ws``, whose sessions the telnet gateway makes.

    The sessions are telnet's (counted, limited, closed at shutdown and by
    bans there); the connection also counts as one of the website's
    until it closes.
    """
    site = web.site
    assert site is not None  # the website's factory serves the site
    settings = context.settings
    world = context.world
    endpoint = GameSocket(
        telnet, context.reactor, allowed_origins=settings.ws_allow_origins,
        site_url=lambda: world.web_url, ping_interval=settings.ws_ping_interval or None,
        ping_timeout=settings.ws_ping_timeout,
    )
    site.router.add("/ws", endpoint)
    return endpoint
