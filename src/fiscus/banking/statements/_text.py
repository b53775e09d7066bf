"""The statement formats written line by line: CSV, OFX 2, camt.053 and MT940.

Each writer is `head()`, `page(lines)` and `tail()`, each returning text to send at once:
nothing but the current page is ever held, so a download streams whatever its length.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from xml.sax.saxutils import escape

from fiscus.banking.statements._source import Statement, StatementLine
from fiscus.core.money import Money


def decimal_text(amount_minor: int, currency: str) -> str:
    """`-1234.56`: plain decimal with the currency's ISO 4217 places, no grouping."""
    value: Decimal = Money(amount_minor, currency).to_decimal()
    return f"{value:f}"


class CsvWriter:
    """UTF-8 CSV: ISO dates, decimal amounts with a currency column; the opening balance
    first, then one row per entry, then the closing balance and the totals."""

    HEADER = ("booking_date", "value_date", "type", "description", "transfer_id",
              "reference", "amount", "currency", "balance")  # fmt: skip

    def __init__(self, statement: Statement) -> None:
        self.s = statement

    def _rows(self, rows: Sequence[Sequence[str]]) -> str:
        out = io.StringIO()
        csv.writer(out, lineterminator="\r\n").writerows(rows)
        return out.getvalue()

    def _money(self, amount: int) -> str:
        return decimal_text(amount, self.s.currency)

    def head(self) -> str:
        s = self.s
        opening = (s.start.isoformat(), "", "opening_balance", "", "", "", "", s.currency,
                   self._money(s.opening))  # fmt: skip
        return self._rows([self.HEADER, opening])

    def page(self, lines: Sequence[StatementLine]) -> str:
        return self._rows(
            [
                (
                    line.booking_date.isoformat(),
                    line.value_date.isoformat(),
                    "credit" if line.amount > 0 else "debit",
                    line.description,
                    str(line.transfer_id),
                    line.reference,
                    self._money(line.amount),
                    self.s.currency,
                    self._money(line.balance),
                )
                for line in lines
            ]
        )

    def tail(self) -> str:
        s, end = self.s, self.s.end.isoformat()
        return self._rows(
            [
                (end, "", "closing_balance", "", "", "", "", s.currency, self._money(s.closing)),
                (end, "", "total_in", "", "", "", self._money(s.money_in), s.currency, ""),
                (end, "", "total_out", "", "", "", self._money(s.money_out), s.currency, ""),
            ]
        )


def _ofx_time(moment: datetime | date) -> str:
    if isinstance(moment, datetime):
        return moment.astimezone(UTC).strftime("%Y%m%d%H%M%S.000[0:UTC]")
    return moment.strftime("%Y%m%d120000.000[0:UTC]")


def _x(text: str, limit: int) -> str:
    return escape(text[:limit])


def _ofx_account(iban: str) -> str:
    # OFX allows 22 characters: an IBAN that is longer is given by its BBAN's last 22.
    return iban if len(iban) <= 22 else iban[4:][-22:]


