"""/healthz, /readyz, /metrics and request ids, against the real application."""

import httpx
import psycopg
from asgi_lifespan import LifespanManager

from fiscus.api import create_app
from fiscus.core.db import libpq_url
from fiscus.core.errors import PROBLEM_BASE
from tests.conftest import make_settings, recreate_database, scratch_database_name


async def test_healthz_answers_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_readyz_is_ready_with_migrated_database(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["database"] == "ok"


async def _ready(settings_url: str, **overrides: object) -> httpx.Response:
    app = create_app(make_settings(settings_url, **overrides))
    async with LifespanManager(app, startup_timeout=30):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            return await http.get("/readyz")


async def test_readyz_fails_when_the_database_is_down() -> None:
    # Nothing listens on port 1; the app must start anyway and report the outage.
    response = await _ready("postgresql://postgres@127.0.0.1:1/fiscus")
    assert response.status_code == 503
    body = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert body["type"] == PROBLEM_BASE + "not-ready"
    assert body["checks"]["database"].startswith("unreachable")
    assert response.headers["retry-after"] == "5"


async def test_readyz_fails_when_migrations_are_missing(server_url: str, worker_id: str) -> None:
    url = recreate_database(server_url, scratch_database_name("unmigrated", worker_id))
    response = await _ready(url)
    assert response.status_code == 503
    assert "migrations not at head" in response.json()["checks"]["database"]


async def test_readyz_checks_redis_when_configured(clean_database: str, redis_url: str) -> None:
    ok = await _ready(clean_database, redis_url=redis_url)
    assert ok.status_code == 200
    assert ok.json()["checks"]["redis"] == "ok"
    down = await _ready(clean_database, redis_url="redis://127.0.0.1:1/0")
    assert down.status_code == 503
    assert down.json()["checks"]["redis"].startswith("unreachable")
    assert down.json()["checks"]["database"] == "ok"


async def test_metrics_count_requests_by_route_template_and_status(
    client: httpx.AsyncClient,
) -> None:
    await client.get("/healthz")
    await client.get("/no/such/route")
    text = (await client.get("/metrics")).text
    assert 'fiscus_http_requests_total{method="GET",route="/healthz",status="200"} 1.0' in text
    assert 'route="<unmatched>",status="404"' in text
    assert "fiscus_http_request_duration_seconds_bucket" in text


async def test_every_response_carries_a_request_id(client: httpx.AsyncClient) -> None:
    generated = await client.get("/healthz")
    assert len(generated.headers["x-request-id"]) == 36
    echoed = await client.get("/healthz", headers={"X-Request-ID": "trace-42"})
    assert echoed.headers["x-request-id"] == "trace-42"


async def test_openapi_documents_problem_responses(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    assert "Problem" in document["components"]["schemas"]
    assert (await client.get("/docs")).status_code == 200


def test_database_url_is_libpq_compatible(database_url: str) -> None:
    with psycopg.connect(libpq_url(database_url)) as connection:
        assert connection.execute("SELECT 1").fetchone() == (1,)
