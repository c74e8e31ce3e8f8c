"""The telnet codec: byte-exact transcripts for text, commands, every option, and limits."""

from __future__ import annotations

import logging
import zlib

import pytest

from reality.net.protocols.telnet import (
    AbortOutput,
    Break,
    CharsetAgreed,
    CharsetRejected,
    CompressionEnded,
    CompressionStarted,
    GmcpMessage,
    Interrupt,
    LineTooLong,
    MsspData,
    MsspRequested,
    NegotiationFlood,
    OptionChanged,
    PartialLine,
    Prompt,
    ProtocolError,
    Side,
    Subnegotiation,
    SubnegotiationTooLong,
    TelnetCodec,
    TelnetConfig,
    TerminalType,
    TextLine,
    WindowSize,
)
from reality.net.protocols.telnet.options import (
    AO,
    AYT,
    BRK,
    CHARSET,
    DM,
    DO,
    DONT,
    EC,
    ECHO,
    EL,
    EOR,
    EOR_CMD,
    GA,
    GMCP,
    IAC,
    IP,
    LINEMODE,
    MCCP2,
    MSSP,
    NAWS,
    NOP,
    SB,
    SE,
    SGA,
    TTYPE,
    WILL,
    WONT,
    Mtts,
)
from reality.net.protocols.telnet.qmethod import Q


def b(*codes: int) -> bytes:
    """Bytes from numbers: ``b(IAC, WILL, ECHO)``."""
    return bytes(codes)


def sb(option: int, payload: bytes) -> bytes:
    """A subnegotiation as it appears on the wire (payload already escaped)."""
    return b(IAC, SB, option) + payload + b(IAC, SE)


def server(**changes: object) -> TelnetCodec:
    """A server codec with no offers (unless given) and a clock that never moves."""
    changes.setdefault("offer_local", ())
    changes.setdefault("offer_remote", ())
    return TelnetCodec(TelnetConfig.server(**changes), clock=lambda: 0.0)


def client(**changes: object) -> TelnetCodec:
    """A client codec with a clock that never moves."""
    return TelnetCodec(TelnetConfig.client(**changes), clock=lambda: 0.0)


def lines(events: list[object]) -> list[str]:
    return [e.text for e in events if isinstance(e, TextLine)]


def without_option_changes(events: list[object]) -> list[object]:
    return [e for e in events if not isinstance(e, OptionChanged)]


# -- text (RFC 854 NVT) -----------------------------------------------------------


def test_every_line_ending_ends_a_line_once():
    """CR LF, CR NUL, bare LF and bare CR each end exactly one line; NUL is dropped."""
    codec = server()
    events = codec.receive(b"one\r\ntwo\r\0three\nfour\rfive\r\n\r\nsi\0x\r\n")
    assert lines(events) == ["one", "two", "three", "four", "five", "", "six"]


def test_cr_lf_split_across_reads_is_one_line_ending():
    """A CR at the end of one read and LF (or NUL) at the start of the next make one ending."""
    codec = server()
    assert lines(codec.receive(b"look\r")) == ["look"]
    assert lines(codec.receive(b"\nnorth\r")) == ["north"]
    assert codec.receive(b"\0") == []
    assert lines(codec.receive(b"\r\n")) == [""]


def test_text_without_line_ending_waits_for_it():
    """A partial line is held (server role) until its line ending arrives."""
    codec = server()
    assert codec.receive(b"hel") == []
    assert codec.receive(b"lo") == []
    assert codec.receive(b"\r\n") == [TextLine("hello")]


def test_utf8_split_across_reads_and_invalid_bytes():
    """UTF-8 split anywhere decodes whole; invalid bytes become U+FFFD, never an exception."""
    codec = server()
    data = "héllo wörld ☃\r\n".encode()
    events = []
    for i in range(len(data)):
        events += codec.receive(data[i : i + 1])
    assert lines(events) == ["héllo wörld ☃"]
    assert lines(codec.receive(b"bad \xc3\x28 \xff\xff end\r\n")) == ["bad \ufffd( \ufffd end"]


def test_iac_iac_is_a_data_byte():
    """IAC IAC in input is one 0xFF data byte (here invalid UTF-8, so U+FFFD)."""
    codec = server()
    assert lines(codec.receive(b"a\xff\xffb\r\n")) == ["a\ufffdb"]
    assert codec.data_to_send() == b""


def test_backspace_and_delete_edit_the_line():
    """BS and DEL erase the character before them, across reads; extra ones do nothing."""
    codec = server()
    events = codec.receive("helo\x08lo wö\x7förld\r\n\x08\x08x\r\n".encode())
    assert lines(events) == ["hello wörld", "x"]
    codec.receive(b"abc\x08")
    assert lines(codec.receive(b"\x08d\r\n")) == ["ad"]


