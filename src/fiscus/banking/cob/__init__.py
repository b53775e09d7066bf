"""Close of business (COB): per tenant, in order and each step idempotent, expire pending
holds, pay standing orders, accrue interest, post interest, charge fees, mark dormant
accounts and roll the business date; recorded in `banking_cob_runs`/`banking_cob_steps`
so that a run that stopped resumes at the step it stopped in.
"""
