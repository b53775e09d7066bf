"""Joint accounts: holders, object-level access through any holder, and signing.

Anna is the primary holder of a funded account; Ben (and, where three sign, Cleo) are
more holders, each with a portal user. Under the signing rule `any` either may sign;
under `all` a transfer or payment one of them starts waits as an approval until every
other signing holder approved it, and moves then (checked again at that moment).
"""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from fiscus.core import clock
from fiscus.core.db import Database
from fiscus.events.catalogue import CATALOGUE
from tests.banking.factories import account, customer, events_of, link, ok, product
from tests.banking.payment_factories import MakePrincipal, payment_body
from tests.factories import Principal


async def _joint(
    client: httpx.AsyncClient,
    make_principal: MakePrincipal,
    *,
    rule: str = "any",
    more: tuple[str, ...] = ("co_owner",),
) -> dict[str, Any]:
    """Anna's account (10,000) held also by one customer per role in `more`, each with an
    owner portal user; a separate account of Dora to pay into."""
    staff = await make_principal(role="owner")
    anna, dora = await customer(client, staff), await customer(client, staff)
    current = await product(client, staff)
    shared = ok(
        await client.post(
            "/v1/accounts",
            json={"customer_id": anna["id"], "product_id": current["id"], "nickname": "Anna's"},
            headers=staff.headers,
        ),
        201,
    )
    await _deposit(client, staff, shared["id"], 10_000)
    elsewhere = await account(client, staff, customer_id=dora["id"], product_id=current["id"])
    users = {"anna": await _portal(client, make_principal, staff, anna["id"])}
    holders = {"anna": anna["id"]}
    for n, role in enumerate(more):
        name = ("ben", "cleo", "finn")[n]
        made = await customer(client, staff)
        ok(
            await client.post(
                f"/v1/accounts/{shared['id']}/holders",
                json={"customer_id": made["id"], "role": role, "nickname": f"{name}'s home"},
                headers=staff.headers,
            ),
            201,
        )
        holders[name] = made["id"]
        users[name] = await _portal(client, make_principal, staff, made["id"])
    if rule != "any":
        _signing(await _set_rule(client, staff, shared["id"], rule), rule)
    return {"staff": staff, "shared": shared, "elsewhere": elsewhere, "holders": holders,
            **users}  # fmt: skip


async def _portal(
    client: httpx.AsyncClient, make_principal: MakePrincipal, staff: Principal, customer_id: str
) -> Principal:
    user = await make_principal(role="customer", tenant_id=staff.tenant_id)
    await link(client, staff, customer_id, user, "owner")
    return user


async def _deposit(
    client: httpx.AsyncClient, staff: Principal, account_id: str, amount: int
) -> None:
    ok(
        await client.post(
            f"/v1/accounts/{account_id}/deposits",
            json={"amount": amount, "currency": "EUR", "reference": "cash"},
            headers={**staff.headers, "Idempotency-Key": secrets.token_hex(8)},
        ),
        201,
    )


async def _set_rule(
    client: httpx.AsyncClient, staff: Principal, account_id: str, rule: str
) -> dict[str, Any]:
    return ok(  # type: ignore[no-any-return]
        await client.put(
            f"/v1/accounts/{account_id}/signing-rule",
            json={"signing_rule": rule},
            headers=staff.headers,
        )
    )


def _signing(read: dict[str, Any], rule: str) -> None:
    assert read["signing_rule"] == rule, read


def _send(w: dict[str, Any], amount: int = 1_000) -> dict[str, Any]:
    return {"from_account_id": w["shared"]["id"], "to_account_id": w["elsewhere"]["id"],
            "amount": amount, "currency": "EUR"}  # fmt: skip


async def _transfer(
    client: httpx.AsyncClient, who: Principal, body: dict[str, Any], key: str | None = None
) -> httpx.Response:
    return await client.post(
        "/v1/transfers",
        json=body,
        headers={**who.headers, "Idempotency-Key": key or secrets.token_hex(8)},
    )


