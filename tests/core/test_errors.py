"""Every DomainError class renders as problem+json with its own type, status and request id."""

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from fiscus.core import errors
from fiscus.core.errors import PROBLEM_BASE, DomainError, all_error_classes
from fiscus.core.http import Metrics, RequestMiddleware, install_error_handlers

ERROR_CLASSES = all_error_classes()


class Body(BaseModel):
    amount: int


def _app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    app.add_middleware(RequestMiddleware, metrics=Metrics(), max_body_bytes=1024)
    by_name = {cls.__name__: cls for cls in ERROR_CLASSES}

    @app.get("/raise/{name}")
    async def raise_error(name: str) -> None:
        cls = by_name[name]
        if cls is errors.RateLimited:
            raise errors.RateLimited("slow down", retry_after_s=7)
        raise cls(f"{name} happened")

    @app.get("/crash")
    async def crash() -> None:
        raise RuntimeError("secret internals: password=hunter2")

    @app.post("/body")
    async def body(payload: Body) -> dict[str, int]:
        return {"amount": payload.amount}

    return app


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        yield client


def test_every_error_class_has_a_distinct_slug_and_a_docstring() -> None:
    slugs = [cls.type_slug for cls in ERROR_CLASSES]
    assert len(slugs) == len(set(slugs))
    assert all(cls.__doc__ and cls.__doc__.strip() for cls in ERROR_CLASSES)


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda c: c.__name__)
async def test_error_class_renders_problem_json(
    http: httpx.AsyncClient, cls: type[DomainError]
) -> None:
    response = await http.get(f"/raise/{cls.__name__}", headers={"X-Request-ID": "req-123"})
    assert response.status_code == cls.status
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["x-request-id"] == "req-123"
    body = response.json()
    assert body["type"] == PROBLEM_BASE + cls.type_slug
    assert body["title"] == cls.title
    assert body["status"] == cls.status
    assert body["instance"] == f"/raise/{cls.__name__}"
    assert body["request_id"] == "req-123"
    if cls is errors.RateLimited:
        assert response.headers["retry-after"] == "7"


async def test_unhandled_exception_is_a_500_without_internals(http: httpx.AsyncClient) -> None:
    response = await http.get("/crash")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    text = response.text
    assert "hunter2" not in text and "Traceback" not in text and "RuntimeError" not in text
    assert response.json()["type"] == PROBLEM_BASE + "internal-error"
    assert response.json()["request_id"] == response.headers["x-request-id"]


async def test_invalid_body_is_400_with_field_errors(http: httpx.AsyncClient) -> None:
    response = await http.post("/body", json={"amount": "lots"})
    assert response.status_code == 400
    body = response.json()
    assert body["type"] == PROBLEM_BASE + "validation-error"
    assert body["errors"][0]["field"] == "body.amount"


async def test_malformed_json_is_400(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/body", content=b"{\xff\xfe", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"


async def test_unknown_route_and_wrong_method_are_problems(http: httpx.AsyncClient) -> None:
    missing = await http.get("/nope")
    assert (missing.status_code, missing.json()["type"]) == (404, PROBLEM_BASE + "not-found")
    wrong = await http.delete("/body")
    assert wrong.status_code == 405
    assert wrong.json()["type"] == PROBLEM_BASE + "method-not-allowed"


async def test_oversized_body_is_413_by_header_and_by_stream(http: httpx.AsyncClient) -> None:
    declared = await http.post(
        "/body", content=b"x" * 2048, headers={"content-type": "application/json"}
    )
    assert declared.status_code == 413
    assert declared.json()["type"] == PROBLEM_BASE + "payload-too-large"

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(4):
            yield b" " * 512

    streamed = await http.post(
        "/body", content=chunks(), headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 413


async def test_unsafe_request_id_is_replaced(http: httpx.AsyncClient) -> None:
    response = await http.get("/nope", headers={"X-Request-ID": "bad\x1bid with spaces"})
    assert response.headers["x-request-id"] != "bad\x1bid with spaces"
    assert len(response.headers["x-request-id"]) == 36


async def test_values_the_database_cannot_store_are_400_not_500(db: object) -> None:
    from sqlalchemy import text

    from fiscus.core.db import Database

    assert isinstance(db, Database)
    app = _app()

    @app.post("/store")
    async def store(payload: dict[str, str]) -> dict[str, str]:
        async with db.uow() as uow:
            await uow.session.execute(text("SELECT CAST(:v AS text)"), {"v": payload["value"]})
        return {"ok": "yes"}

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        headers = {"content-type": "application/json"}
        # JSON escapes that decode to a NUL character and to a lone surrogate.
        for raw in (b'{"value": "nul\\u0000byte"}', b'{"value": "lone\\udcf9surrogate"}'):
            response = await client.post("/store", content=raw, headers=headers)
            assert response.status_code == 400, response.text
            assert response.json()["type"] == PROBLEM_BASE + "data-invalid"
        fine = await client.post("/store", content=b'{"value": "fine"}', headers=headers)
        assert fine.status_code == 200
