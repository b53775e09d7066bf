"""Ledger service: the only code that writes ledger tables (through the posting functions)."""

from fiscus.ledger.service._account_part import account_close, account_create, account_set_limit
from fiscus.ledger.service._batch_part import BatchItem, transfer_batch
from fiscus.ledger.service._fx_part import fx_legs
from fiscus.ledger.service._jobs_part import pending_expire
from fiscus.ledger.service._transfer_part import (
    TransferOutcome,
    transfer_create,
    transfer_create_in,
    transfer_post_pending,
    transfer_reverse,
    transfer_void_pending,
)

__all__ = [
    "BatchItem",
    "TransferOutcome",
    "account_close",
    "account_create",
    "account_set_limit",
    "fx_legs",
    "pending_expire",
    "transfer_batch",
    "transfer_create",
    "transfer_create_in",
    "transfer_post_pending",
    "transfer_reverse",
    "transfer_void_pending",
]
