"""Banking tables (the FX rate table lives with its sub-module)."""

from fiscus.banking.fx import models as fx_models

__all__ = ["fx_models"]
