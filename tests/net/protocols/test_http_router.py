"""The HTTP router, the response writer's pieces, and the Headers multi-dict."""

from __future__ import annotations

import pytest

from reality.net.protocols.http import (
    DateCache,
    Headers,
    Request,
    Response,
    ResponseWriter,
    Router,
    error_response,
    http_date,
)


def request(method: str, raw_path: str) -> Request:
    return Request(method, raw_path, {}, Headers(), raw_path=raw_path)


def named(name: str):
    def handler(req: Request) -> Response:
        return Response.text(f"{name} {req.params}")

    return handler


@pytest.fixture
def router() -> Router:
    r = Router()
    r.add("/", named("home"))
    r.add("/~{name}", named("homepage"))
    r.add("/players/{name}", named("player"))
    r.add("/status.json", named("status"))
    r.add("/files/{name}.{ext}", named("file"))
    r.add("/mail", named("post"), methods=["POST"])
    r.add("/mail", named("list"))
    return r


def body(response: Response) -> str:
    return bytes(response.body).decode()


def test_static_route(router):
    """A path without parameters matches exactly."""
    assert body(router(request("GET", "/"))) == "home {}"
    assert body(router(request("GET", "/status.json"))) == "status {}"


def test_parameters_are_captured_and_decoded(router):
    """{name} captures one segment piece, percent-decoded as UTF-8."""
    assert body(router(request("GET", "/~alice"))) == "homepage {'name': 'alice'}"
    assert body(router(request("GET", "/players/b%C3%B6b"))) == "player {'name': 'böb'}"
    assert body(router(request("GET", "/files/a.b.txt"))) == "file {'name': 'a.b', 'ext': 'txt'}"


def test_escaped_slash_stays_inside_a_parameter(router):
    """%2F in a segment is data, not a separator: it cannot reach another route."""
    assert body(router(request("GET", "/players/a%2Fb"))) == "player {'name': 'a/b'}"
    assert router(request("GET", "/players/a/b")).status == 404


def test_escaped_unreserved_characters_match_their_plain_form(router):
    """%7E is ~ and %2E is . (RFC 3986 §6.2.2.2), so /%7Ealice is /~alice."""
    assert body(router(request("GET", "/%7Ealice"))) == "homepage {'name': 'alice'}"
    assert body(router(request("GET", "/status%2Ejson"))) == "status {}"


def test_empty_parameter_does_not_match(router):
    """A parameter needs at least one character."""
    assert router(request("GET", "/~")).status == 404


def test_get_implies_head(router):
    """A GET route also answers HEAD."""
    assert router(request("HEAD", "/~alice")).status == 200


def test_other_known_method_is_405_with_allow(router):
    """A known method the route does not take gets 405 and the Allow list."""
    response = router(request("PUT", "/~alice"))
    assert response.status == 405
    assert response.headers.get("Allow") == "GET, HEAD"
    assert router(request("DELETE", "/mail")).headers.get("allow") == "GET, HEAD, POST"


def test_methods_on_one_pattern_are_merged(router):
    """Two add() calls for one pattern with different methods both work."""
    assert body(router(request("POST", "/mail"))) == "post {}"
    assert body(router(request("GET", "/mail"))) == "list {}"


def test_unknown_method_is_501(router):
    """A method the server does not know is 501, even on a known path."""
    assert router(request("BREW", "/")).status == 501


def test_unknown_path_is_404_or_the_sites_page(router):
    """An unknown path is 404; a not_found handler can answer it instead."""
    assert router(request("GET", "/nowhere")).status == 404
    custom = Router(not_found=lambda r: Response.html("<h1>lost</h1>", status=404))
    response = custom(request("GET", "/x"))
    assert (response.status, response.body) == (404, b"<h1>lost</h1>")


def test_route_decorator_registers(router):
    """@router.route(pattern) registers the function it decorates."""

    @router.route("/who")
    def who(req: Request) -> Response:
        return Response.text("who")

    assert body(router(request("GET", "/who"))) == "who"


@pytest.mark.parametrize("pattern", ["no-slash", "/{", "/a}", "/{1x}", "/{a}/{a}"])
def test_malformed_patterns_are_refused(pattern):
    """Patterns that cannot be meant are refused when added, with a ValueError."""
    with pytest.raises(ValueError):
        Router().add(pattern, named("x"))


def test_second_handler_for_the_same_route_is_refused(router):
    """Registering a different handler for a method and pattern already taken fails."""
    with pytest.raises(ValueError):
        router.add("/", named("other"))


# -- writer pieces -----------------------------------------------------------------


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


def test_response_helpers_set_types():
    """html/text/json set their Content-Type; error_response says status and reason."""
    assert Response.html("é").headers.get("content-type") == "text/html; charset=utf-8"
    assert Response.html("é").body == "é".encode()
    assert Response.json({"a": 1}).body == b'{"a":1}'
    assert Response.json({}).headers.get("content-type") == "application/json"
    assert error_response(404).body == b"404 Not Found\n"
    assert error_response(400, "why").body == b"400 Bad Request: why\n"


# -- Headers -----------------------------------------------------------------------


def test_headers_multidict_operations():
    """Headers keep order and case, look up case-insensitively, and support set/remove."""
    headers = Headers([("Set-Cookie", "a=1"), ("X-One", "1"), ("set-cookie", "b=2")])
    assert headers.get_all("SET-COOKIE") == ["a=1", "b=2"]
    assert list(headers) == ["Set-Cookie", "X-One", "set-cookie"]
    headers.set("x-one", "uno")
    assert headers.items()[-1] == ("x-one", "uno") and len(headers) == 3
    headers.remove("Set-Cookie")
    assert headers.items() == [("x-one", "uno")]
    assert headers.get("missing") is None and "missing" not in headers
    with pytest.raises(KeyError):
        headers["missing"]
    assert Headers({"A": "1"}) == Headers([("a", "1")])
    copy = headers.copy()
    copy.add("new", "v")
    assert "new" not in headers


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
