"""The website's cached pages and conditional requests (RFC 9110).

A :class:`Page` is one rendered resource: the response, its ``304 Not
Modified`` twin, its strong ``ETag`` (a hash of its body, §8.8.3) and
``Last-Modified`` (§8.8.2), and whether it is stale. :func:`answer` picks
the one to send: ``If-None-Match`` (§13.1.2, weak comparison) wins over
``If-Modified-Since`` (§13.1.3, §13.2.2), and a match is answered ``304``
(§15.4.5). :class:`RenderBudget` bounds how often a busy page is drawn
again.
"""

from __future__ import annotations

from email.utils import parsedate_to_datetime

from reality.net.protocols.http import Request, Response

__all__ = ["CSP", "PLAY_CSP", "Page", "RenderBudget", "answer"]

#: The Content-Security-Policy every page carries. Player text and world
#: text never bring their own scripts, frames or plugins; colour spans need
#: inline styles. Images come only from this site (or inline data: URLs): an
#: image from elsewhere would tell that site the address of everyone who
#: looks at a homepage. render_markdown turns off-site images into links, so
#: the browser never even tries.
CSP = (
    "default-src 'self'; script-src 'none'; object-src 'none'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'; img-src 'self' data:; "
    "style-src 'self' 'unsafe-inline'"
)
#: The policy of ``/play``, the one page with a script: the site's own
#: script file only (no inline script, no eval), and connections (the
#: WebSocket ``/ws``, ``fetch("/map.svg")``) to the site only.
#: CSP Level 3 lets ``'self'`` match ``ws:``/``wss:`` to the page's own host
#: and port.
PLAY_CSP = (
    "default-src 'self'; script-src 'self'; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'; img-src 'self' data:; "
    "style-src 'self' 'unsafe-inline'"
)
HTML = "text/html; charset=utf-8"
JS = "text/javascript; charset=utf-8"
SVG = "image/svg+xml"
CSS = "text/css; charset=utf-8"
JSON = "application/json"
XML = "application/xml"


class Page:
    """One rendered resource: the response, its 304 twin, and when it goes stale."""

    __slots__ = ("response", "not_modified", "etag", "last_modified", "expires", "stale")

    def __init__(
        self,
        response: Response,
        not_modified: Response | None,
        etag: str,
        last_modified: int,
        expires: float | None = None,
    ) -> None:
        self.response = response
        self.not_modified = not_modified
        self.etag = etag
        self.last_modified = last_modified
        self.expires = expires
        self.stale = False


class RenderBudget:
    """A token bucket: ``burst`` renderings at once, then ``rate`` a second."""

    __slots__ = ("rate", "burst", "tokens", "last")

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = max(1.0, burst)
        self.tokens = self.burst
        self.last: float | None = None

    def take(self, now: float) -> bool:
        """Spend one rendering if there is one to spend."""
        if self.last is not None:
            self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


def _etag_matches(header: str, etag: str) -> bool:
    """``If-None-Match`` against our strong tag, by weak comparison (RFC 9110 §8.8.3.2)."""
    if header.strip() == "*":
        return True
    for candidate in header.split(","):
        candidate = candidate.strip()
        if candidate.startswith("W/"):
            candidate = candidate[2:]
        if candidate == etag:
            return True
    return False


def _not_modified_since(header: str, last_modified: int) -> bool:
    """``If-Modified-Since``: True when the page is no newer than the date given.

    An invalid date is ignored (RFC 9110 §13.1.3).
    """
    try:
        since = parsedate_to_datetime(header.strip()).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return False
    return last_modified <= since


def answer(request: Request, page: Page) -> Response:
    """The page, or its ``304 Not Modified`` twin if the client's copy is current."""
    not_modified = page.not_modified
    if not_modified is not None:
        headers = request.headers
        match = headers.get("if-none-match")
        if match is not None:
            if _etag_matches(match, page.etag):
                return not_modified
        else:
            since = headers.get("if-modified-since")
            if since is not None and _not_modified_since(since, page.last_modified):
                return not_modified
    return page.response

