"""scikit-learn's HistGradientBoosting read into `TreeEnsemble` (see sklearn.py for the other trees).

Raw output: `_raw_predict` = `_baseline_prediction` + leaf values (already shrunk).
Categorical features are encoded with an internal OrdinalEncoder: code i is the i-th of the categories
*seen in training*, sorted (the order of a pandas categorical dtype is not used). Categories it never
saw, including ones that the dtype declares but the training rows lack, are encoded as NaN and follow
the missing-value direction, hence `unseen_as_missing=True`. Its trees index the encoder's output
columns (categorical columns first), which are mapped back to the input's columns here.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..trees import TreeEnsemble, stack_trees
from ._sklearn_common import _common, _fill_internal_values, _link, _margin_names

__all__ = ["parse_hist_gradient_boosting", "hist_link"]


def hist_link(model: Any) -> str:
    loss = str(model.loss)
    if hasattr(model, "classes_"):
        return "logistic" if model.n_trees_per_iteration_ == 1 else "softmax"
    if loss in ("poisson", "gamma"):
        return _link("exp", model, loss)
    return "identity"                           # squared_error, absolute_error, quantile


def _hgb_columns(model: Any) -> tuple[np.ndarray, dict[int, list], dict[int, np.ndarray | None]]:
    """(input column of each tree feature, categories per input column, raw value -> code per input column).

    The raw-to-code map is None where HGB's raw category value already is the code.
    """
    m = int(model.n_features_in_)
    pre = getattr(model, "_preprocessor", None)
    if pre is None:
        columns = np.arange(m)
        categories: dict[int, list] = {}
        raw_maps: dict[int, np.ndarray | None] = {}
        is_cat = getattr(model, "is_categorical_", None)
        if is_cat is not None:
            # older sklearn: categories are the integer values themselves, the known ones in bin_thresholds_
            for j in np.flatnonzero(is_cat):
                known = np.asarray(model._bin_mapper.bin_thresholds_[j], dtype=np.float64)
                categories[int(j)] = [int(v) if float(v).is_integer() else float(v) for v in known]
                raw_maps[int(j)] = known
        return columns, categories, raw_maps
    columns = np.empty(m, dtype=np.int64)
    encoder_columns = None
    for name, _, cols in pre.transformers_:
        if name not in pre.output_indices_:
            continue
        idx = np.arange(m)[cols] if np.asarray(cols).dtype == bool else np.asarray(cols, dtype=np.int64)
        if len(idx) == 0:
            continue
        columns[pre.output_indices_[name]] = idx
        if name == "encoder":
            encoder_columns = idx
    categories, raw_maps = {}, {}
    if encoder_columns is not None:
        encoder = pre.named_transformers_["encoder"]
        for j, cats in zip(encoder_columns, encoder.categories_):
            values = list(cats)
            if values and _is_nan(values[-1]):     # OrdinalEncoder lists NaN last; it is the missing value
                values = values[:-1]
            categories[int(j)] = [v.item() if isinstance(v, np.generic) else v for v in values]
            raw_maps[int(j)] = None
    return columns, categories, raw_maps


def _is_nan(v: Any) -> bool:
    try:
        return bool(v != v)
    except Exception:
        return False


def _bitset_members(bitsets: np.ndarray) -> np.ndarray:
    """(rows, 256) bool: which bits of each row of eight little-endian uint32 words are set."""
    words = np.ascontiguousarray(bitsets, dtype="<u4")
    return np.unpackbits(words.view(np.uint8).reshape(len(words), -1), axis=1, bitorder="little").astype(bool)


def parse_hist_gradient_boosting(model: Any) -> TreeEnsemble:
    """A fitted HistGradientBoostingClassifier/Regressor as a TreeEnsemble in its raw margin."""
    link = hist_link(model)
    k = int(model.n_trees_per_iteration_)
    columns, categories, raw_maps = _hgb_columns(model)
    trees = []
    for iteration in model._predictors:
        for out, predictor in enumerate(iteration):
            nodes = predictor.nodes
            leaf = nodes["is_leaf"].astype(bool)
            split_cat = nodes["is_categorical"].astype(bool) & ~leaf
            # left/right are unsigned and 0 at leaves; the format wants -1 there
            feature = np.where(leaf, -1, columns[np.where(leaf, 0, nodes["feature_idx"])])
            left = np.where(leaf, -1, nodes["left"].astype(np.int64))
            right = np.where(leaf, -1, nodes["right"].astype(np.int64))
            tree = dict(left=left, right=right,
                        feature=feature, threshold=nodes["num_threshold"], strict=np.zeros(len(nodes), bool),
                        default_left=nodes["missing_go_to_left"].astype(bool), categorical=split_cat,
                        cover=nodes["count"], value=np.where(leaf, nodes["value"], 0.0), output=out)
            if split_cat.any():
                members = _bitset_members(predictor.raw_left_cat_bitsets)
                sets: list = [None] * len(nodes)
                for node in np.flatnonzero(split_cat):
                    raw = np.flatnonzero(members[nodes["bitset_idx"][node]])
                    known = raw_maps.get(int(feature[node]))
                    if known is not None:                   # raw category value -> its code
                        pos = np.searchsorted(known, raw)
                        ok = (pos < len(known)) & (known[np.minimum(pos, len(known) - 1)] == raw)
                        raw = pos[ok]
                    sets[node] = raw.tolist()
                tree["cat_sets"] = sets
            trees.append(tree)
    base = np.asarray(model._baseline_prediction, dtype=np.float64).reshape(k)
    ens = stack_trees(trees, base, k, link=link, output_names=_margin_names(model, k), categories=categories,
                      unseen_as_missing=True, **_common(model))
    _fill_internal_values(ens)
    return ens
