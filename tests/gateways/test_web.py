"""The website with its handler called directly: routes, caching, 304s and escaping.

A real World on an in-memory Store and the test Clock; requests are built
the way :class:`~reality.net.protocols.http.HTTPChannel` builds them, and
some go through a channel on a StringTransport to check the bytes.
"""

from __future__ import annotations

import html.parser
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from hypothesis import given, settings, strategies as st

from reality.app import Server, Settings
from reality.game.loader import load_world, parse_world
from reality.game.store import Store
from reality.game.world import World
from reality.gateways.web import (
    WebFactory,
    WebSite,
    markup_html,
    render_markdown,
    site_url,
)
from reality.net.protocol import Address
from reality.net.protocols.http import Headers, Request, Response, http_date
from reality.net.testing import Clock, FakeConnection, MemoryReactor

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "world" / "tiny.yaml"
WALL = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC


class Session:
    """A world session that keeps what it is shown."""

    def __init__(self) -> None:
        self.shown: list[str] = []

    def attach(self, player: Any) -> None:
        self.player = player

    def show(self, text: str) -> None:
        self.shown.append(text)

    def send_data(self, kind: str, data: dict[str, Any]) -> None:
        pass

    def disconnect(self, message: str) -> None:
        pass


class Site:
    """A world, a store and the site over them, with helpers to ask for pages."""

    def __init__(self, text: str | None = None, **options: Any) -> None:
        self.clock = Clock()
        self.now = WALL
        self.store = Store(":memory:")
        self.world = World(
            self.clock, self.store, wall_clock=lambda: self.now, web_url="http://w.test/"
        )
        self.world.load(parse_world(text, "test.yaml") if text else load_world(TINY))
        self.world.telnet_address = "play.test:4000"
        self.site = WebSite(self.world, self.clock, wall=lambda: self.now, **options)
        self.sessions: dict[str, Session] = {}

    def join(self, name: str) -> Any:
        if self.store.get_account(name) is None:
            self.store.create_account(name, "scrypt$2$1$1$AA==$AA==", now=0.0)
        session = self.sessions[name] = Session()
        return self.world.connect(name, session)

    def leave(self, name: str) -> None:
        player = self.world.online[name.lower()]
        self.world.disconnect(player, self.sessions.pop(name))

    def get(self, target: str, method: str = "GET", headers: Any = ()) -> Response:
        raw_path, _, query = target.partition("?")
        request = Request(
            method,
            unquote(raw_path),
            {},
            Headers(headers),
            b"",
            "1.1",
            Address("TCP", "192.0.2.9", 5555),
            target,
            raw_path,
            query,
            "w.test",
        )
        return self.site(request)

    def text(self, target: str, **kw: Any) -> str:
        response = self.get(target, **kw)
        assert isinstance(response.body, bytes)
        return response.body.decode("utf-8")


@pytest.fixture
def s() -> Site:
    return Site()


SITE_FOR_PROPERTIES = Site()


def header(response: Response, name: str) -> str | None:
    return response.headers.get(name)


# -- the pages -------------------------------------------------------------------------


def test_front_page_has_name_welcome_connection_counts_and_the_map(s):
    """/ names the world, shows its welcome, the telnet host and port, counts and the map."""
    response = s.get("/")
    assert response.status == 200
    assert header(response, "Content-Type") == "text/html; charset=utf-8"
    page = s.text("/")
    assert "<title>Tiny Test World</title>" in page
    assert "<h1>Tiny Test World</h1>" in page
    assert "Welcome to the Tiny Test World." in page
    assert "telnet play.test 4000" in page
    assert 'href="telnet://play.test:4000"' in page
    assert "2 rooms · 0 players · 0 online" in page
    assert '<img class="map" src="/map.svg"' in page
    assert "Nobody is online right now." in page
    assert '<meta name="viewport"' in page


def test_front_page_lists_who_is_online_with_links(s):
    """Players online appear on / as links to their homepages; counts follow."""
    s.join("Alice")
    s.join("Bob")
    page = s.text("/")
    assert '<a href="/~alice">Alice</a>' in page and '<a href="/~bob">Bob</a>' in page
    assert "2 rooms · 2 players · 2 online" in page
    s.leave("Bob")
    page = s.text("/")
    assert "/~bob" not in page and "2 players · 1 online" in page


