"""CatBoost models (CatBoostClassifier, CatBoostRegressor, native `catboost.CatBoost`) -> `TreeEnsemble`.

The model is read from its own JSON export (`save_model(path, format="json")`).

Symmetric (oblivious) trees: a tree of depth D has one split per level and 2^D leaves. Bit d of
a leaf's index is the outcome of splits[d] (1 = the condition holds), so leaf = sum_d bit_d << d.
It is expanded into an explicit binary tree with the LAST split, splits[D-1], at the root, then
splits[D-2], ..., splits[0] just above the leaves: the order CatBoost's own ShapValues walks it
(checked: path-dependent Tree SHAP over this expansion equals CatBoost's ShapValues to 1e-15,
while splits[0] at the root does not), so Tree SHAP sees the same conditional expectations.
Non-symmetric trees (grow_policy Depthwise / Lossguide) are read node by node; their predictions
and covers are exact, but CatBoost's own ShapValues for them are not always the path-dependent
Shapley values of the same tree (seen on some Lossguide / deeper Depthwise trees), so they can differ.

Split semantics, as CatBoost applies a model:
  float split    bit 1 when float32(x) > border. Inputs are cast to float32 first, so the left
                 ("0") side is float32(x) <= border, written in float64 as x <= t (or x < t) with t
                 half-way to the next float32 and the strictness of round-half-to-even: exact for
                 every float64 input.
  missing value  nan_value_treatment "AsTrue" (nan_mode Max, NaN seen in training) -> the "1"
                 side (right); "AsFalse" (nan_mode Min) and "AsIs" (no NaN in training; NaN then
                 compares false) -> the "0" side (left).
  one-hot split  bit 1 when the category equals the split's value: a categorical node whose set
                 holds that one code goes left; every other category, and any category the model
                 never saw, goes right (CatBoost sends an unknown category to the "0" side too).
  CTR split      a learned target statistic of one or more categorical columns: no split on an
                 input column can express it, so such a model is refused (ModelError).

Categories: CatBoost keeps only 32-bit hashes of category values (CityHash64 of the value as a
string: ints as their decimal digits, bytes as UTF-8), never the values themselves. The ensemble
this parser returns therefore encodes a categorical column by hashing its values the way CatBoost
does, so `predict_raw(DataFrame with string categories)` works for any value. `categories[j]`
names the codes: by the real values when `parse(model, data=...)` is given training-like data,
else by placeholders "catboost-hash:<hash>". A missing value in a categorical column is refused
(InputError), as CatBoost refuses it. Integer categories in a numeric array are hashed as CatBoost
hashes them (their decimal digits).

Values: leaf values are multiplied by the model's scale and its bias goes to `base_offset`
(raw = scale * sum of leaves + bias, CatBoost's RawFormulaVal). Multi-dimensional leaves are
stored leaf-major (value k of leaf l at l * K + k). Cover is CatBoost's leaf_weights (the training
weight in each leaf, what CatBoost's ShapValues uses); an inner node's cover is the sum of its leaves'.

Link: Logloss / CrossEntropy -> logistic (one output, log-odds of the second class); MultiClass ->
softmax; any other loss -> identity (for Poisson, Tweedie, MultiClassOneVsAll, ... the raw margin
is exact but `predict` is that margin, not CatBoost's prediction).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ...errors import InputError, ModelError
from ..trees import TreeEnsemble, stack_trees

__all__ = ["parse", "supports", "why_not", "cat_feature_hash", "CatBoostTreeEnsemble"]

_LOGISTIC = {"Logloss", "CrossEntropy"}
_SOFTMAX = {"MultiClass"}
_NAN_TO_ONE = {"AsTrue"}           # the other treatments ("AsFalse", "AsIs") send NaN to the "0" side


from ._cityhash import _U32, _cat_string, _city_hash64, cat_feature_hash


def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, (float, np.floating)) and math.isnan(value)


# ---------------------------------------------------------------------------------------------- ensemble

@dataclass(eq=False, repr=False)
class CatBoostTreeEnsemble(TreeEnsemble):
    """A `TreeEnsemble` whose categorical columns are encoded through CatBoost's category hashes.

    cat_hashes  column index -> the unsigned 32-bit CatBoost hash of each code, in code order
                (`categories[j][i]` is the value, or a placeholder, of the category hashed cat_hashes[j][i])
    """

    cat_hashes: dict[int, tuple[int, ...]] = field(default_factory=dict)

    def _codes(self, j: int, values: np.ndarray) -> np.ndarray:
        hashes = self.cat_hashes.get(j)
        if hashes is None:
            return super()._codes(j, values)
        by_hash = {h: i for i, h in enumerate(hashes)}
        by_label = {c: i for i, c in enumerate(self.categories.get(j, ())) if isinstance(c, str)}
        out = np.empty(len(values), dtype=np.float64)
        memo: dict[tuple[type, Any], float] = {}
        for i, v in enumerate(values):
            if _is_missing(v):
                name = self.feature_names[j] if self.feature_names else j
                raise InputError(f"categorical column {name!r} has a missing value; CatBoost does not take "
                                 "missing categories: fill them with the category used in training (e.g. 'NA')")
            key = (type(v), v)
            code = memo.get(key)
            if code is None:
                data = _cat_string(v)
                if data is None:
                    name = self.feature_names[j] if self.feature_names else j
                    raise InputError(f"categorical column {name!r} holds {v!r}; CatBoost takes categories as "
                                     "strings or integers: convert the column to strings")
                h = _city_hash64(data) & _U32
                if h in by_hash:
                    code = float(by_hash[h])
                elif isinstance(v, str) and v in by_label:      # a placeholder label handed back
                    code = float(by_label[v])
                else:
                    code = -1.0                                  # never seen: the "not equal" side of every split
                memo[key] = code
            out[i] = code
        return out


# ---------------------------------------------------------------------------------------------- reading

def _check_model(model: Any) -> None:
    from . import library_of
    if not (library_of(model) == "catboost" and hasattr(model, "save_model")):
        raise ModelError(f"{type(model).__name__} is not a CatBoost model (CatBoostClassifier, CatBoostRegressor "
                         "or catboost.CatBoost)")
    is_fitted = getattr(model, "is_fitted", None)
    if callable(is_fitted) and not is_fitted():
        raise ModelError(f"{type(model).__name__} is not fitted; fit it before parsing its trees")


def _model_json(model: Any) -> dict:
    _check_model(model)
    with tempfile.TemporaryDirectory(prefix="whybox-catboost-") as tmp:
        path = os.path.join(tmp, "model.json")
        try:
            model.save_model(path, format="json")
        except Exception as e:  # CatBoostError and friends
            raise ModelError(f"could not export {type(model).__name__} to JSON to read its trees: {e}") from e
        with open(path, encoding="utf-8") as f:
            return json.load(f)


class _Features:
    """The model's columns, from the JSON's features_info."""

    def __init__(self, info: dict, model: Any) -> None:
        self.floats = {int(f["feature_index"]): f for f in info.get("float_features", [])}
        self.cats = {int(f["feature_index"]): f for f in info.get("categorical_features", [])}
        self.ctrs = list(info.get("ctrs", []))
        self.other = [kind for kind in ("text_features", "embedding_features") if info.get(kind)]
        flat = [int(f["flat_feature_index"]) for group in ("float_features", "categorical_features", "text_features",
                                                            "embedding_features") for f in info.get(group, [])]
        model_names = list(getattr(model, "feature_names_", None) or [])
        self.n_features = max(max(flat, default=-1) + 1, len(model_names))
        names = [""] * self.n_features
        for group in ("float_features", "categorical_features", "text_features", "embedding_features"):
            for f in info.get(group, []):
                names[int(f["flat_feature_index"])] = str(f.get("feature_id") or f.get("feature_name") or "")
        if len(model_names) == self.n_features:
            names = [n or str(m) for n, m in zip(names, model_names)]
        # CatBoost names unnamed columns "0", "1", ...: no names then (rows are read by position)
        self.names = None if (not all(names) or names == [str(i) for i in range(self.n_features)]) else names
        # one-hot codes per categorical feature: every hash the model knows (JSON order), then any split value
        self.hashes: dict[int, list[int]] = {k: [int(v) & _U32 for v in f.get("values", [])]
                                            for k, f in self.cats.items()}
        # split_index of the first CTR binary feature: float borders come first, then one-hot values
        self.ctr_offset = (sum(len(f.get("borders", [])) for f in self.floats.values())
                           + sum(len(f.get("values", [])) for f in self.cats.values()))

    def name(self, flat: int) -> str:
        return self.names[flat] if self.names else f"column {flat}"

    def cat_flat(self, cat_index: int) -> int:
        if cat_index not in self.cats:
            raise ModelError(f"CatBoost JSON: split on unknown categorical feature {cat_index}")
        return int(self.cats[cat_index]["flat_feature_index"])

    def ctr_features(self, split: dict) -> list[str]:
        """Names of the categorical columns behind a CTR split."""
        ctr = None
        idx = split.get("split_index")
        if idx is not None:
            pos = int(idx) - self.ctr_offset
            for c in self.ctrs:
                n = len(c.get("borders", []))
                if 0 <= pos < n:
                    ctr = c
                    break
                pos -= n
        candidates = [ctr] if ctr is not None else self.ctrs
        names: list[str] = []
        for c in candidates:
            for el in c.get("elements", []):
                if "cat_feature_index" in el and int(el["cat_feature_index"]) in self.cats:
                    name = self.name(self.cat_flat(int(el["cat_feature_index"])))
                    if name not in names:
                        names.append(name)
        return names


def _float_left_threshold(border: float) -> tuple[float, bool]:
    """(t, strict) with float32(x) <= border  <=>  x <= t (x < t when strict), for every float64 x."""
    b = np.float32(border)
    if np.isinf(b):
        # only overflow reaches -inf: x <= -(max + half an ulp), the tie rounding to the even -inf
        return (math.inf, False) if b > 0 else (-float(np.finfo(np.float32).max) - _half_ulp_top(), False)
    with np.errstate(over="ignore"):
        up = np.nextafter(b, np.float32(np.inf))
    if np.isinf(up):                                   # the largest float32: above it lies overflow to inf
        return float(b) + _half_ulp_top(), True        # its mantissa is odd: the tie rounds up (to inf)
    mid = (float(b) + float(up)) / 2.0                 # exact in float64
    odd = bool(np.array(b, dtype=np.float32).view(np.uint32) & 1)
    return mid, odd                                    # a tie rounds to the even neighbour


def _half_ulp_top() -> float:
    top = np.finfo(np.float32).max
    return (float(top) - float(np.nextafter(top, np.float32(0)))) / 2.0


@dataclass
class _Split:
    feature: int
    threshold: float
    strict: bool
    default_left: bool
    categorical: bool
    codes: list[int]
    one_left: bool          # whether the "condition holds" (bit 1) side is the left child


class _Converter:
    def __init__(self, features: _Features) -> None:
        self.f = features

    def split(self, s: dict) -> _Split:
        kind = s.get("split_type")
        if kind == "FloatFeature":
            info = self.f.floats.get(int(s["float_feature_index"]))
            if info is None:
                raise ModelError(f"CatBoost JSON: split on unknown float feature {s['float_feature_index']}")
            t, strict = _float_left_threshold(float(s["border"]))
            nan_one = info.get("nan_value_treatment", "AsIs") in _NAN_TO_ONE
            return _Split(int(info["flat_feature_index"]), t, strict, not nan_one, False, [], False)
        if kind == "OneHotFeature":
            cat = int(s["cat_feature_index"])
            flat = self.f.cat_flat(cat)
            h = int(s["value"]) & _U32
            hashes = self.f.hashes.setdefault(cat, [])
            if h not in hashes:
                hashes.append(h)
            # equal -> left (in the set); missing values never reach here (refused at encoding)
            return _Split(flat, 0.0, False, False, True, [hashes.index(h)], True)
        if kind == "OnlineCtr":
            names = self.f.ctr_features(s)
            what = ", ".join(repr(n) for n in names) if names else "(unknown)"
            raise ModelError(
                f"CatBoost CTR split on categorical feature {what}: CatBoost turned the category into a learned "
                "target statistic (CTR), which is no split on the input column, so Tree SHAP cannot follow it. "
                "Retrain with one_hot_max_size >= the number of categories of that feature (one-hot splits are "
                "supported), or use a model-agnostic explainer (e.g. whybox.shapley.KernelShap) on this model.")
        raise ModelError(f"CatBoost split type {kind!r} (text, embedding or estimated features) is not a split on "
                         "an input column; use a model-agnostic explainer for this model")

    def oblivious(self, tree: dict, scale: float, k: int) -> dict:
        splits = [self.split(s) for s in tree.get("splits", [])]
        depth = len(splits)
        n_leaves = 1 << depth
        leaf_values = np.asarray(tree["leaf_values"], dtype=np.float64)
        if leaf_values.size != n_leaves * k:
            raise ModelError(f"CatBoost JSON: a depth-{depth} tree has {leaf_values.size} leaf values, "
                             f"expected {n_leaves} x {k}")
        weights = np.asarray(tree.get("leaf_weights", np.zeros(n_leaves)), dtype=np.float64).reshape(n_leaves)
        size = 2 * n_leaves - 1
        # level l (0 = root) tests splits[D-1-l]; its nodes are numbered by the outcomes so far, q = the
        # leaf index's top l bits, with id 2^l - 1 + q: children of q are 2q (bit 0) and 2q + 1 (bit 1)
        left = np.full(size, -1, dtype=np.int64)
        right = np.full(size, -1, dtype=np.int64)
        feature = np.full(size, -1, dtype=np.int64)
        threshold = np.zeros(size)
        strict = np.zeros(size, dtype=bool)
        default_left = np.ones(size, dtype=bool)
        categorical = np.zeros(size, dtype=bool)
        cover = np.zeros(size)
        cat_sets: list[list[int]] = [[] for _ in range(size)]
        for level in range(depth):
            sp = splits[depth - 1 - level]
            width = 1 << level
            q = np.arange(width)
            ids = width - 1 + q
            zero = 2 * width - 1 + 2 * q                    # the split's bit = 0
            one = zero + 1                                  # the split's bit = 1
            left[ids], right[ids] = (one, zero) if sp.one_left else (zero, one)
            feature[ids] = sp.feature
            threshold[ids] = sp.threshold
            strict[ids] = sp.strict
            default_left[ids] = sp.default_left
            categorical[ids] = sp.categorical
            if sp.categorical:
                for i in ids:
                    cat_sets[i] = list(sp.codes)
            cover[ids] = weights.reshape(width, n_leaves // width).sum(axis=1)
        cover[n_leaves - 1:] = weights
        value = np.zeros((size, k))
        value[n_leaves - 1:] = leaf_values.reshape(n_leaves, k) * scale
        return dict(left=left, right=right, feature=feature, threshold=threshold, strict=strict,
                    default_left=default_left, categorical=categorical, cat_sets=cat_sets, cover=cover, value=value)

    def general(self, tree: dict, scale: float, k: int) -> dict:
        """A non-symmetric tree: nested {"split", "left", "right"} nodes, leaves {"value", "weight"}."""
        cols: dict[str, list] = {c: [] for c in ("left", "right", "feature", "threshold", "strict", "default_left",
                                                 "categorical", "cat_sets", "cover", "value")}

        def add() -> int:
            for c, default in (("left", -1), ("right", -1), ("feature", -1), ("threshold", 0.0), ("strict", False),
                               ("default_left", True), ("categorical", False), ("cover", 0.0)):
                cols[c].append(default)
            cols["cat_sets"].append([])
            cols["value"].append(np.zeros(k))
            return len(cols["left"]) - 1

        def visit(node: dict) -> tuple[int, float]:
            nid = add()
            if "split" not in node:
                v = np.atleast_1d(np.asarray(node["value"], dtype=np.float64))
                if v.size != k:
                    raise ModelError(f"CatBoost JSON: a leaf has {v.size} values, expected {k}")
                cols["value"][nid] = v * scale
                w = float(node.get("weight", 0.0))
                cols["cover"][nid] = w
                return nid, w
            sp = self.split(node["split"])
            zero, w0 = visit(node["left"])                  # "left" in CatBoost's JSON: the condition fails
            one, w1 = visit(node["right"])
            cols["left"][nid], cols["right"][nid] = (one, zero) if sp.one_left else (zero, one)
            cols["feature"][nid] = sp.feature
            cols["threshold"][nid] = sp.threshold
            cols["strict"][nid] = sp.strict
            cols["default_left"][nid] = sp.default_left
            cols["categorical"][nid] = sp.categorical
            cols["cat_sets"][nid] = list(sp.codes)
            cols["cover"][nid] = w0 + w1
            return nid, w0 + w1

        visit(tree)
        out: dict[str, Any] = {c: (np.asarray(v) if c != "cat_sets" else v) for c, v in cols.items()}
        out["value"] = np.asarray(cols["value"], dtype=np.float64).reshape(-1, k)
        return out


def _loss(doc: dict, model: Any) -> str:
    loss = ((doc.get("model_info") or {}).get("params") or {}).get("loss_function")
    if isinstance(loss, dict):
        loss = loss.get("type")
    if not loss:
        try:
            loss = model.get_all_params().get("loss_function", "")
        except Exception:
            loss = ""
    return str(loss).split(":")[0]


def _unsupported(features: _Features) -> str | None:
    if features.other:
        return (f"the CatBoost model uses {' and '.join(k.replace('_', ' ') for k in features.other)}, which "
                "are not split on as input columns; use a model-agnostic explainer for this model")
    return None


def _trees(doc: dict) -> tuple[list[dict], bool]:
    if "oblivious_trees" in doc:
        return list(doc["oblivious_trees"]), True
    if "trees" in doc:
        return list(doc["trees"]), False
    raise ModelError("CatBoost JSON export has no trees ('oblivious_trees' or 'trees')")


def _output_dim(trees: list[dict], oblivious: bool, bias: list[float]) -> int:
    if len(bias) > 1:
        return len(bias)
    for t in trees:
        if oblivious:
            return max(1, len(t["leaf_values"]) // (1 << len(t.get("splits", []))))
        node = t
        while "split" in node:
            node = node["left"]
        return np.atleast_1d(np.asarray(node["value"])).size
    return 1


def _labels(features: _Features, data: Any) -> dict[int, list]:
    """Category values per categorical column, matched to the model's hashes through `data` where given."""
    known: dict[int, dict[int, Any]] = {}
    if data is not None:
        frame = data if isinstance(data, pd.DataFrame) else pd.DataFrame(np.asarray(data, dtype=object))
        for cat, info in features.cats.items():
            flat = int(info["flat_feature_index"])
            name = features.names[flat] if features.names else None
            if name is not None and name in frame.columns.astype(str):
                col = frame.iloc[:, list(frame.columns.astype(str)).index(name)]
            elif frame.shape[1] == features.n_features:
                col = frame.iloc[:, flat]
            else:
                continue
            found: dict[int, Any] = {}
            for v in pd.unique(col.astype(object).to_numpy()):
                data_bytes = None if _is_missing(v) else _cat_string(v)
                if data_bytes is not None:
                    found.setdefault(_city_hash64(data_bytes) & _U32, v)
            known[cat] = found
    out = {}
    for cat, hashes in features.hashes.items():
        flat = int(features.cats[cat]["flat_feature_index"])
        seen = known.get(cat, {})
        out[flat] = [seen.get(h, f"catboost-hash:{h}") for h in hashes]
    for cat, info in features.cats.items():
        out.setdefault(int(info["flat_feature_index"]), [])
    return out


