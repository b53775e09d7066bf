"""Sending deliveries: claim a due one, sign it, POST it, log the attempt, schedule the next.

Each attempt runs in one transaction that holds the delivery's row lock (`FOR UPDATE SKIP
LOCKED`) while the HTTP request is in flight. Workers therefore never send the same
delivery at once, and a worker killed mid-request releases the lock with its connection:
the next worker sends it again with the same `webhook-id` (at-least-once; receivers
de-duplicate on that id). Nothing needs a lease to expire first.
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select, update

from fiscus.core import clock
from fiscus.core.config import Settings
from fiscus.core.db import Database, UnitOfWork
from fiscus.core.events import emit
from fiscus.core.ids import new_id
from fiscus.core.keyring import KeyRing
from fiscus.core.outbound import tls_context
from fiscus.webhooks import _ssrf
from fiscus.webhooks._signing import secret_open, sign
from fiscus.webhooks.errors import UnsafeWebhookUrl
from fiscus.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookSecret
from fiscus.webhooks.service import RETRY_DELAYS

TIMEOUT_S = 15.0
DISABLE_AFTER_FAILING = timedelta(days=5)
MAX_RETRY_AFTER = timedelta(hours=24)
RETRY_AFTER_STATUSES = frozenset({429, 502, 504})
MAX_LOGGED_BODY_CHARS = 2048
MAX_READ_BYTES = 8192
# Each lane holds a pooled connection while its request is in flight (up to 15 s), so
# lanes stay below the worker's pool size (`fiscus worker` sizes it to its concurrency).
DISPATCH_CONCURRENCY = 4
MAX_ATTEMPTS_PER_RUN = 1000
USER_AGENT = "fiscus-webhooks/1"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one HTTP attempt produced."""

    url: str
    headers: dict[str, str]
    status: int | None
    body: str | None
    error: str | None
    latency_ms: int
    retry_after: timedelta | None


def http_client() -> httpx.AsyncClient:
    """The client deliveries use: 15 s timeout, no redirects, no proxies from the environment."""
    return httpx.AsyncClient(
        timeout=TIMEOUT_S, follow_redirects=False, trust_env=False, verify=tls_context()
    )


async def deliveries_dispatch(
    db: Database,
    *,
    settings: Settings,
    keyring: KeyRing,
    max_attempts: int = MAX_ATTEMPTS_PER_RUN,
) -> int:
    """Send due deliveries until none is due (or `max_attempts`); return attempts made."""
    assert 1 <= max_attempts <= 100_000
    budget = [max_attempts]

    async with http_client() as client:

        async def lane() -> int:
            made = 0
            while budget[0] > 0:
                budget[0] -= 1
                if not await delivery_attempt_next(
                    db, client=client, settings=settings, keyring=keyring
                ):
                    return made
                made += 1
            return made

        counts = await asyncio.gather(*(lane() for _ in range(DISPATCH_CONCURRENCY)))
    return sum(counts)


async def next_due_at(db: Database) -> datetime | None:
    """When the earliest pending delivery is due (for scheduling the next dispatch)."""
    async with db.uow() as uow:
        return (
            await uow.session.execute(
                select(func.min(WebhookDelivery.next_attempt_at)).where(
                    WebhookDelivery.status == "pending"
                )
            )
        ).scalar_one()


