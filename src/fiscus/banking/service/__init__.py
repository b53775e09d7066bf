"""Banking service: the use cases that write banking tables (and post to the ledger).

Each top-level function is one unit of work: the banking rows, the ledger postings, the
events and the audit records of a use case commit or roll back together.
"""

from fiscus.banking.service._accounts_part import (
    account_close,
    account_freeze,
    account_mark_dormant,
    account_open,
    account_unfreeze,
    general_ledger_ensure,
    iban_generate,
    product_create,
    settings_set,
)
from fiscus.banking.service._customers_part import (
    customer_create,
    customer_kyc_review,
    customer_update,
    customer_user_link,
    customer_user_unlink,
    limit_set,
)
from fiscus.banking.service._deposits_part import deposit_create
from fiscus.banking.service._history_part import account_balance, account_transactions
from fiscus.banking.service._incoming_part import (
    Incoming,
    incoming_book,
    incoming_of_camt,
)
from fiscus.banking.service._orders_part import (
    RunReport,
    business_date_get,
    business_date_in,
    business_date_set,
    rule_of,
    standing_order_change_status,
    standing_order_create,
    standing_order_execute,
    standing_order_update,
    standing_orders_run,
    standing_orders_run_all,
    transfer_schedule,
)
from fiscus.banking.service._payees_part import (
    payee_create,
    payee_delete,
    payee_get,
    payee_list,
    payee_read,
)
from fiscus.banking.service._payment_files_part import (
    ExportFile,
    payment_export_get,
    payments_export,
)
from fiscus.banking.service._payments_part import (
    PaymentMade,
    payment_create,
    payment_get,
    payment_list,
    payment_read,
    payment_reject,
    payment_release,
    payment_return,
    payment_settle,
)
from fiscus.banking.service._transfers_part import (
    Moved,
    channel_of,
    iban_normal,
    transfer_create,
)

__all__ = [
    "ExportFile",
    "Incoming",
    "Moved",
    "PaymentMade",
    "RunReport",
    "account_balance",
    "account_close",
    "account_freeze",
    "account_mark_dormant",
    "account_open",
    "account_transactions",
    "account_unfreeze",
    "business_date_get",
    "business_date_in",
    "business_date_set",
    "channel_of",
    "customer_create",
    "customer_kyc_review",
    "customer_update",
    "customer_user_link",
    "customer_user_unlink",
    "deposit_create",
    "general_ledger_ensure",
    "iban_generate",
    "iban_normal",
    "incoming_book",
    "incoming_of_camt",
    "limit_set",
    "payee_create",
    "payee_delete",
    "payee_get",
    "payee_list",
    "payee_read",
    "payment_create",
    "payment_export_get",
    "payment_get",
    "payment_list",
    "payment_read",
    "payment_reject",
    "payment_release",
    "payment_return",
    "payment_settle",
    "payments_export",
    "product_create",
    "rule_of",
    "settings_set",
    "standing_order_change_status",
    "standing_order_create",
    "standing_order_execute",
    "standing_order_update",
    "standing_orders_run",
    "standing_orders_run_all",
    "transfer_create",
    "transfer_schedule",
]
