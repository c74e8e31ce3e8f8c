"""``reality tls-selfsigned DIR``: a certificate and key that a TLS client accepts."""

from __future__ import annotations

import ssl
import stat
from pathlib import Path

from cryptography import x509

from reality.cli import main
from reality.net.protocol import Protocol
from reality.net.testing import Clock, connected_pair, pump
from reality.net.tls import TLSProtocol, client_context, server_context


def handshake(cert: Path, key: Path, hostname: str) -> TLSProtocol:
    """A verified in-memory handshake against the files: the client's end."""
    clock = Clock()
    server = TLSProtocol(
        Protocol(), server_context(str(cert), str(key)), server_side=True, clock=clock
    )
    client = TLSProtocol(
        Protocol(), client_context(str(cert)), server_side=False,
        server_hostname=hostname, clock=clock,
    )
    st, ct = connected_pair(server, client)
    pump(server, st, client, ct)
    return client


def test_writes_a_certificate_clients_verify_for_the_default_names(tmp_path, capsys):
    """Default names localhost, 127.0.0.1, ::1; key mode 0600; the message says how to serve."""
    target = tmp_path / "tls"
    assert main(["tls-selfsigned", str(target)]) == 0
    cert, key = target / "cert.pem", target / "key.pem"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    loaded = x509.load_pem_x509_certificate(cert.read_bytes())
    san = loaded.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert {str(a) for a in san.get_values_for_type(x509.IPAddress)} == {"127.0.0.1", "::1"}
    out = capsys.readouterr().out
    assert f"reality serve --tls-cert {cert} --tls-key {key}" in out
    assert "Let's Encrypt" in out and "SIGHUP" in out
    for name in ("localhost", "127.0.0.1"):
        assert handshake(cert, key, name).handshake_complete


def test_host_names_and_refusing_to_overwrite(tmp_path, capsys):
    """--host picks the names; a second run refuses to overwrite unless --force."""
    target = tmp_path / "tls"
    argv = ["tls-selfsigned", str(target), "--host", "mud.example.org", "--host", "192.0.2.7"]
    assert main(argv) == 0
    cert, key = target / "cert.pem", target / "key.pem"
    assert handshake(cert, key, "mud.example.org").handshake_complete
    assert not handshake(cert, key, "localhost").handshake_complete
    capsys.readouterr()
    assert main(argv) == 1
    assert "exists already" in capsys.readouterr().err
    key.chmod(0o644)
    assert main([*argv, "--force"]) == 0
    assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_a_bad_name_is_an_error_not_a_traceback(tmp_path, capsys):
    """A name that is no host name: exit 1 with a message."""
    assert main(["tls-selfsigned", str(tmp_path), "--host", "bad\u0000name"]) == 1
    assert "reality tls-selfsigned:" in capsys.readouterr().err


def test_the_files_are_pem(tmp_path):
    """The certificate loads into a stock ssl context as a trust anchor."""
    assert main(["tls-selfsigned", str(tmp_path)]) == 0
    ctx = ssl.create_default_context(cafile=str(tmp_path / "cert.pem"))
    assert ctx.cert_store_stats()["x509"] == 1
