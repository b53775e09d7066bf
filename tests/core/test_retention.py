"""Retention: the hourly purge jobs delete finished rows past their window, in bounded
batches, and never a pending row, an audit record or a ledger row."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import psycopg
from procrastinate.periodic import PeriodicDeferrer
from psycopg.types.json import Jsonb

from fiscus.core import clock
from fiscus.core.config import Settings
from fiscus.core.db import Database
from fiscus.core.events import Event, events_purge
from fiscus.core.ids import new_id
from fiscus.core.retention import rows_purge
from fiscus.worker import build_job_app, open_job_pool, run_worker
from tests.factories import keyring_for

TENANT = uuid.UUID("01900000-0000-7000-8000-0000000000dd")


def _event(connection: psycopg.Connection, *, age: timedelta, relayed: bool) -> uuid.UUID:
    event_id = new_id()
    at = clock.now() - age
    position = connection.execute("SELECT coalesce(max(position), 0) + 1 FROM events").fetchone()
    assert position is not None
    connection.execute(
        "INSERT INTO events (id, tenant_id, type, subject, payload, created_at, position,"
        " relayed_at) VALUES (%s, %s, 'transfer.posted', 'transfer/1', '{}', %s, %s, %s)",
        (event_id, TENANT, at, position[0] if relayed else None, at if relayed else None),
    )
    return event_id


def _delivery(
    connection: psycopg.Connection, endpoint: uuid.UUID, *, age: timedelta, status: str
) -> uuid.UUID:
    delivery_id = new_id()
    at = clock.now() - age
    pending = status == "pending"
    # A pending delivery waits for a retry tomorrow (today's dispatch leaves it alone).
    retry_at = clock.now() + timedelta(days=1)
    connection.execute(
        "INSERT INTO webhook_deliveries (tenant_id, id, endpoint_id, event_id, event_type,"
        " origin, body, status, attempt_count, schedule_step, next_attempt_at, created_at,"
        " completed_at) VALUES (%s, %s, %s, %s, 'transfer.posted', 'event', '{}', %s, 1, 1,"
        " %s, %s, %s)",
        (
            TENANT,
            delivery_id,
            endpoint,
            new_id(),
            status,
            retry_at if pending else None,
            at,
            None if pending else at,
        ),
    )
    connection.execute(
        "INSERT INTO webhook_attempts (tenant_id, id, delivery_id, attempt_number, started_at,"
        " latency_ms, request_url, request_headers) VALUES (%s, %s, %s, 1, %s, 5,"
        " 'https://hooks.example.com/x', %s)",
        (TENANT, new_id(), delivery_id, at, Jsonb({})),
    )
    return delivery_id


def _message(connection: psycopg.Connection, *, age: timedelta, status: str) -> uuid.UUID:
    message_id = new_id()
    at = clock.now() - age
    connection.execute(
        "INSERT INTO messages (tenant_id, id, user_id, event_type, channel, category,"
        " content_sealed, status, attempt_count, next_attempt_at, created_at)"
        " VALUES (%s, %s, %s, 'transfer.posted', 'email', 'account', %s, %s, 0, %s, %s)",
        (TENANT, message_id, new_id(), b"sealed", status, at if status == "queued" else None, at),
    )
    connection.execute(
        "INSERT INTO message_status_changes (tenant_id, id, message_id, status, at)"
        " VALUES (%s, %s, %s, %s, %s)",
        (TENANT, new_id(), message_id, status, at),
    )
    return message_id


def _ids(connection: psycopg.Connection, table: str) -> set[uuid.UUID]:
    return {row[0] for row in connection.execute(f"SELECT id FROM {table}").fetchall()}


async def _run_periodic_jobs(db: Database, settings: Settings) -> list[str]:
    """Defer every periodic task's last tick, as a worker would, and run them."""
    job_app = build_job_app(settings.database_url or "")
    pool = await open_job_pool(settings.database_url or "")
    async with job_app.open_async(pool=pool):
        deferrer = PeriodicDeferrer(registry=job_app.periodic_registry, max_delay=3600)
        deferred = list(deferrer.get_previous_tasks(at=clock.now().timestamp()))
        await deferrer.defer_jobs(jobs_to_defer=deferred)
        await run_worker(
            job_app,
            db=db,
            settings=settings,
            keyring=await keyring_for(db, settings),
            wait=False,
            install_signal_handlers=False,
        )
        jobs = await job_app.job_manager.list_jobs_async()
    await pool.close()
    return [
        f"{job.task_name.rsplit(':', 2)[-2]}:{job.status}"
        for job in jobs
        if job.task_name.endswith("purge")
    ]


