"""Fixtures for engine tests: a real reactor, closed after each test.

The ``reactor`` fixture is parametrised over every reactor implementation:
the selector reactor, the asyncio-backed one, and the uvloop-backed one
when uvloop is installed (skipped cleanly otherwise). Every test that takes
``reactor`` therefore runs on each of them, unchanged.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from typing import Any

import pytest

from reality.net.asyncio_reactor import make_reactor

_HAVE_UVLOOP = importlib.util.find_spec("uvloop") is not None

REACTORS = [
    "selector",
    "asyncio",
    pytest.param(
        "uvloop",
        marks=pytest.mark.skipif(not _HAVE_UVLOOP, reason="uvloop is not installed"),
    ),
]


@pytest.fixture(params=REACTORS)
def reactor(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh reactor of each kind for one test; closed afterwards."""
    r = make_reactor(request.param)
    yield r
    r.close()
