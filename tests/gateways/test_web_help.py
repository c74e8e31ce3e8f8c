"""The website's help pages, with the handler called directly: /help, /help/<topic>, 404s."""

from __future__ import annotations

import html.parser
from typing import Any
from urllib.parse import unquote

from hypothesis import given, settings, strategies as st

from reality.game.loader import parse_world
from reality.game.store import Store
from reality.game.world import World
from reality.gateways.web import WebSite
from reality.net.protocol import Address
from reality.net.protocols.http import Headers, Request, Response
from reality.net.testing import Clock

WORLD = """
name: Help Town
start: hall
rooms:
  hall: {name: The Hall}
help:
  rules:
    text: "Be {red}kind{/} <script>alert(1)</script>"
    aliases: [conduct]
    category: About this world
  The town: "A town & a hall."
"""


class Site:
    def __init__(self) -> None:
        self.clock = Clock()
        self.store = Store(":memory:")
        self.world = World(self.clock, self.store, wall_clock=lambda: 1_700_000_000.0)
        self.world.load(parse_world(WORLD, "help.yaml"))
        self.site = WebSite(self.world, self.clock, wall=lambda: 1_700_000_000.0)

    def get(self, target: str) -> Response:
        raw_path, _, query = target.partition("?")
        request = Request(
            "GET", unquote(raw_path), {}, Headers([]), b"", "1.1",
            Address("TCP", "192.0.2.9", 5555), target, raw_path, query, "w.test",
        )  # fmt: skip
        response = self.site(request)
        assert isinstance(response, Response)
        return response

    def text(self, target: str) -> str:
        body = self.get(target).body
        assert isinstance(body, bytes)
        return body.decode("utf-8")


SITE = Site()


class Links(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.headings: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.links.append(dict(attrs).get("href") or "")
        if tag in ("h1", "h2", "h3"):
            self.headings.append(tag)


def parse(text: str) -> Links:
    parser = Links()
    parser.feed(text)
    return parser


def test_the_index_lists_categories_with_links_and_no_admin_verbs() -> None:
    """/help: every public category with links to each entry; no admin verb; login verbs."""
    page = SITE.text("/help")
    assert SITE.get("/help").status == 200
    links = parse(page).links
    for href in ("/help/look", "/help/rules", "/help/the%20town", "/help/homepage",
                 "/help/editor.list", "/help/editor."):  # fmt: skip
        assert href in links, href
    assert ">About this world</h2>" in page
    assert "@dig" not in page and "@shutdown" not in page
    assert "Before you log in" in page and "connect &lt;name&gt; &lt;password&gt;" in page
    assert '<a href="/help">Help</a>' in page  # the nav


def test_every_linked_entry_page_exists_with_headings_in_order() -> None:
    """Each link from /help is a 200 page with one h1 first and the entry's text."""
    for href in parse(SITE.text("/help")).links:
        if not href.startswith("/help/"):
            continue
        response = SITE.get(href)
        assert response.status == 200, href
        headings = parse(response.body.decode()).headings
        assert headings[0] == "h1" and headings.count("h1") == 1, href


def test_a_topic_page_renders_markup_and_escapes_html() -> None:
    """/help/rules: markup as spans, HTML from the file as text, aliases, canonical link."""
    page = SITE.text("/help/rules")
    assert '<span class="fg1">kind</span>' in page
    assert "&lt;script&gt;" in page and "<script>" not in page
    assert "<code>conduct</code>" in page
    assert '<link rel="canonical" href="/help/rules">' in page


def test_an_alias_serves_the_page_and_a_prefix_redirects() -> None:
    """/help/conduct is the rules page; /help/ru redirects to it; /help/ask is 404."""
    assert SITE.get("/help/conduct").status == 200
    assert '<link rel="canonical" href="/help/rules">' in SITE.text("/help/conduct")
    response = SITE.get("/help/ru")
    assert response.status == 302 and response.headers.get("Location") == "/help/rules"
    assert SITE.get("/help/").status == 301


def test_unknown_topics_and_admin_verbs_are_404_pages() -> None:
    """An unknown topic is the 404 page naming it (candidates linked); admin verbs are unknown."""
    for path in ("/help/xyzzy", "/help/@dig", "/help/dig", "/help/" + "x" * 100):
        assert SITE.get(path).status == 404, path
    page = SITE.text("/help/xyzzy")
    assert "There is no help on <strong>xyzzy</strong>" in page
    page = SITE.text("/help/g")  # get, give, go
    assert SITE.get("/help/g").status == 404
    assert "/help/get" in parse(page).links and "/help/give" in parse(page).links


def test_a_verb_registered_later_shows_on_the_site() -> None:
    """A verb registered at run time is on /help and gets its page, without a world change."""
    site = Site()
    assert "/help/poke" not in parse(site.text("/help")).links
    site.world.verbs.register(
        "poke", lambda ctx, args: None, usage="poke <someone>", help="Poke someone.",
        category="fun",
    )  # fmt: skip
    assert "/help/poke" in parse(site.text("/help")).links
    assert "Poke someone." in site.text("/help/poke")


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=80))
def test_any_topic_path_is_answered(topic: Any) -> None:
    """Any text after /help/ is a 200, 302 or 404, never an error."""
    from urllib.parse import quote

    assert SITE.get("/help/" + quote(topic, safe="")).status in (200, 301, 302, 404)
