"""Permutation importance: how much worse a model scores when one feature's values are shuffled.

Convention (the same for every scoring): importance = how much WORSE the model gets when the
feature (or group of features) is permuted, in the units of the score.

  * higher-is-better scores (accuracy, roc_auc, r2):  score(original) - score(permuted)
  * losses (log_loss, mae, mse):                       score(permuted) - score(original)

So a positive importance always means the model relies on the feature, ~0 means it does not,
and a negative value means shuffling happened to help (noise, or a feature that hurts).

Shuffling breaks the link between the feature and the target *and* between the feature and the
other features; with strongly correlated features the model may be fed rows that never occur,
and importance is shared between the correlated columns. Use `groups=` to permute such columns
together.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .._progress import progress
from ..errors import InputError
from ..models import wrap
from ..results import Importance

__all__ = ["permutation_importance", "SCORINGS"]

#: name -> greater_is_better
SCORINGS = {"accuracy": True, "roc_auc": True, "r2": True, "log_loss": False, "mae": False, "mse": False}
_CLASSIFICATION = ("accuracy", "roc_auc", "log_loss")
_REGRESSION = ("r2", "mae", "mse")
_CONVENTION = ("importance = how much worse the score gets when the feature is permuted: "
               "score(original) - score(permuted) for higher-is-better scores, "
               "score(permuted) - score(original) for losses")


# --------------------------------------------------------------------------- scores

def _r2(y: np.ndarray, pred: np.ndarray) -> float:
    """Coefficient of determination, averaged uniformly over output columns."""
    ss_res = ((y - pred) ** 2).sum(axis=0)
    ss_tot = ((y - y.mean(axis=0)) ** 2).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(ss_tot > 0, 1.0 - ss_res / np.where(ss_tot > 0, ss_tot, 1.0),
                      np.where(ss_res > 0, 0.0, 1.0))  # constant y: 1 if perfect, else 0 (as sklearn)
    return float(r2.mean())


def _auc_binary(pos: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve by the rank-sum (Mann-Whitney) formula; ties count one half."""
    from scipy.stats import rankdata

    n_pos = int(pos.sum())
    n_neg = pos.shape[0] - n_pos
    if n_pos == 0 or n_neg == 0:
        raise InputError("roc_auc needs both classes present in y; this y has only one class")
    ranks = rankdata(score)
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


class _Task:
    """Turns model outputs into one score number for a fixed y."""

    def __init__(self, name: str, greater_is_better: bool, fn: Callable[[np.ndarray], float]) -> None:
        self.name = name
        self.greater_is_better = greater_is_better
        self.fn = fn


def _class_indices(y: np.ndarray, classes: Sequence[Any] | None, k: int) -> np.ndarray:
    """Map labels in y to column indices of the model's outputs."""
    if classes is None:
        classes = list(range(max(k, 2)))
    classes = list(classes)
    lookup = {c: i for i, c in enumerate(classes)}
    lookup_str = {str(c): i for i, c in enumerate(classes)}
    idx = np.empty(y.shape[0], dtype=int)
    unknown = []
    for r, v in enumerate(y.tolist()):
        i = lookup.get(v, lookup_str.get(str(v)))
        if i is None:
            unknown.append(v)
            i = 0
        idx[r] = i
    if unknown:
        raise InputError(f"y holds labels the classifier does not know, e.g. {sorted(set(map(str, unknown)))[:5]}; "
                         f"its classes are {[str(c) for c in classes]}")
    return idx


