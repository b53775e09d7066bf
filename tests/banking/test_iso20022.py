"""pain.001 export (validated against the official XSD) and camt.054 import."""

from __future__ import annotations

import importlib.resources
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from fiscus.banking.iso20022 import (
    MAX_CAMT_BYTES,
    PAIN001_NAMESPACE,
    ChargeBearer,
    OutgoingPayment,
    Party,
    camt054_parse,
    pain001_export,
)
from fiscus.core.errors import BusinessRuleViolation, ValidationProblem

NS = {"p": PAIN001_NAMESPACE}
DEBTOR = Party(name="Ana Müller", iban="DE89370400440532013000", bic="COBADEFFXXX")
OTHER_DEBTOR = Party(name="Kowalski Sp. z o.o.", iban="PL61109010140000071219812874")


def _schema() -> etree.XMLSchema:
    # The official ISO 20022 XSD as the sepaxml package ships it (a test dependency).
    xsd = importlib.resources.files("sepaxml") / "schemas" / "pain.001.001.09.xsd"
    with importlib.resources.as_file(xsd) as path:
        return etree.XMLSchema(etree.parse(str(path)))


SCHEMA = _schema()


def _payment(**overrides: object) -> OutgoingPayment:
    values: dict[str, object] = {
        "end_to_end_id": "0193a1b2c3d4e5f60718293a4b5c6d7e",
        "amount_minor": 123456,
        "currency": "EUR",
        "debtor": DEBTOR,
        "creditor": Party(
            name="Jean Dupont", iban="FR1420041010050500013M02606", bic="PSSTFRPPXXX"
        ),
        "requested_execution_date": date(2026, 12, 2),
        "remittance": "Invoice 2026-117",
    }
    values.update(overrides)
    return OutgoingPayment(**values)  # type: ignore[arg-type]


def _export(payments: list[OutgoingPayment]) -> etree._Element:
    document = pain001_export(
        message_id="MSG-20261201-0001",
        created_at=datetime(2026, 12, 1, 9, 30, tzinfo=timezone(timedelta(hours=1))),
        initiating_party="Fiscus Demo Bank",
        payments=payments,
    )
    assert document.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    root = etree.fromstring(document)
    SCHEMA.assertValid(root)
    return root


def test_an_international_batch_is_valid_against_the_xsd_and_reads_back() -> None:
    payments = [
        _payment(),
        _payment(
            end_to_end_id="E2E-JPY-1",
            amount_minor=150000,
            currency="JPY",
            creditor=Party(name="山田太郎", iban="GB29NWBK60161331926819", bic="NWBKGB2L"),
            charges=ChargeBearer.OUR,
            purpose_code="SUPP",
            instruction_id="pay-2",
        ),
        _payment(
            end_to_end_id="E2E-BHD-1",
            amount_minor=1005,
            currency="BHD",
            debtor=OTHER_DEBTOR,
            creditor=Party(name="Gulf Trading W.L.L.", account_number="0012345678", bic="NBOBBHBM"),
            charges=ChargeBearer.BEN,
            remittance=None,
        ),
    ]
    root = _export(payments)
    header = root.find("p:CstmrCdtTrfInitn/p:GrpHdr", NS)
    assert header is not None
    assert header.findtext("p:NbOfTxs", namespaces=NS) == "3"
    assert Decimal(header.findtext("p:CtrlSum", namespaces=NS) or "") == Decimal(
        "1234.56"
    ) + 150000 + Decimal("1.005")
    assert header.findtext("p:CreDtTm", namespaces=NS) == "2026-12-01T08:30:00+00:00"
    blocks = root.findall("p:CstmrCdtTrfInitn/p:PmtInf", NS)
    assert [b.findtext("p:Dbtr/p:Nm", namespaces=NS) for b in blocks] == [
        "Ana Müller",
        OTHER_DEBTOR.name,
    ]
    assert blocks[0].findtext("p:DbtrAcct/p:Id/p:IBAN", namespaces=NS) == DEBTOR.iban
    assert blocks[0].findtext("p:DbtrAgt/p:FinInstnId/p:BICFI", namespaces=NS) == "COBADEFFXXX"
    assert blocks[1].findtext("p:DbtrAgt/p:FinInstnId/p:Othr/p:Id", namespaces=NS) == "NOTPROVIDED"
    assert blocks[0].findtext("p:ReqdExctnDt/p:Dt", namespaces=NS) == "2026-12-02"
    transactions = root.findall(".//p:CdtTrfTxInf", NS)
    amounts = [t.find("p:Amt/p:InstdAmt", NS) for t in transactions]
    assert [(a.text, a.get("Ccy")) for a in amounts if a is not None] == [
        ("1234.56", "EUR"),
        ("150000", "JPY"),
        ("1.005", "BHD"),
    ]
    assert [t.findtext("p:ChrgBr", namespaces=NS) for t in transactions] == ["SHAR", "DEBT", "CRED"]
    assert [t.findtext("p:PmtId/p:EndToEndId", namespaces=NS) for t in transactions] == [
        p.end_to_end_id for p in payments
    ]
    assert transactions[1].findtext("p:PmtId/p:InstrId", namespaces=NS) == "pay-2"
    assert transactions[1].findtext("p:Cdtr/p:Nm", namespaces=NS) == "山田太郎"
    assert transactions[1].findtext("p:Purp/p:Cd", namespaces=NS) == "SUPP"
    assert transactions[0].findtext("p:RmtInf/p:Ustrd", namespaces=NS) == "Invoice 2026-117"
    assert transactions[2].find("p:RmtInf", NS) is None
    assert transactions[2].findtext("p:CdtrAcct/p:Id/p:Othr/p:Id", namespaces=NS) == "0012345678"
    assert (
        transactions[0].findtext("p:CdtrAgt/p:FinInstnId/p:BICFI", namespaces=NS) == "PSSTFRPPXXX"
    )