def test_erase_character_and_erase_line_commands():
    """IAC EC erases the last character typed; IAC EL erases the whole line so far."""
    codec = server()
    events = codec.receive(b"lookk" + b(IAC, EC) + b"\r\n" + b"junk" + b(IAC, EL) + b"say hi\r\n")
    assert lines(events) == ["look", "say hi"]


def test_send_text_converts_line_endings():
    """Output "\\n" becomes CR LF, an existing CR LF stays, a lone CR becomes CR NUL."""
    codec = server()
    codec.send_text("one\ntwo\r\nthree\rfour ☃\n")
    assert codec.data_to_send() == b"one\r\ntwo\r\nthree\r\0four \xe2\x98\x83\r\n"
    assert codec.data_to_send() == b""


def test_send_bytes_doubles_iac():
    """Raw data bytes go out with IAC doubled (RFC 854)."""
    codec = server()
    codec.send_bytes(b"a\xffb\xff\xff")
    assert codec.data_to_send() == b"a\xff\xffb\xff\xff\xff\xff"


def test_send_text_never_raises_on_lone_surrogates():
    """Text that cannot be encoded is replaced, not raised."""
    codec = server()
    codec.send_text("a\udcffb\n")
    assert codec.data_to_send() == b"a?b\r\n"


# -- commands ----------------------------------------------------------------------


def test_are_you_there_is_answered():
    """IAC AYT gets a visible answer; the line being typed is untouched."""
    codec = server()
    assert codec.receive(b"lo" + b(IAC, AYT) + b"ok\r\n") == [TextLine("look")]
    assert codec.data_to_send() == b"\r\n[Yes]\r\n"


def test_interrupt_break_and_abort_output_are_events_in_order():
    """IP, BRK and AO surface as events, after the lines that came before them."""
    codec = server()
    events = codec.receive(b"a\r\n" + b(IAC, IP) + b"b\r\n" + b(IAC, BRK, IAC, AO))
    assert events == [TextLine("a"), Interrupt(), TextLine("b"), Break(), AbortOutput()]


def test_nop_dm_and_unknown_commands_are_ignored():
    """NOP, DM, a stray SE and unassigned command codes change nothing."""
    codec = server()
    events = codec.receive(b"x" + b(IAC, NOP, IAC, DM, IAC, SE, IAC, 200, IAC, 236) + b"y\r\n")
    assert events == [TextLine("xy")]
    assert codec.data_to_send() == b""


def test_go_ahead_and_end_of_record_mark_prompts():
    """GA and EOR deliver the unfinished line as a Prompt (what a client shows as prompt)."""
    codec = client()
    events = codec.receive(b"You see a door.\r\nHP:10> " + b(IAC, GA) + b"Name? " + b(IAC, EOR_CMD))
    assert events == [TextLine("You see a door."), Prompt("HP:10> "), Prompt("Name? ")]


# -- limits ------------------------------------------------------------------------


def test_line_at_the_limit_is_kept_and_longer_is_dropped_with_notice():
    """A line of max_line bytes is delivered; a longer one gives LineTooLong and the next works."""
    codec = server(max_line=16)
    assert codec.receive(b"x" * 16 + b"\r\n") == [TextLine("x" * 16)]
    events = []
    for _ in range(10):
        events += codec.receive(b"y" * 7)
    events += codec.receive(b"\r\nlook\r\n")
    assert events == [LineTooLong(70, 16), TextLine("look")]


def test_overlong_line_inside_one_read_is_dropped():
    """The fast path (many lines in one read) applies the same limit per line."""
    codec = server(max_line=8)
    events = codec.receive(b"a\r\n" + b"z" * 20 + b"\r\nbb\r\ncc\r\n")
    assert events == [TextLine("a"), LineTooLong(20, 8), TextLine("bb"), TextLine("cc")]


def test_default_line_limit_is_4_kib():
    """The server default: 4096 bytes per line."""
    codec = server()
    assert codec.receive(b"a" * 4096 + b"\n") == [TextLine("a" * 4096)]
    assert codec.receive(b"a" * 4097 + b"\n") == [LineTooLong(4097, 4096)]


def test_subnegotiation_without_end_is_bounded_and_discarded(caplog):
    """An SB longer than the limit is discarded (logged, one event); the connection goes on."""
    codec = server(max_subnegotiation=64)
    caplog.set_level(logging.WARNING)
    events = codec.receive(b"hi\r\n" + b(IAC, SB, GMCP) + b"x" * 50)
    events += codec.receive(b"y" * 50)
    events += codec.receive(b"z" * 5000)
    assert events == [TextLine("hi"), SubnegotiationTooLong(GMCP, 64)]
    assert len(codec._sb_buf) == 0
    assert "longer than 64 bytes" in caplog.text
    events = codec.receive(b(IAC, SE) + b"look\r\n")
    assert events == [TextLine("look")]


