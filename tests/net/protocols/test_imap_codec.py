"""The IMAP command framing and parser: literals, bounds, sequence sets, and properties."""

from __future__ import annotations

import time

from hypothesis import given, settings, strategies as st

from reality.net.protocols.imap.codec import (
    BadSyntax,
    Continue,
    IMAPCommand,
    IMAPServerCodec,
    LineTooLong,
    LiteralTooBig,
    RawLine,
    astring,
    format_sequence_set,
    nstring,
    parse_sequence_set,
    quoted,
    resolve_sequence_set,
)


def events(data: bytes, **limits: int) -> list[object]:
    return IMAPServerCodec(**limits).receive(data)


def test_atoms_strings_lists_and_uid():
    [command] = events(
        b'a1 uid fetch 1:*,3 (FLAGS BODY.PEEK[HEADER.FIELDS (From To)]<0.10>) "x y"\r\n'
    )
    assert command == IMAPCommand(
        "a1",
        "FETCH",
        ["1:*,3", ["FLAGS", "BODY.PEEK[HEADER.FIELDS (From To)]<0.10>"], b"x y"],
        True,
    )


def test_quoted_escapes_and_bare_lf():
    [command] = events(b'a LOGIN "al\\"ice" "p\\\\w"\n')
    assert command == IMAPCommand("a", "LOGIN", [b'al"ice', b"p\\w"])


def test_synchronizing_literal_asks_for_continuation():
    codec = IMAPServerCodec()
    assert codec.receive(b"a LOGIN {5}\r\n") == [Continue()]
    assert codec.receive(b"alice {6}\r\n") == [Continue()]
    assert codec.receive(b"secret\r\n") == [IMAPCommand("a", "LOGIN", [b"alice", b"secret"])]


def test_literal_plus_needs_no_continuation_and_may_hold_anything():
    data = b'a LOGIN {5+}\r\nal\r\n) {3+}\r\n("x\r\n'
    assert events(data) == [IMAPCommand("a", "LOGIN", [b"al\r\n)", b'("x'])]


def test_literal_inside_a_list():
    assert events(b"a SEARCH (OR FROM {3+}\r\nbob TO x) ALL\r\n") == [
        IMAPCommand("a", "SEARCH", [["OR", "FROM", b"bob", "TO", "x"], "ALL"])
    ]


def test_oversized_literal_refused_before_it_is_read():
    codec = IMAPServerCodec(max_literal=100)
    assert codec.receive(b"a LOGIN {101}\r\n") == [LiteralTooBig("a", 101, True)]
    assert codec.buffered == 0
    # The client got no "+": its next line is a new command.
    assert codec.receive(b"b NOOP\r\n") == [IMAPCommand("b", "NOOP", [])]
    assert codec.receive(b"c LOGIN {999999999999+}\r\n") == [
        LiteralTooBig("c", 999999999999, False)
    ]


def test_whole_command_bound_counts_literals():
    codec = IMAPServerCodec(max_literal=100, max_command=250)
    out = codec.receive(
        b"a X {100+}\r\n" + b"x" * 100 + b" {100+}\r\n" + b"y" * 100 + b" {100}\r\n"
    )
    assert out == [LiteralTooBig("a", 100, True)]


def test_long_line_dropped_with_its_tag_then_recovers():
    codec = IMAPServerCodec(max_line_length=64)
    assert codec.receive(b"t1 NOOP " + b"x" * 100) == [LineTooLong("t1", 64)]
    assert codec.receive(b"y" * 10_000) == []
    assert codec.buffered == 0
    assert codec.receive(b"zz\r\nt2 NOOP\r\n") == [IMAPCommand("t2", "NOOP", [])]
    # A whole over-long line in one piece; one announcing a LITERAL+ literal says so.
    assert codec.receive(b"t3 X " + b"x" * 70 + b"\r\n") == [LineTooLong("t3", 64)]
    assert codec.receive(b"t4 X " + b"x" * 70 + b" {5+}\r\n") == [
        LineTooLong("t4", 64, nonsync_literal=True)
    ]


def test_syntax_errors_keep_the_tag():
    assert events(b"a FETCH (1\r\n") == [BadSyntax("a", "Unbalanced parentheses")]
    assert events(b"a FETCH 1)\r\n") == [BadSyntax("a", "Unbalanced parentheses")]
    assert events(b'a LOGIN "x\r\n') == [BadSyntax("a", "Invalid characters in command")]
    assert events(b"\r\n") == [BadSyntax(None, "Missing or invalid tag")]
    assert events(b"+ NOOP\r\n") == [BadSyntax(None, "Missing or invalid tag")]
    assert events(b"a\r\n") == [BadSyntax("a", "Missing command")]
    assert events(b"a UID\r\n") == [BadSyntax("a", "UID needs a command")]
    assert events(b"a X \xff\r\n") == [BadSyntax("a", "Atom is not valid UTF-8")]


