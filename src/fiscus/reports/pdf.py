"""The PDF toolkit on fpdf2: branded pages, numbered footers, tables that span pages."""

from __future__ import annotations

import importlib.util
import io
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import IO, Literal

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from fiscus.core.money import Money, currency_exponent

FONT = "DejaVu"
DEFAULT_COLOUR = "#1F3A5F"
MAX_CELL_CHARS = 200  # a longer text is cut (with an ellipsis) so that a row stays one line
ROW_HEIGHT_MM = 5.5
Align = Literal["L", "R", "C"]


@cache
def _font_dir() -> Path:
    # DejaVu Sans as the matplotlib wheel ships it: found without importing matplotlib.
    spec = importlib.util.find_spec("matplotlib")
    assert spec is not None and spec.submodule_search_locations, "matplotlib is a dependency"
    return Path(next(iter(spec.submodule_search_locations))) / "mpl-data" / "fonts" / "ttf"


def money_text(amount_minor: int, currency: str, *, sign: bool = False) -> str:
    """`1,234.56` (`+1,234.56` with `sign`): the currency's ISO 4217 decimals, exact."""
    value = Money(amount_minor, currency).to_decimal()
    text = f"{value:,.{currency_exponent(currency)}f}"
    return f"+{text}" if sign and amount_minor > 0 else text


def _rgb(colour: str) -> tuple[int, int, int]:
    value = colour.lstrip("#")
    assert len(value) == 6, "colours are validated as #RRGGBB at the edge"
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


@dataclass(frozen=True, slots=True)
class Branding:
    """Whose document it is: the tenant's name, colour (#RRGGBB) and optional PNG logo."""

    name: str
    colour: str = DEFAULT_COLOUR
    logo_png: bytes | None = None


@dataclass(frozen=True, slots=True)
class Column:
    """A table column: its title, width in millimetres and alignment (R for money)."""

    title: str
    width_mm: float
    align: Align = "L"


