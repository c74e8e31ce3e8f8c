"""The site's HTTP handler, :class:`WebSite`: a router over cached, world-driven pages.

What each path shows is in :mod:`reality.gateways.web`. Pages are
rendered with Jinja2 (:mod:`reality.gateways.templating`) when what they
show changes, not per request; homepage Markdown
(:mod:`reality.gateways.markdown`) and the map
(:mod:`reality.gateways.worldmap`) are rendered by a :class:`Renderer`
(the worker pool) off the loop when there is one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol
from urllib.parse import quote

from attrs import define
from markupsafe import Markup

from reality import __version__
from reality.game.accounts import NAME_MAX
from reality.game.help import MAX_QUERY, HelpEntry
from reality.game.world import PlayerInfo, RoomInfo, World
from reality.gateways.markdown import markup_html, plain, render_markdown
from reality.gateways.mudmap import world_map
from reality.gateways.router import Router
from reality.gateways.templating import STATIC, environment, format_time
from reality.gateways.web.pages import (
    CSP,
    CSS,
    HTML,
    JS,
    JSON,
    PLAY_CSP,
    SVG,
    XML,
    Page,
    RenderBudget,
    answer,
)
from reality.gateways.workers import JobTimeout
from reality.gateways.worldmap import map_svg
from reality.net.defer import Deferred, Failure
from reality.net.interfaces import IReactorTime
from reality.net.protocols.http import Headers, Request, RequestHead, Response, http_date

__all__ = ["FRONT_PAGE_NAMES", "MAX_CACHED_HOMEPAGES", "Renderer", "WebSite", "help_slug"]

log = logging.getLogger("reality.gateways.web")

#: Homepages kept rendered (least recently used ones are dropped beyond this).
MAX_CACHED_HOMEPAGES = 1024
#: Names listed on the front page before "and N more".
FRONT_PAGE_NAMES = 50

# Account names are letters only (reality.game.accounts); anything else in a
# homepage path is answered 404 without asking the store.
_PLAYER_NAME = re.compile(rf"[A-Za-z]{{1,{NAME_MAX}}}")

_NO_MAP = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 420 60" width="420" height="60">'
    '<text x="12" y="34" font-family="sans-serif" font-size="14">'
    "The map cannot be drawn just now.</text></svg>\n"
)


def help_slug(entry: HelpEntry) -> str:
    """An entry's address under ``/help/``: its lower-case name.

    The homepage editor's commands start with '.' (and one is just '.'),
    which browsers would read as a path segment: they are ``editor.list``,
    ``editor.``.
    """
    key = entry.key
    return "editor" + key if key.startswith(".") else key


class Renderer(Protocol):
    """Where Markdown and the map are rendered off the loop (the worker pool)."""

    def markdown(self, text: str) -> Deferred[str]:
        """A homepage's Markdown as HTML (:func:`~reality.gateways.markdown.render_markdown`)."""

    def map_svg(self, rooms: Sequence[RoomInfo], start: str | None, title: str) -> Deferred[str]:
        """The map as SVG (:func:`~reality.gateways.worldmap.map_svg`)."""


@define
class _Telnet:
    host: str
    port: str


def _split_address(address: str | None) -> _Telnet | None:
    if not address:
        return None
    host, sep, port = address.rpartition(":")
    if not sep:
        return _Telnet(address, "23")
    return _Telnet(host, port)


