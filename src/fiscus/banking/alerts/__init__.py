"""Account alerts: low balance and large transactions, told through messaging.

A customer's portal user (owner or viewer) or staff set thresholds per account. Every
banking use case that moves money calls `alerts_check` in its own unit of work, after the
ledger posting: one indexed look-up when the account has no alert, so the request path
stays lean. A low-balance alert fires when a movement takes the balance from at or above
its threshold to below it (crossing, not every movement while low); a large-transaction
alert fires on any movement in or out of at least its threshold. A fired alert is the
event `banking.alert.triggered`, naming the customer's portal users, which messaging
turns into email, SMS or in-app messages by each user's preferences.
"""
