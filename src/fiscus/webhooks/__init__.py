"""Webhooks: endpoints, signed Standard Webhooks deliveries, retries and the delivery log."""
