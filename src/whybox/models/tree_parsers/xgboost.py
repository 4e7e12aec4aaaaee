"""XGBoost trees -> `TreeEnsemble`.

Reads the booster's full JSON model (`Booster.save_raw("json")`), so the scikit-learn
estimators (`XGBClassifier`, `XGBRegressor`, ...) and native `xgboost.Booster`s, including
ones loaded from a saved JSON or UBJ file, all go through the same code.

Conventions (checked against XGBoost 3.2 in tests/models/test_tree_parsers_xgb_lgbm.py):

- Numeric splits: XGBoost stores the data as float32 and goes left when
  `float32(x) < split_condition`. A float64 row that rounds up onto the threshold would go
  right in XGBoost but left under a plain `x < t`, and this happens on training rows because
  hist split conditions are float32 data values. Each threshold is therefore stored as the
  float64 rounding boundary just below the float32 threshold, with `strict` set according to
  float32's round-half-to-even, so that `predict_raw` on float64 input follows XGBoost's path
  exactly. The stored threshold differs from XGBoost's by at most half a float32 ulp.
- Categorical splits: XGBoost lists the categories that go RIGHT; every other code (including
  negative or out-of-range codes) goes left. The parser swaps the two children, keeps the
  listed codes as the left-going set, and flips `default_left`. Codes that the model never saw
  become -1 (`unseen_as_missing=False`): in no set, so they go to the new right child, which is
  XGBoost's left child. XGBoost sends invalid codes (negative, out of range) the same way.
  XGBoost 3.2's own DataFrame re-coding has no such rule: it looks an unseen value up in the
  sorted training categories without an equality check, so the value takes the code of the next
  category in sort order, or raises when it sorts after all of them. whybox does not copy that.
- Category values: XGBoost >= 3.1 stores the training categories in the model. They fill
  `TreeEnsemble.categories`, so DataFrames are re-encoded the way XGBoost re-codes them.
  For older models, or a model trained on codes, pass `categories={column: [values in code
  order]}` (column index or name).
- Leaf values are `split_conditions` at the leaves (the learning rate is already in them),
  multiplied by the tree weight for DART. Multi-output trees (`multi_strategy="multi_output_tree"`)
  give vector leaves.
- `base_score` is stored after the inverse link. It is turned back into a margin with the
  objective's link: logit for binary:logistic / reg:logistic, log for count:poisson, reg:gamma,
  reg:tweedie and survival:*. Every other objective, including multi:softprob/softmax (a
  vector, one per class) and binary:logitraw, stores it as a margin already. XGBoost computes
  this in float32; so does the parser.
- Links: logistic (binary:logistic, reg:logistic; per output for multi-label), softmax
  (multi:*), identity otherwise. For log-link objectives (count:poisson, reg:gamma,
  reg:tweedie) `TreeEnsemble.predict` is the margin, not XGBoost's `exp(margin)`.
- Trees used: all of them, as `Booster.predict` does, except for a scikit-learn estimator
  fitted with early stopping, whose `predict` uses the iterations up to `best_iteration`.
  The parser does the same. `iteration_range=(begin, end)` overrides this, with XGBoost's
  meaning (`(0, 0)` is all).
- cover is `sum_hessian`: the row count for squared error, p(1-p) sums for logistic.
"""

from __future__ import annotations

import json
from typing import Any, Mapping, Sequence

import numpy as np

from ...errors import ModelError
from . import given_categories
from ..trees import TreeEnsemble, stack_trees

__all__ = ["parse", "supports", "why_not"]

_LOGIT = {"binary:logistic", "reg:logistic"}
_LOG = {"count:poisson", "reg:gamma", "reg:tweedie", "survival:cox", "survival:aft"}
_MULTI = {"multi:softprob", "multi:softmax"}


def _booster(model: Any) -> tuple[Any, Any]:
    """(native booster, scikit-learn estimator or None)."""
    if hasattr(model, "get_booster"):
        try:
            return model.get_booster(), model
        except (ValueError, AttributeError) as e:  # NotFittedError is both; other failures propagate
            raise ModelError(f"{type(model).__name__} is not fitted ({e}); fit it before explaining it") from e
    if hasattr(model, "save_raw") and hasattr(model, "get_dump"):
        return model, None
    raise ModelError(f"{type(model).__name__} is not an XGBoost model whybox can read; pass an XGBClassifier, "
                     "XGBRegressor, XGBRFClassifier/Regressor or an xgboost.Booster")


def _model_json(booster: Any) -> dict:
    raw = booster.save_raw(raw_format="json")
    return json.loads(bytes(raw))


