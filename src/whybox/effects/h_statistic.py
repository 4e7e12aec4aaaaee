"""Friedman's H-statistic: how much of the variation of partial dependence is interaction.

With centred partial dependences evaluated at the data points x_i (a seeded sample of rows):
  pairwise  H2_jk = sum_i [PD_jk(x_ij, x_ik) - PD_j(x_ij) - PD_k(x_ik)]^2 / sum_i PD_jk(x_ij, x_ik)^2
  total     H2_j  = sum_i [f(x_i) - PD_j(x_ij) - PD_-j(x_i,-j)]^2 / sum_i f(x_i)^2   (f centred)
Each PD at n points costs n^2 model rows, sent in one batched call.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any, Sequence

import numpy as np

from .._progress import progress
from ..errors import InputError
from ..models.base import Model, wrap
from ..results import Interactions

__all__ = ["h_statistic"]


def _pd_at_points(model: Model, arr: np.ndarray, cols: Sequence[int]) -> np.ndarray:
    """PD over the columns `cols` at every row's own values of them, centred: (n, outputs)."""
    n = arr.shape[0]
    batch = np.repeat(arr[None], n, axis=0)  # batch[i, l] = row l with row i's values in cols
    for j in cols:
        batch[:, :, j] = arr[:, j][:, None]
    pd_values = model.evaluate(batch.reshape(-1, arr.shape[1])).reshape(n, n, -1).mean(axis=1)
    return pd_values - pd_values.mean(axis=0)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)


def h_statistic(model: Any, X: Any, features: Sequence[str] | None = None, *, max_rows: int = 100,
                seed: int = 0, output: str = "auto", squared: bool = False,
                show_progress: bool | None = None) -> Interactions:
    """Pairwise H (off-diagonal) and total H_j (diagonal) of the features: `Interactions` with (M, M[, K]) values.

    Arguments:
      model     anything `whybox.models.wrap` accepts
      X         the data (DataFrame or array)
      features  the features to examine (default: all)
      max_rows  rows sampled (seeded) to evaluate the statistic at; cost grows as rows^2 per feature set
      seed      for that sample
      output    the output space, as in `wrap`
      squared   report H^2 (share of variance) instead of H
      show_progress  a progress bar over the feature sets (default: only when run interactively)
    """
    wrapped = wrap(model, output=output)
    arr = wrapped.prepare(X)
    names = list(wrapped.feature_names)
    feats = names if features is None else list(features)
    unknown = [f for f in feats if f not in names]
    if unknown:
        raise InputError(f"unknown features {unknown}; known features: {names}")
    if len(feats) < 2:
        raise InputError("the H-statistic needs at least two features")
    if max_rows < 2:
        raise InputError(f"max_rows must be at least 2, got {max_rows}")
    if arr.shape[0] > max_rows:
        arr = arr[np.sort(np.random.default_rng(seed).choice(arr.shape[0], max_rows, replace=False))]
    before = wrapped.n_evals
    idx = [names.index(f) for f in feats]
    single = {j: _pd_at_points(wrapped, arr, [j]) for j in idx}
    f = wrapped.evaluate(arr)
    f = f - f.mean(axis=0)
    k = f.shape[1]
    h2 = np.zeros((len(idx), len(idx), k))
    pairs = list(combinations(range(len(idx)), 2))
    for a, b in progress(pairs, total=len(pairs), desc="h_statistic", show=show_progress, min_total=2):
        joint = _pd_at_points(wrapped, arr, [idx[a], idx[b]])
        num = ((joint - single[idx[a]] - single[idx[b]]) ** 2).sum(axis=0)
        h2[a, b] = h2[b, a] = _ratio(num, (joint ** 2).sum(axis=0))
    for a, j in enumerate(idx):
        rest = _pd_at_points(wrapped, arr, [c for c in range(arr.shape[1]) if c != j])
        h2[a, a] = _ratio(((f - single[j] - rest) ** 2).sum(axis=0), (f ** 2).sum(axis=0))
    values = h2 if squared else np.sqrt(np.clip(h2, 0, None))
    meta = {"statistic": "H^2" if squared else "H", "diagonal": "total interaction of each feature",
            "rows": int(arr.shape[0]), "model_evals": int(wrapped.n_evals - before), "seed": seed,
            "output": wrapped.output}
    return Interactions(values=values if k > 1 else values[..., 0], feature_names=feats,
                        output_names=wrapped.output_names if k > 1 else None, method="h_statistic", meta=meta,
                        has_outputs=k > 1)