def test_default_subnegotiation_limit_is_8_kib():
    """The server default keeps 8192 bytes of a subnegotiation and no more."""
    codec = server(offer_local=(GMCP,))
    codec.receive(b(IAC, DO, GMCP))
    body = b'Core.Hello {"x":"' + b"a" * (8192 - 19) + b'"}'
    assert len(body) == 8192
    assert codec.receive(sb(GMCP, body))[0].package == "Core.Hello"
    assert codec.receive(sb(GMCP, body + b" ")) == [SubnegotiationTooLong(GMCP, 8192)]


def test_command_inside_subnegotiation_ends_it():
    """IAC WILL inside SB means SE was lost: the SB is dropped and the WILL obeyed."""
    codec = server()
    events = codec.receive(b(IAC, SB, NAWS, 0, 80) + b(IAC, WILL, 99) + b"go\r\n")
    assert events == [TextLine("go")]
    assert codec.data_to_send() == b(IAC, DONT, 99)


def test_negotiation_flood_is_rate_bounded():
    """Past the burst, negotiation commands are ignored (one event); tokens refill with time."""
    now = [0.0]
    codec = TelnetCodec(
        TelnetConfig.server(offer_local=(), offer_remote=(), negotiation_burst=10,
                            negotiation_rate=5.0),
        clock=lambda: now[0],
    )
    events = codec.receive(b(IAC, DO, 99) * 50)
    assert events == [NegotiationFlood()]
    assert codec.data_to_send() == b(IAC, WONT, 99) * 10
    events = codec.receive(b(IAC, AYT) * 5)
    assert events == []
    assert codec.data_to_send() == b""
    now[0] += 1.0  # five tokens come back
    codec.receive(b(IAC, DO, 99) * 50)
    assert codec.data_to_send() == b(IAC, WONT, 99) * 5


# -- option negotiation, per option --------------------------------------------------


def test_server_offers():
    """start() sends WILL for the offered local options and DO for the remote ones.

    Not WILL SGA: plain telnet clients take it as a switch to character mode.
    """
    codec = TelnetCodec(TelnetConfig.server(), clock=lambda: 0.0)
    codec.start()
    assert codec.data_to_send() == (
        b(IAC, WILL, EOR, IAC, WILL, MSSP, IAC, WILL, GMCP, IAC, WILL, MCCP2)
        + b(IAC, DO, TTYPE, IAC, DO, NAWS, IAC, DO, CHARSET)
    )


def test_server_agrees_to_sga_when_the_client_asks():
    """A client that asks DO SGA gets WILL SGA, though the server no longer offers it."""
    codec = TelnetCodec(TelnetConfig.server(), clock=lambda: 0.0)
    codec.start()
    codec.data_to_send()
    assert codec.receive(b(IAC, DO, SGA)) == [OptionChanged(SGA, Side.LOCAL, True)]
    assert codec.data_to_send() == b(IAC, WILL, SGA)


def test_unknown_options_are_refused():
    """WILL/DO for options we do not support get DONT/WONT, LINEMODE included."""
    codec = server()
    events = codec.receive(b(IAC, WILL, LINEMODE, IAC, DO, 99, IAC, WILL, 0, IAC, DO, TTYPE))
    assert events == []
    assert codec.data_to_send() == b(
        IAC, DONT, LINEMODE, IAC, WONT, 99, IAC, DONT, 0, IAC, WONT, TTYPE
    )


def test_echo_off_and_on_for_passwords():
    """set_echo(False) offers WILL ECHO; the client agrees; set_echo(True) sends WONT ECHO."""
    codec = server()
    assert codec.set_echo(False) is True
    assert codec.data_to_send() == b(IAC, WILL, ECHO)
    assert codec.receive(b(IAC, DO, ECHO)) == [OptionChanged(ECHO, Side.LOCAL, True)]
    assert codec.data_to_send() == b""
    assert codec.set_echo(True) is True
    assert codec.data_to_send() == b(IAC, WONT, ECHO)
    assert not codec.local_enabled(ECHO)
    # A change we caused ourselves is reported with the next input.
    assert codec.receive(b(IAC, DONT, ECHO)) == [OptionChanged(ECHO, Side.LOCAL, False)]
    assert codec.data_to_send() == b""


