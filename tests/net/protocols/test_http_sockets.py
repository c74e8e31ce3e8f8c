"""The HTTP server over real sockets on 127.0.0.1: http.client, curl, raw sockets.

The server runs in a child process (``http_test_server.py``) on the real
reactor; every client socket and subprocess here has a timeout.
"""

from __future__ import annotations

import http.client
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).parent
ROOT = HERE.parents[2]
TIMEOUT = 5.0


class Server:
    def __init__(self, *args: str) -> None:
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        self.process = subprocess.Popen(
            [sys.executable, str(HERE / "http_test_server.py"), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
        )
        line = self._first_line()
        assert line.startswith("PORT "), f"server did not start: {line!r}"
        self.port = int(line.split()[1])

    def _first_line(self) -> str:
        import selectors

        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            if not selector.select(10):
                self.stop()
                raise AssertionError("server did not print its port within 10 s")
        return self.process.stdout.readline()

    def stop(self) -> str:
        self.process.terminate()
        try:
            _, err = self.process.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, err = self.process.communicate(timeout=5)
        return err

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=TIMEOUT)

    def http(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT)


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    s = Server()
    yield s
    err = s.stop()
    # Handler errors are logged on purpose; nothing may escape the channel.
    assert "Unhandled error" not in err, err
    assert "the handler broke on purpose" in err