class OfxWriter:
    """OFX 2.2 (XML): a bank statement response; the opening balance is in BALLIST."""

    def __init__(self, statement: Statement) -> None:
        self.s = statement

    def head(self) -> str:
        s = self.s
        return (
            '<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n'
            '<?OFX OFXHEADER="200" VERSION="220" SECURITY="NONE" OLDFILEUID="NONE"'
            ' NEWFILEUID="NONE"?>\n'
            "<OFX><SIGNONMSGSRSV1><SONRS><STATUS><CODE>0</CODE><SEVERITY>INFO</SEVERITY>"
            f"</STATUS><DTSERVER>{_ofx_time(s.created_at)}</DTSERVER><LANGUAGE>ENG</LANGUAGE>"
            f"<FI><ORG>{_x(s.branding.name, 32)}</ORG></FI></SONRS></SIGNONMSGSRSV1>\n"
            "<BANKMSGSRSV1><STMTTRNRS>"
            f"<TRNUID>{s.reference}</TRNUID><STATUS><CODE>0</CODE><SEVERITY>INFO</SEVERITY>"
            f"</STATUS><STMTRS><CURDEF>{s.currency}</CURDEF><BANKACCTFROM>"
            f"<BANKID>{_x(s.bank_code or 'FISCUS', 9)}</BANKID><ACCTID>{_ofx_account(s.iban)}"
            "</ACCTID>"
            "<ACCTTYPE>CHECKING</ACCTTYPE></BANKACCTFROM>\n"
            f"<BANKTRANLIST><DTSTART>{_ofx_time(s.start)}</DTSTART>"
            f"<DTEND>{_ofx_time(s.end)}</DTEND>\n"
        )

    def page(self, lines: Sequence[StatementLine]) -> str:
        currency = self.s.currency
        return "".join(
            "<STMTTRN>"
            f"<TRNTYPE>{'CREDIT' if line.amount > 0 else 'DEBIT'}</TRNTYPE>"
            f"<DTPOSTED>{_ofx_time(line.booking_date)}</DTPOSTED>"
            f"<DTAVAIL>{_ofx_time(line.value_date)}</DTAVAIL>"
            f"<TRNAMT>{decimal_text(line.amount, currency)}</TRNAMT>"
            f"<FITID>{line.transfer_id}</FITID>"
            f"<NAME>{_x(line.description, 32)}</NAME>"
            f"<MEMO>{_x(line.description, 255)}</MEMO>"
            "</STMTTRN>\n"
            for line in lines
        )

    def tail(self) -> str:
        s = self.s
        return (
            "</BANKTRANLIST>"
            f"<LEDGERBAL><BALAMT>{decimal_text(s.closing, s.currency)}</BALAMT>"
            f"<DTASOF>{_ofx_time(s.end)}</DTASOF></LEDGERBAL>"
            "<BALLIST><BAL><NAME>Opening balance</NAME><DESC>Balance at the start of the"
            " period</DESC><BALTYPE>DOLLAR</BALTYPE>"
            f"<VALUE>{decimal_text(s.opening, s.currency)}</VALUE>"
            f"<DTASOF>{_ofx_time(s.start)}</DTASOF></BAL></BALLIST>"
            "</STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>\n"
        )


CAMT053_NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"


def _camt_amount(amount: int, currency: str) -> str:
    return f'<Amt Ccy="{currency}">{decimal_text(abs(amount), currency)}</Amt>'


def _camt_side(amount: int) -> str:
    return f"<CdtDbtInd>{'CRDT' if amount >= 0 else 'DBIT'}</CdtDbtInd>"