async def delivery_attempt_next(
    db: Database, *, client: httpx.AsyncClient, settings: Settings, keyring: KeyRing
) -> bool:
    """Claim one due delivery and attempt it; False when nothing is due."""
    async with db.uow() as uow:
        delivery = (
            await uow.session.execute(
                select(WebhookDelivery)
                .where(
                    WebhookDelivery.status == "pending",
                    WebhookDelivery.next_attempt_at <= clock.now(),
                )
                .order_by(WebhookDelivery.next_attempt_at)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
        ).scalar_one_or_none()
        if delivery is None:
            return False
        endpoint = await uow.session.get(
            WebhookEndpoint, (delivery.tenant_id, delivery.endpoint_id)
        )
        if endpoint is None or not endpoint.enabled:
            _finish(delivery, status="failed", error="the endpoint is disabled")
            return True
        signing = await _signing_secrets(uow, endpoint, keyring=keyring)
        outcome = await _send(
            client, endpoint, delivery, signing, allow_private=settings.webhooks_allow_private
        )
        await _record(uow, endpoint, delivery, outcome)
    return True


async def _signing_secrets(
    uow: UnitOfWork, endpoint: WebhookEndpoint, *, keyring: KeyRing
) -> list[str]:
    now = clock.now()
    rows = (
        await uow.session.execute(
            select(WebhookSecret)
            .where(
                WebhookSecret.tenant_id == endpoint.tenant_id,
                WebhookSecret.endpoint_id == endpoint.id,
                (WebhookSecret.expires_at.is_(None)) | (WebhookSecret.expires_at > now),
            )
            .order_by(WebhookSecret.created_at.desc())
        )
    ).scalars()
    return [
        secret_open(
            keyring,
            row.sealed_secret,
            tenant_id=row.tenant_id,
            endpoint_id=row.endpoint_id,
            secret_id=row.id,
        )
        for row in rows
    ]


async def _send(
    client: httpx.AsyncClient,
    endpoint: WebhookEndpoint,
    delivery: WebhookDelivery,
    signing: list[str],
    *,
    allow_private: bool,
) -> Outcome:
    # The receiver compares webhook-timestamp with its own clock, so this is wall time.
    timestamp = int(time.time())
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": str(delivery.id),
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(
            secrets_=signing, message_id=str(delivery.id), timestamp=timestamp, body=delivery.body
        ),
    }
    started = time.perf_counter()
    try:
        target = await _ssrf.resolve(endpoint.url, allow_private=allow_private)
    except UnsafeWebhookUrl as error:
        return Outcome(endpoint.url, headers, None, None, f"refused: {error.detail}", 0, None)
    extensions: dict[str, Any] = {"sni_hostname": target.host} if target.scheme == "https" else {}
    try:
        async with client.stream(
            "POST",
            target.pinned_url,
            content=delivery.body.encode(),
            headers={**headers, "host": target.host_header},
            extensions=extensions,
        ) as response:
            raw = await _read_limited(response)
            latency_ms = int((time.perf_counter() - started) * 1000)
            return Outcome(
                url=endpoint.url,
                headers=headers,
                status=response.status_code,
                body=raw.decode("utf-8", "replace")[:MAX_LOGGED_BODY_CHARS],
                error=None,
                latency_ms=latency_ms,
                retry_after=_retry_after(response.headers.get("retry-after")),
            )
    except httpx.HTTPError as error:
        latency_ms = int((time.perf_counter() - started) * 1000)
        message = f"{type(error).__name__}: {error}"[:MAX_LOGGED_BODY_CHARS]
        return Outcome(endpoint.url, headers, None, None, message, latency_ms, None)


async def _read_limited(response: httpx.Response) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= MAX_READ_BYTES:
            break
    return b"".join(chunks)[:MAX_READ_BYTES]