def test_payments_are_grouped_by_debtor_and_execution_date() -> None:
    later = date(2026, 12, 3)
    root = _export(
        [
            _payment(),
            _payment(requested_execution_date=later),
            _payment(),
            _payment(debtor=OTHER_DEBTOR),
        ]
    )
    blocks = root.findall("p:CstmrCdtTrfInitn/p:PmtInf", NS)
    assert [b.findtext("p:NbOfTxs", namespaces=NS) for b in blocks] == ["2", "1", "1"]
    assert [b.findtext("p:PmtInfId", namespaces=NS) for b in blocks] == [
        "MSG-20261201-0001-1",
        "MSG-20261201-0001-2",
        "MSG-20261201-0001-3",
    ]
    assert blocks[0].findtext("p:CtrlSum", namespaces=NS) == "2469.12"


def test_a_creditor_without_bic_has_no_creditor_agent() -> None:
    root = _export(
        [_payment(creditor=Party(name="Jean Dupont", iban="FR1420041010050500013M02606"))]
    )
    assert root.find(".//p:CdtTrfTxInf/p:CdtrAgt", NS) is None


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"creditor": Party(name="X", iban="not an iban")}, "payments[0].creditor.iban"),
        ({"creditor": Party(name="X")}, "payments[0].creditor.iban"),
        (
            {"creditor": Party(name="X", iban="FR1420041010050500013M02606", bic="ABC")},
            "payments[0].creditor.bic",
        ),
        (
            {"creditor": Party(name=" ", iban="FR1420041010050500013M02606")},
            "payments[0].creditor.name",
        ),
        (
            {"debtor": Party(name="A" * 141, iban="FR1420041010050500013M02606")},
            "payments[0].debtor.name",
        ),
        ({"end_to_end_id": "E" * 36}, "payments[0].end_to_end_id"),
        ({"remittance": "bell\x07"}, "payments[0].remittance"),
        ({"remittance": "half \ud800 pair"}, "payments[0].remittance"),
        ({"remittance": "r" * 141}, "payments[0].remittance"),
        ({"purpose_code": "salary"}, "payments[0].purpose_code"),
        ({"amount_minor": 0}, "payments[0].amount_minor"),
        ({"currency": "EURO"}, "payments[0].currency"),
        ({"charges": "SLEV"}, "payments[0].charges"),
    ],
)
def test_a_payment_that_cannot_be_exported_is_named(
    overrides: dict[str, object], field: str
) -> None:
    with pytest.raises(BusinessRuleViolation) as caught:
        pain001_export(
            message_id="M1",
            created_at=datetime(2026, 12, 1, tzinfo=UTC),
            initiating_party="Bank",
            payments=[_payment(**overrides)],
        )
    problem = caught.value.problem()
    assert problem["status"] == 422 and problem["type"].endswith("/business-rule-violation")
    assert [e["field"] for e in problem["errors"]] == [field]


