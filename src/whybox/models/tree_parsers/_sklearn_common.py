"""What every scikit-learn tree reader shares: node arrays of one `Tree`, float32 thresholds, links,
the common TreeEnsemble fields, and internal node values.

scikit-learn's own trees (not HistGradientBoosting) cast X to float32 before comparing with the float64
threshold. To reproduce that for float64 input, every threshold t is rewritten as the exact rounding
boundary of float32: float32(x) <= t  <=>  x < m (or x <= m, by round-half-to-even), with m the
midpoint between the largest float32 <= t and the next float32.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...errors import ModelError
from ..trees import LINKS, TreeEnsemble

_F32_MAX = float(np.finfo(np.float32).max)


def _link(name: str, model: Any, loss: str) -> str:
    if name not in LINKS:
        raise ModelError(f"{type(model).__name__}(loss={loss!r}) turns its raw margin into predictions with a "
                         f"{name} link, which whybox's tree format does not have (links: {', '.join(LINKS)}); "
                         "use a model-agnostic explainer (KernelShap, PermutationShap) on it instead")
    return name


def _margin_names(model: Any, k: int) -> list[str] | None:
    """Names of a boosted model's k margins: its classes, only the positive one for a binary margin (k = 1)."""
    if not hasattr(model, "classes_"):
        return None
    names = [str(c) for c in model.classes_]
    return names[1:] if k == 1 else names


def _common(model: Any) -> dict:
    names = getattr(model, "feature_names_in_", None)
    return dict(n_features=int(model.n_features_in_),
                feature_names=None if names is None else tuple(str(c) for c in names),
                source=f"sklearn:{type(model).__name__}")


def _float32_thresholds(threshold: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(m, strict) with `x < m` (strict) or `x <= m` true exactly when float32(x) <= threshold."""
    t = np.asarray(threshold, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        lo = t.astype(np.float32)                      # round to nearest, then step down if above t
        lo = np.where(lo.astype(np.float64) > t, np.nextafter(lo, np.float32(-np.inf)), lo)
        hi = np.nextafter(lo, np.float32(np.inf))
        mid = (lo.astype(np.float64) + hi.astype(np.float64)) / 2.0       # exact in float64
    # above FLT_MAX float32 rounds to inf from FLT_MAX + half an ulp on
    mid = np.where(np.isposinf(hi) & np.isfinite(lo), _F32_MAX + 2.0 ** 103, mid)
    mid = np.where(np.isfinite(t), mid, t)
    # a tie at the midpoint rounds to the even neighbour: to lo (goes left) when lo is even
    strict = (lo.view(np.uint32) & 1).astype(bool) & np.isfinite(t)
    return mid, strict


def _sk_tree(tree: Any, value: np.ndarray) -> dict:
    """Local node arrays of one sklearn `Tree` with the given (nodes, K) or (nodes,) leaf values."""
    threshold, strict = _float32_thresholds(tree.threshold)
    missing_left = getattr(tree, "missing_go_to_left", None)     # sklearn >= 1.3
    n = tree.node_count
    return dict(left=tree.children_left, right=tree.children_right, feature=tree.feature, threshold=threshold,
                strict=strict, cover=tree.weighted_n_node_samples, value=value,
                default_left=np.zeros(n, bool) if missing_left is None else np.asarray(missing_left, dtype=bool))


def _fill_internal_values(ens: TreeEnsemble) -> None:
    """Set each split node's value to the cover-weighted mean of its children's, level by level upwards."""
    left, right, cover, value = ens.left, ens.right, ens.cover, ens.value
    levels = []
    frontier = ens.roots.astype(np.int64)
    while frontier.size:
        frontier = frontier[left[frontier] >= 0]
        if frontier.size == 0:
            break
        levels.append(frontier)
        frontier = np.concatenate([left[frontier], right[frontier]]).astype(np.int64)
    for nodes in reversed(levels):
        lo, hi = left[nodes], right[nodes]
        wl, wr = cover[lo], cover[hi]
        total = wl + wr
        even = total <= 0                          # no weight below: a plain mean
        wl = np.where(even, 1.0, wl)[:, None]
        wr = np.where(even, 1.0, wr)[:, None]
        value[nodes] = (wl * value[lo] + wr * value[hi]) / (wl + wr)