def _retry_after(value: str | None) -> timedelta | None:
    """Retry-After as seconds or an HTTP date, capped at 24 hours; None if absent or bad."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        delay = timedelta(seconds=int(value))
    else:
        try:
            moment = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        delay = max(timedelta(0), moment - clock.now())
    return min(delay, MAX_RETRY_AFTER)


def _finish(delivery: WebhookDelivery, *, status: str, error: str | None = None) -> None:
    delivery.status = status
    delivery.next_attempt_at = None
    delivery.completed_at = clock.now()
    if error is not None:
        delivery.last_error = error


async def _record(
    uow: UnitOfWork, endpoint: WebhookEndpoint, delivery: WebhookDelivery, outcome: Outcome
) -> None:
    assert uow.active
    now = clock.now()
    delivery.attempt_count += 1
    delivery.last_status_code = outcome.status
    delivery.last_error = outcome.error
    uow.session.add(
        WebhookAttempt(
            tenant_id=delivery.tenant_id,
            id=new_id(),
            delivery_id=delivery.id,
            attempt_number=delivery.attempt_count,
            started_at=now,
            latency_ms=outcome.latency_ms,
            request_url=outcome.url,
            request_headers=outcome.headers,
            response_status=outcome.status,
            response_body=outcome.body,
            error=outcome.error,
        )
    )
    if outcome.status is not None and 200 <= outcome.status < 300:
        _finish(delivery, status="succeeded")
        if endpoint.failing_since is not None:
            endpoint.failing_since = None
        return
    if outcome.status == 410:
        _finish(delivery, status="failed")
        await _disable(uow, endpoint, reason="the endpoint answered 410 Gone")
        return
    await _schedule_retry(uow, delivery, outcome, now=now)
    await _note_failure(uow, endpoint, now=now)


async def _schedule_retry(
    uow: UnitOfWork, delivery: WebhookDelivery, outcome: Outcome, *, now: datetime
) -> None:
    if delivery.schedule_step >= len(RETRY_DELAYS):
        _finish(delivery, status="failed")
        await emit(
            uow,
            tenant_id=delivery.tenant_id,
            type="webhook.delivery_exhausted",
            subject=f"webhook_delivery/{delivery.id}",
            payload={
                "delivery_id": str(delivery.id),
                "endpoint_id": str(delivery.endpoint_id),
                "event_id": str(delivery.event_id),
                "event_type": delivery.event_type,
                "attempts": delivery.attempt_count,
                "last_status_code": outcome.status,
                "last_error": outcome.error,
            },
        )
        return
    delay = RETRY_DELAYS[delivery.schedule_step]
    if outcome.status in RETRY_AFTER_STATUSES and outcome.retry_after is not None:
        delay = max(delay, outcome.retry_after)
    delivery.schedule_step += 1
    delivery.next_attempt_at = now + delay


async def _note_failure(uow: UnitOfWork, endpoint: WebhookEndpoint, *, now: datetime) -> None:
    # One statement, so concurrent failures of one endpoint agree on when the run began.
    failing_since = (
        await uow.session.execute(
            update(WebhookEndpoint)
            .where(
                WebhookEndpoint.tenant_id == endpoint.tenant_id,
                WebhookEndpoint.id == endpoint.id,
            )
            .values(failing_since=func.coalesce(WebhookEndpoint.failing_since, now))
            .returning(WebhookEndpoint.failing_since)
            .execution_options(synchronize_session=False)
        )
    ).scalar_one()
    assert failing_since is not None
    if now - failing_since >= DISABLE_AFTER_FAILING:
        await _disable(uow, endpoint, reason="every delivery failed for 5 days")


async def _disable(uow: UnitOfWork, endpoint: WebhookEndpoint, *, reason: str) -> None:
    disabled = (
        await uow.session.execute(
            update(WebhookEndpoint)
            .where(
                WebhookEndpoint.tenant_id == endpoint.tenant_id,
                WebhookEndpoint.id == endpoint.id,
                WebhookEndpoint.enabled.is_(True),
            )
            .values(enabled=False, disabled_reason=reason, updated_at=clock.now())
            .returning(WebhookEndpoint.id)
            .execution_options(synchronize_session=False)
        )
    ).first()
    if disabled is None:
        return
    await emit(
        uow,
        tenant_id=endpoint.tenant_id,
        type="webhook.endpoint_disabled",
        subject=f"webhook_endpoint/{endpoint.id}",
        payload={"endpoint_id": str(endpoint.id), "url": endpoint.url, "reason": reason},
    )
