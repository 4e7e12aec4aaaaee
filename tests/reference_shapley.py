"""A reference for tests: interventional Shapley values by enumerating every coalition, with nothing of whybox.

For rows x, a background B and a model output f (e.g. a classifier's `decision_function`):
v(S) = mean over b in B of f(x_S, b_rest), and phi_j = sum over S without j of |S|! (m-|S|-1)! / m! (v(S+j) - v(S)).
All 2^m coalitions of all rows go to f in one call, so keep rows x 2^m x |B| to a few hundred thousand.
"""

from __future__ import annotations

import itertools
import math
from typing import Callable

import numpy as np
import pandas as pd

__all__ = ["coalition_values", "interventional_shapley", "shapley_of_coalitions"]


def _mixed_rows(X: pd.DataFrame, background: pd.DataFrame, masks: np.ndarray) -> pd.DataFrame:
    """Every (row, coalition, background row) combination: x's value where the coalition has the feature, the
    background row's elsewhere; categorical columns keep their dtype."""
    cols = {}
    for j, name in enumerate(X.columns):
        dtype = X[name].dtype
        categorical = isinstance(dtype, pd.CategoricalDtype)
        xv = X[name].cat.codes.to_numpy() if categorical else X[name].to_numpy()
        bv = background[name].cat.codes.to_numpy() if categorical else background[name].to_numpy()
        v = np.where(masks[None, :, None, j], xv[:, None, None], bv[None, None, :]).ravel()
        cols[name] = pd.Categorical.from_codes(v, dtype=dtype) if categorical else v
    return pd.DataFrame(cols)


def coalition_values(f: Callable[[pd.DataFrame], np.ndarray], X: pd.DataFrame,
                     background: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(masks (2^m, m) with row 0 the empty coalition, values (n, 2^m, background rows, outputs)):
    f(x_S, b_rest) for every row x, coalition S and background row b, in one call of f."""
    n, m = X.shape
    masks = np.array(list(itertools.product([False, True], repeat=m)))
    v = np.asarray(f(_mixed_rows(X, background, masks)), dtype=float)
    return masks, v.reshape(n, len(masks), len(background), -1)


def shapley_of_coalitions(masks: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Shapley values (n, m, ...) of coalition values v (n, 2^m, ...) on the coalitions `masks`."""
    m = masks.shape[1]
    position = {tuple(mask): s for s, mask in enumerate(masks)}
    phi = np.zeros((v.shape[0], m) + v.shape[2:])
    for s, mask in enumerate(masks):
        size = int(mask.sum())
        weight = math.factorial(size) * math.factorial(m - size - 1) / math.factorial(m) if size < m else 0.0
        for j in np.flatnonzero(~mask):
            with_j = mask.copy()
            with_j[j] = True
            phi[:, j] += weight * (v[:, position[tuple(with_j)]] - v[:, s])
    return phi


def interventional_shapley(f: Callable[[pd.DataFrame], np.ndarray], X: pd.DataFrame,
                           background: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(base values (n,), Shapley values (n, m)) of a one-output f at the rows of X over the background."""
    masks, v = coalition_values(f, X, background)
    v = v.mean(axis=2)[..., 0]                                           # (n, 2^m) coalition values
    return v[:, 0], shapley_of_coalitions(masks, v)
