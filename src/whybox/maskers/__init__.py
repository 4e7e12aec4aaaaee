"""How a feature is "removed": background rows for tables (token masks and image blurs come later)."""

from .tabular import TabularMasker, summarize

__all__ = ["TabularMasker", "summarize"]