def _make_task(scoring: Any, model: Any, y: np.ndarray, k: int) -> _Task:
    """Build the scorer for this model and y; k is the number of model output columns."""
    output = model.output
    is_classifier = output in ("probability", "log_odds") or (
        output == "raw" and hasattr(model.native, "classes_"))

    if isinstance(scoring, tuple):
        if len(scoring) != 2 or not callable(scoring[0]):
            raise InputError("scoring as a tuple must be (callable score(y, prediction), greater_is_better)")
        fn, gib = scoring
        return _callable_task(fn, bool(gib), y)
    if callable(scoring):
        return _callable_task(scoring, bool(getattr(scoring, "greater_is_better", True)), y)
    if not isinstance(scoring, str):
        raise InputError(f"scoring must be a name, a callable or (callable, greater_is_better), got {scoring!r}")
    if scoring == "auto":
        scoring = "accuracy" if is_classifier else "r2"
    if scoring not in SCORINGS:
        raise InputError(f"unknown scoring {scoring!r}; choose 'auto', one of {list(SCORINGS)}, a callable "
                         "score(y, prediction) or (callable, greater_is_better)")
    gib = SCORINGS[scoring]

    if scoring in _REGRESSION:
        if is_classifier:
            raise InputError(f"scoring {scoring!r} is for regressors but the model outputs class {output}; "
                             f"use one of {list(_CLASSIFICATION)}")
        try:
            yy = np.asarray(y, dtype=float).reshape(y.shape[0], -1)
        except (TypeError, ValueError):
            raise InputError(f"scoring {scoring!r} needs a numeric y") from None
        if yy.shape[1] != k:
            raise InputError(f"y has {yy.shape[1]} columns but the model has {k} outputs")
        if scoring == "r2":
            return _Task("r2", gib, lambda p: _r2(yy, p))
        if scoring == "mae":
            return _Task("mae", gib, lambda p: float(np.abs(yy - p).mean()))
        return _Task("mse", gib, lambda p: float(((yy - p) ** 2).mean()))

    if not is_classifier:
        raise InputError(f"scoring {scoring!r} is for classifiers but the model outputs {output!r} values; "
                         f"use one of {list(_REGRESSION)} or wrap the classifier with output='probability'")
    classes = getattr(model.native, "classes_", None)
    if classes is None:
        classes = model.output_names if model.output_names and len(model.output_names) == k else None
    yidx = _class_indices(np.asarray(y).ravel(), classes, k)

    def scores_matrix(p: np.ndarray) -> np.ndarray:
        """(n, classes) scores whose argmax is the predicted class (probabilities unless output is raw)."""
        if output == "log_odds":
            p = 1.0 / (1.0 + np.exp(-p))
        if p.shape[1] == 1:  # binary model with one column: the positive class
            p = np.hstack([1.0 - p, p]) if output != "raw" else np.hstack([-p, p])
        return p

    if scoring == "accuracy":
        return _Task("accuracy", gib, lambda p: float((scores_matrix(p).argmax(axis=1) == yidx).mean()))
    if scoring == "log_loss":
        if output == "raw":
            raise InputError("log_loss needs probabilities; wrap the classifier with output='probability'")

        def log_loss(p: np.ndarray) -> float:
            q = scores_matrix(p)
            q = q / q.sum(axis=1, keepdims=True)
            return float(-np.log(np.clip(q[np.arange(q.shape[0]), yidx], 1e-15, 1.0)).mean())
        return _Task("log_loss", gib, log_loss)

    # roc_auc: binary from the positive-class column; multiclass one-vs-rest, macro average
    def roc_auc(p: np.ndarray) -> float:
        q = scores_matrix(p)
        if q.shape[1] == 2:
            return _auc_binary(yidx == 1, q[:, 1])
        present = [c for c in range(q.shape[1]) if 0 < (yidx == c).sum() < yidx.shape[0]]
        return float(np.mean([_auc_binary(yidx == c, q[:, c]) for c in present]))
    return _Task("roc_auc", gib, roc_auc)


def _callable_task(fn: Callable, greater_is_better: bool, y: np.ndarray) -> _Task:
    name = getattr(fn, "__name__", type(fn).__name__)

    def score(p: np.ndarray) -> float:
        out = fn(y, p[:, 0] if p.shape[1] == 1 else p)
        try:
            return float(out)
        except (TypeError, ValueError):
            raise InputError(f"the scoring function {name} returned {out!r}, not a number") from None
    return _Task(name, greater_is_better, score)


