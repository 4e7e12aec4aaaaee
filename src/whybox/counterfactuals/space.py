"""The space counterfactuals live in: rows encoded as floats, and the distance that measures a change.

Encoding: a numeric feature keeps its value; a categorical feature becomes the index of its category
in the schema's category list (-1 for a missing value). The search works on these float matrices and
decodes them back to the model's own rows only to evaluate the model.

Distance (proximity, diversity and plausibility all use it):

    d(x, z) = sum_numeric |z_j - x_j| / s_j + sum_categorical 1[z_j != x_j]

with s_j the median absolute deviation (MAD) of feature j over the training rows. Where the MAD is 0
(a feature that is mostly one value, such as a count of prior defaults) s_j falls back to the mean
absolute deviation from the median, and to 1 for a constant feature. A numeric feature missing (NaN)
in both rows adds 0. One MAD of change in a numeric feature costs as much as switching one category.

`decimals[j]`: how many decimals the training data records feature j with (at most 6; None when finer):
counterfactual values are rounded to it, away from the query, so they read in the data's own units.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["FeatureSpace", "mad_scales", "data_decimals"]


def mad_scales(values: np.ndarray) -> np.ndarray:
    """Per column s_j = median |v - median(v)|, else mean |v - median(v)|, else 1 (NaN ignored)."""
    v = np.asarray(values, dtype=float)
    out = np.ones(v.shape[1])
    for j in range(v.shape[1]):
        col = v[:, j]
        col = col[np.isfinite(col)]
        if col.size == 0:
            continue
        dev = np.abs(col - np.median(col))
        s = float(np.median(dev))
        if not s > 0:
            s = float(dev.mean())
        out[j] = s if s > 0 else 1.0
    return out


def data_decimals(values: np.ndarray, most: int = 6) -> int | None:
    """The fewest decimals d <= `most` that every finite value is recorded with (None: finer than that)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return None
    for d in range(most + 1):
        scaled = v * 10.0 ** d
        if np.all(np.abs(scaled - np.round(scaled)) <= 1e-6 * np.maximum(1.0, np.abs(scaled))):
            return d
    return None


class FeatureSpace:
    """Encode rows as floats, decode them back, and measure the distance between them.

    Arguments:
      names        feature names in the model's order
      categories   name -> list of categories, for categorical features
      train        (n, features) training rows as the model's schema gives them (object or float)
    """

    def __init__(self, names: Sequence[str], categories: dict[str, list], train: np.ndarray) -> None:
        self.names = tuple(names)
        self.m = len(self.names)
        self.categories: list[list | None] = [list(categories[n]) if n in categories else None for n in self.names]
        self.is_cat = np.array([c is not None for c in self.categories], dtype=bool)
        self.num_idx = np.flatnonzero(~self.is_cat)
        self.cat_idx = np.flatnonzero(self.is_cat)
        self.object_rows = bool(self.is_cat.any())
        self._lookup = [None if c is None else {v: i for i, v in enumerate(c)} for c in self.categories]
        self.train = self.encode(train)
        self.scales = np.ones(self.m)
        if self.num_idx.size:
            self.scales[self.num_idx] = mad_scales(self.train[:, self.num_idx])
        self.index = {n: j for j, n in enumerate(self.names)}
        self.decimals: list[int | None] = [None] * self.m
        for j in self.num_idx:
            self.decimals[j] = data_decimals(self.train[:, j])

    # ----------------------------------------------------------------- encoding
    def encode(self, arr: np.ndarray) -> np.ndarray:
        """Schema rows (object or float) -> float codes (n, features)."""
        arr = np.asarray(arr)
        if arr.ndim == 1:
            arr = arr[None, :]
        if not self.object_rows:
            return np.array(arr, dtype=float)
        out = np.empty(arr.shape, dtype=float)
        for j in range(self.m):
            col = arr[:, j]
            lookup = self._lookup[j]
            if lookup is None:
                out[:, j] = col.astype(float)
            else:
                out[:, j] = [lookup.get(v, -1) if not _missing(v) else -1 for v in col]
        return out

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """Float codes -> rows in the schema's form (object array with categories, or float)."""
        codes = np.asarray(codes, dtype=float)
        if not self.object_rows:
            return codes.copy()
        out = np.empty(codes.shape, dtype=object)
        for j in range(self.m):
            cats = self.categories[j]
            if cats is None:
                out[:, j] = codes[:, j]
            else:
                idx = codes[:, j].astype(int)
                out[:, j] = [cats[i] if i >= 0 else None for i in idx]
        return out

    # ----------------------------------------------------------------- distances
    def changed(self, x: np.ndarray, Z: np.ndarray) -> np.ndarray:
        """(n, features) bool: where z differs from x (NaN equals NaN)."""
        Z = np.atleast_2d(Z)
        return ~((Z == x) | (np.isnan(Z) & np.isnan(x)))

    def distance(self, x: np.ndarray, Z: np.ndarray) -> np.ndarray:
        """d(x, z) for every row z of Z: MAD-scaled L1 over numeric features + 1 per changed category."""
        Z = np.atleast_2d(Z)
        diff = self.changed(x, Z)
        out = np.zeros(Z.shape[0])
        if self.num_idx.size:
            num = np.abs(Z[:, self.num_idx] - x[self.num_idx]) / self.scales[self.num_idx]
            out += np.where(diff[:, self.num_idx], num, 0.0).sum(axis=1)
        if self.cat_idx.size:
            out += diff[:, self.cat_idx].sum(axis=1)
        return out

    def pairwise(self, Z: np.ndarray) -> np.ndarray:
        """(n, n) matrix of d between the rows of Z."""
        Z = np.atleast_2d(Z)
        return np.stack([self.distance(z, Z) for z in Z]) if len(Z) else np.zeros((0, 0))

    def embed(self, Z: np.ndarray) -> np.ndarray:
        """Rows in a space where the Manhattan distance is d: numeric / s_j, categories one-hot x 0.5.

        A NaN numeric value is placed at the feature's training median, so nearest-neighbour search works.
        """
        Z = np.atleast_2d(Z)
        parts = []
        if self.num_idx.size:
            num = Z[:, self.num_idx].copy()
            med = self._medians()
            bad = ~np.isfinite(num)
            if bad.any():
                num[bad] = np.broadcast_to(med, num.shape)[bad]
            parts.append(num / self.scales[self.num_idx])
        for j in self.cat_idx:
            k = len(self.categories[j])
            codes = Z[:, j].astype(int)
            onehot = np.zeros((Z.shape[0], k))
            ok = codes >= 0
            onehot[np.flatnonzero(ok), codes[ok]] = 0.5
            parts.append(onehot)
        return np.hstack(parts) if parts else np.zeros((Z.shape[0], 0))

    def _medians(self) -> np.ndarray:
        if not hasattr(self, "_med"):
            cols = self.train[:, self.num_idx]
            self._med = np.array([np.median(c[np.isfinite(c)]) if np.isfinite(c).any() else 0.0 for c in cols.T])
        return self._med


def _missing(v: object) -> bool:
    if v is None:
        return True
    try:
        return bool(v != v)
    except (TypeError, ValueError):
        return False
