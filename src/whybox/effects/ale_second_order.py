"""Second-order accumulated local effects: the pure interaction of two numeric features.

Quantile edges z_0..z_K for feature j and w_0..w_M for feature l make a grid of cells. For the rows in
cell (k, m) the local second difference is
    d_i = f(z_k, w_m) - f(z_{k-1}, w_m) - f(z_k, w_{m-1}) + f(z_{k-1}, w_{m-1})   (other features of row i).
Cell means are accumulated over both axes, g(k, m) = sum_{k'<=k, m'<=m} mean(d | cell k', m'); then each
feature's own first-order effect of g is taken out (so an additive model gives exactly zero), and the
surface is centred so its mean over the data is zero (Apley & Zhu 2020, eq. 13-14). A cell holding no
rows borrows the mean of the nearest non-empty cell (in bin-index units), as the ALEPlot reference does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InputError
from ..results import Dependence

__all__ = ["second_order_ale"]


def _edges(col: np.ndarray, bins: int, name: str) -> tuple[np.ndarray, np.ndarray]:
    edges = np.unique(np.quantile(col, np.linspace(0, 1, bins + 1)))
    if edges.size < 2:
        raise InputError(f"column {name!r} is constant: there is no range to accumulate effects over")
    which = np.clip(np.searchsorted(edges, col, side="left"), 1, edges.size - 1)  # bin 1..K
    return edges, which


def _fill_empty(mean: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Give each empty cell the mean of its nearest non-empty cell (Euclidean in bin indices)."""
    empty = counts == 0
    if not empty.any():
        return mean
    full_idx = np.argwhere(~empty)
    out = mean.copy()
    for k, m in np.argwhere(empty):
        d = ((full_idx - (k, m)) ** 2).sum(axis=1)
        fk, fm = full_idx[np.argmin(d)]
        out[k, m] = mean[fk, fm]
    return out


def second_order_ale(wrapped: Any, arr: np.ndarray, features: tuple[str, str], bins: int) -> Dependence:
    """Second-order ALE surface of two numeric features, at the (K+1, M+1) bin edges."""
    names = list(wrapped.feature_names)
    j, l = (names.index(f) for f in features)
    for f in features:
        if f in wrapped.schema.categories:
            raise InputError(f"two-feature ALE needs numeric features; {f!r} is categorical. Use "
                             "partial_dependence for a two-feature view with a category")
    a = arr[:, j].astype(float)
    b = arr[:, l].astype(float)
    keep = ~(np.isnan(a) | np.isnan(b))
    arr, a, b = arr[keep], a[keep], b[keep]
    z, kj = _edges(a, bins, features[0])
    w, kl = _edges(b, bins, features[1])
    n = arr.shape[0]
    corners = []
    for dz in (0, -1):
        for dw in (0, -1):
            c = arr.copy()
            c[:, j] = z[kj + dz]
            c[:, l] = w[kl + dw]
            corners.append(c)
    before = wrapped.n_evals
    f = wrapped.evaluate(np.concatenate(corners))  # one batched call: 4 corners per row
    f = f.reshape(4, n, -1)
    d = f[0] - f[1] - f[2] + f[3]  # (n, outputs)
    K, M, k_out = z.size - 1, w.size - 1, d.shape[1]
    counts = np.zeros((K, M), dtype=int)
    np.add.at(counts, (kj - 1, kl - 1), 1)
    sums = np.zeros((K, M, k_out))
    np.add.at(sums, (kj - 1, kl - 1), d)
    mean = _fill_empty(sums / np.maximum(counts, 1)[..., None], counts)
    g = np.zeros((K + 1, M + 1, k_out))
    g[1:, 1:] = np.cumsum(np.cumsum(mean, axis=0), axis=1)
    # take out each feature's own first-order effect of g (weighted by the rows in each cell)
    step_j = g[1:, 1:] - g[:-1, 1:]     # (K, M): the change of g across bin k at the upper edge of m
    per_k = (counts[..., None] * step_j).sum(axis=1) / np.maximum(counts.sum(axis=1), 1)[:, None]
    h_j = np.vstack([np.zeros((1, k_out)), np.cumsum(per_k, axis=0)])
    step_l = g[1:, 1:] - g[1:, :-1]
    per_m = (counts[..., None] * step_l).sum(axis=0) / np.maximum(counts.sum(axis=0), 1)[:, None]
    h_l = np.vstack([np.zeros((1, k_out)), np.cumsum(per_m, axis=0)])
    g = g - h_j[:, None, :] - h_l[None, :, :]
    cell_mean = (g[1:, 1:] + g[:-1, 1:] + g[1:, :-1] + g[:-1, :-1]) / 4
    g = g - (counts[..., None] * cell_mean).sum(axis=(0, 1)) / counts.sum()
    meta = {"counts": counts.tolist(), "rows": int(n), "model_evals": int(wrapped.n_evals - before),
            "output": wrapped.output, "order": 2, "empty_cells": int((counts == 0).sum()),
            "centred": "mean over the data is zero; first-order effects removed"}
    return Dependence(features=tuple(features), grid=(z, w), average=g[..., 0] if k_out == 1 else g,
                      output_names=wrapped.output_names if k_out > 1 else None,
                      method="accumulated_local_effects", meta=meta, has_outputs=k_out > 1)
