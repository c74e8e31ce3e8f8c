"""``reality tls-selfsigned DIR``: a self-signed certificate and key for trying TLS out.

It writes ``DIR/cert.pem`` and ``DIR/key.pem`` (mode 0600) for the given
host names and addresses (localhost, 127.0.0.1 and ::1 by default), made
with the ``cryptography`` package: an ECDSA P-256 key (every TLS client of
the last decade takes it, and its handshakes are cheap) and a certificate
valid for a year, for server authentication only. Clients must be told to
trust it (``--cacert DIR/cert.pem``, ``-CAfile``, "accept the certificate"):
a public server wants a certificate from a real CA, such as Let's Encrypt,
and the message printed says how to use one.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import re
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["DEFAULT_HOSTS", "VALID_DAYS", "SelfSignedError", "how_to_use", "write_self_signed"]

DEFAULT_HOSTS = ("localhost", "127.0.0.1", "::1")
#: A DNS name (after IDNA), optionally a wildcard: labels of letters, digits, hyphens.
_HOST_NAME = re.compile(r"(\*\.)?([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*"
                        r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?")
VALID_DAYS = 365


class SelfSignedError(Exception):
    """The certificate could not be written; the message says why."""


def _subject_names(hosts: Sequence[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            try:
                name = host.encode("idna").decode("ascii")
            except UnicodeError:
                name = ""
            if not _HOST_NAME.fullmatch(name):
                raise SelfSignedError(f"{host!r} is neither a host name nor an IP address")
            names.append(x509.DNSName(name))
    return names


def write_self_signed(
    directory: str | os.PathLike[str],
    hosts: Sequence[str] = DEFAULT_HOSTS,
    *,
    force: bool = False,
    days: int = VALID_DAYS,
) -> tuple[Path, Path]:
    """Write ``cert.pem`` and ``key.pem`` into ``directory``; return their paths.

    Refuses to overwrite either file unless ``force``; the key is created
    with mode 0600 (never readable by others, not even for an instant).
    """
    hosts = list(hosts) or list(DEFAULT_HOSTS)
    names = _subject_names(hosts)
    target = Path(directory)
    cert_path, key_path = target / "cert.pem", target / "key.pem"
    if not force:
        for path in (cert_path, key_path):
            if path.exists():
                raise SelfSignedError(f"{path} exists already (use --force to replace it)")
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, hosts[0][:64]),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Reality (self-signed)"),
        ]
    )
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=False,
                crl_sign=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    try:
        target.mkdir(parents=True, exist_ok=True)
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o600)  # an existing file keeps its mode otherwise
            f.write(key_pem)
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    except OSError as exc:
        raise SelfSignedError(f"cannot write into {target}: {exc.strerror or exc}") from None
    return cert_path, key_path


def how_to_use(cert_path: Path, key_path: Path, hosts: Sequence[str]) -> str:
    """What to tell the admin after writing the files."""
    host = hosts[0] if hosts else "localhost"
    return f"""\
Wrote {cert_path} (a self-signed certificate for {", ".join(hosts)}, valid {VALID_DAYS} days)
  and {key_path} (its private key, mode 0600).

Start the server with it:
  reality serve --tls-cert {cert_path} --tls-key {key_path}

Clients must be told to trust this certificate, for example:
  openssl s_client -connect {host}:4443 -CAfile {cert_path}
  curl --cacert {cert_path} https://{host}:8443/

For a public server use a certificate from a real CA instead, e.g. Let's Encrypt:
  reality serve --tls-cert /etc/letsencrypt/live/NAME/fullchain.pem \\
                --tls-key /etc/letsencrypt/live/NAME/privkey.pem
and send the server SIGHUP after each renewal (a certbot deploy hook):
it re-reads both files without closing any connection."""
