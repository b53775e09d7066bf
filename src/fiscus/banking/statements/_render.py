"""A statement in one of six formats, as a stream of bytes.

CSV, OFX, camt.053 and MT940 stream as they are read: each page of entries is written out
as soon as it arrives. XLSX and PDF need the whole document before its first byte, so they
are built into a temporary file (openpyxl spools rows to disk; the PDF is held by fpdf2
until saved), which is then streamed in chunks and deleted.
"""

from __future__ import annotations

import enum
import tempfile
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import IO, Protocol

import anyio

from fiscus.access.context import Context
from fiscus.banking.statements._files import PdfWriter, XlsxWriter
from fiscus.banking.statements._source import Statement, StatementLine, statement_pages
from fiscus.banking.statements._text import Camt053Writer, CsvWriter, Mt940Writer, OfxWriter
from fiscus.core.db import Database

CHUNK_BYTES = 64 * 1024


class StatementFormat(enum.StrEnum):
    """The formats a statement downloads in."""

    pdf = "pdf"
    csv = "csv"
    xlsx = "xlsx"
    ofx = "ofx"
    camt053 = "camt053"
    mt940 = "mt940"


@dataclass(frozen=True, slots=True)
class FormatInfo:
    """How a format is sent: its media type and file extension."""

    media_type: str
    extension: str


FORMATS: dict[StatementFormat, FormatInfo] = {
    StatementFormat.pdf: FormatInfo("application/pdf", "pdf"),
    StatementFormat.csv: FormatInfo("text/csv; charset=utf-8", "csv"),
    StatementFormat.xlsx: FormatInfo(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"
    ),
    StatementFormat.ofx: FormatInfo("application/x-ofx", "ofx"),
    StatementFormat.camt053: FormatInfo("application/xml", "xml"),
    StatementFormat.mt940: FormatInfo("text/plain; charset=utf-8", "sta"),
}


def file_name(statement: Statement, fmt: StatementFormat) -> str:
    """`statement-<IBAN>-<from>-<to>.<ext>`."""
    return (
        f"statement-{statement.iban}-{statement.start.isoformat()}-{statement.end.isoformat()}"
        f".{FORMATS[fmt].extension}"
    )


class TextWriter(Protocol):
    """A format written line by line."""

    def head(self) -> str: ...
    def page(self, lines: Sequence[StatementLine]) -> str: ...
    def tail(self) -> str: ...


class DocumentWriter(Protocol):
    """A format that needs the whole document before its first byte."""

    def page(self, lines: Sequence[StatementLine]) -> None: ...
    def save(self, target: IO[bytes]) -> None: ...


TEXT_WRITERS: dict[StatementFormat, Callable[[Statement], TextWriter]] = {
    StatementFormat.csv: CsvWriter,
    StatementFormat.ofx: OfxWriter,
    StatementFormat.camt053: Camt053Writer,
    StatementFormat.mt940: Mt940Writer,
}


async def statement_render(
    db: Database, ctx: Context, statement: Statement, fmt: StatementFormat
) -> AsyncIterator[bytes]:
    """The statement's bytes, in chunks as they are produced."""
    if fmt in TEXT_WRITERS:
        writer = TEXT_WRITERS[fmt](statement)
        yield writer.head().encode()
        async for page in statement_pages(db, ctx, statement):
            yield writer.page(page).encode()
        yield writer.tail().encode()
        return
    document: DocumentWriter = (
        XlsxWriter(statement) if fmt is StatementFormat.xlsx else PdfWriter(statement)
    )
    async for page in statement_pages(db, ctx, statement):
        await anyio.to_thread.run_sync(document.page, page)
    with tempfile.TemporaryFile() as spool:
        await anyio.to_thread.run_sync(document.save, spool)
        spool.seek(0)
        while chunk := await anyio.to_thread.run_sync(spool.read, CHUNK_BYTES):
            yield chunk


async def statement_bytes(
    db: Database, ctx: Context, statement: Statement, fmt: StatementFormat
) -> bytes:
    """The whole statement at once (for attachments and stored monthly statements)."""
    return b"".join([chunk async for chunk in statement_render(db, ctx, statement, fmt)])
