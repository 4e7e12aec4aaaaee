"""Accumulated local effects (ALE), first order, for numeric features.

Bins z_0 < ... < z_K at the feature's quantiles; in bin k the local effect of row i is
f(x_i with x_j := z_k) - f(x_i with x_j := z_{k-1}), averaged over the rows in the bin; ALE(z_k) is the
running sum, centred so that its mean over the data is zero. Unlike partial dependence, each row is
only moved within its own bin, so correlated features are not pushed off the data.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InputError
from ..models.base import wrap
from ..results import Dependence

__all__ = ["accumulated_local_effects"]


def accumulated_local_effects(model: Any, X: Any, feature: str, *, bins: int = 20, output: str = "auto") -> Dependence:
    """First-order ALE of one numeric feature: `Dependence` with the bin edges as grid.

    Arguments:
      model    anything `whybox.models.wrap` accepts
      X        the rows (DataFrame or array)
      feature  the feature's name
      bins     most quantile bins (fewer when values repeat)
      output   the output space, as in `wrap`
    `meta["counts"]` holds the rows per bin (the rug of the plot).
    """
    wrapped = wrap(model, output=output)
    arr = wrapped.prepare(X)
    names = list(wrapped.feature_names)
    if feature not in names:
        raise InputError(f"unknown feature {feature!r}; known features: {names}")
    if feature in wrapped.schema.categories:
        raise InputError(f"ALE of the categorical feature {feature!r} is not supported yet; use partial_dependence")
    if bins < 1:
        raise InputError(f"bins must be at least 1, got {bins}")
    j = names.index(feature)
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
