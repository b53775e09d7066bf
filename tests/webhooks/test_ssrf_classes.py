"""SSRF by class: every special-purpose block of both IANA registries, in every spelling.

The review found IPv6 forms that embed an IPv4 address (NAT64, 6to4, Teredo, IPv4-compatible,
-mapped and -translated), special-purpose IPv4 blocks such as 192.0.0.0/24, and port 0
accepted as webhook URLs. These tests walk the registry tables rather than a list of
payloads: each refused block's first, a middle and last address, as an IPv4 literal in
decimal, octal and hex, and inside each IPv6 form that can carry it, at creation and at
delivery. Nothing here sends a request to a public address.
"""

from __future__ import annotations

import ipaddress
import itertools

import pytest

from fiscus.core.addresses import (
    IPV4_SPECIAL,
    IPV6_SPECIAL,
    embedded_ipv4,
    is_globally_reachable,
)
from fiscus.core.config import Settings
from fiscus.core.db import Database
from fiscus.webhooks import _ssrf
from fiscus.webhooks.errors import UnsafeWebhookUrl
from fiscus.webhooks.queries import deliveries_list
from tests.conftest import make_settings
from tests.webhooks.factories import admin_context, dispatch_webhooks, emit_and_relay, make_endpoint
from tests.webhooks.receiver import Receiver, running

PUBLIC_V4 = ipaddress.IPv4Address("93.184.215.14")
PUBLIC_V6 = ipaddress.IPv6Address("2606:2800:220:1:248:1893:25c8:1946")


