"""Bans: accounts that may not log in, addresses that may not connect.

An admin bans an *account* (``@ban bob``: it can no longer log in over
any protocol) or an *address* (``@ban 203.0.113.7``, ``@ban 2001:db8::/32``:
nothing connects from it to any service). :class:`Bans` keeps both in the
store (component ``"moderation"``, table ``bans``) and in memory, and
answers the question every accepted connection asks, :meth:`Bans.address`,
without walking the list:

- each banned network (an exact address is a /32 or /128) goes into a set
  keyed by (IP version, prefix length), as the integer of its first
  address shifted right by the host bits;
- a lookup parses the peer's address once and probes one set per prefix
  length in use: at most 33 for IPv4 and 129 for IPv6 whatever the number
  of bans, and in practice a handful (exact addresses, /24s, /16s, /64s).

An IPv4 peer seen through an IPv6 socket (``::ffff:192.0.2.1``) is looked
up as the IPv4 address it is; a zone id (``fe80::1%eth0``) is dropped.

This module knows nothing of sockets: the gateways ask it with the peer's
address as text (:mod:`reality.gateways.connections` before a single
protocol byte, :mod:`reality.gateways.auth` at login and sign-up) and
:mod:`reality.gateways.moderation` closes what is already connected.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable
from typing import Any

from attrs import frozen

from reality.game.accounts import name_key
from reality.game.store import MIGRATIONS, Migration, Store, register_migrations

log = logging.getLogger(__name__)

__all__ = [
    "ACCOUNT",
    "ADDRESS",
    "BANS_MIGRATIONS",
    "AddressIndex",
    "Ban",
    "Bans",
    "Network",
    "host_address",
    "parse_network",
]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

#: The two kinds of ban.
ACCOUNT = "account"
ADDRESS = "address"

BANS_MIGRATIONS: list[Migration] = [
    Migration(
        "bans of accounts and of addresses",
        """
        CREATE TABLE bans (
            target TEXT PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('account', 'address')),
            banned_by TEXT NOT NULL,
            created_at REAL NOT NULL,
            reason TEXT NOT NULL DEFAULT ''
        );
        """,
    ),
]

register_migrations("moderation", BANS_MIGRATIONS)


@frozen
class Ban:
    """One ban: an account key, or a network in its canonical form (``10.0.0.0/8``)."""

    kind: str
    target: str
    by: str
    when: float
    reason: str = ""

    @property
    def shown(self) -> str:
        """The target as people write it: an exact address without its ``/32``."""
        if self.kind == ADDRESS:
            network = ipaddress.ip_network(self.target)
            if network.prefixlen == network.max_prefixlen:
                return str(network.network_address)
        return self.target


def parse_network(text: str) -> Network | None:
    """``text`` as an address or a CIDR network, or None when it is neither.

    Host bits are allowed and cleared (``10.1.2.3/8`` is ``10.0.0.0/8``):
    an admin pasting an address with a prefix means the network around it.
    """
    text = text.strip()
    if not text or not any(ch in text for ch in ".:"):
        return None  # a name: letters only, never an address
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


def host_address(host: str) -> Address | None:
    """The address a peer's host text names (IPv4-mapped IPv6 as IPv4), or None."""
    try:
        address = ipaddress.ip_address(host.partition("%")[0])
    except ValueError:
        return None
    if address.version == 6:
        mapped = address.ipv4_mapped
        if mapped is not None:
            return mapped
    return address


def _host_value(host: str) -> tuple[int, int] | None:
    """(IP version, the address as an integer) of a peer's host text, or None.

    A dotted quad is read by hand: ``ipaddress`` takes microseconds per
    call, and this runs for every connection while any address is banned.
    """
    parts = host.split(".")
    if len(parts) == 4 and ":" not in host:
        value = 0
        for part in parts:
            if not (part.isdigit() and part.isascii()) or len(part) > 3:
                break
            byte = int(part)
            if byte > 255:
                break
            value = value << 8 | byte
        else:
            return 4, value
    address = host_address(host)
    return None if address is None else (address.version, int(address))


class AddressIndex:
    """Networks (each with a value: its ban), found by an address in one set
    probe per prefix length in use."""

    __slots__ = ("_sets", "_lengths")

    def __init__(self) -> None:
        #: (version, prefix length) -> {first address >> host bits: value}
        self._sets: dict[tuple[int, int], dict[int, Any]] = {}
        #: Per IP version, (host bits, that length's set), longest prefix
        #: first (the most specific ban is the one reported).
        self._lengths: dict[int, list[tuple[int, dict[int, Any]]]] = {4: [], 6: []}

    def __len__(self) -> int:
        return sum(len(s) for s in self._sets.values())

    def add(self, network: Network, value: Any) -> None:
        key = (network.version, network.prefixlen)
        bucket = self._sets.get(key)
        if bucket is None:
            bucket = self._sets[key] = {}
            self._reorder(network.version)
        shift = network.max_prefixlen - network.prefixlen
        bucket[int(network.network_address) >> shift] = value

    def discard(self, network: Network) -> None:
        key = (network.version, network.prefixlen)
        bucket = self._sets.get(key)
        if bucket is None:
            return
        shift = network.max_prefixlen - network.prefixlen
        bucket.pop(int(network.network_address) >> shift, None)
        if not bucket:
            del self._sets[key]
            self._reorder(network.version)

    def _reorder(self, version: int) -> None:
        bits = 32 if version == 4 else 128
        self._lengths[version] = sorted(
            ((bits - length, bucket) for (v, length), bucket in self._sets.items()
             if v == version),
            key=lambda pair: pair[0],
        )

    def match(self, version: int, address: int) -> Any:
        """The value of the most specific network holding ``address`` (an integer
        of IP ``version``), or None."""
        for shift, bucket in self._lengths[version]:
            found = bucket.get(address >> shift)
            if found is not None:
                return found
        return None