def test_front_page_without_telnet_says_so():
    """Before the telnet port listens the front page does not invent an address."""
    site = Site()
    site.world.telnet_address = None
    site.site._telnet_seen = None
    page = site.text("/")
    assert "telnet port is not open" in page and "telnet://" not in page


def test_homepage_shows_markdown_presence_and_place(s):
    """/~name renders the player's Markdown and says they are online and where."""
    alice = s.join("Alice")
    s.world.execute(alice, "set where visible")
    s.world.set_homepage(alice, "# Hi\n\nI like *lamps* and [maps](/map.svg).")
    page = s.text("/~alice")
    assert "<title>Alice · Tiny Test World</title>" in page
    assert "<h1>Alice</h1>" in page
    assert "<h2>Hi</h2>" in page  # the player's headings sit below the page's own
    assert "<em>lamps</em>" in page
    assert '<a href="/map.svg" rel="nofollow ugc noopener">maps</a>' in page
    assert "Online now, in" in page and "The Hall" in page
    assert 'Updated <time datetime="2023-11-14T22:13:20Z">2023-11-14 22:13 UTC</time>' in page
    assert "alice@reality.localhost" in page


def test_homepage_of_an_offline_player_says_when_they_were_last_seen(s):
    """Offline players' pages say offline, last seen (UTC) and where they left."""
    s.world.execute(s.join("Alice"), "set where visible")
    s.now = WALL + 3600
    s.leave("Alice")
    page = s.text("/~alice")
    assert "Offline; last seen" in page
    assert '<time datetime="2023-11-14T23:13:20Z">2023-11-14 23:13 UTC</time>' in page
    assert "in The Hall" in page
    assert "has not written a homepage yet" in page


def test_players_path_and_any_case_serve_the_same_page(s):
    """/players/name, /~NAME and /%7Ename are the same homepage (one cached Response)."""
    s.join("Alice")
    first = s.get("/~alice")
    assert s.get("/players/alice") is first
    assert s.get("/~ALICE") is first
    assert s.get("/%7Ealice") is first


def test_unknown_player_is_a_404_page(s):
    """A name with no player gets a 404 HTML page that says so (escaped)."""
    response = s.get("/~nobody")
    assert response.status == 404
    assert header(response, "Content-Type") == "text/html; charset=utf-8"
    assert "There is no player called <strong>nobody</strong>" in s.text("/~nobody")
    assert header(response, "ETag") is None


def test_impossible_names_are_404_without_asking_the_store(s, monkeypatch):
    """Names no account can have (digits, markup, too long) never reach the store."""
    calls = []
    monkeypatch.setattr(s.store, "load_player", lambda key: calls.append(key))
    for target in ("/~a1", "/~%3Cscript%3E", "/~" + "a" * 40, "/players/x%2Fy", "/~al%20ice"):
        response = s.get(target)
        assert response.status == 404, target
        body = response.body.decode()
        assert "<script>" not in body and "nothing at this address" in body
    assert calls == []


def test_unknown_path_is_a_404_page(s):
    """Any other path is a 404 HTML page linking back to the front page."""
    response = s.get("/nope/deeper")
    assert response.status == 404
    assert '<a href="/">The front page</a>' in s.text("/nope/deeper")


def test_who_lists_players_and_their_rooms(s):
    """/who shows each online player with the room they are in, linked to the map."""
    s.world.execute(s.join("Alice"), "set where visible")
    s.world.execute(s.join("Bob"), "set where visible")
    s.world.execute(s.world.online["bob"], "north")
    page = s.text("/who")
    assert "2 players online." in page
    assert '<a href="/~alice">Alice</a></td><td><a href="/map.svg#room-hall">The Hall</a>' in page
    assert '<a href="/~bob">Bob</a></td><td><a href="/map.svg#room-library">The Library' in page


