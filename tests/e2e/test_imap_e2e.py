"""End to end: run_server.py's IMAP port with real clients over the game's mailboxes.

Python's imaplib (every command it has), imapclient (IDLE, ID), curl
imap://, mbsync (isync) both ways through a Maildir, and neomutt driven in
tmux; the read state crossing game, IMAP and POP3; IDLE seeing a letter
swaks delivers; a kill -9 after STORE and EXPUNGE answered OK.
"""

from __future__ import annotations

import imaplib
import os
import poplib
import re
import shutil
import smtplib
import subprocess
import time
from email.message import EmailMessage
from pathlib import Path

import pytest
from serverproc import ServerProcess
from terminal import Tmux

SERVICES = ("telnet", "smtp", "pop3", "imap")
DOMAIN = "reality.localhost"


def mail_server(tmp_path: Path, **kw) -> ServerProcess:
    return ServerProcess(tmp_path, expect=SERVICES, **kw)


def letter(subject: str, body: str, to: str = f"alice@{DOMAIN}") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Carol Sender <carol@far.example>"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = "Tue, 14 Nov 2023 22:13:20 +0000"
    msg.set_content(body)
    return msg


def send(server: ServerProcess, *subjects: str, to: str = f"alice@{DOMAIN}") -> None:
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=10) as client:
        for subject in subjects:
            assert client.send_message(letter(subject, f"About {subject}.", to)) == {}


def imap(server: ServerProcess, user: str = "alice", password: str = "secret") -> imaplib.IMAP4:
    client = imaplib.IMAP4("127.0.0.1", server.ports["imap"], timeout=10)
    client.login(user, password)
    return client


def with_alice(server: ServerProcess):
    alice = server.telnet()
    alice.command("create Alice secret")
    return alice


def flags_of(client: imaplib.IMAP4, uid: int) -> set[str]:
    typ, data = client.uid("FETCH", str(uid), "(FLAGS)")
    assert typ == "OK", data
    text = b" ".join(d if isinstance(d, bytes) else d[0] for d in data if d).decode()
    match = re.search(r"FLAGS \(([^)]*)\)", text)
    assert match, text
    return set(match.group(1).split())


def need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} is not installed")
    return path


# -- imaplib: every command it has ----------------------------------------------------


