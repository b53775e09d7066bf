"""ISO 20022 payment files: `pain.001` credit transfer initiations out, `camt.054` notifications in.

Out: `pain001_export` turns pending outgoing payments into a `pain.001.001.09` document (the
version the SEPA rulebooks since 2023 and SWIFT's CBPR+ use), for any currency and with the
charge bearer of an international payment. It is generated with lxml rather than `sepaxml`:
that library writes SEPA-only files (service level SEPA, charges always SLEV, EUR scale).

In: `camt054_parse` reads a bank-to-customer debit/credit notification (camt.054.001.02
and later versions: the element paths it needs are the same but for a transaction's amount,
the status and the parties' names, whose places it knows in both) into plain dataclasses,
amounts in minor units. Bad input is a
`ValidationProblem` (400) naming the element, never a crash and never a guess.
"""

from fiscus.banking.iso20022._camt054 import (
    MAX_CAMT_BYTES,
    MAX_CAMT_TRANSACTIONS,
    CamtNotification,
    CamtTransaction,
    camt054_parse,
)
from fiscus.banking.iso20022._pain001 import (
    MAX_PAYMENTS_PER_FILE,
    PAIN001_NAMESPACE,
    ChargeBearer,
    OutgoingPayment,
    Party,
    pain001_export,
)

__all__ = [
    "MAX_CAMT_BYTES",
    "MAX_CAMT_TRANSACTIONS",
    "MAX_PAYMENTS_PER_FILE",
    "PAIN001_NAMESPACE",
    "CamtNotification",
    "CamtTransaction",
    "ChargeBearer",
    "OutgoingPayment",
    "Party",
    "camt054_parse",
    "pain001_export",
]
