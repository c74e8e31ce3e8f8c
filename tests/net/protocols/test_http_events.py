"""Request and Response values (reality.net.protocols.http.events)."""

from __future__ import annotations

from reality.net.protocols.http import Response, error_response


def test_response_helpers_set_types():
    """html/text/json set their Content-Type; error_response says status and reason."""
    assert Response.html("é").headers.get("content-type") == "text/html; charset=utf-8"
    assert Response.html("é").body == "é".encode()
    assert Response.json({"a": 1}).body == b'{"a":1}'
    assert Response.json({}).headers.get("content-type") == "application/json"
    assert error_response(404).body == b"404 Not Found\n"
    assert error_response(400, "why").body == b"400 Bad Request: why\n"
