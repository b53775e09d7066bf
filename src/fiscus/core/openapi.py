"""The OpenAPI document, completed from the code rather than written route by route.

FastAPI documents paths, parameters and bodies. Everything else a client needs is derived
here, once, from what the routes already declare:

* security: a route depending on `authorized("resource:action")` (the dependency carries
  `__fiscus_permission__`) needs a bearer credential; `self:*` routes act as a person, so
  only an access token (JWT) will do, every other one also takes an API key;
* `Idempotency-Key`: taken by routes that use the idempotency store and by money
  movement; required on money movement (the permissions the app names as moving money);
* the problems each operation can return, per status, with one example per `type`: the
  core errors that follow from the route's shape (a body, path parameters, security, the
  key) and the errors of the route's own module and of the modules it calls (found in the
  modules' namespaces), filtered by the statuses the route declares;
* response headers: `X-Request-ID` everywhere, `RateLimit-*` wherever rate limits apply,
  `Retry-After` on 429 and 503, `Idempotent-Replayed` where a response can be a replay.
"""

from __future__ import annotations

import functools
import inspect
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts

from fiscus.core.errors import (
    PROBLEM_BASE,
    BusinessRuleViolation,
    Conflict,
    DomainError,
    IdempotencyKeyInUse,
    IdempotencyKeyRequired,
    IdempotencyKeyReused,
    InvalidCursor,
    InvalidTimestamp,
    KeysUnavailable,
    NotAuthenticated,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    RateLimited,
    ServerBusy,
    ServiceUnavailable,
    ValidationProblem,
    all_error_classes,
)
from fiscus.core.idempotency import HEADER, MAX_KEY_LENGTH, REPLAYED_HEADER

PROBLEM_JSON = "application/problem+json"
PROBLEM_REF = "#/components/schemas/Problem"
# Problems that the HTTP plumbing writes itself (core/http.py), not through a DomainError.
INVALID_DATA = ("data-invalid", "Invalid data", 400)
UNSUPPORTED_MEDIA = ("unsupported-media-type", "Unsupported media type", 415)
INTERNAL_ERROR = ("internal-error", "Internal server error", 500)
PLUMBING_PROBLEMS = (INVALID_DATA, UNSUPPORTED_MEDIA, INTERNAL_ERROR)
# Query parameters that carry a cursor handed out by a list (core/pagination.py).
CURSOR_PARAMETERS = frozenset({"cursor", "after"})
# A route may name problems it writes by hand: `responses={503: {"x-problem-types":
# {"not-ready": "Not ready"}}}`.
EXTRA_TYPES = "x-problem-types"
BEARER, API_KEY = "bearerAuth", "apiKey"


@dataclass(frozen=True, slots=True)
class ProblemType:
    """One documented problem `type`: slug, title, status."""

    slug: str
    title: str
    status: int

    @property
    def uri(self) -> str:
        """The `type` URI clients branch on."""
        return PROBLEM_BASE + self.slug


def error_problem_types(error: type[DomainError]) -> list[ProblemType]:
    """The problem types an error class produces: its own, or the variants it declares
    (`openapi_variants()`, e.g. a refused transfer's `type` ends with its result code)."""
    variants: Callable[[], list[tuple[str, str]]] | None = getattr(error, "openapi_variants", None)
    if variants is not None:
        return [ProblemType(slug, title, error.status) for slug, title in variants()]
    return [ProblemType(error.type_slug, error.title, error.status)]


def _core(error: type[DomainError]) -> ProblemType:
    return error_problem_types(error)[0]


@dataclass(frozen=True, slots=True)
class Contract:
    """What the app tells this module: probes without rate limits, money permissions."""

    exempt_paths: frozenset[str]
    money_permissions: frozenset[str]


