"""The tenant's exchange-rate table and currency conversion through the ledger's FX legs.

A rate is a mid-market price of one unit of `base` in `quote` plus the tenant's spread, a
fraction of the mid rate (0.005 = 0.5 %). A customer converting `base` to `quote` gets
`mid * (1 - spread)`; the difference between what the FX desk books at mid and what the
customer receives is the tenant's FX income, credited in the same ledger transfer.

Rates come from staff (`POST /v1/fx/rates`) or from a provider the operator configures
(`FISCUS_FX_RATES_URL`, the ECB's daily reference rates format), loaded by a daily job or
`fiscus fx load`. The rate in force for a pair at a moment is the newest one effective at
or before it; between two rates with the same moment a staff-entered one wins over a
provider's. A pair the table lacks is derived from its inverse or through one common
currency (e.g. USD->GBP through EUR), never invented.
"""
