"""Counterfactual recourse: the smallest feasible changes that would have made the model decide otherwise.

`CounterfactualSearch(model, data, immutable=[...], ...)` with `.explain(X, k=3, target=...)` returns a
`whybox.Counterfactuals` result (rows, what changed, validity, proximity, sparsity, diversity,
plausibility) whose `to_text()` reads "Had your income been 48,000 instead of 42,000, the decision would
have been approved."
"""

from .constraints import Constraints
from .search import CounterfactualSearch
from .space import FeatureSpace

__all__ = ["CounterfactualSearch", "Constraints", "FeatureSpace"]
