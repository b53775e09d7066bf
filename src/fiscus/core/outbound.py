"""Outbound HTTP: one verifying TLS context per process, shared by every client.

Building a TLS context loads the CA bundle, about 20-30 ms of CPU. The webhook dispatcher
opens a client on every run (one per committed event under load), so a fresh context each
time was a quarter of the server's CPU in the load benchmark (bench/RESULTS.md, "Load").
"""

from __future__ import annotations

import functools
import ssl

import httpx


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The process's verifying TLS context (certifi's CA bundle, as httpx uses by default)."""
    return httpx.create_ssl_context()
