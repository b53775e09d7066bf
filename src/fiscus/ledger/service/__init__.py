"""Ledger service: the only code that writes ledger tables (through the posting functions).

Every write has two forms: `<noun>_<verb>_in(uow, ...)` runs inside the caller's unit of
work and never commits (for other modules' use cases), and `<noun>_<verb>(db=...)` is the
use case on its own, one unit of work through `Database.run`.
"""

from fiscus.ledger.service._account_part import (
    account_close,
    account_close_in,
    account_create,
    account_create_in,
    account_set_limit,
    account_set_limit_in,
)
from fiscus.ledger.service._batch_part import BatchItem, transfer_batch, transfer_batch_in
from fiscus.ledger.service._fx_part import fx_legs
from fiscus.ledger.service._jobs_part import pending_expire
from fiscus.ledger.service._transfer_part import (
    TransferOutcome,
    transfer_create,
    transfer_create_in,
    transfer_post_pending,
    transfer_post_pending_in,
    transfer_reverse,
    transfer_reverse_in,
    transfer_void_pending,
    transfer_void_pending_in,
)

__all__ = [
    "BatchItem",
    "TransferOutcome",
    "account_close",
    "account_close_in",
    "account_create",
    "account_create_in",
    "account_set_limit",
    "account_set_limit_in",
    "fx_legs",
    "pending_expire",
    "transfer_batch",
    "transfer_batch_in",
    "transfer_create",
    "transfer_create_in",
    "transfer_post_pending",
    "transfer_post_pending_in",
    "transfer_reverse",
    "transfer_reverse_in",
    "transfer_void_pending",
    "transfer_void_pending_in",
]
