"""Bans in the store and in memory: the address index, persistence, listeners."""

from __future__ import annotations

import ipaddress

from hypothesis import given, settings, strategies as st

from reality.game.bans import ACCOUNT, ADDRESS, AddressIndex, Bans, parse_network
from reality.game.store import Store


def test_parse_network_reads_addresses_and_cidrs_but_never_names():
    """Addresses and CIDRs (host bits cleared) parse; names and junk do not."""
    assert str(parse_network("203.0.113.7")) == "203.0.113.7/32"
    assert str(parse_network("10.1.2.3/8")) == "10.0.0.0/8"
    assert str(parse_network("2001:db8::1/32")) == "2001:db8::/32"
    for text in ("bob", "cafe", "", "1.2.3", "300.1.1.1", "10.0.0.0/33"):
        assert parse_network(text) is None, text


def test_lookups_find_exact_addresses_networks_and_mapped_ipv4():
    """An exact ban, a CIDR, IPv6, and an IPv4 peer seen as ::ffff:a.b.c.d all match."""
    bans = Bans(Store(":memory:"))
    assert bans.address("203.0.113.7") is None  # no bans: nothing to look at
    bans.ban_address(ipaddress.ip_network("203.0.113.7"), by="Root", now=1.0)
    bans.ban_address(ipaddress.ip_network("198.51.100.0/24"), by="Root", reason="spam", now=2.0)
    bans.ban_address(ipaddress.ip_network("2001:db8::/32"), by="Root", now=3.0)
    assert bans.address("203.0.113.7").shown == "203.0.113.7"
    assert bans.address("203.0.113.8") is None
    assert bans.address("198.51.100.200").reason == "spam"
    assert bans.address("::ffff:198.51.100.9").target == "198.51.100.0/24"
    assert bans.address("2001:db8:1::5").target == "2001:db8::/32"
    assert bans.address("2001:db9::5") is None
    assert bans.address("fe80::1%eth0") is None
    for junk in ("?", "", "localhost", "1.2.3.4.5", "01.2.3.999"):
        assert bans.address(junk) is None, junk


def test_the_most_specific_ban_is_reported_and_unban_removes_only_one():
    """With 10/8 and 10.1.2.3 banned, 10.1.2.3 reports its own ban; lifting it leaves 10/8."""
    bans = Bans(Store(":memory:"))
    bans.ban_address(ipaddress.ip_network("10.0.0.0/8"), by="Root", reason="wide", now=1.0)
    bans.ban_address(ipaddress.ip_network("10.1.2.3"), by="Root", reason="narrow", now=2.0)
    assert bans.address("10.1.2.3").reason == "narrow"
    assert bans.unban("10.1.2.3/32").reason == "narrow"
    assert bans.address("10.1.2.3").reason == "wide"
    assert bans.unban("10.9.9.9/8").target == "10.0.0.0/8"  # any CIDR of the same network
    assert bans.address("10.1.2.3") is None and len(bans) == 0


def test_index_probes_one_set_per_prefix_length_not_every_network():
    """Thousands of networks of a few lengths: the index keeps one bucket per length."""
    index = AddressIndex()
    for i in range(5000):
        index.add(ipaddress.ip_network(f"10.{i // 256}.{i % 256}.0/24"), i)
    index.add(ipaddress.ip_network("192.0.2.1"), "exact")
    assert len(index._lengths[4]) == 2 and len(index) == 5001
    assert index.match(4, int(ipaddress.ip_address("10.19.135.77"))) == 19 * 256 + 135
    assert index.match(4, int(ipaddress.ip_address("192.0.2.1"))) == "exact"
    assert index.match(4, int(ipaddress.ip_address("11.0.0.1"))) is None


def test_account_bans_are_case_blind_and_tell_listeners():
    """A ban of 'Bob' holds for 'BOB'; listeners hear of bans and unbans."""
    bans = Bans(Store(":memory:"))
    heard: list[tuple[str, bool]] = []
    bans.listeners.append(lambda ban, added: heard.append((ban.target, added)))
    bans.ban_account("Bob", by="Root", reason="rude", now=5.0)
    assert bans.account("BOB").kind == ACCOUNT and bans.account("alice") is None
    assert bans.unban("bOb") is not None and bans.account("bob") is None
    assert bans.unban("bob") is None
    assert heard == [("bob", True), ("bob", False)]


def test_bans_survive_closing_and_reopening_the_store(tmp_path):
    """Bans are committed to SQLite: a reopened store has every one, with who, when and why."""
    path = str(tmp_path / "world.sqlite3")
    store = Store(path)
    bans = Bans(store)
    bans.ban_account("Bob", by="Root", reason="spamming the hall", now=100.0)
    bans.ban_address(ipaddress.ip_network("2001:db8::/48"), by="Rex", now=200.0)
    bans.ban_address(ipaddress.ip_network("192.0.2.9"), by="Root", now=300.0)
    bans.unban("192.0.2.9")
    store.close()

    store = Store(path)
    again = Bans(store)
    listed = [(b.kind, b.target, b.by, b.when, b.reason) for b in again.all()]
    assert listed == [
        (ACCOUNT, "bob", "Root", 100.0, "spamming the hall"),
        (ADDRESS, "2001:db8::/48", "Rex", 200.0, ""),
    ]
    assert again.address("2001:db8:0:1::1") is not None
    assert again.address("192.0.2.9") is None
    assert store.schema_version("moderation") == 1
    store.close()


def _networks():
    v4 = st.builds(
        lambda a, p: ipaddress.ip_network((a, p), strict=False),
        st.integers(0, 2**32 - 1), st.integers(8, 32),
    )
    v6 = st.builds(
        lambda a, p: ipaddress.ip_network((a, p), strict=False),
        st.integers(0, 2**128 - 1), st.integers(16, 128),
    )
    return st.lists(st.one_of(v4, v6), max_size=12)


def test_the_index_agrees_with_a_scan_of_every_network():
    """For any bans and any peer (IPv4, IPv6, mapped, junk), the lookup matches a linear scan."""
    hosts = st.one_of(
        st.integers(0, 2**32 - 1).map(lambda n: str(ipaddress.IPv4Address(n))),
        st.integers(0, 2**128 - 1).map(lambda n: str(ipaddress.IPv6Address(n))),
        st.integers(0, 2**32 - 1).map(lambda n: f"::ffff:{ipaddress.IPv4Address(n)}"),
        st.text(max_size=20),
    )

    @settings(max_examples=200, deadline=None)
    @given(_networks(), st.lists(hosts, min_size=1, max_size=5))
    def check(networks, peers):
        bans = Bans(Store(":memory:"))
        for network in networks:
            if bans.find(str(network)) is None:
                bans.ban_address(network, by="Root", now=1.0)
        for peer in peers:
            try:
                address = ipaddress.ip_address(peer)
            except ValueError:
                address = None
            if address is not None and address.version == 6 and address.ipv4_mapped:
                address = address.ipv4_mapped
            covering = [
                n for n in networks
                if address is not None and n.version == address.version and address in n
            ]
            found = bans.address(peer)
            if not covering:
                assert found is None, (peer, networks)
            else:
                most_specific = max(n.prefixlen for n in covering)
                assert found is not None
                assert ipaddress.ip_network(found.target).prefixlen == most_specific

    check()
