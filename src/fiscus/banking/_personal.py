"""A customer's personal data: one sealed JSON document per customer, and its blind indexes.

Name, date of birth, registration number, tax id, address, email and phone are sealed
together (one AES-GCM seal per write) under associated data naming the column, tenant
and customer, so a value copied to another row does not open. The email, phone and tax id
are also kept as keyed look-up hashes (HMAC under the key ring's index key) for
exact-match search; the hash purposes differ, so equal strings in two fields never match.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from fiscus.banking.models import KYC_NOTES, PERSONAL, sealed_context
from fiscus.core.errors import ServiceUnavailable
from fiscus.core.keyring import KeyRing, context_of

EMAIL_PURPOSE = "banking.customer.email"
PHONE_PURPOSE = "banking.customer.phone"
TAX_ID_PURPOSE = "banking.customer.tax_id"
PERSONAL_FIELDS = (
    "name",
    "email",
    "phone",
    "birth_date",
    "registration_number",
    "tax_id",
    "address",
)


@dataclass(frozen=True, slots=True)
class Personal:
    """A customer's personal data, opened (never stored like this)."""

    name: str
    email: str
    phone: str | None
    birth_date: str | None  # ISO date
    registration_number: str | None
    tax_id: str | None
    address: dict[str, Any] | None

    def birth(self) -> date | None:
        """The date of birth as a date."""
        return date.fromisoformat(self.birth_date) if self.birth_date else None


def _ready(ring: KeyRing) -> KeyRing:
    if not ring.loaded:
        raise ServiceUnavailable(
            "The encryption keys are not loaded yet; retry shortly.", headers={"Retry-After": "1"}
        )
    return ring


def email_normal(email: str) -> str:
    """The form emails are compared and hashed in: trimmed and lower-cased."""
    return email.strip().lower()


def personal_seal(
    ring: KeyRing, personal: Personal, *, tenant_id: uuid.UUID, customer_id: uuid.UUID
) -> bytes:
    """The sealed document of `personal` for this customer's row."""
    document = json.dumps(asdict(personal), separators=(",", ":"), ensure_ascii=False)
    return _ready(ring).seal_text(
        document, context=sealed_context(PERSONAL, tenant_id, customer_id)
    )


def personal_open(
    ring: KeyRing, sealed: bytes, *, tenant_id: uuid.UUID, customer_id: uuid.UUID
) -> Personal:
    """The personal data sealed in a customer's row."""
    document = _ready(ring).open_text(
        bytes(sealed), context=sealed_context(PERSONAL, tenant_id, customer_id)
    )
    return Personal(**json.loads(document))


def notes_seal(ring: KeyRing, notes: str, *, tenant_id: uuid.UUID, customer_id: uuid.UUID) -> bytes:
    """KYC review notes sealed for this customer's row (they can quote documents)."""
    return _ready(ring).seal_text(notes, context=sealed_context(KYC_NOTES, tenant_id, customer_id))


def notes_open(
    ring: KeyRing, sealed: bytes | None, *, tenant_id: uuid.UUID, customer_id: uuid.UUID
) -> str | None:
    """The KYC notes of a customer, if any."""
    if sealed is None:
        return None
    return _ready(ring).open_text(
        bytes(sealed), context=sealed_context(KYC_NOTES, tenant_id, customer_id)
    )


def email_hash(ring: KeyRing, email: str) -> bytes:
    """The blind index of an email address."""
    return _ready(ring).lookup_hash(email_normal(email), purpose=EMAIL_PURPOSE)


def phone_hash(ring: KeyRing, phone_e164: str) -> bytes:
    """The blind index of a phone number (already E.164)."""
    return _ready(ring).lookup_hash(phone_e164, purpose=PHONE_PURPOSE)


def tax_id_hash(ring: KeyRing, tax_id: str) -> bytes:
    """The blind index of a tax id (already normalised)."""
    return _ready(ring).lookup_hash(tax_id, purpose=TAX_ID_PURPOSE)


def row_text_seal(
    ring: KeyRing, label: str, name: str, *, tenant_id: uuid.UUID, row_id: uuid.UUID
) -> bytes:
    """A text (a payee's name, a payment file) sealed for its row (`label`: the column)."""
    return _ready(ring).seal_text(name, context=context_of(label, tenant_id, row_id))


def row_text_open(
    ring: KeyRing, label: str, sealed: bytes, *, tenant_id: uuid.UUID, row_id: uuid.UUID
) -> str:
    """The text sealed in a row's `label` column."""
    return _ready(ring).open_text(bytes(sealed), context=context_of(label, tenant_id, row_id))