def test_an_empty_file_and_a_long_message_id_are_refused() -> None:
    with pytest.raises(BusinessRuleViolation) as caught:
        pain001_export(
            message_id="M" * 36,
            created_at=datetime(2026, 12, 1, tzinfo=UTC),
            initiating_party="B",
            payments=[],
        )
    assert {e.field for e in caught.value.errors} == {"message_id", "payments"}


def test_charge_bearer_accepts_the_customers_words_as_strings() -> None:
    root = _export([_payment(charges="BEN")])
    assert root.findtext(".//p:CdtTrfTxInf/p:ChrgBr", namespaces=NS) == "CRED"


# camt.054 ------------------------------------------------------------------------------

# camt.054.001.02 (the version most banks still send): one batch entry of two credits, one
# single credit whose only transaction has no amount of its own, one debit, one pending.
CAMT_02 = """<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.02">
 <BkToCstmrDbtCdtNtfctn>
  <GrpHdr><MsgId>CAMT054-20261201-001</MsgId><CreDtTm>2026-12-01T06:15:00+01:00</CreDtTm></GrpHdr>
  <Ntfctn>
   <Id>NTF-1</Id>
   <CreDtTm>2026-12-01T06:15:00+01:00</CreDtTm>
   <Acct><Id><IBAN>DE89370400440532013000</IBAN></Id><Ccy>EUR</Ccy></Acct>
   <Ntry>
    <Amt Ccy="EUR">350.25</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>
    <BookgDt><Dt>2026-12-01</Dt></BookgDt><ValDt><Dt>2026-12-01</Dt></ValDt>
    <AcctSvcrRef>BATCH-77</AcctSvcrRef>
    <BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn></BkTxCd>
    <NtryDtls>
     <Btch><NbOfTxs>2</NbOfTxs></Btch>
     <TxDtls>
      <Refs><AcctSvcrRef>TX-77-1</AcctSvcrRef><EndToEndId>INV-1001</EndToEndId></Refs>
      <AmtDtls><TxAmt><Amt Ccy="EUR">300.00</Amt></TxAmt></AmtDtls>
      <RltdPties>
       <Dbtr><Nm>Jean Dupont</Nm></Dbtr>
       <DbtrAcct><Id><IBAN>FR1420041010050500013M02606</IBAN></Id></DbtrAcct>
       <CdtrAcct><Id><IBAN>DE89370400440532013000</IBAN></Id></CdtrAcct>
      </RltdPties>
      <RltdAgts><DbtrAgt><FinInstnId><BIC>PSSTFRPPXXX</BIC></FinInstnId></DbtrAgt></RltdAgts>
      <RmtInf><Ustrd>Invoice 1001</Ustrd><Ustrd>thank you</Ustrd></RmtInf>
     </TxDtls>
     <TxDtls>
      <Refs><EndToEndId>NOTPROVIDED</EndToEndId></Refs>
      <AmtDtls><TxAmt><Amt Ccy="EUR">50.25</Amt></TxAmt></AmtDtls>
      <RltdPties><Dbtr><Nm>Éloïse Martin</Nm></Dbtr>
       <DbtrAcct><Id><IBAN>BE68539007547034</IBAN></Id></DbtrAcct></RltdPties>
      <RmtInf><Strd><CdtrRefInf><Ref>RF18539007547034</Ref></CdtrRefInf></Strd></RmtInf>
     </TxDtls>
    </NtryDtls>
   </Ntry>
   <Ntry>
    <Amt Ccy="EUR">12.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>
    <BookgDt><Dt>2026-12-01</Dt></BookgDt><ValDt><Dt>2026-12-02</Dt></ValDt>
    <AcctSvcrRef>SINGLE-9</AcctSvcrRef>
    <NtryDtls><TxDtls>
     <Refs><EndToEndId>E2E-9</EndToEndId></Refs>
     <RltdPties><Dbtr><Nm>Piotr Nowak</Nm></Dbtr>
      <DbtrAcct><Id><IBAN>PL61109010140000071219812874</IBAN></Id></DbtrAcct></RltdPties>
     <RmtInf><Ustrd>Rent December</Ustrd></RmtInf>
    </TxDtls></NtryDtls>
   </Ntry>
   <Ntry>
    <Amt Ccy="EUR">8.10</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts>BOOK</Sts>
    <BookgDt><Dt>2026-12-01</Dt></BookgDt><AcctSvcrRef>FEE-1</AcctSvcrRef>
   </Ntry>
   <Ntry>
    <Amt Ccy="EUR">99.99</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>PDNG</Sts>
    <ValDt><Dt>2026-12-03</Dt></ValDt><AcctSvcrRef>PEND-1</AcctSvcrRef>
   </Ntry>
  </Ntfctn>
 </BkToCstmrDbtCdtNtfctn>
</Document>
"""

