"""End to end: the website of a running server, over real sockets and in a real browser.

``run_server.py`` runs as a subprocess (port 0 everywhere). Clients are
the standard ``http.client``, raw sockets (pipelining, framing errors,
smuggling), ``curl`` and headless Chromium; players come in over telnet.
Every socket and subprocess has a timeout.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from serverproc import ANSI, ServerProcess

TIMEOUT = 10.0
SCRIPT = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CURL = shutil.which("curl")


def web_server(tmp_path: Path, **kw) -> ServerProcess:
    return ServerProcess(tmp_path, expect=("telnet", "http"), **kw)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with web_server(tmp_path_factory.mktemp("web")) as s:
        yield s
        status = s.stop()
    output = s.output()
    assert status == 0, output
    assert "Traceback" not in output and "Unhandled error" not in output, output


def base(server: ServerProcess) -> str:
    return f"http://127.0.0.1:{server.ports['http']}"


def connection(server: ServerProcess) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", server.ports["http"], timeout=TIMEOUT)


def get(server: ServerProcess, path: str, **headers: str) -> tuple[int, dict[str, str], str]:
    conn = connection(server)
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        body = response.read().decode("utf-8")
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body
    finally:
        conn.close()


def raw(server: ServerProcess) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.ports["http"]), timeout=TIMEOUT)


def read_response(
    sock: socket.socket, buffer: bytearray, head_only: bool = False
) -> tuple[int, dict[str, str], bytes]:
    """One Content-Length-framed response (no body after HEAD); leftovers stay in ``buffer``."""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError(f"closed mid-head: {bytes(buffer)!r}")
        buffer += chunk
    end = buffer.index(b"\r\n\r\n")
    lines = bytes(buffer[:end]).decode("latin-1").split("\r\n")
    del buffer[: end + 4]
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = 0 if head_only else int(headers.get("content-length", "0"))
    while len(buffer) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError("closed mid-body")
        buffer += chunk
    body = bytes(buffer[:length])
    del buffer[:length]
    return int(lines[0].split(" ")[1]), headers, body


def closed_by_server(sock: socket.socket) -> bool:
    """True if the server closes the connection (EOF or reset) within the timeout."""
    try:
        while True:
            if not sock.recv(65536):
                return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def banner(server: ServerProcess) -> str:
    with socket.create_connection(("127.0.0.1", server.ports["telnet"]), timeout=TIMEOUT) as s:
        data = b""
        deadline = time.monotonic() + TIMEOUT
        while b"\n> " not in data and time.monotonic() < deadline:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    text = re.sub(rb"\xff[\xfb-\xfe].|\xff\xfa.*?\xff\xf0", b"", data, flags=re.S)
    return ANSI.sub("", text.decode("utf-8", "replace"))


# -- the site with players -------------------------------------------------------------


def test_telnet_homepage_shows_on_the_web_escaped(server):
    """A player sets a homepage over telnet; GET /~name shows it with <script> as text."""
    url = base(server)
    assert f"On the web: {url}/" in banner(server)
    alice = server.telnet()
    alice.command("create Alice secret")
    out = alice.command(f"homepage Hello from **Alice**! {SCRIPT}")
    assert f"Homepage saved. See it at {url}/~alice" in out
    out = alice.command("homepage")
    assert f"Your homepage: {url}/~alice" in out and SCRIPT in out

    status, headers, page = get(server, "/~alice")
    assert status == 200 and headers["content-type"] == "text/html; charset=utf-8"
    assert "Hello from <strong>Alice</strong>! " + ESCAPED in page
    assert "<script" not in page.lower()
    # Where a player is stays private until they allow it.
    assert "Online now." in page and "The Hall" not in page
    alice.command("set where visible")
    page = get(server, "/~alice")[2]
    assert "Online now, in" in page and "The Hall" in page

    # The page follows the player around: rendered again after the move.
    alice.command("north")
    assert "The Library" in get(server, "/~alice")[2]
    assert '<a href="/~alice">Alice</a>' in get(server, "/")[2]
    assert "The Library" in get(server, "/who")[2]
    alice.close()


def test_homepage_edit_mode_over_telnet(server):
    """'homepage edit' takes several lines until '.', and the web shows the Markdown."""
    bob = server.telnet()
    bob.command("create Bob secret")
    bob.conn.write(b"homepage edit\r\n")
    bob.expect("homepage> ")
    for line in ("# About Bob", "", "* likes lamps", f"* says {SCRIPT}", "."):
        bob.conn.write(line.encode() + b"\r\n")
    bob.expect("Homepage saved.")
    page = get(server, "/players/bob")[2]
    assert "<h2>About Bob</h2>" in page
    assert "<li>likes lamps</li>" in page and f"<li>says {ESCAPED}</li>" in page
    bob.close()


def test_status_json_and_map(server):
    """status.json counts what is running; the map is SVG with the world's rooms."""
    carol = server.telnet()
    carol.command("create Carol secret")
    status, headers, body = get(server, "/status.json")
    info = json.loads(body)
    assert status == 200 and headers["content-type"] == "application/json"
    assert "Carol" in info["online"] and info["players_online"] == len(info["online"])
    assert info["rooms"] == 2 and info["version"] and info["uptime"] >= 0
    assert info["telnet"] == f"127.0.0.1:{server.ports['telnet']}"
    status, headers, svg = get(server, "/map.svg")
    assert status == 200 and headers["content-type"] == "image/svg+xml"
    assert "The Hall" in svg and "The Library" in svg
    carol.close()


