"""SSRF protection: webhook URLs must resolve only to public addresses.

The check runs when an endpoint is saved and again before every attempt, after DNS
resolution, and the request is then sent to the address that was checked (the Host
header and TLS server name keep the original name), so a DNS answer that changes
between check and connect (rebinding) cannot steer a delivery inside the network.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from fiscus.webhooks.errors import UnsafeWebhookUrl

MAX_URL_LENGTH = 2048
# Cloud metadata services; most are link-local already, but not all of them.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True, slots=True)
class Target:
    """A checked URL: where to connect, and the name the server expects."""

    url: str
    scheme: str
    host: str
    port: int
    address: IPAddress

    @property
    def pinned_url(self) -> str:
        """The URL with its host replaced by the checked address."""
        parts = urlsplit(self.url)
        host = f"[{self.address}]" if self.address.version == 6 else str(self.address)
        netloc = f"{host}:{self.port}"
        return parts._replace(netloc=netloc).geturl()

    @property
    def host_header(self) -> str:
        """The Host header for the original URL."""
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"


def parse_url(url: str) -> tuple[str, str, int]:
    """Scheme, host and port of an http(s) URL without credentials; refuse anything else."""
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeWebhookUrl(f"The URL is longer than {MAX_URL_LENGTH} characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeWebhookUrl("The URL is not valid.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeWebhookUrl("The URL must be an http or https URL with a host.")
    if parts.username is not None or parts.password is not None:
        raise UnsafeWebhookUrl("The URL must not carry credentials.")
    default = 443 if parts.scheme == "https" else 80
    return parts.scheme, parts.hostname, port or default


def is_public(address: IPAddress) -> bool:
    """True for globally routable unicast addresses that are not metadata services."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address in METADATA_ADDRESSES:
        return False
    return address.is_global and not address.is_multicast


async def resolve(url: str, *, allow_private: bool) -> Target:
    """Resolve the URL's host and check every address it resolves to."""
    scheme, host, port = parse_url(url)
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        addresses = await _lookup(host, port)
    for address in addresses:
        if not allow_private and not is_public(address):
            raise UnsafeWebhookUrl(f"{host} resolves to {address}, which is not a public address.")
    return Target(url=url, scheme=scheme, host=host, port=port, address=addresses[0])


async def _lookup(host: str, port: int) -> list[IPAddress]:
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout=5
        )
    except (OSError, TimeoutError):
        raise UnsafeWebhookUrl(f"The host {host} does not resolve.") from None
    addresses: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise UnsafeWebhookUrl(f"The host {host} does not resolve.")
    return addresses
