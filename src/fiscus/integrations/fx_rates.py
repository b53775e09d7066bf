"""Exchange rates from a provider in the ECB's daily reference-rate format.

The European Central Bank publishes, each working day around 16:00 CET, the euro's
reference rates against about 30 currencies as `eurofxref-daily.xml`: a `gesmes:Envelope`
whose `Cube` holds one `Cube time="YYYY-MM-DD"` with `Cube currency="USD" rate="1.0842"`
children (1 EUR = rate units of the currency). Many mirrors and commercial providers
serve the same document. Rates are effective from 16:00 CET (15:00 UTC) of their date.

The XML is parsed with `defusedxml` (no entity expansion, no external references): the
provider is outside our trust boundary.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from xml.etree.ElementTree import Element

import httpx
from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

from fiscus.core.money import CURRENCIES

ECB_NAMESPACE = "{http://www.ecb.int/vocabulary/2002-08-01/eurofxref}"
ECB_PUBLISHED_UTC = time(15, 0)
MAX_DOCUMENT_BYTES = 1_000_000


class ProviderDocumentError(ValueError):
    """The provider's answer is not a reference-rate document fiscus can read."""


@dataclass(frozen=True, slots=True)
class ProviderRate:
    """One unit of `base` costs `mid` units of `quote` from `effective_at` on."""

    base: str
    quote: str
    mid: Decimal
    effective_at: datetime


def ecb_parse(document: bytes, *, base: str = "EUR") -> list[ProviderRate]:
    """The rates of an ECB-format document, for every currency fiscus knows; a currency
    it does not know is skipped, a malformed rate refuses the whole document."""
    if len(document) > MAX_DOCUMENT_BYTES:
        raise ProviderDocumentError("the document is larger than a reference-rate file")
    try:
        root = ElementTree.fromstring(document)
    except (ElementTree.ParseError, DefusedXmlException) as error:
        raise ProviderDocumentError(f"not well-formed XML: {error}") from None
    rates: list[ProviderRate] = []
    for day in root.iter(f"{ECB_NAMESPACE}Cube"):
        if "time" not in day.attrib:
            continue
        effective_at = _effective_at(day.attrib["time"])
        rates.extend(_day_rates(day, base=base, effective_at=effective_at))
    if not rates:
        raise ProviderDocumentError("the document holds no rates")
    return rates


def _effective_at(value: str) -> datetime:
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise ProviderDocumentError(f"{value!r} is not a date") from None
    return datetime.combine(day, ECB_PUBLISHED_UTC, tzinfo=UTC)


def _day_rates(day: Element, *, base: str, effective_at: datetime) -> list[ProviderRate]:
    found: list[ProviderRate] = []
    for cube in day.iter(f"{ECB_NAMESPACE}Cube"):
        currency, text = cube.attrib.get("currency"), cube.attrib.get("rate")
        if currency is None or text is None:
            continue
        try:
            mid = Decimal(text)
        except InvalidOperation:
            raise ProviderDocumentError(f"{currency}: {text!r} is not a rate") from None
        if not mid.is_finite() or mid <= 0:
            raise ProviderDocumentError(f"{currency}: {text!r} is not a positive rate")
        if currency in CURRENCIES and currency != base:
            found.append(
                ProviderRate(base=base, quote=currency, mid=mid, effective_at=effective_at)
            )
    return found


async def ecb_fetch(url: str, *, timeout_s: float = 10.0) -> list[ProviderRate]:
    """GET `url` (no redirects followed) and parse it; ProviderDocumentError or
    httpx.HTTPError when it cannot be used."""
    async with httpx.AsyncClient(timeout=timeout_s, follow_redirects=False) as client:
        response = await client.get(url, headers={"Accept": "application/xml, text/xml"})
    if response.status_code != 200:
        raise ProviderDocumentError(f"the provider answered {response.status_code}")
    return ecb_parse(response.content)
