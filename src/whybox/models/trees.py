"""One flat format for every tree ensemble: `TreeEnsemble`.

Every supported library's model (scikit-learn, XGBoost, LightGBM, CatBoost) is
parsed into the same numpy arrays, so one set of compiled Tree SHAP kernels
serves them all. Node ids are global over the whole ensemble.

A row goes down a split node n as follows:
  x = X[feature[n]]
  NaN                      -> left if default_left[n] else right
  categorical[n]           -> left if the category code x is in the node's set, else right
  numeric, strict[n]       -> left if x <  threshold[n] else right
  numeric, not strict[n]   -> left if x <= threshold[n] else right
The raw prediction is base_offset + sum over trees of value[leaf reached] (K outputs);
`link` says how the library turns that raw margin into its prediction.

Categorical columns are encoded as codes: code i stands for `categories[j][i]`.
A value the model never saw becomes code -1 (in no set: goes right), or NaN
(the missing-value direction) when `unseen_as_missing` is set.

Rows are encoded once, at the boundary (`encode`), and everything inside works on the
codes (`margin`): encoding codes a second time would turn every string category into
"unseen". `predict_raw(X)` is `margin(encode(X))` for rows as the user holds them.

`library_output`, set by the parsers, computes the same raw margin with the model's own
library (`decision_function`, `predict(output_margin=True)`, `raw_score=True`, ...); the
explainers check their results against it, never against `margin`, which could share a
bug with them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from ..errors import InputError, ModelError
from ._tree_walk import _depths, _leaves, _sum_leaves
from .schema import column_positions, refuse_library_data

__all__ = ["TreeEnsemble", "LINKS"]

LINKS = ("identity", "logistic", "softmax", "exp")


@dataclass(eq=False)
class TreeEnsemble:
    """All trees of an ensemble in flat arrays (N nodes, T trees, K outputs, M features).

    left, right     int32 (N,): children (global ids); -1 at leaves
    feature         int32 (N,): column tested; -1 at leaves
    threshold       float64 (N,)
    strict          bool (N,): True goes left on x < threshold, False on x <= threshold
    default_left    bool (N,): where a missing value goes
    categorical     bool (N,): the split tests membership of a category set
    cat_offsets     int64 (N+1,): node n's left-going codes are cat_codes[cat_offsets[n]:cat_offsets[n+1]]
    cat_codes       int32: the concatenated sets
    cover           float64 (N,): training weight reaching each node (samples or hessian sum)
    value           float64 (N, K): leaf outputs, already scaled (learning rate, 1/T for forests)
    roots           int32 (T,): the root node of each tree
    base_offset     float64 (K,): added to the sum of leaf values
    link            "identity", "logistic", "softmax" or "exp" (log-link regression: Poisson, Gamma, Tweedie):
                    raw margin -> the library's prediction
    n_features      M, columns of the input
    feature_names   names of the M columns, if known
    output_names    names of the K outputs, if known
    categories      column index -> category values in code order, for categorical columns
    unseen_as_missing  unseen categories take the missing-value direction (else code -1)
    source          which library and model type this came from
    classes         a classifier's class labels, all of them (a binary model's margin is the last one's)
    library_output  f(rows as the user gives them) -> (n, K) the raw margin computed by the model's own
                    library, or None when the ensemble was not read from a library model
    library_name    how library_output computes it, for messages ("XGBClassifier.predict(output_margin=True)")
    library_eps     unit roundoff of the library's sum of leaf values (2^-24 where it sums in float32)
    rename          how the library rewrote a column name when it stored it (LightGBM: spaces -> "_"), so that
                    `align` finds a frame's columns under the names the user gave them; None: names as stored
    """

    left: np.ndarray
    right: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    strict: np.ndarray
    default_left: np.ndarray
    categorical: np.ndarray
    cat_offsets: np.ndarray
    cat_codes: np.ndarray
    cover: np.ndarray
    value: np.ndarray
    roots: np.ndarray
    base_offset: np.ndarray
    link: str = "identity"
    n_features: int = 0
    feature_names: tuple[str, ...] | None = None
    output_names: tuple[str, ...] | None = None
    categories: dict[int, list] = field(default_factory=dict)
    unseen_as_missing: bool = False
    source: str = ""
    classes: tuple[str, ...] | None = None
    library_output: Callable[[Any], Any] | None = field(default=None, repr=False)
    library_name: str = ""
    library_eps: float = 2.0 ** -53
    rename: Callable[[str], str] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        n = len(self.left)
        self.left = np.ascontiguousarray(self.left, dtype=np.int32)
        self.right = np.ascontiguousarray(self.right, dtype=np.int32)
        self.feature = np.ascontiguousarray(self.feature, dtype=np.int32)
        self.threshold = np.ascontiguousarray(self.threshold, dtype=np.float64)
        self.strict = np.ascontiguousarray(self.strict, dtype=np.bool_)
        self.default_left = np.ascontiguousarray(self.default_left, dtype=np.bool_)
        self.categorical = np.ascontiguousarray(self.categorical, dtype=np.bool_)
        self.cat_offsets = np.ascontiguousarray(self.cat_offsets, dtype=np.int64)
        self.cat_codes = np.ascontiguousarray(self.cat_codes, dtype=np.int32)
        self.cover = np.ascontiguousarray(self.cover, dtype=np.float64)
        value = np.asarray(self.value, dtype=np.float64)
        self.value = np.ascontiguousarray(value[:, None] if value.ndim == 1 else value)
        self.roots = np.ascontiguousarray(self.roots, dtype=np.int32)
        self.base_offset = np.atleast_1d(np.asarray(self.base_offset, dtype=np.float64)).copy()
        if self.link not in LINKS:
            raise ModelError(f"unknown link {self.link!r}; expected one of {LINKS}")
        for name in ("right", "feature", "threshold", "strict", "default_left", "categorical", "cover"):
            if len(getattr(self, name)) != n:
                raise ModelError(f"TreeEnsemble.{name} has {len(getattr(self, name))} entries for {n} nodes")
        if self.value.shape[0] != n or self.cat_offsets.shape[0] != n + 1:
            raise ModelError("TreeEnsemble.value / cat_offsets do not match the number of nodes")
        if self.base_offset.shape[0] != self.value.shape[1]:
            raise ModelError(f"base_offset has {self.base_offset.shape[0]} outputs, leaves have {self.value.shape[1]}")
        if self.feature_names is not None:
            self.feature_names = tuple(str(f) for f in self.feature_names)
        if self.output_names is not None:
            self.output_names = tuple(str(o) for o in self.output_names)
        if self.classes is not None:
            self.classes = tuple(str(c) for c in self.classes)

    # ------------------------------------------------------------------ description
    @property
    def n_nodes(self) -> int:
        return len(self.left)

    @property
    def n_trees(self) -> int:
        return len(self.roots)

    @property
    def n_outputs(self) -> int:
        return self.value.shape[1]

    @property
    def max_depth(self) -> int:
        return int(_depths(self.left, self.right, self.roots).max(initial=0))

    def __repr__(self) -> str:
        return (f"TreeEnsemble(source={self.source!r}, trees={self.n_trees}, nodes={self.n_nodes}, "
                f"outputs={self.n_outputs}, features={self.n_features}, link={self.link!r})")

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_model(cls, model: Any) -> "TreeEnsemble":
        """Parse a fitted tree model of scikit-learn, XGBoost, LightGBM or CatBoost.

        Raises `ModelError` naming the model or split type when it is not supported.
        """
        from .tree_parsers import parse
        native = getattr(model, "native", None)
        if native is not None and type(model).__name__ == "Model":
            model = native
        return parse(model)

    # ------------------------------------------------------------------ input
    def align(self, X: Any) -> Any:
        """A DataFrame's columns put in the model's order, under the model's names; other input as it is.

        A column is found by its own name, or else by the name the library stored it under (`rename`:
        LightGBM turns "income ($)" into "income_($)"), so a frame with the names the user trained on works.
        """
        if not isinstance(X, pd.DataFrame) or self.feature_names is None:
            return X
        return X.iloc[:, self._positions(X)].set_axis(list(self.feature_names), axis=1)

    def column_names(self, X: Any) -> tuple[str, ...] | None:
        """The user's name of each model column in X (a DataFrame), else the model's names (None if unnamed)."""
        if not isinstance(X, pd.DataFrame) or self.feature_names is None:
            return self.feature_names
        return tuple(str(X.columns[p]) for p in self._positions(X))

    def _positions(self, X: pd.DataFrame) -> list[int]:
        """Position in X of each of the model's columns: by exact name first, then through `rename`."""
        return column_positions(self.feature_names, [str(c) for c in X.columns], self.rename, what="X")

    def encode(self, X: Any) -> np.ndarray:
        """Input rows as float64 (n, M): numeric columns as they are, categorical columns as codes.

        Call it once, on rows as the user holds them; pass the codes on to `margin` and the kernels.
        """
        refuse_library_data(X)
        if isinstance(X, pd.DataFrame):
            X = self.align(X)
            out = np.empty(X.shape, dtype=np.float64)
            for j in range(X.shape[1]):
                col = X.iloc[:, j]
                if j in self.categories:
                    out[:, j] = self._codes(j, col.astype(object).to_numpy())
                else:
                    try:
                        out[:, j] = pd.to_numeric(col).to_numpy(dtype=np.float64)
                    except (TypeError, ValueError) as e:
                        raise InputError(f"column {X.columns[j]!r} should be numeric for this tree model: {e}") from e
        else:
            arr = np.asarray(X)
            if arr.ndim == 1:
                arr = arr[None, :]
            if arr.ndim != 2:
                raise InputError(f"expected a table (rows, features), got shape {arr.shape}")
            if self.categories:
                out = np.empty(arr.shape, dtype=np.float64)
                for j in range(arr.shape[1]):
                    out[:, j] = self._codes(j, arr[:, j]) if j in self.categories else arr[:, j].astype(float)
            else:
                try:
                    out = arr.astype(np.float64)
                except (TypeError, ValueError) as e:
                    raise InputError(f"X has non-numeric values; pass a DataFrame with categorical dtypes: {e}") from e
        if out.shape[1] != self.n_features:
            raise InputError(f"X has {out.shape[1]} columns but the tree model expects {self.n_features}"
                             + (f" ({', '.join(self.feature_names)})" if self.feature_names else ""))
        return np.ascontiguousarray(out)

    def _codes(self, j: int, values: np.ndarray) -> np.ndarray:
        cats = self.categories[j]
        lookup = {c: i for i, c in enumerate(cats)}
        unseen = np.nan if self.unseen_as_missing else -1.0
        out = np.empty(len(values), dtype=np.float64)
        for i, v in enumerate(values):
            if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
                out[i] = np.nan
            elif v in lookup:
                out[i] = lookup[v]
            else:
                out[i] = unseen
        return out

    # ------------------------------------------------------------------ prediction
    def leaves(self, X: Any) -> np.ndarray:
        """(n, T) the leaf each row of X (as the user holds it) reaches in each tree."""
        return self.leaves_of_codes(self.encode(X))

    def leaves_of_codes(self, codes: np.ndarray) -> np.ndarray:
        """(n, T) the leaf each already-encoded row (from `encode`) reaches in each tree."""
        return _leaves(np.ascontiguousarray(codes, dtype=np.float64), self.left, self.right, self.feature,
                       self.threshold, self.strict, self.default_left, self.categorical, self.cat_offsets,
                       self.cat_codes, self.roots)

    def margin(self, codes: np.ndarray) -> np.ndarray:
        """(n, K) raw margin of already-encoded rows: base_offset + sum of the leaf values reached."""
        return self.base_offset + _sum_leaves(self.leaves_of_codes(codes), self.value)

    def predict_raw(self, X: Any) -> np.ndarray:
        """(n, K) raw margin of rows as the user holds them: `margin(encode(X))`."""
        return self.margin(self.encode(X))

    def library_margin(self, X: Any) -> np.ndarray | None:
        """(n, K) the raw margin computed by the model's own library on X, or None without a library model.

        Raises `ModelError` when the library refuses rows that whybox could read.
        """
        if self.library_output is None:
            return None
        try:
            out = np.asarray(self.library_output(self.align(X)), dtype=np.float64)
        except Exception as e:
            raise ModelError(f"the model's own library ({self.library_name or self.source}) failed on these rows, "
                             f"so the explanation cannot be checked against it: {type(e).__name__}: {e}. Pass the "
                             "rows in the form the model was trained on, or check_additivity=False") from e
        n = out.shape[0] if out.ndim else 0
        if out.size != n * self.n_outputs:
            raise ModelError(f"{self.library_name or self.source} returned shape {out.shape}; whybox read "
                             f"{self.n_outputs} output(s) from its trees")
        return out.reshape(n, self.n_outputs)

    def sum_tolerance(self) -> np.ndarray:
        """(K,) the rounding a library can make summing this ensemble's leaves: T * eps * sum of |terms|.

        A bound on accumulating T + 1 terms in the library's precision, each of size at most the tree's
        largest |leaf value| (or |base_offset|).
        """
        largest = np.zeros((self.n_trees, self.n_outputs))
        nodes, trees = self.roots.astype(np.int64), np.arange(self.n_trees)
        while nodes.size:                                  # walk all trees down, level by level
            leaf = self.left[nodes] < 0
            np.maximum.at(largest, trees[leaf], np.abs(self.value[nodes[leaf]]))
            nodes, trees = nodes[~leaf], trees[~leaf]
            nodes, trees = np.concatenate([self.left[nodes], self.right[nodes]]).astype(np.int64), np.tile(trees, 2)
        total = np.abs(self.base_offset) + largest.sum(axis=0)
        return (self.n_trees + 1) * self.library_eps * total

    def predict(self, X: Any) -> np.ndarray:
        """(n, K) the library's prediction: the link applied to the raw margin."""
        raw = self.predict_raw(X)
        if self.link == "logistic":
            return 1.0 / (1.0 + np.exp(-raw))
        if self.link == "softmax":
            e = np.exp(raw - raw.max(axis=1, keepdims=True))
            return e / e.sum(axis=1, keepdims=True)
        if self.link == "exp":
            return np.exp(raw)
        return raw

    def kernel_arrays(self) -> tuple:
        """The arrays the compiled kernels take, in a fixed order."""
        return (self.left, self.right, self.feature, self.threshold, self.strict, self.default_left,
                self.categorical, self.cat_offsets, self.cat_codes)


