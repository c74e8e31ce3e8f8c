"""End to end: run_server.py with real mail clients (smtplib, poplib, swaks, curl) and telnet."""

from __future__ import annotations

import email
import email.policy
import poplib
import shutil
import smtplib
import subprocess
import time
from email.message import EmailMessage

import pytest
from serverproc import ServerProcess

SERVICES = ("telnet", "smtp", "pop3")
DOMAIN = "reality.localhost"


def mail_server(tmp_path, **kw) -> ServerProcess:
    return ServerProcess(tmp_path, expect=SERVICES, **kw)


def letter(subject: str, body: str, to: str = f"alice@{DOMAIN}") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Carol Sender <carol@far.example>"
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content(body)
    return msg


def smtp(server: ServerProcess) -> smtplib.SMTP:
    return smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=10)


def pop3(server: ServerProcess, user: str = "alice", password: str = "secret") -> poplib.POP3:
    client = poplib.POP3("127.0.0.1", server.ports["pop3"], timeout=10)
    client.user(user)
    client.pass_(password)
    return client


def retrieve(client: poplib.POP3, number: int) -> EmailMessage:
    _, lines, _ = client.retr(number)
    return email.message_from_bytes(b"\r\n".join(lines) + b"\r\n", policy=email.policy.default)


def body_of(msg: EmailMessage) -> str:
    return msg.get_content().replace("\r\n", "\n")


def test_smtp_mail_reaches_a_telnet_player_and_pop3(tmp_path):
    """A player on telnet gets smtplib mail from the daemon within 2 s; reads it; POP3 has it."""
    body = "Meet me at the well at noon.\n.A line that starts with a dot.\nCarol"
    with mail_server(tmp_path) as server:
        alice = server.telnet()
        alice.command("create Alice secret")
        bob = server.telnet()
        bob.command("create Bob secret")
        alice.expect("Bob has entered the game.")

        with smtp(server) as client:
            started = time.monotonic()
            refused = client.send_message(letter("Meeting at the well", body))
            assert refused == {}
        alice.expect("A mail daemon appears in a puff of smoke and hands you a letter.", 2)
        # Outside mail is announced under its envelope sender (issue 10, item 9).
        alice.expect("You have mail from carol@far.example: Meeting at the well", 2)
        assert time.monotonic() - started < 2
        bob.expect("A mail daemon appears in a puff of smoke and hands Alice a letter.", 2)
        alice.expect("The mail daemon vanishes in a puff of smoke.", 5)

        out = alice.command("mail read 1")
        assert "From: Carol Sender <carol@far.example>" in out
        assert "Subject: Meeting at the well" in out
        assert body.replace("\n", "\r\n") in out

        client = pop3(server)
        count, size = client.stat()
        assert count == 1
        msg = retrieve(client, 1)
        assert msg["Subject"] == "Meeting at the well"
        assert msg["From"] == "Carol Sender <carol@far.example>"
        assert body_of(msg) == body + "\n"
        assert msg["Received"].startswith("from ")
        assert msg["Return-Path"] == "<carol@far.example>"
        client.quit()
        assert server.threads() == 1


def test_refusals_over_real_smtp(tmp_path):
    """smtplib sees 550 5.1.1 for an unknown player and 550 5.7.1 for other domains."""
    with mail_server(tmp_path) as server:
        server.telnet().command("create Alice secret")
        with smtp(server) as client:
            with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
                client.sendmail("x@far.example", [f"ghost@{DOMAIN}"], "Subject: x\r\n\r\nx\r\n")
            assert refused.value.recipients[f"ghost@{DOMAIN}"][0] == 550
            assert refused.value.recipients[f"ghost@{DOMAIN}"][1].startswith(b"5.1.1")
            with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
                client.sendmail("x@far.example", ["victim@elsewhere.example"], "x")
            assert refused.value.recipients["victim@elsewhere.example"][1].startswith(b"5.7.1")
            # One good and one bad recipient: the good one still gets the letter.
            bad = client.sendmail(
                "x@far.example", [f"ALICE@{DOMAIN.upper()}", f"ghost@{DOMAIN}"],
                "Subject: half\r\n\r\nx\r\n",
            )  # fmt: skip
            assert list(bad) == [f"ghost@{DOMAIN}"]
        client = pop3(server)
        assert client.stat()[0] == 1
        client.quit()


