"""HTTP plumbing shared by every router: request ids, logs, metrics, body limits, problems.

One ASGI middleware wraps every request (cheaper than Starlette's BaseHTTPMiddleware),
and one set of exception handlers turns every error into RFC 9457 problem+json.
"""

from __future__ import annotations

import contextvars
import json
import re
import time
import traceback
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from prometheus_client import CollectorRegistry, Counter, Histogram
from psycopg import errors as pg_errors
from pydantic import BaseModel, ConfigDict, Field
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fiscus.core.errors import (
    PRECISE_VALIDATION_TYPES,
    PROBLEM_BASE,
    DomainError,
    KeysUnavailable,
    PayloadTooLarge,
    ServiceUnavailable,
)
from fiscus.core.ids import new_id
from fiscus.core.keyring import KeyRingError
from fiscus.core.logging import get_logger

PROBLEM_JSON = "application/problem+json"
REQUEST_ID_HEADER = "X-Request-ID"
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
log = get_logger("fiscus.http")

_HTTP_SLUGS = {
    400: ("bad-request", "Bad request"),
    401: ("unauthenticated", "Not authenticated"),
    403: ("forbidden", "Not allowed"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    413: ("payload-too-large", "Request body too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
}


class ProblemFieldError(BaseModel):
    """One invalid field in a problem."""

    field: str
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details; clients branch on `type`."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "type": PROBLEM_BASE + "validation-error",
                    "title": "Invalid request",
                    "status": 400,
                    "detail": "The request has invalid fields; see `errors`.",
                    "instance": "/v1/ledger/transfers",
                    "request_id": "019a9f0e-3c1e-7f60-a1b2-6c0ffee00001",
                    "errors": [
                        {"field": "body.amount", "message": "Input should be a valid integer"}
                    ],
                }
            ]
        },
    )

    type: str = Field(description="Stable URI naming the problem")
    title: str
    status: int
    detail: str
    instance: str | None = None
    request_id: str | None = None
    errors: list[ProblemFieldError] | None = None


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries documenting problem+json for the given statuses."""
    descriptions = {
        400: "Malformed request",
        401: "Not authenticated",
        403: "Not allowed",
        404: "Not found (or not yours)",
        409: "Conflict",
        413: "Body too large",
        415: "Body is not JSON",
        422: "Refused by a business rule",
        429: "Rate limited",
        503: "A dependency is unavailable; retry (see Retry-After)",
    }
    return {
        status: {
            "model": Problem,
            "description": descriptions.get(status, "Problem"),
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }


class Metrics:
    """Prometheus metrics of one app; a registry per app keeps tests independent."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "fiscus_http_requests_total",
            "HTTP requests by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "fiscus_http_request_duration_seconds",
            "HTTP request latency by method and route template.",
            ["method", "route"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )


