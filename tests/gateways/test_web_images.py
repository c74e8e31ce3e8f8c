"""Homepages load images only from this site: off-site images are links, and the CSP says so."""

from __future__ import annotations

import html as html_module
import re

import pytest

from reality.gateways.web import render_markdown, same_origin_image
from reality.gateways.web.pages import CSP

PIXEL = "http://attacker.example/pixel.gif"


def test_offsite_image_becomes_a_plain_link():
    """![alt](http://elsewhere/...) is a link labelled with the alt text, not an <img>."""
    html = str(render_markdown(f"Hello ![tracking pixel]({PIXEL}) there"))
    assert "<img" not in html
    assert (
        f'<a href="{PIXEL}" rel="nofollow ugc noopener">[image: tracking pixel]</a>' in html
    )
    assert html.startswith("<p>Hello ") and html.rstrip().endswith(" there</p>")


def test_offsite_image_without_alt_shows_its_address():
    """With no alt text, the link says where the image is."""
    html = str(render_markdown(f"![]({PIXEL})"))
    assert f">[image: {PIXEL}]</a>" in html and "<img" not in html


def test_image_inside_a_link_stays_a_link():
    """[![alt](offsite)](target): the image part becomes text; the page still has no <img>."""
    html = str(render_markdown(f"[![logo]({PIXEL})](https://example.org/)"))
    assert "<img" not in html and "[image: logo]" in html


@pytest.mark.parametrize(
    "src",
    [
        PIXEL,
        "https://attacker.example/p.png",
        "//attacker.example/p.png",
        "HTTP://attacker.example/p.png",
        "ftp://attacker.example/p.png",
        "/\\attacker.example/p.png",
        "\\\\attacker.example/p.png",
    ],
)
def test_every_way_to_name_another_host_is_offsite(src):
    """Absolute, scheme-relative and backslash forms all count as another site.

    Rendered, none of them is an <img> a browser would fetch from elsewhere
    (markdown-it percent-encodes a backslash, which makes it a path here).
    """
    assert not same_origin_image(src)
    html = str(render_markdown(f"![x](<{src}>)"))
    for shown in re.findall(r'<img src="([^"]*)"', html):
        assert same_origin_image(html_module.unescape(shown)), shown
        assert "%5C" in shown


@pytest.mark.parametrize("src", ["/map.svg", "/static/cat.png", "cat.png", "../map.svg"])
def test_same_site_images_are_shown(src):
    """An image from this site is an <img>."""
    assert same_origin_image(src)
    assert f'<img src="{src}" alt="a map"' in str(render_markdown(f"![a map]({src})"))


def test_data_images_are_shown():
    """Inline data: images (which markdown-it allows for gif/png/jpeg/webp) stay images."""
    src = "data:image/png;base64,iVBORw0KGgo="
    assert same_origin_image(src)
    assert "<img " in str(render_markdown(f"![dot]({src})"))


def test_the_policy_allows_only_same_origin_images():
    """The CSP every page carries: img-src 'self' data:, and nothing wider."""
    directives = dict(d.strip().split(" ", 1) for d in CSP.split(";"))
    assert directives["img-src"] == "'self' data:"
    assert directives["default-src"] == "'self'"
