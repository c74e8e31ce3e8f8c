"""TelnetProtocol, the adapter: hooks, batching, closing with MCCP2, over StringTransports."""

from __future__ import annotations

import logging
import zlib

from reality.net.defer import Failure
from reality.net.error import ConnectionDone
from reality.net.protocols.telnet import (
    CompressionEnded,
    Side,
    TelnetConfig,
    TelnetProtocol,
    TerminalType,
)
from reality.net.protocols.telnet.options import (
    DO,
    DONT,
    ECHO,
    GMCP,
    IAC,
    MCCP2,
    MSSP,
    NAWS,
    SB,
    SE,
    WILL,
)
from reality.net.protocols.telnet.qmethod import Q
from reality.net.testing import (
    Clock,
    StringTransport,
    StringTransportWithDisconnection,
    connected_pair,
    pump,
)

START = bytes([IAC, SB, MCCP2, IAC, SE])


class Recorder(TelnetProtocol):
    """Records every hook call."""

    def __init__(self, config: TelnetConfig | None = None) -> None:
        super().__init__(config, clock=Clock())
        self.calls: list[tuple] = []

    def line_received(self, text):
        self.calls.append(("line", text))

    def partial_line_received(self, text):
        self.calls.append(("partial", text))

    def prompt_received(self, text):
        self.calls.append(("prompt", text))

    def window_size_changed(self, width, height):
        self.calls.append(("naws", width, height))

    def terminal_type_received(self, terminal):
        self.calls.append(("ttype", terminal))

    def gmcp_received(self, package, data):
        self.calls.append(("gmcp", package, data))

    def mssp_received(self, variables):
        self.calls.append(("mssp", variables))

    def charset_agreed(self, name):
        self.calls.append(("charset", name))

    def interrupt_received(self):
        self.calls.append(("ip",))

    def event_received(self, event):
        self.calls.append(("event", event))


def connect(protocol: TelnetProtocol) -> StringTransportWithDisconnection:
    transport = StringTransportWithDisconnection()
    transport.protocol = protocol
    protocol.make_connection(transport)
    return transport


def test_connection_made_sends_the_offers():
    """On connect the server writes its WILL/DO offers at once."""
    protocol = Recorder()
    transport = connect(protocol)
    assert transport.value() == (
        bytes([IAC, WILL, 25, IAC, WILL, MSSP, IAC, WILL, GMCP, IAC, WILL, MCCP2])
        + bytes([IAC, DO, 24, IAC, DO, NAWS, IAC, DO, 42])
    )


def test_hooks_receive_events_and_replies_are_written():
    """Lines, NAWS and IP reach their hooks; negotiation answers reach the transport."""
    protocol = Recorder(TelnetConfig.server(offer_local=(), offer_remote=()))
    transport = connect(protocol)
    protocol.data_received(
        b"look\r\n" + bytes([IAC, WILL, NAWS, IAC, SB, NAWS, 0, 90, 0, 30, IAC, SE, IAC, 244])
    )
    assert protocol.calls[0] == ("line", "look")
    assert ("naws", 90, 30) in protocol.calls
    assert protocol.calls[-1] == ("ip",)
    assert transport.value() == bytes([IAC, DO, NAWS])


def test_output_from_hooks_is_written_in_one_piece():
    """What hooks send while events are handled goes out in one write, after them."""

    class Echoer(TelnetProtocol):
        def line_received(self, text):
            self.send_text(f"you said {text}\n")

    writes: list[bytes] = []
    transport = StringTransport()
    transport.write = writes.append  # type: ignore[method-assign]
    protocol = Echoer(TelnetConfig.server(offer_local=(), offer_remote=()))
    protocol.make_connection(transport)
    protocol.data_received(b"a\r\nb\r\n")
    assert writes == [b"you said a\r\nyou said b\r\n"]
    protocol.send_text("now\n")
    assert writes[-1] == b"now\r\n"


def test_a_failing_hook_loses_no_later_events(caplog):
    """An exception in one hook is logged; the events after it are still delivered."""

    class Fragile(Recorder):
        def line_received(self, text):
            if text == "boom":
                raise RuntimeError("boom")
            super().line_received(text)

    protocol = Fragile(TelnetConfig.server(offer_local=(), offer_remote=()))
    connect(protocol)
    with caplog.at_level(logging.ERROR):
        protocol.data_received(b"boom\r\nafter\r\n")
    assert protocol.calls == [("line", "after")]
    assert "boom" in caplog.text


def test_line_too_long_is_told_and_the_connection_lives():
    """The default hook tells the user about a dropped line; the next line works."""
    protocol = Recorder(TelnetConfig.server(offer_local=(), offer_remote=(), max_line=10))
    transport = connect(protocol)
    protocol.data_received(b"x" * 50 + b"\r\nok\r\n")
    assert transport.value() == b"Your line was 50 bytes long; the limit is 10. It was ignored.\r\n"
    assert protocol.calls == [("line", "ok")]
    assert not transport.disconnecting


