"""Everything ``reality serve`` can be told: one place for each default and its help.

:class:`Settings` is the server's configuration. A field that is also a
command-line flag carries a :class:`Flag` in its metadata (the flag's
name, metavar, help text and how to read it), and :mod:`reality.cli`
builds ``reality serve``'s options from these fields, so a default (a port
number, a limit) is written once, here.

This module imports only attrs and the standard library: the ``reality``
command reads it for every subcommand, and ``play`` and ``check-world``
must not pay for the server (Jinja2, the gateways).
"""

from __future__ import annotations

import argparse
import ipaddress
from collections.abc import Callable, Sequence
from typing import Any

import attrs
from attrs import define, field, frozen

__all__ = ["Flag", "Settings", "cidr", "default_of", "flags", "non_negative", "port"]


def port(text: str) -> int:
    """A TCP port number, 0 to 65535 (0: any free port), from the command line."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number")
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port number (0 to 65535)")
    return value


def non_negative(text: str) -> int:
    """A whole number, 0 or more, from the command line."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number")
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} must not be negative")
    return value


def cidr(text: str) -> str:
    """A network (``10.0.0.0/8``, ``::1/128``, one address) or ``none``, from the command line."""
    if text.strip().lower() == "none":
        return "none"
    try:
        return str(ipaddress.ip_network(text.strip(), strict=True))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a network such as 10.0.0.0/8 or ::1/128 ({exc})"
        ) from None


@frozen
class Flag:
    """How a setting is given on the command line.

    ``parse`` reads the text (None: kept as a string); ``repeat`` collects
    every use into a list; ``switch`` is a flag without a value that sets True.
    """

    name: str
    help: str
    metavar: str | None = None
    parse: Callable[[str], Any] | None = None
    choices: Sequence[str] | None = None
    repeat: bool = False
    switch: bool = False


def _flag(default: Any = attrs.NOTHING, *, factory: Callable[[], Any] | None = None,
          converter: Callable[[Any], Any] | None = None, **cli: Any) -> Any:
    """An attrs field whose metadata holds its :class:`Flag`."""
    if factory is not None:
        return field(factory=factory, metadata={"flag": Flag(**cli)})
    return field(default=default, converter=converter, metadata={"flag": Flag(**cli)})


