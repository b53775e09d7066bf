"""The DomainError hierarchy. Every error a client can see is one of these.

Each class has a stable `type_slug` (the last part of the problem `type` URI), an HTTP
status and a title. Services raise them; one handler in `core.http` renders problem+json.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

PROBLEM_BASE = "https://fiscus.dev/problems/"
# Slugs renamed so that every slug names its subject first and what is wrong with it last
# (docs/API_CONVENTIONS.md, changelog): old -> new. An old slug is never given to another
# error, so a client still matching it can only miss, never misread.
RETIRED_SLUGS = {
    "weak-password": "password-weak",
    "invalid-credentials": "credentials-invalid",
    "invalid-token": "token-invalid",
    "invalid-mfa-code": "mfa-code-invalid",
    "mfa-state": "mfa-state-unexpected",
    "unsafe-webhook-url": "webhook-url-unsafe",
    "invalid-data": "data-invalid",
}


@dataclass(frozen=True, slots=True)
class FieldError:
    """One invalid field: a dotted path and a message."""

    field: str
    message: str


class DomainError(Exception):
    """Root of every error fiscus reports to a client."""

    type_slug: ClassVar[str] = "domain-error"
    title: ClassVar[str] = "Request refused"
    status: ClassVar[int] = 422

    def __init__(
        self,
        detail: str,
        *,
        errors: list[FieldError] | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []
        self.extra = extra or {}
        self.headers = headers or {}

    @property
    def type_uri(self) -> str:
        """The problem `type`: a stable URI clients branch on."""
        return PROBLEM_BASE + self.type_slug

    def problem(self) -> dict[str, Any]:
        """The RFC 9457 body, without the request-specific members."""
        body: dict[str, Any] = {
            "type": self.type_uri,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.errors:
            body["errors"] = [{"field": e.field, "message": e.message} for e in self.errors]
        body.update(self.extra)
        return body


class ValidationProblem(DomainError):
    """The request is malformed: a field is missing, of the wrong type or out of range."""

    type_slug = "validation-error"
    title = "Invalid request"
    status = 400

    def __init__(self, detail: str, *, field: str | None = None, **kwargs: Any) -> None:
        if field is not None:
            kwargs.setdefault("errors", [FieldError(field, detail)])
        super().__init__(detail, **kwargs)


class InvalidCursor(ValidationProblem):
    """The `cursor` (or `after`) is not one this list handed out: tampered, or another list's."""

    type_slug = "cursor-invalid"
    title = "Invalid cursor"

    def __init__(self, detail: str = "", *, field: str = "cursor", **kwargs: Any) -> None:
        detail = detail or f"`{field}` is not a cursor this list handed out; start again."
        super().__init__(detail, field=field, **kwargs)


class InvalidTimestamp(ValidationProblem):
    """A time is not RFC 3339 with an explicit offset, or lies outside years 1-9999 in UTC."""

    type_slug = "timestamp-invalid"
    title = "Invalid timestamp"


# pydantic error types (raised as PydanticCustomError by shared field types) that the
# validation handler reports with their own problem type instead of `validation-error`.
PRECISE_VALIDATION_TYPES: dict[str, type[ValidationProblem]] = {
    "invalid_timestamp": InvalidTimestamp,
}


class NotAuthenticated(DomainError):
    """No valid credentials were presented."""

    type_slug = "unauthenticated"
    title = "Not authenticated"
    status = 401


class PermissionDenied(DomainError):
    """The caller is authenticated but may not do this."""

    type_slug = "forbidden"
    title = "Not allowed"
    status = 403


class NotFound(DomainError):
    """No such object, or it belongs to another tenant (never revealed)."""

    type_slug = "not-found"
    title = "Not found"
    status = 404


class Conflict(DomainError):
    """The object's current state does not allow this change."""

    type_slug = "conflict"
    title = "Conflict"
    status = 409


class IdempotencyKeyReused(Conflict):
    """The Idempotency-Key was already used with a different request."""

    type_slug = "idempotency-key-reused"
    title = "Idempotency key reused with a different request"


class IdempotencyKeyInUse(Conflict):
    """A request with the same Idempotency-Key is still being processed."""

    type_slug = "idempotency-key-in-use"
    title = "Request with this idempotency key in progress"


class IdempotencyKeyRequired(ValidationProblem):
    """This operation moves money and needs an Idempotency-Key header."""

    type_slug = "idempotency-key-required"
    title = "Idempotency-Key header required"


class BusinessRuleViolation(DomainError):
    """The request is well formed but a business rule refuses it."""

    type_slug = "business-rule-violation"
    title = "Refused by a business rule"
    status = 422


class PayloadTooLarge(DomainError):
    """The request body is larger than the configured limit."""

    type_slug = "payload-too-large"
    title = "Request body too large"
    status = 413


class RateLimited(DomainError):
    """Too many requests; retry after the number of seconds in Retry-After."""

    type_slug = "rate-limited"
    title = "Too many requests"
    status = 429

    def __init__(self, detail: str, *, retry_after_s: int, **kwargs: Any) -> None:
        headers = {"Retry-After": str(max(1, retry_after_s))}
        super().__init__(detail, headers=headers, **kwargs)
        self.retry_after_s = retry_after_s


class ServiceUnavailable(DomainError):
    """A dependency (database, Redis) is unavailable; retry later."""

    type_slug = "service-unavailable"
    title = "Service unavailable"
    status = 503


class ServerBusy(ServiceUnavailable):
    """The process is at capacity and this request could not start in time; retry later.

    Nothing was done: the process had as many requests in progress as it admits and none
    finished within the admission wait (core/admission.py)."""

    type_slug = "server-busy"
    title = "Server at capacity"

    def __init__(self, detail: str, *, retry_after_s: int = 1) -> None:
        super().__init__(detail, headers={"Retry-After": str(max(1, retry_after_s))})


class KeysUnavailable(ServiceUnavailable):
    """The encryption keys are not loaded, or cannot open a stored value; retry later."""

    type_slug = "keys-unavailable"
    title = "Encryption keys unavailable"


def all_error_classes() -> list[type[DomainError]]:
    """Every DomainError subclass loaded so far, for the docs and the tests."""
    seen: list[type[DomainError]] = [DomainError]
    index = 0
    while index < len(seen):
        seen.extend(sub for sub in seen[index].__subclasses__() if sub not in seen)
        index += 1
    return seen