def _samples(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> list[str]:
    first, last = int(network.network_address), int(network.broadcast_address)
    cls = type(network.network_address)
    return sorted({str(cls(first)), str(cls((first + last) // 2)), str(cls(last))})


REFUSED_V4 = [a for b in IPV4_SPECIAL if not b.globally_reachable for a in _samples(b.network)]
REFUSED_V6 = [a for b in IPV6_SPECIAL if not b.globally_reachable for a in _samples(b.network)]


def _spellings_v4(text: str) -> list[str]:
    """The ways a URL host can name one IPv4 address (inet_aton accepts them all)."""
    address = ipaddress.IPv4Address(text)
    octets = [int(o) for o in text.split(".")]
    return [
        text,
        str(int(address)),  # one decimal number
        hex(int(address)),  # one hex number
        ".".join(f"0{o:o}" for o in octets),  # octal octets
        ".".join(hex(o) for o in octets),  # hex octets
        f"{octets[0]}.{(octets[1] << 16) + (octets[2] << 8) + octets[3]}",  # a.b (b 24 bits)
    ]


def _embeddings(text: str) -> list[str]:
    """Every IPv6 form that carries the IPv4 address `text`."""
    v4 = int(ipaddress.IPv4Address(text))
    forms = [
        f"::ffff:{text}",  # IPv4-mapped
        f"::{text}",  # IPv4-compatible
        f"::ffff:0:{text}",  # IPv4-translated
        f"64:ff9b::{text}",  # NAT64 well-known prefix
        f"64:ff9b:1::{text}",  # NAT64 local-use prefix
        str(ipaddress.IPv6Address((0x2002 << 112) | (v4 << 80))),  # 6to4
        # Teredo: server 65.54.227.120, client address stored inverted in the last 32 bits.
        str(ipaddress.IPv6Address((0x20010000 << 96) | (0x4136E378 << 64) | (~v4 & 0xFFFFFFFF))),
        f"0:0:0:0:0:FFFF:{text}",  # uppercase, long form
    ]
    return forms


@pytest.mark.parametrize("address", REFUSED_V4)
async def test_every_refused_ipv4_block_is_refused_in_every_spelling(address: str) -> None:
    for host in _spellings_v4(address):
        with pytest.raises(UnsafeWebhookUrl):
            await _ssrf.resolve(f"https://{host}/hook", allow_private=False)
    for form in _embeddings(address):
        for url in (f"https://[{form}]/hook", f"http://[{form.lower()}]:8080/hook"):
            with pytest.raises(UnsafeWebhookUrl):
                await _ssrf.resolve(url, allow_private=False)


@pytest.mark.parametrize("address", REFUSED_V6)
async def test_every_refused_ipv6_block_is_refused(address: str) -> None:
    for host in (address, address.upper(), ipaddress.IPv6Address(address).exploded):
        with pytest.raises(UnsafeWebhookUrl):
            await _ssrf.resolve(f"https://[{host}]/hook", allow_private=False)


@pytest.mark.parametrize(
    "url",
    [
        "https://[fe80::1%25eth0]/hook",  # zone id on link-local
        f"https://[{PUBLIC_V6}%25eth0]/hook",  # a zone id makes no address global
        "https://[::1%251]/hook",
        f"https://{PUBLIC_V4}:0/hook",  # port 0
        f"http://{PUBLIC_V4}:00/hook",
        "https://localhost/hook",  # DNS names that resolve to loopback
        "https://LOCALHOST/hook",
        "https://localhost./hook",  # trailing dot
        "https://127.0.0.1./hook",
        "https://[::ffff:7f00:1]/hook",  # mapped, hex tail
        "https://0/hook",
        "https://[::]/hook",
        f"https://{PUBLIC_V4}:65536/hook",
        "https://192.0.0.9/hook",  # globally reachable anycast inside 192.0.0.0/24
        "https://[2001:1::1]/hook",  # likewise inside 2001::/23
    ],
)
async def test_odd_spellings_ports_and_names_are_refused(url: str) -> None:
    with pytest.raises(UnsafeWebhookUrl):
        await _ssrf.resolve(url, allow_private=False)


@pytest.mark.parametrize(
    "url",
    [
        f"https://{PUBLIC_V4}/hook",
        f"https://{int(PUBLIC_V4)}/hook",
        f"https://{hex(int(PUBLIC_V4))}/hook",
        f"https://[{PUBLIC_V6}]/hook",
        f"https://[64:ff9b::{PUBLIC_V4}]/hook",  # NAT64 of a public address is public
        f"https://{PUBLIC_V4}:65535/hook",
        "https://192.31.196.1/hook",  # AS112, globally reachable and in no refused block
    ],
)
async def test_public_addresses_pass_in_their_spellings(url: str) -> None:
    target = await _ssrf.resolve(url, allow_private=False)
    assert is_globally_reachable(target.address)


def test_embedded_ipv4_is_extracted_from_every_form() -> None:
    for form in _embeddings("10.1.2.3"):
        assert embedded_ipv4(ipaddress.IPv6Address(form)) == ipaddress.IPv4Address("10.1.2.3")
    assert embedded_ipv4(PUBLIC_V6) is None


def test_tables_cover_the_blocks_the_review_named() -> None:
    named = ["192.0.0.0/24", "64:ff9b:1::/48", "2002::/16", "2001::/32", "::ffff:0:0/96"]
    blocks = {str(b.network) for b in itertools.chain(IPV4_SPECIAL, IPV6_SPECIAL)}
    assert set(named) <= blocks


@pytest.fixture
def strict(clean_database: str) -> Settings:
    return make_settings(clean_database)


@pytest.mark.parametrize(
    "url",
    [
        "https://192.0.0.1/hook",
        "https://[64:ff9b::a9fe:a9fe]/hook",  # NAT64 of the metadata service
        "https://[2002:c0a8:1::]/hook",  # 6to4 of 192.168.0.1
        "https://[::10.0.0.1]/hook",
        "https://[::ffff:0:127.0.0.1]/hook",
        f"https://{PUBLIC_V4}:0/hook",
    ],
)
async def test_classes_are_refused_when_an_endpoint_is_saved(
    db: Database, strict: Settings, url: str
) -> None:
    with pytest.raises(UnsafeWebhookUrl):
        await make_endpoint(db, admin_context(), strict, url)


async def test_embedded_loopback_is_refused_again_at_delivery(
    db: Database, settings: Settings, strict: Settings
) -> None:
    ctx = admin_context()
    with running(Receiver()) as receiver:
        port = receiver.url.rsplit(":", 1)[1].split("/", 1)[0]
        # Saved while private addresses were allowed; delivered by a worker that refuses.
        created = await make_endpoint(db, ctx, settings, f"http://[::ffff:127.0.0.1]:{port}/")
        await emit_and_relay(db, ctx.tenant_id)
        assert await dispatch_webhooks(db, strict) == 1
    assert receiver.requests == []
    [logged], _ = await deliveries_list(db, ctx, endpoint_id=created.endpoint.id)
    assert (logged.delivery.last_error or "").startswith("refused:")
    assert "127.0.0.1" in (logged.delivery.last_error or "")
