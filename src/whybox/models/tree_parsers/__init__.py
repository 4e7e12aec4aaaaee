"""Parsers from each library's fitted trees into `TreeEnsemble` (see ../trees.py for the format).

`parse(model)` picks the parser by the model's module, without importing libraries
the model does not come from.
"""

from __future__ import annotations

import importlib
from typing import Any

from ...errors import ModelError

# module prefix of the model's class -> parser module (each defines parse(model) -> TreeEnsemble)
_PARSERS = {
    "sklearn": "sklearn",
    "xgboost": "xgboost",
    "lightgbm": "lightgbm",
    "catboost": "catboost",
}


def library_of(model: Any) -> str | None:
    """Which supported library a model comes from ("sklearn", "xgboost", ...), or None."""
    if isinstance(model, type):
        return None
    top = type(model).__module__.split(".")[0]
    return top if top in _PARSERS else None


def parse(model: Any) -> "TreeEnsemble":  # noqa: F821
    lib = library_of(model)
    if lib is None:
        raise ModelError(f"{type(model).__name__} is not a tree model whybox can read; supported: scikit-learn "
                         "trees and forests, (Hist)GradientBoosting, XGBoost, LightGBM, CatBoost")
    module = importlib.import_module(f"{__name__}.{_PARSERS[lib]}")
    return module.parse(model)


def supports(model: Any) -> bool:
    """True when `parse(model)` can read this model (tried cheaply; no error escapes)."""
    lib = library_of(model)
    if lib is None:
        return False
    try:
        module = importlib.import_module(f"{__name__}.{_PARSERS[lib]}")
    except ImportError:
        return False
    check = getattr(module, "supports", None)
    return bool(check(model)) if check is not None else True
