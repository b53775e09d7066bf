"""HTTP routes of the identity module."""

from fastapi import APIRouter

from fiscus.identity.api._admin import router as admin_router
from fiscus.identity.api._auth import router as auth_router
from fiscus.identity.api._me import router as me_router

router = APIRouter()
router.include_router(auth_router)
router.include_router(me_router)
router.include_router(admin_router)

__all__ = ["router"]
