"""Removing features from a table by intervention: a removed feature takes background values.

v(S) = sum_k w_k f(x_S, b_k,-S): the model's weighted mean output when the features in
S keep the explained row's values and the others come from background row b_k.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError

__all__ = ["TabularMasker", "summarize"]


def _numeric_view(arr: np.ndarray) -> np.ndarray:
    """Float view of a (possibly object) table for distances: categories become codes, columns standardised."""
    cols = []
    for j in range(arr.shape[1]):
        col = arr[:, j]
        try:
            c = col.astype(float)
        except (TypeError, ValueError):
            c = pd.factorize(pd.Series(col, dtype=object))[0].astype(float)
        c = np.where(np.isnan(c), np.nanmean(c) if np.isfinite(c).any() else 0.0, c)
        sd = c.std()
        cols.append((c - c.mean()) / sd if sd > 0 else c * 0.0)
    return np.column_stack(cols) if cols else np.zeros((arr.shape[0], 0))


def summarize(background: np.ndarray, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """k weighted rows standing for a large background: k-means, then the real row nearest each centre.

    Returns (rows (k, features), weights (k,) summing to 1). Real rows keep categories valid.
    """
    from sklearn.cluster import KMeans

    n = background.shape[0]
    if k >= n:
        return background, np.full(n, 1.0 / n)
    z = _numeric_view(background)
    km = KMeans(n_clusters=k, n_init=3, random_state=seed).fit(z)
    rows, weights = [], []
    for c in range(k):
        members = np.flatnonzero(km.labels_ == c)
        if members.size == 0:
            continue
        d = ((z[members] - km.cluster_centers_[c]) ** 2).sum(axis=1)
        rows.append(members[np.argmin(d)])
        weights.append(members.size)
    w = np.asarray(weights, dtype=float)
    return background[np.asarray(rows)], w / w.sum()


class TabularMasker:
    """How a tabular feature is "removed": replaced by values from background rows.

    Arguments:
      background  rows (DataFrame or array) standing for "typical" data
      summarize   replace the background by this many weighted k-means rows (None: keep all)
      weights     optional weight per background row (default: equal)
      max_rows    above this many rows (without summarize) a warning says each coalition costs that many
                  model evaluations
      seed        for the k-means summary
    """

    def __init__(self, background: Any, *, summarize: int | None = None, weights: Any = None,
                 max_rows: int = 100, seed: int = 0) -> None:
        if background is None:
            raise InputError("a background is needed to remove features: pass some typical rows (e.g. 50-100 "
                             "training rows) as `background`")
        self.raw = background
        self.k = summarize
        self.given_weights = None if weights is None else np.asarray(weights, dtype=float)
        self.max_rows = max_rows
        self.seed = seed
        self.data: np.ndarray | None = None
        self.weights: np.ndarray | None = None

    def bind(self, model: Any) -> "TabularMasker":
        """Convert the background with the model's schema (validating it); summarise if asked."""
        if self.data is not None:
            return self
        arr = model.prepare(self.raw, what="background")
        n = arr.shape[0]
        if n == 0:
            raise InputError("the background is empty; pass at least one row")
        if self.given_weights is not None:
            if self.given_weights.shape != (n,) or (self.given_weights < 0).any() or self.given_weights.sum() <= 0:
                raise InputError(f"weights must be {n} non-negative numbers, one per background row")
            w = self.given_weights / self.given_weights.sum()
        else:
            w = np.full(n, 1.0 / n)
        if self.k is not None:
            if self.k < 1:
                raise InputError(f"summarize must be a positive number of rows, got {self.k}")
            if self.given_weights is not None:
                raise InputError("summarize and weights cannot be combined; summarise first or weigh yourself")
            arr, w = summarize(arr, self.k, seed=self.seed)
        elif n > self.max_rows:
            warnings.warn(
                f"the background has {n} rows, so every coalition costs {n} model evaluations; pass "
                f"summarize=50 (k-means) or a sample of ~{self.max_rows} rows to make it cheaper",
                UserWarning, stacklevel=3)
        self.data, self.weights = arr, w
        return self

    @property
    def n_rows(self) -> int:
        return 0 if self.data is None else self.data.shape[0]

    def fill(self, x: np.ndarray, masks: np.ndarray) -> np.ndarray:
        """Rows for each coalition: (c, features) bool masks -> (c * background rows, features).

        Where a mask is True the feature keeps x's value, elsewhere the background row's value.
        """
        bg = self.data
        rows = np.where(masks[:, None, :], x[None, None, :], bg[None, :, :])
        return rows.reshape(-1, bg.shape[1])
