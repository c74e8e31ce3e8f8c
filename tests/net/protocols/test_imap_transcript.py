"""Byte-exact transcripts of the IMAP session machine against the in-memory backend.

RFC 3501 8's sample session (with this server's texts: the protocol
elements are the RFC's), BODYSTRUCTURE of a multipart letter, the login
paths, IDLE pushes, the 7.4.1 rules on when EXPUNGE may be sent, and the
refusals.
"""

from __future__ import annotations

from imap_fakes import HOST, MULTIPART, SETTINGS, SIMPLE, T0, feed, logged_in, new_session

from reality.net.protocols.basic import CLOSE
from reality.net.protocols.imap import IMAPSettings, StartTLS

PRE_CAPS = b"IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE AUTH=PLAIN"
POST_CAPS = b"IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UIDPLUS MOVE SPECIAL-USE UNSELECT CHILDREN"  # noqa: E501


def transcript(session, steps):
    for client, server in steps:
        assert feed(session, client) == server, client


# The RFC 3501 8 sample letter: its ENVELOPE and BODY as the RFC shows them.
RFC_LETTER = (
    b"Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\r\n"
    b"From: Terry Gray <gray@cac.washington.edu>\r\n"
    b"Subject: IMAP4rev1 WG mtg summary and minutes\r\n"
    b"To: imap@cac.washington.edu\r\n"
    b"cc: minutes@CNRI.Reston.VA.US, John Klensin <KLENSIN@MIT.EDU>\r\n"
    b"Message-Id: <B27397-0100000@cac.washington.edu>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n"
    b"\r\n" + b"x" * 31 + b"\r\n" + (b"y" * 31 + b"\r\n") * 90 + b"z" * 23 + b"\r\n"
)
RFC_HEADER = RFC_LETTER[: RFC_LETTER.index(b"\r\n\r\n") + 4]


def test_rfc3501_section8_sample_session():
    session, store = new_session()
    for n in range(1, 19):
        flags = ["\\Seen"] if n < 17 else []
        store.deliver("alice", "INBOX", RFC_LETTER if n == 12 else SIMPLE, flags, T0)
    assert session.greeting() == [
        b"* OK [CAPABILITY " + PRE_CAPS + b"] " + HOST.encode() + b" IMAP4rev1 ready\r\n"
    ]
    envelope = (
        b'ENVELOPE ("Wed, 17 Jul 1996 02:23:25 -0700 (PDT)" "IMAP4rev1 WG mtg summary and minutes" '
        b'(("Terry Gray" NIL "gray" "cac.washington.edu")) '
        b'(("Terry Gray" NIL "gray" "cac.washington.edu")) '
        b'(("Terry Gray" NIL "gray" "cac.washington.edu")) '
        b'((NIL NIL "imap" "cac.washington.edu")) '
        b'((NIL NIL "minutes" "CNRI.Reston.VA.US")("John Klensin" NIL "KLENSIN" "MIT.EDU")) '
        b'NIL NIL "<B27397-0100000@cac.washington.edu>")'
    )
    size = len(RFC_LETTER)
    transcript(
        session,
        [
            (
                b"a001 login alice secret\r\n",
                b"a001 OK [CAPABILITY " + POST_CAPS + b"] Logged in\r\n",
            ),
            (
                b"a002 select inbox\r\n",
                b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"
                b"* 18 EXISTS\r\n"
                b"* 0 RECENT\r\n"
                b"* OK [UNSEEN 17] First unseen\r\n"
                b"* OK [UIDVALIDITY 1700000000] UIDs valid\r\n"
                b"* OK [UIDNEXT 19] Predicted next UID\r\n"
                b"* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)] Limited\r\n"
                b"a002 OK [READ-WRITE] SELECT completed\r\n",
            ),
            (
                b"a003 fetch 12 full\r\n",
                b'* 12 FETCH (FLAGS (\\Seen) INTERNALDATE "14-Nov-2023 22:13:20 +0000" RFC822.SIZE %d '  # noqa: E501
                % size
                + envelope
                + b' BODY ("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 3028 92))\r\n'
                b"a003 OK FETCH completed\r\n",
            ),
            (
                b"a004 fetch 12 body[header]\r\n",
                b"* 12 FETCH (BODY[HEADER] {%d}\r\n" % len(RFC_HEADER) + RFC_HEADER + b")\r\n"
                b"a004 OK FETCH completed\r\n",
            ),
            (
                b"a005 store 12 +flags \\deleted\r\n",
                b"* 12 FETCH (FLAGS (\\Deleted \\Seen))\r\na005 OK STORE completed\r\n",
            ),
            (
                b"a006 logout\r\n",
                b"* BYE "
                + HOST.encode()
                + b" IMAP4rev1 server logging out\r\na006 OK LOGOUT completed\r\n",
            ),
        ],
    )
    assert session.closed
    session.release()
    assert store.closed == 1 and store.logouts == 1