def test_where_is_hidden_from_the_web_by_default(s):
    """Without 'set where visible' no page says which room a player is in (issue 11, 14)."""
    alice = s.join("Alice")
    s.join("Bob")
    s.world.execute(alice, "north")
    for path in ("/who", "/~alice", "/", "/status.json"):
        text = s.text(path)
        assert "The Library" not in text and "room-library" not in text, path
    assert "Online now." in s.text("/~alice")
    s.world.execute(alice, "set where visible")
    assert "The Library" in s.text("/who") and "The Library" in s.text("/~alice")
    s.world.execute(alice, "set where hidden")
    assert "The Library" not in s.text("/who") and "The Library" not in s.text("/~alice")
    s.leave("Alice")
    assert "The Library" not in s.text("/~alice")


def test_status_json(s):
    """/status.json: players online, uptime, rooms, version, as JSON for anyone."""
    s.join("Alice")
    s.clock.advance(42.5)
    response = s.get("/status.json")
    assert header(response, "Content-Type") == "application/json"
    assert header(response, "Access-Control-Allow-Origin") == "*"
    status = json.loads(response.body)
    assert status == {
        "name": "Tiny Test World",
        "version": "0.1.0",
        "uptime": 42,
        "players_online": 1,
        "online": ["Alice"],
        "players": 1,
        "rooms": 2,
        "telnet": "play.test:4000",
    }


def test_status_uptime_is_rendered_at_most_once_a_second(s):
    """/status.json is cached within a second and rendered again after it."""
    first = s.get("/status.json")
    s.clock.advance(0.5)
    assert s.get("/status.json") is first
    s.clock.advance(0.6)
    again = s.get("/status.json")
    assert again is not first and json.loads(again.body)["uptime"] == 1


def test_stylesheet(s):
    """/style.css is CSS with a long max-age; pages link it with a version."""
    response = s.get("/style.css")
    assert header(response, "Content-Type") == "text/css; charset=utf-8"
    assert header(response, "Cache-Control") == "public, max-age=86400"
    assert b"max-width" in response.body
    assert f'href="{s.site.css_url}"' in s.text("/")
    assert s.site.css_url.startswith("/style.css?v=")
    assert s.get(s.site.css_url) is response


def test_methods_other_than_get_and_head(s):
    """POST to a page is 405 with Allow: GET, HEAD; an unknown method is 501."""
    response = s.get("/", method="POST")
    assert response.status == 405 and header(response, "Allow") == "GET, HEAD"
    assert s.get("/~alice", method="DELETE").status == 405
    assert s.get("/", method="BREW").status == 501


def test_served_again_pages_still_refuse_other_methods(s):
    """Pages already cached (served by path lookup) still answer POST/DELETE with 405."""
    s.join("Alice")
    for target in ("/", "/~alice", "/players/alice", "/style.css", "/map.svg"):
        assert s.get(target).status == 200
        assert s.get(target).status == 200
        response = s.get(target, method="POST")
        assert response.status == 405 and header(response, "Allow") == "GET, HEAD", target
        assert s.get(target, method="BREW").status == 501


def test_security_headers_on_html(s):
    """HTML pages forbid scripts by CSP and MIME sniffing."""
    response = s.get("/")
    assert "script-src 'none'" in header(response, "Content-Security-Policy")
    assert header(response, "X-Content-Type-Options") == "nosniff"


# -- escaping --------------------------------------------------------------------------

SCRIPT = "<script>alert(1)</script>"


def test_script_in_a_homepage_arrives_as_text(s):
    """Raw HTML in Markdown is escaped: <script> reaches the page as &lt;script&gt;."""
    alice = s.join("Alice")
    s.world.set_homepage(
        alice,
        f"Hello {SCRIPT}\n\n<img src=x onerror=alert(2)>\n\n"
        "[click](javascript:alert(3)) ![i](javascript:alert(4))\n\n<iframe src=//evil>",
    )
    page = s.text("/~alice")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script" not in page.lower()
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(2)&gt;" in page
    # The links stay as their text, never as attributes.
    assert "[click](javascript:alert(3))" in page and "![i](javascript:alert(4))" in page
    assert not re.search(r"(href|src)\s*=\s*[\"']?\s*javascript", page, re.I)
    assert "<iframe" not in page