def why_not(model: Any) -> str | None:
    """None when `parse(model)` can read this model (a fitted tree booster, not gblinear), else the reason.

    Only refusals (not XGBoost, not fitted, not trees) become reasons; a failing XGBoost call propagates.
    """
    try:
        booster, _ = _booster(model)
    except ModelError as e:
        return str(e)
    name = json.loads(booster.save_config())["learner"]["gradient_booster"]["name"]
    if name not in ("gbtree", "dart"):
        return (f"XGBoost booster {name!r} is not a tree model; whybox reads booster='gbtree' and 'dart' "
                "(explain a gblinear model with whybox.shapley.LinearShap or KernelShap)")
    return None


def supports(model: Any) -> bool:
    """True when `parse(model)` can read this model: `why_not(model) is None`."""
    return why_not(model) is None


def parse(model: Any, *, categories: Mapping[Any, Sequence] | None = None,
          iteration_range: tuple[int, int] | None = None) -> TreeEnsemble:
    """Read a fitted XGBoost model (scikit-learn API or `xgboost.Booster`) into a `TreeEnsemble`.

    categories       {column index or name: category values in code order} for categorical
                     columns the model does not store categories for (older models, models
                     trained on codes); overrides the stored ones
    iteration_range  (begin, end) boosting rounds to use, as in `Booster.predict`; default: all
                     rounds, or up to `best_iteration` for an early-stopped scikit-learn estimator
    """
    booster, estimator = _booster(model)
    missing = getattr(estimator, "missing", np.nan) if estimator is not None else np.nan
    if missing is not None and not (isinstance(missing, float) and np.isnan(missing)):
        raise ModelError(f"{type(estimator).__name__} treats {missing!r} as missing (missing={missing!r}); "
                         "whybox's tree format only treats NaN as missing: refit with missing=np.nan, or replace "
                         f"{missing!r} by NaN in the data and explain the booster (model.get_booster())")
    learner = _model_json(booster)["learner"]
    objective = learner.get("objective", {}).get("name", "")
    gb = learner["gradient_booster"]
    kind = gb.get("name", "")
    weights = None
    if kind == "dart":
        weights = np.asarray(gb.get("weight_drop", []), dtype=np.float64)
        gb = gb["gbtree"]
    elif kind != "gbtree":
        raise ModelError(f"XGBoost booster {kind!r} is not a tree model; whybox reads booster='gbtree' and "
                         "'dart' (explain a gblinear model with whybox.shapley.LinearShap or KernelShap)")
    params = learner.get("learner_model_param", {})
    num_class = int(float(params.get("num_class", 0) or 0))
    num_target = max(1, int(float(params.get("num_target", 1) or 1)))
    n_features = int(float(params.get("num_feature", 0) or 0))
    n_outputs = num_class if (objective in _MULTI or num_class > 1) else num_target

    trees_json = gb["model"]["trees"]
    tree_info = list(gb["model"].get("tree_info", [0] * len(trees_json)))
    selected = _select_trees(gb["model"], len(trees_json), booster, estimator, iteration_range)

    trees = []
    for t in selected:
        tree = _tree(trees_json[t], n_outputs)
        if "output" not in tree and tree["value"].ndim == 1:
            tree["output"] = int(tree_info[t]) if n_outputs > 1 else 0
        if weights is not None and len(weights) > t and weights[t] != 1.0:
            tree["value"] = tree["value"] * weights[t]
        trees.append(tree)

    base = _base_offset(params.get("base_score", "0.5"), objective, n_outputs)
    link = "softmax" if objective in _MULTI else ("logistic" if objective in _LOGIT else "identity")
    if objective in _MULTI and n_outputs == 1:
        link = "identity"
    feature_names = learner.get("feature_names") or None
    if feature_names is not None and len(feature_names) != n_features:
        feature_names = None
    cats = _stored_categories(gb["model"].get("cats"), n_features)
    cats.update(given_categories(categories, feature_names, n_features))
    classes = getattr(estimator, "classes_", None) if estimator is not None else None
    library, library_name = _library_output(booster, estimator, _iteration_range(selected, gb["model"], len(trees_json)))
    return stack_trees(trees, base, n_outputs, link=link, n_features=n_features,
                       feature_names=tuple(feature_names) if feature_names else None,
                       output_names=_output_names(estimator, objective, n_outputs),
                       categories=cats, unseen_as_missing=False,
                       source=f"xgboost:{objective}" + (":dart" if kind == "dart" else ""),
                       classes=None if classes is None else tuple(str(c) for c in classes),
                       library_output=library, library_name=library_name, library_eps=2.0 ** -24)