# -- HTTP behaviour over real sockets ----------------------------------------------------


def test_keep_alive_with_http_client(server):
    """http.client gets /, /who, /map.svg, /style.css and a 404 over one connection."""
    conn = connection(server)
    try:
        conn.request("GET", "/")
        first = conn.getresponse()
        assert first.status == 200 and b"<h1>Tiny Test World</h1>" in first.read()
        sock = conn.sock
        for path, status in (("/who", 200), ("/map.svg", 200), ("/style.css", 200),
                             ("/~nobody", 404), ("/nowhere", 404)):  # fmt: skip
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            assert response.status == status, path
            assert conn.sock is sock, f"connection not reused for {path}"
    finally:
        conn.close()


def test_conditional_get_with_http_client(server):
    """The ETag and Last-Modified of a page revalidate to 304 with no body."""
    status, headers, _ = get(server, "/map.svg")
    etag, modified = headers["etag"], headers["last-modified"]
    conn = connection(server)
    try:
        conn.request("GET", "/map.svg", headers={"If-None-Match": etag})
        response = conn.getresponse()
        assert response.status == 304 and response.read() == b""
        assert response.getheader("ETag") == etag
        conn.request("GET", "/map.svg", headers={"If-Modified-Since": modified})
        response = conn.getresponse()
        assert response.status == 304 and response.read() == b""
    finally:
        conn.close()


def test_head_has_the_get_length_and_no_body(server):
    """HEAD / answers the headers GET would have, with no body."""
    _, get_headers, page = get(server, "/")
    conn = connection(server)
    try:
        conn.request("HEAD", "/")
        response = conn.getresponse()
        assert response.status == 200
        assert response.read() == b""
        assert int(response.getheader("Content-Length")) == len(page.encode())
        assert response.getheader("ETag") == get_headers["etag"]
    finally:
        conn.close()


def test_pipelined_requests_are_answered_in_order(server):
    """Three requests in one write get three responses in order, the HEAD without a body."""
    with raw(server) as sock:
        sock.sendall(
            b"GET /who HTTP/1.1\r\nHost: x\r\n\r\n"
            b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /~nobody HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /status.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        buffer = bytearray()
        status, _, body = read_response(sock, buffer)
        assert status == 200 and b"<h1>Who is online</h1>" in body
        status, headers, body = read_response(sock, buffer, head_only=True)
        assert status == 200 and body == b"" and int(headers["content-length"]) > 0
        status, _, body = read_response(sock, buffer)
        assert status == 404 and b"There is no player called" in body
        status, headers, body = read_response(sock, buffer)
        assert status == 200 and body.startswith(b'{"name":"Tiny Test World"')
        assert headers["connection"] == "close"
        assert buffer == b"" and closed_by_server(sock)


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 405),
        (b"BREW / HTTP/1.1\r\nHost: x\r\n\r\n", 501),
        (b"POST /~alice HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n", 413),
        (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 40000 + b"\r\n\r\n", 431),
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
        (b"GET / HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n", 400),
    ],
    ids=["405", "501", "413", "431", "414", "400"],
)
def test_refusals_over_a_socket(server, request_bytes, status):
    """405 (with Allow) and 501 from the router; 413, 431, 414, 400 before any route."""
    with raw(server) as sock:
        sock.sendall(request_bytes)
        got, headers, body = read_response(sock, bytearray())
        assert got == status, body
        if status == 405:
            assert headers["allow"] == "GET, HEAD"
        if status >= 413 or status == 400:
            assert headers["connection"] == "close" and closed_by_server(sock)


@pytest.mark.parametrize(
    "attempt",
    [
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"0\r\n\r\nG",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 44\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 3\r\n"
        b"\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n",
    ],
    ids=["CL.TE", "CL.CL", "TE.CL", "space-before-colon"],
)
def test_smuggling_attempts_are_refused_and_nothing_behind_them_is_served(server, attempt):
    """An ambiguous body length is a 400 and a close; the request hidden behind is never seen."""
    hidden = b"GET /~alice HTTP/1.1\r\nHost: x\r\n\r\n"
    with raw(server) as sock:
        sock.sendall(attempt + hidden)
        status, headers, _ = read_response(sock, bytearray())
        assert status == 400 and headers["connection"] == "close"
        rest = b""
        try:
            while chunk := sock.recv(65536):
                rest += chunk
        except (ConnectionResetError, TimeoutError):
            pass
        assert b"HTTP/1.1" not in rest


# -- curl ------------------------------------------------------------------------------


def curl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CURL or "curl", "--silent", "--show-error", "--max-time", "10", *args],
        capture_output=True, text=True, timeout=20,
    )  # fmt: skip


