"""The in-memory half of a batch: the same rules as `ledger_check_legs`, in request order.

The accounts are locked for the whole batch before this runs, so the state here is the
state in the database plus this batch's own earlier transfers.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from fiscus.ledger.codes import ResultCode
from fiscus.ledger.schemas import LegIn, TransferCreate


@dataclass(slots=True)
class Account:
    """A locked account row as the batch sees it."""

    currency: str
    closed: bool
    debits_must_not_exceed_credits: bool
    credits_must_not_exceed_debits: bool
    overdraft_limit: int | None
    debits_pending: int
    debits_posted: int
    credits_pending: int
    credits_posted: int
    version: int
    holder_user_id: Any
    dirty: bool = False

    def state(self) -> tuple[int, int, int, int, int, bool]:
        """The mutable part, for rolling a failed chain back."""
        return (
            self.debits_pending,
            self.debits_posted,
            self.credits_pending,
            self.credits_posted,
            self.version,
            self.dirty,
        )

    def restore(self, state: tuple[int, int, int, int, int, bool]) -> None:
        """Undo a failed chain's changes."""
        (
            self.debits_pending,
            self.debits_posted,
            self.credits_pending,
            self.credits_posted,
            self.version,
            self.dirty,
        ) = state


@dataclass(frozen=True, slots=True)
class Item:
    """One item's outcome."""

    index: int
    code: str
    transfer_id: uuid.UUID | None
    status: str


@dataclass
class Decided:
    """Outcomes in request order, and what to write for the accepted transfers."""

    items: list[Item] = field(default_factory=list)
    accepted: list[tuple[int, uuid.UUID, int]] = field(default_factory=list)
    entries: list[tuple[Any, ...]] = field(default_factory=list)


def _leg_code(leg: LegIn, a: Account) -> ResultCode | None:
    """The balance rule this leg breaks on its account, in precedence order."""
    if leg.direction == "debit" and a.debits_must_not_exceed_credits:
        total = a.debits_pending + a.debits_posted + leg.amount
        if a.overdraft_limit is not None and total > a.credits_posted + a.overdraft_limit:
            return ResultCode.EXCEEDS_OVERDRAFT_LIMIT
        if total > a.credits_posted + (a.overdraft_limit or 0):
            return ResultCode.EXCEEDS_CREDITS
    if leg.direction == "credit" and a.credits_must_not_exceed_debits:
        total = a.credits_pending + a.credits_posted + leg.amount
        if a.overdraft_limit is not None and total > a.debits_posted + a.overdraft_limit:
            return ResultCode.EXCEEDS_CREDIT_LIMIT
        if total > a.debits_posted + (a.overdraft_limit or 0):
            return ResultCode.EXCEEDS_DEBITS
    return None


_BALANCE_ORDER = (
    ResultCode.EXCEEDS_OVERDRAFT_LIMIT,
    ResultCode.EXCEEDS_CREDITS,
    ResultCode.EXCEEDS_CREDIT_LIMIT,
    ResultCode.EXCEEDS_DEBITS,
)


def refusal(t: TransferCreate, accounts: dict[uuid.UUID, Account]) -> ResultCode | None:
    """The first account or balance rule the transfer breaks, as `ledger_check_legs`."""
    legs = t.leg_list()
    found = [accounts.get(leg.account_id) for leg in legs]
    if any(a is None for a in found):
        return ResultCode.ACCOUNT_NOT_FOUND
    pairs = [(leg, a) for leg, a in zip(legs, found, strict=True) if a is not None]
    if any(a.currency != (leg.currency or t.currency) for leg, a in pairs):
        return ResultCode.CURRENCY_MISMATCH
    if any(a.closed for _, a in pairs):
        return ResultCode.ACCOUNT_CLOSED
    codes = {code for leg, a in pairs if (code := _leg_code(leg, a)) is not None}
    return next((code for code in _BALANCE_ORDER if code in codes), None)


def _apply(
    t: TransferCreate,
    transfer_id: uuid.UUID,
    accounts: dict[uuid.UUID, Account],
    saved: dict[uuid.UUID, tuple[int, int, int, int, int, bool]],
    entries: list[tuple[Any, ...]],
) -> int:
    """Move the balances and stage the entries; return the transfer's amount."""
    amount = 0
    for leg_index, leg in enumerate(t.leg_list()):
        a = accounts[leg.account_id]
        saved.setdefault(leg.account_id, a.state())
        currency = leg.currency or t.currency
        debit = leg.direction == "debit"
        if t.pending and debit:
            a.debits_pending += leg.amount
        elif t.pending:
            a.credits_pending += leg.amount
        elif debit:
            a.debits_posted += leg.amount
        else:
            a.credits_posted += leg.amount
        a.version += 1
        a.dirty = True
        if debit and currency == t.currency:
            amount += leg.amount
        entries.append(
            (
                transfer_id,
                leg_index,
                leg.account_id,
                currency,
                leg.direction,
                0 if t.pending else leg.amount,
                leg.amount if t.pending else 0,
                a.version,
                a.debits_pending,
                a.debits_posted,
                a.credits_pending,
                a.credits_posted,
            )
        )
    return amount


def decide(
    transfers: list[TransferCreate],
    ids: list[uuid.UUID],
    static: list[ResultCode | None],
    accounts: dict[uuid.UUID, Account],
    chains: list[list[int]],
) -> Decided:
    """Decide every item in order; a refused member fails its whole chain."""
    out = Decided()
    for chain in chains:
        if transfers[chain[-1]].linked:  # the batch ends inside a chain
            out.items.extend(
                Item(i, ResultCode.LINKED_EVENT_CHAIN_OPEN.value, None, "rejected") for i in chain
            )
            continue
        saved: dict[uuid.UUID, tuple[int, int, int, int, int, bool]] = {}
        accepted: list[tuple[int, uuid.UUID, int]] = []
        entries: list[tuple[Any, ...]] = []
        failed: tuple[int, ResultCode] | None = None
        for index in chain:
            code = static[index] or refusal(transfers[index], accounts)
            if code is not None:
                failed = (index, code)
                break
            accepted.append(
                (index, ids[index], _apply(transfers[index], ids[index], accounts, saved, entries))
            )
        if failed is None:
            out.accepted.extend(accepted)
            out.entries.extend(entries)
            out.items.extend(
                Item(i, "ok", ids[i], "pending" if transfers[i].pending else "posted")
                for i in chain
            )
            continue
        for account_id, state in saved.items():
            accounts[account_id].restore(state)
        out.items.extend(
            Item(
                i,
                failed[1].value if i == failed[0] else ResultCode.LINKED_EVENT_FAILED.value,
                None,
                "rejected",
            )
            for i in chain
        )
    return out


def event_payload(
    t: TransferCreate, transfer_id: uuid.UUID, accounts: dict[uuid.UUID, Account]
) -> tuple[str, dict[str, Any]]:
    """(type, payload) of an accepted batch transfer's event, as `ledger_emit` builds it."""
    legs = []
    for leg in t.leg_list():
        item: dict[str, Any] = {
            "account_id": str(leg.account_id),
            "direction": leg.direction,
            "amount": leg.amount,
            "currency": leg.currency or t.currency,
        }
        holder = accounts[leg.account_id].holder_user_id
        if holder is not None:
            item["holder_user_id"] = holder
        legs.append(item)
    status = "pending" if t.pending else "posted"
    payload = {
        "transfer_id": str(transfer_id),
        "status": status,
        "kind": "transfer",
        "currency": t.currency,
        "parent_id": None,
        "legs": legs,
    }
    return f"transfer.{status}", payload