def test_bodystructure_of_a_multipart_letter():
    session, store = logged_in()
    store.deliver("alice", "INBOX", MULTIPART, ["\\Seen"])
    transcript(
        session,
        [
            (b"a NOOP\r\n", b"* 1 EXISTS\r\na OK NOOP completed\r\n"),
            (
                b"b FETCH 1 (BODYSTRUCTURE BODY)\r\n",
                b'* 1 FETCH (BODYSTRUCTURE (("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "QUOTED-PRINTABLE" 18 1'  # noqa: E501
                b' NIL NIL NIL NIL)("IMAGE" "PNG" ("NAME" "map.png") NIL NIL "BASE64" 12 NIL'
                b' ("ATTACHMENT" ("FILENAME" "map.png")) NIL NIL) "MIXED" ("BOUNDARY" "XYZ") NIL NIL NIL)'  # noqa: E501
                b' BODY (("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "QUOTED-PRINTABLE" 18 1)'
                b'("IMAGE" "PNG" ("NAME" "map.png") NIL NIL "BASE64" 12) "MIXED"))\r\n'
                b"b OK FETCH completed\r\n",
            ),
            (
                b"c FETCH 1 (BODY.PEEK[1] BODY.PEEK[2.MIME] BODY.PEEK[2]<4.100> BODY.PEEK[3])\r\n",
                b"* 1 FETCH (BODY[1] {18}\r\nCaf=C3=A9 at noon. BODY[2.MIME] {129}\r\n"
                b"Content-Type: image/png; name=map.png\r\nContent-Transfer-Encoding: base64\r\n"
                b'Content-Disposition: attachment; filename="map.png"\r\n\r\n'
                b" BODY[2]<4> {8}\r\nRw0KGgo= BODY[3] NIL)\r\n"
                b"c OK FETCH completed\r\n",
            ),
        ],
    )


def test_fetch_sections_and_implicit_seen():
    session, store = logged_in()
    store.deliver("alice", "INBOX", SIMPLE)
    feed(session, b"x NOOP\r\n")
    text = SIMPLE[SIMPLE.index(b"\r\n\r\n") + 4 :]
    transcript(
        session,
        [
            (
                b"a FETCH 1 (BODY.PEEK[HEADER.FIELDS (subject to)] BODY.PEEK[TEXT]<0.5>)\r\n",
                b"* 1 FETCH (BODY[HEADER.FIELDS (SUBJECT TO)] {48}\r\n"
                b"To: alice@example.test\r\nSubject: Hello there\r\n\r\n"
                b" BODY[TEXT]<0> {5}\r\nHi Al)\r\na OK FETCH completed\r\n",
            ),
            (
                b"b FETCH 1 (BODY.PEEK[HEADER.FIELDS.NOT (Date From To Message-ID)])\r\n",
                b"* 1 FETCH (BODY[HEADER.FIELDS.NOT (DATE FROM TO MESSAGE-ID)] {24}\r\n"
                b"Subject: Hello there\r\n\r\n)\r\nb OK FETCH completed\r\n",
            ),
            (b"c FETCH 1 FLAGS\r\n", b"* 1 FETCH (FLAGS ())\r\nc OK FETCH completed\r\n"),
            (
                b"d FETCH 1 BODY[TEXT]\r\n",
                b"* 1 FETCH (BODY[TEXT] {%d}\r\n" % len(text) + text + b" FLAGS (\\Seen))\r\n"
                b"d OK FETCH completed\r\n",
            ),
            (
                b"e UID FETCH 1 (FLAGS RFC822.SIZE)\r\n",
                b"* 1 FETCH (UID 1 FLAGS (\\Seen) RFC822.SIZE %d)\r\ne OK UID FETCH completed\r\n"
                % len(SIMPLE),
            ),
            (b"f FETCH 1 (FLAGS BINARY[])\r\n", b"f BAD Invalid FETCH items\r\n"),
            (b"g FETCH 0 FLAGS\r\n", b"g BAD Invalid sequence set\r\n"),
        ],
    )
    assert store.boxes["alice"]["INBOX"][1][0] == {"\\Seen"}


