"""Real clients nobody here wrote, against TelnetProtocol on a real reactor (127.0.0.1).

The server runs on the test's SelectReactor; each client runs in a child
process (telnetlib3 is asyncio-based, TinTin++ is a C program), so nothing
but the engine runs in the test process. Every wait is bounded.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from reality.net.defer import Deferred
from reality.net.protocol import Factory
from reality.net.protocols.telnet import (
    Side,
    TelnetProtocol,
    TerminalType,
)
from reality.net.protocols.telnet.options import GMCP, MCCP2, MSSP, Mtts
from reality.net.testing import wait_for


class RecordingServer(TelnetProtocol):
    """Answers each line, closes on "quit", and records what the client negotiated."""

    def connection_made(self) -> None:
        self.seen: list[tuple[Any, ...]] = []
        self.compressed = False
        super().connection_made()

    def line_received(self, text: str) -> None:
        self.seen.append(("line", text))
        self.send_text(f"You said: {text}\n")
        self.send_prompt("> ")
        if text == "quit":
            self.close("Bye.")

    def option_changed(self, option: int, side: Side, enabled: bool) -> None:
        self.seen.append(("option", option, side, enabled))
        if option == MCCP2 and side is Side.LOCAL and enabled:
            self.compressed = self.codec.compressing

    def window_size_changed(self, width: int, height: int) -> None:
        self.seen.append(("naws", width, height))

    def terminal_type_received(self, terminal: TerminalType) -> None:
        self.seen.append(("ttype", terminal))

    def charset_agreed(self, name: str) -> None:
        self.seen.append(("charset", name))

    def gmcp_received(self, package: str, data: Any) -> None:
        self.seen.append(("gmcp", package, data))

    def mssp_variables(self) -> dict[str, Any]:
        return {"NAME": "Reality test", "PLAYERS": 0, "UPTIME": 1700000000}

    def connection_lost(self, reason: Any) -> None:
        super().connection_lost(reason)
        if not self.factory.done.called:
            self.factory.done.callback(self)


class RecordingFactory(Factory):
    protocol = RecordingServer

    def __init__(self, reactor: Any) -> None:
        self.done: Deferred[RecordingServer] = Deferred()
        self.reactor = reactor

    def build_protocol(self, addr: Any) -> RecordingServer:
        protocol = RecordingServer(clock=self.reactor)
        protocol.factory = self
        return protocol


def serve_one(
    reactor: Any,
    argv: list[str],
    tmp_path: Path,
    env: dict[str, str] | None = None,
    files: dict[str, str] | None = None,
    timeout: float = 25.0,
) -> tuple[RecordingServer, str]:
    """Listen, start the client process, run until the connection ends; return both sides.

    ``{port}`` in ``argv`` and in the ``files`` written to ``tmp_path`` becomes the port.
    """
    factory = RecordingFactory(reactor)
    port = reactor.listen_tcp(0, factory, interface="127.0.0.1")
    number = port.get_host().port
    for name, content in (files or {}).items():
        (tmp_path / name).write_text(content.replace("{port}", str(number)))
    out_path = tmp_path / "client.out"
    with out_path.open("wb") as out:
        proc = subprocess.Popen(
            [arg.replace("{port}", str(number)) for arg in argv],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
            env=env,
        )
        try:
            server = wait_for(reactor, factory.done, timeout=timeout)
            proc.wait(timeout=15)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=5)
            port.stop_listening()
    return server, out_path.read_text("utf-8", "replace")


TELNETLIB3_CLIENT = textwrap.dedent(
    """
    import asyncio, sys
    import telnetlib3

    async def main(port, compression):
        reader, writer = await telnetlib3.open_connection(
            "127.0.0.1", port, cols=100, rows=40, term="xterm-256color",
            encoding="utf8", connect_minwait=0.5, connect_maxwait=5.0,
            compression=compression)
        seen = ""
        writer.write("hello\\r\\n")
        while "You said: hello" not in seen:
            chunk = await reader.read(4096)
            if not chunk:
                break
            seen += chunk
        writer.write("quit\\r\\n")
        while True:
            chunk = await reader.read(4096)
            if not chunk:
                break
            seen += chunk
        print("RECEIVED", repr(seen))

    compression = {"on": True, "off": False}[sys.argv[2]]
    asyncio.run(asyncio.wait_for(main(int(sys.argv[1]), compression), 20))
    """
)


@pytest.mark.parametrize("compression", ["on", "off"])
def test_telnetlib3_negotiates_naws_ttype_charset(reactor, tmp_path, compression):
    """telnetlib3 agrees to NAWS, TTYPE and CHARSET; its text arrives as lines; our output
    reaches it whole whether it accepts MCCP2 or refuses it."""
    script = tmp_path / "client.py"
    script.write_text(TELNETLIB3_CLIENT)
    server, output = serve_one(
        reactor, [sys.executable, str(script), "{port}", compression], tmp_path
    )
    seen = server.seen
    assert ("naws", 100, 40) in seen, output
    (terminal,) = [s[1] for s in seen if s[0] == "ttype"]
    assert terminal.terminal.lower() == "xterm-256color"
    assert ("charset", "UTF-8") in seen
    assert [s[1] for s in seen if s[0] == "line"] == ["hello", "quit"]
    assert "RECEIVED 'You said: hello\\r\\n> You said: quit\\r\\n> Bye.\\r\\n'" in output
    if compression == "off":
        assert not server.compressed
        assert ("option", MCCP2, Side.LOCAL, True) not in seen
    else:
        # telnetlib3 decoded our MCCP2 stream, and the close ended it cleanly.
        assert server.compressed
        assert not server.codec.compressing
    if server.codec.local_enabled(GMCP):
        assert any(s[:2] == ("gmcp", "Core.Hello") for s in seen)


def find_tintin() -> str | None:
    found = shutil.which("tt++")
    if found is None and os.access("/usr/games/tt++", os.X_OK):
        found = "/usr/games/tt++"
    return found


TINTIN_SCRIPT = """\
#config {DEBUG TELNET} on
#delay 15 {#end}
#event {SESSION DISCONNECTED} {#gts #end}
#session s 127.0.0.1 {port}
#delay 1 {#send hello there;#send quit}
"""


def test_tintin_negotiates_everything_and_inflates_mccp2(reactor, tmp_path):
    """TinTin++ from a script: TTYPE with MTTS, NAWS, CHARSET, MSSP, MCCP2 (it shows our
    compressed text and the clean end of the stream), and it refuses GMCP."""
    tintin = find_tintin()
    if tintin is None:
        pytest.skip("TinTin++ (tt++) is not installed")
    env = {"PATH": os.environ.get("PATH", ""), "TERM": "xterm", "HOME": str(tmp_path)}
    server, output = serve_one(
        reactor,
        [tintin, "-G", "-H", "script.tin"],
        tmp_path,
        env=env,
        files={"script.tin": TINTIN_SCRIPT},
    )
    seen = server.seen
    (terminal,) = [s[1] for s in seen if s[0] == "ttype"]
    assert terminal.client == "TINTIN++"
    assert terminal.mtts is not None and Mtts.ANSI in terminal.mtts
    assert ("naws", 80, 24) in seen
    assert ("charset", "UTF-8") in seen
    assert [s[1] for s in seen if s[0] == "line"] == ["hello there", "quit"]
    assert server.compressed
    assert not server.codec.remote_enabled(GMCP) and not server.codec.local_enabled(GMCP)
    assert server.codec.local_enabled(MSSP)
    # What TinTin itself printed about the negotiation and our text.
    for expected in (
        "SENT IAC DONT GMCP",
        "SENT IAC DO MCCP2",
        "MCCP2 INITIALIZED",
        "SENT IAC SB CHARSET ACCEPTED UTF-8",
        "VAL Reality test",
        "You said: hello there",
        "COMPRESSION END",
        "Bye.",
    ):
        assert expected in output, output
