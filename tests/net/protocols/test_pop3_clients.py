"""A real POP3 client nobody here wrote (poplib) against the server on 127.0.0.1."""

from __future__ import annotations

import json
import sys

import pytest
from mail_clients import run_client
from pop3_fakes import M1, M2, FakePOP3Backend

from reality.net.protocols.pop3 import POP3ServerFactory, POP3Settings

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def server(reactor):
    """A POP3 server on a free port of 127.0.0.1 with an in-memory backend."""
    backend = FakePOP3Backend()
    factory = POP3ServerFactory(backend, reactor, POP3Settings(hostname="pop.example.test"))
    port = reactor.listen_tcp(0, factory, "127.0.0.1")
    yield backend, port.get_host().port
    port.stop_listening()


POPLIB_SCRIPT = r"""
import json, poplib, sys

port = int(sys.argv[1])
report = {}

def text(lines):
    return [line.decode() for line in lines]

bad = poplib.POP3("127.0.0.1", port, timeout=10)
bad.user("alice")
try:
    bad.pass_("wrong")
except poplib.error_proto as e:
    report["bad_password"] = e.args[0].decode()
bad.quit()

p = poplib.POP3("127.0.0.1", port, timeout=10)
report["welcome"] = p.getwelcome().decode()
report["capa"] = sorted(p.capa())
p.user("alice")
report["pass"] = p.pass_("secret").decode()

other = poplib.POP3("127.0.0.1", port, timeout=10)
other.user("alice")
try:
    other.pass_("secret")
except poplib.error_proto as e:
    report["in_use"] = e.args[0].decode()
other.quit()

report["stat"] = list(p.stat())
report["list"] = text(p.list()[1])
report["uidl"] = text(p.uidl()[1])
resp, lines, octets = p.retr(1)
report["retr1"] = [resp.decode(), text(lines), octets]
report["retr2"] = text(p.retr(2)[1])
report["top"] = text(p.top(2, 1)[1])
report["dele"] = p.dele(1).decode()
try:
    p.retr(1)
except poplib.error_proto as e:
    report["retr_deleted"] = e.args[0].decode()
report["noop"] = p.noop().decode()
report["quit"] = p.quit().decode()
print(json.dumps(report))
"""


def test_poplib(reactor, server):
    """poplib logs in, lists, retrieves (unstuffing our stuffing), deletes at QUIT; locks hold."""
    backend, port = server
    result = run_client(reactor, [sys.executable, "-c", POPLIB_SCRIPT, str(port)])
    assert result.exit_code == 0, result.err
    report = json.loads(result.out)
    assert report["bad_password"] == "-ERR [AUTH] Invalid user name or password"
    assert report["welcome"] == "+OK pop.example.test POP3 server ready"
    assert report["capa"] == [
        "AUTH-RESP-CODE", "IMPLEMENTATION", "PIPELINING", "RESP-CODES", "TOP", "UIDL", "USER",
    ]  # fmt: skip
    assert report["pass"] == "+OK Logged in, 3 messages (104 octets)"
    assert report["in_use"] == "-ERR [IN-USE] Mailbox is in use by another session"
    assert report["stat"] == [3, 104]
    assert report["list"] == ["1 51", "2 37", "3 16"]
    assert report["uidl"] == ["1 uid-1", "2 uid-2", "3 uid-3"]
    resp, lines, octets = report["retr1"]
    assert resp == "+OK 51 octets"
    assert lines == M1.decode().split("\r\n")[:-1]  # poplib removed the stuffing
    assert lines[4:6] == [".hidden", "."]
    assert report["retr2"] == M2.decode().split("\n")[:-1]
    assert report["top"] == ["Subject: two", "", "line1"]
    assert report["dele"] == "+OK Message 1 deleted"
    assert report["retr_deleted"] == "-ERR Message 1 already deleted"
    assert report["noop"] == "+OK"
    assert report["quit"] == "+OK pop.example.test signing off (2 messages left)"

    assert [uid for uid, _ in backend.messages["alice"]] == ["uid-2", "uid-3"]
    assert backend.locked == set()
    assert all(mailbox.released == 1 for mailbox in backend.mailboxes)
