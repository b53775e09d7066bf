"""pain.001.001.09: customer credit transfer initiation, generated from pending payments."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum

from lxml import etree

from fiscus.core.errors import BusinessRuleViolation, FieldError, ValidationProblem
from fiscus.core.money import Money

PAIN001_NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"
# A file is one message to the bank: bounded like every batch (STYLE rule 14).
MAX_PAYMENTS_PER_FILE = 10_000

# The XSD's own patterns and lengths, checked here so that a bad value is reported with the
# payment it belongs to instead of as an invalid file at the bank.
_IBAN = re.compile(r"[A-Z]{2}[0-9]{2}[a-zA-Z0-9]{1,30}")
_BIC = re.compile(r"[A-Z0-9]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?")
_PURPOSE = re.compile(r"[A-Z0-9]{4}")
# Characters XML 1.0 cannot carry (control characters other than tab, newline, return).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


class ChargeBearer(StrEnum):
    """Who pays the charges of an international payment (the customer's words)."""

    SHA = "SHA"  # shared: each side pays its own bank
    OUR = "OUR"  # the debtor pays every charge
    BEN = "BEN"  # the beneficiary pays every charge


# ISO 20022's ChargeBearerType1Code for each.
_CHARGE_CODES = {ChargeBearer.SHA: "SHAR", ChargeBearer.OUR: "DEBT", ChargeBearer.BEN: "CRED"}


@dataclass(frozen=True, slots=True)
class Party:
    """A debtor or creditor: a name and an account (IBAN, or a local account number)."""

    name: str
    iban: str | None = None
    bic: str | None = None
    account_number: str | None = None


@dataclass(frozen=True, slots=True)
class OutgoingPayment:
    """One pending outgoing payment as the bank is asked to execute it."""

    end_to_end_id: str  # 1-35 characters, carried to the creditor (e.g. the payment id's hex)
    amount_minor: int
    currency: str
    debtor: Party
    creditor: Party
    requested_execution_date: date
    charges: ChargeBearer = ChargeBearer.SHA
    remittance: str | None = None  # unstructured, at most 140 characters
    purpose_code: str | None = None  # ISO 20022 ExternalPurpose1Code, e.g. SALA, SUPP
    instruction_id: str | None = None  # 1-35 characters, for the bank's reports back to us


def pain001_export(
    *,
    message_id: str,
    created_at: datetime,
    initiating_party: str,
    payments: Sequence[OutgoingPayment],
) -> bytes:
    """The pain.001.001.09 document (UTF-8 bytes) for these payments.

    Payments are grouped into one payment information block per debtor account and
    requested execution date, in the order first seen; the charge bearer goes on each
    transaction. Raises BusinessRuleViolation (422) naming every bad field (`payments[3].creditor.
    iban`), so that nothing half-valid reaches the bank.
    """
    problems = _header_problems(message_id, created_at, initiating_party, payments)
    for index, payment in enumerate(payments[:MAX_PAYMENTS_PER_FILE]):
        problems.extend(_payment_problems(f"payments[{index}]", payment))
    if problems:
        raise BusinessRuleViolation(
            f"{len(problems)} field(s) cannot go into a pain.001 file: "
            + "; ".join(f"{p.field}: {p.message}" for p in problems[:5]),
            errors=problems,
        )
    document = etree.Element(f"{{{PAIN001_NAMESPACE}}}Document", nsmap={None: PAIN001_NAMESPACE})
    initiation = _sub(document, "CstmrCdtTrfInitn")
    header = _sub(initiation, "GrpHdr")
    _sub(header, "MsgId", message_id)
    _sub(header, "CreDtTm", created_at.astimezone(UTC).isoformat(timespec="seconds"))
    _sub(header, "NbOfTxs", str(len(payments)))
    _sub(header, "CtrlSum", _control_sum(payments))
    _sub(_sub(header, "InitgPty"), "Nm", initiating_party)
    for number, group in enumerate(_groups(payments), start=1):
        _payment_information(initiation, f"{message_id[:30]}-{number}", group)
    return etree.tostring(document, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _sub(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, f"{{{PAIN001_NAMESPACE}}}{tag}")
    if text is not None:
        element.text = text
    return element


def _amount(payment: OutgoingPayment) -> Decimal:
    return Money(payment.amount_minor, payment.currency).to_decimal()


def _control_sum(payments: Sequence[OutgoingPayment]) -> str:
    # ISO 20022's control sum adds the amounts as numbers, whatever their currencies.
    return str(sum((_amount(p) for p in payments), Decimal(0)))


def _groups(payments: Sequence[OutgoingPayment]) -> list[list[OutgoingPayment]]:
    by_key: dict[tuple[Party, date], list[OutgoingPayment]] = {}
    for payment in payments:
        by_key.setdefault((payment.debtor, payment.requested_execution_date), []).append(payment)
    return list(by_key.values())


def _payment_information(
    parent: etree._Element, information_id: str, group: list[OutgoingPayment]
) -> None:
    first = group[0]
    block = _sub(parent, "PmtInf")
    _sub(block, "PmtInfId", information_id)
    _sub(block, "PmtMtd", "TRF")
    _sub(block, "NbOfTxs", str(len(group)))
    _sub(block, "CtrlSum", _control_sum(group))
    _sub(_sub(block, "ReqdExctnDt"), "Dt", first.requested_execution_date.isoformat())
    _party(block, "Dbtr", first.debtor)
    _agent(block, "DbtrAgt", first.debtor.bic, required=True)
    for payment in group:
        _transaction(block, payment)


def _transaction(parent: etree._Element, payment: OutgoingPayment) -> None:
    transaction = _sub(parent, "CdtTrfTxInf")
    identification = _sub(transaction, "PmtId")
    if payment.instruction_id:  # an empty optional text is left out, as validated
        _sub(identification, "InstrId", payment.instruction_id)
    _sub(identification, "EndToEndId", payment.end_to_end_id)
    instructed = _sub(_sub(transaction, "Amt"), "InstdAmt", str(_amount(payment)))
    instructed.set("Ccy", payment.currency)
    _sub(transaction, "ChrgBr", _CHARGE_CODES[ChargeBearer(payment.charges)])
    _agent(transaction, "CdtrAgt", payment.creditor.bic, required=False)
    _party(transaction, "Cdtr", payment.creditor)
    if payment.purpose_code is not None:
        _sub(_sub(transaction, "Purp"), "Cd", payment.purpose_code)
    if payment.remittance:
        _sub(_sub(transaction, "RmtInf"), "Ustrd", payment.remittance)


def _party(parent: etree._Element, role: str, party: Party) -> None:
    """`Dbtr`/`Cdtr` with its name, then `DbtrAcct`/`CdtrAcct` (the XSD's order)."""
    _sub(_sub(parent, role), "Nm", party.name)
    account_id = _sub(_sub(parent, f"{role}Acct"), "Id")
    if party.iban is not None:
        _sub(account_id, "IBAN", party.iban)
    else:
        assert party.account_number is not None  # checked by _party_problems
        _sub(_sub(account_id, "Othr"), "Id", party.account_number)


def _agent(parent: etree._Element, role: str, bic: str | None, *, required: bool) -> None:
    if bic is None and not required:
        return
    institution = _sub(_sub(parent, role), "FinInstnId")
    if bic is not None:
        _sub(institution, "BICFI", bic)
    else:
        # The debtor's agent must be named; without a BIC the convention is NOTPROVIDED.
        _sub(_sub(institution, "Othr"), "Id", "NOTPROVIDED")


def _text_problem(value: str | None, limit: int, *, required: bool = True) -> str | None:
    if not required and not value:
        return None  # an optional text left out or empty
    if value is None:
        return "is required"
    if not value.strip():
        return "must not be blank"
    if len(value) > limit:
        return f"is longer than {limit} characters"
    if _NOT_XML.search(value):
        return "contains control characters"
    return None


def _header_problems(
    message_id: str, created_at: datetime, initiating_party: str, payments: Sequence[object]
) -> list[FieldError]:
    problems = []
    for field, value, limit in (
        ("message_id", message_id, 35),
        ("initiating_party", initiating_party, 140),
    ):
        if (message := _text_problem(value, limit)) is not None:
            problems.append(FieldError(field, message))
    assert created_at.tzinfo is not None, "created_at must be timezone-aware"
    if not 1 <= len(payments) <= MAX_PAYMENTS_PER_FILE:
        problems.append(
            FieldError("payments", f"a file holds 1 to {MAX_PAYMENTS_PER_FILE} payments")
        )
    return problems


def _party_problems(path: str, party: Party) -> list[FieldError]:
    problems = []
    if (message := _text_problem(party.name, 140)) is not None:
        problems.append(FieldError(f"{path}.name", message))
    if (party.iban is None) == (party.account_number is None):
        problems.append(FieldError(f"{path}.iban", "give an IBAN or an account number"))
    elif party.iban is not None and not _IBAN.fullmatch(party.iban):
        problems.append(FieldError(f"{path}.iban", "is not an IBAN in electronic format"))
    elif party.iban is None and (message := _text_problem(party.account_number, 34)) is not None:
        problems.append(FieldError(f"{path}.account_number", message))
    if party.bic is not None and not _BIC.fullmatch(party.bic):
        problems.append(FieldError(f"{path}.bic", "is not a BIC (8 or 11 characters)"))
    return problems


def _payment_problems(path: str, payment: OutgoingPayment) -> list[FieldError]:
    problems = [
        *_party_problems(f"{path}.debtor", payment.debtor),
        *_party_problems(f"{path}.creditor", payment.creditor),
    ]
    for field, value, limit, required in (
        ("end_to_end_id", payment.end_to_end_id, 35, True),
        ("instruction_id", payment.instruction_id, 35, False),
        ("remittance", payment.remittance, 140, False),
    ):
        if (message := _text_problem(value, limit, required=required)) is not None:
            problems.append(FieldError(f"{path}.{field}", message))
    if payment.purpose_code is not None and not _PURPOSE.fullmatch(payment.purpose_code):
        problems.append(FieldError(f"{path}.purpose_code", "is not a 4-character purpose code"))
    if payment.charges not in _CHARGE_CODES:
        problems.append(FieldError(f"{path}.charges", "must be SHA, OUR or BEN"))
    try:
        if _amount(payment) <= 0:
            problems.append(FieldError(f"{path}.amount_minor", "must be positive"))
    except ValidationProblem as error:
        field = error.errors[0].field if error.errors else "amount_minor"
        problems.append(FieldError(f"{path}.{field}", error.detail))
    return problems