class _Pages(FPDF):
    """fpdf2 with our header and footer on every page."""

    def __init__(self, branding: Branding, title: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.branding = branding
        self.doc_title = title
        fonts = _font_dir()
        self.add_font(FONT, "", str(fonts / "DejaVuSans.ttf"))
        self.add_font(FONT, "B", str(fonts / "DejaVuSans-Bold.ttf"))
        self.set_auto_page_break(auto=False, margin=18)
        self.set_margins(14, 14, 14)
        self.set_title(title)
        self.set_author(branding.name)
        self.set_creator("fiscus")

    def header(self) -> None:
        red, green, blue = _rgb(self.branding.colour)
        self.set_fill_color(red, green, blue)
        self.rect(0, 0, self.w, 4, style="F")
        x = self.l_margin
        if self.branding.logo_png:
            self.image(io.BytesIO(self.branding.logo_png), x=x, y=7, h=10)
            x += 32
        self.set_xy(x, 8)
        self.set_text_color(red, green, blue)
        self.set_font(FONT, "B", 13)
        self.cell(0, 6, _fit(self.branding.name), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_x(x)
        self.set_text_color(60, 60, 60)
        self.set_font(FONT, "", 9)
        self.cell(0, 5, _fit(self.doc_title), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_text_color(0, 0, 0)
        self.set_y(24)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FONT, "", 8)
        self.set_text_color(110, 110, 110)
        self.cell(0, 5, _fit(self.branding.name), align="L")
        self.set_x(self.l_margin)
        self.cell(0, 5, f"Page {self.page_no()} of {{nb}}", align="R")
        self.set_text_color(0, 0, 0)


def _fit(text: str) -> str:
    return text if len(text) <= MAX_CELL_CHARS else text[: MAX_CELL_CHARS - 1] + "…"


class PdfTable:
    """Rows added one at a time; a row that does not fit starts a new page, which gets the
    column titles again. Cell text is clipped to its column, never wrapped."""

    def __init__(self, pages: _Pages, columns: Sequence[Column]) -> None:
        assert columns, "a table has columns"
        self._pages = pages
        self.columns = tuple(columns)
        self._titles()

    def _titles(self) -> None:
        pdf = self._pages
        red, green, blue = _rgb(pdf.branding.colour)
        pdf.set_font(FONT, "B", 8)
        pdf.set_fill_color(red, green, blue)
        pdf.set_text_color(255, 255, 255)
        for column in self.columns:
            pdf.cell(column.width_mm, ROW_HEIGHT_MM + 0.5, column.title, align=column.align,
                     fill=True)  # fmt: skip
        pdf.ln(ROW_HEIGHT_MM + 0.5)
        pdf.set_text_color(0, 0, 0)
        pdf.set_font(FONT, "", 8)

    def row(self, values: Sequence[str], *, bold: bool = False) -> None:
        """One row; values are already text (money through `money_text`)."""
        assert len(values) == len(self.columns), "one value per column"
        pdf = self._pages
        if pdf.get_y() + ROW_HEIGHT_MM > pdf.page_break_trigger:
            pdf.add_page()
            self._titles()
        pdf.set_font(FONT, "B" if bold else "", 8)
        for column, value in zip(self.columns, values, strict=True):
            text = _fit(value)
            # Clip to the column: drop characters until the text fits its width.
            while text and pdf.get_string_width(text) > column.width_mm - 2:
                text = text[:-2] + "…" if len(text) > 2 else ""
            pdf.cell(column.width_mm, ROW_HEIGHT_MM, text, align=column.align, border="B")
        pdf.ln(ROW_HEIGHT_MM)
        if bold:
            pdf.set_font(FONT, "", 8)


class PdfDocument:
    """A branded A4 document: headings, label/value blocks and tables, then saved."""

    def __init__(self, *, branding: Branding, title: str, subtitle: str | None = None) -> None:
        self._pdf = _Pages(branding, title)
        self._pdf.add_page()
        self._pdf.set_font(FONT, "B", 15)
        self._pdf.cell(0, 8, _fit(title), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        if subtitle:
            self._pdf.set_font(FONT, "", 10)
            self._pdf.cell(0, 6, _fit(subtitle), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self._pdf.ln(2)

    def _room(self, height_mm: float) -> None:
        if self._pdf.get_y() + height_mm > self._pdf.page_break_trigger:
            self._pdf.add_page()

    def heading(self, text: str) -> None:
        """A section heading."""
        self._room(14)
        self._pdf.ln(2)
        self._pdf.set_font(FONT, "B", 11)
        self._pdf.cell(0, 7, _fit(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self._pdf.set_font(FONT, "", 9)

    def paragraph(self, text: str) -> None:
        """Wrapped body text."""
        self._pdf.set_font(FONT, "", 9)
        self._pdf.multi_cell(0, 5, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def key_values(self, pairs: Sequence[tuple[str, str]], *, label_mm: float = 45) -> None:
        """Label: value lines (values right after the label column)."""
        for label, value in pairs:
            self._room(5)
            self._pdf.set_font(FONT, "B", 9)
            self._pdf.cell(label_mm, 5, _fit(label))
            self._pdf.set_font(FONT, "", 9)
            self._pdf.cell(0, 5, _fit(value), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self._pdf.ln(2)

    def table(self, columns: Sequence[Column]) -> PdfTable:
        """A table starting here; add rows with `.row(...)`."""
        self._room(ROW_HEIGHT_MM * 3)
        return PdfTable(self._pdf, columns)

    def save(self, target: str | Path | IO[bytes]) -> None:
        """Write the finished PDF to a path or a binary file."""
        data = self._pdf.output()
        if isinstance(target, (str, Path)):
            Path(target).write_bytes(data)
        else:
            target.write(data)

    def to_bytes(self) -> bytes:
        """The finished PDF (for one- or two-page documents such as receipts)."""
        return bytes(self._pdf.output())
