"""What the money-moving routes share: the required Idempotency-Key and the reply."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from fiscus.banking.schemas import TransferRead
from fiscus.banking.service import Moved
from fiscus.core.errors import IdempotencyKeyRequired
from fiscus.core.idempotency import HEADER, REPLAYED_HEADER, check_key, model_response


def money_key(request: Request) -> str:
    """The request's Idempotency-Key, required on every route that moves money.

    Banking keeps it on the transfer itself, in the posting's own transaction and without
    expiry (as the ledger does), instead of the generic store's separate transactions.
    """
    raw = request.headers.get(HEADER)
    if raw is None:
        raise IdempotencyKeyRequired(
            f"This operation moves money: send an {HEADER} header (a UUID works well).",
            field=HEADER,
        )
    return check_key(raw)


def moved_response(moved: Moved) -> Response:
    """201 with the transfer; a replay says so in `Idempotent-Replayed`."""
    response = model_response(TransferRead.model_validate(moved.transfer), status_code=201)
    if moved.replayed:
        response.headers[REPLAYED_HEADER] = "true"
    return response