def test_echo_refused_is_remembered():
    """A client that refuses ECHO is not asked again; set_echo(False) reports it cannot hide."""
    codec = server()
    codec.set_echo(False)
    codec.data_to_send()
    assert codec.receive(b(IAC, DONT, ECHO)) == []
    assert codec.data_to_send() == b""
    assert codec.set_echo(False) is False
    assert codec.data_to_send() == b""
    assert codec.request_local(ECHO, retry=True) is True
    assert codec.data_to_send() == b(IAC, WILL, ECHO)


def test_sga_agreed_and_refused():
    """WILL SGA agreed turns SGA on; a refusal (DONT) leaves it off, both byte-exact."""
    codec = server(offer_local=(SGA,))
    codec.start()
    assert codec.data_to_send() == b(IAC, WILL, SGA)
    assert codec.receive(b(IAC, DO, SGA)) == [OptionChanged(SGA, Side.LOCAL, True)]
    refusing = server(offer_local=(SGA,))
    refusing.start()
    refusing.data_to_send()
    assert refusing.receive(b(IAC, DONT, SGA)) == []
    assert not refusing.local_enabled(SGA)
    assert refusing.data_to_send() == b""
    # A client offering its own SGA is accepted too.
    assert codec.receive(b(IAC, WILL, SGA)) == [OptionChanged(SGA, Side.REMOTE, True)]
    assert codec.data_to_send() == b(IAC, DO, SGA)


def test_naws_agreed_reports_sizes_and_resizes():
    """DO NAWS, WILL NAWS, then each SB NAWS is a WindowSize event (IAC doubled inside)."""
    codec = server(offer_remote=(NAWS,))
    codec.start()
    assert codec.data_to_send() == b(IAC, DO, NAWS)
    events = codec.receive(b(IAC, WILL, NAWS) + sb(NAWS, b(0, 80, 0, 24)))
    assert events == [OptionChanged(NAWS, Side.REMOTE, True), WindowSize(80, 24)]
    events = codec.receive(sb(NAWS, b(0, 255, 255, 1, 0)) + b"x\r\n")
    assert events == [WindowSize(255, 256), TextLine("x")]
    assert codec.window_size == (255, 256)
    assert codec.data_to_send() == b""


def test_naws_refused_and_malformed():
    """WONT NAWS leaves no size; a NAWS payload of the wrong length is ignored."""
    codec = server(offer_remote=(NAWS,))
    codec.start()
    codec.data_to_send()
    assert codec.receive(b(IAC, WONT, NAWS)) == []
    assert codec.window_size is None
    assert codec.receive(sb(NAWS, b(0, 80, 0))) == []


def test_ttype_mtts_cycle():
    """TTYPE asks until MTTS: client name, terminal type, then the MTTS bit field decoded."""
    codec = server(offer_remote=(TTYPE,))
    codec.start()
    assert codec.data_to_send() == b(IAC, DO, TTYPE)
    send = sb(TTYPE, b(1))
    assert codec.receive(b(IAC, WILL, TTYPE)) == [OptionChanged(TTYPE, Side.REMOTE, True)]
    assert codec.data_to_send() == send
    assert codec.receive(sb(TTYPE, b"\x00MUDLET")) == []
    assert codec.data_to_send() == send
    assert codec.receive(sb(TTYPE, b"\x00XTERM-256COLOR")) == []
    assert codec.data_to_send() == send
    events = codec.receive(sb(TTYPE, b"\x00MTTS 2829"))
    assert codec.data_to_send() == b""
    flags = Mtts.ANSI | Mtts.UTF8 | Mtts.COLORS_256 | Mtts.TRUECOLOR | Mtts.MNES | Mtts.SSL
    assert events == [
        TerminalType(("MUDLET", "XTERM-256COLOR", "MTTS 2829"), "MUDLET", "XTERM-256COLOR", flags)
    ]
    assert Mtts.SCREEN_READER not in events[0].mtts
    assert codec.terminal_type == events[0]


def test_ttype_plain_client_stops_at_repeat():
    """A client with one terminal type repeats it; the cycle stops there."""
    codec = server(offer_remote=(TTYPE,))
    codec.start()
    codec.receive(b(IAC, WILL, TTYPE))
    codec.data_to_send()
    assert codec.receive(sb(TTYPE, b"\x00XTERM")) == []
    assert codec.data_to_send() == sb(TTYPE, b(1))
    events = codec.receive(sb(TTYPE, b"\x00XTERM"))
    assert events == [TerminalType(("XTERM",), "XTERM", "XTERM", None)]
    assert codec.data_to_send() == b""
    # Unsolicited answers after the cycle are ignored.
    assert codec.receive(sb(TTYPE, b"\x00OTHER")) == []


