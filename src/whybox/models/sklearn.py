"""Adapter for scikit-learn estimators and pipelines (and anything with their predict API).

Whether missing values (NaN) may reach a model is asked of scikit-learn's own tags
(`get_tags(est).input_tags.allow_nan`, scikit-learn >= 1.6), step by step through a Pipeline,
whose own tags say allow_nan=False whatever its steps do: NaN reaches the first step; an imputer,
a one-hot or target encoder turns it into numbers, other steps that take NaN pass it on, and the
first step after it that cannot take NaN refuses it. A ColumnTransformer is followed per input
column, so NaN may be allowed in some columns only (an imputed numeric column next to a one-hot
column that never saw NaN).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InputError, ModelError
from .base import PRIORITY, Prediction, register_adapter

_EPS = 1e-12


def _is_classifier(model: Any) -> bool:
    return hasattr(model, "predict_proba") and hasattr(model, "classes_")


def allow_nan(model: Any) -> bool | frozenset:
    """Where NaN may reach the model: True (any column), False (none), or the input columns that may hold it
    (names when the model was fitted on named columns, else positions). See the module docstring.

    An object without scikit-learn tags (a duck-typed model) gets True: it decides on NaN itself.
    """
    if _nan_path(model, None)[0]:
        return True
    n = getattr(model, "n_features_in_", None)
    if n is None:
        return False
    ok = [_nan_path(model, [j])[0] for j in range(int(n))]
    if not any(ok):
        return False
    names = getattr(model, "feature_names_in_", None)
    return frozenset((str(names[j]) if names is not None else j) for j in range(int(n)) if ok[j])


def _nan_path(est: Any, cols: list[int] | None) -> tuple[bool, bool]:
    """(whether `est` takes NaN in its input columns `cols`, whether NaN can come out of it).

    cols: positions in est's input that may hold NaN; None: any of them.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import FeatureUnion, Pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, OrdinalEncoder, TargetEncoder
    from sklearn.utils import get_tags

    if est is None or (isinstance(est, str) and est == "passthrough"):
        return True, True
    if isinstance(est, str) and est == "drop":
        return True, False
    if isinstance(est, Pipeline):
        first = True
        for _, step in est.steps:
            if step is None or (isinstance(step, str) and step == "passthrough"):
                continue
            ok, nan_out = _nan_path(step, cols if first else None)
            first = False
            if not ok:
                return False, False
            if not nan_out:                    # nothing missing reaches the later steps
                return True, False
        return True, True
    if isinstance(est, ColumnTransformer) and hasattr(est, "transformers_"):
        nan_out = False
        for name, trans, selected in est.transformers_:
            positions = _input_positions(est, name, selected)
            sub = None if cols is None or positions is None else [p for p, j in enumerate(positions) if j in cols]
            if sub is not None and not sub:
                continue                       # no missing value in this transformer's columns
            ok, out = _nan_path(trans, sub)
            if not ok:
                return False, False
            nan_out = nan_out or out
        return True, nan_out
    if isinstance(est, FeatureUnion):
        paths = [_nan_path(t, cols) for _, t in est.transformer_list]
        return all(ok for ok, _ in paths), any(out for _, out in paths)
    if hasattr(est, "best_estimator_"):        # a fitted search (GridSearchCV, ...) predicts with it
        return _nan_path(est.best_estimator_, cols)
    if isinstance(est, (OneHotEncoder, OrdinalEncoder)) and hasattr(est, "categories_"):
        # NaN is a category it saw in training, or an unknown value it is told to tolerate
        positions = range(len(est.categories_)) if cols is None else cols
        seen = all(any(_is_nan(v) for v in est.categories_[p]) for p in positions)
        return seen or est.handle_unknown != "error", isinstance(est, OrdinalEncoder)
    if isinstance(est, FunctionTransformer) and not est.validate:
        return True, True                      # hands X to its function as it is
    if not hasattr(est, "__sklearn_tags__"):
        return True, True                      # not scikit-learn: it decides on NaN itself
    if not get_tags(est).input_tags.allow_nan:
        return False, False
    removes = isinstance(est, TargetEncoder) or (type(est).__module__.startswith("sklearn.impute")
                                                 and _is_nan(getattr(est, "missing_values", None)))
    return True, not removes


def batch_invariant(model: Any) -> bool:
    """Whether the model computes each row on its own, so a batched call gives every row what it gets alone.

    True for scikit-learn's trees and tree ensembles (a sum over trees in a fixed order per row; a forest only
    with one job, since parallel jobs add the trees' probabilities in whatever order the threads finish).
    Networks and linear models go through BLAS, whose blocking may change with the batch's size.
    """
    from sklearn.ensemble._forest import BaseForest
    from sklearn.ensemble._gb import BaseGradientBoosting
    from sklearn.ensemble._hist_gradient_boosting.gradient_boosting import BaseHistGradientBoosting
    from sklearn.tree import BaseDecisionTree

    if isinstance(model, BaseForest):
        return model.n_jobs in (None, 1)
    return isinstance(model, (BaseDecisionTree, BaseGradientBoosting, BaseHistGradientBoosting))


def _input_positions(ct: Any, name: str, selected: Any) -> list[int] | None:
    """Positions of the input columns a fitted ColumnTransformer hands to transformer `name`, None if unknown."""
    resolved = getattr(ct, "_transformer_to_input_indices", None)   # what fit resolved (column selectors too)
    if isinstance(resolved, dict) and name in resolved:
        return [int(j) for j in resolved[name]]
    if callable(selected):
        return None
    n = int(ct.n_features_in_)
    names = [str(c) for c in getattr(ct, "feature_names_in_", [])]
    items = [selected] if isinstance(selected, (str, int, np.integer)) else selected
    if isinstance(items, slice):
        return np.arange(n)[items].tolist()
    items = list(items)
    if items and all(isinstance(c, str) for c in items):
        return [names.index(c) for c in items] if all(c in names for c in items) else None
    return np.arange(n)[np.asarray(items, dtype=bool if items and isinstance(items[0], (bool, np.bool_))
                                   else np.int64)].tolist() if items else []


def _is_nan(v: Any) -> bool:
    try:
        return bool(v != v)
    except (TypeError, ValueError):
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
                  n_features=getattr(model, "n_features_in_", None), allow_nan=allow_nan(model), wants_frame=True if names is not None else None,
                  kind=f"sklearn:{kind}", native=model, batch_invariant=batch_invariant(model))
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
