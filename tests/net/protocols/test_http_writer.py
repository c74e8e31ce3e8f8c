"""The response writer (reality.net.protocols.http.writer): Date, framing, caching."""

from __future__ import annotations

from reality.net.protocols.http import DateCache, Response, ResponseWriter, http_date


def test_http_date_is_imf_fixdate():
    """Dates are IMF-fixdate in GMT (RFC 9110 §5.6.7)."""
    assert http_date(0) == "Thu, 01 Jan 1970 00:00:00 GMT"
    assert http_date(784111777) == "Sun, 06 Nov 1994 08:49:37 GMT"


def test_date_line_is_formatted_once_per_second():
    """DateCache reformats only when the second changes."""
    now = [100.1]
    cache = DateCache(lambda: now[0])
    first = cache.line()
    now[0] = 100.9
    assert cache.line() is first
    now[0] = 101.0
    assert cache.line() == b"Date: " + http_date(101).encode() + b"\r\n"
    assert cache.line() is not first


def test_writer_complete_response_bytes():
    """complete() renders a whole response, with close and keep-alive as asked."""
    writer = ResponseWriter(DateCache(lambda: 0))
    response = Response(201, {"Location": "/x"}, b"made")
    data, keep = writer.complete(response, keep_alive=False)
    assert keep is False
    assert data == (
        b"HTTP/1.1 201 Created\r\nDate: Thu, 01 Jan 1970 00:00:00 GMT\r\nLocation: /x\r\n"
        b"Content-Type: application/octet-stream\r\nContent-Length: 4\r\n"
        b"Connection: close\r\n\r\nmade"
    )


def test_writer_replaces_framing_fields_from_the_handler():
    """A handler's Content-Length, Transfer-Encoding and Date are replaced by the true ones."""
    writer = ResponseWriter(DateCache(lambda: 0))
    response = Response(
        200,
        [("Content-Length", "999"), ("Transfer-Encoding", "chunked"), ("Date", "x")],
        b"ab",
    )
    data, _ = writer.complete(response)
    assert data.count(b"Content-Length") == 1 and b"Content-Length: 2\r\n" in data
    assert b"Transfer-Encoding" not in data and b"Date: x" not in data


def test_unknown_status_gets_an_empty_reason():
    """A status without a known reason phrase is sent with an empty one."""
    writer = ResponseWriter(DateCache(lambda: 0))
    data, _ = writer.complete(Response(299, body=b""))
    assert data.startswith(b"HTTP/1.1 299 \r\n")


def test_chunk_framing():
    """chunk() frames one piece as hex size, CRLF, data, CRLF."""
    assert ResponseWriter.chunk(b"x" * 26) == b"1a\r\n" + b"x" * 26 + b"\r\n"


def test_served_again_response_follows_changes_and_the_clock():
    """A Response rendered before is re-rendered after any change; Date stays current."""
    now = [0.0]
    writer = ResponseWriter(DateCache(lambda: now[0]))
    page = Response(200, {"Content-Type": "text/plain"}, b"one")
    first, _ = writer.complete(page)
    assert writer.complete(page)[0] == first
    now[0] = 86400.0
    assert b"Date: Fri, 02 Jan 1970 00:00:00 GMT\r\n" in writer.complete(page)[0]
    page.body = b"two!"
    assert writer.complete(page)[0].endswith(b"Content-Length: 4\r\n\r\ntwo!")
    page.status = 404
    assert writer.complete(page)[0].startswith(b"HTTP/1.1 404 Not Found\r\n")
    page.headers.add("X-Extra", "1")
    assert b"X-Extra: 1\r\n" in writer.complete(page)[0]
    head, keep = writer.complete(page, head_only=True, keep_alive=False)
    assert head.endswith(b"Content-Length: 4\r\nConnection: close\r\n\r\n") and keep is False
