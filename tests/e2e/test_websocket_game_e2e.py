"""The game over WebSocket against a live server: ``websockets`` and ``wsproto`` as clients.

The handshake and its subprotocols, the Origin policy (403 / accepted),
a telnet session played over ``telnet.mudstandards.org`` beside a telnet
player, GMCP in telnet mode and in ``gmcp.mudstandards.org``,
``terminal.mudstandards.org``, close codes, and WebSocket connections
counted by the limits and refused by bans.
"""

from __future__ import annotations

import socket
import time

import pytest
from serverproc import ServerProcess
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect
from websockets.typing import Subprotocol
from wsclient import TELNET, WSPlayer, ws_url

from reality.net.protocols.telnet.options import IAC, MCCP2, WILL

GMCP = "gmcp.mudstandards.org"
TERMINAL = "terminal.mudstandards.org"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("ws")
    with ServerProcess(
        workdir, expect=("telnet", "http"),
        extra=("--ws-allow-origin", "https://client.example", "--max-signups-per-hour", "0"),
    ) as server:
        yield server


def _status(port: int, **options) -> int:
    with pytest.raises(InvalidStatus) as refused:
        connect(ws_url(port), open_timeout=10, **options)
    return refused.value.response.status_code


def test_the_handshake_chooses_telnet_and_sends_telnet_negotiation_without_mccp(server):
    """telnet.mudstandards.org: the 101 names it; the first bytes are telnet offers, not MCCP."""
    player = WSPlayer(server.ports["http"])
    try:
        assert player.ws.subprotocol == TELNET
        assert bytes(player.raw).startswith(bytes([IAC]))
        assert bytes([IAC, WILL, MCCP2]) not in player.raw
        assert "Type your character's name" in player.text or player.prompts == 1
    finally:
        player.close()


def test_no_subprotocol_asked_means_telnet(server):
    """A client that asks for none gets the telnet stream (and no Sec-WebSocket-Protocol)."""
    player = WSPlayer(server.ports["http"], subprotocols=None)
    try:
        assert player.ws.subprotocol is None
        assert player.raw[:1] == bytes([IAC])
    finally:
        player.close()


def test_only_unknown_subprotocols_are_refused(server):
    """Offering only protocols the game does not speak: 400, no upgrade."""
    assert _status(server.ports["http"], subprotocols=[Subprotocol("v1.evennia.com")]) == 400


def test_another_sites_origin_gets_403(server):
    """Cross-site WebSocket hijacking: a page elsewhere cannot open the game as its visitor."""
    assert _status(server.ports["http"], origin="http://evil.example") == 403


def test_no_origin_and_own_and_listed_origins_are_accepted(server):
    """No Origin (not a browser), the site's own, and one given with --ws-allow-origin."""
    port = server.ports["http"]
    for origin in (None, f"http://127.0.0.1:{port}", "https://client.example"):
        player = WSPlayer(port, origin=origin)
        player.close()


def test_a_telnet_session_is_played_over_websocket_beside_a_telnet_player(server):
    """Create, look, walk; what a telnet player says arrives, and the other way round."""
    ws = WSPlayer(server.ports["http"])
    telnet = server.telnet()
    try:
        assert "Welcome to Tiny Test World, wsdora" in ws.command("create wsdora secret99")
        telnet.command("create tedd secret99")
        ws.expect("tedd has entered the game")
        telnet.command("say hello from telnet")
        assert 'tedd says, "hello from telnet"' in ws.expect("hello from telnet")
        ws.command("say hello from the browser")
        telnet.expect('wsdora says, "hello from the browser"')
        assert "north" in ws.command("look")
    finally:
        ws.close()
        telnet.close()


def test_gmcp_in_telnet_mode(server):
    """GMCP over the telnet stream: Room.Info with exits and who is here, Char.Status."""
    ws = WSPlayer(server.ports["http"])
    try:
        ws.command("create wsgus secret99")
        room = ws.gmcp_named("Room.Info")
        assert room["id"] == "hall" and "north" in room["exits"]
        assert ws.gmcp_named("Char.Status")["name"].lower() == "wsgus"
    finally:
        ws.close()


def _frames(ws, seconds: float = 1.5) -> list[bytes | str]:
    out: list[bytes | str] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            out.append(ws.recv(timeout=max(0.01, deadline - time.monotonic())))
        except TimeoutError:
            break
    return out


