"""Joint accounts: more holders than the primary one, a signing rule, and approvals.

An account has one primary holder (its `customer_id`) and may have more in
`banking_account_holders`, each an owner, co-owner or viewer with a nickname of its own.
A portal user linked to any holder customer sees the account; owners and co-owners (and
the primary holder) sign, viewers only read. Under the signing rule `all`, money a
signing holder's portal user sends does not move at once: it waits in `banking_approvals`
until every other signing holder has approved it (or it is rejected, or it expires).
"""
