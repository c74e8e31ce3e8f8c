"""Markup to terminal text: ANSI levels, plain text, wrapping by visible width."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from reality.game.markup import escape, strip
from reality.gateways.render import (
    ANSI16,
    ANSI256,
    PLAIN_TEXT,
    TRUECOLOR,
    render,
    text_width,
)

ESC = "\x1b"


def visible(line: str) -> str:
    """A rendered line without its SGR escapes."""
    out, i = [], 0
    while i < len(line):
        if line[i] == ESC:
            i = line.index("m", i) + 1
        else:
            out.append(line[i])
            i += 1
    return "".join(out)


def test_sixteen_colours_byte_exact() -> None:
    """{red} is SGR 31, bright colours 90-97, and the line ends with a reset."""
    assert render("a {red}b{/} {bright_blue}c", ANSI16, 80) == (
        "a \x1b[0;31mb\x1b[0m \x1b[0;94mc\x1b[0m"
    )


def test_nested_tags_combine_and_restore() -> None:
    """An inner tag adds to the outer style; closing it restores the outer one."""
    assert render("{bold}A{red}B{/}C{/}D", ANSI16, 80) == (
        "\x1b[0;1mA\x1b[0;1;31mB\x1b[0;1mC\x1b[0mD"
    )


def test_truecolour_and_downgrades() -> None:
    """#ff8800 is 38;2 for truecolour, palette 208 for 256 colours, yellow for 16."""
    assert render("{#ff8800}o", TRUECOLOR, 80) == "\x1b[0;38;2;255;136;0mo\x1b[0m"
    assert render("{#ff8800}o", ANSI256, 80) == "\x1b[0;38;5;208mo\x1b[0m"
    assert render("{#ff8800}o", ANSI16, 80) == "\x1b[0;33mo\x1b[0m"


def test_background_colour() -> None:
    """on_blue is SGR 44."""
    assert render("{on_blue}x", ANSI16, 80) == "\x1b[0;44mx\x1b[0m"


def test_plain_strips_markup() -> None:
    """Clients without colour get the visible text only."""
    assert render("{bold}The {red}Hall{/}{/}", PLAIN_TEXT, 80) == "The Hall"


def test_newlines_become_crlf() -> None:
    """Lines are joined with the newline the caller asks for (CRLF by default)."""
    assert render("a\nb", PLAIN_TEXT, 80) == "a\r\nb"
    assert render("a\nb", PLAIN_TEXT, 80, newline="\n") == "a\nb"


def test_wraps_at_spaces_counting_visible_characters() -> None:
    """Escapes take no width: a coloured word still fits the line it fits."""
    text = "one {red}two{/} three four"
    assert render(text, PLAIN_TEXT, 9) == "one two\r\nthree\r\nfour"
    lines = render(text, ANSI16, 9).split("\r\n")
    assert [visible(line) for line in lines] == ["one two", "three", "four"]


def test_style_is_closed_and_reopened_across_a_wrap() -> None:
    """A style spanning a wrap point is reset at the line end and set again after."""
    assert render("{red}aaa bbb{/}", ANSI16, 4) == "\x1b[0;31maaa\x1b[0m\r\n\x1b[0;31mbbb\x1b[0m"


def test_long_word_is_split() -> None:
    """A word longer than the width is cut into width-sized pieces."""
    assert render("abcdefghij xy", PLAIN_TEXT, 4) == "abcd\r\nefgh\r\nij\r\nxy"


def test_wide_characters_count_two() -> None:
    """East Asian wide characters take two columns each."""
    assert text_width("日本") == 4
    assert render("日本語です", PLAIN_TEXT, 4) == "日本\r\n語で\r\nす"


def test_control_characters_are_removed() -> None:
    """A player cannot smuggle escapes or bells to other terminals."""
    assert render(escape("hi\x1b[2J\x07 there"), ANSI16, 80) == "hi[2J there"


def test_width_zero_does_not_wrap() -> None:
    """Width 0 means no wrapping at all."""
    long = "word " * 50
    assert render(long.strip(), PLAIN_TEXT, 0) == long.strip()


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.text(alphabet="abc de\u65e5", min_size=0, max_size=12),
            st.sampled_from(["{red}", "{/}", "{bold}", "{#102030}", "\n"]),
        ),
        max_size=15,
    ),
    st.integers(min_value=1, max_value=30),
    st.sampled_from([ANSI16, ANSI256, TRUECOLOR, PLAIN_TEXT]),
)
def test_no_line_is_wider_than_the_width(parts: list[str], width: int, cap: str) -> None:
    """Whatever the text, every rendered line fits the width, no letter is lost."""
    text = "".join(parts)
    out = render(text, cap, width)
    shown = "".join(visible(line) for line in out.split("\r\n"))
    assert shown.replace(" ", "") == strip(text).replace(" ", "").replace("\n", "")
    for line in out.split("\r\n"):
        assert text_width(visible(line)) <= max(width, 2)
        if cap == PLAIN_TEXT:
            assert ESC not in line


def test_elements_render_per_capability() -> None:
    """One text, two forms: a screen sees exits and columns, a screen reader hears sentences."""
    from reality.game.markup import alt, deco, exit_link, table
    from reality.gateways.render import PLAIN_TEXT, SCREEN_READER, render

    text = (
        deco("~~~~") + "\n{green}Exits: " + exit_link("north", "Market Street") + ", "
        + exit_link("east", "the Inn") + ".{/}\n"
        + table([["1", alt("*", "unread"), "Alice"], ["12", "", "Bob"]], ["Letter", "", "from"])
    )
    assert render(text, PLAIN_TEXT, 80, "\n") == (
        "~~~~\nExits: north, east.\n 1  *  Alice\n12     Bob"
    )
    assert render(text, SCREEN_READER, 80, "\n") == (
        "Exits: north to Market Street, east to the Inn.\n"
        "Letter 1, unread, from Alice\nLetter 12, from Bob"
    )
