"""The OpenAPI document tells the whole contract: it validates, declares security and the
headers clients send and receive, and documents every problem type the code can raise.
Where the document makes a promise about behaviour, a real request checks it."""

from __future__ import annotations

import ast
import uuid
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate

from fiscus.api import create_app
from fiscus.core.admission import EXEMPT_PATHS
from fiscus.core.errors import DomainError, all_error_classes
from fiscus.core.openapi import PLUMBING_PROBLEMS, error_problem_types
from tests.conftest import make_settings

SRC = Path(__file__).resolve().parents[2] / "src" / "fiscus"
PROBLEM_JSON = "application/problem+json"


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return create_app(make_settings(None)).openapi()


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


def _documented_types(document: dict[str, Any]) -> set[str]:
    return {
        slug
        for _, _, operation in _operations(document)
        for response in operation["responses"].values()
        for slug in response.get("content", {}).get(PROBLEM_JSON, {}).get("examples", {})
    }


def _literal_problem_slugs() -> set[str]:
    """Every `PROBLEM_BASE + "slug"` written by hand anywhere in the code."""
    slugs: set[str] = set()
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.BinOp)
                and isinstance(node.left, ast.Name)
                and node.left.id == "PROBLEM_BASE"
                and isinstance(node.right, ast.Constant)
                and isinstance(node.right.value, str)
            ):
                slugs.add(node.right.value)
    return slugs


def test_the_document_is_valid_openapi(document) -> None:
    validate(document)
    assert document["openapi"].startswith("3.1")


def test_every_problem_type_the_code_can_raise_is_documented(document) -> None:
    raisable = {
        problem.slug
        for error in all_error_classes()
        if error is not DomainError
        for problem in error_problem_types(error)
    }
    raisable |= {slug for slug, _, _ in PLUMBING_PROBLEMS} | _literal_problem_slugs()
    assert "exceeds_credits" in raisable and "not-ready" in raisable  # the walk reaches them
    assert raisable - _documented_types(document) == set()


def test_each_problem_response_has_an_example_per_type_with_its_status(document) -> None:
    for method, path, operation in _operations(document):
        for status, response in operation["responses"].items():
            if int(status) < 400:
                continue
            content = response["content"]
            assert list(content) == [PROBLEM_JSON], (method, path, status)
            examples = content[PROBLEM_JSON]["examples"]
            assert examples, (method, path, status)
            for slug, example in examples.items():
                assert example["value"]["status"] == int(status), (method, path, slug)
                assert example["value"]["type"].endswith("/" + slug)
                assert f"`{slug}`" in response["description"]


def test_security_schemes_are_declared_and_required_where_routes_authenticate(document) -> None:
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {**schemes["bearerAuth"], "type": "http", "scheme": "bearer"}
    assert schemes["apiKey"]["scheme"] == "bearer"
    secured = [op for _, _, op in _operations(document) if op["security"]]
    assert len(secured) >= 63
    for method, path, operation in _operations(document):
        if path.startswith("/v1/me/") or path in {"/v1/me", "/v1/auth/logout"}:
            assert operation["security"] == [{"bearerAuth": []}], (method, path)
        elif path.startswith("/v1/ledger"):
            assert {"apiKey": []} in operation["security"], (method, path)


def test_money_movement_requires_an_idempotency_key(document) -> None:
    required = {
        (method, path)
        for method, path, operation in _operations(document)
        for parameter in operation.get("parameters", [])
        if parameter["name"] == "Idempotency-Key" and parameter["required"]
    }
    assert required == {
        ("POST", "/v1/ledger/transfers"),
        ("POST", "/v1/ledger/transfers/batch"),
        ("POST", "/v1/ledger/transfers/{transfer_id}/post"),
        ("POST", "/v1/ledger/transfers/{transfer_id}/void"),
        ("POST", "/v1/ledger/transfers/{transfer_id}/reverse"),
        ("POST", "/v1/accounts/{account_id}/deposits"),
        ("POST", "/v1/transfers"),
        ("POST", "/v1/fx/conversions"),
        ("POST", "/v1/payments"),
        ("POST", "/v1/fees/{fee_id}/reverse"),
    }
    optional = {
        (method, path)
        for method, path, operation in _operations(document)
        for parameter in operation.get("parameters", [])
        if parameter["name"] == "Idempotency-Key" and not parameter["required"]
    }
    assert ("POST", "/v1/ledger/accounts") in optional
    assert ("POST", "/v1/users") in optional


