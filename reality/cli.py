"""The ``reality`` command: ``serve``, ``check-world`` (and ``play``).

    reality serve [--world FILE] [--db FILE] [--bind ADDR] [--telnet-port N] ...
    reality check-world FILE
    reality play [HOST] [PORT]

Errors are messages on stderr and an exit status of 1, never tracebacks.
"""

from __future__ import annotations

import argparse
import gc
import logging
import sqlite3
import sys
from collections.abc import Sequence
from typing import Any

from reality import __version__

__all__ = ["main"]


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number")
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port number (0 to 65535)")
    return value


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number")
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} must not be negative")
    return value


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
    serve.add_argument("--world", default="world/default.yaml", metavar="FILE",
                       help="the YAML world file to load")
    serve.add_argument("--db", default="reality.sqlite3", metavar="FILE",
                       help="the SQLite database (created on first run)")
    serve.add_argument("--bind", default="127.0.0.1", metavar="ADDR",
                       help="the address every service listens on")
    serve.add_argument("--telnet-port", type=_port, default=4000, metavar="N",
                       help="telnet port (0 picks a free port)")
    serve.add_argument("--http-port", type=_port, default=8080, metavar="N",
                       help="HTTP port for the website and homepages (0 picks a free port)")
    serve.add_argument("--smtp-port", type=_port, default=2525, metavar="N",
                       help="SMTP port for mail to players (0 picks a free port)")
    serve.add_argument("--pop3-port", type=_port, default=1110, metavar="N",
                       help="POP3 port for reading mailboxes (0 picks a free port)")
    serve.add_argument("--mail-domain", default="reality.localhost", metavar="NAME",
                       help="players' mail addresses are <name>@NAME")
    serve.add_argument("--admin", action="append", default=[], metavar="NAME",
                       help="an account name with admin rights (repeatable)")
    serve.add_argument("--max-per-address", type=_non_negative, default=50, metavar="N",
                       help="concurrent connections allowed from one address (0: no limit)")
    serve.add_argument("--idle-timeout", type=_non_negative, default=3600, metavar="SECONDS",
                       help="close a player's connection after this long without input "
                            "(0: never)")
    serve.add_argument("--reactor", default="selector", choices=["selector", "asyncio", "uvloop"],
                       help="the event loop underneath: Reality's own selector reactor, "
                            "or the same interface on asyncio or on uvloop "
                            "(pip install 'reality[fast]')")
    serve.add_argument("--log-level", default="info",
                       choices=["debug", "info", "warning", "error"],
                       help="how much to log (to stderr)")

    check = sub.add_parser(
        "check-world",
        help="validate a world file",
        description="Validate a world file: exit 0 if it is good, 1 with its errors if not.",
    )
    check.add_argument("file", help="the YAML world file")

    play = sub.add_parser(
        "play",
        help="play in the terminal (a MUD client)",
        description="Connect to a Reality server (or any MUD) with a full-screen MUD client: "
                    "output above a fixed input line, history (Ctrl-R), Tab completion, "
                    "colours, the room and exits in a toolbar.",
    )
    play.add_argument("host", nargs="?", default="localhost",
                      help="the server's host name (default: localhost)")
    play.add_argument("port", nargs="?", type=_port, default=4000,
                      help="the server's telnet port (default: 4000)")
    return parser


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def check_world(path: str) -> int:
    """``reality check-world``: 0 for a good file, 1 with the errors printed."""
    from reality.game.loader import WorldFileError, load_world
    from reality.game.things import plural

    try:
        definition = load_world(path)
    except WorldFileError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    print(
        f"{path}: OK: '{definition.name}', {plural(len(definition.rooms), 'room')}, "
        f"{plural(len(definition.items), 'item')}, {plural(len(definition.npcs), 'NPC')}"
    )
    return 0


def _make_reactor(name: str) -> Any:
    # The default server never imports asyncio; the other two live behind
    # reality.net.asyncio_reactor (uvloop missing is a RuntimeError there).
    if name == "selector":
        from reality.net.reactor import SelectReactor

        return SelectReactor()
    from reality.net.asyncio_reactor import make_reactor

    return make_reactor(name)


def serve(args: argparse.Namespace) -> int:
    """``reality serve``: load the world, assemble the services, run."""
    from reality.app import Server, Settings
    from reality.game.loader import WorldFileError, load_world
    from reality.game.store import StoreError
    _configure_logging(args.log_level)
    try:
        definition = load_world(args.world)
    except WorldFileError as exc:
        print(str(exc), file=sys.stderr)
        print("reality: refusing to start with a bad world file", file=sys.stderr)
        return 1
    settings = Settings(
        world=args.world,
        db=args.db,
        bind=args.bind,
        telnet_port=args.telnet_port,
        http_port=args.http_port,
        smtp_port=args.smtp_port,
        pop3_port=args.pop3_port,
        mail_domain=args.mail_domain,
        admins=list(args.admin),
        max_per_address=args.max_per_address,
        idle_timeout=float(args.idle_timeout),
        reactor=args.reactor,
    )
    try:
        reactor = _make_reactor(settings.reactor)
    except RuntimeError as exc:
        print(f"reality: {exc}", file=sys.stderr)
        return 1
    try:
        server = Server(settings, reactor, definition)
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
    args = _parser().parse_args(argv)
    if args.command == "check-world":
        return check_world(args.file)
    if args.command == "serve":
        return serve(args)
    if args.command == "play":
        from reality.client.app import main as play

        return play(args.host, args.port)
    return 2  # pragma: no cover - argparse requires a command
