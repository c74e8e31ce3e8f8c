"""One way to plug a gateway in: install(GatewayContext) -> the Gateway the server tracks."""

from __future__ import annotations

import inspect
from pathlib import Path

from reality import app
from reality.app import GATEWAYS, Server
from reality.game.loader import load_world
from reality.gateways import mail, telnet, web
from reality.gateways.context import ConnectionLimits, GatewayContext
from reality.net.testing import MemoryReactor
from reality.settings import Settings

TINY = Path(__file__).resolve().parents[2] / "world" / "tiny.yaml"


def test_every_gateway_installs_the_same_way():
    """telnet, web and mail each have install(context: GatewayContext), listed in app.GATEWAYS."""
    assert GATEWAYS == (web.install, mail.install, telnet.install)
    for install in GATEWAYS:
        parameters = list(inspect.signature(install).parameters.values())
        assert [p.name for p in parameters] == ["context"]
        assert parameters[0].annotation in ("GatewayContext", GatewayContext)


def test_the_server_tracks_what_each_install_returns(tmp_path):
    """The assembled server keeps exactly the installs' gateways, and the ports open in
    the listed order (HTTP, SMTP, POP3, telnet) with the settings' limits applied."""
    reactor = MemoryReactor()
    settings = Settings(world=str(TINY), db=":memory:", telnet_port=0, http_port=0,
                        smtp_port=0, pop3_port=0, imap_port=0, workers=1, max_per_address=3,
                        max_connections=7, idle_timeout=9)
    server = Server(settings, reactor, load_world(TINY))
    try:
        assert [type(g) for g in server.gateways] == [
            web.WebFactory, mail.MailGateway, telnet.TelnetGateway,
        ]
        assert server.telnet is server.gateways[2]
        assert server.mail is server.gateways[1]
        assert server.web is server.gateways[0].site
        assert server.telnet.idle_timeout == 9.0
        assert server.telnet.connections.max_per_address == 3
        assert server.mail.connections.max_connections == 7
        names = [s.name for s in server.app if s.name in ("http", "smtp", "pop3", "telnet")]
        assert names == ["http", "smtp", "pop3", "telnet"]
    finally:
        server.store.close()


def test_telnet_tells_the_world_its_address_and_the_site_redraws():
    """The telnet gateway's port, once open, reaches the world (not the website directly):
    a page drawn before is stale after."""
    reactor = MemoryReactor()
    settings = Settings(world=str(TINY), db=":memory:", telnet_port=0, http_port=0, workers=1)
    server = Server(settings, reactor, load_world(TINY))
    try:
        site = server.web
        site._cached("/", site._render_front)
        assert not site._pages["/"].stale
        server.app.get_service_named("telnet").start_service()
        assert server.world.telnet_address == f"127.0.0.1:{server.addresses['telnet'].port}"
        assert server.telnet.address == server.addresses["telnet"]
        assert site._pages["/"].stale
    finally:
        server.store.close()


def test_connection_limits_come_from_the_settings():
    """ConnectionLimits.from_settings copies the three limits; it has no defaults of its own."""
    limits = ConnectionLimits.from_settings(Settings(max_per_address=1, max_connections=2,
                                                     idle_timeout=3))
    assert limits == ConnectionLimits(1, 2, 3.0)
    assert app.Settings is Settings