def install_openapi(app: FastAPI, contract: Contract) -> None:
    """Replace `app.openapi` with the completed document (built once, then cached)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_document(app, contract)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def build_document(app: FastAPI, contract: Contract) -> dict[str, Any]:
    """FastAPI's document, completed as the module docstring says."""
    document = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
    )
    components = document.setdefault("components", {})
    components["securitySchemes"] = _security_schemes()
    components["headers"] = _headers()
    schemas = components.setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)  # validation errors are 400 problems here
    schemas.pop("ValidationError", None)
    for context in iter_route_contexts(app.router.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        path = document["paths"].get(context.path_format)
        for method in sorted(context.methods or ()):
            operation = (path or {}).get(method.lower())
            if operation is not None:
                _complete(operation, context, route, contract, schemas)
    return document


def _security_schemes() -> dict[str, Any]:
    return {
        BEARER: {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "A person's access token from `POST /v1/auth/login` (15 minutes).",
        },
        API_KEY: {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "fsk_...",
            "description": "A service account's API key (`POST /v1/api-keys`), sent as "
            "`Authorization: Bearer fsk_...`; never in the query string.",
        },
    }


def _integer_header(description: str) -> dict[str, Any]:
    return {"description": description, "schema": {"type": "integer", "minimum": 0}}


def _headers() -> dict[str, Any]:
    return {
        "X-Request-ID": {
            "description": "This request's id (also `request_id` in problems and in the logs);"
            " an incoming safe `X-Request-ID` is kept.",
            "schema": {"type": "string"},
        },
        "RateLimit-Limit": _integer_header("Requests allowed per minute by the caller's plan"),
        "RateLimit-Remaining": _integer_header("Requests left in the current window"),
        "RateLimit-Reset": _integer_header("Seconds until the budget is refilled"),
        "Retry-After": _integer_header("Seconds to wait before retrying"),
        REPLAYED_HEADER: {
            "description": f"`true` when this is the stored response to an earlier request with"
            f" the same `{HEADER}` and body; absent otherwise.",
            "schema": {"type": "string", "enum": ["true"]},
        },
    }


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for sub in dependant.dependencies:
        yield from _dependants(sub)


def route_permission(context: Any) -> str | None:
    """The permission the route's `authorized(...)` dependency checks, or None (public)."""
    for dependant in _dependants(context.dependant):
        permission = getattr(dependant.call, "__fiscus_permission__", None)
        if permission is not None:
            return str(permission)
    return None


def route_idempotency(context: Any, contract: Contract) -> str | None:
    """ "required", "optional" or None: how the route treats an Idempotency-Key."""
    permission = route_permission(context)
    if permission in contract.money_permissions:
        return "required"
    uses_store = any(
        getattr(d.call, "__name__", "") == "_idempotency" for d in _dependants(context.dependant)
    )
    return "optional" if uses_store else None


@functools.cache
def _module_errors(package: str) -> frozenset[type[DomainError]]:
    """Errors defined in or imported by `package`'s modules, and those of the packages
    whose functions it calls (one level: a route's module and the services it uses)."""
    found: set[type[DomainError]] = set()
    called: set[str] = set()
    used_core: set[str] = set()
    for name, module in list(sys.modules.items()):
        if module is None or not (name == package or name.startswith(package + ".")):
            continue
        for value in vars(module).values():
            if inspect.isclass(value) and issubclass(value, DomainError):
                found.add(value)
            owner = getattr(value, "__module__", None) or getattr(value, "__name__", "")
            if isinstance(owner, str) and _is_service(owner):
                called.add(_package_of(owner))
            elif isinstance(owner, str) and owner.startswith("fiscus.core."):
                used_core.add(owner)  # e.g. Money, whose arithmetic raises currency-mismatch
    for other in called - {package, "fiscus.core"}:
        errors = sys.modules.get(other + ".errors")
        if errors is not None:
            found.update(
                v
                for v in vars(errors).values()
                if inspect.isclass(v) and issubclass(v, DomainError)
            )
    found.update(
        error
        for error in all_error_classes()
        if error.__module__ in used_core and error.__module__ != "fiscus.core.errors"
    )
    return frozenset(error for error in found if error.__module__ != "fiscus.core.errors")


def _is_service(module: str) -> bool:
    # Modules meet through `service` and `queries` (STYLE rule 3): what those raise can
    # reach the caller's client; a shared type such as the Context raises nothing.
    parts = module.split(".")
    return parts[0] == "fiscus" and len(parts) > 2 and parts[2] in {"service", "queries"}


def _package_of(module: str) -> str:
    return ".".join(module.split(".")[:2])


def _problems(
    context: Any, route: APIRoute, operation: dict[str, Any], contract: Contract
) -> dict[int, list[ProblemType]]:
    """Status -> the problem types this operation can answer with."""
    permission = route_permission(context)
    idempotency = route_idempotency(context, contract)
    declared = {int(s) for s in route.responses if str(s).isdigit() and int(s) >= 400}
    has_input = bool(operation.get("parameters") or operation.get("requestBody"))
    path_params = any(p.get("in") == "path" for p in operation.get("parameters", []))
    core: list[ProblemType] = [
        _core(ServiceUnavailable),
        _core(KeysUnavailable),
        *([_core(ServerBusy)] if context.path_format not in contract.exempt_paths else []),
    ]
    core.append(ProblemType(*INTERNAL_ERROR))
    if has_input or idempotency:
        core += [_core(ValidationProblem), _core(InvalidTimestamp), ProblemType(*INVALID_DATA)]
    if any(p.get("name") in CURSOR_PARAMETERS for p in operation.get("parameters", [])):
        core.append(_core(InvalidCursor))
    if "requestBody" in operation:
        core += [_core(PayloadTooLarge), ProblemType(*UNSUPPORTED_MEDIA)]
    if idempotency == "required":
        core.append(_core(IdempotencyKeyRequired))
    if idempotency is not None:
        core += [_core(IdempotencyKeyReused), _core(IdempotencyKeyInUse)]
    if permission is not None:
        core += [_core(NotAuthenticated), _core(PermissionDenied)]
    if path_params or 404 in declared:
        core.append(_core(NotFound))
    if context.path_format not in contract.exempt_paths:
        core.append(_core(RateLimited))
    statuses = {p.status for p in core} | declared
    # The generic classes, for what a module raises without a subclass of its own.
    core += [_core(e) for e in (Conflict, BusinessRuleViolation) if e.status in declared]
    own = [
        problem
        for error in _module_errors(_package_of(route.endpoint.__module__))
        if permission is None or _applies(error, permission)
        for problem in error_problem_types(error)
        if problem.status in statuses
    ]
    by_status: dict[int, list[ProblemType]] = {}
    for problem in [*core, *own, *_extra_types(route)]:
        listed = by_status.setdefault(problem.status, [])
        if problem.slug not in {p.slug for p in listed}:
            listed.append(problem)
    for status in declared - set(by_status):
        by_status[status] = []  # declared by the route: documented even without a known type
    return by_status


def _applies(error: type[DomainError], permission: str) -> bool:
    # An error may name the permissions of the only routes that can raise it.
    scope: Iterable[str] | None = getattr(error, "openapi_permissions", None)
    return scope is None or permission in scope


def _extra_types(route: APIRoute) -> list[ProblemType]:
    return [
        ProblemType(slug, title, int(status))
        for status, response in route.responses.items()
        for slug, title in (response.get(EXTRA_TYPES) or {}).items()
    ]


def _example(problem: ProblemType, path: str) -> dict[str, Any]:
    value: dict[str, Any] = {
        "type": problem.uri,
        "title": problem.title,
        "status": problem.status,
        "detail": f"{problem.title}.",
        "instance": path,
        "request_id": "019a9f0e-3c1e-7f60-a1b2-6c0ffee00001",
    }
    if problem.slug == "validation-error":
        value["errors"] = [{"field": "body.amount", "message": "Input should be a valid integer"}]
    return {"summary": problem.title, "value": value}


def _problem_response(status: int, problems: list[ProblemType], path: str) -> dict[str, Any]:
    listed = ", ".join(f"`{p.slug}`" for p in problems) or "see `type`"
    response: dict[str, Any] = {
        "description": f"{HTTPStatus(status).phrase}. Problem types: {listed}.",
        "content": {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}},
    }
    if problems:
        response["content"][PROBLEM_JSON]["examples"] = {
            p.slug: _example(p, path) for p in problems
        }
    return response


