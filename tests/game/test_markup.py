"""The colour markup: parsing, stripping, validation, escaping."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from reality.game.markup import CLOSE, Style, escape, parse, strip, validate


def test_parse_splits_text_and_tags() -> None:
    """A tag becomes a Style token and {/} the CLOSE token, text stays text."""
    assert parse("a {red}b{/} c") == ["a ", Style(fg=1), "b", CLOSE, " c"]


def test_tag_with_several_words_combines_them() -> None:
    """{bold bright_blue on_white} sets weight, foreground and background at once."""
    (style, text) = parse("{bold bright_blue on_white}x")
    assert style == Style(fg=12, bg=7, bold=True)
    assert text == "x"


def test_hex_colour_is_rgb() -> None:
    """#rrggbb gives an (r, g, b) colour, for truecolour clients."""
    assert parse("{#ff8000}x")[0] == Style(fg=(255, 128, 0))


def test_double_brace_is_a_literal_brace() -> None:
    """{{ shows as {, and {{red} is the literal text {red}."""
    assert strip("{{red} and {{") == "{red} and {"
    assert validate("{{red}") == []


def test_unknown_tag_stays_literal_but_is_reported() -> None:
    """An unknown tag reads as typed; validate() names it."""
    assert strip("I {grin} at you") == "I {grin} at you"
    assert validate("I {grin}") == ["unknown markup tag '{grin}' (write '{{' for a literal brace)"]


def test_validate_reports_close_without_open_and_stray_brace() -> None:
    """{/} with nothing open and a { that never closes are both problems."""
    problems = validate("{/} and {oops")
    assert problems[0] == "'{/}' closes nothing: no tag is open there"
    assert problems[1].startswith("'{' without a closing '}' near '{oops'")


def test_unclosed_tags_are_allowed() -> None:
    """A tag left open closes at the end of the text: not an error."""
    assert validate("{red}still red") == []


def test_strip_removes_every_tag() -> None:
    """strip() leaves only the visible text."""
    assert strip("{bold}The {red}Hall{/}{/}") == "The Hall"


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_escape_then_strip_gives_the_text_back(text: str) -> None:
    """Any player text escaped shows exactly as written, and is valid markup."""
    assert strip(escape(text)) == text
    assert validate(escape(text)) == []


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="{}/ab #redbold_", max_size=40))
def test_parse_never_raises(text: str) -> None:
    """Any brace soup parses into tokens and validates to a list of messages."""
    tokens = parse(text)
    assert all(isinstance(t, (str, Style)) or t is CLOSE for t in tokens)
    assert isinstance(validate(text), list)


def test_elements_parse_validate_and_strip_to_their_screen_form() -> None:
    """{exit}, {alt}, {deco}, {table}: valid tags closed by {/}, stripped to the screen's form."""
    from reality.game.markup import Element, alt, deco, exit_link, table

    text = exit_link("north", "Market {Street}") + " " + alt("*", "unread") + deco("==")
    assert parse(exit_link("north", "The Inn")) == [Element("exit", "The Inn"), "north", CLOSE]
    assert validate(text) == []
    assert strip(text) == "north *=="
    assert strip(table([["1", "Alice"]], ["Letter", "from"])) == "1\tAlice"
    assert validate("{deco x}") == [
        "unknown markup tag '{deco x}' (write '{{' for a literal brace)"
    ]
