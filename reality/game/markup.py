"""The colour markup of world text: parse, strip, validate, escape.

World files, admin descriptions and every message the world sends are
*markup text*: plain Unicode with style tags in braces. The gateway turns
it into ANSI escapes or plain text for each client
(:mod:`reality.gateways.render`); the world itself never sees an escape
sequence.

The syntax (documented for builders in ``docs/world-format.md``)::

    {red}red text{/} back to normal
    {bold yellow}several words in one tag{/}
    {#ff8800}a truecolour orange{/} (downgraded for 256/16-colour clients)
    {on_blue}a blue background{/}
    {{ is a literal brace; a lone } is just a brace

* A tag is ``{`` + words separated by spaces + ``}``. Each word is a
  colour name (``black red green yellow blue magenta cyan white``, their
  ``bright_`` forms, ``grey``/``gray`` for bright black), ``#rrggbb``,
  ``on_<colour>`` or ``on_#rrggbb`` for the background, or an attribute
  (``bold dim italic underline reverse``). Tags nest: an inner tag adds to
  the outer one's style.
* ``{/}`` closes the innermost open tag. Tags still open at the end of a
  text are closed there: style never leaks from one message to the next.
* ``{{`` is a literal ``{``. Anything in braces that is not a valid tag
  stays literal text (so a player's ``{grin}`` reads as typed), and
  :func:`validate` reports it so world files and admins get told.

Besides styles, a few *elements* say what a piece of text is, so that each
kind of client can show it its own way (a screen reader is read aloud, a
terminal is looked at). They close with ``{/}`` like a style and nest with
styles::

    {exit Market Street}north{/}   an exit and where it leads: "north" on a
                                   screen, "north to Market Street" spoken
    {alt unread}*{/}               text with a spoken form: "*" on a screen,
                                   "unread" spoken
    {deco}=-=-=-=-={/}             decoration (rules, boxes, banner art):
                                   shown on a screen, silent when spoken
    {table Letter||from|subject}   a table: rows are the lines inside, cells
    1<TAB>*<TAB>Alice<TAB>Hi{/}    are separated by TAB; a screen lays it out
                                   in columns, a screen reader hears each row
                                   as one line ("Letter 1, from Alice,
                                   subject Hi"), the labels ("|"-separated
                                   in the tag) before each non-empty cell

Build them with :func:`exit_link`, :func:`alt`, :func:`deco` and
:func:`table`, which keep braces and newlines out of the tag. The renderer
(:mod:`reality.gateways.render`) decides per client; :func:`strip` gives
the on-screen form.

Text that comes from players (``say``, ``tell``...) goes through
:func:`escape` so it shows verbatim.
"""

from __future__ import annotations

import re
from functools import lru_cache

from attrs import frozen

__all__ = [
    "CLOSE",
    "COLOUR_NAMES",
    "ELEMENTS",
    "Element",
    "Style",
    "alt",
    "deco",
    "escape",
    "exit_link",
    "parse",
    "parse_tag",
    "strip",
    "table",
    "validate",
]

#: The 16 ANSI palette names, index = ANSI colour number.
COLOUR_NAMES: tuple[str, ...] = (
    "black",
    "red",
    "green",
    "yellow",
    "blue",
    "magenta",
    "cyan",
    "white",
)

_COLOURS: dict[str, int] = {}
for _i, _name in enumerate(COLOUR_NAMES):
    _COLOURS[_name] = _i
    _COLOURS["bright_" + _name] = _i + 8
_COLOURS["grey"] = _COLOURS["gray"] = 8

_ATTRIBUTES = ("bold", "dim", "italic", "underline", "reverse")

_HEX = re.compile(r"#[0-9a-fA-F]{6}\Z")

# One scan finds every brace construct; text between matches is literal.
_TOKEN = re.compile(r"\{\{|\{([^{}\n]*)\}")

#: A colour: an int 0..15 (the 16-colour palette) or an (r, g, b) tuple.
Colour = int | tuple[int, int, int]


@frozen(slots=True)
class Style:
    """A text style; ``None``/``False`` fields are inherited from outside."""

    fg: Colour | None = None
    bg: Colour | None = None
    bold: bool = False
    dim: bool = False
    italic: bool = False
    underline: bool = False
    reverse: bool = False

    def over(self, outer: Style) -> Style:
        """This style nested inside ``outer``: set fields win, the rest inherit."""
        return Style(
            fg=outer.fg if self.fg is None else self.fg,
            bg=outer.bg if self.bg is None else self.bg,
            bold=self.bold or outer.bold,
            dim=self.dim or outer.dim,
            italic=self.italic or outer.italic,
            underline=self.underline or outer.underline,
            reverse=self.reverse or outer.reverse,
        )


#: The element tags (see the module docstring): their first word.
ELEMENTS = ("exit", "alt", "deco", "table")


@frozen(slots=True)
class Element:
    """An element tag: ``kind`` is one of :data:`ELEMENTS`, ``arg`` the rest of the tag."""

    kind: str
    arg: str = ""


#: The default (unstyled) style.
PLAIN = Style()