def test_set_echo_writes_at_once():
    """set_echo(False) writes WILL ECHO at once; set_echo(True) after agreement WONT ECHO."""
    protocol = Recorder(TelnetConfig.server(offer_local=(), offer_remote=()))
    transport = connect(protocol)
    assert protocol.set_echo(False)
    assert transport.take() == bytes([IAC, WILL, ECHO])
    protocol.data_received(bytes([IAC, DO, ECHO]))
    assert protocol.codec.local_enabled(ECHO)
    protocol.set_echo(True)
    assert transport.take() == bytes([IAC, 252, ECHO])


def test_mssp_requested_sends_the_variables():
    """The default mssp_requested hook sends mssp_variables()."""

    class Listed(TelnetProtocol):
        def mssp_variables(self):
            return {"NAME": "Reality", "PLAYERS": 2}

    protocol = Listed(TelnetConfig.server(offer_local=(MSSP,), offer_remote=()))
    transport = connect(protocol)
    transport.clear()
    protocol.data_received(bytes([IAC, DO, MSSP]))
    body = b"\x01NAME\x02Reality\x01PLAYERS\x022"
    assert transport.value() == bytes([IAC, SB, MSSP]) + body + bytes([IAC, SE])


def test_close_ends_the_mccp2_stream_before_closing():
    """close(message): the message, then Z_FINISH, then lose_connection."""
    protocol = Recorder(TelnetConfig.server(offer_local=(MCCP2,), offer_remote=()))
    transport = connect(protocol)
    transport.clear()
    protocol.data_received(bytes([IAC, DO, MCCP2]))
    protocol.send_text("hello\n")
    protocol.close("Goodbye.")
    wire = transport.value()
    assert wire.startswith(START)
    inflater = zlib.decompressobj()
    assert inflater.decompress(wire[len(START) :]) == b"hello\r\nGoodbye.\r\n"
    assert inflater.eof
    assert transport.disconnecting


def test_connection_lost_finishes_a_stream_on_an_open_transport():
    """If the connection is reported lost while the transport can still write, the
    compressed stream is ended so nothing sent is left inside the compressor."""
    protocol = Recorder(TelnetConfig.server(offer_local=(MCCP2,), offer_remote=()))
    transport = StringTransport()
    transport.disconnected = False  # type: ignore[attr-defined]
    protocol.make_connection(transport)
    protocol.data_received(bytes([IAC, DO, MCCP2]))
    protocol.send_text("bye\n")
    protocol.connection_lost(Failure(ConnectionDone()))
    wire = transport.value()
    inflater = zlib.decompressobj()
    assert inflater.decompress(wire[wire.index(START) + len(START) :]) == b"bye\r\n"
    assert inflater.eof
    assert not protocol.codec.compressing


def test_client_refusing_mccp2_gets_plain_output():
    """DONT MCCP2: output stays plain and close() still works."""
    protocol = Recorder(TelnetConfig.server(offer_local=(MCCP2,), offer_remote=()))
    transport = connect(protocol)
    transport.clear()
    protocol.data_received(bytes([IAC, DONT, MCCP2]))
    protocol.send_text("plain\n")
    protocol.close()
    assert transport.value() == b"plain\r\n"


def test_protocol_error_closes_with_the_reason():
    """A corrupt MCCP2 stream (client role) closes the connection with a message."""
    protocol = Recorder(TelnetConfig.client())
    transport = connect(protocol)
    protocol.data_received(bytes([IAC, WILL, MCCP2]) + START + b"garbage that is not zlib")
    assert transport.disconnecting
    assert b"Closing the connection: corrupt compressed stream" in transport.value()


def test_server_and_client_protocols_talk():
    """Our server and client adapters: TTYPE/MTTS, NAWS, CHARSET, GMCP both ways, MCCP2,
    prompts, and a clean close the client sees as the end of the stream."""
    srv = Recorder()
    cli = Recorder(TelnetConfig.client(client_name="TESTCLIENT", window_size=(132, 43)))
    srv_t, cli_t = connected_pair(srv, cli)
    pump(srv, srv_t, cli, cli_t)
    assert ("naws", 132, 43) in srv.calls
    assert ("charset", "UTF-8") in srv.calls and ("charset", "UTF-8") in cli.calls
    (terminal,) = [c[1] for c in srv.calls if c[0] == "ttype"]
    assert isinstance(terminal, TerminalType) and terminal.client == "TESTCLIENT"
    assert srv.codec.compressing and cli.codec.decompressing
    assert cli.send_gmcp("Core.Hello", {"client": "TESTCLIENT"})
    cli.send_text("look\n")
    srv.send_gmcp("Room.Info", {"num": 1})
    srv.send_prompt("HP 10> ")
    cli.set_window_size(100, 20)
    pump(srv, srv_t, cli, cli_t)
    assert ("gmcp", "Core.Hello", {"client": "TESTCLIENT"}) in srv.calls
    assert srv.calls[-2:] == [("line", "look"), ("naws", 100, 20)]
    assert ("gmcp", "Room.Info", {"num": 1}) in cli.calls
    assert cli.calls[-1] == ("prompt", "HP 10> ")
    srv.send_text("Bye!\n")
    srv.close()
    cli.data_received(srv_t.take())
    assert cli.calls[-2:] == [("line", "Bye!"), ("event", CompressionEnded())]
    assert not cli.codec.decompressing
    # The option stays agreed; only this stream ended, with the connection.
    assert srv.codec.option_state(Side.LOCAL, MCCP2) == (Q.YES, False)
