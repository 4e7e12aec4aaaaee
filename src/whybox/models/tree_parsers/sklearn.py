"""scikit-learn trees, forests and (Hist)GradientBoosting read into `TreeEnsemble`.

What each model's raw output is (and so what `TreeEnsemble.predict_raw` reproduces):

- DecisionTree / RandomForest / ExtraTrees classifier: `predict_proba` (K = classes; a multi-output
  classifier gives the probabilities of every output side by side); leaf value = the class
  fractions at the leaf / number of trees, link "identity", base 0.
- The same regressors: `predict` (K = outputs); leaf value = leaf mean / number of trees.
- GradientBoosting: `_raw_predict` (= `decision_function`; binary: one column): the init
  estimator's constant raw prediction + learning_rate * leaf values.
- HistGradientBoosting: `_raw_predict`: `_baseline_prediction` + leaf values (already shrunk);
  read in sklearn_hist.py, with its categorical encoding.
- IsolationForest: the mean path length E[h(x)], checked against `score_samples` (isolation_forest.py).

sklearn's own trees (not HGB) compare float32(x) with the threshold: see _sklearn_common.py, which
holds what every scikit-learn reader shares. Values at internal nodes are set to the cover-weighted mean of their children (sklearn keeps
other numbers there for boosted trees), so every node holds the expected output below it.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ...errors import ModelError
from ..trees import TreeEnsemble, stack_trees
from ._sklearn_common import _common, _fill_internal_values, _link, _margin_names, _sk_tree
from .isolation_forest import parse as parse_isolation_forest
from .sklearn_hist import hist_link, parse_hist_gradient_boosting

__all__ = ["parse", "supports", "why_not"]

_SUPPORTED = ("DecisionTreeClassifier/Regressor, RandomForestClassifier/Regressor, ExtraTreesClassifier/Regressor, "
              "GradientBoostingClassifier/Regressor, HistGradientBoostingClassifier/Regressor, IsolationForest "
              "(explained in its mean path length, see isolation_forest.py)")



# ---------------------------------------------------------------------- entry points

def why_not(model: Any) -> str | None:
    """None when `parse(model)` can read this model, else the reason it cannot (no arrays are built).

    Only this parser's own refusals (`ModelError`) become reasons; any other exception propagates.
    """
    try:
        _check(model)
    except ModelError as e:
        return str(e)
    return None


def supports(model: Any) -> bool:
    """True when `parse(model)` can read this model: `why_not(model) is None`."""
    return why_not(model) is None


def parse(model: Any) -> TreeEnsemble:
    """Read a fitted scikit-learn tree model (or a Pipeline that only holds one) into a TreeEnsemble."""
    kind, est = _check(model)
    if kind == "iforest":                      # its own output (the mean path length) and library check
        return parse_isolation_forest(est, owner=model)
    ens = {"tree": _parse_forest, "forest": _parse_forest, "gb": _parse_gb, "hgb": parse_hist_gradient_boosting}[kind](est)
    ens.library_output, ens.library_name = _library_output(model, kind, ens.link)
    classes = getattr(est, "classes_", None)
    if classes is not None and not isinstance(classes, list) and ens.n_outputs <= len(classes):
        ens.classes = tuple(str(c) for c in classes)          # (a multi-output classifier has a list)
    return ens


def _library_output(model: Any, kind: str, link: str) -> tuple[Any, str]:
    """(f(X) -> raw margin through the model's own public API, its name).

    Called on the model the user gave (a Pipeline, a subclass), so whatever its methods do is what the
    explanation is checked against: forests' predict_proba / predict, boosting's decision_function / predict.
    """
    name = type(model).__name__
    if not hasattr(model, "classes_"):
        if link == "exp":
            return (lambda X: np.log(model.predict(X))), f"log({name}.predict)"
        return model.predict, f"{name}.predict"
    if kind in ("tree", "forest"):
        def proba(X: Any) -> np.ndarray:
            p = model.predict_proba(X)
            return np.hstack(p) if isinstance(p, list) else p     # multi-output: the outputs side by side
        return proba, f"{name}.predict_proba"
    return model.decision_function, f"{name}.decision_function"


def _check(model: Any) -> tuple[str, Any]:
    """(kind, estimator) for a readable model; ModelError naming the model type otherwise."""
    from sklearn.ensemble import (ExtraTreesClassifier, ExtraTreesRegressor, GradientBoostingClassifier,
                                  GradientBoostingRegressor, HistGradientBoostingClassifier,
                                  HistGradientBoostingRegressor, IsolationForest, RandomForestClassifier,
                                  RandomForestRegressor)
    from sklearn.pipeline import Pipeline
    from sklearn.tree import BaseDecisionTree

    if isinstance(model, Pipeline):
        return _check(_final_step(model))
    name = type(model).__name__
    if isinstance(model, BaseDecisionTree):
        kind, fitted = "tree", hasattr(model, "tree_")
    elif isinstance(model, (RandomForestClassifier, RandomForestRegressor, ExtraTreesClassifier, ExtraTreesRegressor)):
        kind, fitted = "forest", hasattr(model, "estimators_")
    elif isinstance(model, (GradientBoostingClassifier, GradientBoostingRegressor)):
        kind, fitted = "gb", hasattr(model, "estimators_")
    elif isinstance(model, (HistGradientBoostingClassifier, HistGradientBoostingRegressor)):
        kind, fitted = "hgb", hasattr(model, "_predictors")
    elif isinstance(model, IsolationForest):
        kind, fitted = "iforest", hasattr(model, "estimators_")
    else:
        raise ModelError(f"{name} is not a scikit-learn tree model whybox can read with Tree SHAP; supported: "
                         f"{_SUPPORTED}. Explain {name} with a model-agnostic explainer (KernelShap, "
                         "PermutationShap) instead.")
    if not fitted:
        raise ModelError(f"{name} is not fitted; call fit() before explaining it")
    if kind == "gb":
        _gb_link(model)
        _gb_init_is_constant(model)
    elif kind == "hgb":
        hist_link(model)
    return kind, model


def _final_step(pipe: Any) -> Any:
    """The last step of a Pipeline whose earlier steps are all absent ("passthrough" or None)."""
    for step_name, step in pipe.steps[:-1]:
        if step is not None and not (isinstance(step, str) and step == "passthrough"):
            raise ModelError(
                f"Tree SHAP needs the tree model itself, but this Pipeline transforms the data first (step "
                f"{step_name!r}: {type(step).__name__}). Explain the final step on transformed data, e.g. "
                "explain pipe[-1] with pipe[:-1].transform(X), or explain the whole Pipeline with a model-agnostic "
                "explainer (KernelShap, PermutationShap).")
    final = pipe.steps[-1][1]
    if final is None or (isinstance(final, str) and final == "passthrough"):
        raise ModelError("this Pipeline has no final estimator ('passthrough'); there is no tree model to explain")
    return final


# ---------------------------------------------------------------------- sklearn's own trees

def _parse_forest(model: Any) -> TreeEnsemble:
    """A single decision tree or a random / extra-trees forest: the average of the trees' outputs."""
    estimators = [model] if hasattr(model, "tree_") else list(model.estimators_)
    scale = 1.0 / len(estimators)
    n_outputs = int(model.n_outputs_)
    if hasattr(model, "classes_"):
        n_classes = np.atleast_1d(model.n_classes_).astype(int)
        classes = [model.classes_] if n_outputs == 1 else list(model.classes_)
        names = [str(c) for c in classes[0]] if n_outputs == 1 else \
            [f"{o}:{c}" for o, cls in enumerate(classes) for c in cls]
        k = int(n_classes.sum())
    else:
        names, k = None, n_outputs
    trees = []
    for est in estimators:
        tree = est.tree_
        raw = np.asarray(tree.value, dtype=np.float64)             # (nodes, outputs, max classes or 1)
        if names is None:
            value = raw[:, :, 0] * scale
        else:
            # class fractions (sklearn >= 1.4 already stores them; older versions store weighted counts)
            parts = []
            for o, nc in enumerate(n_classes):
                v = raw[:, o, :nc]
                total = v.sum(axis=1, keepdims=True)
                parts.append(v / np.where(total == 0, 1.0, total))
            value = np.concatenate(parts, axis=1) * scale
        trees.append(_sk_tree(tree, value))
    ens = stack_trees(trees, np.zeros(k), k, link="identity", output_names=names, **_common(model))
    _fill_internal_values(ens)
    return ens


def _gb_link(model: Any) -> str:
    loss = str(model.loss)
    if not hasattr(model, "classes_"):
        return "identity"                       # squared_error, absolute_error, huber, quantile
    if loss == "exponential":
        return _link("logistic-of-twice-the-margin", model, loss)
    return "logistic" if len(model.classes_) == 2 else "softmax"


def _gb_init_is_constant(model: Any) -> None:
    from sklearn.dummy import DummyClassifier, DummyRegressor
    init = model.init_
    if not (isinstance(init, str) and init == "zero") and not isinstance(init, (DummyClassifier, DummyRegressor)):
        raise ModelError(f"{type(model).__name__} starts from init={type(init).__name__}, whose prediction varies "
                         "with X, so its output is not a sum of trees; refit with init=None (or 'zero') or use a "
                         "model-agnostic explainer")


def _gb_base(model: Any, k: int) -> np.ndarray:
    """The init estimator's raw prediction, the same for every row (checked by `_gb_init_is_constant`)."""
    init = model.init_
    if isinstance(init, str) and init == "zero":
        return np.zeros(k)
    probe = np.zeros((1, int(model.n_features_in_)), dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if hasattr(model, "_raw_predict_init"):
            return np.asarray(model._raw_predict_init(probe), dtype=np.float64).reshape(k)
        # older sklearn: the same formula as its _init_raw_predictions
        if hasattr(model, "classes_"):
            p = np.asarray(init.predict_proba(probe), dtype=np.float64)[0]
            eps = np.finfo(np.float64).eps
            p = np.clip(p, eps, 1 - eps)
            return np.log(p[1:2] / (1 - p[1:2])) if k == 1 else np.log(p)
        return np.asarray(init.predict(probe), dtype=np.float64).reshape(k)


def _parse_gb(model: Any) -> TreeEnsemble:
    link = _gb_link(model)
    stages = model.estimators_[: getattr(model, "n_estimators_", len(model.estimators_))]
    k = stages.shape[1]
    lr = float(model.learning_rate)
    trees = []
    for stage in stages:
        for out, est in enumerate(stage):
            tree = _sk_tree(est.tree_, np.asarray(est.tree_.value, dtype=np.float64)[:, 0, 0] * lr)
            tree["output"] = out
            trees.append(tree)
    ens = stack_trees(trees, _gb_base(model, k), k, link=link, output_names=_margin_names(model, k),
                      **_common(model))
    _fill_internal_values(ens)
    return ens
