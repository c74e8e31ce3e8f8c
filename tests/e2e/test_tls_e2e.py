"""TLS on every service, against real clients nobody here wrote, on a real server process.

One server runs for the module with ``--tls-cert``/``--tls-key`` (a
throwaway CA made by ``trustme``) and ``--plaintext-auth-from
192.0.2.0/24``, so that the tests' own address (loopback) is *not*
trusted with a password in the clear. The clients: ``openssl s_client``
(telnets, https, ``-starttls smtp``, ``-starttls pop3``, pop3s), ``curl
--cacert``, ``swaks --tls``, Python's ``smtplib``/``poplib``,
``telnetlib3`` with an SSL context, TinTin++'s ``#ssl`` and headless
Chromium trusting the test certificate by its SPKI hash.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import imaplib
import os
import poplib
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from serverproc import ServerProcess
from terminal import Tmux

OPENSSL = shutil.which("openssl")
CURL = shutil.which("curl")
SWAKS = shutil.which("swaks")
CHROMIUM = next(
    (found for name in ("chromium", "chromium-browser", "google-chrome")
     if (found := shutil.which(name))), None,
)
ADMIN = "Wizard"
PASSWORD = "secret"
HANDSHAKE_TIMEOUT = 2


def needs(tool: str | None, name: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(tool is None, reason=f"{name} is not installed")


def tls_flags(certs) -> tuple[str, ...]:
    return (
        "--tls-cert", certs.cert_file, "--tls-key", certs.key_file,
        "--telnets-port", "0", "--https-port", "0", "--pop3s-port", "0", "--imaps-port", "0",
        "--plaintext-auth-from", "192.0.2.0/24",
        "--tls-handshake-timeout", str(HANDSHAKE_TIMEOUT),
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory, tls_certs) -> Iterator[ServerProcess]:
    workdir = tmp_path_factory.mktemp("tls-server")
    proc = ServerProcess(
        workdir, admins=(ADMIN,), admin_password=PASSWORD, extra=tls_flags(tls_certs),
        expect=("telnet", "telnets", "http", "https", "smtp", "pop3", "pop3s", "imap", "imaps"),
    )
    with proc:
        yield proc


def s_client(port: int, certs, *extra: str, send: bytes = b"", wait: float = 1.5) -> str:
    """``openssl s_client`` to ``port``, verifying against the test CA; its whole output."""
    assert OPENSSL is not None
    proc = subprocess.Popen(
        [OPENSSL, "s_client", "-connect", f"127.0.0.1:{port}", "-CAfile", certs.ca_file,
         "-verify_return_error", "-servername", "localhost", "-nocommands", *extra],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        assert proc.stdin is not None
        time.sleep(wait)  # the handshake, and the server's first words
        proc.stdin.write(send)
        proc.stdin.flush()
        time.sleep(wait)
        proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        assert proc.stdout is not None
        out = proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
    return out.decode("utf-8", "replace")


def ssl_context(certs) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=certs.ca_file)


def banner(port: int, timeout: float = 10.0) -> str:
    """The plain telnet port's greeting, read with a bare socket."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        data = b""
        deadline = time.monotonic() + timeout
        while b"connect <name>" not in data and time.monotonic() < deadline:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    return data.decode("utf-8", "replace")


def read_until_closed(sock: socket.socket, limit: float) -> tuple[bytes, float]:
    """Everything the server sends until it closes; and how long that took."""
    start = time.monotonic()
    sock.settimeout(limit)
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, TimeoutError):
            break
        if not chunk:
            break
        data += chunk
    return data, time.monotonic() - start


# -- the ports and the log -----------------------------------------------------------


def test_every_tls_service_logs_that_it_listens(server):
    """telnets, https and pop3s log '<service> listening on <host>:<port>' like the others."""
    for name in ("telnets", "https", "pop3s"):
        assert f"{name} listening on 127.0.0.1:{server.ports[name]}" in server.output()


# -- openssl s_client ----------------------------------------------------------------


@needs(OPENSSL, "openssl")
def test_openssl_telnets_gets_the_game_banner(server, tls_certs):
    """openssl s_client to the telnets port: a verified TLS session and the game's banner."""
    out = s_client(server.ports["telnets"], tls_certs, "-quiet", send=b"who\r\nquit\r\n")
    assert "Tiny Test World" in out
    assert "This connection is not encrypted" not in out


