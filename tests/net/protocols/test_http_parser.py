"""The sans-IO HTTP/1.1 request parser: events, limits, errors, smuggling defences."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from reality.net.protocols.http import (
    BodyData,
    EndOfMessage,
    Headers,
    HTTPLimits,
    ParseError,
    RequestHead,
    RequestParser,
)

HOST = b"Host: example.org\r\n"


def parse(data: bytes, parser: RequestParser | None = None) -> list:
    """All events for ``data``, with consecutive BodyData merged."""
    parser = parser or RequestParser()
    return merge(parser.receive(data))


def merge(events: list) -> list:
    merged: list = []
    for event in events:
        if isinstance(event, BodyData) and merged and isinstance(merged[-1], BodyData):
            merged[-1] = BodyData(merged[-1].data + event.data)
        else:
            merged.append(event)
    return merged


def error_of(data: bytes, parser: RequestParser | None = None) -> tuple[int, str]:
    """The (status, reason) of the ParseError ``data`` produces; fails if none."""
    events = parse(data, parser)
    assert events, "expected a ParseError, got no events"
    last = events[-1]
    assert isinstance(last, ParseError), f"expected a ParseError, got {events!r}"
    return last.status, last.reason


def h(*pairs: tuple[str, str]) -> Headers:
    return Headers(list(pairs))


# -- well-formed requests -----------------------------------------------------------


def test_simple_get_is_a_head_and_an_end():
    """A GET without a body is exactly a RequestHead and an EndOfMessage."""
    events = parse(b"GET /index.html?x=1 HTTP/1.1\r\nHost: example.org\r\nAccept: */*\r\n\r\n")
    assert events == [
        RequestHead(
            "GET",
            "/index.html?x=1",
            "1.1",
            h(("host", "example.org"), ("accept", "*/*")),
            keep_alive=True,
            host="example.org",
        ),
        EndOfMessage(),
    ]


def test_field_values_lose_surrounding_whitespace_and_names_are_case_insensitive():
    """OWS around a field value is not part of it (RFC 9112 §5); names match in any case."""
    (head, _) = parse(b"GET / HTTP/1.1\r\nHOST: a\r\nX-Thing:\t  spaced  value \t\r\n\r\n")
    assert head.headers.get("x-thing") == "spaced  value"
    assert head.headers["Host"] == "a"
    assert "X-THING" in head.headers


def test_repeated_fields_are_kept_in_order():
    """Repeated field lines are all kept; get() gives the first, get_joined() all."""
    (head, _) = parse(b"GET / HTTP/1.1\r\n" + HOST + b"Accept: a\r\nAccept: b\r\n\r\n")
    assert head.headers.get_all("accept") == ["a", "b"]
    assert head.headers.get("accept") == "a"
    assert head.headers.get_joined("accept") == "a, b"


def test_obs_text_in_values_is_accepted_as_latin_1():
    """Bytes 0x80-0xFF are allowed in field values and decoded as Latin-1."""
    (head, _) = parse(b"GET / HTTP/1.1\r\n" + HOST + b"X-Name: caf\xe9\r\n\r\n")
    assert head.headers.get("x-name") == "caf\u00e9"


def test_leading_empty_lines_are_ignored():
    """Empty lines before a request line are skipped (RFC 9112 §2.2)."""
    events = parse(b"\r\n\r\nGET / HTTP/1.1\r\n" + HOST + b"\r\n")
    assert [type(e) for e in events] == [RequestHead, EndOfMessage]


def test_too_many_leading_empty_lines_are_refused():
    """Endless empty lines are not a way to hold a connection: 400."""
    assert error_of(b"\r\n" * 17 + b"GET / HTTP/1.1\r\n")[0] == 400


def test_content_length_body():
    """A Content-Length body arrives as BodyData then EndOfMessage."""
    events = parse(b"POST /f HTTP/1.1\r\n" + HOST + b"Content-Length: 5\r\n\r\nhello")
    assert events[0].content_length == 5 and not events[0].chunked
    assert events[1:] == [BodyData(b"hello"), EndOfMessage()]


def test_body_bytes_beyond_content_length_are_the_next_request():
    """Exactly Content-Length bytes are body; the rest is parsed as the next request."""
    data = (
        b"POST / HTTP/1.1\r\n" + HOST + b"Content-Length: 3\r\n\r\nabc"
        b"GET /next HTTP/1.1\r\n" + HOST + b"\r\n"
    )
    events = parse(data)
    assert [type(e) for e in events] == [
        RequestHead,
        BodyData,
        EndOfMessage,
        RequestHead,
        EndOfMessage,
    ]
    assert events[1].data == b"abc"
    assert events[3].target == "/next"


def test_chunked_body_with_extensions_and_trailers():
    """Chunked framing is removed, extensions ignored, trailers delivered (RFC 9112 §7.1)."""
    data = (
        b"POST / HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: chunked\r\n\r\n"
        b"5;name=value\r\nhello\r\n"
        b"6 ; x\r\n world\r\n"
        b"0\r\nX-Checksum: 42\r\n\r\n"
    )
    events = parse(data)
    assert events[0].chunked
    assert events[1] == BodyData(b"hello world")
    assert events[2] == EndOfMessage(h(("x-checksum", "42")))


def test_chunked_body_without_trailers():
    """The last chunk followed by an empty line ends the message with no trailers."""
    data = (
        b"POST / HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
    )
    assert parse(data)[1:] == [BodyData(b"abc"), EndOfMessage()]


def test_transfer_encoding_is_case_insensitive_and_may_be_spread_over_lines():
    """'Chunked' in any case and split over field lines is still the chunked coding."""
    data = b"POST / HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: CHUNKED\r\n\r\n0\r\n\r\n"
    assert parse(data)[-1] == EndOfMessage()


def test_identical_content_lengths_are_accepted():
    """Repeated but identical Content-Length values are one length (RFC 9112 §6.3)."""
    data = b"POST / HTTP/1.1\r\n" + HOST + b"Content-Length: 2, 2\r\nContent-Length: 2\r\n\r\nok"
    assert parse(data)[1] == BodyData(b"ok")


def test_pipelined_requests_come_out_in_order():
    """Several requests in one buffer become their events in order."""
    data = b"".join(b"GET /%d HTTP/1.1\r\n%s\r\n" % (i, HOST) for i in range(5))
    events = parse(data)
    assert [e.target for e in events if isinstance(e, RequestHead)] == [f"/{i}" for i in range(5)]
    assert len(events) == 10


def test_repeated_header_section_gives_independent_headers():
    """A header section repeated on a connection parses the same, into a fresh Headers."""
    parser = RequestParser()
    request = b"GET / HTTP/1.1\r\n" + HOST + b"Accept: a\r\n\r\n"
    (first, _) = parser.receive(request)
    first.headers.set("accept", "changed by a handler")
    (second, _) = parser.receive(request)
    assert second.headers.get("accept") == "a"
    (third, _) = parser.receive(b"GET / HTTP/1.1\r\n" + HOST + b"Accept: b\r\n\r\n")
    assert third.headers.get("accept") == "b"


def test_repeated_header_section_still_decides_framing():
    """Reusing a parsed header section keeps its framing: the body is read each time."""
    parser = RequestParser()
    request = b"POST / HTTP/1.1\r\n" + HOST + b"Content-Length: 2\r\n\r\nab"
    assert merge(parser.receive(request * 3)) == merge(RequestParser().receive(request * 3))
    assert [type(e) for e in parser.receive(request)] == [RequestHead, BodyData, EndOfMessage]


def test_max_requests_stops_and_resumes():
    """receive(max_requests=n) leaves later requests buffered until asked again."""
    parser = RequestParser()
    data = b"".join(b"GET /%d HTTP/1.1\r\n%s\r\n" % (i, HOST) for i in range(3))
    first = parser.receive(data, max_requests=1)
    assert [e.target for e in first if isinstance(e, RequestHead)] == ["/0"]
    assert parser.blocked
    rest = parser.receive(b"", max_requests=5)
    assert [e.target for e in rest if isinstance(e, RequestHead)] == ["/1", "/2"]
    assert not parser.blocked


def test_head_started_tracks_a_partial_head():
    """head_started is true from the first byte of a head until the head completes."""
    parser = RequestParser()
    assert not parser.head_started
    parser.receive(b"G")
    assert parser.head_started
    parser.receive(b"ET / HTTP/1.1\r\n" + HOST + b"\r\n")
    assert not parser.head_started


def test_http10_closes_by_default_and_keeps_alive_on_request():
    """HTTP/1.0 is not persistent unless it asks for keep-alive (RFC 9112 §9.3)."""
    (plain, _) = parse(b"GET / HTTP/1.0\r\n\r\n")
    (asked, _) = parse(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")
    assert plain.keep_alive is False and plain.version == "1.0"
    assert asked.keep_alive is True


def test_connection_close_ends_parsing():
    """After a Connection: close request, nothing more is parsed (no smuggled follower)."""
    parser = RequestParser()
    data = (
        b"GET / HTTP/1.1\r\n"
        + HOST
        + b"Connection: close\r\n\r\nGET /admin HTTP/1.1\r\n"
        + HOST
        + b"\r\n"
    )
    events = parse(data, parser)
    assert [type(e) for e in events] == [RequestHead, EndOfMessage]
    assert events[0].keep_alive is False
    assert parser.finished
    assert parser.receive(b"GET / HTTP/1.1\r\n" + HOST + b"\r\n") == []


def test_newer_minor_version_is_treated_as_http11():
    """HTTP/1.2 is answered as the highest 1.x we speak (RFC 9110 §6.2)."""
    (head, _) = parse(b"GET / HTTP/1.2\r\n" + HOST + b"\r\n")
    assert head.version == "1.1"


def test_expect_100_continue_is_flagged():
    """Expect: 100-continue with a body sets expect_continue (RFC 9110 §10.1.1)."""
    (head,) = parse(
        b"PUT / HTTP/1.1\r\n" + HOST + b"Expect: 100-Continue\r\nContent-Length: 4\r\n\r\n"
    )
    assert head.expect_continue


def test_expect_is_ignored_in_http10():
    """A 100-continue expectation in an HTTP/1.0 request is ignored."""
    (head,) = parse(b"PUT / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
    assert not head.expect_continue


def test_request_target_forms():
    """absolute-form, asterisk-form for OPTIONS, authority-form for CONNECT are accepted."""
    assert parse(b"GET http://example.org/a?b HTTP/1.1\r\n" + HOST + b"\r\n")[0].target == (
        "http://example.org/a?b"
    )
    assert parse(b"OPTIONS * HTTP/1.1\r\n" + HOST + b"\r\n")[0].target == "*"
    assert parse(b"CONNECT example.org:443 HTTP/1.1\r\n" + HOST + b"\r\n")[0].method == "CONNECT"


def test_empty_host_is_valid():
    """An empty Host value is allowed (RFC 9112 §3.2)."""
    (head, _) = parse(b"GET / HTTP/1.1\r\nHost:\r\n\r\n")
    assert head.headers.get("host") == ""


# -- limits ------------------------------------------------------------------------


def test_target_at_the_limit_is_accepted():
    """A request target of exactly 8 KiB is fine."""
    target = b"/" + b"a" * 8191
    (head, _) = parse(b"GET " + target + b" HTTP/1.1\r\n" + HOST + b"\r\n")
    assert len(head.target) == 8192


def test_target_over_the_limit_is_414():
    """A request target over 8 KiB gets 414."""
    target = b"/" + b"a" * 8192
    assert error_of(b"GET " + target + b" HTTP/1.1\r\n" + HOST + b"\r\n")[0] == 414


def test_endless_target_is_414_before_the_line_ends():
    """A request line that never ends is refused with 414 once it passes the limit."""
    parser = RequestParser()
    assert parser.receive(b"GET /" + b"a" * 8000) == []
    assert error_of(b"a" * 300, parser)[0] == 414


def test_endless_garbage_without_a_space_is_400():
    """A first line with no method separator that runs on is a 400."""
    assert error_of(b"X" * 9000)[0] == 400


def test_long_target_is_414_once_its_line_is_complete():
    """414 is decided when the request line ends, without waiting for the head."""
    parser = RequestParser()
    assert error_of(b"GET /" + b"a" * 8200 + b" HTTP/1.1\r\nHost: x\r\n", parser)[0] == 414


def header_section(size: int) -> bytes:
    """Field lines (each ending CRLF) whose section, final CRLF excluded, is ``size`` bytes."""
    fields = HOST + (b"X-Pad: " + b"p" * 998 + b"\r\n") * ((size - 1024) // 1024)
    fields += b"X-End: " + b"e" * (size + 2 - len(fields) - 9) + b"\r\n"
    assert len(fields) - 2 == size
    return fields


def test_header_section_at_the_limit_is_accepted():
    """A header section of exactly 32 KiB is fine."""
    events = parse(b"GET / HTTP/1.1\r\n" + header_section(32768) + b"\r\n")
    assert isinstance(events[0], RequestHead)


def test_header_section_over_the_limit_is_431():
    """A header section one byte over 32 KiB gets 431."""
    assert error_of(b"GET / HTTP/1.1\r\n" + header_section(32769) + b"\r\n")[0] == 431


def test_endless_header_section_is_431_before_it_ends():
    """A header section that never ends is refused once it passes 32 KiB."""
    parser = RequestParser()
    parser.receive(b"GET / HTTP/1.1\r\n" + HOST)
    line = b"X-Pad: " + b"p" * 1015 + b"\r\n"  # 1 KiB
    for _ in range(31):
        assert parser.receive(line) == []
    assert error_of(line, parser)[0] == 431


def test_hundred_fields_are_accepted_and_one_more_is_431():
    """100 field lines are allowed; 101 get 431."""
    fields = HOST + b"".join(b"X-%d: v\r\n" % i for i in range(99))
    assert isinstance(parse(b"GET / HTTP/1.1\r\n" + fields + b"\r\n")[0], RequestHead)
    assert error_of(b"GET / HTTP/1.1\r\n" + fields + b"X-Last: v\r\n\r\n")[0] == 431


def test_body_at_the_limit_is_accepted():
    """A body of exactly 1 MiB is fine."""
    size = 1 << 20
    events = parse(
        b"POST / HTTP/1.1\r\n" + HOST + b"Content-Length: %d\r\n\r\n" % size + b"x" * size
    )
    assert len(events[1].data) == size and events[2] == EndOfMessage()


def test_content_length_over_the_limit_is_413_at_once():
    """A Content-Length over 1 MiB gets 413 before any body byte is read."""
    data = b"POST / HTTP/1.1\r\n" + HOST + b"Content-Length: 1048577\r\n\r\n"
    assert error_of(data)[0] == 413


def test_absurd_content_length_is_413():
    """A Content-Length with dozens of digits is too large, not a crash."""
    data = b"POST / HTTP/1.1\r\n" + HOST + b"Content-Length: " + b"9" * 5000 + b"\r\n\r\n"
    assert error_of(data)[0] == 413


def test_chunked_body_over_the_limit_is_413():
    """Chunks adding up to more than 1 MiB get 413 when the chunk that crosses is announced."""
    parser = RequestParser()
    parser.receive(b"POST / HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: chunked\r\n\r\n")
    parser.receive(b"80000\r\n" + b"x" * 0x80000 + b"\r\n")
    parser.receive(b"80000\r\n" + b"x" * 0x80000 + b"\r\n")
    assert error_of(b"1\r\n", parser)[0] == 413


def test_huge_chunk_size_is_413():
    """A chunk size with more hex digits than any sane size is 413."""
    data = (
        b"POST / HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: chunked\r\n\r\n" + b"f" * 40 + b"\r\n"
    )
    assert error_of(data)[0] == 413


def test_smaller_limits_are_honoured():
    """Limits come from HTTPLimits."""
    parser = RequestParser(HTTPLimits(max_target=10, max_body=3))
    assert error_of(b"GET /" + b"a" * 10 + b" HTTP/1.1\r\n" + HOST + b"\r\n", parser)[0] == 414
    parser = RequestParser(HTTPLimits(max_target=10, max_body=3))
    assert error_of(b"POST / HTTP/1.1\r\n" + HOST + b"Content-Length: 4\r\n\r\n", parser)[0] == 413


# -- malformed requests ------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        b"GET /",
        b"GET  / HTTP/1.1",
        b"GET / HTTP/1.1 ",
        b" GET / HTTP/1.1",
        b"GET / extra HTTP/1.1",
        b"GET / HTTP/1.x",
        b"GET / HTTP/11",
        b"GET / http/1.1",
        b"G(T / HTTP/1.1",
        b"GET /\x7f HTTP/1.1",
        b"GET /a\tb HTTP/1.1",
        b"GET relative HTTP/1.1",
        b"GET * HTTP/1.1",
        b"CONNECT / HTTP/1.1",
    ],
)
def test_malformed_request_lines_are_400(line):
    """Request lines that break RFC 9112 §3 get 400."""
    status, _ = error_of(line + b"\r\n" + HOST + b"\r\n")
    assert status == 400


def test_http2_and_http0_are_505():
    """Major versions other than 1 get 505."""
    assert error_of(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")[0] == 505
    assert error_of(b"GET / HTTP/0.9\r\n\r\n")[0] == 505


def test_unknown_method_is_501():
    """A method the server does not know gets 501; methods are case-sensitive."""
    assert error_of(b"BREW /pot HTTP/1.1\r\n" + HOST + b"\r\n")[0] == 501
    assert error_of(b"get / HTTP/1.1\r\n" + HOST + b"\r\n")[0] == 501


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        (b"Host : example.org\r\n", "whitespace between header field name and colon"),
        (HOST + b"X-A: 1\r\n folded\r\n", "obsolete line folding in header section"),
        (HOST + b"NoColon\r\n", "header line without a colon"),
        (HOST + b"X(A): 1\r\n", "invalid header field name"),
        (HOST + b"X-A: a\rb\r\n", "bare CR or LF in header section"),
        (HOST + b"X-A: a\x00b\r\n", "invalid character in header field value"),
        (HOST + b": empty name\r\n", "invalid header field name"),
    ],
)
def test_malformed_fields_are_400_with_a_reason(fields, why):
    """Field lines that break RFC 9112 §5 get 400 saying what is wrong."""
    assert error_of(b"GET / HTTP/1.1\r\n" + fields + b"\r\n") == (400, why)


def test_bare_lf_line_endings_are_400():
    """Heads must use CRLF; a bare-LF head is refused, not waited for."""
    assert error_of(b"GET / HTTP/1.1\nHost: a\n\n")[0] == 400
    assert error_of(b"GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n")[0] == 400


def test_missing_host_in_http11_is_400():
    """An HTTP/1.1 request without Host gets 400 (RFC 9112 §3.2); HTTP/1.0 may omit it."""
    assert error_of(b"GET / HTTP/1.1\r\n\r\n") == (400, "HTTP/1.1 request without a Host header")
    assert isinstance(parse(b"GET / HTTP/1.0\r\n\r\n")[0], RequestHead)


def test_two_hosts_or_a_bad_host_are_400():
    """More than one Host, or an invalid Host value, gets 400."""
    assert error_of(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")[0] == 400
    assert error_of(b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n")[0] == 400
    assert error_of(b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n")[0] == 400


@pytest.mark.parametrize("value", [b"", b"+5", b"-1", b"0x5", b"5 5", b"five", b"5;", b"\xb5"])
def test_invalid_content_length_is_400(value):
    """A Content-Length that is not 1*DIGIT gets 400."""
    assert (
        error_of(b"POST / HTTP/1.1\r\n" + HOST + b"Content-Length: " + value + b"\r\n\r\n")[0]
        == 400
    )


def test_unsupported_expectation_is_417():
    """An expectation other than 100-continue gets 417."""
    assert error_of(b"GET / HTTP/1.1\r\n" + HOST + b"Expect: teapot\r\n\r\n")[0] == 417


@pytest.mark.parametrize(
    "line",
    [
        b"zz\r\n",
        b"0x5\r\n",
        b"-1\r\n",
        b" 5\r\n",
        b"5 \r\n",
        b"\r\n",
        b"5;ext\x00\r\n",
        b"5\n",
    ],
)
def test_malformed_chunk_size_is_400(line):
    """A chunk-size line that is not HEXDIG [ext] CRLF gets 400."""
    data = b"POST / HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: chunked\r\n\r\n" + line
    assert error_of(data)[0] == 400


def test_chunk_data_not_followed_by_crlf_is_400():
    """Chunk data longer than its size (no CRLF after it) gets 400."""
    data = b"POST / HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n"
    assert error_of(data)[0] == 400


def test_endless_chunk_size_line_is_400():
    """A chunk-size line that never ends is refused at its limit."""
    data = b"POST / HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: chunked\r\n\r\n5;" + b"e" * 5000
    assert error_of(data)[0] == 400


def test_input_after_an_error_is_ignored():
    """After a ParseError the parser discards everything."""
    parser = RequestParser()
    assert error_of(b"GET / HTTP/1.1\r\n\r\n", parser)[0] == 400
    assert parser.receive(b"GET / HTTP/1.1\r\n" + HOST + b"\r\n") == []
    assert parser.finished


# -- request smuggling -------------------------------------------------------------


def test_content_length_and_transfer_encoding_together_are_400():
    """CL.TE / TE.CL: both framings in one request is refused (RFC 9112 §6.1)."""
    cl_te = (
        b"POST / HTTP/1.1\r\n" + HOST + b"Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    te_cl = (
        b"POST / HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: chunked\r\nContent-Length: 6\r\n\r\n"
    )
    assert error_of(cl_te + b"0\r\n\r\nG") == (400, "both Content-Length and Transfer-Encoding")
    assert error_of(te_cl + b"0\r\n\r\nG") == (400, "both Content-Length and Transfer-Encoding")


def test_conflicting_content_lengths_are_400():
    """Two different Content-Length values are refused, as lines or as a list."""
    two_lines = b"Content-Length: 3\r\nContent-Length: 30\r\n"
    assert error_of(b"POST / HTTP/1.1\r\n" + HOST + two_lines + b"\r\n")[0] == 400
    assert error_of(b"POST / HTTP/1.1\r\n" + HOST + b"Content-Length: 3, 30\r\n\r\n")[0] == 400


@pytest.mark.parametrize(
    ("te", "status"),
    [
        (b"Transfer-Encoding: xchunked\r\n", 400),
        (b"Transfer-Encoding: chunked, identity\r\n", 400),
        (b"Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n", 400),
        (b"Transfer-Encoding: chunked, chunked\r\n", 400),
        (b"Transfer-Encoding:\r\n", 400),
        (b"Transfer-Encoding: gzip, chunked\r\n", 501),
        (b"Transfer-Encoding : chunked\r\n", 400),
        (b"Transfer-Encoding: \x0bchunked\r\n", 400),
        (b" Transfer-Encoding: chunked\r\n", 400),
    ],
)
def test_obfuscated_transfer_encodings_are_refused(te, status):
    """Transfer-Encoding values that hide or double 'chunked' never parse as a body."""
    assert error_of(b"POST / HTTP/1.1\r\n" + HOST + te + b"\r\n0\r\n\r\n")[0] == status


def test_transfer_encoding_in_http10_is_400():
    """HTTP/1.0 has no Transfer-Encoding: its framing is faulty (RFC 9112 §6.1)."""
    assert error_of(b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")[0] == 400


# -- properties --------------------------------------------------------------------

_token = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=12).filter(
    lambda s: (
        s.lower() not in {"host", "content-length", "transfer-encoding", "connection", "expect"}
    )
)
_value = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=30)
_path = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789/~%._-?=&", max_size=40)


@st.composite
def requests(draw: st.DrawFn) -> bytes:
    """One valid request: a GET, a Content-Length POST or a chunked POST."""
    kind = draw(st.sampled_from(["get", "length", "chunked"]))
    lines = [b"%s /%s HTTP/1.1" % (b"GET" if kind == "get" else b"POST", draw(_path).encode())]
    lines.append(b"Host: example.org")
    for name, value in draw(st.lists(st.tuples(_token, _value), max_size=5)):
        lines.append(name.encode() + b": " + value.encode())
    if kind == "get":
        return b"\r\n".join(lines) + b"\r\n\r\n"
    if kind == "length":
        body = draw(st.binary(max_size=200))
        lines.append(b"Content-Length: %d" % len(body))
        return b"\r\n".join(lines) + b"\r\n\r\n" + body
    lines.append(b"Transfer-Encoding: chunked")
    chunks = draw(st.lists(st.binary(min_size=1, max_size=50), max_size=4))
    body = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks)
    trailer = b"X-Trailer: t\r\n" if draw(st.booleans()) else b""
    return b"\r\n".join(lines) + b"\r\n\r\n" + body + b"0\r\n" + trailer + b"\r\n"


@settings(max_examples=200, deadline=None)
@given(st.lists(requests(), min_size=1, max_size=4), st.data())
def test_any_split_of_a_valid_stream_parses_the_same(stream, data):
    """However a valid request stream is cut into pieces, the events are the same."""
    whole = b"".join(stream)
    expected = parse(whole)
    assert not any(isinstance(e, ParseError) for e in expected)
    assert sum(isinstance(e, EndOfMessage) for e in expected) == len(stream)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(whole)), max_size=12)))
    parser = RequestParser()
    events: list = []
    start = 0
    for cut in [*cuts, len(whole)]:
        events.extend(parser.receive(whole[start:cut]))
        start = cut
    assert merge(events) == expected


@settings(max_examples=200, deadline=None)
@given(st.lists(requests(), min_size=1, max_size=4))
def test_byte_at_a_time_parses_the_same(stream):
    """Feeding a valid stream one byte at a time gives the same events."""
    whole = b"".join(stream)
    parser = RequestParser()
    events: list = []
    for i in range(len(whole)):
        events.extend(parser.receive(whole[i : i + 1]))
    assert merge(events) == parse(whole)


_noise = st.one_of(
    st.binary(max_size=300),
    st.lists(
        st.sampled_from(
            [
                b"GET",
                b"POST",
                b" ",
                b"/",
                b"HTTP/1.1",
                b"HTTP/1.0",
                b"\r\n",
                b"\n",
                b"\r",
                b":",
                b"Host: a",
                b"Content-Length: ",
                b"Transfer-Encoding: chunked",
                b"5",
                b"0",
                b"ff",
                b"\x00",
                b"\t",
                b"Connection: close",
                b"Expect: 100-continue",
                b";",
            ]
        ),
        max_size=40,
    ).map(b"".join),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_noise, min_size=1, max_size=5))
def test_arbitrary_bytes_never_raise(pieces):
    """No input makes the parser raise; after a ParseError nothing else comes."""
    parser = RequestParser()
    events: list = []
    for piece in pieces:
        events.extend(parser.receive(piece))
    errors = [i for i, e in enumerate(events) if isinstance(e, ParseError)]
    if errors:
        assert errors == [len(events) - 1]
        assert events[-1].status in {400, 413, 414, 417, 431, 501, 505}
    for event in events:
        if isinstance(event, RequestHead):
            assert event.method and event.target and event.version in {"1.0", "1.1"}