def test_gmcp_subprotocol_text_frames_are_gmcp_and_binary_frames_are_text(server):
    """gmcp.mudstandards.org: BINARY = ANSI text without telnet, TEXT = "Package json"."""
    with connect(ws_url(server.ports["http"]), subprotocols=[Subprotocol(GMCP)],
                 open_timeout=10) as ws:
        assert ws.subprotocol == GMCP
        banner = _frames(ws)
        assert all(isinstance(f, bytes) and b"\xff" not in f for f in banner)
        assert b"Type your character's name" in b"".join(f for f in banner if isinstance(f, bytes))
        ws.send(b"create wshal secret99\r\n")
        frames = _frames(ws)
        text = b"".join(f for f in frames if isinstance(f, bytes)).decode()
        assert "Welcome to Tiny Test World, wshal" in text and "\xff" not in text
        gmcp = [f for f in frames if isinstance(f, str)]
        assert any(f.startswith("Room.Info {") and '"hall"' in f for f in gmcp), gmcp
        ws.send('Core.Supports.Set ["Room 1"]')  # accepted as GMCP, no reply needed
        ws.send(b"look\r\n")
        assert b"The Hall" in b"".join(f for f in _frames(ws) if isinstance(f, bytes))


def test_terminal_subprotocol_is_text_only(server):
    """terminal.mudstandards.org: BINARY messages of UTF-8 text and ANSI, nothing else."""
    with connect(ws_url(server.ports["http"]), subprotocols=[Subprotocol(TERMINAL)],
                 open_timeout=10) as ws:
        assert ws.subprotocol == TERMINAL
        ws.send(b"create wsida secret99\r\n")
        frames = _frames(ws, 2.0)
        assert all(isinstance(f, bytes) for f in frames)
        text = b"".join(frames)  # type: ignore[arg-type]
        assert b"\xff" not in text and b"Welcome to Tiny Test World, wsida" in text


def test_quit_closes_with_1000_and_a_client_close_is_answered(server):
    """The game says goodbye with a normal closure; a client's Close gets its echo."""
    ws = WSPlayer(server.ports["http"])
    ws.command("create wsjo secret99")
    ws.codec.send_text("quit\r\n")
    ws.ws.send(ws.codec.data_to_send())
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            ws.ws.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1000
    other = WSPlayer(server.ports["http"])
    other.ws.close(1000, "bye")
    assert other.ws.close_code == 1000


def test_wsproto_client_with_permessage_deflate(server):
    """wsproto, an independent implementation, with permessage-deflate: plays too."""
    from wsproto import ConnectionType, WSConnection
    from wsproto.events import AcceptConnection, BytesMessage, Request
    from wsproto.extensions import PerMessageDeflate

    client = WSConnection(ConnectionType.CLIENT)
    sock = socket.create_connection(("127.0.0.1", server.ports["http"]), timeout=10)
    try:
        sock.sendall(client.send(Request(
            host=f"127.0.0.1:{server.ports['http']}", target="/ws",
            subprotocols=[TELNET], extensions=[PerMessageDeflate()],
        )))
        received = b""
        accepted = None
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and b"Type your character" not in received:
            client.receive_data(sock.recv(65536))
            for event in client.events():
                if isinstance(event, AcceptConnection):
                    accepted = event
                elif isinstance(event, BytesMessage):
                    received += bytes(event.data)
        assert accepted is not None and accepted.subprotocol == TELNET
        assert any(isinstance(e, PerMessageDeflate) for e in accepted.extensions)
        assert b"Type your character" in received
    finally:
        sock.close()


def test_websocket_connections_count_toward_the_limits(tmp_path):
    """--max-per-address: WebSocket players count with telnet ones; over it, 503 / refused."""
    with ServerProcess(tmp_path, expect=("telnet", "http"),
                       extra=("--max-per-address", "2")) as server:
        port = server.ports["http"]
        first, second = WSPlayer(port), WSPlayer(port)
        try:
            assert _status(port) == 503
            # The telnet gateway counts them too: a telnet connection is refused.
            conn = socket.create_connection(("127.0.0.1", server.ports["telnet"]), timeout=10)
            data = b""
            conn.settimeout(10)
            while b"Too many connections" not in data:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                data += chunk
            assert b"Too many connections from your address" in data
            conn.close()
        finally:
            first.close()
            second.close()


def test_a_banned_address_cannot_open_the_websocket(tmp_path):
    """@ban 127.0.0.2: an open WebSocket game from there is closed; a new handshake gets 403."""
    with ServerProcess(tmp_path, expect=("telnet", "http"), admins=("root",)) as server:
        port = server.ports["http"]
        ws = WSPlayer(port, source="127.0.0.2")
        ws.command("create wskim secret99")
        admin = server.telnet()
        admin.command("connect root secret")
        admin.conn.write(b"@ban 127.0.0.2 = testing\r\n")
        assert "You have been banned from this server. Reason: testing" in ws.closed_with()
        with pytest.raises((InvalidStatus, ConnectionClosed, OSError)):
            WSPlayer(port, source="127.0.0.2")
        admin.close()