async def _balance(client: httpx.AsyncClient, w: dict[str, Any], name: str = "shared") -> int:
    read = ok(await client.get(f"/v1/accounts/{w[name]['id']}/balance", headers=w["staff"].headers))
    return int(read["balance"])


async def _decide(
    client: httpx.AsyncClient, who: Principal, approval_id: str, verb: str = "approve"
) -> httpx.Response:
    return await client.post(f"/v1/approvals/{approval_id}/{verb}", headers=who.headers)


def _slug(response: httpx.Response) -> str:
    return str(response.json()["type"]).rsplit("/", 1)[-1]


async def _audited(client: httpx.AsyncClient, staff: Principal, action: str) -> list[Any]:
    return ok(  # type: ignore[no-any-return]
        await client.get("/v1/audit-events", params={"action": action}, headers=staff.headers)
    )["data"]


# --- Holders ---------------------------------------------------------------------------


async def test_staff_add_change_list_and_remove_holders_audited_but_never_the_primary(
    client: httpx.AsyncClient, make_principal: MakePrincipal, db: Database
) -> None:
    w = await _joint(client, make_principal)
    staff, shared = w["staff"], w["shared"]["id"]
    listed = ok(await client.get(f"/v1/accounts/{shared}/holders", headers=staff.headers))["data"]
    assert [(h["customer_id"], h["role"], h["primary"], h["nickname"]) for h in listed] == [
        (w["holders"]["anna"], "owner", True, "Anna's"),
        (w["holders"]["ben"], "co_owner", False, "ben's home"),
    ]
    base = f"/v1/accounts/{shared}/holders"
    again = await client.post(base, json={"customer_id": w["holders"]["ben"], "role": "viewer"},
                              headers=staff.headers)  # fmt: skip
    assert again.status_code == 409 and _slug(again) == "account-holder-conflict"
    primary = await client.post(base, json={"customer_id": w["holders"]["anna"], "role": "owner"},
                                headers=staff.headers)  # fmt: skip
    assert primary.status_code == 409
    pending = await customer(client, staff, verified=False)
    unverified = await client.post(base, json={"customer_id": pending["id"], "role": "viewer"},
                                   headers=staff.headers)  # fmt: skip
    assert unverified.status_code == 422 and _slug(unverified) == "customer-not-verified"
    changed = ok(
        await client.patch(f"{base}/{w['holders']['ben']}", json={"nickname": "Holidays"},
                           headers=staff.headers)
    )  # fmt: skip
    assert (changed["role"], changed["nickname"]) == ("co_owner", "Holidays")
    for method in ("DELETE", "PATCH"):
        fixed = await client.request(method, f"{base}/{w['holders']['anna']}", json={},
                                     headers=staff.headers)  # fmt: skip
        assert fixed.status_code == 409 and _slug(fixed) == "account-holder-primary", method
    assert (await client.delete(f"{base}/{w['holders']['ben']}", headers=staff.headers)
            ).status_code == 204  # fmt: skip
    gone = await client.delete(f"{base}/{w['holders']['ben']}", headers=staff.headers)
    assert gone.status_code == 404 and _slug(gone) == "account-holder-not-found"
    for action in ("added", "changed", "removed"):
        [event] = await _audited(client, staff, f"banking.account.holder_{action}")
        assert event["object_id"] == shared
    emitted = {kind for kind, _ in await events_of(db, staff, "banking.account.%")}
    assert {"banking.account.holder_added", "banking.account.holder_removed"} <= emitted