def test_world_markup_becomes_spans_and_its_text_is_escaped():
    """The welcome's colour markup becomes spans; '<' and '&' in world text stay text."""
    site = Site(
        "name: 'Lamp <b>&</b> Co'\n"
        "welcome: '{red}<script>x</script>{/} and {#ff8800}orange{/} {{braces}'\n"
        "start: a\n"
        "rooms:\n  a: {name: 'A & <B>', description: d}\n"
    )
    page = site.text("/")
    assert "<title>Lamp &lt;b&gt;&amp;&lt;/b&gt; Co</title>" in page
    assert "<h1>Lamp &lt;b&gt;&amp;&lt;/b&gt; Co</h1>" in page
    assert '<span class="fg1">&lt;script&gt;x&lt;/script&gt;</span>' in page
    assert '<span style="color:#ff8800">orange</span> {braces}' in page
    assert "<script" not in page
    site.world.execute(site.join("Alice"), "set where visible")
    assert ">A &amp; &lt;B&gt;</a>" in site.text("/who")
    assert ">A &amp; &lt;B&gt;</a>" in site.text("/~alice")
    assert ">A &amp; &lt;B&gt;</text>" in site.text("/map.svg")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain <text> & more", "plain &lt;text&gt; &amp; more"),
        ("{red}r{/}", '<span class="fg1">r</span>'),
        ("{bold red}a{underline}b{/}c{/}d", '<span class="fg1 bold">a<span class="underline">'
         'b</span>c</span>d'),
        ("{on_blue}x", '<span class="bg4">x</span>'),
        ("{#102030 on_#ffffff}x{/}", '<span style="color:#102030;background-color:#ffffff">'
         "x</span>"),
        ("{/}stray close", "stray close"),
        ("{{literal}} {grin}", "{literal}} {grin}"),
        ("bell\x07 and esc\x1b[31m", "bell and esc[31m"),
        ('quotes " and \'', "quotes &#34; and &#39;"),
    ],
)  # fmt: skip
def test_markup_html(text, expected):
    """markup_html: palette classes, truecolour styles, nesting, literals, controls dropped."""
    assert str(markup_html(text)) == expected


class TagCollector(html.parser.HTMLParser):
    """Collects start tags and attributes, and checks nesting of what opens and closes."""

    VOID = {"img", "br", "hr", "input", "meta", "link"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.stack: list[str] = []
        self.misnested = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack.pop() != tag:
            self.misnested = True


MARKDOWN_TAGS = {
    "p", "em", "strong", "a", "img", "code", "pre", "h2", "h3", "h4", "h5", "h6", "ul", "ol",
    "li", "blockquote", "hr", "br", "table", "thead", "tbody", "tr", "th", "td", "s",
}  # fmt: skip

# Pieces of HTML and Markdown syntax, joined at random.
hostile = st.lists(
    st.sampled_from(
        list("<>/=\"' &;:#*_[]()!`~-|\n\\")
        + ["script", "img", "onerror", "javascript", "iframe", "style", "a href", "x", "1"]
        + ["<script>", "</script>", "<img src=x onerror=alert(1)>", "<div>", "</p>", "<!-- -->"]
        + ["<a href='javascript:alert(1)'>", "[a](javascript:alert(1))", "![i](javascript:x)"]
        + ["[b](data:text/html,x)", "<svg onload=alert(1)>", "\n\n", "    ", "```"]
    ),
    max_size=120,
).map("".join)


@settings(max_examples=200, deadline=None)
@given(hostile)
def test_no_markdown_reaches_the_browser_as_markup(text):
    """Any homepage text renders to known tags only: no script, no on* attribute, no js: URL."""
    rendered = str(render_markdown(text))
    collector = TagCollector()
    collector.feed(rendered)
    collector.close()
    for tag, attrs in collector.tags:
        assert tag in MARKDOWN_TAGS, (tag, rendered)
        for name, value in attrs:
            assert not name.startswith("on"), rendered
            assert name in ("href", "src", "alt", "title", "rel", "style", "class"), rendered
            if name == "class":  # a fenced block's info string
                assert tag == "code" and (value or "").startswith("language-"), rendered
            if name == "style":
                assert tag in ("th", "td")  # table alignment only
            if name in ("href", "src") and value:
                scheme = value.strip().lower()
                assert not scheme.startswith(("javascript:", "vbscript:", "data:text")), rendered


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(list("{}/<>&ab #") + ["red", "bold", "on_", "ff00aa"]), max_size=60
    ).map("".join)
)
def test_markup_html_is_always_well_nested_spans(text):
    """Whatever the markup, the HTML has spans only, opened and closed in order."""
    rendered = str(markup_html(text))
    collector = TagCollector()
    collector.feed(rendered)
    collector.close()
    assert {tag for tag, _ in collector.tags} <= {"span"}
    assert not collector.misnested and not collector.stack