def test_ttype_cycle_is_bounded():
    """A client that never repeats and never sends MTTS is asked at most four times."""
    codec = server(offer_remote=(TTYPE,))
    codec.start()
    codec.data_to_send()
    codec.receive(b(IAC, WILL, TTYPE))
    sent = codec.data_to_send()
    events = []
    for name in (b"A", b"B", b"C", b"D", b"E", b"F"):
        events += codec.receive(sb(TTYPE, b"\x00" + name))
        sent += codec.data_to_send()
    assert sent == sb(TTYPE, b(1)) * 4
    assert events == [TerminalType(("A", "B", "C", "D"), "A", "B", None)]


def test_ttype_refused():
    """WONT TTYPE: nothing more is sent and no terminal type is known."""
    codec = server(offer_remote=(TTYPE,))
    codec.start()
    codec.data_to_send()
    assert codec.receive(b(IAC, WONT, TTYPE)) == []
    assert codec.data_to_send() == b""
    assert codec.request_terminal_type() is False


def test_charset_agreed():
    """WILL CHARSET makes the server REQUEST UTF-8; ACCEPTED gives CharsetAgreed."""
    codec = server(offer_remote=(CHARSET,))
    codec.start()
    assert codec.data_to_send() == b(IAC, DO, CHARSET)
    assert codec.receive(b(IAC, WILL, CHARSET)) == [OptionChanged(CHARSET, Side.REMOTE, True)]
    assert codec.data_to_send() == sb(CHARSET, b"\x01;UTF-8")
    assert codec.receive(sb(CHARSET, b"\x02UTF-8")) == [CharsetAgreed("UTF-8")]
    assert codec.charset == "UTF-8"
    assert codec.data_to_send() == b""


def test_charset_rejected_and_refused():
    """REJECTED gives CharsetRejected; WONT CHARSET sends no REQUEST at all."""
    codec = server(offer_remote=(CHARSET,))
    codec.start()
    codec.receive(b(IAC, WILL, CHARSET))
    codec.data_to_send()
    assert codec.receive(sb(CHARSET, b"\x03")) == [CharsetRejected(("UTF-8",))]
    refusing = server(offer_remote=(CHARSET,))
    refusing.start()
    refusing.data_to_send()
    assert refusing.receive(b(IAC, WONT, CHARSET)) == []
    assert refusing.data_to_send() == b""


def test_charset_request_from_peer():
    """A REQUEST listing UTF-8 (any separator or spelling) is accepted; one without, rejected."""
    codec = client()
    codec.receive(b(IAC, DO, CHARSET))
    assert codec.data_to_send() == b(IAC, WILL, CHARSET)
    events = codec.receive(sb(CHARSET, b"\x01 ISO-8859-1 utf8 US-ASCII"))
    assert events == [CharsetAgreed("utf8")]
    assert codec.data_to_send() == sb(CHARSET, b"\x02utf8")
    events = codec.receive(sb(CHARSET, b"\x01;KOI8-R;CP437"))
    assert events == [CharsetRejected(("KOI8-R", "CP437"))]
    assert codec.data_to_send() == sb(CHARSET, b"\x03")
    codec.receive(sb(CHARSET, b"\x04\x01junk"))
    assert codec.data_to_send() == sb(CHARSET, b"\x05")


def test_eor_and_ga_mark_prompts():
    """Prompts end with IAC EOR when EOR is agreed, else IAC GA, and nothing when SGA is on."""
    codec = server(offer_local=(EOR,))
    codec.send_prompt("> ")
    assert codec.data_to_send() == b"> " + b(IAC, GA)
    codec.start()
    codec.receive(b(IAC, DO, EOR))
    codec.data_to_send()
    codec.send_prompt("> ")
    assert codec.data_to_send() == b"> " + b(IAC, EOR_CMD)
    refusing = server(offer_local=(EOR, SGA))
    refusing.start()
    refusing.receive(b(IAC, DONT, EOR, IAC, DO, SGA))
    refusing.data_to_send()
    refusing.send_prompt("> ")
    assert refusing.data_to_send() == b"> "


def test_mssp_requested_and_sent():
    """DO MSSP asks for the variables; send_mssp encodes them byte-exact."""
    codec = server(offer_local=(MSSP,))
    codec.start()
    assert codec.data_to_send() == b(IAC, WILL, MSSP)
    events = codec.receive(b(IAC, DO, MSSP))
    assert events == [OptionChanged(MSSP, Side.LOCAL, True), MsspRequested()]
    assert codec.send_mssp({"NAME": "Reality", "PLAYERS": 3, "PORT": [4000, 4001]}) is True
    assert codec.data_to_send() == sb(
        MSSP, b"\x01NAME\x02Reality\x01PLAYERS\x023\x01PORT\x024000\x024001"
    )


