"""How long a ban lookup takes per accepted connection, with many bans.

    python benchmarks/bans.py [--bans 10000] [--lookups 200000]

Bans a mix of exact IPv4 and IPv6 addresses and networks of many prefix
lengths, then times :meth:`reality.game.bans.Bans.address` for peers that
match nothing (the common case) and for peers inside a banned network, and
compares with a linear scan of every network (what the index avoids).
In-memory database; a few seconds at most.
"""

from __future__ import annotations

import argparse
import ipaddress
import random
import time

from reality.game.bans import Bans
from reality.game.store import Store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bans", type=int, default=10_000)
    parser.add_argument("--lookups", type=int, default=200_000)
    args = parser.parse_args()
    rng = random.Random(14)
    store = Store(":memory:", synchronous="OFF")
    bans = Bans(store)
    networks = []
    v4_lengths = (32, 32, 32, 24, 24, 16, 28, 20, 22, 12, 30, 29, 27, 26, 25)
    v6_lengths = (128, 128, 64, 48, 56, 32, 60, 96, 112, 40)
    with store.transaction():
        for i in range(args.bans):
            if i % 4 == 3:
                value = rng.getrandbits(128) | (0x2001 << 112)
                length = rng.choice(v6_lengths)
                network = ipaddress.IPv6Network((value, length), strict=False)
            else:
                length = rng.choice(v4_lengths)
                network = ipaddress.IPv4Network((rng.getrandbits(32), length), strict=False)
            networks.append(network)
            bans.ban_address(network, by="bench", now=0.0)
    hosts = [str(ipaddress.IPv4Address(rng.getrandbits(32))) for _ in range(1000)]
    inside = [str(n.network_address) for n in networks[:1000]]

    def timed(label: str, sample: list[str], n: int) -> None:
        lookup = bans.address
        start = time.perf_counter()
        for i in range(n):
            lookup(sample[i % len(sample)])
        per = (time.perf_counter() - start) / n * 1e6
        print(f"{label:<44} {per:7.2f} µs per lookup")

    print(f"{len(bans)} bans over {len(set((n.version, n.prefixlen) for n in networks))}"
          " (version, prefix length) pairs")
    timed("random IPv4 peer (no ban matches)", hosts, args.lookups)
    timed("peer inside a banned network", inside, args.lookups)
    # The linear scan the index replaces, on fewer lookups (it is slow).
    scan_n = max(1, args.lookups // 200)
    start = time.perf_counter()
    for i in range(scan_n):
        address = ipaddress.ip_address(hosts[i % len(hosts)])
        any(address in n for n in networks)
    per = (time.perf_counter() - start) / scan_n * 1e6
    print(f"{'linear scan of every network (for contrast)':<44} {per:7.2f} µs per lookup")


if __name__ == "__main__":
    main()