@needs(OPENSSL, "openssl")
def test_openssl_https_alpn_and_hsts(server, tls_certs):
    """openssl s_client -alpn http/1.1 to https: ALPN agreed, 200 with Strict-Transport-Security."""
    request = b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    out = s_client(server.ports["https"], tls_certs, "-alpn", "http/1.1", "-ign_eof", send=request)
    assert "ALPN protocol: http/1.1" in out
    assert "Verify return code: 0 (ok)" in out
    assert "HTTP/1.1 200 OK" in out
    assert "Strict-Transport-Security: max-age=31536000" in out


@needs(OPENSSL, "openssl")
def test_openssl_starttls_smtp(server, tls_certs):
    """openssl s_client -starttls smtp: upgraded and verified; EHLO again lists no STARTTLS."""
    out = s_client(server.ports["smtp"], tls_certs, "-starttls", "smtp", "-ign_eof",
                   send=b"EHLO again.example\r\nQUIT\r\n")
    assert "Verify return code: 0 (ok)" in out
    after = out.split("EHLO again.example", 1)[-1] if "EHLO again" in out else out
    assert "250-PIPELINING" in after and "STARTTLS" not in after.split("221", 1)[0]
    assert "221 2.0.0" in out


@needs(OPENSSL, "openssl")
def test_openssl_starttls_pop3_and_pop3s(server, tls_certs):
    """openssl s_client -starttls pop3 and to the pop3s port: verified; CAPA lists USER."""
    for port, extra in ((server.ports["pop3"], ("-starttls", "pop3")),
                        (server.ports["pop3s"], ())):
        out = s_client(port, tls_certs, *extra, "-ign_eof", send=b"CAPA\r\nQUIT\r\n")
        assert "Verify return code: 0 (ok)" in out, out
        assert "\nUSER" in out.replace("\r", "") and "\nSTLS" not in out.replace("\r", "")
        assert "signing off" in out


# -- curl, swaks, Python's clients ------------------------------------------------------


