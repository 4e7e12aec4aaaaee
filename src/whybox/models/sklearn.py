"""Adapter for scikit-learn estimators and pipelines (and anything with their predict API)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InputError, ModelError
from .base import PRIORITY, Prediction, register_adapter

_EPS = 1e-12


def _is_classifier(model: Any) -> bool:
    return hasattr(model, "predict_proba") and hasattr(model, "classes_")


def _allow_nan(model: Any) -> bool:
    try:
        from sklearn.utils import get_tags
        return bool(get_tags(model).input_tags.allow_nan)
    except Exception:
        return False


def log_odds(p: np.ndarray) -> np.ndarray:
    """log(p / (1 - p)), clipped away from 0 and 1."""
    p = np.clip(np.asarray(p, dtype=float), _EPS, 1 - _EPS)
    return np.log(p) - np.log1p(-p)


def classifier_outputs(proba: Any, margin: Any, classes: Any, output: str, kind: str) -> tuple:
    """Shared output choice for classifiers: returns (predict, output_space, output_names).

    proba   f(X) -> (n, classes) probabilities, or None
    margin  f(X) -> raw decision scores, or None
    """
    names = [str(c) for c in classes] if classes is not None else None
    if output in ("auto", "probability"):
        if proba is None:
            raise ModelError(f"{kind} offers no probabilities; use output='raw'")
        return proba, "probability", names
    if output == "log_odds":
        if proba is None:
            raise ModelError(f"{kind} offers no probabilities to turn into log-odds; use output='raw'")
        if names is not None and len(names) == 2:
            return (lambda X: log_odds(np.asarray(proba(X))[:, 1])), "log_odds", [names[1]]
        return (lambda X: log_odds(proba(X))), "log_odds", names
    if output == "raw":
        if margin is None:
            raise ModelError(f"{kind} has no raw margin (decision_function); use output='probability' "
                             "or 'log_odds'")
        out_names = [names[1]] if names is not None and len(names) == 2 else names
        return margin, "raw", out_names
    raise InputError(f"output='predict' gives class labels for {kind}, which cannot be explained as numbers; "
                     "use output='probability', 'log_odds' or 'raw'")


def _adapt(model: Any, output: str) -> Prediction:
    kind = type(model).__name__
    names = getattr(model, "feature_names_in_", None)
    common = dict(feature_names=None if names is None else [str(n) for n in names],
                  n_features=getattr(model, "n_features_in_", None), allow_nan=_allow_nan(model), wants_frame=True if names is not None else None,
                  kind=f"sklearn:{kind}", native=model)
    if _is_classifier(model):
        margin = model.decision_function if hasattr(model, "decision_function") else None
        predict, space, out_names = classifier_outputs(model.predict_proba, margin, model.classes_, output, kind)
        return Prediction(predict=predict, output=space, output_names=out_names, **common)
    if output in ("probability", "log_odds"):
        raise InputError(f"{kind} is a regressor: it has no {output}; use output='predict' (or 'auto')")
    n_out = getattr(model, "n_outputs_", 1)
    out_names = ["prediction"] if n_out == 1 else [f"y{i}" for i in range(n_out)]
    return Prediction(predict=model.predict, output="predict" if output != "raw" else "raw",
                      output_names=out_names, **common)


def _matches(model: Any) -> bool:
    return not isinstance(model, type) and hasattr(model, "predict") and hasattr(model, "fit")


register_adapter(_matches, _adapt, priority=PRIORITY["sklearn"])
