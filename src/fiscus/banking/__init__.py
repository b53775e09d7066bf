"""Banking: customers, deposit accounts, payees, payments, standing orders, FX and alerts."""
