"""Partial dependence and ICE curves.

PD_j(v) = mean_i f(x_i with x_ij := v); the ICE curve of row i is f(x_i with x_ij := v) itself.
Two features give the surface PD_jk(v, w) on the product of their grids.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..errors import InputError
from ..models.base import wrap
from ..results import Dependence

__all__ = ["partial_dependence", "feature_grid"]


def feature_grid(column: np.ndarray, name: str, categorical: bool, grid_size: int, grid: str) -> np.ndarray:
    """Grid values of one column: its categories, or quantiles / a uniform range of its values."""
    if categorical:
        values = pd.unique(pd.Series(column, dtype=object).dropna())
        return np.asarray(sorted(values, key=str), dtype=object)
    col = column.astype(float)
    col = col[~np.isnan(col)]
    if col.size == 0 or np.min(col) == np.max(col):
        raise InputError(f"column {name!r} is constant (or empty): there is no range to vary it over; "
                         "drop it from the features")
    if grid == "quantile":
        return np.unique(np.quantile(col, np.linspace(0, 1, grid_size)))
    if grid == "uniform":
        return np.linspace(col.min(), col.max(), grid_size)
    raise InputError(f"unknown grid {grid!r}; choose 'quantile' or 'uniform'")


def partial_dependence(model: Any, X: Any, features: str | Sequence[str], *, grid_size: int = 20,
                       grid: str = "quantile", ice: bool = True, centered: bool = False, output: str = "auto",
                       max_rows: int | None = None, seed: int = 0) -> Dependence:
    """Partial dependence of the model output on one or two features, with ICE curves for one.

    Arguments:
      model      anything `whybox.models.wrap` accepts
      X          the rows to average over (DataFrame or array)
      features   one feature name, or a pair for a 2-D surface
      grid_size  most grid points per numeric feature (categorical features use their categories)
      grid       "quantile" (grid at the data's quantiles) or "uniform" (evenly from min to max)
      ice        keep one curve per row (1-D only)
      centered   subtract each ICE curve's value at the first grid point (and the average's)
      output     the output space, as in `wrap`
      max_rows   average over a random sample of this many rows (seeded)
      seed       for that sample
    """
    wrapped = wrap(model, output=output)
    arr = wrapped.prepare(X)
    names = list(wrapped.feature_names)
    feats = [features] if isinstance(features, str) else list(features)
    if len(feats) not in (1, 2):
        raise InputError(f"partial dependence takes one or two features, got {len(feats)}")
    for f in feats:
        if f not in names:
            raise InputError(f"unknown feature {f!r}; known features: {names}")
    if grid_size < 2:
        raise InputError(f"grid_size must be at least 2, got {grid_size}")
    if max_rows is not None and arr.shape[0] > max_rows:
        rows = np.sort(np.random.default_rng(seed).choice(arr.shape[0], max_rows, replace=False))
        arr = arr[rows]
    cats = wrapped.schema.categories
    idx = [names.index(f) for f in feats]
    grids = [feature_grid(arr[:, j], f, f in cats, grid_size, grid) for j, f in zip(idx, feats)]
    points = np.array(np.meshgrid(*grids, indexing="ij"), dtype=object).reshape(len(feats), -1).T \
        if len(feats) == 2 else grids[0][:, None]
    n = arr.shape[0]
    batch = np.repeat(arr[None], len(points), axis=0)  # (points, n, M)
    for d, j in enumerate(idx):
        batch[:, :, j] = points[:, d][:, None]
    before = wrapped.n_evals
    out = wrapped.evaluate(batch.reshape(-1, arr.shape[1])).reshape(len(points), n, -1)  # one batched call
    k = out.shape[-1]
    curves = np.transpose(out, (1, 0, 2))  # (n, points, k)
    if centered:
        curves = curves - curves[:, :1, :]
    average = curves.mean(axis=0).reshape(*[len(g) for g in grids], k)
    individual = curves if (ice and len(feats) == 1) else None
    if k == 1:
        average = average[..., 0]
        individual = None if individual is None else individual[..., 0]
    meta = {"grid": grid, "centered": centered, "rows": int(n), "model_evals": int(wrapped.n_evals - before),
            "output": wrapped.output}
    return Dependence(features=tuple(feats), grid=tuple(grids), average=average, individual=individual,
                      output_names=wrapped.output_names if k > 1 else None, method="partial_dependence",
                      meta=meta, has_outputs=k > 1)