@pytest.mark.skipif(CURL is None, reason="curl is not installed")
def test_curl_keep_alive_head_404_405_and_304(server):
    """curl reuses one connection for several pages; HEAD, 404, 405 and a 304 revalidation."""
    url = base(server)
    pages = [f"{url}/", f"{url}/who", f"{url}/~nobody", f"{url}/map.svg"]
    discard = [arg for page in pages for arg in ("--output", "/dev/null", page)]
    result = curl("--write-out", "%{http_code} %{num_connects}\\n", *discard)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:4] == ["200 1", "200 0", "404 0", "200 0"]

    head = curl("--head", f"{url}/")
    assert head.returncode == 0 and head.stdout.startswith("HTTP/1.1 200 OK")
    etag = re.search(r"(?im)^etag: (\S+)", head.stdout).group(1)

    result = curl("--output", "/dev/null", "--write-out", "%{http_code}",
                  "--header", f"If-None-Match: {etag}", f"{url}/")  # fmt: skip
    assert result.stdout == "304"
    result = curl("--output", "/dev/null", "--write-out", "%{http_code}", "--request", "DELETE",
                  f"{url}/~alice")  # fmt: skip
    assert result.stdout == "405"
    result = curl("--include", f"{url}/style.css")
    assert "text/css; charset=utf-8" in result.stdout and "max-width" in result.stdout


# -- persistence and shutdown ------------------------------------------------------------


def test_homepage_survives_a_restart_and_shutdown_closes_keep_alive(tmp_path):
    """A saved homepage is served after a restart; an idle keep-alive connection does not
    hold up SIGTERM."""
    with web_server(tmp_path) as server:
        dana = server.telnet()
        dana.command("create Dana secret")
        assert "Homepage saved" in dana.command("homepage I *was* here.")
        conn = connection(server)
        conn.request("GET", "/~dana")
        assert "<em>was</em>" in conn.getresponse().read().decode()
        started = time.monotonic()
        assert server.stop(timeout=10) == 0, server.output()
        elapsed = time.monotonic() - started
        # The idle connection was closed by the shutdown hook (about 0.1 s), not
        # waited out: the server gives open connections up to 2 s to finish.
        assert closed_by_server(conn.sock)
        assert elapsed < 1.5, elapsed
        conn.close()
        dana.close()
    with web_server(tmp_path) as server:
        status, _, page = get(server, "/~dana")
        assert status == 200 and "I <em>was</em> here." in page
        assert "Offline; last seen" in page


# -- a real browser ----------------------------------------------------------------------


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    profile = tmp_path / "chromium-profile"
    profile.mkdir(exist_ok=True)
    argv = [
        CHROMIUM or "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--disable-dev-shm-usage", f"--user-data-dir={profile}", *args,
    ]  # fmt: skip
    env = dict(os.environ, HOME=str(tmp_path))
    return subprocess.run(argv, capture_output=True, timeout=90, env=env, cwd=tmp_path)


def png_size_and_colours(data: bytes) -> tuple[int, int, int]:
    """Width, height and the number of distinct pixel bytes of a PNG (stdlib only)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", data[:16]
    width, height = struct.unpack(">II", data[16:24])
    pos, idat = 8, b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        if kind == b"IDAT":
            idat += data[pos + 8 : pos + 8 + length]
        pos += 12 + length
    return width, height, len(set(zlib.decompress(idat)))


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_chromium_renders_the_front_page_and_a_homepage(server, tmp_path):
    """Headless Chromium: the DOM text of / and of a homepage, and a phone-sized screenshot."""
    erin = server.telnet()
    erin.command("create Erin secret")
    assert "saved" in erin.command(f"homepage I carry a *lamp*. {SCRIPT}")
    url = base(server)

    front = chromium(tmp_path, "--dump-dom", f"{url}/")
    assert front.returncode == 0, front.stderr.decode(errors="replace")[-2000:]
    dom = front.stdout.decode()
    assert "<h1>Tiny Test World</h1>" in dom
    assert "Welcome to the Tiny Test World." in dom
    assert f"telnet 127.0.0.1 {server.ports['telnet']}" in dom
    assert '<a href="/~erin">Erin</a>' in dom

    home = chromium(tmp_path, "--dump-dom", f"{url}/~erin")
    assert home.returncode == 0, home.stderr.decode(errors="replace")[-2000:]
    dom = home.stdout.decode()
    assert "<h1>Erin</h1>" in dom and "<em>lamp</em>" in dom
    # The browser parsed the player's <script> as text: no script element exists.
    assert ESCAPED in dom and "<script" not in dom.lower()

    shot = tmp_path / "erin.png"
    result = chromium(tmp_path, "--hide-scrollbars", "--window-size=412,915",
                      f"--screenshot={shot}", f"{url}/~erin")  # fmt: skip
    assert result.returncode == 0, result.stderr.decode(errors="replace")[-2000:]
    data = shot.read_bytes()
    width, height, colours = png_size_and_colours(data)
    assert (width, height) == (412, 915)
    assert 5_000 < len(data) < 2_000_000
    assert colours > 20  # text and styles, not a blank page
    erin.close()