# ---------------------------------------------------------------------------------------------- entry points

def parse(model: Any, *, data: Any = None) -> TreeEnsemble:
    """Parse a fitted CatBoost model into a `TreeEnsemble` (a `CatBoostTreeEnsemble`).

    data: optional rows with the model's columns (e.g. the training data); used only to name the
    categories of one-hot categorical columns, which CatBoost stores as hashes.

    Raises `ModelError` for CTR splits on categorical features and for text or embedding features.
    """
    doc = _model_json(model)
    features = _Features(doc.get("features_info") or {}, model)
    reason = _unsupported(features)
    if reason:
        raise ModelError(reason)
    trees, oblivious = _trees(doc)
    scale_and_bias = doc.get("scale_and_bias") or [1.0, [0.0]]
    scale = float(scale_and_bias[0])
    bias = [float(b) for b in np.atleast_1d(scale_and_bias[1] if len(scale_and_bias) > 1 else [0.0])]
    k = _output_dim(trees, oblivious, bias)
    base = np.zeros(k) + (np.asarray(bias) if len(bias) in (1, k) else 0.0)
    conv = _Converter(features)
    local = [conv.oblivious(t, scale, k) if oblivious else conv.general(t, scale, k) for t in trees]

    loss = _loss(doc, model)
    link = "logistic" if (loss in _LOGISTIC and k == 1) else "softmax" if (loss in _SOFTMAX and k > 1) else "identity"
    output_names = None
    if k > 1:
        classes = getattr(model, "classes_", None)
        if classes is not None and len(classes) == k and loss.startswith("MultiClass"):
            output_names = tuple(str(c) for c in classes)
    cat_hashes = {int(features.cats[c]["flat_feature_index"]): tuple(h) for c, h in features.hashes.items()}
    for c, info in features.cats.items():
        cat_hashes.setdefault(int(info["flat_feature_index"]), ())
    ensemble = stack_trees(local, base, k, link=link, n_features=features.n_features,
                           feature_names=features.names, output_names=output_names,
                           categories=_labels(features, data), unseen_as_missing=False,
                           source=f"catboost:{type(model).__name__}({loss or 'unknown loss'})")
    classes = getattr(model, "classes_", None)
    ensemble.classes = tuple(str(c) for c in classes) if classes is not None and k <= len(classes) else None
    ensemble.library_output = lambda X: model.predict(X, prediction_type="RawFormulaVal")
    ensemble.library_name = f"{type(model).__name__}.predict(prediction_type='RawFormulaVal')"
    return CatBoostTreeEnsemble(**{f: getattr(ensemble, f) for f in ensemble.__dataclass_fields__},
                                cat_hashes=cat_hashes)


def why_not(model: Any) -> str | None:
    """None for a fitted CatBoost model whose splits are all on input columns (no CTRs, text or embeddings),
    else the reason. Only this parser's refusals (`ModelError`) become reasons; other exceptions propagate."""
    try:
        doc = _model_json(model)
        features = _Features(doc.get("features_info") or {}, model)
        reason = _unsupported(features)
        if reason:
            return reason
        trees, oblivious = _trees(doc)
        conv = _Converter(features)

        def splits(node: dict):
            if oblivious:
                yield from node.get("splits", [])
            elif "split" in node:
                yield node["split"]
                yield from splits(node["left"])
                yield from splits(node["right"])

        for t in trees:
            for s in splits(t):
                conv.split(s)
    except ModelError as e:
        return str(e)
    return None


def supports(model: Any) -> bool:
    """True when `parse(model)` can read this model: `why_not(model) is None`."""
    return why_not(model) is None
