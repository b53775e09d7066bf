"""Banking: customers, deposit products and accounts, payments, standing orders, FX."""