def test_mssp_refused_sends_nothing():
    """DONT MSSP: no request event, and send_mssp refuses to send."""
    codec = server(offer_local=(MSSP,))
    codec.start()
    codec.data_to_send()
    assert codec.receive(b(IAC, DONT, MSSP)) == []
    assert codec.send_mssp({"NAME": "Reality"}) is False
    assert codec.data_to_send() == b""


def test_mssp_values_cannot_break_framing():
    """VAR, VAL, NUL and IAC bytes are removed from names and values."""
    codec = server(offer_local=(MSSP,))
    codec.start()
    codec.receive(b(IAC, DO, MSSP))
    codec.data_to_send()
    codec.send_mssp({"NA\x01ME": "Re\x02al\x00ity\xff"})
    assert codec.data_to_send() == sb(MSSP, b"\x01NAME\x02Reality\xc3\xbf")


def test_gmcp_both_ways():
    """GMCP: DO GMCP, then messages parse to (package, data) and encode as compact JSON."""
    codec = server(offer_local=(GMCP,))
    codec.start()
    assert codec.data_to_send() == b(IAC, WILL, GMCP)
    assert codec.receive(b(IAC, DO, GMCP)) == [OptionChanged(GMCP, Side.LOCAL, True)]
    events = codec.receive(
        sb(GMCP, b'Core.Hello {"client":"Mudlet","version":"4.17"}') + sb(GMCP, b"Core.Ping")
    )
    assert events == [
        GmcpMessage("Core.Hello", {"client": "Mudlet", "version": "4.17"}),
        GmcpMessage("Core.Ping", None),
    ]
    assert codec.send_gmcp("Char.Vitals", {"hp": 10, "name": "Zoë"}) is True
    assert codec.send_gmcp("Core.Ping") is True
    assert codec.data_to_send() == sb(
        GMCP, 'Char.Vitals {"hp":10,"name":"Zoë"}'.encode()
    ) + sb(GMCP, b"Core.Ping")


def test_gmcp_invalid_json_is_ignored_and_logged(caplog):
    """Invalid JSON, invalid UTF-8 or an empty package name: logged (debug), no event, no reply."""
    codec = server(offer_local=(GMCP,))
    codec.start()
    codec.receive(b(IAC, DO, GMCP))
    codec.data_to_send()
    caplog.set_level(logging.DEBUG)
    events = codec.receive(
        sb(GMCP, b"Core.Hello {not json")
        + sb(GMCP, b"Core.Hello \xc3(")
        + sb(GMCP, b" {}")
        + sb(GMCP, b"Core.Ok [1]")
    )
    assert events == [GmcpMessage("Core.Ok", [1])]
    assert caplog.text.count("invalid GMCP") == 3
    assert codec.data_to_send() == b""


def test_gmcp_refused_sends_nothing():
    """DONT GMCP: send_gmcp returns False and writes nothing."""
    codec = server(offer_local=(GMCP,))
    codec.start()
    codec.data_to_send()
    codec.receive(b(IAC, DONT, GMCP))
    assert codec.send_gmcp("Core.Ping") is False
    assert codec.data_to_send() == b""


def test_subnegotiation_for_other_enabled_options_is_an_event():
    """An SB for an enabled option the codec does not parse is passed on; others dropped."""
    codec = server(offer_local=(ECHO,))
    codec.start()
    codec.receive(b(IAC, DO, ECHO))
    assert codec.receive(sb(ECHO, b"\x01\xff\xff")) == [Subnegotiation(ECHO, b"\x01\xff")]
    assert codec.receive(sb(99, b"abc")) == []


# -- MCCP2 -------------------------------------------------------------------------


def mccp_server() -> TelnetCodec:
    codec = server(offer_local=(MCCP2,))
    codec.start()
    assert codec.data_to_send() == b(IAC, WILL, MCCP2)
    return codec


def test_mccp2_output_decompresses_to_what_was_sent():
    """After DO MCCP2: IAC SB 86 IAC SE, then a zlib stream that inflates to the output."""
    codec = mccp_server()
    codec.receive(b(IAC, DO, MCCP2))
    assert codec.compressing
    codec.send_text("Hello, compressed world!\n" * 20)
    first = codec.data_to_send()
    start = b(IAC, SB, MCCP2, IAC, SE)
    assert first.startswith(start)
    inflater = zlib.decompressobj()
    plain = inflater.decompress(first[len(start) :])
    assert plain == b"Hello, compressed world!\r\n" * 20
    codec.send_prompt("> ")
    assert inflater.decompress(codec.data_to_send()) == b"> " + b(IAC, GA)
    codec.end_compression()
    tail = codec.data_to_send()
    assert inflater.decompress(tail) == b""
    assert inflater.eof and inflater.unused_data == b""
    codec.send_text("plain\n")
    assert codec.data_to_send() == b"plain\r\n"


