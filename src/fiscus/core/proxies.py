"""The client's address behind trusted reverse proxies (`FISCUS_TRUSTED_PROXIES`).

A proxy or load balancer connects on the client's behalf and names the client in
`Forwarded` (RFC 7239) or `X-Forwarded-For`. Anyone can send those headers, so they are
read only when the connecting peer is a trusted proxy, and then only up to the first hop
that is not one: walking the list from the right (the hop nearest us), every trusted
address is a proxy of ours, and the first untrusted one is the client. Whatever a client
wrote further left is its own claim and is ignored.

The middleware rewrites the ASGI scope's `client`, so the rate limiter, the audit trail,
login records and logs all see the resolved address without knowing about proxies.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
# A request may carry many hops; more than this is not a real proxy chain.
MAX_HOPS = 32


def parse_networks(values: Sequence[str]) -> list[Network]:
    """CIDRs (or single addresses) as networks; ValueError names the bad entry."""
    networks: list[Network] = []
    for raw in values:
        value = raw.strip()
        if not value:
            continue
        try:
            networks.append(ipaddress.ip_network(value, strict=False))
        except ValueError:
            raise ValueError(f"{value!r} is not an IP address or CIDR network") from None
    return networks


def _address(value: str) -> Address | None:
    """An address from one hop: `1.2.3.4`, `1.2.3.4:80`, `[::1]:80`, `"[::1]"`, or None."""
    value = value.strip().strip('"').strip()
    if value.startswith("["):
        value = value[1 : value.find("]")] if "]" in value else ""
    elif value.count(":") == 1:  # IPv4 with a port; a bare IPv6 has several colons
        value = value.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None  # "unknown", an obfuscated identifier ("_hidden"), or garbage
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _forwarded_hops(value: str) -> list[str]:
    """The `for=` value of each element of a `Forwarded` header, left to right."""
    hops: list[str] = []
    for element in value.split(","):
        for pair in element.split(";"):
            name, _, found = pair.partition("=")
            if name.strip().lower() == "for":
                hops.append(found)
    return hops


def forwarded_hops(headers: Sequence[tuple[bytes, bytes]]) -> list[str]:
    """The hops the proxies recorded, left (client) to right (nearest proxy).

    `Forwarded` wins when present, as RFC 7239 intends; repeated header lines are one list.
    """
    forwarded = [v.decode("latin-1") for k, v in headers if k.lower() == b"forwarded"]
    if forwarded:
        return [hop for line in forwarded for hop in _forwarded_hops(line)]
    legacy = [v.decode("latin-1") for k, v in headers if k.lower() == b"x-forwarded-for"]
    return [hop for line in legacy for hop in line.split(",")]


def resolve_client(peer: str, hops: Sequence[str], trusted: Sequence[Network]) -> str:
    """The client's address: `peer` unless it is a trusted proxy, else the rightmost
    untrusted hop (or the leftmost hop when every hop is trusted)."""
    current = _address(peer)
    if current is None or not _trusted(current, trusted):
        return peer
    for hop in reversed(hops[-MAX_HOPS:]):
        address = _address(hop)
        if address is None:
            break  # cannot tell who sent it: keep the last address we could vouch for
        current = address
        if not _trusted(address, trusted):
            break
    return str(current)


def _trusted(address: Address, trusted: Sequence[Network]) -> bool:
    return any(address.version == net.version and address in net for net in trusted)


class TrustedProxyMiddleware:
    """Rewrites `scope["client"]` to the resolved client address (see the module docs)."""

    def __init__(self, app: ASGIApp, *, trusted: Sequence[Network]) -> None:
        self.app = app
        self.trusted = list(trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if scope["type"] in {"http", "websocket"} and self.trusted and client:
            resolved = resolve_client(
                client[0], forwarded_hops(scope.get("headers", [])), self.trusted
            )
            if resolved != client[0]:
                scope = {**scope, "client": (resolved, 0)}
        await self.app(scope, receive, send)
