"""The double-entry ledger: accounts, transfers and append-only entries."""