class WebSite:
    """The site's HTTP handler: a :class:`Router` over cached, world-driven pages.

    ``clock`` gives the uptime (``seconds()``); ``wall`` is the calendar
    time for Last-Modified. :meth:`changed` is subscribed to the world's
    change topics.
    With a ``renderer`` (the :class:`~reality.gateways.workers.WorkerPool`,
    or anything with ``markdown(text)`` and ``map_svg(rooms, start,
    title)`` returning Deferreds), homepage Markdown and the map are
    rendered in a worker process and a request for such a page waits for it
    (a Deferred); without one they are rendered inline.

    ``/`` and ``/who`` are rendered again at most ``render_burst`` times in
    a row and then ``render_rate`` times a second while their content keeps
    changing; in between, the last rendering is served (at most a moment old).
    """

    def __init__(
        self,
        world: World,
        clock: IReactorTime,
        *,
        started: float | None = None,
        wall: Callable[[], float] = time.time,
        max_homepages: int = MAX_CACHED_HOMEPAGES,
        renderer: Renderer | None = None,
        render_rate: float = 2.0,
        render_burst: float = 5.0,
    ) -> None:
        self.world = world
        #: Where Markdown is rendered: a child process, or (None) inline.
        self.renderer = renderer
        self.clock = clock
        self.started = clock.seconds() if started is None else started
        self.wall = wall
        self.max_homepages = max(1, max_homepages)
        self.renders = 0  # pages rendered since the start (tests and benchmarks read it)
        #: ``https://host:port`` once the HTTPS port listens (None: no HTTPS).
        self.secure_url: str | None = None
        #: The telnets port, once it listens (None: no telnet over TLS).
        self.telnets_port: int | None = None
        self._env = environment()
        self._pages: dict[str, Page] = {}
        self._homepages: OrderedDict[str, Page] = OrderedDict()
        self._markdown: dict[str, tuple[str, Markup]] = {}
        self._jobs: dict[str, tuple[str, list[Deferred[None]]]] = {}
        self._map_job: list[Deferred[None]] | None = None
        # The pages that cost O(players online) and change with every login
        # (front) or move (who): a steady stream of changes and requests
        # must not mean a rendering per request.
        self._budgets = {
            "/": RenderBudget(render_rate, render_burst),
            "/who": RenderBudget(render_rate, render_burst),
        }
        self._map_changed = False
        # The help pages by address ("/help/<slug>" -> entries), for this version of the index.
        self._help_version: object = None
        self._help_slugs: dict[str, list[HelpEntry]] = {}
        # Served pages by request path (the canonical paths only, so it is
        # bounded): (page, homepage key or None).
        self._fast: dict[str, tuple[Page, str | None]] = {}
        css = (STATIC / "style.css").read_bytes()
        self._css = self._page(css, CSS, cache_control="public, max-age=86400")
        self.css_url = "/style.css?v=" + self._css.etag.strip('"')[:12]
        self._fast["/style.css"] = (self._css, None)
        # The web client's script and stylesheet (/play), served as style.css is.
        self._static: dict[str, Page] = {}
        self.static_urls: dict[str, str] = {}
        for name, kind in (("play.js", JS), ("play.css", CSS)):
            static = self._page(
                (STATIC / name).read_bytes(), kind, cache_control="public, max-age=86400"
            )
            self._static["/" + name] = static
            self._fast["/" + name] = (static, None)
            self.static_urls[name] = f"/{name}?v=" + static.etag.strip('"')[:12]
        self.router = Router(not_found=self._not_found)
        self.router.add("/", self._front)
        self.router.add("/who", self._who)
        self.router.add("/status.json", self._status)
        self.router.add("/map.svg", self._map)
        self.router.add("/map.xml", self._map_xml)
        # The map's text alternative: every room and its exits, as links.
        self.router.add("/rooms", self._rooms)
        self.router.add("/style.css", self._style)
        self.router.add("/play", self._play)
        self.router.add("/play.js", self._static_file)
        self.router.add("/play.css", self._static_file)
        self.router.add("/help", self._help_index)
        self.router.add("/help/", self._help_slash)
        self.router.add("/help/{topic}", self._help_topic)
        self.router.add("/~{name}", self._homepage)
        self.router.add("/players/{name}", self._homepage)
        # A homepage is a page, not a directory, but people and link
        # checkers add the slash: send them to the one address.
        self.router.add("/~{name}/", self._without_slash)
        self.router.add("/players/{name}/", self._without_slash)
        world.subscribe(self.changed)

    # -- the handler -------------------------------------------------------------------

    def __call__(self, request: Request) -> Response | Deferred[Response]:
        # The common case, a page served again: one lookup by the path as
        # received, instead of routing, name checks and cache bookkeeping.
        hit = self._fast.get(request.raw_path)
        if hit is not None:
            page, key = hit
            if not page.stale and (request.method == "GET" or request.method == "HEAD"):
                if key is not None:
                    self._homepages.move_to_end(key)
                return answer(request, page)
        return self.router(request)

    def body_refusal(self, head: RequestHead) -> Response | None:
        """Refuse a request body the route does not take, before it is read (see Router)."""
        return self.router.body_refusal(head)

    def changed(self, topic: str, key: str | None) -> None:
        """The world changed: mark the pages that show it as stale."""
        if topic == "world":
            self.invalidate()
            return
        pages = self._pages
        for name in ("/who", "/", "/status.json") if topic == "online" else ("/who",):
            page = pages.get(name)
            if page is not None:
                page.stale = True
        if key is not None:
            # Also a name cached as unknown: a new account's first login says "online".
            page = self._homepages.get(key)
            if page is not None:
                page.stale = True

    def invalidate(self) -> None:
        """Mark every page stale (a world load; the site's or telnet's address known)."""
        if self._map_job is not None:
            self._map_changed = True
        for page in self._pages.values():
            page.stale = True
        for page in self._homepages.values():
            page.stale = True

    # -- routes ------------------------------------------------------------------------

    def _cached(self, name: str, render: Callable[[Page | None], Page]) -> Page:
        page = self._pages.get(name)
        if page is None or page.stale or (
            page.expires is not None and self.clock.seconds() >= page.expires
        ):
            budget = self._budgets.get(name)
            if page is not None and budget is not None and not budget.take(self.clock.seconds()):
                # Changing faster than it may be drawn: the last drawing, for now.
                return page
            page = render(page)
            self._pages[name] = page
            if page.expires is None and name.startswith("/"):
                self._fast[name] = (page, None)
        return page

    def _front(self, request: Request) -> Response:
        return answer(request, self._cached("/", self._render_front))

    def _who(self, request: Request) -> Response:
        return answer(request, self._cached("/who", self._render_who))

    def _rooms(self, request: Request) -> Response:
        return answer(request, self._cached("/rooms", self._render_rooms))

    def _status(self, request: Request) -> Response:
        return answer(request, self._cached("/status.json", self._render_status))

    def _map(self, request: Request) -> Response | Deferred[Response]:
        page = self._pages.get("/map.svg")
        if self.renderer is None or (page is not None and not page.stale):
            return answer(request, self._cached("/map.svg", self._render_map))
        # A big world's map takes a while to lay out: the renderer draws it.
        if self._map_job is None:
            world = self.world
            self._map_job = []
            self.renderer.map_svg(world.map_rooms(), world.start_id, world.name).add_callbacks(
                self._map_done, self._map_failed
            )
        waiter: Deferred[None] = Deferred()
        self._map_job.append(waiter)
        return waiter.add_callback(lambda _: answer(request, self._pages["/map.svg"]))

    def _map_xml(self, request: Request) -> Response:
        return answer(request, self._cached("/map.xml", self._render_map_xml))

    def _map_done(self, svg: str) -> None:
        self._store_map(svg, stale=False)

    def _map_failed(self, failure: Failure) -> None:
        log.warning("the map could not be drawn: %s", failure.value)
        # After a timeout, wait for the world to change; otherwise try again.
        self._store_map(_NO_MAP, stale=not failure.check(JobTimeout))

    def _store_map(self, svg: str, *, stale: bool) -> None:
        page = self._page(svg.encode("utf-8"), SVG, previous=self._pages.get("/map.svg"))
        # A change that arrived while the map was drawn makes it stale again.
        page.stale = stale or self._map_changed
        self._map_changed = False
        self._pages["/map.svg"] = page
        self._fast["/map.svg"] = (page, None)
        waiters, self._map_job = self._map_job or [], None
        for waiter in waiters:
            waiter.callback(None)

    def _style(self, request: Request) -> Response:
        return answer(request, self._css)

    def _static_file(self, request: Request) -> Response:
        return answer(request, self._static[request.path])

    def _play(self, request: Request) -> Response:
        """``/play``: the web client; the game itself comes over the WebSocket ``/ws``."""
        return answer(request, self._cached("/play", self._render_play))

    def _not_found(self, request: Request) -> Response:
        return self._cached("404", self._render_not_found).response

    def _without_slash(self, request: Request) -> Response:
        """``/~alice/`` is ``301 Moved Permanently`` to ``/~alice`` (RFC 9110 §15.4.2)."""
        if not _PLAYER_NAME.fullmatch(request.params.get("name", "")):
            return self._not_found(request)
        # The name is letters only, so the path as received is safe to send back.
        location = (request.raw_path or request.path)[:-1]
        if request.query_string:
            location += "?" + request.query_string
        return Response.redirect(location, 301)

    # -- help ------------------------------------------------------------------------------

    def _help_current(self) -> dict[str, list[HelpEntry]]:
        """The public help entries by address; cached help pages go stale when they change.

        Help pages are not in the fast path (their names do not start with
        '/'): a verb registered at run time changes the index without a
        world change, and each request checks the index's version.
        """
        index = self.world.help
        version = index.version()
        if version != self._help_version:
            self._help_version = version
            slugs: dict[str, list[HelpEntry]] = {}
            for entry in index.entries(admin=False):
                slugs.setdefault(help_slug(entry), []).append(entry)
            self._help_slugs = slugs
            for name, page in self._pages.items():
                if name == "help" or name.startswith("help:"):
                    page.stale = True
            # Entries that are gone: their pages are dropped, not kept stale.
            for name in [n for n in self._pages if n.startswith("help:")]:
                if name[5:] not in slugs:
                    del self._pages[name]
        return self._help_slugs

    def _help_index(self, request: Request) -> Response:
        self._help_current()
        return answer(request, self._cached("help", self._render_help))

    def _help_slash(self, request: Request) -> Response:
        return Response.redirect("/help", 301)

    def _help_topic(self, request: Request) -> Response:
        """``/help/<topic>``: an entry by address, name or alias; a unique prefix redirects."""
        slugs = self._help_current()
        wanted = " ".join(request.params.get("topic", "").lower().split())
        if not wanted or len(wanted) > MAX_QUERY:
            return self._not_found(request)
        if wanted in slugs:
            return answer(request, self._cached(f"help:{wanted}", self._help_renderer(wanted)))
        index = self.world.help
        found = index.find(wanted, admin=False)
        if found.entries:
            slug = help_slug(found.entries[0])
            if found.exact:
                # Another name of the entry (an alias): the page itself, canonical link and all.
                return answer(request, self._cached(f"help:{slug}", self._help_renderer(slug)))
            return Response.redirect("/help/" + quote(slug, safe=""), 302)
        candidates = [(e, help_slug(e)) for e in found.candidates[:20]]
        return self._html(
            "not_found.html", None, 404, player=None, help_topic=wanted, candidates=candidates
        ).response

    def _help_renderer(self, slug: str) -> Callable[[Page | None], Page]:
        def render(previous: Page | None) -> Page:
            entries = self._help_slugs[slug]
            first = entries[0]
            return self._html(
                "help_topic.html",
                previous,
                entries=entries,
                slug=slug,
                title=first.title or first.name,
            )

        return render

    def _render_help(self, previous: Page | None) -> Page:
        categories = [
            (name, [(e, help_slug(e)) for e in entries])
            for name, entries in self.world.help.categories(admin=False)
        ]
        login = [v for v in self.world.login_verbs.all() if v.help]
        return self._html("help.html", previous, categories=categories, login=login)

    def _homepage(self, request: Request) -> Response | Deferred[Response]:
        name = request.params.get("name", "")
        if not _PLAYER_NAME.fullmatch(name):
            # Not a name anyone can have: the plain 404, without asking the store.
            return self._not_found(request)
        key = name.lower()
        page = self._homepages.get(key)
        if page is None or page.stale:
            built = self._build_homepage(key, page)
            if isinstance(built, Deferred):
                # Its Markdown is being rendered in the renderer process.
                return built.add_callback(lambda page: answer(request, page))
            page = built
        else:
            self._homepages.move_to_end(key)
        return answer(request, page)

    def _build_homepage(self, key: str, previous: Page | None) -> Page | Deferred[Page]:
        """Render a homepage and cache it, or a Deferred if its Markdown must be rendered."""
        info = self.world.player_info(key)
        if info is None:
            page = self._html("not_found.html", previous, 404, player=key)
        else:
            text = info.homepage
            cached = self._markdown.get(key)
            if cached is not None and cached[0] == text:
                html = cached[1]
            elif not text.strip():
                html = Markup("")
            elif self.renderer is None:
                html = render_markdown(text)
                self._remember_markdown(key, text, html)
            else:
                # Come back when the Markdown is ready (the text may have
                # changed again by then: this method looks again).
                ready = self._markdown_job(key, text)
                return ready.add_callback(lambda _: self._build_homepage(key, previous))
            page = self._render_homepage(info, key, html, previous)
        pages = self._homepages
        pages[key] = page
        self._fast[f"/~{key}"] = self._fast[f"/players/{key}"] = (page, key)
        if len(pages) > self.max_homepages:
            dropped, _ = pages.popitem(last=False)
            self._fast.pop(f"/~{dropped}", None)
            self._fast.pop(f"/players/{dropped}", None)
        return page

    def _remember_markdown(self, key: str, text: str, html: Markup) -> None:
        # Markdown is parsed again only when the text changes, not on every move.
        self._markdown[key] = (text, html)
        if len(self._markdown) > self.max_homepages:
            self._markdown.pop(next(iter(self._markdown)))

    def _markdown_job(self, key: str, text: str) -> Deferred[None]:
        """A Deferred that fires once ``text`` (``key``'s homepage) is rendered.

        Requests for one page while its Markdown renders share one job.
        """
        job = self._jobs.get(key)
        if job is None or job[0] != text:
            waiters: list[Deferred[None]] = []
            job = self._jobs[key] = (text, waiters)
            assert self.renderer is not None
            self.renderer.markdown(text).add_callbacks(
                self._markdown_done, self._markdown_failed, (key, text), None, (key, text)
            )
        waiter: Deferred[None] = Deferred()
        job[1].append(waiter)
        return waiter

    def _markdown_done(self, html: str, key: str, text: str) -> None:
        self._remember_markdown(key, text, Markup(html))
        self._wake(key, text)

    def _markdown_failed(self, failure: Failure, key: str, text: str) -> None:
        # Show the text as it was written, escaped, rather than nothing; a
        # text that took too long stays that way until it is changed.
        log.warning("homepage of %s shown as plain text: %s", key, failure.value)
        self._remember_markdown(key, text, Markup('<pre class="source">{}</pre>').format(text))
        self._wake(key, text)

    def _wake(self, key: str, text: str) -> None:
        job = self._jobs.get(key)
        if job is not None and job[0] == text:
            del self._jobs[key]
            for waiter in job[1]:
                waiter.callback(None)

    # -- rendering -----------------------------------------------------------------------

    def _common(self) -> dict[str, Any]:
        world = self.world
        return {
            "world_title": plain(world.name),
            "world_name": markup_html(world.name),
            "telnet": _split_address(world.telnet_address),
            "telnets_port": self.telnets_port,
            # With HTTPS on, links to homepages go there from the plain site too.
            "home_base": self.secure_url or "",
            "version": __version__,
            "css_url": self.css_url,
        }

    def _html(
        self, template: str, previous: Page | None, status: int = 200, *, csp: str = CSP,
        **context: Any,
    ) -> Page:
        body = self._env.get_template(template).render(**self._common(), **context)
        return self._page(body.encode("utf-8"), HTML, status=status, previous=previous, csp=csp)

    def _page(
        self,
        body: bytes,
        content_type: str,
        *,
        status: int = 200,
        previous: Page | None = None,
        cache_control: str = "no-cache",
        csp: str = CSP,
        expires: float | None = None,
        extra: Iterable[tuple[str, str]] = (),
    ) -> Page:
        """A Page for ``body``; the previous one again if nothing changed."""
        self.renders += 1
        etag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
        if previous is not None and previous.etag == etag and previous.response.status == status:
            # Same bytes: keep the Response (and its cached encoding) and the
            # Last-Modified date, so browsers' copies stay valid.
            previous.stale = False
            previous.expires = expires
            return previous
        modified = int(self.wall())
        headers = [("Content-Type", content_type), ("Cache-Control", cache_control)]
        if status == 200:
            headers += [("ETag", etag), ("Last-Modified", http_date(modified))]
        # Every page, whatever its type, carries the policy (img-src 'self' data:).
        headers += [("X-Content-Type-Options", "nosniff"), ("Content-Security-Policy", csp)]
        headers.extend(extra)
        response = Response(status, Headers(headers), body)
        not_modified = None
        if status == 200:
            not_modified = Response(
                304,
                Headers(
                    [
                        ("Cache-Control", cache_control),
                        ("ETag", etag),
                        ("Last-Modified", http_date(modified)),
                    ]
                ),
                b"",
            )
        return Page(response, not_modified, etag, modified, expires)

    def _render_front(self, previous: Page | None) -> Page:
        world = self.world
        online = world.who_online()
        return self._html(
            "front.html",
            previous,
            welcome=markup_html(world.welcome) if world.welcome else "",
            online=online[:FRONT_PAGE_NAMES],
            more=max(0, len(online) - FRONT_PAGE_NAMES),
            counts=world.counts(),
        )

    def _render_who(self, previous: Page | None) -> Page:
        world = self.world
        rows = []
        for player in world.who_online():
            room = player.location if world.where_visible(player) else None
            rows.append((player, room.id if room else None, room.name if room else None))
        return self._html("who.html", previous, rows=rows)

    def _render_status(self, previous: Page | None) -> Page:
        world = self.world
        now = self.clock.seconds()
        counts = world.counts()
        status = {
            "name": plain(world.name),
            "version": __version__,
            "uptime": int(now - self.started),
            "players_online": counts.online,
            "online": [p.name for p in world.who_online()],
            "players": counts.players,
            "rooms": counts.rooms,
            "telnet": world.telnet_address,
        }
        body = json.dumps(status, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        # The uptime moves on: render again once its second has passed.
        expires = self.started + int(now - self.started) + 1
        return self._page(
            body,
            JSON,
            previous=previous,
            expires=expires,
            extra=[("Access-Control-Allow-Origin", "*")],
        )

    def _render_map(self, previous: Page | None) -> Page:
        world = self.world
        body = map_svg(world.map_rooms(), world.start_id, world.name)
        return self._page(body.encode("utf-8"), SVG, previous=previous)

    def _render_map_xml(self, previous: Page | None) -> Page:
        # Laid out on the loop, once per change of the world: the telnet
        # gateway needs the same layout for Room.Info's coords anyway.
        body = world_map(self.world).xml()
        return self._page(
            body.encode("utf-8"),
            XML,
            previous=previous,
            extra=[("Access-Control-Allow-Origin", "*")],
        )

    def _render_rooms(self, previous: Page | None) -> Page:
        """The map as text: every room, indoor or out, and where each exit leads.

        The same rooms as ``/map.svg`` (``World.map_rooms``), in the world's
        order; each exit links to its room's entry, so a screen reader can
        walk the world from link to link.
        """
        rooms = self.world.map_rooms()
        names = {room.id: plain(room.name) for room in rooms}
        entries = [
            (
                room.id,
                names[room.id],
                "outdoors" if room.outdoor else "indoors",
                [(way, target, names.get(target)) for way, target in room.exits.items()],
            )
            for room in rooms
        ]
        return self._html("rooms.html", previous, rooms=entries)

    def _render_play(self, previous: Page | None) -> Page:
        # The one page whose policy lets a script run: the site's own play.js.
        return self._html(
            "play.html",
            previous,
            csp=PLAY_CSP,
            play_js_url=self.static_urls["play.js"],
            play_css_url=self.static_urls["play.css"],
        )

    def _render_not_found(self, previous: Page | None) -> Page:
        return self._html("not_found.html", previous, 404, player=None)

    def _render_homepage(
        self, info: PlayerInfo, key: str, html: Markup, previous: Page | None
    ) -> Page:
        return self._html(
            "homepage.html",
            previous,
            info=info,
            key=key,
            page=html,
            room=markup_html(info.room_name) if info.room_name else "",
            last_seen=format_time(info.last_seen),
            updated=format_time(info.homepage_updated),
            mail=self.world.mail_address(info.name),
        )
