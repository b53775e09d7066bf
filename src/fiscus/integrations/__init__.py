"""Clients for outside services: exchange rates today; accounting, registries later.

Each client turns an outside document into fiscus's own small dataclasses, refuses what it
cannot read with a domain error, and never follows the outside service's idea of where to
go next: the operator configures every address.
"""
