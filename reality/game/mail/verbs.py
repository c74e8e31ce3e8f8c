"""The ``mail`` verb: list, read, delete and send letters from inside the game.

Every verb here is a thin layer over the world's
:class:`~reality.game.mail.office.PostOffice`: it parses the player's
words, asks the office, and lays the answer out for the player's terminal
(in columns, not characters: a subject in 日本語 must not push the date).
Importing this module adds ``mail`` to the shared verb registry and its
help topic.
"""

from __future__ import annotations

import logging
import time

from wcwidth import wcwidth

from reality.game import markup
from reality.game.commands import Context, Refusal, VerbRegistry
from reality.game.mail.letters import MAX_HEADER_TEXT, attachment_list, has_control_characters
from reality.game.mail.office import MailboxLocked, PostOffice, post_office
from reality.game.things import Player

log = logging.getLogger(__name__)

__all__ = [
    "HELP",
    "MAX_LISTED",
    "MAX_SEND_BODY",
    "MAX_SHOWN",
    "USAGE",
    "mail",
    "register_mail_verbs",
]

#: Longest body ``mail send`` accepts (characters).
MAX_SEND_BODY = 4000
#: Longest body ``mail read`` shows; POP3 always has the whole text.
MAX_SHOWN = 20_000
#: Letters ``mail`` lists at most (the newest ones).
MAX_LISTED = 50

USAGE = "mail | mail read <n> | mail delete <n> | mail send <player> <subject> = <text>"

HELP = (
    "Every player has a mailbox at <name>@<mail domain>: letters sent there with any mail"
    " program arrive in the game, brought by the mail daemon.\n"
    "mail                                    list your letters (* marks unread ones)\n"
    "mail read <n>                           read letter n\n"
    "mail delete <n>                         throw letter n away\n"
    "mail send <player> <subject> = <text>   write to a player, online or not\n"
    "Read the whole mailbox with a POP3 mail client: your name and password log you in."
)


def _short_date(stamp: float | None) -> str:
    """A date in exactly 16 columns: ``2023-11-14 22:13`` (UTC)."""
    if stamp is None:
        return "unknown date    "
    try:
        text = time.strftime("%Y-%m-%d %H:%M", time.gmtime(stamp))
    except (OverflowError, OSError, ValueError):
        text = "unknown date"
    return text[:16].ljust(16)


def _date_text(stamp: float | None) -> str:
    if stamp is None:
        return "unknown date"
    try:
        return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(stamp))
    except (OverflowError, OSError, ValueError):
        return "unknown date"


def _columns_of(text: str) -> int:
    """Terminal columns ``text`` takes (wcwidth: wide CJK and emoji 2, combining marks 0)."""
    if text.isascii():
        return len(text)
    return sum(max(0, wcwidth(ch)) for ch in text)


#: Terminal columns a sender takes in the listing at most (the subject gets the rest).
SENDER_WIDTH = 24


def _fit(text: str, width: int, *, pad: bool = True) -> str:
    """``text`` cut (with "...") to at most ``width`` terminal columns, and padded to it."""
    used = _columns_of(text)
    if used > width:
        keep: list[str] = []
        used = 0
        for ch in text:
            w = max(0, wcwidth(ch))
            if used + w > width - 3:
                break
            keep.append(ch)
            used += w
        text = "".join(keep) + "..."
        used += 3
    return text + " " * (width - used) if pad else text


def _office(ctx: Context) -> PostOffice:
    office = post_office(ctx.world)
    if office is None:
        raise Refusal("There is no mail service in this world.")
    return office


def _number(text: str) -> int:
    text = text.strip()
    if not text:
        raise Refusal("Which letter? Give its number, as 'mail' lists them.")
    if not text.isdigit() or len(text) > 9:
        raise Refusal(f"'{markup.escape(text[:20])}' is not a letter number.")
    return int(text)


def _no_letter(office: PostOffice, player: Player, number: int) -> Refusal:
    total = office.count(player.key)
    if total == 0:
        return Refusal("Your mailbox is empty.")
    return Refusal(f"There is no letter {number}: you have {total}.")


def mail(ctx: Context, args: str) -> None:
    """The ``mail`` verb: list, read, delete, send (see :data:`USAGE`)."""
    office = _office(ctx)
    word, _, rest = args.strip().partition(" ")
    word = word.lower()
    if not word or word in ("list", "ls"):
        _list(ctx, office)
    elif word in ("read", "r", "show"):
        _read(ctx, office, rest)
    elif word.isdigit():
        _read(ctx, office, word)
    elif word in ("delete", "del", "d", "rm"):
        _delete(ctx, office, rest)
    elif word in ("send", "s", "write"):
        _send(ctx, office, rest)
    else:
        raise Refusal(f"Usage: {USAGE}")


