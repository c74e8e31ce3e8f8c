"""Mail in the world: every player has a mailbox at ``<name>@<mail-domain>``.

Letters come from outside through the SMTP gateway and from inside through
the ``mail send`` verb, are kept in SQLite, and are read in the game or by
a POP3 client. No sockets here: the mail gateway
(:mod:`reality.gateways.mail`) turns SMTP and POP3 into calls on the
:class:`PostOffice`.

The map, in the order the arrows point (each imports only those above it):

- :mod:`~reality.game.mail.letters`: letters and MIME. RFC 5322 bytes read
  into a :class:`Letter` (:func:`parse_letter`, which never raises, and
  :func:`html_to_text`, linear in its input), in-game letters written
  (:func:`compose_letter`), the values a mailbox lists and shows
  (:class:`LetterSummary`, :class:`StoredLetter`), and the limits on what
  is kept. Pure functions: this is what the worker process parsing
  untrusted mail runs.
- :mod:`~reality.game.mail.folders`: the IMAP view of a mailbox: the
  ``INBOX`` and ``Sent`` folders, UIDs and UIDVALIDITY, kept flags
  (``\\Seen`` is the read mark), expunge, copy and move, and the watchers
  (open IMAP mailboxes) told of every committed change.
- :mod:`~reality.game.mail.office`: the post office. The mail tables and
  their migrations (:func:`ensure_schema`), :class:`PostOffice` (delivery
  committed in one transaction a turn, mailbox limits, deduplication,
  postmaster mail :data:`HELD` until an admin comes, reading, deleting),
  :class:`MailboxSession` for POP3, and the mail daemon that hands a
  connected player their letter; :func:`post_office` finds a world's office.
- :mod:`~reality.game.mail.verbs`: the ``mail`` verb (list, read, delete,
  send) over the post office, registered with the shared verb registry
  (:func:`register_mail_verbs`) when this package is imported.

Importing the package loads all three, so a world gets the ``mail`` verb
and the store gets the ``"mail"`` migrations as before the split; the names
below are the ones other modules use, re-exported here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from reality.game.mail.folders import (
    FOLDERS,
    INBOX,
    KEPT_FLAGS,
    SENT,
    FolderLetter,
    Folders,
    FolderStatus,
    FolderWatcher,
)
from reality.game.mail.letters import (
    Attachment,
    Letter,
    LetterSummary,
    StoredLetter,
    compose_letter,
    html_to_text,
    parse_letter,
)
from reality.game.mail.office import (
    DEDUPE_WINDOW,
    HELD,
    MailboxFull,
    MailboxLocked,
    MailboxSession,
    PostOffice,
    ensure_schema,
    post_office,
)
from reality.game.mail.verbs import MAX_SEND_BODY, register_mail_verbs

if TYPE_CHECKING:
    from reality.game.world import World

__all__ = [
    "DEDUPE_WINDOW",
    "FOLDERS",
    "HELD",
    "INBOX",
    "KEPT_FLAGS",
    "SENT",
    "FolderLetter",
    "FolderStatus",
    "FolderWatcher",
    "Folders",
    "MAX_SEND_BODY",
    "Attachment",
    "Letter",
    "LetterSummary",
    "MailboxFull",
    "MailboxLocked",
    "MailboxSession",
    "PostOffice",
    "StoredLetter",
    "compose_letter",
    "ensure_schema",
    "html_to_text",
    "parse_letter",
    "open_post_office",
    "post_office",
    "register_mail_verbs",
]


def open_post_office(world: World, **options: Any) -> PostOffice:
    """A :class:`PostOffice` for ``world``, with ``mail`` in the world's verbs.

    ``options`` go to :class:`PostOffice` (``max_letters``, ``daemon_linger``).
    """
    office = PostOffice(world, **options)
    register_mail_verbs(world.verbs)
    return office
