"""The ``reality`` command: ``serve``, ``check-world``, ``export-world``, ``admin`` (and ``play``).

    reality serve [--world FILE] [--db FILE] [--bind ADDR] [--telnet-port N] ...
    reality check-world FILE
    reality export-world --world FILE --db FILE OUT
    reality admin add NAME --db FILE [--grant]     password on standard input
    reality admin remove NAME --db FILE
    reality play [HOST] [PORT]
    reality tls-selfsigned DIR [--host NAME ...]
    reality backup --db FILE OUT | reality backup --verify FILE

Admin rights are a flag on the account in the database; ``reality admin``
is the only thing that sets it (never anything over the network).

Errors are messages on stderr and an exit status of 1, never tracebacks.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sqlite3
import sys
import time
from collections.abc import Sequence
from typing import Any

from reality import __version__
from reality.settings import Flag, Settings, default_of, flags, port

__all__ = ["main"]


# What ``play`` and ``admin`` share with ``serve``: written once, in Settings.
TELNET_PORT: int = default_of("telnet_port")
#: The server's --telnets-port default (telnet over TLS).
TELNETS_PORT: int = default_of("telnets_port")
DB: str = default_of("db")


def _add_flag(parser: argparse.ArgumentParser, dest: str, flag: Flag) -> None:
    """One ``serve`` option from a setting's :class:`~reality.settings.Flag`."""
    options: dict[str, Any] = {"dest": dest, "default": default_of(dest), "help": flag.help}
    if flag.switch:
        options["action"] = "store_true"
    else:
        if flag.repeat:
            options["action"] = "append"
        if flag.metavar is not None:
            options["metavar"] = flag.metavar
        if flag.parse is not None:
            options["type"] = flag.parse
        if flag.choices is not None:
            options["choices"] = list(flag.choices)
    parser.add_argument(flag.name, **options)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reality",
        description="Reality: a multiplayer text-game server on its own event-driven engine.",
    )
    parser.add_argument("--version", action="version", version=f"reality {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser(
        "serve",
        help="run the server",
        description="Run the Reality server until SIGINT, SIGTERM or @shutdown.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    for attribute, flag in flags():
        _add_flag(serve, attribute.name, flag)

    check = sub.add_parser(
        "check-world",
        help="validate a world file",
        description="Validate a world file: exit 0 if it is good, 1 with its errors if not.",
    )
    check.add_argument("file", help="the YAML world file")

    export = sub.add_parser(
        "export-world",
        help="write the world as it stands (file + database) as a world file",
        description="Load the world file and the database (nothing is served) and write "
                    "the world as it stands: everything built, renamed, set, destroyed or "
                    "moved in the game, doors' and containers' states, behaviours. The "
                    "output passes check-world; items players hold are written at their "
                    "world-file place. See docs/world-format.md, 'Exporting the world'.",
    )
    export.add_argument("--world", required=True, metavar="FILE",
                        help="the world file the server loads")
    export.add_argument("--db", required=True, metavar="FILE",
                        help="the server's SQLite database (read; never created)")
    export.add_argument("out", metavar="OUT", help="the world file to write (replaced)")

    admin = sub.add_parser(
        "admin",
        help="give or take admin rights",
        description="Admin rights are a flag on an account in the database. 'add' creates "
                    "an admin account, reading its password from standard input (asked "
                    "twice on a terminal; the first line from a pipe). A running server "
                    "sees the change at the account's next login.",
    )
    admin_sub = admin.add_subparsers(dest="admin_command", required=True, metavar="ACTION")
    add = admin_sub.add_parser("add", help="create an account with admin rights")
    add.add_argument("name", help="the account name")
    add.add_argument("--db", default=DB, metavar="FILE",
                     help=f"the SQLite database (default: {DB})")
    add.add_argument("--grant", action="store_true",
                     help="if the account exists, make it an admin instead of failing")
    remove = admin_sub.add_parser("remove", help="take an account's admin rights away")
    remove.add_argument("name", help="the account name")
    remove.add_argument("--db", default=DB, metavar="FILE",
                        help=f"the SQLite database (default: {DB})")

    play = sub.add_parser(
        "play",
        help="play in the terminal (a MUD client)",
        description="Connect to a Reality server (or any MUD) with a full-screen MUD client: "
                    "output above a fixed input line, history (Ctrl-R), Tab completion, "
                    "colours, the room and exits in a toolbar.",
    )
    play.add_argument("host", nargs="?", default="localhost",
                      help="the server's host name (default: localhost)")
    play.add_argument("port", nargs="?", type=port, default=None,
                      help=f"the server's telnet port (default: {TELNET_PORT}, "
                           f"or {TELNETS_PORT} with --tls)")
    play.add_argument("--tls", action="store_true",
                      help="connect over TLS (the server's telnets port)")
    play.add_argument("--cafile", metavar="FILE", default=None,
                      help="with --tls: trust this certificate (a self-signed server's "
                           "cert.pem) instead of the system's authorities")
    play.add_argument("--insecure", action="store_true",
                      help="with --tls: do not check the certificate (still encrypted)")

    selfsigned = sub.add_parser(
        "tls-selfsigned",
        help="write a self-signed TLS certificate and key, for trying TLS out",
        description="Write DIR/cert.pem and DIR/key.pem (mode 0600): a self-signed "
                    "certificate for the given names, for trying the TLS services out. "
                    "A public server wants a certificate from a real CA (Let's Encrypt).",
    )
    selfsigned.add_argument("dir", metavar="DIR", help="where to write cert.pem and key.pem")
    selfsigned.add_argument("--host", action="append", default=None, metavar="NAME",
                            help="a host name or IP address the certificate is for "
                                 "(repeatable; default: localhost, 127.0.0.1, ::1)")
    selfsigned.add_argument("--force", action="store_true",
                            help="replace cert.pem and key.pem if they exist")
    copy = sub.add_parser(
        "backup",
        help="copy the database consistently (also while the server runs), or check a copy",
        description="Copy the database with SQLite's online backup API (safe while the "
                    "server runs), then check the copy with PRAGMA integrity_check; or, "
                    "with --verify, check an existing copy. Exit 0 when the copy is good.",
    )
    copy.add_argument("--db", default=DB, help="the database to copy (default: %(default)s)")
    copy.add_argument("--verify", metavar="FILE", help="check FILE instead of making a copy")
    copy.add_argument("out", nargs="?", help="where to write the copy")
    return parser


def backup_command(args: argparse.Namespace) -> int:
    """``reality backup --db FILE OUT`` and ``reality backup --verify FILE``."""
    from reality.backup import BackupError, backup, verify

    try:
        if args.verify is not None:
            if args.out is not None:
                print("reality: --verify takes one file and no OUT", file=sys.stderr)
                return 2
            result = verify(args.verify)
            print(f"{result.path}: good ({result.pages} pages, {result.size} bytes): "
                  "integrity_check ok, Reality schema present")
            return 0
        if args.out is None:
            print("reality: backup needs OUT (or --verify FILE)", file=sys.stderr)
            return 2
        result = backup(args.db, args.out)
    except BackupError as exc:
        print(f"reality: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"reality: backup failed: {exc}", file=sys.stderr)
        return 1
    print(f"{result.path}: {result.pages} pages, {result.size} bytes in "
          f"{result.seconds:.2f} s; integrity_check ok")
    return 0


def tls_selfsigned(args: argparse.Namespace) -> int:
    """``reality tls-selfsigned DIR``: write the files, say how to use them."""
    from reality.selfsigned import (
        DEFAULT_HOSTS,
        SelfSignedError,
        how_to_use,
        write_self_signed,
    )

    hosts = args.host or list(DEFAULT_HOSTS)
    try:
        cert, key = write_self_signed(args.dir, hosts, force=args.force)
    except SelfSignedError as exc:
        print(f"reality tls-selfsigned: {exc}", file=sys.stderr)
        return 1
    print(how_to_use(cert, key, hosts))
    return 0


def check_world(path: str) -> int:
    """``reality check-world``: 0 for a good file, 1 with the errors printed.

    The world's behaviour modules (``python:``) are run, as the server
    would run them, to check every behaviour and parameter the file names.
    """
    from reality.game.behaviours import load_catalogue
    from reality.game.loader import WorldFileError, load_world
    from reality.game.things import plural

    try:
        definition = load_world(path)
        load_catalogue(definition, os.path.dirname(os.path.abspath(path)))
    except WorldFileError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    doors = f", {plural(len(definition.doors), 'door')}" if definition.doors else ""
    topics = f", {plural(len(definition.help), 'help topic')}" if definition.help else ""
    print(
        f"{path}: OK: '{definition.name}', {plural(len(definition.rooms), 'room')}, "
        f"{plural(len(definition.items), 'item')}, {plural(len(definition.npcs), 'NPC')}"
        f"{doors}{topics}"
    )
    return 0


def export_world(args: argparse.Namespace) -> int:
    """``reality export-world``: 0 when OUT is written, 1 with the reason if not."""
    from reality.game.export import ExportError, export_world_file
    from reality.game.loader import WorldFileError
    from reality.game.store import StoreError

    try:
        export = export_world_file(args.world, args.db, args.out)
    except WorldFileError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except (ExportError, StoreError, sqlite3.Error, OSError) as exc:
        print(f"reality: cannot export the world: {exc}", file=sys.stderr)
        return 1
    for note in export.notes:
        print(f"reality: note: {note}", file=sys.stderr)
    data = export.data
    renamed = (
        f"; {len(export.renamed)} ids were rewritten" if export.renamed else ""
    )
    print(
        f"{args.out}: {len(data['rooms'])} rooms, {len(data.get('items', {}))} items, "
        f"{len(data.get('npcs', {}))} NPCs, {len(data.get('doors', {}))} doors{renamed}"
    )
    return 0


def _read_password() -> str | None:
    """The new admin's password: asked twice on a terminal, else the first line of stdin."""
    if sys.stdin.isatty():
        import getpass

        first = getpass.getpass("Password: ")
        if getpass.getpass("Repeat the password: ") != first:
            print("reality: the passwords differ", file=sys.stderr)
            return None
        return first
    line = sys.stdin.readline()
    return line.rstrip("\r\n")


def admin(args: argparse.Namespace) -> int:
    """``reality admin add|remove``: set the admin flag in the database."""
    from reality.game import accounts
    from reality.game.store import NameTaken, Store, StoreError

    name = args.name
    try:
        store = Store(args.db)
    except (StoreError, sqlite3.Error, OSError) as exc:
        print(f"reality: cannot open the database {args.db}: {exc}", file=sys.stderr)
        return 1
    try:
        existing = store.get_account(name)
        if args.admin_command == "remove":
            if existing is None:
                print(f"reality: there is no account named {name!r}", file=sys.stderr)
                return 1
            store.set_admin(name, False)
            print(f"{existing.name} is no longer an admin.")
            return 0
        if existing is not None:
            if existing.admin:
                print(f"{existing.name} is already an admin.")
                return 0
            if not args.grant:
                print(
                    f"reality: the name {existing.name!r} is taken by a player's account; "
                    "use --grant to make that account an admin",
                    file=sys.stderr,
                )
                return 1
            store.set_admin(name, True)
            print(f"{existing.name} is now an admin.")
            return 0
        # The letters-only rule of every name; the operator may take a word
        # players may not (e.g. "Admin").
        if not accounts.NAME_MIN <= len(name) <= accounts.NAME_MAX or not name.isascii() \
                or not name.isalpha():
            print(f"reality: a name must be {accounts.NAME_MIN} to {accounts.NAME_MAX} "
                  "letters A to Z", file=sys.stderr)
            return 1
        password = _read_password()
        if password is None:
            return 1
        try:
            accounts.check_password(password)
        except accounts.InvalidPassword as exc:
            print(f"reality: {exc}", file=sys.stderr)
            return 1
        try:
            store.create_account(name, accounts.hash_password(password), now=time.time(),
                                 admin=True)
        except NameTaken:
            print(f"reality: the name {name!r} was taken meanwhile", file=sys.stderr)
            return 1
        print(f"Created the admin account {name}.")
        return 0
    finally:
        store.close()


def _make_reactor(name: str) -> Any:
    # The default server never imports asyncio; the other two live behind
    # reality.net.asyncio_reactor (uvloop missing is a RuntimeError there).
    if name == "selector":
        from reality.net.reactor import SelectReactor

        return SelectReactor()
    from reality.net.asyncio_reactor import make_reactor

    return make_reactor(name)


def raise_descriptor_limit(max_connections: int = 0) -> tuple[int, int]:
    """Raise this process's soft RLIMIT_NOFILE to its hard limit; log and return (soft, hard).

    Every connection is a descriptor, and the default soft limit (often
    1024) is far below what ``--max-connections`` allows; running out makes
    ``accept()`` fail with EMFILE (the ports then back off, see
    :mod:`reality.net.tcp`), so take all the operator's hard limit allows.
    """
    log = logging.getLogger("reality")
    try:
        import resource
    except ImportError:  # pragma: no cover - not on POSIX
        return (-1, -1)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard
    if wanted == resource.RLIM_INFINITY:
        # Linux refuses an infinite soft limit; its real ceiling is nr_open.
        try:
            with open("/proc/sys/fs/nr_open") as f:
                wanted = int(f.read())
        except (OSError, ValueError):
            wanted = 1 << 20
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        except (OSError, ValueError) as exc:
            log.warning("cannot raise the open-file limit from %d to %d: %s", soft, wanted, exc)
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    log.info("open-file limit: %d (hard limit %s)", soft,
             "unlimited" if hard == resource.RLIM_INFINITY else hard)
    # Four services, each up to max_connections, plus the server's own files.
    # Below one service's worth is worth a warning; below all four at once
    # (which the default 20,000-descriptor hard limits of many systems are) is
    # only worth saying: every service full at the same moment is unlikely,
    # and accepting then pauses instead of failing.
    if max_connections and soft != resource.RLIM_INFINITY and soft < 4 * max_connections + 64:
        level = logging.WARNING if soft < max_connections + 64 else logging.INFO
        log.log(
            level,
            "the open-file limit (%d) is below what --max-connections %d allows on four "
            "services; when it is reached, accepting pauses until descriptors are free",
            soft, max_connections,
        )
    return soft, hard


def serve(args: argparse.Namespace) -> int:
    """``reality serve``: load the world, assemble the services, run."""
    from reality.app import Server
    from reality.game.loader import WorldFileError, load_world
    from reality.game.store import StoreError
    from reality.gateways.metrics import parse_allow
    from reality.logs import configure
    from reality.net.tls import TLSConfigError

    try:
        configure(args.log_level, log_file=args.log_file, fmt=args.log_format)
    except OSError as exc:
        print(f"reality: cannot open the log file {args.log_file}: {exc}", file=sys.stderr)
        return 1
    try:
        parse_allow(args.metrics_allow)
    except ValueError as exc:
        print(f"reality: {exc}", file=sys.stderr)
        return 1
    if args.world_dir is not None and not os.path.isdir(args.world_dir):
        print(f"reality: --world-dir {args.world_dir} is not a directory", file=sys.stderr)
        return 1
    try:
        definition = load_world(args.world)
    except WorldFileError as exc:
        print(str(exc), file=sys.stderr)
        print("reality: refusing to start with a bad world file", file=sys.stderr)
        return 1
    settings = Settings(**{attribute.name: getattr(args, attribute.name)
                           for attribute, _ in flags()})
    raise_descriptor_limit(settings.max_connections)
    try:
        reactor = _make_reactor(settings.reactor)
    except RuntimeError as exc:
        print(f"reality: {exc}", file=sys.stderr)
        return 1
    try:
        server = Server(settings, reactor, definition)
    except WorldFileError as exc:
        # The world's behaviour modules and parameters are checked as it loads.
        print(str(exc), file=sys.stderr)
        print("reality: refusing to start with a bad world file", file=sys.stderr)
        return 1
    except TLSConfigError as exc:
        print(f"reality: {exc}", file=sys.stderr)
        print("reality: refusing to start without a usable TLS certificate", file=sys.stderr)
        return 1
    except (StoreError, sqlite3.Error, OSError) as exc:
        print(f"reality: cannot open the database {args.db}: {exc}", file=sys.stderr)
        return 1
    # Everything built so far (modules, the world) lives as long as the
    # process: keep it out of the cyclic collector's way, so full
    # collections stay short while players are connected.
    gc.collect()
    gc.freeze()
    status = server.run()
    if server.app.start_failure is not None:
        print(f"reality: {server.app.start_failure.value}", file=sys.stderr)
    else:
        logging.getLogger("reality").info("stopped")
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``reality`` command; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "check-world":
        return check_world(args.file)
    if args.command == "export-world":
        return export_world(args)
    if args.command == "serve":
        from reality.upgrade import set_serve_argv

        set_serve_argv(list(argv) if argv is not None else sys.argv[1:])
        return serve(args)
    if args.command == "admin":
        return admin(args)
    if args.command == "play":
        from reality.client.app import main as play

        if (args.cafile or args.insecure) and not args.tls:
            parser.error("--cafile and --insecure go with --tls")
        default = TELNETS_PORT if args.tls else TELNET_PORT
        return play(
            args.host,
            default if args.port is None else args.port,
            tls=args.tls,
            cafile=args.cafile,
            insecure=args.insecure,
        )
    if args.command == "tls-selfsigned":
        return tls_selfsigned(args)
    if args.command == "backup":
        return backup_command(args)
    return 2  # pragma: no cover - argparse requires a command