async def test_a_co_holder_reads_and_pays_on_every_account_route_until_removed(
    client: httpx.AsyncClient, make_principal: MakePrincipal
) -> None:
    w = await _joint(client, make_principal)
    staff, ben, shared = w["staff"], w["ben"], w["shared"]["id"]
    listed = ok(await client.get("/v1/accounts", headers=ben.headers))["data"]
    assert [(a["id"], a["nickname"]) for a in listed] == [(shared, "ben's home")]
    assert ok(await client.get(f"/v1/accounts/{shared}", headers=ben.headers))[
        "nickname"] == "ben's home"  # fmt: skip
    assert ok(await client.get(f"/v1/accounts/{shared}", headers=w["anna"].headers))[
        "nickname"] == "Anna's"  # fmt: skip
    assert ok(await client.get(f"/v1/accounts/{shared}", headers=staff.headers))[
        "nickname"] == "Anna's"  # fmt: skip
    reads = ("", "/balance", "/transactions", "/holders")
    for tail in reads:
        assert (await client.get(f"/v1/accounts/{shared}{tail}", headers=ben.headers)
                ).status_code == 200, tail  # fmt: skip
    moved = ok(await _transfer(client, ben, _send(w)), 201)  # either may sign
    assert ok(await client.get(f"/v1/transfers/{moved['id']}", headers=ben.headers))[
        "amount"] == 1_000  # fmt: skip
    paid = ok(
        await client.post("/v1/payments", json=payment_body(shared),
                          headers={**ben.headers, "Idempotency-Key": secrets.token_hex(8)}),
        201,
    )  # fmt: skip
    assert ok(await client.get(f"/v1/payments/{paid['id']}", headers=ben.headers))["amount"] == 2500
    assert [p["id"] for p in ok(await client.get("/v1/payments", headers=ben.headers))["data"]] == [
        paid["id"]]  # fmt: skip
    alert = ok(await client.post("/v1/alerts", json={"account_id": shared, "kind": "low_balance",
                                 "threshold": 100}, headers=ben.headers), 201)  # fmt: skip
    monthly = {**_send(w, 100), "frequency": "monthly", "start_date": "2099-01-31"}
    order = ok(await client.post("/v1/standing-orders", json=monthly, headers=ben.headers), 201)
    assert ok(await client.post(f"/v1/standing-orders/{order['id']}/pause",
                                headers=ben.headers))["status"] == "paused"  # fmt: skip
    # Staff routes stay closed to a holder's portal user.
    for method, tail in (("POST", "/freeze"), ("POST", "/deposits"), ("PUT", "/signing-rule"),
                         ("POST", "/holders")):  # fmt: skip
        refused = await client.request(method, f"/v1/accounts/{shared}{tail}", json={},
                                       headers=ben.headers)  # fmt: skip
        assert refused.status_code == 403, (method, tail)
    # Removed: every route answers as if the account did not exist, at once.
    ok(await client.delete(f"/v1/accounts/{shared}/holders/{w['holders']['ben']}",
                           headers=staff.headers), 204)  # fmt: skip
    assert ok(await client.get("/v1/accounts", headers=ben.headers))["data"] == []
    for tail in reads:
        assert (await client.get(f"/v1/accounts/{shared}{tail}", headers=ben.headers)
                ).status_code == 404, tail  # fmt: skip
    for path in (f"/v1/transfers/{moved['id']}", f"/v1/payments/{paid['id']}",
                 f"/v1/standing-orders/{order['id']}"):  # fmt: skip
        assert (await client.get(path, headers=ben.headers)).status_code == 404, path
    assert (await _transfer(client, ben, _send(w))).status_code == 404
    assert ok(await client.get("/v1/alerts", headers=ben.headers))["data"] == []
    assert (
        await client.delete(f"/v1/alerts/{alert['id']}", headers=ben.headers)
    ).status_code == 404
    assert await _balance(client, w) == 10_000 - 1_000, "the payment is only reserved"


async def test_a_viewer_holder_reads_but_never_signs(
    client: httpx.AsyncClient, make_principal: MakePrincipal
) -> None:
    w = await _joint(client, make_principal, more=("viewer",))
    viewer, shared = w["ben"], w["shared"]["id"]
    assert ok(await client.get(f"/v1/accounts/{shared}/balance", headers=viewer.headers))[
        "balance"] == 10_000  # fmt: skip
    refused = await _transfer(client, viewer, _send(w))
    assert refused.status_code == 403, refused.text
    paying = await client.post("/v1/payments", json=payment_body(shared),
                               headers={**viewer.headers, "Idempotency-Key": "v-pay"})  # fmt: skip
    assert paying.status_code == 403
    # Under `all` a viewer is no signer: Anna alone signs, and the viewer cannot approve.
    _signing(await _set_rule(client, w["staff"], shared, "all"), "all")
    ok(await _transfer(client, w["anna"], _send(w, 500)), 201)
    assert (await _transfer(client, viewer, _send(w))).status_code == 403
    assert await _balance(client, w) == 9_500