def stack_trees(trees: Sequence[dict], base_offset: Any, n_outputs: int, **kwargs: Any) -> TreeEnsemble:
    """Build a TreeEnsemble from per-tree node arrays with local ids (what parsers produce).

    Each tree dict has arrays over its own nodes: left, right (local ids, -1 at leaves), feature,
    threshold, cover, value ((nodes,) or (nodes, n_outputs)), and optionally strict, default_left,
    categorical and cat_sets (list of left-going code lists per node, [] for non-categorical), and
    output (an int: the single output a (nodes,)-valued tree adds to, as in multi-class boosting).
    """
    parts: dict[str, list] = {k: [] for k in ("left", "right", "feature", "threshold", "strict", "default_left",
                                                 "categorical", "cover", "value")}
    cat_offsets, cat_codes, roots = [0], [], []
    offset = 0
    for tree in trees:
        size = len(tree["left"])
        left = np.asarray(tree["left"], dtype=np.int64)
        right = np.asarray(tree["right"], dtype=np.int64)
        roots.append(offset + int(tree.get("root", 0)))
        parts["left"].append(np.where(left >= 0, left + offset, -1))
        parts["right"].append(np.where(right >= 0, right + offset, -1))
        feat = np.asarray(tree["feature"], dtype=np.int64)
        parts["feature"].append(np.where(left >= 0, feat, -1))
        parts["threshold"].append(np.asarray(tree["threshold"], dtype=np.float64))
        parts["strict"].append(np.asarray(tree.get("strict", np.zeros(size, bool)), dtype=bool).reshape(size))
        parts["default_left"].append(np.asarray(tree.get("default_left", np.ones(size, bool)), dtype=bool).reshape(size))
        parts["categorical"].append(np.asarray(tree.get("categorical", np.zeros(size, bool)), dtype=bool).reshape(size))
        parts["cover"].append(np.asarray(tree["cover"], dtype=np.float64))
        value = np.asarray(tree["value"], dtype=np.float64)
        if value.ndim == 1:
            full = np.zeros((size, n_outputs))
            full[:, int(tree.get("output", 0))] = value
            value = full
        parts["value"].append(value.reshape(size, n_outputs))
        sets = tree.get("cat_sets")
        if sets is None or not any(len(c) for c in sets if c is not None):
            cat_offsets.extend([len(cat_codes)] * size)
        else:
            for node in range(size):
                codes = sets[node] if sets[node] is not None else []
                cat_codes.extend(int(c) for c in codes)
                cat_offsets.append(len(cat_codes))
        offset += size
    cat = {k: np.concatenate(v) if v else np.zeros(0) for k, v in parts.items()}
    if not parts["value"]:
        cat["value"] = np.zeros((0, n_outputs))
    return TreeEnsemble(left=cat["left"], right=cat["right"], feature=cat["feature"], threshold=cat["threshold"],
                        strict=cat["strict"], default_left=cat["default_left"], categorical=cat["categorical"],
                        cat_offsets=np.asarray(cat_offsets), cat_codes=np.asarray(cat_codes, dtype=np.int32),
                        cover=cat["cover"], value=cat["value"], roots=np.asarray(roots),
                        base_offset=base_offset, **kwargs)