def test_pop3_in_use_and_deletions_at_quit(tmp_path):
    """Two poplib clients: the second gets [IN-USE]; DELE takes effect only at QUIT."""
    with mail_server(tmp_path) as server:
        alice = server.telnet()
        alice.command("create Alice secret")
        alice.command("mail send alice first = one")
        alice.command("mail send alice second = two")
        first = pop3(server)
        assert first.stat()[0] == 2
        other = poplib.POP3("127.0.0.1", server.ports["pop3"], timeout=10)
        other.user("alice")
        with pytest.raises(poplib.error_proto) as busy:
            other.pass_("secret")
        assert busy.value.args[0].startswith(b"-ERR [IN-USE]")
        other.quit()
        first.dele(1)
        assert "2 letters" in alice.command("mail")
        first.quit()
        out = alice.command("mail")
        assert "1 letter," in out and "second" in out
        with pytest.raises(poplib.error_proto) as wrong:
            pop3(server, password="wrong")
        assert wrong.value.args[0].startswith(b"-ERR [AUTH]")


def test_in_game_letter_is_an_rfc5322_message_in_pop3(tmp_path):
    """'mail send' over telnet writes a message any mail client reads properly."""
    with mail_server(tmp_path) as server:
        bob = server.telnet()
        bob.command("create Bob secret")
        server.telnet().command("create Alice secret")
        out = bob.command("mail send alice Tea = Tea at five? Bring the lamp.")
        assert "You send a letter to Alice: Tea" in out
        client = pop3(server)
        msg = retrieve(client, 1)
        client.quit()
        assert msg["From"] == f"Bob <bob@{DOMAIN}>"
        assert msg["To"] == f"Alice <alice@{DOMAIN}>"
        assert msg["Subject"] == "Tea"
        assert msg["Date"].datetime is not None
        assert msg["Message-ID"].endswith(f"@{DOMAIN}>")
        assert body_of(msg) == "Tea at five? Bring the lamp.\n"


def test_kill_9_right_after_250_loses_nothing(tmp_path):
    """Every letter acknowledged with 250 is there after kill -9 and a restart."""
    server = mail_server(tmp_path).start()
    try:
        server.telnet().command("create Alice secret")
        with smtp(server) as client:
            for n in range(5):
                client.send_message(letter(f"durable {n}", f"body {n}"))
            # The last 250 has just been read: kill at once, no goodbye.
            server.proc.kill()
        server.proc.wait(timeout=10)
    finally:
        server.kill()
    with mail_server(tmp_path) as server:
        alice = server.telnet()
        out = alice.command("connect Alice secret")
        assert "You have 5 unread letters." in out
        client = pop3(server)
        count, _ = client.stat()
        subjects = [retrieve(client, n)["Subject"] for n in range(1, count + 1)]
        client.quit()
        assert subjects == [f"durable {n}" for n in range(5)]
        # Fetched whole over POP3, the letters count as read in the game.
        assert "5 letters, 0 unread." in alice.command("mail")