async def test_purge_jobs_delete_old_finished_rows_and_keep_the_rest(
    db: Database, settings: Settings
) -> None:
    old, recent = timedelta(days=400), timedelta(days=1)
    with psycopg.connect(settings.database_url or "", autocommit=True) as connection:
        endpoint = new_id()
        connection.execute(
            "INSERT INTO webhook_endpoints (tenant_id, id, url, event_types, enabled,"
            " created_at, updated_at) VALUES (%s, %s, 'https://hooks.example.com/x',"
            " ARRAY['card.*'], true, now(), now())",
            (TENANT, endpoint),
        )
        gone_events = {_event(connection, age=old, relayed=True)}
        kept_events = {_event(connection, age=recent, relayed=True)}
        gone_deliveries = {
            _delivery(connection, endpoint, age=old, status="succeeded"),
            _delivery(connection, endpoint, age=old, status="failed"),
        }
        kept_deliveries = {
            _delivery(connection, endpoint, age=old, status="pending"),
            _delivery(connection, endpoint, age=recent, status="succeeded"),
        }
        gone_messages = {
            _message(connection, age=old, status="sent"),
            _message(connection, age=old, status="read"),
        }
        kept_messages = {
            _message(connection, age=old, status="queued"),
            _message(connection, age=recent, status="delivered"),
        }
        audit_before = connection.execute("SELECT count(*) FROM audit_events").fetchone()

    ran = await _run_periodic_jobs(db, settings)
    assert sorted(ran) == ["events:succeeded", "messaging:succeeded", "webhooks:succeeded"]

    with psycopg.connect(settings.database_url or "") as connection:
        assert _ids(connection, "events") & (gone_events | kept_events) == kept_events
        assert _ids(connection, "webhook_deliveries") == kept_deliveries
        attempts = connection.execute("SELECT delivery_id FROM webhook_attempts").fetchall()
        assert {row[0] for row in attempts} == kept_deliveries
        assert _ids(connection, "messages") == kept_messages
        history = connection.execute("SELECT message_id FROM message_status_changes").fetchall()
        assert {row[0] for row in history} == kept_messages
        assert connection.execute("SELECT count(*) FROM audit_events").fetchone() == audit_before
    assert gone_events and gone_deliveries and gone_messages


async def test_a_window_of_zero_days_keeps_everything(db: Database, settings: Settings) -> None:
    with psycopg.connect(settings.database_url or "", autocommit=True) as connection:
        kept = {_message(connection, age=timedelta(days=4000), status="read")}
    keep_all = settings.model_copy(
        update={
            "retention_events_days": 0,
            "retention_webhook_deliveries_days": 0,
            "retention_messages_days": 0,
        }
    )
    await _run_periodic_jobs(db, keep_all)
    with psycopg.connect(settings.database_url or "") as connection:
        assert _ids(connection, "messages") == kept


async def test_an_event_not_yet_relayed_is_never_purged(db: Database, settings: Settings) -> None:
    with psycopg.connect(settings.database_url or "", autocommit=True) as connection:
        waiting = _event(connection, age=timedelta(days=400), relayed=False)
        relayed = _event(connection, age=timedelta(days=400), relayed=True)
    assert await events_purge(db, days=1) == 1
    with psycopg.connect(settings.database_url or "") as connection:
        assert _ids(connection, "events") & {waiting, relayed} == {waiting}


async def test_one_run_deletes_in_bounded_batches(db: Database, settings: Settings) -> None:
    with psycopg.connect(settings.database_url or "", autocommit=True) as connection:
        old = {_event(connection, age=timedelta(days=400), relayed=True) for _ in range(5)}
    cutoff: datetime = clock.now() - timedelta(days=90)
    conditions = [Event.position.is_not(None), Event.created_at < cutoff]
    first = await rows_purge(
        db, model=Event, key=[Event.id], conditions=conditions, batch=2, max_batches=2
    )
    with psycopg.connect(settings.database_url or "") as connection:
        assert (first, len(_ids(connection, "events") & old)) == (4, 1)
    assert await rows_purge(db, model=Event, key=[Event.id], conditions=conditions, batch=2) == 1
