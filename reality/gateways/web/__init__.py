"""The world's website: front page, player homepages, who, status, map.

Where HTTP meets the world. The HTTP/1.1 server is
:mod:`reality.net.protocols.http`; this package gives it one handler,
:class:`WebSite`, that answers from the running world:

=====================  ==========================================================
``/``                  the world's name and welcome, how to connect (telnet host
                       and port), who is online now, counts, the map
``/~<name>``           a player's homepage (also ``/players/<name>``): their
                       Markdown, whether they are online and where, last seen
``/who``               everyone online, and where they are
``/help``              the game's help by category (:mod:`reality.game.help`);
                       ``/help/<topic>`` one entry (admin verbs are not shown)
``/status.json``       players online, uptime, rooms, version (for machines)
``/map.svg``           rooms as boxes, exits as lines, laid out by compass
``/style.css``         the one stylesheet
``/play``              the web client (``/play.js``, ``/play.css``): the game in
                       the browser over the WebSocket ``/ws``
                       (:mod:`reality.gateways.websocket`); the one page whose
                       policy lets a script run (the site's own file only)
=====================  ==========================================================

Pages are rendered with Jinja2 (autoescape on). A homepage is Markdown
rendered by markdown-it-py with raw HTML disabled, so whatever a player
writes arrives as text: no ``<script>``, no event attribute, no
``javascript:`` link from a player ever reaches a browser. Colour markup in
world text (:mod:`reality.game.markup`) becomes ``<span>`` elements.

Markdown and the map are rendered in the server's worker processes
(:class:`~reality.gateways.workers.WorkerPool`), not on the loop: markdown-it-py can
spend a third of a second on 20,000 hostile characters, and a world of
thousands of rooms takes a second to lay out. A request for a page whose
text changed (or for the map after the world changed) waits for it (a
Deferred); a text that takes over 5 s, or workers that are busy, is
shown escaped in ``<pre>``, and the map says it cannot be drawn.

Caching: a page is rendered when what it shows changes, not per request.
:meth:`WebSite.changed` is subscribed to the world's change topics and
marks the pages a change touches as stale (``online``: the front page,
``/who``, ``/status.json`` and that player's homepage; ``player``:
``/who`` and that player's homepage; ``world``: everything). The next
request renders a stale page again; every other request gets the same
:class:`~reality.net.protocols.http.Response` object, whose encoding the
response writer keeps, so serving a cached page costs a dictionary lookup.
``/status.json`` carries the uptime and is also rendered at most once a
second.

Conditional requests follow RFC 9110: every 200 page has a strong
``ETag`` (a hash of its body, §8.8.3) and a ``Last-Modified`` (§8.8.2,
kept when a re-rendering comes out the same); ``If-None-Match`` (§13.1.2,
weak comparison) wins over ``If-Modified-Since`` (§13.1.3, §13.2.2) and
a match is answered ``304 Not Modified`` (§15.4.5). Pages say
``Cache-Control: no-cache`` (RFC 9111 §5.2.2.4): a browser may keep them
but asks again, cheaply, each time.

The package, one concern per module:

- :mod:`~reality.gateways.web.site`: :class:`WebSite`, the routes and the
  page cache;
- :mod:`~reality.gateways.web.pages`: a cached :class:`~.pages.Page` and
  conditional requests;
- :mod:`~reality.gateways.web.gateway`: :class:`WebFactory` (connections
  counted per address) and :func:`install`, which plugs the site into the
  server (:mod:`reality.gateways.context`): it listens on
  ``settings.http_port`` and, once the port is known, sets the world's
  ``web_url`` (which the telnet banner and ``homepage`` show).

Markdown and world markup as HTML (:mod:`reality.gateways.markdown`), the
map (:mod:`reality.gateways.worldmap`) and the templates
(:mod:`reality.gateways.templating`) live beside the package, not in it:
the worker process renders with them and must not import the website.
"""

from reality.gateways.markdown import markup_html, render_markdown, same_origin_image
from reality.gateways.web.gateway import WebFactory, install, site_url
from reality.gateways.web.site import WebSite
from reality.gateways.worldmap import MapBox, MapLayout, MapLevel, MapLine, layout_map, map_svg

__all__ = [
    "MapBox",
    "MapLayout",
    "MapLevel",
    "MapLine",
    "WebFactory",
    "WebSite",
    "install",
    "layout_map",
    "map_svg",
    "markup_html",
    "render_markdown",
    "same_origin_image",
    "site_url",
]