def test_examine_is_read_only():
    session, store = logged_in(select=None)
    store.deliver("alice", "INBOX", SIMPLE)
    feed(session, b"a EXAMINE INBOX\r\n")
    transcript(
        session,
        [
            (
                b"b FETCH 1 BODY[]\r\n",
                b"* 1 FETCH (BODY[] {%d}\r\n" % len(SIMPLE)
                + SIMPLE
                + b")\r\nb OK FETCH completed\r\n",
            ),
            (b"c STORE 1 +FLAGS (\\Seen)\r\n", b"c NO [READ-ONLY] Mailbox is read-only\r\n"),
            (b"d EXPUNGE\r\n", b"d NO [READ-ONLY] Mailbox is read-only\r\n"),
            (b"e MOVE 1 Sent\r\n", b"e NO [READ-ONLY] Mailbox is read-only\r\n"),
        ],
    )
    assert store.boxes["alice"]["INBOX"][1][0] == frozenset()


def test_store_search_copy_move_expunge():
    session, store = logged_in()
    for n in range(5):
        store.deliver(
            "alice",
            "INBOX",
            MULTIPART if n == 2 else SIMPLE,
            ["\\Seen"] if n % 2 else [],
            T0 + n * 86400,
        )
    feed(session, b"x NOOP\r\n")
    transcript(
        session,
        [
            (b"a STORE 1:2 +FLAGS.SILENT (\\Flagged)\r\n", b"a OK STORE completed\r\n"),
            (
                b"b UID STORE 2 -FLAGS (\\Flagged)\r\n",
                b"* 2 FETCH (FLAGS (\\Seen) UID 2)\r\nb OK UID STORE completed\r\n",
            ),
            (b"c SEARCH FLAGGED\r\n", b"* SEARCH 1\r\nc OK SEARCH completed\r\n"),
            (b"d SEARCH UNSEEN NOT FROM carol\r\n", b"* SEARCH 1 5\r\nd OK SEARCH completed\r\n"),
            (
                b'e0 UID SEARCH OR SUBJECT "map" BODY caf\xc3\xa9\r\n',
                b"* SEARCH 3\r\ne0 OK UID SEARCH completed\r\n",
            ),
            (
                b'e UID SEARCH CHARSET UTF-8 OR SUBJECT "map" BODY {5+}\r\ncaf\xc3\xa9\r\n',
                b"* SEARCH 3\r\ne OK UID SEARCH completed\r\n",
            ),
            (
                b"f SEARCH SINCE 16-Nov-2023 BEFORE 18-Nov-2023\r\n",
                b"* SEARCH 3 4\r\nf OK SEARCH completed\r\n",
            ),
            (
                b"g SEARCH ON 14-Nov-2023 SENTBEFORE 15-Nov-2023\r\n",
                b"* SEARCH 1\r\ng OK SEARCH completed\r\n",
            ),
            (
                b'h SEARCH LARGER 300 (UID 1:4 2:*) HEADER Message-ID ""\r\n',
                b"* SEARCH\r\nh OK SEARCH completed\r\n",
            ),
            (b"h2 SEARCH LARGER 300\r\n", b"* SEARCH 3\r\nh2 OK SEARCH completed\r\n"),
            (
                b"i SEARCH CHARSET KOI8-R ALL\r\n",
                b"i NO [BADCHARSET (UTF-8 US-ASCII)] Unsupported charset\r\n",
            ),
            (b"j SEARCH FROB\r\n", b"j BAD Unknown search key 'FROB'\r\n"),
            (b"k COPY 1,3 Sent\r\n", b"k OK [COPYUID 1700000001 1,3 1:2] COPY completed\r\n"),
            (b"l COPY 1 Trash\r\n", b"l NO [TRYCREATE] No such mailbox\r\n"),
            (b"m COPY 1 INBOX\r\n", b"m NO [CANNOT] Already there\r\n"),
            (
                b"n UID MOVE 4:5 Sent\r\n",
                b"* OK [COPYUID 1700000001 4:5 3:4] Moved\r\n* 4 EXPUNGE\r\n* 4 EXPUNGE\r\n"
                b"n OK UID MOVE completed\r\n",
            ),
            (
                b"o STORE 1,3 +FLAGS (\\Deleted)\r\n",
                b"* 1 FETCH (FLAGS (\\Flagged \\Deleted))\r\n* 3 FETCH (FLAGS (\\Deleted))\r\n"
                b"o OK STORE completed\r\n",
            ),
            (b"p UID EXPUNGE 3\r\n", b"* 3 EXPUNGE\r\np OK UID EXPUNGE completed\r\n"),
            (b"q EXPUNGE\r\n", b"* 1 EXPUNGE\r\nq OK EXPUNGE completed\r\n"),
            (
                b"r STATUS Sent (MESSAGES UIDNEXT UIDVALIDITY UNSEEN RECENT)\r\n",
                b"* STATUS Sent (MESSAGES 4 UIDNEXT 5 UIDVALIDITY 1700000001 UNSEEN 3 RECENT 0)\r\n"
                b"r OK STATUS completed\r\n",
            ),
            (b"s FETCH 1:* UID\r\n", b"* 1 FETCH (UID 2)\r\ns OK FETCH completed\r\n"),
        ],
    )
    assert sorted(store.boxes["alice"]["INBOX"]) == [2]


