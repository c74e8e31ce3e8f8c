"""End to end: a Mudlet-like client walks the default world over a real telnet socket
with GMCP negotiated, and every Room.Info it is sent matches a room of ``/map.xml``,
which validates against the MMP schema."""

from __future__ import annotations

import http.client
import json
import socket
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
import xmlschema
from serverproc import ROOT, ServerProcess

TIMEOUT = 10.0
XSD = ROOT / "tests" / "gateways" / "mmp.xsd"
IAC, SB, SE, WILL, DO, DONT, WONT, GMCP = 255, 250, 240, 251, 253, 254, 252, 201


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    workdir = tmp_path_factory.mktemp("mudlet")
    world = ROOT / "world" / "default.yaml"
    with ServerProcess(workdir, world=world, expect=("telnet", "http")) as s:
        yield s
        status = s.stop()
    output = s.output()
    assert status == 0, output
    assert "Traceback" not in output, output


class GmcpClient:
    """A raw socket that agrees to GMCP only, and collects GMCP messages and text."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.buffer = b""
        self.text = b""
        self.messages: list[tuple[str, object]] = []

    def send_gmcp(self, package: str, data: object) -> None:
        body = f"{package} {json.dumps(data)}".encode()
        self.sock.sendall(bytes([IAC, SB, GMCP]) + body + bytes([IAC, SE]))

    def line(self, text: str) -> None:
        self.sock.sendall(text.encode() + b"\r\n")

    def pump(self, until: bytes, timeout: float = TIMEOUT) -> None:
        """Read (answering negotiation) until ``until`` has appeared in the text."""
        deadline = time.monotonic() + timeout
        while until not in self.text:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = self.sock.recv(65536)
            if not chunk or time.monotonic() > deadline:
                raise AssertionError(f"{until!r} did not come; got {self.text[-300:]!r}")
            self._parse(self.buffer + chunk)

    def _parse(self, data: bytes) -> None:
        i = 0
        while i < len(data):
            if data[i] != IAC:
                self.text += data[i : i + 1]
                i += 1
                continue
            if i + 1 >= len(data):
                break
            command = data[i + 1]
            if command in (WILL, WONT, DO, DONT):
                if i + 2 >= len(data):
                    break
                option = data[i + 2]
                if command == WILL:
                    answer = DO if option == GMCP else DONT
                    self.sock.sendall(bytes([IAC, answer, option]))
                elif command == DO:
                    self.sock.sendall(bytes([IAC, WONT, option]))
                i += 3
            elif command == SB:
                end = data.find(bytes([IAC, SE]), i)
                if end == -1:
                    break
                if data[i + 2] == GMCP:
                    package, _, body = data[i + 3 : end].decode().partition(" ")
                    self.messages.append((package, json.loads(body) if body else None))
                i = end + 2
            elif command == IAC:
                self.text += b"\xff"
                i += 2
            else:
                i += 2
        self.buffer = data[i:]

    def close(self) -> None:
        self.sock.close()


def test_every_room_info_of_a_walk_is_a_room_of_map_xml(server: ServerProcess) -> None:
    """Room.Info's num, name, area, environment, coords and exits are those of /map.xml."""
    client = GmcpClient(server.ports["telnet"])
    try:
        client.pump(b"> ")
        client.send_gmcp("Core.Hello", {"client": "Mudlet", "version": "4.17.2"})
        client.send_gmcp("Core.Supports.Set", ["Char 1", "Room 1", "Client 1"])
        client.line("create Mapper secret")
        client.pump(b"Village Square")
        # Market, garden and back; the inn, its guest rooms and back; the bridge and on.
        walk = "n n s s e u d w s s".split()
        for step in walk:
            client.text = b""
            client.line(step)
            client.pump(b"> ")
    finally:
        client.close()
    infos = [data for package, data in client.messages if package == "Room.Info"]
    assert len({info["num"] for info in infos}) >= 6
    urls = [data for package, data in client.messages if package == "Client.Map"]
    port = server.ports["http"]
    assert urls and urls[0]["url"].endswith(f":{port}/map.xml")

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        conn.request("GET", "/map.xml")
        response = conn.getresponse()
        body = response.read()
        assert response.status == 200
        assert response.getheader("Content-Type") == "application/xml"
    finally:
        conn.close()
    xmlschema.XMLSchema(str(Path(XSD))).validate(body.decode())
    root = ET.fromstring(body)
    areas = {a.get("id"): a.get("name") for a in root.iter("area")}
    environments = {e.get("id"): e.get("name") for e in root.iter("environment")}
    rooms = {int(r.get("id")): r for r in root.iter("room")}
    for info in infos:
        room = rooms[info["num"]]
        coord = room.find("coord")
        assert coord is not None
        assert room.get("title") == info["name"]
        assert areas[room.get("area")] == info["area"]
        assert environments[room.get("environment")] == info["environment"]
        assert [int(coord.get(k, "")) for k in "xyz"] == info["coords"]
        exits = {e.get("direction"): int(e.get("target", "")) for e in room.iter("exit")}
        assert exits == info["exits"]