# --------------------------------------------------------------------------- groups

def _resolve_groups(groups: Mapping[str, Any] | None, names: tuple[str, ...]) -> tuple[list[str], list[np.ndarray]]:
    if groups is None:
        return list(names), [np.array([j]) for j in range(len(names))]
    if not isinstance(groups, Mapping) or not groups:
        raise InputError("groups must be a non-empty dict: group name -> list of columns (names or indices)")
    out_names, out_cols = [], []
    for gname, cols in groups.items():
        if isinstance(cols, (str, int, np.integer)):
            cols = [cols]
        idx = []
        for c in cols:
            if isinstance(c, (int, np.integer)) and not isinstance(c, bool):
                if not 0 <= int(c) < len(names):
                    raise InputError(f"group {gname!r} names column index {c}, but the data has "
                                     f"{len(names)} columns")
                idx.append(int(c))
            elif str(c) in names:
                idx.append(names.index(str(c)))
            else:
                raise InputError(f"group {gname!r} names an unknown column {c!r}; the columns are {list(names)}")
        if not idx:
            raise InputError(f"group {gname!r} has no columns")
        out_names.append(str(gname))
        out_cols.append(np.unique(np.array(idx)))
    return out_names, out_cols


def _check_permutations(permutations: Any, n_features: int, n: int) -> np.ndarray:
    """Caller-supplied row orders as (features, repeats, n) ints, each a permutation of range(n)."""
    p = np.asarray(permutations)
    if p.ndim == 2:
        p = np.broadcast_to(p, (n_features,) + p.shape)
    if p.ndim != 3 or p.shape[0] != n_features or p.shape[2] != n or p.shape[1] < 1:
        raise InputError(f"permutations has shape {np.shape(permutations)}; expected (n_repeats, {n}) or "
                         f"({n_features}, n_repeats, {n}): one row order of the {n} rows per repeat")
    if p.dtype.kind not in "iu" or not (np.sort(p, axis=-1) == np.arange(n)).all():
        raise InputError(f"every entry of permutations must be a permutation of range({n}) (whole numbers, "
                         "each row index exactly once)")
    return p


# --------------------------------------------------------------------------- main