def problem_response(
    *, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> Response:
    """A problem+json response carrying the request id."""
    body.setdefault("request_id", request_id_var.get())
    return Response(
        json.dumps(body, ensure_ascii=False).encode(),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


def render_error(error: DomainError, *, instance: str) -> Response:
    """problem+json for a DomainError."""
    return problem_response(
        status=error.status, body={**error.problem(), "instance": instance}, headers=error.headers
    )


class RequestMiddleware:
    """Request id, structured access log, metrics, body size limit, and the last-resort 500."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics, max_body_bytes: int) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = _header(scope, b"x-request-id")
        request_id = incoming if incoming and _SAFE_REQUEST_ID.match(incoming) else str(new_id())
        token = request_id_var.set(request_id)
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status_holder = [500]
        response_started = [False]
        too_large = [False]

        async def send_wrapper(message: Message) -> None:
            if too_large[0] and not response_started[0]:
                return  # the app's answer to a truncated body is replaced by a 413 below
            if message["type"] == "http.response.start":
                response_started[0] = True
                status_holder[0] = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            declared = _header(scope, b"content-length")
            if declared is not None and (
                not declared.isdigit() or int(declared) > self.max_body_bytes
            ):
                too_large[0] = True
            else:
                await self.app(
                    scope, _limited(receive, self.max_body_bytes, too_large), send_wrapper
                )
        except Exception as failure:
            if too_large[0]:
                pass
            elif (cause := unavailable_dependency(failure)) is not None:
                # An outage, not a bug: the client may retry, and the log needs no traceback.
                log.warning("dependency_unavailable", path=scope["path"], cause=cause)
                if not response_started[0]:
                    await render_error(_UNAVAILABLE, instance=scope["path"])(
                        scope, receive, send_wrapper
                    )
            else:
                log_unhandled(failure, path=scope["path"], method=scope["method"])
                if not response_started[0]:
                    await internal_error_response()(scope, receive, send_wrapper)
        finally:
            if too_large[0] and not response_started[0]:
                error = PayloadTooLarge(f"The body is larger than {self.max_body_bytes} bytes.")
                too_large[0] = False
                await render_error(error, instance=scope["path"])(scope, receive, send_wrapper)
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", None) or "<unmatched>"
            status = status_holder[0]
            self.metrics.requests.labels(scope["method"], route, str(status)).inc()
            self.metrics.latency.labels(scope["method"], route).observe(elapsed)
            log.info(
                "request",
                method=scope["method"],
                route=route,
                status=status,
                duration_ms=round(elapsed * 1000, 2),
            )
            structlog.contextvars.unbind_contextvars("request_id")
            request_id_var.reset(token)


class _BodyTooLarge(Exception):
    """Raised into the app when a streamed body passes the limit."""


def _limited(receive: Receive, limit: int, flag: list[bool]) -> Receive:
    """Count streamed body bytes so a body without Content-Length cannot exceed the limit."""
    seen = [0]

    async def wrapped() -> Message:
        message = await receive()
        if message["type"] == "http.request":
            seen[0] += len(message.get("body", b""))
            if seen[0] > limit:
                flag[0] = True
                raise _BodyTooLarge
        return message

    return wrapped


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            try:
                return str(value.decode("latin-1"))
            except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes every byte
                return None
    return None


_KEYS_UNAVAILABLE = KeysUnavailable(
    "Encrypted data cannot be opened right now; retry shortly.", headers={"Retry-After": "5"}
)
_UNAVAILABLE = ServiceUnavailable(
    "A service this request needs is unavailable; retry shortly.", headers={"Retry-After": "1"}
)


def unavailable_dependency(error: BaseException) -> str | None:
    """Name the outage behind `error` (database or Redis down, pool exhausted), or None.

    PostgreSQL's operational errors (SQLSTATE classes 08, 53, 57 and 58: no connection, out
    of resources, shutting down, a statement cancelled) and serialization failures that
    outlived their retries are transient by definition; a bug is not.
    """
    if isinstance(error, DBAPIError):
        error = error.orig if error.orig is not None else error
    if isinstance(error, pg_errors.OperationalError):  # also raised by raw-driver round trips
        return "database:" + (error.sqlstate or "connection")
    if isinstance(error, PoolTimeoutError):
        return "database:pool-timeout"
    if isinstance(error, RedisConnectionError | RedisTimeoutError):
        return "redis"
    return None


def log_unhandled(failure: BaseException, **where: Any) -> None:
    """Log a bug with its traceback, except the database's own words.

    PostgreSQL's messages quote the values they refuse ("Key (email)=(ada@...) already
    exists", "Failing row contains (...)"): personal data that must not reach a log. For
    database errors the log names the error, SQLSTATE, constraint, table and the frames
    it passed through instead.
    """
    error = failure.orig if isinstance(failure, DBAPIError) and failure.orig else failure
    if not isinstance(error, pg_errors.Error):
        log.exception("unhandled_error", **where)
        return
    diag = error.diag
    frames = traceback.extract_tb(failure.__traceback__)[-12:]
    log.error(
        "unhandled_error",
        **where,
        error=type(error).__name__,
        sqlstate=error.sqlstate,
        constraint=diag.constraint_name,
        table=diag.table_name,
        frames=[f"{frame.filename}:{frame.lineno} {frame.name}" for frame in frames],
    )


def internal_error_response() -> Response:
    """A 500 that says only that something failed on our side, with the request id."""
    return problem_response(
        status=500,
        body={
            "type": PROBLEM_BASE + "internal-error",
            "title": "Internal server error",
            "status": 500,
            "detail": "The server failed to complete the request; it has been logged.",
        },
    )


def _invalid_data(request: Request) -> Response:
    # PostgreSQL refused a value the client sent (SQLSTATE class 22: a NUL character, a
    # number out of range) or Python could not encode it (a lone surrogate): bad input.
    return problem_response(
        status=400,
        body={
            "type": PROBLEM_BASE + "data-invalid",
            "title": "Invalid data",
            "status": 400,
            "detail": "A value in the request cannot be stored (for example a NUL character).",
            "instance": request.url.path,
        },
    )


def _unparsed_body(item: dict[str, Any]) -> bool:
    # FastAPI parses a body as JSON only when Content-Type says JSON; otherwise the JSON
    # model receives the raw bytes, which means the media type, not the content, is wrong.
    return tuple(item["loc"]) == ("body",) and isinstance(item.get("input"), bytes)


def _unsupported_media_type(request: Request) -> Response:
    return unsupported_media_type(
        request, "Send the body as JSON with Content-Type: application/json."
    )


def unsupported_media_type(request: Request, detail: str) -> Response:
    """415 problem+json for a body sent as a media type the route does not take."""
    slug, title = _HTTP_SLUGS[415]
    return problem_response(
        status=415,
        body={
            "type": PROBLEM_BASE + slug,
            "title": title,
            "status": 415,
            "detail": detail,
            "instance": request.url.path,
        },
    )


def install_error_handlers(app: FastAPI) -> None:
    """Map DomainError, validation errors and Starlette HTTP errors to problem+json."""

    async def on_domain_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, DomainError)
        if error.status >= 500:
            log.error("domain_error", type=error.type_slug, detail=error.detail)
        return render_error(error, instance=request.url.path)

    async def on_validation_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, RequestValidationError)
        if any(_unparsed_body(item) for item in error.errors()):
            return _unsupported_media_type(request)
        items = error.errors()
        errors = [
            {"field": ".".join(str(p) for p in item["loc"]), "message": item["msg"]}
            for item in items[:50]
        ]
        precise = {PRECISE_VALIDATION_TYPES.get(item["type"]) for item in items}
        # One precise kind of fault (every error a bad timestamp, say) gets its own type.
        kind = precise.pop() if len(precise) == 1 else None
        return problem_response(
            status=400,
            body={
                "type": PROBLEM_BASE + (kind.type_slug if kind else "validation-error"),
                "title": kind.title if kind else "Invalid request",
                "status": 400,
                "detail": "The request has invalid fields; see `errors`.",
                "instance": request.url.path,
                "errors": errors,
            },
        )

    async def on_http_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, StarletteHTTPException)
        slug, title = _HTTP_SLUGS.get(error.status_code, ("http-error", "HTTP error"))
        headers = dict(error.headers or {})
        if error.status_code == 405:
            headers["Allow"] = _allowed_methods(request)
        return problem_response(
            status=error.status_code,
            body={
                "type": PROBLEM_BASE + slug,
                "title": title,
                "status": error.status_code,
                "detail": str(error.detail),
                "instance": request.url.path,
            },
            headers=headers,
        )

    async def on_database_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, DBAPIError)
        if not isinstance(error.orig, pg_errors.DataError):
            raise error  # a real server fault: the middleware logs it and answers 500
        return _invalid_data(request)

    async def on_unencodable(request: Request, error: Exception) -> Response:
        return _invalid_data(request)

    async def on_driver_data_error(request: Request, error: Exception) -> Response:
        # The same refusal raised on a raw psycopg connection (the ledger's hot path).
        assert isinstance(error, pg_errors.DataError)
        return _invalid_data(request)

    async def on_keyring_error(request: Request, error: Exception) -> Response:
        # Keys not loaded yet (the database was down at start) or a value the keys cannot
        # open: the client can do nothing about either, and neither is worth a 500 page.
        log.error("keyring_unavailable", path=request.url.path, reason=str(error))
        return render_error(_KEYS_UNAVAILABLE, instance=request.url.path)

    app.add_exception_handler(KeyRingError, on_keyring_error)
    app.add_exception_handler(DomainError, on_domain_error)
    app.add_exception_handler(DBAPIError, on_database_error)
    app.add_exception_handler(pg_errors.DataError, on_driver_data_error)
    app.add_exception_handler(UnicodeEncodeError, on_unencodable)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)


def _allowed_methods(request: Request) -> str:
    """Every method some route serves at this path.

    Starlette's 405 names only the first route matching the path, but a path often has
    several routes (GET and POST on /v1/users), one per method.
    """
    from fastapi.routing import iter_route_contexts

    methods: set[str] = set()
    # Included routers are flattened into their effective routes (prefix applied).
    for context in iter_route_contexts(request.app.router.routes):
        route = context.route
        for method in getattr(route, "methods", None) or ():
            if route.matches({**request.scope, "method": method})[0] is Match.FULL:
                methods.add(method)
    return ", ".join(sorted(methods))