def test_response_headers_and_probe_exemptions_are_documented(document) -> None:
    for method, path, operation in _operations(document):
        exempt = path in EXEMPT_PATHS
        assert ("429" in operation["responses"]) is not exempt, (method, path)
        takes_key = any(p["name"] == "Idempotency-Key" for p in operation.get("parameters", []))
        for status, response in operation["responses"].items():
            headers = response["headers"]
            assert "X-Request-ID" in headers
            assert ("RateLimit-Remaining" in headers) is not exempt, (method, path, status)
            if status in {"429", "503"}:
                assert "Retry-After" in headers, (method, path, status)
            if takes_key and int(status) < 400:
                assert "Idempotent-Replayed" in headers, (method, path, status)
            assert response["description"] != "Successful Response", (method, path, status)


def test_readyz_entries_batches_and_messages_have_schemas_with_examples(document) -> None:
    schemas = document["components"]["schemas"]
    ready = document["paths"]["/readyz"]["get"]["responses"]
    assert ready["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/Readiness")
    assert "not-ready" in ready["503"]["content"][PROBLEM_JSON]["examples"]
    for name in ("Readiness", "EntryRead", "BatchRead", "MessageRead", "InboxMessage"):
        assert schemas[name].get("examples"), name


def _path(path: str) -> str:
    return (
        path.replace("{event_type}", "transfer.posted")
        .replace("{channel}", "email")
        .replace("{name}", "clerk")
    )


def _url(path: str) -> str:
    for name in ("account_id", "transfer_id", "user_id", "key_id", "session_id", "event_id"):
        path = path.replace("{" + name + "}", str(uuid.uuid4()))
    for name in ("endpoint_id", "delivery_id", "message_id", "fee_id"):
        path = path.replace("{" + name + "}", str(uuid.uuid4()))
    return _path(path)


def _example_body(document: dict[str, Any], operation: dict[str, Any]) -> Any:
    body = operation.get("requestBody")
    if body is None:
        return None
    ref = body["content"]["application/json"]["schema"].get("$ref", "")
    examples = document["components"]["schemas"].get(ref.rsplit("/", 1)[-1], {}).get("examples")
    return examples[0] if examples else {}


async def test_documented_security_matches_what_the_server_enforces(client, document) -> None:
    asked = "Send `Authorization: Bearer"  # the authenticator's answer to a missing credential
    for method, path, operation in _operations(document):
        response = await client.request(method, _url(path), json=_example_body(document, operation))
        assert response.status_code < 500, (method, path, response.text)
        problem = response.headers.get("content-type") == "application/problem+json"
        detail = response.json()["detail"] if problem else ""
        if operation["security"]:
            assert response.status_code == 401 and detail.startswith(asked), (method, path)
        else:
            assert not detail.startswith(asked), (method, path)


async def test_documented_required_keys_are_required_by_the_server(
    client, document, make_principal
) -> None:
    owner = await make_principal(role="owner")
    checked = 0
    for method, path, operation in _operations(document):
        for parameter in operation.get("parameters", []):
            if parameter["name"] != "Idempotency-Key" or not parameter["required"]:
                continue
            response = await client.request(
                method,
                _url(path),
                json=_example_body(document, operation),
                headers=owner.headers,
            )
            assert response.status_code == 400, (method, path, response.text)
            assert response.json()["type"].endswith("/idempotency-key-required"), (method, path)
            checked += 1
    assert checked == 10
