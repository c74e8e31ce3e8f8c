"""The website's router (reality.gateways.router): patterns, parameters, methods."""

from __future__ import annotations

import pytest

from reality.gateways.router import Router
from reality.net.protocols.http import Headers, Request, Response


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
