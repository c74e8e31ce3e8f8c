"""End to end: homepage addresses with a slash, and the map on a phone-sized screen.

``run_server.py`` with the default world (it has stairs up and down) runs
as a subprocess on port 0; ``http.client`` follows the redirects and
headless Chromium draws ``/map.svg`` and the front page at 390x844.
Under ``CI=true`` a missing Chromium fails the test instead of skipping it.
"""

from __future__ import annotations

import http.client
import os
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from serverproc import ROOT, ServerProcess

TIMEOUT = 10.0
DEFAULT_WORLD = ROOT / "world" / "default.yaml"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PHONE = (390, 844)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    workdir = tmp_path_factory.mktemp("webmap")
    with ServerProcess(workdir, world=DEFAULT_WORLD, expect=("telnet", "http")) as s:
        yield s
        status = s.stop()
    output = s.output()
    assert status == 0, output
    assert "Traceback" not in output and "Unhandled error" not in output, output


def request(server: ServerProcess, path: str) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.ports["http"], timeout=TIMEOUT)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body
    finally:
        conn.close()


def test_a_homepage_address_with_a_slash_redirects(server):
    """GET /~ada/ and /players/ada/ are 301 to the page without the slash, which is 200."""
    ada = server.telnet()
    ada.command("create Ada secret12")
    for path in ("/~ada/", "/players/ada/"):
        status, headers, _ = request(server, path)
        assert status == 301, (path, status)
        assert headers["location"] == path[:-1]
        status, _, page = request(server, headers["location"])
        assert status == 200 and b"<h1>Ada</h1>" in page
    assert request(server, "/~nobody/")[0] == 301  # a name anyone could have
    assert request(server, "/~no.body/")[0] == 404
    ada.close()


def test_the_map_has_levels_and_scales(server):
    """/map.svg over HTTP: a viewBox, no fixed size, and the inn's stairs as markers."""
    status, headers, body = request(server, "/map.svg")
    assert status == 200 and headers["content-type"] == "image/svg+xml"
    root = ET.fromstring(body)
    assert root.get("viewBox") and root.get("height") is None
    assert root.get("width") in (None, "100%")
    ns = "{http://www.w3.org/2000/svg}"
    inn = next(g for g in root.iter(f"{ns}g") if g.get("id") == "room-inn")
    kinds = {g.get("class") for g in inn.iter(f"{ns}g")}
    assert {"stairs up", "stairs down"} <= kinds


# -- Chromium ----------------------------------------------------------------------------


def need_chromium() -> str:
    if CHROMIUM is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is not installed (CI=true: .ci/run must install it)")
        pytest.skip("chromium is not installed")
    return CHROMIUM


def screenshot(tmp_path: Path, url: str, name: str) -> Path:
    profile = tmp_path / "chromium-profile"
    profile.mkdir(exist_ok=True)
    shot = tmp_path / name
    argv = [
        need_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--disable-dev-shm-usage", f"--user-data-dir={profile}",
        "--hide-scrollbars", f"--window-size={PHONE[0]},{PHONE[1]}", f"--screenshot={shot}", url,
    ]  # fmt: skip
    env = dict(os.environ, HOME=str(tmp_path))
    result = subprocess.run(argv, capture_output=True, timeout=90, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr.decode(errors="replace")[-2000:]
    return shot


def png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and the RGB(A) rows of an 8-bit truecolour PNG (stdlib only)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", data[:16]
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    assert depth == 8 and colour in (2, 6), (depth, colour)
    step = 3 if colour == 2 else 4
    pos, idat = 8, b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        if data[pos + 4 : pos + 8] == b"IDAT":
            idat += data[pos + 8 : pos + 8 + length]
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * step
    rows: list[bytes] = []
    prior = bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - step] if i >= step else 0
            b, c = prior[i], prior[i - step] if i >= step else 0
            if kind == 1:
                line[i] = (line[i] + a) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + b) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[i] = (line[i] + pred) & 0xFF
        rows.append(bytes(line))
        prior = line
    return width, height, [bytes(r[i] for i in range(len(r)) if i % step < 3) for r in rows]


def drawn_columns(rows: list[bytes], background: bytes) -> tuple[int, int]:
    """The leftmost and rightmost pixel column drawn on (not paper, not the white page)."""
    left, right = len(rows[0]) // 3, -1
    blank = {background, b"\xff\xff\xff"}
    for row in rows:
        for x in range(len(row) // 3):
            if row[3 * x : 3 * x + 3] not in blank:
                left, right = min(left, x), max(right, x)
    return left, right


def test_chromium_shows_the_whole_map_on_a_phone(server, tmp_path):
    """At 390x844 the map is as wide as the screen: boxes near both edges, not one corner."""
    url = f"http://127.0.0.1:{server.ports['http']}"
    shot = screenshot(tmp_path, f"{url}/map.svg", "map.png")
    width, height, rows = png_pixels(shot.read_bytes())
    assert (width, height) == PHONE
    background = rows[2][6:9]  # the map's own paper colour, top left
    left, right = drawn_columns(rows, background)
    # The map's boxes span the screen from margin to margin: the whole
    # width is on screen (before: the left 390 of 948 pixels, cut off).
    assert left < 40 and width - 60 < right < width - 5, (left, right)
    # And it is drawn down to the cellar's level, in the lower half.
    assert any(row != rows[2] for row in rows[height // 2 :])
    if os.environ.get("REALITY_KEEP_SCREENSHOTS"):
        shutil.copy(shot, os.environ["REALITY_KEEP_SCREENSHOTS"])

