"""Tenants, memberships, roles and permissions, and the request Context."""