# -- caching ---------------------------------------------------------------------------


def test_pages_are_rendered_once_and_served_as_the_same_response(s):
    """Between changes every request gets the same Response object, nothing re-rendered."""
    s.join("Alice")
    for target in ("/", "/who", "/map.svg", "/~alice"):
        first = s.get(target)
        renders = s.site.renders
        for _ in range(5):
            assert s.get(target) is first
            assert s.get(target, method="HEAD") is first
        assert s.site.renders == renders


def test_a_homepage_change_shows_at_once(s):
    """Saving a homepage re-renders that page on the next request."""
    alice = s.join("Alice")
    before = s.text("/~alice")
    s.world.set_homepage(alice, "**new text**")
    after = s.text("/~alice")
    assert before != after and "<strong>new text</strong>" in after


def test_a_move_updates_the_homepage_and_who_but_not_others(s):
    """A move re-renders the mover's homepage and /who; other pages stay cached."""
    s.world.execute(s.join("Alice"), "set where visible")
    s.join("Bob")
    bob_page, front, map_page = s.get("/~bob"), s.get("/"), s.get("/map.svg")
    s.get("/~alice")
    s.get("/who")
    s.world.execute(s.world.online["alice"], "north")
    assert "The Library" in s.text("/~alice")
    assert "The Library" in s.text("/who")
    assert s.get("/~bob") is bob_page
    assert s.get("/") is front
    assert s.get("/map.svg") is map_page


def test_logins_update_front_page_who_status_and_the_homepage(s):
    """Logging in or out re-renders /, /who, /status.json and the player's page."""
    pages = {t: s.text(t) for t in ("/", "/who", "/status.json")}
    assert s.get("/~alice").status == 404
    s.join("Alice")
    for target, before in pages.items():
        assert s.text(target) != before, target
    assert s.get("/~alice").status == 200  # an unknown name, cached, is known now
    assert "Online now" in s.text("/~alice")
    s.leave("Alice")
    assert "Offline" in s.text("/~alice")


def test_a_stream_of_changes_does_not_mean_a_rendering_per_request(s):
    """/who under constant moves: 5 renderings at once, then 2 a second; it catches up."""
    alice = s.join("Alice")
    s.world.execute(alice, "set where visible")
    s.get("/who")
    renders = s.site.renders
    for i in range(50):
        s.world.execute(alice, "north" if i % 2 == 0 else "south")
        s.get("/who")
    assert s.site.renders == renders + 5
    # Alice ended in the hall; the 5th rendering (after move 5) still has her in the
    # library: a moment old...
    assert "The Library" in s.text("/who") and "The Hall" not in s.text("/who")
    s.clock.advance(0.5)
    assert "The Hall" in s.text("/who")  # ...then drawn again
    assert s.site.renders == renders + 6


def test_a_world_change_redraws_the_map(s):
    """A world reload (or @dig) re-renders the map and the front page."""
    old_map = s.text("/map.svg")
    s.world.load(
        parse_world(
            "name: Bigger\nstart: a\nrooms:\n"
            "  a: {name: Room A, description: d, exits: {east: b}}\n"
            "  b: {name: Room B, description: d, exits: {west: a}}\n",
            "bigger.yaml",
        )
    )
    new_map = s.text("/map.svg")
    assert new_map != old_map and "Room B" in new_map
    assert "<h1>Bigger</h1>" in s.text("/")


