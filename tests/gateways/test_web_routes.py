"""Routes around the pages: a homepage address with a trailing slash."""

from __future__ import annotations

import pytest
from test_web import Site


@pytest.fixture
def s() -> Site:
    return Site()


@pytest.mark.parametrize(
    ("target", "location"),
    [
        ("/~alice/", "/~alice"),
        ("/players/alice/", "/players/alice"),
        ("/~Alice/", "/~Alice"),
        ("/%7Ealice/", "/%7Ealice"),
        ("/~alice/?x=1", "/~alice?x=1"),
    ],
)
def test_a_homepage_with_a_trailing_slash_redirects_to_the_page(s, target, location):
    """/~alice/ and /players/alice/ are a 301 to the address without the slash."""
    response = s.get(target)
    assert response.status == 301
    assert response.headers.get("Location") == location


def test_head_of_a_slashed_homepage_redirects_too(s):
    """HEAD gets the same redirect as GET."""
    assert s.get("/~alice/", method="HEAD").status == 301


@pytest.mark.parametrize("target", ["/~al1ce/", "/~alice//", "/players//", "/~/"])
def test_impossible_names_with_a_slash_are_still_404(s, target):
    """Only a name someone could have is redirected; anything else is the 404 page."""
    assert s.get(target).status == 404