def test_close_expunges_silently_and_unselect_does_not():
    session, store = logged_in()
    store.deliver("alice", "INBOX", SIMPLE, ["\\Deleted"])
    store.deliver("alice", "INBOX", SIMPLE, ["\\Deleted"])
    transcript(
        session,
        [
            (b"a UNSELECT\r\n", b"a OK UNSELECT completed\r\n"),
            (b"b NOOP\r\n", b"b OK NOOP completed\r\n"),
        ],
    )
    feed(session, b"c SELECT INBOX\r\n")
    transcript(session, [(b"d CLOSE\r\n", b"d OK CLOSE completed\r\n")])
    assert store.boxes["alice"]["INBOX"] == {}
    assert store.closed == 2


def test_list_lsub_namespace_id_enable():
    session, _ = logged_in(select=None)
    transcript(
        session,
        [
            (
                b'a LIST "" "*"\r\n',
                b'* LIST (\\HasNoChildren) "/" INBOX\r\n* LIST (\\Sent \\HasNoChildren) "/" Sent\r\n'  # noqa: E501
                b"a OK LIST completed\r\n",
            ),
            (
                b'b LIST "" %\r\n',
                b'* LIST (\\HasNoChildren) "/" INBOX\r\n* LIST (\\Sent \\HasNoChildren) "/" Sent\r\n'  # noqa: E501
                b"b OK LIST completed\r\n",
            ),
            (
                b'c LIST (SPECIAL-USE) "" "*" RETURN (SPECIAL-USE)\r\n',
                b'* LIST (\\Sent \\HasNoChildren) "/" Sent\r\nc OK LIST completed\r\n',
            ),
            (
                b'd LIST "" inbox\r\n',
                b'* LIST (\\HasNoChildren) "/" INBOX\r\nd OK LIST completed\r\n',
            ),
            (b'e LIST "" ""\r\n', b'* LIST (\\Noselect) "/" ""\r\ne OK LIST completed\r\n'),
            (b'f LSUB "" "S*"\r\n', b'* LSUB (\\Sent) "/" Sent\r\nf OK LSUB completed\r\n'),
            (b"g NAMESPACE\r\n", b'* NAMESPACE (("" "/")) NIL NIL\r\ng OK NAMESPACE completed\r\n'),
            (
                b'h ID ("name" "imaplib")\r\n',
                b'* ID ("name" "Reality" "vendor" "Reality")\r\nh OK ID completed\r\n',
            ),
            (b"i ENABLE UTF8=ACCEPT\r\n", b"* ENABLED\r\ni OK ENABLE completed\r\n"),
            (b"j CREATE Trash\r\n", b"j NO [CANNOT] The mailboxes are fixed: INBOX and Sent\r\n"),
            (b"k APPEND Sent {3}\r\n", b"+ Ready for literal data\r\n"),
            (
                b"abc\r\n",
                b"k NO [CANNOT] Letters are written in the game; APPEND is not supported\r\n",
            ),
            (b"l SELECT Trash\r\n", b"l NO [NONEXISTENT] No such mailbox\r\n"),
            (b"m STATUS Trash (MESSAGES)\r\n", b"m NO [NONEXISTENT] No such mailbox\r\n"),
            (b"n SUBSCRIBE Sent\r\n", b"n OK SUBSCRIBE completed\r\n"),
        ],
    )