def test_imaplib_every_command(tmp_path):
    """Each imaplib command gets OK, or a tagged NO/BAD for what the game has not got
    (never a dropped connection); the answers say what the mailbox holds."""
    with mail_server(tmp_path) as server:
        alice = with_alice(server)
        send(server, "Meeting at the well", "Dragons sighted", "Bread prices")
        client = imaplib.IMAP4("127.0.0.1", server.ports["imap"], timeout=10)
        assert "IMAP4REV1" in client.capabilities and "IDLE" in client.capabilities
        assert client.noop()[0] == "OK"
        assert client.login("Alice", "secret")[0] == "OK"
        typ, data = client.capability()
        assert typ == "OK"
        for cap in ("IMAP4REV1", "IDLE", "UIDPLUS", "MOVE", "ID", "ENABLE", "NAMESPACE",
                    "SPECIAL-USE", "UNSELECT", "LITERAL+"):
            assert cap in data[0].decode().upper().split(), data

        typ, boxes = client.list()
        assert typ == "OK"
        listing = b"\n".join(boxes).decode()
        assert '"INBOX"' in listing or " INBOX" in listing
        assert "\\Sent" in listing and "Sent" in listing
        assert client.lsub()[0] == "OK"
        typ, status = client.status("INBOX", "(MESSAGES UNSEEN UIDNEXT UIDVALIDITY)")
        assert typ == "OK" and b"MESSAGES 3" in status[0] and b"UNSEEN 3" in status[0]
        assert b"UIDNEXT 4" in status[0]
        assert client.namespace()[0] == "OK"
        # imaplib keeps the greeting's capabilities; ENABLE is in those after login.
        client.capabilities = tuple(data[0].decode().upper().split())
        assert client.enable("UTF8=ACCEPT")[0] == "OK"

        typ, data = client.select("INBOX", readonly=True)
        assert typ == "OK" and data == [b"3"]
        typ, data = client.store("1", "+FLAGS", "(\\Seen)")
        assert typ == "NO" and b"READ-ONLY" in data[0]
        typ, data = client.select("INBOX")
        assert typ == "OK" and data == [b"3"]

        typ, data = client.fetch("1:3", "(UID FLAGS RFC822.SIZE INTERNALDATE ENVELOPE)")
        assert typ == "OK" and len(data) == 3
        assert b"Meeting at the well" in data[0]
        typ, data = client.fetch("2", "(BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)])")
        assert typ == "OK" and b"Subject: Dragons sighted" in data[0][1]
        typ, data = client.fetch("2", "(BODY.PEEK[TEXT]<0.5>)")
        assert typ == "OK" and data[0][1] == b"About"
        typ, data = client.fetch("1", "(BODYSTRUCTURE)")
        assert typ == "OK" and b"TEXT" in data[0].upper()
        assert flags_of(client, 2) == set()  # PEEK did not mark it read
        typ, data = client.fetch("2", "(BODY[])")
        assert typ == "OK" and b"About Dragons sighted." in data[0][1]
        assert "\\Seen" in flags_of(client, 2)
        typ, data = client.uid("FETCH", "1:*", "(FLAGS)")
        assert typ == "OK" and len(data) == 3

        assert client.search(None, "ALL") == ("OK", [b"1 2 3"])
        assert client.search(None, "SEEN") == ("OK", [b"2"])
        assert client.search(None, "UNSEEN") == ("OK", [b"1 3"])
        assert client.search(None, "SUBJECT", '"dragons"') == ("OK", [b"2"])
        assert client.search(None, "FROM", "carol") == ("OK", [b"1 2 3"])
        assert client.search(None, "TO", "alice") == ("OK", [b"1 2 3"])
        assert client.search(None, "BODY", "Bread") == ("OK", [b"3"])
        assert client.search(None, "TEXT", "Meeting") == ("OK", [b"1"])
        assert client.search(None, "NOT", "SEEN") == ("OK", [b"1 3"])
        assert client.search(None, "OR", "SUBJECT", "Bread", "SEEN") == ("OK", [b"2 3"])
        assert client.search(None, "SINCE", "1-Jan-2000") == ("OK", [b"1 2 3"])
        assert client.search(None, "BEFORE", "1-Jan-2000") == ("OK", [b""])
        assert client.search(None, "2:3") == ("OK", [b"2 3"])
        assert client.uid("SEARCH", "UID", "2:*") == ("OK", [b"2 3"])

        typ, data = client.store("1", "+FLAGS", "(\\Flagged \\Answered)")
        assert typ == "OK" and b"\\Flagged" in data[0]
        assert client.search(None, "FLAGGED") == ("OK", [b"1"])
        typ, data = client.uid("STORE", "1", "-FLAGS.SILENT", "(\\Answered)")
        assert typ == "OK"
        assert flags_of(client, 1) == {"\\Flagged"}

        typ, data = client.copy("1", "Sent")
        assert typ == "OK"
        typ, data = client.uid("COPY", "3", "Sent")
        assert typ == "OK"
        typ, data = client.copy("1", "Trash")
        assert typ == "NO" and b"TRYCREATE" in data[0]
        typ, data = client.status("Sent", "(MESSAGES)")
        assert b"MESSAGES 2" in data[0]

        client.store("3", "+FLAGS", "(\\Deleted)")
        typ, data = client.expunge()
        assert typ == "OK" and data == [b"3"]
        assert client.check()[0] == "OK"
        assert client.unselect()[0] == "OK"
        client.select("Sent")
        assert client.close()[0] == "OK"
        client.select("INBOX")

        # What there is no use for here: tagged NO or BAD, the session goes on.
        refused = [
            lambda: client.append("INBOX", None, None, b"Subject: x\r\n\r\ny\r\n"),
            lambda: client.create("Archive"),
            lambda: client.delete("Sent"),
            lambda: client.rename("Sent", "Old"),
            lambda: client.subscribe("Archive"),
            lambda: client.unsubscribe("Archive"),
            lambda: client.getacl("INBOX"),
            lambda: client.setacl("INBOX", "bob", "lr"),
            lambda: client.deleteacl("INBOX", "bob"),
            lambda: client.myrights("INBOX"),
            lambda: client.getquota(""),
            lambda: client.getquotaroot("INBOX"),
            lambda: client.setquota("", "(STORAGE 10)"),
            lambda: client.getannotation("INBOX", '"/comment"', '"value"'),
            lambda: client.setannotation("INBOX", '"/comment"', '("value" "x")'),
            lambda: client.sort("(DATE)", "UTF-8", "ALL"),
            lambda: client.thread("REFERENCES", "UTF-8", "ALL"),
            lambda: client.proxyauth("bob"),
            lambda: client.xatom("XFROB"),
            lambda: client.partial("1", "BODY[]", "0", "10"),
            lambda: client.login_cram_md5("alice", "secret"),
        ]
        for call in refused:
            try:
                typ, _ = call()
            except imaplib.IMAP4.abort:
                raise
            except imaplib.IMAP4.error:
                typ = "NO"
            assert typ in ("OK", "NO", "BAD")
            assert client.noop()[0] == "OK"
        typ, data = client.logout()
        assert typ == "BYE"

        # The expunge reached the game: two letters are left, the second read.
        assert "2 letters, 1 unread." in alice.command("mail")