# --- Signing ---------------------------------------------------------------------------


async def test_all_must_sign_with_two_holders_moves_money_only_on_the_other_approval(
    client: httpx.AsyncClient, make_principal: MakePrincipal, db: Database
) -> None:
    w = await _joint(client, make_principal, rule="all")
    anna, ben, staff = w["anna"], w["ben"], w["staff"]
    asked = await _transfer(client, anna, _send(w, 4_000), key="rent-dec")
    assert asked.status_code == 202, asked.text
    approval = asked.json()
    assert (approval["status"], approval["kind"], approval["amount"]) == ("pending", "transfer",
                                                                         4_000)  # fmt: skip
    assert {(s["customer_id"], s["decision"]) for s in approval["signers"]} == {
        (w["holders"]["anna"], "approved"), (w["holders"]["ben"], None)}  # fmt: skip
    assert await _balance(client, w) == 10_000, "nothing moved yet"
    replay = await _transfer(client, anna, _send(w, 4_000), key="rent-dec")
    assert replay.status_code == 202 and replay.json()["id"] == approval["id"]
    assert replay.headers["Idempotent-Replayed"] == "true"
    other = await _transfer(client, anna, _send(w, 4_001), key="rent-dec")
    assert other.status_code == 409
    own = await _decide(client, anna, approval["id"])
    assert own.status_code == 403 and _slug(own) == "approval-by-requester"
    assert [a["id"] for a in ok(await client.get("/v1/approvals", headers=ben.headers))["data"]
            ] == [approval["id"]]  # fmt: skip
    done = ok(await _decide(client, ben, approval["id"]))
    assert done["status"] == "approved" and done["result_id"]
    assert await _balance(client, w) == 6_000
    assert await _balance(client, w, "elsewhere") == 4_000
    twice = ok(await _decide(client, ben, approval["id"]))
    assert twice["status"] == "approved" and twice["result_id"] == done["result_id"]
    assert await _balance(client, w) == 6_000, "approving twice moves nothing more"
    retried = ok(await _transfer(client, anna, _send(w, 4_000), key="rent-dec"), 201)
    assert retried["id"] == done["result_id"]
    transfer = ok(await client.get(f"/v1/transfers/{done['result_id']}", headers=staff.headers))
    assert transfer["channel"] == "online"
    for action in ("requested", "approved"):
        [event] = await _audited(client, staff, f"banking.approval.{action}")
        assert event["object_id"] == approval["id"]
    specs = {spec.type: spec for spec in CATALOGUE}
    feed = await events_of(db, staff, "banking.%")
    assert {"banking.approval.requested", "banking.approval.approved",
            "banking.account.signing_rule_set", "banking.account.holder_added"} <= {
        kind for kind, _ in feed}  # fmt: skip
    for kind, payload in feed:
        specs[kind].payload.model_validate(payload)
    # A direct standing order would bypass the signatures: refused for a portal user.
    order = await client.post(
        "/v1/standing-orders",
        json={**_send(w), "frequency": "monthly", "start_date": "2099-01-31"},
        headers=anna.headers,
    )
    assert order.status_code == 422 and _slug(order) == "signatures-required"


async def test_all_must_sign_with_three_holders_for_a_payment(
    client: httpx.AsyncClient, make_principal: MakePrincipal
) -> None:
    w = await _joint(client, make_principal, rule="all", more=("co_owner", "owner"))
    ben, cleo = w["ben"], w["cleo"]
    asked = await client.post("/v1/payments", json=payment_body(w["shared"]["id"]),
                              headers={**ben.headers, "Idempotency-Key": "pay-3"})  # fmt: skip
    assert asked.status_code == 202, asked.text
    approval_id = asked.json()["id"]
    first = ok(await _decide(client, w["anna"], approval_id))
    assert first["status"] == "pending" and first["result_id"] is None
    assert ok(await client.get("/v1/payments", headers=ben.headers))["data"] == []
    assert (await _balance(client, w)) == 10_000
    last = ok(await _decide(client, cleo, approval_id))
    assert last["status"] == "approved"
    assert {s["decision"] for s in last["signers"]} == {"approved"}
    payment = ok(await client.get(f"/v1/payments/{last['result_id']}", headers=cleo.headers))
    assert (payment["status"], payment["amount"]) == ("pending_settlement", 2500)
    staff = w["staff"]
    available = ok(await client.get(f"/v1/accounts/{w['shared']['id']}/balance",
                                    headers=staff.headers))["available"]  # fmt: skip
    assert available == 10_000 - 2_500