def test_login_paths():
    session, store = new_session()
    store.throttled.add("mallory")
    store.passwords["mallory"] = "x"
    transcript(
        session,
        [
            (
                b"a LOGIN alice wrong\r\n",
                b"a NO [AUTHENTICATIONFAILED] Invalid user name or password\r\n",
            ),
            (
                b"b LOGIN mallory x\r\n",
                b"b NO [UNAVAILABLE] Too many failed logins, try again later\r\n",
            ),
            (b"c SELECT INBOX\r\n", b"c BAD Log in first\r\n"),
            (
                b"d AUTHENTICATE CRAM-MD5\r\n",
                b"d NO [CANNOT] Unsupported authentication mechanism\r\n",
            ),
            (b"e AUTHENTICATE PLAIN\r\n", b"+ \r\n"),
            (b"*\r\n", b"e BAD Authentication cancelled\r\n"),
            (b"f AUTHENTICATE PLAIN\r\n", b"+ \r\n"),
            (b"!!!\r\n", b"f BAD Invalid SASL PLAIN response\r\n"),
            (
                b"g AUTHENTICATE PLAIN Ym9iAGFsaWNlAHNlY3JldA==\r\n",
                b"g NO [AUTHORIZATIONFAILED] Cannot act as another user\r\n",
            ),
            (b"h AUTHENTICATE PLAIN\r\n", b"+ \r\n"),
            (b"AGFsaWNlAHNlY3JldA==\r\n", b"h OK [CAPABILITY " + POST_CAPS + b"] Logged in\r\n"),
            (b"i AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==\r\n", b"i BAD Already logged in\r\n"),
        ],
    )
    session2, _ = new_session(store)
    transcript(
        session2,
        [
            (
                b"a AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==\r\n",
                b"a OK [CAPABILITY " + POST_CAPS + b"] Logged in\r\n",
            ),
        ],
    )


def test_login_literal_and_literal_plus():
    session, _ = new_session()
    transcript(
        session,
        [
            (b"a LOGIN {5}\r\n", b"+ Ready for literal data\r\n"),
            (b"alice {6+}\r\nsecret\r\n", b"a OK [CAPABILITY " + POST_CAPS + b"] Logged in\r\n"),
        ],
    )


def test_plaintext_login_refused_without_tls_and_starttls():
    settings = IMAPSettings(hostname=HOST, starttls=True, plaintext_login=False)
    session, _ = new_session(settings=settings)
    caps = b"IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE STARTTLS LOGINDISABLED"
    assert session.greeting()[0].startswith(b"* OK [CAPABILITY " + caps + b"]")
    transcript(
        session,
        [
            (
                b"a LOGIN alice secret\r\n",
                b"a NO [PRIVACYREQUIRED] Log in over TLS (STARTTLS or IMAPS)\r\n",
            ),
            (
                b"b AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==\r\n",
                b"b NO [PRIVACYREQUIRED] Log in over TLS (STARTTLS or IMAPS)\r\n",
            ),
        ],
    )
    assert session.receive(b"c STARTTLS\r\n") == [b"c OK Begin TLS negotiation now\r\n", StartTLS()]
    session.tls_started()
    transcript(
        session,
        [
            (
                b"d CAPABILITY\r\n",
                b"* CAPABILITY IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE AUTH=PLAIN\r\n"
                b"d OK CAPABILITY completed\r\n",
            ),
            (b"e STARTTLS\r\n", b"e BAD TLS is already on\r\n"),
            (b"f LOGIN alice secret\r\n", b"f OK [CAPABILITY " + POST_CAPS + b"] Logged in\r\n"),
        ],
    )