def test_rerendering_the_same_bytes_keeps_the_response_and_its_dates(s):
    """A page marked stale that renders identically keeps its Response, ETag and date."""
    s.join("Alice")
    first = s.get("/~bob")  # unknown
    page = s.get("/")
    s.now += 100
    s.site.invalidate()
    assert s.get("/") is page
    assert header(page, "Last-Modified") == http_date(WALL)
    assert s.get("/~bob") is first


def test_homepage_cache_is_bounded():
    """At most max_homepages rendered homepages are kept (least recently used go)."""
    site = Site(max_homepages=2)
    for name in ("Alice", "Bob", "Carol"):
        site.join(name)
    a = site.get("/~alice")
    site.get("/~bob")
    assert site.get("/~alice") is a  # alice is now the most recent
    site.get("/~carol")  # bob is dropped
    renders = site.site.renders
    assert site.get("/~alice") is a
    site.get("/~bob")
    assert site.site.renders == renders + 1


# -- conditional requests --------------------------------------------------------------


def test_etag_and_if_none_match(s):
    """A page's ETag in If-None-Match (also weak, in a list, or *) gets a bodiless 304."""
    page = s.get("/")
    etag = header(page, "ETag")
    assert etag and etag.startswith('"') and header(page, "Last-Modified") == http_date(WALL)
    for value in (etag, f"W/{etag}", f'"nope", {etag}', "*"):
        response = s.get("/", headers=[("If-None-Match", value)])
        assert response.status == 304, value
        assert response.body == b""
        assert header(response, "ETag") == etag
        assert header(response, "Cache-Control") == "no-cache"
    assert s.get("/", headers=[("If-None-Match", '"other"')]) is page


def test_if_modified_since(s):
    """If-Modified-Since at or after Last-Modified is 304; before it, or invalid, is 200."""
    page = s.get("/map.svg")
    assert s.get("/map.svg", headers=[("If-Modified-Since", http_date(WALL))]).status == 304
    assert s.get("/map.svg", headers=[("If-Modified-Since", http_date(WALL + 9))]).status == 304
    assert s.get("/map.svg", headers=[("If-Modified-Since", http_date(WALL - 1))]) is page
    assert s.get("/map.svg", headers=[("If-Modified-Since", "yesterday")]) is page


def test_if_none_match_wins_over_if_modified_since(s):
    """With both, a failing If-None-Match means 200 even if the date would allow 304."""
    page = s.get("/")
    headers = [("If-None-Match", '"stale"'), ("If-Modified-Since", http_date(WALL + 60))]
    assert s.get("/", headers=headers) is page


def test_a_change_changes_the_etag(s):
    """After a change the old ETag no longer matches."""
    alice = s.join("Alice")
    etag = header(s.get("/~alice"), "ETag")
    s.world.set_homepage(alice, "changed")
    response = s.get("/~alice", headers=[("If-None-Match", etag)])
    assert response.status == 200 and header(response, "ETag") != etag


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["If-None-Match", "If-Modified-Since"]),
    st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=60)
    | st.sampled_from(["Tue, 14 Nov 2023 22:13:20 GMT", "Mon, 31 Feb 99999 99:99:99 GMT",
                       "Tue, 14 Nov 2023 22:13:20 -0000", '"x", W/"y", *', "W/", ",,,"]),
)  # fmt: skip
def test_any_conditional_header_gets_200_or_304(name, value):
    """Whatever a client puts in a conditional header, the answer is the page or a 304."""
    site = SITE_FOR_PROPERTIES
    response = site.get("/", headers=[(name, value)])
    assert response.status in (200, 304)


def test_404s_are_never_304(s):
    """Conditional headers do not turn a 404 into a 304."""
    assert s.get("/~nobody", headers=[("If-None-Match", "*")]).status == 404


# -- through a channel, as bytes ---------------------------------------------------------


