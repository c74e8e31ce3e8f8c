"""What SMTP's STARTTLS (RFC 3207) and POP3's STLS (RFC 2595) share.

A sans-IO session that agrees to upgrade its connection answers the
command (``220 Ready to start TLS`` / ``+OK Begin TLS negotiation``) and
then gives the :data:`START_TLS` action: the adapter writes the replies
before it in the clear and calls ``transport.start_tls()``; every byte
after that is TLS. The session forgets what the client told it before the
upgrade (RFC 3207 4.2, RFC 2595 4), since a man in the middle may have
written it.

The classic STARTTLS flaw (CVE-2011-0411 and its many siblings) is a
server that reads ``STARTTLS\\r\\nRCPT TO:...`` in one segment, upgrades,
and then runs the plaintext ``RCPT`` as if it had come over TLS: an
attacker in the middle can inject commands into the protected session.
Reality's sessions refuse the upgrade when any byte follows the command in
their buffer: they answer an error (SMTP ``554 5.5.1``, POP3 ``-ERR``) and
hang up. Postfix's fix for CVE-2011-0411 threw such bytes away and went on;
closing is stricter and simpler to reason about: RFC 3207 4 and RFC 2595 4
forbid the client to send anything before the server's answer, so a client
that pipelines past STARTTLS is broken or an attack, and neither deserves
a TLS session.

Which peers may log in with a password over a plain connection is a
policy the POP3 session reads from its settings: a tuple of networks
(:func:`parse_network`), by default the loopback ones
(:data:`LOOPBACK`), tested with :func:`address_in`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from attrs import frozen

__all__ = ["LOOPBACK", "START_TLS", "Network", "StartTLS", "address_in", "parse_network"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@frozen
class StartTLS:
    """A session's action: write the replies before it, then start TLS on the connection."""


#: The one :class:`StartTLS` (it carries nothing).
START_TLS = StartTLS()

#: The networks a password may come from in the clear by default: this machine.
LOOPBACK: tuple[Network, ...] = (
    ipaddress.ip_network("127.0.0.0/8"),
    ipaddress.ip_network("::1/128"),
)


def parse_network(text: str) -> Network:
    """A network from ``10.0.0.0/8``, ``::1/128`` or a single address.

    Raises ValueError, saying what was expected, for anything else (host
    bits set, a name).
    """
    try:
        return ipaddress.ip_network(text.strip(), strict=True)
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a network (CIDR such as 10.0.0.0/8): {exc}") from None


def address_in(host: str | None, networks: Iterable[Network]) -> bool:
    """True if ``host`` (an IP address as text) is in one of ``networks``.

    An IPv4-mapped IPv6 address (a dual-stack socket's view of an IPv4
    peer) counts as the IPv4 address it carries.
    """
    if not host:
        return False
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address.version == net.version and address in net for net in networks)