def test_mccp2_dont_ends_stream_before_wont():
    """DONT MCCP2 while compressing: the stream ends (Z_FINISH), then WONT goes out plain."""
    codec = mccp_server()
    codec.receive(b(IAC, DO, MCCP2))
    codec.send_text("x\n")
    wire = codec.data_to_send()
    events = codec.receive(b(IAC, DONT, MCCP2))
    assert events == [OptionChanged(MCCP2, Side.LOCAL, False)]
    wire += codec.data_to_send()
    inflater = zlib.decompressobj()
    assert inflater.decompress(wire[5:]) == b"x\r\n"
    assert inflater.eof
    assert inflater.unused_data == b(IAC, WONT, MCCP2)
    assert not codec.compressing


def test_mccp2_refused_falls_back_to_plain():
    """DONT MCCP2 in answer to our WILL: no compression, output stays plain."""
    codec = mccp_server()
    assert codec.receive(b(IAC, DONT, MCCP2)) == []
    assert codec.start_compression() is False
    codec.send_text("hi\n")
    assert codec.data_to_send() == b"hi\r\n"


def test_client_inflates_mccp2_started_mid_read():
    """The client switches to inflating right after IAC SB 86 IAC SE, inside one read."""
    srv = mccp_server()
    srv.send_text("before\n")
    srv.receive(b(IAC, DO, MCCP2))
    srv.send_text("after one\nafter two\n")
    wire = srv.data_to_send()
    cli = client()
    events = cli.receive(b(IAC, WILL, MCCP2))
    assert cli.data_to_send() == b(IAC, DO, MCCP2)
    events = cli.receive(wire)
    assert without_option_changes(events) == [
        TextLine("before"),
        CompressionStarted(),
        TextLine("after one"),
        TextLine("after two"),
    ]
    assert cli.decompressing
    srv.send_text("last\n")
    srv.end_compression()
    srv.send_text("plain again\n")
    events = cli.receive(srv.data_to_send())
    assert events == [TextLine("last"), CompressionEnded(), TextLine("plain again")]
    assert not cli.decompressing


def test_client_corrupt_mccp2_stream_is_a_protocol_error():
    """Garbage after MCCP2 starts cannot continue: ProtocolError, and later input is ignored."""
    cli = client()
    cli.receive(b(IAC, WILL, MCCP2))
    events = cli.receive(b"hi\r\n" + b(IAC, SB, MCCP2, IAC, SE) + b"this is not zlib")
    assert events[:2] == [TextLine("hi"), CompressionStarted()]
    assert isinstance(events[2], ProtocolError)
    assert "compressed" in events[2].message
    assert cli.receive(b"more\r\n") == []


# -- the client role -------------------------------------------------------------------


def test_client_answers_ttype_cycle_with_mtts():
    """The client answers SEND with its name, terminal type, MTTS, then repeats the last."""
    cli = client(client_name="REALITY", terminal_type="XTERM-256COLOR", mtts=2317)
    cli.receive(b(IAC, DO, TTYPE))
    assert cli.data_to_send() == b(IAC, WILL, TTYPE)
    answers = []
    for _ in range(4):
        cli.receive(sb(TTYPE, b(1)))
        answers.append(cli.data_to_send())
    assert answers == [
        sb(TTYPE, b"\x00REALITY"),
        sb(TTYPE, b"\x00XTERM-256COLOR"),
        sb(TTYPE, b"\x00MTTS 2317"),
        sb(TTYPE, b"\x00MTTS 2317"),
    ]


def test_client_reports_window_size():
    """DO NAWS: WILL NAWS and the size at once; later resizes are sent as they happen."""
    cli = client(window_size=(120, 40))
    cli.receive(b(IAC, DO, NAWS))
    assert cli.data_to_send() == b(IAC, WILL, NAWS) + sb(NAWS, b(0, 120, 0, 40))
    cli.set_window_size(255, 50)
    assert cli.data_to_send() == sb(NAWS, b(0, 255, 255, 0, 50))


def test_client_refuses_server_only_options():
    """A client refuses to perform MCCP2 or MSSP itself, and agrees to the server doing them."""
    cli = client()
    cli.receive(b(IAC, DO, MCCP2, IAC, WILL, MCCP2, IAC, WILL, MSSP, IAC, WILL, GMCP))
    assert cli.data_to_send() == b(IAC, WONT, MCCP2, IAC, DO, MCCP2, IAC, DO, MSSP, IAC, DO, GMCP)
    assert cli.send_gmcp("Core.Hello", {"client": "Reality"}) is True
    assert cli.data_to_send() == sb(GMCP, b'Core.Hello {"client":"Reality"}')


