"""Fixtures for engine tests: a real reactor, closed after each test.

The ``reactor`` fixture is parametrised over every reactor implementation:
the selector reactor, the asyncio-backed one, and the uvloop-backed one
when uvloop is installed (skipped cleanly otherwise). Every test that takes
``reactor`` therefore runs on each of them, unchanged.
"""

from __future__ import annotations

import importlib.util
import os
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


#: Under CI every real client a test uses must be there: ``.ci/run`` installs
#: them, so a missing one is a broken install step, not a reason to skip.
STRICT_TOOLS = os.environ.get("CI", "").lower() == "true"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """With ``CI=true``, a test skipped because a tool "is not installed" fails instead."""
    outcome = yield
    report = outcome.get_result()
    if not (STRICT_TOOLS and report.skipped and isinstance(report.longrepr, tuple)):
        return
    reason = str(report.longrepr[2])
    if "not installed" in reason:
        report.outcome = "failed"
        report.longrepr = f"CI=true and a client this test needs is missing: {reason}"


@pytest.fixture(params=REACTORS)
def reactor(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh reactor of each kind for one test; closed afterwards."""
    r = make_reactor(request.param)
    yield r
    r.close()
