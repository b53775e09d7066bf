"""The statement formats whose writer needs the whole document: XLSX and PDF.

Rows go to the writer a page at a time (openpyxl's write-only mode spools them to a
temporary file itself); the finished document is saved to a temporary file, which the
download then streams.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import IO, Any, cast

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from fiscus.banking.statements._source import Statement, StatementLine
from fiscus.core.money import Money, currency_exponent
from fiscus.reports import Column, PdfDocument, money_text


def _cell(sheet: WriteOnlyWorksheet, value: object, number_format: str | None = None) -> Any:
    """A typed cell. openpyxl writes a Decimal as a number and a date as a date; its
    stubs name only str, float and datetime, hence the cast."""
    cell = WriteOnlyCell(sheet, value=cast("Any", value))
    if number_format is not None:
        cell.number_format = number_format
    return cell


def _number_format(currency: str) -> str:
    places = currency_exponent(currency)
    return "#,##0" + ("." + "0" * places if places else "")


class XlsxWriter:
    """Sheet "Summary" (period, opening, in, out, closing), then sheet "Entries": a frozen
    header row, dates as dates and amounts as numbers."""

    HEADER = ("Booking date", "Value date", "Description", "Transfer", "Reference", "Amount",
              "Currency", "Balance")  # fmt: skip

    def __init__(self, statement: Statement) -> None:
        self.s = statement
        self.book = Workbook(write_only=True)
        self.money_format = _number_format(statement.currency)
        summary: WriteOnlyWorksheet = self.book.create_sheet("Summary")
        bold = Font(bold=True)
        for label, value in self._summary():
            label_cell = _cell(summary, label)
            label_cell.font = bold
            formats = {Decimal: self.money_format, date: "yyyy-mm-dd"}
            summary.append([label_cell, _cell(summary, value, formats.get(type(value)))])
        self.sheet: WriteOnlyWorksheet = self.book.create_sheet("Entries")
        self.sheet.freeze_panes = "A2"
        header = []
        for title in self.HEADER:
            cell = WriteOnlyCell(self.sheet, value=title)
            cell.font = bold
            header.append(cell)
        self.sheet.append(header)

    def _amount(self, amount: int) -> Decimal:
        return Money(amount, self.s.currency).to_decimal()

    def _summary(self) -> list[tuple[str, object]]:
        s = self.s
        return [
            ("Bank", s.branding.name),
            ("IBAN", s.iban),
            ("Currency", s.currency),
            ("From", s.start),
            ("To", s.end),
            ("Opening balance", self._amount(s.opening)),
            ("Money in", self._amount(s.money_in)),
            ("Money out", self._amount(s.money_out)),
            ("Closing balance", self._amount(s.closing)),
            ("Entries", s.count),
        ]

    def page(self, lines: Sequence[StatementLine]) -> None:
        for line in lines:
            amount = _cell(self.sheet, self._amount(line.amount), self.money_format)
            balance = _cell(self.sheet, self._amount(line.balance), self.money_format)
            booked = _cell(self.sheet, line.booking_date, "yyyy-mm-dd")
            valued = _cell(self.sheet, line.value_date, "yyyy-mm-dd")
            self.sheet.append([booked, valued, line.description, str(line.transfer_id),
                               line.reference, amount, self.s.currency, balance])  # fmt: skip

    def save(self, target: IO[bytes]) -> None:
        self.book.save(target)


class PdfWriter:
    """The branded statement: account and totals, then the entries in a table that repeats
    its header on every page, then the closing balance."""

    COLUMNS = (
        Column("Date", 23),
        Column("Description", 71),
        Column("Ref.", 18),
        Column("Amount", 35, align="R"),
        Column("Balance", 35, align="R"),
    )

    def __init__(self, statement: Statement) -> None:
        s = self.s = statement
        money = self._money
        self.doc = PdfDocument(
            branding=s.branding,
            title="Account statement",
            subtitle=f"{s.start.isoformat()} to {s.end.isoformat()}",
        )
        pairs = [("IBAN", s.iban), ("Currency", s.currency)]
        if s.nickname:
            pairs.append(("Account", s.nickname))
        pairs += [
            ("Opening balance", money(s.opening)),
            ("Money in", money(s.money_in)),
            ("Money out", money(s.money_out)),
            ("Closing balance", money(s.closing)),
            ("Entries", str(s.count)),
        ]
        self.doc.key_values(pairs)
        self.table = self.doc.table(self.COLUMNS)
        self.table.row([s.start.isoformat(), "Opening balance", "", "", money(s.opening)],
                       bold=True)  # fmt: skip

    def _money(self, amount: int, *, sign: bool = False) -> str:
        return money_text(amount, self.s.currency, sign=sign)

    def page(self, lines: Sequence[StatementLine]) -> None:
        for line in lines:
            self.table.row(
                [
                    line.booking_date.isoformat(),
                    line.description,
                    line.reference,
                    self._money(line.amount, sign=True),
                    self._money(line.balance),
                ]
            )

    def save(self, target: IO[bytes]) -> None:
        s = self.s
        self.table.row([s.end.isoformat(), "Closing balance", "", "", self._money(s.closing)],
                       bold=True)  # fmt: skip
        self.doc.save(target)
