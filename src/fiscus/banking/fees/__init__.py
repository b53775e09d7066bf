"""Fees on deposit accounts: a product's fee schedule (monthly maintenance waived above a
balance, per transaction type, overdraft, dormancy), charged by the close of business as
ledger transfers to fee income, and reversed at most once by staff (audited).
"""