def test_client_receives_mssp():
    """MSSP variables from the server become MsspData."""
    cli = client()
    cli.receive(b(IAC, WILL, MSSP))
    events = cli.receive(sb(MSSP, b"\x01NAME\x02Reality\x01PORT\x024000\x024001"))
    assert events == [MsspData((("NAME", ("Reality",)), ("PORT", ("4000", "4001"))))]
    assert events[0].as_dict()["PORT"] == ("4000", "4001")


def test_client_delivers_partial_lines():
    """The client role hands over unterminated text at the end of each read, UTF-8 whole."""
    cli = client()
    data = "Password: ☃".encode()
    events = cli.receive(data[:-1])
    assert events == [PartialLine("Password: ")]
    events = cli.receive(data[-1:] + b"\r\nnext")
    assert events == [TextLine("☃"), PartialLine("next")]


# -- whole conversations ---------------------------------------------------------------


def converse(a: TelnetCodec, b_: TelnetCodec, rounds: int = 50) -> tuple[list, list]:
    """Move bytes between two codecs until both are quiet; return each side's events."""
    a_events: list[object] = []
    b_events: list[object] = []
    for _ in range(rounds):
        to_b = a.data_to_send()
        to_a = b_.data_to_send()
        if not to_a and not to_b:
            return a_events, b_events
        b_events += b_.receive(to_b)
        a_events += a.receive(to_a)
    raise AssertionError("negotiation did not settle")


def test_server_and_client_codecs_agree_on_everything():
    """Our server and client codecs negotiate every option, TTYPE/MTTS, NAWS, CHARSET, MCCP2."""
    srv = TelnetCodec(TelnetConfig.server(), clock=lambda: 0.0)
    cli = TelnetCodec(TelnetConfig.client(window_size=(100, 30)), clock=lambda: 0.0)
    srv.start()
    cli.start()
    srv_events, cli_events = converse(srv, cli)
    for option in (EOR, MSSP, GMCP, MCCP2):
        assert srv.local_enabled(option) and cli.remote_enabled(option)
    assert not srv.local_enabled(SGA)
    for option in (TTYPE, NAWS, CHARSET):
        assert srv.remote_enabled(option) and cli.local_enabled(option)
    assert WindowSize(100, 30) in srv_events
    assert CharsetAgreed("UTF-8") in srv_events and CharsetAgreed("UTF-8") in cli_events
    (terminal,) = [e for e in srv_events if isinstance(e, TerminalType)]
    assert terminal.client == "REALITY" and Mtts.UTF8 in terminal.mtts
    assert MsspRequested() in srv_events
    assert CompressionStarted() in cli_events
    srv.send_gmcp("Room.Info", {"name": "Hall"})
    srv.send_prompt("> ")
    cli.send_gmcp("Core.Supports.Set", ["Room 1"])
    cli.send_text("look\n")
    srv_events, cli_events = converse(srv, cli)
    assert srv_events == [GmcpMessage("Core.Supports.Set", ["Room 1"]), TextLine("look")]
    assert cli_events == [GmcpMessage("Room.Info", {"name": "Hall"}), Prompt("> ")]


def test_option_state_introspection():
    """option_state exposes the RFC 1143 state and queue bit of each side."""
    codec = server()
    codec.request_remote(NAWS)
    assert codec.option_state(Side.REMOTE, NAWS) == (Q.WANTYES, False)
    codec.disable_remote(NAWS)
    assert codec.option_state(Side.REMOTE, NAWS) == (Q.WANTYES, True)
    with pytest.raises(ValueError):
        codec.request_remote(99)


def test_line_limit_counts_bytes_not_characters():
    """A line of few characters but too many UTF-8 bytes is dropped, in a block or alone."""
    codec = server(max_line=8)
    events = codec.receive("ab\r\néééé\r\nééééé\r\ncd\r\n".encode())
    assert events == [TextLine("ab"), TextLine("éééé"), LineTooLong(10, 8), TextLine("cd")]
    assert codec.receive("ééééé\n".encode()) == [LineTooLong(10, 8)]


def test_unasked_do_echo_is_refused():
    """A client's own DO ECHO is refused (we would have to echo); asked for, it is agreed."""
    codec = server()
    assert codec.receive(b(IAC, DO, ECHO)) == []
    assert codec.data_to_send() == b(IAC, WONT, ECHO)
    assert not codec.refused(Side.LOCAL, ECHO)
    codec.set_echo(False)
    assert codec.data_to_send() == b(IAC, WILL, ECHO)
    assert codec.receive(b(IAC, DO, ECHO)) == [OptionChanged(ECHO, Side.LOCAL, True)]
    assert codec.data_to_send() == b""
