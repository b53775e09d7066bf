"""camt.054: bank-to-customer debit/credit notifications, parsed into dataclasses."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from lxml import etree

from fiscus.core.errors import ValidationProblem
from fiscus.core.money import MAX_MINOR, currency_exponent

_NAMESPACE = re.compile(r"urn:iso:std:iso:20022:tech:xsd:camt\.054\.001\.(0[2-9]|1[0-9])")
# Limits (STYLE rule 14): a notification file is a day's credits, not a data dump.
MAX_CAMT_BYTES = 20 * 1024 * 1024
MAX_CAMT_TRANSACTIONS = 50_000
# No DTD, no entities, no network: a hostile file cannot read files or blow up in memory.
_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_pis=True
)


class CamtDocumentInvalid(ValidationProblem):
    """A camt.054 file cannot be read: not XML, not camt.054, or a required element missing."""

    type_slug = "camt-document-invalid"
    title = "Invalid camt.054 file"


@dataclass(frozen=True, slots=True)
class CamtTransaction:
    """One credit or debit the bank notified, amounts in minor units (always positive)."""

    notification_id: str
    # The bank's reference for this transaction (its own, else the entry's plus a position):
    # stable across re-deliveries of the same file, so the import's idempotency key.
    bank_reference: str
    credit: bool  # True for money in (CRDT), False for money out (DBIT)
    booked: bool  # False while the bank reports it as pending or information only
    amount_minor: int
    currency: str
    booking_date: date | None
    value_date: date | None
    end_to_end_id: str | None  # None when the sender gave none (NOTPROVIDED)
    debtor_name: str | None
    debtor_iban: str | None
    debtor_bic: str | None
    creditor_iban: str | None  # the transaction's, else the notified account's
    remittance: str | None


@dataclass(frozen=True, slots=True)
class CamtNotification:
    """A parsed camt.054 message."""

    message_id: str
    created_at: datetime | None
    transactions: tuple[CamtTransaction, ...]


class _Reader:
    """Element lookups in the document's namespace, with errors that name the path."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace

    def path(self, steps: str) -> str:
        return "/".join(f"{{{self.namespace}}}{step}" for step in steps.split("/"))

    def all(self, element: etree._Element, steps: str) -> list[etree._Element]:
        return list(element.iterfind(self.path(steps)))

    def one(self, element: etree._Element, steps: str) -> etree._Element | None:
        return element.find(self.path(steps))

    def text(self, element: etree._Element, *candidates: str) -> str | None:
        """The stripped text of the first candidate path present, else None."""
        for steps in candidates:
            found = element.findtext(self.path(steps))
            if found is not None and found.strip():
                return found.strip()
        return None

    def required(self, element: etree._Element, where: str, *candidates: str) -> str:
        found = self.text(element, *candidates)
        if found is None:
            raise CamtDocumentInvalid(f"{where}: {candidates[0]} is missing.", field=where)
        return found


def camt054_parse(data: bytes) -> CamtNotification:
    """Every transaction of a camt.054 document, in order; ValidationProblem (400) if bad."""
    if len(data) > MAX_CAMT_BYTES:
        raise CamtDocumentInvalid(f"The file is larger than {MAX_CAMT_BYTES} bytes.", field="file")
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as error:
        detail = f"The file is not well-formed XML: {error}."
        raise CamtDocumentInvalid(detail, field="file") from None
    namespace = etree.QName(root).namespace or ""
    if etree.QName(root).localname != "Document" or not _NAMESPACE.fullmatch(namespace):
        raise CamtDocumentInvalid(
            "The file is not a camt.054 document (camt.054.001.02 to .19 are read).",
            field="Document",
        )
    read = _Reader(namespace)
    message = read.one(root, "BkToCstmrDbtCdtNtfctn")
    if message is None:
        raise CamtDocumentInvalid("BkToCstmrDbtCdtNtfctn is missing.", field="Document")
    transactions: list[CamtTransaction] = []
    for n, notification in enumerate(read.all(message, "Ntfctn")):
        for e, entry in enumerate(read.all(notification, "Ntry")):
            where = f"Ntfctn[{n}]/Ntry[{e}]"
            transactions.extend(_entry(read, notification, entry, where))
            if len(transactions) > MAX_CAMT_TRANSACTIONS:
                raise CamtDocumentInvalid(
                    f"The file holds more than {MAX_CAMT_TRANSACTIONS} transactions.", field="file"
                )
    return CamtNotification(
        message_id=read.required(message, "GrpHdr", "GrpHdr/MsgId"),
        created_at=_datetime(read.text(message, "GrpHdr/CreDtTm"), "GrpHdr/CreDtTm"),
        transactions=tuple(transactions),
    )


@dataclass(frozen=True, slots=True)
class _Entry:
    """What an entry's transactions share."""

    notification_id: str
    reference: str
    credit: bool
    booked: bool
    currency: str
    amount_minor: int
    booking_date: date | None
    value_date: date | None
    account_iban: str | None  # the notified account: the creditor's for a credit


# Where a transaction's own amount is: from camt.054.001.05 on, else in its amount details.
_DETAIL_AMOUNTS = ("Amt", "AmtDtls/TxAmt/Amt", "AmtDtls/InstdAmt/Amt")


