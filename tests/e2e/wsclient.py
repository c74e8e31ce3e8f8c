"""A player over WebSocket for end-to-end tests: the ``websockets`` library's client
with the engine's telnet codec in the client role on top (telnet.mudstandards.org).

    player = WSPlayer(server.ports["http"])
    player.command("create bob secret99")   # output up to the next prompt
"""

from __future__ import annotations

import re
import socket
import time
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect
from websockets.typing import Subprotocol

from reality.net.protocols.telnet import (
    GmcpMessage,
    PartialLine,
    Prompt,
    TelnetCodec,
    TelnetConfig,
    TextLine,
)
from reality.net.protocols.telnet.options import MCCP2

ANSI = re.compile(r"\x1b\[[0-9;]*m")
TELNET = "telnet.mudstandards.org"


def ws_url(port: int) -> str:
    return f"ws://127.0.0.1:{port}/ws"


class WSPlayer:
    """One player over ``/ws``, speaking telnet in binary messages (as /play does)."""

    def __init__(
        self, port: int, timeout: float = 10.0, origin: str | None = None,
        subprotocols: tuple[str, ...] | None = (TELNET,), source: str | None = None,
        **options: Any,
    ) -> None:
        self.timeout = timeout
        if source is not None:  # connect from another loopback address (bans)
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            sock.bind((source, 0))
            sock.connect(("127.0.0.1", port))
            options["sock"] = sock
        self.ws = connect(
            ws_url(port),
            origin=origin,  # type: ignore[arg-type]
            subprotocols=None if subprotocols is None else [Subprotocol(p) for p in subprotocols],
            open_timeout=timeout, close_timeout=timeout, **options,
        ).__enter__()  # a connection used outside a with block
        config = TelnetConfig.client(remote_options=TelnetConfig.client().remote_options - {MCCP2})
        self.codec = TelnetCodec(config)
        self.raw = bytearray()
        self.text = ""
        self.gmcp: list[GmcpMessage] = []
        self.prompts = 0
        self.read_prompt()  # the banner

    def _pump(self, deadline: float) -> bool:
        """Read one message (False when the time is up or the socket closed)."""
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        try:
            message = self.ws.recv(timeout=left)
        except TimeoutError:
            return False
        assert isinstance(message, bytes), f"a text message in telnet mode: {message!r}"
        self.raw += message
        for event in self.codec.receive(message):
            if isinstance(event, TextLine):
                self.text += event.text + "\n"
            elif isinstance(event, PartialLine):
                self.text += event.text
            elif isinstance(event, Prompt):
                self.text += event.text
                self.prompts += 1
            elif isinstance(event, GmcpMessage):
                self.gmcp.append(event)
        reply = self.codec.data_to_send()
        if reply:
            self.ws.send(reply)
        return True

    def read_prompt(self) -> str:
        """Everything up to the next prompt (GA/EOR-marked), colour stripped."""
        deadline = time.monotonic() + self.timeout
        seen = self.prompts
        while self.prompts == seen:
            if not self._pump(deadline):
                raise AssertionError(f"no prompt within {self.timeout} s; got {self.text[-500:]!r}")
        text, self.text = self.text, ""
        return ANSI.sub("", text)

    def command(self, line: str) -> str:
        self.codec.send_text(line + "\r\n")
        self.ws.send(self.codec.data_to_send())
        return self.read_prompt()

    def expect(self, text: str, timeout: float | None = None) -> str:
        deadline = time.monotonic() + (timeout or self.timeout)
        while text not in ANSI.sub("", self.text):
            if not self._pump(deadline):
                raise AssertionError(f"{text!r} did not arrive; got {self.text[-500:]!r}")
        found, self.text = ANSI.sub("", self.text), ""
        return found

    def gmcp_named(self, package: str, timeout: float | None = None) -> Any:
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            for message in self.gmcp:
                if message.package == package:
                    return message.data
            if not self._pump(deadline):
                raise AssertionError(f"no GMCP {package}; got {[m.package for m in self.gmcp]}")

    def closed_with(self, timeout: float | None = None) -> str:
        """Read until the server closes the WebSocket; what arrived, colour stripped."""
        deadline = time.monotonic() + (timeout or self.timeout)
        try:
            while self._pump(deadline):
                pass
        except ConnectionClosed:
            return ANSI.sub("", self.text)
        raise AssertionError(f"still open after {timeout or self.timeout} s: {self.text[-300:]!r}")

    def close(self) -> None:
        self.ws.close()