# camt.054.001.08: the status is a code, the amount sits on the transaction, names under Pty.
CAMT_08 = """<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.08">
 <BkToCstmrDbtCdtNtfctn>
  <GrpHdr><MsgId>N08-1</MsgId><CreDtTm>2026-12-01T07:00:00Z</CreDtTm></GrpHdr>
  <Ntfctn>
   <Id>N08-NTF</Id>
   <Acct><Id><IBAN>GB29NWBK60161331926819</IBAN></Id></Acct>
   <Ntry>
    <Amt Ccy="JPY">150000</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>
    <BookgDt><DtTm>2026-12-01T08:00:00+09:00</DtTm></BookgDt>
    <NtryDtls><TxDtls>
     <Refs><AcctSvcrRef>JP-1</AcctSvcrRef><EndToEndId>E2E-JPY-1</EndToEndId></Refs>
     <Amt Ccy="JPY">150000</Amt>
     <RltdPties><Dbtr><Pty><Nm>山田太郎</Nm></Pty></Dbtr>
      <DbtrAcct><Id><Othr><Id>1234567</Id></Othr></Id></DbtrAcct></RltdPties>
     <RltdAgts><DbtrAgt><FinInstnId><BICFI>MHCBJPJTXXX</BICFI></FinInstnId></DbtrAgt></RltdAgts>
    </TxDtls></NtryDtls>
   </Ntry>
  </Ntfctn>
 </BkToCstmrDbtCdtNtfctn>
</Document>
"""


def test_a_batch_entry_and_a_single_entry_are_read_per_transaction() -> None:
    parsed = camt054_parse(CAMT_02.encode())
    assert parsed.message_id == "CAMT054-20261201-001"
    assert parsed.created_at == datetime(2026, 12, 1, 5, 15, tzinfo=UTC)
    first, second, single, fee, pending = parsed.transactions
    assert (first.amount_minor, first.currency, first.credit, first.booked) == (
        30000,
        "EUR",
        True,
        True,
    )
    assert first.end_to_end_id == "INV-1001" and first.bank_reference == "TX-77-1"
    assert (first.debtor_name, first.debtor_iban, first.debtor_bic) == (
        "Jean Dupont",
        "FR1420041010050500013M02606",
        "PSSTFRPPXXX",
    )
    assert first.creditor_iban == "DE89370400440532013000"
    assert first.remittance == "Invoice 1001 thank you"
    assert first.booking_date == date(2026, 12, 1) and first.value_date == date(2026, 12, 1)
    assert second.amount_minor == 5025 and second.end_to_end_id is None
    assert second.bank_reference == "BATCH-77/1"  # no reference of its own: entry's + position
    assert second.debtor_name == "Éloïse Martin" and second.remittance == "RF18539007547034"
    assert second.creditor_iban == "DE89370400440532013000"  # the notified account
    assert first.amount_minor + second.amount_minor == 35025  # the batch adds up
    assert single.amount_minor == 1200 and single.end_to_end_id == "E2E-9"
    assert single.value_date == date(2026, 12, 2) and single.remittance == "Rent December"
    assert (fee.credit, fee.amount_minor, fee.end_to_end_id, fee.bank_reference) == (
        False,
        810,
        None,
        "FEE-1",
    )
    assert pending.booked is False and pending.booking_date is None


def test_a_later_version_with_its_moved_elements() -> None:
    (transaction,) = camt054_parse(CAMT_08.encode()).transactions
    assert (transaction.amount_minor, transaction.currency) == (150000, "JPY")
    assert transaction.booked and transaction.booking_date == date(2026, 12, 1)
    assert transaction.debtor_name == "山田太郎" and transaction.debtor_iban is None
    assert transaction.debtor_bic == "MHCBJPJTXXX"
    assert transaction.creditor_iban == "GB29NWBK60161331926819"


def test_parsing_twice_gives_the_same_bank_references() -> None:
    once = [t.bank_reference for t in camt054_parse(CAMT_02.encode()).transactions]
    assert once == [t.bank_reference for t in camt054_parse(CAMT_02.encode()).transactions]
    assert len(set(once)) == len(once)