def _iteration_range(selected: range, model_json: dict, n_trees: int) -> tuple[int, int]:
    """The boosting rounds (begin, end) that hold exactly the selected trees, for XGBoost's own predict."""
    indptr = model_json.get("iteration_indptr")
    if not indptr:
        per_iter = max(1, int(model_json.get("gbtree_model_param", {}).get("num_parallel_tree", 1)))
        per_iter *= max(1, max(model_json.get("tree_info") or [0]) + 1)
        indptr = list(range(0, n_trees + 1, per_iter))
    return indptr.index(selected.start), indptr.index(selected.stop)


def _library_output(booster: Any, estimator: Any, rounds: tuple[int, int]) -> tuple[Any, str]:
    """(f(X) -> XGBoost's own margin over the same rounds, its name). XGBoost sums leaves in float32."""
    if estimator is not None:
        def margin(X: Any) -> Any:
            return estimator.predict(X, output_margin=True, iteration_range=rounds)
        return margin, f"{type(estimator).__name__}.predict(output_margin=True)"

    def booster_margin(X: Any) -> Any:
        import xgboost
        named = hasattr(X, "columns")
        data = xgboost.DMatrix(X, enable_categorical=True) if named else xgboost.DMatrix(X)
        return booster.predict(data, output_margin=True, iteration_range=rounds, validate_features=named)
    return booster_margin, "Booster.predict(output_margin=True)"


# ---------------------------------------------------------------------------- pieces

def _select_trees(model_json: dict, n_trees: int, booster: Any, estimator: Any,
                  iteration_range: tuple[int, int] | None) -> range:
    indptr = model_json.get("iteration_indptr")
    if not indptr:  # older models: num_parallel_tree trees per output per round
        per_iter = max(1, int(model_json.get("gbtree_model_param", {}).get("num_parallel_tree", 1)))
        per_iter *= max(1, max(model_json.get("tree_info") or [0]) + 1)
        indptr = list(range(0, n_trees + 1, per_iter))
    n_iter = len(indptr) - 1
    if iteration_range is None and estimator is not None:
        best = booster.attr("best_iteration")
        if best is not None:
            iteration_range = (0, int(best) + 1)
    begin, end = iteration_range if iteration_range is not None else (0, 0)
    end = n_iter if end in (0, None) else int(end)
    if not (0 <= begin <= end <= n_iter):
        raise ModelError(f"iteration_range {(begin, end)} is outside the model's {n_iter} boosting rounds")
    return range(indptr[begin], indptr[end])


