"""What identity keeps at rest sealed with the key ring, and its blind indexes.

Emails and display names are personal data; TOTP secrets are secrets. Each is sealed
(`KeyRing.seal_text`) with associated data naming its table, column, tenant and row, so a
value copied to another row (the same user id exists once per tenant) does not open.
Look-ups never need the plaintext: an email is found by its look-up hash (purpose
"email", normalised), a backup code by its hash (purpose "mfa-backup-code").

Every sealed column is registered here, at import of `fiscus.identity.models`, so that
`fiscus keys rotate` re-encrypts it.
"""

from __future__ import annotations

import uuid

from fiscus.core.errors import ServiceUnavailable
from fiscus.core.keyring import KeyRing, SealedColumn, context_of, register_sealed_column

USER_EMAIL = "users.email_sealed"
USER_NAME = "users.display_name_sealed"
USER_TOTP = "users.totp_secret_sealed"
PENDING_EMAIL = "email_changes.email_sealed"
FACTOR_ADDRESS = "mfa_factors.address_sealed"
EMAIL_PURPOSE = "email"
BACKUP_CODE_PURPOSE = "mfa-backup-code"
ONE_TIME_CODE_PURPOSE = "mfa-one-time-code"
SEALED_COLUMNS = (USER_EMAIL, USER_NAME, USER_TOTP, PENDING_EMAIL, FACTOR_ADDRESS)


def _context_for(label: str) -> SealedColumn:
    table, column = label.split(".")
    return SealedColumn(
        table=table,
        column=column,
        key=("tenant_id", "id"),
        context=lambda key: context_of(label, key[0], key[1]),
    )


for _label in SEALED_COLUMNS:
    register_sealed_column(_context_for(_label))


def _ready(ring: KeyRing) -> KeyRing:
    # The keys are read from the database at start; if it was unreachable then, the ring
    # loads once it is back (within a second). Until then this is an outage, not a bug.
    if not ring.loaded:
        raise ServiceUnavailable(
            "The encryption keys are not loaded yet; retry shortly.", headers={"Retry-After": "1"}
        )
    return ring


def seal(
    ring: KeyRing, label: str, *, tenant_id: uuid.UUID, row_id: uuid.UUID, value: str
) -> bytes:
    """`value` sealed for the column `label` of the row (tenant_id, row_id)."""
    return _ready(ring).seal_text(value, context=context_of(label, tenant_id, row_id))


def unseal(
    ring: KeyRing, label: str, *, tenant_id: uuid.UUID, row_id: uuid.UUID, sealed: bytes
) -> str:
    """The value `seal` sealed for this column and row."""
    return _ready(ring).open_text(bytes(sealed), context=context_of(label, tenant_id, row_id))


def email_normal(email: str) -> str:
    """The form emails are compared, hashed and stored in: trimmed and lower-cased."""
    return email.strip().lower()


def email_hash(ring: KeyRing, email: str) -> bytes:
    """The blind index of an address: the same in every tenant, useless without the keys."""
    return _ready(ring).lookup_hash(email_normal(email), purpose=EMAIL_PURPOSE)


def backup_code_hash(ring: KeyRing, normalised_code: str) -> bytes:
    """What a backup code is stored and found as."""
    return _ready(ring).lookup_hash(normalised_code, purpose=BACKUP_CODE_PURPOSE)


def one_time_code_hash(ring: KeyRing, factor_id: uuid.UUID, code: str) -> bytes:
    """What an emailed or texted code is stored as: keyed, and bound to its factor."""
    return _ready(ring).lookup_hash(f"{factor_id}:{code}", purpose=ONE_TIME_CODE_PURPOSE)
