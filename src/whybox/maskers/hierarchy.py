"""Binary hierarchies of features for Owen values (partition SHAP).

A `Hierarchy` is a binary tree over M leaves. Leaves are numbered in depth-first order, so every
node owns one contiguous run of leaves `start[node]:stop[node]` and a coalition of nodes is a
boolean mask over the leaves built from a few slices. Leaf k stands for a group of inputs: a
rectangle of pixels (`rectangles`, with `labels` mapping each pixel to its leaf) or one table
column (`from_linkage`, `from_nested`, `cluster_features`, with `order` giving the column of
each leaf).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ..errors import InputError

__all__ = ["Hierarchy", "rectangles", "from_linkage", "from_nested", "cluster_features", "as_hierarchy"]


@dataclass(frozen=True, eq=False)
class Hierarchy:
    """A binary tree over M leaves in depth-first order; node 0 is the root.

    left, right   (nodes,) int: the children of each node, -1 for a leaf
    start, stop   (nodes,) int: the node owns leaves start:stop
    sizes         (M,) float: how many inputs each leaf holds (pixels of a rectangle, 1 for a column)
    labels        (H, W) int leaf of every pixel (image hierarchies), else None
    boxes         (nodes, 4) int (y0, y1, x0, x1) of every node's rectangle (image hierarchies), else None
    order         (M,) int: the column of each leaf (table hierarchies), else None
    """

    left: np.ndarray
    right: np.ndarray
    start: np.ndarray
    stop: np.ndarray
    sizes: np.ndarray
    labels: np.ndarray | None = None
    boxes: np.ndarray | None = None
    order: np.ndarray | None = None

    @property
    def n_nodes(self) -> int:
        return int(self.left.shape[0])

    @property
    def n_leaves(self) -> int:
        return int(self.sizes.shape[0])

    def is_leaf(self, node: int) -> bool:
        return bool(self.left[node] < 0)

    def depth(self) -> int:
        """Edges on the longest root-to-leaf path."""
        depth = np.zeros(self.n_nodes, dtype=np.int64)
        for node in range(self.n_nodes):  # parents come before children in depth-first order
            for child in (self.left[node], self.right[node]):
                if child >= 0:
                    depth[child] = depth[node] + 1
        return int(depth.max())

    def leaf_mask(self, nodes: Sequence[int]) -> np.ndarray:
        """(M,) bool: True on the leaves of the given nodes."""
        mask = np.zeros(self.n_leaves, dtype=bool)
        for node in nodes:
            mask[self.start[node]:self.stop[node]] = True
        return mask

    def spread(self, nodes: np.ndarray, credits: np.ndarray) -> np.ndarray:
        """Share each node's credit over its leaves in proportion to their sizes: (M, k) per-leaf credit.

        `nodes` (r,) and `credits` (r, k); nodes may repeat and overlap. The leaf credits add up to
        the total credit exactly (up to rounding).
        """
        nodes = np.asarray(nodes, dtype=np.int64)
        credits = np.asarray(credits, dtype=np.float64).reshape(len(nodes), -1)
        csum = np.concatenate([[0.0], np.cumsum(self.sizes)])
        density = credits / (csum[self.stop[nodes]] - csum[self.start[nodes]])[:, None]
        leaf = np.zeros((self.n_leaves, credits.shape[1]))
        for node, d in zip(nodes, density):  # slices, not a running sum: leaves outside every node stay 0.0
            leaf[self.start[node]:self.stop[node]] += d
        return leaf * self.sizes[:, None]


class _Builder:
    """Collects nodes in depth-first order."""

    def __init__(self) -> None:
        self.left: list[int] = []
        self.right: list[int] = []
        self.start: list[int] = []
        self.stop: list[int] = []
        self.n_leaves = 0

    def new(self) -> int:
        self.left.append(-1)
        self.right.append(-1)
        self.start.append(self.n_leaves)
        self.stop.append(self.n_leaves)
        return len(self.left) - 1

    def arrays(self) -> tuple[np.ndarray, ...]:
        return tuple(np.asarray(a, dtype=np.int64) for a in (self.left, self.right, self.start, self.stop))


def rectangles(height: int, width: int, min_size: int = 1) -> Hierarchy:
    """Halve the image along its longer side, recursively, until no side is longer than `min_size`.

    Arguments:
      height, width  the image's size in pixels
      min_size       a rectangle whose sides are all <= min_size pixels is a leaf (1: single pixels)
    """
    height, width, min_size = int(height), int(width), int(min_size)
    if height < 1 or width < 1:
        raise InputError(f"an image hierarchy needs at least 1 x 1 pixels, got {height} x {width}")
    if min_size < 1:
        raise InputError(f"min_size is the largest leaf side in pixels and must be >= 1, got {min_size}")
    b = _Builder()
    labels = np.empty((height, width), dtype=np.int64)
    boxes: list[tuple[int, int, int, int]] = []
    sizes: list[int] = []

    def build(y0: int, y1: int, x0: int, x1: int) -> int:
        node = b.new()
        boxes.append((y0, y1, x0, x1))
        h, w = y1 - y0, x1 - x0
        if max(h, w) <= min_size:
            labels[y0:y1, x0:x1] = b.n_leaves
            sizes.append(h * w)
            b.n_leaves += 1
        elif h >= w:
            mid = y0 + h // 2
            b.left[node] = build(y0, mid, x0, x1)
            b.right[node] = build(mid, y1, x0, x1)
        else:
            mid = x0 + w // 2
            b.left[node] = build(y0, y1, x0, mid)
            b.right[node] = build(y0, y1, mid, x1)
        b.stop[node] = b.n_leaves
        return node

    build(0, height, 0, width)  # recursion depth is about log2(height) + log2(width)
    left, right, start, stop = b.arrays()
    return Hierarchy(left, right, start, stop, np.asarray(sizes, dtype=np.float64), labels=labels,
                     boxes=np.asarray(boxes, dtype=np.int64))


def _from_tree(root: Any, children: Any, leaf_of: Any, n_features: int) -> Hierarchy:
    """Build a Hierarchy from any tree given as callables: children(t) -> list, leaf_of(t) -> column."""
    b = _Builder()
    order: list[int] = []
    stack: list[tuple[Any, int, int]] = [(root, b.new(), 0)]  # (tree item, node, children built so far)
    while stack:
        item, node, built = stack.pop()
        kids = children(item)
        if not kids:
            order.append(int(leaf_of(item)))
            b.n_leaves += 1
            b.stop[node] = b.n_leaves
        elif built < 2:
            stack.append((item, node, built + 1))
            child = b.new()
            (b.left if built == 0 else b.right)[node] = child
            stack.append((kids[built], child, 0))
        else:
            b.stop[node] = b.n_leaves
    left, right, start, stop = b.arrays()
    order_arr = np.asarray(order, dtype=np.int64)
    if sorted(order) != list(range(n_features)):
        seen = np.bincount(order_arr, minlength=n_features)
        twice = np.flatnonzero(seen > 1).tolist()
        missing = np.flatnonzero(seen == 0).tolist()
        raise InputError(f"the hierarchy must hold every one of the {n_features} columns exactly once; "
                         f"columns twice: {twice}, columns missing: {missing}")
    return Hierarchy(left, right, start, stop, np.ones(n_features), order=order_arr)


def from_linkage(Z: Any, n_features: int | None = None) -> Hierarchy:
    """A hierarchy from a scipy linkage matrix Z ((M - 1, 4), as `scipy.cluster.hierarchy.linkage` gives)."""
    Z = np.asarray(Z, dtype=np.float64)
    if Z.ndim != 2 or Z.shape[1] != 4:
        raise InputError(f"a linkage matrix is (M - 1, 4) as scipy.cluster.hierarchy.linkage returns; got shape "
                         f"{Z.shape}")
    m = Z.shape[0] + 1
    if n_features is not None and m != n_features:
        raise InputError(f"the linkage joins {m} columns but the data has {n_features}; build it from these columns")
    kids = Z[:, :2].astype(np.int64)
    if kids.size and (kids.min() < 0 or kids.max() >= 2 * m - 1):
        raise InputError("the linkage matrix refers to clusters that do not exist; pass scipy's linkage output")

    def children(t: int) -> list[int]:
        return [] if t < m else [int(kids[t - m, 0]), int(kids[t - m, 1])]

    return _from_tree(2 * m - 2 if m > 1 else 0, children, lambda t: t, m)


def from_nested(nested: Any, names: Sequence[str]) -> Hierarchy:
    """A hierarchy from nested lists of column names or indices, e.g. [["age", "income"], [["debt"], "noise"]].

    A list of more than two items is split into halves (left half first), so groups of any size
    become binary subtrees. Every column must appear exactly once.
    """
    names = [str(n) for n in names]

    def column(t: Any) -> int:
        if isinstance(t, (int, np.integer)) and not isinstance(t, bool):
            if not 0 <= int(t) < len(names):
                raise InputError(f"column index {t} is outside 0..{len(names) - 1}")
            return int(t)
        if str(t) not in names:
            raise InputError(f"the hierarchy names unknown column {t!r}; known columns: {names}")
        return names.index(str(t))

    def children(t: Any) -> list:
        if isinstance(t, (list, tuple)):
            if len(t) == 0:
                raise InputError("the hierarchy has an empty group; every group needs at least one column")
            if len(t) == 1:
                return children(t[0])
            half = (len(t) + 1) // 2
            return [t[:half] if half > 1 else t[0], t[half:] if len(t) - half > 1 else t[half]]
        return []

    def leaf_of(t: Any) -> int:
        while isinstance(t, (list, tuple)):
            t = t[0]
        return column(t)

    return _from_tree(nested, children, leaf_of, len(names))


def cluster_features(data: np.ndarray) -> Hierarchy:
    """Average-linkage clustering of the columns on 1 - |Spearman correlation| over `data` rows.

    Categorical columns count by their category codes. Columns that never vary count as
    uncorrelated with every other. With fewer than 3 rows, or one
    column, the columns are halved in their own order.
    """
    from scipy.cluster.hierarchy import linkage
    from scipy.stats import rankdata

    from .tabular import _numeric_view

    data = _numeric_view(np.asarray(data))  # categories become codes
    m = data.shape[1]
    if m == 1:
        return from_nested([0], list(map(str, range(m))))
    if data.shape[0] < 3:
        return from_nested(list(range(m)), list(map(str, range(m))))
    ranks = rankdata(np.nan_to_num(data), axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.corrcoef(ranks, rowvar=False)
    corr = np.nan_to_num(np.atleast_2d(corr), nan=0.0)
    dist = np.clip(1.0 - np.abs(corr), 0.0, None)
    condensed = dist[np.triu_indices(m, k=1)]
    return from_linkage(linkage(condensed, method="average"), m)


def as_hierarchy(spec: Any, names: Sequence[str], data: np.ndarray | None = None) -> Hierarchy:
    """A table hierarchy from what a user passes: None (cluster `data`), a Hierarchy, a linkage
    matrix or nested lists of column names/indices."""
    if spec is None:
        if data is None:
            raise InputError("no hierarchy given and no data to cluster; pass hierarchy=...")
        return cluster_features(data)
    if isinstance(spec, Hierarchy):
        if spec.order is None or spec.n_leaves != len(names):
            raise InputError(f"the hierarchy has {spec.n_leaves} leaves but the table {len(names)} columns")
        return spec
    if isinstance(spec, np.ndarray) and spec.ndim == 2 and spec.shape[1] == 4 and spec.dtype.kind in "iuf":
        return from_linkage(spec, len(names))
    if isinstance(spec, (list, tuple)):
        return from_nested(spec, names)
    raise InputError(f"hierarchy must be None, a scipy linkage matrix or nested lists of columns; got "
                     f"{type(spec).__name__}")
