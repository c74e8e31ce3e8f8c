"""Fixtures for engine tests: a real reactor, closed after each test.

The ``reactor`` fixture is parametrised over every reactor implementation:
the selector reactor, the asyncio-backed one, and the uvloop-backed one
when uvloop is installed (skipped cleanly otherwise). Every test that takes
``reactor`` therefore runs on each of them, unchanged.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from attrs import frozen

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


@frozen
class TLSCerts:
    """A throwaway CA, and a server certificate chain and key it signed, as PEM files."""

    ca: trustme.CA
    ca_file: str
    cert_file: str
    key_file: str


def make_tls_certs(directory: Path, *names: str, prefix: str = "") -> TLSCerts:
    """Write ``ca.pem``, ``cert.pem`` (the chain) and ``key.pem`` for ``names``.

    Made by ``trustme`` for each test session: no key is ever committed.
    The names default to localhost, 127.0.0.1 and ::1.
    """
    names = names or ("localhost", "127.0.0.1", "::1")
    ca = trustme.CA()
    leaf = ca.issue_cert(*names)
    ca_file = directory / f"{prefix}ca.pem"
    cert_file = directory / f"{prefix}cert.pem"
    key_file = directory / f"{prefix}key.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    leaf.private_key_pem.write_to_path(str(key_file))
    cert_file.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    return TLSCerts(ca, str(ca_file), str(cert_file), str(key_file))


@pytest.fixture(scope="session")
def tls_certs(tmp_path_factory: pytest.TempPathFactory) -> TLSCerts:
    """One CA and server certificate (localhost, 127.0.0.1, ::1) for the session."""
    return make_tls_certs(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def make_certs() -> Callable[..., TLSCerts]:
    """:func:`make_tls_certs`, for a test that needs its own (another CA, a renewal)."""
    return make_tls_certs