@pytest.mark.parametrize(
    ("document", "words"),
    [
        (b"", "well-formed"),
        (b"not xml at all", "well-formed"),
        (CAMT_02.encode()[:500], "well-formed"),
        (CAMT_02.replace("camt.054.001.02", "camt.053.001.02").encode(), "not a camt.054"),
        (b"<Document/>", "not a camt.054"),
        (
            CAMT_02.replace("<GrpHdr><MsgId>CAMT054-20261201-001</MsgId>", "<GrpHdr>").encode(),
            "MsgId",
        ),
        (CAMT_02.replace('<Amt Ccy="EUR">12.00</Amt>', "").encode(), "Amt is missing"),
        (
            CAMT_02.replace('<Amt Ccy="EUR">12.00</Amt>', '<Amt Ccy="EUR">12.001</Amt>').encode(),
            "at most 2 decimals",
        ),
        (
            CAMT_02.replace('<Amt Ccy="EUR">12.00</Amt>', '<Amt Ccy="EUR">-12.00</Amt>').encode(),
            "positive",
        ),
        (
            CAMT_02.replace('<Amt Ccy="EUR">12.00</Amt>', '<Amt Ccy="EUR">NaN</Amt>').encode(),
            "positive",
        ),
        (
            CAMT_02.replace('<Amt Ccy="EUR">12.00</Amt>', '<Amt Ccy="EUR">twelve</Amt>').encode(),
            "not a number",
        ),
        (
            CAMT_02.replace('<Amt Ccy="EUR">12.00</Amt>', '<Amt Ccy="XYZ">12.00</Amt>').encode(),
            "unknown currency",
        ),
        (
            CAMT_02.replace('<Amt Ccy="EUR">12.00</Amt>', '<Amt Ccy="EUR">1e30</Amt>').encode(),
            "positive",
        ),
        (
            CAMT_02.replace("<CdtDbtInd>DBIT</CdtDbtInd>", "<CdtDbtInd>BOTH</CdtDbtInd>").encode(),
            "CRDT or DBIT",
        ),
        (CAMT_02.replace("<Dt>2026-12-02</Dt>", "<Dt>2026-13-02</Dt>").encode(), "not a date"),
        (
            CAMT_02.replace(
                '<AmtDtls><TxAmt><Amt Ccy="EUR">50.25</Amt></TxAmt></AmtDtls>', ""
            ).encode(),
            "no amount",
        ),
    ],
)
def test_malformed_documents_are_a_clear_error(document: bytes, words: str) -> None:
    with pytest.raises(ValidationProblem) as caught:
        camt054_parse(document)
    assert words in caught.value.detail
    assert caught.value.problem()["status"] == 400


def test_entities_are_never_expanded_nor_files_read() -> None:
    hostile = CAMT_08.replace(
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/hostname">'
        '<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>',
    ).replace("<Nm>山田太郎</Nm>", "<Nm>&x;&b;</Nm>")
    (transaction,) = camt054_parse(hostile.encode()).transactions
    assert transaction.debtor_name is None  # the references stay unresolved, so no text


def test_a_file_over_the_size_limit_is_refused_before_parsing() -> None:
    with pytest.raises(ValidationProblem, match="larger than"):
        camt054_parse(b" " * (MAX_CAMT_BYTES + 1))


@settings(deadline=None, max_examples=200)
@given(cut=st.integers(0, len(CAMT_02.encode())), junk=st.binary(max_size=20))
def test_damaged_files_are_refused_or_read_never_a_crash(cut: int, junk: bytes) -> None:
    data = CAMT_02.encode()
    try:
        parsed = camt054_parse(data[:cut] + junk + data[cut + len(junk) :])
    except ValidationProblem:
        return
    assert all(t.amount_minor > 0 for t in parsed.transactions)


texts = st.text(min_size=0, max_size=150)
parties = st.builds(
    Party,
    name=texts,
    iban=st.one_of(
        st.none(), st.from_regex(r"[A-Z]{2}[0-9]{2}[A-Za-z0-9]{1,30}", fullmatch=True), texts
    ),
    bic=st.one_of(st.none(), st.sampled_from(["COBADEFFXXX", "NWBKGB2L", "nwbkgb2l"]), texts),
    account_number=st.one_of(st.none(), texts),
)
payments = st.builds(
    OutgoingPayment,
    end_to_end_id=texts,
    amount_minor=st.integers(min_value=-5, max_value=10**15),
    currency=st.sampled_from(["EUR", "JPY", "BHD", "USD", "XXX", "eur"]),
    debtor=parties,
    creditor=parties,
    requested_execution_date=st.dates(),
    charges=st.sampled_from([*ChargeBearer, "SLEV"]),
    remittance=st.one_of(st.none(), texts),
    purpose_code=st.one_of(st.none(), st.sampled_from(["SALA", "SUPP", "sala", "TOOLONG"])),
    instruction_id=st.one_of(st.none(), texts),
)