def test_starttls_injection_refused():
    session, _ = new_session(settings=IMAPSettings(hostname=HOST, starttls=True))
    actions = session.receive(b"a STARTTLS\r\nb LOGIN alice secret\r\n")
    assert actions == [
        b"a BAD Commands pipelined after STARTTLS\r\n",
        b"* BYE STARTTLS injection refused\r\n",
        CLOSE,
    ]
    plain, _ = new_session()
    assert feed(plain, b"a STARTTLS\r\n") == b"a BAD STARTTLS is not available\r\n"


def test_idle_pushes_updates_at_once():
    session, store = logged_in()
    store.deliver("alice", "INBOX", SIMPLE)
    store.deliver("alice", "INBOX", SIMPLE)
    feed(session, b"x NOOP\r\n")
    woken = []
    session.wakeup = lambda: woken.append(session.updates())
    assert feed(session, b"a IDLE\r\n") == b"+ idling\r\n"
    store.deliver("alice", "INBOX", SIMPLE)
    store.set_flags("alice", "INBOX", 1, frozenset({"\\Seen"}))
    store.remove("alice", "INBOX", [2])
    assert woken == [
        [b"* 3 EXISTS\r\n"],
        [b"* 1 FETCH (FLAGS (\\Seen) UID 1)\r\n"],
        [b"* 2 EXPUNGE\r\n"],
    ]
    assert feed(session, b"DONE\r\n") == b"a OK IDLE terminated\r\n"
    store.deliver("alice", "INBOX", SIMPLE)
    assert len(woken) == 3  # not idling: queued for the next command
    transcript(
        session,
        [
            (b"b IDLE\r\n", b"+ idling\r\n* 3 EXISTS\r\n"),
            (b"nope\r\n", b"b BAD Expected DONE\r\n"),
        ],
    )


def test_expunge_not_sent_during_fetch_store_search():
    session, store = logged_in()
    store.deliver("alice", "INBOX", SIMPLE)
    store.deliver("alice", "INBOX", SIMPLE)
    feed(session, b"x NOOP\r\n")
    store.remove("alice", "INBOX", [1])
    store.deliver("alice", "INBOX", SIMPLE)
    transcript(
        session,
        [
            (
                b"a FETCH 1:* FLAGS\r\n",
                b"* 1 FETCH (FLAGS ())\r\n* 2 FETCH (FLAGS ())\r\n* 3 EXISTS\r\na OK FETCH completed\r\n",  # noqa: E501
            ),
            (b"b SEARCH ALL\r\n", b"* SEARCH 1 2 3\r\nb OK SEARCH completed\r\n"),
            (b"c STORE 2 +FLAGS.SILENT (\\Seen)\r\n", b"c OK STORE completed\r\n"),
            (
                b"d FETCH 1 BODY.PEEK[]\r\n",
                b"d NO Some of the letters could not be read (removed elsewhere?)\r\n",
            ),
            (b"e NOOP\r\n", b"* 1 EXPUNGE\r\ne OK NOOP completed\r\n"),
            (
                b"f FETCH 1:* UID\r\n",
                b"* 1 FETCH (UID 2)\r\n* 2 FETCH (UID 3)\r\nf OK FETCH completed\r\n",
            ),
        ],
    )


def test_bad_input_and_wrong_state():
    session, _ = new_session(
        settings=IMAPSettings(hostname=HOST, max_literal=10, max_line_length=100)
    )
    transcript(
        session,
        [
            (b"a LOGIN {11}\r\n", b"a BAD [TOOBIG] Literal too big (at most 10 octets)\r\n"),
            (
                b"b " + b"x" * 200 + b"\r\n",
                b"b BAD [TOOBIG] Command line too long (at most 100 octets)\r\n",
            ),
            (b"c FROB\r\n", b"c BAD Unknown command\r\n"),
            (b"d UID NOOP\r\n", b"d BAD UID NOOP is not a command\r\n"),
            (b"e FETCH 1 FLAGS\r\n", b"e BAD Log in first\r\n"),
            (b"f (\r\n", b"f BAD Unbalanced parentheses\r\n"),
        ],
    )
    actions = session.receive(b"g LOGIN {11+}\r\n")
    assert actions == [b"* BYE [TOOBIG] Literal too big\r\n", CLOSE]
    assert session.closed


