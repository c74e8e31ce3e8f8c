"""A raw-socket telnet client for the upgrade tests and benchmark: it negotiates like a MUD client.

It answers ``DO NAWS`` with its window size, ``DO TTYPE`` with a terminal
name (``XTERM-256COLOR``: colour), refuses the rest, and keeps the text
it reads (colour codes included) so tests can look for both.
"""

from __future__ import annotations

import socket
import time
import zlib

IAC, DONT, DO, WONT, WILL, SB, SE = 255, 254, 253, 252, 251, 250, 240
TTYPE, NAWS, MCCP2 = 24, 31, 86


class RawTelnet:
    """One connection; :meth:`expect` reads until a text arrives (bounded)."""

    def __init__(self, port: int, *, width: int = 132, height: int = 40,
                 ttype: str = "XTERM-256COLOR", timeout: float = 10.0,
                 mccp: bool = False) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.width, self.height, self.ttype = width, height, ttype.encode()
        self.timeout = timeout
        self.text = bytearray()
        self._pending = b""
        #: With ``mccp``: accept MCCP2; count the compressed streams started and ended.
        self.mccp = mccp
        self._inflater: zlib._Decompress | None = None
        self.streams_started = 0
        self.streams_ended = 0

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def line(self, text: str) -> None:
        self.send(text.encode() + b"\r\n")

    def _answer(self, verb: int, option: int) -> None:
        if verb == DO and option == NAWS:
            w, h = self.width, self.height
            self.send(bytes([IAC, WILL, NAWS, IAC, SB, NAWS, w >> 8, w & 255, h >> 8, h & 255,
                             IAC, SE]))
        elif verb == DO and option == TTYPE:
            self.send(bytes([IAC, WILL, TTYPE]))
        elif verb == DO:
            self.send(bytes([IAC, WONT, option]))
        elif verb == WILL and option == MCCP2 and self.mccp:
            self.send(bytes([IAC, DO, MCCP2]))
        elif verb == WILL:
            self.send(bytes([IAC, DONT, option]))

    def _feed(self, data: bytes) -> None:
        if self._inflater is not None:
            inflater = self._inflater
            plain = inflater.decompress(data)
            if inflater.eof:
                # The stream ended cleanly (Z_FINISH): what follows is plain.
                self._inflater = None
                self.streams_ended += 1
                self._feed_plain(plain)
                self._feed(inflater.unused_data)
                return
            data = plain
        self._feed_plain(data)

    def _feed_plain(self, data: bytes) -> None:
        data = self._pending + data
        self._pending = b""
        i, n = 0, len(data)
        while i < n:
            b = data[i]
            if b != IAC:
                j = data.find(bytes([IAC]), i)
                j = n if j < 0 else j
                self.text += data[i:j]
                i = j
                continue
            if i + 1 >= n:
                self._pending = data[i:]
                return
            verb = data[i + 1]
            if verb == IAC:
                self.text.append(IAC)
                i += 2
            elif verb in (DO, DONT, WILL, WONT):
                if i + 2 >= n:
                    self._pending = data[i:]
                    return
                self._answer(verb, data[i + 2])
                i += 3
            elif verb == SB:
                end = data.find(bytes([IAC, SE]), i)
                if end < 0:
                    self._pending = data[i:]
                    return
                payload = data[i + 2:end]
                if payload[:2] == bytes([TTYPE, 1]):
                    self.send(bytes([IAC, SB, TTYPE, 0]) + self.ttype + bytes([IAC, SE]))
                i = end + 2
                if payload[:1] == bytes([MCCP2]):
                    # Everything after IAC SB MCCP2 IAC SE is a zlib stream.
                    self.streams_started += 1
                    self._inflater = zlib.decompressobj()
                    self._feed(data[i:])
                    return
            else:
                i += 2

    def expect(self, text: str, timeout: float | None = None) -> str:
        """Read until ``text`` is in what arrived; return everything up to it (and forget it)."""
        wanted = text.encode()
        deadline = time.monotonic() + (timeout or self.timeout)
        while wanted not in self.text:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{text!r} did not arrive; got {bytes(self.text[-400:])!r}")
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            if not data:
                raise AssertionError(f"closed before {text!r}; got {bytes(self.text[-400:])!r}")
            self._feed(data)
        cut = self.text.index(wanted) + len(wanted)
        got = bytes(self.text[:cut]).decode("utf-8", "replace")
        del self.text[:cut]
        return got

    def drain(self, seconds: float = 0.3) -> str:
        """Read for ``seconds`` and forget it all (a prompt sent again, others' comings)."""
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                break
            if not data:
                break
            self._feed(data)
        got = bytes(self.text).decode("utf-8", "replace")
        self.text.clear()
        return got

    def command(self, line: str, until: str = "\n> ") -> str:
        self.line(line)
        return self.expect(until)

    def close(self) -> None:
        self.sock.close()
