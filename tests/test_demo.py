"""`fiscus demo`: a working bank whose printed logins work, seeded twice without duplicates.

The test seeds a small demo (4 customers, 6 days) through the same function as the
command; the full size only changes the loop bounds."""

from __future__ import annotations

from pathlib import Path

import httpx
import pyotp
from sqlalchemy import text
from typer.testing import CliRunner

from fiscus.cli import app as cli_app
from fiscus.core.db import Database
from fiscus.demo import SLUG, demo_seed
from fiscus.ledger import queries as ledger_queries
from tests.factories import keyring_for
from tests.ledger.factories import ledger_context
from tests.live import fiscus_cli
from tests.secrets_scan import find_personal_data, split_dump

COUNTED = ("banking_customers", "banking_accounts", "banking_transfers", "ledger_transfers",
           "banking_fx_conversions", "banking_alerts", "banking_fx_rates", "users",
           "banking_spending_rules", "banking_budgets",
           "banking_categorised_movements", "banking_account_holders",
           "banking_approvals")  # fmt: skip


async def _counts(db: Database) -> dict[str, int]:
    async with db.uow() as uow:  # the login role: every tenant's rows
        return {
            table: (await uow.session.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()
            for table in COUNTED
        }


async def test_the_demo_seeds_once_and_its_logins_work(
    app: object, client: httpx.AsyncClient, db: Database, clean_database: str, tmp_path: Path
) -> None:
    keyring = await keyring_for(db)
    steps: list[str] = []
    first = await demo_seed(
        db, keyring, customers=4, days=6, progress=lambda step, _d, _t: steps.append(step)
    )
    assert {"customers", "history"} <= set(steps)
    counts = await _counts(db)
    assert counts["banking_customers"] == 4 and counts["banking_transfers"] > 10
    assert counts["banking_fx_conversions"] >= 1 and counts["banking_alerts"] == 1
    assert counts["banking_spending_rules"] == 6 and counts["banking_budgets"] == 2
    # Every movement of the history has its category: two sides per internal transfer.
    assert counts["banking_categorised_movements"] > counts["banking_transfers"]
    # Two joint accounts, the all-sign one with a payment waiting for the other holder.
    assert counts["banking_account_holders"] == 2 and counts["banking_approvals"] == 1
    async with db.uow() as uow:
        waiting = await uow.session.execute(text("SELECT status FROM banking_approvals"))
        assert waiting.scalars().all() == ["pending"]
    again = await demo_seed(db, keyring, customers=4, days=6)
    assert await _counts(db) == counts, "a second run added rows"
    assert again.logins == first.logins
    roles = [login.role for login in first.logins]
    assert roles == ["owner", "operator", "analyst", "customer", "customer"]
    # The printed owner login works, with its TOTP secret.
    owner = first.logins[0]
    assert owner.totp_secret is not None
    challenge = await client.post(
        "/v1/auth/login", json={"tenant": SLUG, "email": owner.email, "password": owner.password}
    )
    assert challenge.status_code == 200, challenge.text
    assert challenge.json()["mfa_required"] is True
    verified = await client.post(
        "/v1/auth/mfa/verify",
        json={
            "mfa_token": challenge.json()["mfa_token"],
            "code": pyotp.TOTP(owner.totp_secret).now(),
        },
    )
    assert verified.status_code == 200, verified.text
    headers = {"Authorization": f"Bearer {verified.json()['access_token']}"}
    customers = (await client.get("/v1/customers", headers=headers)).json()["data"]
    assert len(customers) == 4
    # The second portal user (no TOTP) sees only its own customer's accounts, and the one
    # joint account of the first customer that its customer co-holds.
    portal = first.logins[4]
    token = await client.post(
        "/v1/auth/login", json={"tenant": SLUG, "email": portal.email, "password": portal.password}
    )
    assert token.status_code == 200, token.text
    mine = await client.get(
        "/v1/accounts", headers={"Authorization": f"Bearer {token.json()['access_token']}"}
    )
    assert mine.status_code == 200
    seen = [a["customer_id"] for a in mine.json()["data"]]
    assert set(seen) == {customers[1]["id"], customers[0]["id"]}
    assert seen.count(customers[0]["id"]) == 1
    # The books balance, and no customer's name is stored in clear.
    tenant_id = (await client.get("/v1/me", headers=headers)).json()["tenant_id"]
    tb = await ledger_queries.trial_balance(db=db, ctx=ledger_context(tenant_id))
    assert tb.balanced
    async with db.uow() as uow:
        raw = (
            await uow.session.execute(text("SELECT personal_sealed FROM banking_customers"))
        ).scalars()
        assert all(b"Lovelace" not in bytes(value) for value in raw)
    # Nor anywhere in a `fiscus db dump` (raw, hex, base64, URL- or JSON-encoded).
    dump = tmp_path / "demo.sql"
    made = fiscus_cli("db", "dump", "-o", str(dump), env={"FISCUS_DATABASE_URL": clean_database})
    assert made.returncode == 0, made.stderr
    personal = {
        "name": "Ada Lovelace",
        "email": "ada.lovelace.0@customers.demo.bank",
        "phone": "+49305550000",
        "tax id": "DE100000000",
        "street": "Lovelacestrasse",
        "staff email": owner.email,
    }
    found = find_personal_data(split_dump(dump.read_text(encoding="utf-8")), personal)
    assert found == []


def test_the_demo_command_has_help() -> None:
    result = CliRunner().invoke(cli_app, ["demo", "--help"])
    assert result.exit_code == 0
    assert "Idempotent" in result.output
