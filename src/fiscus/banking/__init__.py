"""Banking: customers, deposit products and accounts, deposits and internal transfers.

Every amount lives in the ledger: an account is a ledger liability account and every
movement a ledger transfer posted in the banking use case's own unit of work.
"""