class Camt053Writer:
    """ISO 20022 camt.053.001.02 (bank-to-customer statement): opening (OPBD) and closing
    (CLBD) balances and the totals first, then one booked entry per line."""

    def __init__(self, statement: Statement) -> None:
        self.s = statement

    def _balance(self, code: str, amount: int, on: date) -> str:
        return (
            f"<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp>"
            f"{_camt_amount(amount, self.s.currency)}{_camt_side(amount)}"
            f"<Dt><Dt>{on.isoformat()}</Dt></Dt></Bal>"
        )

    def head(self) -> str:
        s = self.s

        def money(amount: int) -> str:
            return decimal_text(amount, s.currency)

        created = s.created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        net = s.money_in - s.money_out
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<Document xmlns="{CAMT053_NAMESPACE}"><BkToCstmrStmt>'
            f"<GrpHdr><MsgId>{s.reference}</MsgId><CreDtTm>{created}</CreDtTm></GrpHdr>"
            f"<Stmt><Id>{s.reference}</Id><CreDtTm>{created}</CreDtTm>"
            f"<FrToDt><FrDtTm>{s.start.isoformat()}T00:00:00Z</FrDtTm>"
            f"<ToDtTm>{s.end.isoformat()}T23:59:59Z</ToDtTm></FrToDt>"
            f"<Acct><Id><IBAN>{s.iban}</IBAN></Id><Ccy>{s.currency}</Ccy>"
            f"<Svcr><FinInstnId><Nm>{_x(s.branding.name, 140)}</Nm></FinInstnId></Svcr></Acct>"
            f"{self._balance('OPBD', s.opening, s.start)}"
            f"{self._balance('CLBD', s.closing, s.end)}"
            "<TxsSummry><TtlNtries>"
            f"<NbOfNtries>{s.count}</NbOfNtries><Sum>{money(s.money_in + s.money_out)}</Sum>"
            f"<TtlNetNtryAmt>{money(abs(net))}</TtlNetNtryAmt>{_camt_side(net)}</TtlNtries>"
            f"<TtlCdtNtries><Sum>{money(s.money_in)}</Sum></TtlCdtNtries>"
            f"<TtlDbtNtries><Sum>{money(s.money_out)}</Sum></TtlDbtNtries></TxsSummry>\n"
        )

    def page(self, lines: Sequence[StatementLine]) -> str:
        currency = self.s.currency
        return "".join(
            f"<Ntry><NtryRef>{line.reference}</NtryRef>{_camt_amount(line.amount, currency)}"
            f"{_camt_side(line.amount)}<Sts>BOOK</Sts>"
            f"<BookgDt><Dt>{line.booking_date.isoformat()}</Dt></BookgDt>"
            f"<ValDt><Dt>{line.value_date.isoformat()}</Dt></ValDt>"
            f"<AcctSvcrRef>{line.transfer_id.hex}</AcctSvcrRef>"
            "<BkTxCd><Prtry><Cd>FISCUS</Cd></Prtry></BkTxCd>"
            f"<AddtlNtryInf>{_x(line.description, 500)}</AddtlNtryInf></Ntry>\n"
            for line in lines
        )

    def tail(self) -> str:
        return "</Stmt></BkToCstmrStmt></Document>\n"


# SWIFT's x character set; anything else in a description becomes a space.
_NOT_SWIFT = re.compile(r"[^A-Za-z0-9/\-?:().,'+ ]")


def swift_text(text: str, limit: int) -> str:
    """`text` in SWIFT's character set (accents dropped), at most `limit` characters."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return " ".join(_NOT_SWIFT.sub(" ", plain).split())[:limit] or "NONREF"


def _swift_amount(amount: int, currency: str) -> str:
    return decimal_text(abs(amount), currency).replace(".", ",")


class Mt940Writer:
    """SWIFT MT940 (customer statement), one message: :60F: opening, a :61:/:86: pair per
    entry, :62F: closing."""

    def __init__(self, statement: Statement) -> None:
        self.s = statement

    def _balance(self, tag: str, amount: int, on: date) -> str:
        side = "C" if amount >= 0 else "D"
        return (
            f":{tag}:{side}{on:%y%m%d}{self.s.currency}{_swift_amount(amount, self.s.currency)}\r\n"
        )

    def head(self) -> str:
        s = self.s
        return (
            f":20:{s.reference[:16]}\r\n:25:{s.iban}\r\n:28C:1/1\r\n"
            f"{self._balance('60F', s.opening, s.start)}"
        )

    def page(self, lines: Sequence[StatementLine]) -> str:
        currency = self.s.currency
        return "".join(
            f":61:{line.value_date:%y%m%d}{line.booking_date:%m%d}"
            f"{'C' if line.amount > 0 else 'D'}{_swift_amount(line.amount, currency)}"
            f"NTRFNONREF//{line.reference[:16]}\r\n"
            f":86:{swift_text(line.description, 65)}\r\n"
            for line in lines
        )

    def tail(self) -> str:
        return f"{self._balance('62F', self.s.closing, self.s.end)}-\r\n"
