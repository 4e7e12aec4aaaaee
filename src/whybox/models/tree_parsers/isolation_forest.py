"""scikit-learn's `IsolationForest` read into a `TreeEnsemble` whose output is the mean path length.

An isolation tree scores a row by the length of its path: h_t(x) = depth(leaf) + c(n_leaf), the edges
from the root to the leaf x reaches plus c(n) for the n training rows (of the tree's subsample) that
the leaf still holds, c being the average path length of an unsuccessful search in a binary search
tree of n items:

    c(n) = 2 (ln(n - 1) + euler_gamma) - 2 (n - 1) / n   for n > 2,   c(2) = 1,   c(n <= 1) = 0.

The forest's output explained here is E[h(x)] = (1/T) sum_t h_t(x), the mean path length over the T
trees: a sum of per-tree leaf values, so Tree SHAP is exact in it. scikit-learn turns it into its
scores with psi = `max_samples_` (the size of each tree's subsample):

    score_samples(x)     = -2 ** (-E[h(x)] / c(psi))       (the opposite of the paper's anomaly score)
    decision_function(x) = score_samples(x) - offset_

so E[h] = -c(psi) * log2(-score_samples(x)), which is how the explanation is checked against the model's
own `score_samples`. Both maps are increasing in E[h]: a feature that lengthens the path (positive
value) makes the row look more normal; anomalies are the rows with short paths.

Each tree is fitted on the columns `estimators_features_[t]` (a subset when max_features < 1, in which
case a tree's feature f is the input column estimators_features_[t][f]); thresholds compare float32(x)
as scikit-learn's trees do (see sklearn.py). Cover is the tree's weighted subsample count per node.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..trees import TreeEnsemble, stack_trees
from ._sklearn_common import _common, _fill_internal_values, _sk_tree

__all__ = ["parse", "average_path_length", "OUTPUT_NAME"]

OUTPUT_NAME = "mean_path_length"


def average_path_length(n: Any) -> np.ndarray:
    """c(n): the average path length of an unsuccessful search in a binary search tree of n items."""
    n = np.asarray(n, dtype=np.float64)
    out = np.where(n == 2, 1.0, 0.0)
    big = n > 2
    safe = np.where(big, n, 3.0)
    return np.where(big, 2.0 * (np.log(safe - 1.0) + np.euler_gamma) - 2.0 * (safe - 1.0) / safe, out)


def _depths(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Edges from the root (node 0) to each node of one tree, whose children have larger ids than parents."""
    depth = np.zeros(len(left), dtype=np.float64)
    for node in range(len(left)):          # sklearn numbers nodes depth-first: a parent precedes its children
        if left[node] >= 0:
            depth[left[node]] = depth[right[node]] = depth[node] + 1.0
    return depth


def parse(model: Any, owner: Any = None) -> TreeEnsemble:
    """Read a fitted IsolationForest into a TreeEnsemble computing E[h(x)], the mean path length.

    model   the fitted `sklearn.ensemble.IsolationForest`
    owner   the object the user gave (the forest, a subclass, or a Pipeline ending in it), whose own
            `score_samples` the explanation is checked against; default: model
    """
    owner = model if owner is None else owner
    m = int(model.n_features_in_)
    n_trees = len(model.estimators_)
    trees = []
    for est, features in zip(model.estimators_, model.estimators_features_):
        tree = est.tree_
        left, right = np.asarray(tree.children_left), np.asarray(tree.children_right)
        leaf = left < 0
        h = _depths(left, right) + average_path_length(tree.n_node_samples)
        local = _sk_tree(tree, np.where(leaf, h, 0.0) / n_trees)
        # scikit-learn indexes the columns only when a tree saw fewer than all of them
        columns = np.asarray(features, dtype=np.int64) if len(features) != m else np.arange(m)
        local["feature"] = np.where(leaf, -1, columns[np.where(leaf, 0, tree.feature)])
        trees.append(local)
    ens = stack_trees(trees, np.zeros(1), 1, link="identity", output_names=(OUTPUT_NAME,), **_common(model))
    _fill_internal_values(ens)
    ens.library_output, ens.library_name = _library_output(owner, float(model.max_samples_))
    return ens


def _library_output(owner: Any, psi: float) -> tuple[Any, str]:
    """(f(X) -> E[h(x)] from the model's own score_samples, its name): E[h] = -c(psi) log2(-score)."""
    c_psi = float(average_path_length(psi))

    def mean_path_length(X: Any) -> np.ndarray:
        return -c_psi * np.log2(-np.asarray(owner.score_samples(X), dtype=np.float64))
    return mean_path_length, f"-c(max_samples_) * log2(-{type(owner).__name__}.score_samples)"