# -- imapclient: IDLE and ID ----------------------------------------------------------


def test_idle_sees_a_letter_swaks_delivers_within_a_second(tmp_path):
    """An imapclient session idling on INBOX gets EXISTS within 1 s of swaks' 250."""
    imapclient = pytest.importorskip("imapclient")
    swaks = need("swaks")
    with mail_server(tmp_path) as server:
        with_alice(server)
        client = imapclient.IMAPClient("127.0.0.1", port=server.ports["imap"], ssl=False,
                                       timeout=10)
        client.login("alice", "secret")
        server_id = client.id_({"name": "reality-tests", "version": "1"})
        assert server_id is not None
        client.select_folder("INBOX")
        client.idle()
        result = subprocess.run(
            [swaks, "--server", "127.0.0.1", "--port", str(server.ports["smtp"]),
             "--timeout", "10", "--from", "swaks@far.example", "--to", f"alice@{DOMAIN}",
             "--header", "Subject: pushed", "--body", "Here at once."],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        delivered = time.monotonic()
        assert result.returncode == 0, result.stdout + result.stderr
        responses = client.idle_check(timeout=1.0)
        waited = time.monotonic() - delivered
        assert (1, b"EXISTS") in responses, responses
        assert waited < 1.0
        client.idle_done()
        messages = client.search(["SUBJECT", "pushed"])
        assert len(messages) == 1
        client.logout()


def test_idle_hears_the_game_read_and_delete(tmp_path):
    """Reading a letter in the game pushes FETCH (FLAGS (\\Seen)); deleting it pushes EXPUNGE."""
    imapclient = pytest.importorskip("imapclient")
    with mail_server(tmp_path) as server:
        alice = with_alice(server)
        send(server, "one", "two")
        client = imapclient.IMAPClient("127.0.0.1", port=server.ports["imap"], ssl=False,
                                       timeout=10)
        client.login("alice", "secret")
        client.select_folder("INBOX")
        client.idle()
        alice.command("mail read 2")
        responses = client.idle_check(timeout=2.0)
        fetches = [r for r in responses if len(r) > 1 and r[1] == b"FETCH"]
        assert fetches and fetches[0][0] == 2, responses
        assert b"\\Seen" in repr(fetches[0]).encode() or "\\\\Seen" in repr(fetches[0])
        alice.command("mail delete 1")
        responses = client.idle_check(timeout=2.0)
        assert (1, b"EXPUNGE") in responses, responses
        client.idle_done()
        assert client.search(["ALL"]) == [2]
        client.logout()


# -- the read state crossing game, IMAP and POP3 ---------------------------------------


def test_read_state_crosses_game_imap_and_pop3(tmp_path):
    """Read in IMAP: read in the game; read in the game: \\Seen in IMAP; RETR in POP3: \\Seen;
    unflagged in IMAP: unread in the game."""
    with mail_server(tmp_path) as server:
        alice = with_alice(server)
        send(server, "one", "two", "three")
        client = imap(server)
        client.select("INBOX")
        client.fetch("1", "(BODY[])")
        listing = alice.command("mail")
        assert "3 letters, 2 unread." in listing
        alice.command("mail read 2")
        client.noop()
        assert "\\Seen" in flags_of(client, 2)

        pop = poplib.POP3("127.0.0.1", server.ports["pop3"], timeout=10)
        pop.user("alice")
        pop.pass_("secret")
        pop.retr(3)
        pop.quit()
        client.noop()
        assert "\\Seen" in flags_of(client, 3)
        assert "0 unread" in alice.command("mail")

        client.store("1", "-FLAGS", "(\\Seen)")
        assert "3 letters, 1 unread." in alice.command("mail")
        client.logout()


def test_pop3_holds_the_lock_imap_waits_to_expunge_and_hears_pop3_deletions(tmp_path):
    """While POP3 has the maildrop, IMAP EXPUNGE gets NO [INUSE]; POP3's QUIT deletions reach
    an open IMAP session as EXPUNGE."""
    with mail_server(tmp_path) as server:
        with_alice(server)
        send(server, "one", "two")
        client = imap(server)
        client.select("INBOX")
        pop = poplib.POP3("127.0.0.1", server.ports["pop3"], timeout=10)
        pop.user("alice")
        pop.pass_("secret")
        client.store("2", "+FLAGS", "(\\Deleted)")
        typ, data = client.expunge()
        assert typ == "NO" and b"[INUSE]" in data[0], data  # nothing is removed
        assert client.search(None, "ALL") == ("OK", [b"1 2"])
        pop.dele(1)
        pop.quit()
        typ, _ = client.noop()
        assert typ == "OK"
        assert client.untagged_responses.pop("EXPUNGE") == [b"1"]
        typ, data = client.expunge()
        assert typ == "OK" and data == [b"1"]
        assert client.search(None, "ALL") == ("OK", [b""])
        client.logout()


# -- curl imap:// ------------------------------------------------------------------------


def test_curl_lists_fetches_and_searches(tmp_path):
    """curl's IMAP client: the mailbox list, a letter by UID, a search."""
    curl = need("curl")
    with mail_server(tmp_path) as server:
        with_alice(server)
        send(server, "hello from curl", "second")
        base = f"imap://alice:secret@127.0.0.1:{server.ports['imap']}"

        def run(*args: str) -> str:
            done = subprocess.run([curl, "-sS", "--max-time", "10", *args],
                                  capture_output=True, text=True, timeout=30)
            assert done.returncode == 0, done.stderr
            return done.stdout

        listing = run(f"{base}/")
        assert "INBOX" in listing and "Sent" in listing
        fetched = run(f"{base}/INBOX;UID=1")
        assert "Subject: hello from curl" in fetched and "About hello from curl." in fetched
        assert "* SEARCH 2" in run(f"{base}/INBOX?SUBJECT%20second")
        assert "* SEARCH 1 2" in run(f"{base}/INBOX?ALL")


# -- mbsync: both mailboxes to a Maildir and back --------------------------------------


def test_mbsync_syncs_both_mailboxes_and_flags_come_back(tmp_path):
    """mbsync copies INBOX and Sent to a Maildir; a flag set and a letter trashed in the
    Maildir reach the game on the next sync."""
    mbsync = need("mbsync")
    with mail_server(tmp_path) as server:
        alice = with_alice(server)
        send(server, "one", "two")
        alice.command("mail send Alice note to self = remember the milk")
        maildir = tmp_path / "Mail"
        maildir.mkdir()
        config = tmp_path / "mbsyncrc"
        config.write_text(f"""\
IMAPAccount game
Host 127.0.0.1
Port {server.ports['imap']}
User alice
Pass secret
SSLType None
AuthMechs LOGIN

IMAPStore game-remote
Account game

MaildirStore game-local
Path {maildir}/
Inbox {maildir}/INBOX
SubFolders Verbatim

Channel game
Far :game-remote:
Near :game-local:
Patterns INBOX Sent
Create Near
Sync All
Expunge Both
SyncState *
""")

        def sync() -> None:
            done = subprocess.run([mbsync, "-c", str(config), "-a"], capture_output=True,
                                  text=True, timeout=60, env=dict(os.environ, HOME=str(tmp_path)))
            assert done.returncode == 0, done.stdout + done.stderr

        sync()
        inbox = [p for sub in ("new", "cur") for p in (maildir / "INBOX" / sub).iterdir()]
        sent = [p for sub in ("new", "cur") for p in (maildir / "Sent" / sub).iterdir()]
        assert len(inbox) == 3 and len(sent) == 1  # two by SMTP, one to herself
        assert b"remember the milk" in sent[0].read_bytes()

        def named(subject: str) -> Path:
            for path in inbox:
                if f"Subject: {subject}".encode() in path.read_bytes():
                    return path
            raise AssertionError(subject)

        one, two = named("one"), named("two")
        # Read and flagged in the mail app: Maildir "S" and "F"; "two" trashed ("T").
        one.rename(one.parent.parent / "cur" / (one.name.split(":")[0] + ":2,FS"))
        two.rename(two.parent.parent / "cur" / (two.name.split(":")[0] + ":2,T"))
        sync()
        listing = alice.command("mail")
        assert "2 letters" in listing, listing
        assert "two" not in listing.split("Letter", 1)[-1]
        client = imap(server)
        client.select("INBOX")
        assert client.search(None, "FLAGGED") == ("OK", [b"1"])
        # "one" was read in the Maildir; the note to herself is unread in her INBOX.
        assert client.search(None, "SEEN") == ("OK", [b"1"])
        client.logout()


# -- neomutt in tmux ----------------------------------------------------------------------


def test_neomutt_opens_reads_and_deletes(tmp_path):
    """neomutt on the IMAP port: the INBOX index shows the letter; reading marks it read in
    the game; delete and sync remove it from the game."""
    neomutt = need("neomutt")
    need("tmux")
    with mail_server(tmp_path) as server:
        alice = with_alice(server)
        send(server, "Dragons at the gate")
        muttrc = tmp_path / "muttrc"
        port = server.ports["imap"]
        muttrc.write_text(f"""\
set folder = "imap://alice@127.0.0.1:{port}/"
set spoolfile = "+INBOX"
set imap_pass = "secret"
set ssl_starttls = no
set ssl_force_tls = no
set imap_check_subscribed = no
set mail_check = 1
set timeout = 1
set delete = yes
set confirmappend = no
set quit = yes
set sidebar_visible = no
set header_cache = ""
set message_cachedir = ""
set wait_key = no
""")
        term = Tmux(columns=120, rows=30)
        home = tmp_path / "home"
        home.mkdir()
        try:
            term.start(f"env HOME={home} TERM=xterm {neomutt} -n -F {muttrc}")
            term.wait_for("Dragons at the gate", timeout=15)
            term.keys("Enter")
            term.wait_for("About Dragons at the gate.", timeout=10)
            term.keys("q")
            term.wait_for("Dragons at the gate", timeout=10)
            # neomutt reads with BODY.PEEK[] and stores \Seen when it syncs ($).
            term.keys("$")
            deadline = time.monotonic() + 10
            while "0 unread" not in alice.command("mail"):
                assert time.monotonic() < deadline, "the read did not reach the game"
                time.sleep(0.2)
            term.keys("d")
            term.keys("$")
            deadline = time.monotonic() + 10
            while "Your mailbox is empty" not in alice.command("mail"):
                assert time.monotonic() < deadline, "the delete did not reach the game"
                time.sleep(0.2)
            term.keys("q")
        finally:
            term.kill()


# -- durability -----------------------------------------------------------------------------


def test_kill_9_after_store_and_expunge_answered_loses_nothing(tmp_path):
    """STORE and EXPUNGE are committed before their OK: SIGKILL right after loses neither,
    and UIDs and UIDVALIDITY are the same after the restart."""
    db = tmp_path / "reality.sqlite3"
    server = mail_server(tmp_path, db=db).start()
    try:
        with_alice(server)
        send(server, "keep", "drop", "third")
        client = imap(server)
        _, data = client.status("INBOX", "(UIDVALIDITY)")
        validity = re.search(rb"UIDVALIDITY (\d+)", data[0]).group(1)
        client.select("INBOX")
        assert client.store("1", "+FLAGS", "(\\Flagged \\Seen)")[0] == "OK"
        assert client.store("2", "+FLAGS", "(\\Deleted)")[0] == "OK"
        assert client.expunge() == ("OK", [b"2"])
        server.proc.kill()  # SIGKILL: no shutdown, no checkpoint
        server.proc.wait(timeout=10)
    finally:
        server.kill()

    with mail_server(tmp_path, db=db) as again:
        client = imap(again)
        _, data = client.status("INBOX", "(UIDVALIDITY UIDNEXT MESSAGES)")
        assert re.search(rb"UIDVALIDITY (\d+)", data[0]).group(1) == validity
        assert b"UIDNEXT 4" in data[0] and b"MESSAGES 2" in data[0]
        client.select("INBOX")
        assert client.uid("SEARCH", "ALL") == ("OK", [b"1 3"])
        assert flags_of(client, 1) == {"\\Flagged", "\\Seen"}
        client.logout()


def test_too_many_connections_from_an_address_get_bye(tmp_path):
    """The per-address limit counts IMAP with the other mail services: past it, * BYE."""
    with mail_server(tmp_path, extra=("--max-per-address", "2")) as server:
        first = imaplib.IMAP4("127.0.0.1", server.ports["imap"], timeout=10)
        second = imaplib.IMAP4("127.0.0.1", server.ports["imap"], timeout=10)
        with pytest.raises(imaplib.IMAP4.error):
            imaplib.IMAP4("127.0.0.1", server.ports["imap"], timeout=10)
        first.logout()
        second.logout()