def _success_description(
    status: int, response: dict[str, Any], route: APIRoute, schemas: dict[str, Any]
) -> str:
    phrase = HTTPStatus(status).phrase
    schema = (response.get("content") or {}).get("application/json", {}).get("schema", {})
    ref = schema.get("$ref") or (schema.get("items") or {}).get("$ref")
    described = schemas.get(ref.rsplit("/", 1)[-1], {}).get("description") if ref else None
    text = described or inspect.getdoc(route.endpoint) or route.summary or phrase
    first_paragraph = " ".join(text.split("\n\n")[0].split())
    return f"{phrase}: {first_paragraph.rstrip('.')}."


def _complete(
    operation: dict[str, Any],
    context: Any,
    route: APIRoute,
    contract: Contract,
    schemas: dict[str, Any],
) -> None:
    path = context.path_format
    permission = route_permission(context)
    idempotency = route_idempotency(context, contract)
    exempt = path in contract.exempt_paths
    if permission is None:
        operation["security"] = []
    else:
        schemes: list[dict[str, list[str]]] = [{BEARER: []}]
        if not permission.startswith("self:"):  # `self:*` acts as a person: no API keys
            schemes.append({API_KEY: []})
        operation["security"] = schemes
        operation["x-permission"] = permission
        operation["description"] = (
            operation.get("description", "") + f"\n\nPermission: `{permission}`."
        ).strip()
    if idempotency is not None:
        operation.setdefault("parameters", []).append(_idempotency_parameter(idempotency))
    responses: dict[str, Any] = operation.setdefault("responses", {})
    for status in [s for s in responses if s.isdigit() and int(s) >= 400]:
        del responses[status]  # rebuilt below, with problem+json only
    for code, problems in sorted(_problems(context, route, operation, contract).items()):
        responses[str(code)] = _problem_response(code, problems, path)
    for status, response in responses.items():
        code = int(status)
        if code < 400 and response.get("description") in {"Successful Response", None, ""}:
            response["description"] = _success_description(code, response, route, schemas)
        headers = {"X-Request-ID": {"$ref": "#/components/headers/X-Request-ID"}}
        if not exempt:
            for name in ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"):
                headers[name] = {"$ref": f"#/components/headers/{name}"}
        if code in {429, 503}:
            headers["Retry-After"] = {"$ref": "#/components/headers/Retry-After"}
        if idempotency is not None and code < 400:
            headers[REPLAYED_HEADER] = {"$ref": f"#/components/headers/{REPLAYED_HEADER}"}
        response["headers"] = headers


def _idempotency_parameter(idempotency: str) -> dict[str, Any]:
    required = idempotency == "required"
    return {
        "name": HEADER,
        "in": "header",
        "required": required,
        "description": ("Required: this operation moves money. " if required else "Optional. ")
        + "A retry with the same key and body returns the stored response with "
        f"`{REPLAYED_HEADER}: true`; the same key with another body is a 409. "
        "A UUID works well.",
        "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH},
        "example": "3f2c9a0e-5b1d-4c7e-9a55-0d1f7e0c0042",
    }