@define
class Settings:
    """Everything ``reality serve`` can be told.

    The fields with a flag appear in ``reality serve --help`` in this order.
    """

    world: str = _flag("world/default.yaml", name="--world", metavar="FILE",
                       help="the YAML world file to load")
    #: ``@load`` reads only regular files under this directory (None: the
    #: directory of ``world``).
    world_dir: str | None = _flag(
        None, name="--world-dir", metavar="DIR",
        help="@load reads only regular files under DIR; a relative path is "
             "taken from DIR (default: the directory of --world)")
    db: str = _flag("reality.sqlite3", name="--db", metavar="FILE",
                    help="the SQLite database (created on first run)")
    bind: str = _flag("127.0.0.1", name="--bind", metavar="ADDR",
                      help="the address every service listens on")
    telnet_port: int = _flag(4000, name="--telnet-port", parse=port, metavar="N",
                             help="telnet port (0 picks a free port)")
    http_port: int = _flag(8080, name="--http-port", parse=port, metavar="N",
                           help="HTTP port for the website and homepages (0 picks a free port)")
    smtp_port: int = _flag(2525, name="--smtp-port", parse=port, metavar="N",
                           help="SMTP port for mail to players (0 picks a free port)")
    pop3_port: int = _flag(1110, name="--pop3-port", parse=port, metavar="N",
                           help="POP3 port for reading mailboxes (0 picks a free port)")
    #: TLS (docs: README "Running with TLS"). The TLS services start only
    #: when both the certificate and the key are given.
    tls_cert: str | None = _flag(
        None, name="--tls-cert", metavar="FILE",
        help="PEM certificate chain (the server's certificate first) for telnets, "
             "https, pop3s and STARTTLS/STLS; re-read on SIGHUP")
    tls_key: str | None = _flag(
        None, name="--tls-key", metavar="FILE",
        help="PEM private key of --tls-cert; re-read on SIGHUP")
    telnets_port: int = _flag(4443, name="--telnets-port", parse=port, metavar="N",
                              help="telnet over TLS, with --tls-cert (0 picks a free port)")
    https_port: int = _flag(8443, name="--https-port", parse=port, metavar="N",
                            help="HTTPS for the website, with --tls-cert (0 picks a free port)")
    pop3s_port: int = _flag(1995, name="--pop3s-port", parse=port, metavar="N",
                            help="POP3 over TLS, with --tls-cert (0 picks a free port)")
    #: A TLS handshake (from the first byte, or after STARTTLS/STLS) must end within this.
    tls_handshake_timeout: float = _flag(
        10, converter=float, name="--tls-handshake-timeout", parse=non_negative,
        metavar="SECONDS",
        help="close a TLS connection whose handshake is not done within this time")
    #: RFC 6797: how long browsers that saw the site over HTTPS refuse plain HTTP to it.
    hsts_max_age: int = _flag(
        31536000, name="--hsts-max-age", parse=non_negative, metavar="SECONDS",
        help="Strict-Transport-Security max-age on HTTPS responses (one year; "
             "0 tells browsers to forget it, before turning HTTPS off)")
    #: Networks a POP3 password may come from over a plain connection while
    #: TLS is configured (empty: the loopback networks; ``none``: nowhere).
    plaintext_auth_from: list[str] = _flag(
        factory=list, name="--plaintext-auth-from", repeat=True, parse=cidr, metavar="CIDR",
        help="with TLS on, accept POP3 passwords without TLS from this network "
             "(repeatable; default: 127.0.0.0/8 and ::1/128; 'none': from nowhere)")
    imap_port: int = _flag(1143, name="--imap-port", parse=port, metavar="N",
                           help="IMAP port for mail apps: INBOX and Sent, pushed with IDLE "
                                "(0 picks a free port)")
    imaps_port: int = _flag(1993, name="--imaps-port", parse=port, metavar="N",
                            help="IMAP over TLS, with --tls-cert (0 picks a free port)")
    mail_domain: str = _flag("reality.localhost", name="--mail-domain", metavar="NAME",
                             help="players' mail addresses are <name>@NAME")
    #: ``--admin``: names reserved for admins, which nobody may create over
    #: the network. Admin *rights* are the accounts' flag in the database,
    #: set by ``reality admin add``.
    admins: list[str] = _flag(
        factory=list, name="--admin", repeat=True, metavar="NAME",
        help="reserve a name for an admin: nobody can create it over the "
             "network (repeatable); rights come from 'reality admin add'")
    #: Accounts one address may create per hour (0: no limit).
    max_signups_per_hour: int = _flag(
        5, name="--max-signups-per-hour", parse=non_negative, metavar="N",
        help="new accounts one address may create per hour (0: no limit)")
    #: Accept an existing database file without a Reality schema and create one in it.
    init_db: bool = _flag(
        False, name="--init-db", switch=True,
        help="accept an existing database file that holds no Reality data "
             "(empty, or another program's) and start a fresh world in it")
    max_per_address: int = _flag(
        50, name="--max-per-address", parse=non_negative, metavar="N",
        help="concurrent connections allowed from one address (0: no limit)")
    #: Connections each service (telnet, HTTP, SMTP, POP3, IMAP) may hold at once; 0: no limit.
    max_connections: int = _flag(
        10000, name="--max-connections", parse=non_negative, metavar="N",
        help="concurrent connections allowed on each service (telnet, HTTP, "
             "SMTP, POP3, IMAP), counted separately (0: no limit)")
    #: Origins (``https://client.example``) besides the site's own whose pages
    #: may open the game's WebSocket (``/ws``); any other ``Origin`` gets 403.
    ws_allow_origins: list[str] = _flag(
        factory=list, name="--ws-allow-origin", repeat=True, metavar="ORIGIN",
        help="let web pages from ORIGIN (scheme://host[:port]) play over /ws, "
             "besides the site's own pages (repeatable)")
    # Whole seconds on the command line (its help shows 3600), a float inside.
    idle_timeout: float = _flag(
        3600, converter=float, name="--idle-timeout", parse=non_negative, metavar="SECONDS",
        help="close a player's connection after this long without input (0: never)")
    #: The reactor ``reality serve`` runs on: "selector", "asyncio" or "uvloop".
    reactor: str = _flag(
        "selector", name="--reactor", choices=("selector", "asyncio", "uvloop"),
        help="the event loop underneath: Reality's own selector reactor, "
             "or the same interface on asyncio or on uvloop "
             "(pip install 'reality[fast]')")
    log_level: str = _flag("info", name="--log-level",
                           choices=("debug", "info", "warning", "error"),
                           help="how much to log")
    #: ``--log-file``: append the log here instead of stderr; SIGUSR1 reopens it.
    log_file: str | None = _flag(
        None, name="--log-file", metavar="FILE",
        help="write the log to FILE instead of stderr; SIGUSR1 reopens it (logrotate)")
    log_format: str = _flag(
        "text", name="--log-format", choices=("text", "json"),
        help="the log's lines: text, or one JSON object a line (time, level, logger, "
             "message and the audit events' fields)")
    pid_file: str | None = _flag(
        None, name="--pid-file", metavar="FILE",
        help="write the server's process id to FILE while it runs")
    #: ``--metrics-allow``: networks that may read /metrics (none given: loopback).
    metrics_allow: list[str] = _flag(
        factory=list, name="--metrics-allow", repeat=True, metavar="CIDR",
        help="an address or network that may read /metrics on the HTTP port "
             "(repeatable; default: 127.0.0.0/8 and ::1); others get 404")
    backup_dir: str | None = _flag(
        None, name="--backup-dir", metavar="DIR",
        help="make timed, checked backups of the database in DIR (see --backup-every)")
    backup_every: float = _flag(
        3600, converter=float, name="--backup-every", parse=non_negative, metavar="SECONDS",
        help="seconds between backups into --backup-dir (0: none)")
    backup_keep: int = _flag(
        24, name="--backup-keep", parse=non_negative, metavar="N",
        help="backups kept in --backup-dir; older ones are deleted (0: keep all)")
    #: /healthz: 503 when the loop ran more than health_lateness seconds late
    #: within the last health_window seconds. Pinned at 10 s and 1 s; the
    #: hidden flags let tests shorten the window.
    health_window: float = _flag(
        10.0, converter=float, name="--health-window", parse=float, metavar="SECONDS",
        help=argparse.SUPPRESS)
    health_lateness: float = _flag(
        1.0, converter=float, name="--health-lateness", parse=float, metavar="SECONDS",
        help=argparse.SUPPRESS)
    # Slow-peer time limits (docs/security.md). No flags: the defaults follow
    # the RFCs; tests shorten them. Seconds; a total (deadline, data, session)
    # of 0 means no limit.
    #: Telnet: without a line before login, and in all from connecting to logging in.
    login_timeout: float = 300.0
    login_deadline: float = 600.0
    #: SMTP: per command line, message data in all, waiting for the client in all.
    smtp_idle_timeout: float = 300.0
    smtp_data_timeout: float = 600.0
    smtp_session_timeout: float = 1800.0
    #: POP3: per command line, waiting for the client in all.
    pop3_idle_timeout: float = 600.0
    pop3_session_timeout: float = 3600.0
    #: WebSocket keepalive (/ws): seconds between pings, and to wait for the pong (0: no pings).
    ws_ping_interval: float = 30.0
    ws_ping_timeout: float = 30.0
    #: IMAP: waiting for a command (RFC 3501 5.4: at least 30 minutes; an IDLE
    #: client re-issues IDLE every 29), and a session's whole life: a phone
    #: idles for hours, so a day, after which it simply logs in again.
    imap_idle_timeout: float = 1860.0
    imap_session_timeout: float = 86400.0
    #: Worker processes for CPU-heavy jobs (hashing, large mail, Markdown, the map).
    workers: int = 2
    checkpoint_interval: float = 5.0


def flags() -> list[tuple[attrs.Attribute[Any], Flag]]:
    """The settings that are command-line flags, with their flags, in order."""
    return [
        (attribute, attribute.metadata["flag"])
        for attribute in attrs.fields(Settings)
        if "flag" in attribute.metadata
    ]


def default_of(name: str) -> Any:
    """A setting's default (a new list for ``admins``)."""
    default = getattr(attrs.fields(Settings), name).default
    if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
        return default.factory()
    return default
