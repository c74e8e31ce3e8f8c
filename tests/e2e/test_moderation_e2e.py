"""Bans and password changes over real sockets: telnet, POP3, SMTP and HTTP.

Linux routes all of 127/8 to the loopback, so the admin connects from
127.0.0.1 and the banned addresses are other 127.x addresses. Every socket
has a timeout; every wait is bounded.
"""

from __future__ import annotations

import http.client
import poplib
import smtplib
import socket
import time

import pytest
from serverproc import ServerProcess, TelnetClient

ADMIN = ("Root",)


def telnet_from(port: int, source: str, timeout: float = 10.0) -> socket.socket:
    """A raw connection from a chosen loopback address."""
    return socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                    source_address=(source, 0))


def read_to_close(sock: socket.socket, limit: float = 10.0) -> bytes:
    """Everything the server sends until it closes (bounded in time)."""
    deadline = time.monotonic() + limit
    chunks = []
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except (TimeoutError, ConnectionResetError):
            break
        if not chunk:
            break
        chunks.append(chunk)
    sock.close()
    return b"".join(chunks)


def http_get(port: int, path: str, source: str = "127.0.0.1") -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10,
                                      source_address=(source, 0))
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        conn.close()


def login(server: ServerProcess, name: str, password: str) -> TelnetClient:
    client = server.telnet()
    reply = client.command(f"connect {name} {password}")
    assert "wrong" not in reply, reply
    return client


def test_bans_over_telnet_pop3_smtp_and_http_and_after_a_restart(tmp_path):
    """A banned player is closed and refused everywhere; a banned address is refused at
    connect on every service; both survive a restart."""
    server = ServerProcess(tmp_path, admins=ADMIN, expect=("telnet", "http", "smtp", "pop3"))
    with server:
        ports = server.ports
        root = login(server, "Root", "secret")
        bob = server.telnet()
        assert "Welcome" in bob.command("create Bob bobsecret")
        bob.command("homepage set I am Bob.")
        assert "Bob" in http_get(ports["http"], "/who")[1]
        assert http_get(ports["http"], "/~bob")[0] == 200
        mail = poplib.POP3("127.0.0.1", ports["pop3"], timeout=10)
        mail.user("bob")
        mail.pass_("bobsecret")

        said = root.command("@ban Bob = spamming the hall")
        assert "Bob is banned (spamming the hall)." in said
        closing = bob.read_all()
        assert "You have been banned from this server. Reason: spamming the hall" in closing
        with pytest.raises((poplib.error_proto, EOFError, OSError)) as caught:
            mail.stat()
        assert "banned" in str(caught.value) or isinstance(caught.value, (EOFError, OSError))
        mail.close()

        # Every way in is shut: telnet and POP3, with the right password.
        again = server.telnet()
        assert "This character is banned" in again.command("connect Bob bobsecret")
        again.close()
        pop = poplib.POP3("127.0.0.1", ports["pop3"], timeout=10)
        pop.user("bob")
        with pytest.raises(poplib.error_proto, match="banned"):
            pop.pass_("bobsecret")
        pop.quit()
        # The website: off /who, the homepage hidden (404, as for nobody).
        assert "Bob" not in http_get(ports["http"], "/who")[1]
        assert http_get(ports["http"], "/~bob")[0] == 404

        # An address: an open telnet session from it is closed, then nothing connects.
        victim = telnet_from(ports["telnet"], "127.0.0.2")
        victim.recv(4096)  # the banner
        said = root.command("@ban 127.0.0.2 = scanner")
        assert "127.0.0.2 is banned (scanner)." in said
        assert b"You have been banned from this server. Reason: scanner" in read_to_close(victim)
        refused = read_to_close(telnet_from(ports["telnet"], "127.0.0.2"))
        assert b"Your address is banned from this server." in refused
        pop_refusal = read_to_close(telnet_from(ports["pop3"], "127.0.0.2"))
        assert pop_refusal.startswith(b"-ERR [SYS/PERM] Your address is banned")
        smtp_refusal = read_to_close(telnet_from(ports["smtp"], "127.0.0.2"))
        assert smtp_refusal.startswith(b"554 5.7.1 Your address is banned")
        with pytest.raises(smtplib.SMTPConnectError):
            smtplib.SMTP("127.0.0.1", ports["smtp"], timeout=10,
                         source_address=("127.0.0.2", 0))
        assert http_get(ports["http"], "/", source="127.0.0.2")[0] == 403
        # A CIDR; the admin's own address is still welcome.
        assert "is banned" in root.command("@ban 127.0.8.0/24")
        assert http_get(ports["http"], "/", source="127.0.8.77")[0] == 403
        assert http_get(ports["http"], "/", source="127.0.9.1")[0] == 200
        root.close()
        assert server.stop() == 0

    # The bans are in the database: a restarted server keeps them.
    with ServerProcess(tmp_path, admins=ADMIN, expect=("telnet", "http", "pop3")) as again:
        refused = read_to_close(telnet_from(again.ports["telnet"], "127.0.0.2"))
        assert b"Your address is banned" in refused
        root = login(again, "Root", "secret")
        listed = root.command("@bans")
        assert "Bans (3):" in listed
        assert "Bob (account), banned by Root on " in listed and "spamming the hall" in listed
        assert "127.0.0.2 (address)" in listed and "127.0.8.0/24 (address)" in listed
        assert "This character is banned" in again.telnet().command("connect Bob bobsecret")
        assert "Bob is no longer banned." in root.command("@unban bob")
        assert "Welcome" not in login(again, "Bob", "bobsecret").command("look")
        assert http_get(again.ports["http"], "/~bob")[0] == 200
        root.close()


def test_password_change_over_telnet_tells_the_other_session_and_logs_no_password(tmp_path):
    """password old new: the account's POP3 session is told and closed; the new password
    works, the old one does not; a wrong old one is refused; the log holds neither."""
    with ServerProcess(tmp_path, expect=("telnet", "pop3")) as server:
        alice = server.telnet()
        alice.command("create Alice old-secret")
        mail = poplib.POP3("127.0.0.1", server.ports["pop3"], timeout=10)
        mail.user("alice")
        mail.pass_("old-secret")

        # The answer comes when the worker has checked the hash, after the prompt.
        alice.conn.write(b"password not-it new-secret\r\n")
        alice.expect("Your old password is wrong; your password was not changed.")

        alice.conn.write(b"password old-secret new-secret\r\n")
        alice.expect("Your password has been changed.")
        with pytest.raises(poplib.error_proto, match="Your password was changed from 127.0.0.1"):
            mail.stat()
        mail.close()

        pop = poplib.POP3("127.0.0.1", server.ports["pop3"], timeout=10)
        pop.user("alice")
        with pytest.raises(poplib.error_proto):
            pop.pass_("old-secret")
        pop.quit()
        pop = poplib.POP3("127.0.0.1", server.ports["pop3"], timeout=10)
        pop.user("alice")
        assert pop.pass_("new-secret").startswith(b"+OK")
        pop.quit()
        alice.close()
        assert server.stop() == 0
        log = server.output()
        assert "account.password who=Alice address=127.0.0.1" in log
        assert "login.failed who=Alice" in log
        for secret in ("old-secret", "new-secret", "not-it"):
            assert secret not in log