def test_depth_and_item_bounds():
    assert events(b"a X " + b"(" * 20 + b")" * 20 + b"\r\n", max_depth=16) == [
        BadSyntax("a", "Lists nested too deeply")
    ]
    assert events(b"a X" + b" y" * 50 + b"\r\n", max_items=40) == [
        BadSyntax("a", "Too many items in command")
    ]


def test_raw_line_mode():
    codec = IMAPServerCodec()
    codec.raw = True
    assert codec.receive(b"DONE\r\na NOOP\r\n") == [RawLine(b"DONE"), IMAPCommand("a", "NOOP", [])]


def test_flood_of_commands_in_one_write_is_linear():
    codec = IMAPServerCodec()
    data = b"a NOOP\r\n" * 200_000
    start = time.perf_counter()
    codec.receive_data(data)
    count = 0
    while codec.next_event() is not None:
        count += 1
    assert count == 200_000
    assert time.perf_counter() - start < 10


def test_many_tiny_pieces_of_a_long_line_are_linear():
    codec = IMAPServerCodec(max_line_length=1 << 20)
    start = time.perf_counter()
    for _ in range(100_000):
        codec.receive_data(b"x")
        assert codec.next_event() is None
    assert time.perf_counter() - start < 10


def test_output_strings():
    assert quoted("a b") == b'"a b"'
    assert quoted('q"\\') == b'"q\\"\\\\"'
    assert quoted("caf\u00e9") == b"{5}\r\ncaf\xc3\xa9"
    assert quoted("a\r\nb") == b"{4}\r\na\r\nb"
    assert nstring(None) == b"NIL"
    assert astring("INBOX") == b"INBOX"
    assert astring("NIL") == b'"NIL"'
    assert astring("My Box") == b'"My Box"'


def test_sequence_sets():
    assert parse_sequence_set("2,4:7,9:*") == [(2, 2), (4, 7), (9, None)]
    assert parse_sequence_set("*") == [(None, None)]
    for bad in ("", "0", "1:", ",1", "a", "1:0", "4294967296", "1,,2"):
        assert parse_sequence_set(bad) is None, bad
    assert parse_sequence_set(",".join(["1"] * 3000), max_pieces=2048) is None
    uids = [3, 5, 9, 20]
    # RFC 3501 6.4.8: 25:* names the largest UID even though it is below 25.
    assert resolve_sequence_set([(25, None)], uids) == [3]
    assert resolve_sequence_set([(4, 9), (1, 3), (9, 5)], uids) == [0, 1, 2]
    assert resolve_sequence_set([(1, 4294967295)], range(1, 4)) == [0, 1, 2]
    assert resolve_sequence_set([(None, None)], []) == []
    assert format_sequence_set([7, 1, 2, 3, 5, 6, 9]) == "1:3,5:7,9"


# -- properties ----------------------------------------------------------------------

_PIECES = st.lists(
    st.one_of(
        st.just(b"a1 NOOP\r\n"),
        st.just(b"a2 LOGIN {5}\r\nalice {6+}\r\nsecret\r\n"),
        st.just(b'a3 SEARCH OR (FROM "bob") TO {3+}\r\nx y\r\n'),
        st.just(b"a4 FETCH 1:* (FLAGS BODY[HEADER.FIELDS (From)]<0.5>)\r\n"),
        st.just(b"a5 X {99999}\r\n"),
        st.just(b"bad (\r\n"),
        st.binary(max_size=30),
    ),
    max_size=12,
)


def _all_events(chunks: list[bytes]) -> list[object]:
    codec = IMAPServerCodec(max_line_length=200, max_literal=1000)
    out: list[object] = []
    for chunk in chunks:
        out += codec.receive(chunk)
    return out


@settings(max_examples=300, deadline=None)
@given(_PIECES, st.lists(st.integers(min_value=0, max_value=400), max_size=10))
def test_any_split_gives_the_same_events(pieces, cuts):
    data = b"".join(pieces)
    whole = _all_events([data])
    points = sorted({min(c, len(data)) for c in cuts})
    chunks = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]
    assert _all_events(chunks) == whole
    assert _all_events([bytes([b]) for b in data]) == whole


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_arbitrary_bytes_never_raise(data):
    codec = IMAPServerCodec(max_line_length=100, max_literal=50, max_items=20, max_depth=3)
    codec.receive(data)
    codec.raw = True
    codec.receive(data)


@given(st.sets(st.integers(min_value=1, max_value=5000), min_size=1, max_size=200))
def test_sequence_sets_round_trip(numbers):
    text = format_sequence_set(numbers)
    pieces = parse_sequence_set(text)
    assert pieces is not None
    universe = sorted(numbers | {1, 5000})
    chosen = {universe[i] for i in resolve_sequence_set(pieces, universe)}
    assert chosen == numbers


@given(st.binary(max_size=200))
def test_literals_carry_any_octets(payload):
    data = b"a LOGIN {%d+}\r\n" % len(payload) + payload + b" x\r\n"
    assert events(data) == [IMAPCommand("a", "LOGIN", [payload, "x"])]
