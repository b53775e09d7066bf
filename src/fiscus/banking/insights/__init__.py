"""Spending insights: categories, rules, budgets and the report of an account.

Every movement on a customer account gets a category when it posts: each banking use case
that moves money calls `movements_categorise` beside `alerts_check`, in its own unit of
work, and one statement matches the batch against the rules in PostgreSQL. Rules are the
tenant's (staff, `/v1/spending/rules`) or a customer's own (applied first, only to that
customer's accounts); conditions are case-insensitive substrings of the reference or the
counterparty's name, the counterparty's IBAN or account, the direction, an amount range
and card merchant category codes (ISO 18245, for the cards module to pass). No regular
expressions: a rule cannot make matching slow. The first rule by priority wins; without
one, money in is `income`, between the customer's own accounts `transfers`, else `other`.

A customer or staff re-categorises one transaction, optionally as a rule for the
customer. Budgets are monthly amounts per category; the first time in a month spending
reaches 80 % and 100 % the event `banking.budget.threshold_crossed` names the customer's
portal users, which messaging turns into email, SMS or in-app messages.
"""
