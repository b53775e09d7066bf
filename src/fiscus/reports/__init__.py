"""Reports: the one PDF toolkit every module renders its documents with (statements,
receipts, tax summaries; later investor reports, invoices and quotes).

    from fiscus.reports import Branding, Column, PdfDocument, money_text

    doc = PdfDocument(branding=Branding(name="Demo Bank", colour="#0B5FFF"),
                      title="Statement", subtitle="1 Nov to 30 Nov 2026")
    doc.key_values([("IBAN", "DE89 3704 0044 0532 0130 00")])
    table = doc.table([Column("Date", 24), Column("Amount", 30, align="R")])
    table.row(["2026-11-02", money_text(12345, "EUR")])
    doc.save(path)          # or doc.to_bytes() for a small document

Pages get the tenant's name and colour (and logo) in the header and "Page n of m" in the
footer; tables break across pages with their header repeated; text is Unicode (DejaVu
Sans, embedded and subset). Rendering is CPU work: callers in async code run it in a
thread (`anyio.to_thread.run_sync`).
"""

from fiscus.reports.pdf import Branding, Column, PdfDocument, PdfTable, money_text

__all__ = ["Branding", "Column", "PdfDocument", "PdfTable", "money_text"]
