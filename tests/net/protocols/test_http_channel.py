"""HTTPChannel (reality.net.protocols.http.channel) over a StringTransport with a fake Clock."""

from __future__ import annotations

import inspect
import logging

import pytest
from http_harness import DATE, GET, Harness, get, hello

from reality.gateways.router import Router
from reality.net.defer import Deferred, succeed
from reality.net.protocols.http import Request, Response


def test_get_is_answered_byte_for_byte():
    """A GET gets status line, Date, Content-Type with charset, Content-Length, body."""
    h = Harness(hello)
    assert h.send(GET) == (
        b"HTTP/1.1 200 OK\r\n" + DATE + b"Content-Type: text/plain; charset=utf-8\r\n"
        b"Content-Length: 7\r\n\r\nhello /"
    )
    assert not h.transport.disconnecting


def test_head_gets_the_headers_of_get_without_the_body():
    """HEAD is answered with GET's header section (Content-Length included), no body."""
    h = Harness(hello)
    assert h.send(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n") == (
        b"HTTP/1.1 200 OK\r\n" + DATE + b"Content-Type: text/plain; charset=utf-8\r\n"
        b"Content-Length: 7\r\n\r\n"
    )


def test_request_object_carries_what_was_sent():
    """The handler sees method, decoded path, parsed query, headers, body, version, peer."""
    seen: list[Request] = []

    def handler(request: Request) -> Response:
        seen.append(request)
        return Response(204)

    h = Harness(handler)
    h.send(
        b"POST /a%20b?x=1&x=2&y=&z HTTP/1.1\r\nHost: example.org:8080\r\n"
        b"Content-Length: 4\r\nX-Thing: yes\r\n\r\nbody"
    )
    (request,) = seen
    assert request.method == "POST"
    assert request.path == "/a b" and request.raw_path == "/a%20b"
    assert request.query == {"x": ["1", "2"], "y": [""], "z": [""]}
    assert request.arg("x") == "1" and request.arg("missing", "d") == "d"
    assert request.headers.get("X-THING") == "yes"
    assert request.body == b"body"
    assert request.version == "1.1"
    assert request.host == "example.org:8080"
    assert request.peer == h.transport.get_peer()


def test_absolute_form_target_gives_path_and_host():
    """An absolute-form target is split into path and query; its authority is the host."""
    seen: list[Request] = []
    h = Harness(lambda r: seen.append(r) or Response(204))
    h.send(b"GET http://other.example/p/q?k=v HTTP/1.1\r\nHost: ignored\r\n\r\n")
    assert (seen[0].path, seen[0].query, seen[0].host) == ("/p/q", {"k": ["v"]}, "other.example")


def test_chunked_request_body_and_trailers_reach_the_handler():
    """A chunked body is joined for the handler and its trailers are on the request."""
    seen: list[Request] = []
    h = Harness(lambda r: seen.append(r) or Response(204))
    h.send(
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nabc\r\n2\r\nde\r\n0\r\nX-Sum: 5\r\n\r\n"
    )
    assert seen[0].body == b"abcde"
    assert seen[0].trailers.get("x-sum") == "5"


def test_204_and_304_carry_no_body_or_length():
    """204 and 304 responses never have Content-Length or a body."""
    h = Harness(lambda r: Response(204, body=b"ignored") if r.path == "/a" else Response(304))
    assert h.send(get("/a")) == b"HTTP/1.1 204 No Content\r\n" + DATE + b"\r\n"
    assert h.send(get("/b")) == b"HTTP/1.1 304 Not Modified\r\n" + DATE + b"\r\n"


def test_text_types_get_a_charset_and_untyped_bodies_octet_stream():
    """text/* without charset gets '; charset=utf-8'; a body without a type is octet-stream."""
    h = Harness(
        lambda r: (
            Response(200, {"Content-Type": "text/css"}, b"a{}")
            if r.path == "/css"
            else Response(200, body=b"\x00\x01")
        )
    )
    assert b"Content-Type: text/css; charset=utf-8\r\n" in h.send(get("/css"))
    assert b"Content-Type: application/octet-stream\r\n" in h.send(get("/bin"))


