"""Webhook errors clients can see."""

from __future__ import annotations

from fiscus.core.errors import BusinessRuleViolation, Conflict, NotFound


class EndpointNotFound(NotFound):
    """No such webhook endpoint in this tenant."""

    type_slug = "webhook-endpoint-not-found"
    title = "Webhook endpoint not found"


class DeliveryNotFound(NotFound):
    """No such webhook delivery for this endpoint."""

    type_slug = "webhook-delivery-not-found"
    title = "Webhook delivery not found"


class UnsafeWebhookUrl(BusinessRuleViolation):
    """The URL is not a public http(s) address (loopback, private, link-local, metadata)."""

    type_slug = "webhook-url-unsafe"
    title = "Webhook URL refused"


class EndpointDisabled(Conflict):
    """The endpoint is disabled; enable it before sending to it."""

    type_slug = "webhook-endpoint-disabled"
    title = "Webhook endpoint disabled"
