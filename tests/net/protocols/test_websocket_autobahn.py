"""The Autobahn test suite's cases 1-7 and 9 (ported in ``ws_cases.py``,
bounded in size), against the codec and over real sockets.

Each case is played three ways: against a server-role
:class:`WebSocketConnection` one write at a time, with all writes
coalesced into one read, and against the engine's echo server on
127.0.0.1. The server's bytes are decoded by ``wsproto``.
Categories 12 and 13 (permessage-deflate) are in ``test_websocket_deflate.py``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from ws_cases import all_cases, check, run_codec
from ws_socket_harness import EchoServer, run_socket

CASES = all_cases()
IDS = [case.id for case in CASES]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_case_against_the_codec(case):
    """The codec answers the case as Autobahn expects, one write at a time."""
    check(case, run_codec(case))


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_case_against_the_codec_in_one_read(case):
    """... and the same when all the case's bytes arrive in one read (echoes
    of messages before a violation still go out before the Close)."""
    check(case, run_codec(case, coalesce=True))


@pytest.fixture(scope="module")
def echo_server() -> Iterator[EchoServer]:
    server = EchoServer("selector", "--no-deflate")
    yield server
    err = server.stop()
    assert "Unhandled error" not in err and "Traceback" not in err, err


SOCKET_CASES = [
    case for case in CASES if not case.id.startswith("6.x.") or case.id.endswith("whole")
]


@pytest.mark.parametrize("case", SOCKET_CASES, ids=[case.id for case in SOCKET_CASES])
def test_case_over_sockets(echo_server, case):
    """The engine's echo server answers the case over TCP as Autobahn expects."""
    check(case, run_socket(echo_server.port, case))