def channel(site: Site, host: str = "192.0.2.9", max_per_address: int = 0) -> FakeConnection:
    factory = WebFactory(
        site.site, site.clock, max_per_address=max_per_address, date_source=lambda: WALL
    )
    return FakeConnection(factory, Address("TCP", host, 5555))


def test_head_gets_the_get_headers_without_a_body(s):
    """HEAD / over a channel: the same status and Content-Length as GET, no body."""
    conn = channel(s)
    get = conn.send(b"GET / HTTP/1.1\r\nHost: w\r\n\r\n")
    head = conn.send(b"HEAD / HTTP/1.1\r\nHost: w\r\n\r\n")
    get_head, _, body = get.partition(b"\r\n\r\n")
    assert head == get_head + b"\r\n\r\n"
    assert b"Content-Length: %d\r\n" % len(body) in head
    assert head.startswith(b"HTTP/1.1 200 OK\r\nDate: Tue, 14 Nov 2023 22:13:20 GMT\r\n")


def test_conditional_get_over_a_channel_is_a_bare_304(s):
    """A revalidation is answered with a 304 head and no body, and the connection lives."""
    conn = channel(s)
    etag = header(s.get("/who"), "ETag")
    request = b"GET /who HTTP/1.1\r\nHost: w\r\nIf-None-Match: %s\r\n\r\n" % etag.encode()
    assert conn.send(request) == (
        b"HTTP/1.1 304 Not Modified\r\n"
        b"Date: Tue, 14 Nov 2023 22:13:20 GMT\r\n"
        b"Cache-Control: no-cache\r\n"
        b"ETag: " + etag.encode() + b"\r\n"
        b"Last-Modified: Tue, 14 Nov 2023 22:13:20 GMT\r\n"
        b"\r\n"
    )
    assert not conn.closed


def test_close_all_closes_open_connections(s):
    """WebFactory.close_all (the shutdown hook) closes every open keep-alive connection."""
    factory = WebFactory(s.site, s.clock)
    conns = [FakeConnection(factory, Address("TCP", "192.0.2.9", port)) for port in (1, 2)]
    assert factory.open_connections == 2
    factory.close_all("bye")
    assert all(c.closed for c in conns)