async def test_a_rejected_approval_moves_nothing_and_stays_rejected(
    client: httpx.AsyncClient, make_principal: MakePrincipal
) -> None:
    w = await _joint(client, make_principal, rule="all")
    approval = ok(await _transfer(client, w["anna"], _send(w)), 202)
    rejected = ok(await _decide(client, w["ben"], approval["id"], "reject"))
    assert rejected["status"] == "rejected"
    assert ok(await _decide(client, w["ben"], approval["id"], "reject"))["status"] == "rejected"
    late = await _decide(client, w["ben"], approval["id"])
    assert late.status_code == 409 and _slug(late) == "approval-status-conflict"
    assert await _balance(client, w) == 10_000


async def test_an_expired_approval_moves_nothing(
    client: httpx.AsyncClient, make_principal: MakePrincipal
) -> None:
    w = await _joint(client, make_principal, rule="all")
    staff = w["staff"]
    ok(await client.put("/v1/banking/settings", json={"iban_country": "DE",
                        "bank_code": "37040044", "approval_expiry_days": 2},
                        headers=staff.headers))  # fmt: skip
    assert ok(await client.get("/v1/banking/settings", headers=staff.headers))[
        "approval_expiry_days"] == 2  # fmt: skip
    # Asked two days and an hour ago (the sessions stay valid: they are newer).
    now = datetime.now(UTC)
    with clock.frozen_clock(now - timedelta(days=2, hours=1)):
        approval = ok(await _transfer(client, w["anna"], _send(w)), 202)
    path = f"/v1/approvals/{approval['id']}"
    with clock.frozen_clock(now - timedelta(hours=2)):
        assert ok(await client.get(path, headers=w["ben"].headers))["status"] == "pending"
    assert ok(await client.get(path, headers=w["ben"].headers))["status"] == "expired"
    late = await _decide(client, w["ben"], approval["id"])
    assert late.status_code == 409 and _slug(late) == "approval-expired"
    [event] = await _audited(client, staff, "banking.approval.expired")
    assert event["object_id"] == approval["id"]
    stored = ok(await client.get("/v1/approvals", params={"status": "expired"},
                                 headers=staff.headers))["data"]  # fmt: skip
    assert [a["id"] for a in stored] == [approval["id"]]
    assert await _balance(client, w) == 10_000


async def test_the_default_expiry_is_seven_days(
    client: httpx.AsyncClient, make_principal: MakePrincipal
) -> None:
    w = await _joint(client, make_principal, rule="all")
    approval = ok(await _transfer(client, w["anna"], _send(w)), 202)
    created, expires = (clock.parse_timestamp(approval[k]) for k in ("created_at", "expires_at"))
    assert expires - created == timedelta(days=7)


async def test_an_approval_rechecks_status_and_funds_when_it_completes(
    client: httpx.AsyncClient, make_principal: MakePrincipal
) -> None:
    w = await _joint(client, make_principal, rule="all")
    staff, shared = w["staff"], w["shared"]["id"]
    approval = ok(await _transfer(client, w["anna"], _send(w, 6_000)), 202)
    ok(await client.post(f"/v1/accounts/{shared}/freeze", headers=staff.headers))
    frozen = await _decide(client, w["ben"], approval["id"])
    assert frozen.status_code == 422 and _slug(frozen) == "account-frozen"
    assert ok(await client.get(f"/v1/approvals/{approval['id']}", headers=staff.headers))[
        "status"] == "pending", "a refusal leaves the approval pending"  # fmt: skip
    ok(await client.post(f"/v1/accounts/{shared}/unfreeze", headers=staff.headers))
    ok(await _transfer(client, staff, {**_send(w, 5_000)}), 201)  # staff act for the bank
    short = await _decide(client, w["ben"], approval["id"])
    assert short.status_code == 422 and _slug(short) == "insufficient-funds"
    await _deposit(client, staff, shared, 5_000)
    assert ok(await _decide(client, w["ben"], approval["id"]))["status"] == "approved"
    assert await _balance(client, w) == 10_000 - 5_000 + 5_000 - 6_000


