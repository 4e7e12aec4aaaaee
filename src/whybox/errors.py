"""Errors whybox raises. Each message says what is wrong and how to fix it.

This module sits at the bottom of the import graph with `results`: it imports
nothing of whybox.
"""


class WhyboxError(Exception):
    """Base class of every error whybox raises on purpose."""


class InputError(WhyboxError, ValueError):
    """The data handed to a model or explainer cannot be used as given."""


class ModelError(WhyboxError, TypeError):
    """The model cannot be wrapped or returned something unusable."""


class BudgetError(WhyboxError, ValueError):
    """A method was asked for more work than it allows (too many features, too small a budget)."""


class AdditivityError(WhyboxError, ArithmeticError):
    """A Shapley-family explanation does not add up to the output the model's own library computes.

    Attributes:
      rows   indices of the rows that miss, worst first
      gaps   |base + sum(values) - model output| of those rows (largest over outputs)
      tolerance  the gap that was allowed
    """

    def __init__(self, message: str, rows: "list[int] | None" = None, gaps: "list[float] | None" = None,
                 tolerance: float = 0.0) -> None:
        super().__init__(message)
        self.rows = list(rows or [])
        self.gaps = list(gaps or [])
        self.tolerance = float(tolerance)
