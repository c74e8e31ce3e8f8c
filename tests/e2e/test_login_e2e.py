"""End to end: saved settings shape the very first lines after a login, over a real socket.

The client here answers TTYPE as a 256-colour xterm, as TinTin++ or Mudlet
would, so colour is what the server would send unless the player's saved
``set color off`` says otherwise.
"""

from __future__ import annotations

import re
import socket
import time

from serverproc import ServerProcess

IAC, DONT, DO, WONT, WILL, SB, SE = 255, 254, 253, 252, 251, 250, 240
TTYPE = 24
ESC = "\x1b["


class ColourClient:
    """A raw telnet client that says it is an XTERM-256COLOR and refuses everything else."""

    def __init__(self, port: int, timeout: float = 10.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.timeout = timeout
        self.text = bytearray()
        self._pending = b""

    def send(self, line: str) -> None:
        self.sock.sendall(line.encode() + b"\r\n")

    def _feed(self, data: bytes) -> None:
        data = self._pending + data
        self._pending = b""
        i = 0
        while i < len(data):
            byte = data[i]
            if byte != IAC:
                self.text.append(byte)
                i += 1
                continue
            if i + 1 >= len(data):
                self._pending = data[i:]
                return
            command = data[i + 1]
            if command == IAC:
                self.text.append(IAC)
                i += 2
            elif command in (DO, DONT, WILL, WONT):
                if i + 2 >= len(data):
                    self._pending = data[i:]
                    return
                option = data[i + 2]
                if command == DO:
                    answer = WILL if option == TTYPE else WONT
                    self.sock.sendall(bytes([IAC, answer, option]))
                elif command == WILL:
                    self.sock.sendall(bytes([IAC, DONT, option]))
                i += 3
            elif command == SB:
                end = data.find(bytes([IAC, SE]), i)
                if end < 0:
                    self._pending = data[i:]
                    return
                if data[i + 2:i + 4] == bytes([TTYPE, 1]):  # SEND
                    self.sock.sendall(
                        bytes([IAC, SB, TTYPE, 0]) + b"XTERM-256COLOR" + bytes([IAC, SE])
                    )
                i = end + 2
            else:
                i += 2

    def read_until(self, wanted: str) -> str:
        """Everything received (telnet commands removed, colour kept) once ``wanted`` is in it."""
        deadline = time.monotonic() + self.timeout
        while wanted not in self.text.decode("utf-8", "replace"):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{wanted!r} did not arrive; got {bytes(self.text)[-500:]!r}")
            self.sock.settimeout(remaining)
            data = self.sock.recv(65536)
            if not data:
                raise AssertionError(f"closed before {wanted!r}; got {bytes(self.text)[-500:]!r}")
            self._feed(data)
        return self.text.decode("utf-8", "replace")

    def take(self, wanted: str) -> str:
        seen = self.read_until(wanted)
        self.text.clear()
        return seen

    def close(self) -> None:
        self.sock.close()


def test_saved_colour_and_width_apply_to_the_first_room_and_mail_line(tmp_path):
    """set color off + set width 40, quit, reconnect: no ANSI and nothing wider than 40."""
    with ServerProcess(tmp_path) as server:
        port = server.ports["telnet"]
        alice = ColourClient(port)
        alice.take("> ")
        alice.send("create Alice secret12")
        first = alice.take("Exits")
        assert ESC in first, "the client gets colour while nothing says otherwise"
        alice.send("set color off")
        alice.take("color is now off")
        alice.send("set width 40")
        alice.take("width is now 40")
        alice.send("quit")
        alice.take("Goodbye")
        alice.close()

        bob = server.telnet()
        bob.command("create Bob secret12")
        assert "You send a letter to Alice" in bob.command("mail send alice Hello = Hi.")
        bob.close()

        alice = ColourClient(port)
        alice.take("> ")
        alice.send("connect Alice secret12")
        alice.read_until("unread")
        seen = alice.read_until("\n> ")
        login = seen[seen.index("The Hall"):]
        assert ESC not in login, repr(login)
        lines = [line for line in re.split(r"\r?\n", login) if line]
        assert max(len(line) for line in lines) <= 40, lines
        assert "You have 1 unread letter." in " ".join(lines)
        alice.close()