def read_response(sock: socket.socket, buffer: bytearray) -> tuple[int, dict[str, str], bytes]:
    """Read one Content-Length-framed response from ``sock`` (leftovers stay in ``buffer``)."""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError(f"connection closed mid-head: {bytes(buffer)!r}")
        buffer += chunk
    end = buffer.index(b"\r\n\r\n")
    head = bytes(buffer[:end]).decode("latin-1").split("\r\n")
    del buffer[: end + 4]
    status = int(head[0].split(" ")[1])
    headers = {}
    for line in head[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(buffer) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed mid-body")
        buffer += chunk
    body = bytes(buffer[:length])
    del buffer[:length]
    return status, headers, body


def closed_by_peer(sock: socket.socket) -> bool:
    """True if the server has closed (EOF or reset) within the timeout."""
    try:
        while True:
            if not sock.recv(65536):
                return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


# -- http.client ------------------------------------------------------------------


def test_keep_alive_serves_many_requests_on_one_connection(server):
    """http.client reuses one connection for several GETs."""
    conn = server.http()
    try:
        conn.request("GET", "/")
        first = conn.getresponse()
        page = first.read()
        sock = conn.sock
        for name in ("alice", "bob"):
            conn.request("GET", f"/~{name}")
            response = conn.getresponse()
            assert (response.status, response.read()) == (200, f"home of {name}".encode())
        assert conn.sock is sock
    finally:
        conn.close()
    assert first.status == 200
    assert first.getheader("Content-Type") == "text/html; charset=utf-8"
    assert first.getheader("Date", "").endswith(" GMT")
    assert page.startswith(b"<!doctype html>")


def test_head_404_405_and_post(server):
    """HEAD has no body, unknown paths 404, wrong methods 405 with Allow, POST echoes."""
    conn = server.http()
    try:
        conn.request("HEAD", "/")
        head = conn.getresponse()
        assert head.read() == b""
        assert int(head.getheader("Content-Length")) > 800
        conn.request("GET", "/missing")
        missing = conn.getresponse()
        assert (missing.status, missing.read()) == (404, b"404 Not Found\n")
        conn.request("DELETE", "/")
        refused = conn.getresponse()
        refused.read()
        assert (refused.status, refused.getheader("Allow")) == (405, "GET, HEAD")
        conn.request("POST", "/echo", body=b"\x00binary\xff")
        echoed = conn.getresponse()
        assert echoed.read() == b"\x00binary\xff"
    finally:
        conn.close()


def test_handler_error_is_500_and_the_connection_survives(server):
    """A handler exception is a 500; the same connection then serves the next request."""
    conn = server.http()
    try:
        conn.request("GET", "/boom")
        broken = conn.getresponse()
        assert broken.status == 500 and b"broke" not in broken.read()
        conn.request("GET", "/~carol")
        assert conn.getresponse().read() == b"home of carol"
    finally:
        conn.close()


def test_streamed_body_is_chunked(server):
    """A generator body reaches http.client intact through the chunked coding."""
    conn = server.http()
    try:
        conn.request("GET", "/stream")
        response = conn.getresponse()
        assert response.getheader("Transfer-Encoding") == "chunked"
        assert response.read() == b"".join(b"piece %d\n" % i for i in range(5))
    finally:
        conn.close()


def test_too_large_body_is_413(server):
    """A 2 MiB upload is refused with 413 (and the client can read it)."""
    conn = server.http()
    try:
        conn.request("POST", "/echo", body=b"x" * (2 << 20))
        response = conn.getresponse()
        assert response.status == 413
        assert response.getheader("Connection") == "close"
    finally:
        conn.close()


# -- raw sockets -----------------------------------------------------------------


def test_pipelined_requests_are_answered_in_order(server):
    """Pipelined requests (a slow one first) come back in request order."""
    with server.connect() as sock:
        sock.sendall(
            b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n"
            b"GET /~one HTTP/1.1\r\nHost: t\r\n\r\n"
            b"GET /~two HTTP/1.1\r\nHost: t\r\n\r\n"
        )
        buffer = bytearray()
        bodies = [read_response(sock, buffer)[2] for _ in range(3)]
    assert bodies == [b"slow", b"home of one", b"home of two"]


def test_cl_te_smuggling_attempt_is_refused_and_nothing_behind_it_is_served(server):
    """Content-Length with Transfer-Encoding: 400, close, and the hidden request never runs."""
    with server.connect() as sock:
        sock.sendall(
            b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 44\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
            b"GET /~smuggled HTTP/1.1\r\nHost: t\r\n\r\n"
        )
        buffer = bytearray()
        status, headers, _ = read_response(sock, buffer)
        assert (status, headers["connection"]) == (400, "close")
        assert closed_by_peer(sock)
        assert b"smuggled" not in buffer


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (
            b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
            b"Content-Length: 6\r\n\r\nhello",
            400,
        ),
        (b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n", 400),
        (b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, identity\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: t\r\n folded\r\n\r\n", 400),
        (b"GET / HTTP/1.1\nHost: t\n\n", 400),
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: t\r\n\r\n", 414),
        (b"GET / HTTP/1.1\r\nHost: t\r\n" + b"X-Field: value\r\n" * 101 + b"\r\n", 431),
        (b"GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + b"v" * 40000 + b"\r\n\r\n", 431),
        (b"BREW /pot HTTP/1.1\r\nHost: t\r\n\r\n", 501),
    ],
)
def test_bad_requests_get_their_status_and_a_close(server, raw, status):
    """Smuggling attempts and over-limit requests get the right status, then a close."""
    with server.connect() as sock:
        sock.sendall(raw)
        buffer = bytearray()
        got, headers, _ = read_response(sock, buffer)
        assert (got, headers.get("connection")) == (status, "close")
        assert closed_by_peer(sock)


def test_http10_request_is_answered_and_closed(server):
    """An HTTP/1.0 request without keep-alive is answered, then the server closes."""
    with server.connect() as sock:
        sock.sendall(b"GET /~old HTTP/1.0\r\n\r\n")
        buffer = bytearray()
        status, headers, body = read_response(sock, buffer)
        assert (status, body, headers["connection"]) == (200, b"home of old", "close")
        assert closed_by_peer(sock)


def test_percent_encoding_and_query_reach_the_handler(server):
    """Paths are percent-decoded and the query string parsed."""
    with server.connect() as sock:
        sock.sendall(b"GET /path?a=1&b=x%20y HTTP/1.1\r\nHost: t\r\n\r\n")
        _, _, body = read_response(sock, bytearray())
    assert body == b"/path|{'a': ['1'], 'b': ['x y']}"


def test_expect_100_continue_over_a_socket(server):
    """With Expect: 100-continue the interim response arrives before we send the body."""
    with server.connect() as sock:
        sock.sendall(
            b"PUT /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"
        )
        buffer = bytearray()
        interim, _, _ = read_response(sock, buffer)
        assert interim == 100
        sock.sendall(b"hello")
        status, _, body = read_response(sock, buffer)
    assert (status, body) == (200, b"hello")


# -- curl --------------------------------------------------------------------------

curl = shutil.which("curl")
needs_curl = pytest.mark.skipif(curl is None, reason="curl is not installed")


def run_curl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [curl, "--silent", "--show-error", "--max-time", "10", *args],
        capture_output=True,
        text=True,
        timeout=20,
    )


@needs_curl
def test_curl_reuses_the_connection(server):
    """curl fetching two URLs keeps the connection alive between them."""
    base = f"http://127.0.0.1:{server.port}"
    result = run_curl("--verbose", f"{base}/~alice", f"{base}/~bob")
    assert result.stdout == "home of alicehome of bob"
    assert "Re-using existing connection" in result.stderr or "Reusing existing" in result.stderr


@needs_curl
def test_curl_head_and_statuses(server):
    """curl sees HEAD headers, 404, 405 and 431 as the server means them."""
    base = f"http://127.0.0.1:{server.port}"
    head = run_curl("--head", f"{base}/")
    assert head.stdout.startswith("HTTP/1.1 200 OK")
    assert "content-type: text/html; charset=utf-8" in head.stdout.lower()
    codes = {}
    for name, extra in {
        "404": [f"{base}/nowhere"],
        "405": ["-X", "PUT", f"{base}/"],
        "431": [arg for i in range(101) for arg in ("-H", f"X-H{i}: v")] + [f"{base}/"],
    }.items():
        result = run_curl("--output", "/dev/null", "--write-out", "%{http_code}", *extra)
        codes[name] = result.stdout
    assert codes == {"404": "404", "405": "405", "431": "431"}


@needs_curl
def test_curl_large_upload_gets_413(server, tmp_path):
    """curl uploading 2 MiB (with Expect: 100-continue) gets 413, not a reset."""
    upload = tmp_path / "big.bin"
    upload.write_bytes(b"x" * (2 << 20))
    result = run_curl(
        "--output",
        "/dev/null",
        "--write-out",
        "%{http_code}",
        "--data-binary",
        f"@{upload}",
        f"http://127.0.0.1:{server.port}/echo",
    )
    assert result.stdout == "413"


@needs_curl
def test_curl_post_echo(server):
    """curl POSTing a small body gets it back."""
    result = run_curl("--data-binary", "hello reality", f"http://127.0.0.1:{server.port}/echo")
    assert result.stdout == "hello reality"


# -- limits that need their own server --------------------------------------------


def test_connection_limit_answers_503():
    """Over max_connections, a new client gets 503 and a close; a freed place is reused."""
    limited = Server("2")
    try:
        held = [limited.connect() for _ in range(2)]
        for sock in held:  # make sure both are accepted and counted
            sock.sendall(b"GET /~x HTTP/1.1\r\nHost: t\r\n\r\n")
            read_response(sock, bytearray())
        with limited.connect() as extra:
            extra.sendall(b"GET /~x HTTP/1.1\r\nHost: t\r\n\r\n")
            status, headers, _ = read_response(extra, bytearray())
            assert (status, headers["connection"], headers["retry-after"]) == (503, "close", "5")
            assert closed_by_peer(extra)
        held.pop().close()
        deadline = time.monotonic() + TIMEOUT
        while True:
            with limited.connect() as again:
                again.sendall(b"GET /~x HTTP/1.1\r\nHost: t\r\n\r\n")
                status = read_response(again, bytearray())[0]
            if status == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert status == 200
        for sock in held:
            sock.close()
    finally:
        limited.stop()


def test_slowloris_head_is_cut_off_at_the_deadline():
    """A head dribbled slowly is answered 408 at the (short) header deadline."""
    quick = Server("10", "1.0", "5.0")
    try:
        with quick.connect() as sock:
            start = time.monotonic()
            sock.sendall(b"GET / HTTP/1.1\r\n")
            got = bytearray()
            for i in range(40):  # one header line every 0.1 s: never done in time
                try:
                    sock.sendall(b"X-%d: v\r\n" % i)
                except (BrokenPipeError, ConnectionResetError):
                    break
                time.sleep(0.1)
                sock.setblocking(False)
                try:
                    got += sock.recv(65536)
                except BlockingIOError:
                    pass
                finally:
                    sock.settimeout(TIMEOUT)
                if got:
                    break
            elapsed = time.monotonic() - start
        assert got.startswith(b"HTTP/1.1 408 ")
        # Were the deadline reset by each line, no 408 would come while we send.
        assert 0.9 <= elapsed < 3.5
    finally:
        quick.stop()


def test_idle_connection_is_closed():
    """A kept-alive connection with nothing to do is closed at the idle timeout."""
    quick = Server("10", "1.0", "0.5")
    try:
        with quick.connect() as sock:
            sock.sendall(b"GET /~x HTTP/1.1\r\nHost: t\r\n\r\n")
            read_response(sock, bytearray())
            start = time.monotonic()
            assert closed_by_peer(sock)
            assert time.monotonic() - start < 2.0
    finally:
        quick.stop()
