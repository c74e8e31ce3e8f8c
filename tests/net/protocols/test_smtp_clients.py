"""Real SMTP clients nobody here wrote (smtplib, swaks) against the server on 127.0.0.1."""

from __future__ import annotations

import email
import email.policy
import json
import shutil
import sys

import pytest
from mail_clients import run_client
from smtp_fakes import FakeBackend

from reality.net.protocols.smtp import SMTPServerFactory, SMTPSettings

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def server(reactor):
    """An SMTP server on a free port of 127.0.0.1 with an in-memory backend."""
    backend = FakeBackend()
    settings = SMTPSettings(hostname="mx.example.test", max_message_size=100_000)
    port = reactor.listen_tcp(0, SMTPServerFactory(backend, reactor, settings), "127.0.0.1")
    yield backend, port.get_host().port
    port.stop_listening()


SMTPLIB_SCRIPT = r"""
import json, smtplib, sys
from email.message import EmailMessage

port = int(sys.argv[1])
report = {}
with smtplib.SMTP("127.0.0.1", port, local_hostname="client.example", timeout=10) as s:
    report["ehlo"] = s.ehlo()[0]
    report["features"] = sorted(s.esmtp_features)
    report["size"] = s.esmtp_features["size"]
    msg = EmailMessage()
    msg["From"] = "sender@far.example"
    msg["To"] = "alice@example.test"
    msg["Subject"] = "Hello from smtplib"
    msg.set_content(".a line with a leading dot\n.\nh\u00e9llo, 8-bit\n", cte="8bit")
    refused = s.send_message(
        msg, to_addrs=["alice@example.test", "nobody@example.test", "Bob@Example.Test"]
    )
    report["refused"] = {k: [v[0], v[1].decode()] for k, v in refused.items()}
    try:
        s.sendmail("a@b.example", ["x@elsewhere.example"], "Subject: x\r\n\r\nx\r\n")
    except smtplib.SMTPRecipientsRefused as e:
        report["relay"] = {k: [v[0], v[1].decode()] for k, v in e.recipients.items()}
    try:
        s.sendmail("a@b.example", ["alice@example.test"], "x" * 200_000)
    except smtplib.SMTPSenderRefused as e:
        report["too_big"] = [e.smtp_code, e.smtp_error.decode()]
    report["vrfy"] = list(s.verify("alice"))
    report["vrfy"][1] = report["vrfy"][1].decode()
    report["noop"] = s.noop()[0]
print(json.dumps(report))
"""


def test_smtplib(reactor, server):
    """smtplib sends a message (8BITMIME, dot lines, refused recipients) and meets every limit."""
    backend, port = server
    result = run_client(reactor, [sys.executable, "-c", SMTPLIB_SCRIPT, str(port)])
    assert result.exit_code == 0, result.err
    report = json.loads(result.out)
    assert report["ehlo"] == 250
    assert report["features"] == [
        "8bitmime", "enhancedstatuscodes", "help", "pipelining", "size", "smtputf8"
    ]
    assert report["size"] == "100000"
    assert report["refused"] == {
        "nobody@example.test": [550, "5.1.1 <nobody@example.test>: User unknown"]
    }
    assert report["relay"] == {
        "x@elsewhere.example": [550, "5.7.1 <x@elsewhere.example>: Relay access denied"]
    }
    assert report["too_big"] == [552, "5.3.4 Message size exceeds fixed maximum message size"]
    assert report["vrfy"][0] == 252
    assert report["noop"] == 250

    (envelope,) = backend.delivered
    assert envelope.mail_from == "sender@far.example"
    assert envelope.rcpt_to == ["alice@example.test", "Bob@Example.Test"]
    assert envelope.helo == "client.example"
    assert envelope.data.startswith(b"Received: from client.example ([127.0.0.1])\r\n")
    message = email.message_from_bytes(envelope.data, policy=email.policy.default)
    assert message["Subject"] == "Hello from smtplib"
    content = message.get_content().replace("\r\n", "\n")
    assert content == ".a line with a leading dot\n.\nh\u00e9llo, 8-bit\n"


SWAKS_BODY = "First line\n.dot line\n..two dots\nlast line"


@pytest.mark.skipif(shutil.which("swaks") is None, reason="swaks is not installed")
def test_swaks_pipelined(reactor, server):
    """swaks with --pipeline: one accepted and one refused recipient, in one round trip."""
    backend, port = server
    argv = [
        "swaks", "--server", "127.0.0.1", "--port", str(port), "--timeout", "10",
        "--helo", "swaks.example", "--from", "tester@far.example",
        "--to", "alice@example.test,ghost@example.test", "--pipeline",
        "--header", "Subject: swaks test", "--body", SWAKS_BODY,
    ]  # fmt: skip
    result = run_client(reactor, argv)
    assert result.exit_code == 0, result.out + result.err
    # swaks sent the four commands in one go, then read the four replies in order.
    assert (
        " -> MAIL FROM:<tester@far.example>\n"
        " -> RCPT TO:<alice@example.test>\n"
        " -> RCPT TO:<ghost@example.test>\n"
        " -> DATA\n"
        "<-  250 2.1.0 Sender <tester@far.example> OK\n"
        "<-  250 2.1.5 <alice@example.test>: Recipient OK\n"
        "<** 550 5.1.1 <ghost@example.test>: User unknown\n"
        "<-  354 End data with <CR><LF>.<CR><LF>\n"
    ) in result.out, result.out
    assert "<-  250 2.0.0 OK: queued as " in result.out
    assert "<-  221 2.0.0 mx.example.test closing connection" in result.out
    (envelope,) = backend.delivered
    assert envelope.rcpt_to == ["alice@example.test"]
    message = email.message_from_bytes(envelope.data, policy=email.policy.default)
    assert message["Subject"] == "swaks test"
    assert message.get_content().replace("\r\n", "\n").rstrip("\n") == SWAKS_BODY


@pytest.mark.skipif(shutil.which("swaks") is None, reason="swaks is not installed")
def test_swaks_relay_refused(reactor, server):
    """swaks to a foreign domain is refused with 5.7.1 and nothing is stored (no open relay)."""
    backend, port = server
    argv = [
        "swaks", "--server", "127.0.0.1", "--port", str(port), "--timeout", "10",
        "--from", "tester@far.example", "--to", "victim@elsewhere.example",
    ]  # fmt: skip
    result = run_client(reactor, argv)
    assert result.exit_code != 0
    assert "550 5.7.1 <victim@elsewhere.example>: Relay access denied" in result.out
    assert backend.delivered == []
