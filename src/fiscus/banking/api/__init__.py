"""The banking HTTP API: /v1/customers, /v1/products, /v1/accounts, /v1/transfers."""

from fastapi import APIRouter

from fiscus.banking.api._customers import router as customers_router

router = APIRouter()
router.include_router(customers_router)

__all__ = ["router"]
