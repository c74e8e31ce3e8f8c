"""``reality serve``'s connection flags and its open-file limit."""

from __future__ import annotations

import logging
import resource

import pytest

from reality.cli import _parser, raise_descriptor_limit


def test_max_connections_defaults_to_ten_thousand_and_takes_zero():
    """--max-connections is 10000 unless given; 0 (no limit) is allowed, negatives are not."""
    parser = _parser()
    assert parser.parse_args(["serve"]).max_connections == 10000
    assert parser.parse_args(["serve", "--max-connections", "0"]).max_connections == 0
    with pytest.raises(SystemExit):
        parser.parse_args(["serve", "--max-connections", "-1"])


def test_the_soft_open_file_limit_is_raised_to_the_hard_one_and_logged(caplog):
    """After raise_descriptor_limit() the soft limit is the hard limit (when finite),
    and the log says what it got; a limit too low for --max-connections is a warning."""
    with caplog.at_level(logging.INFO, logger="reality"):
        soft, hard = raise_descriptor_limit(max_connections=10**9)
    assert resource.getrlimit(resource.RLIMIT_NOFILE) == (soft, hard)
    if hard != resource.RLIM_INFINITY:
        assert soft == hard
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith(f"open-file limit: {soft} ") for m in messages)
    assert any("below what --max-connections" in m for m in messages)
