"""The Headers multi-dict (reality.net.protocols.http.headers)."""

from __future__ import annotations

import pytest

from reality.net.protocols.http import Headers


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
