"""The website as a gateway: its connection-counting factory and :func:`install`.

:func:`install` plugs the site into the server (see
:mod:`reality.gateways.context`): it listens on ``settings.http_port`` and,
once the port is known, sets the world's ``web_url`` (which the telnet
banner and ``homepage`` show). With TLS configured it listens on
``settings.https_port`` too (the same site; every response there carries
``Strict-Transport-Security``) and the URLs given out are the HTTPS ones.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from reality.gateways.connections import BANNED, TOO_MANY_FROM_ADDRESS, Connections
from reality.gateways.context import GatewayContext
from reality.gateways.web.site import WebSite
from reality.net.interfaces import IReactorTime
from reality.net.protocol import Address
from reality.net.protocols.http import HTTPChannel, HTTPFactory, Request, Response
from reality.net.protocols.http.events import error_response
from reality.net.tls import TLSServerFactory

if TYPE_CHECKING:
    from reality.game.bans import Bans

__all__ = ["WebFactory", "hsts_header", "install", "site_url"]

log = logging.getLogger("reality.gateways.web")


class WebFactory(HTTPFactory):
    """An :class:`HTTPFactory` that counts its connections per address.

    At most ``max_per_address`` connections from one address and
    ``max_connections`` in all (0: no limit), like the other gateways; more
    are answered 503. At shutdown
    :meth:`close_all` closes them all once what they were sent is flushed.
    """

    def __init__(
        self, handler: Callable[[Request], Any], clock: IReactorTime, max_per_address: int = 0,
        max_connections: int = 10000, bans: Bans | None = None, **options: Any,
    ) -> None:
        super().__init__(handler, clock, max_connections, **options)
        self.connections = Connections(max_per_address, bans=bans)
        #: The site it serves (what ``Server.web`` is), when the handler is one.
        self.site = handler if isinstance(handler, WebSite) else None

    def refusal(self, addr: Address) -> str | None:
        # A ban first (403, not a 503 that invites a retry); then the
        # service's limit: it is the one that protects everyone.
        if self.connections.banned(addr.host):
            return BANNED
        reason = super().refusal(addr)
        if reason is None and self.connections.full(addr.host):
            reason = TOO_MANY_FROM_ADDRESS
        return reason

    def refusal_response(self, reason: str) -> Response:
        if reason == BANNED:
            return error_response(403, "Your address is banned from this server.")
        return super().refusal_response(reason)

    def channel_opened(self, channel: HTTPChannel) -> None:
        super().channel_opened(channel)
        transport = channel.transport
        assert transport is not None  # opened: it has its transport
        try:
            host = transport.get_peer().host
        except OSError:  # reset before we could ask; counted under no address
            host = "?"
        self.connections.add(channel, host)

    def channel_closed(self, channel: HTTPChannel) -> None:
        super().channel_closed(channel)
        self.connections.discard(channel)

    def close_banned(self, covers: Callable[[str], bool], message: str = "") -> int:
        """A new address ban: close every connection from an address it covers."""
        channels = self.connections.matching(covers)
        for channel in channels:
            transport = channel.transport
            if transport is not None and not transport.disconnecting:
                transport.lose_connection()
        return len(channels)

    def close_all(self, message: str = "") -> None:
        """Close every open connection once what it has been sent is flushed."""

        def close(channel: HTTPChannel) -> None:
            transport = channel.transport
            if transport is not None and not transport.disconnecting:
                transport.lose_connection()

        self.connections.close_all(close)


def site_url(host: str, port: int, scheme: str = "http") -> str:
    """``http://host:port/`` (or ``https``), with brackets around an IPv6 literal."""
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}/"


def hsts_header(max_age: int) -> tuple[str, str]:
    """The ``Strict-Transport-Security`` field (RFC 6797) every HTTPS response carries.

    No ``includeSubDomains`` (a game server should not decide for its
    sibling hosts) and no ``preload``; ``max-age=0`` tells browsers to forget.
    """
    return ("Strict-Transport-Security", f"max-age={max(0, int(max_age))}")


def install(context: GatewayContext) -> WebFactory:
    """Plug the website into the server; the factory is what it tracks.

    Listens on ``settings.http_port``; when the port is open (its number is
    known only then, with port 0) the world learns the site's URL, so the
    telnet banner and ``homepage`` can tell players their address.
    """
    world = context.world
    site = WebSite(world, context.reactor, started=context.started, renderer=context.pool)
    factory = WebFactory(
        site, context.reactor, max_per_address=context.limits.max_per_address,
        max_connections=context.limits.max_connections, bans=context.authenticator.bans,
    )

    settings, tls = context.settings, context.tls

    def listening(address: Address) -> None:
        url = site_url(context.public_host(), address.port)
        if site.secure_url is None:
            world.web_url = url.rstrip("/")
        site.invalidate()
        log.info("website at %s", url)

    context.listen("http", settings.http_port, factory, listening)
    if tls is not None:
        # The same site over TLS (ALPN http/1.1), its own connection counts,
        # every response with HSTS. Once it listens, the URLs players are
        # given (banner, 'homepage', homepage links on the plain site) are
        # the HTTPS ones.
        secure = WebFactory(
            site, context.reactor, max_per_address=context.limits.max_per_address,
            max_connections=context.limits.max_connections, bans=context.authenticator.bans,
            fixed_headers=[hsts_header(settings.hsts_max_age)],
        )
        site.telnets_port = settings.telnets_port or None

        def secure_listening(address: Address) -> None:
            url = site_url(context.public_host(), address.port, "https")
            site.secure_url = world.web_url = url.rstrip("/")
            world.changed("world", None)
            site.invalidate()
            log.info("website at %s", url)

        wrapped = TLSServerFactory(secure, tls, clock=context.reactor, alpn=("http/1.1",),
                                   handshake_timeout=settings.tls_handshake_timeout)
        context.listen("https", settings.https_port, wrapped, secure_listening)
        if context.track is not None:
            context.track(secure)
    return factory