@pytest.mark.skipif(shutil.which("swaks") is None, reason="swaks is not installed")
def test_swaks_delivers_to_a_player(tmp_path):
    """swaks, a mail tool nobody here wrote, delivers to a player (pipelined)."""
    with mail_server(tmp_path) as server:
        server.telnet().command("create Alice secret")
        result = subprocess.run(
            ["swaks", "--server", "127.0.0.1", "--port", str(server.ports["smtp"]),
             "--timeout", "10", "--pipeline", "--from", "swaks@far.example",
             "--to", f"Alice@{DOMAIN}", "--header", "Subject: from swaks",
             "--body", "Sent with swaks."],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
        assert "<-  250 2.0.0 OK: queued as" in result.stdout
        client = pop3(server)
        msg = retrieve(client, 1)
        client.quit()
        assert msg["Subject"] == "from swaks"
        assert body_of(msg).strip() == "Sent with swaks."


@pytest.mark.skipif(shutil.which("swaks") is None, reason="swaks is not installed")
def test_postmaster_mail_waits_for_the_first_admin(tmp_path):
    """swaks to postmaster@ and smtplib to bare <postmaster>, before any admin exists: both are
    accepted (RFC 5321 4.5.1), kept, and handed to the admin who logs in first."""
    with mail_server(tmp_path) as server:
        result = subprocess.run(
            ["swaks", "--server", "127.0.0.1", "--port", str(server.ports["smtp"]),
             "--timeout", "10", "--from", "ops@far.example",
             "--to", f"postmaster@{DOMAIN}", "--header", "Subject: abuse report",
             "--body", "Someone is spamming."],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
        assert "<-  250 2.0.0 OK: queued as" in result.stdout
        with smtp(server) as client:
            refused = client.sendmail(
                "ops@far.example", ["postmaster"], "Subject: bare postmaster\r\n\r\nhello\r\n"
            )
            assert refused == {}
        # The operator makes the first admin while the server runs.
        made = server.add_admin("Root", "secret")
        assert made.returncode == 0, made.stdout + made.stderr
        root = server.telnet()
        said = root.command("connect Root secret")
        assert "2 letters for the postmaster" in said
        listing = root.command("mail")
        assert "abuse report" in listing and "bare postmaster" in listing


def test_smtplib_sends_smtputf8_mail(tmp_path):
    """smtplib with mail_options=["SMTPUTF8"]: a UTF-8 sender and a raw UTF-8 Subject arrive."""
    with mail_server(tmp_path) as server:
        alice = server.telnet()
        alice.command("create Alice secret")
        message = (
            f"From: Élodie <élodie@far.example>\r\nTo: alice@{DOMAIN}\r\n"
            "Subject: Hello été\r\n\r\nBonjour.\r\n"
        ).encode()
        with smtp(server) as client:
            client.ehlo()
            assert client.has_extn("smtputf8") and client.has_extn("8bitmime")
            refused = client.sendmail(
                "élodie@far.example", [f"alice@{DOMAIN}"], message, mail_options=["SMTPUTF8"]
            )
            assert refused == {}
            # A UTF-8 name that is no player is unknown, like any other.
            with pytest.raises(smtplib.SMTPRecipientsRefused) as refused_info:
                client.sendmail("élodie@far.example", [f"jürgen@{DOMAIN}"], message,
                                mail_options=["SMTPUTF8"])
            ((code, _),) = refused_info.value.recipients.values()
            assert code == 550
        alice.expect("You have mail from élodie@far.example: Hello été", 5)
        client = pop3(server)
        msg = retrieve(client, 1)
        client.quit()
        assert msg["Subject"] == "Hello été"


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_sends_with_smtp_and_reads_with_pop3(tmp_path):
    """The README's curl commands: smtp:// upload to a player, pop3:// list and fetch."""
    note = tmp_path / "letter.txt"
    note.write_bytes(b"From: me@far.example\r\nSubject: by curl\r\n\r\nHello from curl.\r\n")
    with mail_server(tmp_path) as server:
        server.telnet().command("create Alice secret")
        sent = subprocess.run(
            ["curl", "-sS", "--max-time", "10", f"smtp://127.0.0.1:{server.ports['smtp']}",
             "--mail-from", "me@far.example", "--mail-rcpt", f"alice@{DOMAIN}",
             "--upload-file", str(note)],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert sent.returncode == 0, sent.stderr
        url = f"pop3://alice:secret@127.0.0.1:{server.ports['pop3']}"
        listing = subprocess.run(
            ["curl", "-sS", "--max-time", "10", url],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert listing.returncode == 0, listing.stderr
        assert listing.stdout.startswith("1 ")
        fetched = subprocess.run(
            ["curl", "-sS", "--max-time", "10", f"{url}/1"],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert fetched.returncode == 0, fetched.stderr
        assert "Subject: by curl" in fetched.stdout
        assert "Hello from curl." in fetched.stdout


def test_large_message_is_parsed_off_the_loop_and_delivered(tmp_path):
    """A 600 KB message (parsed by a worker process) arrives whole; the game answers meanwhile."""
    body = "\n".join(f"line {i} of a long report" for i in range(25_000))
    assert len(body) > 600_000
    with mail_server(tmp_path) as server:
        alice = server.telnet()
        alice.command("create Alice secret")
        with smtp(server) as client:
            assert client.send_message(letter("Long report", body)) == {}
        assert "Long report" in alice.command("mail")
        client = pop3(server)
        msg = retrieve(client, 1)
        assert msg["Subject"] == "Long report"
        assert body_of(msg) == body + "\n"
        client.quit()