@needs(CURL, "curl")
def test_curl_https_with_the_test_ca(server, tls_certs):
    """curl --cacert: the site over HTTPS, HSTS there but not on plain HTTP."""
    url = f"https://localhost:{server.ports['https']}/"
    done = subprocess.run([CURL, "-sS", "-i", "--cacert", tls_certs.ca_file, url],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("HTTP/1.1 200")
    assert "strict-transport-security: max-age=31536000" in done.stdout.lower()
    plain = subprocess.run([CURL, "-sS", "-i", f"http://127.0.0.1:{server.ports['http']}/who"],
                           capture_output=True, text=True, timeout=30)
    assert "strict-transport-security" not in plain.stdout.lower()


@needs(SWAKS, "swaks")
def test_swaks_delivers_over_starttls(server, tls_certs):
    """swaks --tls: STARTTLS, then a letter accepted (250) for a player."""
    done = subprocess.run(
        [SWAKS, "--server", "127.0.0.1", "--port", str(server.ports["smtp"]), "--tls",
         "--tls-verify", "--tls-ca-path", tls_certs.ca_file, "--tls-sni", "localhost",
         "--from", "friend@example.test", "--to", "wizard@reality.localhost",
         "--ehlo", "client.example", "--timeout", "20"],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "<-  220 2.0.0 Ready to start TLS" in done.stdout  # in the clear
    assert "=== TLS started" in done.stdout
    assert " ~> QUIT" in done.stdout  # over TLS
    assert "queued as" in done.stdout


def test_smtplib_starttls(server, tls_certs):
    """smtplib.starttls: advertised, upgraded, EHLO again without STARTTLS, a letter sent."""
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=10) as client:
        client.ehlo("client.example")
        assert client.has_extn("starttls")
        client.starttls(context=ssl_context(tls_certs))
        client.ehlo("client.example")
        assert not client.has_extn("starttls")
        client.sendmail("friend@example.test", ["wizard@reality.localhost"],
                        b"Subject: over TLS\r\n\r\nhello\r\n")


def test_poplib_plain_password_refused_then_stls_and_pop3_ssl(server, tls_certs):
    """POP3 in the clear from an untrusted address: CAPA has no USER, USER is -ERR [AUTH];
    after stls() (and on POP3_SSL) the same login works."""
    client = poplib.POP3("127.0.0.1", server.ports["pop3"], timeout=10)
    try:
        caps = client.capa()
        assert "STLS" in caps and "USER" not in caps
        with pytest.raises(poplib.error_proto, match=r"\[AUTH\] Plaintext authentication"):
            client.user(ADMIN)
        client.stls(context=ssl_context(tls_certs))
        assert "USER" in client.capa() and "STLS" not in client.capa()
        client.user(ADMIN)
        assert client.pass_(PASSWORD).startswith(b"+OK Logged in")
    finally:
        client.quit()
    secure = poplib.POP3_SSL("127.0.0.1", server.ports["pop3s"], timeout=10,
                             context=ssl_context(tls_certs))
    try:
        secure.user(ADMIN)
        assert secure.pass_(PASSWORD).startswith(b"+OK Logged in")
    finally:
        secure.quit()


def test_imaplib_login_disabled_then_starttls_and_imap4_ssl(server, tls_certs):
    """IMAP in the clear from an untrusted address: LOGINDISABLED and STARTTLS offered,
    LOGIN refused; after starttls() (and on IMAP4_SSL) the same login works."""
    client = imaplib.IMAP4("127.0.0.1", server.ports["imap"], timeout=10)
    try:
        assert "LOGINDISABLED" in client.capabilities and "STARTTLS" in client.capabilities
        with pytest.raises(imaplib.IMAP4.error, match="PRIVACYREQUIRED|LOGINDISABLED|disabled"):
            client.login(ADMIN, PASSWORD)
        client.starttls(ssl_context=ssl_context(tls_certs))
        assert "STARTTLS" not in client.capabilities
        assert "LOGINDISABLED" not in client.capabilities
        assert client.login(ADMIN, PASSWORD)[0] == "OK"
        assert client.select("INBOX")[0] == "OK"
    finally:
        client.logout()
    secure = imaplib.IMAP4_SSL("127.0.0.1", server.ports["imaps"], timeout=10,
                               ssl_context=ssl_context(tls_certs))
    try:
        assert "STARTTLS" not in secure.capabilities
        assert secure.login(ADMIN, PASSWORD)[0] == "OK"
        typ, data = secure.list()
        assert typ == "OK" and any(b"Sent" in line for line in data)
    finally:
        secure.logout()


def test_openssl_starttls_imap(server, tls_certs):
    """openssl s_client -starttls imap: a verified handshake on the IMAP port."""
    out = s_client(server.ports["imap"], tls_certs, "-starttls", "imap", send=b"a1 CAPABILITY\r\n")
    assert "Verify return code: 0 (ok)" in out
    assert "AUTH=PLAIN" in out


def test_telnetlib3_over_tls(server, tls_certs):
    """telnetlib3 with an SSL context on the telnets port: the banner, then a login."""
    telnetlib3 = pytest.importorskip("telnetlib3")

    async def session() -> str:
        reader, writer = await telnetlib3.open_connection(
            "127.0.0.1", server.ports["telnets"], ssl=ssl_context(tls_certs),
            server_hostname="localhost", connect_minwait=0.05, connect_maxwait=0.5,
        )
        text = ""
        try:
            deadline = time.monotonic() + 10
            while "connect <name>" not in text and time.monotonic() < deadline:
                text += await asyncio.wait_for(reader.read(4096), 5)
            writer.write(f"connect {ADMIN} {PASSWORD}\r\n")
            while "The Hall" not in text and time.monotonic() < deadline:
                text += await asyncio.wait_for(reader.read(4096), 5)
        finally:
            writer.close()
        return text

    text = asyncio.run(session())
    assert "Tiny Test World" in text and "The Hall" in text


def test_plain_telnet_banner_names_the_secure_port(server):
    """On the plain port the banner says the connection is not encrypted and where TLS is."""
    text = banner(server.ports["telnet"])
    assert "This connection is not encrypted" in text
    assert f"Secure (TLS) port: {server.ports['telnets']}" in text


# -- the STARTTLS injection case -------------------------------------------------------


def test_smtp_starttls_with_pipelined_plaintext_is_refused(server):
    """STARTTLS and a command in one segment: 554 and the connection closed, no TLS."""
    with socket.create_connection(("127.0.0.1", server.ports["smtp"]), timeout=10) as sock:
        sock.recv(1024)
        sock.sendall(b"EHLO x.example\r\n")
        time.sleep(0.3)
        sock.recv(4096)
        sock.sendall(b"STARTTLS\r\nRCPT TO:<wizard@reality.localhost>\r\n")
        data, _ = read_until_closed(sock, 10)
    assert data.startswith(b"554 5.5.1 ")


def test_pop3_stls_with_pipelined_plaintext_is_refused(server):
    """STLS and a command in one segment: -ERR and the connection closed, no TLS."""
    with socket.create_connection(("127.0.0.1", server.ports["pop3"]), timeout=10) as sock:
        sock.recv(1024)
        sock.sendall(b"STLS\r\nUSER wizard\r\n")
        data, _ = read_until_closed(sock, 10)
    assert data.startswith(b"-ERR Commands sent after STLS")


# -- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize("service", ["telnets", "https", "pop3s"])
def test_plaintext_to_a_tls_port_is_closed_at_once(server, service):
    """Plaintext on a TLS port: closed (OpenSSL's alert at most), well within the timeout."""
    with socket.create_connection(("127.0.0.1", server.ports[service]), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        data, took = read_until_closed(sock, HANDSHAKE_TIMEOUT + 5)
    assert b"HTTP/1.1" not in data and took < HANDSHAKE_TIMEOUT + 1


@pytest.mark.parametrize("service", ["telnets", "smtp"])
def test_a_stalled_handshake_is_closed_by_the_deadline(server, service):
    """A client that starts TLS and stops mid-handshake is closed by the handshake deadline;
    another connection meanwhile is served normally."""
    with socket.create_connection(("127.0.0.1", server.ports[service]), timeout=10) as sock:
        if service == "smtp":
            sock.recv(1024)
            sock.sendall(b"STARTTLS\r\n")
            assert sock.recv(1024).startswith(b"220 2.0.0 Ready to start TLS")
        start = time.monotonic()
        sock.sendall(b"\x16\x03\x01\x02\x00\x01")  # the first bytes of a ClientHello, no more
        assert "Tiny Test World" in banner(server.ports["telnet"])
        read_until_closed(sock, HANDSHAKE_TIMEOUT + 5)
        took = time.monotonic() - start
    assert HANDSHAKE_TIMEOUT - 0.5 < took < HANDSHAKE_TIMEOUT + 2


@pytest.mark.parametrize("service", ["telnets", "https"])
def test_garbage_records_are_closed(server, service):
    """A well-formed record header with garbage inside: an alert and the connection closed."""
    with socket.create_connection(("127.0.0.1", server.ports[service]), timeout=10) as sock:
        sock.sendall(b"\x16\x03\x01\x00\x10" + os.urandom(16))
        _, took = read_until_closed(sock, HANDSHAKE_TIMEOUT + 5)
    assert took < HANDSHAKE_TIMEOUT + 1


def test_a_clienthello_to_the_plain_http_port_is_answered_and_closed(server, tls_certs):
    """A TLS client on the plain HTTP port gets an error and the connection closes, fast."""
    with socket.create_connection(("127.0.0.1", server.ports["http"]), timeout=10) as sock:
        context = ssl.create_default_context(cafile=tls_certs.ca_file)
        start = time.monotonic()
        with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
            context.wrap_socket(sock, server_hostname="localhost")
        took = time.monotonic() - start
    assert took < HANDSHAKE_TIMEOUT


@pytest.mark.parametrize("service", ["telnet", "smtp", "pop3"])
def test_a_clienthello_to_a_plain_line_port_is_closed_at_once(server, tls_certs, service):
    """A "secure" client pointed at the plain telnet, SMTP or POP3 port is closed at once,
    not left to the login or idle timer (minutes)."""
    with socket.create_connection(("127.0.0.1", server.ports[service]), timeout=10) as sock:
        context = ssl.create_default_context(cafile=tls_certs.ca_file)
        start = time.monotonic()
        with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
            context.wrap_socket(sock, server_hostname="localhost")
        took = time.monotonic() - start
    assert took < HANDSHAKE_TIMEOUT


# -- TinTin++ and Chromium -----------------------------------------------------------------


def spki_hash(cert_file: str) -> str:
    """Chromium's --ignore-certificate-errors-spki-list value: base64 SHA-256 of the SPKI."""
    pem = Path(cert_file).read_bytes()
    cert = x509.load_pem_x509_certificate(pem)
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


@needs(CHROMIUM, "chromium")
def test_chromium_loads_the_https_site(server, tls_certs, tmp_path):
    """Headless Chromium trusts only this certificate (SPKI pinning) and renders the front page."""
    assert CHROMIUM is not None
    url = f"https://localhost:{server.ports['https']}/"
    done = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path}",
         f"--ignore-certificate-errors-spki-list={spki_hash(tls_certs.cert_file)}",
         "--dump-dom", url],
        capture_output=True, text=True, timeout=90,
    )
    assert "Tiny Test World" in done.stdout, done.stderr[-2000:]


