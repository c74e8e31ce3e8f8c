"""A telnet codec's state carried to another process (a code upgrade): export, JSON, restore."""

from __future__ import annotations

import json
import zlib

from reality.net.protocols.telnet import TelnetCodec, TelnetConfig
from reality.net.protocols.telnet.events import TextLine
from reality.net.protocols.telnet.options import (
    DO,
    IAC,
    MCCP2,
    NAWS,
    SB,
    SE,
    TTYPE,
    WILL,
)


def negotiated() -> TelnetCodec:
    codec = TelnetCodec(TelnetConfig.server())
    codec.start()
    codec.data_to_send()
    codec.receive(bytes([IAC, WILL, NAWS, IAC, SB, NAWS, 0, 132, 0, 40, IAC, SE]))
    codec.receive(bytes([IAC, WILL, TTYPE]))
    codec.receive(bytes([IAC, SB, TTYPE, 0]) + b"XTERM-256COLOR" + bytes([IAC, SE]))
    codec.receive(bytes([IAC, SB, TTYPE, 0]) + b"XTERM-256COLOR" + bytes([IAC, SE]))
    codec.receive(bytes([IAC, DO, MCCP2]))
    codec.receive(b"say half")
    return codec


def test_state_survives_json_and_carries_options_size_terminal_and_half_a_line() -> None:
    old = negotiated()
    assert old.compressing and old.window_size == (132, 40)
    state = json.loads(json.dumps(old.export_state()))
    new = TelnetCodec(TelnetConfig.server())
    new.restore_state(state)
    assert new.remote_enabled(NAWS) and new.remote_enabled(TTYPE) and new.local_enabled(MCCP2)
    assert new.window_size == (132, 40)
    assert new.terminal_type is not None and "XTERM-256COLOR" in new.terminal_type.names
    events = new.receive(b"way there\r\n")
    assert TextLine("say halfway there") in events


def test_mccp2_ends_cleanly_and_restarts_as_the_rules_allow() -> None:
    old = negotiated()
    old.data_to_send()
    state = old.export_state()
    old.end_compression()
    tail = old.data_to_send()
    inflater = zlib.decompressobj()
    inflater.decompress(tail)
    new = TelnetCodec(TelnetConfig.server())
    new.restore_state(state)
    new.send_text("hello\n")
    out = new.data_to_send()
    start = bytes([IAC, SB, MCCP2, IAC, SE])
    assert out.startswith(start)  # a new stream, announced as at the start
    assert zlib.decompressobj().decompress(out[len(start):]) == b"hello\r\n"
    # Nothing is negotiated again.
    assert bytes([IAC, WILL]) not in out[:len(start)]
