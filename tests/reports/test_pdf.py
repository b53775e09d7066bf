"""The PDF toolkit: branded pages, "Page n of m", tables that repeat their header, Unicode."""

from __future__ import annotations

import io
import re
import zlib

import pypdf
import pytest

from fiscus.reports import Branding, Column, PdfDocument, money_text


def _png(width: int = 2, height: int = 2) -> bytes:
    """A tiny valid PNG (red pixels), built by hand."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return len(data).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def _pages(data: bytes) -> list[str]:
    return [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages]


def test_a_long_table_breaks_across_pages_with_its_header_and_page_numbers() -> None:
    doc = PdfDocument(
        branding=Branding(name="Bänk Ümlaut", colour="#0B5FFF", logo_png=_png()),
        title="Test report",
        subtitle="Ελληνικά · Русский",
    )
    doc.key_values([("Owner", "Zoë Ødegård"), ("Total", money_text(123456789, "EUR"))])
    table = doc.table([Column("No.", 30), Column("Text", 100), Column("Amount", 52, align="R")])
    for number in range(1, 201):
        table.row([str(number), f"Row {number} ß café", money_text(number * 101, "EUR")])
    pages = _pages(doc.to_bytes())
    assert len(pages) >= 4
    for index, text in enumerate(pages, start=1):
        assert f"Page {index} of {len(pages)}" in text
        assert "Bänk Ümlaut" in text
        assert "No. Text Amount" in text  # the header on every page
    everything = "\n".join(pages)
    assert "Zoë Ødegård" in everything and "1,234,567.89" in everything
    assert "Ελληνικά" in everything and "Русский" in everything
    rows = re.findall(r"Row (\d+) ß café", everything)
    assert [int(r) for r in rows] == list(range(1, 201))  # every row once, in order
    assert "1 Row 1 ß café 1.01" in everything and "200 Row 200 ß café 202.00" in everything


@pytest.mark.parametrize(
    ("amount", "currency", "sign", "expected"),
    [
        (123456, "EUR", False, "1,234.56"),
        (-5, "EUR", False, "-0.05"),
        (1500, "JPY", True, "+1,500"),
        (1234567, "BHD", False, "1,234.567"),
        (0, "EUR", True, "0.00"),
    ],
)
def test_money_is_exact_in_the_currencys_places(
    amount: int, currency: str, sign: bool, expected: str
) -> None:
    assert money_text(amount, currency, sign=sign) == expected
