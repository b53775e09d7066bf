"""The banking HTTP API: /v1/customers, /v1/products, /v1/accounts, /v1/transfers,
/v1/payees, /v1/payments, /v1/standing-orders and /v1/approvals."""

from fastapi import APIRouter

from fiscus.banking.api._accounts import router as accounts_router
from fiscus.banking.api._customers import router as customers_router
from fiscus.banking.api._orders import router as orders_router
from fiscus.banking.api._payees import router as payees_router
from fiscus.banking.api._payments import incoming_router
from fiscus.banking.api._payments import router as payments_router
from fiscus.banking.api._products import router as products_router
from fiscus.banking.api._transfers import router as transfers_router
from fiscus.banking.joint.api import approvals_router, holders_router

router = APIRouter()
for _part in (customers_router, products_router, accounts_router, transfers_router):
    router.include_router(_part)
router.include_router(orders_router)
# Payees and payments: included on their own line, apart from the parts above.
for _part in (payees_router, payments_router, incoming_router):
    router.include_router(_part)
# Joint accounts: holders (under /v1/accounts) and approvals.
for _part in (holders_router, approvals_router):
    router.include_router(_part)

__all__ = ["router"]