@settings(deadline=None, max_examples=150)
@given(batch=st.lists(payments, min_size=1, max_size=4))
def test_any_payments_give_an_xsd_valid_file_or_a_named_refusal(
    batch: list[OutgoingPayment],
) -> None:
    refusal: BusinessRuleViolation | None = None
    try:
        document = pain001_export(
            message_id="M1",
            created_at=datetime(2026, 12, 1, tzinfo=UTC),
            initiating_party="Bank",
            payments=batch,
        )
    except BusinessRuleViolation as error:
        refusal = error
    if refusal is not None:
        assert refusal.errors and all(e.field.startswith("payments[") for e in refusal.errors)
        return
    SCHEMA.assertValid(etree.fromstring(document))


def _camt(version: str, entries: list[list[tuple[str, int, str, str | None]]]) -> bytes:
    """A camt.054 document built with lxml: entries of (currency, minor, name, end_to_end)."""
    ns = f"urn:iso:std:iso:20022:tech:xsd:camt.054.001.{version}"

    def sub(parent: etree._Element, path: str, text: str | None = None) -> etree._Element:
        for tag in path.split("/"):
            parent = etree.SubElement(parent, f"{{{ns}}}{tag}")
        parent.text = text
        return parent

    root = etree.Element(f"{{{ns}}}Document", nsmap={None: ns})
    message = sub(root, "BkToCstmrDbtCdtNtfctn")
    sub(message, "GrpHdr/MsgId", "M-1")
    notification = sub(message, "Ntfctn")
    sub(notification, "Id", "N-1")
    sub(notification, "Acct/Id/IBAN", "DE89370400440532013000")
    for entry in entries:
        element = sub(notification, "Ntry")
        total = sum(minor for _, minor, _, _ in entry)
        sub(element, "Amt", _major(entry[0][0], total)).set("Ccy", entry[0][0])
        sub(element, "CdtDbtInd", "CRDT")
        sub(element, "Sts/Cd" if version == "08" else "Sts", "BOOK")
        sub(element, "BookgDt/Dt", "2026-12-01")
        details = sub(element, "NtryDtls")
        for currency, minor, name, end_to_end in entry:
            detail = sub(details, "TxDtls")
            if end_to_end is not None:
                sub(detail, "Refs/EndToEndId", end_to_end)
            amount = "Amt" if version == "08" else "AmtDtls/TxAmt/Amt"
            sub(detail, amount, _major(currency, minor)).set("Ccy", currency)
            sub(detail, "RltdPties/Dbtr/Pty/Nm" if version == "08" else "RltdPties/Dbtr/Nm", name)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _major(currency: str, minor: int) -> str:
    exponent = {"EUR": 2, "JPY": 0, "BHD": 3}[currency]
    return str(Decimal(minor).scaleb(-exponent))


names_in_files = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zs", "Zl", "Zp")),
    min_size=1,
    max_size=40,
)
transactions_in = st.tuples(
    st.sampled_from(["EUR", "JPY", "BHD"]),
    st.integers(min_value=1, max_value=10**12),
    names_in_files,
    st.one_of(st.none(), st.from_regex(r"[A-Za-z0-9-]{1,35}", fullmatch=True)),
)


@settings(deadline=None, max_examples=100)
@given(
    version=st.sampled_from(["02", "08"]),
    entries=st.lists(st.lists(transactions_in, min_size=1, max_size=3), min_size=1, max_size=4),
)
def test_what_a_bank_writes_is_read_back_exactly(
    version: str, entries: list[list[tuple[str, int, str, str | None]]]
) -> None:
    # One currency per entry, as banks book them.
    entries = [[(entry[0][0], m, n, e) for _, m, n, e in entry] for entry in entries]
    parsed = camt054_parse(_camt(version, entries))
    expected = [t for entry in entries for t in entry]
    assert [
        (t.currency, t.amount_minor, t.debtor_name, t.end_to_end_id) for t in parsed.transactions
    ] == expected
    assert all(t.credit and t.booked for t in parsed.transactions)
    assert len({t.bank_reference for t in parsed.transactions}) == len(expected)
