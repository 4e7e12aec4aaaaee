"""scikit-learn trees, forests and (Hist)GradientBoosting read into `TreeEnsemble`.

What each model's raw output is (and so what `TreeEnsemble.predict_raw` reproduces):

- DecisionTree / RandomForest / ExtraTrees classifier: `predict_proba` (K = classes; a multi-output
  classifier gives the probabilities of every output side by side); leaf value = the class
  fractions at the leaf / number of trees, link "identity", base 0.
- The same regressors: `predict` (K = outputs); leaf value = leaf mean / number of trees.
- GradientBoosting: `_raw_predict` (= `decision_function`; binary: one column): the init
  estimator's constant raw prediction + learning_rate * leaf values.
- HistGradientBoosting: `_raw_predict`: `_baseline_prediction` + leaf values (already shrunk).
- IsolationForest: the mean path length E[h(x)], checked against `score_samples` (isolation_forest.py).

sklearn's own trees (not HGB) cast X to float32 before comparing with the float64 threshold.
To reproduce that for float64 input, every threshold t is rewritten as the exact rounding
boundary of float32: float32(x) <= t  <=>  x < m (or x <= m, by round-half-to-even), with m the
midpoint between the largest float32 <= t and the next float32.

HistGradientBoosting with categorical features encodes them with an internal OrdinalEncoder:
code i is the i-th of the categories *seen in training*, sorted (the order of a pandas
categorical dtype is not used). Categories it never saw, including ones that the dtype declares
but the training rows lack, are encoded as NaN and follow the missing-value direction, hence
`unseen_as_missing=True`. Its trees index the encoder's output columns (categorical columns
first), which are mapped back to the input's columns here.

Values at internal nodes are set to the cover-weighted mean of their children (sklearn keeps
other numbers there for boosted trees), so every node holds the expected output below it.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ...errors import ModelError
from ..trees import LINKS, TreeEnsemble, stack_trees

__all__ = ["parse", "supports", "why_not"]

_SUPPORTED = ("DecisionTreeClassifier/Regressor, RandomForestClassifier/Regressor, ExtraTreesClassifier/Regressor, "
              "GradientBoostingClassifier/Regressor, HistGradientBoostingClassifier/Regressor, IsolationForest "
              "(explained in its mean path length, see isolation_forest.py)")

_F32_MAX = float(np.finfo(np.float32).max)


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
        from .isolation_forest import parse as parse_isolation_forest
        return parse_isolation_forest(est, owner=model)
    ens = {"tree": _parse_forest, "forest": _parse_forest, "gb": _parse_gb, "hgb": _parse_hgb}[kind](est)
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
        _hgb_link(model)
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


def _link(name: str, model: Any, loss: str) -> str:
    if name not in LINKS:
        raise ModelError(f"{type(model).__name__}(loss={loss!r}) turns its raw margin into predictions with a "
                         f"{name} link, which whybox's tree format does not have (links: {', '.join(LINKS)}); "
                         "use a model-agnostic explainer (KernelShap, PermutationShap) on it instead")
    return name


def _common(model: Any) -> dict:
    names = getattr(model, "feature_names_in_", None)
    return dict(n_features=int(model.n_features_in_),
                feature_names=None if names is None else tuple(str(c) for c in names),
                source=f"sklearn:{type(model).__name__}")


# ---------------------------------------------------------------------- sklearn's own trees

def _float32_thresholds(threshold: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(m, strict) with `x < m` (strict) or `x <= m` true exactly when float32(x) <= threshold."""
    t = np.asarray(threshold, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        lo = t.astype(np.float32)                      # round to nearest, then step down if above t
        lo = np.where(lo.astype(np.float64) > t, np.nextafter(lo, np.float32(-np.inf)), lo)
        hi = np.nextafter(lo, np.float32(np.inf))
        mid = (lo.astype(np.float64) + hi.astype(np.float64)) / 2.0       # exact in float64
    # above FLT_MAX float32 rounds to inf from FLT_MAX + half an ulp on
    mid = np.where(np.isposinf(hi) & np.isfinite(lo), _F32_MAX + 2.0 ** 103, mid)
    mid = np.where(np.isfinite(t), mid, t)
    # a tie at the midpoint rounds to the even neighbour: to lo (goes left) when lo is even
    strict = (lo.view(np.uint32) & 1).astype(bool) & np.isfinite(t)
    return mid, strict


def _sk_tree(tree: Any, value: np.ndarray) -> dict:
    """Local node arrays of one sklearn `Tree` with the given (nodes, K) or (nodes,) leaf values."""
    threshold, strict = _float32_thresholds(tree.threshold)
    missing_left = getattr(tree, "missing_go_to_left", None)     # sklearn >= 1.3
    n = tree.node_count
    return dict(left=tree.children_left, right=tree.children_right, feature=tree.feature, threshold=threshold,
                strict=strict, cover=tree.weighted_n_node_samples, value=value,
                default_left=np.zeros(n, bool) if missing_left is None else np.asarray(missing_left, dtype=bool))


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
    names = None
    if hasattr(model, "classes_"):
        names = [str(c) for c in model.classes_]
        if k == 1:
            names = names[1:]                   # binary: the margin of the positive class
    ens = stack_trees(trees, _gb_base(model, k), k, link=link, output_names=names, **_common(model))
    _fill_internal_values(ens)
    return ens


# ---------------------------------------------------------------------- HistGradientBoosting

def _hgb_link(model: Any) -> str:
    loss = str(model.loss)
    if hasattr(model, "classes_"):
        return "logistic" if model.n_trees_per_iteration_ == 1 else "softmax"
    if loss in ("poisson", "gamma"):
        return _link("exp", model, loss)
    return "identity"                           # squared_error, absolute_error, quantile


def _hgb_columns(model: Any) -> tuple[np.ndarray, dict[int, list], dict[int, np.ndarray | None]]:
    """(input column of each tree feature, categories per input column, raw value -> code per input column).

    The raw-to-code map is None where HGB's raw category value already is the code.
    """
    m = int(model.n_features_in_)
    pre = getattr(model, "_preprocessor", None)
    if pre is None:
        columns = np.arange(m)
        categories: dict[int, list] = {}
        raw_maps: dict[int, np.ndarray | None] = {}
        is_cat = getattr(model, "is_categorical_", None)
        if is_cat is not None:
            # older sklearn: categories are the integer values themselves, the known ones in bin_thresholds_
            for j in np.flatnonzero(is_cat):
                known = np.asarray(model._bin_mapper.bin_thresholds_[j], dtype=np.float64)
                categories[int(j)] = [int(v) if float(v).is_integer() else float(v) for v in known]
                raw_maps[int(j)] = known
        return columns, categories, raw_maps
    columns = np.empty(m, dtype=np.int64)
    encoder_columns = None
    for name, _, cols in pre.transformers_:
        if name not in pre.output_indices_:
            continue
        idx = np.arange(m)[cols] if np.asarray(cols).dtype == bool else np.asarray(cols, dtype=np.int64)
        if len(idx) == 0:
            continue
        columns[pre.output_indices_[name]] = idx
        if name == "encoder":
            encoder_columns = idx
    categories, raw_maps = {}, {}
    if encoder_columns is not None:
        encoder = pre.named_transformers_["encoder"]
        for j, cats in zip(encoder_columns, encoder.categories_):
            values = list(cats)
            if values and _is_nan(values[-1]):     # OrdinalEncoder lists NaN last; it is the missing value
                values = values[:-1]
            categories[int(j)] = [v.item() if isinstance(v, np.generic) else v for v in values]
            raw_maps[int(j)] = None
    return columns, categories, raw_maps


def _is_nan(v: Any) -> bool:
    try:
        return bool(v != v)
    except Exception:
        return False


def _bitset_members(bitsets: np.ndarray) -> np.ndarray:
    """(rows, 256) bool: which bits of each row of eight little-endian uint32 words are set."""
    words = np.ascontiguousarray(bitsets, dtype="<u4")
    return np.unpackbits(words.view(np.uint8).reshape(len(words), -1), axis=1, bitorder="little").astype(bool)


def _parse_hgb(model: Any) -> TreeEnsemble:
    link = _hgb_link(model)
    k = int(model.n_trees_per_iteration_)
    columns, categories, raw_maps = _hgb_columns(model)
    trees = []
    for iteration in model._predictors:
        for out, predictor in enumerate(iteration):
            nodes = predictor.nodes
            leaf = nodes["is_leaf"].astype(bool)
            split_cat = nodes["is_categorical"].astype(bool) & ~leaf
            # left/right are unsigned and 0 at leaves; the format wants -1 there
            feature = np.where(leaf, -1, columns[np.where(leaf, 0, nodes["feature_idx"])])
            left = np.where(leaf, -1, nodes["left"].astype(np.int64))
            right = np.where(leaf, -1, nodes["right"].astype(np.int64))
            tree = dict(left=left, right=right,
                        feature=feature, threshold=nodes["num_threshold"], strict=np.zeros(len(nodes), bool),
                        default_left=nodes["missing_go_to_left"].astype(bool), categorical=split_cat,
                        cover=nodes["count"], value=np.where(leaf, nodes["value"], 0.0), output=out)
            if split_cat.any():
                members = _bitset_members(predictor.raw_left_cat_bitsets)
                sets: list = [None] * len(nodes)
                for node in np.flatnonzero(split_cat):
                    raw = np.flatnonzero(members[nodes["bitset_idx"][node]])
                    known = raw_maps.get(int(feature[node]))
                    if known is not None:                   # raw category value -> its code
                        pos = np.searchsorted(known, raw)
                        ok = (pos < len(known)) & (known[np.minimum(pos, len(known) - 1)] == raw)
                        raw = pos[ok]
                    sets[node] = raw.tolist()
                tree["cat_sets"] = sets
            trees.append(tree)
    names = None
    if hasattr(model, "classes_"):
        names = [str(c) for c in model.classes_]
        if k == 1:
            names = names[1:]
    base = np.asarray(model._baseline_prediction, dtype=np.float64).reshape(k)
    ens = stack_trees(trees, base, k, link=link, output_names=names, categories=categories,
                      unseen_as_missing=True, **_common(model))
    _fill_internal_values(ens)
    return ens


# ---------------------------------------------------------------------- shared

def _fill_internal_values(ens: TreeEnsemble) -> None:
    """Set each split node's value to the cover-weighted mean of its children's, level by level upwards."""
    left, right, cover, value = ens.left, ens.right, ens.cover, ens.value
    levels = []
    frontier = ens.roots.astype(np.int64)
    while frontier.size:
        frontier = frontier[left[frontier] >= 0]
        if frontier.size == 0:
            break
        levels.append(frontier)
        frontier = np.concatenate([left[frontier], right[frontier]]).astype(np.int64)
    for nodes in reversed(levels):
        lo, hi = left[nodes], right[nodes]
        wl, wr = cover[lo], cover[hi]
        total = wl + wr
        even = total <= 0                          # no weight below: a plain mean
        wl = np.where(even, 1.0, wl)[:, None]
        wr = np.where(even, 1.0, wr)[:, None]
        value[nodes] = (wl * value[lo] + wr * value[hi]) / (wl + wr)