def _list(ctx: Context, office: PostOffice) -> None:
    player = ctx.player
    address = ctx.world.mail_address(player)
    letters = office.summaries(player.key)
    if not letters:
        ctx.tell(f"Your mailbox is empty. Your address is {address}.")
        return
    unread = sum(1 for letter in letters if not letter.read)
    noun = "letter" if len(letters) == 1 else "letters"
    lines = [f"{{bold}}Your mailbox ({address}): {len(letters)} {noun}, {unread} unread.{{/}}"]
    shown = letters[-MAX_LISTED:]
    if len(shown) < len(letters):
        lines.append(f"(The newest {len(shown)}; 'mail read <n>' reads any of them.)")
    # A table: the renderer lays it out in terminal columns for the player's
    # width (a subject in 日本語 or with an emoji must not push the date),
    # or reads each letter as one line to a screen reader ("Letter 1,
    # unread, from Alice, subject Hello, sent 2024-05-01 10:00").
    rows = []
    for letter in shown:
        mark = markup.alt("{bright_yellow}*{/}", "unread") if not letter.read else ""
        sender = markup.escape(_fit(letter.sender, SENDER_WIDTH, pad=False))
        rows.append([
            str(letter.number),
            mark,
            sender,
            markup.escape(letter.subject),
            _short_date(letter.sent_at or letter.received_at).rstrip(),
        ])
    lines.append(markup.table(rows, ["Letter", "", "from", "subject", "sent"]))
    lines.append("Type 'mail read <n>' to read a letter. Times are UTC.")
    ctx.tell("\n".join(lines))


def _read(ctx: Context, office: PostOffice, rest: str) -> None:
    player = ctx.player
    number = _number(rest)
    letter = office.letter(player.key, number)
    if letter is None:
        raise _no_letter(office, player, number)
    lines = [
        f"{{bold}}Letter {letter.number} of {letter.total}{{/}}",
        f"From: {markup.escape(letter.from_header)}",
        f"Date: {_date_text(letter.sent_at or letter.received_at)}",
        f"Subject: {markup.escape(letter.subject)}",
    ]
    if letter.attachments:
        listed = attachment_list(letter.attachments)
        lines.append(f"Attachments (not kept): {markup.escape(listed)}")
    body = letter.body
    if len(body) > MAX_SHOWN:
        body = body[:MAX_SHOWN] + "\n[... the rest is in your POP3 mailbox]"
    lines.append("")
    lines.append(markup.escape(body) if body else "(The letter is empty.)")
    ctx.tell("\n".join(lines))
    try:
        office.mark_read(letter)
    except Exception:
        # Reading worked; only the unread mark stays. Not worth failing the verb.
        log.exception("could not mark letter %s read", letter.id)


def _delete(ctx: Context, office: PostOffice, rest: str) -> None:
    player = ctx.player
    number = _number(rest)
    try:
        letter = office.delete(player.key, number)
    except MailboxLocked:
        raise Refusal(
            "Your mailbox is open in a mail program (POP3) right now;"
            " delete letters when it has finished."
        ) from None
    except LookupError:
        raise _no_letter(office, player, number) from None
    ctx.tell(
        f"You throw away letter {number}, from {markup.escape(letter.sender)}:"
        f" {markup.escape(letter.subject)}."
    )


def _send(ctx: Context, office: PostOffice, rest: str) -> None:
    head, sep, body = rest.partition("=")
    name, _, subject = head.strip().partition(" ")
    subject = " ".join(subject.split())
    body = body.strip()
    if not sep or not name:
        raise Refusal("Write: mail send <player> <subject> = <text>")
    if not body:
        raise Refusal("What does the letter say? Write it after the '='.")
    if len(subject) > MAX_HEADER_TEXT:
        raise Refusal(f"That subject is too long (at most {MAX_HEADER_TEXT} characters).")
    if len(body) > MAX_SEND_BODY:
        raise Refusal(f"That letter is too long (at most {MAX_SEND_BODY} characters).")
    if has_control_characters(subject + body):
        raise Refusal("A letter cannot contain control characters.")
    office.send(ctx.player, name, subject or "(no subject)", body)


def register_mail_verbs(registry: VerbRegistry) -> None:
    """Add ``mail`` (its help text with it) to a world's verb set.

    :func:`reality.game.mail.open_post_office` does it for the world it
    serves: the world owns its verbs, and nothing is added on import.
    """
    registry.register("mail", mail, usage=USAGE, help=HELP, category="mail")