def permutation_importance(model: Any, X: Any, y: Any, *, scoring: Any = "auto", n_repeats: int = 5,
                           groups: Mapping[str, Sequence[Any]] | None = None, seed: int | None = 0,
                           output: str = "auto", permutations: Any = None,
                           show_progress: bool | None = None) -> Importance:
    """Permutation importance: how much worse the model scores when a feature is shuffled.

    Convention: importance = how much WORSE the model gets, in the units of the score —
    score(original) - score(permuted) for higher-is-better scores (accuracy, roc_auc, r2) and
    score(permuted) - score(original) for losses (log_loss, mae, mse). Positive means the model
    relies on the feature; ~0 means it does not.

    Arguments:
      model      anything `whybox.models.wrap` accepts (estimator, pipeline, booster, callable, Model)
      X          (n, features) data to score on, ideally held out; a DataFrame keeps its column names
      y          (n,) true labels (classifiers) or targets (regressors); (n, outputs) for multi-output
      scoring    "auto" (accuracy for classifiers, by argmax of the predicted probabilities; r2 for
                 regressors), "accuracy", "roc_auc", "log_loss", "r2", "mae", "mse",
                 a callable score(y, prediction) — taken as higher-is-better unless it has an attribute
                 `greater_is_better = False` — or a tuple (callable, greater_is_better).
                 The prediction handed to a callable is the wrapped model's output: (n,) for a single
                 output, (n, outputs) otherwise (class probabilities for classifiers by default).
                 roc_auc ranks rows by the model's output for each class (one-vs-rest, macro average for
                 more than two classes); with output='raw' on a multiclass model these are per-class margins.
      n_repeats  how many independent shuffles per feature; `spread` is the std over them
      groups     dict group name -> columns (names or indices) permuted together with the same row order;
                 when given, only these groups are scored (list a column alone to score it alone)
      seed       seed for `np.random.default_rng`; the same seed gives the same result
      output     passed to `wrap` ("auto", "probability", "log_odds", "raw", "predict")
      permutations  the row orders to use instead of drawing them: (n_repeats, n) applies repeat r's order to
                 every feature, (features, n_repeats, n) gives each feature (or group) its own; each entry
                 is a permutation of range(n). Fixes n_repeats and makes `seed` unused. Use it to reproduce
                 another tool's shuffles exactly.
      show_progress  a progress bar over the repeats (default: only when run interactively)

    Returns an `Importance` with scores (mean over repeats), spread (std over repeats, ddof=0),
    repeats (n_repeats, features) and meta (scoring, baseline score, convention, model evaluations).
    Each repeat evaluates all its permuted copies in one batched model call.
    """
    if isinstance(n_repeats, bool) or not isinstance(n_repeats, (int, np.integer)) or n_repeats < 1:
        raise InputError(f"n_repeats must be a positive whole number, got {n_repeats!r}")
    m = wrap(model, output=output)
    arr = m.prepare(X)
    n = arr.shape[0]
    if n < 2:
        raise InputError(f"permutation importance needs at least 2 rows of X, got {n}")
    if hasattr(y, "to_numpy"):
        y = y.to_numpy()
    y = np.asarray(y)
    if y.ndim == 0 or y.shape[0] != n:
        raise InputError(f"y has {0 if y.ndim == 0 else y.shape[0]} entries but X has {n} rows; "
                         "pass one target per row of X")
    names = m.feature_names or tuple(f"x{j}" for j in range(arr.shape[1]))
    feat_names, feat_cols = _resolve_groups(groups, tuple(names))

    evals_before = m.n_evals
    base_pred = m.evaluate(arr)
    task = _make_task(scoring, m, y, base_pred.shape[1])
    baseline = task.fn(base_pred)
    sign = 1.0 if task.greater_is_better else -1.0

    F = len(feat_cols)
    if permutations is not None:
        permutations = _check_permutations(permutations, F, n)
        n_repeats = permutations.shape[1]
    rng = np.random.default_rng(seed)
    repeats = np.empty((n_repeats, F))
    big = np.empty((F * n,) + arr.shape[1:], dtype=arr.dtype)
    for r in progress(range(n_repeats), total=n_repeats, desc="permutation_importance", show=show_progress,
                      min_total=2):
        for f, cols in enumerate(feat_cols):
            block = big[f * n:(f + 1) * n]
            block[...] = arr
            perm = rng.permutation(n) if permutations is None else permutations[f, r]
            block[:, cols] = arr[perm][:, cols]
        pred = m.evaluate(big)  # one batched call for every permuted copy of this repeat
        for f in range(F):
            permuted = task.fn(pred[f * n:(f + 1) * n])
            repeats[r, f] = sign * (baseline - permuted)

    meta = {
        "scoring": task.name,
        "greater_is_better": task.greater_is_better,
        "baseline_score": baseline,
        "convention": _CONVENTION,
        "n_repeats": int(n_repeats),
        "seed": seed if permutations is None else None,
        "permutations": "drawn from seed" if permutations is None else "given by the caller",
        "n_rows": n,
        "output": m.output,
        "model": m.kind,
        "model_evals": int(m.n_evals - evals_before),
        "spread": "std over repeats (ddof=0)",
    }
    if groups is not None:
        meta["groups"] = {g: [names[j] for j in cols] for g, cols in zip(feat_names, feat_cols)}
    return Importance(scores=repeats.mean(axis=0), spread=repeats.std(axis=0), repeats=repeats,
                      feature_names=tuple(feat_names), method="permutation_importance", meta=meta)