def _f32_left_boundary(t32: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Float64 (threshold, strict) with `float32(x) < t32  <=>  x < threshold` (strict) / `<=` (not strict)."""
    t = np.asarray(t32, dtype=np.float32)
    below = np.nextafter(t, np.float32(-np.inf))
    mid = (below.astype(np.float64) + t.astype(np.float64)) / 2.0
    # a float64 exactly halfway rounds to the neighbour with an even last mantissa bit
    strict = (below.view(np.uint32) & 1) == 1
    edge = ~np.isfinite(mid)
    if edge.any():
        mid[edge] = t[edge]
        strict[edge] = True
    return mid, strict


def _tree(tj: dict, n_outputs: int) -> dict:
    left = np.asarray(tj["left_children"], dtype=np.int64)
    right = np.asarray(tj["right_children"], dtype=np.int64)
    n = len(left)
    leaf = left < 0
    right = np.where(leaf, -1, right)
    cond = np.asarray(tj["split_conditions"], dtype=np.float32)
    default_left = np.asarray(tj["default_left"], dtype=bool)
    feature = np.asarray(tj["split_indices"], dtype=np.int64)
    cover = np.asarray(tj["sum_hessian"], dtype=np.float32).astype(np.float64)
    split_type = np.asarray(tj.get("split_type", np.zeros(n)), dtype=np.int64)

    threshold, strict = _f32_left_boundary(cond)
    threshold[leaf] = 0.0

    size_leaf = int(tj.get("tree_param", {}).get("size_leaf_vector", "1") or 1)
    out: dict[str, Any] = {}
    if size_leaf > 1:
        if size_leaf != n_outputs:
            raise ModelError(f"XGBoost tree with {size_leaf}-vector leaves in a model with {n_outputs} outputs")
        leaf_weights = np.asarray(tj["leaf_weights"], dtype=np.float32).astype(np.float64).reshape(-1, size_leaf)
        leaf_index = np.asarray(tj["right_children"], dtype=np.int64)
        value = np.zeros((n, size_leaf))
        value[leaf] = leaf_weights[leaf_index[leaf]]
    else:
        value = np.where(leaf, cond.astype(np.float64), 0.0)

    categorical = np.zeros(n, dtype=bool)
    cat_sets: list | None = None
    cat_nodes = tj.get("categories_nodes") or []
    if len(cat_nodes):
        codes = np.asarray(tj["categories"], dtype=np.int64)
        segments = tj["categories_segments"]
        sizes = tj["categories_sizes"]
        cat_sets = [None] * n
        for node, beg, size in zip(cat_nodes, segments, sizes):
            node = int(node)
            cat_sets[node] = codes[int(beg):int(beg) + int(size)].tolist()
            categorical[node] = True
        # XGBoost sends the listed categories right: make them the left-going set
        left, right = np.where(categorical, right, left), np.where(categorical, left, right)
        default_left = np.where(categorical, ~default_left, default_left)
        threshold[categorical] = 0.0
        strict[categorical] = False
    unknown = (split_type != 0) & ~categorical & ~leaf
    if unknown.any():
        raise ModelError(f"XGBoost split type {int(split_type[unknown][0])} is not supported "
                         "(known: 0 numerical, 1 categorical)")

    out.update(left=left, right=right, feature=np.where(leaf, -1, feature), threshold=threshold,
               strict=strict, default_left=default_left, categorical=categorical, cover=cover, value=value)
    if cat_sets is not None:
        out["cat_sets"] = cat_sets
    return out


def _parse_base_score(text: Any) -> np.ndarray:
    if isinstance(text, (int, float)):
        return np.asarray([float(text)])
    s = str(text).strip().strip("[]")
    return np.asarray([float(v) for v in s.split(",") if v.strip()] or [0.5], dtype=np.float64)


def _base_offset(text: Any, objective: str, n_outputs: int) -> np.ndarray:
    base = _parse_base_score(text).astype(np.float32)
    if base.size == 1 and n_outputs > 1:
        base = np.repeat(base, n_outputs)
    if base.size != n_outputs:
        raise ModelError(f"XGBoost base_score has {base.size} values for {n_outputs} outputs")
    with np.errstate(divide="ignore", invalid="ignore"):
        if objective in _LOGIT:
            if np.any((base <= 0) | (base >= 1)):
                raise ModelError(f"XGBoost base_score {base.tolist()} is not a probability for {objective}")
            # XGBoost: -logf(1.0f / p - 1.0f); float32 arithmetic, a correctly rounded logf
            base = -np.log((np.float32(1.0) / base - np.float32(1.0)).astype(np.float64))
        elif objective in _LOG:
            if np.any(base <= 0):
                raise ModelError(f"XGBoost base_score {base.tolist()} is not positive for {objective}")
            base = np.log(base.astype(np.float64))
    return base.astype(np.float32).astype(np.float64)


def _decode_enc(enc: dict) -> list | None:
    values = enc.get("values") or []
    if not values:
        return None
    offsets = enc.get("offsets")
    if offsets:  # strings: concatenated UTF-8 bytes (stored as signed chars) with offsets
        raw = bytes(int(v) & 0xFF for v in values)
        return [raw[int(a):int(b)].decode("utf-8") for a, b in zip(offsets[:-1], offsets[1:])]
    out = []
    for v in values:
        out.append(int(v) if isinstance(v, (int, np.integer)) or (isinstance(v, float) and v.is_integer()) else v)
    return out


def _stored_categories(cats: Any, n_features: int) -> dict[int, list]:
    """Categories XGBoost >= 3.1 keeps with the model: feature index -> values in code order."""
    if not cats or not isinstance(cats, dict):
        return {}
    out = {}
    for j, enc in enumerate(cats.get("enc") or []):
        if j >= n_features or not isinstance(enc, dict):
            continue
        values = _decode_enc(enc)
        if values is not None:
            out[j] = values
    return out


def _output_names(estimator: Any, objective: str, n_outputs: int) -> tuple[str, ...] | None:
    classes = getattr(estimator, "classes_", None) if estimator is not None else None
    binary = objective.startswith("binary:")
    if objective in _MULTI:
        if classes is not None and len(classes) == n_outputs:
            return tuple(str(c) for c in classes)
        return tuple(str(i) for i in range(n_outputs))
    if binary and n_outputs > 1:  # multi-label: one independent binary problem per label
        return tuple(f"label_{i}" for i in range(n_outputs))
    if binary:
        if classes is not None and len(classes) == 2:
            return (str(classes[1]),)
        return ("1",)
    if n_outputs == 1:
        return ("prediction",)
    return None
