"""Accumulated local effects (ALE), first order, for numeric and categorical features.

Bins z_0 < ... < z_K at the feature's quantiles; in bin k the local effect of row i is
f(x_i with x_j := z_k) - f(x_i with x_j := z_{k-1}), averaged over the rows in the bin; ALE(z_k) is the
running sum, centred so that its mean over the data is zero. Unlike partial dependence, each row is
only moved within its own bin, so correlated features are not pushed off the data.

A categorical feature has no order, so its categories are first ordered by similarity: the distance
between two categories is the summed Kolmogorov-Smirnov distance of the other numeric features (and the
total-variation distance of the other categorical ones) between their rows, and the order is the
categories' position along the first classical-MDS axis of that distance matrix. The local effect of
category k is then the mean of f(x with category k) - f(x with category k-1) over the rows of both.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..errors import InputError
from ..models.base import wrap
from ..results import Dependence
from .ale_second_order import second_order_ale

__all__ = ["accumulated_local_effects"]


def accumulated_local_effects(model: Any, X: Any, feature: str | Sequence[str], *, bins: int = 20,
                              output: str = "auto") -> Dependence:
    """ALE of one feature (numeric or categorical), or the second-order ALE of two numeric features.

    Arguments:
      model    anything `whybox.models.wrap` accepts
      X        the rows (DataFrame or array)
      feature  a feature's name, or two names for the second-order (pure interaction) surface
      bins     most quantile bins per feature (fewer when values repeat)
      output   the output space, as in `wrap`
    Returns a `Dependence` with the bin edges (or the ordered categories) as grid; `meta["counts"]` holds
    the rows per bin (per cell for two features), the rug of the plot.
    """
    wrapped = wrap(model, output=output)
    arr = wrapped.prepare(X)
    names = list(wrapped.feature_names)
    features = [feature] if isinstance(feature, str) else list(feature)
    if not 1 <= len(features) <= 2:
        raise InputError(f"ALE takes one feature or two, got {len(features)}: {features}")
    for f in features:
        if f not in names:
            raise InputError(f"unknown feature {f!r}; known features: {names}")
    if len(features) == 2 and features[0] == features[1]:
        raise InputError(f"the two features must differ, got {features[0]!r} twice")
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 1:
        raise InputError(f"bins must be a whole number of at least 1, got {bins!r}")
    if len(features) == 2:
        return second_order_ale(wrapped, arr, (features[0], features[1]), bins)
    feature = features[0]
    j = names.index(feature)
    if feature in wrapped.schema.categories:
        return _categorical_ale(wrapped, arr, j, feature)
    col = arr[:, j].astype(float)
    keep = ~np.isnan(col)
    arr, col = arr[keep], col[keep]
    edges = np.unique(np.quantile(col, np.linspace(0, 1, bins + 1)))
    if edges.size < 2:
        raise InputError(f"column {feature!r} is constant: there is no range to accumulate effects over")
    # bin k (1..K) holds z_{k-1} < x <= z_k; the minimum joins the first bin
    which = np.clip(np.searchsorted(edges, col, side="left"), 1, edges.size - 1)
    low, high = arr.copy(), arr.copy()
    low[:, j] = edges[which - 1]
    high[:, j] = edges[which]
    before = wrapped.n_evals
    f = wrapped.evaluate(np.concatenate([low, high]))  # one batched call
    n = arr.shape[0]
    diff = f[n:] - f[:n]  # (n, k)
    k_bins = edges.size - 1
    counts = np.bincount(which - 1, minlength=k_bins)
    sums = np.zeros((k_bins, diff.shape[1]))
    np.add.at(sums, which - 1, diff)
    effect = sums / np.maximum(counts, 1)[:, None]
    ale = np.vstack([np.zeros((1, diff.shape[1])), np.cumsum(effect, axis=0)])  # at the edges
    centre = (counts[:, None] * (ale[:-1] + ale[1:]) / 2).sum(axis=0) / counts.sum()
    ale = ale - centre
    k = ale.shape[1]
    meta = {"counts": counts.tolist(), "rows": int(n), "model_evals": int(wrapped.n_evals - before),
            "output": wrapped.output, "centred": "mean over the data is zero"}
    return Dependence(features=(feature,), grid=(edges,), average=ale[:, 0] if k == 1 else ale,
                      output_names=wrapped.output_names if k > 1 else None, method="accumulated_local_effects",
                      meta=meta, has_outputs=k > 1)


def _distance(a: np.ndarray, b: np.ndarray, numeric: bool) -> float:
    """Kolmogorov-Smirnov distance of two numeric samples, total variation of two categorical ones."""
    if numeric:
        a, b = np.sort(a.astype(float)), np.sort(b.astype(float))
        grid = np.concatenate([a, b])
        return float(np.max(np.abs(np.searchsorted(a, grid, side="right") / a.size
                                   - np.searchsorted(b, grid, side="right") / b.size)))
    values = set(a.tolist()) | set(b.tolist())
    return 0.5 * sum(abs(np.mean(a == v) - np.mean(b == v)) for v in values)


def category_order(arr: np.ndarray, j: int, categorical: set[int]) -> list:
    """The categories of column j ordered by similarity of the other columns (first MDS axis)."""
    col = arr[:, j]
    cats = sorted(pd.unique(pd.Series(col, dtype=object).dropna()).tolist(), key=str)
    k = len(cats)
    dist = np.zeros((k, k))
    rows = [col == c for c in cats]
    for other in range(arr.shape[1]):
        if other == j:
            continue
        for a in range(k):
            for b in range(a + 1, k):
                d = _distance(arr[rows[a], other], arr[rows[b], other], other not in categorical)
                dist[a, b] += d
                dist[b, a] += d
    centre = np.eye(k) - 1.0 / k
    gram = -0.5 * centre @ (dist ** 2) @ centre
    w, v = np.linalg.eigh(gram)
    axis = v[:, -1] * np.sign(v[np.argmax(np.abs(v[:, -1])), -1] or 1.0)
    return [cats[i] for i in np.argsort(axis, kind="stable")]


def _categorical_ale(wrapped: Any, arr: np.ndarray, j: int, feature: str) -> Dependence:
    names = list(wrapped.feature_names)
    categorical = {names.index(c) for c in wrapped.schema.categories}
    keep = pd.notna(pd.Series(arr[:, j], dtype=object)).to_numpy()
    arr = arr[keep]
    order = category_order(arr, j, categorical)
    if len(order) < 2:
        raise InputError(f"column {feature!r} has a single category: there is nothing to accumulate")
    position = {c: i for i, c in enumerate(order)}
    pos = np.array([position[v] for v in arr[:, j]])
    counts = np.bincount(pos, minlength=len(order))
    # for each step k-1 -> k: the rows of both categories, once at k and once at k-1
    low_rows, high_rows, step_of = [], [], []
    for k in range(1, len(order)):
        members = arr[(pos == k) | (pos == k - 1)]
        lo, hi = members.copy(), members.copy()
        lo[:, j], hi[:, j] = order[k - 1], order[k]
        low_rows.append(lo)
        high_rows.append(hi)
        step_of.append(np.full(len(members), k - 1))
    before = wrapped.n_evals
    low, high, step = np.concatenate(low_rows), np.concatenate(high_rows), np.concatenate(step_of)
    f = wrapped.evaluate(np.concatenate([low, high]))  # one batched call
    diff = f[len(low):] - f[:len(low)]
    sums = np.zeros((len(order) - 1, diff.shape[1]))
    np.add.at(sums, step, diff)
    effect = sums / np.bincount(step, minlength=len(order) - 1)[:, None]
    ale = np.vstack([np.zeros((1, diff.shape[1])), np.cumsum(effect, axis=0)])
    ale = ale - (counts[:, None] * ale).sum(axis=0) / counts.sum()
    k_out = ale.shape[1]
    grid = np.empty(len(order), dtype=object)
    grid[:] = order
    meta = {"counts": counts.tolist(), "rows": int(arr.shape[0]), "model_evals": int(wrapped.n_evals - before),
            "output": wrapped.output, "order": "by similarity of the other features (first MDS axis)",
            "centred": "mean over the data is zero"}
    return Dependence(features=(feature,), grid=(grid,), average=ale[:, 0] if k_out == 1 else ale,
                      output_names=wrapped.output_names if k_out > 1 else None, method="accumulated_local_effects",
                      meta=meta, has_outputs=k_out > 1)
