"""The game over WebSocket, without sockets: the Origin policy, MCCP left out, the bridge."""

from __future__ import annotations

import pytest

from reality.gateways.websocket import (
    GMCP,
    TERMINAL,
    TelnetBridge,
    normalize_origin,
    origin_allowed,
    websocket_telnet_config,
)
from reality.net.protocols.telnet import TelnetCodec, TelnetConfig
from reality.net.protocols.telnet.options import MCCP2


@pytest.mark.parametrize(
    ("text", "origin"),
    [
        ("http://Play.Example:80", "http://play.example"),
        ("https://play.example:443/", "https://play.example"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://[::1]:8080", "http://[::1]:8080"),
        ("null", None),
        ("file://", None),
        ("http://x.test/path", None),
        ("http://x.test:99999", None),
    ],
)
def test_origins_are_compared_in_their_serialised_form(text, origin):
    """Scheme and host in lower case, default ports dropped; anything else is not an origin."""
    assert normalize_origin(text) == origin


def test_no_origin_is_a_non_browser_client_and_is_accepted():
    """A handshake without Origin (a MUD client, a script) goes on."""
    assert origin_allowed(None, "127.0.0.1:8080")


@pytest.mark.parametrize("origin", ["http://127.0.0.1:8080", "https://127.0.0.1:8080"])
def test_the_sites_own_origin_is_accepted(origin):
    """The page /play of this site, by the Host it was asked with."""
    assert origin_allowed(origin, "127.0.0.1:8080")


def test_the_public_url_is_the_sites_origin_too():
    """Behind a proxy the Host may differ: the site's public URL counts as its own."""
    assert origin_allowed("https://mud.example", "127.0.0.1:8080", (), "https://mud.example/")


@pytest.mark.parametrize(
    "origin", ["http://evil.example", "http://127.0.0.1:8081", "null", "http://127.0.0.1.evil:8080"]
)
def test_another_origin_is_refused(origin):
    """Cross-site WebSocket hijacking: a page from elsewhere may not play as its visitor."""
    assert not origin_allowed(origin, "127.0.0.1:8080", (), "http://127.0.0.1:8080/")


def test_listed_origins_are_accepted():
    """--ws-allow-origin lets a web client hosted elsewhere connect."""
    allowed = ["https://client.example", "http://other.example:3000/"]
    assert origin_allowed("https://client.example", "127.0.0.1:8080", allowed)
    assert origin_allowed("http://other.example:3000", "127.0.0.1:8080", allowed)
    assert not origin_allowed("http://client.example", "127.0.0.1:8080", allowed)


def test_the_websocket_telnet_config_leaves_out_mccp():
    """MCCP2 is neither offered nor agreed over WebSocket (permessage-deflate compresses)."""
    config = websocket_telnet_config(TelnetConfig.server())
    assert MCCP2 not in config.offer_local
    assert MCCP2 not in config.local_options
    server = TelnetCodec(config)
    server.start()
    client = TelnetCodec(TelnetConfig.client())
    for _ in range(5):
        client.receive(server.data_to_send())
        server.receive(client.data_to_send())
    assert not server.compressing
    assert not server.local_enabled(MCCP2)


class _Pair:
    """A server telnet codec (the session's side) and a bridge, wired together."""

    def __init__(self, subprotocol: str) -> None:
        self.server = TelnetCodec(websocket_telnet_config(TelnetConfig.server()))
        self.binary: list[bytes] = []
        self.text: list[str] = []
        self.events: list = []
        self.bridge = TelnetBridge(
            subprotocol, self.to_session, self.binary.append, self.text.append
        )
        self.server.start()
        self.pump()

    def to_session(self, data: bytes) -> None:
        self.events.extend(self.server.receive(data))

    def pump(self) -> None:
        for _ in range(5):
            data = self.server.data_to_send()
            if data:
                self.bridge.from_session(data)


def test_gmcp_mode_sends_text_as_binary_and_gmcp_as_text_messages():
    """gmcp.mudstandards.org: BINARY = ANSI text, TEXT = "Package.Name json"; no telnet bytes."""
    pair = _Pair(GMCP)
    pair.binary.clear()
    pair.server.send_text("\x1b[1mHello\x1b[0m\r\n> ")
    pair.server.send_prompt("")
    pair.server.send_gmcp("Room.Info", {"name": "Hall", "exits": {"north": 2}})
    pair.pump()
    assert b"".join(pair.binary) == b"\x1b[1mHello\x1b[0m\r\n> "
    assert pair.text == ['Room.Info {"name":"Hall","exits":{"north":2}}']
    assert all(b"\xff" not in chunk for chunk in pair.binary)


def test_gmcp_mode_answers_ttype_with_its_colours():
    """The session learns ANSI/UTF-8/256/truecolour from the bridge's MTTS."""
    pair = _Pair(GMCP)
    kinds = {type(e).__name__: e for e in pair.events}
    assert kinds["TerminalType"].client == "WEBSOCKET-GMCP"
    assert kinds["TerminalType"].mtts is not None


def test_gmcp_mode_takes_gmcp_and_lines_from_the_client():
    """A TEXT message is a GMCP message to the session; a BINARY one is a line typed."""
    pair = _Pair(GMCP)
    pair.events.clear()
    pair.bridge.from_client_gmcp('Core.Supports.Set ["Room 1"]')
    pair.bridge.from_client_text("look")
    names = [type(e).__name__ for e in pair.events]
    assert "GmcpMessage" in names and "TextLine" in names
    line = [e for e in pair.events if type(e).__name__ == "TextLine"][0]
    assert line.text == "look"


def test_terminal_mode_drops_gmcp():
    """terminal.mudstandards.org: text only, no TEXT messages at all."""
    pair = _Pair(TERMINAL)
    pair.server.send_gmcp("Room.Info", {"name": "Hall"})
    pair.server.send_text("Hi\r\n")
    pair.pump()
    assert pair.text == []
    assert b"".join(pair.binary).endswith(b"Hi\r\n")
