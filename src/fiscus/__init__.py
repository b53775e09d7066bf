"""fiscus: a multi-tenant financial platform around one double-entry ledger."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("fiscus")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