# -- persistence ---------------------------------------------------------------------


def test_http11_keeps_the_connection_open():
    """HTTP/1.1 is persistent by default: several requests on one connection."""
    h = Harness(hello)
    for i in range(3):
        assert h.send(get(f"/{i}")).endswith(b"hello /%d" % i)
    assert not h.transport.disconnecting


def test_connection_close_is_honoured():
    """Connection: close gets 'Connection: close' in the response, then the close."""
    h = Harness(hello)
    out = h.send(get("/", b"Connection: close\r\n"))
    assert b"Connection: close\r\n" in out
    assert h.transport.disconnecting


def test_http10_closes_unless_keep_alive_is_asked():
    """HTTP/1.0 closes after the response; with keep-alive it stays and says so."""
    h = Harness(hello)
    out = h.send(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"Connection: keep-alive\r\n" in out
    assert not h.transport.disconnecting
    out = h.send(b"GET / HTTP/1.0\r\n\r\n")
    assert b"Connection: close\r\n" in out
    assert h.transport.disconnecting


def test_handler_asking_to_close_closes():
    """A handler's 'Connection: close' is honoured after its response."""
    h = Harness(lambda r: Response(200, {"Connection": "close"}, b"bye"))
    assert h.send(GET).endswith(b"Connection: close\r\n\r\nbye")
    assert h.transport.disconnecting


# -- pipelining and Deferreds --------------------------------------------------------


def test_pipelined_requests_are_answered_in_order():
    """Several requests in one read are answered one after another, in order."""
    h = Harness(hello)
    out = h.send(get("/1") + get("/2") + get("/3"))
    assert [part.split(b"\r\n\r\n")[1] for part in out.split(b"HTTP/1.1 200 OK")[1:]] == [
        b"hello /1",
        b"hello /2",
        b"hello /3",
    ]


def test_later_handler_finishing_first_still_waits_its_turn():
    """Responses go out in request order even when a later handler finishes first."""
    pending: dict[str, Deferred] = {}

    def handler(request: Request):
        if request.path == "/slow":
            pending["slow"] = Deferred()
            return pending["slow"]
        return Response.text("fast")

    h = Harness(handler)
    assert h.send(get("/slow") + get("/fast")) == b""
    assert h.transport.reading_paused
    pending["slow"].callback(Response.text("slow"))
    out = h.transport.take()
    assert out.index(b"slow") < out.index(b"fast")
    assert out.count(b"HTTP/1.1 200 OK") == 2
    assert not h.transport.reading_paused


def test_coroutine_handlers_work():
    """A coroutine handler's awaited result is the response."""
    gate: Deferred = Deferred()

    async def handler(request: Request) -> Response:
        text = await gate
        return Response.text(text)

    h = Harness(handler)
    assert h.send(GET) == b""
    gate.callback("later")
    assert h.transport.take().endswith(b"\r\n\r\nlater")


def test_handler_exception_is_a_logged_500_and_the_connection_lives(caplog):
    """A handler that raises gives 500 (logged with traceback); the next request works."""

    def handler(request: Request) -> Response:
        if request.path == "/boom":
            raise RuntimeError("kaboom")
        return Response.text("fine")

    h = Harness(handler)
    with caplog.at_level(logging.ERROR, logger="reality.net.protocols.http"):
        out = h.send(get("/boom"))
    assert out.startswith(b"HTTP/1.1 500 Internal Server Error\r\n")
    assert b"kaboom" not in out  # no internals leak to the client
    assert "kaboom" in caplog.text and "Traceback" in caplog.text
    assert not h.transport.disconnecting
    assert h.send(get("/ok")).endswith(b"fine")


def test_failed_deferred_and_wrong_result_are_500():
    """An errback, or a result that is not a Response, becomes a 500."""
    h = Harness(lambda r: Deferred() if r.path == "/never" else None)
    d: Deferred = Deferred()
    h2 = Harness(lambda r: d)
    assert h2.send(GET) == b""
    d.errback(ValueError("nope"))
    assert h2.transport.take().startswith(b"HTTP/1.1 500 ")
    assert h.send(get("/none")).startswith(b"HTTP/1.1 500 ")


def test_deferred_that_already_fired_is_answered_at_once():
    """A handler returning succeed(response) is answered in the same call."""
    h = Harness(lambda r: succeed(Response.text("now")))
    assert h.send(get("/1") + get("/2")).count(b"now") == 2


def test_pipeline_depth_is_bounded():
    """At most max_pipeline requests are in handlers at once; the rest wait unparsed."""
    pending: list[Deferred] = []

    def handler(request: Request):
        d: Deferred = Deferred()
        pending.append(d)
        return d

    h = Harness(handler, max_pipeline=2)
    h.send(b"".join(get(f"/{i}") for i in range(5)))
    assert len(pending) == 2
    assert h.transport.reading_paused
    pending[0].callback(Response.text("0"))
    assert len(pending) == 3  # one slot freed, one more request parsed
    for i in range(1, 5):
        pending[i].callback(Response.text(str(i)))
    out = h.transport.take()
    bodies = [part.rsplit(b"\r\n\r\n", 1)[1] for part in out.split(b"HTTP/1.1 ")[1:]]
    assert bodies == [b"0", b"1", b"2", b"3", b"4"]
    assert not h.transport.reading_paused


def test_pause_writing_holds_responses_and_reading():
    """While the transport is paused, nothing more is written or read; resume continues."""
    d: Deferred = Deferred()
    h = Harness(lambda r: d if r.path == "/later" else Response.text("x"))
    h.send(get("/later"))
    h.channel.pause_writing()
    d.callback(Response.text("ready"))
    assert h.transport.take() == b""
    assert h.transport.reading_paused
    h.channel.resume_writing()
    assert h.transport.take().endswith(b"ready")
    assert not h.transport.reading_paused


# -- streamed bodies ---------------------------------------------------------------


def test_iterable_body_is_chunked_for_http11():
    """An iterable body goes out with the chunked coding; empty pieces are skipped."""
    h = Harness(lambda r: Response(200, {"Content-Type": "text/plain"}, iter([b"ab", b"", b"cde"])))
    assert h.send(GET) == (
        b"HTTP/1.1 200 OK\r\n" + DATE + b"Content-Type: text/plain; charset=utf-8\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n"
    )
    assert not h.transport.disconnecting


def test_iterable_body_to_http10_is_close_delimited():
    """HTTP/1.0 gets no chunked coding: the body ends with the connection."""
    h = Harness(lambda r: Response(200, body=[b"ab", b"cd"]))
    out = h.send(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    assert out.endswith(b"Connection: close\r\n\r\nabcd")
    assert b"Transfer-Encoding" not in out and b"Content-Length" not in out
    assert h.transport.disconnecting


def test_iterable_body_with_declared_length_is_sent_raw():
    """An iterable body with a Content-Length from the handler is sent unframed."""
    h = Harness(lambda r: Response(200, {"Content-Length": "4"}, [b"ab", b"cd"]))
    assert h.send(GET).endswith(b"Content-Length: 4\r\n\r\nabcd")


def test_head_with_iterable_body_sends_no_body_and_closes_the_iterator():
    """HEAD with a generator body sends headers only and closes the generator."""
    gen = (chunk for chunk in [b"never"])
    h = Harness(lambda r: Response(200, body=gen))
    out = h.send(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert out.endswith(b"Transfer-Encoding: chunked\r\n\r\n")
    assert b"never" not in out
    assert inspect.getgeneratorstate(gen) == inspect.GEN_CLOSED


def test_stream_is_closed_when_the_connection_is_lost():
    """A generator body still being written is closed when the client goes away."""
    finished: list[bool] = []

    def body():
        try:
            while True:
                yield b"x" * 100
        finally:
            finished.append(True)

    h = Harness(lambda r: Response(200, body=body()))
    h.send(GET)
    h.channel.pause_writing()
    h.clock.advance(0)
    h.transport.lose_connection()
    assert finished == [True]


def test_response_arriving_after_the_client_left_is_dropped():
    """A Deferred response that fires after connection_lost writes nothing, raises nothing."""
    d: Deferred = Deferred()
    h = Harness(lambda r: d)
    h.send(GET)
    h.transport.lose_connection()
    h.transport.take()
    d.callback(Response.text("too late"))
    assert h.transport.take() == b""


def test_long_stream_yields_to_the_reactor_between_batches():
    """A long generator is written in batches with a call_later(0) between them."""
    h = Harness(lambda r: Response(200, body=(b"x" for _ in range(200))))
    out = h.send(GET)
    assert out.count(b"1\r\nx\r\n") == 64
    for _ in range(10):
        h.clock.advance(0)
    out += h.transport.take()
    assert out.count(b"1\r\nx\r\n") == 200 and out.endswith(b"0\r\n\r\n")


def test_failing_iterator_aborts_the_connection(caplog):
    """A body iterator that raises after the head is out cuts the connection (and logs)."""

    def body():
        yield b"part"
        raise RuntimeError("disk on fire")

    h = Harness(lambda r: Response(200, body=body()))
    with caplog.at_level(logging.ERROR):
        h.send(GET)
    assert h.transport.aborted
    assert "disk on fire" in caplog.text


def test_header_injection_is_refused_with_500(caplog):
    """A header value with CR/LF from a handler is never written: 500 instead."""
    h = Harness(lambda r: Response(200, {"X-Evil": "a\r\nSet-Cookie: x=1"}, b"body"))
    with caplog.at_level(logging.ERROR):
        out = h.send(GET)
    assert out.startswith(b"HTTP/1.1 500 ")
    assert b"Set-Cookie" not in out


def test_interim_status_as_a_final_answer_is_refused_with_500(caplog):
    """A 1xx status is never a final response: 500 instead."""
    h = Harness(lambda r: Response(101))
    with caplog.at_level(logging.ERROR):
        assert h.send(GET).startswith(b"HTTP/1.1 500 ")
    assert "status must be" in caplog.text


def test_str_body_is_refused_with_500(caplog):
    """A str body is a handler bug: 500, logged."""
    h = Harness(lambda r: Response(200, body="text"))  # type: ignore[arg-type]
    with caplog.at_level(logging.ERROR):
        assert h.send(GET).startswith(b"HTTP/1.1 500 ")


def test_cached_response_is_reencoded_when_its_headers_change():
    """A Response served twice uses fresh header fields after they are changed."""
    page = Response.html("<p>x</p>")
    h = Harness(lambda r: page)
    first = h.send(GET)
    page.headers.set("X-Version", "2")
    second = h.send(GET)
    assert b"X-Version" not in first and b"X-Version: 2\r\n" in second


# -- errors and framing before routing -------------------------------------------


def test_parse_error_is_answered_after_earlier_responses_then_closed():
    """A bad request after good ones: good answers first, then 400 with close."""
    h = Harness(hello)
    out = h.send(get("/ok") + b"GET / HTTP/1.1\r\nX-A : x\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 200 OK")
    tail = out[out.index(b"HTTP/1.1 400") :]
    assert tail == (
        b"HTTP/1.1 400 Bad Request\r\n" + DATE + b"Content-Type: text/plain; charset=utf-8\r\n"
        b"Content-Length: 64\r\nConnection: close\r\n\r\n"
        b"400 Bad Request: whitespace between header field name and colon\n"
    )


def test_error_close_lingers_to_drain_input():
    """After an error the channel drops input until it pauses, then closes (no RST)."""
    h = Harness(hello)
    h.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n")
    assert not h.transport.disconnecting
    assert not h.transport.reading_paused
    for _ in range(5):  # the body the client had already sent keeps coming
        h.clock.advance(0.2)
        h.send(b"x" * 10000)
        assert not h.transport.disconnecting
    h.clock.advance(0.25)
    assert h.transport.disconnecting


def test_linger_is_bounded_in_time():
    """A client that never stops sending after an error is closed after 2 s anyway."""
    h = Harness(hello)
    h.send(b"GET / HTTP/1.1\r\n\r\n")
    for _ in range(30):
        h.clock.advance(0.1)
        h.send(b"y" * 100)
        if h.transport.disconnecting:
            break
    assert h.transport.disconnecting
    assert 2.0 <= h.clock.seconds() <= 2.3


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET /nowhere HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n", b"400"),
        (b"POST /nowhere HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n", b"413"),
        (b"POST /page HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n", b"413"),
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", b"414"),
        (b"GET /page HTTP/1.1\r\nHost: x\r\n" + b"X-F: v\r\n" * 101 + b"\r\n", b"431"),
        (
            b"POST /page HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n",
            b"400",
        ),
    ],
)
def test_framing_errors_win_over_routing(request_bytes, status):
    """400/413/414/431 are decided before routing: no handler runs, not 404 or 405."""
    called: list[Request] = []
    router = Router()
    router.add("/page", lambda r: called.append(r) or Response.text("page"))
    h = Harness(router)
    assert h.send(request_bytes).startswith(b"HTTP/1.1 " + status)
    assert called == []


def test_unknown_method_is_501_and_known_one_on_get_route_is_405():
    """BREW gets 501; DELETE on a GET-only route gets 405 with Allow."""
    router = Router()
    router.add("/page", lambda r: Response.text("page"))
    h = Harness(router)
    out = h.send(b"DELETE /page HTTP/1.1\r\nHost: x\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 405 Method Not Allowed\r\n") and b"Allow: GET, HEAD\r\n" in out
    assert h.send(b"BREW /page HTTP/1.1\r\nHost: x\r\n\r\n").startswith(b"HTTP/1.1 501 ")


# -- Expect: 100-continue ----------------------------------------------------------


def test_100_continue_is_sent_before_the_body_is_read():
    """With Expect: 100-continue, '100 Continue' goes out after the head; then the answer."""
    h = Harness(lambda r: Response.text(r.body.decode()))
    head = b"PUT / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n"
    assert h.send(head) == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert h.send(b"data").endswith(b"\r\n\r\ndata")


def test_no_100_continue_when_the_body_came_along():
    """A client that sent the body with the head gets no interim response."""
    h = Harness(lambda r: Response.text(r.body.decode()))
    out = h.send(
        b"PUT / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\ndata"
    )
    assert b"100 Continue" not in out and out.endswith(b"data")


def test_too_large_body_gets_413_instead_of_100_continue():
    """If the announced body is too large, the final 413 comes instead of 100."""
    h = Harness(hello)
    out = h.send(
        b"PUT / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2000000\r\n\r\n"
    )
    assert out.startswith(b"HTTP/1.1 413 Content Too Large\r\n") and b"100 Continue" not in out


def test_100_continue_waits_for_earlier_responses():
    """The interim 100 is not sent while an earlier pipelined response is pending."""
    d: Deferred = Deferred()
    h = Harness(lambda r: d if r.path == "/slow" else Response.text("put"))
    out = h.send(
        get("/slow")
        + b"PUT /p HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n"
    )
    assert out == b""
    d.callback(Response.text("slow"))
    out = h.transport.take()
    assert out.endswith(b"slow" + b"HTTP/1.1 100 Continue\r\n\r\n")


# -- timeouts ------------------------------------------------------------------------


def test_header_deadline_is_total_not_reset_by_each_byte():
    """A head dribbled byte by byte is cut off 10 s after its first byte, with 408."""
    h = Harness(hello)
    for byte in b"GET / HTTP/1.1\r\nHost: x\r\n":
        h.send(bytes([byte]))
        h.clock.advance(0.3)
        if h.clock.seconds() >= 9.9:
            break
    assert not h.transport.disconnecting
    h.clock.advance(10 - h.clock.seconds())
    assert h.transport.take().startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    h.clock.advance(2)  # linger
    assert h.transport.disconnecting


def test_header_deadline_starts_at_the_first_byte():
    """The 10 s deadline counts from the head's first byte, not from the connection."""
    h = Harness(hello)
    h.clock.advance(8)
    h.send(b"GET / HT")
    h.clock.advance(9.9)
    assert h.transport.take() == b""
    h.clock.advance(0.1)
    assert h.transport.take().startswith(b"HTTP/1.1 408 ")


def test_complete_head_in_time_is_served():
    """A head finishing just before the deadline is served normally."""
    h = Harness(hello)
    h.send(b"GET / HTTP/1.1\r\n")
    h.clock.advance(9.9)
    assert h.send(b"Host: x\r\n\r\n").startswith(b"HTTP/1.1 200 OK")
    h.clock.advance(5)
    assert not h.transport.disconnecting


def test_idle_keep_alive_connection_closes_after_15_seconds():
    """A kept-alive connection with nothing to do is closed after 15 idle seconds."""
    h = Harness(hello)
    h.send(GET)
    h.clock.advance(14.9)
    assert not h.transport.disconnecting
    h.send(GET)  # activity restarts the count
    h.clock.advance(14.9)
    assert not h.transport.disconnecting
    h.clock.advance(0.2)
    assert h.transport.disconnecting
    assert h.transport.take() == b""  # idle close sends nothing


def test_silent_connection_closes_after_the_idle_timeout():
    """A connection that never sends a byte is closed after 15 s."""
    h = Harness(hello)
    h.clock.advance(15)
    assert h.transport.disconnecting


def test_slow_handler_does_not_count_as_client_idleness():
    """While our handler works, the idle clock does not run against the client."""
    d: Deferred = Deferred()
    h = Harness(lambda r: d)
    h.send(GET)
    h.clock.advance(40)
    assert not h.transport.disconnecting
    d.callback(Response.text("late"))
    assert h.transport.take().endswith(b"late")
    h.clock.advance(14)
    assert not h.transport.disconnecting
    h.clock.advance(16)
    assert h.transport.disconnecting


def test_stalled_body_gets_408():
    """A body that stops arriving is answered 408 after the idle timeout."""
    h = Harness(hello)
    h.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
    h.clock.advance(15)
    assert h.transport.take().startswith(b"HTTP/1.1 408 ")


def test_timers_are_cancelled_when_the_connection_ends():
    """After connection_lost no timer of the channel is left on the clock."""
    h = Harness(hello)
    h.send(b"GET / HT")
    h.transport.lose_connection()
    assert h.clock.get_delayed_calls() == []


def test_eof_after_request_still_gets_the_answer():
    """A client that half-closes after its request still gets the response."""
    d: Deferred = Deferred()
    h = Harness(lambda r: d)
    h.send(GET)
    assert h.channel.eof_received() is True
    d.callback(Response.text("done"))
    assert h.transport.take().endswith(b"done")
    assert h.transport.disconnecting


# -- request bodies: a total deadline, and refused where the route takes none ----------


def echo_body(request: Request) -> Response:
    return Response.text(f"got {len(request.body)}")


def test_body_deadline_is_total_not_reset_by_each_byte():
    """A body dribbled one byte a second is cut off 30 s after its head with 408 and
    the connection closed, although no gap ever reaches the idle timeout."""
    h = Harness(echo_body)
    h.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n")
    for _ in range(29):
        h.clock.advance(1)
        assert h.send(b"a") == b""
    assert not h.transport.disconnecting
    h.clock.advance(1)
    assert h.transport.take().startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    h.clock.advance(2.5)  # the bounded linger
    assert h.transport.disconnecting


def test_body_deadline_is_configurable_and_a_body_in_time_is_served():
    """body_timeout sets the deadline; a body complete before it is answered and the
    deadline does not carry over to the next request on the connection."""
    h = Harness(echo_body, body_timeout=5)
    h.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nab")
    h.clock.advance(4)
    assert h.send(b"cd").endswith(b"got 4")
    h.clock.advance(4)
    h.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nab")
    h.clock.advance(4.9)
    assert not h.transport.disconnecting and h.transport.take() == b""
    h.clock.advance(0.1)
    assert h.transport.take().startswith(b"HTTP/1.1 408 ")


def test_chunked_body_has_the_same_deadline():
    """A chunked body trickled in small chunks meets the same total deadline."""
    h = Harness(echo_body, body_timeout=5)
    h.send(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
    for _ in range(4):
        h.clock.advance(1)
        assert h.send(b"1\r\na\r\n") == b""
    h.clock.advance(1)
    assert h.transport.take().startswith(b"HTTP/1.1 408 ")


def test_body_deadline_waits_while_our_own_responses_hold_the_pipeline():
    """Time spent waiting on an earlier pipelined response is not charged to the body."""
    d: Deferred = Deferred()
    h = Harness(lambda r: d if r.path == "/slow" else echo_body(r), body_timeout=5)
    h.send(get("/slow") + b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\na")
    h.clock.advance(10)
    d.callback(Response.text("slow"))
    assert h.transport.take().endswith(b"slow")
    h.clock.advance(4)
    assert h.send(b"b").endswith(b"got 2")


def test_body_for_a_route_that_takes_none_is_refused_at_once_without_reading_it():
    """POST to a GET route with a big Content-Length gets 405 (with Allow) as soon as the
    head arrives; a GET with a body gets 413; an unknown path 404; no handler runs,
    nothing more is parsed, and the connection closes after a bounded linger."""
    called: list[Request] = []
    router = Router()
    router.add("/who", lambda r: called.append(r) or Response.text("who"))
    for head, status in [
        (b"POST /who HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n", b"405"),
        (b"GET /who HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n", b"413"),
        (b"POST /nowhere HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", b"404"),
        (b"POST /who HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 9\r\n\r\n",
         b"405"),
    ]:
        h = Harness(router)
        out = h.send(head)
        assert out.startswith(b"HTTP/1.1 " + status), out
        assert b"100 Continue" not in out
        if status == b"405":
            assert b"Allow: GET, HEAD\r\n" in out
        assert h.channel._parser.finished and h.channel._parser.buffered == 0
        h.send(b"x" * 65536 + get("/who"))  # the body, and a request smuggled behind it
        assert h.transport.take() == b""
        h.clock.advance(2.5)
        assert h.transport.disconnecting
    assert called == []


def test_routes_that_take_a_body_still_get_it():
    """POST routes take a body by default; body=False refuses it, body=True allows one
    on another method; requests before a refused one are answered first."""
    router = Router()
    router.add("/post", echo_body, methods=("POST",))
    router.add("/ping", echo_body, methods=("POST",), body=False)
    router.add("/search", echo_body, methods=("GET",), body=True)
    h = Harness(router)
    assert h.send(b"POST /post HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc").endswith(
        b"got 3"
    )
    assert h.send(b"GET /search HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab").endswith(
        b"got 2"
    )
    assert h.send(b"POST /ping HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n").endswith(
        b"got 0"
    )
    out = h.send(get("/search") + b"POST /ping HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 200 OK") and b"HTTP/1.1 413 " in out


def test_a_handler_without_body_refusal_reads_bodies_as_before():
    """A plain function handler has no say before the body: it is read and handled."""
    h = Harness(echo_body)
    assert h.send(b"PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc").endswith(
        b"got 3"
    )
