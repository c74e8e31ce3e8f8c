"""The Jinja2 environment of the website and the map: templates, filters, static files.

Autoescape is on, and an undefined name is an error rather than an empty
string. The filters every template may use: ``time`` (a wall-clock time
as a ``<time>`` element), ``plural``, ``markup`` (world markup as HTML
spans) and ``plain`` (world markup as plain text), from
:mod:`reality.gateways.markdown`.

The website (:mod:`reality.gateways.web`) and the map
(:mod:`reality.gateways.worldmap`, drawn in the worker process) both use
it; it imports neither.
"""

from __future__ import annotations

import time
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from reality.gateways.markdown import markup_html, plain

__all__ = ["STATIC", "TEMPLATES", "environment", "format_time"]

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"


def format_time(seconds: float | None) -> Markup:
    """A wall-clock time as a ``<time>`` element, in UTC to the minute."""
    if seconds is None:
        return Markup("")
    t = time.gmtime(seconds)
    return Markup('<time datetime="{}">{}</time>').format(
        time.strftime("%Y-%m-%dT%H:%M:%SZ", t), time.strftime("%Y-%m-%d %H:%M UTC", t)
    )


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def environment() -> Environment:
    """A new environment over :data:`TEMPLATES`, with the filters above."""
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["time"] = format_time
    env.filters["plural"] = _plural
    env.filters["markup"] = markup_html
    env.filters["plain"] = plain
    return env
