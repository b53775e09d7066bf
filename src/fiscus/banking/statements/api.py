"""Statements and documents: /v1/accounts/{id}/statement (six formats) and /statements,
/v1/transfers/{id}/receipt.pdf, /v1/customers/{id}/tax-summary."""

from __future__ import annotations

import enum
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.responses import Response, StreamingResponse

from fiscus.access.context import Context
from fiscus.access.deps import authorized
from fiscus.banking.statements._documents import receipt_pdf, tax_summary, tax_summary_pdf
from fiscus.banking.statements._monthly import statement_list
from fiscus.banking.statements._render import (
    FORMATS,
    StatementFormat,
    file_name,
    statement_render,
)
from fiscus.banking.statements._source import statement_open
from fiscus.banking.statements.schemas import BankStatementPage, TaxSummaryRead
from fiscus.core import clock
from fiscus.core.clock import CalendarDate
from fiscus.core.http import problem_responses
from fiscus.core.idempotency import model_response
from fiscus.core.pagination import Cursor, Limit
from fiscus.deps import DatabaseDep, KeyRingDep

router = APIRouter(tags=["banking"])
Reader = Annotated[Context, authorized("bank_statements:read")]

_DOWNLOAD: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The statement file (`Content-Disposition` names it)",
        "content": {info.media_type: {} for info in FORMATS.values()},
        "headers": {
            "Content-Disposition": {
                "description": 'attachment; filename="statement-<IBAN>-<from>-<to>.<ext>"',
                "schema": {"type": "string"},
            }
        },
    },
    **problem_responses(400, 401, 403, 404),
}


def attachment(name: str) -> dict[str, str]:
    """The header that makes a response a download named `name`."""
    return {"Content-Disposition": f'attachment; filename="{name}"'}


@router.get(
    "/v1/accounts/{account_id}/statement",
    summary="An account statement for a period, in one of six formats",
    response_class=StreamingResponse,
    responses=_DOWNLOAD,
)
async def download_statement(
    account_id: uuid.UUID,
    ctx: Reader,
    db: DatabaseDep,
    from_: Annotated[
        CalendarDate | None,
        Query(alias="from", description="First day, YYYY-MM-DD (default: the 1st of this month)"),
    ] = None,
    to: Annotated[
        CalendarDate | None, Query(description="Last day, inclusive, YYYY-MM-DD (default: today)")
    ] = None,
    format_: Annotated[
        StatementFormat, Query(alias="format", description="File format")
    ] = StatementFormat.pdf,
) -> StreamingResponse:
    """Opening balance, every posted entry with its running balance, closing balance and
    totals, from the ledger; the same numbers in every format. Streams: CSV, OFX, camt.053
    and MT940 as the entries are read; XLSX and PDF once built. A portal user: only their
    customers' accounts (others answer 404 `bank-account-not-found`)."""
    today = clock.now().date()
    start, end = from_ or min(today.replace(day=1), to or today), to or today
    statement = await statement_open(db, ctx, account_id=account_id, start=start, end=end)
    return StreamingResponse(
        statement_render(db, ctx, statement, format_),
        media_type=FORMATS[format_].media_type,
        headers=attachment(file_name(statement, format_)),
    )


@router.get(
    "/v1/accounts/{account_id}/statements",
    summary="An account's monthly statements, newest first",
    response_model=BankStatementPage,
    responses=problem_responses(400, 401, 403, 404),
)
async def list_statements(
    account_id: uuid.UUID, ctx: Reader, db: DatabaseDep, cursor: Cursor = None, limit: Limit = 50
) -> BankStatementPage:
    """Each month's totals as closed by the monthly job; `download` gets the file (the same
    numbers, generated from the ledger)."""
    rows, next_cursor = await statement_list(
        db, ctx, account_id=account_id, cursor=cursor, limit=limit
    )
    return BankStatementPage(data=rows, next_cursor=next_cursor)


_PDF: dict[int | str, dict[str, Any]] = {
    200: {"description": "The PDF", "content": {"application/pdf": {}}},
    **problem_responses(400, 401, 403, 404),
}


@router.get(
    "/v1/transfers/{transfer_id}/receipt.pdf",
    summary="A transfer's receipt (PDF)",
    response_class=Response,
    responses=_PDF,
)
async def transfer_receipt(transfer_id: uuid.UUID, ctx: Reader, db: DatabaseDep) -> Response:
    """Parties, amount, reference, time and status of a deposit or internal transfer (a
    portal user: to or from their accounts; others answer 404 `bank-transfer-not-found`)."""
    data = await receipt_pdf(db, ctx, transfer_id=transfer_id)
    return Response(
        data, media_type="application/pdf", headers=attachment(f"receipt-{transfer_id}.pdf")
    )


class TaxSummaryFormat(enum.StrEnum):
    """How the tax summary is returned."""

    json = "json"
    pdf = "pdf"


@router.get(
    "/v1/customers/{customer_id}/tax-summary",
    summary="A customer's year-end tax summary: interest, tax withheld, fees",
    response_model=TaxSummaryRead,
    responses={
        200: {"content": {"application/pdf": {}}, "description": "JSON, or the PDF"},
        **problem_responses(400, 401, 403, 404),
    },
)
async def customer_tax_summary(
    customer_id: uuid.UUID,
    ctx: Reader,
    db: DatabaseDep,
    keyring: KeyRingDep,
    year: Annotated[
        int | None, Query(ge=2000, le=2200, description="Calendar year (default: last year)")
    ] = None,
    format_: Annotated[
        TaxSummaryFormat, Query(alias="format", description="json or pdf")
    ] = TaxSummaryFormat.json,
) -> Response:
    """Per account of the customer, from the ledger: interest credited (from interest
    expense), tax withheld (to tax payable) and fees (to fee income, net of refunds). A
    portal user: only customers they act for."""
    year = year or clock.now().year - 1
    summary = await tax_summary(db, ctx, customer_id=customer_id, year=year)
    if format_ is TaxSummaryFormat.json:
        return model_response(summary)
    data = await tax_summary_pdf(db, ctx, keyring, summary=summary)
    return Response(
        data,
        media_type="application/pdf",
        headers=attachment(f"tax-summary-{customer_id}-{year}.pdf"),
    )
