"""Risk: sanctions lists the platform operator loads, and screening names against them.

Lists are global, not per tenant. A sanctions list (OFAC SDN, the EU's consolidated list,
the UN's) is law that binds every bank on the platform alike: one copy loaded by the
operator serves every tenant, is updated for all of them at once, and cannot be edited,
emptied or forgotten by a tenant that would rather not find a hit. So the tables have no
`tenant_id` and no row-level security; instead the tenant role `fiscus_app` may only read
them (the migration revokes every write), and only the operator's CLI (`fiscus sanctions
load`), which runs as the login role, writes them. A tenant that needs a private list of
its own (an internal watch list) would get a tenant-scoped table next to these.

Matching (see `names`): every listed name and alias is stored pre-normalised (case folded,
accents and punctuation removed, tokens sorted), and each process keeps the normalised
names of each list in memory, keyed by the list's load version, so that a screening costs
one small query (the versions) plus C++ fuzzy matching (rapidfuzz) over the cached names;
the entries are read again only after a reload.
"""
