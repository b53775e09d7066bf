"""Account statements and documents: any period in six formats (PDF, CSV, XLSX, OFX 2,
camt.053, MT940) streamed from the ledger; monthly statements kept as records
(`banking_statements`) whose files are generated again on demand from the immutable
ledger; a PDF receipt per transfer; a year-end tax summary per customer.

Parts: `_source` (a statement's numbers), `_text` and `_files` (the writers), `_render`
(format selection and streaming), `_monthly` (the records and their job), `_documents`
(receipts and tax summaries), `api` (the routes). Nothing is re-exported here, so that
banking's models can load this package's models without a cycle.
"""
