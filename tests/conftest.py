"""Fixtures for engine tests: a real reactor, closed after each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from reality.net.reactor import SelectReactor


@pytest.fixture
def reactor() -> Iterator[SelectReactor]:
    """A fresh reactor for one test; closed afterwards."""
    r = SelectReactor()
    yield r
    r.close()
