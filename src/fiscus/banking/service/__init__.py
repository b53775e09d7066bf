"""Banking service: the use cases that write banking tables (and post to the ledger).

Each top-level function is one unit of work: the banking rows, the ledger postings, the
events and the audit records of a use case commit or roll back together.
"""

from fiscus.banking.service._customers_part import (
    customer_create,
    customer_kyc_review,
    customer_update,
    customer_user_link,
    customer_user_unlink,
    limit_set,
)

__all__ = [
    "customer_create",
    "customer_kyc_review",
    "customer_update",
    "customer_user_link",
    "customer_user_unlink",
    "limit_set",
]
