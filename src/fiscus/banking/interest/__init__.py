"""Interest on deposit accounts: product terms and rate history, daily accrual, posting.

Each close of business (banking/cob) accrues one day of interest per account from the
ledger's end-of-day balance, stored per (account, date) so that accruing a day twice is
impossible, and on a posting period's last day posts the period's accruals as one ledger
transfer per account (interest expense -> account, withholding -> tax payable; overdraft
interest account -> interest income), rounded half-even with the residue carried on.
"""
