"""World markup and player Markdown as safe HTML.

Pure text in, HTML out; no sockets, no cache, no template engine. Both the
website (:mod:`reality.gateways.web`) and the worker process
(:mod:`reality.gateways.worker`, which renders homepages off the loop) use
it, so neither imports the other.

A homepage is Markdown (CommonMark, rendered by markdown-it-py) with raw
HTML disabled, so whatever a player writes arrives as text: no
``<script>``, no event attribute, no ``javascript:`` link from a player
ever reaches a browser. Colour markup in world text
(:mod:`reality.game.markup`) becomes ``<span>`` elements.
"""

from __future__ import annotations

import re
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token
from markupsafe import Markup, escape

from reality.game import markup
from reality.game.text import clean_player_text

__all__ = ["markup_html", "plain", "render_markdown", "same_origin_image"]

# C0 controls but tab and newline, DEL and C1: invalid in XML, useless in HTML.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _style_attributes(style: markup.Style) -> str:
    """The class (and style) attributes of a span for one markup tag."""
    classes: list[str] = []
    inline: list[str] = []
    for colour, prefix, css in ((style.fg, "fg", "color"), (style.bg, "bg", "background-color")):
        if colour is None:
            continue
        if isinstance(colour, int):
            classes.append(f"{prefix}{colour:d}")
        else:
            r, g, b = colour
            inline.append(f"{css}:#{r:02x}{g:02x}{b:02x}")
    for flag in ("bold", "dim", "italic", "underline", "reverse"):
        if getattr(style, flag):
            classes.append(flag)
    attributes = f' class="{" ".join(classes)}"' if classes else ""
    if inline:
        attributes += f' style="{";".join(inline)}"'
    return attributes


def markup_html(text: str) -> Markup:
    """World markup (``{red}...{/}``) as escaped HTML with ``<span>`` elements.

    Unknown tags stay literal text, a ``{/}`` that closes nothing is
    dropped, and tags left open are closed at the end, so the result is
    always well nested.
    """
    text = _CONTROL.sub("", text)
    parts: list[str] = []
    # What closes each open tag: a style's </span>, or an element's ending.
    closers: list[str] = []
    tables = 0  # tables open: a TAB inside one separates cells
    for token in markup.parse(text):
        if isinstance(token, str):
            if tables:
                token = token.replace("\t", " \N{MIDDLE DOT} ")
            parts.append(str(escape(token)))
        elif token is markup.CLOSE:
            if closers:
                closing = closers.pop()
                tables -= closing == _TABLE_END
                parts.append(closing)
        elif isinstance(token, markup.Element):
            opening, closing = _element_html(token)
            tables += closing == _TABLE_END
            parts.append(opening)
            closers.append(closing)
        elif isinstance(token, markup.Style):
            parts.append(f"<span{_style_attributes(token)}>")
            closers.append("</span>")
    parts.extend(reversed(closers))
    return Markup("".join(parts))


_TABLE_END = "</span><!-- table -->"


def _element_html(element: markup.Element) -> tuple[str, str]:
    """An element of world markup as HTML: what opens it and what closes it.

    Decoration is hidden from assistive technology; a spoken alternative is
    read instead of the text it stands for; an exit says where it leads;
    a table's cells are set apart by a middle dot (tables in world text are
    rare: the game's own tables, like the mail listing, are not on the web).
    """
    arg = escape(element.arg)
    if element.kind == "deco":
        return '<span aria-hidden="true">', "</span>"
    if element.kind == "alt":
        return '<span aria-hidden="true">', f'</span><span class="sr-only">{arg}</span>'
    if element.kind == "exit" and element.arg:
        return f'<span title="to {arg}">', f'</span><span class="sr-only"> to {arg}</span>'
    if element.kind == "table":
        return '<span class="table">', _TABLE_END
    return "<span>", "</span>"


def plain(text: str) -> str:
    """World markup as plain text (for titles, alt texts and the map)."""
    return _CONTROL.sub("", markup.strip(text))


def _markdown() -> MarkdownIt:
    # CommonMark with raw HTML off: "<script>" in a homepage is text, and
    # markdown-it's link validation drops javascript:, vbscript: and file: URLs.
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    return md


_MD = _markdown()


def render_markdown(text: str) -> Markup:
    """A player's Markdown as safe HTML.

    Raw HTML is escaped, headings move one level down (the page's own
    ``<h1>`` is the player's name), and links get ``rel="nofollow ugc"``.
    Invisible and direction-changing characters are dropped
    (:func:`~reality.game.text.clean_player_text`), also from pages saved
    before the game dropped them at the door. An image from another site
    becomes a plain link to it, labelled with its alt text: the page
    loads images only from its own origin (the site's Content-Security-Policy,
    :mod:`reality.gateways.web.pages`).
    """
    text = clean_player_text(_CONTROL.sub("", text), multiline=True)
    env: dict[str, Any] = {}
    tokens = _MD.parse(text, env)
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(6, int(token.tag[1:]) + 1)}"
        if token.children and any(c.type == "image" for c in token.children):
            token.children = _offsite_images_as_links(token.children)
        for child in token.children or ():
            if child.type == "link_open":
                child.attrSet("rel", "nofollow ugc noopener")
    return Markup(_MD.renderer.render(tokens, _MD.options, env))


# Browsers drop ASCII tab and newline anywhere in a URL and leading C0
# controls and spaces, and read "\" as "/": judge the URL they would load.
_URL_NOISE = re.compile(r"[\x00-\x20]")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")


def same_origin_image(src: str) -> bool:
    """Whether an image URL from a homepage loads from this site (or is inline data)."""
    url = _URL_NOISE.sub("", src).replace("\\", "/")
    if url.startswith("//"):
        return False  # scheme-relative: another host
    if _SCHEME.match(url):
        # markdown-it only lets data:image/gif|png|jpeg|webp through.
        return url[:11].lower() == "data:image/"
    return True  # a path on this site


def _offsite_images_as_links(children: list[Token]) -> list[Token]:
    """Inline tokens with each off-site image replaced by a link to it."""
    out: list[Token] = []
    for child in children:
        src = child.attrGet("src") if child.type == "image" else None
        if src is None or same_origin_image(str(src)):
            out.append(child)
            continue
        label = child.content or str(src)
        link = Token("link_open", "a", 1, attrs={"href": str(src)})
        text = Token("text", "", 0, content=f"[image: {label}]")
        out += [link, text, Token("link_close", "a", -1)]
    return out
