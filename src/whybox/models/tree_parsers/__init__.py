"""Parsers from each library's fitted trees into `TreeEnsemble` (see ../trees.py for the format).

`parse(model)` picks the parser by the library the model's class (or one of its base
classes, for subclasses such as scikit-optimize's forests) comes from, without importing
libraries the model does not come from.
"""

from __future__ import annotations

import importlib
from typing import Any, Mapping, Sequence

import numpy as np

from ...errors import ModelError

# module prefix of the model's class -> parser module (each defines parse(model) -> TreeEnsemble)
_PARSERS = {
    "sklearn": "sklearn",
    "xgboost": "xgboost",
    "lightgbm": "lightgbm",
    "catboost": "catboost",
}


def library_of(model: Any) -> str | None:
    """Which supported library a model's class, or the nearest of its base classes, comes from, or None."""
    if isinstance(model, type):
        return None
    for cls in type(model).__mro__:
        top = (getattr(cls, "__module__", None) or "").split(".")[0]
        if top in _PARSERS:
            return top
    return None


def parse(model: Any) -> "TreeEnsemble":  # noqa: F821
    lib = library_of(model)
    if lib is None:
        raise ModelError(f"{type(model).__name__} is not a tree model whybox can read; supported: scikit-learn "
                         "trees and forests, (Hist)GradientBoosting, IsolationForest, XGBoost, LightGBM, CatBoost")
    module = importlib.import_module(f"{__name__}.{_PARSERS[lib]}")
    return module.parse(model)


def why_not(model: Any) -> str | None:
    """None when `parse(model)` can read this model, else the reason it cannot (tried cheaply).

    A reason is the parser's own refusal: not a tree model of a supported library, not fitted, a split or
    loss the tree format cannot hold. Any other exception (a library call that fails) propagates.
    """
    lib = library_of(model)
    if lib is None:
        return (f"{type(model).__name__} is not a tree model whybox can read (scikit-learn trees and forests, "
                "(Hist)GradientBoosting, IsolationForest, XGBoost, LightGBM, CatBoost)")
    module = importlib.import_module(f"{__name__}.{_PARSERS[lib]}")
    return module.why_not(model)


def supports(model: Any) -> bool:
    """True when `parse(model)` can read this model: `why_not(model) is None`."""
    return why_not(model) is None


def given_categories(categories: Mapping[Any, Sequence] | None, feature_names: Sequence[str] | None,
                      n_features: int) -> dict[int, list]:
    """A user's `categories=` ({column name or index: values in code order}) keyed by column index."""
    if not categories:
        return {}
    out = {}
    names = list(feature_names or [])
    for key, values in categories.items():
        if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
            j = int(key)
        elif str(key) in names:
            j = names.index(str(key))
        else:
            raise ModelError(f"categories names column {key!r}, which the model does not have "
                             f"(columns: {names or list(range(n_features))})")
        if not 0 <= j < n_features:
            raise ModelError(f"categories names column {j}, but the model has {n_features} columns")
        out[j] = list(values)
    return out