def find_tintin() -> str | None:
    found = shutil.which("tt++")
    if found is None and os.access("/usr/games/tt++", os.X_OK):
        found = "/usr/games/tt++"
    return found


@pytest.mark.skipif(find_tintin() is None, reason="TinTin++ (tt++) is not installed")
def test_tintin_ssl_session(server, tmp_path):
    """TinTin++'s #ssl session to the telnets port: the banner, a login, a command."""

    tmux = Tmux(columns=110, rows=45)
    tmux.start(f"cd {tmp_path} && HOME={tmp_path} TERM=xterm {find_tintin()}")
    try:
        tmux.wait_for("T I N T I N")
        tmux.keys(f"#ssl s 127.0.0.1 {server.ports['telnets']}", "Enter")
        screen = tmux.wait_for("connect <name> <password>")
        assert "This connection is not encrypted" not in screen
        tmux.keys(f"connect {ADMIN} {PASSWORD}", "Enter")
        tmux.wait_for("The Hall")
    finally:
        tmux.kill()


# -- the certificate: rotation by SIGHUP, bad files at start ---------------------------------


def test_sighup_rotates_the_certificate_and_keeps_open_sessions(tmp_path, make_certs):
    """SIGHUP re-reads cert and key: new connections get the new one, an open TLS session
    carries on with the old; a bad file then keeps the current one and the log says why."""
    old = make_certs(tmp_path, prefix="old-")
    new = make_certs(tmp_path, prefix="new-")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    shutil.copy(old.cert_file, cert)
    shutil.copy(old.key_file, key)
    flags = ("--tls-cert", str(cert), "--tls-key", str(key), "--telnets-port", "0",
             "--https-port", "0", "--pop3s-port", "0")
    with ServerProcess(tmp_path, extra=flags, expect=("telnet", "telnets")) as server:
        port = server.ports["telnets"]
        trust_old, trust_new = ssl_context(old), ssl_context(new)
        raw = socket.create_connection(("127.0.0.1", port), timeout=10)
        session = trust_old.wrap_socket(raw, server_hostname="localhost")
        try:
            session.settimeout(10)
            first = b""
            while b"connect <name>" not in first:
                first += session.recv(4096)
            shutil.copy(new.cert_file, cert)
            shutil.copy(new.key_file, key)
            assert server.proc is not None
            server.proc.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 10
            while "TLS certificate re-read" not in server.output():
                assert server.read_line(deadline - time.monotonic()) is not None
            # The open session was not touched: it still talks, over the old certificate.
            session.sendall(b"who\r\n")
            assert session.recv(4096)
            with socket.create_connection(("127.0.0.1", port), timeout=10) as fresh, \
                    trust_new.wrap_socket(fresh, server_hostname="localhost") as secure:
                assert secure.version() in ("TLSv1.2", "TLSv1.3")
            with pytest.raises(ssl.SSLCertVerificationError), \
                    socket.create_connection(("127.0.0.1", port), timeout=10) as fresh:
                trust_old.wrap_socket(fresh, server_hostname="localhost")
            # A broken file: the new certificate stays, the log says which file and why.
            key.write_text("not a key\n")
            server.proc.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 10
            while "not re-read" not in server.output():
                assert server.read_line(deadline - time.monotonic()) is not None
            assert str(key) in server.output().split("not re-read", 1)[1]
            with socket.create_connection(("127.0.0.1", port), timeout=10) as fresh, \
                    trust_new.wrap_socket(fresh, server_hostname="localhost") as secure:
                assert secure.version() is not None
            session.sendall(b"who\r\n")
            assert session.recv(4096)
        finally:
            session.close()


@pytest.mark.parametrize("broken", ["missing-cert", "bad-key", "key-only"])
def test_a_bad_certificate_or_key_stops_the_start(tmp_path, tls_certs, broken):
    """A missing or wrong file, or --tls-key without --tls-cert: the error names it, exit 1."""
    key = tmp_path / "bad-key.pem"
    key.write_text("-----BEGIN PRIVATE KEY-----\nnonsense\n-----END PRIVATE KEY-----\n")
    flags = {
        "missing-cert": ("--tls-cert", str(tmp_path / "nope.pem"), "--tls-key",
                         tls_certs.key_file),
        "bad-key": ("--tls-cert", tls_certs.cert_file, "--tls-key", str(key)),
        "key-only": ("--tls-key", tls_certs.key_file),
    }[broken]
    proc = ServerProcess(tmp_path, extra=flags)
    done = subprocess.run(proc.argv(), cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    named = {"missing-cert": "nope.pem", "bad-key": str(key), "key-only": "--tls-cert"}[broken]
    assert named in done.stderr, done.stderr
    assert "listening on" not in done.stderr