def test_connections_per_address_are_limited(s):
    """Past max_per_address connections from one address, another gets 503 and is closed;
    other addresses are served, and a closed connection frees its place."""
    factory = WebFactory(s.site, s.clock, max_per_address=2, date_source=lambda: WALL)
    first = FakeConnection(factory, Address("TCP", "203.0.113.1", 1))
    FakeConnection(factory, Address("TCP", "203.0.113.1", 2))
    refused = FakeConnection(factory, Address("TCP", "203.0.113.1", 3))
    reply = refused.send(b"GET / HTTP/1.1\r\nHost: w\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
    assert b"too many connections from your address" in reply and refused.closed
    other = FakeConnection(factory, Address("TCP", "203.0.113.2", 1))
    assert other.send(b"GET / HTTP/1.1\r\nHost: w\r\n\r\n").startswith(b"HTTP/1.1 200 OK")
    first.transport.lose_connection()
    again = FakeConnection(factory, Address("TCP", "203.0.113.1", 4))
    assert again.send(b"GET / HTTP/1.1\r\nHost: w\r\n\r\n").startswith(b"HTTP/1.1 200 OK")


def test_connections_per_service_are_limited(s):
    """Past max_connections on the website, a client from any address gets 503 and is
    closed; a closed connection frees its place; 0 is no limit."""
    factory = WebFactory(s.site, s.clock, max_connections=2, date_source=lambda: WALL)
    first = FakeConnection(factory, Address("TCP", "203.0.113.1", 1))
    FakeConnection(factory, Address("TCP", "203.0.113.2", 1))
    refused = FakeConnection(factory, Address("TCP", "203.0.113.3", 1))
    reply = refused.send(b"GET / HTTP/1.1\r\nHost: w\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
    assert b"too many connections" in reply and refused.closed
    first.transport.lose_connection()
    again = FakeConnection(factory, Address("TCP", "203.0.113.3", 2))
    assert again.send(b"GET / HTTP/1.1\r\nHost: w\r\n\r\n").startswith(b"HTTP/1.1 200 OK")
    unlimited = WebFactory(s.site, s.clock, max_connections=0, date_source=lambda: WALL)
    conns = [FakeConnection(unlimited, Address("TCP", "203.0.113.4", i)) for i in range(3000)]
    assert conns[-1].send(b"GET / HTTP/1.1\r\nHost: w\r\n\r\n").startswith(b"HTTP/1.1 200")


def test_a_body_to_a_page_is_refused_before_it_is_read(s):
    """POST /who with Content-Length 1000000 is answered 405 as soon as its head arrives
    (no page takes a body), and the connection goes after a bounded linger, so such
    requests cannot hold connections while they trickle."""
    factory = WebFactory(s.site, s.clock, date_source=lambda: WALL)
    conn = FakeConnection(factory, Address("TCP", "203.0.113.1", 1))
    reply = conn.send(b"POST /who HTTP/1.1\r\nHost: w\r\nContent-Length: 1000000\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 405 Method Not Allowed\r\n")
    assert b"Allow: GET, HEAD\r\n" in reply
    s.clock.advance(2.5)
    assert conn.closed and factory.open_connections == 0


# -- install ---------------------------------------------------------------------------


def get_over(factory: WebFactory, target: bytes) -> tuple[bytes, FakeConnection]:
    """One GET through a channel of ``factory``; the reply and the connection (left open)."""
    conn = FakeConnection(factory, Address("TCP", "127.0.0.1", 9))
    return conn.send(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n"), conn


def test_install_listens_and_tells_telnet_and_the_world_the_url(tmp_path):
    """In the assembled server, the HTTP port's URL reaches the banner and 'homepage';
    pages drawn before the telnet port listened are drawn again with its address."""
    reactor = MemoryReactor()
    settings = Settings(world=str(TINY), db=":memory:", http_port=0, telnet_port=0, workers=1)
    server = Server(settings, reactor, load_world(TINY))
    try:
        assert isinstance(server.web, WebSite)
        server.app.get_service_named("http").start_service()
        http_port = server.addresses["http"].port
        factory = next(r.factory for r in reactor.tcp_servers if r.factory is not server.telnet)
        assert isinstance(factory, WebFactory)
        reply, _ = get_over(factory, b"/")
        assert reply.startswith(b"HTTP/1.1 200 OK\r\n") and b"telnet 127.0.0.1" not in reply

        server.app.get_service_named("telnet").start_service()
        telnet_port = server.addresses["telnet"].port
        assert server.world.web_url == f"http://127.0.0.1:{http_port}"
        assert f"On the web: http://127.0.0.1:{http_port}/" in server.telnet.banner()
        assert server.world.homepage_url("Alice") == f"http://127.0.0.1:{http_port}/~alice"
        reply, conn = get_over(factory, b"/")
        assert b"telnet 127.0.0.1 %d" % telnet_port in reply

        assert server.open_connections() == 2  # both keep-alive channels
        for gateway in server.gateways:
            gateway.close_all("bye")
        assert conn.closed
    finally:
        server.store.close()


def test_site_url_brackets_ipv6():
    """An IPv6 host goes in brackets in the site's URL."""
    assert site_url("::1", 8080) == "http://[::1]:8080/"
    assert site_url("example.org", 80) == "http://example.org:80/"


def test_map_is_well_formed_svg(s):
    """/map.svg parses as XML, is image/svg+xml, and has a box per room."""
    response = s.get("/map.svg")
    assert header(response, "Content-Type") == "image/svg+xml"
    root = ET.fromstring(response.body)
    ns = "{http://www.w3.org/2000/svg}"
    assert root.tag == f"{ns}svg"
    rooms = [g for g in root.iter(f"{ns}g") if "room" in g.get("class", "")]
    assert sorted(g.get("id") for g in rooms) == ["room-hall", "room-library"]
    assert "start" in next(g for g in rooms if g.get("id") == "room-hall").get("class")
