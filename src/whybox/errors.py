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
