"""The web client's page, ``/play``: its script, its policy, the links to it."""

from __future__ import annotations

import re

import pytest
from test_web import Site

from reality.gateways.templating import STATIC


@pytest.fixture
def s() -> Site:
    s = Site()
    s.join("alice")
    return s


def _csp(response) -> dict[str, str]:
    policy = response.headers.get("Content-Security-Policy")
    return {d.split()[0]: d for d in (part.strip() for part in policy.split(";")) if d}


def test_play_is_a_page_with_the_client_script_and_no_inline_script(s):
    """/play loads /play.js from the site (versioned) and has no inline script or handler."""
    response = s.get("/play")
    assert response.status == 200
    html = response.body.decode()
    assert re.search(r'<script src="/play\.js\?v=[0-9a-f]{12}" defer></script>', html)
    assert "<script>" not in html and not re.search(r"<script(?![^>]*src=)", html)
    assert not re.search(r"\son[a-z]+=", html)  # no event handler attributes
    assert 'role="log"' in html and 'aria-live="polite"' in html


def test_play_policy_allows_scripts_and_connections_to_the_site_only(s):
    """/play: script-src 'self', connect-src 'self'; no unsafe-inline/eval for scripts."""
    csp = _csp(s.get("/play"))
    assert csp["script-src"] == "script-src 'self'"
    assert csp["connect-src"] == "connect-src 'self'"
    assert "unsafe-eval" not in ";".join(csp.values())


@pytest.mark.parametrize("path", ["/", "/who", "/~alice", "/help", "/rooms", "/nope"])
def test_every_other_page_keeps_script_src_none(s, path):
    """Only /play may run a script: every other page says script-src 'none'."""
    assert _csp(s.get(path))["script-src"] == "script-src 'none'"


@pytest.mark.parametrize("path", ["/", "/who", "/~alice", "/help", "/rooms", "/nope"])
def test_every_page_links_to_play(s, path):
    """The front page and every homepage (every page) link to /play."""
    assert 'href="/play"' in s.get(path).body.decode()


@pytest.mark.parametrize(
    ("path", "kind"), [("/play.js", "text/javascript"), ("/play.css", "text/css")]
)
def test_the_client_files_are_served_with_their_types(s, path, kind):
    """play.js and play.css are served as they are on disk, with their content types."""
    response = s.get(path)
    assert response.status == 200
    assert response.headers.get("Content-Type").startswith(kind)
    assert response.body == (STATIC / path[1:]).read_bytes()
    assert response.headers.get("X-Content-Type-Options") == "nosniff"


def test_the_script_never_writes_html_from_game_text():
    """The client puts game text in the page as text: no innerHTML, no eval, no links made."""
    source = (STATIC / "play.js").read_text()
    for banned in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(",
                   "new Function", "createElement(\"a\")"):
        assert banned not in source, banned
