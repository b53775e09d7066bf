"""The Context every service call receives: which tenant, which actor, what they may do.

Access builds it (authentication turns a request into one); the class itself lives in
`core.context`, below every module, so that audit, which every module writes to, can
record who acted without importing access (that made an access <-> audit import loop).
"""

from __future__ import annotations

from fiscus.core.context import ActorType, Context

__all__ = ["ActorType", "Context"]
