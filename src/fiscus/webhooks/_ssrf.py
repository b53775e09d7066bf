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

from fiscus.core.addresses import IPAddress, refusal
from fiscus.webhooks.errors import UnsafeWebhookUrl

MAX_URL_LENGTH = 2048


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
    if port == 0:
        # `port or default` would quietly turn :0 into 443; no receiver listens on port 0.
        raise UnsafeWebhookUrl("The URL's port must be 1-65535.")
    default = 443 if parts.scheme == "https" else 80
    return parts.scheme, parts.hostname, port or default


async def resolve(url: str, *, allow_private: bool) -> Target:
    """Resolve the URL's host and check every address it resolves to."""
    scheme, host, port = parse_url(url)
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        addresses = await _lookup(host, port)
    for address in addresses:
        why = None if allow_private else refusal(address)
        if why is not None:
            raise UnsafeWebhookUrl(
                f"{host} resolves to {address}, which is not a public address ({why})."
            )
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