def _entry(
    read: _Reader, notification: etree._Element, element: etree._Element, where: str
) -> list[CamtTransaction]:
    notification_id = read.required(notification, where, "Id")
    currency, amount_minor = _amount(read, element, where, "Amt")
    direction = read.required(element, where, "CdtDbtInd")
    if direction not in {"CRDT", "DBIT"}:
        raise CamtDocumentInvalid(f"{where}: CdtDbtInd must be CRDT or DBIT.", field=where)
    entry = _Entry(
        notification_id=notification_id,
        reference=read.text(element, "AcctSvcrRef", "NtryRef") or f"{notification_id}/{where}",
        credit=direction == "CRDT",
        booked=read.text(element, "Sts/Cd", "Sts") == "BOOK",  # a code element from .08 on
        currency=currency,
        amount_minor=amount_minor,
        booking_date=_date(read.text(element, "BookgDt/Dt", "BookgDt/DtTm"), where),
        value_date=_date(read.text(element, "ValDt/Dt", "ValDt/DtTm"), where),
        account_iban=read.text(notification, "Acct/Id/IBAN"),
    )
    details = read.all(element, "NtryDtls/TxDtls")
    if not details:
        return [_transaction(read, entry, None, entry.reference, currency, amount_minor)]
    found = []
    for t, detail in enumerate(details):
        detail_where = f"{where}/TxDtls[{t}]"
        path = next((p for p in _DETAIL_AMOUNTS if read.one(detail, p) is not None), None)
        if path is not None:
            own_currency, own_amount = _amount(read, detail, detail_where, path)
        elif len(details) == 1:
            own_currency, own_amount = currency, amount_minor
        else:
            raise CamtDocumentInvalid(
                f"{detail_where}: a batch entry's transaction has no amount.", field=detail_where
            )
        reference = read.text(detail, "Refs/AcctSvcrRef") or f"{entry.reference}/{t}"
        found.append(_transaction(read, entry, detail, reference, own_currency, own_amount))
    return found


def _transaction(
    read: _Reader,
    entry: _Entry,
    detail: etree._Element | None,
    reference: str,
    currency: str,
    amount_minor: int,
) -> CamtTransaction:
    def text(*paths: str) -> str | None:
        return None if detail is None else read.text(detail, *paths)

    end_to_end_id = text("Refs/EndToEndId")
    return CamtTransaction(
        notification_id=entry.notification_id,
        bank_reference=reference,
        credit=entry.credit,
        booked=entry.booked,
        amount_minor=amount_minor,
        currency=currency,
        booking_date=entry.booking_date,
        value_date=entry.value_date,
        end_to_end_id=None if end_to_end_id == "NOTPROVIDED" else end_to_end_id,
        # The party's name moved under Pty in camt.054.001.08.
        debtor_name=text("RltdPties/Dbtr/Pty/Nm", "RltdPties/Dbtr/Nm"),
        debtor_iban=text("RltdPties/DbtrAcct/Id/IBAN"),
        debtor_bic=text("RltdAgts/DbtrAgt/FinInstnId/BICFI", "RltdAgts/DbtrAgt/FinInstnId/BIC"),
        creditor_iban=text("RltdPties/CdtrAcct/Id/IBAN") or entry.account_iban,
        remittance=None if detail is None else _remittance(read, detail),
    )


def _remittance(read: _Reader, detail: etree._Element) -> str | None:
    lines = [(line.text or "").strip() for line in read.all(detail, "RmtInf/Ustrd") if line.text]
    structured = read.text(detail, "RmtInf/Strd/CdtrRefInf/Ref")
    return " ".join([*(line for line in lines if line), *filter(None, [structured])]) or None


def _amount(read: _Reader, element: etree._Element, where: str, path: str) -> tuple[str, int]:
    """(currency, minor units) of an amount element; exact, positive, within range."""
    node = read.one(element, path)
    if node is None or not (node.text or "").strip():
        raise CamtDocumentInvalid(f"{where}: {path} is missing.", field=where)
    currency = node.get("Ccy") or ""
    try:
        exponent = currency_exponent(currency)
        value = Decimal((node.text or "").strip())
    except ValidationProblem:
        raise CamtDocumentInvalid(
            f"{where}: {path} has an unknown currency {currency!r}.", field=where
        ) from None
    except InvalidOperation:
        raise CamtDocumentInvalid(f"{where}: {path} is not a number.", field=where) from None
    scaled = value.scaleb(exponent) if value.is_finite() else Decimal(-1)
    if scaled <= 0 or scaled != scaled.to_integral_value() or scaled > MAX_MINOR:
        raise CamtDocumentInvalid(
            f"{where}: {path} must be a positive amount with at most {exponent} decimals "
            f"in {currency}.",
            field=where,
        )
    return currency, int(scaled)


def _date(value: str | None, where: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        raise CamtDocumentInvalid(f"{where}: {value!r} is not a date.", field=where) from None


def _datetime(value: str | None, where: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise CamtDocumentInvalid(f"{where}: {value!r} is not a date-time.", field=where) from None