def test_too_many_errors_closes():
    session, _ = new_session()
    out = feed(session, b"a FROB\r\n" * 25)
    assert out.count(b"BAD") == 20
    assert out.endswith(b"* BYE Too many errors\r\n")
    assert session.closed


def test_greeting_and_logout_before_login():
    session, store = new_session()
    transcript(
        session,
        [
            (
                b"a LOGOUT\r\n",
                b"* BYE "
                + HOST.encode()
                + b" IMAP4rev1 server logging out\r\na LOGOUT completed\r\n".replace(
                    b"a LOGOUT", b"a OK LOGOUT"
                ),
            ),
        ],
    )
    session.release()
    assert store.logouts == 0
    assert SETTINGS.hostname == HOST


# -- the session never raises, whatever the client sends -----------------------------

from hypothesis import given, settings as hsettings, strategies as st  # noqa: E402

_WORDS = st.sampled_from(
    [
        b"FETCH",
        b"UID",
        b"STORE",
        b"SEARCH",
        b"COPY",
        b"MOVE",
        b"1:*",
        b"*",
        b"2,4:7",
        b"0",
        b"(",
        b")",
        b"BODY[]",
        b"BODY.PEEK[1.MIME]<0.10>",
        b"BODY[HEADER.FIELDS (A)]",
        b"FLAGS",
        b"+FLAGS",
        b"\\Seen",
        b"NOT",
        b"OR",
        b"FROM",
        b"SINCE",
        b"1-Jan-2024",
        b"Sent",
        b"INBOX",
        b"{3+}\r\nabc",
        b'"x"',
        b"IDLE",
        b"\r\nDONE",
        b"EXPUNGE",
        b"CLOSE",
        b"SELECT",
        b"LIST",
        b"STATUS",
        b"(MESSAGES)",
        b"AUTHENTICATE",
        b"PLAIN",
        b"=",
        b"LOGOUT",
        b"ENABLE",
        b"NIL",
    ]
)


@hsettings(max_examples=300, deadline=None)
@given(st.lists(st.lists(_WORDS, max_size=8), max_size=8), st.binary(max_size=40))
def test_session_never_raises(commands, junk):
    session, store = logged_in()
    store.deliver("alice", "INBOX", SIMPLE)
    store.deliver("alice", "INBOX", MULTIPART)
    data = b"".join(b"t%d " % i + b" ".join(words) + b"\r\n" for i, words in enumerate(commands))
    out = feed(session, data + junk + b"\r\n")
    assert b"SERVERBUG" not in out
    session.release()


@hsettings(max_examples=60, deadline=None)
@given(
    letter=st.sampled_from([SIMPLE, MULTIPART, b"no header at all", b"\r\nbody only\r\n"]),
    start=st.integers(0, 400),
    length=st.integers(1, 400),
)
def test_whole_octets_read_without_parsing_equal_the_parsed_answer(letter, start, length):
    """BODY.PEEK[] and RFC822 answered from the stored octets (the sync fast path) are the
    same bytes as when the letter is parsed for another item of the same FETCH."""
    session, store = logged_in()
    store.deliver("alice", "INBOX", letter)
    feed(session, b"x NOOP\r\n")
    items = b"BODY.PEEK[] BODY.PEEK[]<%d.%d> RFC822.SIZE" % (start, length)
    fast = feed(session, b"a FETCH 1 (" + items + b")\r\n")
    parsed = feed(session, b"b FETCH 1 (ENVELOPE " + items + b")\r\n")
    assert parsed.startswith(b"* 1 FETCH (ENVELOPE ")
    body_at = parsed.index(b" BODY[] {")
    rest = parsed[body_at + 1 : parsed.index(b"b OK")]
    assert fast[: fast.index(b"a OK")] == b"* 1 FETCH (" + rest