class _Close:
    """The ``{/}`` token (a singleton)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "CLOSE"


#: The token :func:`parse` yields for ``{/}``.
CLOSE = _Close()

Token = str | Style | Element | _Close


def _colour(word: str) -> Colour | None:
    if word in _COLOURS:
        return _COLOURS[word]
    if _HEX.match(word):
        return (int(word[1:3], 16), int(word[3:5], 16), int(word[5:7], 16))
    return None


@lru_cache(maxsize=256)
def parse_tag(body: str) -> Style | Element | None:
    """The style or element of a tag's inside (``"bold red"``), or None if it is not a tag."""
    words = body.split()
    if not words:
        return None
    if words[0] in ELEMENTS:
        kind = words[0]
        arg = body.strip()[len(kind) :].strip()
        if kind == "deco" and arg:
            return None
        return Element(kind, arg)
    fields: dict[str, object] = {}
    for word in words:
        word = word.lower()
        if word in _ATTRIBUTES:
            fields[word] = True
        elif word.startswith("on_"):
            colour = _colour(word[3:])
            if colour is None:
                return None
            fields["bg"] = colour
        else:
            colour = _colour(word)
            if colour is None:
                return None
            fields["fg"] = colour
    return Style(**fields)  # type: ignore[arg-type]


def parse(text: str) -> list[Token]:
    """Split markup into tokens: ``str`` (literal text), :class:`Style`, :data:`CLOSE`.

    Never raises: invalid tags come back as literal text.
    """
    if "{" not in text:
        return [text] if text else []
    tokens: list[Token] = []
    literal: list[str] = []
    pos = 0
    for match in _TOKEN.finditer(text):
        start = match.start()
        if start > pos:
            literal.append(text[pos:start])
        pos = match.end()
        body = match.group(1)
        if body is None:  # "{{"
            literal.append("{")
            continue
        if body == "/":
            token: Token | None = CLOSE
        else:
            token = parse_tag(body)
        if token is None:
            literal.append(match.group(0))
            continue
        if literal:
            tokens.append("".join(literal))
            literal = []
        tokens.append(token)
    if pos < len(text):
        literal.append(text[pos:])
    if literal:
        tokens.append("".join(literal))
    return tokens


def strip(text: str) -> str:
    """The visible text of markup, without any style (elements in their on-screen form).

    A table's cells stay separated by TAB.
    """
    if "{" not in text:
        return text
    return "".join(t for t in parse(text) if isinstance(t, str))


def _tag_arg(text: str) -> str:
    """``text`` made safe inside a tag: no braces, no line breaks, single spaces."""
    return " ".join(text.replace("{", "(").replace("}", ")").split())


def exit_link(name: str, destination: str) -> str:
    """Markup for an exit ``name`` (markup) leading to ``destination`` (plain text)."""
    where = _tag_arg(destination)
    if not where:
        return name
    return f"{{exit {where}}}{name}{{/}}"


def alt(shown: str, spoken: str) -> str:
    """Markup showing ``shown`` (markup) on a screen and saying ``spoken`` (plain) aloud."""
    said = _tag_arg(spoken)
    return f"{{alt {said}}}{shown}{{/}}" if said else f"{{deco}}{shown}{{/}}"


def deco(text: str) -> str:
    """Markup for decoration (``text``, markup): shown on a screen, silent when spoken."""
    return f"{{deco}}{text}{{/}}"


def table(rows: list[list[str]], labels: list[str] | None = None) -> str:
    """Markup for a table of ``rows`` of cells (markup), with spoken ``labels`` per column.

    Cells lose their TABs and line breaks (they separate cells and rows).
    """
    head = "|".join(_tag_arg(label).replace("|", "/") for label in labels or [])
    body = "\n".join(
        "\t".join(" ".join(cell.split()) for cell in row) for row in rows
    )
    return f"{{table {head}}}{body}{{/}}" if head else f"{{table}}{body}{{/}}"


def escape(text: str) -> str:
    """Markup that shows ``text`` exactly as given (for player-written text)."""
    return text.replace("{", "{{")


def validate(text: str) -> list[str]:
    """Problems with a piece of markup, as messages; empty when it is fine.

    Reports unknown tags, ``{/}`` with no open tag, and a ``{`` that
    starts no tag. Tags left open at the end are allowed (they close there).
    """
    problems: list[str] = []
    depth = 0
    pos = 0
    for match in _TOKEN.finditer(text):
        # A "{" between matches never starts a tag: it has no closing "}".
        gap = text[pos : match.start()]
        if "{" in gap:
            problems.append(_stray_brace(gap))
        pos = match.end()
        body = match.group(1)
        if body is None:
            continue
        if body == "/":
            if depth == 0:
                problems.append("'{/}' closes nothing: no tag is open there")
            else:
                depth -= 1
        elif parse_tag(body) is None:
            problems.append(f"unknown markup tag '{{{body}}}' (write '{{{{' for a literal brace)")
        else:
            depth += 1
    if "{" in text[pos:]:
        problems.append(_stray_brace(text[pos:]))
    return problems


def _stray_brace(fragment: str) -> str:
    at = fragment.index("{")
    snippet = fragment[at : at + 20]
    return f"'{{' without a closing '}}' near {snippet!r} (write '{{{{' for a literal brace)"