class Bans:
    """The bans in force, kept in the store and indexed in memory.

    ``listeners`` are called as ``listener(ban, added)`` after a ban is
    added (True) or lifted (False) and committed; the gateways' moderation
    closes what the ban now covers.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        if store.schema_version("moderation") < len(MIGRATIONS["moderation"]):
            # A store opened before this module was imported.
            store.migrate({"moderation": MIGRATIONS["moderation"]})
        self._accounts: dict[str, Ban] = {}
        self._addresses: dict[str, Ban] = {}
        self._index = AddressIndex()
        self.listeners: list[Callable[[Ban, bool], None]] = []
        for row in store.db.execute(
            "SELECT kind, target, banned_by, created_at, reason FROM bans"
        ):
            ban = Ban(row[0], row[1], row[2], float(row[3]), row[4])
            self._remember(ban)

    def _remember(self, ban: Ban) -> None:
        if ban.kind == ACCOUNT:
            self._accounts[ban.target] = ban
            return
        network = parse_network(ban.target)
        if network is None:  # a row no version of this code writes
            log.warning("ignoring a ban of an unreadable address %r", ban.target)
            return
        self._addresses[ban.target] = ban
        self._index.add(network, ban)

    # -- questions ----------

    def account(self, name: str) -> Ban | None:
        """The ban on the account called ``name`` (any letter case), or None."""
        if not self._accounts:
            return None
        return self._accounts.get(name_key(name))

    def address(self, host: str) -> Ban | None:
        """The ban covering the peer address ``host`` (text), or None.

        What every gateway asks for every connection: nothing at all when
        no address is banned, else one parse and a probe per prefix length.
        """
        if not self._addresses:
            return None
        found = _host_value(host)
        if found is None:
            return None
        ban: Ban | None = self._index.match(*found)
        return ban

    def all(self) -> list[Ban]:
        """Every ban, oldest first."""
        bans = list(self._accounts.values()) + list(self._addresses.values())
        return sorted(bans, key=lambda ban: (ban.when, ban.target))

    def __len__(self) -> int:
        return len(self._accounts) + len(self._addresses)

    # -- changes (committed before they return) ----------

    def ban_account(self, name: str, *, by: str, reason: str = "", now: float) -> Ban:
        """Ban an account (again: the reason and author are replaced)."""
        return self._add(Ban(ACCOUNT, name_key(name), by, now, reason))

    def ban_address(self, network: Network, *, by: str, reason: str = "", now: float) -> Ban:
        """Ban an address or a network."""
        return self._add(Ban(ADDRESS, str(network), by, now, reason))

    def _add(self, ban: Ban) -> Ban:
        with self.store.transaction() as db:
            db.execute(
                "INSERT INTO bans(target, kind, banned_by, created_at, reason)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT(target) DO UPDATE SET"
                " banned_by = excluded.banned_by, created_at = excluded.created_at,"
                " reason = excluded.reason",
                (ban.target, ban.kind, ban.by, ban.when, ban.reason),
            )
        self._remember(ban)
        self._tell(ban, True)
        return ban

    def find(self, target: str) -> Ban | None:
        """The ban whose target is ``target`` as written (a name, an address, a CIDR)."""
        network = parse_network(target)
        if network is not None:
            return self._addresses.get(str(network))
        return self._accounts.get(name_key(target.strip()))

    def unban(self, target: str) -> Ban | None:
        """Lift the ban on ``target`` (as :meth:`find` reads it); the ban lifted, or None."""
        ban = self.find(target)
        if ban is None:
            return None
        with self.store.transaction() as db:
            db.execute("DELETE FROM bans WHERE target = ?", (ban.target,))
        if ban.kind == ACCOUNT:
            del self._accounts[ban.target]
        else:
            del self._addresses[ban.target]
            network = parse_network(ban.target)
            if network is not None:
                self._index.discard(network)
        self._tell(ban, False)
        return ban

    def _tell(self, ban: Ban, added: bool) -> None:
        for listener in list(self.listeners):
            try:
                listener(ban, added)
            except Exception:
                log.exception("ban listener %r failed", listener)
