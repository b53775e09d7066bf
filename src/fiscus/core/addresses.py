"""Which IP addresses an outbound request may go to: the IANA special-purpose registries.

The tables below are the IANA IPv4 and IPv6 Special-Purpose Address Registries (RFC 6890
and its updates), with their "Globally Reachable" column, plus the blocks the address-space
registries reserve (multicast, class E, everything outside IPv6 global unicast 2000::/3).

The rule is deliberately stricter than the registry: an address inside ANY block whose
entry is not globally reachable is refused, even where a more specific entry says it is
(192.0.0.9/32 in 192.0.0.0/24, 2001:1::1/128 in 2001::/23): those are anycast protocol
services (PCP, TURN, AMT, AS112), never an HTTP receiver. IPv6 forms that carry an IPv4
address (IPv4-mapped, -compatible and -translated, NAT64, 6to4, Teredo) have that address
extracted and checked as well, so 64:ff9b::7f00:1 is loopback, whatever the prefix says.
"""

from __future__ import annotations

import ipaddress
from typing import NamedTuple

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class Block(NamedTuple):
    """One registry entry: the block, its name, and whether it is globally reachable."""

    network: IPNetwork
    name: str
    globally_reachable: bool


def _table(rows: list[tuple[str, str, bool]]) -> tuple[Block, ...]:
    return tuple(Block(ipaddress.ip_network(net), name, reachable) for net, name, reachable in rows)


# IANA IPv4 Special-Purpose Address Registry (and 224/4 multicast, 240/4 reserved).
IPV4_SPECIAL = _table(
    [
        ("0.0.0.0/8", "this network", False),
        ("10.0.0.0/8", "private use", False),
        ("100.64.0.0/10", "shared address space (carrier-grade NAT)", False),
        ("127.0.0.0/8", "loopback", False),
        ("169.254.0.0/16", "link local", False),
        ("172.16.0.0/12", "private use", False),
        ("192.0.0.0/24", "IETF protocol assignments", False),
        ("192.0.0.0/29", "IPv4 service continuity prefix (DS-Lite)", False),
        ("192.0.0.8/32", "IPv4 dummy address", False),
        ("192.0.0.9/32", "port control protocol anycast", True),
        ("192.0.0.10/32", "traversal using relays around NAT anycast", True),
        ("192.0.0.170/31", "NAT64/DNS64 discovery", False),
        ("192.0.2.0/24", "documentation (TEST-NET-1)", False),
        ("192.31.196.0/24", "AS112-v4", True),
        ("192.52.193.0/24", "AMT", True),
        ("192.88.99.0/24", "deprecated 6to4 relay anycast", False),
        ("192.168.0.0/16", "private use", False),
        ("192.175.48.0/24", "direct delegation AS112 service", True),
        ("198.18.0.0/15", "benchmarking", False),
        ("198.51.100.0/24", "documentation (TEST-NET-2)", False),
        ("203.0.113.0/24", "documentation (TEST-NET-3)", False),
        ("224.0.0.0/4", "multicast", False),
        ("240.0.0.0/4", "reserved", False),
        ("255.255.255.255/32", "limited broadcast", False),
    ]
)

# IANA IPv6 Special-Purpose Address Registry (and the address-space registry's blocks;
# everything outside 2000::/3 but NAT64 is refused by `refusal` before this table).
IPV6_SPECIAL = _table(
    [
        ("::1/128", "loopback", False),
        ("::/128", "unspecified", False),
        ("::/96", "deprecated IPv4-compatible", False),
        ("::ffff:0:0/96", "IPv4-mapped", False),
        ("::ffff:0:0:0/96", "IPv4-translated", False),
        ("64:ff9b::/96", "IPv4/IPv6 translation (NAT64)", True),
        ("64:ff9b:1::/48", "local-use IPv4/IPv6 translation", False),
        ("100::/64", "discard-only", False),
        ("100:0:0:1::/64", "dummy IPv6 prefix", False),
        ("2001::/23", "IETF protocol assignments", False),
        ("2001::/32", "Teredo", False),
        ("2001:1::1/128", "port control protocol anycast", True),
        ("2001:1::2/128", "traversal using relays around NAT anycast", True),
        ("2001:1::3/128", "DNS-SD service registration protocol anycast", True),
        ("2001:2::/48", "benchmarking", False),
        ("2001:3::/32", "AMT", True),
        ("2001:4:112::/48", "AS112-v6", True),
        ("2001:10::/28", "deprecated ORCHID", False),
        ("2001:20::/28", "ORCHIDv2", True),
        ("2001:30::/28", "drone remote ID protocol entity tags", True),
        ("2001:db8::/32", "documentation", False),
        ("2002::/16", "6to4", False),
        ("2620:4f:8000::/48", "direct delegation AS112 service", True),
        ("3fff::/20", "documentation", False),
        ("5f00::/16", "segment routing (SRv6) SIDs", False),
        ("fc00::/7", "unique local", False),
        ("fe80::/10", "link-local unicast", False),
        ("fec0::/10", "deprecated site-local", False),
        ("ff00::/8", "multicast", False),
    ]
)
_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_LOW32 = (
    ipaddress.IPv6Network("::/96"),  # IPv4-compatible ::a.b.c.d
    ipaddress.IPv6Network("::ffff:0:0/96"),  # IPv4-mapped
    ipaddress.IPv6Network("::ffff:0:0:0/96"),  # IPv4-translated
    _NAT64,
    ipaddress.IPv6Network("64:ff9b:1::/48"),  # RFC 8215, /96 embedding when so used
)


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, compatible, translated, NAT64,
    6to4, Teredo client), or None."""
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if any(address in network for network in _LOW32):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def refusal(address: IPAddress) -> str | None:
    """Why `address` is not a globally reachable destination, or None if it is."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id is not None:
            return "an address with a zone id is never global"
        address = ipaddress.IPv6Address(int(address))
        inner = embedded_ipv4(address)
        if inner is not None and (why := refusal(inner)) is not None:
            return f"it carries the IPv4 address {inner}: {why}"
        if address not in _GLOBAL_UNICAST and address not in _NAT64:
            return "it is outside IPv6 global unicast (2000::/3)"
        table = IPV6_SPECIAL
    else:
        table = IPV4_SPECIAL
    for block in table:
        if not block.globally_reachable and address in block.network:
            return f"{block.network} is {block.name}, not globally reachable"
    return None


def is_globally_reachable(address: IPAddress) -> bool:
    """True for an address outside every special-purpose block that is not reachable."""
    return refusal(address) is None
