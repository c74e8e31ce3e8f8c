"""Markup to terminal text: ANSI colour (16, 256 or truecolour) or plain, word-wrapped.

Pure text in, text out; no sockets, no cache. The world speaks markup
(:mod:`reality.game.markup`); a gateway calls :func:`render` with its
client's capability and width. The same bystander text goes to many
sessions, so the caller caches what it sends (the telnet gateway keeps
one LRU of encoded bytes per (text, capability, width)): a room of 100
listeners with the same client costs one rendering.

Colour escapes follow ECMA-48 SGR: ``ESC [ n m`` with 30-37/90-97 (and
40-47/100-107) for the 16 colours, ``38;5;n`` for the 256-colour palette
and ``38;2;r;g;b`` for truecolour. Truecolour is downgraded to the nearest
256-palette or 16-palette colour for clients that cannot show it.

Wrapping counts visible characters only (escapes are zero-width, East
Asian wide and fullwidth characters count 2, combining marks 0), breaks at
spaces, splits a word longer than a line, and never splits an escape
sequence. Each output line closes its own style and the next reopens it,
so a client that drops a line never bleeds colour into the rest.

Control characters in the text (a player typing ESC, say) are dropped
here, so no client can be made to run another client's terminal.

The markup's elements (exits, spoken alternatives, decoration, tables:
:mod:`reality.game.markup`) are resolved first, per capability
(:func:`resolve`): a table is laid out in columns for the width, or read
as one line per row. :data:`SCREEN_READER` is the capability of a client
read aloud by a screen reader (or shown on a braille display): no colour,
no decoration, no wrapping (the reader and the display wrap), exits with
their destinations, tables as lines, and the symbols a speech synthesiser
stumbles on written as words (:data:`SPOKEN_SYMBOLS`, :func:`speakable`).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from reality.game.markup import _TOKEN, CLOSE, PLAIN, Element, Style, escape, parse, parse_tag

__all__ = [
    "ANSI16",
    "ANSI256",
    "CAPABILITIES",
    "PLAIN_TEXT",
    "SCREEN_READER",
    "SPOKEN_SYMBOLS",
    "TRUECOLOR",
    "render",
    "resolve",
    "speakable",
    "spoken_prompt",
    "text_width",
]

PLAIN_TEXT = "plain"
ANSI16 = "ansi"
ANSI256 = "256"
TRUECOLOR = "truecolor"
SCREEN_READER = "screenreader"
CAPABILITIES = (PLAIN_TEXT, ANSI16, ANSI256, TRUECOLOR, SCREEN_READER)

RESET = "\x1b[0m"

# C0 controls except \t and \n, DEL, and C1 controls: never sent raw.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SPACES = re.compile(r"(\s+)")

# The xterm default palette for the 16 colours, to find the nearest one.
_PALETTE16 = (
    (0, 0, 0), (205, 0, 0), (0, 205, 0), (205, 205, 0),
    (0, 0, 238), (205, 0, 205), (0, 205, 205), (229, 229, 229),
    (127, 127, 127), (255, 0, 0), (0, 255, 0), (255, 255, 0),
    (92, 92, 255), (255, 0, 255), (0, 255, 255), (255, 255, 255),
)  # fmt: skip
_CUBE = (0, 95, 135, 175, 215, 255)


def render(text: str, capability: str = ANSI16, width: int = 80, newline: str = "\r\n") -> str:
    """Render markup for one kind of client.

    ``capability`` is one of :data:`CAPABILITIES`; ``width`` is the line
    length in columns (0 or less: no wrapping). Lines are joined with
    ``newline``; there is no trailing newline.
    """
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    if capability == SCREEN_READER:
        return newline.join(_spoken_lines(text))
    colour = capability != PLAIN_TEXT
    if "{" in text:
        text = resolve(text, spoken=False, width=width)
    if "\t" in text:
        text = text.replace("\t", "    ")
    # Fast path: plain text that fits needs no work beyond joining lines.
    if "{" not in text and (width <= 0 or _short(text, width)):
        return text.replace("\n", newline) if newline != "\n" else text
    paragraphs = _styled_paragraphs(text)
    lines: list[str] = []
    for runs in paragraphs:
        for line in _wrap(runs, width):
            lines.append(_emit(line, capability) if colour else "".join(t for _, t in line))
    return newline.join(lines)


def _short(text: str, width: int) -> bool:
    if text.isascii():
        return all(len(line) <= width for line in text.split("\n"))
    return all(text_width(line) <= width for line in text.split("\n"))


def char_width(ch: str) -> int:
    """Columns a character takes on a terminal: 0, 1 or 2."""
    code = ord(ch)
    if code < 0x300:
        return 1
    if unicodedata.combining(ch):
        return 0
    if code >= 0x1100 and unicodedata.east_asian_width(ch) in ("W", "F"):
        return 2
    return 1


def text_width(text: str) -> int:
    """Columns a string of visible text takes."""
    if text.isascii():
        return len(text)
    return sum(char_width(ch) for ch in text)


def _styled_paragraphs(text: str) -> list[list[tuple[Style, str]]]:
    """Markup -> paragraphs (split at newlines) of (style, text) runs."""
    paragraphs: list[list[tuple[Style, str]]] = [[]]
    stack: list[Style] = [PLAIN]
    for token in parse(text):
        if isinstance(token, str):
            parts = token.split("\n")
            for index, part in enumerate(parts):
                if index:
                    paragraphs.append([])
                if part:
                    paragraphs[-1].append((stack[-1], part))
        elif token is CLOSE:
            if len(stack) > 1:
                stack.pop()
        else:
            stack.append(token.over(stack[-1]))  # type: ignore[union-attr]
    return paragraphs


def _wrap(runs: list[tuple[Style, str]], width: int) -> list[list[tuple[Style, str]]]:
    """Greedy word wrap of styled runs; returns lines of runs."""
    if width <= 0:
        return [runs]
    # Words may span several runs ("{red}foo{/}bar" is one word), so pieces
    # are grouped: a word is a list of (style, text) parts.
    items: list[tuple[bool, list[tuple[Style, str]], int]] = []  # (is_space, parts, width)
    word: list[tuple[Style, str]] = []
    word_width = 0
    for style, text in runs:
        for piece in _SPACES.split(text):
            if not piece:
                continue
            if piece[0].isspace():
                if word:
                    items.append((False, word, word_width))
                    word, word_width = [], 0
                items.append((True, [(style, piece)], text_width(piece)))
            else:
                word.append((style, piece))
                word_width += text_width(piece)
    if word:
        items.append((False, word, word_width))

    lines: list[list[tuple[Style, str]]] = []
    line: list[tuple[Style, str]] = []
    used = 0
    pending: list[tuple[Style, str]] = []  # spaces before the next word
    pending_width = 0
    for is_space, parts, w in items:
        if is_space:
            pending.extend(parts)
            pending_width += w
            continue
        if used + pending_width + w <= width:
            if used or not lines:
                # Leading spaces of a paragraph are kept (indentation);
                # spaces at a wrap point are dropped.
                line.extend(pending)
                used += pending_width
            line.extend(parts)
            used += w
        elif w <= width:
            lines.append(line)
            line, used = list(parts), w
        else:
            # A word longer than a line: fill this line, then split it.
            if used and used + pending_width < width:
                line.extend(pending)
                used += pending_width
            elif used:
                lines.append(line)
                line, used = [], 0
            for style, text in parts:
                chunk: list[str] = []
                for ch in text:
                    cw = char_width(ch)
                    if used + cw > width and used:
                        if chunk:
                            line.append((style, "".join(chunk)))
                            chunk = []
                        lines.append(line)
                        line, used = [], 0
                    chunk.append(ch)
                    used += cw
                if chunk:
                    line.append((style, "".join(chunk)))
        pending, pending_width = [], 0
    if pending and (used or not lines) and used + pending_width <= width:
        line.extend(pending)
    lines.append(line)
    return lines


def _emit(line: list[tuple[Style, str]], capability: str) -> str:
    out: list[str] = []
    current = PLAIN
    for style, text in line:
        if style != current:
            out.append(_sgr(style, capability))
            current = style
        out.append(text)
    if current != PLAIN:
        out.append(RESET)
    return "".join(out)


@lru_cache(maxsize=512)
def _sgr(style: Style, capability: str) -> str:
    """The escape that switches from any style to ``style``."""
    params = ["0"]
    if style.bold:
        params.append("1")
    if style.dim:
        params.append("2")
    if style.italic:
        params.append("3")
    if style.underline:
        params.append("4")
    if style.reverse:
        params.append("7")
    if style.fg is not None:
        params.append(_colour_param(style.fg, capability, 30))
    if style.bg is not None:
        params.append(_colour_param(style.bg, capability, 40))
    return "\x1b[" + ";".join(params) + "m"


def _colour_param(colour: int | tuple[int, int, int], capability: str, base: int) -> str:
    if not isinstance(colour, int):
        if capability == TRUECOLOR:
            r, g, b = colour
            return f"{base + 8};2;{r};{g};{b}"
        if capability == ANSI256:
            return f"{base + 8};5;{_nearest256(colour)}"
        colour = _nearest16(colour)
    # 0-7: 30-37 (40-47); the bright half 8-15: 90-97 (100-107).
    return str(base + colour) if colour < 8 else str(base + 60 + colour - 8)


def _nearest16(rgb: tuple[int, int, int]) -> int:
    r, g, b = rgb
    return min(
        range(16),
        key=lambda i: (
            (_PALETTE16[i][0] - r) ** 2 + (_PALETTE16[i][1] - g) ** 2 + (_PALETTE16[i][2] - b) ** 2
        ),
    )


def _nearest256(rgb: tuple[int, int, int]) -> int:
    def level(v: int) -> int:
        return min(range(6), key=lambda i: abs(_CUBE[i] - v))

    r, g, b = rgb
    ri, gi, bi = level(r), level(g), level(b)
    cube = (_CUBE[ri], _CUBE[gi], _CUBE[bi])
    cube_dist = (cube[0] - r) ** 2 + (cube[1] - g) ** 2 + (cube[2] - b) ** 2
    # The 24-step grey ramp (232..255) is closer for near-greys.
    grey = round(((r + g + b) / 3 - 8) / 10)
    grey = max(0, min(23, grey))
    gv = 8 + 10 * grey
    grey_dist = (gv - r) ** 2 + (gv - g) ** 2 + (gv - b) ** 2
    if grey_dist < cube_dist:
        return 232 + grey
    return 16 + 36 * ri + 6 * gi + bi


# -- elements ------------------------------------------------------------------------------


def resolve(text: str, *, spoken: bool, width: int = 0) -> str:
    """``text`` with its elements replaced by markup for a screen (or, ``spoken``, a reader).

    Styles and literal braces are kept as they are. A ``{/}`` closes the
    innermost open tag, style or element, and tags still open at the end
    close there, as :func:`~reality.game.markup.parse` reads them.
    """
    if "{" not in text:
        return text
    # Frames: (the element, or None for the root and for styles, its parts).
    stack: list[tuple[Element | None, list[str]]] = [(None, [])]
    pos = 0
    for match in _TOKEN.finditer(text):
        parts = stack[-1][1]
        if match.start() > pos:
            parts.append(text[pos : match.start()])
        pos = match.end()
        body = match.group(1)
        if body is None:
            parts.append("{{")
        elif body == "/":
            if len(stack) > 1:
                _close(stack, spoken, width)
        else:
            tag = parse_tag(body)
            if isinstance(tag, Element):
                stack.append((tag, []))
            elif tag is None:
                parts.append(match.group(0))
            else:
                stack.append((None, [match.group(0)]))
    if pos < len(text):
        stack[-1][1].append(text[pos:])
    while len(stack) > 1:
        _close(stack, spoken, width)
    return "".join(stack[0][1])


def _close(stack: list[tuple[Element | None, list[str]]], spoken: bool, width: int) -> None:
    element, parts = stack.pop()
    inner = "".join(parts)
    out = stack[-1][1]
    if element is None:
        out.append(inner + "{/}")
        return
    kind, arg = element.kind, element.arg
    if kind == "exit":
        out.append(f"{inner} to {escape(arg)}" if spoken and arg else inner)
    elif kind == "alt":
        out.append(escape(arg) if spoken else inner)
    elif kind == "deco":
        out.append("" if spoken else inner)
    elif kind == "table":
        rows = [row.split("\t") for row in inner.split("\n") if row.strip()]
        labels = arg.split("|") if arg else []
        out.append(_table_lines(rows, labels) if spoken else _table_columns(rows, width))


def _table_lines(rows: list[list[str]], labels: list[str]) -> str:
    """A table read aloud: one line per row, each non-empty cell after its label."""
    lines = []
    for row in rows:
        said = []
        for index, cell in enumerate(row):
            cell = cell.strip()
            if not _visible(cell).strip():
                continue
            label = labels[index].strip() if index < len(labels) else ""
            said.append(f"{escape(label)} {cell}" if label else cell)
        lines.append(", ".join(said))
    return "\n".join(lines)


def _visible(cell: str) -> str:
    return "".join(t for t in parse(cell) if isinstance(t, str))


#: A column is never narrowed below this many columns to fit the width.
MIN_COLUMN = 6


def _table_columns(rows: list[list[str]], width: int) -> str:
    """A table on a screen: columns two spaces apart, numbers to the right, fitted to ``width``.

    When the natural widths do not fit, the widest column gives way first
    (its cells end in "..."), down to :data:`MIN_COLUMN`.
    """
    if not rows:
        return ""
    count = max(len(row) for row in rows)
    cells = [row + [""] * (count - len(row)) for row in rows]
    shown = [[_visible(cell) for cell in row] for row in cells]
    widths = [max(text_width(row[i]) for row in shown) for i in range(count)]
    numeric = [all(row[i].strip().isdigit() or not row[i].strip() for row in shown)
               for i in range(count)]
    if width > 0:
        excess = sum(widths) + 2 * (count - 1) - width
        while excess > 0:
            widest = max(range(count), key=lambda i: widths[i])
            cut = min(excess, widths[widest] - MIN_COLUMN)
            if cut <= 0:
                break
            widths[widest] -= cut
            excess -= cut
    lines = []
    for row, plain in zip(cells, shown, strict=True):
        out = []
        for i in range(count):
            cell, visible = row[i], plain[i]
            used = text_width(visible)
            if used > widths[i]:
                short = _shorten(visible, widths[i])
                cell, used = escape(short), text_width(short)
            pad = " " * (widths[i] - used)
            out.append(pad + cell if numeric[i] else cell + pad)
        lines.append("  ".join(out).rstrip())
    return "\n".join(lines)


def _shorten(text: str, width: int) -> str:
    """``text`` cut to ``width`` columns, ending in "..."."""
    keep: list[str] = []
    used = 0
    for ch in text:
        cw = char_width(ch)
        if used + cw > width - 3:
            break
        keep.append(ch)
        used += cw
    return "".join(keep) + "..."


# -- speech --------------------------------------------------------------------------------

# Marks where a symbol was taken out, until the spaces around it are settled.
_GONE = "\x00"

#: What a screen reader gets instead of symbols a speech synthesiser reads
#: badly ("dash greater than", "number sign number sign number sign"), in
#: the order they apply: (what, pattern, replacement). Documented in
#: docs/accessibility.md; text without these is left exactly as it is.
SPOKEN_SYMBOLS: tuple[tuple[str, str, str], ...] = (
    ("box drawing and block characters", r"[ \t]*[\u2500-\u259f]+[ \t]*", _GONE),
    ("a run of 3 or more - = * ~ # _ + ^ | / \\ < > (a rule)",
     r"[ \t]*([-=*~#_+^|/\\<>])\1{2,}[ \t]*", _GONE),
    ("-> --> => and the arrow \u2192", r"[ \t]*(?:-+>|=>|\u2192)[ \t]*", " to "),
    ("<- <-- and the arrow \u2190", r"[ \t]*(?:<-+|\u2190)[ \t]*", " from "),
    ("a placeholder <name>", r"<([A-Za-z][\w ]*)>", r"\1"),
    ("(y/n)", r"\(\s*y\s*/\s*n\s*\)", "(yes or no)"),
    ("|", r"[ \t]*\|[ \t]*", ", "),
    ("#3", r"#(?=\d)", "number "),
    ("~3", r"~(?=\d)", "about "),
    ("any other ~", r"[ \t]*~[ \t]*", _GONE),
    ("&", r"[ \t]*&[ \t]*", " and "),
    ("50%", r"(?<=\d)[ \t]*%", " percent"),
    ("*emphasis*", r"\*(\S(?:[^*\n]*\S)?)\*", r"\1"),
    ("a bullet (* - + at the start of a line)", r"(?m)^[ \t]*[*+-][ \t]+", ""),
)

_SPOKEN = tuple((re.compile(pattern), replacement) for _, pattern, replacement in SPOKEN_SYMBOLS)
# Symbols any pattern of SPOKEN_SYMBOLS starts with: text without them is left alone.
_SPOKEN_TRIGGER = re.compile(r"[\u2500-\u259f\-=*~#_+^|/\\<>\u2192\u2190(&%]")
# Where a symbol was taken out: nothing before punctuation, a closing
# quote or the end of a line, else one space.
_GONE_AT_END = re.compile("[ \t]*" + _GONE + "[" + _GONE + " \t]*(?=[,.;:!?\"')\\]]|\n|$)")
_GONE_AT_START = re.compile("(?m)^[ \t]*" + _GONE + "[" + _GONE + " \t]*")
_GONE_RUN = re.compile(_GONE + "+")


def speakable(text: str) -> str:
    """``text`` (plain) with :data:`SPOKEN_SYMBOLS` written as words; other text unchanged."""
    if not _SPOKEN_TRIGGER.search(text):
        return text
    for pattern, replacement in _SPOKEN:
        text = pattern.sub(replacement, text)
    if _GONE in text:
        text = _GONE_AT_END.sub("", text)
        text = _GONE_AT_START.sub("", text)
        text = _GONE_RUN.sub(" ", text)
    return text


def _spoken_lines(text: str) -> list[str]:
    """Markup as a screen reader gets it: lines of plain, speakable text.

    Indentation and trailing spaces go (they are layout), and so do blank
    lines at the ends and repeated ones (a removed rule leaves nothing).
    """
    if "{" in text:
        text = _visible(resolve(text, spoken=True))
    lines: list[str] = []
    for line in speakable(text.replace("\t", ", ")).split("\n"):
        line = line.strip()
        if line or (lines and lines[-1]):
            lines.append(line)
    while lines and not lines[-1]:
        lines.pop()
    return lines


def spoken_prompt(prompt: str) -> str:
    """A prompt for a screen reader: short, without the "> " a synthesiser reads aloud.

    The usual prompt ("> ") becomes nothing (the EOR/GA mark still tells the
    client a prompt came); "homepage> " becomes "homepage: ".
    """
    text = prompt.strip()
    if text.endswith(">"):
        text = text.rstrip(">").strip()
        return speakable(text) + ": " if text else ""
    return speakable(text) + " " if text else ""