async def test_an_approval_racing_a_freeze_moves_money_only_if_it_came_first(
    client: httpx.AsyncClient, make_principal: MakePrincipal
) -> None:
    w = await _joint(client, make_principal, rule="all")
    staff, shared = w["staff"], w["shared"]["id"]
    approval = ok(await _transfer(client, w["anna"], _send(w, 3_000)), 202)
    decided, froze = await asyncio.gather(
        _decide(client, w["ben"], approval["id"]),
        client.post(f"/v1/accounts/{shared}/freeze", headers=staff.headers),
    )
    assert froze.status_code == 200, froze.text
    after = ok(await client.get(f"/v1/approvals/{approval['id']}", headers=staff.headers))
    if decided.status_code == 200:
        assert after["status"] == "approved" and await _balance(client, w) == 7_000
    else:
        assert _slug(decided) == "account-frozen", decided.text
        assert after["status"] == "pending" and await _balance(client, w) == 10_000
    trial = ok(await client.get("/v1/ledger/trial-balance", headers=staff.headers))
    assert trial["balanced"]


async def test_a_change_of_holders_closes_pending_approvals_and_strangers_see_nothing(
    client: httpx.AsyncClient, make_principal: MakePrincipal
) -> None:
    w = await _joint(client, make_principal, rule="all")
    staff = w["staff"]
    approval = ok(await _transfer(client, w["anna"], _send(w)), 202)
    stranger = await make_principal(role="customer", tenant_id=staff.tenant_id)
    await link(client, staff, (await customer(client, staff))["id"], stranger, "owner")
    for response in (
        await client.get(f"/v1/approvals/{approval['id']}", headers=stranger.headers),
        await _decide(client, stranger, approval["id"]),
        await _decide(client, stranger, approval["id"], "reject"),
    ):
        assert response.status_code == 404 and _slug(response) == "approval-not-found"
    assert ok(await client.get("/v1/approvals", headers=stranger.headers))["data"] == []
    ok(await client.delete(f"/v1/accounts/{w['shared']['id']}/holders/{w['holders']['ben']}",
                           headers=staff.headers), 204)  # fmt: skip
    assert ok(await client.get(f"/v1/approvals/{approval['id']}", headers=staff.headers))[
        "status"] == "rejected"  # fmt: skip
    assert (await _decide(client, w["ben"], approval["id"])).status_code == 404
    # Alone again, Anna signs for all holders: her transfer moves at once.
    ok(await _transfer(client, w["anna"], _send(w)), 201)
    assert await _balance(client, w) == 9_000


async def test_the_database_refuses_a_bad_signing_rule_holder_role_or_approval(
    client: httpx.AsyncClient, make_principal: MakePrincipal, db: Database
) -> None:
    w = await _joint(client, make_principal, rule="all")
    approval = ok(await _transfer(client, w["anna"], _send(w)), 202)
    breaking = (
        "UPDATE banking_accounts SET signing_rule = 'most' WHERE id = :a",
        "UPDATE banking_account_holders SET role = 'boss' WHERE account_id = :a",
        "UPDATE banking_approvals SET status = 'approved' WHERE id = :p",  # without a result
        "UPDATE banking_approval_signers SET decision = 'approved', decided_at = NULL"
        " WHERE approval_id = :p",
    )
    for sql in breaking:
        try:
            async with db.uow() as uow:
                await uow.session.execute(text(sql), {"a": w["shared"]["id"], "p": approval["id"]})
        except IntegrityError:
            continue
        raise AssertionError(f"the database accepted: {sql}")
