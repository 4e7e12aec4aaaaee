"""Walking rows down a `TreeEnsemble`'s flat arrays, compiled with numba (see trees.py for the format).

A row goes down split node n: NaN by default_left[n]; a categorical split by membership of the code in
the node's set; a numeric split by x < threshold (strict) or x <= threshold.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, inline="always")
def goes_left(x: np.ndarray, n: int, feature, threshold, strict, default_left, categorical, cat_offsets,
              cat_codes) -> bool:
    """Whether row x goes to the left child at split node n."""
    v = x[feature[n]]
    if np.isnan(v):
        return default_left[n]
    if categorical[n]:
        code = int(v)
        for k in range(cat_offsets[n], cat_offsets[n + 1]):
            if cat_codes[k] == code:
                return True
        return False
    if strict[n]:
        return v < threshold[n]
    return v <= threshold[n]


@numba.njit(cache=True, parallel=True)
def _leaves(X, left, right, feature, threshold, strict, default_left, categorical, cat_offsets, cat_codes, roots):
    n, t = X.shape[0], roots.shape[0]
    out = np.empty((n, t), dtype=np.int32)
    for i in numba.prange(n):
        x = X[i]
        for k in range(t):
            node = roots[k]
            while left[node] >= 0:
                if goes_left(x, node, feature, threshold, strict, default_left, categorical, cat_offsets, cat_codes):
                    node = left[node]
                else:
                    node = right[node]
            out[i, k] = node
    return out


@numba.njit(cache=True)
def _sum_leaves(leaves, value):
    n, t = leaves.shape
    out = np.zeros((n, value.shape[1]))
    for i in range(n):
        for k in range(t):
            out[i] += value[leaves[i, k]]
    return out


def _depths(left: np.ndarray, right: np.ndarray, roots: np.ndarray) -> np.ndarray:
    depth = np.zeros(len(left), dtype=np.int64)
    stack = [(int(r), 0) for r in roots]
    while stack:
        node, d = stack.pop()
        depth[node] = d
        if left[node] >= 0:
            stack.append((int(left[node]), d + 1))
            stack.append((int(right[node]), d + 1))
    return depth
